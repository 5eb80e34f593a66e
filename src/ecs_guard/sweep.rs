//! `ecs-node-guard sweep`: the group and cluster tidied from outside.
//!
//! `ecs-node-guard sweep`: the group's instances that never registered are
//! marked Unhealthy, container instances whose EC2 instance is gone are
//! deregistered. Facts (the group, the cluster, one DescribeInstances), a
//! pure [`plan`], then the calls.

use super::group;
use super::options::{session_options, validate_cluster, SweepOptions};
use crate::aws::filter::FilterSpec;
use crate::aws::{AwsError, Session};
use crate::cli::{CommonArgs, Report};
use crate::exit::bad_input;
use crate::wait::Deadline;
use anyhow::{Context, Result};
use serde::Serialize;
use std::time::{Duration, SystemTime};

#[derive(Debug, Clone, Serialize)]
pub struct SweepReport {
    pub group: String,
    pub cluster: String,
    pub unregistered: Vec<String>,
    pub marked_unhealthy: Vec<String>,
    pub orphaned_container_instances: Vec<String>,
    pub deregistered: Vec<String>,
    pub held_by_circuit_breaker: Option<String>,
    pub dry_run: bool,
}

impl Report for SweepReport {
    fn text(&self) -> String {
        let mut l = vec![format!("group {} / cluster {}", self.group, self.cluster)];
        l.extend(
            self.unregistered
                .iter()
                .map(|i| format!("never registered: {i}")),
        );
        l.extend(
            self.marked_unhealthy
                .iter()
                .map(|i| format!("marked unhealthy: {i}")),
        );
        l.extend(
            self.orphaned_container_instances
                .iter()
                .map(|a| format!("orphaned container instance: {a}")),
        );
        l.extend(
            self.deregistered
                .iter()
                .map(|a| format!("deregistered: {a}")),
        );
        if let Some(b) = &self.held_by_circuit_breaker {
            l.push(b.clone());
        }
        l.join("\n")
    }
}

pub async fn sweep(common: &CommonArgs, o: &SweepOptions) -> Result<SweepReport> {
    validate_cluster(&o.cluster)?;
    let deadline = Deadline::after(common.timeout());
    let config = deadline
        .run("AWS clients", sweep_clients(common, o.group_name.is_none()))
        .await?;
    let (sdk, own_instance) = config;
    let asg = aws_sdk_autoscaling::Client::new(&sdk);
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let name = match (&o.group_name, &own_instance) {
        (Some(g), _) => g.clone(),
        (None, Some(me)) => group::group_of(&asg, me).await?,
        (None, None) => return Err(bad_input("pass --group-name")),
    };
    let members = group::members(&asg, &name).await?;
    let registered = group::container_instances(&ecs, &o.cluster).await?;
    // Launch times of the group's instances and the container instances'
    // EC2 instances, in one DescribeInstances (a filter: IDs that no
    // longer exist are simply absent, where a list of IDs would fail).
    let alive = alive_instances(&ec2, &to_look_up(&members, &registered)).await?;
    let Plan {
        unregistered,
        orphaned: suspects,
    } = plan(
        &members,
        &registered,
        &alive,
        SystemTime::now(),
        Duration::from_secs(o.registration_grace),
    );
    // Absent from a filtered list is not gone (EC2's lists are eventually
    // consistent): each suspect's instance is asked by its ID before its
    // container instance is deregistered.
    let orphaned = if suspects.is_empty() {
        Vec::new()
    } else {
        let ids: Vec<String> = suspects.iter().map(|(_, i)| i.clone()).collect();
        let gone = crate::aws::instance::proven_gone(&ec2, &ids).await?;
        let (proven, unproven): (Vec<_>, Vec<_>) =
            suspects.into_iter().partition(|(_, i)| gone.contains(i));
        for (arn, i) in &unproven {
            log::info!("{arn}: {i} is not in the list of live instances but EC2 still knows it; keeping it");
        }
        proven
    };
    let mut report = SweepReport {
        group: name.clone(),
        cluster: o.cluster.clone(),
        unregistered: unregistered.clone(),
        marked_unhealthy: Vec::new(),
        orphaned_container_instances: orphaned.iter().map(|(a, _)| a.clone()).collect(),
        deregistered: Vec::new(),
        held_by_circuit_breaker: None,
        dry_run: common.dry_run,
    };
    if !unregistered.is_empty() {
        match group::breaker_allows(&members, unregistered.len(), o.group.max_unhealthy_share) {
            Err(why) => {
                log::warn!("not marking {}: {why}", unregistered.join(", "));
                report.held_by_circuit_breaker = Some(why);
            }
            Ok(()) if common.dry_run => {
                log::info!("dry run: would mark {} Unhealthy", unregistered.join(", "));
            }
            Ok(()) => {
                for i in &unregistered {
                    group::set_unhealthy(&asg, i, o.group.respect_group_grace).await?;
                    report.marked_unhealthy.push(i.clone());
                }
            }
        }
    }
    for (arn, _) in &orphaned {
        if common.dry_run {
            log::info!("dry run: would deregister {arn}");
        } else {
            group::deregister(&ecs, &o.cluster, arn).await?;
            report.deregistered.push(arn.clone());
        }
    }
    Ok(report)
}

