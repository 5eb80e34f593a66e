//! Table tests of etcd-member-prepare leave's policy: every step, no rig.

use super::*;

fn member(id: u64, learner: bool) -> MemberInfo {
    MemberInfo {
        id,
        name: format!("i-{id}"),
        peer_urls: vec![format!("http://10.0.0.{id}:2380")],
        client_urls: vec![format!("http://10.0.0.{id}:2379")],
        is_learner: learner,
    }
}

fn status(id: u64, leader: u64, index: u64) -> Status {
    Status {
        url: format!("http://10.0.0.{id}:2379"),
        member_id: id,
        leader,
        raft_index: index,
        raft_term: 2,
        is_learner: false,
        revision: 1,
        cluster_id: 1,
    }
}

fn step(members: &[MemberInfo], statuses: &[Status], min: usize) -> LeaveStep {
    decide(&LeaveFacts {
        my_peer_url: "http://10.0.0.1:2380",
        members,
        statuses,
        leaving: &[],
        min_voting: min,
    })
}

#[test]
fn a_follower_of_a_healthy_five_removes_itself() {
    let m: Vec<_> = (1..=5).map(|i| member(i, false)).collect();
    let s: Vec<_> = (1..=5).map(|i| status(i, 2, 100)).collect();
    assert_eq!(step(&m, &s, 3), LeaveStep::Remove { id: 1 });
}

#[test]
fn the_leader_hands_over_to_the_most_up_to_date_member_first() {
    let m: Vec<_> = (1..=5).map(|i| member(i, false)).collect();
    let s = vec![
        status(1, 1, 100),
        status(2, 1, 98),
        status(3, 1, 100),
        status(4, 1, 99),
    ];
    assert_eq!(step(&m, &s, 3), LeaveStep::MoveLeader { to: 3 });
}

#[test]
fn leadership_never_goes_to_another_leaver() {
    let m: Vec<_> = (1..=5).map(|i| member(i, false)).collect();
    let s = vec![
        status(1, 1, 100),
        status(2, 1, 100),
        status(3, 1, 99),
        status(4, 1, 99),
    ];
    let step = decide(&LeaveFacts {
        my_peer_url: "http://10.0.0.1:2380",
        members: &m,
        statuses: &s,
        leaving: &[2],
        min_voting: 3,
    });
    assert_eq!(step, LeaveStep::MoveLeader { to: 3 });
}

#[test]
fn gone_when_no_member_has_our_peer_url() {
    let m: Vec<_> = (2..=4).map(|i| member(i, false)).collect();
    assert_eq!(step(&m, &[], 3), LeaveStep::Gone);
}

#[test]
fn never_below_min_voting() {
    let m: Vec<_> = (1..=3).map(|i| member(i, false)).collect();
    let s: Vec<_> = (1..=3).map(|i| status(i, 2, 100)).collect();
    assert!(matches!(step(&m, &s, 3), LeaveStep::Refuse { why } if why.contains("--min-voting 3")));
    assert_eq!(step(&m, &s, 2), LeaveStep::Remove { id: 1 });
}

#[test]
fn never_when_the_rest_would_lack_quorum() {
    // 5 voting, 2 of the 4 others silent: 4 left would need 3.
    let m: Vec<_> = (1..=5).map(|i| member(i, false)).collect();
    let s = vec![status(1, 2, 100), status(2, 2, 100), status(3, 2, 100)];
    assert!(matches!(step(&m, &s, 3), LeaveStep::Refuse { why } if why.contains("lose quorum")));
}

#[test]
fn a_learner_leaves_at_no_cost() {
    let mut m: Vec<_> = (2..=3).map(|i| member(i, false)).collect();
    m.push(member(1, true));
    assert_eq!(step(&m, &[], 3), LeaveStep::Remove { id: 1 });
}

#[test]
fn learners_do_not_count_towards_quorum() {
    // 4 voting + a learner answering: the learner is not a voter.
    let mut m: Vec<_> = (1..=4).map(|i| member(i, false)).collect();
    m.push(member(5, true));
    let mut learner = status(5, 2, 100);
    learner.is_learner = true;
    let s = vec![status(1, 2, 100), status(2, 2, 100), learner];
    assert!(matches!(step(&m, &s, 3), LeaveStep::Refuse { .. }));
}
