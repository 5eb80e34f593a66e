//! px-volume-claim: before a storage service starts, give this instance one
//! volume per template — its own from a restart, a free one of its
//! cluster, or a new one made like the template while the cluster has
//! fewer than max-count — or none (a storage-less node). It never formats
//! anything: the storage service owns the disks.
//!
//! Creation is race-free without a lock: volume number N (a "slot", 1 to
//! max-count) of a cluster and template is created with a ClientToken
//! derived from the cluster, the template and N, and identical parameters,
//! so instances creating slot N at the same time all get the same volume
//! from EC2; they then race to attach it, and the losers try another slot.
//! No instance ever makes a volume beyond max-count, and none has surplus
//! to delete.

pub mod config;

use crate::aws::filter::FilterSpec;
use crate::aws::instance::{BlockDevice, InstanceInfo};
use crate::aws::volumes::{self, AttachOutcome, VolumeInfo, VolumeSpec};
use crate::aws::{AwsError, AwsOptions, Session};
use crate::block::{probe, DeviceResolver};
use crate::cli::{print_report, CommonArgs, DeviceArgs, Report};
use crate::envfile::EnvFile;
use crate::exit::{bad_input, BadInput};
use crate::runlock::RunLock;
use crate::spread::{fnv1a, fnv1a_seeded, pick};
use crate::turn;
use crate::wait::Deadline;
use anyhow::{Context, Result};
use clap::Parser;
use config::{Config, Template};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// Tags Portworx itself puts on the volumes it makes: kept, so that a
/// cluster's existing volumes are found and counted.
pub const CLUSTER_TAG: &str = "PWX_CLUSTER_ID";
pub const TEMPLATE_TAG: &str = "PWX_EBS_VOLUME_TEMPLATE";
pub const SLOT_TAG: &str = "mooring:slot";
pub const MANAGED_BY_TAG: &str = "mooring:managed-by";
pub const TOOL: &str = "px-volume-claim";

#[derive(Debug, Parser)]
#[command(
    name = "px-volume-claim",
    version,
    about = "Claim a cluster's free EBS volume per template, or create one under max-count, else run storage-less",
    max_term_width = 80
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,

    #[command(flatten)]
    pub devices: DeviceArgs,

    /// The cluster's ID [default: from --config, else the instance's
    /// user-data (px-cluster.clusterid)].
    #[arg(long, env = "PX_CLAIM_CLUSTER_ID")]
    pub cluster_id: Option<String>,

    /// A template, VOLUME_ID:MAX_COUNT (repeatable; with --cluster-id).
    #[arg(
        long = "template",
        value_name = "VOLUME_ID:MAX_COUNT",
        requires = "cluster_id"
    )]
    pub templates: Vec<String>,

    /// A JSON configuration file: {"cluster-id": ..., "templates":
    /// [{"template": "vol-...", "max-count": N}]}.
    #[arg(long, env = "PX_CLAIM_CONFIG", conflicts_with = "cluster_id")]
    pub config: Option<PathBuf>,

    /// How long to wait for a volume still attached to a shutting-down
    /// instance to come free, in seconds (within --timeout).
    #[arg(long, default_value_t = 120)]
    pub wait_released: u64,

    /// The environment file the storage service reads.
    #[arg(
        long,
        env = "PX_CLAIM_ENV_FILE",
        default_value = "/run/mooring/px-volume-claim.env"
    )]
    pub env_file: PathBuf,
}

/// One template's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Claimed {
    pub template: String,
    /// reused, claimed, created, storage-less
    pub outcome: String,
    pub volume_id: Option<String>,
    pub device: Option<PathBuf>,
    /// The device is blank: the service initialises it. A volume that is
    /// not new carries the cluster's state.
    pub new: bool,
    /// Volumes of this cluster and template, in any state, before the run.
    pub count_before: usize,
    pub max_count: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClaimReport {
    pub instance_id: String,
    pub cluster_id: String,
    pub storageless: bool,
    /// This instance's place in its Auto Scaling group, on a first run in
    /// this boot of an instance in a group.
    pub turn: Option<turn::Turn>,
    pub templates: Vec<Claimed>,
    pub env_file: Option<PathBuf>,
    pub dry_run: bool,
}

