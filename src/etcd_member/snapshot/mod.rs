//! `etcd-member-prepare snapshot` and `snapshots`: backups in S3.
//!
//! `snapshot` runs from a timer on every member; only the leader acts, so
//! one object is made per period. Facts first, all cheap: the local
//! member's status (no AWS call; a member that does not lead stops here,
//! with no S3 call), then one listing of the cluster's prefix. `decide`
//! (pure, [`plan`]) says whether the store moved since the newest snapshot
//! and which old ones go; only then is the snapshot streamed to a file,
//! checked against etcd's own hash, uploaded with its SHA-256, revision,
//! cluster ID and members, and the oldest beyond `--retain` deleted — only
//! names this tool gives, only under its prefix, never before the upload
//! ended. `snapshots` lists what the bucket holds for the cluster.

pub mod plan;
pub mod restore;
pub mod save;
pub mod store;

use super::cluster::Cluster;
use super::options::Options;
use super::setup::{cluster_name, setup_local};
use super::survey::Survey;
use super::tls;
use crate::cli::{CommonArgs, Report};
use crate::exit::bad_input;
use anyhow::Result;
use clap::Args;
use plan::{SnapshotFacts, SnapshotStep, Stored};
use serde::Serialize;
use std::path::PathBuf;
use store::{Meta, Store};

#[derive(Debug, Clone, Args)]
pub struct SnapshotArgs {
    /// How many snapshots to keep (the newest; older ones this tool made
    /// are deleted after an upload).
    #[arg(long, env = "ETCD_PREPARE_SNAPSHOT_RETAIN", default_value_t = 48,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub retain: u64,

    /// Where the snapshot is written before it is uploaded [default: the
    /// data directory's parent].
    #[arg(long, env = "ETCD_PREPARE_SNAPSHOT_SCRATCH_DIR")]
    pub scratch_dir: Option<PathBuf>,

    /// Upload in parts of this many MiB above that size (5 or more).
    #[arg(long, default_value_t = 16, hide = true,
          value_parser = clap::value_parser!(u64).range(5..=5120))]
    pub part_size_mib: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SnapshotReport {
    pub name: String,
    /// not-running, not-leader, unchanged, uploaded (dry run: would-upload)
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    pub pruned: Vec<String>,
    pub s3_calls: usize,
    pub dry_run: bool,
}

impl Report for SnapshotReport {
    fn text(&self) -> String {
        let mut lines = vec![format!("{}: {}", self.name, self.result)];
        if let Some(k) = &self.key {
            lines.push(format!("snapshot: {k}"));
        }
        if let (Some(r), Some(s)) = (self.revision, &self.sha256) {
            lines.push(format!("revision {r}, sha256 {s}"));
        }
        for p in &self.pruned {
            lines.push(format!("deleted (beyond --retain): {p}"));
        }
        lines.join("\n")
    }
}

fn bucket(o: &Options) -> Result<&str> {
    o.snapshot_bucket
        .as_deref()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| bad_input("no bucket for snapshots: pass --snapshot-bucket"))
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub async fn snapshot(
    common: &CommonArgs,
    o: &Options,
    a: &SnapshotArgs,
) -> Result<SnapshotReport> {
    let bucket = bucket(o)?;
    let tls = tls::tls_options(o)?;
    let s = setup_local(common, o).await?;
    let mut report = SnapshotReport {
        name: s.me.name.clone(),
        result: "not-running".into(),
        key: None,
        revision: None,
        sha256: None,
        size: None,
        pruned: Vec::new(),
        s3_calls: 0,
        dry_run: common.dry_run,
    };
    let mine = Survey::of(std::slice::from_ref(&s.me.client_url), tls.clone()).await;
    let Some(me) = mine.answering().first().map(|m| (*m).clone()) else {
        log::info!(
            "the local etcd at {} does not answer; the leader snapshots",
            s.me.client_url
        );
        return Ok(report);
    };
    if me.leader != me.member_id {
        report.result = "not-leader".into();
        log::debug!(
            "member {:x} does not lead; the leader snapshots",
            me.member_id
        );
        return Ok(report);
    }
    let cluster = cluster_name(&s.session, o).await?;
    let store = Store::new(
        &s.session.aws.sdk_config,
        bucket,
        plan::cluster_prefix(&o.snapshot_prefix, &cluster),
    );
    let stored = s
        .deadline
        .run("the list of snapshots in S3", store.list())
        .await?;
    let step = plan::decide(&SnapshotFacts {
        leader: true,
        revision: me.revision,
        cluster_id: me.cluster_id,
        cluster_prefix: &store.prefix,
        stored: &stored,
        retain: usize::try_from(a.retain).unwrap_or(usize::MAX),
    });
    report.revision = Some(me.revision);
    let prune = match step {
        SnapshotStep::NotLeader => unreachable!("checked above"),
        SnapshotStep::Unchanged { latest, prune } => {
            log::info!(
                "revision {} is in {} already: nothing to upload",
                me.revision,
                store_url(&store, &latest)
            );
            report.result = "unchanged".into();
            report.key = Some(latest);
            prune
        }
        SnapshotStep::Upload { key, prune } => {
            report.key = Some(key.clone());
            if common.dry_run {
                report.result = "would-upload".into();
            } else {
                let c = Cluster::pin(&mine, tls.clone())
                    .await?
                    .expect("the local member answered");
                let members = c.members().await?;
                let taken = Taken {
                    url: &s.me.client_url,
                    name: &s.me.name,
                    revision: me.revision,
                    cluster_id: me.cluster_id,
                    members: &members,
                };
                let dir = save::scratch_dir(a.scratch_dir.as_deref(), &o.data_dir);
                let part =
                    usize::try_from(a.part_size_mib << 20).unwrap_or(store::DEFAULT_PART_SIZE);
                let saved =
                    take_and_upload(&store, &key, &taken, tls.clone(), &dir, part, &s.deadline)
                        .await?;
                report.result = "uploaded".into();
                report.sha256 = Some(saved.sha256.clone());
                report.size = Some(saved.size);
            }
            prune
        }
    };
    for key in &prune {
        if !common.dry_run {
            s.deadline
                .run("deleting an old snapshot", store.delete(key))
                .await?;
            log::info!(
                "deleted {} (beyond --retain {})",
                store_url(&store, key),
                a.retain
            );
        }
        report.pruned.push(key.clone());
    }
    report.s3_calls = store.calls();
    Ok(report)
}

