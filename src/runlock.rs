//! A run lock: two runs of the same job take turns on an flock.
//!
//! A run lock: two runs of the same job (a timer and an admin by hand)
//! serialise on an `flock` under the run directory. The kernel drops the
//! lock when the process dies, so a killed run never leaves it held.

use crate::wait::Deadline;
use anyhow::{Context, Result};
use rustix::fs::{flock, FlockOperation};
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// An exclusive lock, held until dropped.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    path: PathBuf,
}

impl RunLock {
    /// Take the lock at `path`, waiting for another holder until `deadline`.
    pub async fn acquire(path: &Path, deadline: &Deadline) -> Result<RunLock> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)
                .with_context(|| format!("cannot create lock directory {}", dir.display()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .with_context(|| format!("cannot open lock file {}", path.display()))?;
        let mut logged = false;
        deadline
            .poll(
                format!("lock {}", path.display()),
                Duration::from_millis(20),
                Duration::from_millis(250),
                || {
                    let got = match flock(&file, FlockOperation::NonBlockingLockExclusive) {
                        Ok(()) => Ok(Some(())),
                        Err(rustix::io::Errno::WOULDBLOCK) => {
                            if !logged {
                                log::info!("waiting for another run holding {}", path.display());
                                logged = true;
                            }
                            Ok(None)
                        }
                        Err(e) => Err(anyhow::Error::new(e)
                            .context(format!("cannot lock {}", path.display()))),
                    };
                    async move { got }
                },
            )
            .await?;
        Ok(RunLock {
            _file: file,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn second_holder_waits_then_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/x.lock");
        let first = RunLock::acquire(&path, &Deadline::after(Duration::from_secs(5)))
            .await
            .unwrap();
        let err = RunLock::acquire(&path, &Deadline::after(Duration::from_millis(100)))
            .await
            .unwrap_err();
        assert!(err.is::<crate::wait::TimedOut>(), "{err:#}");
        drop(first);
        RunLock::acquire(&path, &Deadline::after(Duration::from_secs(5)))
            .await
            .unwrap();
    }
}
