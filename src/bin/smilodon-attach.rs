//! smilodon-attach: see `mooring::smilodon` and the README.

use clap::Parser;
use mooring::smilodon::{exit_status, run, Cli};

fn main() {
    let exec_condition = std::env::args().any(|a| a == "--exec-condition");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // As ExecCondition=, exit 2 would mean "skip the service": a typo
        // in the flags must fail the unit instead.
        Err(e) if exec_condition && e.use_stderr() => {
            let _ = e.print();
            std::process::exit(exit_status(mooring::exit::Code::BadInput, true))
        }
        Err(e) => e.exit(),
    };
    let code = mooring::cli::execute(cli.common.verbose, cli.common.quiet, run(cli));
    std::process::exit(exit_status(code, exec_condition))
}
