#!/usr/bin/env python3
"""make demo: ebs-grow end to end on the local stand-ins.

A simulated EC2 instance (moto + its own IMDSv2 + loop devices as its EBS
volumes) gets a btrfs /scratch from `ebs-grow init`; the demo fills it past
the threshold, `ebs-grow check` adds a volume, and usage is printed before
and after. Then an idle check (no AWS call) and a teardown."""

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "rig"))
from rigctl import Rig, ebs_grow_scratch, venv_python  # noqa: E402

# The Makefile's build directory unless told otherwise.
BIN = os.path.join(os.environ.get("CARGO_TARGET_DIR", "/var/tmp/mooring-target"), "debug", "ebs-grow")


def df(path):
    st = os.statvfs(path)
    total = st.f_blocks * st.f_frsize
    avail = st.f_bavail * st.f_frsize
    return f"{(total - avail) / 2**30:.2f} GiB used of {total / 2**30:.2f} GiB ({100 * (total - avail) / total:.0f}%)"


def main():
    if os.geteuid() != 0:
        sys.exit("make demo needs root (loop devices, mounts)")
    rig = Rig(venv_python())
    inst = rig.instance(tags={"Name": "demo"})
    base = tempfile.mkdtemp(prefix="mooring-demo-", dir="/var/tmp")
    mp, env = ebs_grow_scratch(rig, base, inst)

    def ebs_grow(*args):
        print(f"\n$ ebs-grow {' '.join(args)}", flush=True)
        out = subprocess.run([BIN, *args], env=env)
        if out.returncode != 0:
            sys.exit(f"ebs-grow {args[0]} exited {out.returncode}")

    print(f"simulated instance {inst['instance_id']} in {inst['az']} (moto + IMDSv2 + loop devices)")
    rig.dirs.append(base)
    ebs_grow("init")
    print(f"\n/scratch after init: {df(mp)}")
    subprocess.run(["fallocate", "-l", "700M", os.path.join(mp, "data")], check=True)
    print(f"after writing 700 MiB: {df(mp)}")
    rig.calls()
    ebs_grow("check")
    calls = rig.calls()
    print(f"\nafter the check: {df(mp)}  ({len(calls)} EC2 calls: {', '.join(calls)})")
    ebs_grow("check", "--used-percent", "90", "-q")
    print(f"an idle check made {len(rig.calls())} EC2 calls")
    ebs_grow("status")
    ebs_grow("teardown", "--yes", "-q")


if __name__ == "__main__":
    main()
