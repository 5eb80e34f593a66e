//! etcd-member-prepare: see `mooring::etcd_member` and the README.

use clap::Parser;
use mooring::etcd_member::{run, Cli};

fn main() {
    let cli = Cli::parse();
    mooring::cli::main(cli.common.verbose, cli.common.quiet, run(cli))
}
