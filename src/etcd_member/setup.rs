//! What every etcd-member-prepare command starts from.
//!
//! What every etcd-member-prepare command starts from: this instance, its
//! cluster's name and size, how peers are addressed, the run's deadline.

use super::decide::{Candidate, Me};
use super::options::{Options, PeerSource, Scheme};
use super::peers::{self, Peer};
use crate::aws::Session;
use crate::cli::CommonArgs;
use crate::exit::bad_input;
use crate::wait::Deadline;
use anyhow::{anyhow, Result};

/// What every command of a run knows: the instance, its cluster, how
/// peers are addressed, the run's deadline.
pub struct Setup {
    pub session: Session,
    pub me: Me,
    pub cluster_name: String,
    /// The Auto Scaling group, with --peers asg.
    pub group: Option<peers::Group>,
    pub initial_size: usize,
    pub peer_scheme: Scheme,
    pub client_scheme: Scheme,
    pub deadline: Deadline,
}

/// What a command that speaks only to the local member needs (tidy): the
/// instance, how members are addressed, the deadline. No Auto Scaling or
/// EC2 call: tidy runs on a timer on every member.
pub struct Local {
    pub session: Session,
    pub me: Me,
    pub peer_scheme: Scheme,
    pub client_scheme: Scheme,
    pub deadline: Deadline,
}

pub async fn setup_local(common: &CommonArgs, o: &Options) -> Result<Local> {
    let deadline = Deadline::after(common.timeout());
    let session = Session::within(common.region.clone(), &deadline).await?;
    let id = &session.identity;
    let (mut peer_scheme, mut client_scheme) = (o.peer_scheme, o.client_scheme);
    if let Some(tag) = &o.scheme_tag {
        match session.tag(tag).await?.as_deref() {
            Some("https") => (peer_scheme, client_scheme) = (Scheme::Https, Scheme::Https),
            Some("http") => (peer_scheme, client_scheme) = (Scheme::Http, Scheme::Http),
            Some(other) => {
                return Err(bad_input(format!(
                    "tag {tag} is {other:?}; expected http or https"
                )))
            }
            None => {}
        }
    }
    let ip = id
        .private_ipv4
        .clone()
        .ok_or_else(|| anyhow!("{} has no private IPv4 address", id.instance_id))?;
    let me = Me {
        name: id.instance_id.clone(),
        peer_url: format!("{}://{ip}:{}", peer_scheme.as_str(), o.peer_port),
        client_url: format!("{}://{ip}:{}", client_scheme.as_str(), o.client_port),
    };
    Ok(Local {
        session,
        me,
        peer_scheme,
        client_scheme,
        deadline,
    })
}

pub async fn setup(common: &CommonArgs, o: &Options) -> Result<Setup> {
    let Local {
        session,
        me,
        peer_scheme,
        client_scheme,
        deadline,
    } = setup_local(common, o).await?;
    let group = match o.peers {
        PeerSource::Asg => Some(peers::my_group(&session).await?),
        PeerSource::Tag => None,
    };
    let cluster_name = match (&o.cluster, &group) {
        (Some(c), _) => c.clone(),
        (None, Some(g)) => g.name.clone(),
        (None, None) => tagged_cluster(&session, o).await?,
    };
    let initial_size = o
        .initial_size
        .or(group.as_ref().map(|g| g.desired))
        .unwrap_or(3);
    if initial_size == 0 {
        return Err(bad_input("the initial cluster size must be at least 1"));
    }
    validate_cluster_name(&cluster_name)?;
    Ok(Setup {
        session,
        me,
        cluster_name,
        group,
        initial_size,
        peer_scheme,
        client_scheme,
        deadline,
    })
}

