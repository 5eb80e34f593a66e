//! Running a real Mooring binary as a simulated instance would.
//!
//! Running a real Mooring binary as a simulated instance would: its AWS
//! endpoint is the rig's fault proxy, its IMDS the instance's own server,
//! its credentials come from that IMDS, its devices from the instance's
//! device directories, and its run/state files from a directory of the
//! test's own.

use super::{Rig, SimInstance};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// A tool bound to one simulated instance.
pub struct Tool {
    pub bin: PathBuf,
    pub env: Vec<(String, String)>,
    pub base: PathBuf,
    /// The instance's network namespace, if it has one: the tool runs
    /// there (nsenter execs it, so its PID is the tool's).
    pub netns: Option<String>,
}

/// AWS variables that must not leak from the caller into a tool under test.
const SCRUBBED: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
];

impl Tool {
    /// `base` holds the tool's run and state directories.
    pub fn new(bin: &str, rig: &Rig, inst: &SimInstance, base: &Path) -> Tool {
        let mut env = rig.tool_env(inst);
        env.extend([
            (
                "MOORING_RUN_DIR".to_string(),
                base.join("run").display().to_string(),
            ),
            (
                "MOORING_SYS_BLOCK_DIR".to_string(),
                inst.sys_block_dir.display().to_string(),
            ),
            (
                "MOORING_DEV_DIR".to_string(),
                inst.dev_dir.display().to_string(),
            ),
            (
                "MOORING_BY_ID_DIR".to_string(),
                inst.by_id_dir.display().to_string(),
            ),
            // Fewer attempts than production, so that a test of a fault
            // that outlasts the retries ends quickly.
            ("AWS_MAX_ATTEMPTS".to_string(), "4".to_string()),
        ]);
        Tool {
            bin: PathBuf::from(bin),
            env,
            base: base.to_path_buf(),
            netns: inst.netns.clone(),
        }
    }

    /// The program and leading arguments that start the tool.
    fn argv0(&self) -> (PathBuf, Vec<std::ffi::OsString>) {
        match &self.netns {
            Some(ns) => (
                PathBuf::from("nsenter"),
                vec![
                    format!("--net=/run/netns/{ns}").into(),
                    "--".into(),
                    self.bin.clone().into(),
                ],
            ),
            None => (self.bin.clone(), Vec::new()),
        }
    }

    /// The tool's environment as `Environment=` lines, for a unit drop-in.
    pub fn systemd_environment(&self) -> String {
        self.env
            .iter()
            .map(|(k, v)| format!("Environment=\"{k}={v}\"\n"))
            .collect()
    }

    pub fn with_env(mut self, key: &str, value: impl Into<String>) -> Tool {
        self.env.push((key.to_string(), value.into()));
        self
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let (program, lead) = self.argv0();
        let mut cmd = Command::new(program);
        cmd.args(lead).args(args);
        for k in SCRUBBED {
            cmd.env_remove(k);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Run to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("cannot run the tool")
    }

    /// Run to completion, with owned arguments.
    pub fn run_owned(&self, args: &[String]) -> Output {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(&refs)
    }

    /// Start the tool stopped (SIGSTOP before exec), so that a test can
    /// arm a fault for its PID before it makes any call; `resume` it then.
    pub fn spawn_stopped(&self, args: &[&str]) -> Child {
        let (program, lead) = self.argv0();
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg("kill -STOP $$; exec \"$0\" \"$@\"")
            .arg(program)
            .args(lead)
            .args(args);
        for k in SCRUBBED {
            cmd.env_remove(k);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        let child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start the tool");
        wait_stopped(child.id());
        child
    }
}

impl Tool {
    /// Run to completion, but no longer than `limit`: a run still going
    /// then is killed (by its PID) and the test fails, naming `what`.
    pub fn run_within(&self, args: &[String], limit: Duration, what: &str) -> Output {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = self
            .command(&refs)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start the tool");
        let started = std::time::Instant::now();
        while child.try_wait().expect("tool status").is_none() {
            if started.elapsed() > limit {
                let _ = child.kill();
                let out = child.wait_with_output().expect("tool output");
                panic!("{what}: still running after {limit:?}: {}", describe(&out));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.wait_with_output().expect("tool output")
    }
}

/// `base` then `extra`, owned.
pub fn arg_list(base: &[&str], extra: &[&str]) -> Vec<String> {
    base.iter().chain(extra).map(|s| s.to_string()).collect()
}

/// Run every (tool, args) at the same time; their outputs, in order.
pub fn run_all(runs: &[(&Tool, Vec<String>)]) -> Vec<Output> {
    let children: Vec<Child> = runs
        .iter()
        .map(|(tool, args)| {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            tool.command(&refs)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("cannot start the tool")
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().expect("tool output"))
        .collect()
}

/// Wait (bounded) until `pid` is stopped.
fn wait_stopped(pid: u32) {
    let stat = format!("/proc/{pid}/stat");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&stat).unwrap_or_default();
        // The state follows the command name's closing parenthesis.
        if let Some(rest) = text.rsplit_once(')').map(|(_, r)| r.trim_start()) {
            if rest.starts_with('T') {
                return;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "process {pid} never stopped"
        );
        std::thread::yield_now();
    }
}

pub fn resume(child: &Child) {
    rustix::process::kill_process(
        rustix::process::Pid::from_child(child),
        rustix::process::Signal::CONT,
    )
    .expect("SIGCONT");
}

/// stdout, stderr and the exit code, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", describe(out)))
}
