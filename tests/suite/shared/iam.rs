//! The rig evaluates the policies' resources and conditions (moto does
//! not): what a policy scopes out is refused, what it scopes in passes.
//! These calls are made as a tool would make them, with the role's session,
//! through the rig's proxy.

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification, VolumeType};
use rig::iam::policy;
use rig::{error_code as code, Rig};
use serde_json::json;

fn tags(pairs: &[(&str, &str)]) -> TagSpecification {
    let mut spec = TagSpecification::builder().resource_type(ResourceType::Volume);
    for (k, v) in pairs {
        spec = spec.tags(Tag::builder().key(*k).value(*v).build());
    }
    spec.build()
}

#[tokio::test]
async fn conditions_refuse_what_the_policies_scope_out() {
    let rig = Rig::start();
    let inst = rig.instance(json!({ "az": "us-east-1a" }));
    let admin = rig.ec2().await;
    // A volume nobody tagged: no tool may touch it.
    let foreign = admin
        .create_volume()
        .availability_zone("us-east-1a")
        .size(1)
        .send()
        .await
        .unwrap()
        .volume_id()
        .unwrap()
        .to_string();
    const REFUSED: &str = "UnauthorizedOperation";

    // px-volume-claim: creates only volumes carrying both cluster tags,
    // attaches only the cluster's.
    let ec2 = rig.restricted_ec2(&policy("px-volume-claim"));
    let create = |spec: TagSpecification| {
        ec2.create_volume()
            .availability_zone("us-east-1a")
            .size(1)
            .volume_type(VolumeType::Gp3)
            .tag_specifications(spec)
            .send()
    };
    assert_eq!(
        code(create(tags(&[("PWX_CLUSTER_ID", "c")])).await),
        REFUSED
    );
    let ours = create(tags(&[
        ("PWX_CLUSTER_ID", "c"),
        ("PWX_EBS_VOLUME_TEMPLATE", "vol-1"),
    ]))
    .await
    .expect("a tagged cluster volume may be created")
    .volume_id()
    .unwrap()
    .to_string();
    let attach = |vol: String, device: &'static str| {
        ec2.attach_volume()
            .volume_id(vol)
            .instance_id(&inst.id)
            .device(device)
            .send()
    };
    assert_eq!(code(attach(foreign.clone(), "/dev/sdf").await), REFUSED);
    assert_eq!(code(attach(ours.clone(), "/dev/sdg").await), "");
    assert_eq!(
        code(ec2.delete_volume().volume_id(&foreign).send().await),
        "AccessDenied",
        "not granted at all: moto's own enforcement refuses"
    );

    // ebs-grow: acts only on volumes it tagged as its own.
    let ec2 = rig.restricted_ec2(&policy("ebs-grow"));
    assert_eq!(
        code(ec2.delete_volume().volume_id(&foreign).send().await),
        REFUSED
    );
    assert_eq!(
        code(ec2.modify_volume().volume_id(&ours).size(2).send().await),
        REFUSED
    );
    let scratch = ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(1)
        .tag_specifications(tags(&[("mooring:managed-by", "ebs-grow")]))
        .send()
        .await
        .expect("a volume tagged as ebs-grow's may be created")
        .volume_id()
        .unwrap()
        .to_string();
    assert_eq!(
        code(ec2.delete_volume().volume_id(&scratch).send().await),
        ""
    );
    // Tags outside a creation are refused (ec2:CreateAction).
    assert_eq!(
        code(
            ec2.create_tags()
                .resources(&foreign)
                .tags(
                    Tag::builder()
                        .key("mooring:managed-by")
                        .value("ebs-grow")
                        .build()
                )
                .send()
                .await
        ),
        REFUSED
    );

    // ecs-node-guard: may set the Name tag, no other.
    let ec2 = rig.restricted_ec2(&policy("ecs-node-guard"));
    let tag_instance = |key: &'static str| {
        ec2.create_tags()
            .resources(&inst.id)
            .tags(Tag::builder().key(key).value("x").build())
            .send()
    };
    assert_eq!(code(tag_instance("Owner").await), REFUSED);
    assert_eq!(code(tag_instance("Name").await), "");

    // smilodon-attach: attaches only what carries a NodeID.
    let ec2 = rig.restricted_ec2(&policy("smilodon-attach"));
    assert_eq!(
        code(
            ec2.attach_volume()
                .volume_id(&foreign)
                .instance_id(&inst.id)
                .device("/dev/sdh")
                .send()
                .await
        ),
        REFUSED
    );
}
