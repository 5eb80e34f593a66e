//! `etcd-member-prepare tidy`: the leader removes members that are gone.
//!
//! A timer on every member; only the current leader acts, so one member
//! removes a dead one, once. Facts come from etcd first: every member that
//! answers its status is alive and costs no AWS call. Only the members
//! that do not answer are asked about, by instance ID (their member name):
//! a member is removed when DescribeInstances proves its instance gone
//! (terminated, shutting down, unknown), or when it was added but never
//! started for longer than `--unstarted-grace` (a join that failed half
//! way; this leader saw it unstarted that long). One removal per run,
//! under the quorum guard of `prepare`'s own removals.

use super::cluster::{Cluster, MemberInfo};
use super::decide::may_remove;
use super::options::Options;
use super::setup::setup_local;
use super::survey::{Status, Survey};
use super::tls;
use crate::cli::{CommonArgs, Report};
use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Args)]
pub struct TidyArgs {
    /// Remove a member that was added but never started after this many
    /// seconds (as this leader saw it).
    #[arg(
        long,
        value_name = "SECONDS",
        env = "ETCD_PREPARE_UNSTARTED_GRACE",
        default_value_t = 600
    )]
    pub unstarted_grace: u64,

    /// With no leader this long (and no quorum answering, and the silent
    /// members' instances proven gone), a survivor saves a last snapshot
    /// and steps down so that the group restores (needs
    /// --snapshot-bucket).
    #[arg(
        long,
        value_name = "SECONDS",
        env = "ETCD_PREPARE_QUORUM_LOSS_GRACE",
        default_value_t = 300
    )]
    pub quorum_loss_grace: u64,

    /// The unit that runs etcd (stopped and started again on a step-down).
    #[arg(long, env = "ETCD_PREPARE_ETCD_UNIT", default_value = "etcd.service")]
    pub etcd_unit: String,
}

/// Who may be gone, from etcd alone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Suspects {
    /// Started members that do not answer: instance IDs to ask EC2 about.
    pub silent: Vec<String>,
    /// Members never started for longer than the grace: removable as is.
    pub overdue: Vec<u64>,
    /// Members never started, not yet overdue: (member ID, first seen).
    pub unstarted: BTreeMap<u64, u64>,
}

/// The pure half: `seen` is when this leader first saw each unstarted
/// member (kept between runs), `now` the time in seconds.
pub fn suspects(
    members: &[MemberInfo],
    statuses: &[Status],
    seen: &BTreeMap<u64, u64>,
    now: u64,
    grace: u64,
) -> Suspects {
    let mut out = Suspects::default();
    for m in members {
        if statuses.iter().any(|s| s.member_id == m.id) {
            continue;
        }
        if m.name.is_empty() {
            let first = seen.get(&m.id).copied().unwrap_or(now);
            if now.saturating_sub(first) >= grace {
                out.overdue.push(m.id);
            } else {
                out.unstarted.insert(m.id, first);
            }
        } else if m.name.starts_with("i-") {
            out.silent.push(m.name.clone());
        }
    }
    out.silent.sort();
    out
}

#[derive(Debug, Clone, Serialize)]
pub struct TidyReport {
    pub name: String,
    /// not-leader, not-running, nothing, removed, kept (dry run:
    /// would-remove); with no leader: leaderless, partition, stepped-down
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed: Option<String>,
    /// Members that do not answer but whose instances are not proven gone.
    pub kept: Vec<String>,
    pub dry_run: bool,
}

impl Report for TidyReport {
    fn text(&self) -> String {
        let mut lines = vec![format!("{}: {}", self.name, self.result)];
        if let Some(r) = &self.removed {
            lines.push(format!("removed member: {r}"));
        }
        for k in &self.kept {
            lines.push(format!("not answering, instance not proven gone: {k}"));
        }
        lines.join("\n")
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn read_seen(path: &Path) -> BTreeMap<u64, u64> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<BTreeMap<String, u64>>(&t).ok())
        .map(|m| {
            m.into_iter()
                .filter_map(|(k, v)| Some((u64::from_str_radix(&k, 16).ok()?, v)))
                .collect()
        })
        .unwrap_or_default()
}

fn write_seen(path: &Path, seen: &BTreeMap<u64, u64>) -> Result<()> {
    let m: BTreeMap<String, u64> = seen.iter().map(|(k, v)| (format!("{k:x}"), *v)).collect();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    crate::fsutil::atomic_write(path, serde_json::to_string(&m)?.as_bytes(), 0o644)
}

