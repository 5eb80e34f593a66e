//! `ebs-grow status`: what the mountpoint is made of, locally.
//!
//! `ebs-grow status`: what the mountpoint is made of, from local sources
//! only (mount table, the filesystem's device list, NVMe serials): no AWS
//! call.

use super::fs;
use super::report::{DeviceInfo, Report};
use super::run::Run;
use crate::block::mount::mounted_at;
use crate::block::probe::fs_identity;
use crate::block::resolve::device_size;
use anyhow::Result;
use std::path::Path;

pub fn status(run: &Run) -> Result<Report> {
    let s = &run.settings;
    let mut report = Report {
        command: "status",
        mountpoint: s.mountpoint.clone(),
        filesystem: Some(s.fs.to_string()),
        ..Default::default()
    };
    let Some(m) = mounted_at(&s.mountpoint)? else {
        report.action = "not-mounted".into();
        return Ok(report);
    };
    report.action = "mounted".into();
    report.uuid = fs_identity(Path::new(&m.source))?.map(|(u, _)| u);
    for dev in fs::members(s.fs, &m.source, &run.vg())? {
        let disk = fs::disk_of(&dev);
        report.devices.push(DeviceInfo {
            volume_id: run.resolver.volume_of(&disk),
            size_bytes: device_size(&dev).unwrap_or(0),
            device: dev,
        });
    }
    report.after = Some(super::usage::measure(s.fs, &s.mountpoint, &m.source)?);
    Ok(report)
}
