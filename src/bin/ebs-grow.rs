//! ebs-grow: see `mooring::ebs_grow`.

use clap::Parser;
use mooring::ebs_grow::{run, Cli};
use mooring::exit::{code_for, Code};

fn main() {
    let cli = Cli::parse();
    mooring::logging::init(cli.common.verbose, cli.common.quiet);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("cannot start the async runtime");
    let code = match runtime.block_on(run(cli)) {
        Ok(()) => Code::Ok,
        Err(err) => {
            log::error!("{err:#}");
            code_for(&err)
        }
    };
    std::process::exit(code.as_i32());
}
