"""The fault proxy: counts every EC2 call a tool makes and injects faults.

The fault proxy: counts every EC2 call a tool makes and injects faults.
"""

import http.client
import http.server
import json
import os
import secrets
import signal
import socket
import threading
import time
import traceback
import urllib.parse

from . import control_api
from . import iam_access
from . import moto_server
from . import state


CALLS = []


# Requests reach moto one at a time, in the order they win this lock; one
# whose caller has gone by its turn is not served (its fault reads
# "abandoned"). moto serves a request in milliseconds to a tenth of a
# second, EC2 in far less: when a fleet queues behind moto past the SDK's
# attempt timeout, serving the abandoned attempts beside their retries
# only made the queue longer (smilodon-attach at 300 instances).
MOTO_TURN = threading.Lock()


RULES = []  # dicts: match, skip, times, fault, pid, seen


def ec2_error(status, code, message):
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
        f"<RequestID>{secrets.token_hex(8)}</RequestID></Response>"
    )
    return status, body.encode()


def access_key_of(instance_id):
    """Each simulated instance's credentials carry a key of its own (moto
    accepts any key unless IAM is enforced), so that the proxy can tell
    which instance made each call."""
    return "AKIA" + instance_id.replace("-", "").upper()


def s3_action(method, path, headers):
    """The S3 operation of a path-style REST request (/bucket[/key][?query])."""
    url = urllib.parse.urlsplit(path)
    query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
    has_key = len(url.path.strip("/").split("/", 1)) == 2
    if method == "GET":
        if has_key:
            return "GetObject"
        if "uploads" in query:
            return "ListMultipartUploads"
        return "ListObjectsV2" if "list-type" in query else "ListObjects"
    if method == "HEAD":
        return "HeadObject" if has_key else "HeadBucket"
    if method == "PUT":
        if "uploadId" in query:
            return "UploadPart"
        if not has_key:
            return "CreateBucket"
        return "CopyObject" if headers.get("x-amz-copy-source") else "PutObject"
    if method == "POST":
        if "uploads" in query:
            return "CreateMultipartUpload"
        if "uploadId" in query:
            return "CompleteMultipartUpload"
        return "DeleteObjects" if "delete" in query else "PostObject"
    if method == "DELETE":
        if "uploadId" in query:
            return "AbortMultipartUpload"
        return "DeleteObject" if has_key else "DeleteBucket"
    return method


def credential_scope(headers):
    """(access key, service) of a signed request's credential scope
    ("Credential=KEY/DATE/REGION/SERVICE/aws4_request"); ("", "?") unsigned."""
    scope = (headers.get("Authorization") or "").partition("Credential=")[2].split("/")
    return scope[0], scope[3] if len(scope) > 3 else "?"


def caller(key):
    """The simulated instance whose credentials carry `key` (see
    access_key_of), or None: the rig's own clients, or a role's shared
    session in IAM mode."""
    if not key.startswith("AKIAI"):
        return None
    instance_id = "i-" + key[len("AKIAI"):].lower()
    return instance_id if instance_id in state.INSTANCES else None


class Bucket:
    """EC2's request throttling: a token bucket of `size` tokens refilled at
    `refill` per second, one token per request. It holds `tokens` at the
    first request and refills from then on, so a test knows the first
    answer whatever the time between setting it up and the first call."""

    def __init__(self, size, refill, tokens=None):
        self.size = float(size)
        self.refill = float(refill)
        self.tokens = self.size if tokens is None else float(tokens)
        self.at = None

    def take(self):
        now = time.monotonic()
        if self.at is not None:
            self.tokens = min(self.size, self.tokens + (now - self.at) * self.refill)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


# family ("describe", "mutate") -> Bucket, set through /_rig/throttle.
BUCKETS = {}


def family(action):
    return "describe" if action.startswith(("Describe", "List", "Get")) else "mutate"


def pick_fault(action):
    # Every rule counts every call it matches; the first rule whose window
    # holds this call decides.
    chosen = None
    for rule in RULES:
        if rule.get("match") and rule["match"] != action:
            continue
        rule["seen"] = rule.get("seen", 0) + 1
        skip = rule.get("skip", 0)
        times = rule.get("times", 1)
        if chosen is None and skip < rule["seen"] <= skip + times:
            rule["fired"] = rule.get("fired", 0) + 1
            chosen = rule
    return chosen


