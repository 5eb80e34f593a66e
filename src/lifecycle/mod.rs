//! Whether the group is taking this instance away, and its hook.
//!
//! An Auto Scaling group tells an instance what it intends for it through
//! instance metadata: `autoscaling/target-lifecycle-state` reads
//! `InService`, `Standby`, `Detached`, `Warmed:*` or `Terminated`. Reading
//! it is an IMDS request, nothing else: the idle watch and every leave
//! step's "is this a termination or a reboot?" cost no AWS call. Only once
//! the answer is `Terminated` does [`hook`] ask Auto Scaling for the
//! group's termination hook, to heartbeat it and complete it.
//!
//! IMDS has no such path when the instance is in no group (or the
//! metadata is older than the feature): that is [`TargetState::Unknown`],
//! and callers treat it as "not leaving" — a reboot must never make a
//! member leave its cluster; `etcd-member-prepare tidy` removes a member
//! whose instance went away without leaving.

pub mod hook;

use crate::imds::Metadata;
use anyhow::Result;
use serde::Serialize;

/// The IMDS path of the group's intent for this instance.
pub const TARGET_STATE_PATH: &str = "/latest/meta-data/autoscaling/target-lifecycle-state";

/// What the group intends for this instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "detail", rename_all = "kebab-case")]
pub enum TargetState {
    InService,
    Standby,
    /// Out of the group, still running (DetachInstances).
    Detached,
    /// In a warm pool: `Warmed:Stopped`, `Warmed:Running`, ...
    Warmed(String),
    /// The group is terminating it (scale-in, refresh, rebalancing, an
    /// unhealthy instance, `Warmed:Terminated` from a warm pool).
    Terminated,
    /// A value this version does not know; not taken as leaving.
    Other(String),
    /// No such path: not in a group, or metadata without the feature.
    Unknown,
}

impl TargetState {
    /// IMDS's answer (`None`: 404).
    pub fn parse(answer: Option<&str>) -> TargetState {
        let Some(value) = answer.map(str::trim) else {
            return TargetState::Unknown;
        };
        match value {
            "InService" => TargetState::InService,
            "Standby" => TargetState::Standby,
            "Detached" => TargetState::Detached,
            "Terminated" | "Warmed:Terminated" => TargetState::Terminated,
            w if w.starts_with("Warmed:") => TargetState::Warmed(w["Warmed:".len()..].to_string()),
            "" => TargetState::Unknown,
            other => TargetState::Other(other.to_string()),
        }
    }

    /// The group is taking the instance away: run the leave steps.
    pub fn leaving(&self) -> bool {
        *self == TargetState::Terminated
    }

    pub fn as_str(&self) -> String {
        match self {
            TargetState::InService => "InService".into(),
            TargetState::Standby => "Standby".into(),
            TargetState::Detached => "Detached".into(),
            TargetState::Warmed(w) => format!("Warmed:{w}"),
            TargetState::Terminated => "Terminated".into(),
            TargetState::Other(o) => o.clone(),
            TargetState::Unknown => "unknown (no target lifecycle state in IMDS)".into(),
        }
    }
}

/// This instance's target lifecycle state: one IMDS request. An IMDS that
/// does not answer is an error (could not ask), never "in service".
pub async fn target_state(imds: &Metadata) -> Result<TargetState> {
    let answer = imds.get(TARGET_STATE_PATH).await?;
    Ok(TargetState::parse(answer.as_deref()))
}

/// When a leave step acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum When {
    /// Only when the group is terminating this instance (IMDS says
    /// `Terminated`): a reboot or a stop of the service leaves nothing.
    Leaving,
    /// Now, whatever the group intends (by hand).
    Always,
}

/// The flags of a leave step that takes a service's state away.
#[derive(Debug, Clone, clap::Args)]
pub struct StepArgs {
    /// leaving: only when the group terminates this instance (IMDS);
    /// always: now (by hand).
    #[arg(long, value_enum, default_value = "leaving")]
    pub when: When,

    /// Stop this unit first (repeatable): the service that uses what the
    /// step takes away.
    #[arg(long = "stop-unit", value_name = "UNIT")]
    pub stop_units: Vec<String>,
}

/// Whether a leave step run `when` acts, given the group's intent: the
/// pure half of [`gate`].
pub fn acts(when: When, state: &TargetState) -> bool {
    match when {
        When::Always => true,
        When::Leaving => state.leaving(),
    }
}

/// The gate every leave step passes first: `Ok(None)` when it acts, else
/// the reason it does nothing (logged by the caller, reported as
/// `staying`). With `Always`, IMDS is not asked.
pub async fn gate(when: When, endpoint: Option<&str>) -> Result<Option<TargetState>> {
    if when == When::Always {
        return Ok(None);
    }
    let imds = Metadata::new(endpoint)?;
    let state = target_state(&imds).await?;
    Ok((!acts(when, &state)).then_some(state))
}

/// Stop `units` (`systemctl stop`), for a leave step that must see its
/// service stopped before it takes the service's state away: at shutdown
/// the ordering has done it already and this returns at once; when the
/// group's hook waits, only this stops the service. `MOORING_SYSTEMCTL`
/// names another systemctl (`systemctl --user` in tests).
pub fn stop_units(units: &[String]) -> Result<()> {
    if units.is_empty() {
        return Ok(());
    }
    log::info!("stopping {} before the leave step", units.join(", "));
    let mut args = vec!["stop"];
    args.extend(units.iter().map(String::as_str));
    systemctl(&args)
}

/// `systemctl ARGS` (`MOORING_SYSTEMCTL` names another: `systemctl
/// --user` in tests), which must succeed.
pub fn systemctl(args: &[&str]) -> Result<()> {
    let systemctl = std::env::var("MOORING_SYSTEMCTL").unwrap_or_else(|_| "systemctl".into());
    let mut argv = systemctl.split_whitespace();
    let program = argv.next().unwrap_or("systemctl");
    let out = std::process::Command::new(program)
        .args(argv)
        .args(args)
        .output()
        .map_err(|e| anyhow::anyhow!("{program}: {e}"))?;
    if !out.status.success() {
        anyhow::bail!(
            "{systemctl} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imds_answers_read_as_the_groups_intent() {
        let table: &[(Option<&str>, TargetState, bool)] = &[
            (Some("InService"), TargetState::InService, false),
            (Some("InService\n"), TargetState::InService, false),
            (Some("Terminated"), TargetState::Terminated, true),
            (Some("Warmed:Terminated"), TargetState::Terminated, true),
            (
                Some("Warmed:Stopped"),
                TargetState::Warmed("Stopped".into()),
                false,
            ),
            (Some("Standby"), TargetState::Standby, false),
            (Some("Detached"), TargetState::Detached, false),
            (
                Some("Pending:Wait"),
                TargetState::Other("Pending:Wait".into()),
                false,
            ),
            (Some(""), TargetState::Unknown, false),
            (None, TargetState::Unknown, false),
        ];
        for (answer, state, leaving) in table {
            let got = TargetState::parse(*answer);
            assert_eq!(&got, state, "{answer:?}");
            assert_eq!(got.leaving(), *leaving, "{answer:?}");
        }
    }

    #[test]
    fn a_leave_step_acts_only_on_termination_unless_told() {
        use TargetState::*;
        for state in [InService, Standby, Detached, Unknown, Other("x".into())] {
            assert!(!acts(When::Leaving, &state), "{state:?}");
            assert!(acts(When::Always, &state), "{state:?}");
        }
        assert!(acts(When::Leaving, &Terminated));
    }
}
