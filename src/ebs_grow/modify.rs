//! ebs-grow's growth in place: one volume made bigger, then its filesystem.

use super::fs;
use super::run::Run;
use super::usage::Usage;
use crate::aws::volumes::{self};
use crate::aws::{AwsError, Session};
use crate::block::resolve::device_size;
use crate::exit::NoCapacity;
use anyhow::{anyhow, Result};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::grown::Grown;

const GIB: u64 = 1 << 30;
/// EC2 allows one modification per volume every six hours.
const MODIFY_COOLDOWN: Duration = Duration::from_secs(6 * 3600);

/// Grow the backing volume with Elastic Volumes. `Ok(Err(why))` when it
/// cannot be done now (rate limit, maximum size, not an EBS volume), so
/// the caller can add a volume instead.
pub(super) async fn modify_in_place(
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
    log::info!(
        volume_id = volume_id.as_str(),
        decision = "grown",
        message_id = crate::logging::events::VOLUME_GROWN;
        "grown {volume_id} to {target} GiB in {}",
        s.mountpoint.display()
    );
    Ok(Ok(Grown {
        action: "grown".into(),
        volume_id: Some(volume_id),
        device: Some(member),
        size_gib: Some(target),
        notes: Vec::new(),
    }))
}
