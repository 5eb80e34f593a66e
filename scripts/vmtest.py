#!/usr/bin/env python3
"""The VM tier (make vmtest): Mooring's .deb installed in a booted Debian
guest (systemd as PID 1, udev, Debian's kernel) whose hypervisor is the
rig: volumes attached in the rig's EC2 arrive in the guest as hot-plugged
NVMe disks. Each scenario boots a fresh guest from the cached image
(tests/vm/image.py) and drives it through the installed units.

    python3 scripts/vmtest.py [SCENARIO ...]    # default: all

Run with the venv's Python (the rig's launcher needs moto); prints a table
of boot and scenario times and the image's size."""

import glob
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "rig"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "vm"))
import rigctl  # noqa: E402
from vm import GuestError, Vm  # noqa: E402

TARGET = os.environ.get("CARGO_TARGET_DIR", "/var/tmp/mooring-target")  # as the Makefile
CACHE = os.environ.get("MOORING_VM_CACHE", "/var/tmp/mooring-vm")


def log(msg):
    print(f"vmtest: {msg}", file=sys.stderr, flush=True)


def wait_for(what, probe, timeout, every=1.0):
    """Poll `probe` until it returns a true value; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            raise GuestError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


class Guest:
    """A fresh guest on its own rig instance, the .deb installed."""

    def __init__(self, rig, image, deb, base, name, disks="nvme", tags=None, link=None):
        self.image, self.deb, self.base, self.name = image, deb, base, name
        # Guests on a link of their own reach each other at their private
        # addresses: those must not be loopback ones, as the rig's are.
        where = {"routable": True} if link else {}
        self.inst = rig.instance(tags={"Name": f"vmtest-{name}", **(tags or {})}, **where)
        started = time.monotonic()
        self.link = link
        self.vm = Vm(image, os.path.join(base, name), rig, self.inst, disks, link=link)
        self.vm.wait_agent()
        self.vm.wait_booted()
        self.boot_seconds = time.monotonic() - started
        self.vm.put("/tmp/mooring.deb", open(deb, "rb").read())
        self.vm.exec("/usr/bin/dpkg", "-i", "/tmp/mooring.deb")

    def journal(self, unit):
        return self.vm.exec("/bin/journalctl", "--no-pager", "-o", "cat", "-u", unit, check=False)[1]

    def close(self):
        self.vm.close()


# ---------------------------------------------------------------------------
# Scenarios. Each returns a dict of what it measured.


# ebs-grow's MESSAGE_IDs (src/logging.rs, the README's journal fields).
VOLUME_GROWN = "d3a1f5c7e9b24d6f8a0c2e4b6d8f0a1c"
RUN_FAILED = "8f4b2a6cf1d94e0a9c3e57d1b2a4f6e8"


def journal_json(vm, *matches):
    """The guest journal's entries matching FIELD=value `matches`."""
    out = vm.exec("/bin/journalctl", "--no-pager", "-o", "json", *matches, check=False)[1]
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def grow_from_boot(guest, name, fs, steps, disks, rig=None):
    """ebs-grow for /`name` in `fs` from boot: the init unit makes it at
    first boot on a new volume, the timer's check grows it online when it
    fills (its journal shows `steps`), and a reboot mounts it again by UUID
    with its data, on `disks` volumes found through udev's by-id links.

    With `rig`, the first boot heals (issue 23): EC2 answers every attempt
    of init's first CreateVolume with 500s, init asks again within its
    run, and a service with Requires= and After= on it starts only once the
    filesystem is mounted (it records what it found there)."""
    vm = guest.vm
    mountpoint = f"/{name}"
    vm.sh(f"mkdir -p /etc/mooring/ebs-grow /etc/systemd/system/ebs-grow@{name}.timer.d")
    vm.put(f"/etc/mooring/ebs-grow/{name}.json", json.dumps({
        "mountpoint": mountpoint, "fs": fs, "initial_size_gib": 1,
        "size_ladder_gib": [[0, 1]], "min_free_gib": 0}).encode())
    # The test's only change to the units: the timer every 10 s instead of
    # every minute, so that a growth comes in seconds. (An empty assignment
    # to any On*Sec= resets them all: one, then both values.)
    vm.put(f"/etc/systemd/system/ebs-grow@{name}.timer.d/vmtest.conf",
           b"[Timer]\nOnActiveSec=\nOnActiveSec=5s\nOnUnitActiveSec=10s\nRandomizedDelaySec=0\n")
    vm.sh(f"systemctl enable ebs-grow-init@{name}.service ebs-grow@{name}.timer")
    if rig is not None:
        init = f"ebs-grow-init@{name}.service"
        vm.put(f"/etc/systemd/system/needs-{name}.service", (
            f"[Unit]\nRequires={init}\nAfter={init}\n"
            f"[Service]\nType=oneshot\nRemainAfterExit=yes\n"
            f"ExecStart=/bin/sh -c 'findmnt -n -o SOURCE {mountpoint} > /run/needs-{name}.seen'\n"
            f"[Install]\nWantedBy=multi-user.target\n").encode())
        vm.sh(f"systemctl enable needs-{name}.service")
        # Every attempt of the first pass: the guest's SDK makes 8 a call
        # (AWS_MAX_ATTEMPTS is not set there, as on EC2).
        rig.control("/_rig/faults", {"rules": [{"match": "CreateVolume", "times": 8, "fault": "error500"}]})
    # First boot of the image with the units enabled.
    vm.reboot()
    state = vm.sh(f"systemctl show -P ActiveState ebs-grow-init@{name}.service")[1].strip()
    if state != "active":
        raise GuestError(f"ebs-grow-init@{name}.service is {state}: {guest.journal(f'ebs-grow-init@{name}.service')}")
    healed = None
    if rig is not None:
        journal = guest.journal(f"ebs-grow-init@{name}.service")
        if "a transient failure: init again" not in journal:
            raise GuestError(f"init's first pass did not fail transiently: {journal}")
        seen = vm.sh(f"cat /run/needs-{name}.seen", check=False)[1].strip()
        if not seen.startswith("/dev/"):
            raise GuestError(f"needs-{name}.service started before {mountpoint} was mounted: {seen!r}; "
                             f"{guest.journal(f'needs-{name}.service')}")
        healed = {"needs_service_saw": seen,
                  "init_restarts": vm.sh(f"systemctl show -P NRestarts {init}")[1].strip()}
    source = vm.sh(f"findmnt -n -o SOURCE {mountpoint}")[1].strip()
    fstab = vm.sh(f"grep ' {mountpoint} ' /etc/fstab")[1]
    if "UUID=" not in fstab:
        raise GuestError(f"/etc/fstab has no UUID line for {mountpoint}: {fstab}")
    size = lambda: int(vm.sh(f"df -B1 --output=size {mountpoint} | tail -1")[1])  # noqa: E731
    before = size()
    # Fill it past the threshold (50 % with one device).
    vm.sh(f"fallocate -l $(( $(df -B1 --output=size {mountpoint} | tail -1) * 7 / 10 )) {mountpoint}/fill && sync")
    grown_at = time.monotonic()
    try:
        wait_for("the timer's check to grow it", lambda: size() > before * 1.5, timeout=240, every=2)
    except GuestError as e:
        timers = vm.sh("systemctl list-timers --all --no-pager", check=False)[1]
        raise GuestError(f"{e}\n{timers}\n{guest.journal(f'ebs-grow@{name}.service')}") from None
    grow_seconds = time.monotonic() - grown_at
    after_growth = size()
    ran = [line for line in guest.journal(f"ebs-grow@{name}.service").splitlines() if "running:" in line]
    for step in steps:
        if not any(step in line for line in ran):
            raise GuestError(f"the growth ran no {step}: {ran}")
    # The journal's fields under a real systemd and journald: the growth
    # is found by tool and event, and names its volume and instance.
    grown = journal_json(vm, "MOORING_TOOL=ebs-grow", f"MESSAGE_ID={VOLUME_GROWN}")
    if not grown or not grown[-1].get("VOLUME_ID", "").startswith("vol-") \
            or grown[-1].get("INSTANCE_ID") != guest.inst["instance_id"]:
        raise GuestError(f"no growth entry with VOLUME_ID and INSTANCE_ID in the journal: {grown}")
    # The reboot: the filesystem comes back by UUID, grown, with its data.
    vm.reboot()
    after = vm.sh(f"findmnt -n -o SOURCE {mountpoint}; ls {mountpoint}")[1]
    if "fill" not in after or size() != after_growth:
        raise GuestError(f"{mountpoint} after the reboot ({size()} bytes, {after_growth} before it): {after}")
    links = vm.sh("ls /dev/disk/by-id/ | grep -c Amazon_Elastic_Block_Store")[1].strip()
    if links != str(disks):
        raise GuestError(f"{links} by-id links to EBS volumes after the reboot, not {disks}")
    return {"source": source, "bytes_before": before, "bytes_after": after_growth,
            "grow_seconds": round(grow_seconds, 1), "growth": ran,
            "journal_volume_id": grown[-1]["VOLUME_ID"], **({"healed": healed} if healed else {})}


