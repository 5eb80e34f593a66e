//! ebs-grow's filesystems as command plans: printed or executed.
//!
//! The filesystems ebs-grow manages, as command plans: lists of commands
//! that `--dry-run` prints and a run executes, and that tests can check
//! where the kernel cannot run them (LVM needs device-mapper).

use super::kind::FsKind;
use crate::aws::volumes::FreshVolume;
use crate::block::btrfs;
use crate::block::cmd::{run, run_raw};
use crate::block::{self, FsType, MkfsPolicy};
use anyhow::{anyhow, Context, Result};
use std::path::{Path, PathBuf};

/// The label ebs-grow gives its filesystems: how `init` recognises its own
/// filesystem on a device after a crash between mkfs and mount.
pub const LABEL: &str = "ebsgrow";
pub const LV_NAME: &str = "data";

/// One command of a plan.
pub type Cmd = Vec<String>;

fn cmd(parts: &[&str]) -> Cmd {
    parts.iter().map(|s| s.to_string()).collect()
}

/// The volume group ebs-grow makes for a mountpoint.
pub fn vg_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("ebsgrow_{clean}")
}

/// Run a plan, or with `dry_run` only log it.
pub fn run_plan(plan: &[Cmd], dry_run: bool) -> Result<()> {
    for c in plan {
        if dry_run {
            log::info!("would run: {}", c.join(" "));
            continue;
        }
        log::info!("running: {}", c.join(" "));
        let args: Vec<&str> = c[1..].iter().map(String::as_str).collect();
        if c[0] == "lvextend" {
            // "Already at size" is success: a rerun after a crash.
            let out = run_raw(&c[0], &args)?;
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !out.status.success() && !already_at_size(&stderr) {
                return Err(anyhow!("`{}` failed: {}", c.join(" "), stderr.trim()));
            }
            continue;
        }
        run(&c[0], &args)?;
    }
    Ok(())
}

/// Commands that add `device` to the filesystem at `mountpoint`.
/// `force` (only for a volume this run created) writes over leftovers.
pub fn add_device_plan(
    kind: FsKind,
    device: &Path,
    mountpoint: &Path,
    vg: &str,
    balance: bool,
    force: bool,
) -> Result<Vec<Cmd>> {
    let dev = device.to_string_lossy();
    let mp = mountpoint.to_string_lossy();
    let f = if force { "-f" } else { "" };
    let drop_empty = |c: Cmd| -> Cmd { c.into_iter().filter(|a| !a.is_empty()).collect() };
    Ok(match kind {
        FsKind::Btrfs => {
            let mut plan = vec![drop_empty(cmd(&["btrfs", "device", "add", f, &dev, &mp]))];
            if balance {
                plan.push(cmd(&["btrfs", "balance", "start", "-m", &mp]));
            }
            plan
        }
        FsKind::LvmExt4 => vec![
            drop_empty(cmd(&["pvcreate", f, &dev])),
            cmd(&["vgextend", vg, &dev]),
            cmd(&[
                "lvextend",
                "--resizefs",
                "-l",
                "+100%FREE",
                &format!("{vg}/{LV_NAME}"),
            ]),
        ],
        FsKind::Xfs | FsKind::Ext4 => {
            return Err(anyhow!("{kind} cannot span devices; grow it in place"));
        }
    })
}

/// Commands that grow the filesystem after its device `member` grew.
pub fn grow_in_place_plan(
    kind: FsKind,
    member: &Path,
    mountpoint: &Path,
    vg: &str,
) -> Result<Vec<Cmd>> {
    let mut plan = Vec::new();
    let grown = match partition_of(member) {
        Some((disk, part)) => {
            plan.push(cmd(&[
                "growpart",
                &disk.to_string_lossy(),
                &part.to_string(),
            ]));
            member.to_path_buf()
        }
        None => member.to_path_buf(),
    };
    let dev = grown.to_string_lossy();
    let mp = mountpoint.to_string_lossy();
    match kind {
        FsKind::Btrfs => {
            let devid = btrfs_devid(mountpoint, &grown)?;
            plan.push(cmd(&[
                "btrfs",
                "filesystem",
                "resize",
                &format!("{devid}:max"),
                &mp,
            ]));
        }
        FsKind::LvmExt4 => {
            plan.push(cmd(&["pvresize", &dev]));
            plan.push(cmd(&[
                "lvextend",
                "--resizefs",
                "-l",
                "+100%FREE",
                &format!("{vg}/{LV_NAME}"),
            ]));
        }
        FsKind::Xfs => plan.push(cmd(&["xfs_growfs", &mp])),
        FsKind::Ext4 => plan.push(cmd(&["resize2fs", &dev])),
    }
    Ok(plan)
}

