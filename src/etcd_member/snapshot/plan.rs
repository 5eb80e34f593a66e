//! Snapshot names and the pure decision: upload or not, and what to prune.
//!
//! An object's name says what it holds, so that a listing alone (one
//! ListObjectsV2, no HeadObject) is enough to decide:
//! `PREFIX/CLUSTER/<revision, 20 digits>-<cluster ID, 16 hex>.db`. The
//! zero-padded revision sorts the listing by age. Names of any other form
//! under the prefix are not this tool's: never chosen, never deleted.

use serde::Serialize;

/// One snapshot in the bucket, as its name and the listing tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stored {
    pub key: String,
    pub revision: i64,
    pub cluster_id: u64,
    pub size: i64,
}

/// Where a cluster's snapshots go: `PREFIX/CLUSTER/` (`CLUSTER/` with an
/// empty prefix).
pub fn cluster_prefix(prefix: &str, cluster: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        format!("{cluster}/")
    } else {
        format!("{prefix}/{cluster}/")
    }
}

pub fn key_for(cluster_prefix: &str, revision: i64, cluster_id: u64) -> String {
    format!("{cluster_prefix}{revision:020}-{cluster_id:016x}.db")
}

/// (revision, cluster ID) of a name this tool gives; `None` for any other.
pub fn parse_key(cluster_prefix: &str, key: &str) -> Option<(i64, u64)> {
    let name = key.strip_prefix(cluster_prefix)?.strip_suffix(".db")?;
    let (rev, id) = name.split_once('-')?;
    let well_formed = rev.len() == 20
        && id.len() == 16
        && rev.bytes().all(|b| b.is_ascii_digit())
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    if !well_formed {
        return None;
    }
    Some((rev.parse().ok()?, u64::from_str_radix(id, 16).ok()?))
}

/// Newest first: by revision, then name (two clusters' snapshots at one
/// revision sort alike on every instance).
pub fn newest_first(stored: &mut [Stored]) {
    stored.sort_by(|a, b| (b.revision, &b.key).cmp(&(a.revision, &a.key)));
}

pub struct SnapshotFacts<'a> {
    /// This member leads (only the leader snapshots: one object per run
    /// of the timer, whichever members run it).
    pub leader: bool,
    pub revision: i64,
    pub cluster_id: u64,
    pub cluster_prefix: &'a str,
    /// What the bucket holds for this cluster (any order).
    pub stored: &'a [Stored],
    /// How many snapshots to keep (≥ 1).
    pub retain: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum SnapshotStep {
    NotLeader,
    /// The store has not moved since the newest snapshot: nothing to
    /// upload (older ones beyond --retain still go).
    Unchanged {
        latest: String,
        prune: Vec<String>,
    },
    /// Upload `key`, then delete `prune` (never before the upload ended:
    /// a run killed part way never leaves fewer snapshots than it found).
    Upload {
        key: String,
        prune: Vec<String>,
    },
}

pub fn decide(f: &SnapshotFacts) -> SnapshotStep {
    if !f.leader {
        return SnapshotStep::NotLeader;
    }
    let mut stored = f.stored.to_vec();
    newest_first(&mut stored);
    let retain = f.retain.max(1);
    match stored.first() {
        Some(latest) if latest.revision >= f.revision => SnapshotStep::Unchanged {
            latest: latest.key.clone(),
            prune: stored.iter().skip(retain).map(|s| s.key.clone()).collect(),
        },
        _ => {
            let key = key_for(f.cluster_prefix, f.revision, f.cluster_id);
            // The new one counts among those kept; the same name already
            // there (a rerun after a kill) is overwritten, not pruned.
            let prune = stored
                .iter()
                .filter(|s| s.key != key)
                .skip(retain - 1)
                .map(|s| s.key.clone())
                .collect();
            SnapshotStep::Upload { key, prune }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "etcd-snapshots/prod/";

    fn stored(revision: i64) -> Stored {
        Stored {
            key: key_for(P, revision, 0xab),
            revision,
            cluster_id: 0xab,
            size: 1,
        }
    }

    fn facts<'a>(stored: &'a [Stored], revision: i64, retain: usize) -> SnapshotFacts<'a> {
        SnapshotFacts {
            leader: true,
            revision,
            cluster_id: 0xab,
            cluster_prefix: P,
            stored,
            retain,
        }
    }

    #[test]
    fn names_round_trip_and_foreign_names_are_not_ours() {
        assert_eq!(cluster_prefix("/etcd-snapshots/", "prod"), P);
        assert_eq!(cluster_prefix("", "prod"), "prod/");
        let key = key_for(P, 10_000, 0x1234_abcd);
        assert_eq!(
            key,
            "etcd-snapshots/prod/00000000000000010000-000000001234abcd.db"
        );
        assert_eq!(parse_key(P, &key), Some((10_000, 0x1234_abcd)));
        for foreign in [
            "etcd-snapshots/prod/backup.db",
            "etcd-snapshots/prod/00000000000000010000-000000001234ABCD.db",
            "etcd-snapshots/prod/0000000000000001000-000000001234abcd.db",
            "etcd-snapshots/prod/00000000000000010000-000000001234abcd.db.tmp",
            "etcd-snapshots/other/00000000000000010000-000000001234abcd.db",
            "etcd-snapshots/prod/sub/00000000000000010000-000000001234abcd.db",
        ] {
            assert_eq!(parse_key(P, foreign), None, "{foreign}");
        }
    }

    #[test]
    fn only_the_leader_snapshots() {
        let mut f = facts(&[], 5, 3);
        f.leader = false;
        assert_eq!(decide(&f), SnapshotStep::NotLeader);
    }

    #[test]
    fn a_first_snapshot_is_uploaded() {
        assert_eq!(
            decide(&facts(&[], 5, 3)),
            SnapshotStep::Upload {
                key: key_for(P, 5, 0xab),
                prune: vec![]
            }
        );
    }

    #[test]
    fn no_upload_when_the_revision_has_not_moved() {
        let s = [stored(4), stored(9)];
        assert_eq!(
            decide(&facts(&s, 9, 3)),
            SnapshotStep::Unchanged {
                latest: key_for(P, 9, 0xab),
                prune: vec![]
            }
        );
    }

    #[test]
    fn retention_keeps_the_newest_counting_the_new_one() {
        let s = [stored(3), stored(1), stored(2), stored(4)];
        assert_eq!(
            decide(&facts(&s, 5, 3)),
            SnapshotStep::Upload {
                key: key_for(P, 5, 0xab),
                prune: vec![key_for(P, 2, 0xab), key_for(P, 1, 0xab)]
            }
        );
        // Unchanged, a lowered --retain still prunes the oldest.
        assert_eq!(
            decide(&facts(&s, 4, 2)),
            SnapshotStep::Unchanged {
                latest: key_for(P, 4, 0xab),
                prune: vec![key_for(P, 2, 0xab), key_for(P, 1, 0xab)]
            }
        );
    }

    #[test]
    fn the_newest_is_never_pruned_even_with_retain_one() {
        let s = [stored(1), stored(2)];
        let SnapshotStep::Upload { prune, .. } = decide(&facts(&s, 3, 1)) else {
            panic!("upload");
        };
        assert_eq!(prune, vec![key_for(P, 2, 0xab), key_for(P, 1, 0xab)]);
        let SnapshotStep::Unchanged { prune, .. } = decide(&facts(&s, 2, 0)) else {
            panic!("unchanged");
        };
        assert_eq!(prune, vec![key_for(P, 1, 0xab)]);
    }
}
