//! `smilodon-attach release`: the pair back to the group on scale-in.
//!
//! Run when the group terminates this instance (`ExecStop=` of
//! mooring-smilodon-release@.service): the node's service is stopped (the
//! `--stop-unit`s), its filesystem unmounted (`--mountpoint`), and the
//! volume and ENI this instance holds detached and seen `available` — so
//! a spare or the replacement takes the pair at once instead of after the
//! whole termination. Only a pair whose halves are attached here is ever
//! detached; a volume still mounted elsewhere than `--mountpoint` is
//! refused (exit 5).

use super::claim::{Claimer, Outcome, Released};
use super::cli::{validate, Cli};
use super::pairs::{self, Standing};
use crate::aws::enis::{self, describe_enis};
use crate::aws::filter::FilterSpec;
use crate::aws::volumes::{self, describe_volumes};
use crate::aws::Session;
use crate::cli::Report;
use crate::lifecycle::{self, StepArgs};
use crate::wait::Deadline;
use anyhow::{anyhow, Context, Result};
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub struct ReleaseReport {
    pub instance_id: String,
    /// staying (not terminated), released, nothing (held none)
    pub result: String,
    pub released: Vec<Released>,
    pub unmounted: Option<std::path::PathBuf>,
    pub dry_run: bool,
}

impl Report for ReleaseReport {
    fn text(&self) -> String {
        let mut lines = vec![format!("{}: {}", self.instance_id, self.result)];
        if let Some(m) = &self.unmounted {
            lines.push(format!("unmounted: {}", m.display()));
        }
        for r in &self.released {
            lines.push(format!("released NodeID {}: {}", r.node_id, r.resource));
        }
        lines.join("\n")
    }
}

pub async fn release(cli: &Cli, step: &StepArgs) -> Result<ReleaseReport> {
    let user_filters = validate(cli)?;
    let common = &cli.common;
    if let Some(state) = lifecycle::gate(step.when, None).await? {
        log::info!(
            "the group is not terminating this instance ({}): keeping its pair",
            state.as_str()
        );
        return Ok(ReleaseReport {
            instance_id: String::new(),
            result: "staying".into(),
            released: Vec::new(),
            unmounted: None,
            dry_run: common.dry_run,
        });
    }
    if !common.dry_run {
        lifecycle::stop_units(&step.stop_units)?;
    }
    let deadline = Deadline::after(common.timeout());
    let session = Session::within(common.region.clone(), &deadline).await?;
    let me = session.instance_id().to_string();
    let az = session.identity.availability_zone.clone();
    let tag = &cli.node_id_tag;
    let mut filters = user_filters;
    filters.push(FilterSpec::new("tag-key", [tag.as_str()]));
    filters.push(FilterSpec::new("availability-zone", [az.as_str()]));
    let ec2 = session.ec2();
    let (vols, nics) = tokio::join!(
        describe_volumes(ec2, &filters),
        describe_enis(ec2, &filters)
    );
    let inv = pairs::pair_up(vols?, nics?, tag);
    let held: Vec<&pairs::Pair> = inv
        .pairs
        .iter()
        .filter(|p| matches!(p.standing(&me), Standing::Held | Standing::HalfHeld))
        .collect();
    let mut report = ReleaseReport {
        instance_id: me.clone(),
        result: if held.is_empty() {
            "nothing"
        } else {
            "released"
        }
        .into(),
        released: Vec::new(),
        unmounted: None,
        dry_run: common.dry_run,
    };
    if held.is_empty() {
        return Ok(report);
    }
    if let Some(mp) = &cli.mountpoint {
        if crate::block::mount::mounted_at(mp)?.is_some() {
            if common.dry_run {
                log::info!("dry run: would unmount {}", mp.display());
            } else {
                let path = mp.to_string_lossy();
                crate::block::cmd::run("umount", &[&path])
                    .with_context(|| format!("unmounting {}", mp.display()))?;
                log::info!("unmounted {}", mp.display());
            }
            report.unmounted = Some(mp.clone());
        }
    }
    let resolver = cli.devices.resolver();
    let claimer = Claimer {
        ec2,
        instance_id: &me,
        resolver: &resolver,
        attachment_limit: cli.attachment_limit,
        dry_run: common.dry_run,
        rank: None,
    };
    let mut out = Outcome {
        holding: None,
        released: Vec::new(),
        lost: Vec::new(),
    };
    for pair in &held {
        claimer
            .release(pair, "this instance leaves its group", &mut out)
            .await?;
    }
    if !common.dry_run {
        for pair in &held {
            wait_free(ec2, pair, &deadline).await?;
        }
    }
    report.released = out.released;
    Ok(report)
}

/// Until both halves of `pair` are `available` (bounded by `deadline`).
async fn wait_free(
    ec2: &aws_sdk_ec2::Client,
    pair: &pairs::Pair,
    deadline: &Deadline,
) -> Result<()> {
    let (vid, eid) = (&pair.volume.volume_id, &pair.eni.eni_id);
    deadline
        .poll(
            format!(
                "{vid} and {eid} (NodeID {}) to become available",
                pair.node_id
            ),
            Duration::from_millis(500),
            Duration::from_secs(2),
            || async {
                let v = volumes::describe_volume(ec2, vid)
                    .await?
                    .ok_or_else(|| anyhow!("{vid} is gone"))?;
                let e = enis::describe_eni(ec2, eid)
                    .await?
                    .ok_or_else(|| anyhow!("{eid} is gone"))?;
                Ok((v.state == "available" && e.attachment.is_none()).then_some(()))
            },
        )
        .await
}
