//! What `make package` builds, as a user gets it: the .deb installed on
//! this machine (dpkg -i … dpkg -P), the RPM's contents, and the AMI recipe
//! (cloud-init examples, Packer template) checked against what the package
//! ships.

mod examples;
mod hardening;
mod install;
mod presets;
mod rpm;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The six tools, by the names the packages install.
pub const TOOLS: [&str; 6] = [
    "ebs-grow",
    "etcd-member-prepare",
    "smilodon-attach",
    "px-volume-claim",
    "ecs-node-guard",
    "mooring-leave",
];

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Where `make package` leaves its output.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// A package `make package` built: fails with what to run when absent.
pub fn package(rel: &str) -> PathBuf {
    let path = target_dir().join(rel);
    assert!(
        path.exists(),
        "{} is missing: run `make package` (make test does) before these tests",
        path.display()
    );
    path
}

pub fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

/// Run and require success; stdout.
pub fn run_ok(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {}: {}\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file the package should ship, from the repository, as
/// (installed path, repository file): units, drop-ins, docs.
pub fn shipped_from_repo() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut add_dir = |dir: &str, dest: &str| {
        let mut entries: Vec<_> = std::fs::read_dir(root().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            out.push((format!("{dest}/{name}"), path));
        }
    };
    add_dir("units", "/usr/lib/systemd/system");
    add_dir("packaging/iam", "/usr/share/doc/mooring/iam");
    add_dir(
        "packaging/cloud-init",
        "/usr/share/doc/mooring/examples/cloud-init",
    );
    add_dir("packaging/ami", "/usr/share/doc/mooring/examples/ami");
    add_dir("packaging/tmpfiles", "/usr/lib/tmpfiles.d");
    add_dir("packaging/preset", "/usr/lib/systemd/system-preset");
    for (src, dest) in [
        (
            "dropins/etcd.service.d/mooring-etcd-member-prepare.conf",
            "/usr/lib/systemd/system/etcd.service.d/mooring-etcd-member-prepare.conf",
        ),
        (
            "dropins/zookeeper.service.d/mooring-smilodon-attach.conf",
            "/usr/lib/systemd/system/zookeeper.service.d/mooring-smilodon-attach.conf",
        ),
        (
            "dropins/portworx.service.d/mooring-px-volume-claim.conf",
            "/usr/lib/systemd/system/portworx.service.d/mooring-px-volume-claim.conf",
        ),
        (
            "dropins/ecs.service.d/mooring-ecs-node-guard.conf",
            "/usr/lib/systemd/system/ecs.service.d/mooring-ecs-node-guard.conf",
        ),
        (
            "dropins/etcd.service.d/mooring-smilodon-attach.conf",
            "/usr/share/doc/mooring/examples/etcd.service.d/mooring-smilodon-attach.conf",
        ),
        (
            "dropins/zookeeper.service.d/mooring-smilodon-attach-spare.conf.example",
            "/usr/share/doc/mooring/examples/zookeeper.service.d/mooring-smilodon-attach-spare.conf.example",
        ),
        (
            "dropins/portworx.service.d/mooring-px-env.conf.example",
            "/usr/share/doc/mooring/examples/portworx.service.d/mooring-px-env.conf.example",
        ),
    ] {
        out.push((dest.to_string(), root().join(src)));
    }
    out
}
