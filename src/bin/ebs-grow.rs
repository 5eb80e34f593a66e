//! ebs-grow: see `mooring::ebs_grow` and the README.

use clap::Parser;
use mooring::ebs_grow::{run, Cli};

fn main() {
    let cli = Cli::parse();
    mooring::cli::main(cli.common.verbose, cli.common.quiet, run(cli))
}