impl Report for ClaimReport {
    fn text(&self) -> String {
        let mut lines = Vec::new();
        for c in &self.templates {
            match &c.volume_id {
                Some(v) => lines.push(format!(
                    "{}: {} {v}{} at {}",
                    c.template,
                    c.outcome,
                    if c.new { " (new, blank)" } else { "" },
                    c.device
                        .as_ref()
                        .map(|d| d.display().to_string())
                        .unwrap_or_else(|| "?".into())
                )),
                None => lines.push(format!(
                    "{}: storage-less ({} of {} volumes exist, none free)",
                    c.template, c.count_before, c.max_count
                )),
            }
        }
        if self.storageless {
            lines.push(format!("{}: storage-less node", self.instance_id));
        }
        if let Some(e) = &self.env_file {
            lines.push(format!("env file: {}", e.display()));
        }
        lines.join("\n")
    }
}

/// The program's main: `args` as the process got them, its name first
/// (`px-volume-claim` whether run by that name or as `mooring px-volume-claim`).
pub fn main(args: Vec<std::ffi::OsString>) -> ! {
    let cli = Cli::parse_from(args);
    crate::cli::main(cli.common.verbose, cli.common.quiet, run(cli))
}

pub async fn run(cli: Cli) -> Result<()> {
    let report = claim(&cli).await?;
    print_report(&report, cli.common.output);
    Ok(())
}

/// The configuration from flags, the file, or user-data (in that order).
/// The configuration given by flags or a file, checked before any network
/// call; `None` when it is to come from user-data.
fn local_config(cli: &Cli) -> Result<Option<Config>> {
    if let Some(id) = &cli.cluster_id {
        if cli.templates.is_empty() {
            return Err(bad_input("--cluster-id needs at least one --template"));
        }
        let templates = cli
            .templates
            .iter()
            .map(|t| config::parse_template_flag(t))
            .collect::<Result<Vec<_>, BadInput>>()?;
        return Ok(Some(
            Config {
                cluster_id: id.clone(),
                templates,
            }
            .validate("flags")?,
        ));
    }
    if let Some(path) = &cli.config {
        let text = std::fs::read_to_string(path)
            .map_err(|e| BadInput(format!("cannot read {}: {e}", path.display())))?;
        return Ok(Some(config::parse_json(
            &text,
            &path.display().to_string(),
        )?));
    }
    Ok(None)
}

/// The configuration in the instance's user-data.
async fn user_data_config(session: &Session) -> Result<Config> {
    let user_data = session.aws.imds.user_data().await?.ok_or_else(|| {
        BadInput(
            "no configuration: give --cluster-id and --template, or --config, or user-data".into(),
        )
    })?;
    if user_data.contains("AWS_SECRET_ACCESS_KEY") {
        log::warn!(
            "user-data carries AWS credentials; ignored: credentials come from the instance profile \
             (or the standard AWS_* environment variables)"
        );
    }
    Ok(config::parse_cloud_config(&user_data)?)
}

/// A stable, opaque ClientToken (at most 64 characters) for slot `slot`
/// of `cluster`'s `template`, generation `gen`.
pub fn slot_token(cluster: &str, template: &str, slot: u32, gen: u32) -> String {
    let text = format!("mooring-px:{cluster}:{template}:{slot}:{gen}");
    // Two independent 64-bit hashes: a collision would merge two slots.
    let a = fnv1a(text.as_bytes());
    let b = fnv1a_seeded(text.as_bytes(), 0x8422_2325_cbf2_9ce4);
    format!("mooring-px-{a:016x}{b:016x}")
}

/// The slot numbers still free for `t`. Volumes without a slot tag (made by
/// Portworx itself, or by hand) count against max-count too: that many
/// slots are left unused.
fn free_slots(t: &Template, vols: &[VolumeInfo]) -> Vec<u32> {
    let taken: Vec<u32> = vols
        .iter()
        .filter_map(|v| v.tag(SLOT_TAG)?.parse().ok())
        .collect();
    let untagged = vols.iter().filter(|v| v.tag(SLOT_TAG).is_none()).count();
    let mut slots: Vec<u32> = (1..=t.max_count).filter(|s| !taken.contains(s)).collect();
    slots.truncate(slots.len().saturating_sub(untagged));
    slots
}

/// None of the template's volumes is older than [`turn::BEING_MADE`]: its
/// cluster is being made now (or has no volume yet).
fn being_made(vols: &[VolumeInfo], now: SystemTime) -> bool {
    vols.iter().all(|v| turn::recent(v.create_time, now))
}

/// What rank `rank` of a group booting together does for template `t`.
#[derive(Debug, PartialEq)]
enum FleetPlan {
    Attach(Box<VolumeInfo>),
    Create(u32),
    /// Nothing for this rank, and why.
    None(String),
}

