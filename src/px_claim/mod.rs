//! px-volume-claim: a volume per template, or a storage-less node (CLI).
//!
//! px-volume-claim: before a storage service starts, give this instance one
//! volume per template — its own from a restart, a free one of its
//! cluster, or a new one made like the template while the cluster has
//! fewer than max-count — or none (a storage-less node). It never formats
//! anything: the storage service owns the disks.
//!
//! Creation is race-free without a lock: volume number N (a "slot", 1 to
//! max-count) of a cluster and template is created with a ClientToken
//! derived from the cluster, the template and N, and identical parameters,
//! so instances creating slot N at the same time all get the same volume
//! from EC2; they then race to attach it, and the losers try another slot.
//! No instance ever makes a volume beyond max-count, and none has surplus
//! to delete. `release` hands the volumes back when the group terminates
//! the instance ([`leave`]).

mod claim;
mod cli;
pub mod config;
pub mod leave;
pub mod plan;
mod release;
mod report;
mod tags;
mod volume;

pub use claim::claim;
pub use cli::Cli;
pub use report::{ClaimReport, Claimed};
pub use tags::*;

use crate::cli::print_report;
use anyhow::Result;

/// The program's main: `args` as the process got them, its name first
/// (`px-volume-claim` whether run by that name or as `mooring px-volume-claim`).
pub fn main(args: Vec<std::ffi::OsString>) -> ! {
    let (cli, labels) = crate::cli::parse::<Cli>(args, "px-volume-claim", "claim");
    let common = cli.common.clone();
    crate::cli::main(labels, &common, run(cli))
}

pub async fn run(cli: Cli) -> Result<()> {
    match &cli.command {
        Some(cli::Command::Release(step)) => {
            print_report(&leave::release(&cli, step).await?, cli.common.output)
        }
        None => {
            let report = claim(&cli).await?;
            report.record_gauges();
            print_report(&report, cli.common.output)
        }
    }
    Ok(())
}