pub async fn tidy(common: &CommonArgs, o: &Options, a: &TidyArgs) -> Result<TidyReport> {
    let tls = tls::tls_options(o)?;
    // No group lookup: a tidy with nothing to do makes no AWS call.
    let s = setup_local(common, o).await?;
    let mut report = TidyReport {
        name: s.me.name.clone(),
        result: "nothing".into(),
        removed: None,
        kept: Vec::new(),
        dry_run: common.dry_run,
    };
    let mine = Survey::of(std::slice::from_ref(&s.me.client_url), tls.clone()).await;
    let Some(me) = mine.answering().first().map(|s| (*s).clone()) else {
        report.result = "not-running".into();
        log::info!(
            "the local etcd at {} does not answer; nothing to tidy",
            s.me.client_url
        );
        return Ok(report);
    };
    if me.leader == 0 {
        let out = super::recover::on_leaderless(
            common,
            o,
            a.quorum_loss_grace,
            &a.etcd_unit,
            &s,
            tls.clone(),
            &mine,
            &me,
        )
        .await?;
        report.result = out.result;
        report.kept = out.kept;
        return Ok(report);
    }
    super::recover::clear(common);
    if me.leader != me.member_id {
        report.result = "not-leader".into();
        log::debug!("member {:x} does not lead; the leader tidies", me.member_id);
        return Ok(report);
    }
    let c = Cluster::pin(&mine, tls.clone())
        .await?
        .expect("the local member answered");
    let members = c.members().await?;
    let statuses = c.statuses(&members).await;
    let seen_path = common.run_dir.join("etcd-tidy.json");
    let seen = read_seen(&seen_path);
    let found = suspects(&members, &statuses, &seen, now_secs(), a.unstarted_grace);
    if found.unstarted != seen {
        write_seen(&seen_path, &found.unstarted)?;
    }
    // Only members that do not answer are asked about: a group that
    // matches its cluster costs no EC2 call.
    let gone = if found.silent.is_empty() {
        Vec::new()
    } else {
        crate::aws::instance::proven_gone(s.session.ec2(), &found.silent).await?
    };
    report.kept = found
        .silent
        .iter()
        .filter(|i| !gone.contains(i))
        .cloned()
        .collect();
    let dead = members
        .iter()
        .find(|m| found.overdue.contains(&m.id))
        .or_else(|| members.iter().find(|m| gone.contains(&m.name)));
    let Some(dead) = dead else {
        return Ok(report);
    };
    let healthy = statuses.iter().filter(|s| !s.is_learner).count();
    if let Err(why) = may_remove(&members, dead, healthy) {
        log::warn!("{why}");
        report.result = "kept".into();
        return Ok(report);
    }
    let label = if dead.name.is_empty() {
        format!("{:x} (never started)", dead.id)
    } else {
        dead.name.clone()
    };
    if common.dry_run {
        report.result = "would-remove".into();
    } else {
        log::info!("removing member {label}: its instance is gone or it never started");
        c.remove(dead.id, &s.deadline).await?;
        report.result = "removed".into();
    }
    report.removed = Some(label);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: u64, name: &str) -> MemberInfo {
        MemberInfo {
            id,
            name: name.into(),
            peer_urls: vec![format!("http://10.0.0.{id}:2380")],
            client_urls: if name.is_empty() {
                vec![]
            } else {
                vec![format!("http://10.0.0.{id}:2379")]
            },
            is_learner: name.is_empty(),
        }
    }

    fn up(id: u64) -> Status {
        Status {
            url: String::new(),
            member_id: id,
            leader: 1,
            raft_index: 1,
            raft_term: 1,
            is_learner: false,
            revision: 1,
            cluster_id: 1,
        }
    }

    #[test]
    fn members_that_answer_need_no_aws_call() {
        let m = vec![member(1, "i-1"), member(2, "i-2"), member(3, "i-3")];
        let s = vec![up(1), up(2), up(3)];
        assert_eq!(
            suspects(&m, &s, &BTreeMap::new(), 100, 600),
            Suspects::default()
        );
    }

    #[test]
    fn a_silent_member_is_asked_about_by_its_instance() {
        let m = vec![member(1, "i-1"), member(2, "i-2"), member(3, "i-3")];
        let s = vec![up(1), up(3)];
        assert_eq!(
            suspects(&m, &s, &BTreeMap::new(), 100, 600).silent,
            vec!["i-2".to_string()]
        );
    }

    #[test]
    fn an_unstarted_member_is_removed_only_after_the_grace() {
        let m = vec![member(1, "i-1"), member(2, "i-2"), member(9, "")];
        let s = vec![up(1), up(2)];
        let first = suspects(&m, &s, &BTreeMap::new(), 1000, 600);
        assert_eq!(first.unstarted, BTreeMap::from([(9, 1000)]));
        assert!(first.overdue.is_empty());
        let later = suspects(&m, &s, &first.unstarted, 1599, 600);
        assert!(later.overdue.is_empty());
        let overdue = suspects(&m, &s, &first.unstarted, 1600, 600);
        assert_eq!(overdue.overdue, vec![9]);
        assert!(overdue.unstarted.is_empty());
    }
}
