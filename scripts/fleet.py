#!/usr/bin/env python3
"""make fleet: a whole Auto Scaling group boots at once against an EC2 that
throttles like the real one (the rig's token buckets per API family), and
every instance runs its tool as it boots. Per scenario: completion time
p50/p99/max, EC2 calls in all and per instance, throttled answers, the
invariants, and the ideal it is measured against. Written as a markdown
table (bench/FLEET.md) and a chart of completion over time (bench/FLEET.png).

Scenarios: px-volume-claim (three templates and max-counts over one group);
smilodon-attach with a fifth as many pairs as instances (no split pair, no
double claim); etcd-member-prepare on clusters of five booting together
(each agrees on itself; the first runs as real etcd); ebs-grow check on every instance while a tenth need to grow
(the idle ones must make no call). FLEET_N instances (default 100).

The ideal: the fewest EC2 calls the job needs, and the time EC2's buckets
allow for them (calls beyond a bucket's size at its refill rate), but never
less than the last instance's start plus one instance's time alone, nor
than the emulator (one request at a time, hypervisor included) takes to
serve the minimum at the pace it served this run.
Invariants fail the run; so do calls beyond 1.5 times the minimum. Times
are reported against the goal (p99 within twice the allowed time), not
enforced: a loaded machine must not turn `make test` red."""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "rig"))
from rigctl import Rig, ebs_grow_scratch, venv_python  # noqa: E402

TARGET = os.environ.get("CARGO_TARGET_DIR", "/var/tmp/mooring-target")  # as the Makefile
# What the packages ship: the one program, run as the tool.
MOORING = os.path.join(TARGET, "release", "mooring")
PX_CLAIM = [MOORING, "px-volume-claim"]
EBS_GROW = [MOORING, "ebs-grow"]
SMILODON = [MOORING, "smilodon-attach"]
ETCD_PREPARE = [MOORING, "etcd-member-prepare"]

# EC2's published request-rate limits (bucket size, refill per second).
BUCKETS = {"describe": {"size": 100, "refill": 20}, "mutate": {"size": 50, "refill": 5}}

# Instances of a group do not boot in the same millisecond: EC2 launches
# them over seconds. The fleet starts one every START_STEP seconds (9 s for
# 300), which also keeps the rig's IMDS — one Python process serving every
# simulated instance at about 2 ms a request, where EC2 gives each its own
# — inside the SDK's 2 s metadata timeout.
START_STEP = float(os.environ.get("FLEET_START_STEP", "0.03"))

CALLS_GOAL = 1.5
TIME_GOAL = 2.0


KEEP_DIR = None  # where FLEET_KEEP=1 keeps the logs


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def allowed_seconds(describes, mutations):
    """How long EC2's buckets take to serve these calls at best."""
    over = lambda n, b: max(0, n - b["size"]) / b["refill"]  # noqa: E731
    return max(over(describes, BUCKETS["describe"]), over(mutations, BUCKETS["mutate"]))


class Run:
    """One process of the fleet: its time from the first start to its exit,
    exit code, stdout (the report) and the last line of its log."""

    def __init__(self, seconds, code, stdout, last):
        self.seconds, self.code, self.stdout, self.last = seconds, code, stdout, last

    def report(self):
        try:
            return json.loads(self.stdout)
        except ValueError:
            return {}


def run_all(runs, base):
    """Start every (argv, env), one every START_STEP seconds; a Run each.
    A thread reaps them as they exit, while later ones are still starting,
    so that each time is its own."""
    import threading

    start = time.perf_counter()
    lock = threading.Lock()
    exits = {}  # pid -> (seconds, status), whoever registers first
    # The Popen objects are kept: one dropped while its process runs is
    # reaped by the next Popen's clean-up, and the reaper would never see it.
    popens = []

    def reap():
        while True:
            with lock:
                if len(popens) == len(runs) and all(p.pid in exits for p in popens):
                    return
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:  # none running this instant
                time.sleep(0.001)
                continue
            with lock:
                exits[pid] = (time.perf_counter() - start, status)

    reaper = threading.Thread(target=reap)
    reaper.start()
    files = []
    for i, (argv, env) in enumerate(runs):
        time.sleep(max(0.0, start + i * START_STEP - time.perf_counter()))
        log = open(os.path.join(base, f"log-{i}"), "w+")
        out = open(os.path.join(base, f"out-{i}"), "w+")
        with lock:
            popens.append(subprocess.Popen(argv, env=env, stdout=out, stderr=log))
        files.append((log, out))
    reaper.join()
    done = []
    for p, (log, out) in zip(popens, files):
        seconds, status = exits[p.pid]
        p.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait
        log.seek(0)
        out.seek(0)
        last = (log.read().strip().splitlines() or [""])[-1]
        done.append(Run(seconds, p.returncode, out.read(), last))
    # Kept logs (FLEET_KEEP=1) say when each process started and ended.
    with open(os.path.join(base, "times"), "w") as f:
        for i, run in enumerate(done):
            f.write(f"log-{i}\tstarted {i * START_STEP:.2f}\tended {run.seconds:.2f}\texit {run.code}\n")
    return done


