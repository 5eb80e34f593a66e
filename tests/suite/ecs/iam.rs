//! packaging/iam/ecs-node-guard.json is least privilege (see rig::iam).
//! The happy path makes every call the tool makes: configure (Name tag,
//! termination protection found on and turned off), a check that finds a
//! full docker root and has the host drained and replaced, and a sweep
//! that marks a never-registered instance and deregisters an orphan.

use super::Fixture;
use rig::iam::{prove_least_privilege, refusal};
use serde_json::{json, Value};

fn happy_path(policy: &Value) -> Result<(), String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let f = Fixture::new(3);
        f.register(&f.insts[1]);
        f.orphan().await;
        f.protect(&f.insts[0]).await;
        f.root.fill();
        f.rig.restrict_to(policy);

        let run = |args: Vec<String>| {
            let out = f.tool.run_owned(&args);
            if out.status.success() {
                Ok(rig::tool::json(&out))
            } else {
                Err(refusal(&out))
            }
        };
        let config = f.dir.path().join("ecs.config");
        let configured = run(f.configure_args(&config))?;
        assert_eq!(
            configured["termination_protection_turned_off"], true,
            "{configured}"
        );
        assert_eq!(configured["name_changed"], true, "{configured}");

        let checked =
            run(f.check_args(&["--drain", "--failures", "1", "--max-unhealthy-share", "0.5"]))?;
        assert_eq!(checked["verdict"], "replacement-requested", "{checked}");
        assert_eq!(checked["drained"], true, "{checked}");

        let swept = run(f.sweep_args("0.7", &[]))?;
        assert_eq!(swept["marked_unhealthy"], json!([f.insts[2].id]), "{swept}");
        assert_eq!(
            swept["deregistered"].as_array().map(Vec::len),
            Some(1),
            "{swept}"
        );
        Ok(())
    })
}

#[test]
fn the_policy_is_least_privilege() {
    prove_least_privilege("ecs-node-guard", happy_path);
}