/// Make the filesystem on `device` and return its UUID.
pub fn make(
    kind: FsKind,
    device: &Path,
    device_volume: Option<&str>,
    vg: &str,
    fresh: Option<&FreshVolume>,
    dry_run: bool,
) -> Result<(String, PathBuf)> {
    let policy = match fresh {
        Some(f) => MkfsPolicy::Fresh(f),
        None => MkfsPolicy::BlankOnly,
    };
    let simple = |fs: FsType| -> Result<(String, PathBuf)> {
        if dry_run {
            log::info!("would make {fs} on {}", device.display());
            return Ok((String::new(), device.to_path_buf()));
        }
        Ok((
            block::mkfs(device, device_volume, fs, Some(LABEL), policy)?,
            device.to_path_buf(),
        ))
    };
    match kind {
        FsKind::Btrfs => simple(FsType::Btrfs),
        FsKind::Xfs => simple(FsType::Xfs),
        FsKind::Ext4 => simple(FsType::Ext4),
        FsKind::LvmExt4 => {
            // The same blank check as mkfs, before pvcreate writes anything.
            if let block::Blankness::NotBlank(why) = block::probe(device)? {
                if fresh.is_none() {
                    return Err(crate::exit::Unsafe(format!(
                        "refusing to make an LVM physical volume on {}: it is not blank ({why})",
                        device.display()
                    ))
                    .into());
                }
            }
            let lv = PathBuf::from(format!("/dev/{vg}/{LV_NAME}"));
            run_plan(&lvm_create_plan(device, vg), dry_run)?;
            if dry_run {
                return Ok((String::new(), lv));
            }
            let uuid = block::mkfs(&lv, None, FsType::Ext4, Some(LABEL), MkfsPolicy::BlankOnly)?;
            Ok((uuid, lv))
        }
    }
}

pub fn lvm_create_plan(device: &Path, vg: &str) -> Vec<Cmd> {
    let dev = device.to_string_lossy();
    vec![
        cmd(&["pvcreate", &dev]),
        cmd(&["vgcreate", vg, &dev]),
        cmd(&["lvcreate", "-l", "100%FREE", "-n", LV_NAME, vg]),
    ]
}

/// The block devices the filesystem at `mountpoint` lives on.
pub fn members(kind: FsKind, source: &str, vg: &str) -> Result<Vec<PathBuf>> {
    match kind {
        FsKind::Btrfs => {
            let dir = btrfs::sysfs_dir(Path::new(btrfs::SYS_BTRFS), source)?;
            btrfs::sysfs_devices(&dir)
        }
        FsKind::LvmExt4 => {
            let out = run(
                "pvs",
                &[
                    "--noheadings",
                    "-o",
                    "pv_name",
                    "-S",
                    &format!("vg_name={vg}"),
                ],
            )?;
            Ok(out.split_whitespace().map(PathBuf::from).collect())
        }
        FsKind::Xfs | FsKind::Ext4 => {
            let real = std::fs::canonicalize(source)
                .with_context(|| format!("cannot resolve {source}"))?;
            Ok(vec![real])
        }
    }
}

/// (devid, device path) of every device of the btrfs at `mountpoint`.
pub fn btrfs_devices(mountpoint: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let out = run(
        "btrfs",
        &["filesystem", "show", "--raw", &mountpoint.to_string_lossy()],
    )?;
    Ok(parse_btrfs_show(&out))
}

fn parse_btrfs_show(text: &str) -> Vec<(u64, PathBuf)> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let devid = f.iter().position(|w| *w == "devid")?;
            let path = f.iter().position(|w| *w == "path")?;
            Some((
                f.get(devid + 1)?.parse().ok()?,
                PathBuf::from(f.get(path + 1)?),
            ))
        })
        .collect()
}

fn btrfs_devid(mountpoint: &Path, device: &Path) -> Result<u64> {
    let real = std::fs::canonicalize(device).unwrap_or_else(|_| device.to_path_buf());
    btrfs_devices(mountpoint)?
        .into_iter()
        .find(|(_, p)| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()) == real)
        .map(|(id, _)| id)
        .ok_or_else(|| {
            anyhow!(
                "{} is not a device of the btrfs at {}",
                device.display(),
                mountpoint.display()
            )
        })
}

