use super::{Fixture, BIN, CLUSTER};
use rig::systemd::verify;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A stand-in for the ECS agent's unit: it records the ecs.config it
/// would read.
pub const ECS_STANDIN: &str = "[Unit]
Description=stand-in for the ECS agent
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'cat \"$ECS_GUARD_ECS_CONFIG\" > %h/seen'
";

pub fn units() -> Vec<(&'static str, PathBuf)> {
    vec![
        (
            "ecs-node-guard.service",
            repo("units/ecs-node-guard.service"),
        ),
        ("ecs-node-guard.timer", repo("units/ecs-node-guard.timer")),
        (
            "ecs.service.d/mooring-ecs-node-guard.conf",
            repo("dropins/ecs.service.d/mooring-ecs-node-guard.conf"),
        ),
    ]
}

#[test]
fn units_verify() {
    let dir = rig::temp_dir("ecs-unit");
    let standin = dir.path().join("ecs.service");
    std::fs::write(&standin, ECS_STANDIN).unwrap();
    let mut files = units();
    files.push(("ecs.service", standin));
    let stderr = verify(
        &files,
        &[
            "ecs.service",
            "ecs-node-guard.service",
            "ecs-node-guard.timer",
        ],
        &[("ecs-node-guard", Path::new(BIN))],
    );
    assert!(stderr.is_empty(), "systemd-analyze verify: {stderr}");
}

/// Under a real systemd manager: the drop-in configures ecs.config before
/// the agent's unit starts; the timer runs the check, which records a
/// healthy host.
#[tokio::test]
async fn configure_runs_before_the_agent_and_the_timer_checks() {
    let f = Fixture::new(1);
    let manager = f.manager();
    let config = f.dir.path().join("ecs.config");
    std::fs::write(&config, "ECS_LOGLEVEL=info\n").unwrap();
    let env = format!(
        "{}Environment=ECS_GUARD_ECS_CONFIG={}\nEnvironment=ECS_GUARD_DOCKER_ROOT={}\nEnvironment=ECS_GUARD_INTROSPECTION_URL={}\n",
        f.tool.systemd_environment(),
        config.display(),
        f.root.path.display(),
        f.agent.url
    );
    manager.install("ecs.service.d/zz-test.conf", &format!("[Service]\n{env}"));
    // The run directory is the test's (MOORING_RUN_DIR): writable as an
    // admin would make it, with ReadWritePaths=. The rest of the unit's
    // sandbox runs as shipped, but for what this machine refuses.
    let run_dir = f.state_file().parent().unwrap().to_path_buf();
    std::fs::create_dir_all(&run_dir).unwrap();
    manager.install(
        "ecs-node-guard.service.d/zz-test.conf",
        &format!(
            "[Service]\n{env}ReadWritePaths={}\n{}",
            run_dir.display(),
            rig::systemd::REFUSED_HERE
        ),
    );
    // Sooner than a real boot's two minutes; the other settings stay.
    manager.install(
        "ecs-node-guard.timer.d/zz-test.conf",
        "[Timer]\nOnActiveSec=1s\nRandomizedDelaySec=0\n",
    );
    let out = manager.systemctl(&["start", "ecs.service"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&manager.systemctl(&["status", "ecs.service"]).stdout)
    );
    let seen = std::fs::read_to_string(manager.path("seen")).unwrap();
    assert_eq!(seen, format!("ECS_LOGLEVEL=info\nECS_CLUSTER={CLUSTER}\n"));

    let out = manager.systemctl(&["start", "ecs-node-guard.timer"]);
    assert!(out.status.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f.state_file().exists() {
        assert!(
            Instant::now() < deadline,
            "the timer never ran the check: {}",
            String::from_utf8_lossy(
                &manager
                    .systemctl(&["status", "ecs-node-guard.service"])
                    .stdout
            )
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.state_file()).unwrap()).unwrap();
    assert_eq!(state["failures"], 0, "{state}");
    assert_eq!(
        manager.property("ecs-node-guard.service", "Result"),
        "success"
    );
}

/// A configure that cannot succeed (a flag the tool does not have: exit 2)
/// keeps the agent from starting.
#[test]
fn the_agent_does_not_start_when_configure_fails() {
    let f = Fixture::new(1);
    let manager = f.manager();
    let config = f.dir.path().join("ecs.config");
    manager.install(
        "ecs.service.d/zz-test.conf",
        &format!(
            "[Service]\n{}Environment=ECS_GUARD_ECS_CONFIG={}\nEnvironment=\"ECS_NODE_GUARD_CONFIGURE_ARGS=--no-such-flag\"\n",
            f.tool.systemd_environment(),
            config.display()
        ),
    );
    manager.assert_start_fails("ecs.service");
    assert!(!manager.path("seen").exists(), "the agent ran");
    assert!(!config.exists(), "configure wrote {}", config.display());
}

/// Issue 23, the sandboxed form: mooring-ecs-configure.service (enabled,
/// so RequiredBy= ecs.service) writes ecs.config before the agent starts,
/// with no capabilities and a read-only system; with bad flags the agent
/// does not start and nothing is written.
#[tokio::test]
async fn the_sandboxed_configure_unit_runs_before_the_agent() {
    let f = Fixture::new(1);
    let manager = f.manager();
    let unit = "mooring-ecs-configure.service";
    manager.install(
        unit,
        &std::fs::read_to_string(repo("units").join(unit)).unwrap(),
    );
    // The packaged drop-in's pre-command overridden by an empty file, as
    // the unit's comment says.
    manager.install("ecs.service.d/mooring-ecs-node-guard.conf", "");
    let config = f.dir.path().join("ecs.config");
    std::fs::write(&config, "ECS_LOGLEVEL=info\n").unwrap();
    let env = format!(
        "{}Environment=ECS_GUARD_ECS_CONFIG={}\n",
        f.tool.systemd_environment(),
        config.display()
    );
    manager.install("ecs.service.d/zz-test.conf", &format!("[Service]\n{env}"));
    // The rig's files live under /var/tmp: writable as an admin would
    // make a directory of theirs (ReadWritePaths=), and not hidden by
    // PrivateTmp= (the rest of the sandbox as shipped, but for what this
    // machine refuses).
    std::fs::create_dir_all(f.dir.path().join("run")).unwrap();
    manager.install(
        "mooring-ecs-configure.service.d/zz-test.conf",
        &format!(
            "[Service]\n{env}ReadWritePaths={}\nPrivateTmp=no\n{}",
            f.dir.path().display(),
            rig::systemd::REFUSED_HERE
        ),
    );
    manager.enable_ok(unit);
    manager.start_ok("ecs.service", unit);
    let seen = std::fs::read_to_string(manager.path("seen")).unwrap();
    assert_eq!(seen, format!("ECS_LOGLEVEL=info\nECS_CLUSTER={CLUSTER}\n"));
    assert_eq!(manager.property(unit, "ActiveState"), "active");

    manager.systemctl(&["stop", "ecs.service", unit]);
    std::fs::remove_file(manager.path("seen")).unwrap();
    std::fs::remove_file(&config).unwrap();
    manager.install(
        "mooring-ecs-configure.service.d/zz-zbad.conf",
        "[Service]\nEnvironment=\"ECS_NODE_GUARD_CONFIGURE_ARGS=--no-such-flag\"\n",
    );
    assert!(!manager
        .systemctl(&["start", "ecs.service"])
        .status
        .success());
    assert!(!manager.path("seen").exists(), "the agent ran");
    assert!(!config.exists(), "configure wrote {}", config.display());
    assert_eq!(manager.property(unit, "ActiveState"), "failed");
}