def ebs_grow_lvm(rig, guest):
    """ebs-grow on lvm.ext4 from boot: grown by a second volume (pvcreate,
    vgextend, lvextend --resizefs)."""
    r = grow_from_boot(guest, "scratch", "lvm.ext4", ("pvcreate", "vgextend", "lvextend"), disks=2)
    pvs = guest.vm.sh("pvs --noheadings -o pv_name")[1].split()
    if len(pvs) != 2:
        raise GuestError(f"expected 2 physical volumes, found {pvs}")
    return {"scenario": "ebs-grow lvm.ext4", "physical_volumes": len(pvs), **r}


def ebs_grow_ext4(rig, guest):
    """ebs-grow on ext4 from boot, grown in place: ModifyVolume (the rig
    resizes the disk under the running guest — a virtio disk, see
    SCENARIOS), then resize2fs on the mounted filesystem."""
    r = grow_from_boot(guest, "data", "ext4", ("resize2fs",), disks=1, rig=rig)
    return {"scenario": "ebs-grow ext4 in place, first boot heals", **r}


def ecs_sandbox(rig, guest):
    """ecs-node-guard.service as shipped — its whole sandbox, with
    ProtectKernelTunables= and ProtectKernelLogs= the host's sandbox
    refuses — under systemd as PID 1: the check runs (not 226/NAMESPACE),
    keeps its count in /run/mooring, writes its metrics file there, and
    logs to the journal with its fields. No ECS agent answers, so it is
    within its registration grace: healthy."""
    vm = guest.vm
    vm.sh("mkdir -p /etc/systemd/system/ecs-node-guard.service.d /etc/ecs")
    vm.put("/etc/ecs/ecs.config", b"ECS_CLUSTER=vmtest\n")
    vm.put("/etc/systemd/system/ecs-node-guard.service.d/vmtest.conf",
           b"[Service]\nEnvironment=ECS_GUARD_DOCKER_ROOT=/var\n"
           b"Environment=MOORING_METRICS_FILE=/run/mooring/ecs-node-guard.prom\n")
    vm.sh("systemctl daemon-reload")
    vm.exec("/bin/systemctl", "start", "ecs-node-guard.service", check=False, timeout=300)
    status = vm.sh("systemctl show -P ExecMainStatus ecs-node-guard.service")[1].strip()
    result = vm.sh("systemctl show -P Result ecs-node-guard.service")[1].strip()
    if status != "0" or result != "success":
        raise GuestError(f"ecs-node-guard.service: status {status}, {result}: "
                         f"{guest.journal('ecs-node-guard.service')}")
    state = vm.sh("cat /run/mooring/ecs-node-guard.json")[1]
    prom = vm.sh("cat /run/mooring/ecs-node-guard.prom")[1]
    if 'mooring_last_run_exit_code{tool="ecs-node-guard",command="check"} 0' not in prom:
        raise GuestError(f"no exit code in the metrics file: {prom}")
    entries = journal_json(vm, "MOORING_TOOL=ecs-node-guard")
    if not entries:
        raise GuestError(f"no journal entry with MOORING_TOOL=ecs-node-guard: {guest.journal('ecs-node-guard.service')}")
    score = vm.sh("systemd-analyze security --no-pager ecs-node-guard.service | tail -1", check=False)[1].strip()
    return {"scenario": "ecs-node-guard sandboxed whole", "state": state.strip(),
            "journal_entries": len(entries), "security": score}


