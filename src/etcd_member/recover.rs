//! Quorum loss with survivors: save the newest data, step down, restore.
//!
//! `tidy` runs on every member; when its own member answers but knows no
//! leader, it comes here. A cluster that lost its majority for good (2 of
//! 3 instances terminated) never elects again, and etcd cannot shrink
//! without a quorum. The survivor acts only on proof: no leader for longer
//! than `--quorum-loss-grace` (kept in `<run-dir>/etcd-leaderless.json`),
//! no answering member seeing a leader, fewer answering voting members
//! than a quorum, and every silent voting member's instance proven gone
//! by EC2 — a silent member whose instance runs is a partition, and then
//! nothing is done. Then it uploads a last snapshot of its own member if
//! that is newer than the newest in S3, records in S3 that it stepped down
//! from that cluster, stops etcd, moves its data aside and starts etcd
//! again: `prepare` then bootstraps with the group's replacements, and the
//! restore path seeds the new cluster from the newest data (this
//! survivor's record lets it proceed while the instance runs).

use super::cluster::{client_urls, Cluster, MemberInfo};
use super::options::Options;
use super::setup::{cluster_name, Local};
use super::snapshot::{plan, store::Store, take_and_upload, Taken};
use super::survey::{Status, Survey};
use super::tls::Tls;
use crate::cli::CommonArgs;
use crate::exit::bad_input;
use anyhow::{Context, Result};
use std::path::Path;
use std::time::Duration;

pub struct QuorumFacts<'a> {
    pub members: &'a [MemberInfo],
    /// The statuses of the members that answer (this one included).
    pub answering: &'a [Status],
    /// Seconds since this member was first seen without a leader.
    pub leaderless_for: u64,
    pub grace: u64,
    /// Of the silent voting members, those whose instances EC2 proved
    /// gone; `None`: not asked yet.
    pub gone: Option<&'a [String]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuorumStep {
    /// Not (yet) a loss: why.
    Wait(String),
    /// Ask EC2 about these silent voting members.
    AskEc2(Vec<String>),
    /// Silent members whose instances still run: a partition; do nothing.
    Partition(Vec<String>),
    StepDown,
}

pub fn decide(f: &QuorumFacts) -> QuorumStep {
    let voting: Vec<&MemberInfo> = f.members.iter().filter(|m| !m.is_learner).collect();
    let quorum = voting.len() / 2 + 1;
    let answering_voting = voting
        .iter()
        .filter(|m| f.answering.iter().any(|s| s.member_id == m.id))
        .count();
    if let Some(s) = f.answering.iter().find(|s| s.leader != 0) {
        return QuorumStep::Wait(format!("the member at {} sees a leader", s.url));
    }
    if answering_voting >= quorum {
        return QuorumStep::Wait(format!(
            "{answering_voting} of {} voting members answer: an election, not a loss",
            voting.len()
        ));
    }
    if f.leaderless_for < f.grace {
        return QuorumStep::Wait(format!(
            "no leader for {} s of the {} s grace",
            f.leaderless_for, f.grace
        ));
    }
    let silent: Vec<String> = voting
        .iter()
        .filter(|m| !f.answering.iter().any(|s| s.member_id == m.id))
        .map(|m| m.name.clone())
        .filter(|n| !n.is_empty())
        .collect();
    match f.gone {
        None => QuorumStep::AskEc2(silent),
        Some(gone) => {
            let running: Vec<String> = silent.into_iter().filter(|n| !gone.contains(n)).collect();
            if running.is_empty() {
                QuorumStep::StepDown
            } else {
                QuorumStep::Partition(running)
            }
        }
    }
}

fn record_path(common: &CommonArgs) -> std::path::PathBuf {
    common.run_dir.join("etcd-leaderless.json")
}

/// Forget a leaderless spell (the member sees a leader again).
pub fn clear(common: &CommonArgs) {
    let _ = std::fs::remove_file(record_path(common));
}

