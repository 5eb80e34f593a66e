//! One `UUID=` line of fstab per mount, so that it comes back at boot.
//!
//! Making a mount come back after reboot: one `UUID=` line in fstab,
//! written atomically, every other line kept as the admin wrote it.
//! Fields are written escaped and compared unescaped (fstab(5): a
//! mountpoint with a space is `\040` in the file).

use super::octal;
use crate::exit::Unsafe;
use crate::fsutil::atomic_write;
use anyhow::{Context, Result};
use std::ffi::OsString;
use std::path::Path;

/// What happened to fstab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FstabChange {
    Added,
    Unchanged,
}

/// Ensure `fstab` mounts filesystem `uuid` at `mountpoint`. A line for the
/// same mountpoint with another source is left alone and reported: it is
/// the admin's.
pub fn ensure_line(
    fstab: &Path,
    uuid: &str,
    mountpoint: &Path,
    fstype: &str,
    options: &str,
) -> Result<FstabChange> {
    let text = match std::fs::read_to_string(fstab) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", fstab.display())),
    };
    let source = format!("UUID={uuid}");
    for line in text.lines() {
        let Some((what, at)) = source_and_target(line) else {
            continue;
        };
        if at == mountpoint.as_os_str() {
            if what == source.as_str() {
                return Ok(FstabChange::Unchanged);
            }
            return Err(Unsafe(format!(
                "{} already mounts {} at {}; not adding {source}",
                fstab.display(),
                what.to_string_lossy(),
                mountpoint.display()
            ))
            .into());
        }
    }
    let mut out = text;
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    let mp = octal::escape(mountpoint.as_os_str());
    out.push_str(&format!("{source} {mp} {fstype} {options} 0 0\n"));
    atomic_write(fstab, out.as_bytes(), 0o644)?;
    Ok(FstabChange::Added)
}

/// Remove the line mounting `uuid` at `mountpoint`, if there is one.
pub fn remove_line(fstab: &Path, uuid: &str, mountpoint: &Path) -> Result<bool> {
    let Ok(text) = std::fs::read_to_string(fstab) else {
        return Ok(false);
    };
    let source = format!("UUID={uuid}");
    let mut removed = false;
    let kept: Vec<&str> = text
        .lines()
        .filter(|line| {
            let ours = source_and_target(line)
                .is_some_and(|(what, at)| what == source.as_str() && at == mountpoint.as_os_str());
            removed |= ours;
            !ours
        })
        .collect();
    if removed {
        let mut out = kept.join("\n");
        out.push('\n');
        atomic_write(fstab, out.as_bytes(), 0o644)?;
    }
    Ok(removed)
}

/// The first two fields of an fstab line, unescaped; `None` for comments,
/// blank lines and lines with fewer than two fields.
fn source_and_target(line: &str) -> Option<(OsString, OsString)> {
    let mut fields = line.split_whitespace();
    let source = fields.next().filter(|f| !f.starts_with('#'))?;
    let target = fields.next()?;
    Some((octal::unescape(source), octal::unescape(target)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_once_keeps_foreign_lines_and_removes() {
        let dir = tempfile::tempdir().unwrap();
        let fstab = dir.path().join("fstab");
        std::fs::write(&fstab, "# admin\nUUID=aaa / ext4 defaults 0 1\n").unwrap();
        let mp = Path::new("/scratch");
        assert_eq!(
            ensure_line(&fstab, "u1", mp, "btrfs", "defaults,nofail").unwrap(),
            FstabChange::Added
        );
        assert_eq!(
            ensure_line(&fstab, "u1", mp, "btrfs", "defaults,nofail").unwrap(),
            FstabChange::Unchanged
        );
        assert!(ensure_line(&fstab, "u2", mp, "btrfs", "defaults").is_err());
        let text = std::fs::read_to_string(&fstab).unwrap();
        assert_eq!(
            text,
            "# admin\nUUID=aaa / ext4 defaults 0 1\nUUID=u1 /scratch btrfs defaults,nofail 0 0\n"
        );
        assert!(remove_line(&fstab, "u1", mp).unwrap());
        assert_eq!(
            std::fs::read_to_string(&fstab).unwrap(),
            "# admin\nUUID=aaa / ext4 defaults 0 1\n"
        );
    }

    #[test]
    fn mountpoints_with_separators_are_escaped_and_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let fstab = dir.path().join("fstab");
        for mp in ["/mnt/my data-1", "/mnt/tab\there", "/mnt/back\\slash"] {
            let mp = Path::new(mp);
            std::fs::write(&fstab, "/dev/sda1 /mnt/my ext4 defaults 0 0\n").unwrap();
            assert_eq!(
                ensure_line(&fstab, "u1", mp, "btrfs", "defaults,nofail").unwrap(),
                FstabChange::Added
            );
            let text = std::fs::read_to_string(&fstab).unwrap();
            let ours = text.lines().nth(1).unwrap();
            // Six fields, as mount(8) and systemd-fstab-generator read them.
            let fields: Vec<&str> = ours.split_whitespace().collect();
            assert_eq!(fields.len(), 6, "{ours:?}");
            assert_eq!(octal::unescape(fields[1]), mp.as_os_str(), "{ours:?}");
            assert_eq!(fields[2], "btrfs");
            // A later run recognises its own line, and teardown removes it.
            assert_eq!(
                ensure_line(&fstab, "u1", mp, "btrfs", "defaults,nofail").unwrap(),
                FstabChange::Unchanged
            );
            assert!(ensure_line(&fstab, "u2", mp, "btrfs", "defaults").is_err());
            assert!(remove_line(&fstab, "u1", mp).unwrap());
            assert_eq!(
                std::fs::read_to_string(&fstab).unwrap(),
                "/dev/sda1 /mnt/my ext4 defaults 0 0\n"
            );
        }
    }
}
