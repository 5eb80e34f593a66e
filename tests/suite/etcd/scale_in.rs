//! Scale-in: members leave cleanly when their group terminates them
//! (`mooring-leave watch` running `etcd-member-prepare leave` as its
//! steps, against the rig's termination hook), and the leader tidies a
//! member that died without leaving.

use super::{Fixture, BIN};
use rig::tool::{describe, json};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const LEAVE: &str = env!("CARGO_BIN_EXE_mooring-leave");

/// A group of `size` instances with a termination hook, bootstrapped into
/// one cluster (prepares at once, then etcd on each).
pub(super) async fn group(f: &mut Fixture, name: &str, size: usize) {
    let insts = f.rig.asg(json!({
        "name": name, "size": size, "tags": {"etcd-cluster": f.cluster},
        "termination_hook": {"name": "mooring-leave", "timeout": 60},
    }));
    for inst in insts {
        f.adopt(inst);
    }
    std::thread::scope(|s| {
        let f = &*f;
        for n in 0..size {
            s.spawn(move || f.prepare(n));
        }
    });
    for n in 0..size {
        f.start(n);
    }
    for n in 0..size {
        f.client(n).await;
    }
    f.assert_all_voting(0, size).await;
}

/// The node whose member leads, as node `asker` sees it.
async fn leader(f: &Fixture, asker: usize) -> usize {
    let mut c = f.client(asker).await;
    let status = c.status().await.unwrap();
    let members = f.member_list(asker).await;
    let name = members
        .iter()
        .find(|m| m.id() == status.leader())
        .map(|m| m.name().to_string())
        .expect("a leader");
    f.nodes.iter().position(|n| n.inst.id == name).unwrap()
}