/// The whole disk of `device`: its parent when it is a partition.
pub fn disk_of(device: &Path) -> PathBuf {
    partition_of(device)
        .map(|(disk, _)| disk)
        .unwrap_or_else(|| device.to_path_buf())
}

/// (disk, partition number) when `device` is a partition.
pub fn partition_of(device: &Path) -> Option<(PathBuf, u32)> {
    let real = std::fs::canonicalize(device).ok()?;
    let name = real.file_name()?.to_string_lossy().into_owned();
    let sys = Path::new("/sys/class/block").join(&name);
    let part: u32 = std::fs::read_to_string(sys.join("partition"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let disk = std::fs::canonicalize(&sys)
        .ok()?
        .parent()?
        .file_name()?
        .to_string_lossy()
        .into_owned();
    Some((Path::new("/dev").join(disk), part))
}

/// True when lvextend failed only because there was nothing to extend.
pub fn already_at_size(stderr: &str) -> bool {
    stderr.contains("matches existing size") || stderr.contains("not larger than existing size")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_btrfs_show() {
        let text = "Label: 'ebsgrow'  uuid: 1b2c\n\tTotal devices 2 FS bytes used 1048576\n\
                    \tdevid    1 size 1073741824 used 228589568 path /dev/loop3\n\
                    \tdevid    2 size 1073741824 used 0 path /dev/nvme2n1\n";
        assert_eq!(
            parse_btrfs_show(text),
            vec![
                (1, PathBuf::from("/dev/loop3")),
                (2, PathBuf::from("/dev/nvme2n1"))
            ]
        );
    }

    /// LVM cannot run on this kernel (no device-mapper): its plans are
    /// checked as data.
    #[test]
    fn lvm_plans() {
        let vg = vg_name("mnt-data");
        assert_eq!(vg, "ebsgrow_mnt_data");
        let add = add_device_plan(
            FsKind::LvmExt4,
            Path::new("/dev/nvme3n1"),
            Path::new("/mnt/data"),
            &vg,
            false,
            false,
        )
        .unwrap();
        let text: Vec<String> = add.iter().map(|c| c.join(" ")).collect();
        assert_eq!(
            text,
            vec![
                "pvcreate /dev/nvme3n1",
                "vgextend ebsgrow_mnt_data /dev/nvme3n1",
                "lvextend --resizefs -l +100%FREE ebsgrow_mnt_data/data",
            ]
        );
        let create: Vec<String> = lvm_create_plan(Path::new("/dev/nvme1n1"), &vg)
            .iter()
            .map(|c| c.join(" "))
            .collect();
        assert_eq!(
            create,
            vec![
                "pvcreate /dev/nvme1n1",
                "vgcreate ebsgrow_mnt_data /dev/nvme1n1",
                "lvcreate -l 100%FREE -n data ebsgrow_mnt_data",
            ]
        );
        let grow = grow_in_place_plan(
            FsKind::LvmExt4,
            Path::new("/dev/nvme1n1"),
            Path::new("/mnt/data"),
            &vg,
        )
        .unwrap();
        let text: Vec<String> = grow.iter().map(|c| c.join(" ")).collect();
        assert_eq!(
            text,
            vec![
                "pvresize /dev/nvme1n1",
                "lvextend --resizefs -l +100%FREE ebsgrow_mnt_data/data"
            ]
        );
        assert!(already_at_size(
            "  New size given (25600 extents) not larger than existing size (25600 extents)"
        ));
        assert!(already_at_size(
            "  New size (25600 extents) matches existing size (25600 extents)."
        ));
        assert!(!already_at_size("  Insufficient free space"));
    }

    #[test]
    fn balance_only_when_asked() {
        let p = add_device_plan(
            FsKind::Btrfs,
            Path::new("/dev/x"),
            Path::new("/m"),
            "",
            false,
            false,
        )
        .unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].join(" "), "btrfs device add /dev/x /m");
        let p = add_device_plan(
            FsKind::Btrfs,
            Path::new("/dev/x"),
            Path::new("/m"),
            "",
            true,
            true,
        )
        .unwrap();
        assert_eq!(p[0].join(" "), "btrfs device add -f /dev/x /m");
        assert_eq!(p[1].join(" "), "btrfs balance start -m /m");
        assert!(add_device_plan(
            FsKind::Xfs,
            Path::new("/dev/x"),
            Path::new("/m"),
            "",
            false,
            false
        )
        .is_err());
    }
}
