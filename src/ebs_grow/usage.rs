//! How full is the filesystem, how fast is it filling, and is it time to
//! grow. All local: no AWS call, so the idle path costs a statvfs (and for
//! btrfs one `btrfs filesystem usage`).

use super::config::Settings;
use super::fs::FsKind;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
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
        let b = btrfs_usage_of(&btrfs_sysfs_dir(Path::new(SYS_BTRFS), source)?)?;
        usage.total_bytes = b.size;
        usage.avail_bytes = b.free_estimated.min(b.size);
        usage.used_bytes = b.used;
        usage.inodes_total = 0;
        usage.inodes_free = 0;
    }
    Ok(usage)
}

/// What `btrfs filesystem usage` calls Device size, Used and Free
/// (estimated), read from sysfs: the idle check spawns no process. "Used"
/// (raw bytes in use) grows smoothly with what writers write, where "size
/// minus free" jumps by hundreds of MiB when btrfs allocates a chunk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BtrfsUsage {
    pub size: u64,
    pub used: u64,
    pub free_estimated: u64,
}

pub const SYS_BTRFS: &str = "/sys/fs/btrfs";

/// The sysfs directory (in `sys_btrfs`, /sys/fs/btrfs) of the btrfs that
/// device `source` belongs to.
pub fn btrfs_sysfs_dir(sys_btrfs: &Path, source: &str) -> Result<PathBuf> {
    let device =
        std::fs::canonicalize(source).with_context(|| format!("cannot resolve {source}"))?;
    let name = device
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    std::fs::read_dir(sys_btrfs)
        .with_context(|| format!("cannot read {}", sys_btrfs.display()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("devices").join(&name).exists())
        .with_context(|| format!("no btrfs in {} has device {name}", sys_btrfs.display()))
}

/// The devices of the btrfs whose sysfs directory is `fs_dir`, as /dev
/// paths: no `btrfs filesystem show` process on the idle path.
pub fn btrfs_sysfs_devices(fs_dir: &Path) -> Result<Vec<PathBuf>> {
    let dir = fs_dir.join("devices");
    let mut devices: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .flatten()
        .map(|e| Path::new("/dev").join(e.file_name()))
        .collect();
    devices.sort();
    Ok(devices)
}

fn read_u64(path: &Path) -> Result<u64> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.trim()
        .parse()
        .with_context(|| format!("{} does not hold a number", path.display()))
}

/// Usage from one filesystem's sysfs directory.
pub fn btrfs_usage_of(fs_dir: &Path) -> Result<BtrfsUsage> {
    let mut size = 0;
    for dev in std::fs::read_dir(fs_dir.join("devices"))
        .with_context(|| format!("cannot read {}/devices", fs_dir.display()))?
        .flatten()
    {
        // The link points at the block device's sysfs directory; its size
        // is in 512-byte sectors.
        size += read_u64(&dev.path().join("size"))? * 512;
    }
    let alloc = fs_dir.join("allocation");
    let (mut used, mut allocated) = (0, 0);
    for kind in ["data", "metadata", "system"] {
        used += read_u64(&alloc.join(kind).join("disk_used"))?;
        allocated += read_u64(&alloc.join(kind).join("disk_total"))?;
    }
    let data_total = read_u64(&alloc.join("data/total_bytes"))?;
    let data_used = read_u64(&alloc.join("data/bytes_used"))?;
    let data_disk = read_u64(&alloc.join("data/disk_total"))?;
    // Raw bytes per byte of data: 1 for single, 2 for raid1/dup.
    let ratio = if data_total > 0 {
        data_disk as f64 / data_total as f64
    } else {
        1.0
    }
    .max(1.0);
    let unallocated = size.saturating_sub(allocated);
    let free_estimated = data_total.saturating_sub(data_used) + (unallocated as f64 / ratio) as u64;
    Ok(BtrfsUsage {
        size,
        used,
        free_estimated,
    })
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

    #[test]
    fn btrfs_usage_from_a_sysfs_tree() {
        let root = tempfile::tempdir().unwrap();
        let fs = root.path().join("uuid");
        for (dev, sectors) in [("loop0", 2097152u64), ("loop1", 2097152)] {
            let d = fs.join("devices").join(dev);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("size"), format!("{sectors}\n")).unwrap();
        }
        let values = [
            ("data", 600, 500, 600),
            ("metadata", 100, 10, 200),
            ("system", 8, 1, 16),
        ];
        for (kind, total, used, disk_total) in values {
            let d = fs.join("allocation").join(kind);
            std::fs::create_dir_all(&d).unwrap();
            let mib = |n: u64| (n << 20).to_string();
            std::fs::write(d.join("total_bytes"), mib(total)).unwrap();
            std::fs::write(d.join("bytes_used"), mib(used)).unwrap();
            std::fs::write(d.join("disk_total"), mib(disk_total)).unwrap();
            let disk_used = if kind == "data" { used } else { used * 2 };
            std::fs::write(d.join("disk_used"), mib(disk_used)).unwrap();
        }
        let u = btrfs_usage_of(&fs).unwrap();
        assert_eq!(u.size, 2 * GIB);
        assert_eq!(u.used, (500 + 20 + 2) << 20);
        // 100 MiB free in data chunks + (2048 - 816) MiB unallocated.
        assert_eq!(u.free_estimated, (100 + 2048 - 816) << 20);
    }
}
