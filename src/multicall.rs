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

/// The tools, by the name they are installed under, with their purpose
/// in one line (for `mooring --help`).
pub const TOOLS: [(&str, ToolMain, &str); 6] = [
    (
        "ebs-grow",
        crate::ebs_grow::main,
        "keep a mountpoint from filling up: add or grow EBS",
    ),
    (
        "etcd-member-prepare",
        crate::etcd_member::main,
        "etcd membership by EC2 tag; tidy, snapshots, restore",
    ),
    (
        "smilodon-attach",
        crate::smilodon::main,
        "attach and mount a node's EBS + ENI pair, write its env",
    ),
    (
        "px-volume-claim",
        crate::px_claim::main,
        "claim or create a storage volume from a template",
    ),
    (
        "ecs-node-guard",
        crate::ecs_guard::main,
        "configure an ECS host; replace it when it breaks",
    ),
    (
        "mooring-leave",
        crate::leave::main,
        "on scale-in: run the leave steps, complete the hook",
    ),
];

fn tool(name: &OsStr) -> Option<ToolMain> {
    TOOLS
        .iter()
        .find(|(tool, _, _)| OsStr::new(tool) == name)
        .map(|(_, main, _)| *main)
}

fn usage() -> String {
    let lines: Vec<String> = TOOLS
        .iter()
        .map(|(name, _, purpose)| format!("  {name:<20} {purpose}"))
        .collect();
    format!(
        "Usage: mooring <TOOL> [ARGS]...\n\nTools (also installed under their own names):\n{}\n\n\
         `mooring <TOOL> --help` (or `<TOOL> --help`) for a tool's flags;\n\
         man 8 <TOOL> for its exit codes, files and examples.\n",
        lines.join("\n")
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
