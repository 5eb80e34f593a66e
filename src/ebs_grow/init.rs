//! `ebs-grow init`: the filesystem behind the mountpoint, at first boot.
//!
//! `ebs-grow init`: the filesystem behind the mountpoint, at first boot.
//! Reconcile first: an initialised mountpoint is left as it is; a volume of
//! ours from an interrupted init (created, attached, formatted, not yet
//! mounted) is picked up where it stopped.

use super::fs::{self, LABEL};
use super::kind::FsKind;
use super::ours;
use super::report::Report;
use super::run::Run;
use crate::aws::instance::describe_instance;
use crate::aws::volumes::{self, AttachOutcome, FreshVolume, VolumeInfo};
use crate::aws::Session;
use crate::block::fstab::{self, FstabChange};
use crate::block::mount::{mount_by_uuid, mounted_at};
use crate::block::probe::{fs_identity, parse_export};
use crate::block::{probe, Blankness};
use crate::exit::{bad_input, Unsafe};
use anyhow::{anyhow, Context, Result};
use std::path::{Path, PathBuf};

const MOUNT_OPTIONS: &str = "defaults,noatime";
const FSTAB_OPTIONS: &str = "defaults,noatime,nofail";

/// How long a first boot's init waits before it asks again after a
/// transient failure.
const HEAL_PAUSE: std::time::Duration = std::time::Duration::from_secs(10);

/// `init`, asked again within the run's deadline after a transient
/// failure (a late IMDS, EC2 answering 5xx or throttling): the unit's
/// start job is then still running, so services with `Requires=` and
/// `After=` on it wait instead of failing (before systemd 254, a unit's
/// own `Restart=` fails its dependents' jobs). Every pass reconciles
/// first, so asking again is safe.
pub async fn init_healing(run: &Run) -> Result<Report> {
    loop {
        match init(run).await {
            Err(e)
                if crate::exit::is_transient(&e) && run.deadline.remaining() > HEAL_PAUSE * 3 =>
            {
                log::warn!(
                    "{e:#}; a transient failure: init again in {} s",
                    HEAL_PAUSE.as_secs()
                );
                tokio::time::sleep(HEAL_PAUSE).await;
            }
            other => return other,
        }
    }
}

pub async fn init(run: &Run) -> Result<Report> {
    let s = &run.settings;
    let _lock = run.lock().await?;
    let mut report = Report {
        command: "init",
        mountpoint: s.mountpoint.clone(),
        dry_run: run.dry_run(),
        filesystem: Some(s.fs.to_string()),
        ..Default::default()
    };
    if let Some(m) = mounted_at(&s.mountpoint)? {
        if m.fstype != s.fs.mount_type() {
            return Err(bad_input(format!(
                "{} already holds {} from {}, not {}",
                s.mountpoint.display(),
                m.fstype,
                m.source,
                s.fs
            )));
        }
        let (uuid, _) = fs_identity(Path::new(&m.source))?
            .ok_or_else(|| anyhow!("cannot read the filesystem UUID of {}", m.source))?;
        if !run.dry_run() {
            persist(run, &uuid)?;
        }
        report.action = "already-initialised".into();
        report.uuid = Some(uuid);
        return Ok(report);
    }

    // What to put the filesystem on.
    let (device, volume, fresh): (PathBuf, Option<VolumeInfo>, Option<FreshVolume>) =
        match &s.initial_device {
            Some(d) if !d.starts_with("vol-") => {
                let p = std::fs::canonicalize(d)
                    .with_context(|| format!("initial device {d} not found"))?;
                (p, None, None)
            }
            other => {
                let session = run.session().await?;
                let (dev, v, fresh) = volume_for_init(run, &session, other.as_deref()).await?;
                match dev {
                    Some(dev) => (dev, Some(v), fresh),
                    None => {
                        report.action = "would-create".into();
                        report.size_gib = Some(v.size_gib);
                        return Ok(report);
                    }
                }
            }
        };
    report.device = Some(device.clone());
    report.volume_id = volume.as_ref().map(|v| v.volume_id.clone());
    report.size_gib = volume.as_ref().map(|v| v.size_gib);

    let (uuid, fs_device) = match existing_filesystem(run, &device)? {
        Some(found) => {
            log::info!(
                "{} already holds ebs-grow's {}; mounting it",
                device.display(),
                s.fs
            );
            found
        }
        None => {
            if let Blankness::NotBlank(why) = probe(&device)? {
                if fresh.is_none() {
                    return Err(Unsafe(format!(
                        "refusing to initialise {} on {}: it is not blank ({why})",
                        s.mountpoint.display(),
                        device.display()
                    ))
                    .into());
                }
            }
            if run.dry_run() {
                report.action = "would-initialise".into();
                return Ok(report);
            }
            let vid = volume.as_ref().map(|v| v.volume_id.as_str());
            fs::make(s.fs, &device, vid, &run.vg(), fresh.as_ref(), false)?
        }
    };
    if run.dry_run() {
        report.action = "would-mount".into();
        report.uuid = Some(uuid);
        return Ok(report);
    }
    mount_by_uuid(
        &uuid,
        s.fs.mount_type(),
        &s.mountpoint,
        MOUNT_OPTIONS,
        &fs_device,
    )?;
    persist(run, &uuid)?;
    log::info!(
        volume_id = report.volume_id.as_deref().unwrap_or_default(),
        decision = "initialised",
        message_id = crate::logging::events::FILESYSTEM_CREATED;
        "{} initialised: {} UUID={uuid} on {}",
        s.mountpoint.display(),
        s.fs,
        fs_device.display()
    );
    report.action = "initialised".into();
    report.uuid = Some(uuid);
    report.after = Some(super::usage::measure(
        s.fs,
        &s.mountpoint,
        &fs_device.to_string_lossy(),
    )?);
    Ok(report)
}

