//! `ebs-grow check`: one look at the mountpoint, and a growth when space
//! runs low. Reconcile first: a growth interrupted at any step (journal in
//! the state directory) is finished by the next run before anything new is
//! created — a volume of ours that is available is attached, one attached
//! but not in the filesystem is added.

use super::fs::{self, FsKind};
use super::ours;
use super::report::Report;
use super::state::{now_ms, Pending};
use super::usage::{self, Sample, Usage};
use super::Run;
use crate::aws::instance::{describe_instance, InstanceInfo};
use crate::aws::volumes::{self, AttachOutcome, FreshVolume, VolumeInfo};
use crate::aws::{AwsError, Session};
use crate::block::mount::{mounted_at, MountEntry};
use crate::block::probe::fs_identity;
use crate::block::resolve::device_size;
use crate::block::{probe, Blankness, ResolvedDevice};
use crate::exit::{NoCapacity, Unsafe};
use anyhow::{anyhow, Context, Result};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

const GIB: u64 = 1 << 30;
/// EC2 allows one modification per volume every six hours.
const MODIFY_COOLDOWN: Duration = Duration::from_secs(6 * 3600);
/// A rate estimated over less than this is noise.
const MIN_SAMPLE_GAP_MS: u64 = 1000;

pub async fn check(run: &Run) -> Result<Report> {
    let s = &run.settings;
    let _lock = run.lock().await?;
    let mount = mounted_at(&s.mountpoint)?.ok_or_else(|| {
        anyhow!(
            "{} is not mounted: run `ebs-grow init` first",
            s.mountpoint.display()
        )
    })?;
    if mount.fstype != s.fs.mount_type() {
        return Err(crate::exit::bad_input(format!(
            "{} holds {}, not {} as configured",
            s.mountpoint.display(),
            mount.fstype,
            s.fs
        )));
    }
    let members = fs::members(s.fs, &mount.source, &run.vg())?;
    let before = usage::measure(s.fs, &s.mountpoint, &mount.source)?;
    let files = run.files();
    let now = now_ms();
    let prev = files.sample();
    let fresh_sample = prev.is_none_or(|p| now.saturating_sub(p.at_ms) >= MIN_SAMPLE_GAP_MS);
    let rate_base = if fresh_sample { prev } else { None };
    let decision = usage::decide(s, &before, members.len() as u32, rate_base, now);
    if fresh_sample && !run.dry_run() {
        files.save_sample(&Sample {
            at_ms: now,
            used_bytes: before.used_bytes,
            total_bytes: before.total_bytes,
        })?;
    }
    let mut report = Report {
        command: "check",
        mountpoint: s.mountpoint.clone(),
        dry_run: run.dry_run(),
        filesystem: Some(s.fs.to_string()),
        before: Some(before),
        ..Default::default()
    };
    let pending = files.pending();
    if !decision.grow && pending.is_none() {
        log::debug!("{:.1}% used: nothing to do", decision.used_percent);
        report.action = "none".into();
        report.decision = Some(decision);
        return Ok(report);
    }
    match &pending {
        Some(p) => log::info!(
            "finishing a growth of {} begun at {} ms",
            s.mountpoint.display(),
            p.since_ms
        ),
        None => log::info!(
            "{} needs room: {}",
            s.mountpoint.display(),
            decision.reasons.join("; ")
        ),
    }
    if !run.dry_run() {
        files.begin(&Pending {
            since_ms: pending.as_ref().map_or(now, |p| p.since_ms),
            what: decision.reasons.join("; "),
        })?;
    }
    let session = run.session().await?;
    let grown = grow(run, &session, &mount, &members, decision.grow, &before).await?;
    if !run.dry_run() {
        files.finish()?;
    }
    report.action = grown.action;
    report.volume_id = grown.volume_id;
    report.device = grown.device;
    report.size_gib = grown.size_gib;
    report.notes = grown.notes;
    report.decision = Some(decision);
    if !run.dry_run() {
        let after = usage::measure(s.fs, &s.mountpoint, &mount.source)?;
        // The next check measures its rate from here, not from before the
        // growth (a growth's own metadata is not a fill rate).
        files.save_sample(&Sample {
            at_ms: now_ms(),
            used_bytes: after.used_bytes,
            total_bytes: after.total_bytes,
        })?;
        report.after = Some(after);
    }
    Ok(report)
}

#[derive(Debug, Default)]
struct Grown {
    action: String,
    volume_id: Option<String>,
    device: Option<PathBuf>,
    size_gib: Option<i32>,
    notes: Vec<String>,
}

