//! smilodon-attach's acting on pairs: take, complete, release.
//!
//! Taking a pair: reconcile what this instance already holds, finish a
//! half-claimed pair, and only then claim a free one. EBS first, then the
//! ENI; a pair whose second half is lost to another instance is released
//! (its first half detached), so that pairs never end split.

use super::choose::{choose, Choice};
use super::pairs::{Inventory, Pair};
use crate::aws::enis::{self, EniAttachOutcome};
use crate::aws::instance::{describe_instance, BlockDevice, InstanceInfo};
use crate::aws::volumes::{self, AttachOutcome};
use crate::aws::AwsError;
use crate::block::{mount, DeviceResolver};
use crate::exit::{NoCapacity, Unsafe};
use anyhow::{anyhow, Result};
use aws_sdk_ec2::Client;
use serde::Serialize;

/// How this run came to hold its pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum How {
    /// It was already attached here (a restart): no AWS mutation.
    Reused,
    /// Half of it was attached here (an earlier run stopped midway); this
    /// run attached the other half.
    Completed,
    /// A free pair, attached by this run.
    Claimed,
}

/// The pair this instance holds after [`claim`].
#[derive(Debug, Clone)]
pub struct Holding {
    pub pair: Pair,
    pub how: How,
    /// The device name the volume was attached at (for the Xen fallback).
    pub attach_device: String,
    pub attachment_id: String,
}

/// One thing the run gave back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Released {
    pub node_id: String,
    /// The volume or ENI detached.
    pub resource: String,
    pub why: String,
}

/// What [`claim`] did.
#[derive(Debug, Default)]
pub struct Outcome {
    pub holding: Option<Holding>,
    pub released: Vec<Released>,
    /// Pairs lost to another instance during this run.
    pub lost: Vec<String>,
}

pub struct Claimer<'a> {
    pub ec2: &'a Client,
    pub instance_id: &'a str,
    pub resolver: &'a DeviceResolver,
    pub attachment_limit: u32,
    pub dry_run: bool,
    /// This instance's rank in its group, when the group is booting
    /// together: it tries only its own pair (see crate::turn).
    pub rank: Option<usize>,
}

