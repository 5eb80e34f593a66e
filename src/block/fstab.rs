//! Making a mount come back after reboot: one `UUID=` line in fstab,
//! written atomically, every other line kept as the admin wrote it.

use crate::exit::Unsafe;
use crate::fsutil::atomic_write;
use anyhow::{Context, Result};
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
    let mp = mountpoint.to_string_lossy();
    let source = format!("UUID={uuid}");
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.first().is_none_or(|f| f.starts_with('#')) || fields.len() < 2 {
            continue;
        }
        if fields[1] == mp {
            if fields[0] == source {
                return Ok(FstabChange::Unchanged);
            }
            return Err(Unsafe(format!(
                "{} already mounts {} at {mp}; not adding {source}",
                fstab.display(),
                fields[0]
            ))
            .into());
        }
    }
    let mut out = text;
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!("{source} {mp} {fstype} {options} 0 0\n"));
    atomic_write(fstab, out.as_bytes(), 0o644)?;
    Ok(FstabChange::Added)
}

/// Remove the line mounting `uuid` at `mountpoint`, if there is one.
pub fn remove_line(fstab: &Path, uuid: &str, mountpoint: &Path) -> Result<bool> {
    let Ok(text) = std::fs::read_to_string(fstab) else {
        return Ok(false);
    };
    let mp = mountpoint.to_string_lossy();
    let source = format!("UUID={uuid}");
    let mut removed = false;
    let kept: Vec<&str> = text
        .lines()
        .filter(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let ours = f.len() >= 2 && f[0] == source && f[1] == mp;
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
}
