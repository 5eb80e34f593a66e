//! Restore on total loss: a bootstrap seeded from the newest snapshot.
//!
//! When `prepare` decides to bootstrap (nobody answers, the expected
//! instances are visible) and a snapshot bucket is set, every initial
//! member looks at the cluster's snapshots. None: a new, empty cluster, as
//! without a bucket (said in the log). S3 not answering or refusing is an
//! error, never "none": a new cluster over lost data cannot be undone.
//! Otherwise every member chooses the same object (the newest by revision,
//! then name — one listing, the same on every instance) and, before
//! anything irreversible, checks that each member recorded in it is gone:
//! its instance terminated or unknown to EC2. A recorded member whose
//! instance still runs may still be serving the old cluster (a partition):
//! the restore waits for it within the deadline, then refuses (exit 5)
//! naming it — unless it recorded that it stepped down from that cluster
//! (a survivor of a quorum loss, see `recover`). The object is streamed to a file and its SHA-256 checked
//! against its metadata — a damaged one is refused, and no older one is
//! taken instead without a person choosing it. `etcdctl snapshot restore`
//! then makes the data directory (beside it first, moved into place whole)
//! with the same initial cluster and a token new to this restore but the
//! same on every member.

use super::plan::{self, Stored};
use super::store::{Meta, Store};
use crate::etcd_member::decide::{bootstrap_cluster, Candidate};
use crate::etcd_member::options::Options;
use crate::etcd_member::setup::Setup;
use crate::exit::Unsafe;
use anyhow::{anyhow, Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The snapshot every initial member restores: the newest.
pub fn choose(stored: &[Stored]) -> Option<Stored> {
    let mut all = stored.to_vec();
    plan::newest_first(&mut all);
    all.into_iter().next()
}

/// The recorded members that keep a restore from going ahead: any whose
/// instance is not proven gone, but this instance (it has no data: it is
/// bootstrapping).
pub fn blockers(recorded: &[(String, String)], gone: &[String], me: &str) -> Vec<String> {
    let mut out: Vec<String> = recorded
        .iter()
        .map(|(name, _)| name.clone())
        // A member added but never started has no name and held no data.
        .filter(|n| !n.is_empty() && n != me && !gone.contains(n))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The token of a restored cluster: not the old cluster's (its members
/// must never take the new one for theirs), the same on every member.
pub fn restore_token(bootstrap_token: &str, sha256: &str) -> String {
    format!(
        "{bootstrap_token}-restore-{}",
        &sha256[..sha256.len().min(12)]
    )
}

/// `restore --from`: a person's choice of snapshot.
#[derive(Debug, Clone, clap::Args)]
pub struct RestoreArgs {
    /// The snapshot to restore: s3://BUCKET/KEY (`snapshots` lists them)
    /// or a file (`etcdctl snapshot save`'s).
    #[arg(long, value_name = "s3://BUCKET/KEY|FILE")]
    pub from: String,

    /// Restore even when the members recorded in the snapshot are not
    /// proven gone (a file records none): only once you know the old
    /// cluster is not running anywhere.
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Object { bucket: String, key: String },
    File(PathBuf),
}

pub fn parse_source(from: &str) -> Result<Source> {
    if let Some(rest) = from.strip_prefix("s3://") {
        return match rest.split_once('/') {
            Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => Ok(Source::Object {
                bucket: bucket.to_string(),
                key: key.to_string(),
            }),
            _ => Err(crate::exit::bad_input(format!(
                "--from {from}: expected s3://BUCKET/KEY"
            ))),
        };
    }
    if from.is_empty() {
        return Err(crate::exit::bad_input(
            "--from: expected s3://BUCKET/KEY or a file",
        ));
    }
    Ok(Source::File(PathBuf::from(from)))
}

#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    /// s3://bucket/key
    pub from: String,
    pub revision: i64,
    pub sha256: String,
    pub token: String,
}

/// The restore of a bootstrap: `manual`'s snapshot, else the newest in
/// the bucket if it holds one; `None`: bootstrap a new, empty cluster.
pub async fn restore_if_any(
    s: &Setup,
    o: &Options,
    initial: &[Candidate],
    bootstrap_token: &str,
    dry_run: bool,
    manual: Option<&RestoreArgs>,
) -> Result<Option<Restored>> {
    let source = match manual {
        Some(m) => parse_source(&m.from)?,
        None => match newest(s, o).await? {
            Some(source) => source,
            None => return Ok(None),
        },
    };
    let yes = manual.is_some_and(|m| m.yes);
    let (from, meta, store) = match &source {
        Source::Object { bucket, key } => {
            let store = Store::new(&s.session.aws.sdk_config, bucket, String::new());
            let from = format!("s3://{bucket}/{key}");
            let meta = store.head(key).await?;
            if let Some((revision, id)) = plan::parse_key(
                &plan::cluster_prefix(&o.snapshot_prefix, &s.cluster_name),
                key,
            ) {
                if (meta.revision, meta.cluster_id) != (revision, id) {
                    return Err(Unsafe(format!(
                        "{from}: its metadata (revision {}, cluster {:016x}) does not match its name; not restoring",
                        meta.revision, meta.cluster_id
                    ))
                    .into());
                }
            }
            (from, Some(meta), Some(store))
        }
        Source::File(path) => (path.display().to_string(), None, None),
    };
    match &meta {
        Some(meta) => {
            log::info!(
                "restoring {from} (revision {}, {} members recorded) instead of a new cluster",
                meta.revision,
                meta.members.len()
            );
            if yes {
                let gone = crate::aws::instance::proven_gone(
                    s.session.ec2(),
                    &blockers(&meta.members, &[], &s.me.name),
                )
                .await?;
                let blocking = blockers(&meta.members, &gone, &s.me.name);
                if !blocking.is_empty() {
                    log::warn!(
                        "--yes: restoring although the instances of {} still run",
                        blocking.join(", ")
                    );
                }
            } else {
                let store = store.as_ref().expect("an object has its store");
                let prefix = plan::cluster_prefix(&o.snapshot_prefix, &s.cluster_name);
                wait_until_gone(s, meta, &from, store, &prefix).await?;
            }
        }
        None if yes => log::warn!(
            "--yes: restoring {from}, a file that records no members: nothing proved the old cluster gone"
        ),
        None => {
            return Err(Unsafe(format!(
                "{from} records no members, so nothing proves the old cluster gone; \
                 pass --yes once you know it is not running anywhere"
            ))
            .into())
        }
    }
    let dir = super::save::scratch_dir(None, &o.data_dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let download = tempfile::Builder::new()
        .prefix(".mooring-restore-")
        .suffix(".db")
        .tempfile_in(&dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    let (file, sha) = match (&source, &store, &meta) {
        (Source::Object { key, .. }, Some(store), Some(meta)) => {
            if dry_run {
                log::info!("dry run: would restore {from}");
                return Ok(Some(Restored {
                    from,
                    revision: meta.revision,
                    sha256: meta.sha256.clone(),
                    token: restore_token(bootstrap_token, &meta.sha256),
                }));
            }
            let sha = s
                .deadline
                .run(
                    &format!("downloading {from}"),
                    store.download(key, download.path()),
                )
                .await?;
            if sha != meta.sha256 {
                return Err(Unsafe(format!(
                    "{from} is damaged: its bytes' SHA-256 is {sha}, its metadata says {}; not restoring it, \
                     and not an older snapshot either unless a person chooses one \
                     (etcd-member-prepare snapshots lists them; restore --from restores one)",
                    meta.sha256
                ))
                .into());
            }
            (download.path().to_path_buf(), sha)
        }
        (Source::File(path), _, _) => (path.clone(), file_sha256(path)?),
        _ => unreachable!("an object has its store and metadata"),
    };
    let restored = Restored {
        from: from.clone(),
        revision: meta.as_ref().map_or(0, |m| m.revision),
        token: restore_token(bootstrap_token, &sha),
        sha256: sha,
    };
    if dry_run {
        log::info!("dry run: would restore {from}");
        return Ok(Some(restored));
    }
    into_data_dir(s, o, &file, initial, &restored.token)?;
    log::info!(
        "restored {from} into {} (token {})",
        o.data_dir.display(),
        restored.token
    );
    Ok(Some(restored))
}

/// The newest snapshot in the bucket, if a bucket is set and holds one.
async fn newest(s: &Setup, o: &Options) -> Result<Option<Source>> {
    let Some(bucket) = o.snapshot_bucket.as_deref().filter(|b| !b.is_empty()) else {
        return Ok(None);
    };
    let store = Store::new(
        &s.session.aws.sdk_config,
        bucket,
        plan::cluster_prefix(&o.snapshot_prefix, &s.cluster_name),
    );
    let where_ = format!("s3://{bucket}/{}", store.prefix);
    let stored = s
        .deadline
        .run("the list of snapshots in S3", store.list())
        .await
        .with_context(|| {
            format!("cannot tell whether {where_} holds a snapshot: not bootstrapping")
        })?;
    let Some(chosen) = choose(&stored) else {
        log::info!("no snapshot in {where_}: bootstrapping a new, empty cluster");
        return Ok(None);
    };
    Ok(Some(Source::Object {
        bucket: bucket.to_string(),
        key: chosen.key,
    }))
}

fn file_sha256(path: &Path) -> Result<String> {
    use sha2::Digest;
    let mut file =
        std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut hash = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = std::io::Read::read(&mut file, &mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            return Ok(hex::encode(hash.finalize()));
        }
        hash.update(&buf[..n]);
    }
}

/// Every recorded member but this one proven gone, or recorded as having
/// stepped down from that very cluster (a survivor of a quorum loss),
/// asked again every 5 s within the deadline.
async fn wait_until_gone(
    s: &Setup,
    meta: &Meta,
    from: &str,
    store: &Store,
    cluster_prefix: &str,
) -> Result<()> {
    loop {
        let mut gone = store.stepped_down(cluster_prefix, meta.cluster_id).await?;
        let ask = blockers(&meta.members, &gone, &s.me.name);
        gone.extend(crate::aws::instance::proven_gone(s.session.ec2(), &ask).await?);
        let blocking = blockers(&meta.members, &gone, &s.me.name);
        if blocking.is_empty() {
            return Ok(());
        }
        let why = format!(
            "the instances of {} (members when {from} was taken) still run: their etcd may still \
             serve the old cluster; a restore now could make two",
            blocking.join(", ")
        );
        if s.deadline.remaining() <= Duration::from_secs(5) {
            return Err(Unsafe(format!("not restoring: {why}")).into());
        }
        log::info!("waiting: {why}");
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// `etcdctl snapshot restore` beside the data directory, then moved into
/// place whole: a run killed part way leaves no half-made data directory
/// (a leftover beside it is removed by the next run).
fn into_data_dir(
    s: &Setup,
    o: &Options,
    file: &Path,
    initial: &[Candidate],
    token: &str,
) -> Result<()> {
    let staging = staging_dir(&o.data_dir);
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("removing {}", staging.display()))?;
    }
    let initial_cluster = bootstrap_cluster(initial);
    let out = std::process::Command::new(&o.etcdctl)
        .env("ETCDCTL_API", "3")
        .arg("snapshot")
        .arg("restore")
        .arg(file)
        .args(["--name", &s.me.name])
        .args(["--initial-cluster", &initial_cluster])
        .args(["--initial-cluster-token", token])
        .args(["--initial-advertise-peer-urls", &s.me.peer_url])
        .arg("--data-dir")
        .arg(&staging)
        .output()
        .with_context(|| format!("running {}", o.etcdctl.display()))?;
    if !out.status.success() {
        return Err(anyhow!(
            "etcdctl snapshot restore of {} failed ({}): {}",
            file.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    // The data directory may exist, empty (made by a package or a mount).
    if o.data_dir.exists() {
        std::fs::remove_dir(&o.data_dir).with_context(|| {
            format!(
                "{} exists and is not empty: not replacing it",
                o.data_dir.display()
            )
        })?;
    }
    std::fs::rename(&staging, &o.data_dir)
        .with_context(|| format!("moving {} to {}", staging.display(), o.data_dir.display()))
}

/// Where a restore makes the data directory before it is complete.
pub fn staging_dir(data_dir: &Path) -> PathBuf {
    let mut name = data_dir.file_name().unwrap_or_default().to_os_string();
    name.push(".restoring");
    data_dir.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(revision: i64, id: u64) -> Stored {
        Stored {
            key: plan::key_for("p/c/", revision, id),
            revision,
            cluster_id: id,
            size: 1,
        }
    }

    #[test]
    fn every_instance_chooses_the_newest() {
        assert_eq!(choose(&[]), None);
        let a = [stored(5, 1), stored(9, 1), stored(9, 2), stored(7, 3)];
        let mut b = a.clone();
        b.reverse();
        assert_eq!(choose(&a), Some(stored(9, 2)));
        assert_eq!(choose(&a), choose(&b));
    }

    #[test]
    fn a_recorded_member_still_running_blocks() {
        let rec = vec![
            ("i-a".to_string(), "http://a".to_string()),
            ("i-b".to_string(), String::new()),
            ("i-me".to_string(), String::new()),
            (String::new(), "http://never-started".to_string()),
        ];
        assert_eq!(blockers(&rec, &["i-a".into()], "i-me"), vec!["i-b"]);
        assert!(blockers(&rec, &["i-a".into(), "i-b".into()], "i-me").is_empty());
    }

    #[test]
    fn sources() {
        assert_eq!(
            parse_source("s3://b/p/c/1.db").unwrap(),
            Source::Object {
                bucket: "b".into(),
                key: "p/c/1.db".into()
            }
        );
        assert_eq!(
            parse_source("/tmp/x.db").unwrap(),
            Source::File("/tmp/x.db".into())
        );
        for bad in ["s3://b", "s3://b/", "s3:///k", ""] {
            assert!(parse_source(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_token_is_new_and_the_same_everywhere() {
        assert_eq!(
            restore_token("etcd-prod-abc", "0123456789abcdef"),
            "etcd-prod-abc-restore-0123456789ab"
        );
    }

    #[test]
    fn staging_is_beside_the_data_dir() {
        assert_eq!(
            staging_dir(Path::new("/var/lib/etcd/default")),
            PathBuf::from("/var/lib/etcd/default.restoring")
        );
    }
}
