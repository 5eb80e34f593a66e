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