PORTWORX_STAND_IN = b"""\
[Unit]
Description=A stand-in for Portworx (make vmtest): checks the disks it was given
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'echo "portworx starts with $PX_CLAIM_DEVICE_ARGS"; for d in $PX_CLAIM_DEVICES; do test -b $d || exit 1; done'
"""


def px_drop_in(rig, guest):
    """px-volume-claim's installed drop-in on a stand-in portworx.service:
    with a bad template the pre-command fails, the service stays down, and
    systemctl status and the journal say why in Mooring's words; with a
    good one the service starts on the claimed disk, found through udev."""
    vm = guest.vm
    vm.put("/etc/systemd/system/portworx.service", PORTWORX_STAND_IN)
    vm.sh("mkdir -p /etc/systemd/system/portworx.service.d")

    def args(value):
        vm.put("/etc/systemd/system/portworx.service.d/vmtest.conf",
               f'[Service]\nEnvironment="PX_VOLUME_CLAIM_ARGS={value}"\n'.encode())
        vm.sh("systemctl daemon-reload")

    args("--cluster-id vmtest --template nonsense:1")
    code, _, _ = vm.exec("/bin/systemctl", "start", "portworx.service", check=False, timeout=300)
    state = vm.sh("systemctl is-active portworx.service", check=False)[1].strip()
    status = vm.sh("systemctl status --no-pager -l portworx.service", check=False)[1]
    journal = guest.journal("portworx.service")
    said = [line for line in status.splitlines() if "px-volume-claim[" in line and "nonsense" in line]
    if code == 0 or state != "failed" or not said or "portworx starts" in journal:
        raise GuestError(f"a bad template: start exited {code}, the service is {state}; status: {status}")
    template = rig.control("/_rig/volume", {"az": guest.inst["az"]})["volume_id"]
    args(f"--cluster-id vmtest --template {template}:1")
    vm.sh("systemctl reset-failed portworx.service")
    vm.exec("/bin/systemctl", "start", "portworx.service", timeout=300)
    started = [line for line in guest.journal("portworx.service").splitlines() if "portworx starts" in line]
    if not started or "/dev/nvme" not in started[-1]:
        raise GuestError(f"the service did not start on a claimed disk: {started}")
    return {"scenario": "px-volume-claim drop-in", "refused": said[0].strip(), "started": started[-1].strip()}


