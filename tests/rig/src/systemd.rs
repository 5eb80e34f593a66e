//! A real systemd manager for tests: `systemd --user`, verified units.
//!
//! A real systemd manager for tests: `systemd --user` in a private mount
//! namespace where /run/systemd/system is faked (so it believes systemd is
//! the init system). Never PID 1, never a system manager: that would move
//! every process of the machine into its cgroup.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// Sandboxing settings this machine's kernel sandbox refuses under any
/// manager (`systemd-run -p ProtectKernelTunables=yes /bin/true` exits
/// 226/NAMESPACE: its read-only /proc/sys and /dev/kmsg cannot be set up
/// here), turned off in a test's drop-in so that the rest of a unit's
/// sandbox runs as shipped. A real host (the VM tier's guest) takes them.
pub const REFUSED_HERE: &str = "ProtectKernelTunables=no\nProtectKernelLogs=no\n";

pub struct UserManager {
    /// One manager at a time in this process: managers started by one
    /// process share its cgroup, so units of one name share a cgroup, and
    /// a manager that exits kills what runs in the other's app.slice.
    _turn: std::sync::MutexGuard<'static, ()>,
    child: Child,
    pub dir: PathBuf,
    pub runtime_dir: PathBuf,
    /// Where unit files go ($XDG_CONFIG_HOME/systemd/user).
    pub unit_dir: PathBuf,
}

impl UserManager {
    pub fn start() -> UserManager {
        Self::start_with(&[])
    }

    /// Start with `binaries` ((name, path) pairs) visible as /usr/bin/NAME
    /// inside the manager's namespace (an overlay: the host's /usr/bin is
    /// untouched), so that units run verbatim.
    pub fn start_with(binaries: &[(&str, &Path)]) -> UserManager {
        Self::start_in(None, binaries)
    }

    /// As [`UserManager::start_with`], inside network namespace `netns`
    /// (a simulated instance's), so that its services see that instance's
    /// interfaces.
    pub fn start_in(netns: Option<&str>, binaries: &[(&str, &Path)]) -> UserManager {
        Self::start_full(netns, binaries, false)
    }

    /// As [`UserManager::start_with`], with a real systemd-journald in the
    /// manager's namespace (its own /run): the services' output goes to
    /// the journal through its stream socket, `JOURNAL_STREAM` set, as
    /// under a booted system. Read it with [`UserManager::journal`].
    pub fn start_with_journal(binaries: &[(&str, &Path)]) -> UserManager {
        Self::start_full(None, binaries, true)
    }

    fn start_full(netns: Option<&str>, binaries: &[(&str, &Path)], journal: bool) -> UserManager {
        super::require_root();
        static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let turn = TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let dir = super::unique_dir("systemd");
        let runtime_dir = dir.join("runtime");
        let unit_dir = dir.join("config/systemd/user");
        std::fs::create_dir_all(&runtime_dir).unwrap();
        std::fs::create_dir_all(&unit_dir).unwrap();
        // Readiness comes through sd_notify, not by polling for a socket.
        let notify_path = dir.join("notify");
        let notify = UnixDatagram::bind(&notify_path).expect("notify socket");
        notify
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let overlay = overlay_script(&dir, binaries);
        // journald binds its sockets itself when not socket-activated; the
        // manager connects services to it only if they exist when it starts.
        // Not told the manager's NOTIFY_SOCKET: its READY=1 is not the
        // manager's.
        let journald = if journal {
            format!(
                "mkdir -p /run/systemd/journal && (env -u NOTIFY_SOCKET /lib/systemd/systemd-journald </dev/null >/dev/null 2>&1 & echo $! > {}) && \
                 i=0; while [ ! -S /run/systemd/journal/stdout ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; ",
                dir.join("journald.pid").display()
            )
        } else {
            String::new()
        };
        let mut command = match netns {
            Some(ns) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net=/run/netns/{ns}"))
                    .arg("--")
                    .arg("unshare");
                c
            }
            None => Command::new("unshare"),
        };
        let child = command
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(format!(
                "{overlay}mount -t tmpfs mooring-test-run /run && mkdir -p /run/systemd/system && {journald}exec systemd --user"
            ))
            .env("XDG_RUNTIME_DIR", &runtime_dir)
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .env("HOME", &dir)
            .env("NOTIFY_SOCKET", &notify_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start systemd --user (is systemd installed?)");
        let mut manager = UserManager {
            _turn: turn,
            child,
            dir,
            runtime_dir,
            unit_dir,
        };
        let mut buf = [0u8; 4096];
        loop {
            match notify.recv(&mut buf) {
                Ok(n)
                    if String::from_utf8_lossy(&buf[..n])
                        .lines()
                        .any(|l| l == "READY=1") =>
                {
                    break
                }
                Ok(_) => continue,
                Err(e) => {
                    manager.stop();
                    panic!("systemd --user did not report READY=1 within 60 s: {e}");
                }
            }
        }
        manager
    }

