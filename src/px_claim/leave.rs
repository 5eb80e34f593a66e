//! `px-volume-claim release`: this instance's volumes back to the cluster.
//!
//! Run after the storage service has stopped on an instance the group is
//! terminating (`ExecStop=` of mooring-px-release.service): the volumes
//! this instance claimed — tagged with its cluster and one of its
//! templates, attached to it — are detached and seen `available`, so that
//! a waiting or replacement instance claims them at once instead of after
//! the whole termination. Nothing else is ever detached: not a volume of
//! another cluster or template, not one attached elsewhere, and not one
//! whose device is still mounted here (exit 5: the service still uses it).

use super::cli::{local_config, user_data_config, Cli};
use super::tags::{CLUSTER_TAG, TEMPLATE_TAG};
use crate::aws::filter::FilterSpec;
use crate::aws::volumes::{self, VolumeInfo};
use crate::aws::Session;
use crate::cli::Report;
use crate::exit::Unsafe;
use crate::lifecycle::{self, StepArgs};
use crate::wait::Deadline;
use anyhow::{anyhow, Result};
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub struct ReleaseReport {
    pub instance_id: String,
    /// staying (not terminated), released, nothing (held none)
    pub result: String,
    pub released: Vec<String>,
    pub dry_run: bool,
}

impl Report for ReleaseReport {
    fn text(&self) -> String {
        let mut lines = vec![format!("{}: {}", self.instance_id, self.result)];
        for v in &self.released {
            lines.push(format!("released: {v}"));
        }
        lines.join("\n")
    }
}

/// The volumes of `vols` (the cluster's) this instance claimed: attached
/// to `me`, made from one of `templates`.
pub fn claimed_by<'a>(
    vols: &'a [VolumeInfo],
    me: &str,
    templates: &[String],
) -> Vec<&'a VolumeInfo> {
    vols.iter()
        .filter(|v| v.attached_to(me))
        .filter(|v| {
            v.tag(TEMPLATE_TAG)
                .is_some_and(|t| templates.iter().any(|x| x == t))
        })
        .collect()
}

pub async fn release(cli: &Cli, step: &StepArgs) -> Result<ReleaseReport> {
    let common = &cli.common;
    let local = local_config(cli)?;
    if let Some(state) = lifecycle::gate(step.when, None).await? {
        log::info!(
            "the group is not terminating this instance ({}): keeping its volumes",
            state.as_str()
        );
        return Ok(ReleaseReport {
            instance_id: String::new(),
            result: "staying".into(),
            released: Vec::new(),
            dry_run: common.dry_run,
        });
    }
    if !common.dry_run {
        lifecycle::stop_units(&step.stop_units)?;
    }
    let deadline = Deadline::after(common.timeout());
    let session = Session::within(common.region.clone(), &deadline).await?;
    let config = match local {
        Some(c) => c,
        None => user_data_config(&session).await?,
    };
    let me = session.instance_id().to_string();
    let templates: Vec<String> = config
        .templates
        .iter()
        .map(|t| t.volume_id.clone())
        .collect();
    let filters = [
        FilterSpec::tag(CLUSTER_TAG, config.cluster_id.clone()),
        FilterSpec::new("attachment.instance-id", [me.clone()]),
    ];
    let vols = volumes::describe_volumes(session.ec2(), &filters).await?;
    let mine = claimed_by(&vols, &me, &templates);
    let mut report = ReleaseReport {
        instance_id: me.clone(),
        result: if mine.is_empty() {
            "nothing"
        } else {
            "released"
        }
        .into(),
        released: Vec::new(),
        dry_run: common.dry_run,
    };
    let resolver = cli.devices.resolver();
    let mounts = crate::block::mount::mounts()?;
    for v in &mine {
        if let Some(dev) = resolver.resolve(&v.volume_id, None, None)? {
            if let Some(m) = mounts
                .iter()
                .find(|m| crate::block::mount::is_device(&m.source, &dev.path))
            {
                return Err(Unsafe(format!(
                    "{} ({}) is mounted at {}: stop the storage service before releasing it",
                    v.volume_id,
                    dev.path.display(),
                    m.mountpoint.display()
                ))
                .into());
            }
        }
    }
    for v in mine {
        if common.dry_run {
            log::info!("dry run: would detach {} from {me}", v.volume_id);
        } else {
            log::info!("releasing {}: detaching it from {me}", v.volume_id);
            volumes::detach_volume(session.ec2(), &v.volume_id, &me).await?;
            wait_detached(session.ec2(), &v.volume_id, &deadline).await?;
        }
        report.released.push(v.volume_id.clone());
    }
    Ok(report)
}

/// Until `volume_id` is `available` (bounded by `deadline`).
async fn wait_detached(
    ec2: &aws_sdk_ec2::Client,
    volume_id: &str,
    deadline: &Deadline,
) -> Result<()> {
    deadline
        .poll(
            format!("{volume_id} to become available"),
            Duration::from_millis(500),
            Duration::from_secs(2),
            || async {
                match volumes::describe_volume(ec2, volume_id).await? {
                    Some(v) if v.state == "available" => Ok(Some(())),
                    Some(_) => Ok(None),
                    None => Err(anyhow!("{volume_id} is gone")),
                }
            },
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::volumes::VolumeAttachment;

    fn vol(id: &str, template: &str, holder: Option<&str>) -> VolumeInfo {
        let mut tags = std::collections::BTreeMap::new();
        tags.insert(TEMPLATE_TAG.to_string(), template.to_string());
        VolumeInfo {
            volume_id: id.into(),
            size_gib: 1,
            state: if holder.is_some() {
                "in-use"
            } else {
                "available"
            }
            .into(),
            availability_zone: "us-east-1a".into(),
            volume_type: "gp3".into(),
            attachment: holder.map(|h| VolumeAttachment {
                instance_id: h.into(),
                device: "/dev/xvdf".into(),
                state: "attached".into(),
                delete_on_termination: Some(false),
                attach_time: None,
            }),
            tags,
            create_time: None,
        }
    }

    #[test]
    fn only_this_instances_volumes_of_its_templates_are_released() {
        let vols = vec![
            vol("vol-1", "vol-t1", Some("i-me")),
            vol("vol-2", "vol-t2", Some("i-me")),
            vol("vol-3", "vol-t1", Some("i-other")),
            vol("vol-4", "vol-t1", None),
        ];
        let got: Vec<&str> = claimed_by(&vols, "i-me", &["vol-t1".to_string()])
            .into_iter()
            .map(|v| v.volume_id.as_str())
            .collect();
        assert_eq!(got, vec!["vol-1"]);
    }
}
