//! Volume ID to block device, never by the requested device name.
//!
//! Volume ID → block device. Never trust the requested device name: on
//! Nitro instances `/dev/sdf` becomes `/dev/nvmeXn1` in probe order. The
//! NVMe controller's serial is the volume ID without its dash, so:
//! 1. scan `/sys/block/nvme*n*` for model "Amazon Elastic Block Store" and
//!    that serial;
//! 2. else udev's `/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol…`;
//! 3. else, on Xen instances, the requested name as `/dev/xvdX` — the only
//!    way there, checked against the volume's size.
//!
//! The directories are fields so that tests point them at the rig's.

use crate::exit::Unsafe;
use crate::wait::Deadline;
use anyhow::{Context, Result};
use serde::Serialize;
use std::fs;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

const EBS_MODEL: &str = "Amazon Elastic Block Store";

/// Where to look for devices.
#[derive(Debug, Clone)]
pub struct DeviceResolver {
    pub sys_block: PathBuf,
    pub dev_dir: PathBuf,
    pub by_id: PathBuf,
}

impl Default for DeviceResolver {
    fn default() -> Self {
        DeviceResolver {
            sys_block: "/sys/block".into(),
            dev_dir: "/dev".into(),
            by_id: "/dev/disk/by-id".into(),
        }
    }
}

/// How a device was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    NvmeSerial,
    ById,
    XenName,
}

/// A block device known to be a given volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedDevice {
    pub volume_id: String,
    /// The device node, symlinks resolved (`/dev/nvme1n1`).
    pub path: PathBuf,
    pub via: Via,
}

/// `vol-0abc` → `vol0abc`, as the NVMe serial and by-id names spell it.
fn serial_of(volume_id: &str) -> String {
    volume_id.replacen('-', "", 1)
}

