//! One program for the six tools, picked by the name it runs as.
//!
//! One program for the six tools. The tools share most of their code (the
//! AWS SDK above all), so one executable linked under six names is a sixth
//! of six separate ones on an AMI. The name it is run by picks the tool;
//! `mooring <tool> [ARGS]` works too. Either way the tool sees its own name
//! first, so its help, errors and exit codes are those of its own program.

use std::ffi::{OsStr, OsString};
use std::path::Path;

/// A tool's main, given the arguments with the tool's name first.
type ToolMain = fn(Vec<OsString>) -> !;

/// The tools, by the name they are installed under.
pub const TOOLS: [(&str, ToolMain); 6] = [
    ("ebs-grow", crate::ebs_grow::main),
    ("etcd-member-prepare", crate::etcd_member::main),
    ("smilodon-attach", crate::smilodon::main),
    ("px-volume-claim", crate::px_claim::main),
    ("ecs-node-guard", crate::ecs_guard::main),
    ("mooring-leave", crate::leave::main),
];

fn tool(name: &OsStr) -> Option<ToolMain> {
    TOOLS
        .iter()
        .find(|(tool, _)| OsStr::new(tool) == name)
        .map(|(_, main)| *main)
}

fn usage() -> String {
    let names: Vec<&str> = TOOLS.iter().map(|(name, _)| *name).collect();
    format!(
        "Usage: mooring <TOOL> [ARGS]...\n\nTools (also installed under their own names):\n  {}\n\n\
         `mooring <TOOL> --help` (or `<TOOL> --help`) for a tool's flags.\n",
        names.join("\n  ")
    )
}

/// The program's main: `args` as the process got them.
pub fn main(args: Vec<OsString>) -> ! {
    let called_as = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(OsStr::to_os_string)
        .unwrap_or_default();
    if let Some(main) = tool(&called_as) {
        main(args)
    }
    if let Some(main) = args.get(1).and_then(|name| tool(name)) {
        main(args[1..].to_vec())
    }
    match args.get(1).map(OsString::as_os_str) {
        Some(flag) if flag == "--help" || flag == "-h" || flag == "help" => {
            print!("{}", usage());
            std::process::exit(0)
        }
        Some(flag) if flag == "--version" || flag == "-V" => {
            println!("mooring {}", env!("CARGO_PKG_VERSION"));
            std::process::exit(0)
        }
        Some(other) => {
            eprintln!(
                "error: unknown tool '{}'\n\n{}",
                other.to_string_lossy(),
                usage()
            );
            std::process::exit(crate::exit::Code::BadInput.as_i32())
        }
        None => {
            eprint!("{}", usage());
            std::process::exit(crate::exit::Code::BadInput.as_i32())
        }
    }
}
