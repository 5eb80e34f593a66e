use mooring::aws::instance::describe_instance;
use mooring::aws::volumes;
use mooring::aws::Aws;
use mooring::block::mount::{mount_by_uuid, mounted_at};
use mooring::block::probe::fs_identity;
use mooring::block::resolve::Via;
use mooring::block::{mkfs, probe, Blankness, FsType, MkfsPolicy};
use mooring::exit::{code_for, Code};
use mooring::wait::Deadline;
use rig::loopdev::{LoopDevice, MountGuard};
use rig::{temp_dir, Rig};
use serde_json::json;
use std::io::{Seek, SeekFrom, Write};
use std::process::Command;
use std::time::{Duration, SystemTime};

const MIB: u64 = 1 << 20;

fn sh(cmd: &str) {
    let st = Command::new("sh").args(["-c", cmd]).status().unwrap();
    assert!(st.success(), "{cmd}");
}

#[test]
fn mkfs_refuses_a_device_holding_btrfs_and_leaves_it_intact() {
    let dev = LoopDevice::new(256 * MIB);
    assert_eq!(probe(&dev.path).unwrap(), Blankness::Blank);
    let uuid = mkfs(
        &dev.path,
        None,
        FsType::Btrfs,
        Some("data"),
        MkfsPolicy::BlankOnly,
    )
    .unwrap();
    let Blankness::NotBlank(why) = probe(&dev.path).unwrap() else {
        panic!("btrfs counted as blank")
    };
    assert!(why.contains("TYPE=btrfs"), "{why}");
    for fs in [FsType::Xfs, FsType::Ext4, FsType::Btrfs] {
        let err = mkfs(&dev.path, Some("vol-0abc"), fs, None, MkfsPolicy::BlankOnly).unwrap_err();
        assert_eq!(code_for(&err), Code::Unsafe, "{err:#}");
        let msg = format!("{err:#}");
        assert!(
            msg.contains(dev.path_str()) && msg.contains("vol-0abc"),
            "error does not name the device: {msg}"
        );
    }
    assert_eq!(
        fs_identity(&dev.path).unwrap(),
        Some((uuid, "btrfs".to_string()))
    );
}

#[test]
fn partition_tables_lvm_and_raw_data_are_not_blank() {
    let gpt = LoopDevice::new(64 * MIB);
    sh(&format!("echo 'label: gpt' | sfdisk -q {}", gpt.path_str()));
    assert!(
        matches!(probe(&gpt.path).unwrap(), Blankness::NotBlank(w) if w.contains("PTTYPE=gpt"))
    );

    let pv = LoopDevice::new(64 * MIB);
    sh(&format!("pvcreate -q {} >/dev/null 2>&1", pv.path_str()));
    assert!(
        matches!(probe(&pv.path).unwrap(), Blankness::NotBlank(w) if w.contains("LVM2_member"))
    );
    sh(&format!("pvremove -q {} >/dev/null 2>&1", pv.path_str()));

    // A database's raw pages: no signature blkid knows, still data.
    let raw = LoopDevice::new(64 * MIB);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&raw.path)
        .unwrap();
    f.seek(SeekFrom::Start(4096)).unwrap();
    f.write_all(b"precious rows").unwrap();
    f.sync_all().unwrap();
    let verdict = probe(&raw.path).unwrap();
    assert!(
        matches!(&verdict, Blankness::NotBlank(w) if w.contains("byte 4096")),
        "{verdict:?}"
    );
    let err = mkfs(&raw.path, None, FsType::Ext4, None, MkfsPolicy::BlankOnly).unwrap_err();
    assert_eq!(code_for(&err), Code::Unsafe);
}

