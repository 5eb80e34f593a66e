"""IMDSv2, one server per simulated instance, fed live from moto's state.

IMDSv2, one server per simulated instance, fed live from moto's state.
"""

import datetime
import http.client
import http.server
import json
import secrets
import threading
import time
import traceback
import urllib.parse

from . import fault_proxy
from . import iam_access
from . import lifecycle
from . import namespaces
from . import state


class ImdsHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sim = None  # set per server class

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=None):
        if isinstance(body, str):
            body = body.encode()
        head = [f"HTTP/1.1 {status} {http.client.responses.get(status, '')}"]
        head.append(f"Content-Length: {len(body)}")
        head.append("Content-Type: text/plain")
        for k, v in (headers or {}).items():
            head.append(f"{k}: {v}")
        # One write for headers and body: a split response stalls the Rust
        # client's reused connection (shared/test-rig.md).
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)

    def do_PUT(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.sim_imds.asked(self.path)
        if self.path != "/latest/api/token":
            return self.reply(404)
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        if ttl is None or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return self.reply(400)
        token = secrets.token_urlsafe(24)
        self.server.tokens[token] = time.monotonic() + int(ttl)
        self.reply(200, token, {"X-aws-ec2-metadata-token-ttl-seconds": ttl})

    def do_GET(self):
        self.server.sim_imds.asked(self.path)
        token = self.headers.get("X-aws-ec2-metadata-token")
        expiry = self.server.tokens.get(token)
        if expiry is None or expiry < time.monotonic():
            return self.reply(401)
        # Not under LOCK: the instance's metadata must not wait behind
        # moto, which serves one request at a time (a DescribeVolumes takes
        # a good part of a second with hundreds of instances), while EC2
        # gives each instance an IMDS of its own. Reading moto's objects
        # while a request changes them can only fail as "changed during
        # iteration" (the GIL keeps each step whole): read again.
        for attempt in range(5):
            try:
                body = self.server.sim_imds.lookup(self.path)
                break
            except RuntimeError:
                if attempt == 4:
                    traceback.print_exc()
                    return self.reply(500)
            except Exception:
                traceback.print_exc()
                return self.reply(500)
        if body is None:
            return self.reply(404)
        self.reply(200, body)


class SimImds:
    def __init__(self, sim):
        self.sim = sim
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ImdsHandler)
        self.server.daemon_threads = True
        self.server.tokens = {}
        self.server.sim_imds = self
        # Every request's path, in order (tests count what a run asks), and
        # slow answers: {"path": prefix, "seconds": S, "times": N} delays
        # the next N requests for paths under prefix by S seconds.
        self.requests = []
        self.delays = []
        self.lock = threading.Lock()
        threading.Thread(target=self.server.serve_forever, args=(namespaces.IDLE_POLL,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def serve_in_netns(self, netns):
        port = self.server.server_address[1]
        server = namespaces.create_in_netns(
            netns, lambda: http.server.ThreadingHTTPServer(("127.0.0.1", port), ImdsHandler))
        server.tokens = self.server.tokens
        server.sim_imds = self
        namespaces.serve(server)

    def asked(self, path):
        with self.lock:
            self.requests.append(path)
            delay = next((d for d in self.delays if d["times"] > 0 and path.startswith(d["path"])), None)
            if delay:
                delay["times"] -= 1
        if delay:
            time.sleep(delay["seconds"])

    def lookup(self, path):
        # moto's get_instance scans every reservation; the object is the
        # same for the instance's life.
        inst = self.sim.moto_instance or state.backend().get_instance(self.sim.id)
        self.sim.moto_instance = inst
        tags = {t["key"]: t["value"] for t in inst.get_tags()}
        nics = sorted(inst.nics.items())
        primary = nics[0][1] if nics else None
        macs = {eni.mac_address: (idx, eni) for idx, eni in nics}
        md = "/latest/meta-data/"
        if path == "/latest/dynamic/instance-identity/document":
            return json.dumps(
                {
                    "accountId": state.ACCOUNT,
                    "architecture": "x86_64",
                    "availabilityZone": inst.placement.zone,
                    "imageId": inst.image_id,
                    "instanceId": inst.id,
                    "instanceType": inst.instance_type,
                    "privateIp": inst.private_ip,
                    "region": state.REGION,
                    "version": "2017-09-30",
                }
            )
        if path == "/latest/user-data":
            return self.sim.user_data
        if not path.startswith(md):
            return None
        rel = path[len(md):]
        simple = {
            "instance-id": inst.id,
            "instance-type": inst.instance_type,
            "ami-id": inst.image_id,
            "local-ipv4": inst.private_ip,
            "mac": primary.mac_address if primary else None,
            "placement/availability-zone": inst.placement.zone,
            "placement/region": state.REGION,
            "iam/security-credentials/": state.ROLE,
            "iam/security-credentials": state.ROLE,
            "network/interfaces/macs/": "\n".join(m + "/" for m in macs),
            "network/interfaces/macs": "\n".join(m + "/" for m in macs),
        }
        if rel in simple:
            return simple[rel]
        if rel == f"iam/security-credentials/{state.ROLE}":
            expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=6)
            creds = iam_access.IAM_SESSION or {
                "AccessKeyId": fault_proxy.access_key_of(self.sim.id),
                "SecretAccessKey": "mooring-test-secret",
                "SessionToken": "mooring-test-session-token",
            }
            return json.dumps(
                {
                    "Code": "Success",
                    "LastUpdated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "Type": "AWS-HMAC",
                    "AccessKeyId": creds["AccessKeyId"],
                    "SecretAccessKey": creds["SecretAccessKey"],
                    "Token": creds["SessionToken"],
                    "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            )
        if rel == "autoscaling/target-lifecycle-state":
            return lifecycle.target_state(inst.id)
        if rel.startswith("tags/instance"):
            if not self.sim.metadata_tags:
                return None
            key = rel[len("tags/instance"):].lstrip("/")
            if not key:
                return "\n".join(sorted(tags))
            return tags.get(urllib.parse.unquote(key))
        if rel.startswith("network/interfaces/macs/"):
            parts = rel[len("network/interfaces/macs/"):].split("/", 1)
            if parts[0] not in macs or len(parts) < 2:
                return None
            idx, eni = macs[parts[0]]
            fields = {
                "device-number": str(idx),
                "interface-id": eni.id,
                "local-ipv4s": eni.private_ip_address,
                "mac": eni.mac_address,
                "subnet-id": eni.subnet.id,
                "vpc-id": eni.subnet.vpc_id,
            }
            return fields.get(parts[1])
        return None
