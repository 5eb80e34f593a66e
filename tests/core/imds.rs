use crate::rig::Rig;
use mooring::exit::{code_for, Code};
use mooring::imds::{self, Identity, ImdsUnavailable};
use serde_json::json;
use std::collections::BTreeMap;

#[tokio::test]
async fn identity_matches_the_instance_moto_launched() {
    let rig = Rig::start();
    let inst = rig.instance(json!({
        "az": "us-east-1b",
        "tags": {"Name": "db-1", "etcd-cluster": "prod"},
        "instance_type": "m5.xlarge",
    }));
    let client = imds::client(Some(&inst.imds_url)).unwrap();
    let id = Identity::fetch(&client, Some(&inst.imds_url))
        .await
        .unwrap();
    assert_eq!(id.instance_id, inst.id);
    assert_eq!(id.availability_zone, "us-east-1b");
    assert_eq!(id.region, "us-east-1");
    assert_eq!(id.instance_type, "m5.xlarge");
    assert_eq!(id.private_ipv4.as_deref(), Some(inst.private_ip.as_str()));
    assert_eq!(id.macs, vec![id.mac.clone()]);
    let tags: BTreeMap<String, String> = [("Name", "db-1"), ("etcd-cluster", "prod")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(id.tags, Some(tags));
    assert_eq!(id.tag("etcd-cluster"), Some("prod"));
}

#[tokio::test]
async fn tags_absent_when_instance_metadata_tags_are_off() {
    let rig = Rig::start();
    let inst = rig.instance(json!({"tags": {"Name": "x"}, "metadata_tags": false}));
    let client = imds::client(Some(&inst.imds_url)).unwrap();
    let id = Identity::fetch(&client, Some(&inst.imds_url))
        .await
        .unwrap();
    assert_eq!(id.tags, None);
    assert_eq!(id.instance_id, inst.id);
}

#[tokio::test]
async fn absent_imds_is_a_clear_typed_error() {
    // A port nothing listens on: bind, learn the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let client = imds::client(Some(&url)).unwrap();
    let err = Identity::fetch(&client, Some(&url)).await.unwrap_err();
    assert!(err.is::<ImdsUnavailable>(), "{err:#}");
    let msg = format!("{err:#}");
    assert!(
        msg.contains(&url),
        "error does not name the endpoint: {msg}"
    );
    assert!(!msg.contains('\n'), "multi-line error: {msg}");
    assert_eq!(code_for(&err), Code::NoMetadata);
}