/// Rank r's slot is slot r + 1: the first max-count ranks each make and
/// attach their own slot's volume, whatever order their looks come in (a
/// slot's volume that is available is its rank's, made by an earlier run
/// of it), and no two of them contend. The ranks after them are
/// storage-less at their first look: every slot belongs to a rank before
/// theirs.
fn fleet_plan(t: &Template, vols: &[VolumeInfo], rank: usize, az: &str) -> FleetPlan {
    let Some(slot) = u32::try_from(rank + 1).ok().filter(|s| *s <= t.max_count) else {
        return FleetPlan::None(format!(
            "the group is booting together and its first {} ranks make the {} volumes",
            t.max_count, t.max_count
        ));
    };
    let slot_tag = slot.to_string();
    match vols
        .iter()
        .find(|v| v.tag(SLOT_TAG) == Some(slot_tag.as_str()))
    {
        Some(v)
            if v.attachment.is_none() && v.state == "available" && v.availability_zone == az =>
        {
            FleetPlan::Attach(Box::new(v.clone()))
        }
        Some(v) if v.attachment.is_none() && v.state == "creating" => FleetPlan::Create(slot),
        Some(v) => FleetPlan::None(format!(
            "slot {slot}, this rank's, is {} ({}, {})",
            v.volume_id,
            v.attachment
                .as_ref()
                .map_or("not attached", |a| a.instance_id.as_str()),
            v.availability_zone
        )),
        None if free_slots(t, vols).contains(&slot) => FleetPlan::Create(slot),
        None => FleetPlan::None(format!(
            "slot {slot}, this rank's, is left for volumes made without a slot"
        )),
    }
}

struct Run<'a> {
    session: &'a Session,
    cluster: &'a str,
    me: &'a str,
    az: &'a str,
    resolver: DeviceResolver,
    deadline: Deadline,
    started: SystemTime,
    dry_run: bool,
    /// This instance's rank in its group, when it took a turn.
    rank: Option<usize>,
    /// Volumes this run attached: their device names are taken.
    attached: std::cell::RefCell<Vec<BlockDevice>>,
    wait_released: Duration,
    /// The templates' own descriptions, read once, when a first volume
    /// has to be made like one of them.
    templates: std::cell::RefCell<Option<BTreeMap<String, VolumeSpec>>>,
    all_templates: Vec<String>,
}

pub async fn claim(cli: &Cli) -> Result<ClaimReport> {
    let common = &cli.common;
    // Bad flags or a bad file fail before any network call.
    let local = local_config(cli)?;
    let deadline = Deadline::after(common.timeout());
    let started = SystemTime::now();
    let opts = AwsOptions {
        region: common.region.clone(),
        ..Default::default()
    };
    let session = deadline
        .run("instance metadata and AWS clients", Session::start(&opts))
        .await?;
    let config = match local {
        Some(c) => c,
        None => user_data_config(&session).await?,
    };
    let me = session.instance_id().to_string();
    let az = session.identity.availability_zone.clone();
    let _lock = RunLock::acquire(&common.run_dir.join("px-volume-claim.lock"), &deadline).await?;
    // A first run in this boot takes its place in its group (see
    // crate::turn); a rerun (its env file is there) may hold its volumes
    // already, and a dry run changes nothing: they have no turn.
    let mut turn = if common.dry_run || cli.env_file.exists() {
        None
    } else {
        turn::read(&session).await?
    };
    let run = Run {
        session: &session,
        cluster: &config.cluster_id,
        me: &me,
        az: &az,
        resolver: cli.devices.resolver(),
        deadline,
        started,
        dry_run: common.dry_run,
        rank: turn.as_ref().map(|t| t.rank),
        attached: Default::default(),
        wait_released: Duration::from_secs(cli.wait_released),
        templates: std::cell::RefCell::new(None),
        all_templates: config
            .templates
            .iter()
            .map(|t| t.volume_id.clone())
            .collect(),
    };
    // One describe for every template: the cluster's volumes.
    let mut by_template = run.first_look(turn.as_mut()).await?;
    let mut claimed = Vec::new();
    for t in &config.templates {
        let vols = by_template.remove(&t.volume_id).unwrap_or_default();
        claimed.push(
            run.template(t, vols)
                .await
                .with_context(|| format!("template {}", t.volume_id))?,
        );
    }
    let storageless = claimed.iter().all(|c| c.volume_id.is_none());
    if storageless {
        log::info!(
            "{me}: no volume for cluster {}: a storage-less node",
            config.cluster_id
        );
    }
    let mut report = ClaimReport {
        instance_id: me.clone(),
        cluster_id: config.cluster_id.clone(),
        storageless,
        turn,
        templates: claimed,
        env_file: None,
        dry_run: common.dry_run,
    };
    if common.dry_run {
        return Ok(report);
    }
    let env = env_file(&report)?;
    env.write(&cli.env_file, 0o644, TOOL)
        .with_context(|| format!("writing {}", cli.env_file.display()))?;
    report.env_file = Some(cli.env_file.clone());
    Ok(report)
}