/// Whose snapshot, of what.
pub struct Taken<'a> {
    pub url: &'a str,
    pub name: &'a str,
    pub revision: i64,
    pub cluster_id: u64,
    pub members: &'a [super::cluster::MemberInfo],
}

/// Stream the snapshot of the member at `taken.url` to a file in `dir`,
/// then upload it as `key` with its metadata.
pub async fn take_and_upload(
    store: &Store,
    key: &str,
    taken: &Taken<'_>,
    tls: tls::Tls,
    dir: &std::path::Path,
    part: usize,
    deadline: &crate::wait::Deadline,
) -> Result<save::Saved> {
    let saved = save::save(taken.url, tls, dir, deadline).await?;
    let meta = Meta {
        sha256: saved.sha256.clone(),
        revision: taken.revision,
        cluster_id: taken.cluster_id,
        members: taken
            .members
            .iter()
            .map(|m| {
                (
                    m.name.clone(),
                    m.peer_urls.first().cloned().unwrap_or_default(),
                )
            })
            .collect(),
        taken_by: taken.name.to_string(),
        taken_at: now_secs(),
    };
    let what = format!("uploading {}", store_url(store, key));
    deadline
        .run(&what, store.upload(key, saved.path(), &meta, part))
        .await?;
    log::info!(
        "uploaded {} ({} bytes, revision {}, sha256 {})",
        store_url(store, key),
        saved.size,
        taken.revision,
        saved.sha256
    );
    Ok(saved)
}

fn store_url(store: &Store, key: &str) -> String {
    format!("s3://{}/{key}", store.bucket)
}

#[derive(Debug, Clone, Serialize)]
pub struct SnapshotsReport {
    pub bucket: String,
    pub prefix: String,
    /// Newest first.
    pub snapshots: Vec<Stored>,
}

impl Report for SnapshotsReport {
    fn text(&self) -> String {
        if self.snapshots.is_empty() {
            return format!("no snapshots in s3://{}/{}", self.bucket, self.prefix);
        }
        self.snapshots
            .iter()
            .map(|s| {
                format!(
                    "{}  revision {}  cluster {:016x}  {} bytes",
                    s.key, s.revision, s.cluster_id, s.size
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// `snapshots`: what the bucket holds for this cluster, newest first.
pub async fn snapshots(common: &CommonArgs, o: &Options) -> Result<SnapshotsReport> {
    let bucket = bucket(o)?;
    let s = setup_local(common, o).await?;
    let cluster = cluster_name(&s.session, o).await?;
    let store = Store::new(
        &s.session.aws.sdk_config,
        bucket,
        plan::cluster_prefix(&o.snapshot_prefix, &cluster),
    );
    let mut snapshots = s
        .deadline
        .run("the list of snapshots in S3", store.list())
        .await?;
    plan::newest_first(&mut snapshots);
    Ok(SnapshotsReport {
        bucket: bucket.to_string(),
        prefix: store.prefix.clone(),
        snapshots,
    })
}
