"""A guest of the VM tier (make vmtest): qemu with systemd as the guest's
PID 1, the rig as its hypervisor (a QMP socket of the rig's own, see
the rig's SimVm, tests/rig/sim/qemu.py) and its AWS (the rig's EC2 proxy and IMDS, which the
guest reaches through qemu's user network at 10.0.2.2, the host's
loopback), and the guest agent to run commands in it.

Standard library only."""

import base64
import hashlib
import json
import os
import socket
import subprocess
import time

PORTS = [f"rp{i}" for i in range(1, 9)]  # PCIe root ports for hot-plug
HOST = "10.0.2.2"  # the host's loopback, seen from the guest


def guest_url(url):
    """A rig URL on the host's loopback, as the guest reaches it."""
    return url.replace("127.0.0.1", HOST)


def link_mac(instance_id):
    """A locally administered MAC, fixed by the instance ID."""
    digest = hashlib.sha256(instance_id.encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in digest[:5])


class GuestError(Exception):
    pass


class Vm:
    def __init__(self, image, workdir, rig, inst, disks="nvme", memory_mib=1024, link=None):
        """`link`: ("listen" or "connect", a socket path): a second NIC,
        eth1, on a private Ethernet link between two guests (qemu's user
        network takes no connection in)."""
        self.dir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.overlay = os.path.join(workdir, "root.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
                        os.path.join(image, "root.img"), self.overlay], check=True)
        self.console = os.path.join(workdir, "console.log")
        self.rig_qmp = os.path.join(workdir, "rig.qmp")
        self.agent_path = os.path.join(workdir, "agent.sock")
        env = {
            "AWS_ENDPOINT_URL": guest_url(rig.endpoint),
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": guest_url(inst["imds_url"]),
        }
        cmdline = " ".join(["root=/dev/vda", "rw", "console=ttyS0", "quiet", "net.ifnames=0"]
                           + [f"systemd.setenv={k}={v}" for k, v in env.items()])
        # Software emulation by default: these machines have a /dev/kvm,
        # but a guest under it hangs before its first console line (and
        # -cpu host or max fails to set MSR 0x10a). MOORING_VM_ACCEL=kvm
        # where it works.
        self.accel = os.environ.get("MOORING_VM_ACCEL", "tcg")
        cpu = "host" if self.accel == "kvm" else "max"
        argv = [
            "qemu-system-x86_64", "-machine", f"q35,accel={self.accel}", "-cpu", cpu,
            "-m", str(memory_mib), "-smp", "2", "-display", "none", "-no-user-config", "-nodefaults",
            "-serial", f"file:{self.console}",
            "-kernel", os.path.join(image, "vmlinuz"), "-initrd", os.path.join(image, "initrd.img"),
            "-append", cmdline,
            "-drive", f"file={self.overlay},if=virtio,format=qcow2",
            "-netdev", "user,id=net0", "-device", "virtio-net-pci,netdev=net0",
            "-qmp", f"unix:{self.rig_qmp},server=on,wait=off",
            "-chardev", f"socket,id=agent,path={self.agent_path},server=on,wait=off",
            "-device", "virtio-serial", "-device", "virtserialport,chardev=agent,name=org.qemu.guest_agent.0",
        ]
        if link is not None:
            how, path = link
            argv += ["-netdev", f"stream,id=link,server={'on' if how == 'listen' else 'off'},"
                     f"addr.type=unix,addr.path={path}",
                     # A MAC of its own: qemu gives every guest's second
                     # NIC the same one, and two guests share this link.
                     "-device", f"virtio-net-pci,netdev=link,mac={link_mac(inst['instance_id'])}"]
        for i, port in enumerate(PORTS, 1):
            argv += ["-device", f"pcie-root-port,id={port},bus=pcie.0,chassis={i}"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(workdir, "qemu.log"), "w"))
        self.agent = None
        deadline = time.monotonic() + 30
        while not (os.path.exists(self.rig_qmp) and os.path.exists(self.agent_path)):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise GuestError(f"qemu did not start: {open(os.path.join(workdir, 'qemu.log')).read()}")
            time.sleep(0.05)
        rig.control("/_rig/vm", {"instance_id": inst["instance_id"], "qmp": self.rig_qmp,
                                 "ports": PORTS, "disks": disks})

    # The guest agent's protocol: JSON commands on a virtio serial port.

    def _connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.agent_path)
        self.agent = s
        self.buf = b""

    def _send(self, msg):
        self.agent.sendall(json.dumps(msg).encode() + b"\n")

    def _answer(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                line = line.lstrip(b"\xff").strip()
                if line:
                    return json.loads(line)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.agent.settimeout(left)
            chunk = self.agent.recv(65536)
            if not chunk:
                raise GuestError("the guest agent's socket closed")
            self.buf += chunk

    def wait_agent(self, timeout=300):
        """Until the guest agent answers (the guest has booted far enough),
        resynchronised with guest-sync-delimited."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise GuestError(f"qemu exited with {self.proc.returncode}; console: {self.console_tail()}")
            try:
                if self.agent is None:
                    self._connect()
                token = int(time.monotonic() * 1000) % 2**31
                self.agent.sendall(b"\xff")
                self._send({"execute": "guest-sync-delimited", "arguments": {"id": token}})
                while True:
                    answer = self._answer(2)
                    if answer.get("return") == token:
                        return
            except (TimeoutError, OSError, GuestError, ValueError):
                if self.agent is not None:
                    self.agent.close()
                    self.agent = None
        raise GuestError(f"the guest agent did not answer in {timeout} s; console: {self.console_tail()}")

    def call(self, command, arguments=None, timeout=30):
        msg = {"execute": command}
        if arguments is not None:
            msg["arguments"] = arguments
        self._send(msg)
        answer = self._answer(timeout)
        if "error" in answer:
            raise GuestError(f"{command}: {answer['error'].get('desc')}")
        return answer.get("return")

    def exec(self, *argv, timeout=120, check=True, stdin=None):
        """Run argv in the guest; (exit code, stdout, stderr)."""
        args = {"path": argv[0], "arg": list(argv[1:]), "capture-output": True}
        if stdin is not None:
            args["input-data"] = base64.b64encode(stdin.encode()).decode()
        pid = self.call("guest-exec", args)["pid"]
        deadline = time.monotonic() + timeout
        while True:
            st = self.call("guest-exec-status", {"pid": pid})
            if st.get("exited"):
                break
            if time.monotonic() > deadline:
                raise GuestError(f"{' '.join(argv)}: still running after {timeout} s")
            time.sleep(0.1)
        out = base64.b64decode(st.get("out-data", "")).decode(errors="replace")
        err = base64.b64decode(st.get("err-data", "")).decode(errors="replace")
        code = st.get("exitcode", -st.get("signal", 0))
        if check and code != 0:
            raise GuestError(f"{' '.join(argv)} exited {code}: {err.strip() or out.strip()}")
        return code, out, err

    def sh(self, script, timeout=120, check=True):
        return self.exec("/bin/sh", "-c", script, timeout=timeout, check=check)

    def put(self, path, data):
        handle = self.call("guest-file-open", {"path": path, "mode": "wb"})
        try:
            for i in range(0, len(data), 48 * 1024):
                self.call("guest-file-write", {"handle": handle,
                                               "buf-b64": base64.b64encode(data[i:i + 48 * 1024]).decode()})
        finally:
            self.call("guest-file-close", {"handle": handle})

    def reboot(self, timeout=300):
        """A guest reboot in the same qemu: hot-plugged disks stay, as an
        instance's volumes stay attached across a reboot."""
        before = self.boot_id()
        self.call("guest-exec", {"path": "/bin/systemctl", "arg": ["reboot"]})
        deadline = time.monotonic() + timeout
        while True:
            # The old boot's agent may answer until it is stopped.
            self.agent.close()
            self.agent = None
            self.wait_agent(max(1, deadline - time.monotonic()))
            try:
                if self.boot_id() != before:
                    self.wait_booted(max(1, deadline - time.monotonic()))
                    return
            except (GuestError, TimeoutError, OSError):
                pass
            if time.monotonic() > deadline:
                raise GuestError(f"the guest did not reboot in {timeout} s")
            time.sleep(1)

    def wait_booted(self, timeout=300):
        """Until systemd has started everything the boot asks for (the
        agent answers long before); running or degraded, either will do:
        the scenarios check their own units."""
        self.exec("/bin/systemctl", "is-system-running", "--wait", timeout=timeout, check=False)

    def boot_id(self):
        return self.sh("cat /proc/sys/kernel/random/boot_id")[1].strip()

    def console_tail(self, lines=30):
        try:
            return "\n".join(open(self.console, errors="replace").read().splitlines()[-lines:])
        except OSError:
            return ""

    def close(self):
        if self.agent is not None:
            self.agent.close()
        if self.proc.poll() is None:
            self.proc.kill()  # by its PID: our own qemu
            self.proc.wait()
