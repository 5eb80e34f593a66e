//! The membership policy of `prepare`: pure functions of what was seen.
//!
//! The order of decisions (pitfalls: two clusters forming, lost members):
//! 1. a member data directory exists → start it as it was, unless the
//!    cluster's own list says this member was removed: then move the data
//!    aside and join afresh;
//! 2. a cluster answers on some peer → remove members whose instances are
//!    proven gone (one at a time, only while quorum allows), then add this
//!    instance (reusing an unstarted member with our peer URL: that was us,
//!    before a crash);
//! 3. nobody answers → bootstrap `new`, but only once the expected number
//!    of peers is visible, every instance computing the same member list —
//!    and never while some peer could not be asked: "could not ask" is
//!    not "nobody answers".

use super::cluster::MemberInfo;
use serde::Serialize;

/// This instance as a would-be member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Me {
    pub name: String,
    pub peer_url: String,
    pub client_url: String,
}

/// A visible peer (this instance among them) as a member would be named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub name: String,
    pub peer_url: String,
}

/// What asking the other peers showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterView {
    /// A member answered, with the cluster's member list when a
    /// linearizable read let it give one (not without a quorum).
    Answers(Option<Vec<MemberInfo>>),
    /// Every peer was asked and none answered (or there are none).
    Silent,
    /// None answered, and some could not be asked; `config` when every
    /// such cause is configuration (TLS, certificates, auth, scheme).
    CouldNotAsk { why: Vec<String>, config: bool },
}

/// What `prepare` saw.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub me: &'a Me,
    /// `<data-dir>/member` exists.
    pub has_data: bool,
    /// Every visible peer, this instance included, in the order all
    /// instances compute alike (oldest first).
    pub peers: &'a [Candidate],
    pub initial_size: usize,
    pub cluster_name: &'a str,
    pub view: &'a ClusterView,
}

/// What `prepare` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Start the member from its data directory; no membership change.
    Restart,
    /// The data directory is a removed member's: move it aside, join.
    Rejoin,
    /// Join the cluster that answers.
    Join,
    /// Start a new cluster of `initial`, with `token`.
    Bootstrap {
        initial: Vec<Candidate>,
        token: String,
    },
    /// Not yet: look again (within the deadline). Why.
    Wait(String),
    /// Never, until an admin changes something: bad input. Why.
    Refuse(String),
}

impl Decision {
    /// As the report names it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Decision::Restart => "restart",
            Decision::Rejoin => "rejoin",
            Decision::Join => "join",
            Decision::Bootstrap { .. } => "new",
            Decision::Wait(_) => "wait",
            Decision::Refuse(_) => "refuse",
        }
    }
}

/// Whether `members` holds this instance (by name, or by peer URL: a
/// member added for it that has not started).
pub fn is_member(members: &[MemberInfo], me: &Me) -> bool {
    members
        .iter()
        .any(|m| m.name == me.name || m.peer_urls.contains(&me.peer_url))
}

pub fn decide(f: &Facts) -> Decision {
    if f.has_data {
        // The data directory wins: etcd ignores the initial-cluster
        // settings when it has data. Only the cluster's own list, read
        // linearizably, can say this member was removed.
        return match f.view {
            ClusterView::Answers(Some(members)) if !is_member(members, f.me) => Decision::Rejoin,
            _ => Decision::Restart,
        };
    }
    match f.view {
        ClusterView::Answers(_) => Decision::Join,
        ClusterView::CouldNotAsk { why, config: true } => Decision::Refuse(format!(
            "no peer of cluster {} could be asked: {}",
            f.cluster_name,
            why.join("; ")
        )),
        ClusterView::CouldNotAsk { why, config: false } => Decision::Wait(format!(
            "no peer of cluster {} answers and some could not be asked ({}): not starting a new cluster",
            f.cluster_name,
            why.join("; ")
        )),
        ClusterView::Silent => {
            // Every instance sorts the same way and takes the same first N.
            let initial: Vec<Candidate> = f.peers.iter().take(f.initial_size).cloned().collect();
            if f.peers.len() < f.initial_size {
                return Decision::Wait(format!(
                    "{} of {} peers of cluster {} visible, no cluster answers yet (--initial-size)",
                    f.peers.len(),
                    f.initial_size,
                    f.cluster_name
                ));
            }
            if !initial.iter().any(|c| c.name == f.me.name) {
                return Decision::Wait(format!(
                    "cluster {} to answer ({} is not among its first {} instances, so it joins)",
                    f.cluster_name, f.me.name, f.initial_size
                ));
            }
            let ids: Vec<&str> = initial.iter().map(|c| c.name.as_str()).collect();
            let token = cluster_token(f.cluster_name, &ids);
            Decision::Bootstrap { initial, token }
        }
    }
}

