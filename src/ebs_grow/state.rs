//! What one ebs-grow check leaves for the next: a sample, a journal.
//!
//! What one check leaves for the next: the last usage sample (in the run
//! directory: losing it at reboot only costs one rate estimate) and the
//! growth journal (in the state directory, fsynced: a growth interrupted
//! by a crash or reboot is finished by the next run, even when the disk no
//! longer looks full).

use super::usage::Sample;
use crate::fsutil::atomic_write;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A growth that started and has not been seen to finish.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Pending {
    pub since_ms: u64,
    pub what: String,
}

pub struct Files {
    sample: PathBuf,
    journal: PathBuf,
    grown: PathBuf,
}

impl Files {
    pub fn new(run_dir: &Path, state_dir: &Path, name: &str) -> Files {
        Files {
            sample: run_dir.join("ebs-grow").join(format!("{name}.sample")),
            journal: state_dir.join("ebs-grow").join(format!("{name}.pending")),
            grown: state_dir.join("ebs-grow").join(format!("{name}.grown")),
        }
    }

    pub fn sample(&self) -> Option<Sample> {
        read(&self.sample)
    }

    pub fn save_sample(&self, s: &Sample) -> Result<()> {
        atomic_write(&self.sample, &serde_json::to_vec(s)?, 0o644)
    }

    pub fn pending(&self) -> Option<Pending> {
        read(&self.journal)
    }

    pub fn begin(&self, p: &Pending) -> Result<()> {
        atomic_write(&self.journal, &serde_json::to_vec(p)?, 0o644)
    }

    /// When the last growth of this mountpoint ended (ms since the epoch).
    pub fn last_growth(&self) -> Option<u64> {
        read(&self.grown)
    }

    pub fn record_growth(&self, at_ms: u64) -> Result<()> {
        atomic_write(&self.grown, &serde_json::to_vec(&at_ms)?, 0o644)
    }

    pub fn finish(&self) -> Result<()> {
        match std::fs::remove_file(&self.journal) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

/// A missing or unreadable file is no sample / no pending growth: the
/// worst case is one extra reconcile or one missing rate estimate.
fn read<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    let bytes = std::fs::read(path).ok()?;
    match serde_json::from_slice(&bytes) {
        Ok(v) => Some(v),
        Err(e) => {
            log::warn!("ignoring unreadable {}: {e}", path.display());
            None
        }
    }
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
