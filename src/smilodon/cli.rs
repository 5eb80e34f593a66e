//! smilodon-attach's flags, and the checks of them that clap cannot make.

use crate::aws::filter::{self, FilterSpec};
use crate::block::FsType;
use crate::cli::{CommonArgs, DeviceArgs};
use crate::exit::bad_input;
use anyhow::Result;
use clap::{Parser, ValueEnum};
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "smilodon-attach",
    version,
    about = "Attach the EBS volume and ENI that share a NodeID tag, mount the volume, and write the node's environment file",
    max_term_width = 80
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,

    #[command(flatten)]
    pub devices: DeviceArgs,

    /// Without a command: attach (ExecStartPre= or ExecCondition= of the
    /// node's service).
    #[command(subcommand)]
    pub command: Option<Command>,

    /// EC2 filters the volumes and ENIs must match, in smilodon's form
    /// ('tag:Env=dev,tag:Service=etcd,tag-key=Project') or the AWS CLI's
    /// ('Name=tag:Service,Values=etcd'); repeatable.
    #[arg(long = "filter", visible_alias = "filters", value_name = "FILTERS")]
    pub filters: Vec<String>,

    /// The tag whose value pairs a volume with an ENI.
    #[arg(long, env = "SMILODON_NODE_ID_TAG", default_value = "NodeID")]
    pub node_id_tag: String,

    /// Mount the volume here (by filesystem UUID).
    #[arg(long)]
    pub mountpoint: Option<PathBuf>,

    /// Make this filesystem on the volume if, and only if, it is blank.
    #[arg(long, value_enum, requires = "mountpoint")]
    pub mkfs: Option<FsType>,

    /// Mount options.
    #[arg(long, default_value = "defaults")]
    pub mount_options: String,

    /// Give the mounted filesystem's root to USER[:GROUP] (the service's
    /// user); empty: leave it.
    #[arg(
        long,
        value_name = "USER[:GROUP]",
        default_value = "",
        requires = "mountpoint"
    )]
    pub owner: String,

    /// When no pair is free: fail (exit 6) or idle (exit 8: a spare).
    #[arg(long, value_enum, default_value = "fail")]
    pub when_none: WhenNone,

    /// Exit as systemd's ExecCondition= expects: 0 when the pair is in
    /// place, 1 when idle (the service is skipped, not failed), 255 on
    /// any error (the unit fails; the log names the error).
    #[arg(long)]
    pub exec_condition: bool,

    /// The environment file the node's service reads.
    #[arg(
        long,
        env = "SMILODON_ENV_FILE",
        default_value = "/run/mooring/smilodon-attach.env"
    )]
    pub env_file: PathBuf,

    /// Also write the NodeID (plus --node-id-offset) to this file, e.g.
    /// ZooKeeper's myid on the data volume.
    #[arg(long, value_name = "FILE")]
    pub write_node_id: Option<PathBuf>,

    /// Added to a numeric NodeID before writing it (myid starts at 1).
    #[arg(
        long,
        default_value_t = 0,
        requires = "write_node_id",
        allow_negative_numbers = true
    )]
    pub node_id_offset: i64,

    /// Attachment slots of this instance type, shared by volumes and ENIs.
    #[arg(long, default_value_t = crate::aws::instance::DEFAULT_ATTACHMENT_LIMIT)]
    pub attachment_limit: u32,

    /// Wait up to this long for the ENI's address to be on its interface
    /// before writing NODE_IP (exit 4 if it never comes); 0: do not wait.
    #[arg(
        long,
        value_name = "SECONDS",
        env = "SMILODON_ADDRESS_WAIT",
        default_value_t = 60
    )]
    pub address_wait: u64,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Stop the node's service, unmount, detach the pair this instance
    /// holds and see it available, when the group terminates this
    /// instance (ExecStop= of mooring-smilodon-release@.service); flags
    /// before the command.
    Release(crate::lifecycle::StepArgs),
}

/// What to do when no pair is free.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WhenNone {
    /// Exit 6: the unit fails (and Restart= may try again later).
    Fail,
    /// Exit 8: this instance is a spare; nothing is attached.
    Idle,
}

/// Check the flags that clap cannot.
pub fn validate(cli: &Cli) -> Result<Vec<FilterSpec>> {
    let tag = &cli.node_id_tag;
    if tag.is_empty() || tag.contains(',') || tag.len() > 128 {
        return Err(bad_input(format!(
            "--node-id-tag {tag:?} must be 1-128 characters without commas"
        )));
    }
    if let Some(m) = &cli.mountpoint {
        if !m.is_absolute() || m == &PathBuf::from("/") {
            return Err(bad_input(format!(
                "--mountpoint {} must be an absolute path other than /",
                m.display()
            )));
        }
    }
    if let Some(f) = &cli.write_node_id {
        if !f.is_absolute() {
            return Err(bad_input(format!(
                "--write-node-id {} must be an absolute path",
                f.display()
            )));
        }
    }
    Ok(filter::parse_all(&cli.filters)?)
}
