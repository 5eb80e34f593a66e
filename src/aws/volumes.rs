//! EBS volume operations with EC2's real rules in mind: tags in the
//! describe answers (no per-volume DescribeTags), tag-on-create with a
//! stable ClientToken, attaches that recognise a lost race, bounded waits.

use super::filter::FilterSpec;
use super::instance::{tags_of, InstanceInfo};
use super::AwsError;
use crate::wait::Deadline;
use anyhow::{anyhow, Result};
use aws_sdk_ec2::types::{
    EbsInstanceBlockDeviceSpecification, InstanceBlockDeviceMappingSpecification, ResourceType,
    Tag, TagSpecification, VolumeType,
};
use aws_sdk_ec2::Client;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

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

/// Device names to try for an attach, in order: the range EC2 recommends
/// for EBS on Linux, then the extended Xen-style range.
pub fn device_names() -> impl Iterator<Item = String> {
    let sd = ('f'..='z').map(|c| format!("/dev/sd{c}"));
    let xvd = ['b', 'c']
        .into_iter()
        .flat_map(|a| ('a'..='z').map(move |b| format!("/dev/xvd{a}{b}")));
    sd.chain(xvd)
}

/// How an attach went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachOutcome {
    /// Attached now, at `device`.
    Attached { device: String },
    /// It already was attached to this instance (a rerun).
    AlreadyAttached { device: String },
    /// Another instance has it, or it is not attachable now: take the next
    /// candidate.
    LostRace { reason: String },
}

/// Attach `volume` to `instance` at the first free device name. Skips when
/// it is already attached here; a lost race (`VolumeInUse`,
/// `IncorrectState`) is an outcome, not an error; a device name in use moves
/// to the next name; `AttachmentLimitExceeded` is final.
pub async fn attach_volume(
    ec2: &Client,
    instance: &InstanceInfo,
    volume: &VolumeInfo,
) -> Result<AttachOutcome> {
    attach(ec2, instance, volume, true).await
}

/// As [`attach_volume`], but `VolumeInUse` is reported as a lost race
/// without describing the volume to see whether the holder is this
/// instance (an earlier attempt whose answer was lost): for a caller that
/// describes all its candidates again after a lost race anyway, and so
/// saves a call.
pub async fn attach_volume_unconfirmed(
    ec2: &Client,
    instance: &InstanceInfo,
    volume: &VolumeInfo,
) -> Result<AttachOutcome> {
    attach(ec2, instance, volume, false).await
}

async fn attach(
    ec2: &Client,
    instance: &InstanceInfo,
    volume: &VolumeInfo,
    confirm_in_use: bool,
) -> Result<AttachOutcome> {
    let vid = &volume.volume_id;
    let iid = &instance.instance_id;
    if let Some(dev) = instance.device_of(vid) {
        return Ok(AttachOutcome::AlreadyAttached {
            device: dev.device_name.clone(),
        });
    }
    if let Some(att) = &volume.attachment {
        if att.instance_id == *iid {
            return Ok(AttachOutcome::AlreadyAttached {
                device: att.device.clone(),
            });
        }
        return Ok(AttachOutcome::LostRace {
            reason: format!("{vid} is attached to {}", att.instance_id),
        });
    }
    let in_use: Vec<&str> = instance.device_names_in_use().collect();
    for device in device_names().filter(|d| !in_use.contains(&d.as_str())) {
        match ec2
            .attach_volume()
            .volume_id(vid)
            .instance_id(iid)
            .device(&device)
            .send()
            .await
        {
            Ok(_) => {
                log::info!("attaching {vid} to {iid} at {device}");
                return Ok(AttachOutcome::Attached { device });
            }
            Err(e) => {
                let err = AwsError::new("AttachVolume", format!("{vid} to {iid} at {device}"), e);
                match err.code.as_deref() {
                    Some("VolumeInUse") => {
                        // Perhaps to us, by an earlier run whose answer was lost.
                        let now = if confirm_in_use {
                            describe_volume(ec2, vid).await?
                        } else {
                            None
                        };
                        if let Some(v) = now {
                            if let Some(att) = v.attachment.filter(|a| a.instance_id == *iid) {
                                return Ok(AttachOutcome::AlreadyAttached { device: att.device });
                            }
                        }
                        return Ok(AttachOutcome::LostRace {
                            reason: err.to_string(),
                        });
                    }
                    Some("IncorrectState") | Some("InvalidVolume.NotFound") => {
                        return Ok(AttachOutcome::LostRace {
                            reason: err.to_string(),
                        });
                    }
                    Some("InvalidParameterValue") if err.detail.contains("already in use") => {
                        log::debug!("{device} is taken on {iid}; trying the next name");
                        continue;
                    }
                    _ => return Err(err.into()),
                }
            }
        }
    }
    Err(anyhow!("no free device name left on {iid} for {vid}"))
}

