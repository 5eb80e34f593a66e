#!/usr/bin/env python3
"""make fleet: a whole Auto Scaling group boots at once against an EC2 that
throttles like the real one (the rig's token buckets per API family), and
every instance runs its tool at the same moment. Per scenario: completion
time p50/p99/max, EC2 calls in all and per instance, throttled answers,
the invariants, and the ideal it is measured against. Written as a
markdown table (bench/FLEET.md).

Scenarios so far: px-volume-claim (three templates and max-counts over
one group). FLEET_N instances (default 100).

The ideal: the fewest EC2 calls the job needs (one DescribeVolumes per
instance, a CreateVolume and an AttachVolume per volume made), and the
time EC2's buckets allow for them (calls beyond a bucket's size at its
refill rate), but never less than one instance alone takes nor than the
emulator (one request at a time) takes to serve the minimum."""

import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "rig"))
from rigctl import Rig, venv_python  # noqa: E402

TARGET = os.environ.get("CARGO_TARGET_DIR", "target")
# What the packages ship: the one program, run as the tool.
MOORING = os.path.join(TARGET, "release", "mooring")
PX_CLAIM = [MOORING, "px-volume-claim"]

# EC2's published request-rate limits (bucket size, refill per second).
BUCKETS = {"describe": {"size": 100, "refill": 20}, "mutate": {"size": 50, "refill": 5}}


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def allowed_seconds(describes, mutations):
    """How long EC2's buckets take to serve these calls at best."""
    over = lambda n, b: max(0, n - b["size"]) / b["refill"]  # noqa: E731
    return max(over(describes, BUCKETS["describe"]), over(mutations, BUCKETS["mutate"]))


# Instances of a group do not boot in the same millisecond: EC2 launches
# them over seconds. The fleet starts one every START_STEP seconds (9 s for
# 300), which also keeps the rig's IMDS — one Python process serving every
# simulated instance at about 2 ms a request, where EC2 gives each its own
# — inside the SDK's 2 s metadata timeout.
START_STEP = float(os.environ.get("FLEET_START_STEP", "0.03"))


def run_all(runs, base):
    """Start every (argv, env), one every START_STEP seconds; each one's
    (seconds from the common start to its exit, exit code, last line of
    its log), reaped in exit order so that each time is its own."""
    start = time.perf_counter()
    procs = {}
    # The Popen objects are kept: one dropped while its process runs is
    # reaped by the next Popen's clean-up, and os.wait would never see it.
    popens = []
    for i, (argv, env) in enumerate(runs):
        time.sleep(max(0.0, start + i * START_STEP - time.perf_counter()))
        log = open(os.path.join(base, f"log-{i}"), "w+")
        popens.append(subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=log))
        procs[popens[-1].pid] = (i, log)
    out = [None] * len(runs)
    while procs:
        pid, status = os.wait()
        if pid not in procs:
            continue
        i, log = procs.pop(pid)
        log.seek(0)
        last = (log.read().strip().splitlines() or [""])[-1]
        out[i] = (time.perf_counter() - start, os.waitstatus_to_exitcode(status), last)
    return out


def solo_seconds(rig, base):
    """One instance alone, unthrottled: the floor of any completion time."""
    template = rig.control("/_rig/volume", {})["volume_id"]
    inst = rig.instance()
    d = os.path.join(base, "solo")
    os.makedirs(d)
    argv = [*PX_CLAIM, "-q", "--cluster-id", "solo", "--template", f"{template}:1",
            "--env-file", os.path.join(d, "px.env")]
    start = time.perf_counter()
    subprocess.run(argv, env=rig.tool_env(inst, d), check=True, capture_output=True)
    return time.perf_counter() - start


def emulator_seconds_per_call(rig, calls=20):
    """moto serves one request at a time: its time per DescribeVolumes by
    the cluster's tag (the look every instance makes) with this state,
    through the proxy (not throttled, cleared afterwards)."""
    import urllib.request
    body = (b"Action=DescribeVolumes&Version=2016-11-15&Filter.1.Name=tag%3APWX_CLUSTER_ID"
            b"&Filter.1.Value.1=fleet")
    start = time.perf_counter()
    for _ in range(calls):
        req = urllib.request.Request(
            rig.endpoint + "/", data=body, method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                     "Authorization": "AWS4-HMAC-SHA256 Credential=rig/20260101/us-east-1/ec2/aws4_request, "
                                      "SignedHeaders=host, Signature=0"})
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()
    return (time.perf_counter() - start) / calls


