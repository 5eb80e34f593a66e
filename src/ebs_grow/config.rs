//! ebs-grow's settings: flags over a JSON file over defaults.
//!
//! ebs-grow's settings: flags (and their environment variables) over a
//! JSON file over defaults. Unknown keys in the file are errors naming the
//! key, so a typo never silently falls back to a default.

use super::kind::FsKind;
use crate::exit::bad_input;
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How a filesystem grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Add a new volume to the filesystem (btrfs, lvm.ext4).
    Add,
    /// Grow the backing volume in place with Elastic Volumes; fall back to
    /// adding one when the volume cannot be modified yet (btrfs, lvm.ext4).
    Modify,
}

/// The options every ebs-grow command accepts; each may also come from the
/// environment or the JSON file.
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// The mountpoint to manage.
    #[arg(short, long, env = "EBS_GROW_MOUNTPOINT")]
    pub mountpoint: Option<PathBuf>,

    /// JSON configuration file [default: /etc/mooring/ebs-grow/<escaped
    /// mountpoint>.json, if it exists].
    #[arg(long, env = "EBS_GROW_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Filesystem [default: btrfs].
    #[arg(long = "fs", value_enum, env = "EBS_GROW_FS")]
    pub fs: Option<FsKind>,

    /// Growth strategy [default: add for btrfs and lvm.ext4, modify for xfs
    /// and ext4].
    #[arg(long, value_enum, env = "EBS_GROW_STRATEGY")]
    pub strategy: Option<Strategy>,

    /// init: use this device (path or volume ID) instead of creating a
    /// volume; it must be blank.
    #[arg(long, env = "EBS_GROW_INITIAL_DEVICE")]
    pub initial_device: Option<String>,

    /// init: size of the volume to create, GiB [default: 100].
    #[arg(long, env = "EBS_GROW_INITIAL_SIZE")]
    pub initial_size_gib: Option<i32>,

    /// EBS volume type for new volumes [default: gp3].
    #[arg(long, env = "EBS_GROW_VOLUME_TYPE")]
    pub volume_type: Option<String>,

    /// Provisioned IOPS for new volumes.
    #[arg(long, env = "EBS_GROW_IOPS")]
    pub iops: Option<i32>,

    /// Provisioned throughput (MiB/s) for new gp3 volumes.
    #[arg(long, env = "EBS_GROW_THROUGHPUT")]
    pub throughput: Option<i32>,

    /// Encrypt new volumes [default: true].
    #[arg(long, env = "EBS_GROW_ENCRYPTED")]
    pub encrypted: Option<bool>,

    /// KMS key for encryption [default: the account's EBS default key].
    #[arg(long, env = "EBS_GROW_KMS_KEY_ID")]
    pub kms_key_id: Option<String>,

    /// Most volumes the filesystem may span [default: 16].
    #[arg(long, env = "EBS_GROW_MAX_VOLUMES")]
    pub max_volumes: Option<u32>,

    /// Largest total size of the filesystem's volumes, GiB [default: 8000].
    #[arg(long, env = "EBS_GROW_MAX_TOTAL_SIZE")]
    pub max_total_size_gib: Option<i64>,

    /// Largest single volume, GiB [default: 1500].
    #[arg(long, env = "EBS_GROW_MAX_VOLUME_SIZE")]
    pub max_volume_size_gib: Option<i32>,

    /// Attachment slots of the instance type (volumes + interfaces)
    /// [default: 28, Nitro].
    #[arg(long, env = "EBS_GROW_ATTACHMENT_LIMIT")]
    pub attachment_limit: Option<u32>,

    /// Grow when this much is used, percent [default: by device count, see
    /// threshold_ladder].
    #[arg(long, env = "EBS_GROW_USED_PERCENT")]
    pub used_percent: Option<f64>,

    /// Grow when less than this is free, GiB [default: 1].
    #[arg(long, env = "EBS_GROW_MIN_FREE")]
    pub min_free_gib: Option<f64>,

    /// Grow when fewer inodes than this are free, percent [default: 5].
    #[arg(long, env = "EBS_GROW_MIN_FREE_INODES_PERCENT")]
    pub min_free_inodes_percent: Option<f64>,

    /// Seconds between checks: the timer's period [default: 60].
    #[arg(long, env = "EBS_GROW_INTERVAL")]
    pub interval_seconds: Option<u64>,

    /// Seconds a growth takes, at worst [default: 120]. With the interval,
    /// the horizon within which the fill rate must not fill the disk.
    #[arg(long, env = "EBS_GROW_GROWTH_SECONDS")]
    pub growth_seconds: Option<u64>,

    /// Run a metadata balance after adding a btrfs device [default: false].
    #[arg(long, env = "EBS_GROW_BALANCE_METADATA")]
    pub balance_metadata: Option<bool>,

    /// fstab to add the mount to [default: /etc/fstab].
    #[arg(long, env = "EBS_GROW_FSTAB")]
    pub fstab: Option<PathBuf>,

    /// Directory for samples and the growth journal [default:
    /// /var/lib/mooring].
    #[arg(long, env = "EBS_GROW_STATE_DIR")]
    pub state_dir: Option<PathBuf>,

    /// Extra tag for new volumes, KEY=VALUE (repeatable).
    #[arg(long = "tag", value_parser = parse_tag)]
    #[serde(skip)]
    pub tag: Vec<(String, String)>,

    /// Extra tags for new volumes (JSON file only; merged with --tag).
    #[arg(skip)]
    pub tags: BTreeMap<String, String>,

    /// (device count, used percent) steps: with at least N devices, grow at
    /// P percent [default: [[0,50],[4,80],[7,90]]].
    #[arg(skip)]
    pub threshold_ladder: Option<Vec<(u32, f64)>>,

    /// (device count, GiB) steps: with at least N devices, new volumes have
    /// this size [default: [[0,150],[4,300],[7,1000]]].
    #[arg(skip)]
    pub size_ladder_gib: Option<Vec<(u32, i32)>>,
}

