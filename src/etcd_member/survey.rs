//! Asking etcd peers who answers: a member, silence, or could not ask.
//!
//! Asking a peer has three outcomes, never two: it answered, nothing
//! answered (refused, reset, timed out: the observation "this peer does
//! not answer"), or this instance could not ask (a TLS handshake or
//! certificate failure, an auth error, a reply that is not etcd's). Only
//! the second counts towards "nobody answers"; see [`Answer`].

use super::tls::{connect_options, Tls};
use etcd_client::Client;
use std::time::Duration;

/// How long one probe of one endpoint may take, connect and TLS handshake
/// included (etcd-client's connect timeout does not bound a handshake
/// that never completes).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// A member that answered its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub url: String,
    pub member_id: u64,
    /// 0 while the member knows no leader.
    pub leader: u64,
    pub raft_index: u64,
    pub raft_term: u64,
    pub is_learner: bool,
    /// The key-value store's revision on this member.
    pub revision: i64,
    pub cluster_id: u64,
}

/// What asking one endpoint showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A member answered.
    Member(Status),
    /// Nothing answered there: refused, reset, or timed out.
    Silent(String),
    /// This instance could not ask. `config` when the cause is this
    /// instance's or the peer's configuration (TLS, certificates, auth,
    /// a scheme or port that is not etcd's): asking again will not help.
    CouldNotAsk { why: String, config: bool },
}

/// How a failed request to `url` is to be read.
pub fn classify(url: &str, e: &etcd_client::Error) -> Answer {
    use std::io::ErrorKind::*;
    let silent = |why: String| Answer::Silent(format!("{url}: {why}"));
    let cannot = |why: String, config: bool| Answer::CouldNotAsk {
        why: format!("{url}: {why}"),
        config,
    };
    let status = match e {
        etcd_client::Error::GRpcStatus(s) => s,
        etcd_client::Error::InvalidUri(_) | etcd_client::Error::InvalidArgs(_) => {
            return cannot(e.to_string(), true)
        }
        other => return cannot(other.to_string(), false),
    };
    // The transport's own error, innermost first: an I/O error says what
    // happened on the wire.
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(status);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            let inner = io
                .get_ref()
                .map(|i| i.to_string())
                .unwrap_or_else(|| io.to_string());
            return match io.kind() {
                ConnectionRefused | ConnectionReset | ConnectionAborted | NotConnected
                | TimedOut | HostUnreachable | NetworkUnreachable => silent(inner),
                // rustls: a certificate refused, by either side.
                InvalidData => cannot(
                    format!("TLS: {inner} (check --cacert, --cert, --key)"),
                    true,
                ),
                UnexpectedEof if inner.contains("tls") => cannot(
                    format!("TLS: {inner} (is the peer speaking http? check --client-scheme)"),
                    true,
                ),
                _ => cannot(inner, false),
            };
        }
        source = err.source();
    }
    use tonic::Code;
    match status.code() {
        Code::Unauthenticated | Code::PermissionDenied => cannot(
            format!("etcd refused this client: {}", status.message()),
            true,
        ),
        Code::Unimplemented => cannot(
            format!("not an etcd v3 endpoint: {}", status.message()),
            true,
        ),
        Code::DeadlineExceeded => silent(format!("timed out: {}", status.message())),
        Code::Cancelled if status.message().contains("Timeout expired") => {
            silent("timed out".into())
        }
        _ => cannot(status.message().to_string(), false),
    }
}

/// Ask `url` for its member's status, bounded by [`PROBE_TIMEOUT`].
pub async fn ask(url: &str, tls: Tls) -> Answer {
    let probe = async {
        let mut c = Client::connect([url.to_string()], Some(connect_options(tls)))
            .await
            .map_err(|e| classify(url, &e))?;
        c.status().await.map_err(|e| classify(url, &e))
    };
    match tokio::time::timeout(PROBE_TIMEOUT, probe).await {
        Err(_) => Answer::Silent(format!(
            "{url}: no answer within {} s",
            PROBE_TIMEOUT.as_secs()
        )),
        Ok(Err(failed)) => failed,
        Ok(Ok(s)) => Answer::Member(Status {
            url: url.to_string(),
            member_id: s.header().map(|h| h.member_id()).unwrap_or(0),
            leader: s.leader(),
            raft_index: s.raft_index(),
            raft_term: s.raft_term(),
            is_learner: s.is_learner(),
            revision: s.header().map(|h| h.revision()).unwrap_or(0),
            cluster_id: s.header().map(|h| h.cluster_id()).unwrap_or(0),
        }),
    }
}

/// Every endpoint asked at once.
#[derive(Debug, Clone, Default)]
pub struct Survey {
    pub answers: Vec<(String, Answer)>,
}

impl Survey {
    pub async fn of(endpoints: &[String], tls: Tls) -> Survey {
        let mut probes = tokio::task::JoinSet::new();
        for url in endpoints {
            let (url, tls) = (url.clone(), tls.clone());
            probes.spawn(async move {
                let answer = ask(&url, tls).await;
                (url, answer)
            });
        }
        let mut answers = Vec::new();
        while let Some(done) = probes.join_next().await {
            if let Ok(a) = done {
                answers.push(a);
            }
        }
        answers.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, a) in &answers {
            match a {
                Answer::Member(s) => log::debug!("etcd answers at {}", s.url),
                Answer::Silent(why) => log::debug!("no answer: {why}"),
                Answer::CouldNotAsk { why, .. } => log::warn!("could not ask etcd: {why}"),
            }
        }
        Survey { answers }
    }

    /// The members that answered, in URL order.
    pub fn answering(&self) -> Vec<&Status> {
        self.answers
            .iter()
            .filter_map(|(_, a)| match a {
                Answer::Member(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    /// Why each endpoint that could not be asked could not; whether every
    /// one of those is a matter of configuration.
    pub fn could_not_ask(&self) -> (Vec<String>, bool) {
        let mut why = Vec::new();
        let mut all_config = true;
        for (_, a) in &self.answers {
            if let Answer::CouldNotAsk { why: w, config } = a {
                why.push(w.clone());
                all_config &= *config;
            }
        }
        (why, all_config)
    }
}

/// Wait, within `deadline`, until the member at `url` no longer answers
/// (etcd stopping after a removal or a `systemctl stop`); whether it
/// stopped.
pub async fn wait_stopped(url: &str, tls: Tls, deadline: &crate::wait::Deadline) -> bool {
    deadline
        .poll(
            format!("the local etcd at {url} to stop"),
            Duration::from_millis(300),
            Duration::from_secs(1),
            || async {
                let mine = Survey::of(&[url.to_string()], tls.clone()).await;
                Ok(mine.answering().is_empty().then_some(()))
            },
        )
        .await
        .is_ok()
}