/// Since when this member has been seen without a leader (recorded now
/// on the first sight).
fn leaderless_since(common: &CommonArgs, now: u64) -> Result<u64> {
    let path = record_path(common);
    if let Some(since) = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["since"].as_u64())
    {
        return Ok(since);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    crate::fsutil::atomic_write(&path, format!("{{\"since\": {now}}}\n").as_bytes(), 0o644)?;
    Ok(now)
}

/// What happened: `leaderless` (waiting), `partition`, `stepped-down`.
pub struct Outcome {
    pub result: String,
    pub kept: Vec<String>,
}

#[allow(clippy::too_many_arguments)]
pub async fn on_leaderless(
    common: &CommonArgs,
    o: &Options,
    grace: u64,
    etcd_unit: &str,
    s: &Local,
    tls: Tls,
    mine: &Survey,
    me: &Status,
) -> Result<Outcome> {
    let now = super::snapshot::now_secs();
    let since = leaderless_since(common, now)?;
    let c = Cluster::pin(mine, tls.clone())
        .await?
        .expect("the local member answered");
    let members = c.members_local().await?;
    let answering: Vec<Status> = Survey::of(&client_urls(&members), tls.clone())
        .await
        .answering()
        .into_iter()
        .cloned()
        .collect();
    let mut facts = QuorumFacts {
        members: &members,
        answering: &answering,
        leaderless_for: now.saturating_sub(since),
        grace,
        gone: None,
    };
    let mut step = decide(&facts);
    let no_bucket = o.snapshot_bucket.as_deref().is_none_or(str::is_empty);
    if matches!(step, QuorumStep::AskEc2(_)) && no_bucket {
        // Nothing to recover to: no EC2 call, the tick says why.
        log::warn!(
            "no leader for {} s and no quorum answering; without --snapshot-bucket this member cannot recover the cluster",
            facts.leaderless_for
        );
        return Ok(Outcome {
            result: "leaderless".into(),
            kept: Vec::new(),
        });
    }
    let gone;
    if let QuorumStep::AskEc2(silent) = &step {
        gone = crate::aws::instance::proven_gone(s.session.ec2(), silent).await?;
        facts.gone = Some(&gone);
        step = decide(&facts);
    }
    match step {
        QuorumStep::Wait(why) => {
            log::info!("no leader: {why}");
            Ok(Outcome {
                result: "leaderless".into(),
                kept: Vec::new(),
            })
        }
        QuorumStep::Partition(running) => {
            log::warn!(
                "no leader and no quorum, but the instances of {} still run: a partition, not a loss; doing nothing",
                running.join(", ")
            );
            Ok(Outcome {
                result: "partition".into(),
                kept: running,
            })
        }
        QuorumStep::AskEc2(_) => unreachable!("asked above"),
        QuorumStep::StepDown if common.dry_run => {
            log::info!("dry run: would save a last snapshot and step down");
            Ok(Outcome {
                result: "would-step-down".into(),
                kept: Vec::new(),
            })
        }
        QuorumStep::StepDown => {
            step_down(o, etcd_unit, s, tls, me, &members).await?;
            clear(common);
            Ok(Outcome {
                result: "stepped-down".into(),
                kept: Vec::new(),
            })
        }
    }
}

