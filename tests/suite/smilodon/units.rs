use super::{Fixture, Node, AZ, BIN};
use rig::systemd::{verify, UserManager};
use std::path::{Path, PathBuf};

const DEBIAN_ETCD_UNIT: &str = "/lib/systemd/system/etcd.service";

fn dropin(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("dropins")
        .join(rel)
}

/// A stand-in for zookeeper.service (ZooKeeper itself is not installed
/// here): it records what the drop-in gave it, from inside the manager's
/// mount namespace, where the volume is mounted.
const ZOOKEEPER_STANDIN: &str = "[Unit]
Description=stand-in for ZooKeeper
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'echo \"$NODE_ID $NODE_IP $NODE_INTERFACE\" > %h/started; cat \"$NODE_MOUNTPOINT/myid\" > %h/myid; mountpoint -q \"$NODE_MOUNTPOINT\" && stat -c %%U \"$NODE_MOUNTPOINT\" > %h/mounted'
";

/// The drop-ins verify clean: on a ZooKeeper unit, and on Debian's
/// etcd.service (whose own deprecation notice is not ours).
#[test]
fn dropins_verify() {
    let bin = [("smilodon-attach", Path::new(BIN))];
    let dir = rig::temp_dir("zk-unit");
    let zk = dir.path().join("zookeeper.service");
    std::fs::write(&zk, ZOOKEEPER_STANDIN).unwrap();
    let stderr = verify(
        &[
            ("zookeeper.service", zk.clone()),
            (
                "zookeeper.service.d/mooring-smilodon-attach.conf",
                dropin("zookeeper.service.d/mooring-smilodon-attach.conf"),
            ),
            (
                "zookeeper.service.d/mooring-smilodon-attach-spare.conf",
                dropin("zookeeper.service.d/mooring-smilodon-attach-spare.conf.example"),
            ),
        ],
        &["zookeeper.service"],
        &bin,
    );
    assert!(stderr.is_empty(), "systemd-analyze verify: {stderr}");
    let stderr = verify(
        &[
            ("etcd.service", PathBuf::from(DEBIAN_ETCD_UNIT)),
            (
                "etcd.service.d/mooring-smilodon-attach.conf",
                dropin("etcd.service.d/mooring-smilodon-attach.conf"),
            ),
        ],
        &["etcd.service"],
        &bin,
    );
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.contains("PermissionsStartOnly"))
        .collect();
    assert!(ours.is_empty(), "systemd-analyze verify: {stderr}");
}

/// An admin's drop-in for the test: this simulated instance's environment
/// and a mountpoint under the test's directory.
fn test_conf(node: &Node, extra: &str) -> String {
    let env = node.tool.systemd_environment();
    format!(
        "[Service]\n{env}Environment=SMILODON_MOUNTPOINT={}\nEnvironment=SMILODON_OWNER=nobody:nogroup\nEnvironment=\"SMILODON_ATTACH_ARGS=--filters tag:Service=zk\"\n{extra}",
        node.mountpoint().display()
    )
}

fn manager_for(node: &Node) -> UserManager {
    let manager = UserManager::start_in(
        node.inst.netns.as_deref(),
        &[("smilodon-attach", Path::new(BIN))],
    );
    manager.install("zookeeper.service", ZOOKEEPER_STANDIN);
    manager.install(
        "zookeeper.service.d/mooring-smilodon-attach.conf",
        &std::fs::read_to_string(dropin("zookeeper.service.d/mooring-smilodon-attach.conf"))
            .unwrap(),
    );
    manager
}

fn status(manager: &UserManager) -> String {
    String::from_utf8_lossy(&manager.systemctl(&["status", "zookeeper.service"]).stdout)
        .into_owned()
}

