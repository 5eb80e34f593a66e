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

use super::cluster::{self, Cluster, MemberInfo, Survey};
use super::decide::{self, ClusterView, Decision, Facts, JoinStep};
use super::{setup, Options, Setup};
use crate::cli::{CommonArgs, Report};
use crate::envfile::EnvFile;
use crate::exit::bad_input;
use crate::runlock::RunLock;
use anyhow::{anyhow, Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What prepare decided.
#[derive(Debug, Clone, Serialize)]
pub struct PrepareReport {
    pub name: String,
    /// new, join, rejoin, restart (wait: a dry run that would wait)
    pub decision: String,
    pub initial_cluster_state: String,
    pub initial_cluster: String,
    pub removed_members: Vec<String>,
    pub moved_data_dir: Option<PathBuf>,
    pub env_file: PathBuf,
    /// Why a dry run would wait.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
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
    tls: &cluster::Tls,
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
    // Certificates that cannot be read are bad input before any request.
    let tls = cluster::tls_options(o)?;
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
    match decision {
        Decision::Restart => {
            report.initial_cluster_state = "existing".into();
            report.initial_cluster = format!("{}={}", s.me.name, s.me.peer_url);
            write_env(&s, o, &report, None, common.dry_run)?;
        }
        Decision::Bootstrap { initial, token } => {
            report.initial_cluster_state = "new".into();
            report.initial_cluster = decide::bootstrap_cluster(&initial);
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
    Ok(report)
}

/// The member list, asked again (bounded) while the cluster has no
/// quorum to read it linearizably.
async fn members_when_quorate(s: &Setup, c: &Cluster) -> Result<Vec<MemberInfo>> {
    s.deadline
        .poll(
            format!("cluster {} to read its member list", s.cluster_name),
            Duration::from_millis(500),
            Duration::from_secs(3),
            || async {
                match c.members().await {
                    Ok(m) => Ok(Some(m)),
                    Err(e) if cluster::is_transient(&e) => {
                        log::info!("{e:#}; asking again");
                        Ok(None)
                    }
                    Err(e) => Err(e),
                }
            },
        )
        .await
}

/// This member was removed: keep its old data beside the data directory.
fn move_aside(s: &Setup, o: &Options, dry_run: bool) -> Result<PathBuf> {
    let aside = aside_path(&o.data_dir);
    log::warn!(
        "{} was removed from the cluster; keeping its old data at {} and joining afresh",
        s.me.name,
        aside.display()
    );
    if !dry_run {
        std::fs::rename(&o.data_dir, &aside).with_context(|| {
            format!(
                "cannot move {} to {}",
                o.data_dir.display(),
                aside.display()
            )
        })?;
    }
    Ok(aside)
}

/// Remove members whose instances are proven gone: named like an instance
/// that no visible peer is, and DescribeInstances by ID says terminated or
/// shutting-down (or does not know it). One at a time, each under the
/// quorum guard, each removal's answer giving the list for the next (a
/// list asked again of a lagging member would show the removed one). The
/// members removed, and the list after.
async fn remove_dead(
    s: &Setup,
    c: &Cluster,
    mut members: Vec<MemberInfo>,
    candidates: &[decide::Candidate],
    dry_run: bool,
) -> Result<(Vec<String>, Vec<MemberInfo>)> {
    let suspects: Vec<MemberInfo> = decide::suspects(&members, candidates, &s.me)
        .into_iter()
        .cloned()
        .collect();
    if suspects.is_empty() {
        return Ok((Vec::new(), members));
    }
    let ids: Vec<String> = suspects.iter().map(|m| m.name.clone()).collect();
    let gone = crate::aws::instance::proven_gone(s.session.ec2(), &ids).await?;
    let alive: Vec<&String> = ids.iter().filter(|i| !gone.contains(i)).collect();
    if !alive.is_empty() {
        log::info!("members {alive:?} are not in the peer list but their instances are not proven gone; keeping them");
    }
    let mut removed = Vec::new();
    for dead in suspects.iter().filter(|m| gone.contains(&m.name)) {
        let healthy = c.healthy_voting(&members).await;
        if let Err(why) = decide::may_remove(&members, dead, healthy) {
            log::warn!("{why}");
            break;
        }
        log::info!(
            "removing member {} ({:x}): its instance is gone",
            dead.name,
            dead.id
        );
        members = if dry_run {
            members.into_iter().filter(|m| m.id != dead.id).collect()
        } else {
            c.remove(dead.id, &s.deadline).await?
        };
        removed.push(dead.name.clone());
    }
    Ok((removed, members))
}

/// Add this instance (or reuse the member an earlier, crashed run added),
/// asking again while etcd refuses a reconfiguration for now. The member
/// list after.
async fn join(
    s: &Setup,
    c: &Cluster,
    mut members: Vec<MemberInfo>,
    o: &Options,
    dry_run: bool,
) -> Result<Vec<MemberInfo>> {
    match decide::join_step(&members, &s.me) {
        JoinStep::Reuse(id) => {
            log::info!(
                "reusing member {id:x}, added by an earlier run for {}",
                s.me.peer_url
            );
            return Ok(members);
        }
        JoinStep::Conflict(why) => return Err(anyhow!(why)),
        JoinStep::Replace(id) => {
            // Started before, but the data directory is gone: this member
            // cannot come back.
            log::warn!(
                "member {} has no data directory here; replacing the member",
                s.me.name
            );
            members = if dry_run {
                members.into_iter().filter(|m| m.id != id).collect()
            } else {
                c.remove(id, &s.deadline).await?
            };
        }
        JoinStep::Add => {}
    }
    if dry_run {
        log::info!("dry run: would add {} as a member", s.me.peer_url);
        return Ok(members);
    }
    s.deadline
        .poll(
            format!("etcd to accept member {}", s.me.peer_url),
            Duration::from_millis(500),
            Duration::from_secs(3),
            || async {
                match c.add(&s.me.peer_url, o.learner).await {
                    Ok(members) => Ok(Some(members)),
                    // An earlier attempt whose answer was lost added it.
                    Err(e) if format!("{e:#}").contains("already exists") => {
                        let members = c.members().await?;
                        match decide::join_step(&members, &s.me) {
                            JoinStep::Reuse(_) => Ok(Some(members)),
                            _ => Err(e),
                        }
                    }
                    Err(e) if cluster::is_transient(&e) => {
                        log::info!("etcd refuses the member for now ({e:#}); retrying");
                        Ok(None)
                    }
                    Err(e) => Err(e),
                }
            },
        )
        .await
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

fn aside_path(data_dir: &Path) -> PathBuf {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut name = data_dir.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".removed-{stamp}"));
    data_dir.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aside_path_is_a_sibling() {
        let p = aside_path(Path::new("/var/lib/etcd/default"));
        assert_eq!(p.parent(), Some(Path::new("/var/lib/etcd")));
        assert!(p
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("default.removed-"));
    }
}
