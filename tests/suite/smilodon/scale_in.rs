//! Issue 21: an instance the group scales in releases its pair
//! (`release`: unmount, detach both halves, see them available), and a
//! spare's next try takes it — mounted with its data intact; of two
//! spares racing for one freed pair, exactly one wins.

use super::{Fixture, Node, AZ, BIN};
use rig::tool::{describe, json, run_all, Tool};
use serde_json::json;

/// `size` instances of group `name` (a termination hook, each with a
/// network namespace of its own).
fn group(f: &Fixture, name: &str, size: usize) -> Vec<Node> {
    f.rig
        .asg(json!({
            "name": name, "size": size, "az": AZ, "netns": true,
            "termination_hook": {"name": "zk", "timeout": 300},
        }))
        .into_iter()
        .map(|inst| {
            let dir = f.dir.path().join(&inst.id);
            std::fs::create_dir_all(&dir).unwrap();
            let tool = Tool::new(BIN, &f.rig, &inst, &dir);
            Node { inst, tool, dir }
        })
        .collect()
}

/// The node's attach as the spare drop-in runs it (`--when-none idle`):
/// (exit code, report).
fn attach_or_idle(node: &Node) -> (Option<i32>, serde_json::Value) {
    let mp = node.mountpoint();
    let out = node.run(&[
        "--mountpoint",
        mp.to_str().unwrap(),
        "--mkfs",
        "ext4",
        "--when-none",
        "idle",
    ]);
    assert!(
        matches!(out.status.code(), Some(0 | 8)),
        "{}",
        describe(&out)
    );
    (out.status.code(), json(&out))
}

fn release(node: &Node) -> serde_json::Value {
    let mp = node.mountpoint();
    let out = node.run(&["--mountpoint", mp.to_str().unwrap(), "release"]);
    assert!(out.status.success(), "{}", describe(&out));
    json(&out)
}

