use super::{flags, strs, Fixture, AZ, CLUSTER};
use rig::tool::{describe, json, resume, run_all};
use serde_json::json;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};

/// Twenty instances of one Auto Scaling group at the same time, max-count
/// 5: exactly five volumes exist, each attached to exactly one instance,
/// fifteen instances storage-less. They take turns (see mooring::turn):
/// the first five ranks each make and attach their own slot's volume, the
/// other fifteen decide with their one look — no lost race, no call beyond
/// what the job needs.
#[tokio::test]
async fn twenty_instances_max_five() {
    let f = Fixture::new();
    let template = f.template().await;
    let insts = f.rig.asg(json!({ "name": "px-asg", "size": 20, "az": AZ }));
    let nodes: Vec<_> = insts.into_iter().map(|i| f.node_for(i)).collect();
    let args = flags(&[(&template, 5)]);
    f.rig.calls(true);
    let runs: Vec<_> = nodes
        .iter()
        .map(|n| (&n.tool, n.args(&strs(&args))))
        .collect();
    let outs = run_all(&runs);
    for o in &outs {
        assert!(o.status.success(), "{}", describe(o));
    }
    // Every call is told by the instance that made it.
    let by_instance = f.rig.calls_by_instance("ec2");
    let ids: BTreeSet<String> = nodes.iter().map(|n| n.inst.id.clone()).collect();
    assert_eq!(
        by_instance.keys().cloned().collect::<BTreeSet<_>>(),
        ids,
        "{by_instance:?}"
    );
    let group_reads = f.rig.calls_by_instance("autoscaling");
    assert!(group_reads.values().all(|n| *n == 1), "{group_reads:?}");
    let (calls, _) = f.rig.calls(true);
    assert_eq!(
        by_instance.values().sum::<usize>() + group_reads.values().sum::<usize>(),
        calls.len()
    );
    let reports: Vec<_> = outs.iter().map(json).collect();
    let storageless: Vec<_> = reports
        .iter()
        .filter(|r| r["storageless"] == true)
        .collect();
    assert_eq!(storageless.len(), 15, "{reports:?}");
    // The last fifteen ranks, each with one look.
    for r in &storageless {
        assert!(r["turn"]["rank"].as_u64().unwrap() >= 5, "{r}");
        assert_eq!(by_instance[r["instance_id"].as_str().unwrap()], 1, "{r}");
    }
    let vols = f.volumes(&template).await;
    assert_eq!(vols.len(), 5, "{vols:?}");
    let holders: BTreeSet<_> = vols.iter().filter_map(|v| v.2.clone()).collect();
    assert_eq!(holders.len(), 5, "{vols:?}");
    for r in reports.iter().filter(|r| r["storageless"] == false) {
        let t = &r["templates"][0];
        assert_eq!(t["new"], true, "{r}");
        assert_eq!(t["outcome"], "created", "{r}");
        let id = t["volume_id"].as_str().unwrap();
        let holder = vols.iter().find(|v| v.0 == id).unwrap().2.clone();
        assert_eq!(holder.as_deref(), r["instance_id"].as_str());
    }
    let ec2_calls: usize = by_instance.values().sum();
    eprintln!("twenty instances, max-count 5: {ec2_calls} EC2 calls; {calls:?}");
    // What the job needs: a look per instance; per volume made, the
    // template's description, the create, a look until it is available,
    // the attach.
    assert!(ec2_calls <= 20 + 4 * 5, "{ec2_calls} EC2 calls: {calls:?}");
}

