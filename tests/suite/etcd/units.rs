use super::{Fixture, BIN};
use rig::systemd::{verify, UserManager};
use std::path::{Path, PathBuf};

const DEBIAN_UNIT: &str = "/lib/systemd/system/etcd.service";

fn dropin() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("dropins/etcd.service.d/mooring-etcd-member-prepare.conf")
}

/// Our drop-in on Debian's etcd.service verifies clean (Debian's own unit
/// has a deprecation notice of its own; nothing may name ours).
#[test]
fn dropin_verifies_on_debians_unit() {
    let stderr = verify(
        &[
            ("etcd.service", PathBuf::from(DEBIAN_UNIT)),
            ("etcd.service.d/mooring-etcd-member-prepare.conf", dropin()),
        ],
        &["etcd.service"],
        &[("etcd-member-prepare", Path::new(BIN))],
    );
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.contains("PermissionsStartOnly"))
        .collect();
    assert!(ours.is_empty(), "systemd-analyze verify: {stderr}");
}

/// Debian's etcd.service with our drop-in under a real systemd manager:
/// the prepare runs first, etcd starts from the env file it wrote; a
/// failing prepare keeps etcd from starting.
#[tokio::test]
async fn etcd_service_starts_from_the_env_file_and_not_after_a_failure() {
    let mut f = Fixture::new("unit", 1);
    f.launch();
    let manager = UserManager::start_with(&[("etcd-member-prepare", Path::new(BIN))]);
    manager.install(
        "etcd.service",
        &std::fs::read_to_string(DEBIAN_UNIT).unwrap(),
    );
    manager.install(
        "etcd.service.d/mooring-etcd-member-prepare.conf",
        &std::fs::read_to_string(dropin()).unwrap(),
    );
    let node = &f.nodes[0];
    let env = node.tool.systemd_environment();
    // An admin's drop-in: this simulated instance's environment; the user
    // manager cannot switch to Debian's etcd user.
    let test_conf = format!(
        "[Service]\nUser=\n{env}Environment=ETCD_DATA_DIR={}\nEnvironment=\"ETCD_MEMBER_PREPARE_ARGS=--initial-size 1 --peer-port {} --client-port {}\"\n",
        node.data_dir().display(),
        f.peer_port,
        f.client_port
    );
    manager.install("etcd.service.d/test.conf", &test_conf);
    let out = manager.systemctl(&["start", "etcd.service"]);
    assert!(
        out.status.success(),
        "etcd.service did not start: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&manager.systemctl(&["status", "etcd.service"]).stdout)
    );
    let members = f.members(0).await;
    assert_eq!(members, vec![(f.nodes[0].inst.id.clone(), false)]);
    let out = manager.systemctl(&["stop", "etcd.service"]);
    assert!(out.status.success());

    // IMDS unreachable: prepare exits 7 and etcd must not start.
    manager.install(
        "etcd.service.d/zz-broken.conf",
        "[Service]\nEnvironment=AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:9\n",
    );
    let out = manager.systemctl(&["start", "etcd.service"]);
    assert!(
        !out.status.success(),
        "etcd.service started after a failed prepare"
    );
    assert_eq!(manager.property("etcd.service", "ActiveState"), "failed");
    assert_eq!(
        manager.property("etcd.service", "ExecMainPID"),
        "0",
        "etcd itself ran"
    );
    drop(manager);
}

