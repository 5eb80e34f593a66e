//! Logging to stderr, the way journald wants it.
//!
//! Logging to stderr, the way journald wants it: no colours, no timestamps
//! (journald adds them), and `<N>` syslog priority prefixes when
//! `JOURNAL_STREAM` says stderr is connected to the journal.

use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::Write;

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

/// Install the logger once, in `main`.
pub fn init(verbose: u8, quiet: u8) {
    let level = level_for(verbose, quiet);
    let logger = StderrLogger {
        journal: stderr_is_journal(),
        level,
    };
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
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
