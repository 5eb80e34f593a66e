//! A spare's record between its timer's tries, and its backoff.
//!
//! An instance that found no free pair (`--when-none idle`) records
//! `<run-dir>/smilodon-attach.idle`: the spare timer's unit starts the
//! service again only while it exists, and a retry is then an ordinary
//! look, not a boot-time first run. The record also counts the tries in a
//! row that could not ask EC2 (throttled past the SDK's retries, denied,
//! unreachable): each doubles the time before the next try asks again, so
//! that a fleet of spares does not keep an account's throttled API busy. A
//! try that asked — found nothing free, or claimed a pair — resets it. The
//! wait never grows past [`MAX_BACKOFF`]: a freed pair waits at most that.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The first wait after a failed try (the timer's own period).
pub const FIRST_BACKOFF: u64 = 60;
/// The longest wait between tries that could not ask.
pub const MAX_BACKOFF: u64 = 960;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SpareRecord {
    /// Tries in a row that could not ask EC2.
    pub failures: u32,
    /// Unix seconds before which a try does not ask (0: any time).
    pub retry_after: u64,
}

/// The wait after the `failures`-th failure in a row (≥ 1).
pub fn backoff(failures: u32) -> u64 {
    let doublings = failures.saturating_sub(1).min(16);
    (FIRST_BACKOFF << doublings).min(MAX_BACKOFF)
}

/// The record after a try that could not ask at `now`.
pub fn after_failure(previous: SpareRecord, now: u64) -> SpareRecord {
    let failures = previous.failures.saturating_add(1);
    SpareRecord {
        failures,
        retry_after: now + backoff(failures),
    }
}

/// Whether a try at `now` asks EC2.
pub fn may_ask(record: &SpareRecord, now: u64) -> bool {
    now >= record.retry_after
}

pub fn path(run_dir: &Path) -> PathBuf {
    run_dir.join("smilodon-attach.idle")
}

/// The record, `None` when this instance is no spare (yet). Unreadable
/// content (an older release wrote a word) is a spare with no failures.
pub fn read(path: &Path) -> Option<SpareRecord> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(serde_json::from_str(&text).unwrap_or_default())
}

pub fn write(path: &Path, record: &SpareRecord) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let body = serde_json::to_string(record)? + "\n";
    crate::fsutil::atomic_write(path, body.as_bytes(), 0o644)
        .with_context(|| format!("writing {}", path.display()))
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_doubles_the_wait_up_to_the_cap() {
        let waits: Vec<u64> = (1..=7).map(backoff).collect();
        assert_eq!(waits, vec![60, 120, 240, 480, 960, 960, 960]);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn a_failed_try_holds_the_next_ones_back() {
        let r = after_failure(SpareRecord::default(), 1000);
        assert_eq!(
            r,
            SpareRecord {
                failures: 1,
                retry_after: 1060
            }
        );
        assert!(!may_ask(&r, 1059));
        assert!(may_ask(&r, 1060));
        let r = after_failure(r, 1060);
        assert_eq!(r.retry_after, 1180);
        assert!(may_ask(&SpareRecord::default(), 0));
    }
}
