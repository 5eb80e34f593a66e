//! One look at the group's intent; the leave when it says Terminated.
//!
//! Facts: the target lifecycle state (one IMDS request) and this boot's
//! record of an earlier leave (`<run-dir>/leave.json`). [`decide`] says
//! stay, already left, or leave. Only a leave asks Auto Scaling anything:
//! the group and its termination hook, heartbeats while the steps run,
//! and one CompleteLifecycleAction at the end — after the steps, or when
//! the budget (`--timeout`, less a margin to complete in) runs out, since
//! the group terminates the instance anyway once its hook times out.
//!
//! Killed at any point and run again (the timer does), it runs the steps
//! again — each step is idempotent — and completes once: an action that
//! no longer waits is a success.

use super::WatchArgs;
use crate::aws::Session;
use crate::cli::{CommonArgs, Report};
use crate::lifecycle::hook::{self, Completed, Leaving};
use crate::lifecycle::{self, TargetState};
use crate::wait::Deadline;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What this boot recorded of a leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// The steps started; not completed yet.
    Running,
    /// The lifecycle action is completed (or nothing waited).
    Completed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// The group keeps this instance: nothing to do, no AWS call.
    Stay,
    /// This boot completed the leave already.
    AlreadyLeft,
    /// Run the steps, complete the action.
    Leave,
}