fn read_trimmed(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// Size of a block device (or file) in bytes.
pub fn device_size(path: &Path) -> Result<u64> {
    let mut f = fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    f.seek(SeekFrom::End(0))
        .with_context(|| format!("cannot size {}", path.display()))
}

impl DeviceResolver {
    /// Find `volume_id`'s device now. `attach_device` is the name given to
    /// AttachVolume, used only for the Xen fallback, where `size_bytes`
    /// (the volume's size) must match too.
    pub fn resolve(
        &self,
        volume_id: &str,
        attach_device: Option<&str>,
        size_bytes: Option<u64>,
    ) -> Result<Option<ResolvedDevice>> {
        let serial = serial_of(volume_id);
        // A directory that cannot be read is not "no such device": that
        // would let a caller detach or wait on what it could not see.
        let entries = match fs::read_dir(&self.sys_block) {
            Ok(entries) => Some(entries),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("cannot read {}", self.sys_block.display())))
            }
        };
        if let Some(entries) = entries {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !is_nvme_namespace(&name) {
                    continue;
                }
                let dev = entry.path().join("device");
                if read_trimmed(&dev.join("model")).as_deref() == Some(EBS_MODEL)
                    && read_trimmed(&dev.join("serial")).as_deref() == Some(serial.as_str())
                {
                    return self.found(volume_id, &self.dev_dir.join(&name), Via::NvmeSerial);
                }
            }
        }
        let link = self
            .by_id
            .join(format!("nvme-Amazon_Elastic_Block_Store_{serial}"));
        if link
            .try_exists()
            .with_context(|| format!("cannot look at {}", link.display()))?
        {
            return self.found(volume_id, &link, Via::ById);
        }
        if let Some(requested) = attach_device {
            let base = requested.rsplit('/').next().unwrap_or(requested);
            let xen = base.replacen("sd", "xvd", 1);
            for name in [xen.as_str(), base] {
                let path = self.dev_dir.join(name);
                if !path
                    .try_exists()
                    .with_context(|| format!("cannot look at {}", path.display()))?
                {
                    continue;
                }
                let size = device_size(&path)?;
                if size_bytes.is_some_and(|want| want != size) {
                    log::warn!(
                        "{} has {size} bytes, not the {} of {volume_id}; not using it",
                        path.display(),
                        size_bytes.unwrap_or(0)
                    );
                    continue;
                }
                return self.found(volume_id, &path, Via::XenName);
            }
        }
        Ok(None)
    }

    fn found(&self, volume_id: &str, path: &Path, via: Via) -> Result<Option<ResolvedDevice>> {
        let real = fs::canonicalize(path)
            .with_context(|| format!("cannot resolve {} for {volume_id}", path.display()))?;
        Ok(Some(ResolvedDevice {
            volume_id: volume_id.to_string(),
            path: real,
            via,
        }))
    }

    /// The EBS volume behind `device`, read from the NVMe serial or the
    /// by-id links; `None` for a device that is not an EBS volume (or on
    /// Xen, where nothing local names the volume).
    pub fn volume_of(&self, device: &Path) -> Option<String> {
        let target = fs::canonicalize(device).ok()?;
        let volume = |serial: &str| {
            serial
                .strip_prefix("vol")
                .filter(|rest| !rest.is_empty() && !rest.starts_with('-'))
                .map(|rest| format!("vol-{rest}"))
        };
        if let Ok(entries) = fs::read_dir(&self.sys_block) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !is_nvme_namespace(&name) {
                    continue;
                }
                let node = self.dev_dir.join(&name);
                if fs::canonicalize(&node).ok().as_ref() != Some(&target) {
                    continue;
                }
                let dev = entry.path().join("device");
                if read_trimmed(&dev.join("model")).as_deref() == Some(EBS_MODEL) {
                    if let Some(v) = read_trimmed(&dev.join("serial"))
                        .as_deref()
                        .and_then(volume)
                    {
                        return Some(v);
                    }
                }
            }
        }
        let prefix = "nvme-Amazon_Elastic_Block_Store_";
        for entry in fs::read_dir(&self.by_id).ok()?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(serial) = name.strip_prefix(prefix) else {
                continue;
            };
            if serial.contains('-') || fs::canonicalize(entry.path()).ok().as_ref() != Some(&target)
            {
                continue; // partition links (…-part1) name partitions
            }
            if let Some(v) = volume(serial) {
                return Some(v);
            }
        }
        None
    }

    /// Wait (bounded) for `volume_id`'s device to appear. Looks at local
    /// files only: no AWS call while waiting.
    pub async fn wait(
        &self,
        volume_id: &str,
        attach_device: Option<&str>,
        size_bytes: Option<u64>,
        deadline: &Deadline,
    ) -> Result<ResolvedDevice> {
        deadline
            .poll(
                format!("the block device of {volume_id}"),
                // Local files only, so polling often costs nothing but
                // keeps the wait close to the real attach time.
                Duration::from_millis(20),
                Duration::from_millis(100),
                || {
                    let r = self.resolve(volume_id, attach_device, size_bytes);
                    async move { r }
                },
            )
            .await
    }

    /// Right before mkfs or mount: is `dev` still `volume_id`'s device? A
    /// quick detach and re-attach can leave a stale link to another disk.
    pub fn recheck(
        &self,
        dev: &ResolvedDevice,
        attach_device: Option<&str>,
        size_bytes: Option<u64>,
    ) -> Result<()> {
        let now = self.resolve(&dev.volume_id, attach_device, size_bytes)?;
        match now {
            Some(now) if now.path == dev.path => Ok(()),
            Some(now) => Err(Unsafe(format!(
                "{} moved from {} to {} since it was found; refusing to touch either",
                dev.volume_id,
                dev.path.display(),
                now.path.display()
            ))
            .into()),
            None => Err(Unsafe(format!(
                "{} is no longer at {}; refusing to touch it",
                dev.volume_id,
                dev.path.display()
            ))
            .into()),
        }
    }
}

