"""moto's server, serialised, with reads answered once per state.
"""

import io
import json
import os
import signal
import threading
import time
import urllib.parse

from moto import settings
from moto.iam.access_control import IAMRequestBase
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from . import fault_proxy
from . import iam_access
from . import namespaces
from . import state


class QuietMotoHandler(MotoRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


# The body of the request moto is serving, as its client signed it.
SIGNED_BODY = [None]


_orig_create_aws_request = IAMRequestBase._create_aws_request


def create_aws_request_over_signed_bytes(self):
    # moto checks a form body's signature over its own re-encoding of the
    # parsed form ('+' for a space, where the Rust SDK sends %20): any tag
    # value with a space would fail AuthFailure. Hash the bytes sent.
    request = _orig_create_aws_request(self)
    if SIGNED_BODY[0]:
        request.data = SIGNED_BODY[0]
    return request


IAMRequestBase._create_aws_request = create_aws_request_over_signed_bytes


# moto's answers to reads whose answer depends on nothing but moto's state
# (Auto Scaling Describe* and EC2's DescribeInstances), by request body,
# while nothing has changed since. moto serialises a group of a few hundred
# instances in a good part of a second, and one instance in a few
# milliseconds: a whole fleet reading its group and its peers at boot
# measured moto instead of the job (300 etcd instances asking for their
# cluster took 11 s of moto's time, one at a time, and timed out behind
# it). A rig control request forgets them all, and so does any request
# that is not a read — but EC2's volume and interface calls forget only
# EC2's answers: a group's description changes with its instances' lives
# (moto's Auto Scaling hears of EC2's terminations), not with their disks,
# and 300 smilodon-attach instances attaching while they read their group
# otherwise made moto write out the whole group for each of them.
# DescribeVolumes and DescribeNetworkInterfaces are kept only while the
# rig's creation and attachment phases take no time: with a delay, a
# status changes with time alone.
STATE_READS = {}  # body -> (service, status, headers, answer)


INSTANCE_LIVES = {"RunInstances", "TerminateInstances", "StopInstances", "StartInstances",
                  "RebootInstances"}


# Requests answered from STATE_READS since the calls were last cleared.
STATE_READ_HITS = [0]


# Seconds moto spent serving requests, one at a time, the hypervisor's work
# for them included (attaching a volume makes a loop device, an ENI a tap):
# the emulator's own floor under any fleet's completion time (make fleet).
BUSY = [0.0]


def forget_state_reads():
    with state.LOCK:
        STATE_READS.clear()


def serialised(app):
    enforce_key = "HTTP_" + iam_access.ENFORCE_HEADER.upper().replace("-", "_")

    def wrapped(environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        request = what(environ, body)
        # A kept answer needs no turn behind moto's lock: a fleet's group
        # reads must not wait for its slow volume and interface reads.
        kept = STATE_READS.get(body) if request["reads_state"] else None
        if kept is not None:
            return answer_kept(kept, start_response)
        with state.LOCK:
            began = time.perf_counter()
            try:
                return serve(environ, start_response, body, request)
            finally:
                BUSY[0] += time.perf_counter() - began

    def what(environ, body):
        enforce = bool(environ.get(enforce_key))
        action = (urllib.parse.parse_qs(body.decode(errors="replace")).get("Action") or [""])[0]
        scope = environ.get("HTTP_AUTHORIZATION", "")
        ec2 = "/ec2/" in scope
        reads_state = not enforce and (
            ("/autoscaling/" in scope and action.startswith("Describe"))
            or (ec2 and action == "DescribeInstances")
            or (ec2 and action in ("DescribeVolumes", "DescribeNetworkInterfaces")
                and state.CONFIG["attach_delay"] == 0 and state.CONFIG["create_delay"] == 0))
        return {"enforce": enforce, "action": action, "ec2": ec2, "reads_state": reads_state}

    def answer_kept(kept, start_response):
        STATE_READ_HITS[0] += 1
        _, status, headers, answer = kept
        start_response(status, headers)
        return answer

    def serve(environ, start_response, body, request):
        # moto reads this setting per request; requests are serialised.
        enforce, action, ec2 = request["enforce"], request["action"], request["ec2"]
        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0 if enforce else float("inf")
        if enforce:
            SIGNED_BODY[0] = body
        if not action.startswith(("Describe", "List", "Get")):
            if ec2 and action not in INSTANCE_LIVES:
                for key in [k for k, v in STATE_READS.items() if v[0] == "ec2"]:
                    del STATE_READS[key]
            else:
                STATE_READS.clear()
        if request["reads_state"] and body in STATE_READS:
            return answer_kept(STATE_READS[body], start_response)
        seen = []

        def keep_start(status, headers, *rest):
            seen.append((status, list(headers)))
            return start_response(status, headers, *rest)

        try:
            answer = list(app(environ, keep_start))
            if request["reads_state"] and seen and seen[0][0].startswith("200"):
                STATE_READS[body] = ("ec2" if ec2 else "autoscaling", *seen[0], answer)
            return answer
        finally:
            settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")
            SIGNED_BODY[0] = None

    return wrapped


def shutdown(*_):
    with state.LOCK:
        for sim in state.INSTANCES.values():
            sim.unplug_all()
            sim.remove_netns()
    os._exit(0)


def die_with_parent():
    # The rig must not outlive the test that started it.
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def main():
    die_with_parent()
    os.makedirs(state.VOLUME_DIR, exist_ok=True)
    app = serialised(DomainDispatcherApplication(create_backend_app))
    moto = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietMotoHandler)
    state.MOTO_PORT = moto.server_address[1]
    threading.Thread(target=moto.serve_forever, daemon=True).start()
    proxy = namespaces.Server(("127.0.0.1", 0), fault_proxy.ProxyHandler)
    proxy.daemon_threads = True
    state.PROXY_PORT = proxy.server_address[1]
    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    print(json.dumps({"proxy": proxy.server_address[1], "moto": state.MOTO_PORT}), flush=True)
    proxy.serve_forever()


if __name__ == "__main__":
    main()
