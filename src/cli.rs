//! Flags every tool shares, and how a tool prints its report.

use clap::builder::TypedValueParser as _;
use clap::{Args, ValueEnum};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// How the report of a run is printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    /// Lines for people.
    #[default]
    Text,
    /// One JSON object, for scripts.
    Json,
}

/// The heading of the common flags in `--help`.
const COMMON: &str = "Common options";

/// The flags of every Mooring tool, under their own heading in `--help`.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Show what would be done; change nothing (no AWS mutation, no mkfs,
    /// no mount, no file written).
    #[arg(long, global = true, help_heading = COMMON)]
    pub dry_run: bool,

    /// Format of the report printed on stdout.
    #[arg(
        long,
        value_enum,
        default_value_t,
        global = true, help_heading = COMMON,
        env = "MOORING_OUTPUT"
    )]
    pub output: OutputFormat,

    /// AWS region [default: AWS_REGION, else the instance's region from IMDS].
    #[arg(long, global = true, help_heading = COMMON)]
    pub region: Option<String>,

    /// Give up after this many seconds (keep it below the unit's
    /// TimeoutStartSec).
    #[arg(long, value_name = "SECONDS", global = true, help_heading = COMMON, default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,

    /// Directory for locks and state between runs.
    #[arg(
        long,
        global = true, help_heading = COMMON,
        env = "MOORING_RUN_DIR",
        default_value = "/run/mooring"
    )]
    pub run_dir: PathBuf,

    /// More log detail (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = COMMON)]
    pub verbose: u8,

    /// Less log detail (repeat for less).
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = COMMON)]
    pub quiet: u8,

    /// Leave this run's numbers in FILE for node_exporter's textfile
    /// collector (replaced atomically after every run, failed ones too;
    /// not with --dry-run). Empty: none.
    // An empty value is accepted (units set the variable empty), which
    // clap's own path parser refuses.
    #[arg(long, value_name = "FILE", global = true, help_heading = COMMON,
          env = "MOORING_METRICS_FILE",
          value_parser = clap::builder::OsStringValueParser::new().map(PathBuf::from))]
    pub metrics_file: Option<PathBuf>,
}

impl CommonArgs {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout)
    }
}

/// A tool's report of one run: data on stdout, as text or JSON.
pub trait Report: Serialize {
    /// The text form, one fact per line.
    fn text(&self) -> String;
}

/// Print `report` on stdout in `format`.
pub fn print_report<R: Report>(report: &R, format: OutputFormat) {
    match format {
        OutputFormat::Text => {
            let text = report.text();
            if !text.is_empty() {
                println!("{}", text.trim_end());
            }
        }
        OutputFormat::Json => match serde_json::to_string(report) {
            Ok(json) => println!("{json}"),
            Err(e) => log::error!("cannot serialise the report: {e}"),
        },
    }
}

/// Where block devices are looked up. Hidden: only tests point these
/// elsewhere (at the rig's), through their environment variables.
#[derive(Debug, Clone, Args)]
pub struct DeviceArgs {
    /// sysfs block directory scanned for NVMe serials.
    #[arg(
        long,
        env = "MOORING_SYS_BLOCK_DIR",
        default_value = "/sys/block",
        global = true,
        hide = true
    )]
    pub sys_block_dir: PathBuf,

    /// Directory of device nodes.
    #[arg(
        long,
        env = "MOORING_DEV_DIR",
        default_value = "/dev",
        global = true,
        hide = true
    )]
    pub dev_dir: PathBuf,

    /// udev's by-id directory.
    #[arg(
        long,
        env = "MOORING_BY_ID_DIR",
        default_value = "/dev/disk/by-id",
        global = true,
        hide = true
    )]
    pub by_id_dir: PathBuf,
}

impl DeviceArgs {
    pub fn resolver(&self) -> crate::block::DeviceResolver {
        crate::block::DeviceResolver {
            sys_block: self.sys_block_dir.clone(),
            dev_dir: self.dev_dir.clone(),
            by_id: self.by_id_dir.clone(),
        }
    }
}

/// Parse a tool's arguments once, as `C::try_parse_from` would, and name
/// the run for its metrics: `tool` and the subcommand given, else
/// `default` (a tool whose main job has no subcommand).
pub fn try_parse<C: clap::Parser>(
    args: Vec<std::ffi::OsString>,
    tool: &'static str,
    default: &str,
) -> Result<(C, crate::metrics::RunLabels), clap::Error> {
    let mut command = C::command();
    let matches = command.try_get_matches_from_mut(args)?;
    let labels = crate::metrics::RunLabels {
        tool,
        command: matches.subcommand_name().unwrap_or(default).to_string(),
    };
    let cli = C::from_arg_matches(&matches).map_err(|e| e.format(&mut command))?;
    Ok((cli, labels))
}

/// As [`try_parse`], exiting as clap does on bad arguments, `--help` and
/// `--version`.
pub fn parse<C: clap::Parser>(
    args: Vec<std::ffi::OsString>,
    tool: &'static str,
    default: &str,
) -> (C, crate::metrics::RunLabels) {
    try_parse(args, tool, default).unwrap_or_else(|e| e.exit())
}

/// The body of every tool's `main`: logging, a single-threaded runtime,
/// the run, the error chain printed once, the metrics file, the
/// documented exit code.
pub fn main<T: Into<crate::exit::Code>>(
    labels: crate::metrics::RunLabels,
    common: &CommonArgs,
    run: impl std::future::Future<Output = anyhow::Result<T>>,
) -> ! {
    std::process::exit(execute(labels, common, run).as_i32())
}

/// As [`main`], returning the code instead of exiting, for a main that
/// maps it further. With `--output json` a failure is also one JSON
/// object on stdout, `{"error": …, "exit_code": N, "kind": …}`, so that a
/// script reading stdout always gets an answer.
pub fn execute<T: Into<crate::exit::Code>>(
    labels: crate::metrics::RunLabels,
    common: &CommonArgs,
    run: impl std::future::Future<Output = anyhow::Result<T>>,
) -> crate::exit::Code {
    let started = std::time::Instant::now();
    crate::logging::init(common.verbose, common.quiet, labels.tool);
    let metrics_file = common
        .metrics_file
        .as_ref()
        .filter(|p| !p.as_os_str().is_empty() && !common.dry_run);
    if metrics_file.is_some() {
        crate::metrics::enable();
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("cannot start the async runtime");
    let code = match runtime.block_on(run) {
        Ok(code) => code.into(),
        Err(err) => {
            let code = crate::exit::code_for(&err);
            log::error!(
                exit_code = code.as_i32(),
                message_id = crate::logging::events::RUN_FAILED;
                "{err:#}"
            );
            if common.output == OutputFormat::Json {
                let failure = serde_json::json!({
                    "error": format!("{err:#}"),
                    "exit_code": code.as_i32(),
                    "kind": code.kind(),
                });
                println!("{failure}");
            }
            code
        }
    };
    if let Some(path) = metrics_file {
        crate::metrics::write(path, &labels, code.as_i32(), started.elapsed());
    }
    code
}
