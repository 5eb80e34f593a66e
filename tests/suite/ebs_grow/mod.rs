//! ebs-grow end to end: the real binary, on a simulated instance of the
//! rig, with real btrfs/xfs on loop devices the rig attaches.

mod faults;
mod growth;
mod iam;
mod metrics;
mod units;

use rig::loopdev::MountGuard;
use rig::tool::{describe, json, Tool};
use rig::{temp_dir, Rig, SimInstance};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_ebs-grow");
pub const GIB: u64 = 1 << 30;
pub const MIB: u64 = 1 << 20;

/// One simulated instance with ebs-grow configured for a mountpoint.
/// Fields drop in order: the mount first, then the rig (loop devices),
/// then the directory.
pub struct Fixture {
    _mount: MountGuard,
    pub rig: Rig,
    pub inst: SimInstance,
    pub tool: Tool,
    pub mp: PathBuf,
    pub fstab: PathBuf,
    pub dir: tempfile::TempDir,
}

/// Small sizes for tests: 1 GiB volumes.
pub fn small_config(extra: Value) -> Value {
    let mut base = json!({
        "initial_size_gib": 1,
        "size_ladder_gib": [[0, 1]],
        "encrypted": false,
        "min_free_gib": 0,
    });
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

impl Fixture {
    pub fn new(instance: Value, config: Value) -> Fixture {
        let dir = temp_dir("ebs-grow");
        let rig = Rig::start();
        let inst = rig.instance(instance);
        let mp = dir.path().join("scratch");
        let fstab = dir.path().join("fstab");
        let config_path = dir.path().join("ebs-grow.json");
        let mut config = config;
        config["mountpoint"] = json!(mp);
        std::fs::write(&config_path, config.to_string()).unwrap();
        let tool = Tool::new(BIN, &rig, &inst, dir.path())
            .with_env("EBS_GROW_CONFIG", config_path.display().to_string())
            .with_env("EBS_GROW_FSTAB", fstab.display().to_string())
            .with_env(
                "EBS_GROW_STATE_DIR",
                dir.path().join("state").display().to_string(),
            );
        Fixture {
            _mount: MountGuard(mp.clone()),
            rig,
            inst,
            tool,
            mp,
            fstab,
            dir,
        }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.tool.run(args)
    }

    /// Run and require exit 0; the JSON report.
    pub fn ok(&self, args: &[&str]) -> Value {
        let mut full = args.to_vec();
        full.extend(["--output", "json"]);
        let out = self.run(&full);
        assert!(
            out.status.success(),
            "ebs-grow {args:?} failed: {}",
            describe(&out)
        );
        json(&out)
    }

    /// Reserve `bytes` in a new file on the mountpoint.
    pub fn fill(&self, name: &str, bytes: u64) {
        let path = self.mp.join(name);
        let st = Command::new("fallocate")
            .args(["-l", &bytes.to_string(), path.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(st.success(), "fallocate {}", path.display());
    }

    /// Total size the kernel reports for the mountpoint (df's view).
    pub fn df_total(&self) -> u64 {
        let st = rustix::fs::statvfs(&self.mp).unwrap();
        st.f_blocks * st.f_frsize
    }

    /// ebs-grow's volumes, as EC2 (moto) has them.
    pub async fn ours(&self) -> Vec<aws_sdk_ec2::types::Volume> {
        self.rig
            .ec2()
            .await
            .describe_volumes()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("tag:mooring:managed-by")
                    .values("ebs-grow")
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .volumes()
            .to_vec()
    }

    /// DeleteOnTermination of `volume_id` in the instance's block device
    /// mappings (where EC2 keeps it).
    pub async fn delete_on_termination(&self, volume_id: &str) -> Option<bool> {
        let out = self
            .rig
            .ec2()
            .await
            .describe_instances()
            .instance_ids(&self.inst.id)
            .send()
            .await
            .unwrap();
        out.reservations()[0].instances()[0]
            .block_device_mappings()
            .iter()
            .find(|m| m.ebs().and_then(|e| e.volume_id()) == Some(volume_id))
            .and_then(|m| m.ebs()?.delete_on_termination())
    }

    /// Devices of the btrfs at the mountpoint.
    pub fn btrfs_devices(&self) -> usize {
        let out = Command::new("btrfs")
            .args(["filesystem", "show", self.mp.to_str().unwrap()])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.trim_start().starts_with("devid "))
            .count()
    }
}
