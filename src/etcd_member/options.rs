//! etcd-member-prepare's flags: peers, schemes, ports, TLS, data directory.

use clap::{Args, ValueEnum};
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
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

    /// Scheme of the peer URLs (https: give the peer certificates to etcd).
    #[arg(
        long,
        value_enum,
        env = "ETCD_PREPARE_PEER_SCHEME",
        default_value = "http"
    )]
    pub peer_scheme: Scheme,

    /// Scheme of the client URLs, the ones this tool asks etcd through.
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

    /// Port of every member's peer URL.
    #[arg(long, env = "ETCD_PREPARE_PEER_PORT", default_value_t = 2380)]
    pub peer_port: u16,

    /// Port of every member's client URL.
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

    /// The S3 bucket of this cluster's snapshots (snapshot, snapshots).
    #[arg(long, env = "ETCD_PREPARE_SNAPSHOT_BUCKET")]
    pub snapshot_bucket: Option<String>,

    /// Where in the bucket: snapshots go under PREFIX/CLUSTER/.
    #[arg(
        long,
        env = "ETCD_PREPARE_SNAPSHOT_PREFIX",
        default_value = "etcd-snapshots"
    )]
    pub snapshot_prefix: String,

    /// etcdctl (etcd 3.4's; `snapshot restore` makes a restored member's
    /// data directory).
    #[arg(long, env = "ETCD_PREPARE_ETCDCTL", default_value = "etcdctl")]
    pub etcdctl: PathBuf,
}
