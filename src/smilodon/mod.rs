//! smilodon-attach: before a node's service starts, give this instance the
//! EBS volume and the ENI that share a NodeID tag, so that node N always
//! comes back with node N's disk and node N's IP address.
//!
//! One run: read what is attached here and what is free (one
//! DescribeVolumes, one DescribeNetworkInterfaces, tags included), keep a
//! pair already held (a restart: no mutation), finish a half-held one, or
//! claim a free one (volume first, then ENI; a pair lost halfway is
//! released). Then wait for the block device and the interface, make a
//! filesystem only on a blank volume, mount it by UUID, and write the
//! node's environment file.

pub mod claim;
pub mod node;
pub mod pairs;

use crate::aws::enis::{self, describe_enis};
use crate::aws::filter::{self, FilterSpec};
use crate::aws::volumes::{self, describe_volumes};
use crate::aws::{AwsOptions, Session};
use crate::block::FsType;
use crate::cli::{print_report, CommonArgs, DeviceArgs, Report};
use crate::envfile::EnvFile;
use crate::exit::{bad_input, BadInput, Code, NoCapacity};
use crate::runlock::RunLock;
use crate::wait::Deadline;
use anyhow::{Context, Result};
use claim::{Claimer, How, Released};
use clap::{Parser, ValueEnum};
use node::Filesystem;
use pairs::{Inventory, Problem, Standing};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "smilodon-attach",
    version,
    about = "Attach the EBS volume and ENI that share a NodeID tag, mount the volume, and write the node's environment file",
    max_term_width = 80
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,

    #[command(flatten)]
    pub devices: DeviceArgs,

    /// EC2 filters the volumes and ENIs must match, in smilodon's form
    /// ('tag:Env=dev,tag:Service=etcd,tag-key=Project') or the AWS CLI's
    /// ('Name=tag:Service,Values=etcd'); repeatable.
    #[arg(long = "filter", visible_alias = "filters", value_name = "FILTERS")]
    pub filters: Vec<String>,

    /// The tag whose value pairs a volume with an ENI.
    #[arg(long, env = "SMILODON_NODE_ID_TAG", default_value = "NodeID")]
    pub node_id_tag: String,

    /// Mount the volume here (by filesystem UUID).
    #[arg(long)]
    pub mountpoint: Option<PathBuf>,

    /// Make this filesystem on the volume if, and only if, it is blank.
    #[arg(long, value_enum, requires = "mountpoint")]
    pub mkfs: Option<FsType>,

    /// Mount options.
    #[arg(long, default_value = "defaults")]
    pub mount_options: String,

    /// Give the mounted filesystem's root to USER[:GROUP] (the service's
    /// user); empty: leave it.
    #[arg(
        long,
        value_name = "USER[:GROUP]",
        default_value = "",
        requires = "mountpoint"
    )]
    pub owner: String,

    /// When no pair is free: fail (exit 6) or idle (exit 8: a spare).
    #[arg(long, value_enum, default_value = "fail")]
    pub when_none: WhenNone,

    /// Exit as systemd's ExecCondition= expects: 0 when the pair is in
    /// place, 1 when idle (the service is skipped, not failed), 255 on
    /// any error (the unit fails; the log names the error).
    #[arg(long)]
    pub exec_condition: bool,

    /// The environment file the node's service reads.
    #[arg(
        long,
        env = "SMILODON_ENV_FILE",
        default_value = "/run/mooring/smilodon-attach.env"
    )]
    pub env_file: PathBuf,

    /// Also write the NodeID (plus --node-id-offset) to this file, e.g.
    /// ZooKeeper's myid on the data volume.
    #[arg(long, value_name = "FILE")]
    pub write_node_id: Option<PathBuf>,

    /// Added to a numeric NodeID before writing it (myid starts at 1).
    #[arg(
        long,
        default_value_t = 0,
        requires = "write_node_id",
        allow_negative_numbers = true
    )]
    pub node_id_offset: i64,

    /// Attachment slots of this instance type, shared by volumes and ENIs.
    #[arg(long, default_value_t = crate::aws::instance::DEFAULT_ATTACHMENT_LIMIT)]
    pub attachment_limit: u32,
}

/// What to do when no pair is free.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WhenNone {
    /// Exit 6: the unit fails (and Restart= may try again later).
    Fail,
    /// Exit 8: this instance is a spare; nothing is attached.
    Idle,
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct AttachReport {
    pub instance_id: String,
    pub availability_zone: String,
    /// reused, completed, claimed, idle
    pub outcome: String,
    pub node_id: Option<String>,
    pub volume_id: Option<String>,
    pub device: Option<PathBuf>,
    pub eni_id: Option<String>,
    pub mac: Option<String>,
    pub interface: Option<String>,
    pub ip: Option<String>,
    pub mountpoint: Option<PathBuf>,
    pub filesystem: Option<Filesystem>,
    pub node_id_file: Option<PathBuf>,
    pub env_file: Option<PathBuf>,
    pub released: Vec<Released>,
    /// NodeIDs another instance took while this run tried them.
    pub lost_races: Vec<String>,
    pub problems: Vec<Problem>,
    pub pairs_seen: usize,
    /// This instance's place in its Auto Scaling group, when its group was
    /// booting together.
    pub turn: Option<crate::turn::Turn>,
    pub dry_run: bool,
}

