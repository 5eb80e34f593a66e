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
"""

import ctypes
import datetime
import fnmatch
import http.client
import http.server
import io
import json
import os
import queue
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse

import boto3
from moto import settings
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import ec2_backends
from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix
from moto.ec2.models.elastic_block_store import EBSBackend, Volume, VolumeAttachment
from moto.ec2.models.elastic_network_interfaces import NetworkInterfaceBackend
from moto.ec2.responses.elastic_block_store import ElasticBlockStore
from moto.ec2.responses.elastic_network_interfaces import ElasticNetworkInterfaces
from moto.iam.access_control import IAMRequestBase
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

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
CONFIG = {"attach_delay": 0.0, "create_delay": 0.0, "modify_cooldown": 21600.0}

# instance id -> SimInstance
INSTANCES = {}


def backend():
    return ec2_backends[ACCOUNT][REGION]


def log(msg):
    print(f"rig: {msg}", file=sys.stderr, flush=True)


def run(*argv):
    out = subprocess.run(argv, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {out.stderr.strip()}")
    return out.stdout.strip()


# ---------------------------------------------------------------------------
# EC2's rules that moto lacks.


class RigEC2Error(EC2ClientError):
    def __init__(self, code, message):
        super().__init__(code, message)


_orig_attach_volume = EBSBackend.attach_volume
_orig_detach_volume = EBSBackend.detach_volume
_orig_modify_volume = EBSBackend.modify_volume
_orig_delete_volume = EBSBackend.delete_volume
_orig_create_volume = EBSBackend.create_volume
_orig_attach_eni = NetworkInterfaceBackend.attach_network_interface
_orig_detach_eni = NetworkInterfaceBackend.detach_network_interface


def check_attachment_limit(instance):
    # Volumes and interfaces share the instance's attachment slots (Nitro).
    sim = INSTANCES.get(instance.id)
    limit = sim.attachment_limit if sim else 28
    if len(instance.block_device_mapping) + len(instance.nics) >= limit:
        raise RigEC2Error(
            "AttachmentLimitExceeded",
            f"Instance {instance.id} has reached its attachment limit of {limit}",
        )


def attach_volume(self, volume_id, instance_id, device_path, delete_on_termination=False):
    volume = self.get_volume(volume_id)
    instance = self.get_instance(instance_id)
    if volume.status == "creating":
        raise RigEC2Error("IncorrectState", f"vol '{volume_id}' is not 'available'.")
    if volume.attachment is not None:
        raise RigEC2Error(
            "VolumeInUse", f"{volume_id} is already attached to an instance"
        )
    if volume.zone.name != instance.placement.zone:
        raise RigEC2Error(
            "InvalidVolume.ZoneMismatch",
            f"The volume '{volume_id}' is not in the same availability zone as instance '{instance_id}'",
        )
    if device_path in instance.block_device_mapping:
        raise RigEC2Error(
            "InvalidParameterValue",
            f"Invalid value '{device_path}' for unixDevice. Attachment point {device_path} is already in use",
        )
    check_attachment_limit(instance)
    att = _orig_attach_volume(self, volume_id, instance_id, device_path, delete_on_termination)
    sim = INSTANCES.get(instance_id)
    att.ready_at = time.monotonic() + CONFIG["attach_delay"]
    if sim is not None:
        sim.plug_volume(volume, device_path, CONFIG["attach_delay"])
    return att


def detach_volume(self, volume_id, instance_id, device_path):
    volume = self.get_volume(volume_id)
    if not instance_id and volume.attachment is not None:
        # EC2 accepts DetachVolume without InstanceId; moto answers 500.
        instance_id = volume.attachment.instance.id
    sim = INSTANCES.get(instance_id)
    if sim is not None:
        sim.unplug_volume(volume_id)
    return _orig_detach_volume(self, volume_id, instance_id, device_path)


def modify_volume(self, volume_id, target_size=None, *args, **kwargs):
    volume = self.get_volume(volume_id)
    last = getattr(volume, "last_modified", None)
    if last is not None and time.monotonic() - last < CONFIG["modify_cooldown"]:
        # EC2 allows one modification per volume every six hours.
        raise RigEC2Error(
            "VolumeModificationRateExceeded",
            "You've reached the maximum modification rate per volume limit. "
            "Wait at least 6 hours between modifications per EBS volume.",
        )
    volume.last_modified = time.monotonic()
    if target_size is not None and int(target_size) < volume.size:
        raise RigEC2Error(
            "InvalidParameterValue",
            f"New size cannot be smaller than existing size {volume.size}",
        )
    result = _orig_modify_volume(self, volume_id, target_size, *args, **kwargs)
    if target_size is not None:
        grow_backing_file(volume)
    return result


def delete_volume(self, volume_id):
    result = _orig_delete_volume(self, volume_id)
    path = backing_file(volume_id)
    if os.path.exists(path):
        os.unlink(path)
    return result


def create_volume(self, *args, **kwargs):
    volume = _orig_create_volume(self, *args, **kwargs)
    volume.ready_at = time.monotonic() + CONFIG["create_delay"]
    return volume


def attach_eni(self, eni_id, instance_id, device_index):
    eni = self.get_network_interface(eni_id)
    instance = self.get_instance(instance_id)
    if eni.instance is not None:
        raise RigEC2Error(
            "InvalidNetworkInterface.InUse",
            f"Interface: [{eni_id}] in use.",
        )
    if eni.subnet.availability_zone != instance.placement.zone:
        raise RigEC2Error(
            "InvalidParameterCombination",
            f"The network interface {eni_id} and instance {instance_id} are not in the same availability zone",
        )
    if int(device_index) in instance.nics:
        raise RigEC2Error(
            "InvalidParameterValue",
            f"Instance '{instance_id}' already has an interface attached at device index '{device_index}'.",
        )
    check_attachment_limit(instance)
    att = _orig_attach_eni(self, eni_id, instance_id, device_index)
    sim = INSTANCES.get(instance_id)
    if sim is not None:
        sim.plug_interface(eni, int(device_index), CONFIG["attach_delay"])
    return att


def detach_eni(self, attachment_id):
    for eni in self.enis.values():
        if eni.attachment_id == attachment_id and eni.instance is not None:
            sim = INSTANCES.get(eni.instance.id)
            if sim is not None:
                sim.unplug_interface(eni.id)
    return _orig_detach_eni(self, attachment_id)


def volume_attachment_delete_on_termination(self):
    # EC2 reports DeleteOnTermination in DescribeVolumes' attachments; moto
    # keeps it only in the instance's block device mapping.
    bdm = self.instance.block_device_mapping.get(self.device)
    return bool(bdm and bdm.delete_on_termination)


_orig_modify_eni_attribute_response = ElasticNetworkInterfaces.modify_network_interface_attribute


def modify_eni_attribute_response(self):
    # moto ignores Attachment.DeleteOnTermination; EC2 sets it.
    attachment_id = self._get_param("Attachment.AttachmentId")
    if attachment_id:
        eni = self.ec2_backend.get_network_interface(self._get_param("NetworkInterfaceId"))
        if eni.attachment_id != attachment_id:
            raise RigEC2Error(
                "InvalidAttachmentID.NotFound",
                f"The attachment ID '{attachment_id}' does not exist",
            )
        eni.delete_on_termination = self._get_param("Attachment.DeleteOnTermination") in (True, "true")
    return _orig_modify_eni_attribute_response(self)


def attachment_status_get(self):
    if self._status == "attached" and time.monotonic() < getattr(self, "ready_at", 0):
        return "attaching"
    return self._status


def attachment_status_set(self, value):
    self._status = value


def volume_status_get(self):
    if time.monotonic() < getattr(self, "ready_at", 0):
        return "creating"
    return "in-use" if self.attachment else "available"


# ClientToken idempotency for CreateVolume: the same token returns the same
# volume, as EC2 does, so a crash-and-retry never makes a second volume.
CLIENT_TOKENS = {}
_orig_create_volume_response = ElasticBlockStore.create_volume


def create_volume_response(self):
    token = self._get_param("ClientToken")
    # EC2 compares the parameters of a repeated token: different ones are
    # IdempotentParameterMismatch, not a second volume.
    params = (self._get_param("AvailabilityZone"), self._get_param("Size"),
              self._get_param("VolumeType"), self._get_param("SnapshotId"))
    if token and token in CLIENT_TOKENS:
        from moto.core.responses import ActionResult

        volume_id, first_params = CLIENT_TOKENS[token]
        if volume_id in self.ec2_backend.volumes:
            if params != first_params:
                raise RigEC2Error(
                    "IdempotentParameterMismatch",
                    "The client token you have provided is associated with a resource "
                    "that is already created with different parameters",
                )
            return ActionResult(self.ec2_backend.volumes[volume_id])
    result = _orig_create_volume_response(self)
    if token:
        CLIENT_TOKENS[token] = (newest_volume_id(self.ec2_backend), params)
    return result


def newest_volume_id(be):
    return max(be.volumes.values(), key=lambda v: v.create_time).id


def tags_of_resource(self):
    # moto finds a resource's tags by scanning every tag of the account
    # (describe_tags with a resource-id filter), once per resource a
    # Describe* call filters by tag: with a few hundred tagged instances a
    # DescribeVolumes took half a second, and the rig's emulator time
    # measured moto, not the job. The same answer, from the tag table's
    # entry for this resource.
    if not self.id:
        return []
    tags = self.ec2_backend.tags.get(self.id)
    if not tags:
        return []
    kind = EC2_PREFIX_TO_RESOURCE.get(get_prefix(self.id), "")
    return [{"resource_id": self.id, "key": k, "value": v, "resource_type": kind}
            for k, v in list(tags.items())]


TaggedEC2Resource.get_tags = tags_of_resource
EBSBackend.attach_volume = attach_volume
EBSBackend.detach_volume = detach_volume
EBSBackend.modify_volume = modify_volume
EBSBackend.delete_volume = delete_volume
EBSBackend.create_volume = create_volume
NetworkInterfaceBackend.attach_network_interface = attach_eni
NetworkInterfaceBackend.detach_network_interface = detach_eni
VolumeAttachment.delete_on_termination = property(volume_attachment_delete_on_termination)
ElasticNetworkInterfaces.modify_network_interface_attribute = modify_eni_attribute_response
VolumeAttachment.status = property(attachment_status_get, attachment_status_set)
Volume.status = property(volume_status_get)
ElasticBlockStore.create_volume = create_volume_response


# ---------------------------------------------------------------------------
# The hypervisor: an attached volume becomes a loop device over a sparse file
# (one file per volume, kept while the volume exists: it is the volume's
# data), named as a Nitro instance's kernel and udev would name it.


def backing_file(volume_id):
    return os.path.join(VOLUME_DIR, f"{volume_id}.img")


def grow_backing_file(volume):
    path = backing_file(volume.id)
    if not os.path.exists(path):
        return
    with open(path, "r+b") as f:
        f.truncate(volume.size * GIB)
    for sim in INSTANCES.values():
        plugged = sim.plugged.get(volume.id)
        if plugged and plugged.get("loop"):
            run("losetup", "-c", plugged["loop"])
        if plugged and plugged.get("vm"):
            sim.vm.resize(plugged["vm"], volume.size * GIB)


class SimInstance:
    def __init__(self, instance_id, naming, metadata_tags, user_data, attachment_limit):
        self.id = instance_id
        self.naming = naming
        self.metadata_tags = metadata_tags
        self.user_data = user_data
        self.attachment_limit = attachment_limit
        self.moto_instance = None  # found on the first metadata request
        self.dir = os.path.join(RIG_DIR, "instances", instance_id)
        self.by_id = os.path.join(self.dir, "by-id")
        self.sys_block = os.path.join(self.dir, "sys-block")
        self.dev = os.path.join(self.dir, "dev")
        for d in (self.by_id, self.sys_block, self.dev):
            os.makedirs(d, exist_ok=True)
        self.plugged = {}  # volume id -> {"loop":..., "paths": [...]}
        self.next_nvme = 1
        self.imds = None
        self.netns = None
        self.interfaces = {}  # eni id -> {"name": ...}
        self.vm = None  # a SimVm when a virtual machine is this instance

    # Interfaces exist only for an instance with a network namespace of its
    # own, where the tool under test runs (see "Network namespaces" below).

    def setup_netns(self):
        name = NETNS_PREFIX + self.id
        run("ip", "netns", "add", name)
        self.netns = name
        run("ip", "-n", name, "link", "set", "lo", "up")

    def plug_interface(self, eni, device_index, delay):
        if self.vm is not None:
            # A virtio NIC with the ENI's MAC, hot-plugged into the guest,
            # whose kernel and udev name it.
            self.interfaces[eni.id] = {"vm": self.vm.plug_nic(eni.id, eni.mac_address)}
            return
        if self.netns is None:
            return
        # Named as a Nitro instance names them: ens5 for device 0, ens6, ...
        entry = {"name": f"ens{5 + device_index}"}
        self.interfaces[eni.id] = entry

        def materialise():
            with LOCK:
                if self.interfaces.get(eni.id) is not entry:
                    return  # detached before the attachment completed
                # A tap, not a dummy: this kernel has no dummy interfaces.
                run("ip", "-n", self.netns, "tuntap", "add", "mode", "tap", "name", entry["name"])
                run("ip", "-n", self.netns, "link", "set", entry["name"],
                    "address", eni.mac_address, "up")
                entry["up"] = True

        if delay > 0:
            threading.Timer(delay, materialise).start()
        else:
            materialise()

    def unplug_interface(self, eni_id):
        entry = self.interfaces.pop(eni_id, None)
        if entry and entry.get("vm"):
            self.vm.unplug(entry["vm"])
        elif entry and entry.get("up"):
            subprocess.run(["ip", "-n", self.netns, "link", "del", entry["name"]],
                           capture_output=True)

    def remove_netns(self):
        if self.netns is not None:
            subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)

    def plug_volume(self, volume, device_path, delay):
        path = backing_file(volume.id)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.truncate(volume.size * GIB)
        entry = {"loop": None, "paths": []}
        self.plugged[volume.id] = entry
        if self.vm is not None:
            # The guest's kernel and udev see the disk arrive, and take
            # their own time: no simulated delay on top.
            entry["vm"] = self.vm.plug(volume.id, path)
            return

        def materialise():
            with LOCK:
                if self.plugged.get(volume.id) is not entry:
                    return  # detached before the attachment completed
                loop = run("losetup", "-f", "--show", path)
                entry["loop"] = loop
                self.name_device(volume.id, device_path, loop, entry)

        if delay > 0:
            threading.Timer(delay, materialise).start()
        else:
            materialise()

    def name_device(self, volume_id, device_path, loop, entry):
        serial = volume_id.replace("-", "")
        if self.naming in ("nitro", "by-id"):
            link = os.path.join(self.by_id, f"nvme-Amazon_Elastic_Block_Store_{serial}")
            os.symlink(loop, link)
            entry["paths"].append(link)
        if self.naming == "nitro":
            name = f"nvme{self.next_nvme}n1"
            self.next_nvme += 1
            device_dir = os.path.join(self.sys_block, name, "device")
            os.makedirs(device_dir)
            with open(os.path.join(device_dir, "model"), "w") as f:
                f.write("Amazon Elastic Block Store              \n")
            with open(os.path.join(device_dir, "serial"), "w") as f:
                f.write(f"{serial}        \n")
            os.symlink(loop, os.path.join(self.dev, name))
            entry["paths"] += [os.path.join(self.sys_block, name), os.path.join(self.dev, name)]
        if self.naming == "xen":
            # /dev/sdf shows up as /dev/xvdf on Xen instances.
            short = os.path.basename(device_path).replace("sd", "xvd", 1)
            link = os.path.join(self.dev, short)
            os.symlink(loop, link)
            entry["paths"].append(link)

    def unplug_volume(self, volume_id):
        entry = self.plugged.pop(volume_id, None)
        if entry is None:
            return
        if entry.get("vm"):
            self.vm.unplug(entry["vm"])
            return
        for p in entry["paths"]:
            if os.path.islink(p):
                os.unlink(p)
            elif os.path.isdir(p):
                subprocess.run(["rm", "-rf", p])
        if entry["loop"]:
            detach_loop(entry["loop"])

    def unplug_all(self):
        for volume_id in list(self.plugged):
            self.unplug_volume(volume_id)


# ---------------------------------------------------------------------------
# A virtual machine as an instance (make vmtest): qemu runs the guest, and
# the rig is its hypervisor through a QMP socket of its own. An attached
# volume is hot-plugged into a PCIe root port as an NVMe controller whose
# serial is the volume ID without its dash, as on a Nitro instance; a
# detached one is unplugged; a modified one is resized.


class Qmp:
    """One connection to a qemu's QMP socket. A reader thread takes every
    message: answers go to the command waiting for one (commands go one at
    a time), events to a list that waiters watch — so that waiting for an
    unplug never holds up a plug, and no read ever times out mid-line."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.file = self.sock.makefile("rwb")
        self.lock = threading.Lock()  # one command at a time
        self.answers = queue.Queue()
        self.changed = threading.Condition()
        self.events = []
        self.file.readline()  # the greeting
        threading.Thread(target=self.read_all, daemon=True).start()
        self.execute("qmp_capabilities")

    def read_all(self):
        for line in self.file:
            msg = json.loads(line)
            if "event" in msg:
                with self.changed:
                    self.events.append(msg)
                    self.changed.notify_all()
            else:
                self.answers.put(msg)
        self.answers.put({"error": {"desc": "qemu closed its QMP socket"}})

    def execute(self, command, arguments=None):
        with self.lock:
            msg = {"execute": command}
            if arguments:
                msg["arguments"] = arguments
            self.file.write(json.dumps(msg).encode() + b"\n")
            self.file.flush()
            try:
                answer = self.answers.get(timeout=60)
            except queue.Empty:
                raise RuntimeError(f"qemu {command}: no answer in 60 s") from None
            if "error" in answer:
                raise RuntimeError(f"qemu {command}: {answer['error'].get('desc')}")
            return answer.get("return")

    def wait_event(self, name, device, timeout):
        """Wait for event `name` about `device`; False after `timeout` s."""

        def seen():
            for e in self.events:
                if e["event"] == name and e.get("data", {}).get("device") == device:
                    self.events.remove(e)
                    return True
            return False

        with self.changed:
            return self.changed.wait_for(seen, timeout)


