//! Least privilege, proven against moto's IAM enforcement: a tool's whole
//! happy path passes with its policy (packaging/iam/<tool>.json) as the
//! instances' only permissions, and fails — refused on that very action,
//! with the documented exit code — with each action taken out in turn.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

/// A tool's shipped policy.
pub fn policy(tool: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("packaging/iam/{tool}.json"));
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

/// Every action the policy grants, once each.
pub fn actions(policy: &Value) -> BTreeSet<String> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(statement_actions)
        .collect()
}

/// `policy` with `action` taken out of every statement (a statement left
/// with none is dropped).
pub fn without(policy: &Value, action: &str) -> Value {
    let mut out = policy.clone();
    let statements: Vec<Value> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|st| {
            let kept: Vec<String> = statement_actions(st)
                .into_iter()
                .filter(|a| a != action)
                .collect();
            if kept.is_empty() {
                return None;
            }
            let mut st = st.clone();
            st["Action"] = Value::from(kept);
            Some(st)
        })
        .collect();
    out["Statement"] = Value::from(statements);
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
/// `policy` — it must pass — and with each action removed — each must be
/// refused on that action with exit 3. Several at a time: each has its
/// own rig.
pub fn prove_least_privilege<F>(tool: &str, scenario: F)
where
    F: Fn(&Value) -> Result<(), String> + Sync,
{
    let policy = policy(tool);
    if let Err(e) = scenario(&policy) {
        panic!("{tool}'s happy path fails with its own policy: {e}");
    }
    let actions: Vec<String> = actions(&policy).into_iter().collect();
    let next = std::sync::Mutex::new(actions.iter());
    let problems = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| loop {
                let Some(action) = next.lock().unwrap().next() else {
                    break;
                };
                let problem = match scenario(&without(&policy, action)) {
                    Ok(()) => Some(format!(
                        "{action}: not needed (the happy path passes without it)"
                    )),
                    Err(e) if !e.starts_with("exit Some(3)") || !e.contains(action.as_str()) => {
                        Some(format!("{action}: refused otherwise than on it: {e}"))
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
        "{tool}: happy path passes with its policy; each of {} actions removed is refused",
        actions.len()
    );
}
