//! What an ebs-grow run reports on stdout.

use super::usage::{Decision, Usage};
use crate::cli::Report as ReportTrait;
use serde::Serialize;
use std::path::PathBuf;

/// One device of the filesystem.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceInfo {
    pub device: PathBuf,
    pub volume_id: Option<String>,
    pub size_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    pub command: &'static str,
    pub mountpoint: PathBuf,
    /// none, added, grown, adopted, initialised, already-initialised,
    /// torn-down, and with --dry-run: would-…
    pub action: String,
    pub dry_run: bool,
    pub volume_id: Option<String>,
    pub device: Option<PathBuf>,
    pub size_gib: Option<i32>,
    pub filesystem: Option<String>,
    pub uuid: Option<String>,
    pub before: Option<Usage>,
    pub after: Option<Usage>,
    pub decision: Option<Decision>,
    pub devices: Vec<DeviceInfo>,
    pub notes: Vec<String>,
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1} {}", UNITS[i])
}

fn usage_line(label: &str, u: &Usage) -> String {
    format!(
        "{label}: {} used of {} ({:.1}%), {} available",
        human(u.used_bytes),
        human(u.used_bytes + u.avail_bytes),
        u.used_percent(),
        human(u.avail_bytes)
    )
}

impl ReportTrait for Report {
    fn text(&self) -> String {
        let mut lines = vec![format!(
            "{} {}: {}",
            self.command,
            self.mountpoint.display(),
            self.action
        )];
        if let Some(v) = &self.volume_id {
            let mut l = format!("volume: {v}");
            if let Some(d) = &self.device {
                l.push_str(&format!(" at {}", d.display()));
            }
            if let Some(s) = self.size_gib {
                l.push_str(&format!(" ({s} GiB)"));
            }
            lines.push(l);
        }
        if let (Some(fs), Some(uuid)) = (&self.filesystem, &self.uuid) {
            lines.push(format!("filesystem: {fs} UUID={uuid}"));
        }
        if let Some(d) = &self.decision {
            for r in &d.reasons {
                lines.push(format!("reason: {r}"));
            }
        }
        if let Some(u) = &self.before {
            lines.push(usage_line("before", u));
        }
        if let Some(u) = &self.after {
            let label = if self.command == "status" {
                "usage"
            } else {
                "after"
            };
            lines.push(usage_line(label, u));
        }
        for d in &self.devices {
            lines.push(format!(
                "device: {} {} {}",
                d.device.display(),
                d.volume_id.as_deref().unwrap_or("-"),
                human(d.size_bytes)
            ));
        }
        for n in &self.notes {
            lines.push(format!("note: {n}"));
        }
        lines.join("\n")
    }
}
