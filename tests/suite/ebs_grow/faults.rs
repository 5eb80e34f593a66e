use super::{small_config, Fixture, GIB, MIB};
use rig::tool::{describe, json, resume};
use serde_json::json;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn grown_fixture() -> Fixture {
    let f = Fixture::new(json!({}), small_config(json!({})));
    f.ok(&["init"]);
    f.fill("a", 600 * MIB);
    f.rig.calls(true);
    f
}

/// The invariant after any interrupted growth and one clean rerun: exactly
/// one new volume, attached here, deleted with the instance, in the
/// filesystem; nothing leaked.
async fn assert_grown_once(f: &Fixture, context: &str) {
    let ours = f.ours().await;
    assert_eq!(ours.len(), 2, "{context}: {} ebs-grow volumes", ours.len());
    for v in &ours {
        let att = v.attachments();
        assert_eq!(
            att.len(),
            1,
            "{context}: {:?} not attached (leaked)",
            v.volume_id()
        );
        assert_eq!(att[0].instance_id(), Some(f.inst.id.as_str()), "{context}");
        assert_eq!(
            f.delete_on_termination(v.volume_id().unwrap()).await,
            Some(true),
            "{context}: {:?}",
            v.volume_id()
        );
    }
    assert_eq!(f.btrfs_devices(), 2, "{context}: not in the filesystem");
}

/// Kill the tool at every AWS call of a growth — before the call reaches
/// EC2 and after EC2 acted but before the answer — then run it again:
/// always exactly one new volume, in the filesystem, no leak.
#[tokio::test]
async fn killed_at_every_aws_call_then_rerun() {
    let clean = grown_fixture();
    let report = clean.ok(&["check"]);
    assert_eq!(report["action"], "added");
    let (calls, _) = clean.rig.calls(true);
    assert!(calls.len() >= 5, "{calls:?}");
    drop(clean);

    for n in 1..=calls.len() {
        for mode in ["kill_before", "kill_after"] {
            let context = format!("{mode} call {n} ({})", calls[n - 1]);
            let f = grown_fixture();
            let child = f.tool.spawn_stopped(&["check", "--output", "json"]);
            f.rig
                .faults(json!([{ "skip": n - 1, "times": 1, "fault": mode, "pid": child.id() }]));
            resume(&child);
            let out = child.wait_with_output().unwrap();
            assert_eq!(
                out.status.code(),
                None,
                "{context}: the tool was not killed: {}",
                describe(&out)
            );
            f.rig.faults(json!([]));
            let rerun = f.run(&["check", "--output", "json"]);
            assert!(
                rerun.status.success(),
                "{context}: rerun failed: {}",
                describe(&rerun)
            );
            assert_grown_once(&f, &context).await;
            // And the run after that is idle again.
            let again = json(&f.run(&["check", "--used-percent", "95", "--output", "json"]));
            assert_eq!(again["action"], "none", "{context}: {again}");
        }
    }
}

/// Throttling and 500s on every kind of call of a growth are survived.
#[tokio::test]
async fn throttled_growth_succeeds() {
    let f = grown_fixture();
    f.rig.faults(json!([
        {"match": "DescribeVolumes", "times": 2, "fault": "throttle"},
        {"match": "CreateVolume", "times": 1, "fault": "throttle"},
        {"match": "AttachVolume", "times": 1, "fault": "error500"},
        {"match": "ModifyInstanceAttribute", "times": 1, "fault": "throttle"},
    ]));
    let report = f.ok(&["check"]);
    assert_eq!(report["action"], "added", "{report}");
    let (_, fired) = f.rig.calls(true);
    assert_eq!(fired, 5);
    assert_grown_once(&f, "throttled").await;
}

/// AEA's users' first complaint: a writer filling the disk at a steady rate
/// never gets ENOSPC while the checks (every second, as a fast timer would)
/// keep growing it, until the configured limit.
#[tokio::test]
async fn continuous_writer_never_sees_enospc() {
    let f = Fixture::new(
        json!({}),
        small_config(json!({"max_volumes": 4, "interval_seconds": 1, "growth_seconds": 5})),
    );
    f.ok(&["init"]);
    let target: u64 = 2 * GIB + GIB / 2; // of about 4 GiB the limit allows
    let written = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let written = written.clone();
        let done = done.clone();
        let path = f.mp.join("stream");
        std::thread::spawn(move || -> Result<(), String> {
            let mut file = std::fs::File::create(&path).map_err(|e| e.to_string())?;
            let chunk = vec![0x5au8; 8 << 20];
            // 8 MiB every 200 ms: 40 MiB/s at most. Paced per chunk, never
            // catching up after a stall, so the rate stays steady.
            let period = Duration::from_millis(200);
            while written.load(Ordering::Relaxed) < target {
                let began = Instant::now();
                file.write_all(&chunk)
                    .and_then(|()| file.sync_data())
                    .map_err(|e| {
                        format!(
                            "write failed after {} bytes: {e}",
                            written.load(Ordering::Relaxed)
                        )
                    })?;
                written.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                if let Some(rest) = period.checked_sub(began.elapsed()) {
                    std::thread::sleep(rest);
                }
            }
            done.store(true, Ordering::Relaxed);
            Ok(())
        })
    };
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut growths = 0;
    while !done.load(Ordering::Relaxed) && !writer.is_finished() {
        assert!(
            Instant::now() < deadline,
            "the writer did not finish in time"
        );
        let out = f.run(&["check", "--output", "json"]);
        if out.status.code() == Some(6) {
            // The configured limit: no more growth, and that is all.
            assert_eq!(
                f.ours().await.len(),
                4,
                "exit 6 below the limit: {}",
                describe(&out)
            );
        } else {
            assert!(out.status.success(), "check failed: {}", describe(&out));
            if json(&out)["action"] != "none" {
                growths += 1;
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let result = writer.join().unwrap();
    assert!(
        result.is_ok(),
        "the writer hit {:?} after {growths} growths",
        result
    );
    assert!(growths >= 2, "only {growths} growths for {target} bytes");
    assert!(f.ours().await.len() <= 4);
}
