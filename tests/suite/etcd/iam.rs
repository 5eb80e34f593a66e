//! packaging/iam/etcd-member-prepare.json is least privilege (see
//! rig::iam): the happy path is a bootstrap with peers from the Auto
//! Scaling group, which makes every call the tool makes — the instance's
//! metadata tags off (EC2's default), so that it asks Auto Scaling for its
//! group's name.

use super::Fixture;
use rig::iam::{prove_least_privilege, refusal};
use serde_json::{json, Value};

fn happy_path(policy: &Value) -> Result<(), String> {
    let mut f = Fixture::new("unused", 0);
    let group = f
        .rig
        .asg(json!({"name": "etcd-asg", "size": 1, "metadata_tags": false}));
    f.adopt(group[0].clone());
    f.rig.restrict_to(policy);
    let out = f.run_without_size(0, &["--peers", "asg"]);
    if !out.status.success() {
        return Err(refusal(&out));
    }
    let report = rig::tool::json(&out);
    assert_eq!(report["decision"], "new", "{report}");
    Ok(())
}

#[test]
fn the_policy_is_least_privilege() {
    prove_least_privilege("etcd-member-prepare", happy_path);
}
