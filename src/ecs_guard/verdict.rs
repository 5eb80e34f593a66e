//! ecs-node-guard's check policy: healthy, failing or replace.
//!
//! The check's policy: from what was observed on the host and what the
//! last checks left, is it healthy, failing, or due for replacement.
//!
//! Pure: no I/O, so every branch has a table test. Only observations reach
//! it — a probe that could not ask (a wrong URL, a missing docker root)
//! fails the run before [`decide`] is called.

use super::health::{AgentProbe, DiskUse, State};
use serde::Serialize;

/// The limits a check holds the host to.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_disk_percent: f64,
    pub max_inode_percent: f64,
    /// Seconds after the first check of this boot the agent may take to
    /// register.
    pub registration_grace: u64,
    /// Consecutive failed checks before acting.
    pub failures: u32,
}

/// What one check observed.
#[derive(Debug, Clone)]
pub struct Facts {
    /// Unix seconds.
    pub now: u64,
    /// The docker root, for the messages.
    pub docker_root: String,
    pub disk: DiskUse,
    pub agent: AgentProbe,
}

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// No problem: no AWS call.
    Healthy,
    /// A problem, seen fewer than N checks in a row.
    Failing,
    /// Broken for N checks: ask the group to replace this instance (unless
    /// the circuit breaker holds).
    Replace,
    /// The group was asked already, this boot.
    AlreadyRequested,
}

/// The decision, and the state to keep for the next check.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub verdict: Verdict,
    pub problems: Vec<String>,
    /// Why a problem is not one yet (the registration grace).
    pub note: Option<String>,
    pub state: State,
}

/// The problems `facts` show, judged by `limits`, on a boot whose first
/// check ran at `first_check`; and a note while the grace holds.
fn problems(facts: &Facts, first_check: u64, limits: &Limits) -> (Vec<String>, Option<String>) {
    let mut problems = Vec::new();
    let root = &facts.docker_root;
    if facts.disk.bytes_percent > limits.max_disk_percent {
        problems.push(format!(
            "{root} is {:.1}% full (limit {}%)",
            facts.disk.bytes_percent, limits.max_disk_percent
        ));
    }
    if facts.disk.inodes_percent > limits.max_inode_percent {
        problems.push(format!(
            "{root} has {:.1}% of its inodes used (limit {}%)",
            facts.disk.inodes_percent, limits.max_inode_percent
        ));
    }
    let mut note = None;
    if !facts.agent.registered() {
        let waited = facts.now.saturating_sub(first_check);
        let why = match &facts.agent {
            AgentProbe::Answered(_) => "the ECS agent has no container instance yet".to_string(),
            AgentProbe::Down(why) => why.clone(),
        };
        if waited >= limits.registration_grace {
            problems.push(format!(
                "not registered {waited} s after the first check of this boot: {why}"
            ));
        } else {
            note = Some(format!(
                "not registered yet ({why}); {} s of grace left",
                limits.registration_grace - waited
            ));
        }
    }
    (problems, note)
}

