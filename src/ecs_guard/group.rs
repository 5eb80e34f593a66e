//! ecs-node-guard's Auto Scaling and ECS calls.
//!
//! The Auto Scaling group and ECS cluster side: who is in the group, how
//! many are already unhealthy (the circuit breaker), marking an instance
//! Unhealthy so that the group replaces it, draining and deregistering
//! container instances.

use crate::aws::AwsError;
use crate::wait::Deadline;
use anyhow::{anyhow, Result};
use aws_sdk_autoscaling::Client as Asg;
use aws_sdk_ecs::types::ContainerInstanceStatus;
use aws_sdk_ecs::Client as Ecs;
use std::time::Duration;

pub use crate::aws::asg::Member;

/// Already on its way out: unhealthy, or leaving the group (terminating,
/// detaching, standing by).
pub fn leaving(m: &Member) -> bool {
    m.unhealthy() || m.departing() || m.lifecycle.starts_with("Standby")
}

/// The group `instance_id` belongs to.
pub async fn group_of(asg: &Asg, instance_id: &str) -> Result<String> {
    crate::aws::asg::group_of(asg, instance_id)
        .await?
        .ok_or_else(|| {
            crate::exit::bad_input(format!(
                "{instance_id} is not in an Auto Scaling group: nothing would replace it"
            ))
        })
}

/// The members of group `name`.
pub async fn members(asg: &Asg, name: &str) -> Result<Vec<Member>> {
    Ok(crate::aws::asg::describe_group(asg, name).await?.members)
}

/// The circuit breaker: acting on `adding` more instances is allowed only
/// while the share of the group already leaving, counting them, stays at
/// or below `max_share`. When ECS itself is down, every host fails its
/// check at once; this keeps the fleet.
pub fn breaker_allows(members: &[Member], adding: usize, max_share: f64) -> Result<(), String> {
    let total = members.len().max(1);
    let leaving = members.iter().filter(|m| leaving(m)).count();
    let share = (leaving + adding) as f64 / total as f64;
    if share > max_share {
        Err(format!(
            "circuit breaker: {leaving} of {total} instances are already unhealthy or leaving; \
             {adding} more would make {:.0}% (limit {:.0}%)",
            share * 100.0,
            max_share * 100.0
        ))
    } else {
        Ok(())
    }
}

/// Mark `instance_id` Unhealthy: the group replaces it.
pub async fn set_unhealthy(asg: &Asg, instance_id: &str, respect_grace: bool) -> Result<()> {
    asg.set_instance_health()
        .instance_id(instance_id)
        .health_status("Unhealthy")
        .should_respect_grace_period(respect_grace)
        .send()
        .await
        .map_err(|e| AwsError::new("SetInstanceHealth", format!("{instance_id} Unhealthy"), e))?;
    log::warn!(
        message_id = crate::logging::events::INSTANCE_REPLACED;
        "{instance_id} marked Unhealthy: its Auto Scaling group will replace it"
    );
    Ok(())
}

/// Set a container instance DRAINING and wait (bounded) until its tasks
/// are gone. A wait that runs out is logged, not fatal: the replacement
/// matters more than a clean drain.
pub async fn drain(ecs: &Ecs, cluster: &str, arn: &str, deadline: &Deadline) -> Result<()> {
    ecs.update_container_instances_state()
        .cluster(cluster)
        .container_instances(arn)
        .status(ContainerInstanceStatus::Draining)
        .send()
        .await
        .map_err(|e| {
            AwsError::new(
                "UpdateContainerInstancesState",
                format!("{arn} DRAINING"),
                e,
            )
        })?;
    log::info!("{arn} is draining");
    let waited = deadline
        .poll(
            format!("the tasks of {arn} to drain"),
            Duration::from_secs(2),
            Duration::from_secs(15),
            || async {
                let out = ecs
                    .describe_container_instances()
                    .cluster(cluster)
                    .container_instances(arn)
                    .send()
                    .await
                    .map_err(|e| AwsError::new("DescribeContainerInstances", arn, e))?;
                let running = out
                    .container_instances()
                    .first()
                    .map(|c| c.running_tasks_count() + c.pending_tasks_count())
                    .ok_or_else(|| anyhow!("{arn} is not in cluster {cluster}"))?;
                Ok((running == 0).then_some(()))
            },
        )
        .await;
    match waited {
        Ok(()) => Ok(()),
        Err(e) if e.is::<crate::wait::TimedOut>() => {
            log::warn!("{e:#}; replacing it anyway");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Every container instance of `cluster`: (ARN, EC2 instance ID).
pub async fn container_instances(ecs: &Ecs, cluster: &str) -> Result<Vec<(String, String)>> {
    let mut arns = Vec::new();
    let mut pages = ecs
        .list_container_instances()
        .cluster(cluster)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::new("ListContainerInstances", cluster, e))?;
        arns.extend(page.container_instance_arns().iter().cloned());
    }
    let mut out = Vec::new();
    // DescribeContainerInstances takes at most 100 at a time.
    for chunk in arns.chunks(100) {
        let d = ecs
            .describe_container_instances()
            .cluster(cluster)
            .set_container_instances(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::new("DescribeContainerInstances", cluster, e))?;
        out.extend(d.container_instances().iter().map(|c| {
            (
                c.container_instance_arn().unwrap_or_default().to_string(),
                c.ec2_instance_id().unwrap_or_default().to_string(),
            )
        }));
    }
    Ok(out)
}

pub async fn deregister(ecs: &Ecs, cluster: &str, arn: &str) -> Result<()> {
    ecs.deregister_container_instance()
        .cluster(cluster)
        .container_instance(arn)
        .force(true)
        .send()
        .await
        .map_err(|e| AwsError::new("DeregisterContainerInstance", arn, e))?;
    log::warn!("deregistered {arn}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(health: &str, lifecycle: &str) -> Member {
        Member {
            instance_id: "i-1".into(),
            health: health.into(),
            lifecycle: lifecycle.into(),
        }
    }

    #[test]
    fn breaker_counts_unhealthy_and_leaving() {
        let group = vec![
            m("Healthy", "InService"),
            m("Healthy", "InService"),
            m("Unhealthy", "InService"),
            m("Healthy", "Terminating"),
        ];
        // 2 of 4 leaving already; one more is 75%.
        assert!(breaker_allows(&group, 1, 0.5).is_err());
        assert!(breaker_allows(&group, 1, 0.75).is_ok());
        let healthy = vec![m("Healthy", "InService"); 4];
        assert!(breaker_allows(&healthy, 1, 0.25).is_ok());
        assert!(breaker_allows(&healthy, 2, 0.25).is_err());
    }
}