/// `nvme1n1` yes; `nvme1`, `nvme1n1p1`, `nvme1c1n1` (multipath paths) no.
fn is_nvme_namespace(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("nvme") else {
        return false;
    };
    let Some((ctrl, ns)) = rest.split_once('n') else {
        return false;
    };
    !ctrl.is_empty()
        && ctrl.chars().all(|c| c.is_ascii_digit())
        && !ns.is_empty()
        && ns.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_sysfs_that_cannot_be_read_is_not_no_device() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_dir = dir.path().join("block");
        std::fs::write(&not_a_dir, "").unwrap();
        let r = DeviceResolver {
            sys_block: not_a_dir,
            dev_dir: dir.path().to_path_buf(),
            by_id: dir.path().to_path_buf(),
        };
        assert!(r.resolve("vol-0abc", None, None).is_err());
        // A sysfs that is not there at all (not Nitro) is just no device.
        let r = DeviceResolver {
            sys_block: dir.path().join("missing"),
            ..r
        };
        assert!(r.resolve("vol-0abc", None, None).unwrap().is_none());
    }

    #[test]
    fn nvme_namespace_names() {
        assert!(is_nvme_namespace("nvme0n1"));
        assert!(is_nvme_namespace("nvme12n3"));
        for bad in ["nvme0", "nvme0n1p1", "nvme0c0n1", "sda", "nvmen1", "nvme0n"] {
            assert!(!is_nvme_namespace(bad), "{bad}");
        }
    }

    /// A sysfs tree with two EBS namespaces and a local NVMe disk: only the
    /// serial decides, never the probe order.
    #[test]
    fn finds_by_serial_not_by_order() {
        let root = tempfile::tempdir().unwrap();
        let sys = root.path().join("sys");
        let dev = root.path().join("dev");
        fs::create_dir_all(&dev).unwrap();
        let target = root.path().join("disk-b");
        fs::write(&target, b"").unwrap();
        for (name, model, serial) in [
            ("nvme0n1", "Amazon Elastic Block Store", "vol0aaa"),
            ("nvme1n1", "Amazon EC2 NVMe Instance Storage", "AWS1234"),
            ("nvme2n1", "Amazon Elastic Block Store", "vol0bbb"),
        ] {
            let d = sys.join(name).join("device");
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join("model"), format!("{model}   \n")).unwrap();
            fs::write(d.join("serial"), format!("{serial}  \n")).unwrap();
        }
        symlink(&target, dev.join("nvme2n1")).unwrap();
        let r = DeviceResolver {
            sys_block: sys,
            dev_dir: dev,
            by_id: root.path().join("none"),
        };
        let found = r
            .resolve("vol-0bbb", Some("/dev/sdf"), None)
            .unwrap()
            .unwrap();
        assert_eq!(found.via, Via::NvmeSerial);
        assert_eq!(found.path, fs::canonicalize(&target).unwrap());
        assert!(r.resolve("vol-0ccc", None, None).unwrap().is_none());
    }

    #[test]
    fn xen_fallback_checks_size() {
        let root = tempfile::tempdir().unwrap();
        let dev = root.path().join("dev");
        fs::create_dir_all(&dev).unwrap();
        fs::File::create(dev.join("xvdf"))
            .unwrap()
            .set_len(4096)
            .unwrap();
        let r = DeviceResolver {
            sys_block: root.path().join("nosys"),
            dev_dir: dev,
            by_id: root.path().join("noid"),
        };
        assert!(r
            .resolve("vol-1", Some("/dev/sdf"), Some(8192))
            .unwrap()
            .is_none());
        let found = r
            .resolve("vol-1", Some("/dev/sdf"), Some(4096))
            .unwrap()
            .unwrap();
        assert_eq!(found.via, Via::XenName);
        assert!(r.resolve("vol-1", None, Some(4096)).unwrap().is_none());
    }
}
