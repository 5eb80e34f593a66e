"""Shared state of the rig process: constants, the lock, the instances.
"""

import os
import subprocess
import sys
import threading

from moto.ec2.models import ec2_backends



ACCOUNT = "123456789012"


REGION = "us-east-1"


ROLE = "mooring-test-role"


RIG_DIR = os.path.abspath(sys.argv[1])


VOLUME_DIR = os.path.join(RIG_DIR, "volumes")


NETNS_PREFIX = os.path.basename(RIG_DIR) + "-"


GIB = 1024**3


# One lock serialises every request to moto and every hypervisor action, as
# EC2 would present one consistent state.
LOCK = threading.RLock()


# Global knobs, set through /_rig/config.
# address_delay: seconds after an ENI's interface appears until its private
# address is on it, as amazon-ec2-net-utils (or a DHCP client) puts it
# there; None: nothing on the instance ever does.
CONFIG = {"attach_delay": 0.0, "create_delay": 0.0, "modify_cooldown": 21600.0,
          "address_delay": 0.0}


# instance id -> SimInstance
INSTANCES = {}


# The rig's two ports, known once main() serves them.
MOTO_PORT = None


PROXY_PORT = None


def backend():
    return ec2_backends[ACCOUNT][REGION]


def log(msg):
    print(f"rig: {msg}", file=sys.stderr, flush=True)


def run(*argv):
    out = subprocess.run(argv, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {out.stderr.strip()}")
    return out.stdout.strip()
