//! Issue 21: a host with running tasks that its group scales in is
//! drained before it is deregistered. The tasks are moto's (a task
//! definition started on the container instance with StartTask); ECS's
//! agent, which stops a draining instance's tasks, is a stand-in here: a
//! task that stops them a second after it sees the instance DRAINING.

use super::{BIN, CLUSTER};
use rig::tool::{describe, json, Tool};
use rig::{temp_dir, Rig};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scaled_in_host_is_drained_then_deregistered() {
    let dir = temp_dir("ecs-leave");
    let rig = Rig::start();
    let inst = rig
        .asg(json!({
            "name": "ecs-leave", "size": 1,
            "termination_hook": {"name": "drain", "timeout": 300},
        }))
        .remove(0);
    let arn = rig.control(
        "/_rig/ecs_register",
        json!({ "cluster": CLUSTER, "instance_id": inst.id }),
    )["arn"]
        .as_str()
        .unwrap()
        .to_string();
    let ecs = rig.ecs();
    ecs.register_task_definition()
        .family("web")
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("web")
                .image("web:1")
                .memory(64)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let out = ecs
            .start_task()
            .cluster(CLUSTER)
            .task_definition("web")
            .container_instances(&arn)
            .send()
            .await
            .unwrap();
        tasks.push(out.tasks()[0].task_arn().unwrap().to_string());
    }
    let tool = Tool::new(BIN, &rig, &inst, dir.path());
    let args = [
        "leave",
        "--cluster",
        CLUSTER,
        "--output",
        "json",
        "--timeout",
        "60",
    ];

    // In service: nothing happens.
    let out = tool.run(&args);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(json(&out)["result"], "staying");

    // The agent's stand-in.
    let stopped_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let agent = {
        let (ecs, arn, tasks, stopped_at) =
            (ecs.clone(), arn.clone(), tasks.clone(), stopped_at.clone());
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let d = ecs
                    .describe_container_instances()
                    .cluster(CLUSTER)
                    .container_instances(&arn)
                    .send()
                    .await
                    .unwrap();
                if d.container_instances()[0].status() == Some("DRAINING") {
                    break;
                }
                assert!(Instant::now() < deadline, "never DRAINING");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            for t in &tasks {
                ecs.stop_task()
                    .cluster(CLUSTER)
                    .task(t)
                    .send()
                    .await
                    .unwrap();
            }
            *stopped_at.lock().unwrap() = Some(Instant::now());
        })
    };
    rig.autoscaling()
        .set_desired_capacity()
        .auto_scaling_group_name("ecs-leave")
        .desired_capacity(0)
        .send()
        .await
        .unwrap();
    let out = tool.run(&args);
    let ended = Instant::now();
    assert!(out.status.success(), "{}", describe(&out));
    let r = json(&out);
    assert_eq!(r["result"], "left", "{r}");
    assert_eq!(r["drained"], true);
    agent.await.unwrap();
    let stopped = stopped_at
        .lock()
        .unwrap()
        .expect("the stand-in stopped the tasks");
    assert!(stopped < ended, "deregistered before the tasks stopped");
    let left = ecs
        .list_container_instances()
        .cluster(CLUSTER)
        .send()
        .await
        .unwrap();
    assert!(left.container_instance_arns().is_empty(), "{left:?}");
    let described = ecs
        .describe_tasks()
        .cluster(CLUSTER)
        .set_tasks(Some(tasks))
        .send()
        .await
        .unwrap();
    for t in described.tasks() {
        assert_eq!(t.last_status(), Some("STOPPED"));
    }
    // Again (after a crash): nothing registered, nothing done.
    let out = tool.run(&args);
    assert_eq!(json(&out)["result"], "not-registered", "{}", describe(&out));
}

/// `leave` SIGKILLed before and after each of its AWS calls (a host with
/// no tasks left, scaled in) and run again: the rerun ends the host
/// deregistered — `left`, or `not-registered` when the kill came after
/// the deregistration — and no other container instance is touched.
#[tokio::test]
async fn a_leave_killed_at_every_call_and_rerun_ends_deregistered() {
    let dir = temp_dir("ecs-leave-kill");
    let rig = Rig::start();
    let ecs = rig.ecs();
    // A bystander that must stay registered throughout.
    let bystander = rig.instance(json!({}));
    rig.control(
        "/_rig/ecs_register",
        json!({ "cluster": CLUSTER, "instance_id": bystander.id }),
    );
    let args = [
        "leave",
        "--cluster",
        CLUSTER,
        "--output",
        "json",
        "--timeout",
        "60",
    ];
    // (moto ignores ListContainerInstances' filter: each is described.)
    let registered = |id: String| {
        let ecs = ecs.clone();
        async move {
            let arns = ecs
                .list_container_instances()
                .cluster(CLUSTER)
                .send()
                .await
                .unwrap()
                .container_instance_arns()
                .to_vec();
            if arns.is_empty() {
                return 0;
            }
            ecs.describe_container_instances()
                .cluster(CLUSTER)
                .set_container_instances(Some(arns))
                .send()
                .await
                .unwrap()
                .container_instances()
                .iter()
                .filter(|c| c.ec2_instance_id() == Some(id.as_str()))
                .count()
        }
    };
    let round = |name: String| {
        let rig = &rig;
        let dir = dir.path().join(&name);
        async move {
            let inst = rig
                .asg(json!({
                    "name": name, "size": 1,
                    "termination_hook": {"name": "drain", "timeout": 300},
                }))
                .remove(0);
            rig.control(
                "/_rig/ecs_register",
                json!({ "cluster": CLUSTER, "instance_id": inst.id }),
            );
            rig.autoscaling()
                .set_desired_capacity()
                .auto_scaling_group_name(&name)
                .desired_capacity(0)
                .send()
                .await
                .unwrap();
            std::fs::create_dir_all(&dir).unwrap();
            let tool = Tool::new(BIN, rig, &inst, &dir);
            (inst, tool)
        }
    };
    let (_, probe) = round("ecs-kill-probe".into()).await;
    rig.calls(true);
    let out = probe.run(&args);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(json(&out)["result"], "left");
    let calls = rig.calls(true).0.len();
    assert!(calls >= 3, "{calls}");
    for k in 0..calls {
        for fault in ["kill_before", "kill_after"] {
            let (inst, tool) = round(format!("ecs-kill-{k}-{fault}")).await;
            let child = tool.spawn_stopped(&args);
            rig.faults(json!([{ "skip": k, "times": 1, "fault": fault, "pid": child.id() }]));
            rig::tool::resume(&child);
            let out = child.wait_with_output().unwrap();
            rig.faults(json!([]));
            assert!(!out.status.success(), "{fault} at {k}: {}", describe(&out));
            let out = tool.run(&args);
            assert!(out.status.success(), "{fault} at {k}: {}", describe(&out));
            let r = json(&out);
            assert!(
                r["result"] == "left" || r["result"] == "not-registered",
                "{fault} at {k}: {r}"
            );
            assert_eq!(registered(inst.id.clone()).await, 0, "{fault} at {k}");
            assert_eq!(registered(bystander.id.clone()).await, 1, "{fault} at {k}");
        }
    }
}
