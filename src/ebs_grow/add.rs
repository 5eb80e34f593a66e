//! ebs-grow's added volume: create, attach, find it, add it to the filesystem.

use super::fs;
use super::ours;
use super::run::Run;
use crate::aws::instance::InstanceInfo;
use crate::aws::volumes::{self, AttachOutcome, FreshVolume, VolumeInfo};
use crate::aws::{AwsError, Session};
use crate::block::mount::MountEntry;
use crate::block::resolve::device_size;
use crate::block::{probe, Blankness, ResolvedDevice};
use crate::exit::{NoCapacity, Unsafe};
use anyhow::{anyhow, Context, Result};
use std::path::PathBuf;

use super::grown::{done, Grown};
use super::kind::FsKind;
use crate::block::probe::fs_identity;

/// After an attach: the device (found locally, no AWS call while waiting)
/// and DeleteOnTermination, set and verified.
pub(super) async fn attach_finish(
    run: &Run,
    session: &Session,
    v: &VolumeInfo,
    device_name: &str,
) -> Result<ResolvedDevice> {
    let dev = run
        .resolver
        .wait(
            &v.volume_id,
            Some(device_name),
            Some(v.size_bytes()),
            &run.deadline,
        )
        .await?;
    volumes::set_delete_on_termination(
        session.ec2(),
        session.instance_id(),
        device_name,
        &v.volume_id,
        true,
    )
    .await?;
    Ok(dev)
}

/// Add `dev` (volume `v`) to the filesystem. Only a blank device, unless
/// this run created the volume; a device already in the filesystem is a
/// no-op (a rerun after the add).
pub(super) fn add_to_filesystem(
    run: &Run,
    dev: &ResolvedDevice,
    device_name: &str,
    v: &VolumeInfo,
    fresh: Option<&FreshVolume>,
) -> Result<()> {
    let s = &run.settings;
    run.resolver
        .recheck(dev, Some(device_name), Some(v.size_bytes()))
        .with_context(|| {
            format!(
                "before adding {} to {}",
                v.volume_id,
                s.mountpoint.display()
            )
        })?;
    let force = match probe(&dev.path)? {
        Blankness::Blank => false,
        Blankness::NotBlank(why) => {
            if fresh.is_some_and(|f| f.volume_id() == v.volume_id) {
                log::warn!(
                    "{} is new but not blank ({why}); adding it anyway",
                    v.volume_id
                );
                true
            } else {
                return Err(Unsafe(format!(
                    "refusing to add {} ({}) to {}: it is not blank ({why})",
                    dev.path.display(),
                    v.volume_id,
                    s.mountpoint.display()
                ))
                .into());
            }
        }
    };
    let plan = fs::add_device_plan(
        s.fs,
        &dev.path,
        &s.mountpoint,
        &run.vg(),
        s.balance_metadata,
        force,
    )?;
    fs::run_plan(&plan, run.dry_run())
}

/// Add a new volume within the limits.
pub(super) async fn add_new_volume(
    run: &Run,
    session: &Session,
    me: &InstanceInfo,
    ours: &[VolumeInfo],
    members: &[PathBuf],
    mount: &MountEntry,
) -> Result<Grown> {
    let s = &run.settings;
    let ec2 = session.ec2();
    let iid = session.instance_id();
    let count = members.len() as u32;
    let size = super::usage::next_volume_gib(s, count, members_bytes(members))
        .map_err(|why| NoCapacity(format!("{} {why}", s.mountpoint.display())))?;
    if me.free_attachment_slots(s.attachment_limit) == 0 {
        return Err(NoCapacity(format!(
            "{iid} has no free attachment slot (limit {})",
            s.attachment_limit
        ))
        .into());
    }
    let seq = ours.iter().map(ours::sequence).max().unwrap_or(0) + 1;
    let generation = filesystem_generation(s.fs, mount, &run.vg());
    let spec = ours::spec(s, iid, &session.identity.availability_zone, size, seq);
    if run.dry_run() {
        log::info!(
            "would create a {size} GiB {} volume and add it to {}",
            s.volume_type,
            s.mountpoint.display()
        );
        return Ok(Grown {
            action: "would-add".into(),
            size_gib: Some(size),
            ..Default::default()
        });
    }
    let token = ours::client_token(iid, s, &generation, seq);
    let created = volumes::create_volume(ec2, &spec, &token, run.started, &run.deadline).await?;
    let v = created.volume;
    let device = match volumes::attach_volume(ec2, me, &v).await {
        Ok(AttachOutcome::Attached { device } | AttachOutcome::AlreadyAttached { device }) => {
            device
        }
        Ok(AttachOutcome::LostRace { reason }) => {
            return Err(anyhow!(
                "could not attach the new {}: {reason}",
                v.volume_id
            ));
        }
        Err(e) if created.fresh.is_some() && is_limit(&e) => {
            // The slots counted were wrong (an attach since, or an instance
            // type with fewer slots than configured): the volume cannot be
            // used, and this run made it, so it goes.
            volumes::delete_volume(ec2, &v.volume_id).await?;
            return Err(NoCapacity(format!(
                "{iid} has no free attachment slot ({e:#}); deleted the new {}; \
                 set attachment_limit for this instance type",
                v.volume_id
            ))
            .into());
        }
        Err(e) => return Err(e),
    };
    let dev = attach_finish(run, session, &v, &device).await?;
    add_to_filesystem(run, &dev, &device, &v, created.fresh.as_ref())?;
    Ok(done(run, "added", &v, &dev))
}

/// The size of a filesystem's member devices together (one that cannot be
/// sized counts 0: the limits are then checked against less, never more).
pub(super) fn members_bytes(members: &[PathBuf]) -> u64 {
    members.iter().map(|m| device_size(m).unwrap_or(0)).sum()
}

pub(super) fn is_limit(e: &anyhow::Error) -> bool {
    e.downcast_ref::<AwsError>()
        .is_some_and(|a| a.code_is("AttachmentLimitExceeded"))
}

/// The filesystem's UUID: new volumes' ClientTokens are unique to it.
fn filesystem_generation(kind: FsKind, mount: &MountEntry, vg: &str) -> String {
    let source = match kind {
        FsKind::LvmExt4 => PathBuf::from(format!("/dev/{vg}/{}", fs::LV_NAME)),
        _ => PathBuf::from(&mount.source),
    };
    fs_identity(&source)
        .ok()
        .flatten()
        .map(|(uuid, _)| uuid)
        .unwrap_or_else(ours::boot_id)
}