def etcd_drop_in(rig, guest):
    """etcd-member-prepare's installed drop-in on Debian's real
    etcd.service: the first start bootstraps a one-member cluster named
    after the instance and etcd serves; a restart is a restart (no
    membership change), as the env file and etcd's journal show."""
    vm = guest.vm
    ip = guest.inst["private_ip"]
    # The instance's private address, on its interface as on EC2 (qemu's
    # user network gives the guest another): etcd listens on it.
    vm.sh(f"ip addr add {ip}/32 dev eth0")
    vm.sh("mkdir -p /etc/systemd/system/etcd.service.d")
    vm.put("/etc/systemd/system/etcd.service.d/vmtest.conf",
           b'[Service]\nEnvironment="ETCD_MEMBER_PREPARE_ARGS=--cluster vmtest --initial-size 1"\n')
    vm.sh("systemctl daemon-reload")
    vm.exec("/bin/systemctl", "start", "etcd.service", timeout=300)
    env = vm.sh("cat /run/mooring/etcd.env")[1]
    me = guest.inst["instance_id"]
    if f"ETCD_INITIAL_CLUSTER={me}=http://{ip}:2380" not in env.replace('"', "") or "new" not in env:
        raise GuestError(f"/run/mooring/etcd.env does not bootstrap {me} alone: {env}")
    wait_for("etcd to serve", lambda: "ready to serve client requests" in guest.journal("etcd.service"),
             timeout=120)
    vm.exec("/bin/systemctl", "restart", "etcd.service", timeout=300)
    state = vm.sh("systemctl is-active etcd.service", check=False)[1].strip()
    restarted = [line for line in guest.journal("etcd.service").splitlines() if "restart" in line.lower()]
    env = vm.sh("cat /run/mooring/etcd.env")[1]
    if state != "active" or "existing" not in env:
        raise GuestError(f"after a restart etcd is {state}; env: {env}")
    return {"scenario": "etcd-member-prepare drop-in", "env": env.strip().splitlines(),
            "restart": restarted[-1:] if restarted else []}


JOIN_CLUSTER = "vmtest-join"  # the etcd-cluster tag of both guests


