//! `px-volume-claim`'s claim loop: the steps the plan gives, acted out.
//!
//! px-volume-claim's claim: one look at the cluster's volumes, then per
//! template the steps `plan::next_step` gives, until one holds.

use super::cli::{local_config, user_data_config, Cli};
use super::config::Template;
use super::plan::{being_made, next_step, Facts, Step};
use super::report::{env_file, ClaimReport, Claimed};
use super::tags::{CLUSTER_TAG, TEMPLATE_TAG, TOOL};
use crate::aws::filter::FilterSpec;
use crate::aws::instance::{BlockDevice, InstanceInfo};
use crate::aws::volumes::{self, VolumeInfo, VolumeSpec};
use crate::aws::Session;
use crate::block::DeviceResolver;
use crate::runlock::RunLock;
use crate::spread::fnv1a_seeded;
use crate::turn;
use crate::wait::Deadline;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// Looks per template: each round attaches, or learns from one lost race;
/// a handful covers any realistic race.
const ROUNDS: usize = 6;

pub(super) struct Run<'a> {
    pub(super) session: &'a Session,
    pub(super) cluster: &'a str,
    pub(super) me: &'a str,
    pub(super) az: &'a str,
    pub(super) resolver: DeviceResolver,
    pub(super) deadline: Deadline,
    pub(super) started: SystemTime,
    pub(super) dry_run: bool,
    /// This instance's rank in its group, when it took a turn.
    pub(super) rank: Option<usize>,
    /// Volumes this run attached: their device names are taken.
    pub(super) attached: std::cell::RefCell<Vec<BlockDevice>>,
    pub(super) wait_released: Duration,
    /// The templates' own descriptions, read once, when a first volume
    /// has to be made like one of them.
    pub(super) templates: std::cell::RefCell<Option<BTreeMap<String, VolumeSpec>>>,
    pub(super) all_templates: Vec<String>,
}

pub async fn claim(cli: &Cli) -> Result<ClaimReport> {
    let common = &cli.common;
    // Bad flags or a bad file fail before any network call.
    let local = local_config(cli)?;
    let deadline = Deadline::after(common.timeout());
    let started = SystemTime::now();
    let session = Session::within(common.region.clone(), &deadline).await?;
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

impl Run<'_> {
    pub(super) fn ec2(&self) -> &aws_sdk_ec2::Client {
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
    pub(super) fn instance(&self) -> InstanceInfo {
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
        let mut out = Claimed {
            template: tid.clone(),
            outcome: "storage-less".into(),
            volume_id: None,
            device: None,
            new: false,
            count_before: vols.len(),
            max_count: t.max_count,
        };
        // The template's volumes are being made right now, by this group
        // booting together: each rank has its own slot (see `fleet_plan`).
        let fleet_rank = self.rank.filter(|_| being_made(&vols, SystemTime::now()));
        let mut waited = false;
        // Each round attaches, or learns from one lost race and looks
        // again; a handful of rounds covers any realistic race.
        let mut round = 0;
        let why = loop {
            let step = next_step(&Facts {
                template: t,
                vols: &vols,
                me: self.me,
                az: self.az,
                rank: self.rank,
                fleet_rank,
                count_before: out.count_before,
                first_look: round == 0,
                waited,
            });
            if self.dry_run {
                out.outcome = self.dry_run_outcome(t, &vols, step).await?.into();
                log::info!("dry run: {tid}: {}", out.outcome);
                return Ok(out);
            }
            match step {
                Step::Reuse(v) => {
                    // Found at the start: a restart. Found later: an attach
                    // whose answer was lost.
                    out.outcome = if round == 0 { "reused" } else { "claimed" }.into();
                    let device = v.attachment.as_ref().map(|a| a.device.clone());
                    return self.finish(out, &v, device).await;
                }
                Step::Attach(v) => {
                    if let Some(device) = self.attach(&v).await? {
                        out.outcome = "claimed".into();
                        return self.finish(out, &v, Some(device)).await;
                    }
                }
                Step::Create(slot) => {
                    if let Some((v, device)) = self.create_and_attach(t, slot).await? {
                        out.outcome = "created".into();
                        return self.finish(out, &v, Some(device)).await;
                    }
                }
                Step::WaitRelease { before_create } => {
                    waited = true;
                    let freed = self.wait_for_release(&vols).await?;
                    match (freed, before_create) {
                        // Nothing came free: make the volume after all.
                        (false, true) => continue,
                        (false, false) => {
                            break format!(
                                "{} of {} volumes exist, none free in {}",
                                vols.len(),
                                t.max_count,
                                self.az
                            )
                        }
                        // A volume came free: look again at once.
                        (true, true) => {
                            round += 1;
                            vols = self.refresh(tid).await?;
                            continue;
                        }
                        (true, false) => {}
                    }
                }
                Step::StorageLess(why) => break why,
            }
            round += 1;
            if round == ROUNDS {
                break format!(
                    "{} of {} volumes exist, none free in {}",
                    vols.len(),
                    t.max_count,
                    self.az
                );
            }
            // Lost a race (or a volume came free): let the winners' attaches
            // land before looking again, each instance pausing a different
            // while, so that the next look shows them in use instead of
            // free-for-a-moment.
            tokio::time::sleep(self.pause()).await;
            vols = self.refresh(tid).await?;
        };
        log::info!("{tid}: {why}: no volume of this template here");
        Ok(out)
    }

    /// What a dry run reports for `step`: the first step the run would
    /// take. A wait for a release is what the run does only when a holder
    /// is shutting down (one read-only DescribeInstances says); otherwise
    /// the run goes on to the step after it.
    async fn dry_run_outcome(
        &self,
        t: &Template,
        vols: &[VolumeInfo],
        step: Step,
    ) -> Result<&'static str> {
        let Step::WaitRelease { before_create } = step else {
            return Ok(step.dry_run_outcome());
        };
        if !self.leaving(vols).await?.is_empty() {
            return Ok(step.dry_run_outcome());
        }
        if !before_create {
            return Ok("storage-less");
        }
        let after = next_step(&Facts {
            template: t,
            vols,
            me: self.me,
            az: self.az,
            rank: self.rank,
            fleet_rank: None,
            count_before: vols.len(),
            first_look: true,
            waited: true,
        });
        Ok(after.dry_run_outcome())
    }

    /// 100 to 600 ms, fixed per instance.
    fn pause(&self) -> Duration {
        let spread = fnv1a_seeded(self.me.as_bytes(), 0x9e37_79b9_7f4a_7c15) % 500;
        Duration::from_millis(100 + spread).min(self.deadline.remaining())
    }
}
