//! ebs-grow's numbers for the metrics file: usage, devices, limits.
//!
//! Recorded as soon as a check knows them, so that a check that fails
//! later (AWS refusing a volume, say) still reports the mountpoint's state.

use super::run::Run;
use super::usage::Usage;
use crate::block::resolve::device_size;
use crate::metrics::gauge;
use std::path::PathBuf;

const GIB: u64 = 1 << 30;

/// The mountpoint's usage, device count, size and whether it can still
/// grow (no more volumes or no more total size under its settings).
pub(super) fn record(run: &Run, usage: &Usage, members: &[PathBuf]) {
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
    let total: u64 = members.iter().map(|m| device_size(m).unwrap_or(0)).sum();
    let at_limit = members.len() as u32 >= s.max_volumes
        || total >= (s.max_total_size_gib.max(0) as u64).saturating_mul(GIB);
    gauge(
        "ebs_grow_limit_reached",
        "1 when the filesystem cannot grow further (max_volumes or max_total_size_gib).",
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