fn parse_tag(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected KEY=VALUE"))?;
    if k.is_empty() {
        return Err(format!("{s:?}: empty tag key"));
    }
    if k.starts_with("aws:") || k.starts_with("mooring:") {
        return Err(format!(
            "{s:?}: the aws: and mooring: prefixes are reserved"
        ));
    }
    Ok((k.to_string(), v.to_string()))
}

/// Everything resolved, with defaults filled in.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub mountpoint: PathBuf,
    pub fs: FsKind,
    pub strategy: Strategy,
    pub initial_device: Option<String>,
    pub initial_size_gib: i32,
    pub volume_type: String,
    pub iops: Option<i32>,
    pub throughput: Option<i32>,
    pub encrypted: bool,
    pub kms_key_id: Option<String>,
    pub max_volumes: u32,
    pub max_total_size_gib: i64,
    pub max_volume_size_gib: i32,
    pub attachment_limit: u32,
    pub used_percent: Option<f64>,
    pub min_free_bytes: u64,
    pub min_free_inodes_percent: f64,
    pub interval: Duration,
    pub growth_time: Duration,
    pub balance_metadata: bool,
    pub fstab: PathBuf,
    pub state_dir: PathBuf,
    pub tags: BTreeMap<String, String>,
    pub threshold_ladder: Vec<(u32, f64)>,
    pub size_ladder_gib: Vec<(u32, i32)>,
}

pub const CONFIG_DIR: &str = "/etc/mooring/ebs-grow";

impl Options {
    /// Fill what the flags left open from `other` (the file).
    fn or(self, other: Options) -> Options {
        let mut tags = other.tags;
        tags.extend(self.tags);
        tags.extend(self.tag.iter().cloned());
        Options {
            mountpoint: self.mountpoint.or(other.mountpoint),
            config: self.config,
            fs: self.fs.or(other.fs),
            strategy: self.strategy.or(other.strategy),
            initial_device: self.initial_device.or(other.initial_device),
            initial_size_gib: self.initial_size_gib.or(other.initial_size_gib),
            volume_type: self.volume_type.or(other.volume_type),
            iops: self.iops.or(other.iops),
            throughput: self.throughput.or(other.throughput),
            encrypted: self.encrypted.or(other.encrypted),
            kms_key_id: self.kms_key_id.or(other.kms_key_id),
            max_volumes: self.max_volumes.or(other.max_volumes),
            max_total_size_gib: self.max_total_size_gib.or(other.max_total_size_gib),
            max_volume_size_gib: self.max_volume_size_gib.or(other.max_volume_size_gib),
            attachment_limit: self.attachment_limit.or(other.attachment_limit),
            used_percent: self.used_percent.or(other.used_percent),
            min_free_gib: self.min_free_gib.or(other.min_free_gib),
            min_free_inodes_percent: self
                .min_free_inodes_percent
                .or(other.min_free_inodes_percent),
            interval_seconds: self.interval_seconds.or(other.interval_seconds),
            growth_seconds: self.growth_seconds.or(other.growth_seconds),
            balance_metadata: self.balance_metadata.or(other.balance_metadata),
            fstab: self.fstab.or(other.fstab),
            state_dir: self.state_dir.or(other.state_dir),
            tag: Vec::new(),
            tags,
            threshold_ladder: self.threshold_ladder.or(other.threshold_ladder),
            size_ladder_gib: self.size_ladder_gib.or(other.size_ladder_gib),
        }
    }

