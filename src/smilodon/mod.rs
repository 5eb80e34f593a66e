//! smilodon-attach: node N's volume and ENI for this instance (CLI).
//!
//! smilodon-attach: before a node's service starts, give this instance the
//! EBS volume and the ENI that share a NodeID tag, so that node N always
//! comes back with node N's disk and node N's IP address.
//!
//! One run: read what is attached here and what is free (one
//! DescribeVolumes, one DescribeNetworkInterfaces, tags included), keep a
//! pair already held (a restart: no mutation), finish a half-held one, or
//! claim a free one (volume first, then ENI; a pair lost halfway is
//! released). Then wait for the block device and the interface, make a
//! filesystem only on a blank volume, mount it by UUID, and write the
//! node's environment file. `release` hands the pair back when the group
//! terminates the instance ([`leave`]).

mod attach;
pub mod choose;
pub mod claim;
mod cli;
pub mod leave;
pub mod node;
pub mod pairs;
mod report;
pub mod spare;

pub use attach::attach;
pub use cli::{Cli, WhenNone};
pub use report::AttachReport;

use crate::cli::print_report;
use crate::exit::Code;
use anyhow::Result;

/// The program's main: `args` as the process got them, its name first.
pub fn main(args: Vec<std::ffi::OsString>) -> ! {
    let exec_condition = args.iter().skip(1).any(|a| a == "--exec-condition");
    let (cli, labels) = match crate::cli::try_parse::<Cli>(args, "smilodon-attach", "attach") {
        Ok(parsed) => parsed,
        // As ExecCondition=, exit 2 would mean "skip the service": a typo
        // in the flags must fail the unit instead.
        Err(e) if exec_condition && e.use_stderr() => {
            let _ = e.print();
            std::process::exit(exit_status(Code::BadInput, true))
        }
        Err(e) => e.exit(),
    };
    let common = cli.common.clone();
    let code = crate::cli::execute(labels, &common, run(cli));
    std::process::exit(exit_status(code, exec_condition))
}

pub async fn run(cli: Cli) -> Result<Code> {
    if let Some(cli::Command::Release(step)) = &cli.command {
        print_report(&leave::release(&cli, step).await?, cli.common.output);
        return Ok(Code::Ok);
    }
    let report = attach(&cli).await?;
    report.record_gauges();
    print_report(&report, cli.common.output);
    Ok(if report.node_id.is_none() {
        Code::Idle
    } else {
        Code::Ok
    })
}

/// The exit status for `code`: the documented codes, or with
/// `--exec-condition` what systemd's ExecCondition= understands.
pub fn exit_status(code: Code, exec_condition: bool) -> i32 {
    match (exec_condition, code) {
        (false, c) => c.as_i32(),
        (true, Code::Ok) => 0,
        (true, Code::Idle) => 1,
        (true, _) => 255,
    }
}
