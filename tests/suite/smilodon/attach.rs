use super::{mutations, Fixture, AZ};
use rig::tool::{describe, json};

/// A free pair is claimed: volume and ENI attached here, the interface
/// with the ENI's MAC in the instance's namespace, a blank volume made xfs
/// and mounted, myid = NodeID + 1 on it, the env file written; at most 6
/// EC2 calls. A restart reuses the same pair with 2 calls and no mutation,
/// and the data stays.
#[tokio::test]
async fn claims_a_pair_then_a_restart_reuses_it_without_mutation() {
    let f = Fixture::new();
    let pair = f.pair("0", AZ).await;
    let node = f.node(AZ);
    let mp = node.mountpoint();
    let myid = mp.join("myid");
    let args = [
        "--mountpoint",
        mp.to_str().unwrap(),
        "--mkfs",
        "xfs",
        "--write-node-id",
        myid.to_str().unwrap(),
        "--node-id-offset",
        "1",
        "--owner",
        "nobody:nogroup",
    ];
    f.rig.calls(true);
    let out = node.run(&args);
    assert!(out.status.success(), "{}", describe(&out));
    let r = json(&out);
    assert_eq!(r["outcome"], "claimed", "{r}");
    assert_eq!(r["node_id"], "0");
    assert_eq!(r["filesystem"]["fstype"], "xfs");
    assert_eq!(r["filesystem"]["created"], true);
    let (calls, _) = f.rig.calls(true);
    assert!(calls.len() <= 6, "first attach took {calls:?}");

    assert_eq!(
        f.volume_holder(&pair.volume_id).await,
        Some(node.inst.id.clone())
    );
    let (holder, mac, ip) = f.eni_state(&pair.eni_id).await;
    assert_eq!(holder, Some(node.inst.id.clone()));
    let iface = node
        .inst
        .interfaces()
        .into_iter()
        .find(|(_, m)| *m == mac)
        .unwrap_or_else(|| panic!("no interface with {mac} in {:?}", node.inst.interfaces()));

    let env = node.env();
    assert_eq!(env["NODE_ID"], "0");
    assert_eq!(env["NODE_IP"], ip);
    assert_eq!(env["NODE_ENI_ID"], pair.eni_id);
    assert_eq!(env["NODE_ENI_MAC"], mac);
    assert_eq!(env["NODE_INTERFACE"], iface.0);
    assert_eq!(env["NODE_VOLUME_ID"], pair.volume_id);
    assert_eq!(env["NODE_MOUNTPOINT"], mp.to_str().unwrap());
    let loop_dev = f.rig.devices(&node.inst)[&pair.volume_id]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(env["NODE_DEVICE"], loop_dev);
    assert_eq!(
        rig::loopdev::mounts_of(&loop_dev),
        vec![mp.to_str().unwrap().to_string()]
    );
    assert_eq!(std::fs::read_to_string(&myid).unwrap(), "1\n");
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(&mp).unwrap();
        assert_ne!(meta.uid(), 0, "--owner did not chown the mount root");
    }
    std::fs::write(mp.join("snapshot.0"), b"node zero's data").unwrap();

    // The service restarts: same pair, two describes, nothing changed.
    let out = node.run(&args);
    assert!(out.status.success(), "{}", describe(&out));
    let r = json(&out);
    assert_eq!(r["outcome"], "reused", "{r}");
    assert_eq!(r["node_id"], "0");
    assert_eq!(r["filesystem"]["created"], false);
    let (mut calls, _) = f.rig.calls(true);
    calls.sort();
    assert_eq!(calls, ["DescribeNetworkInterfaces", "DescribeVolumes"]);
    assert_eq!(
        std::fs::read(mp.join("snapshot.0")).unwrap(),
        b"node zero's data"
    );
    assert_eq!(node.env()["NODE_ID"], "0");

    // API attaches leave DeleteOnTermination off: the pair is the node's.
    assert_eq!(
        f.volume_delete_on_termination(&pair.volume_id).await,
        Some(false)
    );
    assert_eq!(f.eni_attachment(&pair.eni_id).await.1, Some(false));
}

/// A held pair found with DeleteOnTermination on (set by hand) gets it
/// turned off, for the volume and the ENI.
#[tokio::test]
async fn delete_on_termination_is_turned_off_on_a_held_pair() {
    let f = Fixture::new();
    let pair = f.pair("0", AZ).await;
    let node = f.node(AZ);
    let out = node.run(&[]);
    assert!(out.status.success(), "{}", describe(&out));
    f.set_delete_on_termination(&pair, &node.inst).await;

    let out = node.run(&[]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("DeleteOnTermination on"),
        "{}",
        describe(&out)
    );
    assert_eq!(
        f.volume_delete_on_termination(&pair.volume_id).await,
        Some(false)
    );
    assert_eq!(f.eni_attachment(&pair.eni_id).await.1, Some(false));
}