/// The cluster's name without the peers: --cluster, else the group's name
/// (--peers asg: one Auto Scaling call unless metadata tags name it), else
/// the cluster tag (instance metadata).
pub async fn cluster_name(session: &Session, o: &Options) -> Result<String> {
    let name = match (&o.cluster, o.peers) {
        (Some(c), _) => c.clone(),
        (None, PeerSource::Asg) => {
            let asg = aws_sdk_autoscaling::Client::new(&session.aws.sdk_config);
            crate::aws::asg::group_of_session(&asg, session)
                .await?
                .ok_or_else(|| {
                    bad_input(format!(
                        "{} is not in an Auto Scaling group; pass --cluster",
                        session.instance_id()
                    ))
                })?
        }
        (None, PeerSource::Tag) => tagged_cluster(session, o).await?,
    };
    validate_cluster_name(&name)?;
    Ok(name)
}

async fn tagged_cluster(session: &Session, o: &Options) -> Result<String> {
    session.tag(&o.cluster_tag).await?.ok_or_else(|| {
        bad_input(format!(
            "{} has no tag {} in its instance metadata (are instance-metadata tags on?); pass --cluster",
            session.instance_id(),
            o.cluster_tag
        ))
    })
}

/// The cluster name ends up in filters and the cluster token: printable
/// ASCII without spaces or commas (which a filter value cannot hold).
fn validate_cluster_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name.chars().all(|c| c.is_ascii_graphic() && c != ',');
    if ok {
        Ok(())
    } else {
        Err(bad_input(format!(
            "cluster name {name:?} must be 1-128 printable ASCII characters without spaces or commas"
        )))
    }
}

impl Setup {
    /// The peers, by tag or from the group (one DescribeInstances).
    pub async fn discover(&self, o: &Options) -> Result<Vec<Peer>> {
        self.discover_with(self.session.ec2(), o).await
    }

    /// The first look of an instance that is not a member yet: when the
    /// whole group boots, EC2 may throttle the tail of it; such a look
    /// waits a time of its own instead of the SDK's backoff (see
    /// crate::turn).
    pub async fn first_discover(&self, o: &Options) -> Result<Vec<Peer>> {
        let look = |ec2: aws_sdk_ec2::Client| async move { self.discover_with(&ec2, o).await };
        crate::turn::first_look(
            &self.session.aws,
            &self.me.name,
            look,
            crate::turn::wait_unranked(&self.me.name),
        )
        .await
    }

    async fn discover_with(&self, ec2: &aws_sdk_ec2::Client, o: &Options) -> Result<Vec<Peer>> {
        match &self.group {
            Some(g) => peers::discover_group(&self.session, ec2, g, &o.filters).await,
            None => {
                peers::discover(
                    &self.session,
                    ec2,
                    &o.cluster_tag,
                    &self.cluster_name,
                    &o.filters,
                )
                .await
            }
        }
    }

    /// Client URLs of every peer but this instance.
    pub fn others(&self, peers: &[Peer], o: &Options) -> Vec<String> {
        peers
            .iter()
            .filter(|p| p.instance_id != self.me.name)
            .map(|p| self.client_url(p, o))
            .collect()
    }

    /// The visible peers as members would be named and addressed.
    pub fn candidates(&self, peers: &[Peer], o: &Options) -> Vec<Candidate> {
        peers
            .iter()
            .map(|p| Candidate {
                name: p.instance_id.clone(),
                peer_url: self.peer_url(p, o),
            })
            .collect()
    }

    fn peer_url(&self, p: &Peer, o: &Options) -> String {
        format!(
            "{}://{}:{}",
            self.peer_scheme.as_str(),
            p.private_ip,
            o.peer_port
        )
    }

    pub fn client_url(&self, p: &Peer, o: &Options) -> String {
        format!(
            "{}://{}:{}",
            self.client_scheme.as_str(),
            p.private_ip,
            o.client_port
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_names() {
        assert!(validate_cluster_name("prod-etcd_1").is_ok());
        for bad in ["", "a b", "a,b", "x\n", "é"] {
            assert!(validate_cluster_name(bad).is_err(), "{bad:?}");
        }
    }
}