def timed(argv, env):
    start = time.perf_counter()
    out = subprocess.run(argv, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(argv)}: {out.stderr}")
    return time.perf_counter() - start


def summarise(name, n, runs, answer, minimum, min_describes, min_mutations, solo, checks, ok_codes=(0,)):
    """The row of one scenario (`answer`: the rig's calls and busy time
    since the fleet started), its invariants and goals."""
    calls = answer["calls"]
    if KEEP_DIR:  # each call, with its caller and time, for a timeline
        with open(os.path.join(KEEP_DIR, f"calls-{name.split(':')[0]}.json"), "w") as f:
            json.dump(calls, f)
    served = [c for c in calls if c["fault"] not in ("throttle", "abandoned") and c.get("service") == "ec2"]
    by_action, per_instance = {}, {}
    for c in calls:
        key = c["action"] + {"throttle": " (throttled)", "abandoned": " (abandoned: its caller timed out "
                             "waiting for the emulator)"}.get(c["fault"], "")
        by_action[key] = by_action.get(key, 0) + 1
    for c in served:
        per_instance[c.get("instance")] = per_instance.get(c.get("instance"), 0) + 1
    failed = [r.last for r in runs if r.code not in ok_codes]
    checks = [(f"every instance exits {' or '.join(map(str, ok_codes))}", not failed), *checks,
              (f"EC2 calls within {CALLS_GOAL}x the minimum", len(served) <= CALLS_GOAL * max(minimum, 1))]
    # The last instance starts (n - 1) steps after the first: nothing can
    # finish before it has started and done its work alone.
    window = (n - 1) * START_STEP
    # The emulator serves one request at a time (its hypervisor's work for
    # attaches included): its time per request in this run, for the minimum.
    answered = sum(1 for c in calls if c["fault"] not in ("throttle", "abandoned"))
    emulator = answer["busy_seconds"] * minimum / max(answered, 1)
    allowed = max(window + solo, emulator, allowed_seconds(min_describes, min_mutations))
    times = [r.seconds for r in runs]
    return {
        "scenario": name, "n": n, "times": times,
        "p50": statistics.median(times), "p99": percentile(times, 99), "max": max(times),
        "calls": len(served), "minimum": minimum,
        "throttled": sum(1 for c in calls if c["fault"] == "throttle"),
        "autoscaling": sum(1 for c in calls if c.get("service") == "autoscaling"),
        "by_action": by_action, "per_instance": per_instance,
        "per_instance_max": max(per_instance.values()) if per_instance else 0,
        "allowed": allowed, "solo": solo, "window": window, "emulator": emulator,
        "busy": answer["busy_seconds"], "cached": answer.get("state_read_hits", 0),
        "checks": checks, "failed": failed[:3],
    }


def fresh(base, name):
    d = os.path.join(base, name)
    os.makedirs(d)
    return d


