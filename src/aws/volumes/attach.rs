//! Attaching EBS volumes: device names, lost races, DeleteOnTermination.

use super::{describe_volume, VolumeInfo};
use crate::aws::instance::InstanceInfo;
use crate::aws::AwsError;
use crate::wait::Deadline;
use anyhow::{anyhow, Result};
use aws_sdk_ec2::types::{
    EbsInstanceBlockDeviceSpecification, InstanceBlockDeviceMappingSpecification,
};
use aws_sdk_ec2::Client;
use std::time::Duration;

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
    let now = crate::aws::instance::describe_instance(ec2, iid)
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
