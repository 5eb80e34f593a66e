//! smilodon-attach end to end: the real binary, run inside each simulated
//! instance's own network namespace (where the rig's hypervisor plugs an
//! interface with the ENI's MAC when moto attaches it), with real
//! filesystems on the loop devices the rig attaches.

mod attach;
mod iam;
mod races;
mod scale_in;
mod units;

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use rig::tool::{arg_list, describe, json, Tool};
use rig::{temp_dir, Rig, SimInstance};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Output;

pub const BIN: &str = env!("CARGO_BIN_EXE_smilodon-attach");
pub const AZ: &str = "us-east-1a";

/// A rig with pairs of volumes and ENIs. Fields drop in order: the rig
/// (unmounting and detaching what it attached), then the directory.
pub struct Fixture {
    pub rig: Rig,
    pub dir: tempfile::TempDir,
}

/// One pair's IDs.
#[derive(Debug, Clone)]
pub struct PairIds {
    pub node_id: String,
    pub volume_id: String,
    pub eni_id: String,
}

/// A simulated instance and the tool bound to it.
pub struct Node {
    pub inst: SimInstance,
    pub tool: Tool,
    pub dir: PathBuf,
}

impl Node {
    pub fn mountpoint(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub fn env_file(&self) -> PathBuf {
        self.dir.join("node.env")
    }

    /// The tool's usual arguments for this node, then `extra`.
    pub fn args(&self, extra: &[&str]) -> Vec<String> {
        let env_file = self.env_file();
        let base = [
            "--filters",
            "tag:Service=zk,tag-key=Project",
            "--env-file",
            env_file.to_str().unwrap(),
            "--output",
            "json",
            "--timeout",
            "60",
        ];
        arg_list(&base, extra)
    }

    pub fn run(&self, extra: &[&str]) -> Output {
        self.tool.run_owned(&self.args(extra))
    }

    /// Run with the data volume mounted (ext4 on a blank one); require
    /// exit 0; the report.
    pub fn attach(&self) -> Value {
        let mp = self.mountpoint();
        let out = self.run(&["--mountpoint", mp.to_str().unwrap(), "--mkfs", "ext4"]);
        assert!(out.status.success(), "{}", describe(&out));
        json(&out)
    }

    /// The env file as key → value (systemd quoting undone for plain
    /// values).
    pub fn env(&self) -> std::collections::BTreeMap<String, String> {
        std::fs::read_to_string(self.env_file())
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
            .collect()
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = temp_dir("smilodon");
        let rig = Rig::start();
        Fixture { rig, dir }
    }

    /// A simulated instance with a network namespace of its own.
    pub fn node(&self, az: &str) -> Node {
        let inst = self.rig.instance(json!({ "az": az, "netns": true }));
        let dir = self.dir.path().join(&inst.id);
        std::fs::create_dir_all(&dir).unwrap();
        let tool = Tool::new(BIN, &self.rig, &inst, &dir);
        Node { inst, tool, dir }
    }

    /// The one instance of a new Auto Scaling group `name` in `az`, its
    /// metadata tags off (it asks Auto Scaling for its group).
    pub fn group_node(&self, name: &str, az: &str) -> Node {
        let inst = self
            .rig
            .asg(
                json!({ "name": name, "size": 1, "az": az, "netns": true, "metadata_tags": false }),
            )
            .remove(0);
        let dir = self.dir.path().join(&inst.id);
        std::fs::create_dir_all(&dir).unwrap();
        let tool = Tool::new(BIN, &self.rig, &inst, &dir);
        Node { inst, tool, dir }
    }

    /// A volume (1 GiB) and an ENI in `az`, both tagged NodeID=`node_id`
    /// and matching the nodes' filters.
    pub async fn pair(&self, node_id: &str, az: &str) -> PairIds {
        PairIds {
            node_id: node_id.to_string(),
            volume_id: self.volume(node_id, az).await,
            eni_id: self.eni(node_id, az).await,
        }
    }

    fn tags(resource: ResourceType, node_id: &str) -> TagSpecification {
        let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
        TagSpecification::builder()
            .resource_type(resource)
            .tags(tag("NodeID", node_id))
            .tags(tag("Service", "zk"))
            .tags(tag("Project", "mooring-test"))
            .build()
    }

    pub async fn volume(&self, node_id: &str, az: &str) -> String {
        let ec2 = self.rig.ec2().await;
        let v = ec2
            .create_volume()
            .availability_zone(az)
            .size(1)
            .tag_specifications(Self::tags(ResourceType::Volume, node_id))
            .send()
            .await
            .unwrap();
        v.volume_id().unwrap().to_string()
    }

    pub async fn eni(&self, node_id: &str, az: &str) -> String {
        let ec2 = self.rig.ec2().await;
        let n = ec2
            .create_network_interface()
            .subnet_id(self.rig.subnet(az))
            .tag_specifications(Self::tags(ResourceType::NetworkInterface, node_id))
            .send()
            .await
            .unwrap();
        n.network_interface()
            .unwrap()
            .network_interface_id()
            .unwrap()
            .to_string()
    }

    /// Where a volume is attached, as EC2 (moto) says.
    pub async fn volume_holder(&self, volume_id: &str) -> Option<String> {
        let ec2 = self.rig.ec2().await;
        let out = ec2
            .describe_volumes()
            .volume_ids(volume_id)
            .send()
            .await
            .unwrap();
        out.volumes()[0]
            .attachments()
            .first()
            .and_then(|a| a.instance_id())
            .map(str::to_string)
    }

    async fn describe_eni(&self, eni_id: &str) -> aws_sdk_ec2::types::NetworkInterface {
        let ec2 = self.rig.ec2().await;
        let out = ec2
            .describe_network_interfaces()
            .network_interface_ids(eni_id)
            .send()
            .await
            .unwrap();
        out.network_interfaces()[0].clone()
    }

    /// Where an ENI is attached, and its MAC and private IP.
    pub async fn eni_state(&self, eni_id: &str) -> (Option<String>, String, String) {
        let n = self.describe_eni(eni_id).await;
        (
            n.attachment()
                .and_then(|a| a.instance_id())
                .map(str::to_string),
            n.mac_address().unwrap().to_string(),
            n.private_ip_address().unwrap().to_string(),
        )
    }

    /// DeleteOnTermination of a volume's attachment, as DescribeVolumes
    /// reports it.
    pub async fn volume_delete_on_termination(&self, volume_id: &str) -> Option<bool> {
        let ec2 = self.rig.ec2().await;
        let out = ec2
            .describe_volumes()
            .volume_ids(volume_id)
            .send()
            .await
            .unwrap();
        out.volumes()[0].attachments()[0].delete_on_termination()
    }

    /// An ENI's attachment: its ID and DeleteOnTermination.
    pub async fn eni_attachment(&self, eni_id: &str) -> (String, Option<bool>) {
        let n = self.describe_eni(eni_id).await;
        let att = n.attachment().unwrap();
        (
            att.attachment_id().unwrap().to_string(),
            att.delete_on_termination(),
        )
    }

    /// Turn DeleteOnTermination on for the pair held by `inst` (volume and
    /// ENI), straight through moto, as an admin might by hand.
    pub async fn set_delete_on_termination(&self, pair: &PairIds, inst: &SimInstance) {
        use aws_sdk_ec2::types::NetworkInterfaceAttachmentChanges;
        self.rig
            .set_delete_on_termination(inst, &pair.volume_id, true)
            .await;
        let (attachment_id, _) = self.eni_attachment(&pair.eni_id).await;
        self.rig
            .ec2()
            .await
            .modify_network_interface_attribute()
            .network_interface_id(&pair.eni_id)
            .attachment(
                NetworkInterfaceAttachmentChanges::builder()
                    .attachment_id(&attachment_id)
                    .delete_on_termination(true)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }

    pub async fn eni_holder(&self, eni_id: &str) -> Option<String> {
        self.eni_state(eni_id).await.0
    }

    /// The NodeIDs whose volume or ENI `inst` holds, each with (volume
    /// here, ENI here).
    pub async fn held_by(
        &self,
        pairs: &[PairIds],
        inst: &SimInstance,
    ) -> Vec<(String, bool, bool)> {
        let mut out = Vec::new();
        for p in pairs {
            let v = self.volume_holder(&p.volume_id).await.as_deref() == Some(&inst.id);
            let e = self.eni_holder(&p.eni_id).await.as_deref() == Some(&inst.id);
            if v || e {
                out.push((p.node_id.clone(), v, e));
            }
        }
        out
    }

    /// Detach every pair resource from `inst` (straight through moto).
    pub async fn free(&self, pairs: &[PairIds], inst: &SimInstance) {
        let ec2 = self.rig.ec2().await;
        for p in pairs {
            if self.volume_holder(&p.volume_id).await.as_deref() == Some(&inst.id) {
                ec2.detach_volume()
                    .volume_id(&p.volume_id)
                    .instance_id(&inst.id)
                    .send()
                    .await
                    .unwrap();
            }
            let n = self.describe_eni(&p.eni_id).await;
            let att = n.attachment();
            if att.and_then(|a| a.instance_id()) == Some(inst.id.as_str()) {
                ec2.detach_network_interface()
                    .attachment_id(att.unwrap().attachment_id().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
}

/// The EC2 actions in `calls` that change something.
pub fn mutations(calls: &[String]) -> Vec<String> {
    calls
        .iter()
        .filter(|c| !c.starts_with("Describe"))
        .cloned()
        .collect()
}
