#!/usr/bin/env python3
"""make bench: wall time, CPU time, peak RSS and EC2 calls per run of the
release binaries against the local stand-ins, written as a markdown table.

Each run is a whole process (exec to exit), measured with wait4(): wall
time from spawn to reap, user+sys CPU time (the tool's own time), and peak
RSS. EC2 calls are counted by the rig's proxy."""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "rig"))
from rigctl import Rig, ebs_grow_scratch, ecs_agent_stand_in, venv_python  # noqa: E402

TARGET = os.environ.get("CARGO_TARGET_DIR", "/var/tmp/mooring-target")  # as the Makefile
# The program the packages ship: one multi-call binary, run by each tool's
# name through a link, as /usr/bin/<tool> runs it.
MOORING = os.path.join(TARGET, "release", "mooring")
LINKS = os.path.join(TARGET, "bench-links")


def tool(name):
    os.makedirs(LINKS, exist_ok=True)
    link = os.path.join(LINKS, name)
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(MOORING, link)
    return link


EBS_GROW = tool("ebs-grow")
ETCD_PREPARE = tool("etcd-member-prepare")
SMILODON = tool("smilodon-attach")
PX_CLAIM = tool("px-volume-claim")
ECS_GUARD = tool("ecs-node-guard")
LEAVE = tool("mooring-leave")


