//! px-volume-claim's acting on volumes: attach, create, find the device.
//!
//! px-volume-claim's acting on volumes: attach, create a slot's volume
//! like its template, and find the device of what was attached.

use super::claim::Run;
use super::config::Template;
use super::plan::slot_token;
use super::report::Claimed;
use super::tags::{CLUSTER_TAG, MANAGED_BY_TAG, SLOT_TAG, TEMPLATE_TAG, TOOL};
use crate::aws::instance::BlockDevice;
use crate::aws::volumes::{self, AttachOutcome, VolumeInfo, VolumeSpec};
use crate::aws::AwsError;
use crate::block::probe;
use crate::exit::BadInput;
use crate::turn;
use anyhow::Result;
use std::collections::BTreeMap;

impl Run<'_> {
    /// Attach `v`: the device name given to EC2, or `None` when another
    /// instance was faster.
    pub(super) async fn attach(&self, v: &VolumeInfo) -> Result<Option<String>> {
        let here = &self.instance();
        let attached = turn::patiently(&self.session.aws, self.me, "attach", |ec2| async move {
            volumes::attach_volume_unconfirmed(&ec2, here, v).await
        })
        .await?;
        match attached {
            AttachOutcome::Attached { device } | AttachOutcome::AlreadyAttached { device } => {
                self.attached.borrow_mut().push(BlockDevice {
                    device_name: device.clone(),
                    volume_id: v.volume_id.clone(),
                    delete_on_termination: false,
                });
                Ok(Some(device))
            }
            AttachOutcome::LostRace { reason } => {
                log::info!("{} went to another instance ({reason})", v.volume_id);
                Ok(None)
            }
        }
    }

    /// The volume is attached here: find its device, say whether it is
    /// blank (new to the cluster: the service initialises it).
    pub(super) async fn finish(
        &self,
        mut out: Claimed,
        v: &VolumeInfo,
        attach_device: Option<String>,
    ) -> Result<Claimed> {
        out.volume_id = Some(v.volume_id.clone());
        // The volume belongs to the cluster and must outlive the instance.
        volumes::keep_after_termination(self.ec2(), self.me, v).await?;
        let dev = self
            .resolver
            .wait(
                &v.volume_id,
                attach_device.as_deref(),
                Some(v.size_bytes()),
                &self.deadline,
            )
            .await?;
        out.new = probe(&dev.path)?.is_blank();
        log::info!(
            volume_id = v.volume_id.as_str(),
            decision = out.outcome.as_str(),
            message_id = crate::logging::events::VOLUME_CLAIMED;
            "{}: {} {} at {}{}",
            out.template,
            out.outcome,
            v.volume_id,
            dev.path.display(),
            if out.new {
                " (blank: new to the cluster)"
            } else {
                " (carries the cluster's state)"
            }
        );
        out.device = Some(dev.path);
        Ok(out)
    }

    /// How a volume like `template` is made (the templates are described
    /// once, together).
    async fn spec_of(&self, template: &str) -> Result<VolumeSpec> {
        if self.templates.borrow().is_none() {
            let ids = &self.all_templates;
            let out = turn::patiently(&self.session.aws, self.me, "templates", |ec2| async move {
                ec2.describe_volumes()
                    .set_volume_ids(Some(ids.clone()))
                    .send()
                    .await
                    .map_err(|e| AwsError::new("DescribeVolumes", ids.join(", "), e).into())
            })
            .await?;
            let specs = out
                .volumes()
                .iter()
                .map(|v| {
                    (
                        v.volume_id().unwrap_or_default().to_string(),
                        self.spec_from(v),
                    )
                })
                .collect();
            *self.templates.borrow_mut() = Some(specs);
        }
        self.templates
            .borrow()
            .as_ref()
            .and_then(|m| m.get(template).cloned())
            .ok_or_else(|| BadInput(format!("template volume {template} does not exist")).into())
    }

    fn spec_from(&self, v: &aws_sdk_ec2::types::Volume) -> VolumeSpec {
        let template = v.volume_id().unwrap_or_default();
        let kind = v
            .volume_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_else(|| "gp3".into());
        // IOPS can be set only for the types that take it.
        let iops = v
            .iops()
            .filter(|_| matches!(kind.as_str(), "io1" | "io2" | "gp3"));
        let mut tags = BTreeMap::new();
        tags.insert(CLUSTER_TAG.to_string(), self.cluster.to_string());
        tags.insert(TEMPLATE_TAG.to_string(), template.to_string());
        tags.insert(MANAGED_BY_TAG.to_string(), TOOL.to_string());
        VolumeSpec {
            size_gib: v.size().unwrap_or(0),
            volume_type: kind.clone(),
            iops,
            throughput: v.throughput().filter(|_| kind == "gp3"),
            encrypted: v.encrypted().unwrap_or(false),
            kms_key_id: v.kms_key_id().map(str::to_string),
            snapshot_id: None,
            availability_zone: self.az.to_string(),
            tags,
        }
    }

    /// Create slot `slot`'s volume and attach it: the volume and its
    /// device name, or `None` when another instance got it. The slot's
    /// volume may come back already attached to the instance that made it
    /// first: no attach to lose then.
    pub(super) async fn create_and_attach(
        &self,
        t: &Template,
        slot: u32,
    ) -> Result<Option<(VolumeInfo, String)>> {
        let Some(v) = self
            .create(t, slot)
            .await?
            .filter(|v| v.attachment.is_none() || v.attached_to(self.me))
        else {
            return Ok(None);
        };
        Ok(self.attach(&v).await?.map(|device| (v, device)))
    }

    /// Create (or be handed, by its ClientToken) the volume of free slot
    /// `slot`. `None` when that slot turned out to be taken.
    async fn create(&self, t: &Template, slot: u32) -> Result<Option<VolumeInfo>> {
        let mut spec = self.spec_of(&t.volume_id).await?;
        spec.tags.insert(SLOT_TAG.to_string(), slot.to_string());
        // A token whose volume was deleted since is spent: the next
        // generation makes the slot's volume anew.
        for gen in 0..3 {
            let token = slot_token(self.cluster, &t.volume_id, slot, gen);
            let (spec, token) = (&spec, &token);
            let created = turn::patiently(&self.session.aws, self.me, "create", |ec2| async move {
                volumes::create_volume(&ec2, spec, token, self.started, &self.deadline).await
            })
            .await;
            match created {
                Ok(created) if !matches!(created.volume.state.as_str(), "deleting" | "deleted") => {
                    log::info!(
                        "slot {slot} of {} is {}",
                        t.volume_id,
                        created.volume.volume_id
                    );
                    return Ok(Some(created.volume));
                }
                Ok(_) => continue,
                Err(e)
                    if e.downcast_ref::<AwsError>()
                        .is_some_and(|a| a.code_is("IdempotentParameterMismatch")) =>
                {
                    log::info!(
                        "slot {slot} of {} was made elsewhere (another AZ)",
                        t.volume_id
                    );
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }
}
