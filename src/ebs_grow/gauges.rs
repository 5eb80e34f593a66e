//! ebs-grow's numbers for the metrics file: usage, devices, limits.
//!
//! Recorded as soon as a check knows them, so that a check that fails
//! later (AWS refusing a volume, say) still reports the mountpoint's state;
//! and only when the run writes a metrics file: an idle check sizes no
//! device and reads no state for numbers nobody asked for.

use super::add::members_bytes;
use super::run::Run;
use super::usage::{next_volume_gib, Usage};
use crate::metrics::gauge;
use std::path::PathBuf;

/// The mountpoint's usage, device count, size, whether a volume may still
/// be added (the same rule as the growth's), and its last growth.
pub(super) fn record(run: &Run, usage: &Usage, members: &[PathBuf]) {
    if !crate::metrics::enabled() {
        return;
    }
    let s = &run.settings;
    let mountpoint = s.mountpoint.to_string_lossy().into_owned();
    let labels = [("mountpoint", mountpoint.as_str())];
    gauge(
        "ebs_grow_used_ratio",
        "Used share of what the filesystem can hold (used / (used + available)).",
        &labels,
        usage.used_percent() / 100.0,
    );
    gauge(
        "ebs_grow_size_bytes",
        "Size of the filesystem (used + available).",
        &labels,
        (usage.used_bytes + usage.avail_bytes) as f64,
    );
    gauge(
        "ebs_grow_devices",
        "Block devices (EBS volumes) the filesystem spans.",
        &labels,
        members.len() as f64,
    );
    let at_limit = next_volume_gib(s, members.len() as u32, members_bytes(members)).is_err();
    gauge(
        "ebs_grow_limit_reached",
        "1 when no volume may be added (max_volumes or max_total_size_gib).",
        &labels,
        if at_limit { 1.0 } else { 0.0 },
    );
    if let Some(ms) = run.files().last_growth() {
        gauge(
            "ebs_grow_last_growth_timestamp_seconds",
            "When ebs-grow last added or grew a volume here, in seconds since the Unix epoch.",
            &labels,
            ms as f64 / 1000.0,
        );
    }
}
