//! Running the system's block tools, with errors naming the command.
//!
//! Running the system's tools (blkid, mkfs.*, mount) with errors that name
//! the command line and what it said.

use anyhow::{anyhow, Context, Result};
use std::process::{Command, Output};

/// Run `program args...`; return its output whatever the exit status.
pub fn run_raw(program: &str, args: &[&str]) -> Result<Output> {
    Command::new(program)
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .with_context(|| format!("cannot run {program} (is it installed?)"))
}

/// Run `program args...` and fail, naming it, unless it exits 0. Returns
/// stdout.
pub fn run(program: &str, args: &[&str]) -> Result<String> {
    let out = run_raw(program, args)?;
    if !out.status.success() {
        return Err(anyhow!(
            "`{} {}` failed ({}): {}",
            program,
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
