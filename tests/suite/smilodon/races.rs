use super::{mutations, Fixture, Node, PairIds, AZ};
use rig::tool::{describe, json, resume, run_all};
use serde_json::json;
use std::collections::BTreeSet;

/// Every instance holds a whole pair or nothing, and no pair is split.
async fn assert_whole(f: &Fixture, pairs: &[PairIds], nodes: &[&Node]) -> Vec<Option<String>> {
    let mut held = Vec::new();
    for node in nodes {
        let h = f.held_by(pairs, &node.inst).await;
        match h.as_slice() {
            [] => held.push(None),
            [(id, true, true)] => held.push(Some(id.clone())),
            other => panic!("{} holds {other:?}: not one whole pair", node.inst.id),
        }
    }
    for p in pairs {
        assert_eq!(
            f.volume_holder(&p.volume_id).await,
            f.eni_holder(&p.eni_id).await,
            "NodeID {} is split",
            p.node_id
        );
    }
    held
}

/// Three pairs, four instances running the tool at the same time (with
/// EC2's attach delay): three hold one whole pair each, the fourth exits
/// with the no-pair code.
#[tokio::test]
async fn three_pairs_four_instances_at_once() {
    let f = Fixture::new();
    let mut pairs = Vec::new();
    for n in 0..3 {
        pairs.push(f.pair(&n.to_string(), AZ).await);
    }
    let nodes: Vec<Node> = (0..4).map(|_| f.node(AZ)).collect();
    f.rig.config(json!({ "attach_delay": 0.3 }));
    let runs: Vec<_> = nodes
        .iter()
        .map(|n| {
            let mp = n.mountpoint();
            (
                &n.tool,
                n.args(&["--mountpoint", mp.to_str().unwrap(), "--mkfs", "ext4"]),
            )
        })
        .collect();
    let outs = run_all(&runs);
    let codes: Vec<Option<i32>> = outs.iter().map(|o| o.status.code()).collect();
    let all = outs
        .iter()
        .map(describe)
        .collect::<Vec<_>>()
        .join("\n---\n");
    assert_eq!(
        codes.iter().filter(|c| **c == Some(0)).count(),
        3,
        "{codes:?}\n{all}"
    );
    assert_eq!(
        codes.iter().filter(|c| **c == Some(6)).count(),
        1,
        "{codes:?}\n{all}"
    );
    let refs: Vec<&Node> = nodes.iter().collect();
    let held = assert_whole(&f, &pairs, &refs).await;
    let ids: BTreeSet<String> = held.iter().flatten().cloned().collect();
    assert_eq!(ids.len(), 3, "{held:?}");
    for (node, out) in nodes.iter().zip(&outs) {
        if out.status.success() {
            let r = json(out);
            assert_eq!(node.env()["NODE_ID"], r["node_id"].as_str().unwrap());
            let mac = r["mac"].as_str().unwrap();
            assert!(
                node.inst.interfaces().iter().any(|(_, m)| m == mac),
                "{} lacks the interface {mac}",
                node.inst.id
            );
        }
    }
}

/// The ENI of the pair being claimed is taken by another instance between
/// the describe and the attach: the volume is released and the next pair
/// is taken whole.
#[tokio::test]
async fn a_lost_eni_race_releases_the_volume_and_moves_on() {
    let f = Fixture::new();
    let pairs = [f.pair("0", AZ).await, f.pair("1", AZ).await];
    let thief = f.node(AZ);
    let node = f.node(AZ);
    f.rig.faults(json!([{
        "match": "AttachNetworkInterface", "times": 1,
        "fault": "steal", "instance_id": thief.inst.id,
    }]));
    let out = node.run(&[]);
    assert!(out.status.success(), "{}", describe(&out));
    let r = json(&out);
    let lost = r["lost_races"][0].as_str().unwrap().to_string();
    assert_ne!(r["node_id"].as_str().unwrap(), lost);
    assert_eq!(r["released"].as_array().unwrap().len(), 1, "{r}");
    let lost_pair = pairs.iter().find(|p| p.node_id == lost).unwrap();
    assert_eq!(r["released"][0]["resource"], lost_pair.volume_id.as_str());
    let held = f.held_by(&pairs, &node.inst).await;
    assert_eq!(
        held,
        vec![(r["node_id"].as_str().unwrap().to_string(), true, true)]
    );
    assert_eq!(f.volume_holder(&lost_pair.volume_id).await, None);
    assert_eq!(
        f.eni_holder(&lost_pair.eni_id).await,
        Some(thief.inst.id.clone())
    );
}

/// The volume of the pair being claimed is taken first: VolumeInUse moves
/// on to the next pair, with nothing to release.
#[tokio::test]
async fn a_lost_volume_race_moves_on() {
    let f = Fixture::new();
    let pairs = [f.pair("0", AZ).await, f.pair("1", AZ).await];
    let thief = f.node(AZ);
    let node = f.node(AZ);
    f.rig.faults(json!([{
        "match": "AttachVolume", "times": 1,
        "fault": "steal", "instance_id": thief.inst.id,
    }]));
    let out = node.run(&[]);
    assert!(out.status.success(), "{}", describe(&out));
    let r = json(&out);
    assert_eq!(r["lost_races"].as_array().unwrap().len(), 1, "{r}");
    assert!(r["released"].as_array().unwrap().is_empty(), "{r}");
    let held = f.held_by(&pairs, &node.inst).await;
    assert_eq!(held.len(), 1);
    assert!(held[0].1 && held[0].2);
}

/// Killed before or after each AWS call of a first attach, then run again:
/// the instance ends with one whole pair, never half of one, and no pair
/// is split.
#[tokio::test]
async fn killed_at_every_call_then_rerun_ends_whole() {
    let f = Fixture::new();
    let pairs = [f.pair("0", AZ).await, f.pair("1", AZ).await];

    // How many calls a clean first attach makes.
    let probe = f.node(AZ);
    f.rig.calls(true);
    let out = probe.run(&[]);
    assert!(out.status.success(), "{}", describe(&out));
    let (calls, _) = f.rig.calls(true);
    assert_eq!(mutations(&calls).len(), 2, "{calls:?}");
    f.free(&pairs, &probe.inst).await;

    for k in 0..calls.len() {
        for fault in ["kill_before", "kill_after"] {
            let node = f.node(AZ);
            let args = node.args(&[]);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let child = node.tool.spawn_stopped(&refs);
            f.rig.faults(json!([{
                "skip": k, "times": 1, "fault": fault, "pid": child.id(),
            }]));
            resume(&child);
            let out = child.wait_with_output().unwrap();
            f.rig.faults(json!([]));
            assert!(
                !out.status.success(),
                "{fault} at call {k} did not kill it: {}",
                describe(&out)
            );
            let out = node.run(&[]);
            assert!(
                out.status.success(),
                "rerun after {fault} at call {k}: {}",
                describe(&out)
            );
            let held = assert_whole(&f, &pairs, &[&node]).await;
            assert!(held[0].is_some(), "{fault} at {k}: nothing held");
            f.free(&pairs, &node.inst).await;
        }
    }
}
