//! The test rig: emulated EC2, IMDS and hypervisor for the integration suite.
//!
//! moto with EC2's rules, a hypervisor backing attached volumes with loop
//! devices, IMDSv2 per simulated instance, a fault proxy (all started by
//! `launcher.py`, its modules in `sim/`), plus loop-device and systemd
//! helpers.
//!
//! Every test gets its own rig (its own moto state, ports chosen by the OS,
//! its own directory), and everything it creates is cleaned up on drop,
//! panics included. Missing prerequisites fail the test with the reason:
//! nothing is skipped silently.

/// The repository the rig tests (its packaging, units and IAM policies).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub mod iam;
pub mod loopdev;
pub mod systemd;
pub mod tool;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use mooring::aws::AwsOptions;
use mooring::block::DeviceResolver;

/// The Python with moto installed (`make test` creates the venv).
fn python() -> PathBuf {
    let path = std::env::var_os("MOORING_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/mooring-venv/bin/python3"));
    assert!(
        path.exists(),
        "the rig needs moto: {} is missing (run `make test`, which installs it, or set MOORING_TEST_PYTHON)",
        path.display()
    );
    path
}

/// Tests use loop devices and mounts: they must run as root.
pub fn require_root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "these tests need root (loop devices, mounts, namespaces); run them through `make test` as root"
    );
}

/// A fresh directory for one rig or test, under /var/tmp (not /tmp: tests
/// may hand paths to a systemd manager with its own view of the system).
pub fn unique_dir(prefix: &str) -> PathBuf {
    tempfile::Builder::new()
        .prefix(&format!("mooring-{prefix}-"))
        .tempdir_in("/var/tmp")
        .expect("cannot create a test directory in /var/tmp")
        .keep()
}

/// A directory removed on drop (declare it before any MountGuard inside
/// it, so that the unmount happens first).
pub fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("mooring-{prefix}-"))
        .tempdir_in("/var/tmp")
        .expect("cannot create a test directory in /var/tmp")
}

/// The rig's own credentials (moto accepts any outside IAM mode).
fn rig_credentials() -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new("rig", "rig", None, None, "rig")
}

/// An SDK configuration for `endpoint` (moto, or the proxy) in the rig's
/// region; the SDK's default retries unless `retry` says otherwise.
fn sdk_config(
    endpoint: &str,
    credentials: aws_credential_types::Credentials,
    retry: Option<aws_config::retry::RetryConfig>,
) -> aws_config::SdkConfig {
    let mut builder = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(credentials),
        );
    if let Some(retry) = retry {
        builder = builder.retry_config(retry);
    }
    builder.build()
}

/// The error code of an SDK call's answer ("" when it succeeded).
pub fn error_code<T, E: aws_sdk_ec2::error::ProvideErrorMetadata>(answer: Result<T, E>) -> String {
    match answer {
        Ok(_) => String::new(),
        Err(e) => e.code().unwrap_or("?").to_string(),
    }
}

/// One running rig.
pub struct Rig {
    child: Child,
    pub dir: PathBuf,
    /// The fault proxy: what tools talk to (AWS_ENDPOINT_URL).
    pub endpoint: String,
    /// moto itself: for setting up and checking state, never counted.
    pub moto_endpoint: String,
    proxy_port: u16,
}

/// A simulated instance: a moto instance, its IMDS server, its devices.
#[derive(Debug, Clone)]
pub struct SimInstance {
    pub id: String,
    pub imds_url: String,
    pub by_id_dir: PathBuf,
    pub sys_block_dir: PathBuf,
    pub dev_dir: PathBuf,
    pub private_ip: String,
    pub az: String,
    /// The instance's own network namespace (`"netns": true`), holding an
    /// interface per attached ENI; tools for it run there.
    pub netns: Option<String>,
}

impl SimInstance {
    pub fn resolver(&self) -> DeviceResolver {
        DeviceResolver {
            sys_block: self.sys_block_dir.clone(),
            dev_dir: self.dev_dir.clone(),
            by_id: self.by_id_dir.clone(),
        }
    }
}

