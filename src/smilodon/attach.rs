//! `smilodon-attach`'s one run: look, choose, take, mount, write env.
//!
//! smilodon-attach's one run: look, choose and take a pair, then its device,
//! interface, filesystem, mount and environment file.

use super::claim::{self, Claimer, How};
use super::cli::{validate, Cli, WhenNone};
use super::node;
use super::pairs::{self, Inventory, Standing};
use super::report::AttachReport;
use super::spare;
use crate::aws::enis::{self, describe_enis};
use crate::aws::filter::FilterSpec;
use crate::aws::volumes::{self, describe_volumes};
use crate::aws::Session;
use crate::envfile::EnvFile;
use crate::exit::{BadInput, NoCapacity};
use crate::runlock::RunLock;
use crate::wait::Deadline;
use anyhow::{Context, Result};
use std::time::Duration;

/// One run; the report of what it did.
pub async fn attach(cli: &Cli) -> Result<AttachReport> {
    let user_filters = validate(cli)?;
    let owner = node::parse_owner(&cli.owner)?;
    let common = &cli.common;
    let deadline = Deadline::after(common.timeout());
    let session = Session::within(common.region.clone(), &deadline).await?;
    let me = session.instance_id().to_string();
    let az = session.identity.availability_zone.clone();
    let _lock = RunLock::acquire(&common.run_dir.join("smilodon-attach.lock"), &deadline).await?;
    let tag = &cli.node_id_tag;

    let mut filters = user_filters;
    filters.push(FilterSpec::new("tag-key", [tag.as_str()]));
    filters.push(FilterSpec::new("availability-zone", [az.as_str()]));
    let ec2 = session.ec2();
    // Both halves are asked together, and a half that was answered is
    // kept: a look asked again (throttled) asks only for what it lacks —
    // at 300 instances the group's tail otherwise paid for the other half
    // once per throttle, twice the calls the job needs.
    let kept_vols = std::sync::Mutex::new(None);
    let kept_nics = std::sync::Mutex::new(None);
    let look = |client: aws_sdk_ec2::Client| {
        let (filters, kept_vols, kept_nics) = (&filters, &kept_vols, &kept_nics);
        async move {
            let (vols, nics) = tokio::join!(
                kept_or(kept_vols, describe_volumes(&client, filters)),
                kept_or(kept_nics, describe_enis(&client, filters))
            );
            Ok((vols?, nics?))
        }
    };
    // A first run in this boot looks once; if EC2 throttles it (a whole
    // group booting), it looks again after a wait of its own instead of
    // the adaptive backoff's crawl (see crate::turn).
    // A spare's later tries (its timer) are not first runs: it looked
    // already this boot (the idle record), and a pair freed later is
    // anyone's, not a rank's.
    let idle_record = spare::path(&common.run_dir);
    let spare_record = spare::read(&idle_record);
    let first_run = !common.dry_run && !cli.env_file.exists() && spare_record.is_none();
    // A spare's retry (its timer's) that backs off after tries that could
    // not ask EC2 (see spare).
    let retry = spare_record.filter(|_| cli.when_none == WhenNone::Idle && !common.dry_run);
    if let Some(r) = retry.filter(|r| !spare::may_ask(r, spare::now_secs())) {
        log::info!(
            "{me} is a spare backing off after {} tries in a row that could not ask EC2; \
             the next try asks in {} s",
            r.failures,
            r.retry_after.saturating_sub(spare::now_secs())
        );
        return Ok(AttachReport {
            instance_id: me,
            availability_zone: az,
            outcome: "idle".into(),
            dry_run: common.dry_run,
            ..AttachReport::default()
        });
    }
    let throttled = crate::turn::wait_unranked(&me);
    let looked = deadline
        .run("volumes and ENIs with a NodeID", async {
            if first_run {
                crate::turn::first_look(&session.aws, &me, look, throttled).await
            } else {
                look(ec2.clone()).await
            }
        })
        .await;
    let (vols, nics) = match (looked, retry) {
        (Ok(found), _) => found,
        (Err(e), Some(r)) => {
            let next = spare::after_failure(r, spare::now_secs());
            if let Err(w) = spare::write(&idle_record, &next) {
                log::warn!("{w:#}");
            }
            return Err(e.context(format!(
                "a spare's try could not ask EC2 ({} in a row; the next asks in {} s)",
                next.failures,
                spare::backoff(next.failures)
            )));
        }
        (Err(e), None) => return Err(e),
    };
    let mine_raw: Vec<(String, String)> = vols
        .iter()
        .filter(|v| v.attached_to(&me))
        .map(|v| {
            (
                v.volume_id.clone(),
                v.tag(tag).unwrap_or_default().to_string(),
            )
        })
        .chain(
            nics.iter()
                .filter(|e| e.attached_to(&me))
                .map(|e| (e.eni_id.clone(), e.tag(tag).unwrap_or_default().to_string())),
        )
        .collect();
    let inv = pairs::pair_up(vols, nics, tag);
    for p in &inv.problems {
        log::warn!("{}", p.describe(tag));
    }
    check_held_are_pairs(&inv, &mine_raw, tag, &me)?;

    // A first run in this boot, holding nothing, while every pair is free
    // or just taken: its group is booting together, and it takes its turn
    // (the rank-th pair, or none) instead of racing the others for pairs.
    let holds_some = inv
        .pairs
        .iter()
        .any(|p| matches!(p.standing(&me), Standing::Held | Standing::HalfHeld));
    let turn = if !first_run
        || holds_some
        || inv.pairs.is_empty()
        || !pairs::being_made(&inv, std::time::SystemTime::now())
    {
        None
    } else {
        crate::turn::read(&session).await?
    };
    let resolver = cli.devices.resolver();
    let claimer = Claimer {
        ec2,
        instance_id: &me,
        resolver: &resolver,
        attachment_limit: cli.attachment_limit,
        dry_run: common.dry_run,
        rank: turn.as_ref().map(|t| t.rank),
    };
    let outcome = deadline
        .run("attaching a pair", claimer.claim(&inv))
        .await?;
    let mut report = AttachReport {
        instance_id: me.clone(),
        availability_zone: az.clone(),
        outcome: "idle".into(),
        node_id: None,
        volume_id: None,
        device: None,
        eni_id: None,
        mac: None,
        interface: None,
        ip: None,
        mountpoint: None,
        filesystem: None,
        node_id_file: None,
        env_file: None,
        released: outcome.released,
        lost_races: outcome.lost,
        problems: inv.problems.clone(),
        pairs_seen: inv.pairs.len(),
        turn,
        dry_run: common.dry_run,
    };
    let Some(holding) = outcome.holding else {
        let taken = inv
            .pairs
            .iter()
            .filter(|p| p.standing(&me) == Standing::Taken)
            .count();
        let why = format!(
            "no free pair for {me} in {az}: {} pair(s) with tag {tag}, {taken} taken by other instances{}",
            inv.pairs.len(),
            if inv.problems.is_empty() {
                String::new()
            } else {
                format!(", {} NodeID(s) with broken tags (see above)", inv.problems.len())
            }
        );
        return match cli.when_none {
            WhenNone::Fail => Err(NoCapacity(why).into()),
            WhenNone::Idle => {
                log::info!("{why}; idle (a spare)");
                if !common.dry_run {
                    spare::write(&idle_record, &spare::SpareRecord::default())?;
                }
                Ok(report)
            }
        };
    };
    if !common.dry_run {
        // No longer a spare: its timer stops trying.
        let _ = std::fs::remove_file(&idle_record);
    }
    let pair = &holding.pair;
    report.outcome = match holding.how {
        How::Reused => "reused",
        How::Completed => "completed",
        How::Claimed => "claimed",
    }
    .into();
    report.node_id = Some(pair.node_id.clone());
    report.volume_id = Some(pair.volume.volume_id.clone());
    report.eni_id = Some(pair.eni.eni_id.clone());
    report.mac = Some(pair.eni.mac_address.clone());
    report.ip = Some(pair.eni.private_ip.clone());
    report.mountpoint = cli.mountpoint.clone();
    if common.dry_run && holding.how != How::Reused {
        // Nothing was attached: there is no device or interface to find.
        return Ok(report);
    }
    if holding.how == How::Reused {
        keep_delete_on_termination_off(&session, &holding, common.dry_run).await?;
    }

    let attach_device = Some(holding.attach_device.as_str()).filter(|d| !d.is_empty());
    let size = pair.volume.size_bytes();
    let dev = resolver
        .wait(&pair.volume.volume_id, attach_device, Some(size), &deadline)
        .await?;
    report.device = Some(dev.path.clone());
    let what = format!("{} (NodeID {})", pair.eni.eni_id, pair.node_id);
    let iface = crate::net::wait_for_mac(&pair.eni.mac_address, &what, &deadline).await?;
    wait_imds_lists(&session, &pair.eni.mac_address, &what, &deadline).await?;
    wait_for_node_ip(
        cli,
        &pair.eni.mac_address,
        &pair.eni.private_ip,
        &what,
        &deadline,
    )
    .await?;
    report.interface = Some(iface.name.clone());

    if let Some(mp) = &cli.mountpoint {
        let volume = node::NodeVolume {
            resolver: &resolver,
            dev: &dev,
            attach_device,
            size_bytes: size,
        };
        let fs = volume.mount(mp, cli.mkfs, &cli.mount_options, common.dry_run)?;
        if let Some(owner) = owner.filter(|_| !common.dry_run) {
            node::chown_root(mp, owner, common.dry_run)?;
        }
        report.filesystem = Some(fs);
    }
    if let Some(path) = &cli.write_node_id {
        let text = node::node_id_text(
            &pair.node_id,
            cli.node_id_offset,
            tag,
            &pair.volume.volume_id,
        )?;
        node::write_node_id(path, &text, common.dry_run)?;
        report.node_id_file = Some(path.clone());
    }

    let mut env = EnvFile::new();
    env.set("NODE_ID", &pair.node_id)?
        .set("NODE_IP", &pair.eni.private_ip)?
        .set("NODE_ENI_ID", &pair.eni.eni_id)?
        .set("NODE_ENI_MAC", &pair.eni.mac_address)?
        .set("NODE_INTERFACE", &iface.name)?
        .set("NODE_VOLUME_ID", &pair.volume.volume_id)?
        .set("NODE_DEVICE", dev.path.to_string_lossy())?;
    if let Some(mp) = &cli.mountpoint {
        env.set("NODE_MOUNTPOINT", mp.to_string_lossy())?;
    }
    if common.dry_run {
        log::info!("dry run: would write {}", cli.env_file.display());
    } else {
        env.write(&cli.env_file, 0o644, "smilodon-attach")
            .with_context(|| format!("writing {}", cli.env_file.display()))?;
        report.env_file = Some(cli.env_file.clone());
    }
    log::info!(
        volume_id = pair.volume.volume_id.as_str(),
        eni_id = pair.eni.eni_id.as_str(),
        message_id = crate::logging::events::PAIR_ATTACHED;
        "NodeID {} is on {me}: {} at {}, {} ({}) at {}",
        pair.node_id,
        pair.volume.volume_id,
        dev.path.display(),
        pair.eni.eni_id,
        pair.eni.private_ip,
        iface.name
    );
    Ok(report)
}