def etcd_join(rig, first):
    """etcd-member-prepare's installed drop-in on Debian's etcd.service in
    two guests joined by a private Ethernet link (each with its instance's
    address on it): the first bootstraps a one-member cluster; the second,
    booted later, finds it by the cluster tag, is added through etcd's
    member API as a learner, starts as an existing member and is promoted
    by the drop-in's ExecStartPost; a key written on one is read on the
    other."""
    cluster = JOIN_CLUSTER
    args = f'[Service]\nEnvironment="ETCD_MEMBER_PREPARE_ARGS=--cluster {cluster} --initial-size 1"\n'
    ip1 = first.inst["private_ip"]

    def prepare(guest):
        # The link carries the instance's address, statically: a DHCP that
        # never answers there would hold network-online.target, which
        # etcd.service waits for, 120 s. (The rig's instances outside its
        # own subnets get moto's random addresses in 10.0.0.0/8: a route
        # to the other guest's follows.)
        ip = guest.inst["private_ip"]
        guest.vm.put("/etc/systemd/network/10-vmtest-link.network", (
            "[Match]\nName=eth1\n[Link]\nRequiredForOnline=no\n"
            f"[Network]\nAddress={ip}/32\nLinkLocalAddressing=no\n").encode())
        guest.vm.sh("networkctl reload")
        wait_for(f"{ip} on eth1", lambda: ip in guest.vm.sh("ip -o addr show dev eth1")[1], timeout=60)
        guest.vm.sh("mkdir -p /etc/systemd/system/etcd.service.d")
        guest.vm.put("/etc/systemd/system/etcd.service.d/vmtest.conf", args.encode())
        guest.vm.sh("systemctl daemon-reload")

    prepare(first)
    first.vm.exec("/bin/systemctl", "start", "etcd.service", timeout=300)
    second = Guest(rig, first.image, first.deb, first.base, first.name + "-second",
                   tags={"etcd-cluster": cluster}, link=("connect", first.link[1]))
    try:
        ip2 = second.inst["private_ip"]
        prepare(second)
        first.vm.sh(f"ip route add {ip2}/32 dev eth1")
        second.vm.sh(f"ip route add {ip1}/32 dev eth1")
        began = time.monotonic()
        code, _, _ = second.vm.exec("/bin/systemctl", "start", "etcd.service", check=False, timeout=300)
        join_seconds = time.monotonic() - began
        env = second.vm.sh("cat /run/mooring/etcd.env", check=False)[1].replace('"', "")
        journal = second.vm.sh("journalctl --no-pager -o short-monotonic -u etcd.service")[1]
        if code != 0 or "ETCD_INITIAL_CLUSTER_STATE=existing" not in env:
            raise GuestError(f"the second guest's etcd did not join (start exited {code}); env:\n{env}\n{journal}")
        ctl = f"ETCDCTL_API=3 etcdctl --command-timeout=20s --endpoints http://{ip1}:2379"
        members = wait_for(
            "two voting members",
            lambda: (lambda m: m if len(m) == 2 and not any(x.get("isLearner") for x in m) else None)(
                json.loads(first.vm.sh(f"{ctl} member list -w json", check=False)[1] or "{}").get("members", [])),
            timeout=120, every=2)
        first.vm.sh(f"{ctl} put vmtest joined")
        read = second.vm.sh(f"ETCDCTL_API=3 etcdctl --command-timeout=20s --endpoints http://{ip2}:2379 "
                            "get vmtest --print-value-only")[1].strip()
        if read != "joined":
            raise GuestError(f"the second member read {read!r} for a key the first wrote")
        said = second.vm.sh("journalctl --no-pager -o short-monotonic -t etcd-member-prepare")[1].splitlines()
        return {"scenario": "etcd-member-prepare: a second guest joins", "members": sorted(m["name"] for m in members),
                "join_seconds": round(join_seconds, 1), "second_boot_seconds": round(second.boot_seconds, 1),
                "said": said}
    finally:
        second.close()


ZOOKEEPER_STAND_IN = b"""\
[Unit]
Description=A stand-in for ZooKeeper (make vmtest): says what it was given, writes to its data
[Service]
Type=oneshot
RemainAfterExit=yes
User=zookeeper
ExecStart=/bin/sh -c 'echo "zookeeper starts: node $NODE_ID myid $(cat /var/lib/zookeeper/myid) on $NODE_INTERFACE $NODE_IP, data $(findmnt -n -o SOURCE,FSTYPE /var/lib/zookeeper)"; date +%%s.%%N >> /var/lib/zookeeper/starts'
# It binds NODE_IP as ZooKeeper would (a bound socket waits: timeout's 124).
ExecStart=/bin/sh -c 'timeout 1 systemd-socket-activate -l "$NODE_IP:2181" /bin/true; test $? = 124 && echo "bound $NODE_IP:2181"'
"""