def px_scenario(n, base):
    """Three templates with max-counts n/15, n/30, n/60 over one group:
    exact counts, each volume held by one instance."""
    rig = Rig(venv_python())
    try:
        templates = [(rig.control("/_rig/volume", {})["volume_id"], max(1, n // k)) for k in (15, 30, 60)]
        insts = rig.control("/_rig/asg", {"name": "px-fleet", "size": n})
        # One instance alone (in no group), unthrottled.
        d = fresh(base, "px-solo")
        solo = timed([*PX_CLAIM, "-q", "--cluster-id", "solo", "--template", f"{templates[0][0]}:1",
                      "--env-file", os.path.join(d, "px.env")], rig.tool_env(rig.instance(), d))
        rig.control("/_rig/throttle", BUCKETS)
        runs = []
        for inst in insts:
            d = fresh(base, inst["instance_id"])
            argv = [*PX_CLAIM, "--output", "json", "--cluster-id", "fleet",
                    "--env-file", os.path.join(d, "px.env")]
            for t, count in templates:
                argv += ["--template", f"{t}:{count}"]
            runs.append((argv, rig.tool_env(inst, d)))
        rig.control("/_rig/calls", {"clear": True})
        done = run_all(runs, fresh(base, "px-logs"))
        rig.control("/_rig/throttle", {})
        answer = rig.control("/_rig/calls", {"clear": True})
        checks, made = [], 0
        for t, count in templates:
            vols = rig.control("/_rig/volumes", {"tags": {"PWX_CLUSTER_ID": "fleet", "PWX_EBS_VOLUME_TEMPLATE": t}})
            made += len(vols)
            holders = [v.get("instance_id") for v in vols]
            checks.append((f"template max-count {count}: exactly {count} volumes", len(vols) == count))
            checks.append((f"template max-count {count}: each held by one instance",
                           all(holders) and len(set(holders)) == len(holders)))
        # The job's minimum: one look per instance, a create and an attach
        # per volume.
        return summarise(
            f"px-volume-claim: {n} instances, max-counts {'/'.join(str(c) for _, c in templates)}",
            n, done, answer, n + 2 * made, n, 2 * made, solo, checks)
    finally:
        rig.close()


def ebs_grow_scenario(n, base):
    """ebs-grow check on every instance at once (its timer fires across the
    group at the same minute) while a tenth have filled their btrfs scratch
    space: those grow it with a volume each, the rest make no call at all.
    The idle instances' mountpoints are bind mounts of one filesystem: an
    idle check reads only its mount and its own state."""
    rig = Rig(venv_python())
    try:
        # Every tenth instance, spread over the start order.
        grows = [i % 10 == 0 for i in range(n)]
        growing = sum(grows)

        def instance(name):
            inst = rig.instance()
            return (inst, *ebs_grow_scratch(rig, fresh(base, name), inst))

        def init_and_fill(mp, env):
            timed([*EBS_GROW, "init", "-q"], env)
            subprocess.run(["fallocate", "-l", "600M", os.path.join(mp, "fill")], check=True)

        # One growth alone, unthrottled: its time and calls are the floor.
        _, mp, env = instance("ebs-solo")
        init_and_fill(mp, env)
        rig.control("/_rig/calls", {"clear": True})
        solo = timed([*EBS_GROW, "check", "-q"], env)
        solo_calls = rig.control("/_rig/calls", {"clear": True})["calls"]
        solo_describes = sum(1 for c in solo_calls if c["action"].startswith(("Describe", "List", "Get")))
        runs, roles = [], []
        shared = None
        for i in range(n):
            inst, mp, env = instance(f"ebs-{i}")
            if grows[i]:
                init_and_fill(mp, env)
            elif shared is None:
                timed([*EBS_GROW, "init", "-q"], env)
                shared = mp
            else:
                os.makedirs(mp)
                subprocess.run(["mount", "--bind", shared, mp], check=True)
            runs.append(([*EBS_GROW, "check", "--output", "json"], env))
            roles.append((inst["instance_id"], grows[i]))
        rig.control("/_rig/throttle", BUCKETS)
        rig.control("/_rig/calls", {"clear": True})
        done = run_all(runs, fresh(base, "ebs-logs"))
        rig.control("/_rig/throttle", {})
        answer = rig.control("/_rig/calls", {"clear": True})
        calls = answer["calls"]
        by_instance = {}
        for c in calls:
            by_instance[c.get("instance")] = by_instance.get(c.get("instance"), 0) + 1
        idle_callers = [iid for iid, grows in roles if not grows and by_instance.get(iid)]
        grew = [r.report().get("action") for r, (_, grows) in zip(done, roles) if grows]
        checks = [
            (f"the {n - growing} idle instances make no call", not idle_callers),
            (f"each of the {growing} full instances adds a volume", grew == ["added"] * growing),
        ]
        minimum = growing * len(solo_calls)
        return summarise(
            f"ebs-grow check: {n} instances, {growing} growing", n, done, answer, minimum,
            growing * solo_describes, growing * (len(solo_calls) - solo_describes), solo, checks)
    finally:
        rig.close()


# Each instance with a network namespace costs the rig three serving
# threads, and each tool its connections and runtime threads, against the
# machine's task limit (the pids cgroup, 4915 here). The scenario runs at
# most this many.
SMILODON_MAX = int(os.environ.get("FLEET_SMILODON_MAX", "300"))


def smilodon_scenario(n, base):
    """A group of n booting together with n/5 pairs (a volume and an ENI
    sharing a NodeID): every pair claimed whole by one instance, ext4 made
    on its blank volume and mounted, the rest idle (exit 8), none split.
    Each instance has its own network namespace, where its ENI appears."""
    import boto3

    n = min(n, SMILODON_MAX)
    rig = Rig(venv_python())
    try:
        pairs = max(1, n // 5)
        for i in range(pairs):
            rig.control("/_rig/pair", {"tags": {"NodeID": str(i), "Service": "fleet"}})
        # A network namespace, an IMDS and a proxy in it per instance: about
        # a fifth of a second each on this machine.
        insts = rig.control("/_rig/asg", {"name": "smilodon-fleet", "size": n, "netns": True},
                            timeout=60 + n)

        def argv_env(inst, d, service):
            mp = os.path.join(d, "data")
            rig.mounts.append(mp)
            argv = ["nsenter", f"--net=/run/netns/{inst['netns']}", "--", *SMILODON, "--output", "json",
                    "--filters", f"tag:Service={service}", "--mountpoint", mp, "--mkfs", "ext4",
                    "--when-none", "idle", "--env-file", os.path.join(d, "node.env")]
            return argv, rig.tool_env(inst, d)

        # One instance alone (in no group) with a pair of its own.
        rig.control("/_rig/pair", {"tags": {"NodeID": "solo", "Service": "solo"}})
        solo = timed(*argv_env(rig.instance(netns=True), fresh(base, "smilodon-solo"), "solo"))
        rig.control("/_rig/throttle", BUCKETS)
        runs = [argv_env(inst, fresh(base, inst["instance_id"]), "fleet") for inst in insts]
        rig.control("/_rig/calls", {"clear": True})
        done = run_all(runs, fresh(base, "smilodon-logs"))
        rig.control("/_rig/throttle", {})
        answer = rig.control("/_rig/calls", {"clear": True})
        ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=rig.endpoint,
                           aws_access_key_id="rig", aws_secret_access_key="rig")
        tag = [{"Name": "tag:Service", "Values": ["fleet"]}]
        by_node = {}
        for v in ec2.describe_volumes(Filters=tag)["Volumes"]:
            node = next(t["Value"] for t in v["Tags"] if t["Key"] == "NodeID")
            by_node.setdefault(node, {})["volume"] = (v.get("Attachments") or [{}])[0].get("InstanceId")
        for e in ec2.describe_network_interfaces(Filters=tag)["NetworkInterfaces"]:
            node = next(t["Value"] for t in e["TagSet"] if t["Key"] == "NodeID")
            by_node.setdefault(node, {})["eni"] = (e.get("Attachment") or {}).get("InstanceId")
        holders = [h.get("volume") for h in by_node.values()]
        reports = [r.report() for r in done]
        claimed = [r for r in reports if r.get("node_id")]
        checks = [
            (f"all {pairs} pairs held whole (volume and ENI on one instance)",
             all(h.get("volume") and h.get("volume") == h.get("eni") for h in by_node.values())),
            ("no instance holds two pairs", len(set(holders)) == len(holders)),
            (f"{pairs} instances claim, each its pair, mounted",
             len(claimed) == pairs and all(by_node[r["node_id"]]["volume"] == r["instance_id"]
                                           and r.get("filesystem") for r in claimed)),
            (f"{n - pairs} instances idle", sum(1 for r in reports if r.get("outcome") == "idle") == n - pairs),
        ]
        # The job's minimum: two looks (volumes, ENIs) per instance, two
        # attaches per pair.
        return summarise(f"smilodon-attach: {n} instances, {pairs} pairs", n, done, answer,
                         2 * n + 2 * pairs, 2 * n, 2 * pairs, solo, checks, ok_codes=(0, 8))
    finally:
        rig.close()


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def etcd_scenario(n, base):
    """n instances booting together as n/5 etcd clusters of five (found by
    their etcd-cluster tag): each cluster's five agree on one new cluster
    of exactly them, and the first cluster's members, started as real etcd
    from the env files, form a healthy five-member cluster."""
    import shutil

    rig = Rig(venv_python())
    procs = []
    try:
        size = 5
        clusters = max(1, n // size)
        n = clusters * size
        ports = (free_port(), free_port())

        def prepare(inst, d):
            argv = [*ETCD_PREPARE, "prepare", "--output", "json", "--initial-size", str(size),
                    "--data-dir", os.path.join(d, "data"), "--env-file", os.path.join(d, "etcd.env"),
                    "--peer-port", str(ports[0]), "--client-port", str(ports[1])]
            return argv, rig.tool_env(inst, d)

        # One cluster of one alone: the floor.
        solo_inst = rig.instance(tags={"etcd-cluster": "solo"})
        d = fresh(base, "etcd-solo")
        argv, env = prepare(solo_inst, d)
        argv[argv.index("--initial-size") + 1] = "1"
        solo = timed(argv, env)
        insts, dirs = [], []
        for i in range(n):
            insts.append(rig.instance(tags={"etcd-cluster": f"fleet-{i % clusters}"}))
            dirs.append(fresh(base, f"etcd-{i}"))
        rig.control("/_rig/throttle", BUCKETS)
        rig.control("/_rig/calls", {"clear": True})
        done = run_all([prepare(inst, d) for inst, d in zip(insts, dirs)], fresh(base, "etcd-logs"))
        rig.control("/_rig/throttle", {})
        answer = rig.control("/_rig/calls", {"clear": True})

        def env_of(d):
            out = {}
            path = os.path.join(d, "etcd.env")
            for line in open(path) if os.path.exists(path) else []:
                if "=" in line and not line.startswith("#"):
                    k, v = line.rstrip("\n").split("=", 1)
                    out[k] = v.strip('"')
            return out

        agree = True
        for c in range(clusters):
            members = [(inst, d) for i, (inst, d) in enumerate(zip(insts, dirs)) if i % clusters == c]
            envs = [env_of(d) for _, d in members]
            names = sorted(inst["instance_id"] for inst, _ in members)
            listed = sorted(m.split("=", 1)[0] for m in envs[0].get("ETCD_INITIAL_CLUSTER", "").split(",") if m)
            agree &= (listed == names
                      and all(e.get("ETCD_INITIAL_CLUSTER_STATE") == "new" for e in envs)
                      and len({(e.get("ETCD_INITIAL_CLUSTER"), e.get("ETCD_INITIAL_CLUSTER_TOKEN")) for e in envs}) == 1)
        # The first cluster for real.
        first = [(inst, d) for i, (inst, d) in enumerate(zip(insts, dirs)) if i % clusters == 0]
        for inst, d in first:
            log = open(os.path.join(d, "etcd.log"), "w")
            procs.append(subprocess.Popen(
                ["sh", "-c", f"set -a; . {d}/etcd.env; exec etcd --data-dir {d}/data"], stdout=log, stderr=log))
        endpoints = ",".join(f"http://{inst['private_ip']}:{ports[1]}" for inst, _ in first)
        healthy, listed = False, []
        deadline = time.time() + 90
        while time.time() < deadline and shutil.which("etcdctl"):
            out = subprocess.run(["etcdctl", "--endpoints", endpoints, "--command-timeout=3s",
                                  "member", "list", "-w", "json"], capture_output=True, text=True)
            if out.returncode == 0:
                listed = sorted(m.get("name", "") for m in json.loads(out.stdout).get("members", []))
                health = subprocess.run(["etcdctl", "--endpoints", endpoints, "--command-timeout=3s",
                                         "endpoint", "health"], capture_output=True, text=True)
                if health.returncode == 0 and "" not in listed:
                    healthy = True
                    break
            time.sleep(0.5)
        checks = [
            (f"each of the {clusters} clusters' five agree on a new cluster of exactly them", agree),
            ("the first cluster runs as five healthy etcd members",
             healthy and listed == sorted(inst["instance_id"] for inst, _ in first)),
        ]
        # The job's minimum: one look for its peers per instance.
        return summarise(f"etcd-member-prepare: {n} instances, {clusters} clusters of {size}", n, done,
                         answer, n, n, 0, solo, checks)
    finally:
        for p in procs:
            p.kill()
            p.wait()
        rig.close()


def chart(results, path):
    """Completion over time: the share of each scenario's instances done."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for r in results:
        times = sorted(r["times"])
        line, = ax.step(times, [(i + 1) / len(times) * 100 for i in range(len(times))], where="post",
                        label=r["scenario"])
        ax.axvline(r["allowed"], color=line.get_color(), linestyle="--", linewidth=0.8)
    ax.set_xlabel("seconds from the first instance's start (dashed: the time allowed)")
    ax.set_ylabel("instances done, %")
    ax.set_ylim(0, 101)
    ax.set_xlim(left=0)
    ax.grid(True, linewidth=0.3)
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path)


SCENARIOS = {"px": px_scenario, "smilodon": smilodon_scenario, "etcd": etcd_scenario,
             "ebs-grow": ebs_grow_scenario}


def main(out_path):
    if not os.path.exists(MOORING):
        sys.exit(f"{MOORING} is missing: run `make package` or `cargo build --release --bin mooring` first")
    n = int(os.environ.get("FLEET_N", "100"))
    base = tempfile.mkdtemp(prefix="mooring-fleet-", dir="/var/tmp")
    if os.environ.get("FLEET_KEEP"):  # FLEET_KEEP=1: keep every instance's log
        global KEEP_DIR
        KEEP_DIR = base
        print(f"logs in {base}", file=sys.stderr)
    try:
        # FLEET_SCENARIOS=etcd,px: only these (default: all four).
        chosen = os.environ.get("FLEET_SCENARIOS", ",".join(SCENARIOS)).split(",")
        unknown = set(chosen) - set(SCENARIOS)
        if unknown:
            sys.exit(f"FLEET_SCENARIOS: unknown {', '.join(sorted(unknown))}; known: {', '.join(SCENARIOS)}")
        results = [SCENARIOS[name](n, base) for name in chosen]
    finally:
        if not os.environ.get("FLEET_KEEP"):
            subprocess.run(["rm", "-rf", base])
    lines = [
        "# Fleet runs (`make fleet`)",
        "",
        f"Every instance of one Auto Scaling group runs its tool as it boots, one starting every "
        f"{START_STEP * 1000:.0f} ms (EC2 launches a group over seconds), against the rig's EC2, "
        f"which throttles with EC2's published buckets (describe {BUCKETS['describe']['size']} + "
        f"{BUCKETS['describe']['refill']}/s, mutate {BUCKETS['mutate']['size']} + {BUCKETS['mutate']['refill']}/s). "
        "Times are from the first start to each process's exit, in seconds. Calls are EC2 requests served "
        "(throttled answers counted apart; Auto Scaling calls, a bucket of their own, apart too). The minimum is "
        "the EC2 calls the job needs; the allowed time is what the buckets allow for them, but never less than "
        "the last instance's start plus what one instance alone takes (solo), nor than what the emulator, which "
        "serves one request at a time, takes for the minimum at its pace in the run (emulator: moto and the "
        "rig's hypervisor, which makes a loop device per volume and a tap per ENI attached). "
        f"Goals: calls within {CALLS_GOAL}x the "
        f"minimum, p99 within {TIME_GOAL}x the allowed time. Chart: FLEET.png.",
        "",
        "| scenario | p50 s | p99 s | max s | starts over s | solo s | emulator s | allowed s | p99 / allowed | "
        "calls | minimum | calls / minimum | most by one instance | throttled | Auto Scaling calls | invariants |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        passed = sum(ok for _, ok in r["checks"])
        lines.append(
            f"| {r['scenario']} | {r['p50']:.2f} | {r['p99']:.2f} | {r['max']:.2f} | {r['window']:.2f} | "
            f"{r['solo']:.2f} | {r['emulator']:.2f} | {r['allowed']:.2f} | {r['p99'] / r['allowed']:.2f} | "
            f"{r['calls']} | {r['minimum']} | {r['calls'] / max(r['minimum'], 1):.2f} | {r['per_instance_max']} | "
            f"{r['throttled']} | {r['autoscaling']} | {passed}/{len(r['checks'])} |")
    for r in results:
        actions = ", ".join(f"{a} {k}" for a, k in sorted(r["by_action"].items()))
        lines.append(f"\n{r['scenario']}: {actions or 'no call'}. The emulator was busy "
                     f"{r['busy']:.2f} s; it answered {r['cached']} reads from its cache of unchanged state.")
        if r["p99"] > TIME_GOAL * r["allowed"]:
            lines.append(f"\nSLOWER THAN THE GOAL: {r['scenario']}: p99 {r['p99']:.2f} s > "
                         f"{TIME_GOAL} x {r['allowed']:.2f} s")
    for r in results:
        for name, ok in r["checks"]:
            if not ok:
                lines.append(f"\nFAILED: {r['scenario']}: {name} {r['failed']}")
    text = "\n".join(lines) + "\n"
    with open(out_path, "w") as f:
        f.write(text)
    print(text)
    if os.environ.get("FLEET_CHART", "1") == "1":
        chart(results, os.path.splitext(out_path)[0] + ".png")
    if any(not ok for r in results for _, ok in r["checks"]):
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench/FLEET.md")
