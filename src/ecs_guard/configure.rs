//! `ecs-node-guard configure`: the host set up before the agent starts.
//!
//! `ecs-node-guard configure`: ECS_CLUSTER in the agent's configuration,
//! the Name tag, termination protection off (ExecStartPre= of ecs.service).

use super::ecs_config;
use super::options::{validate_cluster, ConfigureOptions};
use crate::aws::{AwsError, Session};
use crate::cli::{CommonArgs, Report};
use crate::exit::bad_input;
use crate::wait::Deadline;
use anyhow::Result;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct ConfigureReport {
    pub instance_id: String,
    pub cluster: String,
    pub ecs_config_changed: bool,
    pub name: Option<String>,
    pub name_changed: bool,
    pub termination_protection_turned_off: bool,
    pub dry_run: bool,
}

impl Report for ConfigureReport {
    fn text(&self) -> String {
        let mut l = vec![format!(
            "{}: ECS_CLUSTER={} ({})",
            self.instance_id,
            self.cluster,
            if self.ecs_config_changed {
                "written"
            } else {
                "unchanged"
            }
        )];
        if let Some(n) = &self.name {
            l.push(format!(
                "Name: {n} ({})",
                if self.name_changed {
                    "set"
                } else {
                    "unchanged"
                }
            ));
        }
        if self.termination_protection_turned_off {
            l.push("termination protection: turned off".into());
        }
        l.join("\n")
    }
}

pub async fn configure(common: &CommonArgs, o: &ConfigureOptions) -> Result<ConfigureReport> {
    let deadline = Deadline::after(common.timeout());
    let session = Session::within(common.region.clone(), &deadline).await?;
    let id = &session.identity;
    let me = id.instance_id.clone();
    let cluster = match &o.cluster {
        Some(c) => c.clone(),
        None => session.tag(&o.cluster_tag).await?.ok_or_else(|| {
            bad_input(format!(
                "{me} has no tag {} in its instance metadata (are instance-metadata tags on?); pass --cluster",
                o.cluster_tag
            ))
        })?,
    };
    validate_cluster(&cluster)?;
    let ecs_config_changed =
        ecs_config::set_key(&o.ecs_config, "ECS_CLUSTER", &cluster, common.dry_run)?;
    let ec2 = session.ec2();
    let mut report = ConfigureReport {
        instance_id: me.clone(),
        cluster: cluster.clone(),
        ecs_config_changed,
        name: None,
        name_changed: false,
        termination_protection_turned_off: false,
        dry_run: common.dry_run,
    };
    if !o.name.is_empty() {
        let name = o
            .name
            .replace("{cluster}", &cluster)
            .replace("{instance_id}", &me);
        // The tags IMDS shows save a call; without them, ask EC2.
        let current = match session.tag("Name").await? {
            Some(name) => Some(name),
            None if session.aws.imds.tags_enabled().await? => None,
            None => crate::aws::instance::describe_instance(ec2, &me)
                .await?
                .and_then(|i| i.tags.get("Name").cloned()),
        };
        if current.as_deref() != Some(name.as_str()) {
            if !common.dry_run {
                ec2.create_tags()
                    .resources(&me)
                    .tags(
                        aws_sdk_ec2::types::Tag::builder()
                            .key("Name")
                            .value(&name)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| AwsError::new("CreateTags", format!("Name={name} on {me}"), e))?;
                log::info!("{me} is now named {name:?}");
            }
            report.name_changed = true;
        }
        report.name = Some(name);
    }
    if o.termination_protection_off {
        let out = ec2
            .describe_instance_attribute()
            .instance_id(&me)
            .attribute(aws_sdk_ec2::types::InstanceAttributeName::DisableApiTermination)
            .send()
            .await
            .map_err(|e| AwsError::new("DescribeInstanceAttribute", &me, e))?;
        let on = out
            .disable_api_termination()
            .and_then(|a| a.value())
            .unwrap_or(false);
        if on {
            if !common.dry_run {
                ec2.modify_instance_attribute()
                    .instance_id(&me)
                    .disable_api_termination(
                        aws_sdk_ec2::types::AttributeBooleanValue::builder()
                            .value(false)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| {
                        AwsError::new(
                            "ModifyInstanceAttribute",
                            format!("{me} termination protection off"),
                            e,
                        )
                    })?;
                log::warn!("{me} had termination protection on; turned it off (it keeps the group from replacing the instance)");
            }
            report.termination_protection_turned_off = true;
        }
    }
    Ok(report)
}
