//! ebs-grow: keep a mountpoint from filling up (CLI and dispatch).
//!
//! ebs-grow: keep a mountpoint from filling up by adding EBS volumes to its
//! filesystem or growing them in place. One-shot commands for systemd:
//! `init` at first boot, `check` from a timer, `status`, `teardown`.

mod add;
pub mod check;
pub mod config;
pub mod fs;
mod gauges;
mod grow;
mod grown;
pub mod init;
pub mod kind;
mod modify;
pub mod ours;
pub mod report;
pub mod run;
pub mod state;
pub mod status;
pub mod teardown;
pub mod usage;

use crate::cli::{print_report, CommonArgs, DeviceArgs};
use anyhow::Result;
use clap::{Parser, Subcommand};
use config::Options;
use run::Run;

#[derive(Debug, Parser)]
#[command(
    name = "ebs-grow",
    version,
    about = "Keep a mountpoint from filling up: add or grow EBS volumes and grow the filesystem",
    max_term_width = 80
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub devices: DeviceArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the filesystem behind the mountpoint (first boot), mount it by
    /// UUID and add it to fstab. A no-op on an initialised mountpoint.
    Init(Options),
    /// One look at the mountpoint: grow it if space runs low (the timer's
    /// job). No AWS call while there is room.
    Check(Options),
    /// What the mountpoint is made of: devices, volumes, sizes, usage.
    Status(Options),
    /// Unmount, then detach and delete the volumes ebs-grow created for the
    /// mountpoint on this instance, and nothing else.
    Teardown {
        #[command(flatten)]
        options: Options,
        /// Really do it.
        #[arg(long)]
        yes: bool,
    },
}

/// The program's main: `args` as the process got them, its name first
/// (`ebs-grow` whether run by that name or as `mooring ebs-grow`).
pub fn main(args: Vec<std::ffi::OsString>) -> ! {
    let (cli, labels) = crate::cli::parse::<Cli>(args, "ebs-grow", "ebs-grow");
    let common = cli.common.clone();
    crate::cli::main(labels, &common, run(cli))
}

/// Run one command and print its report.
pub async fn run(cli: Cli) -> Result<()> {
    let format = cli.common.output;
    let report = match cli.command {
        Command::Init(o) => {
            init::init_healing(&Run::new(o.resolve()?, cli.common, &cli.devices)).await?
        }
        Command::Check(o) => {
            check::check(&Run::new(o.resolve()?, cli.common, &cli.devices)).await?
        }
        Command::Status(o) => status::status(&Run::new(o.resolve()?, cli.common, &cli.devices))?,
        Command::Teardown { options, yes } => {
            teardown::teardown(&Run::new(options.resolve()?, cli.common, &cli.devices), yes).await?
        }
    };
    print_report(&report, format);
    Ok(())
}