#[test]
fn mounts_by_uuid_idempotently_and_refuses_a_foreign_mount() {
    let a = LoopDevice::new(64 * MIB);
    let b = LoopDevice::new(64 * MIB);
    let ua = mkfs(&a.path, None, FsType::Ext4, None, MkfsPolicy::BlankOnly).unwrap();
    let ub = mkfs(&b.path, None, FsType::Ext4, None, MkfsPolicy::BlankOnly).unwrap();
    let dir = temp_dir("mnt");
    let mp = dir.path().join("data");
    let _guard = MountGuard(mp.clone());
    mount_by_uuid(&ua, "ext4", &mp, "defaults,noatime", &a.path).unwrap();
    let entry = mounted_at(&mp).unwrap().unwrap();
    assert_eq!(entry.source, a.path_str());
    mount_by_uuid(&ua, "ext4", &mp, "defaults,noatime", &a.path).unwrap();
    assert_eq!(
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .matches(&format!(" {} ", mp.display()))
            .count(),
        1,
        "mounted twice"
    );
    let err = mount_by_uuid(&ub, "ext4", &mp, "defaults", &b.path).unwrap_err();
    assert_eq!(code_for(&err), Code::Unsafe, "{err:#}");
}

/// A volume cloned from a snapshot carries the same filesystem UUID:
/// mounting "by UUID" could pick either disk, so Mooring refuses.
#[test]
fn refuses_to_mount_a_uuid_two_disks_carry() {
    let a = LoopDevice::new(64 * MIB);
    let uuid = mkfs(&a.path, None, FsType::Ext4, None, MkfsPolicy::BlankOnly).unwrap();
    let clone = LoopDevice::new(64 * MIB);
    sh(&format!(
        "dd if={} of={} bs=1M status=none conv=notrunc",
        a.path_str(),
        clone.path_str()
    ));
    let dir = temp_dir("mnt");
    let mp = dir.path().join("data");
    let _guard = MountGuard(mp.clone());
    let err = mount_by_uuid(&uuid, "ext4", &mp, "defaults", &a.path).unwrap_err();
    assert_eq!(code_for(&err), Code::Unsafe);
    let msg = format!("{err:#}");
    assert!(
        msg.contains(a.path_str()) && msg.contains(clone.path_str()),
        "{msg}"
    );
    assert!(mounted_at(&mp).unwrap().is_none());
}

/// Only the volume this run created may be formatted past leftovers, and
/// only with the proof create_volume hands out.
#[tokio::test]
async fn fresh_volume_proof_allows_force_only_for_that_volume() {
    let rig = Rig::start();
    let inst = rig.instance(json!({"naming": "xen"}));
    let aws = Aws::connect(&rig.aws_options(&inst), Some("us-east-1"))
        .await
        .unwrap();
    let deadline = Deadline::after(Duration::from_secs(60));
    let spec = super::aws::spec(&inst.az, 1, &[]);
    let mine = volumes::create_volume(&aws.ec2, &spec, "fresh-1", SystemTime::now(), &deadline)
        .await
        .unwrap();
    let other = volumes::create_volume(&aws.ec2, &spec, "fresh-2", SystemTime::now(), &deadline)
        .await
        .unwrap();
    let me = describe_instance(&aws.ec2, &inst.id)
        .await
        .unwrap()
        .unwrap();
    let volumes::AttachOutcome::Attached { device } =
        volumes::attach_volume(&aws.ec2, &me, &mine.volume)
            .await
            .unwrap()
    else {
        panic!("not attached")
    };
    let found = inst
        .resolver()
        .wait(
            &mine.volume.volume_id,
            Some(&device),
            Some(mine.volume.size_bytes()),
            &deadline,
        )
        .await
        .unwrap();
    assert_eq!(found.via, Via::XenName);
    // Leftovers on the new volume (as if a crashed run had started mkfs).
    mkfs(
        &found.path,
        None,
        FsType::Btrfs,
        None,
        MkfsPolicy::BlankOnly,
    )
    .unwrap();
    let vid = mine.volume.volume_id.as_str();
    let wrong = other.fresh.as_ref().unwrap();
    let err = mkfs(
        &found.path,
        Some(vid),
        FsType::Xfs,
        None,
        MkfsPolicy::Fresh(wrong),
    )
    .unwrap_err();
    assert_eq!(code_for(&err), Code::Unsafe);
    let proof = mine.fresh.as_ref().unwrap();
    inst.resolver()
        .recheck(&found, Some(&device), Some(mine.volume.size_bytes()))
        .unwrap();
    mkfs(
        &found.path,
        Some(vid),
        FsType::Xfs,
        None,
        MkfsPolicy::Fresh(proof),
    )
    .unwrap();
    assert_eq!(fs_identity(&found.path).unwrap().unwrap().1, "xfs");
}