/// The policy: leave when the group terminates this instance (or by hand),
/// once per boot.
pub fn decide(state: &TargetState, now: bool, recorded: Option<Phase>) -> Decision {
    if !state.leaving() && !now {
        return Decision::Stay;
    }
    match recorded {
        Some(Phase::Completed) => Decision::AlreadyLeft,
        _ => Decision::Leave,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StepsOutcome {
    pub command: Vec<String>,
    /// `None` when killed at the end of the budget.
    pub exit_code: Option<i32>,
    pub seconds: f64,
    pub heartbeats: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct WatchReport {
    pub target_state: String,
    pub decision: Decision,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<StepsOutcome>,
    /// now, already; absent: no hook (or a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed: Option<Completed>,
    pub dry_run: bool,
}

impl Report for WatchReport {
    fn text(&self) -> String {
        let mut lines = vec![format!(
            "target lifecycle state: {}; decision: {}",
            self.target_state,
            serde_json::to_value(&self.decision)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        )];
        if let Some(s) = &self.steps {
            lines.push(format!(
                "steps `{}`: {} after {:.1} s ({} heartbeats)",
                s.command.join(" "),
                s.exit_code
                    .map(|c| format!("exit {c}"))
                    .unwrap_or_else(|| "killed at the end of the budget".into()),
                s.seconds,
                s.heartbeats
            ));
        }
        match (&self.hook, self.completed) {
            (Some(h), Some(c)) => {
                lines.push(format!("lifecycle action of hook {h}: completed ({c:?})"))
            }
            (None, _) if self.decision == Decision::Leave && !self.dry_run => {
                lines.push("no termination hook: nothing to complete".into())
            }
            _ => {}
        }
        lines.join("\n")
    }
}

fn record_path(common: &CommonArgs) -> PathBuf {
    common.run_dir.join("leave.json")
}

fn recorded(path: &Path) -> Option<Phase> {
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    serde_json::from_value(v.get("phase")?.clone()).ok()
}

fn record(path: &Path, phase: Phase) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let body = serde_json::json!({"phase": phase, "at": at});
    crate::fsutil::atomic_write(path, body.to_string().as_bytes(), 0o644)
}

pub async fn watch(common: &CommonArgs, args: &WatchArgs) -> Result<WatchReport> {
    let deadline = Deadline::after(common.timeout());
    let imds = crate::imds::Metadata::new(None)?;
    let state = deadline
        .run("the target lifecycle state", lifecycle::target_state(&imds))
        .await?;
    let path = record_path(common);
    let decision = decide(&state, args.now, recorded(&path));
    let mut report = WatchReport {
        target_state: state.as_str(),
        decision: decision.clone(),
        group: None,
        hook: None,
        steps: None,
        completed: None,
        dry_run: common.dry_run,
    };
    match decision {
        Decision::Stay => log::debug!("the group keeps this instance ({})", state.as_str()),
        Decision::AlreadyLeft => log::info!("this instance completed its leave already"),
        Decision::Leave if common.dry_run => {
            log::info!(
                "would run `{}` and complete the lifecycle action",
                args.steps().join(" ")
            )
        }
        Decision::Leave => leave(common, args, &deadline, &path, &mut report).await?,
    }
    Ok(report)
}

/// Time kept back from the budget to complete the action in.
fn completion_margin(budget: Duration) -> Duration {
    (budget / 4).min(Duration::from_secs(15))
}

async fn leave(
    common: &CommonArgs,
    args: &WatchArgs,
    deadline: &Deadline,
    path: &Path,
    report: &mut WatchReport,
) -> Result<()> {
    log::info!("the group is terminating this instance: running the leave steps");
    let session = Session::within(common.region.clone(), deadline).await?;
    let asg = aws_sdk_autoscaling::Client::new(&session.aws.sdk_config);
    // IMDS said Terminated: that observation starts the steps even when
    // Auto Scaling cannot be asked; completing then fails loudly, and the
    // hook's timeout ends the wait.
    let mut trouble = None;
    let leaving = match hook::find(&asg, session.instance_id()).await {
        Ok(l) => l,
        Err(e) => {
            log::error!("{e:#}; running the leave steps without the hook");
            trouble = Some(e);
            None
        }
    };
    if let Some(l) = &leaving {
        report.group = Some(l.group.clone());
        report.hook = l.hook.as_ref().map(|h| h.name.clone());
        log::info!(
            "{} in group {} is {}{}",
            l.instance_id,
            l.group,
            l.lifecycle_state,
            l.hook
                .as_ref()
                .map(|h| format!(
                    " (hook {}, heartbeat timeout {} s)",
                    h.name,
                    h.heartbeat_timeout.as_secs()
                ))
                .unwrap_or_else(|| " (no termination hook)".into())
        );
    }
    record(path, Phase::Running)?;
    let budget = deadline.remaining();
    let steps_deadline = deadline.sub(budget.saturating_sub(completion_margin(budget)));
    let (steps, refused) =
        run_steps(&args.steps(), &asg, leaving.as_ref(), &steps_deadline).await?;
    report.steps = Some(steps);
    trouble = trouble.or(refused);
    if let Some(l) = &leaving {
        if let Some(h) = &l.hook {
            let done = hook::complete(&asg, l, h).await?;
            log::info!(
                "lifecycle action of {} completed{}",
                l.instance_id,
                if done == Completed::Already {
                    " already (by an earlier run or the hook's timeout)"
                } else {
                    ""
                }
            );
            report.completed = Some(done);
        }
    }
    record(path, Phase::Completed)?;
    // The leave went on; a refused look or heartbeat still fails the run,
    // so that a missing permission shows (exit 3) before the next leave.
    match trouble {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Run the steps until they exit or `deadline`, heartbeating the hook;
/// the first heartbeat that failed, if one did.
async fn run_steps(
    command: &[String],
    asg: &aws_sdk_autoscaling::Client,
    leaving: Option<&Leaving>,
    deadline: &Deadline,
) -> Result<(StepsOutcome, Option<anyhow::Error>)> {
    let started = Instant::now();
    // The steps' output goes to the journal with ours: stdout is data.
    let stderr = std::io::stderr();
    let out = std::os::fd::AsFd::as_fd(&stderr).try_clone_to_owned()?;
    let mut steps = tokio::process::Command::new(&command[0]);
    // The steps end with this run, also when it is killed: a rerun starts
    // them again, and none must go on unwatched.
    // SAFETY: the closure only makes one async-signal-safe system call.
    unsafe {
        steps.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::TERM))
                .map_err(std::io::Error::from)
        });
    }
    let mut child = steps
        .args(&command[1..])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::from(out))
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting the leave steps `{}`", command.join(" ")))?;
    let hooked = leaving.and_then(|l| l.hook.as_ref().map(|h| (l, h)));
    let every = hooked
        .map(|(_, h)| hook::heartbeat_every(h))
        .unwrap_or(Duration::from_secs(3600));
    let mut heartbeats = 0;
    let mut refused = None;
    let mut next_beat = Instant::now() + every;
    let exit_code = loop {
        let until_beat = next_beat.saturating_duration_since(Instant::now());
        let left = deadline.remaining();
        tokio::select! {
            status = child.wait() => break status?.code(),
            _ = tokio::time::sleep(until_beat), if hooked.is_some() => {
                let (l, h) = hooked.expect("checked");
                match hook::heartbeat(asg, l, h).await {
                    Ok(true) => heartbeats += 1,
                    Ok(false) => log::warn!("the lifecycle action of {} no longer waits (its hook timed out?)", l.instance_id),
                    Err(e) => {
                        log::error!("{e:#}");
                        refused.get_or_insert(e);
                    }
                }
                next_beat = Instant::now() + every;
            }
            _ = tokio::time::sleep(left) => {
                log::error!(
                    "the leave steps `{}` did not finish within the budget; completing the lifecycle action anyway",
                    command.join(" ")
                );
                let _ = child.start_kill();
                let _ = child.wait().await;
                break None;
            }
        }
    };
    if let Some(code) = exit_code.filter(|c| *c != 0) {
        log::error!(
            "the leave steps `{}` failed (exit {code})",
            command.join(" ")
        );
    }
    let outcome = StepsOutcome {
        command: command.to_vec(),
        exit_code,
        seconds: started.elapsed().as_secs_f64(),
        heartbeats,
    };
    Ok((outcome, refused))
}

