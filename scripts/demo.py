#!/usr/bin/env python3
"""make demo: the five tools end to end on the local stand-ins.

Simulated EC2 instances (moto + their own IMDSv2 + loop devices as their
EBS volumes + network namespaces for their ENIs) run each tool as an
instance would, and each step prints what the tool said and the EC2 calls
it made (counted by the rig's proxy):

  ebs-grow       a btrfs /scratch fills up and the check adds a volume
  etcd           three instances form a cluster, a fourth joins it
  smilodon       an instance takes a NodeID's volume + ENI, mounts it
  px             three instances, a template with max-count 2: two hold a
                 volume, the third runs storage-less
  ecs            a host's disk is full: three failed checks, then the group
                 is asked to replace it

    python3 scripts/demo.py [TOOL ...]     # default: all five
"""

import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "rig"))
from rigctl import Rig, ebs_grow_scratch, ecs_agent_stand_in, venv_python  # noqa: E402

# The Makefile's build directory unless told otherwise.
TARGET = os.path.join(os.environ.get("CARGO_TARGET_DIR", "/var/tmp/mooring-target"), "debug")


def bin_of(tool):
    return os.path.join(TARGET, tool)


def title(text):
    print(f"\n=== {text} " + "=" * max(0, 70 - len(text)), flush=True)


def run(rig, argv, env, show=None, ok=(0,)):
    """Run a tool, print its command, report and log; then the EC2 calls."""
    shown = show or " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(argv))
    print(f"\n$ {shown}", flush=True)
    rig.calls()
    out = subprocess.run(argv, env=env, capture_output=True, text=True)
    for line in (out.stdout + out.stderr).strip().splitlines():
        print(f"  {line}")
    calls = rig.calls()
    print(f"  -> exit {out.returncode}; {len(calls)} EC2 calls"
          + (f": {', '.join(calls)}" if calls else ""), flush=True)
    if out.returncode not in ok:
        sys.exit(f"demo: {shown} exited {out.returncode}")
    return out


def df(path):
    st = os.statvfs(path)
    total = st.f_blocks * st.f_frsize
    avail = st.f_bavail * st.f_frsize
    return f"{(total - avail) / 2**30:.2f} GiB used of {total / 2**30:.2f} GiB ({100 * (total - avail) / total:.0f}%)"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_ebs_grow(rig, base):
    title("ebs-grow: a btrfs /scratch fills up and grows")
    inst = rig.instance(tags={"Name": "demo"})
    d = os.path.join(base, "ebs-grow")
    os.makedirs(d)
    mp, env = ebs_grow_scratch(rig, d, inst)
    ebs = bin_of("ebs-grow")
    run(rig, [ebs, "init"], env)
    print(f"  /scratch after init: {df(mp)}")
    subprocess.run(["fallocate", "-l", "700M", os.path.join(mp, "data")], check=True)
    print(f"  after writing 700 MiB: {df(mp)}")
    run(rig, [ebs, "check"], env)
    print(f"  after the check: {df(mp)}")
    run(rig, [ebs, "check", "--used-percent", "90", "-q"], env)
    run(rig, [ebs, "teardown", "--yes", "-q"], env)


