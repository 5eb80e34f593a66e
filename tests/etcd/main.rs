//! etcd-member-prepare end to end: the real binary on simulated instances
//! of the rig, each with its own loopback address where a real etcd
//! (Debian's etcd-server) listens.

#[path = "../rig/mod.rs"]
mod rig;

mod membership;
mod units;

use rig::tool::{describe, json, Tool};
use rig::{temp_dir, Rig, SimInstance};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_etcd-member-prepare");

/// A free TCP port on every address (bound on 0.0.0.0, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One etcd process, killed (by its PID) and reaped on drop.
pub struct Etcd(Child);

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub struct Node {
    pub inst: SimInstance,
    pub tool: Tool,
    pub dir: PathBuf,
    pub etcd: Option<Etcd>,
}

impl Node {
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub fn env_file(&self) -> PathBuf {
        self.dir.join("etcd.env")
    }

    pub fn client_url(&self, port: u16) -> String {
        format!("http://{}:{port}", self.inst.private_ip)
    }
}

/// A cluster's worth of simulated instances. Fields drop in order: etcd
/// processes (in the nodes) before the rig and the directory.
pub struct Fixture {
    pub nodes: Vec<Node>,
    pub rig: Rig,
    pub cluster: String,
    pub initial_size: usize,
    pub peer_port: u16,
    pub client_port: u16,
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new(cluster: &str, initial_size: usize) -> Fixture {
        let dir = temp_dir("etcd");
        Fixture {
            nodes: Vec::new(),
            rig: Rig::start(),
            cluster: cluster.into(),
            initial_size,
            peer_port: free_port(),
            client_port: free_port(),
            dir,
        }
    }

    /// Launch a simulated instance tagged into the cluster; its index.
    pub fn launch(&mut self) -> usize {
        let inst = self
            .rig
            .instance(json!({"tags": {"etcd-cluster": self.cluster}}));
        let dir = self.dir.path().join(&inst.id);
        std::fs::create_dir_all(&dir).unwrap();
        let tool = Tool::new(BIN, &self.rig, &inst, &dir);
        self.nodes.push(Node {
            inst,
            tool,
            dir,
            etcd: None,
        });
        self.nodes.len() - 1
    }

    pub fn args(&self, n: usize, command: &str) -> Vec<String> {
        let node = &self.nodes[n];
        [
            command,
            "--initial-size",
            &self.initial_size.to_string(),
            "--data-dir",
            node.data_dir().to_str().unwrap(),
            "--env-file",
            node.env_file().to_str().unwrap(),
            "--peer-port",
            &self.peer_port.to_string(),
            "--client-port",
            &self.client_port.to_string(),
            "--output",
            "json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    pub fn run(&self, n: usize, command: &str, extra: &[&str]) -> Output {
        let mut args = self.args(n, command);
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.nodes[n].tool.run(&args)
    }

    /// prepare, which must succeed; its report.
    pub fn prepare(&self, n: usize) -> Value {
        let out = self.run(n, "prepare", &[]);
        assert!(
            out.status.success(),
            "prepare on node {n} failed: {}",
            describe(&out)
        );
        json(&out)
    }

    /// Launch `n` instances, run their prepares at the same moment, start
    /// their etcds; the prepare reports.
    pub async fn bootstrap(&mut self, n: usize) -> Vec<Value> {
        let first = self.nodes.len();
        for _ in 0..n {
            self.launch();
        }
        let reports: Vec<Value> = std::thread::scope(|s| {
            let handles: Vec<_> = (first..first + n)
                .map(|i| {
                    let f = &*self;
                    s.spawn(move || f.prepare(i))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for i in first..first + n {
            self.start(i);
        }
        for i in first..first + n {
            self.client(i).await;
        }
        reports
    }

    /// Start etcd from the env file prepare wrote, sourced by a POSIX shell
    /// (the file is written for systemd and sh alike).
    pub fn start(&mut self, n: usize) {
        let node = &self.nodes[n];
        let log = std::fs::File::create(node.dir.join("etcd.log")).unwrap();
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "set -a; . {}; exec etcd --data-dir {}",
                node.env_file().display(),
                node.data_dir().display()
            ))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("cannot start etcd (etcd-server installed?)");
        self.nodes[n].etcd = Some(Etcd(child));
    }

    pub fn stop(&mut self, n: usize) {
        self.nodes[n].etcd = None;
    }

    pub fn log(&self, n: usize) -> String {
        std::fs::read_to_string(self.nodes[n].dir.join("etcd.log")).unwrap_or_default()
    }

    /// A client for node `n`'s etcd, once it answers (bounded wait).
    pub async fn client(&self, n: usize) -> etcd_client::Client {
        let url = self.nodes[n].client_url(self.client_port);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let opts = etcd_client::ConnectOptions::new()
                .with_connect_timeout(Duration::from_secs(1))
                .with_timeout(Duration::from_secs(3));
            if let Ok(mut c) = etcd_client::Client::connect([url.clone()], Some(opts)).await {
                if c.status().await.is_ok() {
                    return c;
                }
            }
            assert!(
                Instant::now() < deadline,
                "etcd on node {n} never answered: {}",
                self.log(n)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// (name, is_learner) of every member, sorted, as node `n` sees them.
    pub async fn members(&self, n: usize) -> Vec<(String, bool)> {
        let mut c = self.client(n).await;
        let mut m: Vec<(String, bool)> = c
            .member_list()
            .await
            .unwrap()
            .members()
            .iter()
            .map(|m| (m.name().to_string(), m.is_learner()))
            .collect();
        m.sort();
        m
    }
}