/// The service's environment file.
fn env_file(report: &ClaimReport) -> Result<EnvFile> {
    let held: Vec<&Claimed> = report
        .templates
        .iter()
        .filter(|c| c.volume_id.is_some())
        .collect();
    let join = |f: &dyn Fn(&Claimed) -> Option<String>| {
        held.iter()
            .filter_map(|c| f(c))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let device = |c: &Claimed| c.device.as_ref().map(|d| d.display().to_string());
    let mut env = EnvFile::new();
    env.set("PX_CLUSTER_ID", &report.cluster_id)?
        .set(
            "PX_CLAIM_STORAGELESS",
            if report.storageless { "true" } else { "false" },
        )?
        .set("PX_CLAIM_VOLUMES", join(&|c| c.volume_id.clone()))?
        .set("PX_CLAIM_DEVICES", join(&device))?
        .set(
            "PX_CLAIM_NEW_VOLUMES",
            join(&|c| c.new.then(|| c.volume_id.clone()).flatten()),
        )?
        .set(
            "PX_CLAIM_DEVICE_ARGS",
            join(&|c| device(c).map(|d| format!("-s {d}"))),
        )?;
    Ok(env)
}

impl Run<'_> {
    fn ec2(&self) -> &aws_sdk_ec2::Client {
        self.session.ec2()
    }

    /// The cluster's volumes, in any state but deleted, every AZ, by
    /// template.
    async fn cluster_volumes(&self) -> Result<BTreeMap<String, Vec<VolumeInfo>>> {
        let filters = [FilterSpec::tag(CLUSTER_TAG, self.cluster)];
        Ok(self.by_template(volumes::describe_volumes(self.ec2(), &filters).await?))
    }

    /// The cluster's volumes by template, deleted ones left out.
    fn by_template(&self, vols: Vec<VolumeInfo>) -> BTreeMap<String, Vec<VolumeInfo>> {
        let mut out: BTreeMap<String, Vec<VolumeInfo>> = BTreeMap::new();
        for v in vols {
            if matches!(v.state.as_str(), "deleting" | "deleted") {
                continue;
            }
            if let Some(t) = v.tag(TEMPLATE_TAG) {
                out.entry(t.to_string()).or_default().push(v);
            }
        }
        out
    }

    /// The first look. With a turn, a throttled look is asked again at
    /// this rank's turn rather than with backoff (see crate::turn).
    async fn first_look(
        &self,
        turn: Option<&mut turn::Turn>,
    ) -> Result<BTreeMap<String, Vec<VolumeInfo>>> {
        let Some(turn) = turn else {
            return self.cluster_volumes().await;
        };
        let filters = [FilterSpec::tag(CLUSTER_TAG, self.cluster)];
        let filters = &filters;
        let vols = turn::first_look(
            &self.session.aws,
            self.session.instance_id(),
            |ec2| async move { volumes::describe_volumes(&ec2, filters).await },
            turn.wait(&self.deadline),
        )
        .await?;
        Ok(self.by_template(vols))
    }

    async fn refresh(&self, template: &str) -> Result<Vec<VolumeInfo>> {
        Ok(self
            .cluster_volumes()
            .await?
            .remove(template)
            .unwrap_or_default())
    }

    /// This instance as attach needs it. Device names in use are the ones
    /// this run attached; others are learnt from EC2's refusals rather
    /// than from a DescribeInstances call.
    fn instance(&self) -> InstanceInfo {
        InstanceInfo {
            instance_id: self.me.to_string(),
            state: "running".into(),
            availability_zone: self.az.to_string(),
            block_devices: self.attached.borrow().clone(),
            interfaces: Vec::new(),
            tags: BTreeMap::new(),
        }
    }

    async fn template(&self, t: &Template, mut vols: Vec<VolumeInfo>) -> Result<Claimed> {
        let tid = &t.volume_id;
        let max = t.max_count as usize;
        let mut out = Claimed {
            template: tid.clone(),
            outcome: "storage-less".into(),
            volume_id: None,
            device: None,
            new: false,
            count_before: vols.len(),
            max_count: t.max_count,
        };
        if self.dry_run {
            out.outcome = self.plan(t, &vols);
            return Ok(out);
        }
        let mut waited = false;
        // The template's volumes are being made right now, by this group
        // booting together: each rank has its own slot (see `fleet_plan`).
        let fleet = self.rank.filter(|_| being_made(&vols, SystemTime::now()));
        // Each round attaches, or learns from one lost race and looks
        // again; a handful of rounds covers any realistic race.
        for round in 0..6 {
            // 1. Ours already: a restart, or a run whose answer was lost.
            if let Some(v) = vols.iter().find(|v| v.attached_to(self.me)) {
                // Found at the start: a restart. Found later: an attach
                // whose answer was lost.
                let outcome = if round == 0 { "reused" } else { "claimed" };
                out.outcome = outcome.into();
                let device = v.attachment.as_ref().map(|a| a.device.clone());
                return self.finish(out, v, device).await;
            }
            if let Some(rank) = fleet {
                match fleet_plan(t, &vols, rank, self.az) {
                    FleetPlan::Attach(v) => {
                        if let Some(device) = self.attach(&v).await? {
                            out.outcome = "claimed".into();
                            return self.finish(out, &v, Some(device)).await;
                        }
                    }
                    FleetPlan::Create(slot) => {
                        if let Some((v, device)) = self.create_and_attach(t, slot).await? {
                            out.outcome = "created".into();
                            return self.finish(out, &v, Some(device)).await;
                        }
                    }
                    FleetPlan::None(why) => {
                        log::info!("{tid}: {why}: no volume of this template here");
                        return Ok(out);
                    }
                }
                // This rank's slot went to an instance outside the plan
                // (one that booted earlier): look again, as the plan says.
                tokio::time::sleep(self.pause()).await;
                vols = self.refresh(tid).await?;
                continue;
            }
            // 2. A free volume of the cluster in this AZ.
            let mut free: Vec<VolumeInfo> = vols
                .iter()
                .filter(|v| v.availability_zone == self.az && v.state == "available")
                .cloned()
                .collect();
            // In an order every instance shares, for `pick`.
            free.sort_by(|a, b| a.volume_id.cmp(&b.volume_id));
            if let Some(v) = pick(&free, self.me, self.rank) {
                if let Some(device) = self.attach(v).await? {
                    out.outcome = "claimed".into();
                    return self.finish(out, v, Some(device)).await;
                }
            } else if vols.len() < max && !free_slots(t, &vols).is_empty() {
                // 3a. Before making a new volume: one held by an instance
                // that is shutting down (an Auto Scaling replacement launched
                // before the old instance let go) is this node's to take
                // over, not to leave orphaned. Asked once, on the first
                // look, and only when some volume here is attached
                // elsewhere (later looks see the instances racing this one).
                if round == 0 && self.held_elsewhere(&vols) {
                    waited = true;
                    if self.wait_for_release(&vols).await? {
                        vols = self.refresh(tid).await?;
                        continue;
                    }
                }
                // 3. A new volume in a free slot.
                let slots = free_slots(t, &vols);
                let Some(&slot) = pick(&slots, self.me, self.rank) else {
                    break;
                };
                if let Some((v, device)) = self.create_and_attach(t, slot).await? {
                    out.outcome = "created".into();
                    return self.finish(out, &v, Some(device)).await;
                }
            } else if !waited && out.count_before >= max {
                // 4. At the limit before this run began: a volume held by an
                // instance that is shutting down comes free soon
                // (replacement overlap). A limit reached during this run
                // was reached by instances booting with this one: no call.
                waited = true;
                if !self.wait_for_release(&vols).await? {
                    break;
                }
            } else {
                break;
            }
            // Lost a race: let the winners' attaches land before looking
            // again, each instance pausing a different while, so that the
            // next look shows them in use instead of free-for-a-moment.
            tokio::time::sleep(self.pause()).await;
            vols = self.refresh(tid).await?;
        }
        log::info!(
            "{tid}: {} of {} volumes exist, none free in {}: no volume of this template here",
            vols.len(),
            t.max_count,
            self.az
        );
        Ok(out)
    }

    /// 100 to 600 ms, fixed per instance.
    fn pause(&self) -> Duration {
        let spread = fnv1a_seeded(self.me.as_bytes(), 0x9e37_79b9_7f4a_7c15) % 500;
        Duration::from_millis(100 + spread).min(self.deadline.remaining())
    }

    /// What a dry run would do for `t`.
    fn plan(&self, t: &Template, vols: &[VolumeInfo]) -> String {
        let plan = if vols.iter().any(|v| v.attached_to(self.me)) {
            "reused"
        } else if vols
            .iter()
            .any(|v| v.availability_zone == self.az && v.state == "available")
        {
            "would-claim"
        } else if vols.len() < t.max_count as usize {
            "would-create"
        } else {
            "storage-less"
        };
        log::info!("dry run: {}: {plan}", t.volume_id);
        plan.into()
    }

    /// Attach `v`: the device name given to EC2, or `None` when another
    /// instance was faster.
    async fn attach(&self, v: &VolumeInfo) -> Result<Option<String>> {
        let here = &self.instance();
        let attached = turn::patiently(&self.session.aws, self.me, "attach", |ec2| async move {
            volumes::attach_volume_unconfirmed(&ec2, here, v).await
        })
        .await?;
        match attached {
            AttachOutcome::Attached { device } | AttachOutcome::AlreadyAttached { device } => {
                self.attached.borrow_mut().push(BlockDevice {
                    device_name: device.clone(),
                    volume_id: v.volume_id.clone(),
                    delete_on_termination: false,
                });
                Ok(Some(device))
            }
            AttachOutcome::LostRace { reason } => {
                log::info!("{} went to another instance ({reason})", v.volume_id);
                Ok(None)
            }
        }
    }

    /// The volume is attached here: find its device, say whether it is
    /// blank (new to the cluster: the service initialises it).
    async fn finish(
        &self,
        mut out: Claimed,
        v: &VolumeInfo,
        attach_device: Option<String>,
    ) -> Result<Claimed> {
        out.volume_id = Some(v.volume_id.clone());
        // The volume belongs to the cluster and must outlive the instance.
        volumes::keep_after_termination(self.ec2(), self.me, v).await?;
        let dev = self
            .resolver
            .wait(
                &v.volume_id,
                attach_device.as_deref(),
                Some(v.size_bytes()),
                &self.deadline,
            )
            .await?;
        out.new = probe(&dev.path)?.is_blank();
        log::info!(
            "{}: {} {} at {}{}",
            out.template,
            out.outcome,
            v.volume_id,
            dev.path.display(),
            if out.new {
                " (blank: new to the cluster)"
            } else {
                " (carries the cluster's state)"
            }
        );
        out.device = Some(dev.path);
        Ok(out)
    }

    /// How a volume like `template` is made (the templates are described
    /// once, together).
    async fn spec_of(&self, template: &str) -> Result<VolumeSpec> {
        if self.templates.borrow().is_none() {
            let ids = &self.all_templates;
            let out = turn::patiently(&self.session.aws, self.me, "templates", |ec2| async move {
                ec2.describe_volumes()
                    .set_volume_ids(Some(ids.clone()))
                    .send()
                    .await
                    .map_err(|e| AwsError::new("DescribeVolumes", ids.join(", "), e).into())
            })
            .await?;
            let specs = out
                .volumes()
                .iter()
                .map(|v| {
                    (
                        v.volume_id().unwrap_or_default().to_string(),
                        self.spec_from(v),
                    )
                })
                .collect();
            *self.templates.borrow_mut() = Some(specs);
        }
        self.templates
            .borrow()
            .as_ref()
            .and_then(|m| m.get(template).cloned())
            .ok_or_else(|| BadInput(format!("template volume {template} does not exist")).into())
    }

    fn spec_from(&self, v: &aws_sdk_ec2::types::Volume) -> VolumeSpec {
        let template = v.volume_id().unwrap_or_default();
        let kind = v
            .volume_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_else(|| "gp3".into());
        // IOPS can be set only for the types that take it.
        let iops = v
            .iops()
            .filter(|_| matches!(kind.as_str(), "io1" | "io2" | "gp3"));
        let mut tags = BTreeMap::new();
        tags.insert(CLUSTER_TAG.to_string(), self.cluster.to_string());
        tags.insert(TEMPLATE_TAG.to_string(), template.to_string());
        tags.insert(MANAGED_BY_TAG.to_string(), TOOL.to_string());
        VolumeSpec {
            size_gib: v.size().unwrap_or(0),
            volume_type: kind.clone(),
            iops,
            throughput: v.throughput().filter(|_| kind == "gp3"),
            encrypted: v.encrypted().unwrap_or(false),
            kms_key_id: v.kms_key_id().map(str::to_string),
            snapshot_id: None,
            availability_zone: self.az.to_string(),
            tags,
        }
    }

    /// Create slot `slot`'s volume and attach it: the volume and its
    /// device name, or `None` when another instance got it. The slot's
    /// volume may come back already attached to the instance that made it
    /// first: no attach to lose then.
    async fn create_and_attach(
        &self,
        t: &Template,
        slot: u32,
    ) -> Result<Option<(VolumeInfo, String)>> {
        let Some(v) = self
            .create(t, slot)
            .await?
            .filter(|v| v.attachment.is_none() || v.attached_to(self.me))
        else {
            return Ok(None);
        };
        Ok(self.attach(&v).await?.map(|device| (v, device)))
    }

    /// Create (or be handed, by its ClientToken) the volume of free slot
    /// `slot`. `None` when that slot turned out to be taken.
    async fn create(&self, t: &Template, slot: u32) -> Result<Option<VolumeInfo>> {
        let mut spec = self.spec_of(&t.volume_id).await?;
        spec.tags.insert(SLOT_TAG.to_string(), slot.to_string());
        // A token whose volume was deleted since is spent: the next
        // generation makes the slot's volume anew.
        for gen in 0..3 {
            let token = slot_token(self.cluster, &t.volume_id, slot, gen);
            let (spec, token) = (&spec, &token);
            let created = turn::patiently(&self.session.aws, self.me, "create", |ec2| async move {
                volumes::create_volume(&ec2, spec, token, self.started, &self.deadline).await
            })
            .await;
            match created {
                Ok(created) if !matches!(created.volume.state.as_str(), "deleting" | "deleted") => {
                    log::info!(
                        "slot {slot} of {} is {}",
                        t.volume_id,
                        created.volume.volume_id
                    );
                    return Ok(Some(created.volume));
                }
                Ok(_) => continue,
                Err(e)
                    if e.downcast_ref::<AwsError>()
                        .is_some_and(|a| a.code_is("IdempotentParameterMismatch")) =>
                {
                    log::info!(
                        "slot {slot} of {} was made elsewhere (another AZ)",
                        t.volume_id
                    );
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Is some volume of this AZ attached to another instance? Only then
    /// can one be held by an instance that is shutting down.
    fn held_elsewhere(&self, vols: &[VolumeInfo]) -> bool {
        vols.iter().any(|v| {
            v.availability_zone == self.az
                && v.attachment
                    .as_ref()
                    .is_some_and(|a| a.instance_id != self.me)
        })
    }

    /// Wait (bounded) for a volume of this AZ held by an instance that is
    /// shutting down to become available. False when none is, or none
    /// came free in time.
    async fn wait_for_release(&self, vols: &[VolumeInfo]) -> Result<bool> {
        let holders: Vec<&str> = vols
            .iter()
            .filter(|v| v.availability_zone == self.az)
            .filter_map(|v| v.attachment.as_ref())
            .map(|a| a.instance_id.as_str())
            .filter(|i| *i != self.me)
            .collect();
        if holders.is_empty() {
            return Ok(false);
        }
        let out = self
            .ec2()
            .describe_instances()
            .set_instance_ids(Some(holders.iter().map(|s| s.to_string()).collect()))
            .send()
            .await
            .map_err(|e| AwsError::new("DescribeInstances", holders.join(", "), e))?;
        let leaving: Vec<String> = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter(|i| {
                matches!(
                    i.state().and_then(|s| s.name()).map(|n| n.as_str()),
                    Some("shutting-down" | "stopping" | "terminated")
                )
            })
            .filter_map(|i| i.instance_id().map(str::to_string))
            .collect();
        let waiting: Vec<String> = vols
            .iter()
            .filter(|v| {
                v.attachment
                    .as_ref()
                    .is_some_and(|a| leaving.contains(&a.instance_id))
            })
            .map(|v| v.volume_id.clone())
            .collect();
        if waiting.is_empty() {
            return Ok(false);
        }
        log::info!(
            "{} held by instances shutting down; waiting up to {} s for one to come free",
            waiting.join(", "),
            self.wait_released.as_secs()
        );
        let wait = self.deadline.sub(self.wait_released);
        let freed = wait
            .poll(
                format!("{} to be released", waiting.join(", ")),
                Duration::from_secs(1),
                Duration::from_secs(5),
                || async {
                    let out = self
                        .ec2()
                        .describe_volumes()
                        .set_volume_ids(Some(waiting.clone()))
                        .send()
                        .await
                        .map_err(|e| AwsError::new("DescribeVolumes", waiting.join(", "), e))?;
                    let free = out
                        .volumes()
                        .iter()
                        .any(|v| v.state().map(|s| s.as_str()) == Some("available"));
                    Ok(free.then_some(()))
                },
            )
            .await;
        match freed {
            Ok(()) => Ok(true),
            Err(e) if e.is::<crate::wait::TimedOut>() => {
                log::warn!("{e:#}");
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_slots_leave_room_for_untagged_volumes() {
        let t = Template {
            volume_id: "vol-1".into(),
            max_count: 4,
        };
        let vol = |slot: Option<&str>| VolumeInfo {
            volume_id: "vol-x".into(),
            size_gib: 1,
            state: "available".into(),
            availability_zone: "us-east-1a".into(),
            volume_type: "gp3".into(),
            tags: slot
                .map(|s| [(SLOT_TAG.to_string(), s.to_string())].into())
                .unwrap_or_default(),
            attachment: None,
            create_time: None,
        };
        assert_eq!(free_slots(&t, &[]), [1, 2, 3, 4]);
        assert_eq!(free_slots(&t, &[vol(Some("2"))]), [1, 3, 4]);
        assert_eq!(free_slots(&t, &[vol(Some("2")), vol(None)]), [1, 3]);
        assert!(free_slots(&t, &vec![vol(None); 4]).is_empty());
    }

    #[test]
    fn slot_tokens_are_stable_distinct_and_short() {
        let a = slot_token("c", "vol-1", 1, 0);
        assert_eq!(a, slot_token("c", "vol-1", 1, 0));
        assert_ne!(a, slot_token("c", "vol-1", 2, 0));
        assert_ne!(a, slot_token("c", "vol-1", 1, 1));
        assert_ne!(a, slot_token("d", "vol-1", 1, 0));
        assert!(a.len() <= 64);
    }

    fn slot_volume(slot: &str, state: &str, holder: Option<&str>, age_s: u64) -> VolumeInfo {
        VolumeInfo {
            volume_id: format!("vol-{slot}"),
            size_gib: 1,
            state: state.into(),
            availability_zone: "us-east-1a".into(),
            volume_type: "gp3".into(),
            tags: [(SLOT_TAG.to_string(), slot.to_string())].into(),
            attachment: holder.map(|i| volumes::VolumeAttachment {
                instance_id: i.into(),
                device: "/dev/sdf".into(),
                state: "attached".into(),
                delete_on_termination: Some(false),
                attach_time: None,
            }),
            create_time: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 - age_s)),
        }
    }

    #[test]
    fn a_cluster_is_being_made_while_all_its_volumes_are_young() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert!(being_made(&[], now));
        let young = slot_volume("1", "in-use", Some("i-1"), 5);
        let old = slot_volume("2", "available", None, turn::BEING_MADE.as_secs() + 1);
        assert!(being_made(std::slice::from_ref(&young), now));
        assert!(!being_made(&[young, old], now));
    }

    #[test]
    fn each_rank_of_a_booting_group_has_its_own_slot() {
        let t = Template {
            volume_id: "vol-t".into(),
            max_count: 3,
        };
        let az = "us-east-1a";
        // Nothing made yet: the first three ranks make slots 1 to 3.
        for rank in 0..3 {
            assert_eq!(
                fleet_plan(&t, &[], rank, az),
                FleetPlan::Create(rank as u32 + 1)
            );
        }
        assert!(matches!(fleet_plan(&t, &[], 3, az), FleetPlan::None(_)));
        // Slot 2 made (by rank 1, whose attach is on its way): rank 1's
        // rerun attaches it, nobody else touches it.
        let made = [slot_volume("2", "available", None, 1)];
        assert_eq!(
            fleet_plan(&t, &made, 1, az),
            FleetPlan::Attach(Box::new(made[0].clone()))
        );
        assert_eq!(fleet_plan(&t, &made, 0, az), FleetPlan::Create(1));
        assert!(matches!(fleet_plan(&t, &made, 5, az), FleetPlan::None(_)));
        // Still creating: the same token hands it over.
        let creating = [slot_volume("1", "creating", None, 1)];
        assert_eq!(fleet_plan(&t, &creating, 0, az), FleetPlan::Create(1));
        // Held by another instance, or made in another AZ: nothing.
        let held = [slot_volume("1", "in-use", Some("i-other"), 1)];
        assert!(matches!(fleet_plan(&t, &held, 0, az), FleetPlan::None(_)));
        assert!(matches!(
            fleet_plan(&t, &made, 1, "us-east-1b"),
            FleetPlan::None(_)
        ));
        // A volume without a slot (made by Portworx itself) leaves the
        // last slot unused.
        let mut untagged = slot_volume("x", "in-use", Some("i-px"), 1);
        untagged.tags.clear();
        assert_eq!(
            fleet_plan(&t, std::slice::from_ref(&untagged), 1, az),
            FleetPlan::Create(2)
        );
        assert!(matches!(
            fleet_plan(&t, &[untagged], 2, az),
            FleetPlan::None(_)
        ));
    }
}
