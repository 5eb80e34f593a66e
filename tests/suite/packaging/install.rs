//! The .deb on this machine: dpkg -i, every tool answers from /usr/bin,
//! nothing enabled, every unit and drop-in verifies as installed, dpkg -P
//! leaves nothing behind.

use super::{package, run, run_ok, shipped_from_repo, TOOLS};
use rig::systemd::verify_installed;
use std::path::Path;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The package installed for the length of a test; purged on drop, panics
/// included. It refuses to start when a mooring package is already
/// installed: that one is not ours to replace or remove.
struct Installed;

impl Installed {
    fn new(deb: &Path) -> Installed {
        let status = run("dpkg-query", &["-W", "-f=${Status}", "mooring"]);
        assert!(
            !String::from_utf8_lossy(&status.stdout).contains("installed"),
            "a mooring package is already installed on this machine; this test will not replace it (dpkg -P mooring first)"
        );
        let guard = Installed;
        run_ok("dpkg", &["-i", deb.to_str().unwrap()]);
        guard
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        let out = run("dpkg", &["-P", "mooring"]);
        if !out.status.success() && !std::thread::panicking() {
            panic!("dpkg -P mooring: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

/// The paths in the package (files, links and directories), from its
/// data archive.
fn package_paths(deb: &Path) -> Vec<String> {
    run_ok("dpkg-deb", &["-c", deb.to_str().unwrap()])
        .lines()
        .map(|line| {
            // "-rwxr-xr-x root/root 123 2026-01-01 00:00 ./usr/bin/x[ -> y]"
            let path = line.split(" ./").nth(1).expect("dpkg-deb -c line");
            let path = path.split(" -> ").next().unwrap();
            format!("/{}", path.trim_end_matches('/'))
        })
        .filter(|p| p != "/")
        .collect()
}

/// A stand-in for a service the machine does not have (ZooKeeper,
/// Portworx, the ECS agent), so that its drop-in can be verified.
const STANDIN: &str = "[Unit]\nDescription=stand-in\n[Service]\nExecStart=/bin/true\n";

#[test]
fn deb_installs_answers_verifies_and_purges_clean() {
    rig::require_root();
    let deb = package(&format!("debian/mooring_{VERSION}-1_amd64.deb"));

    // Nothing runs at install: no maintainer scripts, no files in /etc.
    let info = run_ok("dpkg-deb", &["-I", deb.to_str().unwrap()]);
    for script in ["preinst", "postinst", "prerm", "postrm"] {
        assert!(!info.contains(script), "the package has a {script}: {info}");
    }
    let paths = package_paths(&deb);
    assert!(paths.iter().all(|p| !p.starts_with("/etc")), "{paths:?}");
    let existed: Vec<bool> = paths.iter().map(|p| Path::new(p).exists()).collect();

    let installed = Installed::new(&deb);

    // One program, the five names linked to it, each answering as its own
    // program does (the test build of that tool is the reference).
    let mooring = Path::new("/usr/bin/mooring");
    assert!(mooring.is_file());
    assert_eq!(
        run_ok("/usr/bin/mooring", &["--version"]).trim(),
        format!("mooring {VERSION}")
    );
    for tool in TOOLS {
        let path = format!("/usr/bin/{tool}");
        assert_eq!(
            std::fs::read_link(&path).unwrap_or_default(),
            Path::new("mooring"),
            "{path} is not a link to mooring"
        );
        assert_eq!(
            run_ok(&path, &["--version"]).trim(),
            format!("{tool} {VERSION}")
        );
        let help = run_ok(&path, &["--help"]);
        let reference = run_ok(&super::examples::test_binary(tool), &["--help"]);
        assert_eq!(help, reference, "{tool} --help differs from the code's");
        assert_eq!(run_ok("/usr/bin/mooring", &[tool, "--help"]), reference);
    }

    // Units, drop-ins and documents as they are in the repository.
    for (dest, src) in shipped_from_repo() {
        assert_eq!(
            std::fs::read(&dest).unwrap_or_default(),
            std::fs::read(&src).unwrap(),
            "{dest} differs from {} (rebuild with make package)",
            src.display()
        );
    }
    for man in [
        "ebs-grow.8.gz",
        "ebs-grow-check.8.gz",
        "smilodon-attach.8.gz",
    ] {
        assert!(Path::new("/usr/share/man/man8").join(man).exists(), "{man}");
    }

    // Every unit and drop-in verifies as installed: our units, and the
    // services our drop-ins extend (Debian's etcd.service, stand-ins for
    // the rest). Debian's etcd.service carries a deprecation notice of its
    // own; nothing else may be said.
    let standins = rig::temp_dir("standins");
    for service in ["zookeeper.service", "portworx.service", "ecs.service"] {
        std::fs::write(standins.path().join(service), STANDIN).unwrap();
    }
    let stderr = verify_installed(
        &[standins.path(), Path::new("/usr/lib/systemd/system")],
        &[
            "ebs-grow-init@scratch.service",
            "ebs-grow@scratch.service",
            "ebs-grow@scratch.timer",
            "ecs-node-guard.service",
            "ecs-node-guard.timer",
            "mooring-leave.service",
            "mooring-leave.timer",
            "mooring-leave.target",
            "mooring-etcd-leave.service",
            "mooring-px-release.service",
            "mooring-px-claim.service",
            "mooring-ecs-configure.service",
            "mooring-ecs-drain.service",
            "mooring-smilodon-release@zookeeper.service",
            "mooring-smilodon-spare@zookeeper.service",
            "mooring-smilodon-spare@zookeeper.timer",
            "etcd-member-tidy.service",
            "etcd-member-tidy.timer",
            "etcd-member-snapshot.service",
            "etcd-member-snapshot.timer",
            "etcd.service",
            "zookeeper.service",
            "portworx.service",
            "ecs.service",
        ],
    );
    let said: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.contains("PermissionsStartOnly"))
        .collect();
    assert!(said.is_empty(), "systemd-analyze verify: {stderr}");

    // Nothing enabled: no link anywhere under /etc/systemd names our units.
    let ours = [
        "ebs-grow",
        "ecs-node-guard",
        "mooring-",
        "etcd-member-tidy",
        "etcd-member-snapshot",
    ];
    let enabled = run_ok("find", &["/etc/systemd", "-type", "l"]);
    for link in enabled.lines() {
        let target = std::fs::read_link(link).unwrap_or_default();
        assert!(
            !ours.iter().any(|u| target.to_string_lossy().contains(u)),
            "{link} -> {} was enabled by the install",
            target.display()
        );
    }

    drop(installed);
    let left: Vec<&String> = paths
        .iter()
        .zip(&existed)
        .filter(|(p, before)| !**before && Path::new(p).symlink_metadata().is_ok())
        .map(|(p, _)| p)
        .collect();
    assert!(left.is_empty(), "dpkg -P left {left:?}");
}
