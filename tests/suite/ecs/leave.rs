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
