"""Auto Scaling's termination lifecycle hooks, which moto lacks.

Auto Scaling's termination lifecycle hooks, which moto stores but never
runs. With a hook for autoscaling:EC2_INSTANCE_TERMINATING on its group,
an instance the group takes away (SetDesiredCapacity below the InService
count, TerminateInstanceInAutoScalingGroup) goes to Terminating:Wait
instead of being terminated: its IMDS answers "Terminated" for
autoscaling/target-lifecycle-state, and the instance ends (terminated, out
of the group) on CompleteLifecycleAction, or when the hook's heartbeat
timeout passes without RecordLifecycleActionHeartbeat. Without a hook moto's
own behaviour stands: the instance is terminated at once.
"""

import threading
import time

from moto.autoscaling.exceptions import ValidationError
from moto.autoscaling.models import (
    AutoScalingBackend,
    FakeAutoScalingGroup,
    TerminateInstanceActivity,
    autoscaling_backends,
)
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import EmptyResult

from . import state


TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"


# instance id -> {"group", "hook", "deadline", "timeout"}: instances in
# Terminating:Wait. Read by IMDS without the lock (one dict lookup).
WAITING = {}


# instance id -> how its wait ended ("CONTINUE", "ABANDON", "timeout"),
# for the tests (/_rig/lifecycle).
ENDED = {}


def backend():
    return autoscaling_backends[state.ACCOUNT][state.REGION]


def terminating_hook(group):
    hooks = backend().describe_lifecycle_hooks(group.name)
    return next((h for h in hooks if h.lifecycle_transition == TERMINATING), None)


def begin_wait(group, instance_state, hook):
    instance_state.lifecycle_state = "Terminating:Wait"
    timeout = int(hook.heartbeat_timeout or 3600)
    WAITING[instance_state.instance.id] = {
        "group": group.name,
        "hook": hook.name,
        "timeout": timeout,
        "deadline": time.monotonic() + timeout,
    }
    state.log(f"{instance_state.instance.id}: Terminating:Wait ({hook.name}, {timeout} s)")


def end_wait(instance_id, how):
    """Terminate a waiting instance and take it out of its group (LOCK held)."""
    wait = WAITING.pop(instance_id, None)
    if wait is None:
        return
    ENDED[instance_id] = how
    group = backend().autoscaling_groups.get(wait["group"])
    if group is not None:
        group.instance_states = [s for s in group.instance_states if s.instance.id != instance_id]
    backend().ec2_backend.terminate_instances([instance_id])
    state.log(f"{instance_id}: terminated ({how})")
    from . import moto_server

    moto_server.STATE_READS.clear()


_orig_set_desired_capacity = FakeAutoScalingGroup.set_desired_capacity


def set_desired_capacity(self, new_capacity):
    hook = terminating_hook(self) if self.name in backend().autoscaling_groups else None
    desired = self.min_size if new_capacity is None else new_capacity
    in_service = [s for s in self.instance_states if s.lifecycle_state == "InService"]
    excess = len(in_service) - (desired or 0)
    if hook is None or excess <= 0:
        return _orig_set_desired_capacity(self, new_capacity)
    # Auto Scaling picks by its termination policy; the rig takes the
    # unprotected InService instances in launch order (as moto does).
    for s in [s for s in in_service if not s.protected_from_scale_in][:excess]:
        begin_wait(self, s, hook)
    self.desired_capacity = desired


_orig_terminate_instance = AutoScalingBackend.terminate_instance


def terminate_instance(self, instance_id, should_decrement):
    found = next(
        ((g, s) for g in self.autoscaling_groups.values() for s in g.instance_states
         if s.instance.id == instance_id),
        None,
    )
    hook = terminating_hook(found[0]) if found else None
    if hook is None:
        return _orig_terminate_instance(self, instance_id, should_decrement)
    group, instance_state = found
    original_size = group.desired_capacity
    if instance_id not in WAITING:
        begin_wait(group, instance_state, hook)
    if should_decrement:
        group.desired_capacity = original_size - 1
    # Not decremented: the group launches a replacement now.
    _orig_set_desired_capacity(group, group.desired_capacity)
    return TerminateInstanceActivity(instance_state.instance, original_size)


def waiting_instance(response):
    instance_id = response._get_param("InstanceId")
    group = response._get_param("AutoScalingGroupName")
    hook = response._get_param("LifecycleHookName")
    wait = WAITING.get(instance_id)
    if wait is None or wait["group"] != group or wait["hook"] != hook:
        # Auto Scaling's own answer for an action that is over or never was.
        raise ValidationError(f"No active Lifecycle Action found with instance ID {instance_id}")
    return instance_id, wait


def complete_lifecycle_action(self):
    instance_id, _ = waiting_instance(self)
    result = self._get_param("LifecycleActionResult")
    if result not in ("CONTINUE", "ABANDON"):
        raise ValidationError(f"LifecycleActionResult {result!r} must be CONTINUE or ABANDON")
    end_wait(instance_id, result)
    return EmptyResult()


def record_lifecycle_action_heartbeat(self):
    _, wait = waiting_instance(self)
    wait["deadline"] = time.monotonic() + wait["timeout"]
    return EmptyResult()


def expire_waits():
    # The hook's timeout: its default result (CONTINUE or ABANDON) ends
    # the instance alike on termination.
    while True:
        time.sleep(0.2)
        now = time.monotonic()
        if any(w["deadline"] <= now for w in list(WAITING.values())):
            with state.LOCK:
                for instance_id, w in list(WAITING.items()):
                    if w["deadline"] <= now:
                        end_wait(instance_id, "timeout")


def target_state(instance_id):
    """What IMDS answers for autoscaling/target-lifecycle-state; None (404)
    for an instance in no group."""
    # A terminated instance keeps its last answer, as EC2's does while it
    # shuts down.
    if instance_id in WAITING or instance_id in ENDED:
        return "Terminated"
    for group in list(backend().autoscaling_groups.values()):
        for s in list(group.instance_states):
            if s.instance.id == instance_id:
                return "Standby" if s.lifecycle_state.startswith("Standby") else "InService"
    return None


def ctl_lifecycle(req):
    """The instances in Terminating:Wait and how finished waits ended."""
    with state.LOCK:
        return {"waiting": sorted(WAITING), "ended": dict(ENDED)}


FakeAutoScalingGroup.set_desired_capacity = set_desired_capacity


AutoScalingBackend.terminate_instance = terminate_instance


AutoScalingResponse.complete_lifecycle_action = complete_lifecycle_action


AutoScalingResponse.record_lifecycle_action_heartbeat = record_lifecycle_action_heartbeat


threading.Thread(target=expire_waits, daemon=True).start()
