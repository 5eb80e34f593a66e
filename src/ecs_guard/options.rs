//! ecs-node-guard's flags, and the small helpers every command shares.

use crate::aws::AwsOptions;
use crate::cli::CommonArgs;
use crate::exit::bad_input;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Args)]
pub struct ConfigureOptions {
    /// The ECS cluster [default: the instance's tag --cluster-tag, from
    /// instance-metadata tags].
    #[arg(long, env = "ECS_GUARD_CLUSTER")]
    pub cluster: Option<String>,
    /// The instance tag that names the cluster when --cluster is not given.
    #[arg(long, env = "ECS_GUARD_CLUSTER_TAG", default_value = "ecs-cluster")]
    pub cluster_tag: String,
    /// The agent's configuration file.
    #[arg(
        long,
        env = "ECS_GUARD_ECS_CONFIG",
        default_value = "/etc/ecs/ecs.config"
    )]
    pub ecs_config: PathBuf,
    /// Set the Name tag to this, with {cluster} and {instance_id}
    /// replaced (e.g. "{cluster} ECS {instance_id}"); empty: leave it.
    #[arg(long, env = "ECS_GUARD_NAME", default_value = "")]
    pub name: String,
    /// Make sure termination protection is off (it keeps the group from
    /// replacing the instance).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub termination_protection_off: bool,
}

#[derive(Debug, Clone, Args)]
pub struct CheckOptions {
    /// Docker's data root.
    #[arg(long, env = "ECS_GUARD_DOCKER_ROOT", default_value = "/var/lib/docker")]
    pub docker_root: PathBuf,
    /// Unhealthy above this share of bytes used (percent).
    #[arg(long, default_value_t = 90.0)]
    pub max_disk_percent: f64,
    /// Unhealthy above this share of inodes used (percent).
    #[arg(long, default_value_t = 90.0)]
    pub max_inode_percent: f64,
    /// The ECS agent's introspection endpoint.
    #[arg(
        long,
        env = "ECS_GUARD_INTROSPECTION_URL",
        default_value = "http://localhost:51678/v1/metadata"
    )]
    pub introspection_url: String,
    /// How long after the first check of this boot the agent may take to
    /// register, in seconds.
    #[arg(long, default_value_t = 600)]
    pub registration_grace: u64,
    /// Act only after this many consecutive failed checks.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub failures: u32,
    /// Drain the container instance (ECS DRAINING) before asking for the
    /// replacement.
    #[arg(long)]
    pub drain: bool,
    /// How long a drain may take, in seconds (within --timeout).
    #[arg(long, default_value_t = 240)]
    pub drain_timeout: u64,
    #[command(flatten)]
    pub group: GroupOptions,
}

#[derive(Debug, Clone, Args)]
pub struct GroupOptions {
    /// The circuit breaker: no action when more than this share of the
    /// group (0-1) would be unhealthy or leaving.
    #[arg(long, default_value_t = 0.25)]
    pub max_unhealthy_share: f64,
    /// Let the group's health-check grace period delay the replacement
    /// (the guard keeps a grace of its own).
    #[arg(long)]
    pub respect_group_grace: bool,
}

#[derive(Debug, Clone, Args)]
pub struct SweepOptions {
    /// The Auto Scaling group [default: this instance's].
    #[arg(long, env = "ECS_GUARD_GROUP")]
    pub group_name: Option<String>,
    /// The ECS cluster.
    #[arg(long, env = "ECS_GUARD_CLUSTER")]
    pub cluster: String,
    /// An instance launched longer ago than this (seconds) must be
    /// registered.
    #[arg(long, default_value_t = 600)]
    pub registration_grace: u64,
    #[command(flatten)]
    pub group: GroupOptions,
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn session_options(common: &CommonArgs) -> AwsOptions {
    AwsOptions {
        region: common.region.clone(),
        ..Default::default()
    }
}

pub fn validate_cluster(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(bad_input(format!(
            "ECS cluster name {name:?} must be 1-255 letters, digits, '-' or '_'"
        )))
    }
}
