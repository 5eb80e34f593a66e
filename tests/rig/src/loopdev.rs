//! Loop devices over sparse files, cleaned up on drop.
//!
//! Loop devices over sparse files, cleaned up on drop: unmount what is
//! mounted from them (and only that), detach, delete the file.

use std::path::{Path, PathBuf};
use std::process::Command;

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A loop device backed by a sparse file of its own.
pub struct LoopDevice {
    pub path: PathBuf,
    pub file: PathBuf,
    dir: PathBuf,
}

impl LoopDevice {
    pub fn new(size_bytes: u64) -> LoopDevice {
        super::require_root();
        let dir = super::unique_dir("loop");
        let file = dir.join("disk.img");
        std::fs::File::create(&file)
            .and_then(|f| f.set_len(size_bytes))
            .expect("cannot create a sparse file");
        let path = PathBuf::from(run("losetup", &["-f", "--show", file.to_str().unwrap()]));
        LoopDevice { path, file, dir }
    }

    pub fn path_str(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        detach_loops_of(&self.file);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Mountpoints whose source is `device`, innermost last.
pub fn mounts_of(device: &str) -> Vec<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let sep = f.iter().position(|x| *x == "-")?;
            (f.get(sep + 2) == Some(&device)).then(|| f[4].to_string())
        })
        .collect()
}

/// Unmount and detach every loop device backed by `file`.
pub fn detach_loops_of(file: &Path) {
    let Ok(out) = Command::new("losetup")
        .args(["-n", "-O", "NAME", "-j"])
        .arg(file)
        .output()
    else {
        return;
    };
    for dev in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        for mp in mounts_of(dev).iter().rev() {
            let _ = Command::new("umount").args(["-l", mp]).status();
        }
        let _ = Command::new("losetup").args(["-d", dev]).status();
    }
}

/// Unmounts `path` on drop if something is mounted there.
pub struct MountGuard(pub PathBuf);

impl Drop for MountGuard {
    fn drop(&mut self) {
        let target = self.0.to_string_lossy().to_string();
        let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mounted = text
            .lines()
            .any(|l| l.split(' ').nth(4) == Some(target.as_str()));
        if mounted {
            let _ = Command::new("umount").args(["-l", &target]).status();
        }
    }
}