impl Claimer<'_> {
    /// Reconcile, then claim: carry out what [`choose`] decides. Returns
    /// no holding when nothing is free.
    pub async fn claim(&self, inv: &Inventory) -> Result<Outcome> {
        let me = self.instance_id;
        let mut out = Outcome::default();
        let (halves, order) = match choose(inv, me, self.rank) {
            Choice::Refuse(why) => return Err(Unsafe(why).into()),
            Choice::Reuse { pair, release } => {
                for half in &release {
                    self.release(
                        half,
                        "this instance already holds a complete pair",
                        &mut out,
                    )
                    .await?;
                }
                let att = pair.eni.attachment.as_ref().expect("held ENI is attached");
                out.holding = Some(Holding {
                    attach_device: pair
                        .volume
                        .attachment
                        .as_ref()
                        .map(|a| a.device.clone())
                        .unwrap_or_default(),
                    attachment_id: att.attachment_id.clone(),
                    pair: *pair,
                    how: How::Reused,
                });
                return Ok(out);
            }
            Choice::Nothing(why) => {
                if let Some(why) = why {
                    log::info!("{why}");
                }
                return Ok(out);
            }
            Choice::Take { halves, order } => (halves, order),
        };
        if self.dry_run {
            // The plan, without the calls: complete the first half, else
            // claim the first free pair in this instance's order.
            let (pair, how) = match (halves.first(), order.first()) {
                (Some(h), _) => (h, How::Completed),
                (None, Some(f)) => (f, How::Claimed),
                (None, None) => return Ok(out),
            };
            log::info!(
                "dry run: would attach {} and {} (NodeID {})",
                pair.volume.volume_id,
                pair.eni.eni_id,
                pair.node_id
            );
            out.holding = Some(Holding {
                pair: pair.clone(),
                how,
                attach_device: String::new(),
                attachment_id: String::new(),
            });
            return Ok(out);
        }
        let mut instance = describe_instance(self.ec2, me)
            .await?
            .ok_or_else(|| anyhow!("EC2 does not know this instance, {me}"))?;
        // A half-held pair first: finish what an earlier run started.
        for (i, half) in halves.iter().enumerate() {
            match self.take(&mut instance, half, &mut out).await? {
                Some(holding) => {
                    for rest in &halves[i + 1..] {
                        self.release(rest, "this instance completed another pair", &mut out)
                            .await?;
                    }
                    out.holding = Some(Holding {
                        how: How::Completed,
                        ..holding
                    });
                    return Ok(out);
                }
                None => continue,
            }
        }
        for pair in &order {
            let slots = instance.free_attachment_slots(self.attachment_limit);
            if slots < 2 {
                return Err(NoCapacity(format!(
                    "{me} has {slots} free attachment slot(s) of {}; a pair needs 2 (raise --attachment-limit if this instance type has more)",
                    self.attachment_limit
                ))
                .into());
            }
            if let Some(holding) = self.take(&mut instance, pair, &mut out).await? {
                out.holding = Some(holding);
                return Ok(out);
            }
        }
        Ok(out)
    }

    /// Attach whatever of `pair` is not attached here yet, volume first.
    /// `None` when another instance got (part of) it; then the part this
    /// instance holds has been released.
    async fn take(
        &self,
        instance: &mut InstanceInfo,
        pair: &Pair,
        out: &mut Outcome,
    ) -> Result<Option<Holding>> {
        let me = self.instance_id;
        let node = &pair.node_id;
        let attach_device = match volumes::attach_volume(self.ec2, instance, &pair.volume).await? {
            AttachOutcome::Attached { device } | AttachOutcome::AlreadyAttached { device } => {
                if instance.device_of(&pair.volume.volume_id).is_none() {
                    instance.block_devices.push(BlockDevice {
                        device_name: device.clone(),
                        volume_id: pair.volume.volume_id.clone(),
                        delete_on_termination: false,
                    });
                }
                device
            }
            AttachOutcome::LostRace { reason } => {
                log::info!("NodeID {node}: volume lost to another instance ({reason}); trying the next pair");
                out.lost.push(node.clone());
                if pair.eni_here(me) {
                    self.release_eni(pair, "its volume is attached elsewhere", out)
                        .await?;
                }
                return Ok(None);
            }
        };
        match enis::attach_eni(self.ec2, instance, &pair.eni).await? {
            EniAttachOutcome::Attached {
                attachment_id,
                device_index,
            }
            | EniAttachOutcome::AlreadyAttached {
                attachment_id,
                device_index,
            } => {
                instance
                    .interfaces
                    .push((device_index, pair.eni.eni_id.clone()));
                log::info!(
                    "NodeID {node}: {} and {} are attached to {me}",
                    pair.volume.volume_id,
                    pair.eni.eni_id
                );
                Ok(Some(Holding {
                    pair: pair.clone(),
                    how: How::Claimed,
                    attach_device,
                    attachment_id,
                }))
            }
            EniAttachOutcome::LostRace { reason } => {
                log::info!(
                    "NodeID {node}: ENI lost to another instance ({reason}); releasing its volume"
                );
                out.lost.push(node.clone());
                self.release_volume(pair, &attach_device, "its ENI is attached elsewhere", out)
                    .await?;
                instance
                    .block_devices
                    .retain(|b| b.volume_id != pair.volume.volume_id);
                Ok(None)
            }
        }
    }

    /// Give back whatever part of `pair` this instance holds.
    pub(super) async fn release(&self, pair: &Pair, why: &str, out: &mut Outcome) -> Result<()> {
        let me = self.instance_id;
        if self.dry_run {
            log::info!("dry run: would release NodeID {} ({why})", pair.node_id);
            return Ok(());
        }
        if pair.volume_here(me) {
            let device = pair
                .volume
                .attachment
                .as_ref()
                .map(|a| a.device.clone())
                .unwrap_or_default();
            self.release_volume(pair, &device, why, out).await?;
        }
        if pair.eni_here(me) {
            self.release_eni(pair, why, out).await?;
        }
        Ok(())
    }

    /// Detach the pair's volume from this instance — never while its
    /// device is mounted here.
    async fn release_volume(
        &self,
        pair: &Pair,
        attach_device: &str,
        why: &str,
        out: &mut Outcome,
    ) -> Result<()> {
        let me = self.instance_id;
        let vid = &pair.volume.volume_id;
        let dev = self.resolver.resolve(
            vid,
            Some(attach_device).filter(|d| !d.is_empty()),
            Some(pair.volume.size_bytes()),
        )?;
        if let Some(dev) = dev {
            let source = dev.path.to_string_lossy();
            if let Some(m) = mount::mounts()?
                .iter()
                .find(|m| mount::is_device(&m.source, &dev.path))
            {
                return Err(Unsafe(format!(
                    "NodeID {}: {vid} should be released ({why}) but {source} is mounted at {}; not detaching it — resolve the split pair by hand",
                    pair.node_id,
                    m.mountpoint.display()
                ))
                .into());
            }
        }
        match volumes::detach_volume(self.ec2, vid, me).await {
            Ok(()) => {}
            Err(e)
                if e.downcast_ref::<AwsError>().is_some_and(|a| {
                    a.code_is("IncorrectState") || a.code_is("InvalidAttachment.NotFound")
                }) =>
            {
                log::debug!("{vid} was already detaching: {e:#}");
            }
            Err(e) => return Err(e),
        }
        log::warn!("NodeID {}: released {vid} ({why})", pair.node_id);
        out.released.push(Released {
            node_id: pair.node_id.clone(),
            resource: vid.clone(),
            why: why.to_string(),
        });
        Ok(())
    }

    async fn release_eni(&self, pair: &Pair, why: &str, out: &mut Outcome) -> Result<()> {
        let id = &pair.eni.eni_id;
        let Some(att) = pair.eni.attachment.as_ref() else {
            return Ok(());
        };
        match enis::detach_eni(self.ec2, id, &att.attachment_id).await {
            Ok(()) => {}
            Err(e)
                if e.downcast_ref::<AwsError>()
                    .is_some_and(|a| a.code_is("InvalidAttachmentID.NotFound")) =>
            {
                log::debug!("{id} was already detached: {e:#}");
            }
            Err(e) => return Err(e),
        }
        log::warn!("NodeID {}: released {id} ({why})", pair.node_id);
        out.released.push(Released {
            node_id: pair.node_id.clone(),
            resource: id.clone(),
            why: why.to_string(),
        });
        Ok(())
    }
}
