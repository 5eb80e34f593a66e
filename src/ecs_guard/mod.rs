//! ecs-node-guard: ECS hosts that configure and replace themselves.
//!
//! ecs-node-guard: ECS container hosts that configure themselves and are
//! replaced by their Auto Scaling group when broken.
//!
//! - `configure` (ExecStartPre= of ecs.service): ECS_CLUSTER in
//!   /etc/ecs/ecs.config, the Name tag, termination protection off.
//! - `check` (a timer): disk and registration, from local facts only; a
//!   failure that persists for N checks marks the instance Unhealthy in its
//!   group (after an optional drain), unless the circuit breaker holds.
//! - `sweep` (any host, or a scheduled task): instances of the group that
//!   never registered are marked Unhealthy; container instances whose EC2
//!   instance is gone are deregistered.
//! - `leave` (ExecStop= of mooring-ecs-drain.service): on scale-in, drain
//!   and deregister this host's container instance; see [`leave`].

pub mod check;
pub mod configure;
pub mod ecs_config;
pub mod group;
pub mod health;
pub mod leave;
pub mod options;
pub mod sweep;
pub mod verdict;

pub use options::{CheckOptions, ConfigureOptions, GroupOptions, SweepOptions};

use crate::cli::{print_report, CommonArgs};
use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ecs-node-guard",
    version,
    about = "Configure an ECS container host, and have its Auto Scaling group replace it when it is broken",
    max_term_width = 80
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write ECS_CLUSTER into ecs.config, set the Name tag, turn
    /// termination protection off (ExecStartPre= of ecs.service).
    Configure(ConfigureOptions),
    /// Check disk and registration; have a persistently broken host
    /// replaced (from a timer).
    Check(CheckOptions),
    /// Mark the group's never-registered instances Unhealthy, deregister
    /// container instances whose EC2 instance is gone.
    Sweep(SweepOptions),
    /// When the group terminates this instance: drain its container
    /// instance, then deregister it (ExecStop= of mooring-ecs-drain.service).
    Leave(leave::LeaveOptions),
}

/// The program's main: `args` as the process got them, its name first
/// (`ecs-node-guard` whether run by that name or as `mooring ecs-node-guard`).
pub fn main(args: Vec<std::ffi::OsString>) -> ! {
    let (cli, labels) = crate::cli::parse::<Cli>(args, "ecs-node-guard", "ecs-node-guard");
    let common = cli.common.clone();
    crate::cli::main(labels, &common, run(cli))
}

pub async fn run(cli: Cli) -> Result<()> {
    let format = cli.common.output;
    match &cli.command {
        Command::Configure(o) => print_report(&configure::configure(&cli.common, o).await?, format),
        Command::Check(o) => print_report(&check::check(&cli.common, o).await?, format),
        Command::Sweep(o) => print_report(&sweep::sweep(&cli.common, o).await?, format),
        Command::Leave(o) => print_report(&leave::leave(&cli.common, o).await?, format),
    }
    Ok(())
}