impl Rig {
    pub fn start() -> Rig {
        require_root();
        let dir = unique_dir("rig");
        let launcher = Path::new(env!("CARGO_MANIFEST_DIR")).join("launcher.py");
        let mut child = Command::new(python())
            .arg(&launcher)
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start the rig's launcher");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if !line.is_empty() => line,
            other => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the rig's launcher did not start (got {other:?}); see its stderr above");
            }
        };
        let ports: Value = serde_json::from_str(&line).expect("launcher's first line is JSON");
        let proxy_port = ports["proxy"].as_u64().unwrap() as u16;
        let moto_port = ports["moto"].as_u64().unwrap();
        Rig {
            child,
            dir,
            endpoint: format!("http://127.0.0.1:{proxy_port}"),
            moto_endpoint: format!("http://127.0.0.1:{moto_port}"),
            proxy_port,
        }
    }

    /// POST a control request to the launcher; panics on failure.
    pub fn control(&self, path: &str, body: Value) -> Value {
        let body = body.to_string();
        let mut stream = TcpStream::connect(("127.0.0.1", self.proxy_port)).expect("rig control");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: rig\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut resp = String::new();
        stream
            .read_to_string(&mut resp)
            .expect("rig control answer");
        let (head, body) = resp.split_once("\r\n\r\n").expect("HTTP answer");
        assert!(
            head.starts_with("HTTP/1.1 200"),
            "rig control {path} failed: {head} {body}"
        );
        serde_json::from_str(body).expect("rig control answers JSON")
    }

    /// Start a simulated instance. `spec` keys: az, tags, user_data,
    /// instance_type, metadata_tags (bool), naming (nitro|by-id|xen),
    /// attachment_limit, netns (bool: a network namespace of its own, with
    /// an interface per attached ENI).
    pub fn instance(&self, spec: Value) -> SimInstance {
        sim_instance(&self.control("/_rig/instances", spec))
    }

    /// An Auto Scaling group of `size` simulated instances (`spec` as for
    /// `instance`, plus `name`).
    pub fn asg(&self, spec: Value) -> Vec<SimInstance> {
        let v = self.control("/_rig/asg", spec);
        v.as_array().unwrap().iter().map(sim_instance).collect()
    }

    /// How a tool on `inst` reaches AWS: through the proxy, with
    /// credentials from the instance's IMDS (none in the environment).
    pub fn aws_options(&self, inst: &SimInstance) -> AwsOptions {
        AwsOptions {
            region: None,
            endpoint_url: Some(self.endpoint.clone()),
            imds_endpoint: Some(inst.imds_url.clone()),
            max_attempts: None,
        }
    }

    /// Environment for a tool process on `inst` (the standard variables).
    pub fn tool_env(&self, inst: &SimInstance) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL".into(), self.endpoint.clone()),
            (
                "AWS_EC2_METADATA_SERVICE_ENDPOINT".into(),
                inst.imds_url.clone(),
            ),
        ]
    }

    /// The SDK configuration of a client straight to moto (not through the
    /// proxy: not counted, never faulted), for setting up and checking state.
    pub fn moto_config(&self) -> aws_config::SdkConfig {
        sdk_config(&self.moto_endpoint, rig_credentials(), None)
    }

    /// An EC2 client straight to moto.
    pub async fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.moto_config())
    }

    /// An Auto Scaling client straight to moto.
    pub fn autoscaling(&self) -> aws_sdk_autoscaling::Client {
        aws_sdk_autoscaling::Client::new(&self.moto_config())
    }

    /// An ECS client straight to moto.
    pub fn ecs(&self) -> aws_sdk_ecs::Client {
        aws_sdk_ecs::Client::new(&self.moto_config())
    }

    /// S3 on moto (path-style: a bucket in the host name would not
    /// resolve here).
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&self.moto_config())
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// Replace the fault rules. A rule: {"match": "AttachVolume" (optional),
    /// "skip": N, "times": K, "fault": throttle|error500|drop|drop_after|
    /// kill_before|kill_after|steal, "pid": P (for kill_*), "instance_id":
    /// I (for steal: that instance attaches the volume or ENI of the call
    /// first, so the call loses the race)}: the matching calls N+1 .. N+K
    /// get the fault.
    pub fn faults(&self, rules: Value) {
        self.control("/_rig/faults", json!({ "rules": rules }));
    }

    /// The EC2 actions tools sent through the proxy since the last clear,
    /// and how many faults fired.
    pub fn calls(&self, clear: bool) -> (Vec<String>, u64) {
        let v = self.control("/_rig/calls", json!({ "clear": clear }));
        let calls = v["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["action"].as_str().unwrap().to_string())
            .collect();
        (calls, v["faults_fired"].as_u64().unwrap())
    }

    /// EC2's request throttling: `{"describe": {"size": S, "refill": R,
    /// "tokens": T}, "mutate": {...}}` (see ctl_throttle in sim/control_api.py);
    /// a throttled call answers RequestLimitExceeded and shows in
    /// [`Rig::throttled`].
    pub fn throttle(&self, buckets: Value) {
        self.control("/_rig/throttle", buckets);
    }

    /// The calls so far to `service` ("ec2", "autoscaling", ...) per
    /// simulated instance (by the credentials its IMDS handed out; outside
    /// IAM mode), counted whatever their answer.
    pub fn calls_by_instance(&self, service: &str) -> std::collections::BTreeMap<String, usize> {
        let v = self.control("/_rig/calls", json!({ "clear": false }));
        let mut out = std::collections::BTreeMap::new();
        for c in v["calls"].as_array().unwrap() {
            if c["service"] != service {
                continue;
            }
            let who = c["instance"].as_str().unwrap_or("(unknown)").to_string();
            *out.entry(who).or_insert(0) += 1;
        }
        out
    }

    /// The calls answered RequestLimitExceeded so far (faults and buckets).
    pub fn throttled(&self) -> usize {
        let v = self.control("/_rig/calls", json!({ "clear": false }));
        v["calls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["fault"] == "throttle")
            .count()
    }

    /// Set the hypervisor's timing: attach_delay, create_delay (seconds).
    pub fn config(&self, conf: Value) {
        self.control("/_rig/config", conf);
    }

    /// From now on the instances' credentials are a role's whose policy is
    /// `policy`'s projection (each Allow statement's actions on any
    /// resource), and moto enforces it on the tools' calls (see ctl_iam in
    /// sim/iam_access.py); the rig's own setup stays unrestricted.
    pub fn restrict_to(&self, policy: &Value) {
        self.control("/_rig/iam", serde_json::json!({ "policy": policy }));
    }

    /// An EC2 client through the proxy, as a tool's calls go (counted,
    /// faulted, throttled), that does not retry.
    pub fn proxy_ec2_without_retries(&self) -> aws_sdk_ec2::Client {
        let no_retries = Some(aws_config::retry::RetryConfig::disabled());
        aws_sdk_ec2::Client::new(&sdk_config(&self.endpoint, rig_credentials(), no_retries))
    }

    /// As [`Rig::restrict_to`], and an EC2 client through the proxy with
    /// the role's session: calls as a tool would make them, to probe what
    /// the policy allows.
    pub fn restricted_ec2(&self, policy: &Value) -> aws_sdk_ec2::Client {
        let answer = self.control("/_rig/iam", serde_json::json!({ "policy": policy }));
        let c = &answer["credentials"];
        let creds = aws_credential_types::Credentials::new(
            c["AccessKeyId"].as_str().unwrap(),
            c["SecretAccessKey"].as_str().unwrap(),
            c["SessionToken"].as_str().map(str::to_string),
            None,
            "rig-role",
        );
        let no_retries = Some(aws_config::retry::RetryConfig::disabled());
        aws_sdk_ec2::Client::new(&sdk_config(&self.endpoint, creds, no_retries))
    }

    /// The paths `inst`'s IMDS was asked since the last clear (the token's
    /// PUT included), in order.
    pub fn imds_requests(&self, inst: &SimInstance, clear: bool) -> Vec<String> {
        let v = self.control(
            "/_rig/imds",
            json!({ "instance_id": inst.id, "clear": clear }),
        );
        v["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect()
    }

    /// Make `inst`'s IMDS slow: each rule `{"path": prefix, "seconds": S,
    /// "times": N}` delays the next N answers under prefix by S seconds.
    pub fn imds_delays(&self, inst: &SimInstance, delays: Value) {
        self.control(
            "/_rig/imds",
            json!({ "instance_id": inst.id, "delays": delays }),
        );
    }

    /// Auto Scaling's termination waits: (instances in Terminating:Wait,
    /// how each finished wait ended: CONTINUE, ABANDON or timeout).
    pub fn lifecycle(&self) -> (Vec<String>, std::collections::BTreeMap<String, String>) {
        let v = self.control("/_rig/lifecycle", json!({}));
        let waiting = v["waiting"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_str().unwrap().to_string())
            .collect();
        let ended = v["ended"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        (waiting, ended)
    }

    /// The loop device backing each volume attached to `inst`.
    pub fn devices(&self, inst: &SimInstance) -> Value {
        self.control("/_rig/devices", json!({ "instance_id": inst.id }))
    }

    /// Put an instance in `state` (e.g. shutting-down) with its volumes
    /// still attached.
    pub fn set_instance_state(&self, inst: &SimInstance, state: &str) {
        self.control(
            "/_rig/instance_state",
            json!({ "instance_id": inst.id, "state": state }),
        );
    }

    /// Set DeleteOnTermination of `volume_id`, attached to `inst`, straight
    /// through moto (as an admin would by hand).
    pub async fn set_delete_on_termination(&self, inst: &SimInstance, volume_id: &str, on: bool) {
        use aws_sdk_ec2::types::{
            EbsInstanceBlockDeviceSpecification, InstanceBlockDeviceMappingSpecification,
        };
        let ec2 = self.ec2().await;
        let v = ec2
            .describe_volumes()
            .volume_ids(volume_id)
            .send()
            .await
            .unwrap();
        let device = v.volumes()[0].attachments()[0]
            .device()
            .unwrap()
            .to_string();
        ec2.modify_instance_attribute()
            .instance_id(&inst.id)
            .block_device_mappings(
                InstanceBlockDeviceMappingSpecification::builder()
                    .device_name(device)
                    .ebs(
                        EbsInstanceBlockDeviceSpecification::builder()
                            .volume_id(volume_id)
                            .delete_on_termination(on)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }

    /// The rig's subnet in `az`, for creating ENIs there.
    pub fn subnet(&self, az: &str) -> String {
        self.control("/_rig/subnet", json!({ "az": az }))["subnet_id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Backing file of a volume (its data, kept while the volume exists).
    pub fn backing_file(&self, volume_id: &str) -> PathBuf {
        self.dir.join("volumes").join(format!("{volume_id}.img"))
    }
}

fn sim_instance(v: &Value) -> SimInstance {
    SimInstance {
        id: v["instance_id"].as_str().unwrap().into(),
        imds_url: v["imds_url"].as_str().unwrap().into(),
        by_id_dir: v["by_id_dir"].as_str().unwrap().into(),
        sys_block_dir: v["sys_block_dir"].as_str().unwrap().into(),
        dev_dir: v["dev_dir"].as_str().unwrap().into(),
        private_ip: v["private_ip"].as_str().unwrap().into(),
        az: v["az"].as_str().unwrap().into(),
        netns: v["netns"].as_str().map(str::to_string),
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Whatever the launcher left: every loop device over our files,
        // and anything mounted from those.
        if let Ok(entries) = std::fs::read_dir(self.dir.join("volumes")) {
            for entry in entries.flatten() {
                loopdev::detach_loops_of(&entry.path());
            }
        }
        // And every network namespace named after this rig.
        let prefix = format!(
            "{}-",
            self.dir.file_name().unwrap_or_default().to_string_lossy()
        );
        if let Ok(entries) = std::fs::read_dir("/run/netns") {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with(&prefix) {
                    let _ = Command::new("ip")
                        .args(["netns", "del", &name])
                        .stderr(Stdio::null())
                        .status();
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl SimInstance {
    /// The names and MAC addresses of the interfaces in this instance's
    /// network namespace (`ip -j link`), loopback excluded.
    pub fn interfaces(&self) -> Vec<(String, String)> {
        let ns = self.netns.as_deref().expect("instance has no netns");
        let out = Command::new("ip")
            .args(["-n", ns, "-j", "link", "show"])
            .output()
            .expect("cannot run ip");
        assert!(out.status.success(), "ip -n {ns} link show failed");
        let links: Value = serde_json::from_slice(&out.stdout).unwrap();
        links
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["ifname"] != "lo")
            .map(|l| {
                (
                    l["ifname"].as_str().unwrap().to_string(),
                    l["address"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }
}
