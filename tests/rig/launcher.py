"""The test rig's AWS side: moto server with EC2's rules that moto lacks, a
hypervisor that backs attached volumes with loop devices (and, for instances
with a network namespace of their own, attached ENIs with interfaces), one
IMDSv2 server per simulated instance, and a fault-injecting proxy in front of
it all.

Started by tests/rig/src/lib.rs with `python launcher.py RIG_DIR`; prints one JSON
line {"proxy": PORT, "moto": PORT} on stdout once it serves. Tools talk to the
proxy (AWS_ENDPOINT_URL); tests set up and check state through moto's own port
(not counted, never faulted) and drive the rig through /_rig/... on the proxy.

Everything the hypervisor creates lives under RIG_DIR, and every loop device
it attaches is backed by a file in RIG_DIR/volumes, so the Rust side can find
and detach leftovers with `losetup -j` even if this process is SIGKILLed.
Network namespaces are named after RIG_DIR (NETNS_PREFIX), for the same
reason.

This file is the wiring; each concern is a module of the sim package:
state (constants, the lock, the instances), ec2_rules (EC2's rules moto
lacks), lifecycle (Auto Scaling's termination hooks), hypervisor (loop
devices, interfaces), qemu (VMs over QMP),
namespaces, metadata (IMDS), iam_access, fault_proxy, control_api (/_rig/...)
and moto_server (moto's server and main).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# Imported in this order: a module's top level may use the ones before it
# (control_api's table names qemu's and iam_access's handlers). ec2_rules and
# server patch moto when imported.
from sim import state, ec2_rules, lifecycle, hypervisor, qemu, namespaces, metadata, iam_access, fault_proxy, moto_server, control_api  # noqa: E402,F401

if __name__ == "__main__":
    moto_server.main()
