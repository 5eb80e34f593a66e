"""Drive the test rig from Python scripts (make demo, make bench): start the
launcher, make simulated instances, run tools as those instances, and clean
up everything on exit (mounts, loop devices, processes, directories).

Uses only the standard library: the launcher itself runs in moto's venv."""

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


class Rig:
    def __init__(self, python):
        self.dir = tempfile.mkdtemp(prefix="mooring-rig-", dir="/var/tmp")
        self.proc = subprocess.Popen(
            [python, os.path.join(HERE, "launcher.py"), self.dir],
            stdout=subprocess.PIPE,
        )
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("the rig's launcher did not start")
        ports = json.loads(line)
        self.endpoint = f"http://127.0.0.1:{ports['proxy']}"
        self.mounts = []
        self.dirs = []
        atexit.register(self.close)

    def control(self, path, body=None, timeout=60):
        req = urllib.request.Request(
            self.endpoint + path,
            data=json.dumps(body or {}).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.load(r)

    def instance(self, **spec):
        return self.control("/_rig/instances", spec)

    def calls(self, clear=True):
        return [c["action"] for c in self.control("/_rig/calls", {"clear": clear})["calls"]]

    def imds(self, inst, clear=True):
        """The paths `inst`'s IMDS was asked since the last clear."""
        return self.control("/_rig/imds", {"instance_id": inst["instance_id"], "clear": clear})["requests"]

    def tool_env(self, inst, base):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_EC2_METADATA_SERVICE_ENDPOINT=inst["imds_url"],
            MOORING_RUN_DIR=os.path.join(base, "run"),
            MOORING_SYS_BLOCK_DIR=inst["sys_block_dir"],
            MOORING_DEV_DIR=inst["dev_dir"],
            MOORING_BY_ID_DIR=inst["by_id_dir"],
        )
        return env

    def close(self):
        for mp in reversed(self.mounts):
            subprocess.run(["umount", "-l", mp], capture_output=True)
        self.mounts.clear()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        volumes = os.path.join(self.dir, "volumes")
        for name in os.listdir(volumes) if os.path.isdir(volumes) else []:
            out = subprocess.run(
                ["losetup", "-n", "-O", "NAME", "-j", os.path.join(volumes, name)],
                capture_output=True, text=True,
            )
            for dev in out.stdout.split():
                subprocess.run(["losetup", "-d", dev], capture_output=True)
        prefix = os.path.basename(self.dir) + "-"
        for name in os.listdir("/run/netns") if os.path.isdir("/run/netns") else []:
            if name.startswith(prefix):
                subprocess.run(["ip", "netns", "del", name], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)


def ebs_grow_scratch(rig, base, inst):
    """ebs-grow configured on simulated instance `inst` for a btrfs mount
    base/scratch, with the small sizes the scripts use (1 GiB volumes): the
    mountpoint and the tool's environment. The mount goes on close."""
    mp = os.path.join(base, "scratch")
    config = os.path.join(base, "ebs-grow.json")
    with open(config, "w") as f:
        json.dump({"mountpoint": mp, "initial_size_gib": 1, "size_ladder_gib": [[0, 1]],
                   "min_free_gib": 0, "fstab": os.path.join(base, "fstab"),
                   "state_dir": os.path.join(base, "state")}, f)
    env = rig.tool_env(inst, base)
    env["EBS_GROW_CONFIG"] = config
    rig.mounts.append(mp)
    return mp, env


def ecs_agent_stand_in(cluster):
    """A stand-in for the ECS agent's introspection API on 127.0.0.1 (the
    agent has registered in `cluster`): its metadata URL, and the server to
    shut down."""
    import http.server
    import threading

    class Agent(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"Cluster": cluster,
                               "ContainerInstanceArn": f"arn:aws:ecs:x:1:container-instance/{cluster}/1"}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    agent = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Agent)
    threading.Thread(target=agent.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{agent.server_address[1]}/v1/metadata", agent


def venv_python():
    python = os.environ.get("MOORING_TEST_PYTHON", "/var/tmp/mooring-venv/bin/python3")
    if not os.path.exists(python):
        sys.exit(f"{python} is missing: run `make deps` first")
    return python
