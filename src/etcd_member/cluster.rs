//! The etcd v3 API, through etcd-client: who answers, and the member API
//! on one member.
//!
//! Asking a peer has three outcomes, never two: it answered, nothing
//! answered (refused, reset, timed out: the observation "this peer does
//! not answer"), or this instance could not ask (a TLS handshake or
//! certificate failure, an auth error, a reply that is not etcd's). Only
//! the second counts towards "nobody answers"; see [`Answer`].
//!
//! Membership is read and changed on one member, the leader when it
//! answers (the pinned member). A list is read after a linearizable read
//! on that member, so it holds every change committed before; and a
//! change's own answer carries the list as the member that made it
//! applied it. A list asked of whichever member answers first may lag a
//! removal and show the removed member again.

use super::Options;
use crate::exit::bad_input;
use anyhow::{anyhow, Context, Result};
use etcd_client::{Certificate, Client, ConnectOptions, Identity, MemberAddOptions, TlsOptions};
use std::time::Duration;

/// How long one probe of one endpoint may take, connect and TLS handshake
/// included (etcd-client's connect timeout does not bound a handshake
/// that never completes).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long one member API request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    pub id: u64,
    /// Empty while an added member has not started.
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
    pub is_learner: bool,
}

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

fn options(tls: Tls) -> ConnectOptions {
    let mut o = ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(2))
        .with_timeout(REQUEST_TIMEOUT);
    if let Some(t) = tls {
        o = o.with_tls(t);
    }
    o
}

/// Read a PEM file that must hold `what` (checked now: a wrong path or a
/// file of the wrong kind is bad input before any request).
fn read_pem(path: &std::path::Path, flag: &str, what: PemKind) -> Result<Vec<u8>> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bytes = std::fs::read(path)
        .map_err(|e| bad_input(format!("{flag} {}: cannot read it: {e}", path.display())))?;
    let ok = match what {
        PemKind::Certificates => CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .is_ok_and(|certs| !certs.is_empty()),
        PemKind::PrivateKey => PrivateKeyDer::from_pem_slice(&bytes).is_ok(),
    };
    if !ok {
        return Err(bad_input(format!(
            "{flag} {}: holds no PEM {}",
            path.display(),
            match what {
                PemKind::Certificates => "certificate",
                PemKind::PrivateKey => "private key",
            }
        )));
    }
    Ok(bytes)
}

#[derive(Clone, Copy)]
enum PemKind {
    Certificates,
    PrivateKey,
}

/// TLS for the member API, if it speaks https.
pub type Tls = Option<TlsOptions>;