/// zookeeper.service with the drop-in under a real systemd manager running
/// in the instance's network namespace: the pair is attached before the
/// service starts, which sees NODE_* from the env file, its myid (NodeID
/// + 1) and its data volume mounted and owned by its user; a restart keeps
/// the same node. A second instance, with no pair left and the spare
/// drop-in, has the service skipped — inactive, not failed.
#[tokio::test]
async fn zookeeper_starts_on_its_node_and_a_spare_is_skipped() {
    let f = Fixture::new();
    let pair = f.pair("4", AZ).await;
    let node = f.node(AZ);
    let manager = manager_for(&node);
    manager.install("zookeeper.service.d/zz-test.conf", &test_conf(&node, ""));
    for round in 0..2 {
        let out = manager.systemctl(&["restart", "zookeeper.service"]);
        assert!(
            out.status.success(),
            "round {round}: zookeeper.service did not start: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            status(&manager)
        );
        let started = std::fs::read_to_string(manager.path("started")).unwrap();
        let (_, mac, ip) = f.eni_state(&pair.eni_id).await;
        let iface = node
            .inst
            .interfaces()
            .into_iter()
            .find(|(_, m)| *m == mac)
            .expect("the ENI's interface")
            .0;
        assert_eq!(started.trim(), format!("4 {ip} {iface}"));
        assert_eq!(
            std::fs::read_to_string(manager.path("myid")).unwrap(),
            "5\n"
        );
        assert_eq!(
            std::fs::read_to_string(manager.path("mounted")).unwrap(),
            "nobody\n"
        );
    }
    assert_eq!(
        f.volume_holder(&pair.volume_id).await,
        Some(node.inst.id.clone())
    );

    // One manager at a time (rig::systemd): the first goes before the
    // spare's starts.
    drop(manager);
    let spare = f.node(AZ);
    let manager = manager_for(&spare);
    manager.install(
        "zookeeper.service.d/mooring-smilodon-attach-spare.conf",
        &std::fs::read_to_string(dropin(
            "zookeeper.service.d/mooring-smilodon-attach-spare.conf.example",
        ))
        .unwrap(),
    );
    manager.install("zookeeper.service.d/zz-test.conf", &test_conf(&spare, ""));
    let _ = manager.systemctl(&["start", "zookeeper.service"]);
    assert_eq!(
        manager.property("zookeeper.service", "ActiveState"),
        "inactive",
        "{}",
        status(&manager)
    );
    assert_eq!(manager.property("zookeeper.service", "Result"), "success");
    assert!(
        !manager.path("started").exists(),
        "the spare started ZooKeeper"
    );

    // Without the spare drop-in, no pair is a failure (exit 6), and the
    // service does not start.
    std::fs::remove_file(
        manager
            .unit_dir
            .join("zookeeper.service.d/mooring-smilodon-attach-spare.conf"),
    )
    .unwrap();
    manager.install("zookeeper.service.d/zz-test.conf", &test_conf(&spare, ""));
    let out = manager.systemctl(&["start", "zookeeper.service"]);
    assert!(!out.status.success(), "{}", status(&manager));
    assert_eq!(
        manager.property("zookeeper.service", "ActiveState"),
        "failed"
    );
    assert!(
        !manager.path("started").exists(),
        "the spare started ZooKeeper"
    );
}

