//! The filesystem kinds ebs-grow makes, and what each can do.
//!
//! The filesystems ebs-grow makes, as a flag, a config value and a report
//! name: what each can do and what the kernel mounts.

use clap::ValueEnum;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
pub enum FsKind {
    #[value(name = "btrfs")]
    #[serde(rename = "btrfs")]
    Btrfs,
    /// ext4 on an LVM logical volume spanning the volumes.
    #[value(name = "lvm.ext4")]
    #[serde(rename = "lvm.ext4")]
    LvmExt4,
    #[value(name = "xfs")]
    #[serde(rename = "xfs")]
    Xfs,
    #[value(name = "ext4")]
    #[serde(rename = "ext4")]
    Ext4,
}

impl fmt::Display for FsKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FsKind::Btrfs => "btrfs",
            FsKind::LvmExt4 => "lvm.ext4",
            FsKind::Xfs => "xfs",
            FsKind::Ext4 => "ext4",
        })
    }
}

impl FsKind {
    pub fn can_add_devices(self) -> bool {
        matches!(self, FsKind::Btrfs | FsKind::LvmExt4)
    }

    /// The type the kernel mounts.
    pub fn mount_type(self) -> &'static str {
        match self {
            FsKind::Btrfs => "btrfs",
            FsKind::Xfs => "xfs",
            FsKind::Ext4 | FsKind::LvmExt4 => "ext4",
        }
    }
}