/// TLS for the member API from --cacert/--cert/--key, the files checked.
pub fn tls_options(o: &Options) -> Result<Tls> {
    let mut tls = match &o.cacert {
        Some(ca) => TlsOptions::new().ca_certificate(Certificate::from_pem(read_pem(
            ca,
            "--cacert",
            PemKind::Certificates,
        )?)),
        None if o.cert.is_some() || o.client_scheme == super::Scheme::Https => TlsOptions::new(),
        None => return Ok(None),
    };
    match (&o.cert, &o.key) {
        (Some(c), Some(k)) => {
            tls = tls.identity(Identity::from_pem(
                read_pem(c, "--cert", PemKind::Certificates)?,
                read_pem(k, "--key", PemKind::PrivateKey)?,
            ))
        }
        (None, None) => {}
        _ => return Err(bad_input("--cert and --key go together")),
    }
    Ok(Some(tls))
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
        let mut c = Client::connect([url.to_string()], Some(options(tls)))
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

/// The member API on one member: the leader, if it answered, else the
/// first that answered.
pub struct Cluster {
    pub url: String,
    client: Client,
    tls: Tls,
}

impl Cluster {
    /// The cluster behind `survey`'s answers; `None` when none answered.
    pub async fn pin(survey: &Survey, tls: Tls) -> Result<Option<Cluster>> {
        // A learner refuses the member API: the leader, else a voting
        // member, else (all learners: nothing will work) the first.
        let answering = survey.answering();
        let Some(first) = answering.first() else {
            return Ok(None);
        };
        let leader = answering
            .iter()
            .find(|s| s.leader != 0 && s.member_id == s.leader)
            .or_else(|| answering.iter().find(|s| !s.is_learner))
            .unwrap_or(first);
        let client = Client::connect([leader.url.clone()], Some(options(tls.clone())))
            .await
            .with_context(|| format!("etcd at {}", leader.url))?;
        log::info!(
            "etcd answers at {} (asking {})",
            answering
                .iter()
                .map(|s| s.url.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            leader.url
        );
        Ok(Some(Cluster {
            url: leader.url.clone(),
            client,
            tls,
        }))
    }

    /// The member list, holding every change committed before this call:
    /// a linearizable read on the pinned member first (it fails without a
    /// quorum: then nobody can tell the list for sure).
    pub async fn members(&self) -> Result<Vec<MemberInfo>> {
        let mut c = self.client.clone();
        let read = etcd_client::GetOptions::new().with_count_only();
        timed(
            &self.url,
            "linearizable read",
            c.get("mooring/linearize", Some(read)),
        )
        .await?;
        let resp = timed(&self.url, "member list", c.member_list()).await?;
        Ok(resp.members().iter().map(info).collect())
    }

    /// Add `peer_url`; the member list as its answer gives it.
    pub async fn add(&self, peer_url: &str, learner: bool) -> Result<Vec<MemberInfo>> {
        let opts = learner.then(|| MemberAddOptions::new().with_is_learner());
        let resp = timed(
            &self.url,
            &format!("member add {peer_url}"),
            self.client.clone().member_add([peer_url.to_string()], opts),
        )
        .await?;
        log::info!(
            "added member {:x} for {peer_url}{}",
            resp.member().map(|m| m.id()).unwrap_or(0),
            if learner { " as a learner" } else { "" }
        );
        Ok(resp.member_list().iter().map(info).collect())
    }

    /// Remove member `id`, asking again while etcd refuses for now (a
    /// leader election, a slow commit); the member list as the removal's
    /// answer gives it. A member already gone (an earlier attempt whose
    /// answer was lost) is a success.
    pub async fn remove(
        &self,
        id: u64,
        deadline: &crate::wait::Deadline,
    ) -> Result<Vec<MemberInfo>> {
        deadline
            .poll(
                format!("etcd to remove member {id:x}"),
                Duration::from_millis(500),
                Duration::from_secs(2),
                || async {
                    let asked = timed(
                        &self.url,
                        &format!("member remove {id:x}"),
                        self.client.clone().member_remove(id),
                    )
                    .await;
                    match asked {
                        Ok(resp) => Ok(Some(resp.members().iter().map(info).collect())),
                        Err(e) if format!("{e:#}").contains("member not found") => {
                            Ok(Some(self.members().await?))
                        }
                        Err(e) if is_transient(&e) => {
                            log::info!("{e:#}; retrying");
                            Ok(None)
                        }
                        Err(e) => Err(e),
                    }
                },
            )
            .await
    }

    pub async fn promote(&self, id: u64) -> Result<()> {
        timed(
            &self.url,
            &format!("member promote {id:x}"),
            self.client.clone().member_promote(id),
        )
        .await?;
        Ok(())
    }

    /// How many voting members answer a status request on their own
    /// client URLs (asked at once, each bounded). A member this instance
    /// could not ask does not count as healthy.
    pub async fn healthy_voting(&self, members: &[MemberInfo]) -> usize {
        let urls: Vec<String> = members
            .iter()
            .filter(|m| !m.is_learner)
            .filter_map(|m| m.client_urls.first().cloned())
            .collect();
        Survey::of(&urls, self.tls.clone()).await.answering().len()
    }
}

/// `call` on `url`, bounded by the request timeout, its error naming what
/// was asked where.
async fn timed<T>(
    url: &str,
    what: &str,
    call: impl std::future::Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T> {
    match tokio::time::timeout(REQUEST_TIMEOUT + Duration::from_secs(1), call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(anyhow!("etcd {what} at {url}: {e}")),
        Err(_) => Err(anyhow!("etcd {what} at {url}: timed out")),
    }
}

fn info(m: &etcd_client::Member) -> MemberInfo {
    MemberInfo {
        id: m.id(),
        name: m.name().to_string(),
        peer_urls: m.peer_urls().to_vec(),
        client_urls: m.client_urls().to_vec(),
        is_learner: m.is_learner(),
    }
}

/// Refusals that pass: etcd 3.4 refuses reconfiguration for about 5 s
/// after start and while members are unstarted, allows one learner at a
/// time, and promotes a learner only once it is in sync.
pub fn is_transient(e: &anyhow::Error) -> bool {
    let text = format!("{e:#}").to_lowercase();
    [
        "unhealthy cluster",
        "not enough started members",
        "too many learner",
        "in sync with leader",
        "leader changed",
        "no leader",
        "unavailable",
        "deadline",
        "timed out",
        "timeout",
    ]
    .iter()
    .any(|s| text.contains(s))
        || text.contains("learner") && text.contains("not ready")
}