/// Debian's etcd.service with the smilodon drop-in, under a real systemd
/// manager in the instance's network namespace: etcd starts as member
/// node-NODE_ID on the ENI's address with its data on the node's volume,
/// and after a restart it is the same member with the same data.
#[tokio::test]
async fn etcd_runs_as_its_node_on_the_enis_address() {
    let f = Fixture::new();
    let pair = f.pair("0", AZ).await;
    let node = f.node(AZ);
    let (_, _, ip) = f.eni_state(&pair.eni_id).await;
    let manager = UserManager::start_in(
        node.inst.netns.as_deref(),
        &[("smilodon-attach", Path::new(BIN))],
    );
    manager.install(
        "etcd.service",
        &std::fs::read_to_string(DEBIAN_ETCD_UNIT).unwrap(),
    );
    manager.install(
        "etcd.service.d/mooring-smilodon-attach.conf",
        &std::fs::read_to_string(dropin("etcd.service.d/mooring-smilodon-attach.conf")).unwrap(),
    );
    // The user manager cannot switch to Debian's etcd user; the static
    // cluster is this one node.
    let extra = format!(
        "User=\nStandardError=append:%h/etcd.err\nEnvironment=SMILODON_OWNER=etcd:etcd\nEnvironment=ETCD_INITIAL_CLUSTER=node-0=http://{ip}:2380\nEnvironment=ETCD_INITIAL_CLUSTER_TOKEN=smilodon-test\n"
    );
    // (A later Environment= of the same variable wins.)
    manager.install("etcd.service.d/zz-test.conf", &test_conf(&node, &extra));
    let etcdctl = |args: &[&str]| {
        let out = std::process::Command::new("nsenter")
            .arg(format!(
                "--net=/run/netns/{}",
                node.inst.netns.as_deref().unwrap()
            ))
            .args(["etcdctl", "--endpoints", &format!("http://{ip}:2379")])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "etcdctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let start = || {
        let out = manager.systemctl(&["start", "etcd.service"]);
        assert!(
            out.status.success(),
            "etcd.service did not start: {}\n{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&manager.systemctl(&["status", "etcd.service"]).stdout),
            std::fs::read_to_string(manager.path("etcd.err")).unwrap_or_default()
        );
    };
    start();
    let members = etcdctl(&["member", "list"]);
    assert!(
        members.contains("node-0") && members.contains(&format!("http://{ip}:2380")),
        "{members}"
    );
    etcdctl(&["put", "znode", "kept"]);
    let out = manager.systemctl(&["stop", "etcd.service"]);
    assert!(out.status.success());
    start();
    assert_eq!(
        etcdctl(&["get", "znode", "--print-value-only"]).trim(),
        "kept"
    );
    assert_eq!(etcdctl(&["member", "list"]), members);
    let out = manager.systemctl(&["stop", "etcd.service"]);
    assert!(out.status.success());
}

