use super::{Fixture, CLUSTER};
use rig::tool::{describe, json};
use serde_json::json;

/// A full docker root gets the host replaced only after N consecutive
/// failed checks, drained first when asked; healthy checks, and the
/// checks before the N-th, make no AWS call.
#[tokio::test]
async fn a_full_docker_root_gets_the_host_replaced_after_n_checks() {
    let f = Fixture::new(4);
    f.rig.calls(true);
    let r = f.check(&[]);
    assert_eq!(r["verdict"], "healthy", "{r}");
    assert_eq!(r["registered"], true);
    // A steady healthy host writes nothing: the state file stays as the
    // first check of the boot left it.
    // (Every write is a rename of a new file: the inode tells.)
    use std::os::unix::fs::MetadataExt;
    let written = std::fs::metadata(f.state_file()).unwrap().ino();
    assert_eq!(f.check(&[])["verdict"], "healthy");
    assert_eq!(std::fs::metadata(f.state_file()).unwrap().ino(), written);
    f.root.fill();
    for n in 1..3 {
        let r = f.check(&["--drain"]);
        assert_eq!(r["verdict"], "failing", "{r}");
        assert_eq!(r["consecutive_failures"], n);
        assert!(r["problems"][0].as_str().unwrap().contains("full"), "{r}");
    }
    assert!(
        f.rig.calls(true).0.is_empty(),
        "no AWS call before the N-th failure"
    );
    assert_eq!(f.health_of(&f.insts[0]).await, "Healthy");

    let r = f.check(&["--drain"]);
    assert_eq!(r["verdict"], "replacement-requested", "{r}");
    assert_eq!(r["drained"], true);
    assert_eq!(f.health_of(&f.insts[0]).await, "Unhealthy");
    let (calls, _) = f.rig.calls(true);
    assert!(
        calls.contains(&"SetInstanceHealth".to_string()),
        "{calls:?}"
    );
    let ecs = f.rig.ecs();
    let arns = ecs
        .list_container_instances()
        .cluster(CLUSTER)
        .send()
        .await
        .unwrap();
    let d = ecs
        .describe_container_instances()
        .cluster(CLUSTER)
        .set_container_instances(Some(arns.container_instance_arns().to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(d.container_instances()[0].status(), Some("DRAINING"));
    // Asked once: later checks say so without calling again.
    let r = f.check(&[]);
    assert_eq!(r["verdict"], "replacement-requested");
    assert!(f.rig.calls(true).0.is_empty());
}

/// An agent that never registers within the grace period gets the host
/// replaced; one that registers late but within it does not. (The grace
/// runs from the first check of this boot, kept in the state file: the
/// test moves that back instead of waiting.)
#[tokio::test]
async fn an_agent_that_never_registers_is_replaced_a_late_one_is_not() {
    let f = Fixture::new(4);
    f.agent.set(json!({ "Cluster": CLUSTER }));
    let r = f.check(&["--failures", "1"]);
    assert_eq!(r["verdict"], "healthy", "within the grace: {r}");
    assert_eq!(r["registered"], false);
    // Registered late, still within the grace: nothing happens.
    let arn = "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/late";
    f.agent
        .set(json!({ "Cluster": CLUSTER, "ContainerInstanceArn": arn }));
    let r = f.check(&["--failures", "1"]);
    assert_eq!(r["verdict"], "healthy", "{r}");
    assert_eq!(r["registered"], true);
    assert_eq!(f.health_of(&f.insts[0]).await, "Healthy");

    // Now a boot whose agent never registered, 20 minutes on.
    f.agent.set(json!({ "Cluster": CLUSTER }));
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.state_file()).unwrap()).unwrap();
    state["first_check"] = json!(state["first_check"].as_u64().unwrap() - 1200);
    std::fs::write(f.state_file(), state.to_string()).unwrap();
    let r = f.check(&["--failures", "1"]);
    assert_eq!(r["verdict"], "replacement-requested", "{r}");
    assert!(
        r["problems"][0]
            .as_str()
            .unwrap()
            .contains("not registered"),
        "{r}"
    );
    assert_eq!(f.health_of(&f.insts[0]).await, "Unhealthy");
}