/// One check's decision. `prior` is what the last check of this boot
/// left (`None` on the first).
pub fn decide(facts: &Facts, prior: Option<&State>, limits: &Limits) -> Decision {
    let mut state = prior.cloned().unwrap_or_else(|| State::fresh(facts.now));
    let (problems, note) = problems(facts, state.first_check, limits);
    let verdict = if problems.is_empty() {
        state.failures = 0;
        state.last_failure = None;
        Verdict::Healthy
    } else {
        state.failures = state.failures.saturating_add(1);
        state.last_failure = Some(problems.join("; "));
        if state.replacement_requested {
            Verdict::AlreadyRequested
        } else if state.failures < limits.failures {
            Verdict::Failing
        } else {
            Verdict::Replace
        }
    };
    Decision {
        verdict,
        problems,
        note,
        state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecs_guard::health::AgentMetadata;

    const LIMITS: Limits = Limits {
        max_disk_percent: 90.0,
        max_inode_percent: 90.0,
        registration_grace: 600,
        failures: 3,
    };

    fn registered() -> AgentProbe {
        AgentProbe::Answered(AgentMetadata {
            cluster: Some("prod".into()),
            container_instance_arn: Some("arn:ci".into()),
        })
    }

    fn unregistered() -> AgentProbe {
        AgentProbe::Answered(AgentMetadata {
            cluster: Some("prod".into()),
            container_instance_arn: None,
        })
    }

    fn facts(now: u64, bytes: f64, inodes: f64, agent: AgentProbe) -> Facts {
        Facts {
            now,
            docker_root: "/var/lib/docker".into(),
            disk: DiskUse {
                bytes_percent: bytes,
                inodes_percent: inodes,
            },
            agent,
        }
    }

    fn state(first_check: u64, failures: u32, requested: bool) -> State {
        State {
            first_check,
            failures,
            last_failure: (failures > 0).then(|| "before".to_string()),
            replacement_requested: requested,
        }
    }

    #[test]
    fn every_branch() {
        let down = || AgentProbe::Down("refused".into());
        // (facts, prior state, verdict, failures after, problems)
        let table: Vec<(Facts, Option<State>, Verdict, u32, usize)> = vec![
            // First check of a boot, all fine.
            (
                facts(1000, 10.0, 10.0, registered()),
                None,
                Verdict::Healthy,
                0,
                0,
            ),
            // Healthy again after failures: the count resets.
            (
                facts(1000, 10.0, 10.0, registered()),
                Some(state(0, 2, false)),
                Verdict::Healthy,
                0,
                0,
            ),
            // Full bytes, full inodes: each a problem; counted.
            (
                facts(1000, 95.0, 10.0, registered()),
                None,
                Verdict::Failing,
                1,
                1,
            ),
            (
                facts(1000, 95.0, 95.0, registered()),
                Some(state(0, 1, false)),
                Verdict::Failing,
                2,
                2,
            ),
            // The N-th failure in a row: replace.
            (
                facts(1000, 95.0, 10.0, registered()),
                Some(state(0, 2, false)),
                Verdict::Replace,
                3,
                1,
            ),
            // Asked already this boot: no second request.
            (
                facts(1000, 95.0, 10.0, registered()),
                Some(state(0, 5, true)),
                Verdict::AlreadyRequested,
                6,
                1,
            ),
            // Not registered within the grace: a note, no problem.
            (
                facts(1100, 10.0, 10.0, unregistered()),
                Some(state(1000, 0, false)),
                Verdict::Healthy,
                0,
                0,
            ),
            (
                facts(1100, 10.0, 10.0, down()),
                Some(state(1000, 0, false)),
                Verdict::Healthy,
                0,
                0,
            ),
            // Beyond the grace: a problem, whether the agent answers
            // unregistered or does not answer at all.
            (
                facts(1700, 10.0, 10.0, unregistered()),
                Some(state(1000, 0, false)),
                Verdict::Failing,
                1,
                1,
            ),
            (
                facts(1700, 10.0, 10.0, down()),
                Some(state(1000, 2, false)),
                Verdict::Replace,
                3,
                1,
            ),
        ];
        for (i, (f, prior, verdict, failures, n)) in table.into_iter().enumerate() {
            let d = decide(&f, prior.as_ref(), &LIMITS);
            assert_eq!(d.verdict, verdict, "row {i}: {d:?}");
            assert_eq!(d.state.failures, failures, "row {i}");
            assert_eq!(d.problems.len(), n, "row {i}: {:?}", d.problems);
            assert_eq!(d.state.last_failure.is_some(), n > 0, "row {i}");
        }
    }

    #[test]
    fn the_grace_runs_from_the_first_check_of_the_boot() {
        let d = decide(&facts(5000, 10.0, 10.0, unregistered()), None, &LIMITS);
        assert_eq!(d.state.first_check, 5000);
        assert!(d.note.unwrap().contains("600 s of grace left"));
        let later = decide(
            &facts(5601, 10.0, 10.0, unregistered()),
            Some(&d.state),
            &LIMITS,
        );
        assert_eq!(later.verdict, Verdict::Failing);
        assert!(later.problems[0].contains("not registered 601 s"));
    }

    #[test]
    fn messages_name_the_docker_root_and_the_limit() {
        let d = decide(&facts(0, 95.5, 91.0, registered()), None, &LIMITS);
        assert_eq!(d.problems[0], "/var/lib/docker is 95.5% full (limit 90%)");
        assert_eq!(
            d.problems[1],
            "/var/lib/docker has 91.0% of its inodes used (limit 90%)"
        );
    }
}