/// The storage instance dies: its volume is released and the replacement
/// claims it — carrying the cluster's data, so not new — and no volume is
/// created. With the old instance still shutting down, the replacement
/// waits for the volume instead of making another, even with room under
/// max-count.
#[tokio::test]
async fn a_replacement_takes_the_released_volume() {
    let f = Fixture::new();
    let template = f.template().await;
    let args = flags(&[(&template, 2)]);
    let first = f.node(json!({ "az": AZ }));
    let r = first.ok(&strs(&args));
    assert_eq!(r["templates"][0]["outcome"], "created", "{r}");
    let volume = r["templates"][0]["volume_id"].as_str().unwrap().to_string();
    // The storage service writes its cluster state on the new volume.
    let device = r["templates"][0]["device"].as_str().unwrap().to_string();
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut d = std::fs::OpenOptions::new()
            .write(true)
            .open(&device)
            .unwrap();
        d.seek(SeekFrom::Start(4096)).unwrap();
        d.write_all(b"px cluster config").unwrap();
        d.sync_all().unwrap();
    }
    // Restart on the same instance: the same volume, no mutation.
    f.rig.calls(true);
    let again = first.ok(&strs(&args));
    assert_eq!(again["templates"][0]["outcome"], "reused");
    assert_eq!(again["templates"][0]["new"], false);
    let (calls, _) = f.rig.calls(true);
    assert_eq!(calls, ["DescribeVolumes"]);

    // The instance starts shutting down, volume still attached; a
    // replacement boots and waits for it.
    f.rig.set_instance_state(&first.inst, "shutting-down");
    let second = f.node(json!({ "az": AZ }));
    let a = second.args(&strs(&args));
    let mut child = second
        .tool
        .command(&strs(&a))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    loop {
        let line = lines
            .next()
            .expect("px-volume-claim ended before waiting for the volume")
            .unwrap();
        seen.push(line.clone());
        if line.contains("waiting up to") {
            break;
        }
    }
    f.terminate(&first.inst).await;
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{seen:?} {}", describe(&out));
    let r = json(&out);
    assert_eq!(r["templates"][0]["outcome"], "claimed", "{r}");
    assert_eq!(r["templates"][0]["volume_id"], volume.as_str());
    assert_eq!(r["templates"][0]["new"], false);
    assert_eq!(f.volumes(&template).await.len(), 1);
}

/// Issue 21: an instance the group scales in hands its volume back once
/// the storage service has stopped (`release`, gated by IMDS: in service
/// it keeps the volume); the volume is `available` at once and the
/// replacement claims it and creates none.
#[tokio::test]
async fn a_scaled_in_instance_releases_its_volume_for_the_replacement() {
    let f = Fixture::new();
    let template = f.template().await;
    let args = flags(&[(&template, 2)]);
    let inst = f
        .rig
        .asg(json!({
            "name": "px-leave", "size": 1, "az": AZ,
            "termination_hook": {"name": "px", "timeout": 300},
        }))
        .remove(0);
    let leaving = f.node_for(inst);
    let r = leaving.ok(&strs(&args));
    let volume = r["templates"][0]["volume_id"].as_str().unwrap().to_string();
    let mut release = args.clone();
    release.push("release".into());
    let r = leaving.ok(&strs(&release));
    assert_eq!(r["result"], "staying", "{r}");
    assert_eq!(f.volumes(&template).await[0].1, "in-use");

    f.rig
        .autoscaling()
        .set_desired_capacity()
        .auto_scaling_group_name("px-leave")
        .desired_capacity(0)
        .send()
        .await
        .unwrap();
    let r = leaving.ok(&strs(&release));
    assert_eq!(r["result"], "released", "{r}");
    assert_eq!(r["released"], json!([volume]));
    assert_eq!(
        f.volumes(&template).await,
        vec![(volume.clone(), "available".to_string(), None)]
    );
    // Again (the unit's stop after a crash): nothing held, nothing done.
    assert_eq!(leaving.ok(&strs(&release))["result"], "nothing");

    let replacement = f.node(json!({ "az": AZ }));
    let r = replacement.ok(&strs(&args));
    assert_eq!(r["templates"][0]["outcome"], "claimed", "{r}");
    assert_eq!(r["templates"][0]["volume_id"], volume.as_str());
    assert_eq!(f.volumes(&template).await.len(), 1);
}

