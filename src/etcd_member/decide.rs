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
mod tests {
    use super::*;

    fn me() -> Me {
        Me {
            name: "i-b".into(),
            peer_url: "http://10.0.0.2:2380".into(),
            client_url: "http://10.0.0.2:2379".into(),
        }
    }

    fn cand(n: &str, ip: u8) -> Candidate {
        Candidate {
            name: n.into(),
            peer_url: format!("http://10.0.0.{ip}:2380"),
        }
    }

    fn member(id: u64, name: &str, ip: u8, learner: bool) -> MemberInfo {
        MemberInfo {
            id,
            name: name.into(),
            peer_urls: vec![format!("http://10.0.0.{ip}:2380")],
            client_urls: if name.is_empty() {
                vec![]
            } else {
                vec![format!("http://10.0.0.{ip}:2379")]
            },
            is_learner: learner,
        }
    }

    fn facts<'a>(
        me: &'a Me,
        has_data: bool,
        peers: &'a [Candidate],
        view: &'a ClusterView,
    ) -> Facts<'a> {
        Facts {
            me,
            has_data,
            peers,
            initial_size: 3,
            cluster_name: "prod",
            view,
        }
    }

    #[test]
    fn every_branch_of_the_first_decision() {
        let me = me();
        let three = [cand("i-a", 1), cand("i-b", 2), cand("i-c", 3)];
        let two = [cand("i-a", 1), cand("i-b", 2)];
        let late = [
            cand("i-a", 1),
            cand("i-c", 3),
            cand("i-d", 4),
            cand("i-b", 2),
        ];
        let with_me = ClusterView::Answers(Some(vec![
            member(1, "i-a", 1, false),
            member(2, "i-b", 2, false),
        ]));
        let without_me = ClusterView::Answers(Some(vec![member(1, "i-a", 1, false)]));
        let unstarted_me = ClusterView::Answers(Some(vec![
            member(1, "i-a", 1, false),
            member(2, "", 2, true),
        ]));
        let no_quorum = ClusterView::Answers(None);
        let tls = ClusterView::CouldNotAsk {
            why: vec!["https://10.0.0.1:2379: TLS: invalid peer certificate: UnknownIssuer".into()],
            config: true,
        };
        let unsure = ClusterView::CouldNotAsk {
            why: vec!["https://10.0.0.1:2379: operation was canceled".into()],
            config: false,
        };
        let silent = ClusterView::Silent;
        let table: Vec<(&str, bool, &[Candidate], &ClusterView, &str)> = vec![
            // A data directory: restart unless the list proves removal.
            ("data, listed", true, &three, &with_me, "restart"),
            (
                "data, unstarted by URL",
                true,
                &three,
                &unstarted_me,
                "restart",
            ),
            ("data, removed", true, &three, &without_me, "rejoin"),
            (
                "data, no quorum to tell",
                true,
                &three,
                &no_quorum,
                "restart",
            ),
            ("data, nobody answers", true, &three, &silent, "restart"),
            ("data, could not ask", true, &three, &tls, "restart"),
            // No data: join what answers.
            ("answers", false, &three, &without_me, "join"),
            ("answers without quorum", false, &three, &no_quorum, "join"),
            // Could not ask is never "nobody answers".
            ("tls failure", false, &three, &tls, "refuse"),
            ("unsure failure", false, &three, &unsure, "wait"),
            // Nobody answers: bootstrap only complete and among the first.
            ("silent, complete, founder", false, &three, &silent, "new"),
            ("silent, incomplete", false, &two, &silent, "wait"),
            ("silent, beyond the first", false, &late, &silent, "wait"),
        ];
        for (what, has_data, peers, view, expect) in table {
            let d = decide(&facts(&me, has_data, peers, view));
            assert_eq!(d.as_str(), expect, "{what}: {d:?}");
        }
    }

    #[test]
    fn founders_agree_on_the_initial_cluster_and_token() {
        let three = [
            cand("i-a", 1),
            cand("i-b", 2),
            cand("i-c", 3),
            cand("i-d", 4),
        ];
        let mut seen = Vec::new();
        for name in ["i-a", "i-b", "i-c"] {
            let me = Me {
                name: name.into(),
                ..me()
            };
            let Decision::Bootstrap { initial, token } =
                decide(&facts(&me, false, &three, &ClusterView::Silent))
            else {
                panic!("{name} does not bootstrap");
            };
            seen.push((bootstrap_cluster(&initial), token));
        }
        assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
        assert_eq!(
            seen[0].0,
            "i-a=http://10.0.0.1:2380,i-b=http://10.0.0.2:2380,i-c=http://10.0.0.3:2380"
        );
    }

    #[test]
    fn refusals_and_waits_say_why() {
        let me = me();
        let three = [cand("i-a", 1), cand("i-b", 2), cand("i-c", 3)];
        let tls = ClusterView::CouldNotAsk {
            why: vec!["https://10.0.0.1:2379: TLS: invalid peer certificate: UnknownIssuer".into()],
            config: true,
        };
        let Decision::Refuse(why) = decide(&facts(&me, false, &three, &tls)) else {
            panic!()
        };
        assert!(
            why.contains("UnknownIssuer") && why.contains("10.0.0.1"),
            "{why}"
        );
    }

    #[test]
    fn suspects_are_instances_not_visible() {
        let me = me();
        let peers = [cand("i-a", 1), cand("i-b", 2)];
        let members = [
            member(1, "i-a", 1, false),
            member(2, "i-b", 2, false),
            member(3, "i-gone", 3, false),
            member(4, "", 4, true),
            member(5, "manual-node", 5, false),
        ];
        let s: Vec<&str> = suspects(&members, &peers, &me)
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(s, ["i-gone"]);
    }

    #[test]
    fn the_quorum_guard() {
        let m = |n: usize, learners: usize| -> Vec<MemberInfo> {
            (0..n)
                .map(|i| {
                    member(
                        i as u64 + 1,
                        &format!("i-{i}"),
                        i as u8 + 1,
                        i >= n - learners,
                    )
                })
                .collect()
        };
        // (members, learners, dead index, healthy, allowed)
        let table = [
            (3, 0, 2, 2, true),  // one dead of three: 2 healthy of 2 left
            (3, 0, 2, 1, false), // two unhealthy: no quorum after
            (2, 0, 1, 1, false), // never from a 2-member cluster
            (5, 0, 4, 3, true),  // 3 healthy of 4 left
            (5, 0, 4, 2, false), // 2 healthy of 4 left is no majority
            (4, 1, 3, 2, true),  // a dead learner: voting unchanged (3), 2 > 1
        ];
        for (n, learners, dead, healthy, allowed) in table {
            let members = m(n, learners);
            let got = may_remove(&members, &members[dead], healthy);
            assert_eq!(
                got.is_ok(),
                allowed,
                "{n} members ({learners} learners), {healthy} healthy: {got:?}"
            );
        }
    }

    #[test]
    fn join_steps() {
        let me = me();
        assert_eq!(join_step(&[member(1, "i-a", 1, false)], &me), JoinStep::Add);
        assert_eq!(
            join_step(&[member(1, "i-a", 1, false), member(7, "", 2, true)], &me),
            JoinStep::Reuse(7)
        );
        assert_eq!(
            join_step(
                &[member(1, "i-a", 1, false), member(7, "i-b", 2, false)],
                &me
            ),
            JoinStep::Replace(7)
        );
        assert!(matches!(
            join_step(
                &[member(1, "i-a", 1, false), member(7, "i-x", 2, false)],
                &me
            ),
            JoinStep::Conflict(_)
        ));
    }

    #[test]
    fn initial_cluster_of_a_joiner() {
        let me = me();
        let peers = [cand("i-a", 1), cand("i-b", 2), cand("i-c", 3)];
        let members = [
            member(1, "i-a", 1, false),
            member(2, "", 2, true),
            member(3, "", 3, true),
        ];
        assert_eq!(
            initial_cluster(&members, &peers, &me).unwrap(),
            "i-a=http://10.0.0.1:2380,i-b=http://10.0.0.2:2380,i-c=http://10.0.0.3:2380"
        );
        // An unstarted member nobody can name.
        let stranger = [member(1, "i-a", 1, false), member(9, "", 9, true)];
        assert!(initial_cluster(&stranger, &peers, &me).is_err());
    }

    #[test]
    fn token_is_stable_and_order_sensitive() {
        assert_eq!(
            cluster_token("c", &["i-1", "i-2"]),
            cluster_token("c", &["i-1", "i-2"])
        );
        assert_ne!(
            cluster_token("c", &["i-1", "i-2"]),
            cluster_token("d", &["i-1", "i-2"])
        );
        assert_ne!(
            cluster_token("c", &["i-1", "i-2"]),
            cluster_token("c", &["i-1", "i-3"])
        );
    }
}
