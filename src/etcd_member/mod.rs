//! etcd-member-prepare: run before etcd.service, decide whether this
//! instance bootstraps a new cluster, joins the existing one, or just
//! restarts its member, and write the environment file etcd reads.
//!
//! - `prepare` (ExecStartPre= of etcd.service): see [`decide`] for the
//!   policy, [`prepare`] for the steps.
//! - `promote` (ExecStartPost=): a learner becomes a voting member once it
//!   has caught up.
//!
//! Peers come from EC2 ([`peers`]); etcd is asked through [`cluster`].

pub mod cluster;
pub mod decide;
pub mod peers;
pub mod prepare;
pub mod promote;

use crate::aws::{AwsOptions, Session};
use crate::cli::{print_report, CommonArgs};
use crate::exit::bad_input;
use crate::wait::Deadline;
use anyhow::{anyhow, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use decide::{Candidate, Me};
use peers::Peer;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "etcd-member-prepare",
    version,
    about = "Bootstrap or join an etcd cluster of EC2 instances found by tag, and write etcd's environment file",
    max_term_width = 80
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decide bootstrap / join / restart and write the env file
    /// (ExecStartPre= of etcd.service).
    Prepare(Options),
    /// Promote this member from learner to voting member once it has caught
    /// up (ExecStartPost= of etcd.service).
    Promote(Options),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// Where the peers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerSource {
    /// Instances carrying the cluster tag.
    Tag,
    /// The instances of this instance's Auto Scaling group; a new cluster
    /// starts with the group's desired capacity.
    Asg,
}

#[derive(Debug, Clone, Args)]
pub struct Options {
    /// Where the peers come from.
    #[arg(long, value_enum, env = "ETCD_PREPARE_PEERS", default_value = "tag")]
    pub peers: PeerSource,

    /// The instance tag that names the cluster.
    #[arg(long, env = "ETCD_PREPARE_CLUSTER_TAG", default_value = "etcd-cluster")]
    pub cluster_tag: String,

    /// The cluster's name [default: this instance's value of --cluster-tag,
    /// from instance-metadata tags].
    #[arg(long, env = "ETCD_PREPARE_CLUSTER")]
    pub cluster: Option<String>,

    /// Extra EC2 filter for peers (repeatable; see the README's filter forms).
    #[arg(long = "filter")]
    pub filters: Vec<String>,

    /// How many members a new cluster starts with: bootstrap waits until
    /// this many peers are visible [default: 3; with --peers asg, the
    /// group's desired capacity].
    #[arg(long, env = "ETCD_PREPARE_INITIAL_SIZE")]
    pub initial_size: Option<usize>,

    /// etcd's data directory (as etcd.service sets ETCD_DATA_DIR).
    #[arg(long, env = "ETCD_DATA_DIR", default_value = "/var/lib/etcd/default")]
    pub data_dir: PathBuf,

    /// Also write ETCD_DATA_DIR into the env file.
    #[arg(long)]
    pub write_data_dir: bool,

    /// The environment file etcd.service reads.
    #[arg(
        long,
        env = "ETCD_PREPARE_ENV_FILE",
        default_value = "/run/mooring/etcd.env"
    )]
    pub env_file: PathBuf,

    #[arg(
        long,
        value_enum,
        env = "ETCD_PREPARE_PEER_SCHEME",
        default_value = "http"
    )]
    pub peer_scheme: Scheme,

    #[arg(
        long,
        value_enum,
        env = "ETCD_PREPARE_CLIENT_SCHEME",
        default_value = "http"
    )]
    pub client_scheme: Scheme,

    /// Instance tag whose value (http or https) overrides both schemes.
    #[arg(long, env = "ETCD_PREPARE_SCHEME_TAG")]
    pub scheme_tag: Option<String>,

    #[arg(long, env = "ETCD_PREPARE_PEER_PORT", default_value_t = 2380)]
    pub peer_port: u16,

    #[arg(long, env = "ETCD_PREPARE_CLIENT_PORT", default_value_t = 2379)]
    pub client_port: u16,

    /// CA certificate (PEM) for the member API over https.
    #[arg(long, env = "ETCD_PREPARE_CACERT")]
    pub cacert: Option<PathBuf>,

    /// Client certificate (PEM) for the member API.
    #[arg(long, env = "ETCD_PREPARE_CERT")]
    pub cert: Option<PathBuf>,

    /// Client key (PEM) for the member API.
    #[arg(long, env = "ETCD_PREPARE_KEY")]
    pub key: Option<PathBuf>,

    /// Join as a learner and leave promotion to `promote` (serialises
    /// joins: etcd allows one learner at a time). Off: join as a voting
    /// member directly.
    #[arg(long, env = "ETCD_PREPARE_LEARNER", default_value_t = true, action = clap::ArgAction::Set)]
    pub learner: bool,
}

/// The program's main: `args` as the process got them, its name first
/// (`etcd-member-prepare` whether run by that name or as `mooring etcd-member-prepare`).
pub fn main(args: Vec<std::ffi::OsString>) -> ! {
    let cli = Cli::parse_from(args);
    crate::cli::main(cli.common.verbose, cli.common.quiet, run(cli))
}

pub async fn run(cli: Cli) -> Result<()> {
    let format = cli.common.output;
    match cli.command {
        Command::Prepare(o) => print_report(&prepare::prepare(&cli.common, &o).await?, format),
        Command::Promote(o) => print_report(&promote::promote(&cli.common, &o).await?, format),
    }
    Ok(())
}

/// What every command of a run knows: the instance, its cluster, how
/// peers are addressed, the run's deadline.
pub(crate) struct Setup {
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

pub(crate) async fn setup(common: &CommonArgs, o: &Options) -> Result<Setup> {
    let deadline = Deadline::after(common.timeout());
    let opts = AwsOptions {
        region: common.region.clone(),
        ..Default::default()
    };
    let session = deadline
        .run("instance metadata and AWS clients", Session::start(&opts))
        .await?;
    let id = &session.identity;
    let group = match o.peers {
        PeerSource::Asg => Some(peers::my_group(&session).await?),
        PeerSource::Tag => None,
    };
    let cluster_name = match (&o.cluster, &group) {
        (Some(c), _) => c.clone(),
        (None, Some(g)) => g.name.clone(),
        (None, None) => session.tag(&o.cluster_tag).await?.ok_or_else(|| {
            bad_input(format!(
                "{} has no tag {} in its instance metadata (are instance-metadata tags on?); pass --cluster",
                id.instance_id, o.cluster_tag
            ))
        })?,
    };
    let initial_size = o
        .initial_size
        .or(group.as_ref().map(|g| g.desired))
        .unwrap_or(3);
    if initial_size == 0 {
        return Err(bad_input("the initial cluster size must be at least 1"));
    }
    validate_cluster_name(&cluster_name)?;
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
