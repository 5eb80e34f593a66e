//! A mounted btrfs as /sys/fs/btrfs shows it: devices and usage.
//!
//! A mounted btrfs as the kernel shows it in /sys/fs/btrfs: its devices
//! and its usage, read without spawning a process.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

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
pub fn sysfs_dir(sys_btrfs: &Path, source: &str) -> Result<PathBuf> {
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
pub fn sysfs_devices(fs_dir: &Path) -> Result<Vec<PathBuf>> {
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
pub fn usage_of(fs_dir: &Path) -> Result<BtrfsUsage> {
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

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

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
        let u = usage_of(&fs).unwrap();
        assert_eq!(u.size, 2 * GIB);
        assert_eq!(u.used, (500 + 20 + 2) << 20);
        // 100 MiB free in data chunks + (2048 - 816) MiB unallocated.
        assert_eq!(u.free_estimated, (100 + 2048 - 816) << 20);
    }
}
