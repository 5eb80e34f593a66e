//! EBS volume operations with EC2's real rules in mind.
//!
//! Tags come in the describe answers (no per-volume DescribeTags); volumes
//! are tagged at creation with a stable ClientToken; attaches recognise a
//! lost race (`volumes/attach.rs`); every wait is bounded.

use super::filter::FilterSpec;
use super::instance::tags_of;
use super::AwsError;
use crate::wait::Deadline;
use anyhow::{anyhow, Result};
use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification, VolumeType};
use aws_sdk_ec2::Client;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

mod attach;
pub use attach::*;

/// A volume's attachment to an instance.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct VolumeAttachment {
    pub instance_id: String,
    pub device: String,
    /// attaching, attached, detaching, detached, busy
    pub state: String,
    /// As EC2 reports it in the attachment, when it does.
    pub delete_on_termination: Option<bool>,
    #[serde(skip)]
    pub attach_time: Option<SystemTime>,
}

/// What Mooring needs to know about a volume.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct VolumeInfo {
    pub volume_id: String,
    pub size_gib: i32,
    /// creating, available, in-use, deleting, deleted, error
    pub state: String,
    pub availability_zone: String,
    pub volume_type: String,
    pub tags: BTreeMap<String, String>,
    pub attachment: Option<VolumeAttachment>,
    #[serde(skip)]
    pub create_time: Option<SystemTime>,
}

impl VolumeInfo {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }

    pub fn attached_to(&self, instance_id: &str) -> bool {
        self.attachment
            .as_ref()
            .is_some_and(|a| a.instance_id == instance_id)
    }

    pub fn size_bytes(&self) -> u64 {
        u64::try_from(self.size_gib).unwrap_or(0) << 30
    }
}

fn info_of(v: &aws_sdk_ec2::types::Volume) -> VolumeInfo {
    VolumeInfo {
        volume_id: v.volume_id().unwrap_or_default().to_string(),
        size_gib: v.size().unwrap_or(0),
        state: v
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        availability_zone: v.availability_zone().unwrap_or_default().to_string(),
        volume_type: v
            .volume_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        tags: tags_of(v.tags()),
        // A multi-attach volume may have several; Mooring never uses those.
        attachment: v.attachments().first().map(|a| VolumeAttachment {
            instance_id: a.instance_id().unwrap_or_default().to_string(),
            device: a.device().unwrap_or_default().to_string(),
            state: a
                .state()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            delete_on_termination: a.delete_on_termination(),
            attach_time: a.attach_time().and_then(|t| SystemTime::try_from(*t).ok()),
        }),
        create_time: v.create_time().and_then(|t| SystemTime::try_from(*t).ok()),
    }
}

/// Every volume matching `filters`, across pages.
pub async fn describe_volumes(ec2: &Client, filters: &[FilterSpec]) -> Result<Vec<VolumeInfo>> {
    let mut pages = ec2
        .describe_volumes()
        .set_filters(Some(filters.iter().map(FilterSpec::to_ec2).collect()))
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| AwsError::new("DescribeVolumes", describe_filters(filters), e))?;
        out.extend(page.volumes().iter().map(info_of));
    }
    Ok(out)
}

/// Filters as an error message names them.
pub(crate) fn describe_filters(filters: &[FilterSpec]) -> String {
    let parts: Vec<String> = filters
        .iter()
        .map(|f| format!("{}={}", f.name, f.values.join("|")))
        .collect();
    format!("[{}]", parts.join(" "))
}

/// One volume by ID; `Ok(None)` when EC2 does not (or not yet) know it.
pub async fn describe_volume(ec2: &Client, volume_id: &str) -> Result<Option<VolumeInfo>> {
    match ec2.describe_volumes().volume_ids(volume_id).send().await {
        Ok(out) => Ok(out.volumes().first().map(info_of)),
        Err(e) if super::error_code(&e) == Some("InvalidVolume.NotFound") => Ok(None),
        Err(e) => Err(AwsError::new("DescribeVolumes", volume_id, e).into()),
    }
}

/// What a new volume should be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeSpec {
    pub size_gib: i32,
    pub volume_type: String,
    pub iops: Option<i32>,
    pub throughput: Option<i32>,
    pub encrypted: bool,
    pub kms_key_id: Option<String>,
    pub snapshot_id: Option<String>,
    pub availability_zone: String,
    pub tags: BTreeMap<String, String>,
}

/// A volume this run created, rather than adopted: the proof that lets
/// [`crate::block::mkfs`] format it without further checks of ownership.
/// Only [`create_volume`] makes one, and only when the volume's creation
/// time is within this run (a ClientToken retry returning a volume an
/// earlier, crashed run created is an adopted volume, not a fresh one).
#[derive(Debug, Clone)]
pub struct FreshVolume {
    volume_id: String,
}

impl FreshVolume {
    pub fn volume_id(&self) -> &str {
        &self.volume_id
    }
}

/// The result of [`create_volume`].
#[derive(Debug, Clone)]
pub struct Created {
    pub volume: VolumeInfo,
    pub fresh: Option<FreshVolume>,
}

