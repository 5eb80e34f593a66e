//! Elastic network interfaces: described with tags, attached, raced for.
//!
//! Elastic network interfaces: described with their tags (no DescribeTags),
//! attached at a free device index, with a lost race as an outcome.

use super::filter::FilterSpec;
use super::instance::{tags_of, InstanceInfo};
use super::AwsError;
use anyhow::{anyhow, Result};
use aws_sdk_ec2::types::NetworkInterfaceAttachmentChanges;
use aws_sdk_ec2::Client;
use serde::Serialize;
use std::collections::BTreeMap;

/// An interface's attachment to an instance.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EniAttachment {
    pub attachment_id: String,
    pub instance_id: String,
    pub device_index: i32,
    /// attaching, attached, detaching, detached
    pub status: String,
    pub delete_on_termination: bool,
}

/// What Mooring needs to know about an ENI.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EniInfo {
    pub eni_id: String,
    /// available, in-use, attaching, detaching, associated
    pub status: String,
    pub availability_zone: String,
    pub mac_address: String,
    pub private_ip: String,
    pub tags: BTreeMap<String, String>,
    pub attachment: Option<EniAttachment>,
}

impl EniInfo {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }

    pub fn attached_to(&self, instance_id: &str) -> bool {
        self.attachment
            .as_ref()
            .is_some_and(|a| a.instance_id == instance_id)
    }
}

fn info_of(n: &aws_sdk_ec2::types::NetworkInterface) -> EniInfo {
    EniInfo {
        eni_id: n.network_interface_id().unwrap_or_default().to_string(),
        status: n
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        availability_zone: n.availability_zone().unwrap_or_default().to_string(),
        mac_address: n.mac_address().unwrap_or_default().to_ascii_lowercase(),
        private_ip: n.private_ip_address().unwrap_or_default().to_string(),
        tags: tags_of(n.tag_set()),
        attachment: n
            .attachment()
            .filter(|a| a.instance_id().is_some())
            .map(|a| EniAttachment {
                attachment_id: a.attachment_id().unwrap_or_default().to_string(),
                instance_id: a.instance_id().unwrap_or_default().to_string(),
                device_index: a.device_index().unwrap_or(-1),
                status: a
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                delete_on_termination: a.delete_on_termination().unwrap_or(false),
            }),
    }
}

/// Every ENI matching `filters`, across pages.
pub async fn describe_enis(ec2: &Client, filters: &[FilterSpec]) -> Result<Vec<EniInfo>> {
    let mut pages = ec2
        .describe_network_interfaces()
        .set_filters(Some(filters.iter().map(FilterSpec::to_ec2).collect()))
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            AwsError::new(
                "DescribeNetworkInterfaces",
                super::volumes::describe_filters(filters),
                e,
            )
        })?;
        out.extend(page.network_interfaces().iter().map(info_of));
    }
    Ok(out)
}

/// One ENI by ID; `Ok(None)` when EC2 does not (or not yet) know it.
pub async fn describe_eni(ec2: &Client, eni_id: &str) -> Result<Option<EniInfo>> {
    match ec2
        .describe_network_interfaces()
        .network_interface_ids(eni_id)
        .send()
        .await
    {
        Ok(out) => Ok(out.network_interfaces().first().map(info_of)),
        Err(e) if super::error_code(&e) == Some("InvalidNetworkInterfaceID.NotFound") => Ok(None),
        Err(e) => Err(AwsError::new("DescribeNetworkInterfaces", eni_id, e).into()),
    }
}

/// How an ENI attach went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EniAttachOutcome {
    /// Attached now.
    Attached {
        attachment_id: String,
        device_index: i32,
    },
    /// It already was attached to this instance (a rerun).
    AlreadyAttached {
        attachment_id: String,
        device_index: i32,
    },
    /// Another instance has it: take the next candidate.
    LostRace { reason: String },
}

/// The first device index not used on `instance`. Index 0 is the primary
/// interface; never assume 1 is free (another tool may have used it).
pub fn free_device_index(instance: &InstanceInfo, taken: &[i32]) -> i32 {
    (1..)
        .find(|i| !instance.interfaces.iter().any(|(d, _)| d == i) && !taken.contains(i))
        .unwrap_or(1)
}

