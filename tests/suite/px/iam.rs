//! packaging/iam/px-volume-claim.json is least privilege: see
//! rig::iam. The happy path covers every call the tool makes: a volume
//! created and attached, DeleteOnTermination found on and turned off, and a
//! second instance made storage-less at the limit after looking at the
//! volume's holder, and the first's volume released (`release`). The first instance is in an Auto Scaling group whose
//! metadata tags are off: it asks for its group and reads it to take its
//! turn; the second is in none, which it learns from Auto Scaling.

use super::{flags, strs, Fixture, AZ};
use rig::iam::{prove_least_privilege, refusal};
use serde_json::{json, Value};

fn happy_path(policy: &Value) -> Result<(), String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let f = Fixture::new();
        let template = f.template().await;
        let group = f
            .rig
            .asg(json!({ "name": "px-iam", "size": 1, "az": AZ, "metadata_tags": false }));
        let first = f.node_for(group.into_iter().next().unwrap());
        let second = f.node(json!({ "az": AZ }));
        let args = flags(&[(&template, 1)]);
        f.rig.restrict_to(policy);

        let run = |node: &super::Node| {
            let out = node.run(&strs(&args));
            if out.status.success() {
                Ok(rig::tool::json(&out))
            } else {
                Err(refusal(&out))
            }
        };
        let created = run(&first)?;
        assert_eq!(created["templates"][0]["outcome"], "created", "{created}");
        let volume = created["templates"][0]["volume_id"]
            .as_str()
            .unwrap()
            .to_string();
        f.rig
            .set_delete_on_termination(&first.inst, &volume, true)
            .await;
        run(&first)?;
        let storageless = run(&second)?;
        assert_eq!(storageless["storageless"], true, "{storageless}");
        // The leave step, by hand: the claimed volume detached.
        let mut release = args.clone();
        release.extend(["release".to_string(), "--when".into(), "always".into()]);
        let out = first.run(&strs(&release));
        if !out.status.success() {
            return Err(refusal(&out));
        }
        assert_eq!(rig::tool::json(&out)["released"], json!([volume]));
        Ok(())
    })
}

#[test]
fn the_policy_is_least_privilege() {
    prove_least_privilege("px-volume-claim", happy_path);
}
