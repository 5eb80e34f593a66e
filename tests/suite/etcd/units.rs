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
