//! px-volume-claim: see `mooring::px_claim` and the README.

use clap::Parser;
use mooring::px_claim::{run, Cli};

fn main() {
    let cli = Cli::parse();
    mooring::cli::main(cli.common.verbose, cli.common.quiet, run(cli))
}