class SimVm:
    def __init__(self, qmp_path, ports, disks):
        self.qmp = Qmp(qmp_path)
        self.free_ports = list(ports)
        self.count = 0
        # "nvme", as on Nitro; or "virtio", which qemu 7.2 can resize (its
        # nvme device cannot) — same serial, same by-id link in the guest.
        self.driver = {"nvme": "nvme", "virtio": "virtio-blk-pci"}[disks]

    def port(self, what):
        """A free PCIe root port for `what`, and a number for the qemu ids
        of what goes there (a letter, then this number: qemu wants ids
        that start with a letter)."""
        if not self.free_ports:
            raise RigEC2Error("AttachmentLimitExceeded", f"the virtual machine has no free PCIe port for {what}")
        self.count += 1
        return self.free_ports.pop(0), self.count

    def plug(self, volume_id, path):
        port, n = self.port(volume_id)
        serial = volume_id.replace("-", "")
        node = f"d{n}"
        self.qmp.execute("blockdev-add", {
            "driver": "raw", "node-name": node,
            "file": {"driver": "file", "filename": path},
        })
        self.qmp.execute("device_add", {
            "driver": self.driver, "id": node, "drive": node, "serial": serial, "bus": port,
        })
        log(f"{volume_id}: hot-plugged as {self.driver} {node} on {port}")
        return {"node": node, "port": port, "backend": ("blockdev-del", {"node-name": node})}

    def plug_nic(self, eni_id, mac):
        # The NIC's other end is a hub port of its own, wired to nothing:
        # the ENI's traffic is not what the tests look at, its interface is.
        port, n = self.port(eni_id)
        node = f"n{n}"
        self.qmp.execute("netdev_add", {"type": "hubport", "id": node, "hubid": 1000 + n})
        self.qmp.execute("device_add", {
            "driver": "virtio-net-pci", "id": node, "netdev": node, "mac": mac, "bus": port,
        })
        log(f"{eni_id}: hot-plugged as virtio-net {node} ({mac}) on {port}")
        return {"node": node, "port": port, "backend": ("netdev_del", {"id": node})}

    def unplug(self, entry):
        # The guest releases a PCIe device after its attention button's
        # five seconds: finish out of the request, as EC2's detaching does.
        self.qmp.execute("device_del", {"id": entry["node"]})

        def finish():
            if self.qmp.wait_event("DEVICE_DELETED", entry["node"], 60):
                self.qmp.execute(*entry["backend"])
                with LOCK:
                    self.free_ports.append(entry["port"])
                log(f"{entry['node']}: unplugged from {entry['port']}")
            else:
                log(f"{entry['node']}: the guest did not release it in 60 s")

        threading.Thread(target=finish, daemon=True).start()

    def resize(self, entry, size):
        self.qmp.execute("block_resize", {"node-name": entry["node"], "size": size})


