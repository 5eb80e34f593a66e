//! smilodon-attach's report: what a run did, as text or JSON.

use super::claim::Released;
use super::node::Filesystem;
use super::pairs::Problem;
use crate::cli::Report;
use serde::Serialize;
use std::path::PathBuf;

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AttachReport {
    pub instance_id: String,
    pub availability_zone: String,
    /// reused, completed, claimed, idle
    pub outcome: String,
    pub node_id: Option<String>,
    pub volume_id: Option<String>,
    pub device: Option<PathBuf>,
    pub eni_id: Option<String>,
    pub mac: Option<String>,
    pub interface: Option<String>,
    pub ip: Option<String>,
    pub mountpoint: Option<PathBuf>,
    pub filesystem: Option<Filesystem>,
    pub node_id_file: Option<PathBuf>,
    pub env_file: Option<PathBuf>,
    pub released: Vec<Released>,
    /// NodeIDs another instance took while this run tried them.
    pub lost_races: Vec<String>,
    pub problems: Vec<Problem>,
    pub pairs_seen: usize,
    /// This instance's place in its Auto Scaling group, when its group was
    /// booting together.
    pub turn: Option<crate::turn::Turn>,
    pub dry_run: bool,
}

impl Report for AttachReport {
    fn text(&self) -> String {
        let mut lines = Vec::new();
        match &self.node_id {
            Some(id) => lines.push(format!(
                "{}: NodeID {id} {} ({} + {})",
                self.instance_id,
                self.outcome,
                self.volume_id.as_deref().unwrap_or("?"),
                self.eni_id.as_deref().unwrap_or("?")
            )),
            None => lines.push(format!(
                "{}: idle, no free pair among {} in {}",
                self.instance_id, self.pairs_seen, self.availability_zone
            )),
        }
        if let Some(d) = &self.device {
            lines.push(format!("device: {}", d.display()));
        }
        if let (Some(i), Some(ip)) = (&self.interface, &self.ip) {
            lines.push(format!(
                "interface: {i} ({}) {ip}",
                self.mac.as_deref().unwrap_or("?")
            ));
        }
        if let (Some(m), Some(f)) = (&self.mountpoint, &self.filesystem) {
            let made = if f.created { ", made now" } else { "" };
            lines.push(format!(
                "mounted: {} ({} {}{made})",
                m.display(),
                f.fstype,
                f.uuid
            ));
        }
        for r in &self.released {
            lines.push(format!(
                "released: {} (NodeID {}: {})",
                r.resource, r.node_id, r.why
            ));
        }
        if let Some(e) = &self.env_file {
            lines.push(format!("env file: {}", e.display()));
        }
        lines.join("\n")
    }
}

impl AttachReport {
    /// The pair this instance holds, for the metrics file: 1 or 0 (a
    /// spare), and one info sample naming the node, volume and ENI.
    pub fn record_gauges(&self) {
        use crate::metrics::gauge;
        gauge(
            "smilodon_pair_held",
            "1 when this instance holds a node's EBS + ENI pair, 0 on a spare.",
            &[],
            if self.node_id.is_some() { 1.0 } else { 0.0 },
        );
        if let Some(node) = &self.node_id {
            gauge(
                "smilodon_pair_info",
                "The pair this instance holds: node ID, volume and ENI.",
                &[
                    ("node_id", node.as_str()),
                    ("volume_id", self.volume_id.as_deref().unwrap_or_default()),
                    ("eni_id", self.eni_id.as_deref().unwrap_or_default()),
                ],
                1.0,
            );
        }
    }
}
