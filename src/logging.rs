//! Logging to the journal with fields, else to stderr.
//!
//! Logging the way journald wants it. When `JOURNAL_STREAM` says stderr is
//! the journal, each line goes through the journal's native protocol with
//! fields a query can select on: `MOORING_TOOL` always, `INSTANCE_ID` once
//! the run knows it, and per event the record's key-values (`VOLUME_ID`,
//! `ENI_ID`, `DECISION`, `EXIT_CODE`, `MESSAGE_ID` from [`events`]), so
//! that `journalctl MOORING_TOOL=ebs-grow VOLUME_ID=vol-…` works.
//! Elsewhere, or when the journal refuses a line, stderr: no colours, no
//! timestamps (journald adds them), `<N>` priority prefixes when stderr is
//! the journal stream.

use log::kv::{Source, VisitSource};
use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::Write;
use std::sync::OnceLock;

/// The MESSAGE_ID of each kind of event (journalctl MESSAGE_ID=…): random
/// 128-bit IDs, fixed forever once shipped, as sd-id128(3) asks.
pub mod events {
    /// A run failed; EXIT_CODE says how.
    pub const RUN_FAILED: &str = "8f4b2a6cf1d94e0a9c3e57d1b2a4f6e8";
    /// ebs-grow made a filesystem on a volume (first boot).
    pub const FILESYSTEM_CREATED: &str = "2c7e9a1f4b6d48e3a5f0c8d2e1b3a7c9";
    /// ebs-grow added a volume to a filesystem or grew one in place.
    pub const VOLUME_GROWN: &str = "d3a1f5c7e9b24d6f8a0c2e4b6d8f0a1c";
    /// smilodon-attach holds a node's pair (volume and ENI) here.
    pub const PAIR_ATTACHED: &str = "5b9d1f3a7c2e4a6b8d0f2a4c6e8b0d3f";
    /// px-volume-claim holds a volume here (claimed, created or reused).
    pub const VOLUME_CLAIMED: &str = "a7c3e5b1d9f24b8a6c0e2d4f6a8c1e5b";
    /// etcd-member-prepare decided how this member starts.
    pub const ETCD_DECISION: &str = "4e6a8c0b2d1f43a5b7c9e1d3f5a7b9c2";
    /// ecs-node-guard asked the group to replace this instance.
    pub const INSTANCE_REPLACED: &str = "c1e3a5b7d9f04c2e6a8b0d2f4a6c8e0b";
}

/// This run's instance, once IMDS named it: a field of every journal entry
/// logged after that.
static INSTANCE_ID: OnceLock<String> = OnceLock::new();

/// Record the run's instance ID for the journal's `INSTANCE_ID` field.
pub fn set_instance_id(id: &str) {
    let _ = INSTANCE_ID.set(id.to_string());
}

struct StderrLogger {
    journal: bool,
    level: LevelFilter,
}

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = if self.journal {
            let priority = match record.level() {
                Level::Error => 3,
                Level::Warn => 4,
                Level::Info => 6,
                Level::Debug | Level::Trace => 7,
            };
            format!("<{priority}>{}\n", record.args())
        } else {
            match record.level() {
                Level::Error => format!("error: {}\n", record.args()),
                Level::Warn => format!("warning: {}\n", record.args()),
                _ => format!("{}\n", record.args()),
            }
        };
        // One write per line, so lines of concurrent runs do not interleave.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// The level for `-v`/`-q` counts: info by default, each `-v` one step
/// more verbose, each `-q` one step quieter.
pub fn level_for(verbose: u8, quiet: u8) -> LevelFilter {
    let steps = 3 + i16::from(verbose) - i16::from(quiet);
    match steps {
        i16::MIN..=0 => LevelFilter::Off,
        1 => LevelFilter::Error,
        2 => LevelFilter::Warn,
        3 => LevelFilter::Info,
        4 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    }
}

/// True when stderr is the journal stream systemd handed us: the
/// `JOURNAL_STREAM` variable names the device and inode of stderr (a child
/// that inherited the variable but not the stream must not use prefixes).
pub fn stderr_is_journal() -> bool {
    let Ok(value) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = value.split_once(':') else {
        return false;
    };
    let Ok(stat) = rustix::fs::fstat(std::io::stderr()) else {
        return false;
    };
    dev.parse::<u64>().ok() == Some(stat.st_dev) && ino.parse::<u64>().ok() == Some(stat.st_ino)
}

/// The journal's native protocol, with the run's fields; a line the
/// journal refuses (its socket gone) goes to stderr instead.
struct JournalLogger {
    journal: systemd_journal_logger::JournalLog,
    fallback: StderrLogger,
}

/// A record's own key-values, then the run's (INSTANCE_ID).
struct WithRunFields<'a>(&'a dyn Source);

impl Source for WithRunFields<'_> {
    fn visit<'kvs>(&'kvs self, visitor: &mut dyn VisitSource<'kvs>) -> Result<(), log::kv::Error> {
        self.0.visit(visitor)?;
        if let Some(id) = INSTANCE_ID.get() {
            visitor.visit_pair("INSTANCE_ID".into(), id.as_str().into())?;
        }
        Ok(())
    }
}

impl Log for JournalLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        self.fallback.enabled(metadata)
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let fields = WithRunFields(record.key_values());
        let with_fields = record.to_builder().key_values(&fields).build();
        if self.journal.journal_send(&with_fields).is_err() {
            self.fallback.log(record);
        }
    }

    fn flush(&self) {}
}

/// Install the logger once, in `main`: the journal's protocol with
/// `MOORING_TOOL=tool` when stderr is the journal, else stderr.
pub fn init(verbose: u8, quiet: u8, tool: &str) {
    let level = level_for(verbose, quiet);
    let journal = stderr_is_journal();
    let fallback = StderrLogger { journal, level };
    let logger: Box<dyn Log> = match journal
        .then(systemd_journal_logger::JournalLog::empty)
        .and_then(Result::ok)
    {
        Some(j) => Box::new(JournalLogger {
            journal: j
                .with_syslog_identifier(tool.to_string())
                .with_extra_fields([("MOORING_TOOL", tool)]),
            fallback,
        }),
        None => Box::new(fallback),
    };
    if log::set_boxed_logger(logger).is_ok() {
        log::set_max_level(level);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbosity_steps() {
        assert_eq!(level_for(0, 0), LevelFilter::Info);
        assert_eq!(level_for(1, 0), LevelFilter::Debug);
        assert_eq!(level_for(5, 0), LevelFilter::Trace);
        assert_eq!(level_for(0, 1), LevelFilter::Warn);
        assert_eq!(level_for(0, 9), LevelFilter::Off);
    }
}