def ctl_vm(req):
    """{"instance_id", "qmp": socket path, "ports": [PCIe root port ids],
    "disks": "nvme" or "virtio"}: the instance is that virtual machine
    from now on."""
    vm = SimVm(req["qmp"], req["ports"], req.get("disks", "nvme"))
    with LOCK:
        INSTANCES[req["instance_id"]].vm = vm
    return {}


def detach_loop(loop):
    # Lazy unmount of anything still mounted from it, then detach.
    for mountpoint in mounts_of(loop):
        subprocess.run(["umount", "-l", mountpoint], capture_output=True)
    subprocess.run(["losetup", "-d", loop], capture_output=True)
    # A loop device still open (a probe by blkid elsewhere) goes away only
    # when closed. On EC2 a detached volume's device is gone: wait for
    # that (bounded), so that no test sees a detached volume's filesystem.
    backing = f"/sys/block/{os.path.basename(loop)}/loop/backing_file"
    deadline = time.monotonic() + 10
    while os.path.exists(backing) and time.monotonic() < deadline:
        time.sleep(0.02)
    if os.path.exists(backing):
        log(f"{loop} is still attached 10 s after losetup -d")


def mounts_of(device):
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 2] == device:
                points.append(fields[4])
    return points


# ---------------------------------------------------------------------------
# Network namespaces. An instance registered with "netns": true gets one of
# its own; the tool under test runs there (nsenter --net) and sees exactly
# the interfaces of the ENIs attached to it. The rig's proxy and the
# instance's IMDS listen inside it on the same ports as outside, so a tool
# there uses the same URLs.

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
        netns, lambda: Server(("127.0.0.1", PROXY_PORT), ProxyHandler)))


