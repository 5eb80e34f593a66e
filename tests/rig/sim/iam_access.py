"""IAM: the instances' role with a tool's policy, enforced on tools only.

IAM: the instances' role with a tool's policy, enforced on the tools'
calls only (the rig's own setup and checks stay free), in two layers.

moto evaluates a statement against the resource "*" and without the
request's context, so a statement scoped to resource ARNs or with a
Condition never allows anything there. The role in moto therefore gets
the policy's projection (each Allow statement's actions on "*"): moto
decides whether an action is granted at all. The rig evaluates the real
policy for each call: the resources the call acts on (ARNs as in the
Service Authorization Reference, with their tags from moto), the tags in
the request, and the conditions. Tags given at creation need
ec2:CreateTags with ec2:CreateAction, as on EC2. It fails closed: an
operator, key or call it does not model is refused with the reason.
"""

import fnmatch
import json
import secrets
import urllib.parse

from . import control_api
from . import fault_proxy
from . import state


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
    iam = control_api.moto_client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                       "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.put_role_policy(RoleName=name, PolicyName="tool",
                        PolicyDocument=json.dumps(projection(req["policy"])))
    creds = control_api.moto_client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="instance")["Credentials"]
    IAM_POLICY = req["policy"]
    IAM_SESSION = {k: creds[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}
    return {"role": name, "credentials": IAM_SESSION}


def ec2_arn(resource_id):
    kind = {"i": "instance", "vol": "volume", "eni": "network-interface"}.get(resource_id.split("-")[0])
    if kind is None:
        raise PolicyUnmodelled(f"no ARN for {resource_id}")
    return f"arn:aws:ec2:{state.REGION}:{state.ACCOUNT}:{kind}/{resource_id}", resource_id


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


# The IAM action S3 authorises each operation as (the Service
# Authorization Reference): a multipart upload's steps are s3:PutObject.
S3_IAM_ACTIONS = {
    "ListObjectsV2": "ListBucket", "ListObjects": "ListBucket", "HeadObject": "GetObject",
    "CreateMultipartUpload": "PutObject", "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
}


def s3_acted_on(action, path):
    """S3: the bucket (ListBucket, with s3:prefix) or the object's ARN."""
    url = urllib.parse.urlsplit(path)
    bucket, _, key = url.path.lstrip("/").partition("/")
    iam_action = S3_IAM_ACTIONS.get(action, action)
    if iam_action == "ListBucket":
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        prefix = (query.get("prefix") or [""])[0]
        return [(iam_action, f"arn:aws:s3:::{bucket}", {}, None, {"s3:prefix": prefix})]
    if iam_action in ("PutObject", "GetObject", "DeleteObject", "AbortMultipartUpload"):
        return [(iam_action, f"arn:aws:s3:::{bucket}/{urllib.parse.unquote(key)}", {}, None, {})]
    raise PolicyUnmodelled(f"s3:{action}")


def acted_on(service, action, params):
    """[(action, resource ARN, resource tags, request tags, extra context)]
    that EC2 would authorise for this call."""
    one = lambda k: params[k][0]  # noqa: E731
    if service == "s3":
        return s3_acted_on(action, one("_path"))
    be = state.backend()
    if service == "ecs" or action.startswith(("Describe", "List")):
        return [(action, "*", {}, None, {})]
    if service == "autoscaling":
        if action == "SetInstanceHealth":
            from moto.autoscaling.models import autoscaling_backends
            groups = autoscaling_backends[state.ACCOUNT][state.REGION].autoscaling_groups.values()
            group = next(g for g in groups if any(s.instance.id == one("InstanceId") for s in g.instance_states))
            return [(action, group.arn, {}, None, {})]
        if action in ("CompleteLifecycleAction", "RecordLifecycleActionHeartbeat"):
            from moto.autoscaling.models import autoscaling_backends
            group = autoscaling_backends[state.ACCOUNT][state.REGION].autoscaling_groups[one("AutoScalingGroupName")]
            return [(action, group.arn, {t["Key"]: t["Value"] for t in group.tags}, None, {})]
        raise PolicyUnmodelled(f"autoscaling:{action}")

    def res(resource_id):
        arn, rid = ec2_arn(resource_id)
        return arn, dict(be.tags.get(rid, {}))

    out = []
    if action == "CreateVolume":
        tags = creation_tags(params, "volume")
        arn = f"arn:aws:ec2:{state.REGION}:{state.ACCOUNT}:volume/*"
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
    if key not in ("aws:TagKeys", "ec2:CreateAction", "s3:prefix") and not key.startswith(("aws:RequestTag/", "aws:ResourceTag/")):
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
    if IAM_POLICY is None:
        return None
    # S3 names the action it refused, as S3 does ("no identity-based
    # policy allows the s3:PutObject action"); moto says "Access Denied".
    s3_ungranted = service == "s3" and not grants(service, S3_IAM_ACTIONS.get(action, action))
    if not s3_ungranted and not grants(service, action):
        return None
    try:
        with state.LOCK:
            refused = [(a, arn) for a, arn, rtags, qtags, extra in acted_on(service, action, params)
                       if s3_ungranted or not allowed(service, a, arn, rtags, qtags, extra)]
    except PolicyUnmodelled as e:
        refused = [(action, f"(the rig does not model {e})")]
    if not refused:
        return None
    a, arn = refused[0]
    message = f"You are not authorized to perform: {service}:{a} on resource: {arn}"
    if service == "ec2":
        return fault_proxy.ec2_error(403, "UnauthorizedOperation", message)
    if service == "s3":
        body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
                f'<Message>{message}</Message><RequestId>{secrets.token_hex(8)}</RequestId></Error>')
        return 403, body.encode()
    body = ('<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>'
            f'<Message>{message}</Message></Error><RequestId>{secrets.token_hex(8)}</RequestId></ErrorResponse>')
    return 403, body.encode()