def ec2_client(rig, inst):
    """The rig's EC2, as an operator's script reaches EC2."""
    import boto3

    return boto3.client("ec2", endpoint_url=rig.endpoint, region_name=inst["az"][:-1],
                        aws_access_key_id="vmtest", aws_secret_access_key="vmtest")


def smilodon_drop_in(rig, guest):
    """smilodon-attach's installed drop-in on a stand-in zookeeper.service:
    the pair's ENI arrives as a hot-plugged NIC with its MAC (its address
    configured by systemd-networkd; the service binds NODE_IP) and its volume
    as an NVMe disk found through udev's by-id link; xfs is made on the
    blank volume and mounted before the service starts (as its user, it
    writes there). Then the pair is detached through EC2 (the rig unplugs
    both from the running guest) and the service started again: the same
    pair comes back, the filesystem is mounted as it is, with its data."""
    vm = guest.vm
    inst = guest.inst
    pair = rig.control("/_rig/pair", {"tags": {"NodeID": "3", "Service": "vmtest"}, "az": inst["az"]})
    ec2 = ec2_client(rig, inst)
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[pair["eni_id"]])["NetworkInterfaces"][0]
    mac, ip = eni["MacAddress"], eni["PrivateIpAddress"]
    # What configures an attached ENI's address on the instance (a DHCP
    # client, amazon-ec2-net-utils): here the guest's systemd-networkd,
    # with a .network matching the ENI's MAC (the address DHCP would give:
    # nothing answers DHCP on this NIC). smilodon-attach waits for it. (A
    # udev rule's `ip addr add` does not last: networkd manages every e*
    # link and drops addresses it did not set.)
    vm.put("/etc/systemd/network/10-vmtest-eni.network",
           f"[Match]\nMACAddress={mac}\n\n[Network]\nAddress={ip}/32\n".encode())
    vm.sh("networkctl reload")
    vm.sh("useradd --system --no-create-home zookeeper")
    vm.put("/etc/systemd/system/zookeeper.service", ZOOKEEPER_STAND_IN)
    vm.sh("mkdir -p /etc/systemd/system/zookeeper.service.d")
    vm.put("/etc/systemd/system/zookeeper.service.d/vmtest.conf",
           b'[Service]\nEnvironment="SMILODON_ATTACH_ARGS=--filters tag:Service=vmtest"\n')
    vm.sh("systemctl daemon-reload")

    def start(which):
        code, _, _ = vm.exec("/bin/systemctl", "start", "zookeeper.service", check=False, timeout=300)
        journal = guest.journal("zookeeper.service")
        started = [line for line in journal.splitlines() if "zookeeper starts" in line]
        bound = [line for line in journal.splitlines() if f"bound {ip}:2181" in line]
        if code != 0 or len(started) != which or len(bound) != which:
            raise GuestError(f"start {which}: systemctl exited {code}; journal:\n{journal}")
        return started[-1].strip(), journal

    first, journal = start(1)
    env = dict(line.split("=", 1) for line in vm.sh("cat /run/mooring/smilodon-attach.env")[1].split()
               if "=" in line)
    env = {k: v.strip('"') for k, v in env.items()}
    nic = vm.sh(f"ip -o link | grep -i {mac} | cut -d: -f2")[1].strip()
    link = f"/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_{pair['volume_id'].replace('-', '')}"
    disk = vm.sh(f"readlink -f {link}")[1].strip()
    expect = f"node 3 myid 4 on {nic} {ip}, data {disk} xfs"
    if not nic or expect not in first or env.get("NODE_DEVICE") != disk:
        raise GuestError(f"expected '{expect}', the service said: {first}; env {env}")
    mkfs = [line.strip() for line in journal.splitlines() if "making xfs" in line]
    if len(mkfs) != 1:
        raise GuestError(f"the blank volume was not made xfs once: {journal}")
    # Detach the pair as an operator would; the guest sees both go.
    vm.sh("systemctl stop zookeeper.service && umount /var/lib/zookeeper")
    ec2.detach_volume(VolumeId=pair["volume_id"])
    attached = ec2.describe_network_interfaces(NetworkInterfaceIds=[pair["eni_id"]])["NetworkInterfaces"][0]
    ec2.detach_network_interface(AttachmentId=attached["Attachment"]["AttachmentId"])
    gone_at = time.monotonic()
    wait_for("the guest to lose the disk and the NIC",
             lambda: vm.sh(f"test ! -e {link} && ! ip -o link | grep -qi {mac}", check=False)[0] == 0,
             timeout=120, every=1)
    unplug_seconds = time.monotonic() - gone_at
    wait_for("EC2 to report the pair available",
             lambda: ec2.describe_volumes(VolumeIds=[pair["volume_id"]])["Volumes"][0]["State"] == "available",
             timeout=60)
    second, journal = start(2)
    starts = vm.sh("wc -l < /var/lib/zookeeper/starts")[1].strip()
    mkfs_again = [line.strip() for line in journal.splitlines() if "making xfs" in line]
    if f"node 3 myid 4 on" not in second or starts != "2" or mkfs_again != mkfs:
        raise GuestError(f"after the detach: {second}; {starts} starts on the data; mkfs lines {mkfs_again}")
    return {"scenario": "smilodon-attach drop-in", "first": first, "second": second, "mkfs": mkfs,
            "unplug_seconds": round(unplug_seconds, 1)}


