//! `etcd-member-prepare prepare` (ExecStartPre= of etcd.service).
//!
//! 1. Facts: the data directory, the peers (EC2), what the other peers'
//!    etcd says (a [`Survey`], then the member list of the pinned member).
//! 2. [`decide::decide`]; a `Wait` looks again every 5 s within the
//!    deadline (a dry run reports it and stops).
//! 3. Act: restart as is; bootstrap; or (re)join — remove the members
//!    whose instances are proven gone, one at a time under the quorum
//!    guard, each removal's own answer giving the next list; then add this
//!    instance. Write the env file etcd reads.

use super::cluster::Cluster;
use super::decide::{self, ClusterView, Decision, Facts};
use super::join::{join, members_when_quorate, move_aside, remove_dead};
use super::options::Options;
use super::setup::{setup, Setup};
use super::snapshot::restore::{restore_if_any, RestoreArgs};
use super::survey::Survey;
use super::tls;
use crate::cli::{CommonArgs, Report};
use crate::envfile::EnvFile;
use crate::exit::bad_input;
use crate::runlock::RunLock;
use anyhow::{anyhow, Result};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// What prepare decided.
#[derive(Debug, Clone, Serialize)]
pub struct PrepareReport {
    pub name: String,
    /// new, restore, join, rejoin, restart (wait: a dry run that would
    /// wait)
    pub decision: String,
    pub initial_cluster_state: String,
    pub initial_cluster: String,
    pub removed_members: Vec<String>,
    pub moved_data_dir: Option<PathBuf>,
    pub env_file: PathBuf,
    /// Why a dry run would wait.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
    /// The snapshot a bootstrap restored (decision `restore`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restored: Option<super::snapshot::restore::Restored>,
    pub dry_run: bool,
}

impl Report for PrepareReport {
    fn text(&self) -> String {
        let mut lines = vec![
            format!(
                "{}: {} ({})",
                self.name, self.decision, self.initial_cluster_state
            ),
            format!("initial cluster: {}", self.initial_cluster),
        ];
        if let Some(r) = &self.restored {
            lines.push(format!("restored: {} (revision {})", r.from, r.revision));
        }
        if let Some(w) = &self.waiting_for {
            lines.push(format!("waiting for: {w}"));
        }
        for m in &self.removed_members {
            lines.push(format!("removed dead member: {m}"));
        }
        if let Some(d) = &self.moved_data_dir {
            lines.push(format!("old data dir kept at: {}", d.display()));
        }
        lines.push(format!("env file: {}", self.env_file.display()));
        lines.join("\n")
    }
}

/// What the other peers' etcd says, and the member to ask further.
async fn look(
    s: &Setup,
    o: &Options,
    peers: &[super::peers::Peer],
    tls: &tls::Tls,
) -> Result<(ClusterView, Option<Cluster>)> {
    let survey = Survey::of(&s.others(peers, o), tls.clone()).await;
    let Some(c) = Cluster::pin(&survey, tls.clone()).await? else {
        let (why, config) = survey.could_not_ask();
        let view = if why.is_empty() {
            ClusterView::Silent
        } else {
            ClusterView::CouldNotAsk { why, config }
        };
        return Ok((view, None));
    };
    let members = match c.members().await {
        Ok(m) => Some(m),
        Err(e) => {
            log::warn!("{e:#}: the cluster cannot say its members for sure now");
            None
        }
    };
    Ok((ClusterView::Answers(members), Some(c)))
}

pub async fn prepare(common: &CommonArgs, o: &Options) -> Result<PrepareReport> {
    prepare_or_restore(common, o, None).await
}

