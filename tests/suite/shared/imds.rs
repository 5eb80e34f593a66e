use mooring::exit::{code_for, Code};
use mooring::imds::{ImdsUnavailable, Metadata};
use rig::Rig;
use serde_json::json;

#[tokio::test]
async fn identity_matches_the_instance_moto_launched() {
    let rig = Rig::start();
    let inst = rig.instance(json!({
        "az": "us-east-1b",
        "tags": {"Name": "db-1", "etcd-cluster": "prod"},
        "instance_type": "m5.xlarge",
    }));
    let imds = Metadata::new(Some(&inst.imds_url)).unwrap();
    let id = imds.identity().await.unwrap();
    assert_eq!(id.instance_id, inst.id);
    assert_eq!(id.availability_zone, "us-east-1b");
    assert_eq!(id.region, "us-east-1");
    assert_eq!(id.instance_type, "m5.xlarge");
    assert_eq!(id.private_ipv4.as_deref(), Some(inst.private_ip.as_str()));
    // A token and the document: nothing else is asked for the identity.
    assert_eq!(
        rig.imds_requests(&inst, true),
        [
            "/latest/api/token",
            "/latest/dynamic/instance-identity/document"
        ]
    );
    assert_eq!(
        imds.tag("etcd-cluster").await.unwrap().as_deref(),
        Some("prod")
    );
    assert_eq!(imds.tag("absent").await.unwrap(), None);
    assert!(imds.tags_enabled().await.unwrap());
    assert_eq!(imds.attached_macs().await.unwrap().len(), 1);
}

#[tokio::test]
async fn tags_absent_when_instance_metadata_tags_are_off() {
    let rig = Rig::start();
    let inst = rig.instance(json!({"tags": {"Name": "x"}, "metadata_tags": false}));
    let imds = Metadata::new(Some(&inst.imds_url)).unwrap();
    assert_eq!(imds.tag("Name").await.unwrap(), None);
    assert!(!imds.tags_enabled().await.unwrap());
    assert_eq!(imds.identity().await.unwrap().instance_id, inst.id);
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
    let imds = Metadata::new(Some(&url)).unwrap();
    let started = std::time::Instant::now();
    let err = imds.identity().await.unwrap_err();
    assert!(err.is::<ImdsUnavailable>(), "{err:#}");
    let msg = format!("{err:#}");
    assert!(
        msg.contains(&url),
        "error does not name the endpoint: {msg}"
    );
    assert!(!msg.contains('\n'), "multi-line error: {msg}");
    assert_eq!(code_for(&err), Code::NoMetadata);
    // Nothing answers: asked again for the whole patience, not given up at
    // once, and not beyond it.
    let waited = started.elapsed();
    assert!(
        waited >= std::time::Duration::from_secs(10)
            && waited <= mooring::imds::UNREACHABLE_PATIENCE + std::time::Duration::from_secs(10),
        "gave up after {waited:?}"
    );
}

/// Issue 19, defect 5: a read that times out (IMDS slow on a loaded
/// instance) is asked again like a refused connect. Before the fix the
/// first read that timed out failed the run with exit 7.
#[tokio::test]
async fn a_read_that_times_out_is_asked_again() {
    let rig = Rig::start();
    let inst = rig.instance(json!({}));
    // The client gives a read 2 s; two answers come after 3 s each.
    rig.imds_delays(
        &inst,
        json!([{"path": "/latest/dynamic/instance-identity/document", "seconds": 3, "times": 2}]),
    );
    let imds = Metadata::new(Some(&inst.imds_url)).unwrap();
    let id = imds.identity().await.unwrap();
    assert_eq!(id.instance_id, inst.id);
    let asked = rig.imds_requests(&inst, false);
    let reads = asked
        .iter()
        .filter(|p| p.ends_with("instance-identity/document"))
        .count();
    assert!(reads >= 3, "the document was read {reads} times: {asked:?}");
}

#[test]
fn a_malformed_endpoint_is_bad_input() {
    for bad in ["htp://169.254.169.254", "169.254.169.254", "http://"] {
        let err = Metadata::new(Some(bad)).unwrap_err();
        assert_eq!(code_for(&err), Code::BadInput, "{bad}: {err:#}");
        assert!(format!("{err:#}").contains(bad), "{err:#}");
    }
}

/// Issue 23, errors: a run whose deadline runs out while IMDS still does
/// not answer exits 7 (IMDS), not 4 (a generic timeout), and says so in
/// one short line a try (`IMDS at … does not answer (…); asking again`);
/// with `--output json` every failure is also one JSON object on stdout
/// with its exit code — a bad endpoint URL too (exit 2).
#[test]
fn failures_keep_their_cause_and_answer_in_json() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("http://127.0.0.1:{port}");
    let run_dir = rig::temp_dir("json-errors");
    let tools: [(&str, &[&str]); 2] = [
        (
            env!("CARGO_BIN_EXE_px-volume-claim"),
            &[
                "--cluster-id",
                "c1",
                "--template",
                "vol-0123456789abcdef0:3",
            ],
        ),
        (env!("CARGO_BIN_EXE_etcd-member-prepare"), &["prepare"]),
    ];
    for (bin, args) in tools {
        for (endpoint, code, kind) in [
            (dead.as_str(), 7, "no-metadata"),
            ("htp://nowhere", 2, "bad-input"),
        ] {
            let out = std::process::Command::new(bin)
                .args(args)
                .args(["--timeout", "2", "--output", "json"])
                .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint)
                .env("MOORING_RUN_DIR", run_dir.path())
                .env_remove("AWS_ENDPOINT_URL")
                .output()
                .unwrap();
            let said = rig::tool::describe(&out);
            assert_eq!(out.status.code(), Some(code), "{bin} {endpoint}: {said}");
            let v: serde_json::Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{bin} {endpoint}: stdout is not JSON ({e}): {said}"));
            assert_eq!(v["exit_code"], code, "{v}");
            assert_eq!(v["kind"], kind, "{v}");
            assert!(v["error"].as_str().unwrap().contains(endpoint), "{v}");
            if code == 7 {
                // One short line a try, naming the endpoint and the cause;
                // the SDK's whole chain only with -v.
                let stderr = String::from_utf8_lossy(&out.stderr);
                let tries: Vec<&str> = stderr
                    .lines()
                    .filter(|l| l.contains("asking again"))
                    .collect();
                assert!(!tries.is_empty(), "{said}");
                for line in &tries {
                    assert!(
                        line.starts_with(&format!("IMDS at {endpoint} does not answer ("))
                            && line.contains("refused")
                            && line.chars().count() < 120,
                        "{line}"
                    );
                }
                assert!(!stderr.contains("session token"), "{stderr}");
            }
        }
    }
}