    /// Read the file (named, or the default one for the mountpoint if it
    /// exists), merge, validate, fill defaults.
    pub fn resolve(self) -> Result<Settings> {
        let file = match (&self.config, &self.mountpoint) {
            (Some(path), _) => Some(load_file(path)?),
            (None, Some(mp)) => {
                let path = default_config_path(mp);
                if path.exists() {
                    Some(load_file(&path)?)
                } else {
                    None
                }
            }
            (None, None) => None,
        };
        let o = match file {
            Some(f) => self.or(f),
            None => self.or(Options::default()),
        };
        let mountpoint = o.mountpoint.ok_or_else(|| {
            bad_input("no mountpoint: pass --mountpoint or set it in the config file")
        })?;
        if !mountpoint.is_absolute() {
            return Err(bad_input(format!(
                "mountpoint {} is not an absolute path",
                mountpoint.display()
            )));
        }
        let fs = o.fs.unwrap_or(FsKind::Btrfs);
        let strategy = o.strategy.unwrap_or(match fs {
            FsKind::Btrfs | FsKind::LvmExt4 => Strategy::Add,
            FsKind::Xfs | FsKind::Ext4 => Strategy::Modify,
        });
        if strategy == Strategy::Add && !fs.can_add_devices() {
            return Err(bad_input(format!(
                "--strategy add needs a filesystem that spans devices (btrfs or lvm.ext4), not {fs}"
            )));
        }
        let threshold_ladder = o
            .threshold_ladder
            .unwrap_or_else(|| vec![(0, 50.0), (4, 80.0), (7, 90.0)]);
        let size_ladder_gib = o
            .size_ladder_gib
            .unwrap_or_else(|| vec![(0, 150), (4, 300), (7, 1000)]);
        let settings = Settings {
            mountpoint,
            fs,
            strategy,
            initial_device: o.initial_device,
            initial_size_gib: o.initial_size_gib.unwrap_or(100),
            volume_type: o.volume_type.unwrap_or_else(|| "gp3".into()),
            iops: o.iops,
            throughput: o.throughput,
            encrypted: o.encrypted.unwrap_or(true),
            kms_key_id: o.kms_key_id,
            max_volumes: o.max_volumes.unwrap_or(16),
            max_total_size_gib: o.max_total_size_gib.unwrap_or(8000),
            max_volume_size_gib: o.max_volume_size_gib.unwrap_or(1500),
            attachment_limit: o
                .attachment_limit
                .unwrap_or(crate::aws::instance::DEFAULT_ATTACHMENT_LIMIT),
            used_percent: o.used_percent,
            min_free_bytes: (o.min_free_gib.unwrap_or(1.0) * (1u64 << 30) as f64) as u64,
            min_free_inodes_percent: o.min_free_inodes_percent.unwrap_or(5.0),
            interval: Duration::from_secs(o.interval_seconds.unwrap_or(60)),
            growth_time: Duration::from_secs(o.growth_seconds.unwrap_or(120)),
            balance_metadata: o.balance_metadata.unwrap_or(false),
            fstab: o.fstab.unwrap_or_else(|| "/etc/fstab".into()),
            state_dir: o.state_dir.unwrap_or_else(|| "/var/lib/mooring".into()),
            tags: o.tags,
            threshold_ladder,
            size_ladder_gib,
        };
        settings.validate()?;
        Ok(settings)
    }
}

pub fn default_config_path(mountpoint: &Path) -> PathBuf {
    let name = crate::paths::systemd_escape_path(&mountpoint.to_string_lossy());
    Path::new(CONFIG_DIR).join(format!("{name}.json"))
}

fn load_file(path: &Path) -> Result<Options> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config {}", path.display()))
        .map_err(|e| bad_input(format!("{e:#}")))?;
    serde_json::from_str(&text).map_err(|e| bad_input(format!("config {}: {e}", path.display())))
}

