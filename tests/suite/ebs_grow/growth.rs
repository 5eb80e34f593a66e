use super::{small_config, Fixture, GIB, MIB};
use rig::tool::describe;
use serde_json::json;

fn tag<'a>(v: &'a aws_sdk_ec2::types::Volume, key: &str) -> Option<&'a str> {
    v.tags()
        .iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

/// init makes btrfs on a new tagged volume; filling past the threshold and
/// checking adds a second volume, tagged, attached, deleted with the
/// instance, in the filesystem; df grows; the next check does nothing and
/// calls no AWS API.
#[tokio::test]
async fn btrfs_init_fill_check_adds_a_volume() {
    let f = Fixture::new(json!({}), small_config(json!({})));
    let init = f.ok(&["init"]);
    assert_eq!(init["action"], "initialised", "{init}");
    let fstab = std::fs::read_to_string(&f.fstab).unwrap();
    assert!(
        fstab.contains(&format!(
            "UUID={} {} btrfs",
            init["uuid"].as_str().unwrap(),
            f.mp.display()
        )),
        "{fstab}"
    );
    let before = f.df_total();

    // init again: nothing changes, no AWS call.
    f.rig.calls(true);
    assert_eq!(f.ok(&["init"])["action"], "already-initialised");
    assert!(f.rig.calls(true).0.is_empty());

    // Below the threshold: idle, zero calls.
    f.fill("a", 100 * MIB);
    assert_eq!(f.ok(&["check"])["action"], "none");
    assert!(f.rig.calls(true).0.is_empty());

    f.fill("b", 500 * MIB);
    let grown = f.ok(&["check"]);
    assert_eq!(grown["action"], "added", "{grown}");
    let (calls, _) = f.rig.calls(true);
    assert!(
        calls.len() <= 8,
        "a growth took {} EC2 calls: {calls:?}",
        calls.len()
    );

    let ours = f.ours().await;
    assert_eq!(ours.len(), 2);
    let new_id = grown["volume_id"].as_str().unwrap();
    let new = ours.iter().find(|v| v.volume_id() == Some(new_id)).unwrap();
    assert_eq!(
        tag(new, "mooring:source-instance"),
        Some(f.inst.id.as_str())
    );
    assert_eq!(tag(new, "mooring:mountpoint"), Some(f.mp.to_str().unwrap()));
    assert_eq!(new.attachments()[0].instance_id(), Some(f.inst.id.as_str()));
    for v in &ours {
        assert_eq!(
            f.delete_on_termination(v.volume_id().unwrap()).await,
            Some(true),
            "{:?}",
            v.volume_id()
        );
    }
    assert_eq!(f.btrfs_devices(), 2);
    assert!(
        f.df_total() >= before + GIB * 9 / 10,
        "df did not grow: {} -> {}",
        before,
        f.df_total()
    );
    // The new space is usable at once.
    f.fill("c", 600 * MIB);

    // Right after: 1.2 GiB of 2 GiB is past 50% with 2 devices, so set a
    // higher threshold and check that an idle check makes no call.
    let out = f.run(&["check", "--used-percent", "90", "--output", "json"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(rig::tool::json(&out)["action"], "none");
    assert!(f.rig.calls(true).0.is_empty(), "an idle check called AWS");

    // status names every device's volume, without AWS.
    let status = f.ok(&["status"]);
    let vols: Vec<&str> = status["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["volume_id"].as_str())
        .collect();
    assert_eq!(vols.len(), 2, "{status}");
    assert!(vols.contains(&new_id));
    assert!(f.rig.calls(true).0.is_empty());
}

/// xfs grows in place: ModifyVolume on the same volume, xfs_growfs; a
/// second growth within EC2's 6-hour window cannot happen, and xfs cannot
/// add a device: exit 6 with the reason.
#[tokio::test]
async fn xfs_modify_grows_the_same_volume_in_place() {
    let f = Fixture::new(json!({}), small_config(json!({"fs": "xfs"})));
    let init = f.ok(&["init"]);
    let vid = init["volume_id"].as_str().unwrap().to_string();
    let before = f.df_total();
    f.fill("a", 600 * MIB);
    let grown = f.ok(&["check"]);
    assert_eq!(grown["action"], "grown", "{grown}");
    assert_eq!(grown["volume_id"], vid.as_str());
    assert_eq!(grown["size_gib"], 2);
    assert!(
        f.df_total() >= before + GIB * 9 / 10,
        "xfs did not grow: {before} -> {}",
        f.df_total()
    );
    assert_eq!(f.ours().await.len(), 1, "modify must not add volumes");

    f.fill("b", 1100 * MIB);
    let out = f.run(&["check"]);
    assert_eq!(out.status.code(), Some(6), "{}", rig::tool::describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("6 hours"),
        "{}",
        describe(&out)
    );
}

/// Limits hold: max_volumes, max_total_size_gib, attachment slots. Each
/// refusal is exit 6, with no volume created.
#[tokio::test]
async fn limits_are_respected() {
    for (instance, config, expect) in [
        (json!({}), json!({"max_volumes": 1}), "max_volumes"),
        (
            json!({}),
            json!({"max_total_size_gib": 1}),
            "max_total_size_gib",
        ),
        // root volume + primary ENI + the init volume fill 3 slots.
        (
            json!({"attachment_limit": 3}),
            json!({"attachment_limit": 3}),
            "attachment slot",
        ),
    ] {
        let f = Fixture::new(instance, small_config(config));
        f.ok(&["init"]);
        f.fill("a", 700 * MIB);
        let out = f.run(&["check"]);
        assert_eq!(out.status.code(), Some(6), "{expect}: {}", describe(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(expect),
            "{expect}: {}",
            describe(&out)
        );
        assert_eq!(f.ours().await.len(), 1, "{expect}: a volume was created");
    }
    // Slots configured too generously: EC2 refuses the attach, and the
    // volume this run created is deleted rather than leaked.
    let f = Fixture::new(json!({"attachment_limit": 3}), small_config(json!({})));
    f.ok(&["init"]);
    f.fill("a", 700 * MIB);
    let out = f.run(&["check"]);
    assert_eq!(out.status.code(), Some(6), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("deleted the new"),
        "{}",
        describe(&out)
    );
    assert_eq!(f.ours().await.len(), 1, "the unattachable volume leaked");
}

/// --dry-run changes nothing: no AWS mutation, no device added.
#[tokio::test]
async fn dry_run_changes_nothing() {
    let f = Fixture::new(json!({}), small_config(json!({})));
    let out = f.run(&["init", "--dry-run", "--output", "json"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(rig::tool::json(&out)["action"], "would-create");
    assert!(f.ours().await.is_empty());
    f.ok(&["init"]);
    f.fill("a", 600 * MIB);
    f.rig.calls(true);
    let report = f.ok(&["check", "--dry-run"]);
    assert_eq!(report["action"], "would-add", "{report}");
    let (calls, _) = f.rig.calls(true);
    assert!(
        calls.iter().all(|c| c.starts_with("Describe")),
        "dry run mutated: {calls:?}"
    );
    assert_eq!(f.ours().await.len(), 1);
    assert_eq!(f.btrfs_devices(), 1);
    // Nothing left pending: the next real check starts clean.
    assert!(
        !f.dir.path().join("state/ebs-grow").exists()
            || std::fs::read_dir(f.dir.path().join("state/ebs-grow"))
                .unwrap()
                .next()
                .is_none()
    );
}

/// Bad input is a one-line error with exit 2; a non-blank initial device is
/// refused with exit 5 and left intact.
#[tokio::test]
async fn bad_config_and_non_blank_devices_are_refused() {
    let f = Fixture::new(json!({}), small_config(json!({"max_volume": 3})));
    let out = f.run(&["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field `max_volume`"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let f = Fixture::new(json!({}), small_config(json!({})));
    let dev = rig::loopdev::LoopDevice::new(512 * MIB);
    let st = std::process::Command::new("mkfs.ext4")
        .args(["-q", dev.path_str()])
        .status()
        .unwrap();
    assert!(st.success());
    let out = f.run(&["init", "--initial-device", dev.path_str()]);
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not blank"),
        "{}",
        describe(&out)
    );
    let probe = std::process::Command::new("blkid")
        .args(["-p", "-o", "value", "-s", "TYPE", dev.path_str()])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&probe.stdout).trim(), "ext4");

    let out = f.run(&["check", "--fs", "xfs", "--strategy", "add"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}

/// An initial device of the admin's is used when blank, and teardown never
/// deletes it; teardown wants --yes, then removes exactly ebs-grow's
/// volumes, the mount and the fstab line.
#[tokio::test]
async fn teardown_deletes_only_what_ebs_grow_created() {
    let f = Fixture::new(json!({}), small_config(json!({})));
    f.ok(&["init"]);
    f.fill("a", 600 * MIB);
    f.ok(&["check"]);
    assert_eq!(f.ours().await.len(), 2);
    let out = f.run(&["teardown"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    let report = f.ok(&["teardown", "--yes"]);
    assert_eq!(report["action"], "torn-down", "{report}");
    assert!(f.ours().await.is_empty());
    assert!(!std::fs::read_to_string(&f.fstab).unwrap().contains("btrfs"));
    assert!(mooring::block::mount::mounted_at(&f.mp).unwrap().is_none());

    // The admin's own device: used, then kept.
    let g = Fixture::new(json!({}), small_config(json!({})));
    let dev = rig::loopdev::LoopDevice::new(GIB);
    let init = g.ok(&["init", "--initial-device", dev.path_str()]);
    assert_eq!(init["action"], "initialised", "{init}");
    assert!(g.ours().await.is_empty());
    g.ok(&["teardown", "--yes"]);
    let probe = std::process::Command::new("blkid")
        .args(["-p", "-o", "value", "-s", "TYPE", dev.path_str()])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&probe.stdout).trim(),
        "btrfs",
        "the admin's device was touched"
    );
}

/// btrfs with the modify strategy: the first growth resizes the volume in
/// place (`resize <devid>:max`); the next one, inside EC2's 6-hour window,
/// falls back to adding a volume.
#[tokio::test]
async fn btrfs_modify_then_falls_back_to_add() {
    let f = Fixture::new(json!({}), small_config(json!({"strategy": "modify"})));
    let init = f.ok(&["init"]);
    let vid = init["volume_id"].as_str().unwrap().to_string();
    f.fill("a", 600 * MIB);
    let before = f.df_total();
    let grown = f.ok(&["check"]);
    assert_eq!(grown["action"], "grown", "{grown}");
    assert_eq!(grown["volume_id"], vid.as_str());
    assert_eq!(f.btrfs_devices(), 1);
    assert!(
        f.df_total() >= before + GIB * 9 / 10,
        "btrfs did not grow in place"
    );
    f.fill("b", 700 * MIB);
    let added = f.ok(&["check"]);
    assert_eq!(added["action"], "added", "{added}");
    assert!(
        added["notes"][0].as_str().unwrap().contains("6 hours"),
        "{added}"
    );
    assert_eq!(f.btrfs_devices(), 2);
    assert_eq!(f.ours().await.len(), 2);
}

/// The sysfs reading of btrfs usage agrees with `btrfs filesystem usage`.
#[test]
fn btrfs_usage_from_sysfs_matches_btrfs_progs() {
    use rig::loopdev::{LoopDevice, MountGuard};
    let dir = rig::temp_dir("usage");
    let mp = dir.path().join("m");
    let a = LoopDevice::new(GIB);
    let b = LoopDevice::new(GIB);
    let run = |args: &[&str]| {
        let out = std::process::Command::new(args[0])
            .args(&args[1..])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(&["mkfs.btrfs", "-q", a.path_str()]);
    std::fs::create_dir_all(&mp).unwrap();
    let _m = MountGuard(mp.clone());
    run(&["mount", a.path_str(), mp.to_str().unwrap()]);
    run(&["btrfs", "device", "add", b.path_str(), mp.to_str().unwrap()]);
    run(&["fallocate", "-l", "700M", mp.join("f").to_str().unwrap()]);
    run(&["sync"]);
    let ours = {
        let source = mooring::block::mount::mounted_at(&mp)
            .unwrap()
            .unwrap()
            .source;
        let dir = mooring::block::btrfs::sysfs_dir(std::path::Path::new("/sys/fs/btrfs"), &source)
            .unwrap();
        let devices = mooring::block::btrfs::sysfs_devices(&dir).unwrap();
        let mut expect = vec![a.path.clone(), b.path.clone()];
        expect.sort();
        assert_eq!(devices, expect, "the devices sysfs lists");
        mooring::block::btrfs::usage_of(&dir).unwrap()
    };
    let text = run(&["btrfs", "filesystem", "usage", "-b", mp.to_str().unwrap()]);
    let value = |label: &str| -> u64 {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap();
        line.split(':')
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(ours.size, value("Device size"));
    assert_eq!(ours.used, value("Used:"));
    let theirs = value("Free (estimated)") as f64;
    assert!(
        (ours.free_estimated as f64 - theirs).abs() / theirs < 0.01,
        "{ours:?} vs {theirs}"
    );
}