/// `prepare`, or with `manual` (`restore --from`) a bootstrap from a
/// person's snapshot — refused unless this instance would bootstrap.
pub async fn prepare_or_restore(
    common: &CommonArgs,
    o: &Options,
    manual: Option<&RestoreArgs>,
) -> Result<PrepareReport> {
    // Certificates that cannot be read are bad input before any request.
    let tls = tls::tls_options(o)?;
    // An instance that left (its group is terminating it) must not join
    // again when etcd restarts: the record lives until the next boot.
    let left = super::leave::left_record(common);
    if let Ok(why) = std::fs::read_to_string(&left) {
        return Err(crate::exit::Unsafe(format!(
            "{} ({}): this instance does not join again before a reboot",
            why.trim(),
            left.display()
        ))
        .into());
    }
    let s = setup(common, o).await?;
    let lock_path = common.run_dir.join("etcd-member-prepare.lock");
    let _lock = RunLock::acquire(&lock_path, &s.deadline).await?;
    let has_data = o.data_dir.join("member").exists();
    let mut peers = if !common.dry_run && !has_data {
        s.first_discover(o).await?
    } else {
        s.discover(o).await?
    };
    let mut report = PrepareReport {
        name: s.me.name.clone(),
        decision: String::new(),
        initial_cluster_state: String::new(),
        initial_cluster: String::new(),
        removed_members: Vec::new(),
        moved_data_dir: None,
        env_file: o.env_file.clone(),
        waiting_for: None,
        restored: None,
        dry_run: common.dry_run,
    };
    let (decision, view, cluster, candidates) = loop {
        let (view, cluster) = look(&s, o, &peers, &tls).await?;
        let candidates = s.candidates(&peers, o);
        let decision = decide::decide(&Facts {
            me: &s.me,
            has_data,
            peers: &candidates,
            initial_size: s.initial_size,
            cluster_name: &s.cluster_name,
            view: &view,
        });
        match decision {
            Decision::Refuse(why) => return Err(bad_input(why)),
            Decision::Wait(why) if common.dry_run => {
                log::info!("dry run: would wait for {why}");
                report.decision = "wait".into();
                report.waiting_for = Some(why);
                return Ok(report);
            }
            Decision::Wait(why) => {
                if s.deadline.expired() {
                    return Err(s.deadline.timed_out(why).into());
                }
                log::info!("waiting for {why}");
                // EC2 is asked every 5 s at most while waiting.
                tokio::time::sleep(Duration::from_secs(5).min(s.deadline.remaining())).await;
                peers = s.discover(o).await?;
            }
            d => break (d, view, cluster, candidates),
        }
    };
    report.decision = decision.as_str().into();
    if let (Some(m), false) = (manual, matches!(decision, Decision::Bootstrap { .. })) {
        return Err(crate::exit::Unsafe(format!(
            "restore --from {}: this instance would {} (a cluster answers, or it has data): \
             a restore now would make a second cluster; nothing done",
            m.from,
            decision.as_str()
        ))
        .into());
    }
    match decision {
        Decision::Restart => {
            report.initial_cluster_state = "existing".into();
            report.initial_cluster = format!("{}={}", s.me.name, s.me.peer_url);
            write_env(&s, o, &report, None, common.dry_run)?;
        }
        Decision::Bootstrap { initial, token } => {
            report.initial_cluster_state = "new".into();
            report.initial_cluster = decide::bootstrap_cluster(&initial);
            // With a snapshot bucket, a cluster lost whole comes back from
            // its newest snapshot instead of empty.
            let token =
                match restore_if_any(&s, o, &initial, &token, common.dry_run, manual).await? {
                    Some(r) => {
                        report.decision = "restore".into();
                        let token = r.token.clone();
                        report.restored = Some(r);
                        token
                    }
                    None => token,
                };
            write_env(&s, o, &report, Some(&token), common.dry_run)?;
        }
        Decision::Join | Decision::Rejoin => {
            let c = cluster.ok_or_else(|| anyhow!("a join without a cluster that answers"))?;
            if decision == Decision::Rejoin {
                report.moved_data_dir = Some(move_aside(&s, o, common.dry_run)?);
            }
            let members = match view {
                ClusterView::Answers(Some(m)) => m,
                _ => members_when_quorate(&s, &c).await?,
            };
            let (removed, members) =
                remove_dead(&s, &c, members, &candidates, common.dry_run).await?;
            report.removed_members = removed;
            let members = join(&s, &c, members, o, common.dry_run).await?;
            report.initial_cluster_state = "existing".into();
            report.initial_cluster = decide::initial_cluster(&members, &candidates, &s.me)
                .map_err(|e| anyhow!("cluster {}: {e}", s.cluster_name))?;
            write_env(&s, o, &report, None, common.dry_run)?;
        }
        Decision::Wait(_) | Decision::Refuse(_) => unreachable!("handled in the loop"),
    }
    log::info!(
        decision = report.decision.as_str(),
        message_id = crate::logging::events::ETCD_DECISION;
        "{}: {} ({}), cluster {}",
        report.name,
        report.decision,
        report.initial_cluster_state,
        report.initial_cluster
    );
    Ok(report)
}

fn write_env(
    s: &Setup,
    o: &Options,
    report: &PrepareReport,
    token: Option<&str>,
    dry_run: bool,
) -> Result<()> {
    let mut env = EnvFile::new();
    env.set("ETCD_NAME", &s.me.name)?;
    env.set("ETCD_INITIAL_CLUSTER", &report.initial_cluster)?;
    env.set("ETCD_INITIAL_CLUSTER_STATE", &report.initial_cluster_state)?;
    if let Some(t) = token {
        env.set("ETCD_INITIAL_CLUSTER_TOKEN", t)?;
    }
    env.set("ETCD_INITIAL_ADVERTISE_PEER_URLS", &s.me.peer_url)?;
    env.set("ETCD_ADVERTISE_CLIENT_URLS", &s.me.client_url)?;
    // etcd listens where it advertises: the instance's private address.
    env.set("ETCD_LISTEN_PEER_URLS", &s.me.peer_url)?;
    env.set("ETCD_LISTEN_CLIENT_URLS", &s.me.client_url)?;
    if o.write_data_dir {
        env.set("ETCD_DATA_DIR", o.data_dir.to_string_lossy())?;
    }
    if dry_run {
        log::info!("dry run: would write {}", o.env_file.display());
        return Ok(());
    }
    env.write(&o.env_file, 0o644, "etcd-member-prepare")
}

impl PrepareReport {
    /// The decision and the cluster's size, for the metrics file.
    pub fn record_gauges(&self) {
        use crate::metrics::gauge;
        gauge(
            "etcd_prepare_decision",
            "The last prepare's decision (new, restore, join, rejoin, restart): 1 for the one taken.",
            &[("decision", self.decision.as_str())],
            1.0,
        );
        let members = self
            .initial_cluster
            .split(',')
            .filter(|m| !m.is_empty())
            .count();
        gauge(
            "etcd_members",
            "Members in the initial cluster the prepare wrote for etcd.",
            &[],
            members as f64,
        );
    }
}
