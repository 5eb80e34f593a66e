//! etcd-member-prepare: etcd membership of a group's instance (CLI).
//!
//! etcd-member-prepare: run before etcd.service, decide whether this
//! instance bootstraps a new cluster, joins the existing one, or just
//! restarts its member, and write the environment file etcd reads.
//!
//! - `prepare` (ExecStartPre= of etcd.service): see [`decide`] for the
//!   policy, [`prepare`] for the steps.
//! - `promote` (ExecStartPost=): a learner becomes a voting member once it
//!   has caught up.
//! - `leave` (ExecStop= of mooring-etcd-leave.service): this member out of
//!   the cluster when the group terminates its instance; see [`leave`].
//! - `tidy` (a timer): the leader removes members that are gone; [`tidy`].
//! - `snapshot` (a timer): the leader's backups in S3, and `snapshots`;
//!   [`snapshot`].
//!
//! Peers come from EC2 ([`peers`]); etcd is asked through [`cluster`].

pub mod cluster;
pub mod decide;
mod join;
pub mod leave;
pub mod options;
pub mod peers;
pub mod prepare;
pub mod promote;
pub mod recover;
pub mod setup;
pub mod snapshot;
pub mod survey;
pub mod tidy;
pub mod tls;

pub use options::{Options, PeerSource, Scheme};

use crate::cli::{print_report, CommonArgs};
use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "etcd-member-prepare",
    version,
    about = "Bootstrap or join an etcd cluster of EC2 instances found by tag, and write etcd's environment file",
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
    /// Decide bootstrap / join / restart and write the env file
    /// (ExecStartPre= of etcd.service).
    Prepare(Options),
    /// Promote this member from learner to voting member once it has caught
    /// up (ExecStartPost= of etcd.service).
    Promote(Options),
    /// Leave the cluster when the group terminates this instance: hand
    /// over leadership, remove this member while quorum and --min-voting
    /// allow, move the data aside (ExecStop= of mooring-etcd-leave.service).
    Leave {
        #[command(flatten)]
        options: Options,
        #[command(flatten)]
        leave: leave::LeaveArgs,
    },
    /// On the leader only: remove one member whose instance is proven gone
    /// or that never started (etcd-member-tidy.timer).
    Tidy {
        #[command(flatten)]
        options: Options,
        #[command(flatten)]
        tidy: tidy::TidyArgs,
    },
    /// On the leader only: stream a snapshot to S3 when the store moved
    /// since the newest one, keep --retain (etcd-member-snapshot.timer).
    Snapshot {
        #[command(flatten)]
        options: Options,
        #[command(flatten)]
        snapshot: snapshot::SnapshotArgs,
    },
    /// List this cluster's snapshots in S3, newest first.
    Snapshots(Options),
    /// By hand: bootstrap this instance from a chosen snapshot (run on
    /// every initial member with the same --from), with prepare's checks.
    Restore {
        #[command(flatten)]
        options: Options,
        #[command(flatten)]
        restore: snapshot::restore::RestoreArgs,
    },
}

/// The program's main: `args` as the process got them, its name first
/// (`etcd-member-prepare` whether run by that name or as `mooring etcd-member-prepare`).
pub fn main(args: Vec<std::ffi::OsString>) -> ! {
    let (cli, labels) = crate::cli::parse::<Cli>(args, "etcd-member-prepare", "prepare");
    let common = cli.common.clone();
    crate::cli::main(labels, &common, run(cli))
}

pub async fn run(cli: Cli) -> Result<()> {
    let format = cli.common.output;
    match cli.command {
        Command::Prepare(o) => {
            let report = prepare::prepare(&cli.common, &o).await?;
            report.record_gauges();
            print_report(&report, format)
        }
        Command::Promote(o) => print_report(&promote::promote(&cli.common, &o).await?, format),
        Command::Leave { options, leave } => {
            print_report(&leave::leave(&cli.common, &options, &leave).await?, format)
        }
        Command::Tidy { options, tidy } => {
            print_report(&tidy::tidy(&cli.common, &options, &tidy).await?, format)
        }
        Command::Snapshot { options, snapshot } => print_report(
            &snapshot::snapshot(&cli.common, &options, &snapshot).await?,
            format,
        ),
        Command::Snapshots(o) => print_report(&snapshot::snapshots(&cli.common, &o).await?, format),
        Command::Restore { options, restore } => print_report(
            &prepare::prepare_or_restore(&cli.common, &options, Some(&restore)).await?,
            format,
        ),
    }
    Ok(())
}
