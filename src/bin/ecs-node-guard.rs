//! ecs-node-guard: see `mooring::ecs_guard` and the README.

use clap::Parser;
use mooring::ecs_guard::{run, Cli};

fn main() {
    let cli = Cli::parse();
    mooring::cli::main(cli.common.verbose, cli.common.quiet, run(cli))
}