def demo_etcd(rig, base):
    title("etcd-member-prepare: three instances form a cluster, a fourth joins")
    peer, client = free_port(), free_port()
    procs = []

    def node(name):
        inst = rig.instance(tags={"etcd-cluster": "demo", "Name": name})
        d = os.path.join(base, "etcd", name)
        os.makedirs(d)
        argv = [bin_of("etcd-member-prepare"), "prepare", "--initial-size", "3",
                "--data-dir", os.path.join(d, "data"), "--env-file", os.path.join(d, "etcd.env"),
                "--peer-port", str(peer), "--client-port", str(client)]
        return inst, d, rig.tool_env(inst, d), argv

    def start(n):
        inst, d, _, _ = n
        log = open(os.path.join(d, "etcd.log"), "w")
        procs.append(subprocess.Popen(["sh", "-c", f"set -a; . {d}/etcd.env; exec etcd --data-dir {d}/data"],
                                      stdout=log, stderr=log))
        return inst

    def wait_serving(inst):
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection((inst["private_ip"], client), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        sys.exit(f"demo: etcd on {inst['instance_id']} did not start")

    try:
        nodes = [node(f"etcd-{i}") for i in range(3)]
        for n in nodes:
            run(rig, n[3], n[2], show=f"etcd-member-prepare prepare --initial-size 3   # on {n[0]['instance_id']}")
        print("\n  each env file bootstraps the same three-member cluster; etcd starts from it:")
        for n in nodes:
            start(n)
        for n in nodes:
            wait_serving(n[0])
        # etcd 3.4 refuses member changes for about 5 s after it starts
        # (its strict reconfiguration check): a join is made after that.
        time.sleep(6)
        fourth = node("etcd-3")
        run(rig, fourth[3], fourth[2], show=f"etcd-member-prepare prepare   # on {fourth[0]['instance_id']}, later")
        start(fourth)
        wait_serving(fourth[0])
        run(rig, [bin_of("etcd-member-prepare"), "promote", *fourth[3][2:]], fourth[2],
            show="etcd-member-prepare promote   # etcd.service's ExecStartPost=", ok=(0, 4))
        endpoint = f"http://{nodes[0][0]['private_ip']}:{client}"
        members = subprocess.run(["etcdctl", "--endpoints", endpoint, "member", "list", "-w", "table"],
                                 capture_output=True, text=True, env={**os.environ, "ETCDCTL_API": "3"})
        print(f"\n$ etcdctl member list\n{members.stdout}{members.stderr}")
    finally:
        for p in procs:
            p.kill()
            p.wait()


def demo_smilodon(rig, base):
    title("smilodon-attach: an instance takes NodeID 0's volume + ENI")
    pair = rig.control("/_rig/pair", {"tags": {"NodeID": "0", "Service": "demo"}})
    inst = rig.instance(netns=True)
    d = os.path.join(base, "smilodon")
    os.makedirs(d)
    mp = os.path.join(d, "data")
    rig.mounts.append(mp)
    env_file = os.path.join(d, "node.env")
    argv = ["nsenter", f"--net=/run/netns/{inst['netns']}", "--", bin_of("smilodon-attach"),
            "--filters", "tag:Service=demo", "--mountpoint", mp, "--mkfs", "ext4", "--env-file", env_file]
    run(rig, argv, rig.tool_env(inst, d),
        show=f"smilodon-attach --filters tag:Service=demo --mountpoint {mp} --mkfs ext4   # pair {pair}")
    print(f"\n$ cat {env_file}\n" + "".join(f"  {line}" for line in open(env_file)))
    run(rig, argv, rig.tool_env(inst, d), show="smilodon-attach ...   # again: a restart reuses the pair")


def demo_px(rig, base):
    title("px-volume-claim: a template with max-count 2, three instances")
    template = rig.control("/_rig/volume", {})["volume_id"]
    insts = rig.control("/_rig/asg", {"name": "px-demo", "size": 3})
    for inst in insts:
        d = os.path.join(base, "px", inst["instance_id"])
        os.makedirs(d)
        run(rig, [bin_of("px-volume-claim"), "--cluster-id", "demo", "--template", f"{template}:2",
                  "--env-file", os.path.join(d, "px.env")], rig.tool_env(inst, d),
            show=f"px-volume-claim --cluster-id demo --template {template}:2   # on {inst['instance_id']}")
    made = rig.control("/_rig/volumes", {"tags": {"PWX_CLUSTER_ID": "demo"}})
    print(f"\n  the cluster's volumes: {len(made)} (max-count 2)")


def demo_ecs(rig, base):
    title("ecs-node-guard: a host whose disk is full is replaced")
    url, agent = ecs_agent_stand_in("demo")
    try:
        insts = rig.control("/_rig/asg", {"name": "ecs-demo", "size": 4})
        inst = insts[0]
        d = os.path.join(base, "ecs")
        os.makedirs(d)
        # "Full": any use of the docker root's filesystem passes a 1 % limit.
        argv = [bin_of("ecs-node-guard"), "check", "--docker-root", d, "--max-disk-percent", "1",
                "--introspection-url", url]
        for i in range(3):
            run(rig, argv, rig.tool_env(inst, d),
                show=f"ecs-node-guard check --max-disk-percent 1   # timer tick {i + 1}, on {inst['instance_id']}")
    finally:
        agent.shutdown()


DEMOS = {"ebs-grow": demo_ebs_grow, "etcd": demo_etcd, "smilodon": demo_smilodon, "px": demo_px,
         "ecs": demo_ecs}


def main():
    if os.geteuid() != 0:
        sys.exit("make demo needs root (loop devices, mounts, network namespaces)")
    chosen = [t for t in sys.argv[1:] if t] or list(DEMOS)
    for t in chosen:
        if t not in DEMOS:
            sys.exit(f"demo: unknown tool {t}; known: {', '.join(DEMOS)}")
    rig = Rig(venv_python())
    base = tempfile.mkdtemp(prefix="mooring-demo-", dir="/var/tmp")
    rig.dirs.append(base)
    started = time.monotonic()
    try:
        for t in chosen:
            DEMOS[t](rig, base)
    finally:
        rig.close()
    print(f"\ndemo: {', '.join(chosen)} in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
