//! packaging/iam/smilodon-attach.json is least privilege (see rig::iam).
//! The happy path makes every call the tool makes: half a pair found held
//! whose volume is then lost to another instance (the ENI is released), a
//! pair whose ENI is lost (the volume is released), a pair claimed whole,
//! and DeleteOnTermination found on for its volume and ENI and turned off;
//! then an instance of a group booting together (every pair free or just
//! taken) reads its group for its turn, and finds its rank's pair taken.

use super::{Fixture, AZ};
use rig::iam::{prove_least_privilege, refusal};
use serde_json::{json, Value};

fn happy_path(policy: &Value) -> Result<(), String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let f = Fixture::new();
        let mut pairs = Vec::new();
        for n in 0..3 {
            pairs.push(f.pair(&n.to_string(), AZ).await);
        }
        let thief = f.node(AZ);
        let node = f.node(AZ);
        let ec2 = f.rig.ec2().await;
        // Half of pair 0 held here, as an interrupted earlier run leaves it.
        ec2.attach_network_interface()
            .network_interface_id(&pairs[0].eni_id)
            .instance_id(&node.inst.id)
            .device_index(1)
            .send()
            .await
            .unwrap();
        f.rig.faults(json!([
            {"match": "AttachVolume", "times": 1, "fault": "steal", "instance_id": thief.inst.id},
            {"match": "AttachNetworkInterface", "times": 1, "fault": "steal", "instance_id": thief.inst.id},
        ]));
        f.rig.restrict_to(policy);

        let run = || {
            let out = node.run(&[]);
            if out.status.success() {
                Ok(rig::tool::json(&out))
            } else {
                Err(refusal(&out))
            }
        };
        let claimed = run()?;
        assert_eq!(claimed["released"].as_array().unwrap().len(), 2, "{claimed}");
        let node_id = claimed["node_id"].as_str().unwrap();
        let pair = pairs.iter().find(|p| p.node_id == node_id).unwrap();

        f.set_delete_on_termination(pair, &node.inst).await;
        run()?;
        assert_eq!(f.volume_delete_on_termination(&pair.volume_id).await, Some(false));
        assert_eq!(f.eni_attachment(&pair.eni_id).await.1, Some(false));
        let member = f.group_node("smilodon-iam", AZ);
        let out = member.run(&["--when-none", "idle"]);
        if out.status.code() != Some(8) {
            return Err(refusal(&out));
        }
        let report = rig::tool::json(&out);
        assert_eq!(report["turn"]["rank"], 0, "{report}");
        Ok(())
    })
}

#[test]
fn the_policy_is_least_privilege() {
    prove_least_privilege("smilodon-attach", happy_path);
}