def steal(action, params, thief):
    """A race lost for certain: right before the tool's attach reaches EC2,
    another instance (`thief`) attaches the same volume or ENI."""
    with state.LOCK:
        be = state.backend()
        instance = be.get_instance(thief)
        if action == "AttachVolume":
            used = set(instance.block_device_mapping)
            device = next(f"/dev/sd{c}" for c in "pqrstuvwxyz" if f"/dev/sd{c}" not in used)
            be.attach_volume(params["VolumeId"][0], thief, device)
        elif action == "AttachNetworkInterface":
            index = next(i for i in range(1, 64) if i not in instance.nics)
            be.attach_network_interface(params["NetworkInterfaceId"][0], thief, index)
        else:
            raise ValueError(f"steal: nothing to steal in {action}")


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_raw(self, status, body, headers=()):
        head = [f"HTTP/1.1 {status} {http.client.responses.get(status, '')}",
                f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in headers]
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def do_HEAD(self):
        self.handle_any("HEAD")

    def handle_any(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/_rig/"):
            return self.control(method, body)
        key, service = credential_scope(self.headers)
        if service == "s3":
            # REST: the action is in the method, path and query; the body
            # is an object's bytes.
            params = {"_path": [self.path]}
            action = s3_action(method, self.path, self.headers)
        else:
            params = urllib.parse.parse_qs(body.decode(errors="replace"))
            if os.environ.get("RIG_TRACE"):  # RIG_TRACE=1: log every request body
                state.log(body.decode(errors="replace"))
            action = (params.get("Action") or [None])[0]
        if action is None:
            # JSON protocols (ECS) name the action in X-Amz-Target.
            target = self.headers.get("X-Amz-Target") or "?"
            action = target.rsplit(".", 1)[-1]
        with state.LOCK:
            rule = pick_fault(action)
            fault = rule["fault"] if rule else None
            bucket = BUCKETS.get(family(action)) if service == "ec2" else None
            if fault is None and bucket is not None and not bucket.take():
                fault = "throttle"
            call = {"action": action, "service": service, "fault": fault, "instance": caller(key),
                    "at": round(time.monotonic(), 3)}
            CALLS.append(call)
        if fault == "throttle":
            return self.send_raw(*ec2_error(503, "RequestLimitExceeded", "Request limit exceeded."))
        if fault == "error500":
            return self.send_raw(*ec2_error(500, "InternalError", "An internal error has occurred"))
        if fault == "drop":
            return self.drop()
        if fault == "kill_before":
            os.kill(rule["pid"], signal.SIGKILL)
            return self.drop()
        if fault == "steal":
            steal(action, params, rule["instance_id"])
        refused = iam_access.policy_refusal(service, action, params)
        if refused:
            return self.send_raw(*refused)
        if service != "s3" and fault is None and moto_server.STATE_READS.get(body) is not None:
            # Answered from what was kept, without moto (see serialised).
            status, headers, resp = self.forward(method, body)
            return self.send_raw(status, resp, headers)
        with MOTO_TURN:
            if fault is None and self.client_gone():
                # Its caller timed out while it queued behind moto.
                call["fault"] = "abandoned"
                return
            status, headers, resp = self.forward(method, body)
        if fault == "drop_after":
            return self.drop()
        if fault == "kill_after":
            os.kill(rule["pid"], signal.SIGKILL)
            return self.drop()
        if method == "HEAD":
            return self.send_head(status, headers)
        self.send_raw(status, resp, headers)

    def send_head(self, status, headers):
        """A HEAD answer: the object's length, no body."""
        head = [f"HTTP/1.1 {status} {http.client.responses.get(status, '')}"]
        head += [f"{k}: {v}" for k, v in headers]
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode())

    def client_gone(self):
        """The caller closed its connection (its attempt timed out)."""
        try:
            self.connection.setblocking(False)
            try:
                return self.connection.recv(1, socket.MSG_PEEK) == b""
            except BlockingIOError:
                return False
            finally:
                self.connection.setblocking(True)
        except OSError:
            return True

    def forward(self, method, body):
        conn = http.client.HTTPConnection("127.0.0.1", state.MOTO_PORT, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
        if iam_access.IAM_SESSION:
            # Not a signed header: the signature stays the tool's.
            headers[iam_access.ENFORCE_HEADER] = "1"
        conn.request(method, self.path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        # A HEAD answer keeps the length of what it describes.
        dropped = ("connection", "transfer-encoding") + (() if method == "HEAD" else ("content-length",))
        keep = [(k, v) for k, v in r.getheaders() if k.lower() not in dropped]
        conn.close()
        return r.status, keep, data

    def control(self, method, body):
        try:
            req = json.loads(body) if body else {}
            # A control request may change moto's state behind its API;
            # reading the calls does not.
            if self.path != "/_rig/calls":
                moto_server.forget_state_reads()
            # Handlers take LOCK themselves: some call moto over HTTP, whose
            # requests take LOCK in another thread.
            result = control_api.CONTROL[self.path](req)
            self.send_raw(200, json.dumps(result).encode(), [("Content-Type", "application/json")])
        except Exception as e:
            traceback.print_exc()
            self.send_raw(500, json.dumps({"error": f"{type(e).__name__}: {e}"}).encode())