/// With half the group already unhealthy, a broken host stays: a broken
/// ECS control plane must not destroy the fleet.
#[tokio::test]
async fn the_circuit_breaker_holds_with_half_the_group_unhealthy() {
    let f = Fixture::new(4);
    let asg = f.rig.autoscaling();
    for i in &f.insts[2..] {
        asg.set_instance_health()
            .instance_id(&i.id)
            .health_status("Unhealthy")
            .send()
            .await
            .unwrap();
    }
    f.root.fill();
    let r = f.check(&["--failures", "1", "--max-unhealthy-share", "0.5"]);
    assert_eq!(r["verdict"], "held-by-circuit-breaker", "{r}");
    assert_eq!(f.health_of(&f.insts[0]).await, "Healthy");
    // With one unhealthy of four, it may go (2 of 4 = 50%).
    asg.set_instance_health()
        .instance_id(&f.insts[3].id)
        .health_status("Healthy")
        .send()
        .await
        .unwrap();
    let r = f.check(&["--failures", "1", "--max-unhealthy-share", "0.5"]);
    assert_eq!(r["verdict"], "replacement-requested", "{r}");
    assert_eq!(f.health_of(&f.insts[0]).await, "Unhealthy");
}

/// configure writes ECS_CLUSTER (from the instance's tag) keeping the
/// admin's lines, names the instance, turns termination protection off;
/// the second run changes nothing.
#[tokio::test]
async fn configure_keeps_foreign_lines_is_idempotent_and_turns_protection_off() {
    let f = Fixture::new(1);
    let config = f.dir.path().join("ecs.config");
    std::fs::write(
        &config,
        "# set by the AMI\nECS_ENABLE_TASK_IAM_ROLE=true\nECS_CLUSTER=default\nECS_LOGLEVEL=debug\n",
    )
    .unwrap();
    f.protect(&f.insts[0]).await;
    let ec2 = f.rig.ec2().await;
    let args = f.configure_args(&config);
    let out = f.tool.run_owned(&args);
    assert!(out.status.success(), "{}", describe(&out));
    let r = json(&out);
    assert_eq!(r["cluster"], CLUSTER);
    assert_eq!(r["ecs_config_changed"], true);
    assert_eq!(r["termination_protection_turned_off"], true);
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        "# set by the AMI\nECS_ENABLE_TASK_IAM_ROLE=true\nECS_CLUSTER=prod\nECS_LOGLEVEL=debug\n"
    );
    let attr = ec2
        .describe_instance_attribute()
        .instance_id(&f.insts[0].id)
        .attribute(aws_sdk_ec2::types::InstanceAttributeName::DisableApiTermination)
        .send()
        .await
        .unwrap();
    assert_eq!(attr.disable_api_termination().unwrap().value(), Some(false));
    let name = format!("{CLUSTER} ECS {}", f.insts[0].id);
    let tags = ec2
        .describe_instances()
        .instance_ids(&f.insts[0].id)
        .send()
        .await
        .unwrap();
    let inst = &tags.reservations()[0].instances()[0];
    assert!(inst
        .tags()
        .iter()
        .any(|t| t.key() == Some("Name") && t.value() == Some(name.as_str())));

    f.rig.calls(true);
    let before = std::fs::metadata(&config).unwrap().modified().unwrap();
    let r = json(&f.tool.run_owned(&args));
    assert_eq!(r["ecs_config_changed"], false);
    assert_eq!(r["name_changed"], false);
    assert_eq!(r["termination_protection_turned_off"], false);
    assert_eq!(
        std::fs::metadata(&config).unwrap().modified().unwrap(),
        before
    );
    let (calls, _) = f.rig.calls(true);
    assert_eq!(calls, ["DescribeInstanceAttribute"]);
}