/// Members that may be dead: named like an instance, not this one, and
/// not among the visible peers. Only a describe by ID proves them gone.
pub fn suspects<'a>(
    members: &'a [MemberInfo],
    peers: &[Candidate],
    me: &Me,
) -> Vec<&'a MemberInfo> {
    members
        .iter()
        .filter(|m| m.name.starts_with("i-") && m.name != me.name)
        .filter(|m| !peers.iter().any(|p| p.name == m.name))
        .collect()
}

/// The quorum guard: removing `dead` must leave the healthy voting members
/// a majority of the voting members left, and is refused from a cluster of
/// fewer than 3 voting members.
pub fn may_remove(members: &[MemberInfo], dead: &MemberInfo, healthy: usize) -> Result<(), String> {
    let voting = members.iter().filter(|m| !m.is_learner).count();
    let after = voting - usize::from(!dead.is_learner);
    if voting < 3 || healthy <= after / 2 {
        return Err(format!(
            "not removing dead member {} ({voting} voting members, {healthy} healthy): quorum would be at risk",
            dead.name
        ));
    }
    Ok(())
}

/// How this instance becomes a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinStep {
    /// An unstarted member with this instance's peer URL: added by an
    /// earlier run that crashed. Start as it.
    Reuse(u64),
    /// A started member by this instance's name and URL, but no data here:
    /// it cannot come back. Remove it, then add anew.
    Replace(u64),
    /// Add this instance.
    Add,
    /// Another member has this instance's peer URL.
    Conflict(String),
}

pub fn join_step(members: &[MemberInfo], me: &Me) -> JoinStep {
    match members.iter().find(|m| m.peer_urls.contains(&me.peer_url)) {
        None => JoinStep::Add,
        Some(m) if m.name.is_empty() => JoinStep::Reuse(m.id),
        Some(m) if m.name == me.name => JoinStep::Replace(m.id),
        Some(m) => JoinStep::Conflict(format!(
            "member {} already has this instance's peer URL {}",
            m.name, me.peer_url
        )),
    }
}

/// ETCD_INITIAL_CLUSTER for a member joining `members`: every member by
/// name and first peer URL; this instance by its own name; an unstarted
/// member (no name yet) by the visible peer with its URL.
pub fn initial_cluster(
    members: &[MemberInfo],
    peers: &[Candidate],
    me: &Me,
) -> Result<String, String> {
    let mut list = Vec::new();
    for m in members {
        let url = m.peer_urls.first().cloned().unwrap_or_default();
        let name = if m.peer_urls.contains(&me.peer_url) {
            me.name.clone()
        } else if !m.name.is_empty() {
            m.name.clone()
        } else {
            peers
                .iter()
                .find(|p| p.peer_url == url)
                .map(|p| p.name.clone())
                .ok_or_else(|| {
                    format!("member {url} has not started and no visible instance has that address")
                })?
        };
        list.push(format!("{name}={url}"));
    }
    Ok(list.join(","))
}

/// ETCD_INITIAL_CLUSTER of a new cluster.
pub fn bootstrap_cluster(initial: &[Candidate]) -> String {
    initial
        .iter()
        .map(|c| format!("{}={}", c.name, c.peer_url))
        .collect::<Vec<_>>()
        .join(",")
}

/// A token unique to this cluster's bootstrap: its name and first members.
pub fn cluster_token(name: &str, ids: &[&str]) -> String {
    let h = ids
        .iter()
        .flat_map(|i| i.bytes().chain([0]))
        .fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
        });
    format!("{name}-{h:016x}")
}

#[cfg(test)]
mod tests;
