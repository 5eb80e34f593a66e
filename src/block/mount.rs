//! Mounting by filesystem UUID, and reading what is mounted where.
//!
//! Mounting by filesystem UUID (device paths change across boots), and
//! reading what is mounted where.

use super::cmd::run;
use super::octal;
use super::probe::fs_identity;
use crate::exit::Unsafe;
use anyhow::{anyhow, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};

/// One line of /proc/self/mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    pub mountpoint: PathBuf,
    pub fstype: String,
    pub source: String,
}

/// Every mount this process can see.
pub fn mounts() -> Result<Vec<MountEntry>> {
    let text =
        fs::read_to_string("/proc/self/mountinfo").context("cannot read /proc/self/mountinfo")?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let sep = fields.iter().position(|f| *f == "-")?;
            Some(MountEntry {
                mountpoint: PathBuf::from(octal::unescape(fields.get(4)?)),
                fstype: fields.get(sep + 1)?.to_string(),
                source: octal::unescape(fields.get(sep + 2)?)
                    .to_string_lossy()
                    .into_owned(),
            })
        })
        .collect())
}

/// The topmost mount at exactly `mountpoint`, if any.
pub fn mounted_at(mountpoint: &Path) -> Result<Option<MountEntry>> {
    Ok(mounts()?
        .into_iter()
        .rev()
        .find(|m| m.mountpoint == mountpoint))
}

/// Mount the filesystem with `uuid` at `mountpoint` with `options`.
/// `device` is where this run found it (resolved from the volume ID and
/// probed): that device is what gets mounted. Not `UUID=`: mount(8) would
/// look the tag up in libblkid's cache, which trusts an entry younger than
/// two seconds without probing — right after a detach and re-attach it can
/// name the wrong device. A second device carrying the UUID (a volume
/// cloned from a snapshot) is refused; after the mount, the source must
/// carry the UUID. Mounting what is already mounted there is a no-op.
pub fn mount_by_uuid(
    uuid: &str,
    fstype: &str,
    mountpoint: &Path,
    options: &str,
    device: &Path,
) -> Result<()> {
    let mp = mountpoint.display();
    if let Some(existing) = mounted_at(mountpoint)? {
        let same = source_has_uuid(&existing.source, uuid)?;
        if same {
            log::debug!("{uuid} is already mounted at {mp}");
            return Ok(());
        }
        return Err(Unsafe(format!(
            "{mp} already has {} mounted from {}, not filesystem {uuid}",
            existing.fstype, existing.source
        ))
        .into());
    }
    if fstype != "btrfs" {
        // Every member of a multi-device btrfs shares its UUID; for any
        // other filesystem a second device with it is a clone.
        let holders = devices_with_uuid(uuid)?;
        if holders.len() > 1 {
            return Err(Unsafe(format!(
                "filesystem UUID {uuid} is on {} devices ({}): a volume cloned from a snapshot? \
                 change one UUID first; not mounting {mp}",
                holders.len(),
                holders.join(", ")
            ))
            .into());
        }
    }
    fs::create_dir_all(mountpoint).with_context(|| format!("cannot create mountpoint {mp}"))?;
    let spec = format!("UUID={uuid}");
    let mp_str = mountpoint.to_string_lossy();
    let expected =
        fs::canonicalize(device).with_context(|| format!("cannot resolve {}", device.display()))?;
    let dev_str = expected.to_string_lossy();
    run("mount", &["-t", fstype, "-o", options, &dev_str, &mp_str])
        .with_context(|| format!("cannot mount {spec} ({dev_str}) at {mp}"))?;
    let entry = mounted_at(mountpoint)?
        .ok_or_else(|| anyhow!("mount of {spec} at {mp} did not show up"))?;
    let source_ok = (fstype == "btrfs" || is_device(&entry.source, &expected))
        && source_has_uuid(&entry.source, uuid)?;
    if !source_ok {
        let _ = run("umount", &[&mp_str]);
        return Err(Unsafe(format!(
            "UUID {uuid} mounted from {} instead of {}: two disks carry the same filesystem UUID \
             (a volume cloned from a snapshot?); change one UUID first",
            entry.source,
            expected.display()
        ))
        .into());
    }
    log::info!("mounted {spec} ({}) at {mp}", expected.display());
    Ok(())
}

/// The mount source `source` is the device node `device` (symlinks
/// resolved). mount(8) records a device-mapper device by its
/// /dev/mapper/ name whatever name it was given (an LVM volume mounted as
/// /dev/dm-0 shows as /dev/mapper/vg-lv): found by the VM tier.
pub fn is_device(source: &str, device: &Path) -> bool {
    fs::canonicalize(source).is_ok_and(|s| s == device)
}

/// Every block device carrying filesystem `uuid`, found by probing all of
/// them (`-c /dev/null`: no stale cache, no udev database needed).
pub fn devices_with_uuid(uuid: &str) -> Result<Vec<String>> {
    let token = format!("UUID={uuid}");
    let out = super::cmd::run_raw("blkid", &["-c", "/dev/null", "-t", &token, "-o", "device"])?;
    match out.status.code() {
        Some(0) => Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()),
        Some(2) => Ok(Vec::new()),
        _ => Err(anyhow!(
            "blkid -t {token} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

fn source_has_uuid(source: &str, uuid: &str) -> Result<bool> {
    let path = Path::new(source);
    if !path.exists() {
        return Ok(false);
    }
    Ok(fs_identity(path)?.is_some_and(|(u, _)| u == uuid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_is_its_device_by_any_name() {
        let dir = std::env::temp_dir().join(format!("mooring-is-device-{}", std::process::id()));
        fs::create_dir_all(dir.join("mapper")).unwrap();
        let node = dir.join("dm-0");
        fs::write(&node, b"").unwrap();
        std::os::unix::fs::symlink("../dm-0", dir.join("mapper/vg-lv")).unwrap();
        let node = fs::canonicalize(&node).unwrap();
        assert!(is_device(
            &dir.join("mapper/vg-lv").to_string_lossy(),
            &node
        ));
        assert!(is_device(&node.to_string_lossy(), &node));
        assert!(!is_device(&dir.join("missing").to_string_lossy(), &node));
        assert!(!is_device(&dir.join("mapper").to_string_lossy(), &node));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sees_root_mount() {
        assert!(mounts()
            .unwrap()
            .iter()
            .any(|m| m.mountpoint == Path::new("/")));
    }
}
