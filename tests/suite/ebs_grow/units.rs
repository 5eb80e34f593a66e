use super::{small_config, Fixture, BIN, MIB};
use rig::systemd::{verify, UserManager};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn unit(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("units")
        .join(name)
}

#[test]
fn units_verify_clean() {
    let files: Vec<(&str, PathBuf)> = [
        "ebs-grow-init@.service",
        "ebs-grow@.service",
        "ebs-grow@.timer",
    ]
    .into_iter()
    .map(|n| (n, unit(n)))
    .collect();
    let stderr = verify(
        &files,
        &[
            "ebs-grow-init@scratch.service",
            "ebs-grow@scratch.service",
            "ebs-grow@scratch.timer",
        ],
        &[("ebs-grow", Path::new(BIN))],
    );
    assert!(
        stderr.is_empty(),
        "systemd-analyze verify complained: {stderr}"
    );
}

/// The verbatim units under a real systemd manager: the timer fires, the
/// check runs and grows the filesystem.
#[tokio::test]
async fn timer_fires_and_the_check_grows_the_filesystem() {
    let f = Fixture::new(json!({}), small_config(json!({})));
    f.ok(&["init"]);
    f.fill("a", 600 * MIB);
    // Mounted before the manager starts, so its namespace sees the mount.
    let manager = UserManager::start_with(&[("ebs-grow", Path::new(BIN))]);
    for name in ["ebs-grow@.service", "ebs-grow@.timer"] {
        manager.install(name, &std::fs::read_to_string(unit(name)).unwrap());
    }
    let instance = escape(&f.mp);
    // An admin's drop-ins: the environment of this simulated instance, and
    // a faster timer.
    let env = f.tool.systemd_environment();
    let log = manager.path("check.log");
    manager.install(
        "ebs-grow@.service.d/test.conf",
        &format!(
            "[Service]\n{env}StandardOutput=append:{0}\nStandardError=append:{0}\n",
            log.display()
        ),
    );
    manager.install(
        "ebs-grow@.timer.d/test.conf",
        // An empty On*Sec= resets every timer setting, so only one reset.
        "[Timer]\nOnActiveSec=\nOnActiveSec=1s\nOnUnitActiveSec=2s\nRandomizedDelaySec=0\n",
    );
    let timer = format!("ebs-grow@{instance}.timer");
    let service = format!("ebs-grow@{instance}.service");
    let out = manager.systemctl(&["start", &timer]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(90);
    while f.btrfs_devices() < 2 {
        assert!(
            Instant::now() < deadline,
            "the timer's check never grew the filesystem; result {} condition {}; status: {}; log: {}",
            manager.property(&service, "Result"),
            manager.property(&service, "ConditionResult"),
            String::from_utf8_lossy(&manager.systemctl(&["status", &timer, &service]).stdout),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(f.ours().await.len(), 2);
    drop(manager);
}

/// A service that needs the filesystem (Requires= and After= on
/// ebs-grow-init@) does not start when init cannot succeed (a filesystem
/// ebs-grow does not know: exit 2), and init — the unit's main process —
/// is not retried even with Restart=on-failure: RestartPreventExitStatus=.
#[test]
fn a_service_needing_the_filesystem_does_not_start_when_init_fails() {
    let f = Fixture::new(json!({}), small_config(json!({})));
    let manager = UserManager::start_with(&[("ebs-grow", Path::new(BIN))]);
    let name = "ebs-grow-init@.service";
    manager.install(name, &std::fs::read_to_string(unit(name)).unwrap());
    manager.install(
        "ebs-grow-init@.service.d/test.conf",
        &format!(
            "[Service]\n{}Environment=\"EBS_GROW_ARGS=--fs zfs\"\nRestart=on-failure\nRestartSec=100ms\n",
            f.tool.systemd_environment()
        ),
    );
    manager.install(
        "user-of-scratch.service",
        "[Unit]\nRequires=ebs-grow-init@scratch.service\nAfter=ebs-grow-init@scratch.service\n\
         [Service]\nType=oneshot\nExecStart=/bin/sh -c 'touch %h/started'\n",
    );
    let out = manager.systemctl(&["start", "user-of-scratch.service"]);
    assert!(!out.status.success(), "the service started");
    assert!(!manager.path("started").exists(), "the service ran");
    assert_eq!(
        manager.property("ebs-grow-init@scratch.service", "ActiveState"),
        "failed"
    );
    assert_eq!(
        manager.property("ebs-grow-init@scratch.service", "NRestarts"),
        "0"
    );
}

/// Issue 23, a first boot that heals: init's first pass fails
/// transiently (EC2 answers CreateVolume with 500s past the SDK's
/// retries) and init asks again within its run, so the unit's start job
/// still runs: a service with Requires= and After= on it waits and starts
/// once the filesystem is mounted. (A unit restart would fail the
/// service's job on systemd 252: Restart= is the unit's second line.)
#[test]
fn init_failing_transiently_is_retried_and_the_service_waits_for_it() {
    let f = Fixture::new(json!({}), small_config(json!({})));
    let manager = UserManager::start_with(&[("ebs-grow", Path::new(BIN))]);
    let name = "ebs-grow-init@.service";
    manager.install(name, &std::fs::read_to_string(unit(name)).unwrap());
    let instance = escape(&f.mp);
    let init = format!("ebs-grow-init@{instance}.service");
    let log = manager.path("init.log");
    manager.install(
        "ebs-grow-init@.service.d/test.conf",
        &format!(
            "[Service]\n{}StandardError=append:{}\n",
            f.tool.systemd_environment(),
            log.display()
        ),
    );
    manager.install(
        "user-of-scratch.service",
        &format!(
            "[Unit]\nRequires={init}\nAfter={init}\n\
             [Service]\nType=oneshot\nExecStart=/bin/sh -c 'mountpoint -q {} && touch %h/started'\n",
            f.mp.display()
        ),
    );
    // Every attempt of the first run (the tool makes 4) answered 500.
    f.rig
        .faults(json!([{"match": "CreateVolume", "times": 4, "fault": "error500"}]));
    let out = manager.systemctl(&["start", "user-of-scratch.service"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(manager.path("started").exists(), "started before the mount");
    assert_eq!(manager.property(&init, "NRestarts"), "0");
    assert_eq!(manager.property(&init, "ActiveState"), "active");
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("a transient failure: init again"),
        "the first pass did not fail transiently"
    );
}

/// Issue 23, journald fields: the check under a real systemd-journald
/// (services' stderr is its stream, `JOURNAL_STREAM` set by the manager)
/// logs through the journal's native protocol, so that a query on
/// `MOORING_TOOL`, `VOLUME_ID` and `MESSAGE_ID` finds the growth (with the
/// instance's ID), and one on `EXIT_CODE` the failed run that follows.
#[tokio::test]
async fn the_journal_gets_fields_a_query_selects_on() {
    use mooring::logging::events;
    let f = Fixture::new(json!({}), small_config(json!({})));
    f.ok(&["init"]);
    f.fill("a", 600 * MIB);
    let manager = UserManager::start_with_journal(&[("ebs-grow", Path::new(BIN))]);
    let name = "ebs-grow@.service";
    manager.install(name, &std::fs::read_to_string(unit(name)).unwrap());
    manager.install(
        "ebs-grow@.service.d/test.conf",
        &format!("[Service]\n{}", f.tool.systemd_environment()),
    );
    let service = format!("ebs-grow@{}.service", escape(&f.mp));
    manager.start_ok(&service, &service);
    assert_eq!(f.btrfs_devices(), 2, "the check did not grow");
    let mut grown = Vec::new();
    for v in f.ours().await {
        let id = v.volume_id().unwrap();
        grown.extend(manager.journal(&[
            "MOORING_TOOL=ebs-grow",
            &format!("VOLUME_ID={id}"),
            &format!("MESSAGE_ID={}", events::VOLUME_GROWN),
        ]));
    }
    assert_eq!(grown.len(), 1, "growth entries: {grown:?}");
    let entry = &grown[0];
    assert_eq!(entry["DECISION"], "added", "{entry}");
    assert_eq!(entry["INSTANCE_ID"], f.inst.id.as_str(), "{entry}");
    assert_eq!(entry["SYSLOG_IDENTIFIER"], "ebs-grow", "{entry}");
    assert!(
        entry["MESSAGE"].as_str().unwrap().starts_with("added vol-"),
        "{entry}"
    );
    // Only lines, no `<N>` prefixes: the journal has the priority.
    assert!(!entry["MESSAGE"].as_str().unwrap().starts_with('<'));

    // A run that fails on bad settings: one entry with its exit code.
    manager.install(
        "ebs-grow@.service.d/zz-bad.conf",
        "[Service]\nEnvironment=\"EBS_GROW_ARGS=--used-percent 200\"\n",
    );
    assert!(!manager.systemctl(&["start", &service]).status.success());
    let failed = manager.journal(&[
        "MOORING_TOOL=ebs-grow",
        "EXIT_CODE=2",
        &format!("MESSAGE_ID={}", events::RUN_FAILED),
    ]);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["PRIORITY"], "3", "{}", failed[0]);
    assert!(
        failed[0]["MESSAGE"]
            .as_str()
            .unwrap()
            .contains("used_percent must be a percentage"),
        "{}",
        failed[0]
    );
    drop(manager);
}

/// The unit instance name of a mountpoint (`systemd-escape --path`).
fn escape(path: &Path) -> String {
    let out = std::process::Command::new("systemd-escape")
        .args(["--path", path.to_str().unwrap()])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