/// sweep finds the group's instance that never registered and the
/// container instance whose EC2 instance is gone; a dry run mutates
/// nothing; the real run marks and deregisters.
#[tokio::test]
async fn sweep_finds_the_unregistered_and_the_orphaned() {
    let f = Fixture::new(3);
    f.register(&f.insts[1]);
    let orphan = f.orphan().await;
    let args = |dry: bool| f.sweep_args("0.34", if dry { &["--dry-run"] } else { &[] });
    f.rig.calls(true);
    let out = f.tool.run_owned(&args(true));
    assert!(out.status.success(), "{}", describe(&out));
    let r = json(&out);
    assert_eq!(r["unregistered"], json!([f.insts[2].id]), "{r}");
    assert_eq!(r["orphaned_container_instances"], json!([orphan]), "{r}");
    let (calls, _) = f.rig.calls(true);
    assert!(
        calls
            .iter()
            .all(|c| c.starts_with("Describe") || c.starts_with("List")),
        "{calls:?}"
    );
    assert_eq!(f.health_of(&f.insts[2]).await, "Healthy");

    let r = json(&f.tool.run_owned(&args(false)));
    assert_eq!(r["marked_unhealthy"], json!([f.insts[2].id]), "{r}");
    assert_eq!(r["deregistered"], json!([orphan]), "{r}");
    assert_eq!(f.health_of(&f.insts[2]).await, "Unhealthy");
    assert_eq!(f.health_of(&f.insts[0]).await, "Healthy");
    let left = f
        .rig
        .ecs()
        .list_container_instances()
        .cluster(CLUSTER)
        .send()
        .await
        .unwrap();
    assert!(!left.container_instance_arns().contains(&orphan));
}

/// Issue 19, defect 1: a typo in the introspection URL (a fleet-wide
/// drop-in) is bad input, exit 2, every time — never "not registered", so
/// never Unhealthy. Before the fix the fourth check below marked this
/// healthy host Unhealthy and exited 0. A docker root that does not exist
/// is the same: the guard could not look.
#[tokio::test]
async fn a_probe_that_could_not_ask_never_replaces_a_healthy_host() {
    let f = Fixture::new(4);
    f.rig.calls(true);
    let typo = "htp://127.0.0.1:51678/v1/metadata";
    for _ in 0..4 {
        let mut args = f.check_args(&["--failures", "1", "--registration-grace", "0"]);
        let at = args
            .iter()
            .position(|a| a == "--introspection-url")
            .unwrap();
        args[at + 1] = typo.to_string();
        let out = f.tool.run_owned(&args);
        assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(typo), "{stderr}");
    }
    let missing = f.dir.path().join("no-docker-here");
    for _ in 0..2 {
        let mut args = f.check_args(&["--failures", "1", "--registration-grace", "0"]);
        let at = args.iter().position(|a| a == "--docker-root").unwrap();
        args[at + 1] = missing.display().to_string();
        let out = f.tool.run_owned(&args);
        assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    }
    assert_eq!(f.health_of(&f.insts[0]).await, "Healthy");
    assert!(f.rig.calls(true).0.is_empty(), "no AWS call");
    assert!(!f.state_file().exists(), "no check was counted");
    // The same host with its URL right is healthy.
    assert_eq!(f.check(&["--failures", "1"])["verdict"], "healthy");
}

/// An agent that is down (nothing listens on its well-formed loopback
/// URL) is the observation the guard exists for: past the grace it
/// counts, and the host is replaced.
#[tokio::test]
async fn an_agent_that_does_not_answer_counts_as_not_registered() {
    let f = Fixture::new(4);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = format!("http://127.0.0.1:{port}/v1/metadata");
    let mut args = f.check_args(&["--failures", "2", "--registration-grace", "0"]);
    let at = args
        .iter()
        .position(|a| a == "--introspection-url")
        .unwrap();
    args[at + 1] = down;
    let r = json(&f.tool.run_owned(&args));
    assert_eq!(r["verdict"], "failing", "{r}");
    assert!(
        r["problems"][0]
            .as_str()
            .unwrap()
            .contains("does not answer"),
        "{r}"
    );
    let r = json(&f.tool.run_owned(&args));
    assert_eq!(r["verdict"], "replacement-requested", "{r}");
    assert_eq!(f.health_of(&f.insts[0]).await, "Unhealthy");
}
