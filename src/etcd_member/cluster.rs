//! The etcd v3 member API, through etcd-client.

use super::Options;
use crate::exit::bad_input;
use anyhow::{Context, Result};
use etcd_client::{Certificate, Client, ConnectOptions, Identity, MemberAddOptions, TlsOptions};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    pub id: u64,
    /// Empty while an added member has not started.
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
    pub is_learner: bool,
}

pub struct Cluster {
    client: Client,
    tls: Option<TlsOptions>,
}

fn options(tls: Option<TlsOptions>) -> ConnectOptions {
    let mut o = ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(2))
        .with_timeout(Duration::from_secs(5));
    if let Some(t) = tls {
        o = o.with_tls(t);
    }
    o
}

/// TLS for the member API from --cacert/--cert/--key.
pub fn tls_options(o: &Options) -> Result<Option<TlsOptions>> {
    let read = |p: &std::path::PathBuf| {
        std::fs::read(p)
            .with_context(|| format!("cannot read {}", p.display()))
            .map_err(|e| bad_input(format!("{e:#}")))
    };
    let mut tls = match &o.cacert {
        Some(ca) => TlsOptions::new().ca_certificate(Certificate::from_pem(read(ca)?)),
        None if o.cert.is_some() || o.client_scheme == super::Scheme::Https => TlsOptions::new(),
        None => return Ok(None),
    };
    match (&o.cert, &o.key) {
        (Some(c), Some(k)) => tls = tls.identity(Identity::from_pem(read(c)?, read(k)?)),
        (None, None) => {}
        _ => return Err(bad_input("--cert and --key go together")),
    }
    Ok(Some(tls))
}

impl Cluster {
    /// A cluster answering on any of `endpoints`, if one does. Each
    /// endpoint is probed on its own (concurrently); the client then uses
    /// only those that answered, so a peer whose etcd is not up (another
    /// instance joining right now) never receives a request.
    pub async fn find(endpoints: &[String], tls: Option<TlsOptions>) -> Option<Cluster> {
        let mut probes = tokio::task::JoinSet::new();
        for url in endpoints {
            let (url, tls) = (url.clone(), tls.clone());
            probes.spawn(async move {
                let mut c = Client::connect([url.clone()], Some(options(tls)))
                    .await
                    .ok()?;
                c.member_list().await.ok().map(|_| url)
            });
        }
        let mut alive = Vec::new();
        while let Some(done) = probes.join_next().await {
            if let Ok(Some(url)) = done {
                alive.push(url);
            }
        }
        if alive.is_empty() {
            log::debug!("no etcd answers at {endpoints:?}");
            return None;
        }
        alive.sort();
        let client = Client::connect(alive.clone(), Some(options(tls.clone())))
            .await
            .ok()?;
        log::info!("etcd answers at {alive:?}");
        Some(Cluster { client, tls })
    }

    // etcd-client's Client is a cheap handle; each call clones it so that
    // a Cluster can be shared by retry closures.
    pub async fn members(&self) -> Result<Vec<MemberInfo>> {
        let resp = self
            .client
            .clone()
            .member_list()
            .await
            .context("etcd member list")?;
        Ok(resp.members().iter().map(info).collect())
    }

    pub async fn add(&self, peer_url: &str, learner: bool) -> Result<Vec<MemberInfo>> {
        let opts = learner.then(|| MemberAddOptions::new().with_is_learner());
        let resp = self
            .client
            .clone()
            .member_add([peer_url.to_string()], opts)
            .await
            .with_context(|| format!("etcd member add {peer_url}"))?;
        log::info!(
            "added member {:x} for {peer_url}{}",
            resp.member().map(|m| m.id()).unwrap_or(0),
            if learner { " as a learner" } else { "" }
        );
        Ok(resp.member_list().iter().map(info).collect())
    }

    /// Remove member `id`, retrying a request that timed out (a leader
    /// election, a slow commit) until the member is gone.
    pub async fn remove_until_gone(&self, id: u64, deadline: &crate::wait::Deadline) -> Result<()> {
        deadline
            .poll(
                format!("etcd to remove member {id:x}"),
                std::time::Duration::from_millis(500),
                std::time::Duration::from_secs(2),
                || async {
                    if !self.members().await?.iter().any(|m| m.id == id) {
                        return Ok(Some(()));
                    }
                    match self.remove(id).await {
                        Ok(()) => Ok(Some(())),
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

    pub async fn remove(&self, id: u64) -> Result<()> {
        self.client
            .clone()
            .member_remove(id)
            .await
            .with_context(|| format!("etcd member remove {id:x}"))?;
        Ok(())
    }

    pub async fn promote(&self, id: u64) -> Result<()> {
        self.client
            .clone()
            .member_promote(id)
            .await
            .with_context(|| format!("etcd member promote {id:x}"))?;
        Ok(())
    }

    /// How many voting members answer a status request on their own
    /// client URLs.
    pub async fn healthy_voting(&self, members: &[MemberInfo]) -> usize {
        let mut healthy = 0;
        for m in members.iter().filter(|m| !m.is_learner) {
            if m.client_urls.is_empty() {
                continue;
            }
            let Ok(mut c) =
                Client::connect(m.client_urls.clone(), Some(options(self.tls.clone()))).await
            else {
                continue;
            };
            if c.status().await.is_ok() {
                healthy += 1;
            }
        }
        healthy
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
