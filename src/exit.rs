//! Every typed error of the tools and the exit code each one means.
//!
//! Exit codes are policy: units list the ones a retry cannot fix in
//! `RestartPreventExitStatus=`, and the README documents every one.
//! Library code raises the typed errors declared here; `main` maps the
//! first typed error found in the chain to a code with [`code_for`]. This
//! module is a leaf: it names no other module of the crate, and the
//! constructors that know the SDKs live beside their callers
//! (`AwsError::new` in `aws`, the IMDS errors in `imds`).

use std::fmt;
use std::time::Duration;

/// The documented exit codes of every Mooring tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Code {
    /// The work is done, or there was nothing to do.
    Ok = 0,
    /// An unexpected failure (a command failed, a file could not be written).
    /// A retry may help.
    Failure = 1,
    /// Bad input: flags, configuration file, tags or user-data. A retry
    /// cannot help until an admin changes it.
    BadInput = 2,
    /// AWS refused a request (after the SDK's retries): permissions, limits,
    /// invalid parameters, or an answer that makes no sense.
    AwsRefused = 3,
    /// A bounded wait ran out (attachment, device, lock, peers).
    TimedOut = 4,
    /// The tool refused to act because acting could destroy data (a device
    /// that is not blank, a duplicate filesystem UUID).
    Unsafe = 5,
    /// No capacity: nothing free to claim and the policy says fail.
    NoCapacity = 6,
    /// Not on EC2, or the instance metadata service does not answer.
    NoMetadata = 7,
    /// Idle: nothing free to claim and the policy says idle (a spare
    /// instance). Not an error; the run changed nothing.
    Idle = 8,
}

impl Code {
    pub fn as_i32(self) -> i32 {
        self as u8 as i32
    }

    /// The code's name in JSON failures.
    pub fn kind(self) -> &'static str {
        match self {
            Code::Ok => "ok",
            Code::Failure => "failure",
            Code::BadInput => "bad-input",
            Code::AwsRefused => "aws-refused",
            Code::TimedOut => "timed-out",
            Code::Unsafe => "unsafe",
            Code::NoCapacity => "no-capacity",
            Code::NoMetadata => "no-metadata",
            Code::Idle => "idle",
        }
    }

    /// Every code with its meaning, as the README table lists them.
    pub const ALL: [(Code, &'static str); 9] = [
        (Code::Ok, "done, or nothing to do"),
        (Code::Failure, "unexpected failure; a retry may help"),
        (Code::BadInput, "bad flags, config, tags or user-data"),
        (Code::AwsRefused, "AWS refused a request"),
        (Code::TimedOut, "a bounded wait ran out"),
        (Code::Unsafe, "refused: acting could destroy data"),
        (Code::NoCapacity, "nothing free to claim (policy: fail)"),
        (Code::NoMetadata, "instance metadata (IMDSv2) unreachable"),
        (Code::Idle, "nothing free to claim (policy: idle); a spare"),
    ];
}

impl From<()> for Code {
    /// A run that returns nothing succeeded.
    fn from((): ()) -> Code {
        Code::Ok
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_i32())
    }
}

/// Bad input from the user: flags, config, tags, user-data.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// A refusal to act because acting could destroy data.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unsafe(pub String);

/// No capacity to claim, and the caller's policy makes that a failure.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NoCapacity(pub String);

/// A bounded wait ran out.
#[derive(Debug, thiserror::Error)]
#[error("timed out after {waited:.1?} waiting for {what}")]
pub struct TimedOut {
    pub what: String,
    pub waited: Duration,
}

/// An AWS call failed after the SDK's retries. Names the call and what it
/// was about; `code` lets callers branch (`VolumeInUse`, ...).
#[derive(Debug, thiserror::Error)]
#[error("{operation} {subject}: {detail}")]
pub struct AwsError {
    pub operation: &'static str,
    pub subject: String,
    pub code: Option<String>,
    pub detail: String,
}

impl AwsError {
    pub fn code_is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

/// The instance metadata service could not be reached or answered nonsense
/// for a path every instance has.
#[derive(Debug, thiserror::Error)]
#[error("instance metadata (IMDSv2) at {endpoint} unavailable: {detail}")]
pub struct ImdsUnavailable {
    pub endpoint: String,
    pub detail: String,
    /// Nothing answered (no connection, a timeout): early in a boot the
    /// network may not carry IMDS yet, and asking again can help.
    pub unreachable: bool,
}

/// Shorthand for returning a [`BadInput`] error.
pub fn bad_input(msg: impl Into<String>) -> anyhow::Error {
    BadInput(msg.into()).into()
}

/// The exit code for an error: the first typed error in its chain decides.
pub fn code_for(err: &anyhow::Error) -> Code {
    for cause in err.chain() {
        if cause.is::<BadInput>() {
            return Code::BadInput;
        }
        if cause.is::<Unsafe>() {
            return Code::Unsafe;
        }
        if cause.is::<NoCapacity>() {
            return Code::NoCapacity;
        }
        if cause.is::<TimedOut>() {
            return Code::TimedOut;
        }
        if cause.is::<ImdsUnavailable>() {
            return Code::NoMetadata;
        }
        if cause.is::<AwsError>() {
            return Code::AwsRefused;
        }
    }
    Code::Failure
}

/// Whether asking again later can help: IMDS not answering yet, AWS
/// answering 5xx or throttling past the SDK's retries, a connection that
/// failed. Refusals (permissions, bad parameters), bad input and refusals
/// to touch data are not.
pub fn is_transient(err: &anyhow::Error) -> bool {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<ImdsUnavailable>() {
            return e.unreachable;
        }
        if let Some(e) = cause.downcast_ref::<AwsError>() {
            return match e.code.as_deref() {
                None => true,
                Some(code) => matches!(
                    code,
                    "InternalError"
                        | "InternalFailure"
                        | "ServiceUnavailable"
                        | "Unavailable"
                        | "RequestLimitExceeded"
                        | "Throttling"
                        | "ThrottlingException"
                ),
            };
        }
        if cause.is::<BadInput>() || cause.is::<Unsafe>() || cause.is::<NoCapacity>() {
            return false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn typed_error_deep_in_chain_decides() {
        let err = Err::<(), _>(BadInput("tag Foo is empty".into()))
            .context("reading tags")
            .context("preparing")
            .unwrap_err();
        assert_eq!(code_for(&err), Code::BadInput);
        assert_eq!(
            format!("{err:#}"),
            "preparing: reading tags: tag Foo is empty"
        );
    }

    #[test]
    fn untyped_error_is_failure() {
        let err = anyhow::anyhow!("disk on fire");
        assert_eq!(code_for(&err), Code::Failure);
    }

    #[test]
    fn codes_are_distinct() {
        let mut seen: Vec<i32> = Code::ALL.iter().map(|(c, _)| c.as_i32()).collect();
        seen.dedup();
        assert_eq!(seen.len(), Code::ALL.len());
    }
}