impl Settings {
    fn validate(&self) -> Result<()> {
        let pct = |name: &str, v: f64| {
            if (0.0..=100.0).contains(&v) && v.is_finite() {
                Ok(())
            } else {
                Err(bad_input(format!(
                    "{name} must be a percentage between 0 and 100, not {v}"
                )))
            }
        };
        if let Some(p) = self.used_percent {
            pct("used_percent", p)?;
        }
        pct("min_free_inodes_percent", self.min_free_inodes_percent)?;
        for (_, p) in &self.threshold_ladder {
            pct("threshold_ladder", *p)?;
        }
        if self.initial_size_gib < 1 {
            return Err(bad_input(format!(
                "initial_size_gib must be at least 1, not {}",
                self.initial_size_gib
            )));
        }
        if self.max_volume_size_gib < 1 || self.size_ladder_gib.iter().any(|(_, s)| *s < 1) {
            return Err(bad_input("volume sizes must be at least 1 GiB"));
        }
        if self.threshold_ladder.is_empty() || self.size_ladder_gib.is_empty() {
            return Err(bad_input(
                "threshold_ladder and size_ladder_gib need at least one step",
            ));
        }
        if self.max_volumes < 1 {
            return Err(bad_input("max_volumes must be at least 1"));
        }
        if self.interval.is_zero() {
            return Err(bad_input("interval_seconds must be at least 1"));
        }
        Ok(())
    }

    /// The used-percent threshold for a filesystem on `devices` devices.
    pub fn threshold_for(&self, devices: u32) -> f64 {
        self.used_percent
            .unwrap_or_else(|| step(&self.threshold_ladder, devices))
    }

    /// The size of the next volume for a filesystem on `devices` devices.
    pub fn next_size_gib(&self, devices: u32) -> i32 {
        step(&self.size_ladder_gib, devices).min(self.max_volume_size_gib)
    }

    /// The escaped mountpoint: names of locks, state files, units.
    pub fn name(&self) -> String {
        crate::paths::systemd_escape_path(&self.mountpoint.to_string_lossy())
    }
}

/// The value of the last step whose threshold is at most `n`.
fn step<T: Copy>(ladder: &[(u32, T)], n: u32) -> T {
    let mut value = ladder[0].1;
    for (at, v) in ladder {
        if n >= *at {
            value = *v;
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(json: &str) -> Result<Settings> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        std::fs::write(&path, json).unwrap();
        Options {
            config: Some(path),
            ..Default::default()
        }
        .resolve()
    }

    #[test]
    fn unknown_key_is_named() {
        let err = opts(r#"{"mountpoint": "/scratch", "max_volume": 3}"#).unwrap_err();
        assert!(
            format!("{err:#}").contains("unknown field `max_volume`"),
            "{err:#}"
        );
        assert_eq!(crate::exit::code_for(&err), crate::exit::Code::BadInput);
    }

    #[test]
    fn file_fills_defaults_and_flags_win() {
        let s = opts(
            r#"{"mountpoint": "/scratch", "fs": "xfs", "max_volumes": 3, "tags": {"Team": "a"}}"#,
        )
        .unwrap();
        assert_eq!(s.fs, FsKind::Xfs);
        assert_eq!(s.strategy, Strategy::Modify);
        assert_eq!(s.max_volumes, 3);
        assert_eq!(s.tags.get("Team").map(String::as_str), Some("a"));
        assert_eq!(s.initial_size_gib, 100);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        std::fs::write(&path, r#"{"mountpoint": "/scratch", "max_volumes": 3}"#).unwrap();
        let s = Options {
            config: Some(path),
            max_volumes: Some(5),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        assert_eq!(s.max_volumes, 5);
    }

    #[test]
    fn ladders_step_by_device_count() {
        let s = opts(r#"{"mountpoint": "/s"}"#).unwrap();
        assert_eq!(s.threshold_for(1), 50.0);
        assert_eq!(s.threshold_for(4), 80.0);
        assert_eq!(s.threshold_for(9), 90.0);
        assert_eq!(s.next_size_gib(1), 150);
        assert_eq!(s.next_size_gib(5), 300);
        assert_eq!(s.next_size_gib(7), 1000);
    }

    #[test]
    fn bad_values_are_refused() {
        for json in [
            r#"{"mountpoint": "relative"}"#,
            r#"{"mountpoint": "/s", "used_percent": 120}"#,
            r#"{"mountpoint": "/s", "fs": "xfs", "strategy": "add"}"#,
            r#"{"mountpoint": "/s", "fs": "zfs"}"#,
            r#"{"mountpoint": "/s", "initial_size_gib": 0}"#,
        ] {
            let err = opts(json).unwrap_err();
            assert_eq!(
                crate::exit::code_for(&err),
                crate::exit::Code::BadInput,
                "{json}: {err:#}"
            );
        }
    }
}
