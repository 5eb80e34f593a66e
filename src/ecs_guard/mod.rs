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

pub mod ecs_config;
pub mod group;
pub mod health;

use crate::aws::filter::FilterSpec;
use crate::aws::{AwsError, AwsOptions, Session};
use crate::cli::{print_report, CommonArgs, Report};
use crate::exit::bad_input;
use crate::runlock::RunLock;
use crate::wait::Deadline;
use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn session_options(common: &CommonArgs) -> AwsOptions {
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
        Command::Configure(o) => print_report(&configure(&cli.common, o).await?, format),
        Command::Check(o) => print_report(&check(&cli.common, o).await?, format),
        Command::Sweep(o) => print_report(&sweep(&cli.common, o).await?, format),
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// configure

#[derive(Debug, Clone, Serialize)]
pub struct ConfigureReport {
    pub instance_id: String,
    pub cluster: String,
    pub ecs_config_changed: bool,
    pub name: Option<String>,
    pub name_changed: bool,
    pub termination_protection_turned_off: bool,
    pub dry_run: bool,
}

impl Report for ConfigureReport {
    fn text(&self) -> String {
        let mut l = vec![format!(
            "{}: ECS_CLUSTER={} ({})",
            self.instance_id,
            self.cluster,
            if self.ecs_config_changed {
                "written"
            } else {
                "unchanged"
            }
        )];
        if let Some(n) = &self.name {
            l.push(format!(
                "Name: {n} ({})",
                if self.name_changed {
                    "set"
                } else {
                    "unchanged"
                }
            ));
        }
        if self.termination_protection_turned_off {
            l.push("termination protection: turned off".into());
        }
        l.join("\n")
    }
}

fn validate_cluster(name: &str) -> Result<()> {
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

pub async fn configure(common: &CommonArgs, o: &ConfigureOptions) -> Result<ConfigureReport> {
    let deadline = Deadline::after(common.timeout());
    let session = deadline
        .run(
            "instance metadata and AWS clients",
            Session::start(&session_options(common)),
        )
        .await?;
    let id = &session.identity;
    let me = id.instance_id.clone();
    let cluster = match &o.cluster {
        Some(c) => c.clone(),
        None => id.tag(&o.cluster_tag).map(str::to_string).ok_or_else(|| {
            bad_input(format!(
                "{me} has no tag {} in its instance metadata (are instance-metadata tags on?); pass --cluster",
                o.cluster_tag
            ))
        })?,
    };
    validate_cluster(&cluster)?;
    let ecs_config_changed =
        ecs_config::set_key(&o.ecs_config, "ECS_CLUSTER", &cluster, common.dry_run)?;
    let ec2 = session.ec2();
    let mut report = ConfigureReport {
        instance_id: me.clone(),
        cluster: cluster.clone(),
        ecs_config_changed,
        name: None,
        name_changed: false,
        termination_protection_turned_off: false,
        dry_run: common.dry_run,
    };
    if !o.name.is_empty() {
        let name = o
            .name
            .replace("{cluster}", &cluster)
            .replace("{instance_id}", &me);
        // The tags IMDS shows save a call; without them, ask EC2.
        let current = match &id.tags {
            Some(tags) => tags.get("Name").cloned(),
            None => crate::aws::instance::describe_instance(ec2, &me)
                .await?
                .and_then(|i| i.tags.get("Name").cloned()),
        };
        if current.as_deref() != Some(name.as_str()) {
            if !common.dry_run {
                ec2.create_tags()
                    .resources(&me)
                    .tags(
                        aws_sdk_ec2::types::Tag::builder()
                            .key("Name")
                            .value(&name)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| AwsError::new("CreateTags", format!("Name={name} on {me}"), e))?;
                log::info!("{me} is now named {name:?}");
            }
            report.name_changed = true;
        }
        report.name = Some(name);
    }
    if o.termination_protection_off {
        let out = ec2
            .describe_instance_attribute()
            .instance_id(&me)
            .attribute(aws_sdk_ec2::types::InstanceAttributeName::DisableApiTermination)
            .send()
            .await
            .map_err(|e| AwsError::new("DescribeInstanceAttribute", &me, e))?;
        let on = out
            .disable_api_termination()
            .and_then(|a| a.value())
            .unwrap_or(false);
        if on {
            if !common.dry_run {
                ec2.modify_instance_attribute()
                    .instance_id(&me)
                    .disable_api_termination(
                        aws_sdk_ec2::types::AttributeBooleanValue::builder()
                            .value(false)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| {
                        AwsError::new(
                            "ModifyInstanceAttribute",
                            format!("{me} termination protection off"),
                            e,
                        )
                    })?;
                log::warn!("{me} had termination protection on; turned it off (it keeps the group from replacing the instance)");
            }
            report.termination_protection_turned_off = true;
        }
    }
    Ok(report)
}

// ---------------------------------------------------------------------------
// check

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// healthy, failing, replacement-requested, held-by-circuit-breaker
    pub verdict: String,
    pub problems: Vec<String>,
    pub consecutive_failures: u32,
    pub failures_needed: u32,
    pub disk: Option<health::DiskUse>,
    pub registered: bool,
    pub drained: bool,
    pub dry_run: bool,
}

impl Report for CheckReport {
    fn text(&self) -> String {
        let mut l = vec![format!(
            "{} ({}/{} failed checks)",
            self.verdict, self.consecutive_failures, self.failures_needed
        )];
        l.extend(self.problems.iter().map(|p| format!("problem: {p}")));
        l.join("\n")
    }
}

pub async fn check(common: &CommonArgs, o: &CheckOptions) -> Result<CheckReport> {
    let deadline = Deadline::after(common.timeout());
    let _lock = RunLock::acquire(&common.run_dir.join("ecs-node-guard.lock"), &deadline).await?;
    let state_path = health::state_path(&common.run_dir);
    let now = now_secs();
    let loaded = health::State::load(&state_path);
    let mut state = loaded.clone().unwrap_or_else(|| health::State::fresh(now));
    let mut problems = Vec::new();
    let disk = match health::disk_use(&o.docker_root) {
        Ok(d) => {
            if d.bytes_percent > o.max_disk_percent {
                problems.push(format!(
                    "{} is {:.1}% full (limit {}%)",
                    o.docker_root.display(),
                    d.bytes_percent,
                    o.max_disk_percent
                ));
            }
            if d.inodes_percent > o.max_inode_percent {
                problems.push(format!(
                    "{} has {:.1}% of its inodes used (limit {}%)",
                    o.docker_root.display(),
                    d.inodes_percent,
                    o.max_inode_percent
                ));
            }
            Some(d)
        }
        Err(e) => {
            problems.push(format!("{e:#}"));
            None
        }
    };
    let timeout = deadline.remaining().min(Duration::from_secs(5));
    let metadata = health::agent_metadata(&o.introspection_url, timeout);
    let registered = metadata.as_ref().is_ok_and(|m| m.registered());
    if !registered {
        let waited = now.saturating_sub(state.first_check);
        let why = match &metadata {
            Ok(_) => "the ECS agent has no container instance yet".to_string(),
            Err(e) => format!("{e:#}"),
        };
        if waited >= o.registration_grace {
            problems.push(format!(
                "not registered {waited} s after the first check of this boot: {why}"
            ));
        } else {
            log::info!(
                "not registered yet ({why}); {} s of grace left",
                o.registration_grace - waited
            );
        }
    }
    let mut report = CheckReport {
        verdict: "healthy".into(),
        problems: problems.clone(),
        consecutive_failures: 0,
        failures_needed: o.failures,
        disk,
        registered,
        drained: false,
        dry_run: common.dry_run,
    };
    if problems.is_empty() {
        // Healthy: no AWS call at all.
        if state.failures > 0 {
            log::info!("healthy again after {} failed check(s)", state.failures);
        }
        state.failures = 0;
        state.last_failure = None;
        // A steady healthy host writes nothing either: the file changes only
        // on the first check of a boot and after failures.
        if !common.dry_run && loaded.as_ref() != Some(&state) {
            state.save(&state_path)?;
        }
        return Ok(report);
    }
    for p in &problems {
        log::warn!("{p}");
    }
    state.failures = state.failures.saturating_add(1);
    state.last_failure = Some(problems.join("; "));
    report.consecutive_failures = state.failures;
    if state.replacement_requested {
        report.verdict = "replacement-requested".into();
        if !common.dry_run {
            state.save(&state_path)?;
        }
        return Ok(report);
    }
    if state.failures < o.failures {
        report.verdict = "failing".into();
        log::info!(
            "failed check {} of {} before acting",
            state.failures,
            o.failures
        );
        if !common.dry_run {
            state.save(&state_path)?;
        }
        return Ok(report);
    }
    // Persistently broken: ask the group to replace this instance.
    let session = deadline
        .run(
            "instance metadata and AWS clients",
            Session::start(&session_options(common)),
        )
        .await?;
    let me = session.instance_id().to_string();
    let asg = aws_sdk_autoscaling::Client::new(&session.aws.sdk_config);
    let name = group::group_of(&asg, &me).await?;
    let members = group::members(&asg, &name).await?;
    if let Err(why) = group::breaker_allows(&members, 1, o.group.max_unhealthy_share) {
        log::warn!("{me} is broken but stays: {why}");
        report.verdict = "held-by-circuit-breaker".into();
        if !common.dry_run {
            state.save(&state_path)?;
        }
        return Ok(report);
    }
    if common.dry_run {
        log::info!("dry run: would mark {me} Unhealthy in {name}");
        report.verdict = "replacement-requested".into();
        return Ok(report);
    }
    if o.drain {
        if let Ok(m) = metadata.as_ref() {
            if let (Some(cluster), Some(arn)) = (&m.cluster, &m.container_instance_arn) {
                let ecs = aws_sdk_ecs::Client::new(&session.aws.sdk_config);
                let drain_deadline = deadline.sub(Duration::from_secs(o.drain_timeout));
                group::drain(&ecs, cluster, arn, &drain_deadline).await?;
                report.drained = true;
            }
        }
    }
    group::set_unhealthy(&asg, &me, o.group.respect_group_grace).await?;
    state.replacement_requested = true;
    state.save(&state_path)?;
    report.verdict = "replacement-requested".into();
    Ok(report)
}

// ---------------------------------------------------------------------------
// sweep

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
    let in_service: Vec<&group::Member> = members
        .iter()
        .filter(|m| m.lifecycle == "InService" && !group::leaving(m))
        .collect();
    // Launch times of the group's instances and the container instances'
    // EC2 instances, in one DescribeInstances (a filter: IDs that no
    // longer exist are simply absent, where a list of IDs would fail).
    let mut ids: Vec<String> = in_service.iter().map(|m| m.instance_id.clone()).collect();
    ids.extend(registered.iter().map(|(_, i)| i.clone()));
    ids.sort();
    ids.dedup();
    let alive = alive_instances(&ec2, &ids).await?;
    let now = SystemTime::now();
    let grace = Duration::from_secs(o.registration_grace);
    let unregistered: Vec<String> = in_service
        .iter()
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
    let orphaned: Vec<(String, String)> = registered
        .iter()
        .filter(|(_, i)| !alive.iter().any(|(a, _)| a == i))
        .cloned()
        .collect();
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