/// Issue 21: `release` killed before or after each of its AWS calls, then
/// run again: the volume ends `available`, and a replacement claims it
/// and creates none.
#[tokio::test]
async fn a_release_killed_at_every_call_and_rerun_hands_the_volume_back() {
    let f = Fixture::new();
    let round = |name: String| {
        let f = &f;
        async move {
            let template = f.template().await;
            let args = flags(&[(&template, 2)]);
            let inst = f
                .rig
                .asg(json!({
                    "name": name, "size": 1, "az": AZ,
                    "termination_hook": {"name": "px", "timeout": 300},
                }))
                .remove(0);
            let node = f.node_for(inst);
            node.ok(&strs(&args));
            f.rig
                .autoscaling()
                .set_desired_capacity()
                .auto_scaling_group_name(&name)
                .desired_capacity(0)
                .send()
                .await
                .unwrap();
            let mut release = args.clone();
            release.push("release".into());
            (template, args, node, release)
        }
    };
    let (_, _, probe, release) = round("px-kill-probe".into()).await;
    f.rig.calls(true);
    probe.ok(&strs(&release));
    let calls = f.rig.calls(true).0.len();
    assert!(calls >= 2, "{calls}");
    for k in 0..calls {
        for fault in ["kill_before", "kill_after"] {
            let (template, args, node, release) = round(format!("px-kill-{k}-{fault}")).await;
            let a = node.args(&strs(&release));
            let child = node.tool.spawn_stopped(&strs(&a));
            f.rig
                .faults(json!([{ "skip": k, "times": 1, "fault": fault, "pid": child.id() }]));
            resume(&child);
            let out = child.wait_with_output().unwrap();
            f.rig.faults(json!([]));
            assert!(!out.status.success(), "{fault} at {k}: {}", describe(&out));
            let r = node.ok(&strs(&release));
            assert!(
                r["result"] == "released" || r["result"] == "nothing",
                "{fault} at {k}: {r}"
            );
            let vols = f.volumes(&template).await;
            assert_eq!(vols.len(), 1, "{fault} at {k}: {vols:?}");
            assert_eq!(vols[0].1, "available", "{fault} at {k}: {vols:?}");
            let r = f.node(json!({ "az": AZ })).ok(&strs(&args));
            assert_eq!(
                r["templates"][0]["outcome"], "claimed",
                "{fault} at {k}: {r}"
            );
            assert_eq!(f.volumes(&template).await.len(), 1);
        }
    }
}

/// Two templates with their own limits; killed before or after each AWS
/// call of a first run (which creates both volumes), then run again: the
/// instance ends with one volume per template and the counts never pass
/// max-count.
#[tokio::test]
async fn killed_at_every_call_counts_stay_exact() {
    let f = Fixture::new();
    let calls_of_first_run = {
        let (t1, t2) = (f.template().await, f.template().await);
        let probe = f.node(json!({ "az": AZ }));
        f.rig.calls(true);
        let r = probe.ok(&strs(&flags(&[(&t1, 1), (&t2, 2)])));
        assert_eq!(r["templates"][0]["outcome"], "created", "{r}");
        assert_eq!(r["templates"][1]["outcome"], "created", "{r}");
        f.rig.calls(true).0.len()
    };
    for k in 0..calls_of_first_run {
        for fault in ["kill_before", "kill_after"] {
            // Fresh templates: every round takes the creating path.
            let (t1, t2) = (f.template().await, f.template().await);
            let args = flags(&[(&t1, 1), (&t2, 2)]);
            let node = f.node(json!({ "az": AZ }));
            let a = node.args(&strs(&args));
            let child = node.tool.spawn_stopped(&strs(&a));
            f.rig
                .faults(json!([{ "skip": k, "times": 1, "fault": fault, "pid": child.id() }]));
            resume(&child);
            let out = child.wait_with_output().unwrap();
            f.rig.faults(json!([]));
            assert!(!out.status.success(), "{fault} at {k}: {}", describe(&out));
            let r = node.ok(&strs(&args));
            for (t, max) in [(&t1, 1), (&t2, 2)] {
                let vols = f.volumes(t).await;
                assert!(vols.len() <= max, "{fault} at {k}: {t} has {vols:?}");
                let mine = vols
                    .iter()
                    .filter(|v| v.2.as_deref() == Some(&node.inst.id))
                    .count();
                assert_eq!(mine, 1, "{fault} at {k}: {t}: {vols:?} {r}");
            }
            // A second instance: t1 is full, t2 has room for one more.
            let other = f.node(json!({ "az": AZ }));
            let r = other.ok(&strs(&args));
            assert_eq!(r["templates"][0]["outcome"], "storage-less", "{r}");
            assert_eq!(r["templates"][1]["outcome"], "created", "{r}");
            assert_eq!(f.volumes(&t1).await.len(), 1);
            assert_eq!(f.volumes(&t2).await.len(), 2);
        }
    }
}

