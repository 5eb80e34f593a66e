//! The preset and tmpfiles.d files, applied by systemd's own tools.
//!
//! `systemctl --root=DIR preset-all` over a tree with the shipped units
//! and preset enables nothing of Mooring's, while it does enable a unit
//! that has no preset line (so the check can fail); `systemd-tmpfiles
//! --create --root=DIR` makes the directories the tools use, as a boot
//! does.

use super::root;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn preset_all_enables_nothing_of_ours() {
    let tree = tempfile::tempdir().unwrap();
    let units = tree.path().join("usr/lib/systemd/system");
    copy_dir(&root().join("units"), &units);
    copy_dir(
        &root().join("packaging/preset"),
        &tree.path().join("usr/lib/systemd/system-preset"),
    );
    // Someone else's unit, enabled by the default "enable *".
    std::fs::write(
        units.join("bystander.service"),
        "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
    )
    .unwrap();
    let out = Command::new("systemctl")
        .arg(format!("--root={}", tree.path().display()))
        .arg("preset-all")
        .output()
        .expect("cannot run systemctl");
    assert!(
        out.status.success(),
        "preset-all: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut enabled = Vec::new();
    let mut stack = vec![tree.path().join("etc/systemd/system")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_symlink() {
                enabled.push(path.file_name().unwrap().to_string_lossy().into_owned());
            } else if path.is_dir() {
                stack.push(path);
            }
        }
    }
    assert!(
        enabled.iter().any(|n| n == "bystander.service"),
        "preset-all enabled nothing at all: {enabled:?}"
    );
    let ours: Vec<&String> = enabled
        .iter()
        .filter(|n| *n != "bystander.service")
        .collect();
    assert!(ours.is_empty(), "preset-all enabled {ours:?}");
}

#[test]
fn tmpfiles_make_the_runtime_and_state_directories() {
    let tree = tempfile::tempdir().unwrap();
    // Under --root, the configuration is looked up inside the tree.
    copy_dir(
        &root().join("packaging/tmpfiles"),
        &tree.path().join("usr/lib/tmpfiles.d"),
    );
    let out = Command::new("systemd-tmpfiles")
        .arg("--create")
        .arg(format!("--root={}", tree.path().display()))
        .arg("mooring.conf")
        .output()
        .expect("cannot run systemd-tmpfiles");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-tmpfiles: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (dir, mode) in [("run/mooring", 0o755), ("var/lib/mooring", 0o700)] {
        let meta = std::fs::metadata(tree.path().join(dir))
            .unwrap_or_else(|e| panic!("{dir} not made: {e}"));
        assert!(meta.is_dir(), "{dir}");
        assert_eq!(meta.permissions().mode() & 0o7777, mode, "{dir}");
    }
}
