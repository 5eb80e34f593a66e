//! The node's side of a held pair: device, interface, filesystem.
//!
//! The node's side of a held pair: its block device and interface, its
//! filesystem (made only on a blank volume), and the NodeID file a service
//! may want.

use crate::block::probe::fs_identity;
use crate::block::ResolvedDevice;
use crate::block::{mkfs, mount, probe, Blankness, DeviceResolver, FsType, MkfsPolicy};
use crate::exit::{BadInput, Unsafe};
use crate::fsutil::atomic_write;
use anyhow::{Context, Result};
use serde::Serialize;
use std::path::Path;

/// The filesystem on the node's volume.
#[derive(Debug, Clone, Serialize)]
pub struct Filesystem {
    pub uuid: String,
    pub fstype: String,
    /// Made by this run (the volume was blank).
    pub created: bool,
}

/// The node's volume as found on this instance.
pub struct NodeVolume<'a> {
    pub resolver: &'a DeviceResolver,
    pub dev: &'a ResolvedDevice,
    /// The name given to AttachVolume (the Xen fallback needs it).
    pub attach_device: Option<&'a str>,
    pub size_bytes: u64,
}

impl NodeVolume<'_> {
    /// Is the device still this volume's? Asked right before each step
    /// that writes or mounts.
    fn recheck(&self) -> Result<()> {
        self.resolver
            .recheck(self.dev, self.attach_device, Some(self.size_bytes))
    }

    /// Make sure the volume holds a filesystem and is mounted at
    /// `mountpoint`. A filesystem already there is mounted as it is,
    /// whatever `make` asks for; a blank volume gets `make`; anything else
    /// is refused.
    pub fn mount(
        &self,
        mountpoint: &Path,
        make: Option<FsType>,
        options: &str,
        dry_run: bool,
    ) -> Result<Filesystem> {
        mount_volume(self, mountpoint, make, options, dry_run)
    }
}

fn mount_volume(
    v: &NodeVolume<'_>,
    mountpoint: &Path,
    make: Option<FsType>,
    options: &str,
    dry_run: bool,
) -> Result<Filesystem> {
    let dev = v.dev;
    let vid = &dev.volume_id;
    let path = &dev.path;
    v.recheck()?;
    let (uuid, fstype, created) = match fs_identity(path)? {
        Some((uuid, fstype)) => {
            if let Some(want) = make.filter(|m| m.as_str() != fstype) {
                log::info!(
                    "{vid} ({}) already holds {fstype}; keeping it (not making {want})",
                    path.display()
                );
            }
            (uuid, fstype, false)
        }
        None => match probe(path)? {
            Blankness::NotBlank(why) => {
                return Err(Unsafe(format!(
                "{vid} ({}) holds no filesystem to mount but is not blank ({why}); not touching it",
                path.display()
            ))
                .into())
            }
            Blankness::Blank => {
                let Some(fs) = make else {
                    return Err(BadInput(format!(
                        "{vid} ({}) is blank and no --mkfs was given; not mounting {}",
                        path.display(),
                        mountpoint.display()
                    ))
                    .into());
                };
                if dry_run {
                    log::info!("dry run: would make {fs} on {vid} ({})", path.display());
                    return Ok(Filesystem {
                        uuid: String::new(),
                        fstype: fs.to_string(),
                        created: true,
                    });
                }
                v.recheck()?;
                let uuid = mkfs(path, Some(vid), fs, None, MkfsPolicy::BlankOnly)?;
                (uuid, fs.to_string(), true)
            }
        },
    };
    if dry_run {
        log::info!(
            "dry run: would mount {fstype} {uuid} at {}",
            mountpoint.display()
        );
    } else {
        v.recheck()?;
        mount::mount_by_uuid(&uuid, &fstype, mountpoint, options, path)
            .with_context(|| format!("mounting {vid}"))?;
    }
    Ok(Filesystem {
        uuid,
        fstype,
        created,
    })
}

