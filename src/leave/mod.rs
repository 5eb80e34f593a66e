//! mooring-leave: run the leave steps when the group terminates us (CLI).
//!
//! mooring-leave: the one place that watches whether the Auto Scaling
//! group is taking this instance away. `watch` (a timer, every few
//! seconds) reads the target lifecycle state from IMDS — nothing else
//! while the instance stays — and when it reads `Terminated` runs the
//! leave steps (by default it stops `mooring-leave.target`, whose units
//! run each installed tool's leave step from `ExecStop=`), heartbeats the
//! group's termination hook while they run, and completes the lifecycle
//! action (CONTINUE) when they are done or the budget is spent: the
//! group's decision wins. `complete` only completes. See [`watch`].

pub mod watch;

use crate::cli::{print_report, CommonArgs};
use anyhow::Result;
use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "mooring-leave",
    version,
    about = "When the Auto Scaling group terminates this instance, run the leave steps and complete its lifecycle action",
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
    /// One look at the group's intent (IMDS only); if it is terminating
    /// this instance, run the leave steps and complete the lifecycle
    /// action (mooring-leave.timer).
    Watch(WatchArgs),
    /// Complete this instance's termination lifecycle action (CONTINUE),
    /// if one waits.
    Complete,
}

#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// The leave steps: a command and its arguments, after `--`
    /// [default: systemctl stop mooring-leave.target].
    #[arg(last = true, value_name = "COMMAND")]
    pub steps: Vec<String>,

    /// Run the steps and complete even when IMDS does not say the group is
    /// terminating this instance (by hand).
    #[arg(long)]
    pub now: bool,
}

impl WatchArgs {
    pub fn steps(&self) -> Vec<String> {
        if self.steps.is_empty() {
            ["systemctl", "stop", "mooring-leave.target"]
                .map(String::from)
                .to_vec()
        } else {
            self.steps.clone()
        }
    }
}

/// The program's main: `args` as the process got them, its name first.
pub fn main(args: Vec<std::ffi::OsString>) -> ! {
    let (cli, labels) = crate::cli::parse::<Cli>(args, "mooring-leave", "mooring-leave");
    let common = cli.common.clone();
    crate::cli::main(labels, &common, run(cli))
}

pub async fn run(cli: Cli) -> Result<()> {
    let format = cli.common.output;
    match &cli.command {
        Command::Watch(w) => print_report(&watch::watch(&cli.common, w).await?, format),
        Command::Complete => print_report(&watch::complete_only(&cli.common).await?, format),
    }
    Ok(())
}