fn persist(run: &Run, uuid: &str) -> Result<()> {
    let s = &run.settings;
    if fstab::ensure_line(
        &s.fstab,
        uuid,
        &s.mountpoint,
        s.fs.mount_type(),
        FSTAB_OPTIONS,
    )? == FstabChange::Added
    {
        log::info!("added {} to {}", s.mountpoint.display(), s.fstab.display());
    }
    Ok(())
}

/// ebs-grow's own filesystem already on `device` (an init that stopped
/// between mkfs and mount): (UUID, device to mount).
fn existing_filesystem(run: &Run, device: &Path) -> Result<Option<(String, PathBuf)>> {
    let out =
        crate::block::cmd::run_raw("blkid", &["-p", "-o", "export", &device.to_string_lossy()])?;
    if !out.status.success() {
        return Ok(None);
    }
    let found = parse_export(&String::from_utf8_lossy(&out.stdout));
    let s = &run.settings;
    if s.fs == FsKind::LvmExt4 && found.get("TYPE").map(String::as_str) == Some("LVM2_member") {
        let lv = PathBuf::from(format!("/dev/{}/{}", run.vg(), fs::LV_NAME));
        if !lv.exists() {
            crate::block::cmd::run("vgchange", &["-ay", &run.vg()])?;
        }
        return Ok(fs_identity(&lv)?.map(|(u, _)| (u, lv)));
    }
    let ours = found.get("TYPE").map(String::as_str) == Some(s.fs.mount_type())
        && found.get("LABEL").map(String::as_str) == Some(LABEL);
    Ok(match (ours, found.get("UUID")) {
        (true, Some(uuid)) => Some((uuid.clone(), device.to_path_buf())),
        _ => None,
    })
}

/// The volume to initialise on: one of ours from an interrupted init, the
/// named one, or a new one. Returns its device (None with --dry-run when it
/// would be created).
async fn volume_for_init(
    run: &Run,
    session: &Session,
    named: Option<&str>,
) -> Result<(Option<PathBuf>, VolumeInfo, Option<FreshVolume>)> {
    let s = &run.settings;
    let ec2 = session.ec2();
    let iid = session.instance_id();
    let az = &session.identity.availability_zone;
    let me = describe_instance(ec2, iid)
        .await?
        .ok_or_else(|| anyhow!("EC2 does not know this instance {iid}"))?;
    let candidate = match named {
        Some(vid) => Some(
            volumes::describe_volume(ec2, vid)
                .await?
                .ok_or_else(|| bad_input(format!("initial device {vid} does not exist")))?,
        ),
        None => {
            let mut ours = volumes::describe_volumes(ec2, &ours::filters(iid, az, s)).await?;
            ours.sort_by_key(ours::sequence);
            ours.into_iter()
                .find(|v| v.attached_to(iid) || v.state == "available")
        }
    };
    let (v, fresh) = match candidate {
        Some(v) => (v, None),
        None => {
            let spec = ours::spec(s, iid, az, s.initial_size_gib, 1);
            if run.dry_run() {
                log::info!(
                    "would create a {} GiB {} volume for {}",
                    s.initial_size_gib,
                    s.volume_type,
                    s.mountpoint.display()
                );
                return Ok((
                    None,
                    volumes::VolumeInfo {
                        volume_id: String::new(),
                        size_gib: s.initial_size_gib,
                        state: String::new(),
                        availability_zone: az.clone(),
                        volume_type: s.volume_type.clone(),
                        tags: spec.tags,
                        attachment: None,
                        create_time: None,
                    },
                    None,
                ));
            }
            let token = ours::client_token(iid, s, &ours::boot_id(), 1);
            let created =
                volumes::create_volume(ec2, &spec, &token, run.started, &run.deadline).await?;
            (created.volume, created.fresh)
        }
    };
    if run.dry_run() && !v.attached_to(iid) {
        log::info!("would attach {} and initialise it", v.volume_id);
        return Ok((None, v, None));
    }
    let device_name = match volumes::attach_volume(ec2, &me, &v).await? {
        AttachOutcome::Attached { device } | AttachOutcome::AlreadyAttached { device } => device,
        AttachOutcome::LostRace { reason } => {
            return Err(anyhow!(
                "cannot attach {} for {}: {reason}",
                v.volume_id,
                s.mountpoint.display()
            ))
        }
    };
    let dev = run
        .resolver
        .wait(
            &v.volume_id,
            Some(&device_name),
            Some(v.size_bytes()),
            &run.deadline,
        )
        .await?;
    let ours = v.tag(ours::TAG_MANAGED_BY) == Some(ours::MANAGED_BY);
    if ours && !run.dry_run() {
        // Scratch space goes with the instance; a volume the admin named
        // is theirs and keeps its setting.
        volumes::set_delete_on_termination(ec2, iid, &device_name, &v.volume_id, true).await?;
    }
    run.resolver
        .recheck(&dev, Some(&device_name), Some(v.size_bytes()))?;
    Ok((Some(dev.path), v, fresh))
}
