//! ecs-node-guard's local probes: the docker root and the ECS agent.
//!
//! Is this container host healthy? Local facts only — the docker root's
//! bytes and inodes, and whether the ECS agent says it is registered —
//! so that a healthy check costs no AWS call.

use anyhow::{anyhow, Result};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
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
///
/// A docker root that does not exist is bad input (the flag, or docker is
/// not installed): the guard cannot look, which says nothing of the disk.
pub fn disk_use(path: &Path) -> Result<DiskUse> {
    let st = match rustix::fs::statvfs(path) {
        Ok(st) => st,
        Err(e) if e == rustix::io::Errno::NOENT || e == rustix::io::Errno::NOTDIR => {
            return Err(crate::exit::bad_input(format!(
                "the docker root {} does not exist (check --docker-root)",
                path.display()
            )))
        }
        Err(e) => {
            return Err(
                anyhow!(e).context(format!("cannot statvfs the docker root {}", path.display()))
            )
        }
    };
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

/// The agent's introspection endpoint, checked once: `http://HOST:PORT/PATH`
/// on this host's loopback (the agent serves it there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntrospectionUrl {
    url: String,
    addr: SocketAddr,
    hostport: String,
    path: String,
}

impl IntrospectionUrl {
    /// Bad input when `url` is not plain http, names no port-bearing host,
    /// does not resolve, or is not on the loopback: a guard that cannot ask
    /// its own agent must say so, not conclude the agent is down.
    pub fn parse(url: &str) -> Result<IntrospectionUrl> {
        let bad = |why: &str| {
            crate::exit::bad_input(format!(
                "--introspection-url {url:?} {why} (expected http://localhost:51678/v1/metadata)"
            ))
        };
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| bad("is not an http:// URL"))?;
        let (hostport, path) = match rest.split_once('/') {
            Some((h, p)) => (h, format!("/{p}")),
            None => (rest, "/".to_string()),
        };
        if hostport.is_empty() || hostport.contains(char::is_whitespace) {
            return Err(bad("names no host"));
        }
        let with_port = if hostport
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            hostport.to_string()
        } else {
            format!("{hostport}:80")
        };
        let addr = with_port
            .to_socket_addrs()
            .map_err(|e| bad(&format!("does not resolve ({e})")))?
            .next()
            .ok_or_else(|| bad("has no address"))?;
        if !addr.ip().is_loopback() {
            return Err(bad(&format!(
                "is not on this host's loopback ({}): the guard asks the agent of its own host",
                addr.ip()
            )));
        }
        Ok(IntrospectionUrl {
            url: url.to_string(),
            addr,
            hostport: hostport.to_string(),
            path,
        })
    }
}

impl std::fmt::Display for IntrospectionUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

/// What asking the agent observed.
#[derive(Debug, Clone)]
pub enum AgentProbe {
    /// The agent answered with its metadata.
    Answered(AgentMetadata),
    /// The agent is down or broken: the connection was refused, reset or
    /// timed out, or it answered a server error. What the guard exists to
    /// catch.
    Down(String),
}

impl AgentProbe {
    pub fn registered(&self) -> bool {
        matches!(self, AgentProbe::Answered(m) if m.registered())
    }

    pub fn metadata(&self) -> Option<&AgentMetadata> {
        match self {
            AgentProbe::Answered(m) => Some(m),
            AgentProbe::Down(_) => None,
        }
    }
}

/// A failure of the connection that shows the agent is not serving: the
/// observation "down", not a failure to ask.
fn agent_down(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused
            | ConnectionReset
            | ConnectionAborted
            | BrokenPipe
            | TimedOut
            | WouldBlock
            | UnexpectedEof
    )
}