/// The group's members in service, not on their way out.
fn in_service(members: &[group::Member]) -> impl Iterator<Item = &group::Member> {
    members
        .iter()
        .filter(|m| m.lifecycle == "InService" && !group::leaving(m))
}

/// The instances whose launch time and existence the plan needs: those in
/// service and those behind a container instance.
fn to_look_up(members: &[group::Member], registered: &[(String, String)]) -> Vec<String> {
    let mut ids: Vec<String> = in_service(members).map(|m| m.instance_id.clone()).collect();
    ids.extend(registered.iter().map(|(_, i)| i.clone()));
    ids.sort();
    ids.dedup();
    ids
}

/// What a sweep does.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan {
    /// Instances in service, launched longer ago than the grace, that no
    /// container instance stands for: to mark Unhealthy.
    pub unregistered: Vec<String>,
    /// (container instance ARN, EC2 instance) whose instance is not among
    /// the live ones: to deregister once it is proven gone.
    pub orphaned: Vec<(String, String)>,
}

/// The sweep's policy. `alive` holds the instances that exist and are not
/// terminated, with their launch times; an instance of unknown launch time
/// is not marked (it may be new).
pub fn plan(
    members: &[group::Member],
    registered: &[(String, String)],
    alive: &[(String, Option<SystemTime>)],
    now: SystemTime,
    grace: Duration,
) -> Plan {
    let unregistered = in_service(members)
        .filter(|m| !registered.iter().any(|(_, i)| *i == m.instance_id))
        .filter(|m| {
            alive
                .iter()
                .find(|(i, _)| *i == m.instance_id)
                .and_then(|(_, launched)| *launched)
                .is_some_and(|t| now.duration_since(t).unwrap_or_default() >= grace)
        })
        .map(|m| m.instance_id.clone())
        .collect();
    let orphaned = registered
        .iter()
        .filter(|(_, i)| !alive.iter().any(|(a, _)| a == i))
        .cloned()
        .collect();
    Plan {
        unregistered,
        orphaned,
    }
}

/// The SDK configuration, and this instance's ID when it is needed (the
/// sweep may run off EC2 with --group-name).
async fn sweep_clients(
    common: &CommonArgs,
    need_instance: bool,
) -> Result<(aws_config::SdkConfig, Option<String>)> {
    let opts = session_options(common);
    if need_instance {
        let s = Session::start(&opts).await?;
        let me = s.instance_id().to_string();
        return Ok((s.aws.sdk_config, Some(me)));
    }
    let aws = crate::aws::Aws::connect(&opts, None)
        .await
        .context("AWS clients")?;
    Ok((aws.sdk_config, None))
}

/// Of `ids`, the instances that exist and are not terminated, with their
/// launch times.
async fn alive_instances(
    ec2: &aws_sdk_ec2::Client,
    ids: &[String],
) -> Result<Vec<(String, Option<SystemTime>)>> {
    let mut out = Vec::new();
    // A filter takes at most 200 values.
    for chunk in ids.chunks(200) {
        let filters = [
            FilterSpec::new("instance-id", chunk.to_vec()),
            FilterSpec::new(
                "instance-state-name",
                ["pending", "running", "stopping", "stopped"],
            ),
        ];
        let mut pages = ec2
            .describe_instances()
            .set_filters(Some(filters.iter().map(FilterSpec::to_ec2).collect()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| AwsError::new("DescribeInstances", "group instances", e))?;
            for i in page.reservations().iter().flat_map(|r| r.instances()) {
                out.push((
                    i.instance_id().unwrap_or_default().to_string(),
                    i.launch_time().and_then(|t| SystemTime::try_from(*t).ok()),
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, lifecycle: &str, health: &str) -> group::Member {
        group::Member {
            instance_id: id.into(),
            lifecycle: lifecycle.into(),
            health: health.into(),
        }
    }

    #[test]
    fn marks_only_old_unregistered_instances_and_deregisters_only_the_dead() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(100_000);
        let ago = |s: u64| Some(now - Duration::from_secs(s));
        let members = [
            member("i-ok", "InService", "Healthy"),
            member("i-old", "InService", "Healthy"),
            member("i-young", "InService", "Healthy"),
            member("i-unknown", "InService", "Healthy"),
            member("i-sick", "InService", "Unhealthy"),
            member("i-going", "Terminating", "Healthy"),
            member("i-pending", "Pending", "Healthy"),
        ];
        let registered = [
            ("arn:ok".to_string(), "i-ok".to_string()),
            ("arn:gone".to_string(), "i-gone".to_string()),
        ];
        let alive = [
            ("i-ok".to_string(), ago(5000)),
            ("i-old".to_string(), ago(5000)),
            ("i-young".to_string(), ago(60)),
            ("i-unknown".to_string(), None),
            ("i-sick".to_string(), ago(5000)),
            ("i-going".to_string(), ago(5000)),
        ];
        let p = plan(&members, &registered, &alive, now, Duration::from_secs(600));
        assert_eq!(p.unregistered, ["i-old"]);
        assert_eq!(p.orphaned, [("arn:gone".to_string(), "i-gone".to_string())]);
        assert_eq!(
            to_look_up(&members, &registered),
            ["i-gone", "i-ok", "i-old", "i-unknown", "i-young"]
        );
    }
}
