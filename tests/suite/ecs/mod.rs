//! ecs-node-guard end to end: the real binary on simulated instances of an
//! Auto Scaling group (moto with Auto Scaling and ECS), an ECS agent
//! introspection server run by the test, and a loop-mounted filesystem as
//! the docker root.

mod guard;
mod iam;
mod leave;
mod units;

use rig::loopdev::{LoopDevice, MountGuard};
use rig::tool::{arg_list, describe, json, Tool};
use rig::{temp_dir, Rig, SimInstance};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

pub const BIN: &str = env!("CARGO_BIN_EXE_ecs-node-guard");
pub const CLUSTER: &str = "prod";

/// A stand-in for the ECS agent's introspection endpoint: answers every
/// request with the metadata the test sets.
pub struct Agent {
    pub url: String,
    pub metadata: Arc<Mutex<Value>>,
}

impl Agent {
    pub fn start(metadata: Value) -> Agent {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let metadata = Arc::new(Mutex::new(metadata));
        let served = metadata.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                // Read the whole request before answering: closing with
                // unread bytes would reset the connection.
                let mut request = Vec::new();
                let mut buf = [0u8; 2048];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let body = served.lock().unwrap().to_string();
                let _ = write!(
                    s,
                    "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Agent {
            url: format!("http://127.0.0.1:{port}/v1/metadata"),
            metadata,
        }
    }

    pub fn set(&self, v: Value) {
        *self.metadata.lock().unwrap() = v;
    }
}

/// A small ext4 filesystem mounted as the docker root. Fields drop in
/// order: unmount, then the loop device, then the directory.
pub struct DockerRoot {
    _mount: MountGuard,
    _dev: LoopDevice,
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

impl DockerRoot {
    pub fn new() -> DockerRoot {
        let dir = temp_dir("docker-root");
        let dev = LoopDevice::new(64 << 20);
        let path = dir.path().join("docker");
        std::fs::create_dir_all(&path).unwrap();
        let ok = |c: &mut Command| assert!(c.status().unwrap().success(), "{c:?}");
        ok(Command::new("mkfs.ext4").args(["-q", dev.path_str()]));
        ok(Command::new("mount").arg(dev.path_str()).arg(&path));
        DockerRoot {
            _mount: MountGuard(path.clone()),
            _dev: dev,
            path,
            _dir: dir,
        }
    }