/// `complete`: complete the action if one waits for this instance.
pub async fn complete_only(common: &CommonArgs) -> Result<WatchReport> {
    let deadline = Deadline::after(common.timeout());
    let session = Session::within(common.region.clone(), &deadline).await?;
    let asg = aws_sdk_autoscaling::Client::new(&session.aws.sdk_config);
    let leaving = hook::find(&asg, session.instance_id()).await?;
    let mut report = WatchReport {
        target_state: String::new(),
        decision: Decision::Leave,
        group: leaving.as_ref().map(|l| l.group.clone()),
        hook: leaving
            .as_ref()
            .and_then(|l| l.hook.as_ref().map(|h| h.name.clone())),
        steps: None,
        completed: None,
        dry_run: common.dry_run,
    };
    if let Some(l) = &leaving {
        report.target_state = l.lifecycle_state.clone();
        if let (Some(h), false) = (&l.hook, common.dry_run) {
            report.completed = Some(hook::complete(&asg, l, h).await?);
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use TargetState::*;

    #[test]
    fn leave_once_per_boot_and_only_when_terminated() {
        let table: &[(TargetState, bool, Option<Phase>, Decision)] = &[
            (InService, false, None, Decision::Stay),
            (Unknown, false, None, Decision::Stay),
            (Standby, false, None, Decision::Stay),
            (Warmed("Stopped".into()), false, None, Decision::Stay),
            (Terminated, false, None, Decision::Leave),
            // Killed during the steps: run them again (each is idempotent).
            (Terminated, false, Some(Phase::Running), Decision::Leave),
            (
                Terminated,
                false,
                Some(Phase::Completed),
                Decision::AlreadyLeft,
            ),
            (InService, true, None, Decision::Leave),
            // A record of a leave by hand does not matter while staying.
            (InService, false, Some(Phase::Completed), Decision::Stay),
        ];
        for (state, now, rec, want) in table {
            assert_eq!(
                &decide(state, *now, *rec),
                want,
                "{state:?} now={now} {rec:?}"
            );
        }
    }

    #[test]
    fn the_completion_keeps_a_margin() {
        assert_eq!(
            completion_margin(Duration::from_secs(600)),
            Duration::from_secs(15)
        );
        assert_eq!(
            completion_margin(Duration::from_secs(20)),
            Duration::from_secs(5)
        );
    }
}
