//! Issue 22: the leader's snapshots in S3 (moto's, through the rig's
//! proxy), taken from a real etcd 3.4 cluster.

use super::Fixture;
use rig::tool::{describe, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::process::Output;

const BUCKET: &str = "etcd-backups";

async fn make_bucket(f: &Fixture) {
    f.rig
        .s3()
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
}

fn snapshot(f: &Fixture, n: usize, extra: &[&str]) -> Output {
    let mut args = vec!["--snapshot-bucket", BUCKET];
    args.extend_from_slice(extra);
    f.run(n, "snapshot", &args)
}

/// The keys under the cluster's prefix, sorted.
async fn keys(f: &Fixture) -> Vec<String> {
    let out = f
        .rig
        .s3()
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix("etcd-snapshots/snap/")
        .send()
        .await
        .unwrap();
    let mut k: Vec<String> = out
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect();
    k.sort();
    k
}

/// 10 000 keys of 1 KiB, in transactions of 100 puts.
async fn fill(f: &Fixture) {
    let mut c = f.client(0).await;
    let value = "v".repeat(1024);
    for batch in 0..100 {
        let ops: Vec<etcd_client::TxnOp> = (0..100)
            .map(|i| etcd_client::TxnOp::put(format!("key/{batch:03}/{i:03}"), value.clone(), None))
            .collect();
        c.txn(etcd_client::Txn::new().and_then(ops)).await.unwrap();
    }
}

/// Three members, 10 000 keys: run on every member at once, exactly one
/// (the leader) uploads one object, in parts, and only it asks S3; the
/// object's SHA-256 matches its bytes, its revision is the store's, and
/// etcdctl reads it as a snapshot holding every key. Again with no write:
/// nothing uploaded. With --retain 2, two more changes keep the newest two
/// and leave an object of another name alone. A bucket that does not
/// exist is an error naming it, never "no snapshot".
#[tokio::test]
async fn the_leader_uploads_a_snapshot_per_change_and_keeps_retain() {
    let mut f = Fixture::new("snap", 3);
    f.bootstrap(3).await;
    fill(&f).await;
    make_bucket(&f).await;
    let revision = f
        .client(0)
        .await
        .status()
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();

    f.rig.calls(true);
    let outs: Vec<serde_json::Value> = std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = (0..3)
            .map(|n| {
                s.spawn(move || {
                    let out = snapshot(f, n, &["--part-size-mib", "5"]);
                    assert!(out.status.success(), "node {n}: {}", describe(&out));
                    json(&out)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let uploaded: Vec<&serde_json::Value> =
        outs.iter().filter(|r| r["result"] == "uploaded").collect();
    assert_eq!(uploaded.len(), 1, "{outs:?}");
    let up = uploaded[0];
    assert_eq!(
        outs.iter().filter(|r| r["result"] == "not-leader").count(),
        2,
        "{outs:?}"
    );
    let s3_callers = f.rig.calls_by_instance("s3");
    assert_eq!(
        s3_callers.keys().collect::<Vec<_>>(),
        vec![up["name"].as_str().unwrap()],
        "S3 calls by instance"
    );
    let (calls, _) = f.rig.calls(true);
    assert!(
        calls.iter().filter(|c| *c == "UploadPart").count() >= 2,
        "a multipart upload: {calls:?}"
    );
    assert_eq!(up["revision"], revision);
    let key = up["key"].as_str().unwrap().to_string();
    assert_eq!(
        key,
        format!(
            "etcd-snapshots/snap/{revision:020}-{}.db",
            &key[key.len() - 19..key.len() - 3]
        )
    );
    assert_eq!(keys(&f).await, vec![key.clone()]);

    let object = f
        .rig
        .s3()
        .get_object()
        .bucket(BUCKET)
        .key(&key)
        .send()
        .await
        .unwrap();
    let meta = object.metadata().cloned().unwrap_or_default();
    let bytes = object.body.collect().await.unwrap().into_bytes();
    let sha = hex::encode(Sha256::digest(&bytes));
    assert_eq!(meta.get("mooring-sha256"), Some(&sha));
    assert_eq!(up["sha256"], sha.as_str());
    assert_eq!(meta.get("mooring-revision"), Some(&revision.to_string()));
    let names: BTreeSet<String> = meta["mooring-members"]
        .split(',')
        .map(|m| m.split('=').next().unwrap().to_string())
        .collect();
    let expected: BTreeSet<String> = f.nodes.iter().map(|n| n.inst.id.clone()).collect();
    assert_eq!(names, expected);
    let file = f.dir.path().join("downloaded.db");
    std::fs::write(&file, &bytes).unwrap();
    let status = std::process::Command::new("etcdctl")
        .args(["snapshot", "status", file.to_str().unwrap(), "-w", "json"])
        .env("ETCDCTL_API", "3")
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["revision"], revision, "{status}");
    assert!(status["totalKey"].as_u64().unwrap() >= 10_000, "{status}");

    // No write since: nothing uploaded, one listing.
    for n in 0..3 {
        let out = snapshot(&f, n, &[]);
        assert!(out.status.success(), "{}", describe(&out));
        let r = json(&out);
        assert!(
            r["result"] == "unchanged" || r["result"] == "not-leader",
            "{r}"
        );
    }
    let (calls, _) = f.rig.calls(true);
    assert_eq!(calls, vec!["ListObjectsV2"], "with nothing new");

    // Retention: someone else's object under the prefix stays.
    f.rig
        .s3()
        .put_object()
        .bucket(BUCKET)
        .key("etcd-snapshots/snap/notes.txt")
        .body(b"not a snapshot".to_vec().into())
        .send()
        .await
        .unwrap();
    let leader = f
        .nodes
        .iter()
        .position(|n| n.inst.id == up["name"].as_str().unwrap())
        .unwrap();
    let mut made = vec![key];
    for round in 0..2 {
        f.put(0, "round", &round.to_string()).await;
        let out = snapshot(&f, leader, &["--retain", "2"]);
        assert!(out.status.success(), "{}", describe(&out));
        let r = json(&out);
        assert_eq!(r["result"], "uploaded", "{r}");
        made.push(r["key"].as_str().unwrap().to_string());
    }
    let mut expected = vec![made[1].clone(), made[2].clone()];
    expected.push("etcd-snapshots/snap/notes.txt".into());
    expected.sort();
    assert_eq!(keys(&f).await, expected);

    // A bucket that does not exist: could not ask, a clear error.
    f.put(0, "round", "3").await;
    let out = f.run(leader, "snapshot", &["--snapshot-bucket", "no-such-bucket"]);
    assert!(!out.status.success(), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-bucket"), "{err}");
    assert!(err.contains("NoSuchBucket"), "{err}");
}

/// `snapshot` SIGKILLed before and after each of its S3 calls (a list, an
/// upload, a deletion beyond --retain 1) and run again: the bucket ends
/// with exactly the newest snapshot, and after every kill it still holds
/// the newest one it held before (never deleted ahead of an upload).
#[tokio::test]
async fn a_snapshot_killed_at_every_s3_call_and_rerun_keeps_the_newest() {
    let mut f = Fixture::new("snap", 1);
    f.bootstrap(1).await;
    make_bucket(&f).await;
    let args: Vec<String> = f
        .args(0, "snapshot")
        .into_iter()
        .chain(["--snapshot-bucket", BUCKET, "--retain", "1"].map(String::from))
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = || {
        let out = f.nodes[0].tool.run(&args);
        assert!(out.status.success(), "{}", describe(&out));
        json(&out)
    };
    f.put(0, "k", "0").await;
    assert_eq!(run()["result"], "uploaded");
    f.put(0, "k", "1").await;
    f.rig.calls(true);
    assert_eq!(run()["result"], "uploaded");
    let (calls, _) = f.rig.calls(true);
    assert_eq!(calls, vec!["ListObjectsV2", "PutObject", "DeleteObject"]);
    for k in 0..calls.len() {
        for fault in ["kill_before", "kill_after"] {
            let before = keys(&f).await;
            assert_eq!(before.len(), 1, "{before:?}");
            f.put(0, "k", &format!("{k}-{fault}")).await;
            let child = f.nodes[0].tool.spawn_stopped(&args);
            f.rig.faults(
                serde_json::json!([{ "skip": k, "times": 1, "fault": fault, "pid": child.id() }]),
            );
            rig::tool::resume(&child);
            let out = child.wait_with_output().unwrap();
            f.rig.faults(serde_json::json!([]));
            assert!(!out.status.success(), "{fault} at {k}: {}", describe(&out));
            let after = keys(&f).await;
            assert!(
                after.contains(&before[0]) || (after.len() == 1 && after[0] > before[0]),
                "{fault} at {k}: the newest went: {before:?} -> {after:?}"
            );
            let r = run();
            assert!(
                r["result"] == "uploaded" || r["result"] == "unchanged",
                "{fault} at {k}: {r}"
            );
            let end = keys(&f).await;
            assert_eq!(end.len(), 1, "{fault} at {k}: {end:?}");
            assert_eq!(end[0], r["key"].as_str().unwrap(), "{fault} at {k}");
            assert!(end[0] > before[0], "{fault} at {k}: not newer");
        }
    }
}

/// Terminate nodes `range` of `f` (their etcd stopped first).
async fn terminate(f: &mut Fixture, range: std::ops::Range<usize>) {
    let ec2 = f.rig.ec2().await;
    for n in range {
        f.stop(n);
        ec2.terminate_instances()
            .instance_ids(&f.nodes[n].inst.id)
            .send()
            .await
            .unwrap();
    }
}

/// Launch `count` instances into the cluster and run their prepares at
/// once with the bucket set; (first index, reports).
fn boot_with_bucket(f: &mut Fixture, count: usize) -> (usize, Vec<std::process::Output>) {
    let first = f.nodes.len();
    for _ in 0..count {
        f.launch();
    }
    let outs = std::thread::scope(|s| {
        let f = &*f;
        let handles: Vec<_> = (first..first + count)
            .map(|i| s.spawn(move || f.run(i, "prepare", &["--snapshot-bucket", BUCKET])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    (first, outs)
}

async fn cluster_id(f: &Fixture, n: usize) -> u64 {
    f.client(n)
        .await
        .status()
        .await
        .unwrap()
        .header()
        .unwrap()
        .cluster_id()
}

/// Total loss: the three instances terminated, a new group of three boots
/// together with the bucket set. Each restores the same (newest)
/// snapshot: one cluster — one cluster ID among the three, not the old
/// one — whose members are the three new instances, holding every key of
/// the snapshot (a write after it is lost: the recovery point).
#[tokio::test]
async fn a_cluster_lost_whole_comes_back_from_its_newest_snapshot() {
    let mut f = Fixture::new("snap", 3);
    f.bootstrap(3).await;
    make_bucket(&f).await;
    let mut c = f.client(0).await;
    for i in 0..500 {
        c.put(format!("key/{i:04}"), "kept", None).await.unwrap();
    }
    // An older snapshot, then the newest.
    let leader_snapshot = |f: &Fixture| {
        let outs: Vec<serde_json::Value> = (0..3).map(|n| json(&snapshot(f, n, &[]))).collect();
        assert_eq!(
            outs.iter().filter(|r| r["result"] == "uploaded").count(),
            1,
            "{outs:?}"
        );
    };
    leader_snapshot(&f);
    c.put("key/0500", "kept", None).await.unwrap();
    leader_snapshot(&f);
    c.put("late", "after the last snapshot", None)
        .await
        .unwrap();
    let old_id = cluster_id(&f, 0).await;
    terminate(&mut f, 0..3).await;

    let (first, outs) = boot_with_bucket(&mut f, 3);
    let reports: Vec<serde_json::Value> = outs
        .iter()
        .map(|o| {
            assert!(o.status.success(), "{}", describe(o));
            json(o)
        })
        .collect();
    for r in &reports {
        assert_eq!(r["decision"], "restore", "{r}");
        assert_eq!(r["restored"]["from"], reports[0]["restored"]["from"], "{r}");
    }
    assert_eq!(
        reports[0]["restored"]["from"].as_str().unwrap(),
        format!("s3://{BUCKET}/{}", keys(&f).await.last().unwrap())
    );
    for n in first..first + 3 {
        f.start(n);
    }
    let ids: BTreeSet<u64> = {
        let mut ids = BTreeSet::new();
        for n in first..first + 3 {
            ids.insert(cluster_id(&f, n).await);
        }
        ids
    };
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert!(!ids.contains(&old_id), "the old cluster's ID");
    let members: BTreeSet<String> = f.members(first).await.into_iter().map(|m| m.0).collect();
    let new: BTreeSet<String> = f.nodes[first..].iter().map(|n| n.inst.id.clone()).collect();
    assert_eq!(members, new);
    let mut c = f.client(first + 1).await;
    let got = c
        .get(
            "key/",
            Some(
                etcd_client::GetOptions::new()
                    .with_prefix()
                    .with_count_only(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(got.count(), 501);
    let late = c.get("late", None).await.unwrap();
    assert!(
        late.kvs().is_empty(),
        "a write after the snapshot came back"
    );
}

/// A partition, not a loss: the old members' etcd stopped but their
/// instances still running, and new instances boot. While the old
/// instances are visible peers, the new ones wait to join (exit 4); once
/// they are not (their cluster tag gone: instances outside the cluster
/// that still run), the new ones would bootstrap, and the restore refuses
/// at the deadline (exit 5) naming the instances that block it. Either
/// way no second cluster: the old members, started again, are the
/// original cluster with its data.
#[tokio::test]
async fn a_partition_blocks_the_restore_and_the_old_cluster_returns() {
    let mut f = Fixture::new("snap", 3);
    f.bootstrap(3).await;
    make_bucket(&f).await;
    f.put(0, "original", "yes").await;
    let outs: Vec<serde_json::Value> = (0..3).map(|n| json(&snapshot(&f, n, &[]))).collect();
    assert!(outs.iter().any(|r| r["result"] == "uploaded"), "{outs:?}");
    let old_id = cluster_id(&f, 0).await;
    for n in 0..3 {
        f.stop(n);
    }
    let first = f.nodes.len();
    for _ in 0..3 {
        f.launch();
    }
    let prepares = |f: &Fixture, timeout: &str| -> Vec<std::process::Output> {
        std::thread::scope(|s| {
            let handles: Vec<_> = (first..first + 3)
                .map(|i| {
                    s.spawn(move || {
                        f.run(
                            i,
                            "prepare",
                            &["--snapshot-bucket", BUCKET, "--timeout", timeout],
                        )
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    };
    for o in prepares(&f, "10") {
        assert_eq!(o.status.code(), Some(4), "{}", describe(&o));
    }
    let ec2 = f.rig.ec2().await;
    for n in 0..3 {
        ec2.delete_tags()
            .resources(&f.nodes[n].inst.id)
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("etcd-cluster")
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    for o in prepares(&f, "20") {
        assert_eq!(o.status.code(), Some(5), "{}", describe(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        for n in 0..3 {
            assert!(err.contains(&f.nodes[n].inst.id), "not named: {err}");
        }
    }
    for n in first..first + 3 {
        assert!(!f.nodes[n].data_dir().exists(), "a data dir on node {n}");
    }
    for n in 0..3 {
        f.start(n);
    }
    assert_eq!(cluster_id(&f, 0).await, old_id);
    let mut c = f.client(1).await;
    let got = c.get("original", None).await.unwrap();
    assert_eq!(got.kvs()[0].value_str().unwrap(), "yes");
    assert_eq!(f.members(0).await.len(), 3);
}

/// A damaged snapshot (its bytes no longer match its SHA-256): the
/// restore refuses it (exit 5) saying so, and does not take the older,
/// valid one in its place; no data directory is made.
#[tokio::test]
async fn a_damaged_snapshot_is_refused_and_no_older_one_is_taken() {
    let mut f = Fixture::new("snap", 1);
    f.bootstrap(1).await;
    make_bucket(&f).await;
    f.put(0, "a", "1").await;
    assert_eq!(json(&snapshot(&f, 0, &[]))["result"], "uploaded");
    f.put(0, "a", "2").await;
    assert_eq!(json(&snapshot(&f, 0, &[]))["result"], "uploaded");
    let newest = keys(&f).await.last().unwrap().clone();
    let s3 = f.rig.s3();
    let object = s3
        .get_object()
        .bucket(BUCKET)
        .key(&newest)
        .send()
        .await
        .unwrap();
    let meta = object.metadata().cloned();
    let mut bytes = object.body.collect().await.unwrap().into_bytes().to_vec();
    bytes[4096] ^= 0xff;
    s3.put_object()
        .bucket(BUCKET)
        .key(&newest)
        .set_metadata(meta)
        .body(bytes.into())
        .send()
        .await
        .unwrap();
    terminate(&mut f, 0..1).await;

    let (first, outs) = boot_with_bucket(&mut f, 1);
    let out = &outs[0];
    assert_eq!(out.status.code(), Some(5), "{}", describe(out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&newest) && err.contains("damaged"), "{err}");
    assert!(!f.nodes[first].data_dir().exists());
    assert!(!f.nodes[first].env_file().exists());
}

/// A restoring prepare SIGKILLed before and after each of its AWS calls
/// (EC2's and S3's) and run again: the rerun restores (or, killed after
/// the data directory was in place, restarts it), etcd starts with the
/// snapshot's data, and no half-restored directory is left.
#[tokio::test]
async fn a_restore_killed_at_every_call_and_rerun_ends_restored() {
    let mut f = Fixture::new("snap", 1);
    f.bootstrap(1).await;
    make_bucket(&f).await;
    f.put(0, "kept", "yes").await;
    assert_eq!(json(&snapshot(&f, 0, &[]))["result"], "uploaded");
    terminate(&mut f, 0..1).await;
    let prepare_args = |f: &Fixture, n: usize| -> Vec<String> {
        f.args(n, "prepare")
            .into_iter()
            .chain(["--snapshot-bucket", BUCKET].map(String::from))
            .collect()
    };

    // A probe: the calls of one clean restore.
    let n = f.launch();
    f.rig.calls(true);
    let args = prepare_args(&f, n);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = f.nodes[n].tool.run(&args);
    assert!(out.status.success(), "{}", describe(&out));
    let (calls, _) = f.rig.calls(true);
    assert!(calls.contains(&"GetObject".to_string()), "{calls:?}");
    terminate(&mut f, n..n + 1).await;

    for k in 0..calls.len() {
        for fault in ["kill_before", "kill_after"] {
            let n = f.launch();
            let args = prepare_args(&f, n);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let child = f.nodes[n].tool.spawn_stopped(&args);
            f.rig.faults(
                serde_json::json!([{ "skip": k, "times": 1, "fault": fault, "pid": child.id() }]),
            );
            rig::tool::resume(&child);
            let out = child.wait_with_output().unwrap();
            f.rig.faults(serde_json::json!([]));
            assert!(!out.status.success(), "{fault} at {k}: {}", describe(&out));
            let out = f.nodes[n].tool.run(&args);
            assert!(out.status.success(), "{fault} at {k}: {}", describe(&out));
            let r = json(&out);
            assert!(
                r["decision"] == "restore" || r["decision"] == "restart",
                "{fault} at {k}: {r}"
            );
            let staging = f.nodes[n].dir.join("data.restoring");
            assert!(!staging.exists(), "{fault} at {k}: staging left");
            f.start(n);
            let mut c = f.client(n).await;
            let got = c.get("kept", None).await.unwrap();
            assert_eq!(got.kvs().len(), 1, "{fault} at {k}: the snapshot's key");
            terminate(&mut f, n..n + 1).await;
        }
    }
}

/// By hand: `snapshots` lists the cluster's snapshots newest first;
/// `restore --from` an older one (a person's choice) restores that one;
/// a file records no members, so it needs --yes; and while a cluster
/// answers, `restore` refuses (exit 5) rather than make a second one.
#[tokio::test]
async fn a_person_lists_snapshots_and_restores_a_chosen_one() {
    let mut f = Fixture::new("snap", 1);
    f.bootstrap(1).await;
    make_bucket(&f).await;
    f.put(0, "v", "old").await;
    assert_eq!(json(&snapshot(&f, 0, &[]))["result"], "uploaded");
    f.put(0, "v", "new").await;
    assert_eq!(json(&snapshot(&f, 0, &[]))["result"], "uploaded");
    let out = f.run(0, "snapshots", &["--snapshot-bucket", BUCKET]);
    assert!(out.status.success(), "{}", describe(&out));
    let listed: Vec<String> = json(&out)["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap().to_string())
        .collect();
    let mut expected = keys(&f).await;
    expected.reverse();
    assert_eq!(listed, expected);
    let older = format!("s3://{BUCKET}/{}", listed[1]);

    // A cluster answers (this member): no restore.
    let n = f.launch();
    let out = f.run(n, "restore", &["--from", &older]);
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    assert!(!f.nodes[n].data_dir().exists());
    terminate(&mut f, 0..1).await;

    let out = f.run(n, "restore", &["--from", &older]);
    assert!(out.status.success(), "{}", describe(&out));
    let r = json(&out);
    assert_eq!(r["decision"], "restore", "{r}");
    assert_eq!(r["restored"]["from"], older.as_str());
    f.start(n);
    let mut c = f.client(n).await;
    let got = c.get("v", None).await.unwrap();
    assert_eq!(got.kvs()[0].value_str().unwrap(), "old");

    // From a file: etcdctl's own save of this cluster.
    let file = f.dir.path().join("saved.db");
    let status = std::process::Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["--endpoints", &f.nodes[n].client_url(f.client_port)])
        .args(["snapshot", "save", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    terminate(&mut f, n..n + 1).await;
    let m = f.launch();
    let out = f.run(m, "restore", &["--from", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    let out = f.run(m, "restore", &["--from", file.to_str().unwrap(), "--yes"]);
    assert!(out.status.success(), "{}", describe(&out));
    f.start(m);
    let mut c = f.client(m).await;
    assert_eq!(
        c.get("v", None).await.unwrap().kvs()[0]
            .value_str()
            .unwrap(),
        "old"
    );
}

/// Quorum loss: 2 of 3 instances terminated while a client writes; the
/// survivor's etcd stays up, leaderless. Its tidy waits out the grace,
/// proves the two gone, saves a last snapshot, records that it stepped
/// down, stops etcd (`MOORING_SYSTEMCTL`: a stand-in that ends this
/// node's etcd by its PID) and sets its data aside. The group's two
/// replacements and the survivor's own prepare then restore that
/// snapshot: a 3-member cluster holding every acknowledged write.
#[tokio::test]
async fn a_survivor_of_a_quorum_loss_steps_down_and_the_group_restores() {
    let mut f = Fixture::new("snap", 3);
    f.bootstrap(3).await;
    make_bucket(&f).await;
    // Writes through the survivor, every 20 ms, until the quorum is gone.
    let mut c = f.client(0).await;
    let mut acked = Vec::new();
    for i in 0..50 {
        c.put(format!("w/{i:05}"), "acked", None).await.unwrap();
        acked.push(i);
    }
    let writer = {
        let mut c = f.client(0).await;
        tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut failing_since = None;
            for i in 50.. {
                match tokio::time::timeout(
                    std::time::Duration::from_secs(2),
                    c.put(format!("w/{i:05}"), "acked", None),
                )
                .await
                {
                    Ok(Ok(_)) => {
                        acked.push(i);
                        failing_since = None;
                    }
                    _ => {
                        let since = *failing_since.get_or_insert_with(std::time::Instant::now);
                        if since.elapsed() > std::time::Duration::from_secs(3) {
                            return acked;
                        }
                    }
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            acked
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    terminate(&mut f, 1..3).await;
    acked.extend(writer.await.unwrap());

    // The survivor's systemctl: `stop` ends its etcd.
    let pid = f.nodes[0].etcd.as_ref().unwrap().0.id();
    let script = f.dir.path().join("systemctl");
    std::fs::write(
        &script,
        format!("#!/bin/sh\ncase \"$1\" in stop) kill {pid};; esac\nexit 0\n"),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (inst, dir) = (f.nodes[0].inst.clone(), f.nodes[0].dir.clone());
    f.nodes[0].tool = rig::tool::Tool::new(super::BIN, &f.rig, &inst, &dir)
        .with_env("MOORING_SYSTEMCTL", script.to_str().unwrap());
    let tidy = ["--snapshot-bucket", BUCKET, "--quorum-loss-grace", "2"];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let out = f.run(0, "tidy", &tidy);
        assert!(out.status.success(), "{}", describe(&out));
        let r = json(&out);
        if r["result"] == "stepped-down" {
            break;
        }
        assert_eq!(r["result"], "leaderless", "{r}");
        assert!(std::time::Instant::now() < deadline, "never stepped down");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(!f.nodes[0].data_dir().exists(), "the data is not aside");
    f.stop(0);
    let stored = keys(&f).await;
    let snapshots: Vec<&String> = stored.iter().filter(|k| k.ends_with(".db")).collect();
    assert_eq!(snapshots.len(), 1, "{stored:?}");
    assert!(
        stored
            .iter()
            .any(|k| k.contains("/stepped-down/") && k.ends_with(&f.nodes[0].inst.id)),
        "{stored:?}"
    );

    // The replacements boot; the survivor's etcd.service starts again.
    let first = f.nodes.len();
    for _ in 0..2 {
        f.launch();
    }
    let nodes: Vec<usize> = std::iter::once(0).chain(first..first + 2).collect();
    let outs: Vec<std::process::Output> = std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = nodes
            .iter()
            .map(|&i| s.spawn(move || f.run(i, "prepare", &["--snapshot-bucket", BUCKET])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for o in &outs {
        assert!(o.status.success(), "{}", describe(o));
        assert_eq!(json(o)["decision"], "restore", "{}", describe(o));
    }
    for &n in &nodes {
        f.start(n);
    }
    let members: BTreeSet<String> = f.members(0).await.into_iter().map(|m| m.0).collect();
    let expected: BTreeSet<String> = nodes.iter().map(|&n| f.nodes[n].inst.id.clone()).collect();
    assert_eq!(members, expected);
    let mut c = f.client(first).await;
    let got = c
        .get(
            "w/",
            Some(
                etcd_client::GetOptions::new()
                    .with_prefix()
                    .with_keys_only(),
            ),
        )
        .await
        .unwrap();
    let present: BTreeSet<String> = got
        .kvs()
        .iter()
        .map(|kv| kv.key_str().unwrap().to_string())
        .collect();
    for i in &acked {
        assert!(
            present.contains(&format!("w/{i:05}")),
            "acknowledged write {i} lost"
        );
    }
}
