//! This instance as EC2 sees it, and whether another one is gone.
//!
//! This instance as EC2 sees it: its attachments, for counting slots and
//! choosing device names.

use super::AwsError;
use anyhow::Result;
use aws_sdk_ec2::Client;
use serde::Serialize;
use std::collections::BTreeMap;

/// Nitro instances share about 28 attachment slots between EBS volumes,
/// network interfaces and instance store volumes (most types; some have
/// dedicated EBS limits, hence a flag in the tools).
pub const DEFAULT_ATTACHMENT_LIMIT: u32 = 28;

/// One EBS volume attached to the instance.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BlockDevice {
    pub device_name: String,
    pub volume_id: String,
    pub delete_on_termination: bool,
}

/// An instance's state and attachments.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceInfo {
    pub instance_id: String,
    pub state: String,
    pub availability_zone: String,
    pub block_devices: Vec<BlockDevice>,
    /// (device index, ENI id) of every attached interface.
    pub interfaces: Vec<(i32, String)>,
    pub tags: BTreeMap<String, String>,
}

impl InstanceInfo {
    /// Attachment slots left under `limit`, counting volumes and ENIs.
    pub fn free_attachment_slots(&self, limit: u32) -> u32 {
        let used = self.block_devices.len() + self.interfaces.len();
        limit.saturating_sub(used as u32)
    }

    pub fn device_of(&self, volume_id: &str) -> Option<&BlockDevice> {
        self.block_devices.iter().find(|b| b.volume_id == volume_id)
    }

    pub fn device_names_in_use(&self) -> impl Iterator<Item = &str> {
        self.block_devices.iter().map(|b| b.device_name.as_str())
    }
}

pub(crate) fn tags_of(tags: &[aws_sdk_ec2::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// Describe one instance by ID. `Ok(None)` when EC2 does not know it.
pub async fn describe_instance(ec2: &Client, instance_id: &str) -> Result<Option<InstanceInfo>> {
    let out = match ec2
        .describe_instances()
        .instance_ids(instance_id)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if super::error_code(&e) == Some("InvalidInstanceID.NotFound") => return Ok(None),
        Err(e) => return Err(AwsError::new("DescribeInstances", instance_id, e).into()),
    };
    let instance = out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .find(|i| i.instance_id() == Some(instance_id));
    Ok(instance.map(info_of))
}

pub(crate) fn info_of(i: &aws_sdk_ec2::types::Instance) -> InstanceInfo {
    InstanceInfo {
        instance_id: i.instance_id().unwrap_or_default().to_string(),
        state: i
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string())
            .unwrap_or_default(),
        availability_zone: i
            .placement()
            .and_then(|p| p.availability_zone())
            .unwrap_or_default()
            .to_string(),
        block_devices: i
            .block_device_mappings()
            .iter()
            .filter_map(|m| {
                let ebs = m.ebs()?;
                Some(BlockDevice {
                    device_name: m.device_name()?.to_string(),
                    volume_id: ebs.volume_id()?.to_string(),
                    delete_on_termination: ebs.delete_on_termination().unwrap_or(false),
                })
            })
            .collect(),
        interfaces: i
            .network_interfaces()
            .iter()
            .filter_map(|n| {
                Some((
                    n.attachment()?.device_index()?,
                    n.network_interface_id()?.to_string(),
                ))
            })
            .collect(),
        tags: tags_of(i.tags()),
    }
}

/// The IDs among `ids` whose instances are gone: terminated, shutting
/// down, or unknown to EC2. Absence from a filtered list proves nothing
/// (eventual consistency); this asks about each ID.
pub async fn proven_gone(ec2: &Client, ids: &[String]) -> Result<Vec<String>> {
    let mut gone = Vec::new();
    for id in ids {
        match ec2.describe_instances().instance_ids(id).send().await {
            Ok(out) => {
                let state = out
                    .reservations()
                    .iter()
                    .flat_map(|r| r.instances())
                    .find(|i| i.instance_id() == Some(id))
                    .and_then(|i| i.state()?.name().map(|n| n.as_str().to_string()));
                match state.as_deref() {
                    Some("terminated") | Some("shutting-down") | None => gone.push(id.clone()),
                    _ => {}
                }
            }
            Err(e) if super::error_code(&e) == Some("InvalidInstanceID.NotFound") => {
                gone.push(id.clone())
            }
            Err(e) => return Err(AwsError::new("DescribeInstances", id.clone(), e).into()),
        }
    }
    Ok(gone)
}
