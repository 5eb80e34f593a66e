//! Making filesystems, never on a device that holds anything.

use super::cmd::run;
use super::probe::{fs_identity, probe, Blankness};
use crate::aws::volumes::FreshVolume;
use crate::exit::Unsafe;
use anyhow::{anyhow, Result};
use clap::ValueEnum;
use serde::Serialize;
use std::fmt;
use std::path::Path;

/// A filesystem Mooring can make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FsType {
    Btrfs,
    Xfs,
    Ext4,
}

impl FsType {
    pub fn as_str(self) -> &'static str {
        match self {
            FsType::Btrfs => "btrfs",
            FsType::Xfs => "xfs",
            FsType::Ext4 => "ext4",
        }
    }
}

impl fmt::Display for FsType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When mkfs may run.
#[derive(Debug, Clone, Copy)]
pub enum MkfsPolicy<'a> {
    /// Only on a blank device (the default, and the only choice for any
    /// device this run did not create).
    BlankOnly,
    /// The device is a volume this very run created: mkfs may force past
    /// leftovers its own checks would refuse. Still only for that volume.
    Fresh(&'a FreshVolume),
}

/// Make `fs` on `device` and return the new filesystem's UUID.
/// `device_volume` is the EBS volume the device was resolved from, if any.
pub fn mkfs(
    device: &Path,
    device_volume: Option<&str>,
    fs: FsType,
    label: Option<&str>,
    policy: MkfsPolicy<'_>,
) -> Result<String> {
    let dev = device.to_string_lossy();
    let what = match device_volume {
        Some(v) => format!("{dev} ({v})"),
        None => dev.to_string(),
    };
    let force = match (probe(device)?, policy) {
        (Blankness::Blank, _) => false,
        (Blankness::NotBlank(why), MkfsPolicy::Fresh(proof))
            if device_volume == Some(proof.volume_id()) =>
        {
            log::warn!(
                "{what} was created by this run but is not blank ({why}); formatting anyway"
            );
            true
        }
        (Blankness::NotBlank(why), _) => {
            return Err(Unsafe(format!(
                "refusing to make {fs} on {what}: it is not blank ({why})"
            ))
            .into())
        }
    };
    let program = format!("mkfs.{fs}");
    let mut args: Vec<&str> = Vec::new();
    match fs {
        FsType::Btrfs | FsType::Xfs => {
            args.push("-q");
            if force {
                args.push("-f");
            }
        }
        FsType::Ext4 => {
            args.push("-q");
            if force {
                args.push("-F");
            }
        }
    }
    if let Some(l) = label {
        args.extend(["-L", l]);
    }
    args.push(&dev);
    log::info!("making {fs} on {what}");
    run(&program, &args)?;
    match fs_identity(device)? {
        Some((uuid, _)) => Ok(uuid),
        None => Err(anyhow!(
            "{program} on {what} left no filesystem blkid can see"
        )),
    }
}