def measure(argv, env):
    """(wall s, cpu s, peak RSS KiB, exit code) of one process, run under
    GNU time for its peak RSS (a child spawned straight from this Python
    process would inherit Python's RSS high-water mark until it execs).
    Wall and CPU come from wait4() on time, so they include time's own
    fork and exec: the "harness" row measures that overhead alone."""
    with tempfile.NamedTemporaryFile("r") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(["/usr/bin/time", "-f", "%M %x", "-o", out.name, *argv], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, _, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        rss, code = out.read().split()[-2:]
    return wall, usage.ru_utime + usage.ru_stime, int(rss), int(code)


class Mount:
    """An ebs-grow btrfs mount on a fresh simulated instance."""

    def __init__(self, rig):
        self.rig = rig
        self.inst = rig.instance()
        self.base = tempfile.mkdtemp(prefix="mooring-bench-", dir="/var/tmp")
        self.mp, self.env = ebs_grow_scratch(rig, self.base, self.inst)
        rig.dirs.append(self.base)
        out = subprocess.run([EBS_GROW, "init", "-q"], env=self.env, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"ebs-grow init failed: {out.stderr}")

    def fill(self, mib):
        subprocess.run(["fallocate", "-l", f"{mib}M", os.path.join(self.mp, f"fill-{time.time_ns()}")], check=True)


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def etcd_rows(rig):
    """A join to a running one-member cluster, and restarts of a member."""
    import socket
    ports = [free_port(), free_port()]
    base = tempfile.mkdtemp(prefix="mooring-bench-etcd-", dir="/var/tmp")
    rig.dirs.append(base)
    def node(name):
        inst = rig.instance(tags={"etcd-cluster": "bench"})
        d = os.path.join(base, name)
        os.makedirs(d)
        env = rig.tool_env(inst, d)
        argv = [ETCD_PREPARE, "prepare", "-q", "--initial-size", "1", "--data-dir", os.path.join(d, "data"),
                "--env-file", os.path.join(d, "etcd.env"), "--peer-port", str(ports[0]),
                "--client-port", str(ports[1])]
        return inst, d, env, argv

    procs = []

    def start(node):
        inst, d, _, _ = node
        log = open(os.path.join(d, "etcd.log"), "w")
        procs.append(subprocess.Popen(["sh", "-c", f"set -a; . {d}/etcd.env; exec etcd --data-dir {d}/data"],
                                      stdout=log, stderr=log))
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection((inst["private_ip"], ports[1]), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        sys.exit("etcd did not start")

    rows = []
    try:
        # b is launched only once a runs: with both visible, the one-member
        # cluster would be whichever comes first by launch time, then ID.
        a = node("a")
        subprocess.run(a[3], env=a[2], check=True, capture_output=True)
        start(a)
        b = node("b")
        # etcd 3.4 refuses member changes for about 5 s after it starts:
        # wait that out, so that the join measures Mooring, not etcd.
        time.sleep(6)
        rig.calls()
        rig.imds(b[0])
        runs = [measure(b[3], b[2])]
        rows.append(row("etcd-member-prepare, join (learner)", runs, len(rig.calls()),
                        "<= 2 calls, < 50 ms own time, <= 4 IMDS + credentials", len(rig.imds(b[0]))))
        start(b)
        rig.imds(a[0])
        restarts = [measure(a[3], a[2]) for _ in range(10)]
        rows.append(row("etcd-member-prepare, restart (data dir exists)", restarts, len(rig.calls()),
                        "no membership change", len(rig.imds(a[0]))))
        # tidy with nothing to do: a (the leader) asks etcd only; b is not
        # the leader and stops at its own status.
        tidy = lambda n: [ETCD_PREPARE, "tidy", "-q", *n[3][3:]]  # noqa: E731
        rig.imds(a[0])
        runs = [measure(tidy(a), a[2]) for _ in range(10)] + [measure(tidy(b), b[2]) for _ in range(10)]
        rows.append(row("etcd-member-prepare tidy, nothing to do (leader, follower)", runs, len(rig.calls()),
                        "0 EC2 calls", len(rig.imds(a[0])) + len(rig.imds(b[0]))))
        # b leaves (a learner: no quorum at stake), by hand.
        runs = [measure([ETCD_PREPARE, "leave", "-q", "--when", "always", "--min-voting", "1", *b[3][3:]], b[2])]
        rows.append(row("etcd-member-prepare leave (a learner, by hand)", runs, len(rig.calls()),
                        "<= 2 EC2 calls (a learner asks its peers; one look per pass)", len(rig.imds(b[0]))))
        rows.append(etcd_group_row(rig))
    finally:
        for p in procs:
            p.kill()
            p.wait()
    return rows


def etcd_group_row(rig):
    """prepare on the first of an Auto Scaling group of three whose other
    members' etcd is not up yet: the group read from Auto Scaling, the peers
    from EC2, the two peers asked, a bootstrap env file written. Wall time
    against CPU time shows how long a run waits."""
    insts = rig.control("/_rig/asg", {"name": "etcd-bench", "size": 3})
    base = tempfile.mkdtemp(prefix="mooring-bench-etcd-asg-", dir="/var/tmp")
    rig.dirs.append(base)
    inst = insts[0]
    argv = [ETCD_PREPARE, "prepare", "-q", "--peers", "asg", "--data-dir", os.path.join(base, "data"),
            "--env-file", os.path.join(base, "etcd.env"), "--peer-port", str(free_port()),
            "--client-port", str(free_port())]
    env = rig.tool_env(inst, base)
    rig.calls()
    rig.imds(inst)
    runs = [measure(argv, env) for _ in range(10)]
    return row("etcd-member-prepare, bootstrap in an Auto Scaling group of 3", runs,
               len(rig.calls()), "wall / CPU <= 30, <= 4 IMDS + credentials", len(rig.imds(inst)))


def smilodon_rows(rig):
    """First attaches (a free pair: attach both, wait for device and
    interface, mkfs ext4 on the blank volume, mount) and restarts."""
    base = tempfile.mkdtemp(prefix="mooring-bench-smilodon-", dir="/var/tmp")
    rig.dirs.append(base)

    def node(i):
        inst = rig.instance(netns=True)
        d = os.path.join(base, str(i))
        os.makedirs(d)
        mp = os.path.join(d, "data")
        rig.mounts.append(mp)
        argv = ["nsenter", f"--net=/run/netns/{inst['netns']}", "--", SMILODON, "-q",
                "--filters", "tag:Service=bench", "--mountpoint", mp, "--mkfs", "ext4",
                "--env-file", os.path.join(d, "node.env")]
        return argv, rig.tool_env(inst, d), inst

    rows, firsts, calls, imds = [], [], 0, 0
    for i in range(5):
        rig.control("/_rig/pair", {"tags": {"NodeID": str(i), "Service": "bench"}})
        argv, env, inst = node(i)
        rig.calls()
        firsts.append(measure(argv, env))
        calls += len(rig.calls())
        imds += len(rig.imds(inst))
    rows.append(row("smilodon-attach, first attach (mkfs ext4 + mount)", firsts, calls, "<= 6 calls", imds))
    restarts = [measure(argv, env) for _ in range(20)]
    rows.append(row("smilodon-attach, restart (pair held)", restarts, len(rig.calls()), "<= 2 calls, no mutation",
                    len(rig.imds(inst))))
    return rows


def px_rows(rig, reps=3, size=20, max_count=5):
    """The twenty-instance race: an Auto Scaling group boots at once, every
    instance runs px-volume-claim; wall time until all are decided, EC2
    calls per instance, volumes made beyond max-count (must be 0)."""
    base = tempfile.mkdtemp(prefix="mooring-bench-px-", dir="/var/tmp")
    rig.dirs.append(base)
    walls, calls, over, failed, rss, imds = [], 0, 0, 0, 0, 0
    for rep in range(reps):
        template = rig.control("/_rig/volume", {})["volume_id"]
        insts = rig.control("/_rig/asg", {"name": f"px-bench-{rep}", "size": size})
        procs = []
        rig.calls()
        start = time.perf_counter()
        for inst in insts:
            d = os.path.join(base, inst["instance_id"])
            os.makedirs(d)
            out = open(os.path.join(d, "time"), "w+")
            argv = ["/usr/bin/time", "-f", "%M %x", "-o", out.name, PX_CLAIM, "-q",
                    "--cluster-id", f"bench-{rep}", "--template", f"{template}:{max_count}",
                    "--env-file", os.path.join(d, "px.env")]
            procs.append((subprocess.Popen(argv, env=rig.tool_env(inst, d), stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL), out))
        for p, out in procs:
            p.wait()
            out.seek(0)
            peak, code = out.read().split()[-2:]
            rss = max(rss, int(peak))
            failed += int(code) != 0
        walls.append((time.perf_counter() - start) * 1000)
        calls += len(rig.calls())
        imds += sum(len(rig.imds(inst)) for inst in insts)
        made = rig.control("/_rig/volumes", {"tags": {"PWX_CLUSTER_ID": f"bench-{rep}"}})
        over += max(0, len(made) - max_count)
    return [f"| px-volume-claim, {size} instances at once, max-count {max_count} (x{reps}) | {reps * size} | "
            f"{statistics.median(walls):.1f} (all decided) | {max(walls):.1f} | - | {rss / 1024:.1f} | "
            f"{calls / (reps * size):.1f} | {imds / (reps * size):.1f} | {failed} | "
            f"<= 6 calls on average; over-created: {over} (must be 0) |"]


def ecs_guard_rows(rig):
    """A healthy check: statvfs of the docker root and one GET of the
    agent's introspection endpoint (a local stand-in), nothing else."""
    url, agent = ecs_agent_stand_in("bench")
    base = tempfile.mkdtemp(prefix="mooring-bench-ecs-", dir="/var/tmp")
    rig.dirs.append(base)
    inst = rig.instance()
    env = rig.tool_env(inst, base)
    argv = [ECS_GUARD, "check", "-q", "--docker-root", base, "--max-disk-percent", "99.9",
            "--max-inode-percent", "99.9", "--introspection-url", url]
    rig.calls()
    rig.imds(inst)
    runs = [measure(argv, env) for _ in range(50)]
    agent.shutdown()
    return [row("ecs-node-guard check, healthy", runs, len(rig.calls()), "0 calls, 0 IMDS, < 5 ms own time",
                len(rig.imds(inst)))]


def leave_rows(rig):
    """The idle lifecycle watch (IMDS only), and a watch that leaves: the
    group and hook looked up, steps (`true`), the action completed."""
    insts = rig.control("/_rig/asg", {"name": "leave-bench", "size": 6,
                                      "termination_hook": {"name": "bench", "timeout": 300}})
    base = tempfile.mkdtemp(prefix="mooring-bench-leave-", dir="/var/tmp")
    rig.dirs.append(base)
    envs = []
    for i, inst in enumerate(insts):
        d = os.path.join(base, str(i))
        os.makedirs(d)
        envs.append(rig.tool_env(inst, d))
    rig.calls()
    rig.imds(insts[0])
    runs = [measure([LEAVE, "watch", "-q"], envs[0]) for _ in range(50)]
    rows = [row("mooring-leave watch, idle (in service)", runs, len(rig.calls()), "0 AWS calls, IMDS only",
                len(rig.imds(insts[0])))]
    rig.control("/_rig/asg_desired", {"name": "leave-bench", "desired": 1})
    runs, imds = [], 0
    for inst, env in zip(insts[:5], envs[:5]):
        rig.imds(inst)
        runs.append(measure([LEAVE, "watch", "-q", "--", "true"], env))
        imds += len(rig.imds(inst))
    rows.append(row("mooring-leave watch, leaving (steps `true`)", runs, len(rig.calls()),
                    "3 Auto Scaling calls (look up, hook, complete)", imds))
    return rows


def snapshot_rows(rig):
    """etcd-member-prepare snapshot of a one-member cluster's database at
    two sizes: peak RSS must not grow with the database (streamed to a
    file, uploaded in parts read from it). The calls are S3's."""
    import base64
    import socket
    import urllib.request
    ports = [free_port(), free_port()]
    base = tempfile.mkdtemp(prefix="mooring-bench-snap-", dir="/var/tmp")
    rig.dirs.append(base)
    rig.control("/_rig/s3_bucket", {"name": "bench-snapshots"})
    inst = rig.instance(tags={"etcd-cluster": "snap-bench"})
    env = rig.tool_env(inst, base)
    common = ["-q", "--initial-size", "1", "--data-dir", os.path.join(base, "data"),
              "--env-file", os.path.join(base, "etcd.env"), "--peer-port", str(ports[0]),
              "--client-port", str(ports[1])]
    subprocess.run([ETCD_PREPARE, "prepare", *common], env=env, check=True, capture_output=True)
    log = open(os.path.join(base, "etcd.log"), "w")
    etcd = subprocess.Popen(["sh", "-c", f"set -a; . {base}/etcd.env; exec etcd --data-dir {base}/data "
                             "--quota-backend-bytes 2147483648"], stdout=log, stderr=log)
    url = f"http://{inst['private_ip']}:{ports[1]}"
    rows = []
    try:
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection((inst["private_ip"], ports[1]), timeout=0.5).close()
                break
            except OSError:
                if time.time() > deadline:
                    sys.exit("etcd did not start")
                time.sleep(0.05)
        value = base64.b64encode(os.urandom(48 << 10)).decode()  # 64 KiB, incompressible
        written = 0
        for target in (64, 256):
            while written < target << 20:
                key = base64.b64encode(f"fill/{written}".encode()).decode()
                body = json.dumps({"key": key, "value": value}).encode()
                req = urllib.request.Request(url + "/v3/kv/put", data=body, method="POST")
                for _ in range(100):
                    try:
                        urllib.request.urlopen(req, timeout=10).read()
                        break
                    except OSError:  # the first put may meet an election
                        time.sleep(0.1)
                written += len(value)
            size = os.path.getsize(os.path.join(base, "data", "member", "snap", "db")) / 2**20
            rig.calls()
            runs = [measure([ETCD_PREPARE, "snapshot", "--snapshot-bucket", "bench-snapshots", *common], env)]
            rows.append(row(f"etcd-member-prepare snapshot, {size:.0f} MiB database (S3 calls)", runs,
                            len(rig.calls()), "RSS < 64 MiB whatever the size; 1 list + parts"))
    finally:
        etcd.kill()
        etcd.wait()
    return rows


def row(name, runs, calls, goal, imds=0):
    """A table row; `calls` and `imds` (IMDS requests, the token's PUT
    included) are totals over the runs."""
    walls = [r[0] * 1000 for r in runs]
    cpus = [r[1] * 1000 for r in runs]
    rss = max(r[2] for r in runs) / 1024
    failed = sum(1 for r in runs if r[3] != 0)
    per_run = calls / len(runs)
    return (f"| {name} | {len(runs)} | {statistics.median(walls):.1f} | {max(walls):.1f} | "
            f"{statistics.median(cpus):.1f} | {rss:.1f} | {per_run:.1f} | {imds / len(runs):.1f} | {failed} | {goal} |")


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else None
    if os.geteuid() != 0:
        sys.exit("make bench needs root (loop devices, mounts)")
    rig = Rig(venv_python())
    rows = []
    runs = [measure(["/bin/true"], dict(os.environ)) for _ in range(50)]
    rows.append(row("harness overhead (/bin/true)", runs, 0, "subtract from the rows below"))

    # Idle check: room to spare, so statvfs + btrfs usage and nothing else.
    m = Mount(rig)
    rig.calls()
    rig.imds(m.inst)
    runs = [measure([EBS_GROW, "check", "-q"], m.env) for _ in range(50)]
    rows.append(row("ebs-grow check, idle (btrfs)", runs, len(rig.calls()), "< 5 ms own time, 0 calls, 0 IMDS",
                    len(rig.imds(m.inst))))
    # The same with its metrics file (one atomic write and fsync per run).
    env = dict(m.env, MOORING_METRICS_FILE=os.path.join(m.base, "textfile", "ebs-grow.prom"))
    runs = [measure([EBS_GROW, "check", "-q"], env) for _ in range(50)]
    rows.append(row("ebs-grow check, idle, with --metrics-file", runs, len(rig.calls()),
                    "< 1 ms more than without, 0 calls, 0 IMDS", len(rig.imds(m.inst))))

    # A growth, with an emulated attach of 1 s (EC2 takes 1-10 s or more).
    rig.control("/_rig/config", {"attach_delay": 1.0})
    runs, calls, imds = [], 0, 0
    for _ in range(5):
        g = Mount(rig)
        g.fill(700)
        rig.calls()
        rig.imds(g.inst)
        runs.append(measure([EBS_GROW, "check", "-q"], g.env))
        calls += len(rig.calls())
        imds += len(rig.imds(g.inst))
    rows.append(row("ebs-grow check, growth (1 s attach)", runs, calls, "<= 8 calls, wall ~ attach", imds))

    rows += etcd_rows(rig)
    rig.control("/_rig/config", {"attach_delay": 0.0})
    rows += smilodon_rows(rig)
    rows += px_rows(rig)
    rows += ecs_guard_rows(rig)
    rows += leave_rows(rig)
    rows += snapshot_rows(rig)

    size = os.path.getsize(MOORING) / 2**20
    table = "\n".join([
        "# Mooring benchmarks",
        "",
        f"The release program the packages ship (`mooring`, {size:.1f} MiB, run by each tool's "
        f"name) against the local stand-ins (moto + IMDSv2 + loop devices). Each run is one "
        f"whole process.",
        "",
        "| scenario | runs | wall p50 ms | wall max ms | CPU p50 ms (own time) | peak RSS MiB | EC2 calls/run | IMDS requests/run | failed | goal |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
    ])
    print(table)
    if out_path:
        os.makedirs(os.path.dirname(out_path) or ".", exist_ok=True)
        with open(out_path, "w") as f:
            f.write(table)


if __name__ == "__main__":
    main()
