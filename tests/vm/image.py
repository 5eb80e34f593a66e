#!/usr/bin/env python3
"""Build the guest image of the VM tier (make vmtest), or say where the
cached one is: a Debian root filesystem made by debootstrap from the apt
mirror this machine already uses, Debian's kernel and its initramfs.

    python3 tests/vm/image.py [CACHE_DIR]   # prints the image's directory

The image is kept in CACHE_DIR (default /var/tmp/mooring-vm) under a name
made of what goes into it (the suite, the packages, the files written, and
BUILD, to be raised whenever build() changes what it makes), so a change
builds a new one and anything else reuses it. Nothing of Mooring is in the image: each run
installs the .deb it is testing."""

import hashlib
import json
import os
import shutil
import subprocess
import sys

BUILD = 1
SUITE = "bookworm"
PACKAGES = [
    "systemd-sysv", "udev", "dbus", "linux-image-amd64", "initramfs-tools", "kmod",
    "qemu-guest-agent", "iproute2", "e2fsprogs", "xfsprogs", "btrfs-progs", "lvm2",
    "util-linux", "procps", "etcd-server", "etcd-client",
]
ROOT_SIZE = "3G"

# What a Nitro instance's NVMe controller tells udev that qemu's cannot:
# its model is "Amazon Elastic Block Store" (qemu's nvme device has no
# model property; its model reads "QEMU NVMe Ctrl"). The rig hot-plugs each
# attached volume as an NVMe controller whose serial is the volume ID
# without its dash, as on Nitro, and the first rule gives it the by-id link
# udev makes there: /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol….
# The second gives the same link to a virtio disk with such a serial: qemu
# 7.2 cannot resize an NVMe disk (its backend does not share the resize
# permission), so a scenario that grows a volume in place has the rig plug
# its volumes as virtio disks, which qemu resizes under the running guest.
UDEV_RULE = """\
KERNEL=="nvme*[0-9]n*[0-9]", ENV{DEVTYPE}=="disk", ATTRS{model}=="QEMU NVMe Ctrl*", \
ATTRS{serial}=="vol*", SYMLINK+="disk/by-id/nvme-Amazon_Elastic_Block_Store_$attr{serial}"
KERNEL=="vd*[a-z]", ENV{DEVTYPE}=="disk", ATTRS{serial}=="vol*", \
SYMLINK+="disk/by-id/nvme-Amazon_Elastic_Block_Store_$attr{serial}"
"""

NETWORK = """\
[Match]
Name=e*

[Network]
DHCP=ipv4
"""


def mirror():
    """The first Debian mirror in this machine's apt sources that carries
    the suite's main component (deb822 or one-line format)."""
    found = []
    d = "/etc/apt/sources.list.d"
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        path = os.path.join(d, name)
        if name.endswith(".sources"):
            for stanza in open(path).read().split("\n\n"):
                fields = {}
                for line in stanza.splitlines():
                    if ":" in line and not line.startswith("#"):
                        k, v = line.split(":", 1)
                        fields[k.strip()] = v.split()
                if (SUITE in fields.get("Suites", []) and "main" in fields.get("Components", [])
                        and "deb" in fields.get("Types", [])):
                    found += fields.get("URIs", [])
    for path in ["/etc/apt/sources.list"] + [
            os.path.join(d, n) for n in sorted(os.listdir(d)) if n.endswith(".list")]:
        for line in open(path) if os.path.exists(path) else []:
            words = line.split()
            if len(words) >= 4 and words[0] == "deb" and words[2] == SUITE and "main" in words[3:]:
                found.append(words[1])
    if not found:
        sys.exit(f"no apt source for {SUITE} main in /etc/apt: cannot debootstrap")
    return found[0]


def run(*argv, **kw):
    # What the tools print is log: stdout carries only the image's path
    # (mkfs.ext4 -q still says "Creating regular file").
    kw.setdefault("stdout", sys.stderr)
    subprocess.run(argv, check=True, **kw)


def remove(path):
    """Remove a half-built tree: first whatever an interrupted debootstrap
    left mounted in it (proc, sys), deepest first, then only the tree's
    own filesystem — never through a mount into the host's."""
    if not os.path.exists(path):
        return
    real = os.path.realpath(path)
    mounts = [line.split()[4] for line in open("/proc/self/mountinfo")]
    for mp in sorted((m for m in mounts if m == real or m.startswith(real + "/")), reverse=True):
        subprocess.run(["umount", "-l", mp], check=False)
    run("rm", "-rf", "--one-file-system", path)


def build(out):
    work = out + ".partial"
    remove(work)
    root = os.path.join(work, "root")
    os.makedirs(root)
    run("debootstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES),
        SUITE, root, mirror(), stdout=subprocess.DEVNULL)

    def put(path, text, mode=0o644):
        full = os.path.join(root, path.lstrip("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
        os.chmod(full, mode)

    put("/etc/hostname", "mooring-vm\n")
    put("/etc/hosts", "127.0.0.1 localhost\n127.0.1.1 mooring-vm\n")
    put("/etc/fstab", "/dev/vda / ext4 defaults 0 1\n")
    put("/etc/systemd/network/80-dhcp.network", NETWORK)
    put("/etc/udev/rules.d/61-mooring-vm-ebs.rules", UDEV_RULE)
    # The packaged etcd.service is enabled by its package: the tests start
    # it themselves.
    run("chroot", root, "systemctl", "enable", "systemd-networkd")
    run("chroot", root, "systemctl", "disable", "etcd")
    run("chroot", root, "passwd", "-d", "root", stdout=subprocess.DEVNULL)
    run("chroot", root, "apt-get", "clean")
    boot = os.path.join(root, "boot")
    kernels = sorted(n for n in os.listdir(boot) if n.startswith("vmlinuz-"))
    if len(kernels) != 1:
        sys.exit(f"expected one kernel in the guest's /boot, found {kernels}")
    version = kernels[0].removeprefix("vmlinuz-")
    shutil.copy(os.path.join(boot, kernels[0]), os.path.join(work, "vmlinuz"))
    shutil.copy(os.path.join(boot, f"initrd.img-{version}"), os.path.join(work, "initrd.img"))
    run("mkfs.ext4", "-q", "-L", "mooring-root", "-d", root, os.path.join(work, "root.img"), ROOT_SIZE)
    remove(root)
    os.rename(work, out)


def main():
    cache = sys.argv[1] if len(sys.argv) > 1 else "/var/tmp/mooring-vm"
    made_of = json.dumps([BUILD, SUITE, PACKAGES, ROOT_SIZE, UDEV_RULE, NETWORK])
    digest = hashlib.sha256(made_of.encode()).hexdigest()[:12]
    out = os.path.join(cache, f"image-{digest}")
    if not os.path.exists(os.path.join(out, "root.img")):
        os.makedirs(cache, exist_ok=True)
        build(out)
        # The images this one replaces (about 900 MiB each).
        for name in os.listdir(cache):
            if name.startswith("image-") and not name.endswith(".partial") and name != os.path.basename(out):
                remove(os.path.join(cache, name))
    print(out)


if __name__ == "__main__":
    main()