    /// Fill it past 90 %.
    pub fn fill(&self) {
        let f = self.path.join("layers");
        let st = rustix::fs::statvfs(&self.path).unwrap();
        let bytes = st.f_bavail * st.f_frsize * 96 / 100;
        let ok = Command::new("fallocate")
            .args(["-l", &bytes.to_string()])
            .arg(&f)
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

impl Default for DockerRoot {
    fn default() -> Self {
        Self::new()
    }
}

/// A group of simulated instances, an agent and a docker root for the
/// first. Fields drop in order.
pub struct Fixture {
    pub root: DockerRoot,
    pub agent: Agent,
    pub rig: Rig,
    pub insts: Vec<SimInstance>,
    pub tool: Tool,
    pub dir: tempfile::TempDir,
}

impl Fixture {
    /// `size` instances in group "ecs-hosts"; the tool runs as the first.
    pub fn new(size: usize) -> Fixture {
        let dir = temp_dir("ecs");
        let rig = Rig::start();
        let insts = rig
            .asg(json!({ "name": "ecs-hosts", "size": size, "tags": { "ecs-cluster": CLUSTER } }));
        let arn = rig.control(
            "/_rig/ecs_register",
            json!({ "cluster": CLUSTER, "instance_id": insts[0].id }),
        )["arn"]
            .as_str()
            .unwrap()
            .to_string();
        let agent = Agent::start(json!({ "Cluster": CLUSTER, "ContainerInstanceArn": arn }));
        let tool = Tool::new(BIN, &rig, &insts[0], dir.path());
        Fixture {
            root: DockerRoot::new(),
            agent,
            rig,
            insts,
            tool,
            dir,
        }
    }

    pub fn check_args(&self, extra: &[&str]) -> Vec<String> {
        let root = self.root.path.to_str().unwrap().to_string();
        let base = [
            "check",
            "--output",
            "json",
            "--docker-root",
            &root,
            "--introspection-url",
            &self.agent.url,
        ];
        arg_list(&base, extra)
    }

    /// `configure` writing `config`, naming the instance as the README's
    /// example does.
    pub fn configure_args(&self, config: &std::path::Path) -> Vec<String> {
        let base = [
            "configure",
            "--output",
            "json",
            "--ecs-config",
            config.to_str().unwrap(),
            "--name",
            "{cluster} ECS {instance_id}",
        ];
        arg_list(&base, &[])
    }

    /// `sweep` of the fixture's group and cluster, every instance past its
    /// registration grace, with the circuit breaker at `max_unhealthy_share`.
    pub fn sweep_args(&self, max_unhealthy_share: &str, extra: &[&str]) -> Vec<String> {
        let base = [
            "sweep",
            "--output",
            "json",
            "--group-name",
            "ecs-hosts",
            "--cluster",
            CLUSTER,
            "--registration-grace",
            "0",
            "--max-unhealthy-share",
            max_unhealthy_share,
        ];
        arg_list(&base, extra)
    }

    pub fn check(&self, extra: &[&str]) -> Value {
        let out = self.tool.run_owned(&self.check_args(extra));
        assert!(out.status.success(), "{}", describe(&out));
        json(&out)
    }

    /// The group's health of each instance, as Auto Scaling (moto) says.
    pub async fn health(&self) -> Vec<(String, String)> {
        let asg = self.rig.autoscaling();
        let out = asg
            .describe_auto_scaling_groups()
            .auto_scaling_group_names("ecs-hosts")
            .send()
            .await
            .unwrap();
        out.auto_scaling_groups()[0]
            .instances()
            .iter()
            .map(|i| {
                (
                    i.instance_id().unwrap().to_string(),
                    i.health_status().unwrap().to_string(),
                )
            })
            .collect()
    }

    pub async fn health_of(&self, inst: &SimInstance) -> String {
        self.health()
            .await
            .into_iter()
            .find(|(i, _)| *i == inst.id)
            .unwrap()
            .1
    }

    /// Turn termination protection on for `inst`, as OpsWorks-style
    /// registration did (straight through moto).
    pub async fn protect(&self, inst: &SimInstance) {
        self.rig
            .ec2()
            .await
            .modify_instance_attribute()
            .instance_id(&inst.id)
            .disable_api_termination(
                aws_sdk_ec2::types::AttributeBooleanValue::builder()
                    .value(true)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }

    /// Register `inst` as a container instance of the cluster; its ARN.
    pub fn register(&self, inst: &SimInstance) -> String {
        self.rig.control(
            "/_rig/ecs_register",
            json!({ "cluster": CLUSTER, "instance_id": inst.id }),
        )["arn"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// A host that was registered, then terminated without deregistering:
    /// its container instance's ARN.
    pub async fn orphan(&self) -> String {
        let gone = self.rig.instance(json!({}));
        let arn = self.register(&gone);
        self.rig
            .ec2()
            .await
            .terminate_instances()
            .instance_ids(&gone.id)
            .send()
            .await
            .unwrap();
        arn
    }

    /// The manager with the verbatim units and drop-in, and the agent's
    /// stand-in.
    pub fn manager(&self) -> rig::systemd::UserManager {
        let manager =
            rig::systemd::UserManager::start_with(&[("ecs-node-guard", std::path::Path::new(BIN))]);
        for (name, path) in units::units() {
            manager.install(name, &std::fs::read_to_string(path).unwrap());
        }
        manager.install("ecs.service", units::ECS_STANDIN);
        manager
    }

    /// The check's state between runs.
    pub fn state_file(&self) -> PathBuf {
        self.dir.path().join("run/ecs-node-guard.json")
    }
}
