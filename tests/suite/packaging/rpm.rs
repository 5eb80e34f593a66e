//! The RPM for Amazon Linux 2023: the same tree as the .deb, installed
//! with rpm into a root of its own (this machine is Debian: its /usr is
//! not rpm's to change), each tool name running its tool, and `rpm -e`
//! leaving nothing.

use super::{package, run, run_ok, TOOLS};
use std::collections::BTreeSet;
use std::path::Path;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A path as both packages should have it: Debian's compressed man pages
/// and zsh's vendor directory are the only differences, plus the
/// copyright file Debian policy asks for.
fn normalise(path: &str) -> String {
    path.trim_end_matches(".gz")
        .replace("/zsh/vendor-completions/", "/zsh/site-functions/")
}

fn deb_files() -> BTreeSet<String> {
    let deb = package(&format!("debian/mooring_{VERSION}-1_amd64.deb"));
    run_ok("dpkg-deb", &["-c", deb.to_str().unwrap()])
        .lines()
        .filter(|l| !l.starts_with('d'))
        .map(|l| {
            let path = l.split(" ./").nth(1).unwrap();
            normalise(&format!("/{}", path.split(" -> ").next().unwrap()))
        })
        .filter(|p| p != "/usr/share/doc/mooring/copyright")
        .collect()
}

#[test]
fn rpm_has_the_debs_tree_runs_each_tool_and_erases_clean() {
    rig::require_root();
    let rpm = package(&format!("generate-rpm/mooring-{VERSION}-1.x86_64.rpm"));
    let rpm = rpm.to_str().unwrap();
    let listed: BTreeSet<String> = run_ok("rpm", &["-qlp", rpm])
        .lines()
        .map(normalise)
        .collect();
    assert_eq!(
        listed,
        deb_files(),
        "the RPM and the .deb ship different trees"
    );
    let requires = run_ok("rpm", &["-qp", "--requires", rpm]);
    assert!(requires.contains("glibc >= 2.34"), "{requires}");
    assert!(requires.contains("util-linux"), "{requires}");

    let root_dir = rig::temp_dir("rpm-root");
    let root = root_dir.path().to_str().unwrap();
    run_ok("rpm", &["--root", root, "--initdb"]);
    // --nodeps: the root is empty, glibc and util-linux are the host's.
    run_ok("rpm", &["--root", root, "--nodeps", "-i", rpm]);

    // Each tool's script runs mooring as that tool: /usr/bin of the root
    // laid over the host's in a mount namespace of the test's own.
    let bin = root_dir.path().join("usr/bin");
    for tool in TOOLS {
        let out = run(
            "unshare",
            &[
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                &format!(
                    "mount -t overlay mooring-rpm-bin -o lowerdir={}:/usr/bin /usr/bin && exec /usr/bin/{tool} --version",
                    bin.display()
                ),
            ],
        );
        assert!(
            out.status.success(),
            "{tool} --version from the RPM: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("{tool} {VERSION}")
        );
    }

    run_ok("rpm", &["--root", root, "--nodeps", "-e", "mooring"]);
    let left = run_ok("find", &[&format!("{root}/usr"), "-not", "-type", "d"]);
    assert!(left.trim().is_empty(), "rpm -e left: {left}");
    assert!(!Path::new(&format!("{root}/usr/bin/mooring")).exists());
}

/// `make install DESTDIR=… PREFIX=/usr` (an AMI script's way, without a
/// package manager) lays the .deb's tree: the same files, the tools as
/// links to mooring. (Its second half, `install-tree`, from the build
/// `make package` made: cargo here would see the test's environment and
/// build again.)
#[test]
fn make_install_lays_the_debs_tree() {
    let dest = rig::temp_dir("make-install");
    let out = std::process::Command::new("make")
        .args(["-s", "-C"])
        .arg(super::root())
        .arg("install-tree")
        .arg(format!("DESTDIR={}", dest.path().display()))
        .arg("PREFIX=/usr")
        .output()
        .expect("cannot run make");
    assert!(
        out.status.success(),
        "make install: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root = dest.path().to_str().unwrap();
    let laid: BTreeSet<String> = run_ok("find", &[root, "-not", "-type", "d"])
        .lines()
        .map(|p| normalise(p.strip_prefix(root).unwrap()))
        .collect();
    assert_eq!(
        laid,
        deb_files(),
        "make install and the .deb lay different trees"
    );
    for tool in TOOLS {
        assert_eq!(
            std::fs::read_link(dest.path().join("usr/bin").join(tool)).unwrap(),
            Path::new("mooring")
        );
    }
}
