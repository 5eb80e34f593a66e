//! mooring-leave against the rig's Auto Scaling termination hooks: IMDS
//! only while the group keeps the instance; on scale-in the steps run,
//! the hook is heartbeaten while they do, and the action is completed
//! once — also when rerun after a kill, and when the steps outlast the
//! budget.

mod iam;

use rig::tool::{describe, json, Tool};
use rig::{temp_dir, Rig, SimInstance};
use serde_json::json;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_mooring-leave");

/// One instance in a group with a termination hook of `timeout` seconds.
pub struct Group {
    pub inst: SimInstance,
    pub tool: Tool,
    pub rig: Rig,
    pub name: String,
    pub dir: tempfile::TempDir,
}

impl Group {
    pub fn new(name: &str, timeout: u64) -> Group {
        let rig = Rig::start();
        let inst = rig
            .asg(json!({
                "name": name, "size": 1, "tags": {"mooring-leave": "true"},
                "termination_hook": {"name": "drain", "timeout": timeout},
            }))
            .remove(0);
        let dir = temp_dir("leave");
        let tool = Tool::new(BIN, &rig, &inst, dir.path());
        Group {
            inst,
            tool,
            rig,
            name: name.into(),
            dir,
        }
    }

    /// Scale the group in to 0: this instance waits in Terminating:Wait.
    pub async fn scale_in(&self) {
        self.rig
            .autoscaling()
            .set_desired_capacity()
            .auto_scaling_group_name(&self.name)
            .desired_capacity(0)
            .send()
            .await
            .unwrap();
        let (waiting, _) = self.rig.lifecycle();
        assert_eq!(waiting, vec![self.inst.id.clone()]);
    }

    pub fn watch(&self, budget: u64, steps: &[&str]) -> std::process::Output {
        let mut args = vec!["watch", "--output", "json"];
        let budget = budget.to_string();
        args.extend(["--timeout", &budget, "--"]);
        args.extend(steps);
        self.tool.run(&args)
    }

    /// How the instance's wait ended (CONTINUE, timeout, ...), if it did.
    pub fn ended(&self) -> Option<String> {
        self.rig.lifecycle().1.get(&self.inst.id).cloned()
    }

    pub async fn instance_state(&self) -> String {
        let ec2 = self.rig.ec2().await;
        let out = ec2
            .describe_instances()
            .instance_ids(&self.inst.id)
            .send()
            .await
            .unwrap();
        out.reservations()[0].instances()[0]
            .state()
            .unwrap()
            .name()
            .unwrap()
            .as_str()
            .to_string()
    }
}

/// While the group keeps the instance: one IMDS read per watch (a token
/// and the state), no AWS call, the steps not run.
#[tokio::test]
async fn in_service_the_watch_reads_imds_only() {
    let g = Group::new("leave-idle", 60);
    let marker = g.dir.path().join("steps-ran");
    g.rig.calls(true);
    g.rig.imds_requests(&g.inst, true);
    for _ in 0..3 {
        let out = g.watch(30, &["touch", marker.to_str().unwrap()]);
        assert!(out.status.success(), "{}", describe(&out));
        let r = json(&out);
        assert_eq!(r["decision"], "stay", "{r}");
        assert_eq!(r["target_state"], "InService");
    }
    assert!(!marker.exists(), "the steps ran while in service");
    assert!(
        g.rig.calls(false).0.is_empty(),
        "AWS calls while in service"
    );
    let imds = g.rig.imds_requests(&g.inst, false);
    assert_eq!(imds.len(), 6, "{imds:?}");
}

/// Scale-in: the steps run (heartbeating a hook of 9 s while they take
/// 12 s: without the heartbeats the wait would time out), the action is
/// completed, the instance terminated; a later watch of the same boot
/// does nothing.
#[tokio::test]
async fn on_scale_in_the_steps_run_and_the_action_completes_once() {
    let g = Group::new("leave-once", 9);
    g.scale_in().await;
    let marker = g.dir.path().join("steps-ran");
    let script = format!("sleep 12; echo ran >> {}", marker.display());
    let out = g.watch(60, &["sh", "-c", &script]);
    assert!(out.status.success(), "{}", describe(&out));
    let r = json(&out);
    assert_eq!(r["decision"], "leave", "{r}");
    assert_eq!(r["steps"]["exit_code"], 0, "{r}");
    assert!(r["steps"]["heartbeats"].as_u64().unwrap() >= 1, "{r}");
    assert_eq!(r["completed"], "now", "{r}");
    assert_eq!(r["hook"], "drain");
    assert_eq!(g.ended().as_deref(), Some("CONTINUE"));
    assert_eq!(g.instance_state().await, "terminated");
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "ran\n");
    // Metadata still says Terminated until the instance is gone; the
    // record of this boot keeps the steps from running twice.
    let out = g.watch(60, &["sh", "-c", &script]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(json(&out)["decision"], "already-left");
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "ran\n");
}

/// Killed while the steps run, then run again (the timer's next tick):
/// the steps run again, the action is completed once.
#[tokio::test]
async fn killed_during_the_steps_and_rerun_completes_once() {
    let g = Group::new("leave-killed", 60);
    g.scale_in().await;
    let marker = g.dir.path().join("steps");
    let script = format!(
        "echo start >> {m}; sleep 30; echo end >> {m}",
        m = marker.display()
    );
    let mut child = g
        .tool
        .command(&[
            "watch",
            "--output",
            "json",
            "--timeout",
            "60",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&marker)
        .unwrap_or_default()
        .contains("start")
    {
        assert!(Instant::now() < deadline, "the steps never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(g.ended(), None, "completed by a killed run");
    let out = g.watch(
        60,
        &["sh", "-c", &format!("echo again >> {}", marker.display())],
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(json(&out)["completed"], "now");
    assert_eq!(g.ended().as_deref(), Some("CONTINUE"));
}

/// Steps that outlast the budget are ended, and the action is completed
/// anyway: the group's decision wins.
#[tokio::test]
async fn steps_that_outlast_the_budget_are_ended_and_the_action_completed() {
    let g = Group::new("leave-budget", 60);
    g.scale_in().await;
    let started = Instant::now();
    let out = g.watch(8, &["sleep", "60"]);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert!(out.status.success(), "{}", describe(&out));
    let r = json(&out);
    assert!(r["steps"]["exit_code"].is_null(), "{r}");
    assert_eq!(r["completed"], "now");
    assert!(String::from_utf8_lossy(&out.stderr).contains("did not finish within the budget"));
    assert_eq!(g.ended().as_deref(), Some("CONTINUE"));
}

/// Without a hook the group terminates at once: a watch that sees the
/// instance gone from its group runs the steps and has nothing to
/// complete.
#[tokio::test]
async fn without_a_hook_there_is_nothing_to_complete() {
    let rig = Rig::start();
    let inst = rig
        .asg(json!({"name": "leave-nohook", "size": 1}))
        .remove(0);
    let dir = temp_dir("leave");
    let tool = Tool::new(BIN, &rig, &inst, dir.path());
    let out = tool.run(&["watch", "--now", "--output", "json", "--", "true"]);
    assert!(out.status.success(), "{}", describe(&out));
    let r = json(&out);
    assert_eq!(r["decision"], "leave");
    assert!(r.get("completed").is_none(), "{r}");
    assert!(r.get("hook").is_none(), "{r}");
}