/// A resource with a NodeID attached here must belong to a complete pair:
/// otherwise this run would claim a second node's pair while holding part
/// of another one.
fn check_held_are_pairs(
    inv: &Inventory,
    mine: &[(String, String)],
    tag: &str,
    me: &str,
) -> Result<()> {
    for (resource, node_id) in mine {
        if inv.pairs.iter().any(|p| &p.node_id == node_id) {
            continue;
        }
        let detail = inv
            .problems
            .iter()
            .find(|p| p.node_id() == Some(node_id.as_str()))
            .map(|p| p.describe(tag))
            .unwrap_or_else(|| format!("{tag}={node_id:?} is not a pair"));
        return Err(BadInput(format!(
            "{resource} is attached to {me} but its node is not a complete pair: {detail}; fix the tags"
        ))
        .into());
    }
    Ok(())
}

/// Volumes and ENIs of a node belong to the node, not to the instance:
/// DeleteOnTermination must be off. API attaches leave it off; an
/// attachment found with it on (set by hand, or by a launch template) is
/// turned off.
async fn keep_delete_on_termination_off(
    session: &Session,
    holding: &claim::Holding,
    dry_run: bool,
) -> Result<()> {
    let ec2 = session.ec2();
    let me = session.instance_id();
    let pair = &holding.pair;
    let vol_on = pair
        .volume
        .attachment
        .as_ref()
        .and_then(|a| a.delete_on_termination)
        .unwrap_or(false);
    let eni_on = pair
        .eni
        .attachment
        .as_ref()
        .is_some_and(|a| a.delete_on_termination);
    if dry_run {
        if vol_on || eni_on {
            log::info!(
                "dry run: would turn DeleteOnTermination off for NodeID {}",
                pair.node_id
            );
        }
        return Ok(());
    }
    volumes::keep_after_termination(ec2, me, &pair.volume).await?;
    if eni_on {
        log::warn!(
            "{} had DeleteOnTermination on; turning it off (it carries node {}'s address)",
            pair.eni.eni_id,
            pair.node_id
        );
        enis::set_delete_on_termination(ec2, &pair.eni.eni_id, &holding.attachment_id, false)
            .await?;
    }
    Ok(())
}