/// A volume that holds a filesystem is mounted as it is — even when
/// another filesystem type is asked for — and its data survives; one that
/// holds data but no filesystem is refused (exit 5) and left untouched.
#[tokio::test]
async fn data_is_mounted_never_reformatted_and_raw_data_is_refused() {
    let f = Fixture::new();
    let pair = f.pair("0", AZ).await;
    let first = f.node(AZ);
    first.attach();
    std::fs::write(first.mountpoint().join("log.1"), b"committed").unwrap();
    let st = std::process::Command::new("umount")
        .arg(first.mountpoint())
        .status()
        .unwrap();
    assert!(st.success());
    f.free(std::slice::from_ref(&pair), &first.inst).await;

    // The node comes back on another instance, asking for xfs.
    let second = f.node(AZ);
    let mp = second.mountpoint();
    let out = second.run(&["--mountpoint", mp.to_str().unwrap(), "--mkfs", "xfs"]);
    assert!(out.status.success(), "{}", describe(&out));
    let r = json(&out);
    assert_eq!(r["outcome"], "claimed");
    assert_eq!(r["filesystem"]["fstype"], "ext4", "{r}");
    assert_eq!(r["filesystem"]["created"], false);
    assert_eq!(std::fs::read(mp.join("log.1")).unwrap(), b"committed");

    // Raw data, no signature blkid knows: never formatted.
    let raw = f.pair("1", AZ).await;
    let backing = f.rig.backing_file(&raw.volume_id);
    std::fs::create_dir_all(backing.parent().unwrap()).unwrap();
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut file = std::fs::File::create(&backing).unwrap();
        file.set_len(1 << 30).unwrap();
        file.seek(SeekFrom::Start(8192)).unwrap();
        file.write_all(b"raw database pages").unwrap();
    }
    let third = f.node(AZ);
    let mp = third.mountpoint();
    let out = third.run(&["--mountpoint", mp.to_str().unwrap(), "--mkfs", "ext4"]);
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&raw.volume_id) && stderr.contains("not blank"),
        "{stderr}"
    );
    let bytes = std::fs::read(&backing).unwrap();
    assert_eq!(&bytes[8192..8192 + 18], b"raw database pages");
    assert!(
        bytes[..8192].iter().all(|b| *b == 0),
        "something was written"
    );
}

/// Pairs in another AZ are not considered; a NodeID with only a volume or
/// only an ENI is reported, not attached. With nothing to claim: idle
/// exits 8 (1 as ExecCondition=), fail exits 6 with one line.
#[tokio::test]
async fn other_azs_are_ignored_and_half_tagged_nodes_are_reported() {
    let f = Fixture::new();
    let elsewhere = f.pair("1", "us-east-1b").await;
    let lonely_volume = f.volume("7", AZ).await;
    let lonely_eni = f.eni("8", AZ).await;
    let node = f.node(AZ);
    f.rig.calls(true);

    let out = node.run(&["--when-none", "idle"]);
    assert_eq!(out.status.code(), Some(8), "{}", describe(&out));
    let r = json(&out);
    assert_eq!(r["outcome"], "idle");
    assert_eq!(r["pairs_seen"], 0);
    let problems = r["problems"].to_string();
    assert!(problems.contains(&lonely_volume), "{problems}");
    assert!(problems.contains(&lonely_eni), "{problems}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("volume") && stderr.contains("has no ENI with the same NodeID"),
        "{stderr}"
    );

    let out = node.run(&["--when-none", "idle", "--exec-condition"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));

    let out = node.run(&["--when-none", "fail"]);
    assert_eq!(out.status.code(), Some(6), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("no free pair"))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");

    let (calls, _) = f.rig.calls(true);
    assert!(mutations(&calls).is_empty(), "{calls:?}");
    assert_eq!(f.volume_holder(&elsewhere.volume_id).await, None);
    assert_eq!(f.eni_holder(&elsewhere.eni_id).await, None);
    assert_eq!(f.volume_holder(&lonely_volume).await, None);
}