# name: (scenario, how its first guest is made: disks, how the rig plugs
# volumes into it; tags, of its instance; link, a second NIC for another
# guest to connect to)
SCENARIOS = {
    "px-drop-in": (px_drop_in, {}),
    "ebs-grow-lvm": (ebs_grow_lvm, {}),
    # qemu 7.2 resizes virtio disks, not NVMe ones (see tests/vm/image.py).
    "ebs-grow-ext4": (ebs_grow_ext4, {"disks": "virtio"}),
    "etcd-drop-in": (etcd_drop_in, {}),
    "etcd-join": (etcd_join, {"tags": {"etcd-cluster": JOIN_CLUSTER}, "link": True}),
    "smilodon-drop-in": (smilodon_drop_in, {}),
    "ecs-sandbox": (ecs_sandbox, {}),
}


def main():
    chosen = sys.argv[1:] or list(SCENARIOS)
    for name in chosen:
        if name not in SCENARIOS:
            sys.exit(f"unknown scenario {name}; known: {', '.join(SCENARIOS)}")
    debs = sorted(glob.glob(os.path.join(TARGET, "debian", "mooring_*.deb")), key=os.path.getmtime)
    if not debs:
        sys.exit(f"no .deb under {TARGET}/debian: run `make package` first")
    started = time.monotonic()
    image = subprocess.run([sys.executable, os.path.join(HERE, "..", "tests", "vm", "image.py"), CACHE],
                           check=True, capture_output=True, text=True).stdout.strip()
    image_seconds = time.monotonic() - started
    image_bytes = int(subprocess.run(["du", "-sB1", image], capture_output=True, text=True,
                                     check=True).stdout.split()[0])
    base = tempfile.mkdtemp(prefix="mooring-vmtest-", dir="/var/tmp")
    rig = rigctl.Rig(rigctl.venv_python())
    rig.dirs.append(base)
    results, failed = [], []
    for name in chosen:
        guest = None
        began = time.monotonic()
        try:
            scenario, how = SCENARIOS[name]
            if how.get("link"):
                how = {**how, "link": ("listen", os.path.join(base, f"{name}.link"))}
            guest = Guest(rig, image, debs[-1], base, name, **how)
            r = scenario(rig, guest)
            r.update(boot_seconds=round(guest.boot_seconds, 1),
                     total_seconds=round(time.monotonic() - began, 1), ok=True)
        except Exception as e:  # noqa: BLE001 — reported, and the run fails
            r = {"scenario": name, "ok": False, "error": f"{type(e).__name__}: {e}"}
            if guest is not None:
                r["console"] = guest.vm.console_tail()
            failed.append(name)
        finally:
            if guest is not None:
                guest.close()
        log(json.dumps(r))
        results.append(r)
    rig.close()
    print(f"Guest image {image}: {image_bytes / 2**20:.0f} MiB, ready in {image_seconds:.0f} s "
          f"(qemu accel {os.environ.get('MOORING_VM_ACCEL', 'tcg')}).\n")
    print("| scenario | result | boot s | scenario s (boot and install included) |")
    print("|---|---|---|---|")
    for r in results:
        print(f"| {r['scenario']} | {'passed' if r['ok'] else 'FAILED: ' + r['error'].splitlines()[0]} | "
              f"{r.get('boot_seconds', '')} | {r.get('total_seconds', '')} |")
    if failed:
        sys.exit(f"vmtest: failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
