"""Network namespaces of instances, and servers made inside them.

Network namespaces. An instance registered with "netns": true gets one of
its own; the tool under test runs there (nsenter --net) and sees exactly
the interfaces of the ENIs attached to it. The rig's proxy and the
instance's IMDS listen inside it on the same ports as outside, so a tool
there uses the same URLs.
"""

import ctypes
import http.client
import http.server
import os
import sys
import threading

from . import fault_proxy
from . import state


LIBC = ctypes.CDLL("libc.so.6", use_errno=True)


CLONE_NEWNET = 0x40000000


def create_in_netns(netns, make):
    """Call make() on a thread inside `netns`: the sockets it creates belong
    to that namespace. The thread ends there; the threads that serve those
    sockets start from the caller, in the rig's own namespace, so that
    forwarding to moto works."""
    box = {}

    def body():
        fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
        try:
            if LIBC.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns into {netns}")
            box["value"] = make()
        except Exception as e:
            box["error"] = e
        finally:
            os.close(fd)

    t = threading.Thread(target=body)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # A whole group connects at once (make fleet): socketserver's backlog
    # of 5 drops their SYNs, and the SDK's 3 s connect timeout fires.
    request_queue_size = 1024

    def handle_error(self, request, client_address):
        # A tool killed mid-request (the kill tests) resets its connection:
        # expected, not worth a traceback.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


# How often an idle server thread wakes (socketserver polls for its
# shutdown flag, 0.5 s by default; connections are served at once either
# way). Each wake takes the GIL from moto: with hundreds of simulated
# instances' servers, a DescribeInstances took 150 ms of wall time for 10 ms
# of work. The rig never shuts a server down but by exiting.
IDLE_POLL = 60.0


def serve(server):
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(IDLE_POLL,), daemon=True).start()
    return server


def proxy_in_netns(netns):
    serve(create_in_netns(
        netns, lambda: Server(("127.0.0.1", state.PROXY_PORT), fault_proxy.ProxyHandler)))
