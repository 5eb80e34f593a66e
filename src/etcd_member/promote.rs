//! `etcd-member-prepare promote`: a caught-up learner becomes a voter.
//!
//! `etcd-member-prepare promote` (ExecStartPost= of etcd.service): this
//! member, if a learner, becomes a voting member once it has caught up.

use super::cluster::{self, Cluster};
use super::options::Options;
use super::setup::setup;
use super::survey::Survey;
use super::tls;
use crate::cli::{CommonArgs, Report};
use anyhow::{anyhow, Result};
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub struct PromoteReport {
    pub name: String,
    /// promoted, already-voting (would-promote: a dry run)
    pub result: String,
}

impl Report for PromoteReport {
    fn text(&self) -> String {
        format!("{}: {}", self.name, self.result)
    }
}

pub async fn promote(common: &CommonArgs, o: &Options) -> Result<PromoteReport> {
    let tls = tls::tls_options(o)?;
    let s = setup(common, o).await?;
    // Every peer is asked, this one too: the member API goes to the
    // leader (a learner refuses it).
    let peers = s.discover(o).await?;
    let all: Vec<String> = peers.iter().map(|p| s.client_url(p, o)).collect();
    let survey = Survey::of(&all, tls.clone()).await;
    let c = Cluster::pin(&survey, tls).await?.ok_or_else(|| {
        let (why, _) = survey.could_not_ask();
        anyhow!(
            "no member of cluster {} answers at {}{}",
            s.cluster_name,
            all.join(", "),
            if why.is_empty() {
                String::new()
            } else {
                format!(" (could not ask: {})", why.join("; "))
            }
        )
    })?;
    let members = c.members().await?;
    let me = members
        .iter()
        .find(|m| m.peer_urls.contains(&s.me.peer_url))
        .ok_or_else(|| anyhow!("{} is not a member of the cluster", s.me.name))?
        .clone();
    let result = if !me.is_learner {
        "already-voting"
    } else if common.dry_run {
        "would-promote"
    } else {
        s.deadline
            .poll(
                format!("learner {} to catch up", s.me.name),
                Duration::from_millis(500),
                Duration::from_secs(2),
                || async {
                    match c.promote(me.id).await {
                        Ok(()) => Ok(Some(())),
                        Err(e) if cluster::is_transient(&e) => Ok(None),
                        Err(e) => Err(e),
                    }
                },
            )
            .await?;
        log::info!("promoted {} to a voting member", s.me.name);
        "promoted"
    };
    Ok(PromoteReport {
        name: s.me.name,
        result: result.into(),
    })
}