/// Volumes of another cluster, or of this cluster in another AZ, are never
/// claimed (the other AZ's still counts against max-count); the seed's
/// user-data is the configuration when no flag is given.
#[tokio::test]
async fn other_clusters_and_azs_are_not_touched_and_user_data_configures() {
    let f = Fixture::new();
    let template = f.template().await;
    let foreign = f.cluster_volume("someone-else", &template, AZ).await;
    let elsewhere = f.cluster_volume(CLUSTER, &template, "us-east-1b").await;
    let user_data = format!(
        "#cloud-config\npx-cluster:\n  clusterid: {CLUSTER}\n  kvdb: etcd://myetc.company.com:2379\nstorage:\n  ebs:\n    template: {template}\n\tmax-count: 2\n"
    );
    let node = f.node(json!({ "az": AZ, "user_data": user_data }));
    let r = node.ok(&[]);
    assert_eq!(r["cluster_id"], CLUSTER);
    assert_eq!(r["templates"][0]["outcome"], "created", "{r}");
    let vols = f.volumes(&template).await;
    assert_eq!(vols.len(), 2, "{vols:?}");
    assert!(vols.iter().any(|v| v.0 == elsewhere && v.1 == "available"));
    // At the limit now (one here, one in the other AZ): a second instance
    // is storage-less and touches nothing.
    let other = f.node(json!({ "az": AZ, "user_data": user_data }));
    f.rig.calls(true);
    let r = other.ok(&[]);
    assert_eq!(r["storageless"], true, "{r}");
    let (calls, _) = f.rig.calls(true);
    assert!(calls.iter().all(|c| c.starts_with("Describe")), "{calls:?}");
    let env = std::fs::read_to_string(other.env_file()).unwrap();
    assert!(env.contains("PX_CLAIM_STORAGELESS=\"true\""), "{env}");
    let ec2 = f.rig.ec2().await;
    let v = ec2
        .describe_volumes()
        .volume_ids(&foreign)
        .send()
        .await
        .unwrap();
    assert_eq!(v.volumes()[0].state().unwrap().as_str(), "available");
    assert!(v.volumes()[0].attachments().is_empty());
}