async fn scale_in(f: &Fixture, node: &Node) {
    f.rig
        .autoscaling()
        .terminate_instance_in_auto_scaling_group()
        .instance_id(&node.inst.id)
        .should_decrement_desired_capacity(true)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_released_pair_goes_to_the_spare_with_its_data() {
    let f = Fixture::new();
    let mut pairs = Vec::new();
    for id in ["0", "1", "2"] {
        pairs.push(f.pair(id, AZ).await);
    }
    let nodes = group(&f, "zk-scale-in", 4);
    let mut spare = None;
    let mut holder_of_0 = None;
    for (i, n) in nodes.iter().enumerate() {
        let (code, r) = attach_or_idle(n);
        match code {
            Some(8) => spare = Some(i),
            _ if r["node_id"] == "0" => holder_of_0 = Some(i),
            _ => {}
        }
    }
    let (spare, holder) = (
        &nodes[spare.expect("a spare")],
        &nodes[holder_of_0.expect("pair 0 held")],
    );
    std::fs::write(holder.mountpoint().join("data"), "node 0's state").unwrap();

    // In service, release keeps the pair.
    assert_eq!(release(holder)["result"], "staying");
    assert_eq!(
        f.volume_holder(&pairs[0].volume_id).await.as_deref(),
        Some(holder.inst.id.as_str())
    );

    scale_in(&f, holder).await;
    let r = release(holder);
    assert_eq!(r["result"], "released", "{r}");
    assert_eq!(r["released"].as_array().unwrap().len(), 2, "{r}");
    assert!(
        mooring::block::mount::mounted_at(&holder.mountpoint())
            .unwrap()
            .is_none(),
        "still mounted"
    );
    assert_eq!(f.volume_holder(&pairs[0].volume_id).await, None);
    assert_eq!(f.eni_holder(&pairs[0].eni_id).await, None);
    // Again (a rerun after a crash): nothing held, nothing done.
    assert_eq!(release(holder)["result"], "nothing");

    // The spare's next try (its timer restarts the service).
    let (code, r) = attach_or_idle(spare);
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(r["node_id"], "0", "{r}");
    assert_eq!(r["filesystem"]["created"], false, "{r}");
    let data = std::fs::read_to_string(spare.mountpoint().join("data")).unwrap();
    assert_eq!(data, "node 0's state");
}

#[tokio::test]
async fn two_spares_racing_for_one_freed_pair_one_wins() {
    let f = Fixture::new();
    let pair = f.pair("0", AZ).await;
    let nodes = group(&f, "zk-race", 3);
    let codes: Vec<Option<i32>> = nodes.iter().map(|n| attach_or_idle(n).0).collect();
    let holder = codes.iter().position(|c| *c == Some(0)).expect("a holder");
    scale_in(&f, &nodes[holder]).await;
    assert_eq!(release(&nodes[holder])["result"], "released");
    let spares: Vec<&Node> = (0..3).filter(|i| *i != holder).map(|i| &nodes[i]).collect();
    let runs: Vec<_> = spares
        .iter()
        .map(|n| {
            let mp = n.mountpoint();
            let args = n.args(&[
                "--mountpoint",
                mp.to_str().unwrap(),
                "--mkfs",
                "ext4",
                "--when-none",
                "idle",
            ]);
            (&n.tool, args)
        })
        .collect();
    let outs = run_all(&runs);
    let mut won = 0;
    for o in &outs {
        match o.status.code() {
            Some(0) => won += 1,
            Some(8) => {}
            _ => panic!("{}", describe(o)),
        }
    }
    assert_eq!(won, 1, "{outs:?}");
    let winner = spares[outs
        .iter()
        .position(|o| o.status.code() == Some(0))
        .unwrap()];
    assert_eq!(
        f.volume_holder(&pair.volume_id).await.as_deref(),
        Some(winner.inst.id.as_str())
    );
    assert_eq!(
        f.eni_holder(&pair.eni_id).await.as_deref(),
        Some(winner.inst.id.as_str())
    );
}

/// `release` killed before or after each of its AWS calls, then run
/// again: both halves of the pair end `available` and a spare takes the
/// whole pair with its data. (Instances outside a group, and `--when
/// always`: the group's turn and the IMDS gate are the tests above.)
#[tokio::test]
async fn a_release_killed_at_every_call_and_rerun_frees_the_whole_pair() {
    let f = Fixture::new();
    let mut calls = None;
    let mut k = 0;
    let mut round = 0;
    loop {
        let fault = ["kill_before", "kill_after"][round % 2];
        let pair = f.pair(&format!("{round}"), AZ).await;
        let holder = &f.node(AZ);
        assert_eq!(attach_or_idle(holder).0, Some(0));
        std::fs::write(holder.mountpoint().join("data"), "kept").unwrap();
        let mp = holder.mountpoint();
        let args = holder.args(&[
            "--mountpoint",
            mp.to_str().unwrap(),
            "release",
            "--when",
            "always",
        ]);
        let release = |n: &Node| {
            let out = n.tool.run_owned(&args);
            assert!(out.status.success(), "{}", describe(&out));
            json(&out)
        };
        let Some(n) = calls else {
            // The first round counts the calls of a clean release.
            f.rig.calls(true);
            assert_eq!(release(holder)["result"], "released");
            calls = Some(f.rig.calls(true).0.len());
            // A spare takes it, so that later rounds claim their own pair.
            assert_eq!(attach_or_idle(&f.node(AZ)).0, Some(0));
            round += 1;
            continue;
        };
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let child = holder.tool.spawn_stopped(&refs);
        f.rig
            .faults(json!([{ "skip": k, "times": 1, "fault": fault, "pid": child.id() }]));
        rig::tool::resume(&child);
        let out = child.wait_with_output().unwrap();
        f.rig.faults(json!([]));
        assert!(!out.status.success(), "{fault} at {k}: {}", describe(&out));
        let r = release(holder);
        assert!(
            r["result"] == "released" || r["result"] == "nothing",
            "{fault} at {k}: {r}"
        );
        assert_eq!(
            f.volume_holder(&pair.volume_id).await,
            None,
            "{fault} at {k}"
        );
        assert_eq!(f.eni_holder(&pair.eni_id).await, None, "{fault} at {k}");
        let spare = &f.node(AZ);
        let (code, r) = attach_or_idle(spare);
        assert_eq!(code, Some(0), "{fault} at {k}: {r}");
        let data = std::fs::read_to_string(spare.mountpoint().join("data")).unwrap();
        assert_eq!(data, "kept", "{fault} at {k}");
        // The spare keeps this pair: the next round's pair is its own.
        round += 1;
        if fault == "kill_after" {
            k += 1;
        }
        if k >= n {
            break;
        }
    }
}

/// A spare whose try cannot ask EC2 (throttled past every retry) backs
/// off: the next tries make no EC2 call until the wait recorded in its
/// idle record has passed (time is moved by rewriting the record); the
/// try after it asks again and, finding a freed pair, takes it and stops
/// being a spare. A try that asked resets the count.
#[tokio::test]
async fn a_spare_backs_off_after_tries_that_could_not_ask() {
    let f = Fixture::new();
    let pair = f.pair("0", AZ).await;
    let nodes = group(&f, "zk-backoff", 2);
    let codes: Vec<Option<i32>> = nodes.iter().map(|n| attach_or_idle(n).0).collect();
    let spare = &nodes[codes.iter().position(|c| *c == Some(8)).expect("a spare")];
    let holder = &nodes[codes.iter().position(|c| *c == Some(0)).expect("a holder")];
    let record = spare.dir.join("run/smilodon-attach.idle");
    let read = || -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap()
    };
    assert_eq!(read()["failures"], 0);

    f.rig
        .faults(json!([{"match": "DescribeVolumes", "times": 100, "fault": "throttle"}]));
    let mp = spare.mountpoint();
    let args = [
        "--mountpoint",
        mp.to_str().unwrap(),
        "--mkfs",
        "ext4",
        "--when-none",
        "idle",
    ];
    let out = spare.run(&args);
    assert!(
        !matches!(out.status.code(), Some(0 | 8)),
        "{}",
        describe(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1 in a row; the next asks in 60 s"),
        "{}",
        describe(&out)
    );
    assert_eq!(read()["failures"], 1);
    f.rig.faults(json!([]));

    // Backing off: idle, and no call at all.
    f.rig.calls(true);
    let (code, r) = attach_or_idle(spare);
    assert_eq!(code, Some(8), "{r}");
    assert!(
        f.rig.calls(false).0.is_empty(),
        "a try while backing off asked EC2"
    );

    // The holder leaves; once the wait has passed the spare asks and takes
    // the pair.
    scale_in(&f, holder).await;
    assert_eq!(release(holder)["result"], "released");
    let mut r = read();
    r["retry_after"] = json!(0);
    std::fs::write(&record, r.to_string()).unwrap();
    let (code, r) = attach_or_idle(spare);
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(r["node_id"], "0", "{r}");
    assert!(!record.exists(), "a holder is no spare");
    assert_eq!(
        f.volume_holder(&pair.volume_id).await.as_deref(),
        Some(spare.inst.id.as_str())
    );
}