/// Wait until EC2 reports `volume_id` attached to `instance_id`.
pub async fn wait_attached(
    ec2: &Client,
    volume_id: &str,
    instance_id: &str,
    deadline: &Deadline,
) -> Result<VolumeInfo> {
    deadline
        .poll(
            format!("{volume_id} to be attached to {instance_id}"),
            Duration::from_millis(500),
            Duration::from_secs(4),
            || async {
                let Some(v) = describe_volume(ec2, volume_id).await? else {
                    return Err(anyhow!(
                        "{volume_id} disappeared while attaching to {instance_id}"
                    ));
                };
                match &v.attachment {
                    Some(a) if a.instance_id == instance_id && a.state == "attached" => Ok(Some(v)),
                    Some(a) if a.instance_id == instance_id => Ok(None),
                    other => Err(anyhow!(
                        "{volume_id} is no longer attaching to {instance_id} (now {:?})",
                        other.as_ref().map(|a| (&a.instance_id, &a.state))
                    )),
                }
            },
        )
        .await
}

/// Make DeleteOnTermination of `volume_id` on `instance` what it should
/// be, and verify it by describing the instance again. No call at all when
/// it already is. Returns whether it had to change.
pub async fn ensure_delete_on_termination(
    ec2: &Client,
    instance: &InstanceInfo,
    volume_id: &str,
    want: bool,
) -> Result<bool> {
    let iid = &instance.instance_id;
    let dev = instance
        .device_of(volume_id)
        .ok_or_else(|| anyhow!("{volume_id} is not attached to {iid}"))?;
    if dev.delete_on_termination == want {
        return Ok(false);
    }
    set_delete_on_termination(ec2, iid, &dev.device_name, volume_id, want).await?;
    Ok(true)
}

/// A claimed volume belongs to its cluster or node, not to the instance:
/// when DescribeVolumes reported its attachment to `instance_id` with
/// DeleteOnTermination on (set by hand, or by a launch template), turn it
/// off. No call when it is off. Returns whether it changed.
pub async fn keep_after_termination(
    ec2: &Client,
    instance_id: &str,
    volume: &VolumeInfo,
) -> Result<bool> {
    let Some(att) = volume
        .attachment
        .as_ref()
        .filter(|a| a.instance_id == instance_id && a.delete_on_termination == Some(true))
    else {
        return Ok(false);
    };
    log::warn!(
        "{} had DeleteOnTermination on; turning it off (its data must outlive {instance_id})",
        volume.volume_id
    );
    set_delete_on_termination(ec2, instance_id, &att.device, &volume.volume_id, false).await?;
    Ok(true)
}

/// Set DeleteOnTermination of `volume_id` (attached at `device`) and verify
/// it by describing the instance again.
pub async fn set_delete_on_termination(
    ec2: &Client,
    instance_id: &str,
    device: &str,
    volume_id: &str,
    want: bool,
) -> Result<()> {
    let iid = instance_id;
    ec2.modify_instance_attribute()
        .instance_id(iid)
        .block_device_mappings(
            InstanceBlockDeviceMappingSpecification::builder()
                .device_name(device)
                .ebs(
                    EbsInstanceBlockDeviceSpecification::builder()
                        .volume_id(volume_id)
                        .delete_on_termination(want)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .map_err(|e| {
            AwsError::new(
                "ModifyInstanceAttribute",
                format!("DeleteOnTermination={want} for {volume_id} on {iid}"),
                e,
            )
        })?;
    let now = super::instance::describe_instance(ec2, iid)
        .await?
        .ok_or_else(|| anyhow!("{iid} disappeared"))?;
    match now.device_of(volume_id) {
        Some(d) if d.delete_on_termination == want => {
            log::info!("DeleteOnTermination of {volume_id} on {iid} is now {want}");
            Ok(())
        }
        _ => Err(anyhow!(
            "DeleteOnTermination of {volume_id} on {iid} did not become {want}"
        )),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_start_at_sdf_and_never_repeat() {
        let names: Vec<String> = device_names().collect();
        assert_eq!(names[0], "/dev/sdf");
        assert_eq!(names[20], "/dev/sdz");
        assert_eq!(names[21], "/dev/xvdba");
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
    }
}
