//! px-volume-claim end to end: the real binary on simulated instances of
//! the rig (Auto Scaling groups of them), volumes backed by loop devices.

mod claims;
mod iam;
mod units;

use rig::tool::{arg_list, describe, json, Tool};
use rig::{temp_dir, Rig, SimInstance};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Output;

pub const BIN: &str = env!("CARGO_BIN_EXE_px-volume-claim");
pub const AZ: &str = "us-east-1a";
pub const CLUSTER: &str = "px-test";

/// Fields drop in order: the rig (detaching what it attached), then the
/// directory.
pub struct Fixture {
    pub rig: Rig,
    pub dir: tempfile::TempDir,
}

pub struct Node {
    pub inst: SimInstance,
    pub tool: Tool,
    pub dir: PathBuf,
}

impl Node {
    pub fn env_file(&self) -> PathBuf {
        self.dir.join("px.env")
    }

    pub fn args(&self, extra: &[&str]) -> Vec<String> {
        let env_file = self.env_file();
        arg_list(
            &["--env-file", env_file.to_str().unwrap(), "--output", "json"],
            extra,
        )
    }

    pub fn run(&self, extra: &[&str]) -> Output {
        self.tool.run_owned(&self.args(extra))
    }

    /// Run, require exit 0, the report.
    pub fn ok(&self, extra: &[&str]) -> Value {
        let out = self.run(extra);
        assert!(out.status.success(), "{}", describe(&out));
        json(&out)
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = temp_dir("px");
        let rig = Rig::start();
        Fixture { rig, dir }
    }

    pub fn node_for(&self, inst: SimInstance) -> Node {
        let dir = self.dir.path().join(&inst.id);
        std::fs::create_dir_all(&dir).unwrap();
        let tool = Tool::new(BIN, &self.rig, &inst, &dir);
        Node { inst, tool, dir }
    }

    pub fn node(&self, spec: Value) -> Node {
        let inst = self.rig.instance(spec);
        self.node_for(inst)
    }

    /// A template volume (1 GiB gp3), never attached.
    pub async fn template(&self) -> String {
        let ec2 = self.rig.ec2().await;
        let v = ec2
            .create_volume()
            .availability_zone(AZ)
            .size(1)
            .volume_type(aws_sdk_ec2::types::VolumeType::Gp3)
            .send()
            .await
            .unwrap();
        v.volume_id().unwrap().to_string()
    }

    /// A volume tagged as `cluster`'s, of `template`, in `az`.
    pub async fn cluster_volume(&self, cluster: &str, template: &str, az: &str) -> String {
        use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
        let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
        let ec2 = self.rig.ec2().await;
        let v = ec2
            .create_volume()
            .availability_zone(az)
            .size(1)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Volume)
                    .tags(tag("PWX_CLUSTER_ID", cluster))
                    .tags(tag("PWX_EBS_VOLUME_TEMPLATE", template))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        v.volume_id().unwrap().to_string()
    }

    /// The cluster's volumes of `template`: (volume ID, state, holder).
    pub async fn volumes(&self, template: &str) -> Vec<(String, String, Option<String>)> {
        use aws_sdk_ec2::types::Filter;
        let ec2 = self.rig.ec2().await;
        let out = ec2
            .describe_volumes()
            .filters(
                Filter::builder()
                    .name("tag:PWX_CLUSTER_ID")
                    .values(CLUSTER)
                    .build(),
            )
            .filters(
                Filter::builder()
                    .name("tag:PWX_EBS_VOLUME_TEMPLATE")
                    .values(template)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        out.volumes()
            .iter()
            .map(|v| {
                (
                    v.volume_id().unwrap().to_string(),
                    v.state().unwrap().as_str().to_string(),
                    v.attachments()
                        .first()
                        .and_then(|a| a.instance_id())
                        .map(str::to_string),
                )
            })
            .collect()
    }

    pub async fn terminate(&self, inst: &SimInstance) {
        let ec2 = self.rig.ec2().await;
        ec2.terminate_instances()
            .instance_ids(&inst.id)
            .send()
            .await
            .unwrap();
    }
}

/// `--cluster-id` and one `--template` per (template, max-count).
pub fn flags(templates: &[(&str, u32)]) -> Vec<String> {
    let mut v = vec!["--cluster-id".to_string(), CLUSTER.to_string()];
    for (t, n) in templates {
        v.push("--template".into());
        v.push(format!("{t}:{n}"));
    }
    v
}

pub fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}
