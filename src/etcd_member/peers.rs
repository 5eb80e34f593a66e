//! etcd-member-prepare's peers: the instances carrying the cluster tag.
//!
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
    ec2: &aws_sdk_ec2::Client,
    tag_key: &str,
    cluster: &str,
    extra: &[String],
) -> Result<Vec<Peer>> {
    let mut filters = vec![
        FilterSpec::tag(tag_key, cluster),
        FilterSpec::new("instance-state-name", ["pending", "running"]),
    ];
    filters.extend(filter::parse_all(extra)?);
    describe_peers(session, ec2, &filters, &format!("tag:{tag_key}={cluster}")).await
}

/// Instances matching `filters`, this instance always among them, oldest
/// first (ties by ID): one paginated DescribeInstances.
async fn describe_peers(
    session: &Session,
    ec2: &aws_sdk_ec2::Client,
    filters: &[FilterSpec],
    what: &str,
) -> Result<Vec<Peer>> {
    let mut pages = ec2
        .describe_instances()
        .set_filters(Some(filters.iter().map(FilterSpec::to_ec2).collect()))
        .into_paginator()
        .send();
    let mut peers = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::new("DescribeInstances", what, e))?;
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

/// This instance's Auto Scaling group: its name, desired capacity, and the
/// IDs of its instances that are not leaving it.
#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub desired: usize,
    pub instance_ids: Vec<String>,
}

pub async fn my_group(session: &Session) -> Result<Group> {
    let asg = aws_sdk_autoscaling::Client::new(&session.aws.sdk_config);
    let me = session.instance_id();
    let name = crate::aws::asg::group_of_session(&asg, session)
        .await?
        .ok_or_else(|| {
            crate::exit::bad_input(format!(
                "{me} is not in an Auto Scaling group; use --peers tag"
            ))
        })?;
    let g = crate::aws::asg::describe_group(&asg, &name).await?;
    Ok(Group {
        instance_ids: g
            .members
            .iter()
            .filter(|m| !m.departing())
            .map(|m| m.instance_id.clone())
            .collect(),
        desired: g.desired,
        name,
    })
}

/// The group's pending and running instances, in the same order as
/// [`discover`].
pub async fn discover_group(
    session: &Session,
    ec2: &aws_sdk_ec2::Client,
    group: &Group,
    extra: &[String],
) -> Result<Vec<Peer>> {
    let mut filters = vec![
        FilterSpec::new("instance-id", group.instance_ids.clone()),
        FilterSpec::new("instance-state-name", ["pending", "running"]),
    ];
    filters.extend(filter::parse_all(extra)?);
    describe_peers(session, ec2, &filters, &format!("group {}", group.name)).await
}
