//! The group's termination hook: find it, heartbeat it, complete it.
//!
//! A group with a lifecycle hook for `autoscaling:EC2_INSTANCE_TERMINATING`
//! holds a leaving instance in `Terminating:Wait` until the instance says
//! CONTINUE (or the hook's heartbeat timeout passes). Completing is done
//! once and idempotently: an instance that is no longer waiting (an
//! earlier run completed it, or the timeout did) is a success, so a rerun
//! after a crash never fails on its own earlier completion.

use crate::aws::AwsError;
use anyhow::Result;
use aws_sdk_autoscaling::Client;
use serde::Serialize;
use std::time::Duration;

pub const TERMINATING: &str = "autoscaling:EC2_INSTANCE_TERMINATING";

/// This instance's place in its group while it leaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leaving {
    pub instance_id: String,
    pub group: String,
    /// As Auto Scaling reports it: `Terminating:Wait`, `Terminating`, ...
    pub lifecycle_state: String,
    /// The group's termination hook; `None` without one (then nothing
    /// waits for this instance: it is shutting down already).
    pub hook: Option<Hook>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hook {
    pub name: String,
    pub heartbeat_timeout: Duration,
}

impl Leaving {
    /// Auto Scaling waits for this instance's word.
    pub fn waiting(&self) -> bool {
        self.hook.is_some() && self.lifecycle_state == "Terminating:Wait"
    }
}

/// This instance's group, its lifecycle state there and the group's
/// termination hook: DescribeAutoScalingInstances and, when it is in a
/// group, DescribeLifecycleHooks. `None`: the instance is in no group
/// (any more: a terminated instance leaves it).
pub async fn find(asg: &Client, instance_id: &str) -> Result<Option<Leaving>> {
    let Some(place) = crate::aws::asg::place_of(asg, instance_id).await? else {
        return Ok(None);
    };
    let group = place.group;
    let hooks = asg
        .describe_lifecycle_hooks()
        .auto_scaling_group_name(&group)
        .send()
        .await
        .map_err(|e| AwsError::new("DescribeLifecycleHooks", &group, e))?;
    let hook = hooks
        .lifecycle_hooks()
        .iter()
        .find(|h| h.lifecycle_transition() == Some(TERMINATING))
        .map(|h| Hook {
            name: h.lifecycle_hook_name().unwrap_or_default().to_string(),
            heartbeat_timeout: Duration::from_secs(
                u64::try_from(h.heartbeat_timeout().unwrap_or(3600)).unwrap_or(3600),
            ),
        });
    Ok(Some(Leaving {
        instance_id: instance_id.to_string(),
        group,
        lifecycle_state: place.lifecycle_state,
        hook,
    }))
}

/// Auto Scaling's answer when no action waits for this instance: already
/// completed, or the hook's timeout ended it.
fn no_action(e: &AwsError) -> bool {
    e.code_is("ValidationError") && e.detail.contains("No active Lifecycle Action")
}

/// Give the leave steps another heartbeat timeout. `false`: nothing waits
/// any more (completed, or timed out).
pub async fn heartbeat(asg: &Client, leaving: &Leaving, hook: &Hook) -> Result<bool> {
    let sent = asg
        .record_lifecycle_action_heartbeat()
        .auto_scaling_group_name(&leaving.group)
        .lifecycle_hook_name(&hook.name)
        .instance_id(&leaving.instance_id)
        .send()
        .await
        .map_err(|e| AwsError::new("RecordLifecycleActionHeartbeat", &leaving.instance_id, e));
    match sent {
        Ok(_) => Ok(true),
        Err(e) if no_action(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// How completing went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Completed {
    /// This call said CONTINUE.
    Now,
    /// Nothing waited any more: an earlier run (or the timeout) ended it.
    Already,
}

/// Tell Auto Scaling to go on terminating this instance (CONTINUE).
pub async fn complete(asg: &Client, leaving: &Leaving, hook: &Hook) -> Result<Completed> {
    let sent = asg
        .complete_lifecycle_action()
        .auto_scaling_group_name(&leaving.group)
        .lifecycle_hook_name(&hook.name)
        .instance_id(&leaving.instance_id)
        .lifecycle_action_result("CONTINUE")
        .send()
        .await
        .map_err(|e| AwsError::new("CompleteLifecycleAction", &leaving.instance_id, e));
    match sent {
        Ok(_) => Ok(Completed::Now),
        Err(e) if no_action(&e) => Ok(Completed::Already),
        Err(e) => Err(e.into()),
    }
}

/// How often to heartbeat a hook: a third of its timeout, so that two
/// lost heartbeats in a row still leave time; at least every 5 s apart.
pub fn heartbeat_every(hook: &Hook) -> Duration {
    (hook.heartbeat_timeout / 3).max(Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_come_three_times_per_timeout() {
        let hook = |s| Hook {
            name: "h".into(),
            heartbeat_timeout: Duration::from_secs(s),
        };
        assert_eq!(heartbeat_every(&hook(300)), Duration::from_secs(100));
        assert_eq!(heartbeat_every(&hook(30)), Duration::from_secs(10));
        assert_eq!(heartbeat_every(&hook(6)), Duration::from_secs(5));
    }

    #[test]
    fn only_a_hooked_instance_in_terminating_wait_is_waited_for() {
        let mut l = Leaving {
            instance_id: "i-1".into(),
            group: "g".into(),
            lifecycle_state: "Terminating:Wait".into(),
            hook: Some(Hook {
                name: "h".into(),
                heartbeat_timeout: Duration::from_secs(60),
            }),
        };
        assert!(l.waiting());
        l.lifecycle_state = "Terminating:Proceed".into();
        assert!(!l.waiting());
        l.lifecycle_state = "Terminating:Wait".into();
        l.hook = None;
        assert!(!l.waiting());
    }
}
