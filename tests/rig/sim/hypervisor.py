"""The hypervisor: attached volumes become loop devices, ENIs interfaces.

The hypervisor: an attached volume becomes a loop device over a sparse file
(one file per volume, kept while the volume exists: it is the volume's
data), named as a Nitro instance's kernel and udev would name it.
"""

import os
import subprocess
import threading

from . import qemu
from . import state


def backing_file(volume_id):
    return os.path.join(state.VOLUME_DIR, f"{volume_id}.img")


def grow_backing_file(volume):
    path = backing_file(volume.id)
    if not os.path.exists(path):
        return
    with open(path, "r+b") as f:
        f.truncate(volume.size * state.GIB)
    for sim in state.INSTANCES.values():
        plugged = sim.plugged.get(volume.id)
        if plugged and plugged.get("loop"):
            state.run("losetup", "-c", plugged["loop"])
        if plugged and plugged.get("vm"):
            sim.vm.resize(plugged["vm"], volume.size * state.GIB)


class SimInstance:
    def __init__(self, instance_id, naming, metadata_tags, user_data, attachment_limit):
        self.id = instance_id
        self.naming = naming
        self.metadata_tags = metadata_tags
        self.user_data = user_data
        self.attachment_limit = attachment_limit
        self.moto_instance = None  # found on the first metadata request
        self.dir = os.path.join(state.RIG_DIR, "instances", instance_id)
        self.by_id = os.path.join(self.dir, "by-id")
        self.sys_block = os.path.join(self.dir, "sys-block")
        self.dev = os.path.join(self.dir, "dev")
        for d in (self.by_id, self.sys_block, self.dev):
            os.makedirs(d, exist_ok=True)
        self.plugged = {}  # volume id -> {"loop":..., "paths": [...]}
        self.next_nvme = 1
        self.imds = None
        self.netns = None
        self.interfaces = {}  # eni id -> {"name": ...}
        self.vm = None  # a SimVm when a virtual machine is this instance

    # Interfaces exist only for an instance with a network namespace of its
    # own, where the tool under test runs (see "Network namespaces" below).

    def setup_netns(self):
        name = state.NETNS_PREFIX + self.id
        state.run("ip", "netns", "add", name)
        self.netns = name
        state.run("ip", "-n", name, "link", "set", "lo", "up")

    def plug_interface(self, eni, device_index, delay):
        if self.vm is not None:
            # A virtio NIC with the ENI's MAC, hot-plugged into the guest,
            # whose kernel and udev name it.
            self.interfaces[eni.id] = {"vm": self.vm.plug_nic(eni.id, eni.mac_address)}
            return
        if self.netns is None:
            return
        # Named as a Nitro instance names them: ens5 for device 0, ens6, ...
        entry = {"name": f"ens{5 + device_index}"}
        self.interfaces[eni.id] = entry

        def materialise():
            with state.LOCK:
                if self.interfaces.get(eni.id) is not entry:
                    return  # detached before the attachment completed
                # A tap, not a dummy: this kernel has no dummy interfaces.
                state.run("ip", "-n", self.netns, "tuntap", "add", "mode", "tap", "name", entry["name"])
                state.run("ip", "-n", self.netns, "link", "set", entry["name"],
                    "address", eni.mac_address, "up")
                entry["up"] = True
            address_delay = state.CONFIG["address_delay"]
            if address_delay is None:
                return
            threading.Timer(address_delay, configure).start() if address_delay > 0 else configure()

        def configure():
            # What the instance's network configuration does for an
            # attached ENI: its private address on its interface.
            with state.LOCK:
                if self.interfaces.get(eni.id) is not entry:
                    return
                state.run("ip", "-n", self.netns, "addr", "add",
                          f"{eni.private_ip_address}/32", "dev", entry["name"])

        if delay > 0:
            threading.Timer(delay, materialise).start()
        else:
            materialise()

    def unplug_interface(self, eni_id):
        entry = self.interfaces.pop(eni_id, None)
        if entry and entry.get("vm"):
            self.vm.unplug(entry["vm"])
        elif entry and entry.get("up"):
            subprocess.run(["ip", "-n", self.netns, "link", "del", entry["name"]],
                           capture_output=True)

    def remove_netns(self):
        if self.netns is not None:
            subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)

    def plug_volume(self, volume, device_path, delay):
        path = backing_file(volume.id)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.truncate(volume.size * state.GIB)
        entry = {"loop": None, "paths": []}
        self.plugged[volume.id] = entry
        if self.vm is not None:
            # The guest's kernel and udev see the disk arrive, and take
            # their own time: no simulated delay on top.
            entry["vm"] = self.vm.plug(volume.id, path)
            return

        def materialise():
            with state.LOCK:
                if self.plugged.get(volume.id) is not entry:
                    return  # detached before the attachment completed
                loop = state.run("losetup", "-f", "--show", path)
                entry["loop"] = loop
                self.name_device(volume.id, device_path, loop, entry)

        if delay > 0:
            threading.Timer(delay, materialise).start()
        else:
            materialise()

    def name_device(self, volume_id, device_path, loop, entry):
        serial = volume_id.replace("-", "")
        if self.naming in ("nitro", "by-id"):
            link = os.path.join(self.by_id, f"nvme-Amazon_Elastic_Block_Store_{serial}")
            os.symlink(loop, link)
            entry["paths"].append(link)
        if self.naming == "nitro":
            name = f"nvme{self.next_nvme}n1"
            self.next_nvme += 1
            device_dir = os.path.join(self.sys_block, name, "device")
            os.makedirs(device_dir)
            with open(os.path.join(device_dir, "model"), "w") as f:
                f.write("Amazon Elastic Block Store              \n")
            with open(os.path.join(device_dir, "serial"), "w") as f:
                f.write(f"{serial}        \n")
            os.symlink(loop, os.path.join(self.dev, name))
            entry["paths"] += [os.path.join(self.sys_block, name), os.path.join(self.dev, name)]
        if self.naming == "xen":
            # /dev/sdf shows up as /dev/xvdf on Xen instances.
            short = os.path.basename(device_path).replace("sd", "xvd", 1)
            link = os.path.join(self.dev, short)
            os.symlink(loop, link)
            entry["paths"].append(link)

    def unplug_volume(self, volume_id):
        entry = self.plugged.pop(volume_id, None)
        if entry is None:
            return
        if entry.get("vm"):
            self.vm.unplug(entry["vm"])
            return
        for p in entry["paths"]:
            if os.path.islink(p):
                os.unlink(p)
            elif os.path.isdir(p):
                subprocess.run(["rm", "-rf", p])
        if entry["loop"]:
            qemu.detach_loop(entry["loop"])

    def unplug_all(self):
        for volume_id in list(self.plugged):
            self.unplug_volume(volume_id)
