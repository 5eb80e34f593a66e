//! `ebs-grow check`: one look at the mountpoint; a growth when low.
//!
//! 1. Facts: the mount, its members, usage, the last sample, the journal.
//! 2. Decide: `usage::decide` (pure, table-tested).
//! 3. Act: `grow` — finish an interrupted growth first (a volume of ours
//!    that is available is attached, one attached but not in the
//!    filesystem is added), then add a volume or grow one in place.

use super::fs;
use super::grow::grow;
use super::report::Report;
use super::run::Run;
use super::state::{now_ms, Pending};
use super::usage::{self, Sample};
use crate::block::mount::mounted_at;
use anyhow::{anyhow, Result};

/// A rate estimated over less than this is noise.
const MIN_SAMPLE_GAP_MS: u64 = 1000;

pub async fn check(run: &Run) -> Result<Report> {
    let s = &run.settings;
    let _lock = run.lock().await?;
    let mount = mounted_at(&s.mountpoint)?.ok_or_else(|| {
        anyhow!(
            "{} is not mounted: run `ebs-grow init` first",
            s.mountpoint.display()
        )
    })?;
    if mount.fstype != s.fs.mount_type() {
        return Err(crate::exit::bad_input(format!(
            "{} holds {}, not {} as configured",
            s.mountpoint.display(),
            mount.fstype,
            s.fs
        )));
    }
    let members = fs::members(s.fs, &mount.source, &run.vg())?;
    let before = usage::measure(s.fs, &s.mountpoint, &mount.source)?;
    super::gauges::record(run, &before, &members);
    let files = run.files();
    let now = now_ms();
    let prev = files.sample();
    let fresh_sample = prev.is_none_or(|p| now.saturating_sub(p.at_ms) >= MIN_SAMPLE_GAP_MS);
    let rate_base = if fresh_sample { prev } else { None };
    let decision = usage::decide(s, &before, members.len() as u32, rate_base, now);
    if fresh_sample && !run.dry_run() {
        files.save_sample(&Sample {
            at_ms: now,
            used_bytes: before.used_bytes,
            total_bytes: before.total_bytes,
        })?;
    }
    let mut report = Report {
        command: "check",
        mountpoint: s.mountpoint.clone(),
        dry_run: run.dry_run(),
        filesystem: Some(s.fs.to_string()),
        before: Some(before),
        ..Default::default()
    };
    let pending = files.pending();
    if !decision.grow && pending.is_none() {
        log::debug!("{:.1}% used: nothing to do", decision.used_percent);
        report.action = "none".into();
        report.decision = Some(decision);
        return Ok(report);
    }
    match &pending {
        Some(p) => log::info!(
            "finishing a growth of {} begun at {} ms",
            s.mountpoint.display(),
            p.since_ms
        ),
        None => log::info!(
            "{} needs room: {}",
            s.mountpoint.display(),
            decision.reasons.join("; ")
        ),
    }
    if !run.dry_run() {
        files.begin(&Pending {
            since_ms: pending.as_ref().map_or(now, |p| p.since_ms),
            what: decision.reasons.join("; "),
        })?;
    }
    let session = run.session().await?;
    let grown = grow(run, &session, &mount, &members, decision.grow, &before).await?;
    if !run.dry_run() {
        files.finish()?;
        if matches!(grown.action.as_str(), "added" | "grown") {
            files.record_growth(now_ms())?;
        }
    }
    report.action = grown.action;
    report.volume_id = grown.volume_id;
    report.device = grown.device;
    report.size_gib = grown.size_gib;
    report.notes = grown.notes;
    report.decision = Some(decision);
    if !run.dry_run() {
        let after = usage::measure(s.fs, &s.mountpoint, &mount.source)?;
        // The next check measures its rate from here, not from before the
        // growth (a growth's own metadata is not a fill rate).
        files.save_sample(&Sample {
            at_ms: now_ms(),
            used_bytes: after.used_bytes,
            total_bytes: after.total_bytes,
        })?;
        if crate::metrics::enabled() {
            let members = fs::members(s.fs, &mount.source, &run.vg())?;
            super::gauges::record(run, &after, &members);
        }
        report.after = Some(after);
    }
    Ok(report)
}