# ---------------------------------------------------------------------------
# IMDSv2, one server per simulated instance, fed live from moto's state.


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
        threading.Thread(target=self.server.serve_forever, args=(IDLE_POLL,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def serve_in_netns(self, netns):
        port = self.server.server_address[1]
        server = create_in_netns(
            netns, lambda: http.server.ThreadingHTTPServer(("127.0.0.1", port), ImdsHandler))
        server.tokens = self.server.tokens
        server.sim_imds = self
        serve(server)

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
        inst = self.sim.moto_instance or backend().get_instance(self.sim.id)
        self.sim.moto_instance = inst
        tags = {t["key"]: t["value"] for t in inst.get_tags()}
        nics = sorted(inst.nics.items())
        primary = nics[0][1] if nics else None
        macs = {eni.mac_address: (idx, eni) for idx, eni in nics}
        md = "/latest/meta-data/"
        if path == "/latest/dynamic/instance-identity/document":
            return json.dumps(
                {
                    "accountId": ACCOUNT,
                    "architecture": "x86_64",
                    "availabilityZone": inst.placement.zone,
                    "imageId": inst.image_id,
                    "instanceId": inst.id,
                    "instanceType": inst.instance_type,
                    "privateIp": inst.private_ip,
                    "region": REGION,
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
            "placement/region": REGION,
            "iam/security-credentials/": ROLE,
            "iam/security-credentials": ROLE,
            "network/interfaces/macs/": "\n".join(m + "/" for m in macs),
            "network/interfaces/macs": "\n".join(m + "/" for m in macs),
        }
        if rel in simple:
            return simple[rel]
        if rel == f"iam/security-credentials/{ROLE}":
            expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=6)
            creds = IAM_SESSION or {
                "AccessKeyId": access_key_of(self.sim.id),
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


# ---------------------------------------------------------------------------
# The fault proxy: counts every EC2 call a tool makes and injects faults.

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
    return instance_id if instance_id in INSTANCES else None


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
    with LOCK:
        be = backend()
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

    def handle_any(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/_rig/"):
            return self.control(method, body)
        params = urllib.parse.parse_qs(body.decode(errors="replace"))
        if os.environ.get("RIG_TRACE"):  # RIG_TRACE=1: log every request body
            log(body.decode(errors="replace"))
        action = (params.get("Action") or [None])[0]
        if action is None:
            # JSON protocols (ECS) name the action in X-Amz-Target.
            target = self.headers.get("X-Amz-Target") or "?"
            action = target.rsplit(".", 1)[-1]
        key, service = credential_scope(self.headers)
        with LOCK:
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
        refused = policy_refusal(service, action, params)
        if refused:
            return self.send_raw(*refused)
        if fault is None and STATE_READS.get(body) is not None:
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
        self.send_raw(status, resp, headers)

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
        conn = http.client.HTTPConnection("127.0.0.1", MOTO_PORT, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
        if IAM_SESSION:
            # Not a signed header: the signature stays the tool's.
            headers[ENFORCE_HEADER] = "1"
        conn.request(method, self.path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        keep = [(k, v) for k, v in r.getheaders()
                if k.lower() not in ("content-length", "connection", "transfer-encoding")]
        conn.close()
        return r.status, keep, data

    def control(self, method, body):
        try:
            req = json.loads(body) if body else {}
            # A control request may change moto's state behind its API;
            # reading the calls does not.
            if self.path != "/_rig/calls":
                forget_state_reads()
            # Handlers take LOCK themselves: some call moto over HTTP, whose
            # requests take LOCK in another thread.
            result = CONTROL[self.path](req)
            self.send_raw(200, json.dumps(result).encode(), [("Content-Type", "application/json")])
        except Exception as e:
            traceback.print_exc()
            self.send_raw(500, json.dumps({"error": f"{type(e).__name__}: {e}"}).encode())


# ---------------------------------------------------------------------------
# Control API, for the tests.

SUBNETS = {}
SUBNETS_LOCK = threading.Lock()


def moto_client(service="ec2"):
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=f"http://127.0.0.1:{MOTO_PORT}",
        aws_access_key_id="rig",
        aws_secret_access_key="rig",
    )


def subnet_for(az):
    with SUBNETS_LOCK:
        return subnet_for_locked(az)


def subnet_for_locked(az):
    # Simulated instances live in 127.0.0.0/16, so that every private IP
    # they get is a loopback address a test server can really listen on.
    if az not in SUBNETS:
        ec2 = moto_client()
        if "vpc" not in SUBNETS:
            SUBNETS["vpc"] = ec2.create_vpc(CidrBlock="127.0.0.0/16")["Vpc"]["VpcId"]
        n = len(SUBNETS)
        SUBNETS[az] = ec2.create_subnet(
            VpcId=SUBNETS["vpc"], CidrBlock=f"127.0.{n * 16}.0/20", AvailabilityZone=az
        )["Subnet"]["SubnetId"]
    return SUBNETS[az]


def ctl_instances(req):
    az = req.get("az", REGION + "a")
    ec2 = moto_client()
    tags = [{"Key": k, "Value": v} for k, v in req.get("tags", {}).items()]
    kwargs = dict(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        InstanceType=req.get("instance_type", "m5.large"),
        Placement={"AvailabilityZone": az},
    )
    # "routable": true: no subnet of the rig's (moto then gives a random
    # address in 10.0.0.0/8), for a virtual machine whose private address
    # must reach another guest: a loopback one never leaves its kernel.
    if not req.get("routable"):
        kwargs["SubnetId"] = subnet_for(az)
    if tags:
        kwargs["TagSpecifications"] = [{"ResourceType": "instance", "Tags": tags}]
    if req.get("user_data") is not None:
        kwargs["UserData"] = req["user_data"]
    inst = ec2.run_instances(**kwargs)["Instances"][0]
    return register(inst["InstanceId"], req)


def register(instance_id, req):
    with LOCK:
        return register_locked(instance_id, req)


def register_locked(instance_id, req):
    sim = SimInstance(
        instance_id,
        naming=req.get("naming", "nitro"),
        metadata_tags=req.get("metadata_tags", True),
        user_data=req.get("user_data"),
        attachment_limit=req.get("attachment_limit", 28),
    )
    sim.imds = SimImds(sim)
    INSTANCES[instance_id] = sim
    inst = backend().get_instance(instance_id)
    if req.get("netns"):
        sim.setup_netns()
        for index, eni in inst.nics.items():
            sim.plug_interface(eni, index, 0)
        sim.imds.serve_in_netns(sim.netns)
        proxy_in_netns(sim.netns)
    return {
        "netns": sim.netns,
        "instance_id": instance_id,
        "imds_url": sim.imds.url,
        "by_id_dir": sim.by_id,
        "sys_block_dir": sim.sys_block,
        "dev_dir": sim.dev,
        "private_ip": inst.private_ip,
        "az": inst.placement.zone,
    }


def ctl_asg(req):
    """An Auto Scaling group of `size` simulated instances in `az`."""
    az = req.get("az", REGION + "a")
    name = req["name"]
    ec2 = moto_client()
    asg = boto3.client(
        "autoscaling", region_name=REGION, endpoint_url=f"http://127.0.0.1:{MOTO_PORT}",
        aws_access_key_id="rig", aws_secret_access_key="rig",
    )
    ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": req.get("instance_type", "m5.large")},
    )
    tags = [
        {"Key": k, "Value": v, "PropagateAtLaunch": True, "ResourceId": name, "ResourceType": "auto-scaling-group"}
        for k, v in req.get("tags", {}).items()
    ]
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name},
        MinSize=0,
        MaxSize=req["size"] + 5,
        DesiredCapacity=req["size"],
        VPCZoneIdentifier=subnet_for(az),
        Tags=tags,
    )
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    return [register(i["InstanceId"], req) for i in group["Instances"]]


def ctl_subnet(req):
    """The rig's subnet in an AZ (made on first use), for creating ENIs."""
    return {"subnet_id": subnet_for(req.get("az", REGION + "a"))}


def ctl_pair(req):
    """A volume and an ENI in `az`, both tagged with `tags` (for scripts
    without an EC2 client: make bench)."""
    ec2 = moto_client()
    az = req.get("az", REGION + "a")
    tags = [{"Key": k, "Value": v} for k, v in req["tags"].items()]
    volume = ec2.create_volume(
        AvailabilityZone=az, Size=int(req.get("size_gib", 1)),
        TagSpecifications=[{"ResourceType": "volume", "Tags": tags}],
    )["VolumeId"]
    eni = ec2.create_network_interface(
        SubnetId=subnet_for(az),
        TagSpecifications=[{"ResourceType": "network-interface", "Tags": tags}],
    )["NetworkInterface"]["NetworkInterfaceId"]
    return {"volume_id": volume, "eni_id": eni}


def ctl_instance_state(req):
    """Put an instance in `state` (shutting-down, say) without terminating
    it: its volumes stay attached, as they do while EC2 shuts it down."""
    with LOCK:
        inst = backend().get_instance(req["instance_id"])
        codes = {"pending": 0, "running": 16, "shutting-down": 32, "stopping": 64}
        inst._state.name = req["state"]
        inst._state.code = codes[req["state"]]
    return {"ok": True}


def ctl_volume(req):
    """A volume in `az` with `tags` (for scripts: make bench)."""
    kwargs = dict(AvailabilityZone=req.get("az", REGION + "a"), Size=int(req.get("size_gib", 1)),
                  VolumeType=req.get("type", "gp3"))
    if req.get("tags"):
        kwargs["TagSpecifications"] = [{"ResourceType": "volume", "Tags": [
            {"Key": k, "Value": v} for k, v in req["tags"].items()]}]
    return {"volume_id": moto_client().create_volume(**kwargs)["VolumeId"]}


def ctl_volumes(req):
    """The volumes carrying every tag of `tags`: id, state, holder."""
    filters = [{"Name": f"tag:{k}", "Values": [v]} for k, v in req.get("tags", {}).items()]
    vols = moto_client().describe_volumes(Filters=filters)["Volumes"]
    return [{"volume_id": v["VolumeId"], "state": v["State"],
             "instance_id": (v.get("Attachments") or [{}])[0].get("InstanceId")} for v in vols]


def ctl_ecs_register(req):
    """Register `instance_id` as a container instance of ECS cluster
    `cluster` (created on first use), as the ECS agent would; its ARN."""
    ecs = boto3.client("ecs", region_name=REGION, endpoint_url=f"http://127.0.0.1:{MOTO_PORT}",
                       aws_access_key_id="rig", aws_secret_access_key="rig")
    ecs.create_cluster(clusterName=req["cluster"])
    doc = json.dumps({"instanceId": req["instance_id"], "region": REGION, "accountId": ACCOUNT})
    out = ecs.register_container_instance(cluster=req["cluster"], instanceIdentityDocument=doc)
    return {"arn": out["containerInstance"]["containerInstanceArn"]}


def ctl_register(req):
    return register(req["instance_id"], req)


def ctl_faults(req):
    with LOCK:
        return _ctl_faults(req)


def _ctl_faults(req):
    RULES[:] = req.get("rules", [])
    return {"ok": True}


def ctl_calls(req):
    with LOCK:
        return _ctl_calls(req)


def _ctl_calls(req):
    calls = list(CALLS)
    busy, hits = BUSY[0], STATE_READ_HITS[0]
    if req.get("clear"):
        CALLS.clear()
        BUSY[0] = 0.0
        STATE_READ_HITS[0] = 0
    fired = sum(r.get("fired", 0) for r in RULES)
    return {"calls": calls, "faults_fired": fired, "busy_seconds": busy, "state_read_hits": hits}


def ctl_throttle(req):
    """{"describe": {"size": S, "refill": R[, "tokens": T]}, "mutate": ...}:
    EC2 calls of that family draw from that bucket (a family not named is
    not limited); {} turns throttling off."""
    with LOCK:
        BUCKETS.clear()
        for fam, b in req.items():
            if fam not in ("describe", "mutate"):
                raise KeyError(f"unknown API family {fam}")
            BUCKETS[fam] = Bucket(b["size"], b["refill"], b.get("tokens"))
        return {}


def ctl_config(req):
    with LOCK:
        return _ctl_config(req)


def _ctl_config(req):
    for k, v in req.items():
        if k not in CONFIG:
            raise KeyError(f"unknown rig config key {k}")
        CONFIG[k] = float(v)
    return dict(CONFIG)


# ---------------------------------------------------------------------------
# IAM: the instances' role with a tool's policy, enforced on the tools'
# calls only (the rig's own setup and checks stay free), in two layers.
#
# moto evaluates a statement against the resource "*" and without the
# request's context, so a statement scoped to resource ARNs or with a
# Condition never allows anything there. The role in moto therefore gets
# the policy's projection (each Allow statement's actions on "*"): moto
# decides whether an action is granted at all. The rig evaluates the real
# policy for each call: the resources the call acts on (ARNs as in the
# Service Authorization Reference, with their tags from moto), the tags in
# the request, and the conditions. Tags given at creation need
# ec2:CreateTags with ec2:CreateAction, as on EC2. It fails closed: an
# operator, key or call it does not model is refused with the reason.

IAM_SESSION = None
IAM_POLICY = None
ENFORCE_HEADER = "X-Mooring-Rig-Enforce-Iam"
IAM_ROLES = [0]


def statements(policy):
    sts = policy["Statement"]
    return [sts] if isinstance(sts, dict) else sts


def as_list(v):
    return [v] if isinstance(v, str) else list(v)


def projection(policy):
    out = []
    for st in statements(policy):
        if st.get("Effect") != "Allow" or "Action" not in st or "Resource" not in st:
            raise ValueError(f"the rig models only Allow statements with Action and Resource: {st}")
        out.append({"Effect": "Allow", "Action": st["Action"], "Resource": "*"})
    return {"Version": "2012-10-17", "Statement": out}


def ctl_iam(req):
    global IAM_SESSION, IAM_POLICY
    if req.get("policy") is None:
        IAM_SESSION = IAM_POLICY = None
        return {}
    IAM_ROLES[0] += 1
    name = f"mooring-tool-{IAM_ROLES[0]}"
    iam = moto_client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                       "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.put_role_policy(RoleName=name, PolicyName="tool",
                        PolicyDocument=json.dumps(projection(req["policy"])))
    creds = moto_client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="instance")["Credentials"]
    IAM_POLICY = req["policy"]
    IAM_SESSION = {k: creds[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}
    return {"role": name, "credentials": IAM_SESSION}


def ec2_arn(resource_id):
    kind = {"i": "instance", "vol": "volume", "eni": "network-interface"}.get(resource_id.split("-")[0])
    if kind is None:
        raise PolicyUnmodelled(f"no ARN for {resource_id}")
    return f"arn:aws:ec2:{REGION}:{ACCOUNT}:{kind}/{resource_id}", resource_id


class PolicyUnmodelled(Exception):
    pass


def request_tags(params, prefix):
    """{key: value} of Tag.N.Key/Value under `prefix`."""
    tags = {}
    for k, v in params.items():
        if k.startswith(prefix + "Tag.") and k.endswith(".Key"):
            tags[v[0]] = params.get(k[:-4] + ".Value", [""])[0]
    return tags


def creation_tags(params, resource_type):
    tags = {}
    for k, v in params.items():
        if k.startswith("TagSpecification.") and k.endswith(".ResourceType") and v[0] == resource_type:
            tags.update(request_tags(params, k[: -len("ResourceType")]))
    return tags


def acted_on(service, action, params):
    """[(action, resource ARN, resource tags, request tags, extra context)]
    that EC2 would authorise for this call."""
    one = lambda k: params[k][0]  # noqa: E731
    be = backend()
    if service == "ecs" or action.startswith(("Describe", "List")):
        return [(action, "*", {}, None, {})]
    if service == "autoscaling":
        if action == "SetInstanceHealth":
            from moto.autoscaling.models import autoscaling_backends
            groups = autoscaling_backends[ACCOUNT][REGION].autoscaling_groups.values()
            group = next(g for g in groups if any(s.instance.id == one("InstanceId") for s in g.instance_states))
            return [(action, group.arn, {}, None, {})]
        raise PolicyUnmodelled(f"autoscaling:{action}")

    def res(resource_id):
        arn, rid = ec2_arn(resource_id)
        return arn, dict(be.tags.get(rid, {}))

    out = []
    if action == "CreateVolume":
        tags = creation_tags(params, "volume")
        arn = f"arn:aws:ec2:{REGION}:{ACCOUNT}:volume/*"
        out.append((action, arn, {}, tags, {}))
        if any(k.startswith("TagSpecification.") for k in params):
            out.append(("CreateTags", arn, {}, tags, {"ec2:CreateAction": "CreateVolume"}))
        return out
    if action in ("AttachVolume", "DetachVolume"):
        vol = one("VolumeId")
        instance = params.get("InstanceId", [None])[0]
        if instance is None:
            attachment = be.get_volume(vol).attachment
            instance = attachment.instance.id if attachment else None
        out.append((action, *res(vol), None, {}))
        if instance:
            out.append((action, *res(instance), None, {}))
        return out
    if action in ("ModifyVolume", "DeleteVolume"):
        return [(action, *res(one("VolumeId")), None, {})]
    if action == "ModifyInstanceAttribute":
        return [(action, *res(one("InstanceId")), None, {})]
    if action == "CreateTags":
        tags = request_tags(params, "")
        ids = [v[0] for k, v in params.items() if k.startswith("ResourceId.")]
        return [(action, *res(r), tags, {}) for r in ids]
    if action == "AttachNetworkInterface":
        return [(action, *res(one("NetworkInterfaceId")), None, {}),
                (action, *res(one("InstanceId")), None, {})]
    if action == "DetachNetworkInterface":
        eni = next((e for e in be.get_all_network_interfaces() if e.attachment_id == one("AttachmentId")), None)
        if eni is None:
            return [(action, "*", {}, None, {})]  # EC2 answers NotFound first
        return [(action, *res(eni.id), None, {}), (action, *res(eni.instance.id), None, {})]
    if action == "ModifyNetworkInterfaceAttribute":
        return [(action, *res(one("NetworkInterfaceId")), None, {})]
    raise PolicyUnmodelled(f"ec2:{action}")


def condition_holds(operator, key, expected, ctx):
    set_op = None
    for prefix in ("ForAllValues:", "ForAnyValue:"):
        if operator.startswith(prefix):
            set_op, operator = prefix, operator[len(prefix):]
    if_exists = operator.endswith("IfExists")
    operator = operator[: -len("IfExists")] if if_exists else operator
    if key not in ("aws:TagKeys", "ec2:CreateAction") and not key.startswith(("aws:RequestTag/", "aws:ResourceTag/")):
        raise PolicyUnmodelled(f"condition key {key}")
    actual = ctx.get(key)
    wanted = as_list(expected)
    if operator == "Null":
        return (actual is None) == (wanted[0] == "true")
    tests = {
        "StringEquals": lambda a, w: a == w,
        "StringNotEquals": lambda a, w: a != w,
        "StringLike": fnmatch.fnmatchcase,
    }
    if operator not in tests:
        raise PolicyUnmodelled(f"condition operator {operator}")
    test = tests[operator]
    if actual is None:
        return if_exists or set_op == "ForAllValues:"
    if set_op == "ForAllValues:":
        return all(any(test(a, w) for w in wanted) for a in as_list(actual))
    if set_op == "ForAnyValue:":
        return any(any(test(a, w) for w in wanted) for a in as_list(actual))
    return any(test(actual, w) for w in wanted)


def allowed(service, action, arn, resource_tags, req_tags, extra):
    ctx = dict(extra)
    for k, v in resource_tags.items():
        ctx[f"aws:ResourceTag/{k}"] = v
    if req_tags is not None:
        for k, v in req_tags.items():
            ctx[f"aws:RequestTag/{k}"] = v
        ctx["aws:TagKeys"] = list(req_tags)
    full = f"{service}:{action}"
    for st in statements(IAM_POLICY):
        if not any(fnmatch.fnmatchcase(full, a) for a in as_list(st["Action"])):
            continue
        if not any(r == "*" or fnmatch.fnmatchcase(arn, r) for r in as_list(st["Resource"])):
            continue
        if all(condition_holds(op, key, want, ctx)
               for op, conds in st.get("Condition", {}).items() for key, want in conds.items()):
            return True
    return False


def grants(service, action):
    full = f"{service}:{action}"
    return any(fnmatch.fnmatchcase(full, a) for st in statements(IAM_POLICY) for a in as_list(st["Action"]))


def policy_refusal(service, action, params):
    """None when the role's real policy allows this call; else the error
    EC2 (or Auto Scaling) would answer. An action the policy does not grant
    at all is left to moto's enforcement."""
    if IAM_POLICY is None or not grants(service, action):
        return None
    try:
        with LOCK:
            refused = [(a, arn) for a, arn, rtags, qtags, extra in acted_on(service, action, params)
                       if not allowed(service, a, arn, rtags, qtags, extra)]
    except PolicyUnmodelled as e:
        refused = [(action, f"(the rig does not model {e})")]
    if not refused:
        return None
    a, arn = refused[0]
    message = f"You are not authorized to perform: {service}:{a} on resource: {arn}"
    if service == "ec2":
        return ec2_error(403, "UnauthorizedOperation", message)
    body = ('<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>'
            f'<Message>{message}</Message></Error><RequestId>{secrets.token_hex(8)}</RequestId></ErrorResponse>')
    return 403, body.encode()


def ctl_devices(req):
    with LOCK:
        return _ctl_devices(req)


def _ctl_devices(req):
    sim = INSTANCES[req["instance_id"]]
    return {vid: e["loop"] for vid, e in sim.plugged.items()}


def ctl_imds(req):
    """An instance's IMDS: the paths asked since the last clear, and new
    delay rules ({"delays": [{"path", "seconds", "times"}]})."""
    with LOCK:
        imds = INSTANCES[req["instance_id"]].imds
    with imds.lock:
        asked = list(imds.requests)
        if req.get("clear"):
            imds.requests.clear()
        if "delays" in req:
            imds.delays = [dict(d) for d in req["delays"]]
    return {"requests": asked}


CONTROL = {
    "/_rig/imds": ctl_imds,
    "/_rig/instances": ctl_instances,
    "/_rig/register": ctl_register,
    "/_rig/subnet": ctl_subnet,
    "/_rig/pair": ctl_pair,
    "/_rig/ecs_register": ctl_ecs_register,
    "/_rig/volume": ctl_volume,
    "/_rig/volumes": ctl_volumes,
    "/_rig/instance_state": ctl_instance_state,
    "/_rig/asg": ctl_asg,
    "/_rig/faults": ctl_faults,
    "/_rig/calls": ctl_calls,
    "/_rig/config": ctl_config,
    "/_rig/devices": ctl_devices,
    "/_rig/iam": ctl_iam,
    "/_rig/throttle": ctl_throttle,
    "/_rig/vm": ctl_vm,
}


# ---------------------------------------------------------------------------


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
    with LOCK:
        STATE_READS.clear()


def serialised(app):
    enforce_key = "HTTP_" + ENFORCE_HEADER.upper().replace("-", "_")

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
        with LOCK:
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
                and CONFIG["attach_delay"] == 0 and CONFIG["create_delay"] == 0))
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
    with LOCK:
        for sim in INSTANCES.values():
            sim.unplug_all()
            sim.remove_netns()
    os._exit(0)


def die_with_parent():
    # The rig must not outlive the test that started it.
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def main():
    global MOTO_PORT, PROXY_PORT
    die_with_parent()
    os.makedirs(VOLUME_DIR, exist_ok=True)
    app = serialised(DomainDispatcherApplication(create_backend_app))
    moto = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietMotoHandler)
    MOTO_PORT = moto.server_address[1]
    threading.Thread(target=moto.serve_forever, daemon=True).start()
    proxy = Server(("127.0.0.1", 0), ProxyHandler)
    proxy.daemon_threads = True
    PROXY_PORT = proxy.server_address[1]
    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    print(json.dumps({"proxy": proxy.server_address[1], "moto": MOTO_PORT}), flush=True)
    proxy.serve_forever()


if __name__ == "__main__":
    main()
