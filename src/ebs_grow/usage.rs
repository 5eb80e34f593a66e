//! ebs-grow's growth policy: how full, how fast, and is it time.
//!
//! How full is the filesystem, how fast is it filling, and is it time to
//! grow. All local: no AWS call, so the idle path costs a statvfs (and for
//! btrfs one `btrfs filesystem usage`).

use super::config::Settings;
use super::kind::FsKind;
use crate::block::btrfs;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Usage {
    pub total_bytes: u64,
    pub used_bytes: u64,
    pub avail_bytes: u64,
    /// 0 when the filesystem has no fixed inode count (btrfs).
    pub inodes_total: u64,
    pub inodes_free: u64,
}

impl Usage {
    /// Used share of what the filesystem could hold: used / (used + available).
    pub fn used_percent(&self) -> f64 {
        let room = self.used_bytes + self.avail_bytes;
        if room == 0 {
            return 100.0;
        }
        100.0 * self.used_bytes as f64 / room as f64
    }

    pub fn free_inodes_percent(&self) -> Option<f64> {
        (self.inodes_total > 0).then(|| 100.0 * self.inodes_free as f64 / self.inodes_total as f64)
    }
}

/// Measure the filesystem at `mountpoint`. For btrfs, `df` is an estimate
/// that ignores how data and metadata are allocated: ask btrfs itself.
/// `source` is the mounted device, as the mount table names it.
pub fn measure(kind: FsKind, mountpoint: &Path, source: &str) -> Result<Usage> {
    let st = rustix::fs::statvfs(mountpoint)
        .with_context(|| format!("cannot statvfs {}", mountpoint.display()))?;
    let frsize = st.f_frsize;
    let mut usage = Usage {
        total_bytes: st.f_blocks * frsize,
        used_bytes: (st.f_blocks - st.f_bfree) * frsize,
        avail_bytes: st.f_bavail * frsize,
        inodes_total: st.f_files,
        inodes_free: st.f_ffree,
    };
    if kind == FsKind::Btrfs {
        let b = btrfs::usage_of(&btrfs::sysfs_dir(Path::new(btrfs::SYS_BTRFS), source)?)?;
        usage.total_bytes = b.size;
        usage.avail_bytes = b.free_estimated.min(b.size);
        usage.used_bytes = b.used;
        usage.inodes_total = 0;
        usage.inodes_free = 0;
    }
    Ok(usage)
}

/// The previous check's measurement, to estimate the fill rate.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Sample {
    pub at_ms: u64,
    pub used_bytes: u64,
    /// The size then: a rate across a growth measures the growth's own
    /// allocations, not the writers'.
    #[serde(default)]
    pub total_bytes: u64,
}

/// Why a check decided what it did.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub grow: bool,
    pub reasons: Vec<String>,
    pub used_percent: f64,
    pub threshold_percent: f64,
    pub fill_rate_bytes_per_second: Option<f64>,
    pub seconds_to_full: Option<f64>,
}

/// Grow when the used share passes the threshold for this many devices,
/// when free bytes or inodes run low, or when at the observed fill rate the
/// filesystem fills before the next check plus a growth's duration.
pub fn decide(
    s: &Settings,
    usage: &Usage,
    devices: u32,
    prev: Option<Sample>,
    now_ms: u64,
) -> Decision {
    let mut reasons = Vec::new();
    let used = usage.used_percent();
    let threshold = s.threshold_for(devices);
    if used >= threshold {
        reasons.push(format!(
            "{used:.1}% used, threshold {threshold}% with {devices} device(s)"
        ));
    }
    if usage.avail_bytes < s.min_free_bytes {
        reasons.push(format!(
            "{} bytes free, minimum {}",
            usage.avail_bytes, s.min_free_bytes
        ));
    }
    if let Some(free) = usage.free_inodes_percent() {
        if free < s.min_free_inodes_percent {
            reasons.push(format!(
                "{free:.1}% inodes free, minimum {}%",
                s.min_free_inodes_percent
            ));
        }
    }
    let mut rate = None;
    let mut to_full = None;
    if let Some(p) = prev.filter(|p| p.total_bytes == usage.total_bytes) {
        let dt = now_ms.saturating_sub(p.at_ms) as f64 / 1000.0;
        if dt > 0.0 && usage.used_bytes > p.used_bytes {
            let r = (usage.used_bytes - p.used_bytes) as f64 / dt;
            let t = usage.avail_bytes as f64 / r;
            let horizon: Duration = s.interval + s.growth_time;
            if t < horizon.as_secs_f64() {
                reasons.push(format!(
                    "filling at {:.0} bytes/s: full in {t:.0} s, before the next check and a growth ({} s)",
                    r,
                    horizon.as_secs()
                ));
            }
            rate = Some(r);
            to_full = Some(t);
        }
    }
    Decision {
        grow: !reasons.is_empty(),
        reasons,
        used_percent: used,
        threshold_percent: threshold,
        fill_rate_bytes_per_second: rate,
        seconds_to_full: to_full,
    }
}

