//! `ebs-grow teardown`: undo exactly what ebs-grow made here.
//!
//! `ebs-grow teardown`: unmount, remove the fstab line, then detach and
//! delete exactly the volumes ebs-grow created for this mountpoint on this
//! instance. A device the admin supplied is never deleted.

use super::kind::FsKind;
use super::ours;
use super::report::Report;
use super::run::Run;
use crate::aws::volumes;
use crate::block::cmd::run as run_cmd;
use crate::block::fstab;
use crate::block::mount::mounted_at;
use crate::block::probe::fs_identity;
use crate::exit::bad_input;
use anyhow::{anyhow, Result};
use std::path::Path;
use std::time::Duration;

pub async fn teardown(run: &Run, yes: bool) -> Result<Report> {
    let s = &run.settings;
    let _lock = run.lock().await?;
    let session = run.session().await?;
    let ec2 = session.ec2();
    let iid = session.instance_id();
    let ours = volumes::describe_volumes(
        ec2,
        &ours::filters(iid, &session.identity.availability_zone, s),
    )
    .await?;
    let mounted = mounted_at(&s.mountpoint)?;
    let ids: Vec<&str> = ours.iter().map(|v| v.volume_id.as_str()).collect();
    let mut report = Report {
        command: "teardown",
        mountpoint: s.mountpoint.clone(),
        dry_run: run.dry_run(),
        notes: ids.iter().map(|v| format!("ebs-grow volume {v}")).collect(),
        ..Default::default()
    };
    if run.dry_run() {
        report.action = "would-tear-down".into();
        return Ok(report);
    }
    if !yes {
        return Err(bad_input(format!(
            "teardown unmounts {} and deletes {} volume(s) ({}): pass --yes to confirm",
            s.mountpoint.display(),
            ids.len(),
            ids.join(", ")
        )));
    }
    if let Some(m) = mounted {
        let uuid = fs_identity(Path::new(&m.source))?.map(|(u, _)| u);
        run_cmd("umount", &[&s.mountpoint.to_string_lossy()])?;
        log::info!("unmounted {}", s.mountpoint.display());
        if let Some(u) = uuid {
            fstab::remove_line(&s.fstab, &u, &s.mountpoint)?;
        }
        if s.fs == FsKind::LvmExt4 {
            run_cmd("vgchange", &["-an", &run.vg()])?;
        }
    }
    for v in &ours {
        if v.attached_to(iid) {
            volumes::detach_volume(ec2, &v.volume_id, iid).await?;
            run.deadline
                .poll(
                    format!("{} to detach", v.volume_id),
                    Duration::from_millis(500),
                    Duration::from_secs(4),
                    || async {
                        let now = volumes::describe_volume(ec2, &v.volume_id).await?;
                        Ok(now.filter(|n| n.state == "available").map(|_| ()))
                    },
                )
                .await?;
        } else if v.attachment.is_some() {
            return Err(anyhow!(
                "{} is attached to another instance; not deleting it",
                v.volume_id
            ));
        }
        volumes::delete_volume(ec2, &v.volume_id).await?;
        log::info!("deleted {}", v.volume_id);
    }
    report.action = "torn-down".into();
    Ok(report)
}
