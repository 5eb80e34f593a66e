"""The control API the tests drive the rig through (/_rig/...).

Control API, for the tests.
"""

import json
import threading

import boto3

from . import fault_proxy
from . import hypervisor
from . import iam_access
from . import lifecycle
from . import metadata
from . import moto_server
from . import namespaces
from . import qemu
from . import state


SUBNETS = {}


SUBNETS_LOCK = threading.Lock()


def moto_client(service="ec2"):
    return boto3.client(
        service,
        region_name=state.REGION,
        endpoint_url=f"http://127.0.0.1:{state.MOTO_PORT}",
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
    az = req.get("az", state.REGION + "a")
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
    with state.LOCK:
        return register_locked(instance_id, req)


def register_locked(instance_id, req):
    sim = hypervisor.SimInstance(
        instance_id,
        naming=req.get("naming", "nitro"),
        metadata_tags=req.get("metadata_tags", True),
        user_data=req.get("user_data"),
        attachment_limit=req.get("attachment_limit", 28),
    )
    sim.imds = metadata.SimImds(sim)
    state.INSTANCES[instance_id] = sim
    inst = state.backend().get_instance(instance_id)
    if req.get("netns"):
        sim.setup_netns()
        for index, eni in inst.nics.items():
            sim.plug_interface(eni, index, 0)
        sim.imds.serve_in_netns(sim.netns)
        namespaces.proxy_in_netns(sim.netns)
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
    """An Auto Scaling group of `size` simulated instances in `az`, with a
    termination lifecycle hook if asked."""
    az = req.get("az", state.REGION + "a")
    name = req["name"]
    ec2 = moto_client()
    asg = boto3.client(
        "autoscaling", region_name=state.REGION, endpoint_url=f"http://127.0.0.1:{state.MOTO_PORT}",
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
    # "termination_hook": {"name": N, "timeout": S}: instances the group
    # takes away wait in Terminating:Wait (sim/lifecycle.py).
    hook = req.get("termination_hook")
    if hook:
        asg.put_lifecycle_hook(
            LifecycleHookName=hook["name"], AutoScalingGroupName=name,
            LifecycleTransition=lifecycle.TERMINATING,
            HeartbeatTimeout=int(hook.get("timeout", 60)), DefaultResult="CONTINUE",
        )
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    return [register(i["InstanceId"], req) for i in group["Instances"]]


def ctl_asg_desired(req):
    """Set group `name`'s desired capacity (for scripts: make bench); with
    a termination hook, the instances taken wait in Terminating:Wait."""
    moto_client("autoscaling").set_desired_capacity(
        AutoScalingGroupName=req["name"], DesiredCapacity=int(req["desired"]))
    return {"ok": True}


def ctl_subnet(req):
    """The rig's subnet in an AZ (made on first use), for creating ENIs."""
    return {"subnet_id": subnet_for(req.get("az", state.REGION + "a"))}


def ctl_pair(req):
    """A volume and an ENI in `az`, both tagged with `tags` (for scripts
    without an EC2 client: make bench)."""
    ec2 = moto_client()
    az = req.get("az", state.REGION + "a")
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
    with state.LOCK:
        inst = state.backend().get_instance(req["instance_id"])
        codes = {"pending": 0, "running": 16, "shutting-down": 32, "stopping": 64}
        inst._state.name = req["state"]
        inst._state.code = codes[req["state"]]
    return {"ok": True}


def ctl_volume(req):
    """A volume in `az` with `tags` (for scripts: make bench)."""
    kwargs = dict(AvailabilityZone=req.get("az", state.REGION + "a"), Size=int(req.get("size_gib", 1)),
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
    ecs = boto3.client("ecs", region_name=state.REGION, endpoint_url=f"http://127.0.0.1:{state.MOTO_PORT}",
                       aws_access_key_id="rig", aws_secret_access_key="rig")
    ecs.create_cluster(clusterName=req["cluster"])
    doc = json.dumps({"instanceId": req["instance_id"], "region": state.REGION, "accountId": state.ACCOUNT})
    out = ecs.register_container_instance(cluster=req["cluster"], instanceIdentityDocument=doc)
    return {"arn": out["containerInstance"]["containerInstanceArn"]}


def ctl_s3_bucket(req):
    """Create S3 bucket `name` (for callers without an S3 client: the
    bench)."""
    s3 = boto3.client("s3", region_name=state.REGION, endpoint_url=f"http://127.0.0.1:{state.MOTO_PORT}",
                      aws_access_key_id="rig", aws_secret_access_key="rig")
    s3.create_bucket(Bucket=req["name"])
    return {}


def ctl_register(req):
    return register(req["instance_id"], req)


def ctl_faults(req):
    with state.LOCK:
        return _ctl_faults(req)


def _ctl_faults(req):
    fault_proxy.RULES[:] = req.get("rules", [])
    return {"ok": True}


def ctl_calls(req):
    with state.LOCK:
        return _ctl_calls(req)


def _ctl_calls(req):
    calls = list(fault_proxy.CALLS)
    busy, hits = moto_server.BUSY[0], moto_server.STATE_READ_HITS[0]
    if req.get("clear"):
        fault_proxy.CALLS.clear()
        moto_server.BUSY[0] = 0.0
        moto_server.STATE_READ_HITS[0] = 0
    fired = sum(r.get("fired", 0) for r in fault_proxy.RULES)
    return {"calls": calls, "faults_fired": fired, "busy_seconds": busy, "state_read_hits": hits}


def ctl_throttle(req):
    """{"describe": {"size": S, "refill": R[, "tokens": T]}, "mutate": ...}:
    EC2 calls of that family draw from that bucket (a family not named is
    not limited); {} turns throttling off."""
    with state.LOCK:
        fault_proxy.BUCKETS.clear()
        for fam, b in req.items():
            if fam not in ("describe", "mutate"):
                raise KeyError(f"unknown API family {fam}")
            fault_proxy.BUCKETS[fam] = fault_proxy.Bucket(b["size"], b["refill"], b.get("tokens"))
        return {}


def ctl_config(req):
    with state.LOCK:
        return _ctl_config(req)


def _ctl_config(req):
    for k, v in req.items():
        if k not in state.CONFIG:
            raise KeyError(f"unknown rig config key {k}")
        state.CONFIG[k] = None if v is None else float(v)
    return dict(state.CONFIG)


def ctl_devices(req):
    with state.LOCK:
        return _ctl_devices(req)


def _ctl_devices(req):
    sim = state.INSTANCES[req["instance_id"]]
    return {vid: e["loop"] for vid, e in sim.plugged.items()}


def ctl_imds(req):
    """An instance's IMDS: the paths asked since the last clear, and new
    delay rules ({"delays": [{"path", "seconds", "times"}]})."""
    with state.LOCK:
        imds = state.INSTANCES[req["instance_id"]].imds
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
    "/_rig/s3_bucket": ctl_s3_bucket,
    "/_rig/volume": ctl_volume,
    "/_rig/volumes": ctl_volumes,
    "/_rig/instance_state": ctl_instance_state,
    "/_rig/asg": ctl_asg,
    "/_rig/asg_desired": ctl_asg_desired,
    "/_rig/faults": ctl_faults,
    "/_rig/calls": ctl_calls,
    "/_rig/config": ctl_config,
    "/_rig/devices": ctl_devices,
    "/_rig/iam": iam_access.ctl_iam,
    "/_rig/lifecycle": lifecycle.ctl_lifecycle,
    "/_rig/throttle": ctl_throttle,
    "/_rig/vm": qemu.ctl_vm,
}
