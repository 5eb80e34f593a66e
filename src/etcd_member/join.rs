//! etcd-member-prepare's membership changes: dead members out, this one in.

use super::cluster::{self, Cluster, MemberInfo};
use super::decide::{self, JoinStep};
use super::options::Options;
use super::setup::Setup;
use anyhow::{anyhow, Context, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The member list, asked again (bounded) while the cluster has no
/// quorum to read it linearizably.
pub(super) async fn members_when_quorate(s: &Setup, c: &Cluster) -> Result<Vec<MemberInfo>> {
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
pub(super) fn move_aside(s: &Setup, o: &Options, dry_run: bool) -> Result<PathBuf> {
    let aside = aside_path(&o.data_dir, "removed");
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
pub(super) async fn remove_dead(
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
pub(super) async fn join(
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

/// Where a data directory that is done with goes: a sibling named
/// `<name>.<why>-<unix time>` (never deleted).
pub(super) fn aside_path(data_dir: &Path, why: &str) -> PathBuf {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut name = data_dir.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{why}-{stamp}"));
    data_dir.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aside_path_is_a_sibling() {
        let p = aside_path(Path::new("/var/lib/etcd/default"), "removed");
        assert_eq!(p.parent(), Some(Path::new("/var/lib/etcd")));
        assert!(p
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("default.removed-"));
    }
}