def px_scenario(rig, n, base):
    templates = [(rig.control("/_rig/volume", {})["volume_id"], max(1, n // k)) for k in (15, 30, 60)]
    insts = rig.control("/_rig/asg", {"name": "px-fleet", "size": n})
    solo = solo_seconds(rig, base)
    per_call = emulator_seconds_per_call(rig)
    rig.control("/_rig/calls", {"clear": True})
    rig.control("/_rig/throttle", BUCKETS)
    runs = []
    for inst in insts:
        d = os.path.join(base, inst["instance_id"])
        os.makedirs(d)
        argv = [*PX_CLAIM, "--cluster-id", "fleet", "--env-file", os.path.join(d, "px.env")]
        for t, count in templates:
            argv += ["--template", f"{t}:{count}"]
        runs.append((argv, rig.tool_env(inst, d)))
    results = run_all(runs, base)
    rig.control("/_rig/throttle", {})
    calls = rig.control("/_rig/calls", {"clear": True})["calls"]

    failed = [last for _, code, last in results if code != 0]
    checks = [("every instance exits 0", not failed)]
    made = 0
    for t, count in templates:
        vols = rig.control("/_rig/volumes", {"tags": {"PWX_CLUSTER_ID": "fleet", "PWX_EBS_VOLUME_TEMPLATE": t}})
        made += len(vols)
        holders = [v.get("instance_id") for v in vols]
        checks.append((f"template max-count {count}: exactly {count} volumes", len(vols) == count))
        checks.append((f"template max-count {count}: each held by one instance",
                       all(holders) and len(set(holders)) == len(holders)))
    served = [c for c in calls if c["fault"] != "throttle" and c.get("service") == "ec2"]
    autoscaling = sum(1 for c in calls if c.get("service") == "autoscaling")
    throttled = sum(1 for c in calls if c["fault"] == "throttle")
    by_action = {}
    for c in calls:
        key = c["action"] + (" (throttled)" if c["fault"] == "throttle" else "")
        by_action[key] = by_action.get(key, 0) + 1
    per_instance = {}
    for c in served:
        per_instance[c.get("instance")] = per_instance.get(c.get("instance"), 0) + 1
    minimum = n + 2 * made
    emulator = minimum * per_call
    # The last instance starts (n - 1) steps after the first: nothing can
    # finish before it has started and done its work alone.
    window = (n - 1) * START_STEP
    allowed = max(window + solo, emulator, allowed_seconds(n, 2 * made))
    times = [t for t, _, _ in results]
    return {
        "scenario": f"px-volume-claim: {n} instances, max-counts {'/'.join(str(c) for _, c in templates)}",
        "n": n, "p50": statistics.median(times), "p99": percentile(times, 99), "max": max(times),
        "calls": len(served), "minimum": minimum, "throttled": throttled, "autoscaling": autoscaling, "by_action": by_action,
        "per_instance_max": max(per_instance.values()) if per_instance else 0,
        "allowed": allowed, "solo": solo, "window": window, "emulator": emulator, "checks": checks, "failed": failed[:3],
    }


def main(out_path):
    if not os.path.exists(MOORING):
        sys.exit(f"{MOORING} is missing: run `make package` or `cargo build --release --bin mooring` first")
    n = int(os.environ.get("FLEET_N", "100"))
    rig = Rig(venv_python())
    base = tempfile.mkdtemp(prefix="mooring-fleet-", dir="/var/tmp")
    if os.environ.get("FLEET_KEEP"):  # FLEET_KEEP=1: keep every instance's log
        print(f"logs in {base}", file=sys.stderr)
    else:
        rig.dirs.append(base)
    results = [px_scenario(rig, n, base)]
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
        "serves one request at a time, takes for the minimum (emulator).",
        "",
        "| scenario | p50 s | p99 s | max s | starts over s | solo s | emulator s | allowed s | p99 / allowed | calls | minimum | calls / minimum | "
        "most by one instance | throttled | Auto Scaling calls | invariants |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        passed = sum(ok for _, ok in r["checks"])
        lines.append(
            f"| {r['scenario']} | {r['p50']:.2f} | {r['p99']:.2f} | {r['max']:.2f} | {r['window']:.2f} | {r['solo']:.2f} | "
            f"{r['emulator']:.2f} | {r['allowed']:.2f} | "
            f"{r['p99'] / r['allowed']:.2f} | {r['calls']} | {r['minimum']} | {r['calls'] / r['minimum']:.2f} | "
            f"{r['per_instance_max']} | {r['throttled']} | {r['autoscaling']} | {passed}/{len(r['checks'])} |")
    for r in results:
        actions = ", ".join(f"{a} {n}" for a, n in sorted(r["by_action"].items()))
        lines.append(f"\n{r['scenario']}: {actions}.")
    for r in results:
        for name, ok in r["checks"]:
            if not ok:
                lines.append(f"\nFAILED: {r['scenario']}: {name} {r['failed']}")
    text = "\n".join(lines) + "\n"
    with open(out_path, "w") as f:
        f.write(text)
    print(text)
    if any(not ok for r in results for _, ok in r["checks"]):
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench/FLEET.md")
