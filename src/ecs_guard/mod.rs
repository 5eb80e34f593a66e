//! ecs-node-guard: ECS container hosts that configure themselves and are
//! replaced by their Auto Scaling group when broken.
//!
//! - `configure` (ExecStartPre= of ecs.service): ECS_CLUSTER in
//!   /etc/ecs/ecs.config, the Name tag, termination protection off.
//! - `check` (a timer): disk and registration, from local facts only; a
//!   failure that persists for N checks marks the instance Unhealthy in its
//!   group (after an optional drain), unless the circuit breaker holds.
//! - `sweep` (any host, or a scheduled task): instances of the group that
//!   never registered are marked Unhealthy; container instances whose EC2
//!   instance is gone are deregistered.

pub mod check;
pub mod configure;
pub mod ecs_config;
pub mod group;
pub mod health;
pub mod sweep;
pub mod verdict;

use crate::aws::AwsOptions;
use crate::cli::{print_report, CommonArgs};
use crate::exit::bad_input;
use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Parser)]
#[command(
    name = "ecs-node-guard",
    version,
    about = "Configure an ECS container host, and have its Auto Scaling group replace it when it is broken",
    max_term_width = 80
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write ECS_CLUSTER into ecs.config, set the Name tag, turn
    /// termination protection off (ExecStartPre= of ecs.service).
    Configure(ConfigureOptions),
    /// Check disk and registration; have a persistently broken host
    /// replaced (from a timer).
    Check(CheckOptions),
    /// Mark the group's never-registered instances Unhealthy, deregister
    /// container instances whose EC2 instance is gone.
    Sweep(SweepOptions),
}

#[derive(Debug, Clone, Args)]
pub struct ConfigureOptions {
    /// The ECS cluster [default: the instance's tag --cluster-tag, from
    /// instance-metadata tags].
    #[arg(long, env = "ECS_GUARD_CLUSTER")]
    pub cluster: Option<String>,
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

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) fn session_options(common: &CommonArgs) -> AwsOptions {
    AwsOptions {
        region: common.region.clone(),
        ..Default::default()
    }
}

/// The program's main: `args` as the process got them, its name first
/// (`ecs-node-guard` whether run by that name or as `mooring ecs-node-guard`).
pub fn main(args: Vec<std::ffi::OsString>) -> ! {
    let cli = Cli::parse_from(args);
    crate::cli::main(cli.common.verbose, cli.common.quiet, run(cli))
}

pub async fn run(cli: Cli) -> Result<()> {
    let format = cli.common.output;
    match &cli.command {
        Command::Configure(o) => print_report(&configure::configure(&cli.common, o).await?, format),
        Command::Check(o) => print_report(&check::check(&cli.common, o).await?, format),
        Command::Sweep(o) => print_report(&sweep::sweep(&cli.common, o).await?, format),
    }
    Ok(())
}

pub(crate) fn validate_cluster(name: &str) -> Result<()> {
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