impl Report for AttachReport {
    fn text(&self) -> String {
        let mut lines = Vec::new();
        match &self.node_id {
            Some(id) => lines.push(format!(
                "{}: NodeID {id} {} ({} + {})",
                self.instance_id,
                self.outcome,
                self.volume_id.as_deref().unwrap_or("?"),
                self.eni_id.as_deref().unwrap_or("?")
            )),
            None => lines.push(format!(
                "{}: idle, no free pair among {} in {}",
                self.instance_id, self.pairs_seen, self.availability_zone
            )),
        }
        if let Some(d) = &self.device {
            lines.push(format!("device: {}", d.display()));
        }
        if let (Some(i), Some(ip)) = (&self.interface, &self.ip) {
            lines.push(format!(
                "interface: {i} ({}) {ip}",
                self.mac.as_deref().unwrap_or("?")
            ));
        }
        if let (Some(m), Some(f)) = (&self.mountpoint, &self.filesystem) {
            let made = if f.created { ", made now" } else { "" };
            lines.push(format!(
                "mounted: {} ({} {}{made})",
                m.display(),
                f.fstype,
                f.uuid
            ));
        }
        for r in &self.released {
            lines.push(format!(
                "released: {} (NodeID {}: {})",
                r.resource, r.node_id, r.why
            ));
        }
        if let Some(e) = &self.env_file {
            lines.push(format!("env file: {}", e.display()));
        }
        lines.join("\n")
    }
}

/// Check the flags that clap cannot.
fn validate(cli: &Cli) -> Result<Vec<FilterSpec>> {
    let tag = &cli.node_id_tag;
    if tag.is_empty() || tag.contains(',') || tag.len() > 128 {
        return Err(bad_input(format!(
            "--node-id-tag {tag:?} must be 1-128 characters without commas"
        )));
    }
    if let Some(m) = &cli.mountpoint {
        if !m.is_absolute() || m == &PathBuf::from("/") {
            return Err(bad_input(format!(
                "--mountpoint {} must be an absolute path other than /",
                m.display()
            )));
        }
    }
    if let Some(f) = &cli.write_node_id {
        if !f.is_absolute() {
            return Err(bad_input(format!(
                "--write-node-id {} must be an absolute path",
                f.display()
            )));
        }
    }
    Ok(filter::parse_all(&cli.filters)?)
}

/// The program's main: `args` as the process got them, its name first.
pub fn main(args: Vec<std::ffi::OsString>) -> ! {
    let exec_condition = args.iter().skip(1).any(|a| a == "--exec-condition");
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        // As ExecCondition=, exit 2 would mean "skip the service": a typo
        // in the flags must fail the unit instead.
        Err(e) if exec_condition && e.use_stderr() => {
            let _ = e.print();
            std::process::exit(exit_status(Code::BadInput, true))
        }
        Err(e) => e.exit(),
    };
    let code = crate::cli::execute(cli.common.verbose, cli.common.quiet, run(cli));
    std::process::exit(exit_status(code, exec_condition))
}

pub async fn run(cli: Cli) -> Result<Code> {
    let report = attach(&cli).await?;
    print_report(&report, cli.common.output);
    Ok(if report.node_id.is_none() {
        Code::Idle
    } else {
        Code::Ok
    })
}

/// The exit status for `code`: the documented codes, or with
/// `--exec-condition` what systemd's ExecCondition= understands.
pub fn exit_status(code: Code, exec_condition: bool) -> i32 {
    match (exec_condition, code) {
        (false, c) => c.as_i32(),
        (true, Code::Ok) => 0,
        (true, Code::Idle) => 1,
        (true, _) => 255,
    }
}

/// One run; the report of what it did.
pub async fn attach(cli: &Cli) -> Result<AttachReport> {
    let user_filters = validate(cli)?;
    let owner = node::parse_owner(&cli.owner)?;
    let common = &cli.common;
    let deadline = Deadline::after(common.timeout());
    let opts = AwsOptions {
        region: common.region.clone(),
        ..Default::default()
    };
    let session = deadline
        .run("instance metadata and AWS clients", Session::start(&opts))
        .await?;
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
    let first_run = !common.dry_run && !cli.env_file.exists();
    let throttled = crate::turn::wait_unranked(&me);
    let (vols, nics) = deadline
        .run("volumes and ENIs with a NodeID", async {
            if first_run {
                crate::turn::first_look(&session.aws, &me, look, throttled).await
            } else {
                look(ec2.clone()).await
            }
        })
        .await?;
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
                Ok(report)
            }
        };
    };
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
