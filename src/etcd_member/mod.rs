//! etcd-member-prepare: run before etcd.service, decide whether this
//! instance bootstraps a new cluster, joins the existing one, or just
//! restarts its member, and write the environment file etcd reads.
//!
//! The order of decisions (pitfalls: two clusters forming, lost members):
//! 1. a member data directory exists → start it as it was, unless the
//!    cluster says this member was removed: then move the data aside and
//!    join afresh;
//! 2. a cluster answers on some peer → remove members whose instances are
//!    proven gone (one at a time, only while quorum allows), then add this
//!    instance (reusing an unstarted member with our peer URL: that was us,
//!    before a crash);
//! 3. nobody answers → bootstrap `new`, but only once the expected number
//!    of peers is visible, every instance computing the same member list.

pub mod cluster;
pub mod peers;

use crate::aws::{AwsOptions, Session};
use crate::cli::{print_report, CommonArgs, Report};
use crate::envfile::EnvFile;
use crate::exit::bad_input;
use crate::runlock::RunLock;
use crate::wait::Deadline;
use anyhow::{anyhow, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use cluster::{Cluster, MemberInfo};
use peers::Peer;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

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

/// What prepare decided.
#[derive(Debug, Clone, Serialize)]
pub struct PrepareReport {
    pub name: String,
    /// new, join, rejoin, restart
    pub decision: String,
    pub initial_cluster_state: String,
    pub initial_cluster: String,
    pub removed_members: Vec<String>,
    pub moved_data_dir: Option<PathBuf>,
    pub env_file: PathBuf,
    pub dry_run: bool,
}

impl Report for PrepareReport {
    fn text(&self) -> String {
        let mut lines = vec![
            format!(
                "{}: {} ({})",
                self.name, self.decision, self.initial_cluster_state
            ),
            format!("initial cluster: {}", self.initial_cluster),
        ];
        for m in &self.removed_members {
            lines.push(format!("removed dead member: {m}"));
        }
        if let Some(d) = &self.moved_data_dir {
            lines.push(format!("old data dir kept at: {}", d.display()));
        }
        lines.push(format!("env file: {}", self.env_file.display()));
        lines.join("\n")
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PromoteReport {
    pub name: String,
    /// promoted, already-voting
    pub result: String,
}

impl Report for PromoteReport {
    fn text(&self) -> String {
        format!("{}: {}", self.name, self.result)
    }
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
        Command::Prepare(o) => print_report(&prepare(&cli.common, &o).await?, format),
        Command::Promote(o) => print_report(&promote(&cli.common, &o).await?, format),
    }
    Ok(())
}

/// This instance as a would-be member.
struct Me {
    name: String,
    peer_url: String,
    client_url: String,
}

struct Setup {
    session: Session,
    me: Me,
    cluster_name: String,
    /// The Auto Scaling group, with --peers asg.
    group: Option<peers::Group>,
    initial_size: usize,
    peer_scheme: Scheme,
    client_scheme: Scheme,
    deadline: Deadline,
}

async fn setup(common: &CommonArgs, o: &Options) -> Result<Setup> {
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
        (None, None) => id.tag(&o.cluster_tag).map(str::to_string).ok_or_else(|| {
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
        match id.tag(tag) {
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
    async fn discover(&self, o: &Options) -> Result<Vec<Peer>> {
        self.discover_with(self.session.ec2(), o).await
    }

    /// The first look of an instance that is not a member yet: when the
    /// whole group boots, EC2 may throttle the tail of it; such a look
    /// waits a time of its own instead of the SDK's backoff (see
    /// crate::turn).
    async fn first_discover(&self, o: &Options) -> Result<Vec<Peer>> {
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
    fn others(&self, peers: &[Peer], o: &Options) -> Vec<String> {
        peers
            .iter()
            .filter(|p| p.instance_id != self.me.name)
            .map(|p| self.client_url(p, o))
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

    fn client_url(&self, p: &Peer, o: &Options) -> String {
        format!(
            "{}://{}:{}",
            self.client_scheme.as_str(),
            p.private_ip,
            o.client_port
        )
    }
}

pub async fn prepare(common: &CommonArgs, o: &Options) -> Result<PrepareReport> {
    let s = setup(common, o).await?;
    let lock_path = common.run_dir.join("etcd-member-prepare.lock");
    let _lock = RunLock::acquire(&lock_path, &s.deadline).await?;
    let tls = cluster::tls_options(o)?;
    let new_member = !common.dry_run && !o.data_dir.join("member").exists();
    let mut peers = if new_member {
        s.first_discover(o).await?
    } else {
        s.discover(o).await?
    };
    let mut cluster = Cluster::find(&s.others(&peers, o), tls.clone()).await;
    let mut report = PrepareReport {
        name: s.me.name.clone(),
        decision: String::new(),
        initial_cluster_state: String::new(),
        initial_cluster: String::new(),
        removed_members: Vec::new(),
        moved_data_dir: None,
        env_file: o.env_file.clone(),
        dry_run: common.dry_run,
    };

    if o.data_dir.join("member").exists() {
        let removed = match &cluster {
            Some(c) => {
                let members = c.members().await?;
                !members
                    .iter()
                    .any(|m| m.name == s.me.name || m.peer_urls.contains(&s.me.peer_url))
            }
            None => false,
        };
        if !removed {
            // The data directory wins: etcd ignores the initial-cluster
            // settings when it has data, and no membership changes.
            report.decision = "restart".into();
            report.initial_cluster_state = "existing".into();
            report.initial_cluster = format!("{}={}", s.me.name, s.me.peer_url);
            write_env(&s, o, &report, None, common.dry_run)?;
            return Ok(report);
        }
        let aside = aside_path(&o.data_dir);
        log::warn!(
            "{} was removed from the cluster; keeping its old data at {} and joining afresh",
            s.me.name,
            aside.display()
        );
        if !common.dry_run {
            std::fs::rename(&o.data_dir, &aside).with_context(|| {
                format!(
                    "cannot move {} to {}",
                    o.data_dir.display(),
                    aside.display()
                )
            })?;
        }
        report.moved_data_dir = Some(aside);
    }

    if cluster.is_none() {
        // Nobody answers: bootstrap once the expected peers are visible and
        // this instance is among the first of them (every instance takes
        // the same first N); an instance beyond them waits for the cluster
        // to answer and joins it. Either way, join if a cluster starts
        // answering meanwhile.
        loop {
            let first: Vec<&Peer> = peers.iter().take(s.initial_size).collect();
            let complete = peers.len() >= s.initial_size;
            let founder = first.iter().any(|p| p.instance_id == s.me.name);
            if complete && founder {
                break;
            }
            if s.deadline.expired() {
                let what = if complete {
                    format!(
                        "cluster {} to answer ({} is not among its first {} instances, so it joins)",
                        s.cluster_name, s.me.name, s.initial_size
                    )
                } else {
                    format!(
                        "{} peers of cluster {} (see {}; --initial-size)",
                        s.initial_size,
                        s.cluster_name,
                        peers.len()
                    )
                };
                return Err(s.deadline.timed_out(what).into());
            }
            log::info!(
                "{} of {} peers visible, no cluster answers yet; waiting",
                peers.len(),
                s.initial_size
            );
            // EC2 is asked every 5 s at most while waiting.
            tokio::time::sleep(Duration::from_secs(5).min(s.deadline.remaining())).await;
            peers = s.discover(o).await?;
            cluster = Cluster::find(&s.others(&peers, o), tls.clone()).await;
            if cluster.is_some() {
                break;
            }
        }
    }

    match cluster {
        None => {
            // Every instance sorts the same way and takes the same first N.
            let initial: Vec<&Peer> = peers.iter().take(s.initial_size).collect();
            let list: Vec<String> = initial
                .iter()
                .map(|p| format!("{}={}", p.instance_id, s.peer_url(p, o)))
                .collect();
            let ids: Vec<&str> = initial.iter().map(|p| p.instance_id.as_str()).collect();
            report.decision = "new".into();
            report.initial_cluster_state = "new".into();
            report.initial_cluster = list.join(",");
            let token = cluster_token(&s.cluster_name, &ids);
            write_env(&s, o, &report, Some(&token), common.dry_run)?;
        }
        Some(c) => {
            report.removed_members = remove_dead_members(&s, &c, &peers, common.dry_run).await?;
            let members = join(&s, &c, o, common.dry_run).await?;
            let by_url = |url: &String| {
                peers
                    .iter()
                    .find(|p| s.peer_url(p, o) == *url)
                    .map(|p| p.instance_id.clone())
            };
            let mut list = Vec::new();
            for m in &members {
                let url = m.peer_urls.first().cloned().unwrap_or_default();
                let name = if m.peer_urls.contains(&s.me.peer_url) {
                    s.me.name.clone()
                } else if !m.name.is_empty() {
                    m.name.clone()
                } else {
                    by_url(&url).ok_or_else(|| {
                        anyhow!("member {url} has not started and no instance of cluster {} has that address", s.cluster_name)
                    })?
                };
                list.push(format!("{name}={url}"));
            }
            report.decision = if report.moved_data_dir.is_some() {
                "rejoin"
            } else {
                "join"
            }
            .into();
            report.initial_cluster_state = "existing".into();
            report.initial_cluster = list.join(",");
            write_env(&s, o, &report, None, common.dry_run)?;
        }
    }
    Ok(report)
}

/// Remove members whose instances are proven gone: their name is an
/// instance ID that is no live peer, and DescribeInstances by ID says
/// terminated or shutting-down (or does not know it). One at a time, only
/// while the remaining members keep a quorum, never below 3 voting members.
async fn remove_dead_members(
    s: &Setup,
    c: &Cluster,
    peers: &[Peer],
    dry_run: bool,
) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    loop {
        let members = c.members().await?;
        let suspects: Vec<&MemberInfo> = members
            .iter()
            .filter(|m| m.name.starts_with("i-") && m.name != s.me.name)
            .filter(|m| !peers.iter().any(|p| p.instance_id == m.name))
            .collect();
        if suspects.is_empty() {
            return Ok(removed);
        }
        let ids: Vec<String> = suspects.iter().map(|m| m.name.clone()).collect();
        let gone = peers::proven_gone(&s.session, &ids).await?;
        let Some(dead) = suspects.iter().find(|m| gone.contains(&m.name)) else {
            log::info!("members {ids:?} are not in the peer list but their instances are not proven gone; keeping them");
            return Ok(removed);
        };
        let voting = members.iter().filter(|m| !m.is_learner).count();
        let healthy = c.healthy_voting(&members).await;
        // After removing `dead`, the healthy voting members must be a
        // majority of the voting members left.
        let after = voting - usize::from(!dead.is_learner);
        if voting < 3 || healthy <= after / 2 {
            log::warn!(
                "not removing dead member {} ({voting} voting members, {healthy} healthy): quorum would be at risk",
                dead.name
            );
            return Ok(removed);
        }
        log::info!(
            "removing member {} ({:x}): its instance is gone",
            dead.name,
            dead.id
        );
        if !dry_run {
            c.remove_until_gone(dead.id, &s.deadline).await?;
        }
        removed.push(dead.name.clone());
        if dry_run {
            return Ok(removed);
        }
    }
}

/// Add this instance (or reuse the member an earlier, crashed run added),
/// retrying while etcd refuses a reconfiguration for now.
async fn join(s: &Setup, c: &Cluster, o: &Options, dry_run: bool) -> Result<Vec<MemberInfo>> {
    let members = c.members().await?;
    if let Some(m) = members
        .iter()
        .find(|m| m.peer_urls.contains(&s.me.peer_url))
    {
        if m.name.is_empty() || m.name == s.me.name {
            if !m.name.is_empty() {
                // Started before, but the data directory is gone: this
                // member cannot come back; replace it.
                log::warn!(
                    "member {} has no data directory here; replacing the member",
                    m.name
                );
                if !dry_run {
                    c.remove_until_gone(m.id, &s.deadline).await?;
                }
            } else {
                log::info!(
                    "reusing member {:x}, added by an earlier run for {}",
                    m.id,
                    s.me.peer_url
                );
                return Ok(members);
            }
        } else {
            return Err(anyhow!(
                "member {} already has this instance's peer URL {}",
                m.name,
                s.me.peer_url
            ));
        }
    }
    if dry_run {
        log::info!("would add {} as a member", s.me.peer_url);
        return Ok(members);
    }
    s.deadline
        .poll(
            format!("etcd to accept member {}", s.me.peer_url),
            Duration::from_millis(500),
            Duration::from_secs(3),
            || async {
                match c.add(&s.me.peer_url, o.learner).await {
                    Ok(members) => Ok(Some(members)),
                    Err(e) if cluster::is_transient(&e) => {
                        log::info!("etcd refuses the member for now ({e:#}); retrying");
                        Ok(None)
                    }
                    Err(e) => Err(e),
                }
            },
        )
        .await
}

fn write_env(
    s: &Setup,
    o: &Options,
    report: &PrepareReport,
    token: Option<&str>,
    dry_run: bool,
) -> Result<()> {
    let mut env = EnvFile::new();
    env.set("ETCD_NAME", &s.me.name)?;
    env.set("ETCD_INITIAL_CLUSTER", &report.initial_cluster)?;
    env.set("ETCD_INITIAL_CLUSTER_STATE", &report.initial_cluster_state)?;
    if let Some(t) = token {
        env.set("ETCD_INITIAL_CLUSTER_TOKEN", t)?;
    }
    env.set("ETCD_INITIAL_ADVERTISE_PEER_URLS", &s.me.peer_url)?;
    env.set("ETCD_ADVERTISE_CLIENT_URLS", &s.me.client_url)?;
    // etcd listens where it advertises: the instance's private address.
    env.set("ETCD_LISTEN_PEER_URLS", &s.me.peer_url)?;
    env.set("ETCD_LISTEN_CLIENT_URLS", &s.me.client_url)?;
    if o.write_data_dir {
        env.set("ETCD_DATA_DIR", o.data_dir.to_string_lossy())?;
    }
    if dry_run {
        log::info!("would write {}", o.env_file.display());
        return Ok(());
    }
    env.write(&o.env_file, 0o644, "etcd-member-prepare")
}

/// A token unique to this cluster's bootstrap: its name and first members.
fn cluster_token(name: &str, ids: &[&str]) -> String {
    let h = ids
        .iter()
        .flat_map(|i| i.bytes().chain([0]))
        .fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
        });
    format!("{name}-{h:016x}")
}

fn aside_path(data_dir: &Path) -> PathBuf {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut name = data_dir.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".removed-{stamp}"));
    data_dir.with_file_name(name)
}

pub async fn promote(common: &CommonArgs, o: &Options) -> Result<PromoteReport> {
    let s = setup(common, o).await?;
    let tls = cluster::tls_options(o)?;
    // A learner refuses the member API itself: ask every member; find()
    // keeps those that answer.
    let peers = s.discover(o).await?;
    let all: Vec<String> = peers.iter().map(|p| s.client_url(p, o)).collect();
    let c = Cluster::find(&all, tls)
        .await
        .ok_or_else(|| anyhow!("no member of cluster {} answers at {all:?}", s.cluster_name))?;
    let members = c.members().await?;
    let me = members
        .iter()
        .find(|m| m.peer_urls.contains(&s.me.peer_url))
        .ok_or_else(|| anyhow!("{} is not a member of the cluster", s.me.name))?
        .clone();
    if !me.is_learner {
        return Ok(PromoteReport {
            name: s.me.name,
            result: "already-voting".into(),
        });
    }
    if common.dry_run {
        return Ok(PromoteReport {
            name: s.me.name,
            result: "would-promote".into(),
        });
    }
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
    Ok(PromoteReport {
        name: s.me.name,
        result: "promoted".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_stable_and_order_sensitive() {
        assert_eq!(
            cluster_token("c", &["i-1", "i-2"]),
            cluster_token("c", &["i-1", "i-2"])
        );
        assert_ne!(
            cluster_token("c", &["i-1", "i-2"]),
            cluster_token("d", &["i-1", "i-2"])
        );
        assert_ne!(
            cluster_token("c", &["i-1", "i-2"]),
            cluster_token("c", &["i-1", "i-3"])
        );
    }

    #[test]
    fn cluster_names() {
        assert!(validate_cluster_name("prod-etcd_1").is_ok());
        for bad in ["", "a b", "a,b", "x\n", "é"] {
            assert!(validate_cluster_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn aside_path_is_a_sibling() {
        let p = aside_path(Path::new("/var/lib/etcd/default"));
        assert_eq!(p.parent(), Some(Path::new("/var/lib/etcd")));
        assert!(p
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("default.removed-"));
    }
}