/// Issue 21, a spare wired as the README says (the spare drop-in and
/// `mooring-smilodon-spare@zookeeper.timer`, verbatim, its period shortened
/// to 2 s by a drop-in) under a real systemd manager: while every pair is
/// held the timer's tries leave ZooKeeper skipped; once the holder releases
/// its pair, the next try (at most two periods later) claims it, mounts it
/// with the holder's data and starts ZooKeeper; then the tries stop.
#[tokio::test]
async fn a_spare_timer_takes_a_freed_pair_and_starts_the_service() {
    let f = Fixture::new();
    let pair = f.pair("3", AZ).await;
    let spare = f.node(AZ);
    let manager = manager_for(&spare);
    // The holder mounts after the spare's manager has its own mount
    // namespace (another machine's mount must not pin the volume there).
    let holder = f.node(AZ);
    let mp = holder.mountpoint();
    let out = holder.run(&["--mountpoint", mp.to_str().unwrap(), "--mkfs", "ext4"]);
    assert!(out.status.success(), "{}", rig::tool::describe(&out));
    std::fs::write(mp.join("data"), "node 3's state\n").unwrap();
    manager.install(
        "zookeeper.service.d/mooring-smilodon-attach-spare.conf",
        &std::fs::read_to_string(dropin(
            "zookeeper.service.d/mooring-smilodon-attach-spare.conf.example",
        ))
        .unwrap(),
    );
    // The idle record where the spare unit's condition looks for it: the
    // manager's own /run.
    let extra = "Environment=MOORING_RUN_DIR=/run/mooring\nStandardError=append:%h/zk.err\nExecStartPost=/bin/sh -c 'cat \"$NODE_MOUNTPOINT/data\" > %h/data'\n";
    manager.install(
        "zookeeper.service.d/zz-test.conf",
        &test_conf(&spare, extra),
    );
    for unit in [
        "mooring-smilodon-spare@.service",
        "mooring-smilodon-spare@.timer",
    ] {
        let text = std::fs::read_to_string(rig::repo_root().join("units").join(unit)).unwrap();
        manager.install(unit, &text);
    }
    let tries = manager.path("spare-tries");
    manager.install(
        "mooring-smilodon-spare@.service.d/test.conf",
        &format!(
            "[Service]\nEnvironment=MOORING_SYSTEMCTL_SCOPE=--user\nExecStartPre=/bin/sh -c 'echo try >> {}'\n",
            tries.display()
        ),
    );
    manager.install(
        "mooring-smilodon-spare@.timer.d/test.conf",
        "[Timer]\nOnBootSec=\nOnActiveSec=1s\nOnUnitInactiveSec=2s\nRandomizedDelaySec=1s\nAccuracySec=100ms\n",
    );
    let count = || {
        std::fs::read_to_string(&tries)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };

    let wait_for = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
        while !done() {
            assert!(
                std::time::Instant::now() < deadline,
                "{what} within 90 s ({} tries; {}): {}\n{}\n{}",
                count(),
                std::fs::read_to_string(manager.path("zk.err")).unwrap_or_default(),
                String::from_utf8_lossy(
                    &manager
                        .systemctl(&[
                            "show",
                            "mooring-smilodon-spare@zookeeper.service",
                            "-p",
                            "ConditionResult,ConditionTimestamp,Result,InactiveEnterTimestamp,ActiveEnterTimestamp,ExecMainStatus,AssertResult,ConditionTimestampMonotonic"
                        ])
                        .stdout
                ),
                status(&manager),
                String::from_utf8_lossy(
                    &manager
                        .systemctl(&[
                            "status",
                            "mooring-smilodon-spare@zookeeper.service",
                            "mooring-smilodon-spare@zookeeper.timer"
                        ])
                        .stdout
                )
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    // Boot: timers.target comes first, so the timer's first elapse finds
    // no idle record yet (the timer goes on); then ZooKeeper's start finds
    // no free pair: a spare.
    manager.start_ok(
        "mooring-smilodon-spare@zookeeper.timer",
        "mooring-smilodon-spare@zookeeper.timer",
    );
    let spare_unit = "mooring-smilodon-spare@zookeeper.service";
    let checked = || manager.property(spare_unit, "ConditionTimestampMonotonic");
    wait_for("the timer's first elapse", &|| checked() != "0");
    assert_eq!(manager.property(spare_unit, "ConditionResult"), "no");
    let _ = manager.systemctl(&["start", "zookeeper.service"]);
    assert_eq!(
        manager.property("zookeeper.service", "ActiveState"),
        "inactive",
        "{}",
        status(&manager)
    );
    // Two tries while the pair is held: still a spare.
    wait_for("two tries", &|| {
        count() >= 2
            && manager.property("mooring-smilodon-spare@zookeeper.service", "ActiveState")
                != "activating"
    });
    assert!(
        !manager.path("started").exists(),
        "a spare started ZooKeeper"
    );
    assert_eq!(
        f.volume_holder(&pair.volume_id).await.as_deref(),
        Some(holder.inst.id.as_str())
    );

    // The holder leaves.
    let out = holder.run(&[
        "--mountpoint",
        mp.to_str().unwrap(),
        "release",
        "--when",
        "always",
    ]);
    assert!(out.status.success(), "{}", rig::tool::describe(&out));
    let released_at = count();
    wait_for("ZooKeeper started on the spare", &|| {
        manager.property("zookeeper.service", "ActiveState") == "active"
    });
    let took = count() - released_at;
    assert!(took <= 2, "{took} tries after the release");
    assert_eq!(
        std::fs::read_to_string(manager.path("data")).unwrap(),
        "node 3's state\n"
    );
    assert_eq!(
        std::fs::read_to_string(manager.path("started"))
            .unwrap()
            .split_whitespace()
            .next(),
        Some("3")
    );
    assert_eq!(
        f.volume_holder(&pair.volume_id).await.as_deref(),
        Some(spare.inst.id.as_str())
    );
    // Holding a pair, the spare's condition fails: the next elapse
    // starts nothing.
    let held_at = count();
    let last = checked();
    wait_for("the timer's next elapse", &|| {
        checked() != last && manager.property(spare_unit, "ConditionResult") == "no"
    });
    assert_eq!(count(), held_at, "a try while holding a pair");
}
