//! ebs-grow: keep a mountpoint from filling up by adding EBS volumes to its
//! filesystem or growing them in place. One-shot commands for systemd:
//! `init` at first boot, `check` from a timer, `status`, `teardown`.

pub mod check;
pub mod config;
pub mod fs;
pub mod init;
pub mod ours;
pub mod report;
pub mod state;
pub mod status;
pub mod teardown;
pub mod usage;

use crate::aws::{AwsOptions, Session};
use crate::block::DeviceResolver;
use crate::cli::{print_report, CommonArgs, DeviceArgs};
use crate::runlock::RunLock;
use crate::wait::Deadline;
use anyhow::Result;
use clap::{Parser, Subcommand};
use config::{Options, Settings};
use std::time::SystemTime;

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

/// Everything one run needs, made once.
pub struct Run {
    pub settings: Settings,
    pub common: CommonArgs,
    pub resolver: DeviceResolver,
    pub deadline: Deadline,
    pub started: SystemTime,
}

impl Run {
    pub fn new(settings: Settings, common: CommonArgs, devices: &DeviceArgs) -> Run {
        Run {
            deadline: Deadline::after(common.timeout()),
            started: SystemTime::now(),
            resolver: devices.resolver(),
            settings,
            common,
        }
    }

    pub fn dry_run(&self) -> bool {
        self.common.dry_run
    }

    /// Serialise with every other run for this mountpoint.
    pub async fn lock(&self) -> Result<RunLock> {
        let path = self
            .common
            .run_dir
            .join(format!("ebs-grow-{}.lock", self.settings.name()));
        RunLock::acquire(&path, &self.deadline).await
    }

    pub async fn session(&self) -> Result<Session> {
        let opts = AwsOptions {
            region: self.common.region.clone(),
            ..Default::default()
        };
        self.deadline
            .run("instance metadata and AWS clients", Session::start(&opts))
            .await
    }

    pub fn files(&self) -> state::Files {
        state::Files::new(
            &self.common.run_dir,
            &self.settings.state_dir,
            &self.settings.name(),
        )
    }

    pub fn vg(&self) -> String {
        fs::vg_name(&self.settings.name())
    }
}

/// The program's main: `args` as the process got them, its name first
/// (`ebs-grow` whether run by that name or as `mooring ebs-grow`).
pub fn main(args: Vec<std::ffi::OsString>) -> ! {
    let cli = Cli::parse_from(args);
    crate::cli::main(cli.common.verbose, cli.common.quiet, run(cli))
}

/// Run one command and print its report.
pub async fn run(cli: Cli) -> Result<()> {
    let format = cli.common.output;
    let report = match cli.command {
        Command::Init(o) => init::init(&Run::new(o.resolve()?, cli.common, &cli.devices)).await?,
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