/// Bad configuration is a one-line error naming the field (exit 2).
#[tokio::test]
async fn bad_config_is_a_one_line_error() {
    let f = Fixture::new();
    let node = f.node(json!({ "az": AZ, "user_data": "#cloud-config\npx-cluster:\n  clusterid: c\nstorage:\n  ebs:\n    template: vol-0abc\n" }));
    for (args, needle) in [
        (
            vec!["--cluster-id", "c", "--template", "vol-zz:3"],
            "not a volume ID",
        ),
        (
            vec!["--cluster-id", "c", "--template", "vol-0abc:0"],
            "max-count 0",
        ),
        (vec![], "storage.ebs[1].max-count is missing"),
    ] {
        f.rig.calls(true);
        let out = node.run(&args);
        // Flags are checked before any AWS call; user-data needs none.
        assert!(f.rig.calls(true).0.is_empty(), "{args:?} called AWS");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

/// --dry-run says what it would do and changes nothing; a claimed volume's
/// DeleteOnTermination is off, and turned off again when found on.
#[tokio::test]
async fn dry_run_changes_nothing_and_delete_on_termination_stays_off() {
    let f = Fixture::new();
    let template = f.template().await;
    let args = flags(&[(&template, 1)]);
    let node = f.node(json!({ "az": AZ }));
    f.rig.calls(true);
    let mut dry = strs(&args);
    dry.push("--dry-run");
    let r = node.ok(&dry);
    assert_eq!(r["templates"][0]["outcome"], "would-create", "{r}");
    let (calls, _) = f.rig.calls(true);
    assert!(calls.iter().all(|c| c.starts_with("Describe")), "{calls:?}");
    assert!(f.volumes(&template).await.is_empty());
    assert!(!node.env_file().exists());

    let r = node.ok(&strs(&args));
    let volume = r["templates"][0]["volume_id"].as_str().unwrap().to_string();
    let ec2 = f.rig.ec2().await;
    let dot = |v: aws_sdk_ec2::operation::describe_volumes::DescribeVolumesOutput| {
        v.volumes()[0].attachments()[0].delete_on_termination()
    };
    let v = ec2
        .describe_volumes()
        .volume_ids(&volume)
        .send()
        .await
        .unwrap();
    assert_eq!(dot(v), Some(false));
    f.rig
        .set_delete_on_termination(&node.inst, &volume, true)
        .await;
    let r = node.ok(&strs(&args));
    assert_eq!(r["templates"][0]["outcome"], "reused", "{r}");
    let v = ec2
        .describe_volumes()
        .volume_ids(&volume)
        .send()
        .await
        .unwrap();
    assert_eq!(dot(v), Some(false));
}

/// Against EC2's throttling (token buckets that start empty and refill at
/// 20 requests a second), a claim still ends right: the SDK's retries wait
/// for tokens, one volume is created and attached, and the throttling
/// really happened (the first describe and the first mutation for
/// certain).
#[tokio::test]
async fn a_claim_rides_out_ec2_throttling() {
    let f = Fixture::new();
    let template = f.template().await;
    let node = f.node(json!({ "az": AZ }));
    f.rig.throttle(json!({
        "describe": {"size": 1, "refill": 20, "tokens": 0},
        "mutate": {"size": 1, "refill": 20, "tokens": 0},
    }));
    let r = node.ok(&strs(&flags(&[(&template, 1)])));
    assert_eq!(r["templates"][0]["outcome"], "created", "{r}");
    let vols = f.volumes(&template).await;
    assert_eq!(vols.len(), 1, "{vols:?}");
    assert_eq!(vols[0].2.as_deref(), Some(node.inst.id.as_str()));
    assert!(f.rig.throttled() >= 2, "throttled {}", f.rig.throttled());
}

/// Ten instances of a group look while EC2's describe bucket holds three
/// requests and refills two a second: the first looks that are throttled
/// are not retried with backoff but asked again at each rank's turn, 50 ms
/// a rank; the counts stay exact.
#[tokio::test]
async fn a_throttled_group_looks_again_at_its_turns() {
    let f = Fixture::new();
    let template = f.template().await;
    let insts = f
        .rig
        .asg(json!({ "name": "px-turns", "size": 10, "az": AZ }));
    let nodes: Vec<_> = insts.into_iter().map(|i| f.node_for(i)).collect();
    let args = flags(&[(&template, 3)]);
    f.rig.throttle(json!({
        "describe": {"size": 3, "refill": 2, "tokens": 3},
        "mutate": {"size": 50, "refill": 5},
    }));
    let runs: Vec<_> = nodes
        .iter()
        .map(|n| (&n.tool, n.args(&strs(&args))))
        .collect();
    let outs = run_all(&runs);
    f.rig.throttle(json!({}));
    for o in &outs {
        assert!(o.status.success(), "{}", describe(o));
    }
    let reports: Vec<_> = outs.iter().map(json).collect();
    let waited: Vec<_> = reports
        .iter()
        .filter(|r| r["turn"]["waited_seconds"].as_f64().unwrap() > 0.0)
        .collect();
    assert!(!waited.is_empty(), "{reports:?}");
    for r in &waited {
        let rank = r["turn"]["rank"].as_f64().unwrap();
        let secs = r["turn"]["waited_seconds"].as_f64().unwrap();
        assert!((secs - rank * 0.05).abs() < 1e-6, "{r}");
    }
    assert!(f.rig.throttled() >= waited.len());
    let vols = f.volumes(&template).await;
    assert_eq!(vols.len(), 3, "{vols:?}");
    let holders: BTreeSet<_> = vols.iter().filter_map(|v| v.2.clone()).collect();
    assert_eq!(holders.len(), 3, "{vols:?}");
    let storageless = reports.iter().filter(|r| r["storageless"] == true).count();
    assert_eq!(storageless, 7, "{reports:?}");
}

/// A group member's first look is asked once (a throttled one waits for
/// the rank's turn): any other failure, here a 500, is asked again at once
/// with the SDK's retries, and the claim goes on.
#[tokio::test]
async fn a_first_look_that_fails_otherwise_is_retried() {
    let f = Fixture::new();
    let template = f.template().await;
    let node = f.node_for(
        f.rig
            .asg(json!({ "name": "px-500", "size": 1, "az": AZ }))
            .remove(0),
    );
    f.rig.faults(json!([
        {"match": "DescribeVolumes", "times": 1, "fault": "error500"},
    ]));
    let r = node.ok(&strs(&flags(&[(&template, 1)])));
    assert_eq!(r["templates"][0]["outcome"], "created", "{r}");
    assert_eq!(r["turn"]["rank"], 0, "{r}");
    let (calls, fired) = f.rig.calls(true);
    assert_eq!(fired, 1, "{calls:?}");
}

/// After its first look, a creator's calls (the templates described, the
/// new volume awaited, the attach) are each throttled once: each is asked
/// again by the tool after a wait of its own, logged, and never by the
/// SDK's adaptive retries, whose limiter, once throttled, would space
/// every later call of the run seconds apart.
#[tokio::test]
async fn a_creators_throttled_calls_are_asked_again_after_waits_of_their_own() {
    let f = Fixture::new();
    let template = f.template().await;
    let node = f.node_for(
        f.rig
            .asg(json!({ "name": "px-patient", "size": 1, "az": AZ }))
            .remove(0),
    );
    f.rig.faults(json!([
        // The first look passes; the templates' describe, then (after
        // the templates' second, and CreateVolume) the new volume's, are
        // throttled once each.
        {"match": "DescribeVolumes", "skip": 1, "times": 1, "fault": "throttle"},
        {"match": "DescribeVolumes", "skip": 3, "times": 1, "fault": "throttle"},
        {"match": "AttachVolume", "times": 1, "fault": "throttle"},
    ]));
    let out = node.run(&strs(&flags(&[(&template, 1)])));
    assert!(out.status.success(), "{}", describe(&out));
    let r = json(&out);
    assert_eq!(r["templates"][0]["outcome"], "created", "{r}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("asking again in").count(),
        3,
        "one wait of its own per throttled answer:\n{stderr}"
    );
    let (calls, fired) = f.rig.calls(true);
    assert_eq!(fired, 3, "{calls:?}");
    // Each throttled call asked once more, no retry on top: the look, the
    // templates twice, the create and its poll asked again whole (its
    // ClientToken makes that the same volume), the attach twice.
    let count = |a: &str| calls.iter().filter(|c| c.as_str() == a).count();
    assert_eq!(count("DescribeVolumes"), 5, "{calls:?}");
    assert_eq!(count("CreateVolume"), 2, "{calls:?}");
    assert_eq!(count("AttachVolume"), 2, "{calls:?}");
    assert_eq!(f.volumes(&template).await.len(), 1);
}