/// The size in GiB of the next volume to add to a filesystem on `devices`
/// devices of `total_bytes` together, within the settings' limits; or why
/// none may be added: it spans `max_volumes` already, or less than 1 GiB
/// is left under `max_total_size_gib`.
pub fn next_volume_gib(s: &Settings, devices: u32, total_bytes: u64) -> Result<i32, String> {
    const GIB: u64 = 1 << 30;
    if devices >= s.max_volumes {
        return Err(format!(
            "already spans {devices} volumes, the maximum (max_volumes)"
        ));
    }
    let room_gib = (s.max_total_size_gib.max(0) as u64 * GIB).saturating_sub(total_bytes) / GIB;
    let size = (s.next_size_gib(devices).max(0) as u64).min(room_gib) as i32;
    if size < 1 {
        return Err(format!(
            "has reached its maximum total size of {} GiB (max_total_size_gib)",
            s.max_total_size_gib
        ));
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ebs_grow::config::Options;

    fn settings() -> Settings {
        Options {
            mountpoint: Some("/s".into()),
            min_free_gib: Some(0.0),
            ..Default::default()
        }
        .resolve()
        .unwrap()
    }

    const GIB: u64 = 1 << 30;

    fn usage(used: u64, avail: u64) -> Usage {
        Usage {
            total_bytes: used + avail,
            used_bytes: used,
            avail_bytes: avail,
            inodes_total: 1000,
            inodes_free: 900,
        }
    }

    #[test]
    fn the_next_volume_stays_within_the_limits() {
        let mut s = settings();
        s.max_volumes = 3;
        s.max_total_size_gib = 10;
        s.size_ladder_gib = vec![(0, 4)];
        s.max_volume_size_gib = 100;
        // (devices, bytes together) -> the next volume's size, or none.
        let table: [(u32, u64, Option<i32>); 5] = [
            (1, 4 * GIB, Some(4)),
            (2, 8 * GIB, Some(2)),        // 2 GiB left under the total
            (2, 9 * GIB + GIB / 2, None), // less than 1 GiB left
            (2, 12 * GIB, None),          // past the total already
            (3, 3 * GIB, None),           // max_volumes
        ];
        for (devices, bytes, want) in table {
            let got = next_volume_gib(&s, devices, bytes);
            assert_eq!(
                got.as_ref().ok().copied(),
                want,
                "{devices} {bytes}: {got:?}"
            );
        }
        assert!(next_volume_gib(&s, 3, 0)
            .unwrap_err()
            .contains("max_volumes"));
        assert!(next_volume_gib(&s, 2, 12 * GIB)
            .unwrap_err()
            .contains("max_total_size_gib"));
    }

    #[test]
    fn idle_below_threshold() {
        let d = decide(&settings(), &usage(40 * GIB, 60 * GIB), 1, None, 0);
        assert!(!d.grow, "{:?}", d.reasons);
    }

    #[test]
    fn threshold_rises_with_device_count() {
        let u = usage(60 * GIB, 40 * GIB);
        assert!(decide(&settings(), &u, 1, None, 0).grow);
        assert!(!decide(&settings(), &u, 4, None, 0).grow);
    }

    #[test]
    fn fast_fill_grows_early() {
        // 10% used, but 1 GiB/s with 9 GiB free: full in 9 s < 180 s.
        let prev = Sample {
            at_ms: 0,
            used_bytes: 0,
            total_bytes: 10 * GIB,
        };
        let d = decide(&settings(), &usage(GIB, 9 * GIB), 1, Some(prev), 1000);
        assert!(d.grow);
        assert!(d.reasons[0].contains("filling at"), "{:?}", d.reasons);
        // The same growth over an hour is nothing to worry about.
        let d = decide(&settings(), &usage(GIB, 9 * GIB), 1, Some(prev), 3_600_000);
        assert!(!d.grow);
    }

    #[test]
    fn inodes_count() {
        let mut u = usage(GIB, 99 * GIB);
        u.inodes_free = 10;
        assert!(decide(&settings(), &u, 1, None, 0).grow);
        u.inodes_total = 0; // btrfs: no fixed inode count
        assert!(!decide(&settings(), &u, 1, None, 0).grow);
    }
}