/// The instances waiting in Terminating:Wait, once there are `count`.
pub(super) fn waiting(f: &Fixture, count: usize) -> Vec<usize> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (waiting, _) = f.rig.lifecycle();
        if waiting.len() >= count {
            return waiting
                .iter()
                .map(|id| f.nodes.iter().position(|n| &n.inst.id == id).unwrap())
                .collect();
        }
        assert!(Instant::now() < deadline, "waiting: {waiting:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `mooring-leave watch` on node `n`, its steps the node's leave step.
fn watch(f: &Fixture, n: usize, budget: u64, leave_extra: &[&str]) -> std::process::Output {
    let mut args: Vec<String> = [
        "watch",
        "--output",
        "json",
        "--timeout",
        &budget.to_string(),
        "--",
        BIN,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(f.args(n, "leave"));
    args.extend(leave_extra.iter().map(|s| s.to_string()));
    // The same instance and run directory as the node's own tool.
    let node = &f.nodes[n];
    let tool = rig::tool::Tool::new(LEAVE, &f.rig, &node.inst, &node.dir);
    tool.run_owned(&args)
}

/// Write a key every 20 ms through the given endpoints until stopped;
/// the keys acknowledged, and the longest time between two acks.
struct Writer {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<String>>>,
    longest_gap: Arc<Mutex<Duration>>,
    task: tokio::task::JoinHandle<()>,
}

impl Writer {
    fn start(endpoints: Vec<String>) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let longest_gap = Arc::new(Mutex::new(Duration::ZERO));
        let (s, a, g) = (stop.clone(), acked.clone(), longest_gap.clone());
        let task = tokio::spawn(async move {
            let opts = etcd_client::ConnectOptions::new()
                .with_connect_timeout(Duration::from_secs(1))
                .with_timeout(Duration::from_secs(2));
            let mut c = etcd_client::Client::connect(endpoints, Some(opts))
                .await
                .unwrap();
            let mut last = Instant::now();
            let mut i = 0u64;
            while !s.load(Ordering::SeqCst) {
                let key = format!("scale-in/{i:08}");
                if c.put(key.clone(), "v", None).await.is_ok() {
                    a.lock().unwrap().push(key);
                    let mut gap = g.lock().unwrap();
                    *gap = (*gap).max(last.elapsed());
                    last = Instant::now();
                    i += 1;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let mut gap = g.lock().unwrap();
            *gap = (*gap).max(last.elapsed());
        });
        Writer {
            stop,
            acked,
            longest_gap,
            task,
        }
    }

    async fn finish(self) -> (Vec<String>, Duration) {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.unwrap();
        let acked = self.acked.lock().unwrap().clone();
        let gap = *self.longest_gap.lock().unwrap();
        (acked, gap)
    }
}

/// Issue 21: a 5-member group scaled in to 3, its leader among the two
/// taken, while a client writes every 20 ms: the members end as exactly
/// the 3 running instances, every acknowledged write is readable, writes
/// never stall for an election's worth of time, and both leavers
/// complete their lifecycle actions (the rig then terminates them).
// Multi-threaded: the writer runs on a worker while the test's thread
// waits for the leave runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_scaled_in_to_three_keep_quorum_and_every_write() {
    let mut f = Fixture::new("scale-in", 5);
    group(&mut f, "etcd-scale-in", 5).await;
    let lead = leader(&f, 0).await;
    let survivors_urls: Vec<String> = (0..5)
        .map(|n| f.nodes[n].client_url(f.client_port))
        .collect();
    let writer = Writer::start(survivors_urls);
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The leader is taken by hand, one more by the desired capacity.
    let asg = f.rig.autoscaling();
    asg.terminate_instance_in_auto_scaling_group()
        .instance_id(&f.nodes[lead].inst.id)
        .should_decrement_desired_capacity(true)
        .send()
        .await
        .unwrap();
    asg.set_desired_capacity()
        .auto_scaling_group_name("etcd-scale-in")
        .desired_capacity(3)
        .send()
        .await
        .unwrap();
    let leaving = waiting(&f, 2);
    assert!(leaving.contains(&lead), "{leaving:?} {lead}");

    let outs: Vec<std::process::Output> = std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = leaving
            .iter()
            .map(|&n| s.spawn(move || watch(f, n, 120, &[])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (out, n) in outs.iter().zip(&leaving) {
        assert!(out.status.success(), "watch on node {n}: {}", describe(out));
        let report = json(out);
        assert_eq!(report["decision"], "leave", "{report}");
        assert_eq!(
            report["steps"]["exit_code"],
            0,
            "node {n}: {}",
            describe(out)
        );
        assert_eq!(report["completed"], "now", "{report}");
    }
    let (waiting_now, ended) = f.rig.lifecycle();
    assert!(waiting_now.is_empty(), "{waiting_now:?}");
    for &n in &leaving {
        assert_eq!(
            ended.get(&f.nodes[n].inst.id).map(String::as_str),
            Some("CONTINUE")
        );
    }

    let (acked, gap) = writer.finish().await;
    let stay: Vec<usize> = (0..5).filter(|n| !leaving.contains(n)).collect();
    let mut want: Vec<String> = stay.iter().map(|&n| f.nodes[n].inst.id.clone()).collect();
    want.sort();
    let names: Vec<String> = f
        .members(stay[0])
        .await
        .into_iter()
        .map(|(name, learner)| {
            assert!(!learner);
            name
        })
        .collect();
    assert_eq!(names, want);
    let mut c = f.client(stay[0]).await;
    let got = c
        .get(
            "scale-in/",
            Some(
                etcd_client::GetOptions::new()
                    .with_prefix()
                    .with_keys_only(),
            ),
        )
        .await
        .unwrap();
    let stored: std::collections::BTreeSet<String> = got
        .kvs()
        .iter()
        .map(|kv| kv.key_str().unwrap().to_string())
        .collect();
    let lost: Vec<&String> = acked.iter().filter(|k| !stored.contains(*k)).collect();
    assert!(acked.len() > 20, "the writer wrote {}", acked.len());
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    assert!(gap < Duration::from_secs(5), "writes stalled for {gap:?}");
    // The leavers' data are kept aside; prepare would refuse to rejoin.
    for &n in &leaving {
        let out = f.run(n, "prepare", &[]);
        assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains("does not join again"));
    }
}

/// A scale-in that would leave fewer than --min-voting members: the leave
/// step refuses (exit 5, saying why) until its budget is spent, and the
/// watch completes the lifecycle action anyway; the cluster keeps its 3.
#[tokio::test]
async fn a_leave_below_min_voting_is_refused_and_the_group_still_wins() {
    let mut f = Fixture::new("min-voting", 3);
    group(&mut f, "etcd-min-voting", 3).await;
    f.rig
        .autoscaling()
        .set_desired_capacity()
        .auto_scaling_group_name("etcd-min-voting")
        .desired_capacity(2)
        .send()
        .await
        .unwrap();
    let n = waiting(&f, 1)[0];
    let out = watch(&f, n, 30, &["--timeout", "8"]);
    assert!(out.status.success(), "{}", describe(&out));
    let report = json(&out);
    assert_eq!(report["steps"]["exit_code"], 5, "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("fewer than --min-voting 3"),
        "{}",
        describe(&out)
    );
    assert_eq!(report["completed"], "now");
    let (_, ended) = f.rig.lifecycle();
    assert_eq!(
        ended.get(&f.nodes[n].inst.id).map(String::as_str),
        Some("CONTINUE")
    );
    let other = (n + 1) % 3;
    assert_eq!(f.members(other).await.len(), 3);
}

/// A reboot is not a leave: with the group keeping the instance, the
/// leave step does nothing, and the watch makes no AWS call at all.
#[tokio::test]
async fn in_service_the_watch_and_the_leave_step_do_nothing() {
    let mut f = Fixture::new("in-service", 3);
    group(&mut f, "etcd-in-service", 3).await;
    f.rig.calls(true);
    let out = f.run(0, "leave", &[]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(json(&out)["result"], "staying");
    let out = watch(&f, 1, 30, &[]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(json(&out)["decision"], "stay");
    let (calls, _) = f.rig.calls(false);
    assert!(calls.is_empty(), "calls while in service: {calls:?}");
    assert_eq!(f.members(2).await.len(), 3);
}

/// A member whose instance died without leaving (no hook: terminated at
/// once): the leader's tidy removes it, once; the others do nothing; and
/// while the cluster matches its group tidy makes no EC2 call.
#[tokio::test]
async fn tidy_removes_a_member_that_died_without_leaving_once() {
    let mut f = Fixture::new("tidy", 4);
    f.bootstrap(4).await;
    f.rig.calls(true);
    for n in 0..4 {
        // With the group as the peer source too: tidy looks the group up
        // only when someone is silent.
        for extra in [&[][..], &["--peers", "asg"][..]] {
            let out = f.run(n, "tidy", extra);
            assert!(out.status.success(), "{}", describe(&out));
            let r = json(&out)["result"].as_str().unwrap().to_string();
            assert!(r == "nothing" || r == "not-leader", "{r}");
        }
    }
    assert!(
        f.rig.calls_by_instance("ec2").is_empty(),
        "EC2 calls with nothing to tidy"
    );
    assert!(
        f.rig.calls_by_instance("autoscaling").is_empty(),
        "Auto Scaling calls with nothing to tidy"
    );

    // Node 3 dies: its etcd stops, its instance is terminated.
    f.stop(3);
    // If it led, the others elect a leader first (bounded): tidy is the
    // leader's, and a cluster between leaders has none to run it.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut c = f.client(0).await;
        let members = f.member_list(0).await;
        let leader = c.status().await.map(|s| s.leader()).unwrap_or(0);
        let alive = members
            .iter()
            .any(|m| m.id() == leader && m.name() != f.nodes[3].inst.id);
        if alive {
            break;
        }
        assert!(Instant::now() < deadline, "no new leader");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ec2 = f.rig.ec2().await;
    ec2.terminate_instances()
        .instance_ids(&f.nodes[3].inst.id)
        .send()
        .await
        .unwrap();
    let outs: Vec<serde_json::Value> = std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = (0..3)
            .map(|n| {
                s.spawn(move || {
                    let out = f.run(n, "tidy", &[]);
                    assert!(out.status.success(), "{}", describe(&out));
                    json(&out)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let removed: Vec<&serde_json::Value> =
        outs.iter().filter(|r| r["result"] == "removed").collect();
    assert_eq!(removed.len(), 1, "{outs:?}");
    assert_eq!(removed[0]["removed"], f.nodes[3].inst.id.as_str());
    assert_eq!(f.members(0).await.len(), 3);
    for n in 0..3 {
        let out = f.run(n, "tidy", &[]);
        let r = json(&out)["result"].as_str().unwrap().to_string();
        assert!(r == "nothing" || r == "not-leader", "second pass: {r}");
    }
}

/// The leave step SIGKILLed part way — before its first etcd call, around
/// the leader hand-over and the turn, around the removal — and run again:
/// each leaver ends removed, once, and no other member is ever removed.
/// (Kills at set times across the run, leaders among the leavers: etcd's
/// calls cannot be intercepted one by one as the rig's AWS calls are.)
#[tokio::test]
async fn a_leave_killed_part_way_and_rerun_ends_removed_once() {
    let mut f = Fixture::new("leave-killed", 6);
    group(&mut f, "etcd-leave-killed", 6).await;
    let mut expected: Vec<String> = f.nodes.iter().map(|n| n.inst.id.clone()).collect();
    for (round, kill_after_ms) in [150u64, 700, 1500].into_iter().enumerate() {
        // The leader leaves first: the hand-over is among what is killed.
        let stay = (0..6)
            .find(|n| expected.contains(&f.nodes[*n].inst.id))
            .unwrap();
        let n = if round == 0 {
            leader(&f, stay).await
        } else {
            (0..6)
                .rev()
                .find(|n| expected.contains(&f.nodes[*n].inst.id))
                .unwrap()
        };
        f.rig
            .autoscaling()
            .terminate_instance_in_auto_scaling_group()
            .instance_id(&f.nodes[n].inst.id)
            .should_decrement_desired_capacity(true)
            .send()
            .await
            .unwrap();
        let args = f.args(n, "leave");
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = f.nodes[n].tool.command(&refs).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(kill_after_ms));
        let _ = child.kill();
        let _ = child.wait();
        let out = f.run(n, "leave", &["--timeout", "90"]);
        assert!(out.status.success(), "round {round}: {}", describe(&out));
        let r = json(&out);
        assert!(
            r["result"] == "left" || r["result"] == "left-already",
            "{r}"
        );
        expected.retain(|id| *id != f.nodes[n].inst.id);
        let other = (0..6)
            .find(|m| expected.contains(&f.nodes[*m].inst.id))
            .unwrap();
        let mut names: Vec<String> = f
            .members(other)
            .await
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        names.sort();
        let mut want = expected.clone();
        want.sort();
        assert_eq!(
            names, want,
            "round {round} (killed after {kill_after_ms} ms)"
        );
    }
}
