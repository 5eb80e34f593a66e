//! packaging/iam/ebs-grow.json is least privilege (see rig::iam). The
//! happy path makes every call the tool makes: init (a new tagged volume,
//! attached, DeleteOnTermination set), a growth in place, a growth by
//! adding a volume (inside EC2's six-hour window), and teardown.

use super::{small_config, Fixture, MIB};
use rig::iam::{prove_least_privilege, refusal};
use serde_json::{json, Value};

fn happy_path(policy: &Value) -> Result<(), String> {
    let f = Fixture::new(json!({}), small_config(json!({"strategy": "modify"})));
    f.rig.restrict_to(policy);
    let run = |args: &[&str]| {
        let mut full = args.to_vec();
        full.extend(["--output", "json"]);
        let out = f.run(&full);
        if out.status.success() {
            Ok(rig::tool::json(&out))
        } else {
            Err(refusal(&out))
        }
    };
    run(&["init"])?;
    f.fill("a", 600 * MIB);
    let grown = run(&["check"])?;
    assert_eq!(grown["action"], "grown", "{grown}");
    f.fill("b", 700 * MIB);
    let added = run(&["check"])?;
    assert_eq!(added["action"], "added", "{added}");
    let gone = run(&["teardown", "--yes"])?;
    assert_eq!(gone["action"], "torn-down", "{gone}");
    Ok(())
}

#[test]
fn the_policy_is_least_privilege() {
    prove_least_privilege("ebs-grow", happy_path);
}
