//! px-volume-claim's report and the environment file the service reads.

use crate::cli::Report;
use crate::envfile::EnvFile;
use crate::turn;
use anyhow::Result;
use serde::Serialize;
use std::path::PathBuf;

/// One template's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Claimed {
    pub template: String,
    /// reused, claimed, created, storage-less
    pub outcome: String,
    pub volume_id: Option<String>,
    pub device: Option<PathBuf>,
    /// The device is blank: the service initialises it. A volume that is
    /// not new carries the cluster's state.
    pub new: bool,
    /// Volumes of this cluster and template, in any state, before the run.
    pub count_before: usize,
    pub max_count: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClaimReport {
    pub instance_id: String,
    pub cluster_id: String,
    pub storageless: bool,
    /// This instance's place in its Auto Scaling group, on a first run in
    /// this boot of an instance in a group.
    pub turn: Option<turn::Turn>,
    pub templates: Vec<Claimed>,
    pub env_file: Option<PathBuf>,
    pub dry_run: bool,
}

impl Report for ClaimReport {
    fn text(&self) -> String {
        let mut lines = Vec::new();
        for c in &self.templates {
            match &c.volume_id {
                Some(v) => lines.push(format!(
                    "{}: {} {v}{} at {}",
                    c.template,
                    c.outcome,
                    if c.new { " (new, blank)" } else { "" },
                    c.device
                        .as_ref()
                        .map(|d| d.display().to_string())
                        .unwrap_or_else(|| "?".into())
                )),
                None => lines.push(format!(
                    "{}: storage-less ({} of {} volumes exist, none free)",
                    c.template, c.count_before, c.max_count
                )),
            }
        }
        if self.storageless {
            lines.push(format!("{}: storage-less node", self.instance_id));
        }
        if let Some(e) = &self.env_file {
            lines.push(format!("env file: {}", e.display()));
        }
        lines.join("\n")
    }
}

/// The service's environment file.
pub fn env_file(report: &ClaimReport) -> Result<EnvFile> {
    let held: Vec<&Claimed> = report
        .templates
        .iter()
        .filter(|c| c.volume_id.is_some())
        .collect();
    let join = |f: &dyn Fn(&Claimed) -> Option<String>| {
        held.iter()
            .filter_map(|c| f(c))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let device = |c: &Claimed| c.device.as_ref().map(|d| d.display().to_string());
    let mut env = EnvFile::new();
    env.set("PX_CLUSTER_ID", &report.cluster_id)?
        .set(
            "PX_CLAIM_STORAGELESS",
            if report.storageless { "true" } else { "false" },
        )?
        .set("PX_CLAIM_VOLUMES", join(&|c| c.volume_id.clone()))?
        .set("PX_CLAIM_DEVICES", join(&device))?
        .set(
            "PX_CLAIM_NEW_VOLUMES",
            join(&|c| c.new.then(|| c.volume_id.clone()).flatten()),
        )?
        .set(
            "PX_CLAIM_DEVICE_ARGS",
            join(&|c| device(c).map(|d| format!("-s {d}"))),
        )?;
    Ok(env)
}

impl ClaimReport {
    /// What this instance holds, for the metrics file: a count per
    /// cluster, whether it runs storage-less, and one info sample per
    /// held volume (its ID and how it came to hold it).
    pub fn record_gauges(&self) {
        use crate::metrics::gauge;
        let cluster = [("cluster", self.cluster_id.as_str())];
        let held: Vec<&Claimed> = self
            .templates
            .iter()
            .filter(|c| c.volume_id.is_some())
            .collect();
        gauge(
            "px_volumes_held",
            "Volumes this instance holds for the storage service.",
            &cluster,
            held.len() as f64,
        );
        gauge(
            "px_storageless",
            "1 when the instance runs storage-less (no volume free or creatable).",
            &cluster,
            if self.storageless { 1.0 } else { 0.0 },
        );
        for c in held {
            gauge(
                "px_volume_held_info",
                "A volume this instance holds: its template, ID and outcome (claimed, created, reused).",
                &[
                    ("cluster", self.cluster_id.as_str()),
                    ("template", c.template.as_str()),
                    ("volume_id", c.volume_id.as_deref().unwrap_or_default()),
                    ("outcome", c.outcome.as_str()),
                ],
                1.0,
            );
        }
    }
}