    /// `systemctl --user ARGS` against this manager.
    pub fn systemctl(&self, args: &[&str]) -> Output {
        Command::new("systemctl")
            .arg("--user")
            .args(args)
            .env("XDG_RUNTIME_DIR", &self.runtime_dir)
            // enable/disable edit the manager's unit directory themselves.
            .env("XDG_CONFIG_HOME", self.dir.join("config"))
            .output()
            .expect("cannot run systemctl")
    }

    /// `systemctl --user enable UNIT`, which must succeed (its [Install]
    /// links, e.g. RequiredBy=, made as on a system).
    pub fn enable_ok(&self, unit: &str) {
        let out = self.systemctl(&["enable", unit]);
        assert!(
            out.status.success(),
            "enable {unit}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Write a unit (or `name.d/file.conf` drop-in) and reload.
    pub fn install(&self, name: &str, text: &str) {
        let path = self.unit_dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        let out = self.systemctl(&["daemon-reload"]);
        assert!(
            out.status.success(),
            "daemon-reload: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Mooring's leave units as the package ships them: mooring-leave.target,
    /// mooring-leave.service (its watch stopping the target through this
    /// manager, `systemctl --user`) and the tools' `step_units`, with the
    /// simulated instance's environment `env` (`Environment=` lines) in
    /// each.
    pub fn install_leave_units(&self, step_units: &[&str], env: &str) {
        for unit in ["mooring-leave.target", "mooring-leave.service"]
            .iter()
            .chain(step_units)
        {
            let text = std::fs::read_to_string(crate::repo_root().join("units").join(unit))
                .unwrap_or_else(|e| panic!("units/{unit}: {e}"));
            self.install(unit, &text);
        }
        self.install(
            "mooring-leave.service.d/test.conf",
            &format!(
                "[Service]\n{env}Environment=\"MOORING_LEAVE_ARGS=-- systemctl --user stop mooring-leave.target\"\n"
            ),
        );
    }

    /// Start `unit`, which must succeed; `status_of`'s status is shown
    /// when it does not.
    pub fn start_ok(&self, unit: &str, status_of: &str) {
        let out = self.systemctl(&["start", unit]);
        assert!(
            out.status.success(),
            "{unit}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&self.systemctl(&["status", status_of]).stdout)
        );
    }

    /// A property of a unit (`systemctl show -p NAME --value`).
    pub fn property(&self, unit: &str, name: &str) -> String {
        let out = self.systemctl(&["show", unit, "-p", name, "--value"]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Start `unit`, whose Mooring pre-command is set up to fail: the start
    /// must fail and the unit end `failed` (the callers check that the
    /// service itself never ran).
    pub fn assert_start_fails(&self, unit: &str) {
        let out = self.systemctl(&["start", unit]);
        let status =
            String::from_utf8_lossy(&self.systemctl(&["status", unit]).stdout).into_owned();
        assert!(!out.status.success(), "{unit} started: {status}");
        assert_eq!(
            self.property(unit, "ActiveState"),
            "failed",
            "{unit} is not failed: {status}"
        );
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Make directory `path` in the manager's mount namespace (its own
    /// /run, say), where a system manager's RuntimeDirectory= would.
    pub fn mkdir_inside(&self, path: &str) {
        let out = Command::new("nsenter")
            .arg(format!("--mount=/proc/{}/ns/mnt", self.child.id()))
            .args(["mkdir", "-p", path])
            .output()
            .expect("cannot run nsenter");
        assert!(
            out.status.success(),
            "mkdir {path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The journal's entries matching `matches` (`FIELD=value`), as
    /// `journalctl -o json` prints them, read inside the manager's mount
    /// namespace (the journal is in its /run). Needs
    /// [`UserManager::start_with_journal`].
    pub fn journal(&self, matches: &[&str]) -> Vec<serde_json::Value> {
        let out = Command::new("nsenter")
            .arg(format!("--mount=/proc/{}/ns/mnt", self.child.id()))
            .args([
                "journalctl",
                "-D",
                "/run/log/journal",
                "--no-pager",
                "-o",
                "json",
            ])
            .args(matches)
            .output()
            .expect("cannot run journalctl");
        assert!(
            out.status.success(),
            "journalctl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("journalctl -o json line"))
            .collect()
    }

    fn stop(&mut self) {
        use rustix::process::{kill_process, Pid, Signal};
        // The manager is the child itself (unshare and sh exec into it);
        // until it is reaped its PID cannot be reused, so killing by PID
        // is safe.
        let pid = Pid::from_child(&self.child);
        let _ = kill_process(pid, Signal::TERM);
        let (done, timeout) = std::sync::mpsc::channel::<()>();
        let killer = std::thread::spawn(move || {
            if timeout.recv_timeout(Duration::from_secs(30)).is_err() {
                let _ = kill_process(pid, Signal::KILL);
            }
        });
        let _ = self.child.wait();
        let _ = done.send(());
        let _ = killer.join();
        // The journald this manager's namespace ran, by the PID it wrote,
        // if that PID is still a journald (not one reused since).
        if let Ok(text) = std::fs::read_to_string(self.dir.join("journald.pid")) {
            if let Ok(n) = text.trim().parse::<i32>() {
                let comm = std::fs::read_to_string(format!("/proc/{n}/comm")).unwrap_or_default();
                if let (true, Some(pid)) = (comm.starts_with("systemd-journal"), Pid::from_raw(n)) {
                    let _ = kill_process(pid, Signal::TERM);
                }
            }
        }
    }
}

impl Drop for UserManager {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Shell commands that overlay /usr/bin (in the current mount namespace)
/// with `binaries`, staged under `dir`.
fn overlay_script(dir: &Path, binaries: &[(&str, &Path)]) -> String {
    if binaries.is_empty() {
        return String::new();
    }
    let up = dir.join("usr-bin-up");
    let work = dir.join("usr-bin-work");
    std::fs::create_dir_all(&up).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    for (name, path) in binaries {
        std::fs::copy(path, up.join(name)).unwrap();
    }
    format!(
        "mount -t overlay mooring-test-bin -o lowerdir=/usr/bin,upperdir={},workdir={} /usr/bin && ",
        up.display(),
        work.display()
    )
}

/// `systemd-analyze verify` of unit files as they are in the repository
/// ((name in the unit directory, source) pairs),
/// with `binaries` present at /usr/bin; returns stderr, which must be empty
/// (verify reports bad keys there and still exits 0). `names` are the units
/// to verify (template instances such as `x@scratch.service`).
pub fn verify(
    unit_files: &[(&str, PathBuf)],
    names: &[&str],
    binaries: &[(&str, &Path)],
) -> String {
    super::require_root();
    let dir = super::temp_dir("verify");
    let units = dir.path().join("units");
    std::fs::create_dir_all(&units).unwrap();
    for (name, source) in unit_files {
        let dest = units.join(name);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(source, &dest).unwrap();
    }
    let overlay = overlay_script(dir.path(), binaries);
    // The man pages of Documentation=man:… are installed by the package,
    // not here: verify_installed checks that they resolve.
    run_verify(
        &format!("{}:", units.display()),
        &units,
        names,
        &overlay,
        &["--man=no"],
    )
}

/// `systemd-analyze verify` of units as installed on this machine: the
/// unit path is `dirs` (stand-ins for services the machine lacks first,
/// then e.g. /usr/lib/systemd/system), nothing else. Returns stderr.
pub fn verify_installed(dirs: &[&Path], names: &[&str]) -> String {
    let path: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    run_verify(&path.join(":"), dirs[0], names, "", &[])
}

fn run_verify(
    unit_path: &str,
    cwd: &Path,
    names: &[&str],
    overlay: &str,
    options: &[&str],
) -> String {
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "{overlay}cd {} && exec systemd-analyze verify \"$@\"",
            cwd.display()
        ))
        .arg("verify")
        .args(options)
        .args(names)
        .env("SYSTEMD_UNIT_PATH", unit_path)
        .output()
        .expect("cannot run systemd-analyze");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "systemd-analyze verify failed: {stderr}"
    );
    stderr
}