/// The growth itself, after the decision. `need_more` is false when only
/// an interrupted growth is being finished.
async fn grow(
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

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

fn done(run: &Run, action: &str, v: &VolumeInfo, dev: &ResolvedDevice) -> Grown {
    log::info!(
        "{action} {} ({} GiB) to {}",
        v.volume_id,
        v.size_gib,
        run.settings.mountpoint.display()
    );
    Grown {
        action: action.into(),
        volume_id: Some(v.volume_id.clone()),
        device: Some(dev.path.clone()),
        size_gib: Some(v.size_gib),
        notes: Vec::new(),
    }
}

fn would(action: &str, v: &VolumeInfo) -> Grown {
    Grown {
        action: action.into(),
        volume_id: Some(v.volume_id.clone()),
        size_gib: Some(v.size_gib),
        ..Default::default()
    }
}

/// After an attach: the device (found locally, no AWS call while waiting)
/// and DeleteOnTermination, set and verified.
async fn attach_finish(
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
fn add_to_filesystem(
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
async fn add_new_volume(
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
    if count >= s.max_volumes {
        return Err(NoCapacity(format!(
            "{} already spans {count} volumes, the maximum (max_volumes)",
            s.mountpoint.display()
        ))
        .into());
    }
    let total_bytes: u64 = members.iter().map(|m| device_size(m).unwrap_or(0)).sum();
    let room_gib = (s.max_total_size_gib as u64 * GIB).saturating_sub(total_bytes) / GIB;
    let size = (s.next_size_gib(count) as u64).min(room_gib) as i32;
    if size < 1 {
        return Err(NoCapacity(format!(
            "{} has reached its maximum total size of {} GiB (max_total_size_gib)",
            s.mountpoint.display(),
            s.max_total_size_gib
        ))
        .into());
    }
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

fn is_limit(e: &anyhow::Error) -> bool {
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

/// Grow the backing volume with Elastic Volumes. `Ok(Err(why))` when it
/// cannot be done now (rate limit, maximum size, not an EBS volume), so
/// the caller can add a volume instead.
async fn modify_in_place(
    run: &Run,
    session: &Session,
    members: &[PathBuf],
    usage: &Usage,
) -> Result<Result<Grown, String>> {
    let s = &run.settings;
    let ec2 = session.ec2();
    // The newest device is the one to grow.
    let Some((member, volume_id)) = members.iter().rev().find_map(|m| {
        let disk = fs::disk_of(m);
        run.resolver.volume_of(&disk).map(|v| (m.clone(), v))
    }) else {
        return Ok(Err(
            "no device of the filesystem is an EBS volume this instance can name".into(),
        ));
    };
    let Some(v) = volumes::describe_volume(ec2, &volume_id).await? else {
        return Ok(Err(format!("{volume_id} is unknown to EC2")));
    };
    if v.size_gib >= s.max_volume_size_gib {
        return Ok(Err(format!(
            "{volume_id} is at the maximum volume size of {} GiB",
            s.max_volume_size_gib
        )));
    }
    let mods = volumes::describe_modifications(ec2, &volume_id).await?;
    if let Some(m) = mods
        .iter()
        .find(|m| m.state == "modifying" || m.state == "optimizing")
    {
        return Ok(Err(format!(
            "{volume_id} is still being modified ({})",
            m.state
        )));
    }
    let now = SystemTime::now();
    if let Some(last) = mods.iter().filter_map(|m| m.start_time).max() {
        if now.duration_since(last).unwrap_or_default() < MODIFY_COOLDOWN {
            let until = last + MODIFY_COOLDOWN;
            let secs = until.duration_since(now).unwrap_or_default().as_secs();
            return Ok(Err(format!(
                "{volume_id} was modified less than 6 hours ago (possible again in {secs} s)"
            )));
        }
    }
    let count = members.len() as u32;
    let total_gib = (usage.total_bytes / GIB) as i64;
    let room = (s.max_total_size_gib - total_gib).max(0);
    let step = i64::from(s.next_size_gib(count)).min(room);
    let target = (i64::from(v.size_gib) + step).min(i64::from(s.max_volume_size_gib)) as i32;
    if target <= v.size_gib {
        return Err(NoCapacity(format!(
            "{} has reached its maximum total size of {} GiB (max_total_size_gib)",
            s.mountpoint.display(),
            s.max_total_size_gib
        ))
        .into());
    }
    if run.dry_run() {
        return Ok(Ok(Grown {
            action: "would-grow".into(),
            volume_id: Some(volume_id),
            size_gib: Some(target),
            ..Default::default()
        }));
    }
    if let Err(e) = volumes::modify_size(ec2, &volume_id, target).await {
        let limited = e.downcast_ref::<AwsError>().is_some_and(|a| {
            a.code_is("VolumeModificationRateExceeded") || a.code_is("IncorrectModificationState")
        });
        if limited {
            return Ok(Err(format!("{e:#}")));
        }
        return Err(e);
    }
    log::info!("growing {volume_id} from {} to {target} GiB", v.size_gib);
    // The new size is usable once the modification is optimizing.
    run.deadline
        .poll(
            format!("{volume_id} to reach {target} GiB"),
            Duration::from_secs(1),
            Duration::from_secs(5),
            || async {
                let mods = volumes::describe_modifications(ec2, &volume_id).await?;
                let latest = mods.iter().rfind(|m| m.target_size_gib == Some(target));
                match latest.map(|m| m.state.as_str()) {
                    Some("optimizing") | Some("completed") => Ok(Some(())),
                    Some("failed") => {
                        Err(anyhow!("EC2 failed to grow {volume_id} to {target} GiB"))
                    }
                    _ => Ok(None),
                }
            },
        )
        .await?;
    let disk = fs::disk_of(&member);
    let want = target as u64 * GIB;
    // The kernel sees the new size on its own (NVMe); no AWS call here.
    run.deadline
        .poll(
            format!("{} to show {target} GiB", disk.display()),
            Duration::from_millis(100),
            Duration::from_secs(1),
            || {
                let r = device_size(&disk).map(|n| (n >= want).then_some(()));
                async move { r }
            },
        )
        .await?;
    let plan = fs::grow_in_place_plan(s.fs, &member, &s.mountpoint, &run.vg())?;
    fs::run_plan(&plan, false)?;
    Ok(Ok(Grown {
        action: "grown".into(),
        volume_id: Some(volume_id),
        device: Some(member),
        size_gib: Some(target),
        notes: Vec::new(),
    }))
}
