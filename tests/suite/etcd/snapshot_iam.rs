//! packaging/iam/etcd-member-snapshot.json is least privilege (see
//! rig::iam): the happy path is the leader's first snapshot and, after a
//! write, a second one with --retain 1, which deletes the first, then —
//! the cluster's instance terminated — a new instance's prepare restoring
//! the newest: every S3 call `snapshot` and a restore make. The role also
//! holds etcd-member-prepare.json (the EC2 calls are its). The bucket is
//! the policy's example name.

use super::Fixture;
use rig::iam::{prove_least_privilege, refusal};
use serde_json::Value;

const BUCKET: &str = "mooring-etcd-snapshots";

fn happy_path(policy: &Value) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut f = Fixture::new("snap-iam", 1);
        f.bootstrap(1).await;
        f.rig
            .s3()
            .create_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .unwrap();
        let mut both = policy.clone();
        let prepare = rig::iam::policy("etcd-member-prepare");
        both["Statement"]
            .as_array_mut()
            .unwrap()
            .extend(prepare["Statement"].as_array().unwrap().iter().cloned());
        f.rig.restrict_to(&both);
        for round in 0..2 {
            f.put(0, "round", &round.to_string()).await;
            let out = f.run(
                0,
                "snapshot",
                &["--snapshot-bucket", BUCKET, "--retain", "1"],
            );
            if !out.status.success() {
                return Err(refusal(&out));
            }
            let r = rig::tool::json(&out);
            assert_eq!(r["result"], "uploaded", "{r}");
            assert_eq!(r["pruned"].as_array().unwrap().len(), round, "{r}");
        }
        f.stop(0);
        f.rig
            .ec2()
            .await
            .terminate_instances()
            .instance_ids(&f.nodes[0].inst.id)
            .send()
            .await
            .unwrap();
        let n = f.launch();
        let out = f.run(n, "prepare", &["--snapshot-bucket", BUCKET]);
        if !out.status.success() {
            return Err(refusal(&out));
        }
        let r = rig::tool::json(&out);
        assert_eq!(r["decision"], "restore", "{r}");
        Ok(())
    })
}

#[test]
fn the_snapshot_policy_is_least_privilege() {
    prove_least_privilege("etcd-member-snapshot", happy_path);
}