/// Who should own the mounted filesystem's root: `USER[:GROUP]` (names or
/// numbers); the group defaults to the user's. Empty: leave it.
pub fn parse_owner(spec: &str) -> Result<Option<(u32, u32)>> {
    use nix::unistd::{Group, User};
    if spec.is_empty() {
        return Ok(None);
    }
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let bad = |why: String| BadInput(format!("--owner {spec:?}: {why}"));
    let user = match user.parse::<u32>() {
        Ok(uid) => User::from_uid(uid.into())
            .ok()
            .flatten()
            .map_or((uid, None), |u| (u.uid.as_raw(), Some(u.gid.as_raw()))),
        Err(_) => User::from_name(user)
            .map_err(|e| bad(format!("cannot look up user {user}: {e}")))?
            .map(|u| (u.uid.as_raw(), Some(u.gid.as_raw())))
            .ok_or_else(|| bad(format!("no user {user}")))?,
    };
    let gid = match group {
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => Group::from_name(g)
                .map_err(|e| bad(format!("cannot look up group {g}: {e}")))?
                .map(|g| g.gid.as_raw())
                .ok_or_else(|| bad(format!("no group {g}")))?,
        },
        None => user
            .1
            .ok_or_else(|| bad(format!("uid {} has no passwd entry; name a group", user.0)))?,
    };
    Ok(Some((user.0, gid)))
}

/// Give the mounted filesystem's root to `owner` (the service's user
/// cannot write a fresh filesystem's root otherwise).
pub fn chown_root(mountpoint: &Path, owner: (u32, u32), dry_run: bool) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(mountpoint)
        .with_context(|| format!("cannot stat {}", mountpoint.display()))?;
    if (meta.uid(), meta.gid()) == owner {
        return Ok(());
    }
    if dry_run {
        log::info!(
            "dry run: would chown {} to {}:{}",
            mountpoint.display(),
            owner.0,
            owner.1
        );
        return Ok(());
    }
    nix::unistd::chown(mountpoint, Some(owner.0.into()), Some(owner.1.into()))
        .with_context(|| format!("cannot chown {}", mountpoint.display()))?;
    log::info!(
        "{} now belongs to {}:{}",
        mountpoint.display(),
        owner.0,
        owner.1
    );
    Ok(())
}

/// The NodeID as a service wants it written: shifted by `offset` (ZooKeeper's
/// myid starts at 1 where NodeIDs often start at 0), which needs a numeric
/// NodeID.
pub fn node_id_text(node_id: &str, offset: i64, tag: &str, volume_id: &str) -> Result<String> {
    if offset == 0 {
        return Ok(node_id.to_string());
    }
    let n: i64 = node_id.trim().parse().map_err(|_| {
        BadInput(format!(
            "{tag}={node_id:?} on {volume_id} is not a number, so --node-id-offset {offset} cannot apply"
        ))
    })?;
    n.checked_add(offset)
        .map(|v| v.to_string())
        .ok_or_else(|| BadInput(format!("{tag}={node_id} plus {offset} overflows")).into())
}

/// Write `text` (and a newline) to `path` unless it already says that.
/// Returns whether it wrote.
pub fn write_node_id(path: &Path, text: &str, dry_run: bool) -> Result<bool> {
    let want = format!("{text}\n");
    if std::fs::read_to_string(path).ok().as_deref() == Some(want.as_str()) {
        return Ok(false);
    }
    if dry_run {
        log::info!("dry run: would write {text:?} to {}", path.display());
        return Ok(true);
    }
    atomic_write(path, want.as_bytes(), 0o644)?;
    log::info!("wrote NodeID file {} ({text})", path.display());
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners() {
        assert_eq!(parse_owner("").unwrap(), None);
        assert_eq!(parse_owner("root").unwrap(), Some((0, 0)));
        assert_eq!(parse_owner("0:0").unwrap(), Some((0, 0)));
        let err = parse_owner("no-such-user-mooring").unwrap_err();
        assert_eq!(crate::exit::code_for(&err), crate::exit::Code::BadInput);
    }

    #[test]
    fn node_id_offset() {
        assert_eq!(node_id_text("0", 1, "NodeID", "vol-1").unwrap(), "1");
        assert_eq!(node_id_text("zk-a", 0, "NodeID", "vol-1").unwrap(), "zk-a");
        let err = node_id_text("zk-a", 1, "NodeID", "vol-1").unwrap_err();
        assert_eq!(crate::exit::code_for(&err), crate::exit::Code::BadInput);
        assert!(err.to_string().contains("vol-1"), "{err}");
    }

    #[test]
    fn node_id_file_is_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("myid");
        assert!(write_node_id(&path, "3", false).unwrap());
        assert!(!write_node_id(&path, "3", false).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "3\n");
        assert!(write_node_id(&path, "4", false).unwrap());
    }
}
