//! Who the peers are: instances carrying the cluster tag, from one
//! paginated DescribeInstances (no call per peer), and whether an
//! instance is proven gone.

use crate::aws::filter::{self, FilterSpec};
use crate::aws::{AwsError, Session};
use anyhow::Result;
use std::time::SystemTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub instance_id: String,
    pub private_ip: String,
    pub launch_time: Option<SystemTime>,
}

/// Pending and running instances of the cluster, oldest first (ties by
/// ID), so that every instance computes the same order.
pub async fn discover(
    session: &Session,
    tag_key: &str,
    cluster: &str,
    extra: &[String],
) -> Result<Vec<Peer>> {
    let mut filters = vec![
        FilterSpec::tag(tag_key, cluster),
        FilterSpec::new("instance-state-name", ["pending", "running"]),
    ];
    filters.extend(filter::parse_all(extra)?);
    let mut pages = session
        .ec2()
        .describe_instances()
        .set_filters(Some(filters.iter().map(FilterSpec::to_ec2).collect()))
        .into_paginator()
        .send();
    let mut peers = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            AwsError::new("DescribeInstances", format!("tag:{tag_key}={cluster}"), e)
        })?;
        for i in page.reservations().iter().flat_map(|r| r.instances()) {
            let (Some(id), Some(ip)) = (i.instance_id(), i.private_ip_address()) else {
                continue;
            };
            peers.push(Peer {
                instance_id: id.to_string(),
                private_ip: ip.to_string(),
                launch_time: i.launch_time().and_then(|t| SystemTime::try_from(*t).ok()),
            });
        }
    }
    let me = &session.identity;
    if !peers.iter().any(|p| p.instance_id == me.instance_id) {
        // EC2's lists are eventually consistent; this instance exists.
        if let Some(ip) = &me.private_ipv4 {
            peers.push(Peer {
                instance_id: me.instance_id.clone(),
                private_ip: ip.clone(),
                launch_time: None,
            });
        }
    }
    peers.sort_by(|a, b| {
        (a.launch_time.is_none(), a.launch_time, &a.instance_id).cmp(&(
            b.launch_time.is_none(),
            b.launch_time,
            &b.instance_id,
        ))
    });
    Ok(peers)
}

/// The IDs among `ids` whose instances are gone: terminated, shutting
/// down, or unknown to EC2. Absence from a filtered list proves nothing
/// (eventual consistency); this asks about each ID.
pub async fn proven_gone(session: &Session, ids: &[String]) -> Result<Vec<String>> {
    let mut gone = Vec::new();
    for id in ids {
        match session
            .ec2()
            .describe_instances()
            .instance_ids(id)
            .send()
            .await
        {
            Ok(out) => {
                let state = out
                    .reservations()
                    .iter()
                    .flat_map(|r| r.instances())
                    .find(|i| i.instance_id() == Some(id))
                    .and_then(|i| i.state()?.name().map(|n| n.as_str().to_string()));
                match state.as_deref() {
                    Some("terminated") | Some("shutting-down") | None => gone.push(id.clone()),
                    _ => {}
                }
            }
            Err(e) if crate::aws::error_code(&e) == Some("InvalidInstanceID.NotFound") => {
                gone.push(id.clone())
            }
            Err(e) => return Err(AwsError::new("DescribeInstances", id.clone(), e).into()),
        }
    }
    Ok(gone)
}
