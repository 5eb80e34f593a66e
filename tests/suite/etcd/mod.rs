//! etcd-member-prepare end to end: the real binary on simulated instances
//! of the rig, each with its own loopback address where a real etcd
//! (Debian's etcd-server) listens.

mod iam;
mod membership;
mod scale_in;
mod snapshot;
mod snapshot_iam;
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
    /// (CA, certificate, key) PEM files when the cluster speaks https.
    pub tls: Option<(PathBuf, PathBuf, PathBuf)>,
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
            tls: None,
            dir,
        }
    }

    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// A CA and one certificate (server and client use) whose IP SANs
    /// cover every node launched so far: the cluster then speaks https
    /// with client-certificate authentication, peers and clients alike.
    pub fn enable_tls(&mut self) {
        let d = self.dir.path().join("pki");
        std::fs::create_dir_all(&d).unwrap();
        // 127.0.0.1 too: connections between loopback addresses leave from
        // 127.0.0.1, and etcd checks a peer's certificate against the
        // address the connection comes from (on EC2, the peer's own IP).
        let sans: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("IP:{}", n.inst.private_ip))
            .chain(["IP:127.0.0.1".to_string()])
            .collect();
        let ext = d.join("ext.cnf");
        std::fs::write(
            &ext,
            format!(
                "subjectAltName={}\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n",
                sans.join(",")
            ),
        )
        .unwrap();
        let p = |n: &str| d.join(n).display().to_string();
        for cmd in [
            format!("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mooring-test-ca -keyout {} -out {}", p("ca.key"), p("ca.pem")),
            format!("openssl req -newkey rsa:2048 -nodes -subj /CN=etcd -keyout {} -out {}", p("node.key"), p("node.csr")),
            format!(
                "openssl x509 -req -in {} -CA {} -CAkey {} -CAcreateserial -days 2 -extfile {} -out {}",
                p("node.csr"), p("ca.pem"), p("ca.key"), ext.display(), p("node.pem")
            ),
        ] {
            let out = Command::new("sh").arg("-c").arg(&cmd).output().unwrap();
            assert!(out.status.success(), "{cmd}: {}", String::from_utf8_lossy(&out.stderr));
        }
        self.tls = Some((d.join("ca.pem"), d.join("node.pem"), d.join("node.key")));
    }

    /// Launch a simulated instance tagged into the cluster; its index.
    pub fn launch(&mut self) -> usize {
        let inst = self
            .rig
            .instance(json!({"tags": {"etcd-cluster": self.cluster}}));
        self.adopt(inst)
    }

    /// Make a simulated instance (from an Auto Scaling group) a node.
    pub fn adopt(&mut self, inst: SimInstance) -> usize {
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
        .chain(self.tls_args())
        .collect()
    }

    fn tls_args(&self) -> Vec<String> {
        let Some((ca, cert, key)) = &self.tls else {
            return Vec::new();
        };
        let mut args = vec!["--peer-scheme", "https", "--client-scheme", "https"]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
        for (flag, path) in [("--cacert", ca), ("--cert", cert), ("--key", key)] {
            args.push(flag.to_string());
            args.push(path.display().to_string());
        }
        args
    }

    /// prepare without --initial-size (the tool's own default applies).
    pub fn run_without_size(&self, n: usize, extra: &[&str]) -> Output {
        let mut args = self.args(n, "prepare");
        let i = args.iter().position(|a| a == "--initial-size").unwrap();
        args.drain(i..i + 2);
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.nodes[n].tool.run(&args)
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

    /// promote (as the drop-in's ExecStartPost does), which must succeed.
    pub fn promote(&self, n: usize) {
        let out = self.run(n, "promote", &["--timeout", "60"]);
        assert!(
            out.status.success(),
            "promote on node {n} failed: {}",
            describe(&out)
        );
    }

    /// `count` members, all voting, as node 0 sees them.
    pub async fn assert_all_voting(&self, n: usize, count: usize) {
        let members = self.members(n).await;
        assert_eq!(members.len(), count, "{members:?}");
        assert!(
            members.iter().all(|m| !m.1),
            "a learner is left: {members:?}"
        );
    }

    /// Start etcd from the env file prepare wrote, sourced by a POSIX shell
    /// (the file is written for systemd and sh alike).
    pub fn start(&mut self, n: usize) {
        let etcd = self.spawn_etcd(n);
        self.nodes[n].etcd = Some(etcd);
    }

    /// Start node `n`'s etcd; the caller owns the process.
    pub fn spawn_etcd(&self, n: usize) -> Etcd {
        let node = &self.nodes[n];
        let log = std::fs::File::create(node.dir.join("etcd.log")).unwrap();
        // The admin's part of etcd's settings (/etc/default/etcd): its
        // certificates.
        let tls = match &self.tls {
            Some((ca, cert, key)) => format!(
                "ETCD_CERT_FILE={c} ETCD_KEY_FILE={k} ETCD_TRUSTED_CA_FILE={a} ETCD_CLIENT_CERT_AUTH=true \
                 ETCD_PEER_CERT_FILE={c} ETCD_PEER_KEY_FILE={k} ETCD_PEER_TRUSTED_CA_FILE={a} \
                 ETCD_PEER_CLIENT_CERT_AUTH=true; ",
                c = cert.display(),
                k = key.display(),
                a = ca.display()
            ),
            None => String::new(),
        };
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "set -a; {tls}. {}; exec etcd --data-dir {}",
                node.env_file().display(),
                node.data_dir().display()
            ))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("cannot start etcd (etcd-server installed?)");
        Etcd(child)
    }

    pub fn stop(&mut self, n: usize) {
        self.nodes[n].etcd = None;
    }

    pub fn log(&self, n: usize) -> String {
        std::fs::read_to_string(self.nodes[n].dir.join("etcd.log")).unwrap_or_default()
    }

    /// A client for node `n`'s etcd, once it answers (bounded wait).
    pub async fn client(&self, n: usize) -> etcd_client::Client {
        let url = format!(
            "{}://{}:{}",
            self.scheme(),
            self.nodes[n].inst.private_ip,
            self.client_port
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut opts = etcd_client::ConnectOptions::new()
                .with_connect_timeout(Duration::from_secs(1))
                .with_timeout(Duration::from_secs(3));
            if let Some((ca, cert, key)) = &self.tls {
                let read = |p: &PathBuf| std::fs::read(p).unwrap();
                opts = opts.with_tls(
                    etcd_client::TlsOptions::new()
                        .ca_certificate(etcd_client::Certificate::from_pem(read(ca)))
                        .identity(etcd_client::Identity::from_pem(read(cert), read(key))),
                );
            }
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
        let mut m: Vec<(String, bool)> = self
            .member_list(n)
            .await
            .iter()
            .map(|m| (m.name().to_string(), m.is_learner()))
            .collect();
        m.sort();
        m
    }

    /// Write `key` through node `n`, retried (bounded) while a freshly
    /// formed cluster elects its first leader.
    pub async fn put(&self, n: usize, key: &str, value: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut c = self.client(n).await;
            match c.put(key, value, None).await {
                Ok(_) => return,
                Err(e) => assert!(Instant::now() < deadline, "put on node {n}: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// The member list as node `n` sees it, retried (bounded) while the
    /// cluster elects a leader after a member went away.
    pub async fn member_list(&self, n: usize) -> Vec<etcd_client::Member> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut c = self.client(n).await;
            match c.member_list().await {
                Ok(list) => return list.members().to_vec(),
                Err(e) => assert!(Instant::now() < deadline, "member list on node {n}: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}
