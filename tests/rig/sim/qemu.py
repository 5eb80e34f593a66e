"""A virtual machine as an instance (make vmtest): qemu driven over QMP.

A virtual machine as an instance (make vmtest): qemu runs the guest, and
the rig is its hypervisor through a QMP socket of its own. An attached
volume is hot-plugged into a PCIe root port as an NVMe controller whose
serial is the volume ID without its dash, as on a Nitro instance; a
detached one is unplugged; a modified one is resized.
"""

import json
import os
import queue
import socket
import subprocess
import threading
import time

from . import ec2_rules
from . import state


class Qmp:
    """One connection to a qemu's QMP socket. A reader thread takes every
    message: answers go to the command waiting for one (commands go one at
    a time), events to a list that waiters watch — so that waiting for an
    unplug never holds up a plug, and no read ever times out mid-line."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.file = self.sock.makefile("rwb")
        self.lock = threading.Lock()  # one command at a time
        self.answers = queue.Queue()
        self.changed = threading.Condition()
        self.events = []
        self.file.readline()  # the greeting
        threading.Thread(target=self.read_all, daemon=True).start()
        self.execute("qmp_capabilities")

    def read_all(self):
        for line in self.file:
            msg = json.loads(line)
            if "event" in msg:
                with self.changed:
                    self.events.append(msg)
                    self.changed.notify_all()
            else:
                self.answers.put(msg)
        self.answers.put({"error": {"desc": "qemu closed its QMP socket"}})

    def execute(self, command, arguments=None):
        with self.lock:
            msg = {"execute": command}
            if arguments:
                msg["arguments"] = arguments
            self.file.write(json.dumps(msg).encode() + b"\n")
            self.file.flush()
            try:
                answer = self.answers.get(timeout=60)
            except queue.Empty:
                raise RuntimeError(f"qemu {command}: no answer in 60 s") from None
            if "error" in answer:
                raise RuntimeError(f"qemu {command}: {answer['error'].get('desc')}")
            return answer.get("return")

    def wait_event(self, name, device, timeout):
        """Wait for event `name` about `device`; False after `timeout` s."""

        def seen():
            for e in self.events:
                if e["event"] == name and e.get("data", {}).get("device") == device:
                    self.events.remove(e)
                    return True
            return False

        with self.changed:
            return self.changed.wait_for(seen, timeout)


class SimVm:
    def __init__(self, qmp_path, ports, disks):
        self.qmp = Qmp(qmp_path)
        self.free_ports = list(ports)
        self.count = 0
        # "nvme", as on Nitro; or "virtio", which qemu 7.2 can resize (its
        # nvme device cannot) — same serial, same by-id link in the guest.
        self.driver = {"nvme": "nvme", "virtio": "virtio-blk-pci"}[disks]

    def port(self, what):
        """A free PCIe root port for `what`, and a number for the qemu ids
        of what goes there (a letter, then this number: qemu wants ids
        that start with a letter)."""
        if not self.free_ports:
            raise ec2_rules.RigEC2Error("AttachmentLimitExceeded", f"the virtual machine has no free PCIe port for {what}")
        self.count += 1
        return self.free_ports.pop(0), self.count

    def plug(self, volume_id, path):
        port, n = self.port(volume_id)
        serial = volume_id.replace("-", "")
        node = f"d{n}"
        self.qmp.execute("blockdev-add", {
            "driver": "raw", "node-name": node,
            "file": {"driver": "file", "filename": path},
        })
        self.qmp.execute("device_add", {
            "driver": self.driver, "id": node, "drive": node, "serial": serial, "bus": port,
        })
        state.log(f"{volume_id}: hot-plugged as {self.driver} {node} on {port}")
        return {"node": node, "port": port, "backend": ("blockdev-del", {"node-name": node})}

    def plug_nic(self, eni_id, mac):
        # The NIC's other end is a hub port of its own, wired to nothing:
        # the ENI's traffic is not what the tests look at, its interface is.
        port, n = self.port(eni_id)
        node = f"n{n}"
        self.qmp.execute("netdev_add", {"type": "hubport", "id": node, "hubid": 1000 + n})
        self.qmp.execute("device_add", {
            "driver": "virtio-net-pci", "id": node, "netdev": node, "mac": mac, "bus": port,
        })
        state.log(f"{eni_id}: hot-plugged as virtio-net {node} ({mac}) on {port}")
        return {"node": node, "port": port, "backend": ("netdev_del", {"id": node})}

    def unplug(self, entry):
        # The guest releases a PCIe device after its attention button's
        # five seconds: finish out of the request, as EC2's detaching does.
        self.qmp.execute("device_del", {"id": entry["node"]})

        def finish():
            if self.qmp.wait_event("DEVICE_DELETED", entry["node"], 60):
                self.qmp.execute(*entry["backend"])
                with state.LOCK:
                    self.free_ports.append(entry["port"])
                state.log(f"{entry['node']}: unplugged from {entry['port']}")
            else:
                state.log(f"{entry['node']}: the guest did not release it in 60 s")

        threading.Thread(target=finish, daemon=True).start()

    def resize(self, entry, size):
        self.qmp.execute("block_resize", {"node-name": entry["node"], "size": size})


def ctl_vm(req):
    """{"instance_id", "qmp": socket path, "ports": [PCIe root port ids],
    "disks": "nvme" or "virtio"}: the instance is that virtual machine
    from now on."""
    vm = SimVm(req["qmp"], req["ports"], req.get("disks", "nvme"))
    with state.LOCK:
        state.INSTANCES[req["instance_id"]].vm = vm
    return {}


def detach_loop(loop):
    # Lazy unmount of anything still mounted from it, then detach.
    for mountpoint in mounts_of(loop):
        subprocess.run(["umount", "-l", mountpoint], capture_output=True)
    subprocess.run(["losetup", "-d", loop], capture_output=True)
    # A loop device still open (a probe by blkid elsewhere) goes away only
    # when closed. On EC2 a detached volume's device is gone: wait for
    # that (bounded), so that no test sees a detached volume's filesystem.
    backing = f"/sys/block/{os.path.basename(loop)}/loop/backing_file"
    deadline = time.monotonic() + 10
    while os.path.exists(backing) and time.monotonic() < deadline:
        time.sleep(0.02)
    if os.path.exists(backing):
        state.log(f"{loop} is still attached 10 s after losetup -d")


def mounts_of(device):
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 2] == device:
                points.append(fields[4])
    return points
