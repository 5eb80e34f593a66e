//! `ecs-node-guard check`: one look at the host (a timer's job).
//!
//! 1. Facts: the docker root's bytes and inodes, and the agent's answer
//!    (local only: a healthy check makes no AWS call). A probe that could
//!    not ask fails the run here, before any decision.
//! 2. [`verdict::decide`] with the state the last check left.
//! 3. Act: keep the state; on `Replace`, ask the circuit breaker (the
//!    group's members), drain if asked, mark the instance Unhealthy.

use super::group;
use super::health::{self, IntrospectionUrl};
use super::options::{now_secs, CheckOptions};
use super::verdict::{self, Facts, Limits, Verdict};
use crate::aws::Session;
use crate::cli::{CommonArgs, Report};
use crate::runlock::RunLock;
use crate::wait::Deadline;
use anyhow::Result;
use serde::Serialize;
use std::time::Duration;

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

/// The facts of one check, or the reason they could not be had.
pub fn observe(o: &CheckOptions, url: &IntrospectionUrl, timeout: Duration) -> Result<Facts> {
    Ok(Facts {
        now: now_secs(),
        docker_root: o.docker_root.display().to_string(),
        disk: health::disk_use(&o.docker_root)?,
        agent: health::agent_metadata(url, timeout)?,
    })
}

pub async fn check(common: &CommonArgs, o: &CheckOptions) -> Result<CheckReport> {
    // A URL that cannot be asked is bad input, before anything else.
    let url = IntrospectionUrl::parse(&o.introspection_url)?;
    let deadline = Deadline::after(common.timeout());
    let _lock = RunLock::acquire(&common.run_dir.join("ecs-node-guard.lock"), &deadline).await?;
    let state_path = health::state_path(&common.run_dir);
    let loaded = health::State::load(&state_path);
    let facts = observe(o, &url, deadline.remaining().min(Duration::from_secs(5)))?;
    let limits = Limits {
        max_disk_percent: o.max_disk_percent,
        max_inode_percent: o.max_inode_percent,
        registration_grace: o.registration_grace,
        failures: o.failures,
    };
    let decision = verdict::decide(&facts, loaded.as_ref(), &limits);
    if let Some(note) = &decision.note {
        log::info!("{note}");
    }
    for p in &decision.problems {
        log::warn!("{p}");
    }
    let state = decision.state;
    let mut report = CheckReport {
        verdict: "healthy".into(),
        problems: decision.problems,
        consecutive_failures: state.failures,
        failures_needed: o.failures,
        disk: Some(facts.disk),
        registered: facts.agent.registered(),
        drained: false,
        dry_run: common.dry_run,
    };
    // A steady healthy host writes nothing: the file changes only on the
    // first check of a boot and when the count moves.
    let keep = |state: &health::State| -> Result<()> {
        if common.dry_run || loaded.as_ref() == Some(state) {
            return Ok(());
        }
        state.save(&state_path)
    };
    match decision.verdict {
        Verdict::Healthy => {
            if loaded.as_ref().is_some_and(|s| s.failures > 0) {
                log::info!("healthy again after a failed check");
            }
            keep(&state)?;
            return Ok(report);
        }
        Verdict::AlreadyRequested => {
            report.verdict = "replacement-requested".into();
            keep(&state)?;
            return Ok(report);
        }
        Verdict::Failing => {
            report.verdict = "failing".into();
            log::info!(
                "failed check {} of {} before acting",
                state.failures,
                o.failures
            );
            keep(&state)?;
            return Ok(report);
        }
        Verdict::Replace => {}
    }
    // Persistently broken: ask the group to replace this instance.
    let session = Session::within(common.region.clone(), &deadline).await?;
    let me = session.instance_id().to_string();
    let asg = aws_sdk_autoscaling::Client::new(&session.aws.sdk_config);
    let name = group::group_of(&asg, &me).await?;
    let members = group::members(&asg, &name).await?;
    if let Err(why) = group::breaker_allows(&members, 1, o.group.max_unhealthy_share) {
        log::warn!("{me} is broken but stays: {why}");
        report.verdict = "held-by-circuit-breaker".into();
        keep(&state)?;
        return Ok(report);
    }
    report.verdict = "replacement-requested".into();
    if common.dry_run {
        log::info!("dry run: would mark {me} Unhealthy in {name}");
        return Ok(report);
    }
    if o.drain {
        if let Some(m) = facts.agent.metadata() {
            if let (Some(cluster), Some(arn)) = (&m.cluster, &m.container_instance_arn) {
                let ecs = aws_sdk_ecs::Client::new(&session.aws.sdk_config);
                let drain_deadline = deadline.sub(Duration::from_secs(o.drain_timeout));
                group::drain(&ecs, cluster, arn, &drain_deadline).await?;
                report.drained = true;
            }
        }
    }
    group::set_unhealthy(&asg, &me, o.group.respect_group_grace).await?;
    let mut state = state;
    state.replacement_requested = true;
    state.save(&state_path)?;
    Ok(report)
}