/// GET the agent's metadata (plain http on the loopback, as the agent
/// serves it): a bounded, minimal HTTP/1.0 exchange. `Ok` is an
/// observation (answered, or down); `Err` means the guard could not ask —
/// the URL answers something that is not the agent's introspection API
/// (bad input: check the URL), or this host refused the socket itself.
pub fn agent_metadata(url: &IntrospectionUrl, timeout: Duration) -> Result<AgentProbe> {
    let down = |what: &str, e: std::io::Error| -> Result<AgentProbe> {
        if agent_down(&e) {
            Ok(AgentProbe::Down(format!(
                "the ECS agent does not answer at {url}: {what}: {e}"
            )))
        } else {
            Err(anyhow!(e).context(format!("cannot ask the ECS agent at {url}: {what}")))
        }
    };
    let not_the_agent = |why: String| -> Result<AgentProbe> {
        Err(crate::exit::bad_input(format!(
            "{url} {why}: not the ECS agent's introspection endpoint (check --introspection-url)"
        )))
    };
    let mut stream = match TcpStream::connect_timeout(&url.addr, timeout) {
        Ok(s) => s,
        Err(e) => return down("connect", e),
    };
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    // One write: a request in pieces may be answered and closed before
    // the server read it all, and then the close resets the connection.
    let request = format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\n\r\n",
        url.path, url.hostport
    );
    if let Err(e) = stream.write_all(request.as_bytes()) {
        return down("send", e);
    }
    let mut answer = Vec::new();
    if let Err(e) = stream.take(1 << 20).read_to_end(&mut answer) {
        return down("read", e);
    }
    if answer.is_empty() {
        return Ok(AgentProbe::Down(format!(
            "the ECS agent at {url} closed the connection without an answer"
        )));
    }
    let answer = String::from_utf8_lossy(&answer);
    let Some((head, body)) = answer.split_once("\r\n\r\n") else {
        return not_the_agent("answered something that is not HTTP".into());
    };
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    match status {
        200 => match serde_json::from_str(body) {
            Ok(m) => Ok(AgentProbe::Answered(m)),
            Err(e) => not_the_agent(format!(
                "answered JSON that is not the agent's metadata ({e})"
            )),
        },
        500..=599 => Ok(AgentProbe::Down(format!(
            "the ECS agent at {url} answered HTTP {status}"
        ))),
        _ => not_the_agent(format!("answered HTTP {status}")),
    }
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

    fn probe(answer: &'static str) -> Result<AgentProbe> {
        let url = IntrospectionUrl::parse(&serve_once(answer)).unwrap();
        agent_metadata(&url, Duration::from_secs(5))
    }

    #[test]
    fn reads_the_agents_metadata() {
        let p = probe("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"Cluster\":\"prod\",\"ContainerInstanceArn\":\"arn:aws:ecs:us-east-1:1:container-instance/prod/abc\",\"Version\":\"x\"}").unwrap();
        assert!(p.registered());
        assert_eq!(p.metadata().unwrap().cluster.as_deref(), Some("prod"));
        let p = probe("HTTP/1.0 200 OK\r\n\r\n{\"Cluster\":\"prod\"}").unwrap();
        assert!(matches!(p, AgentProbe::Answered(_)) && !p.registered());
    }

    /// Issue 19, defect 1: what is an observation of the agent and what
    /// means the guard could not ask it.
    #[test]
    fn an_agent_that_is_down_is_told_from_a_url_that_is_wrong() {
        // Observations: a server error, a refused connection.
        assert!(matches!(
            probe("HTTP/1.0 503 Unavailable\r\n\r\n"),
            Ok(AgentProbe::Down(_))
        ));
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let closed =
            IntrospectionUrl::parse(&format!("http://127.0.0.1:{port}/v1/metadata")).unwrap();
        assert!(matches!(
            agent_metadata(&closed, Duration::from_secs(1)),
            Ok(AgentProbe::Down(_))
        ));
        // Could not ask: something else answers there.
        for answer in [
            "HTTP/1.0 404 Not Found\r\n\r\n",
            "HTTP/1.0 200 OK\r\n\r\n<html>hello</html>",
            "SSH-2.0-OpenSSH_9.2\r\n",
        ] {
            let err = probe(answer).unwrap_err();
            assert_eq!(
                crate::exit::code_for(&err),
                crate::exit::Code::BadInput,
                "{answer}: {err:#}"
            );
        }
        // Could not ask: the URL itself (the typo of the issue).
        for bad in [
            "htp://127.0.0.1:51678/v1/metadata",
            "http:///v1/metadata",
            "http://10.0.0.1:51678/v1/metadata",
            "https://localhost:51678/v1/metadata",
        ] {
            let err = IntrospectionUrl::parse(bad).unwrap_err();
            assert_eq!(
                crate::exit::code_for(&err),
                crate::exit::Code::BadInput,
                "{bad}"
            );
            assert!(format!("{err:#}").contains(bad), "{err:#}");
        }
        assert!(IntrospectionUrl::parse("http://localhost:51678/v1/metadata").is_ok());
    }

    #[test]
    fn a_missing_docker_root_is_bad_input() {
        let err = disk_use(Path::new("/nonexistent/docker")).unwrap_err();
        assert_eq!(crate::exit::code_for(&err), crate::exit::Code::BadInput);
    }

    #[test]
    fn disk_use_of_root_is_a_percentage() {
        let d = disk_use(Path::new("/")).unwrap();
        assert!((0.0..=100.0).contains(&d.bytes_percent));
        assert!((0.0..=100.0).contains(&d.inodes_percent));
    }
}