/// Create a volume, tagged at creation so that no untagged volume can
/// exist, with `client_token` so that a retry after a crash returns the
/// same volume instead of a second one; then wait until it is available.
/// `run_started` is when this run began (to tell fresh from adopted).
pub async fn create_volume(
    ec2: &Client,
    spec: &VolumeSpec,
    client_token: &str,
    run_started: SystemTime,
    deadline: &Deadline,
) -> Result<Created> {
    let tags: Vec<Tag> = spec
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let out = ec2
        .create_volume()
        .availability_zone(&spec.availability_zone)
        .size(spec.size_gib)
        .volume_type(VolumeType::from(spec.volume_type.as_str()))
        .set_iops(spec.iops)
        .set_throughput(spec.throughput)
        .encrypted(spec.encrypted)
        .set_kms_key_id(spec.kms_key_id.clone())
        .set_snapshot_id(spec.snapshot_id.clone())
        // EC2 refuses an empty tag specification.
        .set_tag_specifications((!tags.is_empty()).then(|| {
            vec![TagSpecification::builder()
                .resource_type(ResourceType::Volume)
                .set_tags(Some(tags))
                .build()]
        }))
        .client_token(client_token)
        .send()
        .await
        .map_err(|e| {
            AwsError::new(
                "CreateVolume",
                format!(
                    "{} GiB {} in {}",
                    spec.size_gib, spec.volume_type, spec.availability_zone
                ),
                e,
            )
        })?;
    let volume_id = out
        .volume_id()
        .ok_or_else(|| anyhow!("CreateVolume answered without a volume ID"))?
        .to_string();
    let fresh_since = run_started - Duration::from_secs(5);
    let created_now = out
        .create_time()
        .and_then(|t| SystemTime::try_from(*t).ok())
        .is_none_or(|t| t >= fresh_since);
    log::info!(
        "created {volume_id} ({} GiB {})",
        spec.size_gib,
        spec.volume_type
    );
    let volume = wait_available(ec2, &volume_id, deadline).await?;
    Ok(Created {
        fresh: created_now.then(|| FreshVolume {
            volume_id: volume_id.clone(),
        }),
        volume,
    })
}

/// Wait until `volume_id` leaves `creating`. A just-created ID may be
/// unknown to DescribeVolumes for a while (eventual consistency).
pub async fn wait_available(
    ec2: &Client,
    volume_id: &str,
    deadline: &Deadline,
) -> Result<VolumeInfo> {
    deadline
        .poll(
            format!("{volume_id} to become available"),
            Duration::from_millis(500),
            Duration::from_secs(4),
            || async {
                match describe_volume(ec2, volume_id).await? {
                    Some(v) if v.state == "creating" => Ok(None),
                    Some(v) if v.state == "error" => {
                        Err(anyhow!("{volume_id} failed to create (state error)"))
                    }
                    Some(v) => Ok(Some(v)),
                    None => Ok(None),
                }
            },
        )
        .await
}

/// One Elastic Volumes modification of a volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modification {
    /// modifying, optimizing, completed, failed
    pub state: String,
    pub start_time: Option<SystemTime>,
    pub target_size_gib: Option<i32>,
}

/// The modifications EC2 remembers for `volume_id`.
pub async fn describe_modifications(ec2: &Client, volume_id: &str) -> Result<Vec<Modification>> {
    let out = ec2
        .describe_volumes_modifications()
        .volume_ids(volume_id)
        .send()
        .await
        .map_err(|e| AwsError::new("DescribeVolumesModifications", volume_id, e))?;
    Ok(out
        .volumes_modifications()
        .iter()
        .map(|m| Modification {
            state: m
                .modification_state()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            start_time: m.start_time().and_then(|t| SystemTime::try_from(*t).ok()),
            target_size_gib: m.target_size(),
        })
        .collect())
}

/// Ask EC2 to grow `volume_id` to `size_gib`.
pub async fn modify_size(ec2: &Client, volume_id: &str, size_gib: i32) -> Result<()> {
    ec2.modify_volume()
        .volume_id(volume_id)
        .size(size_gib)
        .send()
        .await
        .map_err(|e| AwsError::new("ModifyVolume", format!("{volume_id} to {size_gib} GiB"), e))?;
    Ok(())
}

/// Delete `volume_id`.
pub async fn delete_volume(ec2: &Client, volume_id: &str) -> Result<()> {
    ec2.delete_volume()
        .volume_id(volume_id)
        .send()
        .await
        .map_err(|e| AwsError::new("DeleteVolume", volume_id, e))?;
    Ok(())
}

/// Detach `volume_id` from `instance_id` (naming the instance, as EC2 wants
/// for a volume that might have moved).
pub async fn detach_volume(ec2: &Client, volume_id: &str, instance_id: &str) -> Result<()> {
    ec2.detach_volume()
        .volume_id(volume_id)
        .instance_id(instance_id)
        .send()
        .await
        .map_err(|e| AwsError::new("DetachVolume", format!("{volume_id} from {instance_id}"), e))?;
    Ok(())
}
