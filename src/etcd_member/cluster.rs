//! The etcd member API on one member, the pinned one.
//!
//! Membership is read and changed on one member, the leader when it
//! answers (the pinned member). A list is read after a linearizable read
//! on that member, so it holds every change committed before; and a
//! change's own answer carries the list as the member that made it
//! applied it. A list asked of whichever member answers first may lag a
//! removal and show the removed member again.

use super::survey::Survey;
use super::tls::{connect_options, Tls, REQUEST_TIMEOUT};
use anyhow::{anyhow, Context, Result};
use etcd_client::{Client, MemberAddOptions};
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
        let client = Client::connect([leader.url.clone()], Some(connect_options(tls.clone())))
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

    /// The member list as the pinned member holds it, without the
    /// linearizable read first: all there is when the cluster has lost
    /// its quorum (etcd 3.4 answers a member list from its own store).
    pub async fn members_local(&self) -> Result<Vec<MemberInfo>> {
        let mut c = self.client.clone();
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

    /// The status of each of `members` that answers (asked at once, each
    /// bounded).
    pub async fn statuses(&self, members: &[MemberInfo]) -> Vec<super::survey::Status> {
        Survey::of(&client_urls(members), self.tls.clone())
            .await
            .answering()
            .into_iter()
            .cloned()
            .collect()
    }

    /// Hand leadership to member `to` (asked of the pinned member, which
    /// must be the leader).
    pub async fn move_leader(&self, to: u64) -> Result<()> {
        timed(
            &self.url,
            &format!("move leader to {to:x}"),
            self.client.clone().move_leader(to),
        )
        .await?;
        Ok(())
    }

    /// Say in the cluster that member `id` is leaving (a key on a lease
    /// of [`LEAVING_TTL`]), so that no other leaver hands it leadership.
    pub async fn announce_leaving(&self, id: u64) -> Result<()> {
        let mut c = self.client.clone();
        let lease = timed(&self.url, "lease grant", c.lease_grant(LEAVING_TTL, None))
            .await?
            .id();
        let put = etcd_client::PutOptions::new().with_lease(lease);
        timed(
            &self.url,
            "put of the leaving record",
            c.put(format!("{LEAVING_PREFIX}{id:x}"), "", Some(put)),
        )
        .await?;
        Ok(())
    }

    /// The members that announced they are leaving.
    pub async fn leaving(&self) -> Result<Vec<u64>> {
        let opts = etcd_client::GetOptions::new()
            .with_prefix()
            .with_keys_only();
        let resp = timed(
            &self.url,
            "get of the leaving records",
            self.client.clone().get(LEAVING_PREFIX, Some(opts)),
        )
        .await?;
        Ok(resp
            .kvs()
            .iter()
            .filter_map(|kv| {
                kv.key_str()
                    .ok()?
                    .strip_prefix(LEAVING_PREFIX)
                    .map(str::to_string)
            })
            .filter_map(|hex| u64::from_str_radix(&hex, 16).ok())
            .collect())
    }

    /// Wait for the cluster-wide turn of leavers: a key created only if
    /// absent (one transaction), on a lease of [`TURN_TTL`] that ends the
    /// turn, also for a leaver removed while holding it. Asked again every
    /// 500 ms within `deadline`.
    pub async fn take_turn(&self, who: &str, deadline: &crate::wait::Deadline) -> Result<()> {
        use etcd_client::{Compare, CompareOp, PutOptions, Txn, TxnOp};
        deadline
            .poll(
                "the turn to leave (etcd key mooring/leave-turn)",
                Duration::from_millis(500),
                Duration::from_millis(500),
                || async {
                    let mut c = self.client.clone();
                    let lease = timed(&self.url, "lease grant", c.lease_grant(TURN_TTL, None))
                        .await?
                        .id();
                    let txn = Txn::new()
                        .when([Compare::create_revision(TURN_KEY, CompareOp::Equal, 0)])
                        .and_then([TxnOp::put(
                            TURN_KEY,
                            who,
                            Some(PutOptions::new().with_lease(lease)),
                        )]);
                    let resp = match timed(&self.url, "turn transaction", c.txn(txn)).await {
                        Ok(r) => r,
                        Err(e) if is_transient(&e) => {
                            log::info!("{e:#}; asking again");
                            return Ok(None);
                        }
                        Err(e) => return Err(e),
                    };
                    if resp.succeeded() {
                        return Ok(Some(()));
                    }
                    let _ = c.lease_revoke(lease).await;
                    // This leaver's own turn, from an earlier pass, holds.
                    let holder = timed(&self.url, "get of the turn", c.get(TURN_KEY, None)).await?;
                    let mine = holder
                        .kvs()
                        .first()
                        .is_some_and(|kv| kv.value() == who.as_bytes());
                    Ok(mine.then_some(()))
                },
            )
            .await
    }

    /// How many voting members answer a status request on their own
    /// client URLs (asked at once, each bounded). A member this instance
    /// could not ask does not count as healthy.
    pub async fn healthy_voting(&self, members: &[MemberInfo]) -> usize {
        let urls = client_urls(members.iter().filter(|m| !m.is_learner));
        Survey::of(&urls, self.tls.clone()).await.answering().len()
    }
}

/// Where each member is asked: its first client URL (a member added but
/// never started has none).
pub fn client_urls<'a>(members: impl IntoIterator<Item = &'a MemberInfo>) -> Vec<String> {
    members
        .into_iter()
        .filter_map(|m| m.client_urls.first().cloned())
        .collect()
}

/// How long a leaver's turn lasts at most (seconds).
pub const TURN_TTL: i64 = 10;

/// The key of the leavers' turn.
const TURN_KEY: &str = "mooring/leave-turn";

/// Where leavers say they are leaving, and for how long it holds (s).
const LEAVING_PREFIX: &str = "mooring/leaving/";
pub const LEAVING_TTL: i64 = 300;

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
        "proposal dropped",
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
