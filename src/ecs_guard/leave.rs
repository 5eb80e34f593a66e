//! `ecs-node-guard leave`: drain, then deregister, on scale-in.
//!
//! Run when the group terminates this instance (`ExecStop=` of
//! mooring-ecs-drain.service, stopped before ecs.service so that the agent
//! still stops the tasks): the container instance is set DRAINING — ECS
//! stops its tasks, starting their replacements elsewhere for services —
//! and, once its running and pending tasks are gone or the drain's budget
//! is spent, deregistered. `mooring-leave watch` heartbeats the group's
//! hook meanwhile. Only this instance's own container instance (ECS says
//! which, by its EC2 instance ID) is ever touched.

use super::group;
use crate::aws::Session;
use crate::cli::{CommonArgs, Report};
use crate::exit::bad_input;
use crate::lifecycle::{self, When};
use crate::wait::Deadline;
use anyhow::Result;
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub struct LeaveOptions {
    /// The ECS cluster [default: ECS_CLUSTER in --ecs-config].
    #[arg(long, env = "ECS_GUARD_CLUSTER")]
    pub cluster: Option<String>,
    /// The agent's configuration file (for its ECS_CLUSTER).
    #[arg(
        long,
        env = "ECS_GUARD_ECS_CONFIG",
        default_value = "/etc/ecs/ecs.config"
    )]
    pub ecs_config: PathBuf,
    /// How long the drain may take, in seconds (within --timeout).
    #[arg(long, default_value_t = 600)]
    pub drain_timeout: u64,
    /// leaving: only when the group terminates this instance (IMDS);
    /// always: now (by hand).
    #[arg(long, value_enum, default_value = "leaving")]
    pub when: When,
}

#[derive(Debug, Clone, Serialize)]
pub struct LeaveReport {
    pub instance_id: String,
    /// staying (not terminated), left, not-registered
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_instance: Option<String>,
    pub drained: bool,
    pub dry_run: bool,
}

impl Report for LeaveReport {
    fn text(&self) -> String {
        let mut line = format!("{}: {}", self.instance_id, self.result);
        if let Some(arn) = &self.container_instance {
            line.push_str(&format!(
                " ({arn}{})",
                if self.drained { ", drained" } else { "" }
            ));
        }
        line
    }
}

/// ECS_CLUSTER as the agent's configuration file sets it.
pub fn cluster_in(text: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("ECS_CLUSTER="))
        .map(|v| v.trim().trim_matches('"').to_string())
        .rfind(|v| !v.is_empty())
}

fn cluster(o: &LeaveOptions) -> Result<String> {
    if let Some(c) = &o.cluster {
        return Ok(c.clone());
    }
    let path: &Path = &o.ecs_config;
    let text = std::fs::read_to_string(path).map_err(|e| {
        bad_input(format!(
            "no --cluster, and {} cannot be read: {e}",
            path.display()
        ))
    })?;
    cluster_in(&text).ok_or_else(|| {
        bad_input(format!(
            "no --cluster, and {} sets no ECS_CLUSTER",
            path.display()
        ))
    })
}

pub async fn leave(common: &CommonArgs, o: &LeaveOptions) -> Result<LeaveReport> {
    let cluster = cluster(o)?;
    if let Some(state) = lifecycle::gate(o.when, None).await? {
        log::info!(
            "the group is not terminating this instance ({}): staying in cluster {cluster}",
            state.as_str()
        );
        return Ok(LeaveReport {
            instance_id: String::new(),
            result: "staying".into(),
            container_instance: None,
            drained: false,
            dry_run: common.dry_run,
        });
    }
    let deadline = Deadline::after(common.timeout());
    let session = Session::within(common.region.clone(), &deadline).await?;
    let me = session.instance_id().to_string();
    let ecs = aws_sdk_ecs::Client::new(&session.aws.sdk_config);
    let mine = group::container_instances(&ecs, &cluster)
        .await?
        .into_iter()
        .find(|(_, ec2_id)| *ec2_id == me)
        .map(|(arn, _)| arn);
    let mut report = LeaveReport {
        instance_id: me.clone(),
        result: "not-registered".into(),
        container_instance: mine.clone(),
        drained: false,
        dry_run: common.dry_run,
    };
    let Some(arn) = mine else {
        log::info!("{me} is not a container instance of cluster {cluster} (deregistered already?)");
        return Ok(report);
    };
    if common.dry_run {
        log::info!("dry run: would drain and deregister {arn}");
        report.result = "would-leave".into();
        return Ok(report);
    }
    // The drain's budget leaves time to deregister.
    let budget = Duration::from_secs(o.drain_timeout)
        .min(deadline.remaining().saturating_sub(Duration::from_secs(10)));
    group::drain(&ecs, &cluster, &arn, &deadline.sub(budget)).await?;
    report.drained = true;
    group::deregister(&ecs, &cluster, &arn).await?;
    report.result = "left".into();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_is_read_from_ecs_config() {
        assert_eq!(cluster_in("ECS_CLUSTER=prod\n").as_deref(), Some("prod"));
        assert_eq!(
            cluster_in("A=1\nECS_CLUSTER=\"x\"\nECS_CLUSTER=y\n").as_deref(),
            Some("y")
        );
        assert_eq!(cluster_in("ECS_CLUSTER=\n"), None);
        assert_eq!(cluster_in(""), None);
    }
}
