//! Is this container host healthy? Local facts only — the docker root's
//! bytes and inodes, and whether the ECS agent says it is registered —
//! so that a healthy check costs no AWS call.

use anyhow::{anyhow, Context, Result};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Used share of a filesystem's bytes and inodes, in percent.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DiskUse {
    pub bytes_percent: f64,
    pub inodes_percent: f64,
}

/// statvfs of `path`: used / (used + available to unprivileged users), as
/// `df` computes it; inodes used / total.
pub fn disk_use(path: &Path) -> Result<DiskUse> {
    let st = rustix::fs::statvfs(path)
        .with_context(|| format!("cannot statvfs the docker root {}", path.display()))?;
    let used = st.f_blocks.saturating_sub(st.f_bfree);
    let bytes = used as f64 * 100.0 / (used + st.f_bavail).max(1) as f64;
    let inodes = if st.f_files == 0 {
        0.0 // filesystems without an inode limit (btrfs) report none
    } else {
        st.f_files.saturating_sub(st.f_ffree) as f64 * 100.0 / st.f_files as f64
    };
    Ok(DiskUse {
        bytes_percent: bytes,
        inodes_percent: inodes,
    })
}

/// What the agent's introspection endpoint (`/v1/metadata`) says.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct AgentMetadata {
    #[serde(rename = "Cluster", default)]
    pub cluster: Option<String>,
    #[serde(rename = "ContainerInstanceArn", default)]
    pub container_instance_arn: Option<String>,
}

impl AgentMetadata {
    pub fn registered(&self) -> bool {
        self.container_instance_arn
            .as_deref()
            .is_some_and(|a| !a.is_empty())
    }
}

/// GET `url` (plain http on the loopback, as the agent serves it) and
/// parse the agent's metadata. A bounded, minimal HTTP/1.0 exchange: the
/// endpoint is local and its answer small.
pub fn agent_metadata(url: &str, timeout: Duration) -> Result<AgentMetadata> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("introspection URL {url} must be http://HOST:PORT/PATH"))?;
    let (hostport, path) = match rest.split_once('/') {
        Some((h, p)) => (h, format!("/{p}")),
        None => (rest, "/".to_string()),
    };
    let addr = hostport
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {hostport}"))?
        .next()
        .ok_or_else(|| anyhow!("{hostport} has no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("the ECS agent does not answer at {url}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    // One write: a request in pieces may be answered and closed before
    // the server read it all, and then the close resets the connection.
    let request = format!("GET {path} HTTP/1.0\r\nHost: {hostport}\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .with_context(|| format!("cannot ask {url}"))?;
    let mut answer = Vec::new();
    stream
        .take(1 << 20)
        .read_to_end(&mut answer)
        .with_context(|| format!("no answer from {url}"))?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("{url} answered something that is not HTTP"))?;
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        return Err(anyhow!("{url} answered HTTP {status}"));
    }
    serde_json::from_str(body)
        .with_context(|| format!("{url} answered JSON that is not the agent's metadata"))
}

/// What the guard remembers between checks (under the run directory: a
/// reboot starts afresh, as a new boot deserves a new grace period).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// When the first check of this boot ran (Unix seconds).
    pub first_check: u64,
    /// Consecutive failed checks.
    pub failures: u32,
    pub last_failure: Option<String>,
    /// The group was asked to replace this instance.
    pub replacement_requested: bool,
}

impl State {
    /// The state the last check left; `None` on the first check of a boot
    /// (or an unreadable file, which starts afresh as well).
    pub fn load(path: &Path) -> Option<State> {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
    }

    /// The state of a first check at `now`.
    pub fn fresh(now: u64) -> State {
        State {
            first_check: now,
            ..State::default()
        }
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        crate::fsutil::atomic_write(path, &serde_json::to_vec(self)?, 0o644)
    }
}

pub fn state_path(run_dir: &Path) -> PathBuf {
    run_dir.join("ecs-node-guard.json")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn serve_once(answer: &'static str) -> String {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            s.write_all(answer.as_bytes()).unwrap();
        });
        format!("http://127.0.0.1:{port}/v1/metadata")
    }

    #[test]
    fn reads_the_agents_metadata() {
        let url = serve_once("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"Cluster\":\"prod\",\"ContainerInstanceArn\":\"arn:aws:ecs:us-east-1:1:container-instance/prod/abc\",\"Version\":\"x\"}");
        let m = agent_metadata(&url, Duration::from_secs(5)).unwrap();
        assert!(m.registered());
        assert_eq!(m.cluster.as_deref(), Some("prod"));
        let url = serve_once("HTTP/1.0 200 OK\r\n\r\n{\"Cluster\":\"prod\"}");
        assert!(!agent_metadata(&url, Duration::from_secs(5))
            .unwrap()
            .registered());
        let url = serve_once("HTTP/1.0 503 Unavailable\r\n\r\n");
        assert!(agent_metadata(&url, Duration::from_secs(5)).is_err());
    }

    #[test]
    fn disk_use_of_root_is_a_percentage() {
        let d = disk_use(Path::new("/")).unwrap();
        assert!((0.0..=100.0).contains(&d.bytes_percent));
        assert!((0.0..=100.0).contains(&d.inodes_percent));
    }
}
