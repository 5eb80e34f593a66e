//! Table tests of etcd-member-prepare's decisions: every branch, no rig.

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
