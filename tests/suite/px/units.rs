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
    manager_with(node, args, &[])
}

/// As [`manager`], with more programs at /usr/bin.
fn manager_with(node: &super::Node, args: &str, more: &[(&str, &Path)]) -> UserManager {
    let mut binaries = vec![("px-volume-claim", Path::new(BIN))];
    binaries.extend_from_slice(more);
    let manager = UserManager::start_with(&binaries);
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

/// The stand-in service started with the one volume of `template`, the
/// loop device the rig attached to `node`, as its only disk.
async fn started_with_the_claimed_device(
    f: &Fixture,
    node: &super::Node,
    template: &str,
    manager: &UserManager,
) {
    let started = std::fs::read_to_string(manager.path("started")).unwrap();
    let vols = f.volumes(template).await;
    assert_eq!(vols.len(), 1);
    let loop_dev = f.rig.devices(&node.inst)[&vols[0].0]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(started.trim(), format!("false -s {loop_dev}"));
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
    started_with_the_claimed_device(&f, &node, &template, &manager).await;
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

/// Issue 21, under a real systemd manager with the units verbatim: the
/// group scales the instance in; mooring-leave.service stops
/// mooring-leave.target, whose mooring-px-release.service stops the
/// storage service and detaches its volume, which is `available` when
/// the lifecycle action is completed.
#[tokio::test]
async fn on_scale_in_the_storage_service_stops_and_its_volume_is_released() {
    let f = Fixture::new();
    let template = f.template().await;
    let inst = f
        .rig
        .asg(json!({
            "name": "px-unit-leave", "size": 1, "az": AZ,
            "termination_hook": {"name": "px", "timeout": 300},
        }))
        .remove(0);
    let node = f.node_for(inst);
    let args = flags(&[(&template, 1)]).join(" ");
    let leave = Path::new(env!("CARGO_BIN_EXE_mooring-leave"));
    let manager = manager_with(&node, &args, &[("mooring-leave", leave)]);
    let env = node.tool.systemd_environment();
    manager.install_leave_units(&["mooring-px-release.service"], &env);
    manager.install(
        "mooring-px-release.service.d/test.conf",
        &format!(
            "[Service]\n{env}Environment=\"PX_VOLUME_CLAIM_ARGS={args}\"\nEnvironment=\"MOORING_SYSTEMCTL=systemctl --user\"\n"
        ),
    );
    for unit in [
        "portworx.service",
        "mooring-px-release.service",
        "mooring-leave.target",
    ] {
        manager.start_ok(unit, unit);
    }
    let volume = f.volumes(&template).await[0].0.clone();

    f.rig
        .autoscaling()
        .set_desired_capacity()
        .auto_scaling_group_name("px-unit-leave")
        .desired_capacity(0)
        .send()
        .await
        .unwrap();
    manager.start_ok("mooring-leave.service", "mooring-px-release.service");
    assert_eq!(
        manager.property("portworx.service", "ActiveState"),
        "inactive"
    );
    assert_eq!(
        manager.property("mooring-px-release.service", "Result"),
        "success"
    );
    assert_eq!(
        f.volumes(&template).await,
        vec![(volume, "available".to_string(), None)]
    );
    let (_, ended) = f.rig.lifecycle();
    assert_eq!(
        ended.get(&node.inst.id).map(String::as_str),
        Some("CONTINUE")
    );
}

/// Issue 23, the sandboxed form: mooring-px-claim.service (enabled, so
/// RequiredBy= portworx.service) claims before the service starts, with
/// no capabilities and a read-only system, and the service — given only
/// the example environment drop-in — starts with the claimed device. A
/// claim that cannot succeed keeps it from starting.
#[tokio::test]
async fn the_sandboxed_claim_unit_runs_before_the_service() {
    let f = Fixture::new();
    let template = f.template().await;
    let node = f.node(json!({ "az": AZ }));
    let manager = UserManager::start_with(&[("px-volume-claim", Path::new(BIN))]);
    manager.install("portworx.service", STANDIN);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    manager.install(
        "portworx.service.d/mooring-px-env.conf",
        &std::fs::read_to_string(
            root.join("dropins/portworx.service.d/mooring-px-env.conf.example"),
        )
        .unwrap(),
    );
    let unit = "mooring-px-claim.service";
    manager.install(
        unit,
        &std::fs::read_to_string(root.join("units").join(unit)).unwrap(),
    );
    // The test's run directory is writable as an admin would make a
    // directory of theirs (ReadWritePaths=); so is the manager's
    // /run/mooring, which a user manager's RuntimeDirectory= does not
    // make (it puts it under $XDG_RUNTIME_DIR).
    let run_dir = node.dir.join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    manager.mkdir_inside("/run/mooring");
    let args = flags(&[(&template, 1)]).join(" ");
    manager.install(
        "mooring-px-claim.service.d/zz-test.conf",
        &format!(
            "[Service]\n{}Environment=\"PX_VOLUME_CLAIM_ARGS={args}\"\nReadWritePaths={} /run/mooring\n{}",
            node.tool.systemd_environment(),
            run_dir.display(),
            rig::systemd::REFUSED_HERE
        ),
    );
    manager.enable_ok(unit);
    manager.start_ok("portworx.service", unit);
    started_with_the_claimed_device(&f, &node, &template, &manager).await;
    assert_eq!(manager.property(unit, "ActiveState"), "active");

    // Bad configuration: the claim fails, the service does not start.
    manager.systemctl(&["stop", "portworx.service", unit]);
    std::fs::remove_file(manager.path("started")).unwrap();
    manager.install(
        "mooring-px-claim.service.d/zz-zbad.conf",
        "[Service]\nEnvironment=\"PX_VOLUME_CLAIM_ARGS=--cluster-id c --template snap-123:3\"\n",
    );
    assert!(!manager
        .systemctl(&["start", "portworx.service"])
        .status
        .success());
    assert!(!manager.path("started").exists(), "the service ran");
    assert_eq!(manager.property(unit, "ActiveState"), "failed");
}
