//! The kernel's block layer: devices, blankness, mkfs, mount, fstab.
//!
//! The kernel's block layer: which device is volume X, is it blank, make a
//! filesystem on it, mount it.

pub mod btrfs;
pub mod cmd;
pub mod fstab;
pub mod mkfs;
pub mod mount;
pub mod octal;
pub mod probe;
pub mod resolve;

pub use mkfs::{mkfs, FsType, MkfsPolicy};
pub use probe::{probe, Blankness};
pub use resolve::{DeviceResolver, ResolvedDevice};