/// Bad filter syntax is a one-line error (exit 2) before any AWS call; as
/// ExecCondition= a bad flag fails the unit (255) instead of skipping it.
#[tokio::test]
async fn bad_input_is_a_one_line_error() {
    let f = Fixture::new();
    let node = f.node(AZ);
    f.rig.calls(true);
    let out = node
        .tool
        .run(&["--filters", "tag:Env", "--env-file", "/nonexistent/x.env"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("tag:Env"), "{stderr}");
    assert!(f.rig.calls(true).0.is_empty());

    let out = node.tool.run(&["--exec-condition", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(255), "{}", describe(&out));
    let out = node.tool.run(&["--exec-condition", "--filters", "tag:Env"]);
    assert_eq!(out.status.code(), Some(255), "{}", describe(&out));
}

/// Half a pair attached here (an earlier run stopped between the two
/// attaches): the run finishes that pair rather than claiming another.
#[tokio::test]
async fn a_half_claimed_pair_is_completed() {
    let f = Fixture::new();
    let pairs = [f.pair("0", AZ).await, f.pair("1", AZ).await];
    let node = f.node(AZ);
    let ec2 = f.rig.ec2().await;
    ec2.attach_volume()
        .volume_id(&pairs[1].volume_id)
        .instance_id(&node.inst.id)
        .device("/dev/sdf")
        .send()
        .await
        .unwrap();
    let out = node.run(&[]);
    assert!(out.status.success(), "{}", describe(&out));
    let r = json(&out);
    assert_eq!(r["outcome"], "completed", "{r}");
    assert_eq!(r["node_id"], "1");
    assert_eq!(
        f.held_by(&pairs, &node.inst).await,
        vec![("1".to_string(), true, true)]
    );
}

/// --dry-run says which pair it would take and changes nothing: no AWS
/// mutation, nothing attached, no env file.
#[tokio::test]
async fn dry_run_changes_nothing() {
    let f = Fixture::new();
    let pair = f.pair("0", AZ).await;
    let node = f.node(AZ);
    f.rig.calls(true);
    let mp = node.mountpoint();
    let out = node.run(&[
        "--dry-run",
        "--mountpoint",
        mp.to_str().unwrap(),
        "--mkfs",
        "ext4",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let r = json(&out);
    assert_eq!(r["outcome"], "claimed", "{r}");
    assert_eq!(r["dry_run"], true);
    assert_eq!(r["node_id"], "0");
    let (calls, _) = f.rig.calls(true);
    assert!(mutations(&calls).is_empty(), "{calls:?}");
    assert_eq!(f.volume_holder(&pair.volume_id).await, None);
    assert_eq!(f.eni_holder(&pair.eni_id).await, None);
    assert!(!node.env_file().exists());
}

/// Issue 23, NODE_IP: the env file is written only once the ENI's address
/// is on its interface (here configured 2 s after the interface appears,
/// as amazon-ec2-net-utils does it), so that a service can bind NODE_IP
/// when it starts. When nothing on the instance configures it, the attach
/// fails at --address-wait with exit 4 naming the address and the MAC, and
/// writes no env file; --address-wait 0 writes it at once, with a warning.
#[tokio::test]
async fn node_ip_is_on_its_interface_before_the_env_is_written() {
    let f = Fixture::new();
    f.pair("0", AZ).await;
    f.rig.config(serde_json::json!({"address_delay": 2.0}));
    let node = f.node(AZ);
    let started = std::time::Instant::now();
    let out = node.run(&[]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(2),
        "the env was written before the address came"
    );
    let env = node.env();
    let iface = node
        .inst
        .interfaces()
        .into_iter()
        .find(|(_, m)| *m == env["NODE_ENI_MAC"])
        .expect("the ENI's interface");
    let addrs = std::process::Command::new("ip")
        .args([
            "-n",
            node.inst.netns.as_deref().unwrap(),
            "-4",
            "-o",
            "addr",
            "show",
            "dev",
            &iface.0,
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&addrs.stdout).contains(&format!("{}/32", env["NODE_IP"])),
        "{} is not on {}: {}",
        env["NODE_IP"],
        iface.0,
        String::from_utf8_lossy(&addrs.stdout)
    );

    // Nothing configures addresses on a second instance's ENI.
    f.pair("1", AZ).await;
    f.rig.config(serde_json::json!({"address_delay": null}));
    let bare = f.node(AZ);
    let out = bare.run(&["--address-wait", "2"]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("nothing on this instance configured it") && said.contains("MAC "),
        "{said}"
    );
    assert!(
        !bare.env_file().exists(),
        "an env file with an unbound NODE_IP"
    );
    let out = bare.run(&["--address-wait", "0"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not on the interface"),
        "{}",
        describe(&out)
    );
    assert!(bare.env_file().exists());
}
