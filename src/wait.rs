//! Deadlines: every wait is bounded, and running out is exit 4.
//!
//! Deadlines. Every wait in Mooring is bounded by a deadline shorter than
//! the unit's `TimeoutStartSec`; running out is a typed error that maps to
//! exit code 4.

use std::future::Future;
use std::time::{Duration, Instant};

pub use crate::exit::TimedOut;

/// A point in time by which a run must be done.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    start: Instant,
    end: Instant,
}

impl Deadline {
    pub fn after(budget: Duration) -> Self {
        let start = Instant::now();
        Deadline {
            start,
            end: start + budget,
        }
    }

    /// The whole budget the deadline was given.
    pub fn budget(&self) -> Duration {
        self.end - self.start
    }

    pub fn remaining(&self) -> Duration {
        self.end.saturating_duration_since(Instant::now())
    }

    pub fn expired(&self) -> bool {
        self.remaining().is_zero()
    }

    /// A deadline that ends no later than this one nor after `budget`.
    pub fn sub(&self, budget: Duration) -> Deadline {
        let now = Instant::now();
        Deadline {
            start: now,
            end: self.end.min(now + budget),
        }
    }

    pub fn timed_out(&self, what: impl Into<String>) -> TimedOut {
        TimedOut {
            what: what.into(),
            waited: self.start.elapsed(),
        }
    }

    /// Run `fut` to completion or fail with [`TimedOut`] at the deadline.
    pub async fn run<T>(
        &self,
        what: impl Into<String>,
        fut: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        match tokio::time::timeout(self.remaining(), fut).await {
            Ok(result) => result,
            Err(_) => Err(self.timed_out(what).into()),
        }
    }

    /// Poll `probe` until it yields a value, with a growing pause between
    /// probes (`first`, doubling up to `max`), until the deadline.
    pub async fn poll<T, F, Fut>(
        &self,
        what: impl Into<String>,
        first: Duration,
        max: Duration,
        mut probe: F,
    ) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = anyhow::Result<Option<T>>>,
    {
        let mut pause = first;
        loop {
            if let Some(value) = probe().await? {
                return Ok(value);
            }
            let left = self.remaining();
            if left.is_zero() {
                return Err(self.timed_out(what).into());
            }
            tokio::time::sleep(pause.min(left)).await;
            pause = (pause * 2).min(max);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn poll_returns_value_once_ready() {
        let deadline = Deadline::after(Duration::from_secs(5));
        let mut n = 0;
        let got = deadline
            .poll(
                "n to reach 3",
                Duration::from_millis(1),
                Duration::from_millis(2),
                || {
                    n += 1;
                    let v = n;
                    async move { Ok((v >= 3).then_some(v)) }
                },
            )
            .await
            .unwrap();
        assert_eq!(got, 3);
    }

    #[tokio::test]
    async fn poll_times_out_with_typed_error() {
        let deadline = Deadline::after(Duration::from_millis(30));
        let err = deadline
            .poll(
                "never",
                Duration::from_millis(5),
                Duration::from_millis(10),
                || async { Ok(None::<()>) },
            )
            .await
            .unwrap_err();
        assert!(err.is::<TimedOut>(), "{err:#}");
        assert!(format!("{err:#}").contains("waiting for never"));
        assert_eq!(crate::exit::code_for(&err), crate::exit::Code::TimedOut);
    }

    #[test]
    fn sub_deadline_never_outlives_parent() {
        let parent = Deadline::after(Duration::from_millis(100));
        let child = parent.sub(Duration::from_secs(100));
        assert!(child.remaining() <= Duration::from_millis(100));
    }
}
