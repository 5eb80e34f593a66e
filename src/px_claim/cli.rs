//! px-volume-claim's flags, and its configuration: flags, file or user-data.

use super::config::{self, Config};
use crate::aws::Session;
use crate::cli::{CommonArgs, DeviceArgs};
use crate::exit::{bad_input, BadInput};
use anyhow::Result;
use clap::Parser;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "px-volume-claim",
    version,
    about = "Claim a cluster's free EBS volume per template, or create one under max-count, else run storage-less",
    max_term_width = 80
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,

    #[command(flatten)]
    pub devices: DeviceArgs,

    /// Without a command: claim (ExecStartPre= of the storage service).
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The cluster's ID [default: from --config, else the instance's
    /// user-data (px-cluster.clusterid)].
    #[arg(long, env = "PX_CLAIM_CLUSTER_ID")]
    pub cluster_id: Option<String>,

    /// A template, VOLUME_ID:MAX_COUNT (repeatable; with --cluster-id).
    #[arg(
        long = "template",
        value_name = "VOLUME_ID:MAX_COUNT",
        requires = "cluster_id"
    )]
    pub templates: Vec<String>,

    /// A JSON configuration file: {"cluster-id": ..., "templates":
    /// [{"template": "vol-...", "max-count": N}]}.
    #[arg(long, env = "PX_CLAIM_CONFIG", conflicts_with = "cluster_id")]
    pub config: Option<PathBuf>,

    /// How long to wait for a volume still attached to a shutting-down
    /// instance to come free, in seconds (within --timeout).
    #[arg(long, default_value_t = 120)]
    pub wait_released: u64,

    /// The environment file the storage service reads.
    #[arg(
        long,
        env = "PX_CLAIM_ENV_FILE",
        default_value = "/run/mooring/px-volume-claim.env"
    )]
    pub env_file: PathBuf,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Detach the volumes this instance claimed, once the storage service
    /// has stopped on an instance the group terminates (ExecStop= of
    /// mooring-px-release.service); flags before the command.
    Release(crate::lifecycle::StepArgs),
}

/// The configuration given by flags or a file, checked before any network
/// call; `None` when it is to come from user-data.
pub(super) fn local_config(cli: &Cli) -> Result<Option<Config>> {
    if let Some(id) = &cli.cluster_id {
        if cli.templates.is_empty() {
            return Err(bad_input("--cluster-id needs at least one --template"));
        }
        let templates = cli
            .templates
            .iter()
            .map(|t| config::parse_template_flag(t))
            .collect::<Result<Vec<_>, BadInput>>()?;
        return Ok(Some(
            Config {
                cluster_id: id.clone(),
                templates,
            }
            .validate("flags")?,
        ));
    }
    if let Some(path) = &cli.config {
        let text = std::fs::read_to_string(path)
            .map_err(|e| BadInput(format!("cannot read {}: {e}", path.display())))?;
        return Ok(Some(config::parse_json(
            &text,
            &path.display().to_string(),
        )?));
    }
    Ok(None)
}

/// The configuration in the instance's user-data.
pub(super) async fn user_data_config(session: &Session) -> Result<Config> {
    let user_data = session.aws.imds.user_data().await?.ok_or_else(|| {
        BadInput(
            "no configuration: give --cluster-id and --template, or --config, or user-data".into(),
        )
    })?;
    if user_data.contains("AWS_SECRET_ACCESS_KEY") {
        log::warn!(
            "user-data carries AWS credentials; ignored: credentials come from the instance profile \
             (or the standard AWS_* environment variables)"
        );
    }
    Ok(config::parse_cloud_config(&user_data)?)
}