/// Wait (bounded by --address-wait and the run) until `ip` is on the
/// interface with `mac`, so that a service told NODE_IP can bind it. With
/// --address-wait 0, only say so when it is not there yet.
async fn wait_for_node_ip(
    cli: &Cli,
    mac: &str,
    ip: &str,
    what: &str,
    deadline: &Deadline,
) -> Result<()> {
    let ip: std::net::Ipv4Addr = ip
        .parse()
        .map_err(|e| anyhow::anyhow!("{what}: EC2 gave private IP {ip:?}: {e}"))?;
    if cli.address_wait == 0 {
        if !crate::net::by_mac(mac)?.is_some_and(|i| i.ipv4.contains(&ip)) {
            log::warn!("{ip} is not on the interface of {what} yet (--address-wait 0)");
        }
        return Ok(());
    }
    let wait = deadline.sub(Duration::from_secs(cli.address_wait));
    let iface = crate::net::wait_for_address(mac, ip, what, &wait).await?;
    log::debug!("{ip} is on {} ({what})", iface.name);
    Ok(())
}

/// Wait (bounded) until IMDS lists `mac`: services and network tools on
/// the instance read interfaces from there (amazon-ec2-net-utils #90).
async fn wait_imds_lists(
    session: &Session,
    mac: &str,
    what: &str,
    deadline: &Deadline,
) -> Result<()> {
    deadline
        .poll(
            format!("IMDS to list {what} (MAC {mac})"),
            Duration::from_millis(50),
            Duration::from_millis(500),
            || async {
                let macs = session.aws.imds.attached_macs().await?;
                Ok(macs.iter().any(|m| m == mac).then_some(()))
            },
        )
        .await
}

/// What `kept` holds, or else `ask`'s answer, then kept.
async fn kept_or<T: Clone>(
    kept: &std::sync::Mutex<Option<T>>,
    ask: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let held = kept.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if let Some(v) = held {
        return Ok(v);
    }
    let v = ask.await?;
    *kept.lock().unwrap_or_else(|e| e.into_inner()) = Some(v.clone());
    Ok(v)
}
