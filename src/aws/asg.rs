//! Auto Scaling groups: an instance's group, and the group's members.
//!
//! Auto Scaling groups: which group an instance belongs to, and the
//! group's members with their health and lifecycle.

use super::AwsError;
use anyhow::Result;
use aws_sdk_autoscaling::Client;
use serde::Serialize;

/// One instance of a group.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub instance_id: String,
    /// Healthy, Unhealthy
    pub health: String,
    /// Pending, InService, Standby, Terminating, Detaching, ...
    pub lifecycle: String,
}

impl Member {
    /// Terminating or detaching: no longer counted among the group.
    pub fn departing(&self) -> bool {
        self.lifecycle.starts_with("Terminat") || self.lifecycle.starts_with("Detach")
    }

    pub fn unhealthy(&self) -> bool {
        self.health.eq_ignore_ascii_case("Unhealthy")
    }
}

/// A group and its members.
#[derive(Debug, Clone)]
pub struct GroupInfo {
    pub name: String,
    pub desired: usize,
    pub members: Vec<Member>,
}

/// The tag Auto Scaling puts on each instance it launches.
pub const GROUP_NAME_TAG: &str = "aws:autoscaling:groupName";

/// The group this run's instance belongs to; `None` when it is in none.
/// Read from the instance's metadata tags when the launch template turned
/// them on (no API call), else asked of Auto Scaling.
pub async fn group_of_session(asg: &Client, session: &super::Session) -> Result<Option<String>> {
    if let Some(name) = session.tag(GROUP_NAME_TAG).await? {
        return Ok(Some(name));
    }
    group_of(asg, session.instance_id()).await
}

/// The group `instance_id` belongs to; `None` when it is in none.
pub async fn group_of(asg: &Client, instance_id: &str) -> Result<Option<String>> {
    Ok(place_of(asg, instance_id).await?.map(|p| p.group))
}

/// An instance's group and its lifecycle state there, as Auto Scaling
/// reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub group: String,
    /// InService, Terminating:Wait, Terminating, ...
    pub lifecycle_state: String,
}

/// Where `instance_id` is: one DescribeAutoScalingInstances. `None` when
/// it is in no group (any more: a terminated instance leaves it).
pub async fn place_of(asg: &Client, instance_id: &str) -> Result<Option<Place>> {
    let out = asg
        .describe_auto_scaling_instances()
        .instance_ids(instance_id)
        .send()
        .await
        .map_err(|e| AwsError::new("DescribeAutoScalingInstances", instance_id, e))?;
    Ok(out.auto_scaling_instances().first().map(|i| Place {
        group: i.auto_scaling_group_name().unwrap_or_default().to_string(),
        lifecycle_state: i.lifecycle_state().unwrap_or_default().to_string(),
    }))
}

/// Group `name` with its members.
pub async fn describe_group(asg: &Client, name: &str) -> Result<GroupInfo> {
    let out = asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .map_err(|e| AwsError::new("DescribeAutoScalingGroups", name, e))?;
    let g = out
        .auto_scaling_groups()
        .first()
        .ok_or_else(|| crate::exit::bad_input(format!("no Auto Scaling group {name}")))?;
    Ok(GroupInfo {
        name: name.to_string(),
        desired: usize::try_from(g.desired_capacity().unwrap_or(0)).unwrap_or(0),
        members: g
            .instances()
            .iter()
            .map(|i| Member {
                instance_id: i.instance_id().unwrap_or_default().to_string(),
                health: i.health_status().unwrap_or_default().to_string(),
                lifecycle: i
                    .lifecycle_state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            })
            .collect(),
    })
}
