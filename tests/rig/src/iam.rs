//! Least privilege, proven: each tool's policy is enough, and no more.
//!
//! Least privilege, proven against the rig's IAM (moto's enforcement of
//! the actions, the rig's evaluation of resources and conditions): a
//! tool's whole happy path passes with its policy
//! (packaging/iam/<tool>.json) as the instances' only permissions, and
//! fails — refused on that very action, with the documented exit code —
//! with each action taken out of each statement in turn.

use serde_json::Value;
use std::process::Output;

/// A tool's shipped policy.
pub fn policy(tool: &str) -> Value {
    let path = crate::repo_root().join(format!("packaging/iam/{tool}.json"));
    serde_json::from_slice(&std::fs::read(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn statement_actions(st: &Value) -> Vec<String> {
    match &st["Action"] {
        Value::String(a) => vec![a.clone()],
        Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
        other => panic!("a statement without Action: {other}"),
    }
}

/// Every (statement index, action) grant of the policy.
pub fn grants(policy: &Value) -> Vec<(usize, String)> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .flat_map(|(i, st)| statement_actions(st).into_iter().map(move |a| (i, a)))
        .collect()
}

/// `policy` with `action` taken out of statement `index` (dropped if it
/// grants nothing else).
pub fn without(policy: &Value, index: usize, action: &str) -> Value {
    let mut out = policy.clone();
    let statements = out["Statement"].as_array_mut().unwrap();
    let kept: Vec<String> = statement_actions(&statements[index])
        .into_iter()
        .filter(|a| a != action)
        .collect();
    if kept.is_empty() {
        statements.remove(index);
    } else {
        statements[index]["Action"] = Value::from(kept);
    }
    out
}

/// A scenario's failing run, as the harness judges it.
pub fn refusal(out: &Output) -> String {
    format!(
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Run `scenario` (a tool's happy path on a fresh rig restricted to the
/// policy it is given; Err with [`refusal`] of the first failing run) with
/// `policy` — it must pass — and with each action removed from each
/// statement — each must be refused on that action with exit 3 (a grant
/// that no run needs is surplus). Several at a time: each has its own rig.
pub fn prove_least_privilege<F>(tool: &str, scenario: F)
where
    F: Fn(&Value) -> Result<(), String> + Sync,
{
    let policy = policy(tool);
    if let Err(e) = scenario(&policy) {
        panic!("{tool}'s happy path fails with its own policy: {e}");
    }
    let grants = grants(&policy);
    let next = std::sync::Mutex::new(grants.iter());
    let problems = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| loop {
                let Some((index, action)) = next.lock().unwrap().next() else {
                    break;
                };
                let sid = policy["Statement"][*index]["Sid"].as_str().unwrap_or("?");
                let problem = match scenario(&without(&policy, *index, action)) {
                    Ok(()) => Some(format!(
                        "{action} in {sid}: not needed (the happy path passes without it)"
                    )),
                    Err(e) if !e.starts_with("exit Some(3)") || !e.contains(action.as_str()) => {
                        Some(format!(
                            "{action} in {sid}: refused otherwise than on it: {e}"
                        ))
                    }
                    Err(_) => None,
                };
                if let Some(p) = problem {
                    problems.lock().unwrap().push(p);
                }
            });
        }
    });
    let problems = problems.into_inner().unwrap();
    assert!(
        problems.is_empty(),
        "{tool}'s policy is not least privilege:\n{}",
        problems.join("\n")
    );
    eprintln!(
        "{tool}: happy path passes with its policy; each of {} grants removed is refused",
        grants.len()
    );
}
