#!/usr/bin/env python3
"""The declared rust-version holds for the locked dependency tree.

Only one toolchain can be had on the machines that build Mooring, so the
minimum supported Rust version cannot be proven by building with it. What
can be checked, and is here:

1. every package of the workspace declares the same rust-version;
2. no locked dependency declares a newer rust-version than that (cargo
   would refuse to build it with the declared toolchain);
3. clippy's `incompatible_msrv` lint (run by `make lint` with -D warnings)
   refuses std APIs stabilised after the declared version.

Exits 1 naming each offender.
"""

import json
import subprocess
import sys


def version(text):
    return tuple(int(part) for part in text.split("."))


def main():
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    meta = json.loads(out)
    members = set(meta["workspace_members"])
    declared = {p["name"]: p.get("rust_version") for p in meta["packages"] if p["id"] in members}
    problems = []
    if len(set(declared.values())) != 1 or None in declared.values():
        problems.append(f"workspace packages declare different rust-versions: {declared}")
    msrv = max(version(v) for v in declared.values() if v)
    newest = None
    for p in meta["packages"]:
        rv = p.get("rust_version")
        if p["id"] in members or not rv:
            continue
        if newest is None or version(rv) > version(newest[0]):
            newest = (rv, p["name"], p["version"])
        if version(rv) > msrv:
            problems.append(f"{p['name']} {p['version']} needs Rust {rv}")
    shown = ".".join(map(str, msrv))
    for line in problems:
        print(f"msrv: {line}, above rust-version {shown}", file=sys.stderr)
    if problems:
        return 1
    if newest:
        print(f"msrv: rust-version {shown} covers the locked tree (newest need: {newest[1]} {newest[2]}, Rust {newest[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
