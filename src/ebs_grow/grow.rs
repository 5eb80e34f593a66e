//! ebs-grow's growth, once decided: finish an interrupted one, then grow.

use super::ours;
use super::run::Run;
use super::usage::Usage;
use crate::aws::instance::describe_instance;
use crate::aws::volumes::{self, AttachOutcome, VolumeInfo};
use crate::aws::Session;
use crate::block::mount::MountEntry;
use crate::exit::NoCapacity;
use anyhow::{anyhow, Result};
use std::path::PathBuf;

use super::add::{add_new_volume, add_to_filesystem, attach_finish};
use super::grown::{canonical, done, would, Grown};
use super::modify::modify_in_place;

/// The growth itself, after the decision. `need_more` is false when only
/// an interrupted growth is being finished.
pub(super) async fn grow(
    run: &Run,
    session: &Session,
    mount: &MountEntry,
    members: &[PathBuf],
    need_more: bool,
    usage: &Usage,
) -> Result<Grown> {
    let s = &run.settings;
    let ec2 = session.ec2();
    let iid = session.instance_id();
    let az = &session.identity.availability_zone;
    let ours = volumes::describe_volumes(ec2, &ours::filters(iid, az, s)).await?;
    let me = describe_instance(ec2, iid)
        .await?
        .ok_or_else(|| anyhow!("EC2 does not know this instance {iid}"))?;
    let members: Vec<PathBuf> = members.iter().map(|m| canonical(m)).collect();

    // Scratch volumes go with the instance: re-verified on every growth run.
    for v in ours.iter().filter(|v| me.device_of(&v.volume_id).is_some()) {
        if run.dry_run() {
            continue;
        }
        volumes::ensure_delete_on_termination(ec2, &me, &v.volume_id, true).await?;
    }

    // Finish half-done work: ours attached here but not in the filesystem.
    let mut adoptable: Vec<&VolumeInfo> = ours.iter().collect();
    adoptable.sort_by_key(|v| ours::sequence(v));
    for v in &adoptable {
        let Some(bd) = me.device_of(&v.volume_id) else {
            continue;
        };
        let dev = run
            .resolver
            .wait(
                &v.volume_id,
                Some(&bd.device_name),
                Some(v.size_bytes()),
                &run.deadline,
            )
            .await?;
        if members.contains(&dev.path) {
            continue;
        }
        log::info!(
            "{} is attached at {} but not in {}: adding it",
            v.volume_id,
            dev.path.display(),
            s.mountpoint.display()
        );
        add_to_filesystem(run, &dev, bd.device_name.as_str(), v, None)?;
        return Ok(done(run, "adopted", v, &dev));
    }
    // Ours but available (attach never happened or was undone): attach it
    // rather than create another.
    for v in adoptable.iter().filter(|v| v.state == "available") {
        if run.dry_run() {
            return Ok(would("would-adopt", v));
        }
        match volumes::attach_volume(ec2, &me, v).await? {
            AttachOutcome::Attached { device } | AttachOutcome::AlreadyAttached { device } => {
                let dev = attach_finish(run, session, v, &device).await?;
                add_to_filesystem(run, &dev, &device, v, None)?;
                return Ok(done(run, "adopted", v, &dev));
            }
            AttachOutcome::LostRace { reason } => {
                log::warn!("cannot adopt {}: {reason}", v.volume_id)
            }
        }
    }
    if !need_more {
        return Ok(Grown {
            action: "finished".into(),
            ..Default::default()
        });
    }

    let mut notes = Vec::new();
    if s.strategy == super::config::Strategy::Modify {
        match modify_in_place(run, session, &members, usage).await? {
            Ok(grown) => return Ok(grown),
            Err(why) if s.fs.can_add_devices() => {
                log::info!("cannot grow in place ({why}); adding a volume instead");
                notes.push(format!("in place impossible: {why}"));
            }
            Err(why) => {
                return Err(
                    NoCapacity(format!("cannot grow {}: {why}", s.mountpoint.display())).into(),
                );
            }
        }
    }
    let mut grown = add_new_volume(run, session, &me, &ours, &members, mount).await?;
    grown.notes.splice(0..0, notes);
    Ok(grown)
}
