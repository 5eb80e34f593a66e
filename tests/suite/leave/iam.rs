//! packaging/iam/mooring-leave.json is least privilege (see rig::iam):
//! the happy path finds the group and its hook, heartbeats it while the
//! steps run, and completes the action — on a group tagged
//! mooring-leave=true, which the policy's condition requires.

use super::Group;
use rig::iam::{prove_least_privilege, refusal};
use serde_json::Value;

fn happy_path(policy: &Value) -> Result<(), String> {
    let g = Group::new("leave-iam", 9);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(g.scale_in());
    g.rig.restrict_to(policy);
    let out = g.watch(60, &["sleep", "6"]);
    if !out.status.success() {
        return Err(refusal(&out));
    }
    let r = rig::tool::json(&out);
    assert_eq!(r["completed"], "now", "{r}");
    assert!(r["steps"]["heartbeats"].as_u64().unwrap() >= 1, "{r}");
    Ok(())
}

#[test]
fn the_policy_is_least_privilege() {
    prove_least_privilege("mooring-leave", happy_path);
}