/// The leave units verbatim under a real systemd manager: while the group
/// keeps the instance, mooring-leave.service changes nothing; once the
/// group terminates it, the service stops mooring-leave.target, whose
/// mooring-etcd-leave.service removes the member from its ExecStop=, and
/// the lifecycle action is completed (the rig then terminates the
/// instance).
#[tokio::test]
async fn the_leave_target_runs_the_etcd_leave_step_on_scale_in() {
    let mut f = Fixture::new("leave-unit", 4);
    super::scale_in::group(&mut f, "etcd-leave-unit", 4).await;
    let n = 3;
    let leave_bin = Path::new(env!("CARGO_BIN_EXE_mooring-leave"));
    let manager = UserManager::start_with(&[
        ("etcd-member-prepare", Path::new(BIN)),
        ("mooring-leave", leave_bin),
    ]);
    // No etcd.service here: the node's etcd runs outside the manager, and
    // managers in one cgroup that run units of one name share that
    // unit's cgroup (the test beside this one runs an etcd.service).
    let env = f.nodes[n].tool.systemd_environment();
    manager.install_leave_units(&["mooring-etcd-leave.service"], &env);
    let args: Vec<String> = f.args(n, "leave").into_iter().skip(1).collect();
    let step_log = f.dir.path().join("leave-step.log");
    manager.install(
        "mooring-etcd-leave.service.d/test.conf",
        &format!(
            "[Service]\n{env}Environment=\"ETCD_MEMBER_PREPARE_ARGS={}\"\nStandardError=append:{}\n",
            args.join(" "),
            step_log.display()
        ),
    );
    for unit in ["mooring-etcd-leave.service", "mooring-leave.target"] {
        manager.start_ok(unit, unit);
    }

    // In service: nothing happens.
    manager.start_ok("mooring-leave.service", "mooring-leave.service");
    assert_eq!(
        manager.property("mooring-etcd-leave.service", "ActiveState"),
        "active"
    );
    assert_eq!(f.members(0).await.len(), 4);

    f.rig
        .autoscaling()
        .terminate_instance_in_auto_scaling_group()
        .instance_id(&f.nodes[n].inst.id)
        .should_decrement_desired_capacity(true)
        .send()
        .await
        .unwrap();
    manager.start_ok("mooring-leave.service", "mooring-etcd-leave.service");
    assert_eq!(
        manager.property("mooring-etcd-leave.service", "ActiveState"),
        "inactive",
        "{}",
        std::fs::read_to_string(&step_log).unwrap_or_default()
    );
    assert_eq!(
        manager.property("mooring-etcd-leave.service", "Result"),
        "success"
    );
    let members = f.members(0).await;
    assert_eq!(members.len(), 3, "{members:?}");
    assert!(!members.iter().any(|(name, _)| name == &f.nodes[n].inst.id));
    let (_, ended) = f.rig.lifecycle();
    assert_eq!(
        ended.get(&f.nodes[n].inst.id).map(String::as_str),
        Some("CONTINUE")
    );
    drop(manager);
}

/// etcd-member-snapshot.service as shipped, under a real systemd manager
/// (the bucket set by an admin's drop-in): started on a one-member
/// cluster's leader, it uploads one snapshot and ends `inactive`/success;
/// started again with no write, it uploads nothing.
#[tokio::test]
async fn the_snapshot_service_uploads_from_the_leader() {
    let mut f = Fixture::new("snap-unit", 1);
    f.bootstrap(1).await;
    f.put(0, "k", "v").await;
    let s3 = f.rig.s3();
    s3.create_bucket().bucket("snap-unit").send().await.unwrap();
    let manager = UserManager::start_with(&[("etcd-member-prepare", Path::new(BIN))]);
    let unit = "etcd-member-snapshot.service";
    manager.install(
        unit,
        &std::fs::read_to_string(rig::repo_root().join("units").join(unit)).unwrap(),
    );
    manager.install(
        "etcd-member-snapshot.timer",
        &std::fs::read_to_string(rig::repo_root().join("units/etcd-member-snapshot.timer"))
            .unwrap(),
    );
    let env = f.nodes[0].tool.systemd_environment();
    let args: Vec<String> = f.args(0, "snapshot").into_iter().skip(1).collect();
    let log = f.dir.path().join("snapshot.log");
    manager.install(
        "etcd-member-snapshot.service.d/test.conf",
        &format!(
            "[Service]\n{env}Environment=ETCD_PREPARE_SNAPSHOT_BUCKET=snap-unit\nEnvironment=\"ETCD_MEMBER_PREPARE_ARGS={}\"\nStandardError=append:{}\n{}",
            args.join(" "),
            log.display(),
            rig::systemd::REFUSED_HERE
        ),
    );
    let count = || async {
        s3.list_objects_v2()
            .bucket("snap-unit")
            .send()
            .await
            .unwrap()
            .contents()
            .len()
    };
    for expected in [1, 1] {
        manager.start_ok(unit, unit);
        assert_eq!(manager.property(unit, "Result"), "success");
        assert_eq!(
            count().await,
            expected,
            "{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("nothing to upload"),
        "the second start uploaded"
    );
    drop(manager);
}