/// Attach `eni` to `instance` at the first free device index. Skips when
/// already attached here; `InvalidNetworkInterface.InUse` is a lost race
/// (unless it was us, by an earlier run whose answer was lost); an index in
/// use moves to the next one; `AttachmentLimitExceeded` is final.
pub async fn attach_eni(
    ec2: &Client,
    instance: &InstanceInfo,
    eni: &EniInfo,
) -> Result<EniAttachOutcome> {
    let id = &eni.eni_id;
    let iid = &instance.instance_id;
    if let Some(att) = &eni.attachment {
        if att.instance_id == *iid {
            return Ok(EniAttachOutcome::AlreadyAttached {
                attachment_id: att.attachment_id.clone(),
                device_index: att.device_index,
            });
        }
        return Ok(EniAttachOutcome::LostRace {
            reason: format!("{id} is attached to {}", att.instance_id),
        });
    }
    let mut tried: Vec<i32> = Vec::new();
    // A handful of indexes is plenty: each failure here is a concurrent
    // attach by another tool on this very instance.
    for _ in 0..8 {
        let index = free_device_index(instance, &tried);
        match ec2
            .attach_network_interface()
            .network_interface_id(id)
            .instance_id(iid)
            .device_index(index)
            .send()
            .await
        {
            Ok(out) => {
                log::info!("attaching {id} to {iid} at device index {index}");
                return Ok(EniAttachOutcome::Attached {
                    attachment_id: out.attachment_id().unwrap_or_default().to_string(),
                    device_index: index,
                });
            }
            Err(e) => {
                let err = AwsError::new(
                    "AttachNetworkInterface",
                    format!("{id} to {iid} at device index {index}"),
                    e,
                );
                match err.code.as_deref() {
                    Some("InvalidNetworkInterface.InUse") | Some("IncorrectState") => {
                        if let Some(now) = describe_eni(ec2, id).await? {
                            if let Some(att) = now.attachment.filter(|a| a.instance_id == *iid) {
                                return Ok(EniAttachOutcome::AlreadyAttached {
                                    attachment_id: att.attachment_id,
                                    device_index: att.device_index,
                                });
                            }
                        }
                        return Ok(EniAttachOutcome::LostRace {
                            reason: err.to_string(),
                        });
                    }
                    Some("InvalidNetworkInterfaceID.NotFound") => {
                        return Ok(EniAttachOutcome::LostRace {
                            reason: err.to_string(),
                        });
                    }
                    Some("InvalidParameterValue") if err.detail.contains("device index") => {
                        log::debug!("device index {index} is taken on {iid}; trying the next");
                        tried.push(index);
                        continue;
                    }
                    _ => return Err(err.into()),
                }
            }
        }
    }
    Err(anyhow!("no free device index found on {iid} for {id}"))
}

/// Detach an ENI by its attachment.
pub async fn detach_eni(ec2: &Client, eni_id: &str, attachment_id: &str) -> Result<()> {
    ec2.detach_network_interface()
        .attachment_id(attachment_id)
        .send()
        .await
        .map_err(|e| {
            AwsError::new(
                "DetachNetworkInterface",
                format!("{eni_id} ({attachment_id})"),
                e,
            )
        })?;
    Ok(())
}

/// Set DeleteOnTermination of an ENI's attachment.
pub async fn set_delete_on_termination(
    ec2: &Client,
    eni_id: &str,
    attachment_id: &str,
    want: bool,
) -> Result<()> {
    ec2.modify_network_interface_attribute()
        .network_interface_id(eni_id)
        .attachment(
            NetworkInterfaceAttachmentChanges::builder()
                .attachment_id(attachment_id)
                .delete_on_termination(want)
                .build(),
        )
        .send()
        .await
        .map_err(|e| {
            AwsError::new(
                "ModifyNetworkInterfaceAttribute",
                format!("DeleteOnTermination={want} for {eni_id}"),
                e,
            )
        })?;
    Ok(())
}
