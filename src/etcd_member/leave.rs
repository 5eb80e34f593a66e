//! `etcd-member-prepare leave`: this member out, quorum kept.
//!
//! Run when the group terminates this instance (the leave unit's
//! `ExecStop=`, gated by the target lifecycle state so that a reboot
//! leaves nothing). Each pass gathers facts — the member list read
//! linearizably, every member's status — and [`decide`] says one step:
//! hand leadership to the most up-to-date voting member, remove this
//! member, or refuse because the cluster would fall below `--min-voting`
//! voting members or lose quorum. Passes repeat until this member is gone
//! or the deadline; a refusal is asked again (a replacement may join
//! meanwhile) and, at the deadline, is exit 5 naming why. Concurrent
//! leavers take turns under an etcd lock, each deciding from the list as
//! the previous one left it.
//!
//! Only the member whose peer URL is this instance's is ever removed.
//! Once it is out: a record in `<run-dir>/etcd-left` keeps `prepare` from
//! joining again this boot, and the data directory is moved aside once
//! the local etcd has stopped (a removed member stops by itself).

use super::cluster::{client_urls, is_transient, Cluster, MemberInfo};
use super::options::Options;
use super::setup::{setup, Setup};
use super::survey::{Status, Survey};
use super::tls::{self, Tls};
use crate::cli::{CommonArgs, Report};
use crate::exit::Unsafe;
use crate::lifecycle;
use anyhow::{anyhow, Context, Result};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub struct LeaveArgs {
    /// Never leave a cluster of fewer voting members than this.
    #[arg(long, env = "ETCD_PREPARE_MIN_VOTING", default_value_t = 3)]
    pub min_voting: usize,

    /// leaving: only when the group terminates this instance (IMDS);
    /// always: now (by hand).
    #[arg(long, value_enum, default_value = "leaving")]
    pub when: lifecycle::When,
}

/// What one pass saw.
#[derive(Debug, Clone)]
pub struct LeaveFacts<'a> {
    pub my_peer_url: &'a str,
    pub members: &'a [MemberInfo],
    /// Members that answered their status, by member ID.
    pub statuses: &'a [Status],
    /// Members that announced they are leaving too: no heirs.
    pub leaving: &'a [u64],
    pub min_voting: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum LeaveStep {
    /// No member has this instance's peer URL: left already.
    Gone,
    /// This member leads: hand leadership over first, so the cluster
    /// does not wait out an election after the removal.
    MoveLeader {
        to: u64,
    },
    Remove {
        id: u64,
    },
    Refuse {
        why: String,
    },
}

fn quorum(voting: usize) -> usize {
    voting / 2 + 1
}

/// The policy of one pass.
pub fn decide(f: &LeaveFacts) -> LeaveStep {
    let Some(me) = f
        .members
        .iter()
        .find(|m| m.peer_urls.iter().any(|u| u == f.my_peer_url))
    else {
        return LeaveStep::Gone;
    };
    // A learner does not vote: it leaves at no cost to quorum.
    if me.is_learner {
        return LeaveStep::Remove { id: me.id };
    }
    let voting: Vec<&MemberInfo> = f.members.iter().filter(|m| !m.is_learner).collect();
    let after = voting.len() - 1;
    let healthy_others: Vec<&Status> = f
        .statuses
        .iter()
        .filter(|s| s.member_id != me.id && !s.is_learner)
        .filter(|s| voting.iter().any(|m| m.id == s.member_id))
        .collect();
    if after < f.min_voting {
        return LeaveStep::Refuse {
            why: format!(
                "leaving would leave {after} voting members, fewer than --min-voting {}",
                f.min_voting
            ),
        };
    }
    if healthy_others.len() < quorum(after) {
        return LeaveStep::Refuse {
            why: format!(
                "only {} of the other {after} voting members answer; without this member the cluster would lose quorum (needs {})",
                healthy_others.len(),
                quorum(after)
            ),
        };
    }
    let leads = f
        .statuses
        .iter()
        .any(|s| s.member_id == me.id && s.leader == me.id);
    if leads {
        // Not to another leaver (two leaders leaving at once would hand
        // leadership back and forth), unless only leavers answer.
        let staying: Vec<&&Status> = healthy_others
            .iter()
            .filter(|s| !f.leaving.contains(&s.member_id))
            .collect();
        let pool: Vec<&&Status> = if staying.is_empty() {
            healthy_others.iter().collect()
        } else {
            staying
        };
        let heir = pool
            .into_iter()
            .max_by_key(|s| (s.raft_index, std::cmp::Reverse(s.member_id)))
            .expect("a quorum of others answers");
        return LeaveStep::MoveLeader { to: heir.member_id };
    }
    LeaveStep::Remove { id: me.id }
}

