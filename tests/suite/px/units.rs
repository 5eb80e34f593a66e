use super::{flags, Fixture, AZ, BIN};
use rig::systemd::{verify, UserManager};
use serde_json::json;
use std::path::{Path, PathBuf};

fn dropin() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("dropins/portworx.service.d/mooring-px-volume-claim.conf")
}

/// A stand-in for the storage service: it records the devices it was given.
const STANDIN: &str = "[Unit]
Description=stand-in for Portworx
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'echo \"$PX_CLAIM_STORAGELESS $PX_CLAIM_DEVICE_ARGS\" > %h/started'
";

/// A manager with the stand-in and the verbatim drop-in, and a test
/// drop-in giving `node`'s environment and `args` as PX_VOLUME_CLAIM_ARGS.
fn manager(node: &super::Node, args: &str) -> UserManager {
    let manager = UserManager::start_with(&[("px-volume-claim", Path::new(BIN))]);
    manager.install("portworx.service", STANDIN);
    manager.install(
        "portworx.service.d/mooring-px-volume-claim.conf",
        &std::fs::read_to_string(dropin()).unwrap(),
    );
    manager.install(
        "portworx.service.d/zz-test.conf",
        &format!(
            "[Service]\n{}Environment=\"PX_VOLUME_CLAIM_ARGS={args}\"\n",
            node.tool.systemd_environment()
        ),
    );
    manager
}

#[test]
fn dropin_verifies() {
    let dir = rig::temp_dir("px-unit");
    let unit = dir.path().join("portworx.service");
    std::fs::write(&unit, STANDIN).unwrap();
    let stderr = verify(
        &[
            ("portworx.service", unit),
            ("portworx.service.d/mooring-px-volume-claim.conf", dropin()),
        ],
        &["portworx.service"],
        &[("px-volume-claim", Path::new(BIN))],
    );
    assert!(stderr.is_empty(), "systemd-analyze verify: {stderr}");
}

/// The drop-in under a real systemd manager: the claim runs first and the
/// service starts with the claimed device in its environment.
#[tokio::test]
async fn the_service_starts_with_its_claimed_device() {
    let f = Fixture::new();
    let template = f.template().await;
    let node = f.node(json!({ "az": AZ }));
    let args = flags(&[(&template, 1)]).join(" ");
    let manager = manager(&node, &args);
    let out = manager.systemctl(&["start", "portworx.service"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&manager.systemctl(&["status", "portworx.service"]).stdout)
    );
    let started = std::fs::read_to_string(manager.path("started")).unwrap();
    let vols = f.volumes(&template).await;
    assert_eq!(vols.len(), 1);
    let loop_dev = f.rig.devices(&node.inst)[&vols[0].0]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(started.trim(), format!("false -s {loop_dev}"));
}

/// A claim that cannot succeed (a template that is not a volume ID: bad
/// input, exit 2) keeps the service from starting.
#[test]
fn the_service_does_not_start_on_bad_configuration() {
    let f = Fixture::new();
    let node = f.node(json!({ "az": AZ }));
    let manager = manager(&node, "--cluster-id c --template snap-123:3");
    manager.assert_start_fails("portworx.service");
    assert!(!manager.path("started").exists(), "the service ran");
    assert_eq!(manager.property("portworx.service", "ExecMainPID"), "0");
}