async fn step_down(
    o: &Options,
    etcd_unit: &str,
    s: &Local,
    tls: Tls,
    me: &Status,
    members: &[MemberInfo],
) -> Result<()> {
    let bucket = o
        .snapshot_bucket
        .as_deref()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| {
            bad_input("the cluster lost its quorum for good; recovering needs --snapshot-bucket")
        })?;
    let cluster = cluster_name(&s.session, o).await?;
    let prefix = plan::cluster_prefix(&o.snapshot_prefix, &cluster);
    let store = Store::new(&s.session.aws.sdk_config, bucket, prefix.clone());
    let stored = store.list().await?;
    let newest = stored.iter().map(|x| x.revision).max().unwrap_or(0);
    if me.revision > newest {
        let key = plan::key_for(&prefix, me.revision, me.cluster_id);
        let taken = Taken {
            url: &s.me.client_url,
            name: &s.me.name,
            revision: me.revision,
            cluster_id: me.cluster_id,
            members,
        };
        let dir = super::snapshot::save::scratch_dir(None, &o.data_dir);
        log::info!(
            "quorum lost for good: saving a last snapshot at revision {} (newest in S3: {newest})",
            me.revision
        );
        take_and_upload(
            &store,
            &key,
            &taken,
            tls.clone(),
            &dir,
            super::snapshot::store::DEFAULT_PART_SIZE,
            &s.deadline,
        )
        .await?;
    } else {
        log::info!(
            "quorum lost for good: S3 holds revision {newest}, this member {}",
            me.revision
        );
    }
    store
        .put_stepped_down(&prefix, me.cluster_id, &s.me.name, me.revision)
        .await?;
    log::info!(
        "{} stepped down from cluster {:016x}: stopping {etcd_unit}, setting its data aside",
        s.me.name,
        me.cluster_id
    );
    crate::lifecycle::systemctl(&["stop", etcd_unit])?;
    let wait = s.deadline.sub(Duration::from_secs(5));
    if !super::survey::wait_stopped(&s.me.client_url, tls.clone(), &wait).await {
        anyhow::bail!(
            "{etcd_unit} was stopped but the local etcd at {} still answers; keeping {}",
            s.me.client_url,
            o.data_dir.display()
        );
    }
    set_aside(&o.data_dir)?;
    // prepare then waits for the replacements and restores with them.
    crate::lifecycle::systemctl(&["start", "--no-block", etcd_unit])?;
    Ok(())
}

fn set_aside(data_dir: &Path) -> Result<()> {
    if !data_dir.join("member").exists() {
        return Ok(());
    }
    let aside = super::join::aside_path(data_dir, "stepped-down");
    std::fs::rename(data_dir, &aside)
        .with_context(|| format!("cannot move {} to {}", data_dir.display(), aside.display()))?;
    log::info!("moved the data directory aside to {}", aside.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: u64) -> MemberInfo {
        MemberInfo {
            id,
            name: format!("i-{id}"),
            peer_urls: vec![],
            client_urls: vec![],
            is_learner: false,
        }
    }

    fn status(id: u64, leader: u64) -> Status {
        Status {
            url: format!("http://10.0.0.{id}:2379"),
            member_id: id,
            leader,
            raft_index: 1,
            raft_term: 1,
            is_learner: false,
            revision: 1,
            cluster_id: 1,
        }
    }

    fn facts<'a>(
        members: &'a [MemberInfo],
        answering: &'a [Status],
        leaderless_for: u64,
        gone: Option<&'a [String]>,
    ) -> QuorumFacts<'a> {
        QuorumFacts {
            members,
            answering,
            leaderless_for,
            grace: 300,
            gone,
        }
    }

    #[test]
    fn a_survivor_steps_down_only_on_proof() {
        let m = [member(1), member(2), member(3)];
        let alone = [status(1, 0)];
        // Within the grace: wait.
        assert!(matches!(
            decide(&facts(&m, &alone, 10, None)),
            QuorumStep::Wait(_)
        ));
        // Past it: ask EC2 about the silent ones.
        assert_eq!(
            decide(&facts(&m, &alone, 300, None)),
            QuorumStep::AskEc2(vec!["i-2".into(), "i-3".into()])
        );
        // One still runs: a partition.
        let one: Vec<String> = vec!["i-2".into()];
        assert_eq!(
            decide(&facts(&m, &alone, 300, Some(&one))),
            QuorumStep::Partition(vec!["i-3".into()])
        );
        let both: Vec<String> = vec!["i-2".into(), "i-3".into()];
        assert_eq!(
            decide(&facts(&m, &alone, 300, Some(&both))),
            QuorumStep::StepDown
        );
    }

    #[test]
    fn a_majority_answering_or_a_leader_seen_is_no_loss() {
        let m = [member(1), member(2), member(3)];
        let two = [status(1, 0), status(2, 0)];
        assert!(matches!(
            decide(&facts(&m, &two, 999, None)),
            QuorumStep::Wait(_)
        ));
        let led = [status(1, 0), status(2, 3)];
        assert!(matches!(
            decide(&facts(&m, &led, 999, None)),
            QuorumStep::Wait(_)
        ));
    }
}