#[derive(Debug, Clone, Serialize)]
pub struct LeaveReport {
    pub name: String,
    /// left, left-already, staying (not terminated), would-leave (dry run)
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved_leadership_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved_data_dir: Option<PathBuf>,
    pub dry_run: bool,
}

impl Report for LeaveReport {
    fn text(&self) -> String {
        let mut lines = vec![format!("{}: {}", self.name, self.result)];
        if let Some(to) = &self.moved_leadership_to {
            lines.push(format!("moved leadership to member {to}"));
        }
        if let Some(d) = &self.moved_data_dir {
            lines.push(format!("data dir kept at: {}", d.display()));
        }
        lines.join("\n")
    }
}

/// The record that this instance left (read by `prepare`).
pub fn left_record(common: &CommonArgs) -> PathBuf {
    common.run_dir.join("etcd-left")
}

pub async fn leave(common: &CommonArgs, o: &Options, a: &LeaveArgs) -> Result<LeaveReport> {
    if let Some(state) = lifecycle::gate(a.when, None).await? {
        log::info!(
            "the group is not terminating this instance ({}): staying in the cluster",
            state.as_str()
        );
        return Ok(LeaveReport {
            name: String::new(),
            result: "staying".into(),
            moved_leadership_to: None,
            moved_data_dir: None,
            dry_run: common.dry_run,
        });
    }
    let tls = tls::tls_options(o)?;
    let s = setup(common, o).await?;
    let mut report = LeaveReport {
        name: s.me.name.clone(),
        result: "left-already".into(),
        moved_leadership_to: None,
        moved_data_dir: None,
        dry_run: common.dry_run,
    };
    let mut progress = Progress::default();
    loop {
        match pass(common, o, a, &s, &tls, &mut report, &mut progress).await {
            Ok(Flow::Left) => break,
            Ok(Flow::Again) => {}
            Ok(Flow::DryRun) => return Ok(report),
            // An election, a leader that moved, a proposal dropped, this
            // member stopping under a request: the next pass looks again.
            Err(e)
                if (is_transient(&e) || lost_connection(&e))
                    && s.deadline.remaining() > Duration::from_secs(3) =>
            {
                log::info!("{e:#}; looking again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(e),
        }
    }
    record_left(common, &s)?;
    report.moved_data_dir = set_aside(&s, o, &tls).await?;
    Ok(report)
}

/// The connection broke under the request: above all, this member just
/// stopped after its removal; the next pass asks the others.
fn lost_connection(e: &anyhow::Error) -> bool {
    let text = format!("{e:#}").to_lowercase();
    [
        "transport error",
        "broken pipe",
        "connection reset",
        "connection refused",
    ]
    .iter()
    .any(|s| text.contains(s))
}

/// What passes carry from one to the next.
#[derive(Default)]
struct Progress {
    announced: bool,
    refused: Option<String>,
}

enum Flow {
    Left,
    Again,
    DryRun,
}

/// One look, one step.
async fn pass(
    common: &CommonArgs,
    o: &Options,
    a: &LeaveArgs,
    s: &Setup,
    tls: &Tls,
    report: &mut LeaveReport,
    progress: &mut Progress,
) -> Result<Flow> {
    let Some((c, members, statuses, leaving)) = look(s, o, tls).await? else {
        // Nothing answers here or at the peers: this member is not
        // running, and nobody can say it is still a member.
        if std::fs::metadata(left_record(common)).is_ok() {
            return Ok(Flow::Left);
        }
        return Err(anyhow!(
            "no etcd member answers, this one ({}) included: cannot tell whether {} is still a member",
            s.me.client_url,
            s.me.name
        ));
    };
    let step = decide(&LeaveFacts {
        my_peer_url: &s.me.peer_url,
        members: &members,
        statuses: &statuses,
        leaving: &leaving,
        min_voting: a.min_voting,
    });
    if !common.dry_run && !progress.announced {
        if let Some(me) = members
            .iter()
            .find(|m| m.peer_urls.contains(&s.me.peer_url))
        {
            match c.announce_leaving(me.id).await {
                Ok(()) => progress.announced = true,
                Err(e) if is_transient(&e) => log::info!("{e:#}; announcing again"),
                Err(e) => return Err(e),
            }
        }
    }
    log::debug!("leave step: {step:?}");
    if common.dry_run {
        report.result = match step {
            LeaveStep::Gone => "left-already".into(),
            LeaveStep::Refuse { why } => format!("would refuse: {why}"),
            _ => "would-leave".into(),
        };
        return Ok(Flow::DryRun);
    }
    match step {
        LeaveStep::Gone => return Ok(Flow::Left),
        LeaveStep::MoveLeader { to } => {
            log::info!("{} leads: moving leadership to member {to:x}", s.me.name);
            match c.move_leader(to).await {
                Ok(()) => report.moved_leadership_to = Some(name_of(&members, to)),
                // Another election, a leader that moved already: the
                // next pass looks again.
                Err(e) if is_transient(&e) => log::info!("{e:#}; looking again"),
                Err(e) => return Err(e),
            }
        }
        LeaveStep::Remove { id } => {
            c.take_turn(&s.me.name, &s.deadline).await?;
            // Decide again in this turn: another leaver may have gone
            // between the look and the turn.
            let members = c.members().await?;
            let statuses = c.statuses(&members).await;
            let again = decide(&LeaveFacts {
                my_peer_url: &s.me.peer_url,
                members: &members,
                statuses: &statuses,
                leaving: &leaving,
                min_voting: a.min_voting,
            });
            if again == (LeaveStep::Remove { id }) {
                log::info!(
                    "removing member {} ({id:x}): the group is terminating it",
                    s.me.name
                );
                c.remove(id, &s.deadline).await?;
                report.result = "left".into();
            }
        }
        LeaveStep::Refuse { why } => {
            if progress.refused.as_deref() != Some(&why) {
                log::warn!("not leaving yet: {why}");
            }
            progress.refused = Some(why);
            if s.deadline.remaining() < Duration::from_secs(3) {
                return Err(Unsafe(format!(
                    "{} did not leave cluster {}: {}",
                    s.me.name,
                    s.cluster_name,
                    progress.refused.clone().unwrap_or_default()
                ))
                .into());
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
    Ok(Flow::Again)
}

fn name_of(members: &[MemberInfo], id: u64) -> String {
    members
        .iter()
        .find(|m| m.id == id)
        .map(|m| m.name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("{id:x}"))
}

/// The cluster as this member sees it, else as the peers do; `None` when
/// nobody answers.
async fn look(
    s: &Setup,
    o: &Options,
    tls: &Tls,
) -> Result<Option<(Cluster, Vec<MemberInfo>, Vec<Status>, Vec<u64>)>> {
    let mine = Survey::of(std::slice::from_ref(&s.me.client_url), tls.clone()).await;
    // A learner refuses the member API and linearizable reads: then, as
    // when this member does not answer, the peers are asked.
    let learner = mine.answering().first().is_some_and(|m| m.is_learner);
    let pinned = if learner {
        None
    } else {
        Cluster::pin(&mine, tls.clone()).await?
    };
    let c = match pinned {
        Some(c) => c,
        None => {
            // This member does not answer (stopped after its removal, or a
            // rerun after a crash) or is a learner: ask the peers the
            // group shows.
            let peers = s.discover(o).await?;
            let survey = Survey::of(&s.others(&peers, o), tls.clone()).await;
            match Cluster::pin(&survey, tls.clone()).await? {
                Some(c) => c,
                None => return Ok(None),
            }
        }
    };
    let members = super::join::members_when_quorate(s, &c).await?;
    // Every member asked at once; the member API is then asked of the
    // leader: a removal asked of the member removed would lose its answer
    // when that member stops.
    let all = Survey::of(&client_urls(&members), tls.clone()).await;
    let statuses: Vec<Status> = all.answering().into_iter().cloned().collect();
    let c = Cluster::pin(&all, tls.clone()).await?.unwrap_or(c);
    let leaving = match c.leaving().await {
        Ok(l) => l,
        // Only who may inherit leadership depends on it.
        Err(e) if is_transient(&e) => {
            log::info!("{e:#}");
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    Ok(Some((c, members, statuses, leaving)))
}

fn record_left(common: &CommonArgs, s: &Setup) -> Result<()> {
    let path = left_record(common);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let body = format!("{} left cluster {}\n", s.me.name, s.cluster_name);
    crate::fsutil::atomic_write(&path, body.as_bytes(), 0o644)
}

/// Move the data directory aside once the local etcd has stopped (a
/// removed member stops by itself within seconds; bounded wait). A member
/// that still answers keeps its data where it is: the unit stops etcd
/// next, and `prepare` of a later boot moves it.
async fn set_aside(s: &Setup, o: &Options, tls: &Tls) -> Result<Option<PathBuf>> {
    if !o.data_dir.join("member").exists() {
        return Ok(None);
    }
    let wait = s.deadline.sub(Duration::from_secs(15));
    let stopped = super::survey::wait_stopped(&s.me.client_url, tls.clone(), &wait).await;
    if !stopped {
        log::warn!(
            "the local etcd at {} still answers; keeping {} (stop etcd, then it can go)",
            s.me.client_url,
            o.data_dir.display()
        );
        return Ok(None);
    }
    let aside = super::join::aside_path(&o.data_dir, "left");
    std::fs::rename(&o.data_dir, &aside).with_context(|| {
        format!(
            "cannot move {} to {}",
            o.data_dir.display(),
            aside.display()
        )
    })?;
    log::info!("moved the data directory aside to {}", aside.display());
    Ok(Some(aside))
}

#[cfg(test)]
mod tests;
