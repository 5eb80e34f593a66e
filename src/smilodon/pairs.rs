//! Volumes and ENIs that share a NodeID tag, sorted into pairs.
//!
//! Volumes and ENIs that share a NodeID tag value form a pair. This module
//! only looks: it sorts what two Describe calls returned into pairs, what
//! this instance holds, what is free, and what is wrong with the tags.

use crate::aws::enis::EniInfo;
use crate::aws::volumes::VolumeInfo;
use serde::Serialize;
use std::collections::BTreeMap;

/// A volume and an ENI with the same NodeID.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    pub node_id: String,
    pub volume: VolumeInfo,
    pub eni: EniInfo,
}

/// Something about the tagged resources that keeps a NodeID out of play.
/// Reported, never acted on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "kebab-case")]
pub enum Problem {
    /// A volume without an ENI of the same NodeID (in this AZ).
    VolumeWithoutEni { node_id: String, volume_id: String },
    /// An ENI without a volume of the same NodeID (in this AZ).
    EniWithoutVolume { node_id: String, eni_id: String },
    /// Several volumes or ENIs share one NodeID: which one belongs to the
    /// node is anybody's guess.
    Ambiguous {
        node_id: String,
        volumes: Vec<String>,
        enis: Vec<String>,
    },
    /// The NodeID tag is present but empty.
    EmptyNodeId { resource: String },
}

impl Problem {
    pub fn describe(&self, tag: &str) -> String {
        match self {
            Problem::VolumeWithoutEni { node_id, volume_id } => format!(
                "{tag}={node_id}: volume {volume_id} has no ENI with the same {tag} in this AZ; not attached"
            ),
            Problem::EniWithoutVolume { node_id, eni_id } => format!(
                "{tag}={node_id}: ENI {eni_id} has no volume with the same {tag} in this AZ; not attached"
            ),
            Problem::Ambiguous {
                node_id,
                volumes,
                enis,
            } => format!(
                "{tag}={node_id} is on {} volumes ({}) and {} ENIs ({}); a pair is one of each; not attached",
                volumes.len(),
                volumes.join(", "),
                enis.len(),
                enis.join(", ")
            ),
            Problem::EmptyNodeId { resource } => {
                format!("{resource} has an empty {tag} tag; ignored")
            }
        }
    }

    pub fn node_id(&self) -> Option<&str> {
        match self {
            Problem::VolumeWithoutEni { node_id, .. }
            | Problem::EniWithoutVolume { node_id, .. }
            | Problem::Ambiguous { node_id, .. } => Some(node_id),
            Problem::EmptyNodeId { .. } => None,
        }
    }
}

/// All pairs (sorted by NodeID) and every problem found.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub pairs: Vec<Pair>,
    pub problems: Vec<Problem>,
}

/// Sort `volumes` and `enis` (already filtered to this AZ and the user's
/// filters) into pairs by the value of tag `tag`.
pub fn pair_up(volumes: Vec<VolumeInfo>, enis: Vec<EniInfo>, tag: &str) -> Inventory {
    let mut problems = Vec::new();
    let mut by_node: BTreeMap<String, (Vec<VolumeInfo>, Vec<EniInfo>)> = BTreeMap::new();
    for v in volumes {
        match v.tag(tag).map(str::to_string) {
            Some(id) if !id.trim().is_empty() => by_node.entry(id).or_default().0.push(v),
            Some(_) => problems.push(Problem::EmptyNodeId {
                resource: v.volume_id.clone(),
            }),
            None => {}
        }
    }
    for e in enis {
        match e.tag(tag).map(str::to_string) {
            Some(id) if !id.trim().is_empty() => by_node.entry(id).or_default().1.push(e),
            Some(_) => problems.push(Problem::EmptyNodeId {
                resource: e.eni_id.clone(),
            }),
            None => {}
        }
    }
    let mut pairs = Vec::new();
    for (node_id, (mut vols, mut enis)) in by_node {
        match (vols.len(), enis.len()) {
            (1, 1) => pairs.push(Pair {
                node_id,
                volume: vols.remove(0),
                eni: enis.remove(0),
            }),
            (1, 0) => problems.push(Problem::VolumeWithoutEni {
                node_id,
                volume_id: vols.remove(0).volume_id,
            }),
            (0, 1) => problems.push(Problem::EniWithoutVolume {
                node_id,
                eni_id: enis.remove(0).eni_id,
            }),
            _ => problems.push(Problem::Ambiguous {
                node_id,
                volumes: vols.into_iter().map(|v| v.volume_id).collect(),
                enis: enis.into_iter().map(|e| e.eni_id).collect(),
            }),
        }
    }
    Inventory { pairs, problems }
}

/// Where a pair stands relative to one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Volume and ENI attached (or attaching) here.
    Held,
    /// One of the two attached here, the other not (a crash between the
    /// two attaches, or a lost race not yet released).
    HalfHeld,
    /// Both unattached and available.
    Free,
    /// Anything else: in use elsewhere, detaching, being created.
    Taken,
}

fn volume_here(v: &VolumeInfo, instance_id: &str) -> bool {
    v.attachment.as_ref().is_some_and(|a| {
        a.instance_id == instance_id && matches!(a.state.as_str(), "attaching" | "attached")
    })
}

fn eni_here(e: &EniInfo, instance_id: &str) -> bool {
    e.attachment.as_ref().is_some_and(|a| {
        a.instance_id == instance_id && matches!(a.status.as_str(), "attaching" | "attached")
    })
}

impl Pair {
    pub fn volume_here(&self, instance_id: &str) -> bool {
        volume_here(&self.volume, instance_id)
    }

    pub fn eni_here(&self, instance_id: &str) -> bool {
        eni_here(&self.eni, instance_id)
    }

    pub fn standing(&self, instance_id: &str) -> Standing {
        match (self.volume_here(instance_id), self.eni_here(instance_id)) {
            (true, true) => Standing::Held,
            (true, false) | (false, true) => Standing::HalfHeld,
            (false, false)
                if self.volume.state == "available"
                    && self.volume.attachment.is_none()
                    && self.eni.status == "available"
                    && self.eni.attachment.is_none() =>
            {
                Standing::Free
            }
            _ => Standing::Taken,
        }
    }
}

/// Every pair is free or had its volume taken within
/// [`crate::turn::BEING_MADE`]: the group is being made now (its instances
/// boot together), and each rank has its own pair (see [`of_rank`]).
pub fn being_made(inv: &Inventory, now: std::time::SystemTime) -> bool {
    inv.pairs.iter().all(|p| {
        p.volume
            .attachment
            .as_ref()
            .is_none_or(|a| crate::turn::recent(a.attach_time, now))
    })
}

/// Rank `rank`'s pair while the group is being made: the rank-th of all
/// the pairs, taken or not, by NodeID (numbers by value) — a list every
/// instance sees alike, whenever it looks.
pub fn of_rank(inv: &Inventory, rank: usize) -> Option<&Pair> {
    let mut all: Vec<&Pair> = inv.pairs.iter().collect();
    all.sort_by(|a, b| {
        (a.node_id.parse::<u64>().ok(), &a.node_id)
            .cmp(&(b.node_id.parse::<u64>().ok(), &b.node_id))
    });
    all.get(rank).copied()
}

/// The order in which an instance tries free pairs: all of them, starting
/// at a place that depends on the instance ID, so that instances booting
/// together spread over the pairs instead of all racing for the first.
pub fn claim_order<'a>(free: &[&'a Pair], instance_id: &str) -> Vec<&'a Pair> {
    crate::spread::spread_order(free, instance_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::enis::EniAttachment;
    use crate::aws::volumes::VolumeAttachment;

    fn vol(id: &str, node: Option<&str>, att: Option<(&str, &str)>) -> VolumeInfo {
        VolumeInfo {
            volume_id: id.into(),
            size_gib: 1,
            state: if att.is_some() { "in-use" } else { "available" }.into(),
            availability_zone: "us-east-1a".into(),
            volume_type: "gp3".into(),
            tags: node
                .map(|n| [("NodeID".to_string(), n.to_string())].into())
                .unwrap_or_default(),
            attachment: att.map(|(i, s)| VolumeAttachment {
                instance_id: i.into(),
                device: "/dev/sdf".into(),
                state: s.into(),
                delete_on_termination: None,
                attach_time: None,
            }),
            create_time: None,
        }
    }

    fn eni(id: &str, node: Option<&str>, att: Option<(&str, &str)>) -> EniInfo {
        EniInfo {
            eni_id: id.into(),
            status: if att.is_some() { "in-use" } else { "available" }.into(),
            availability_zone: "us-east-1a".into(),
            mac_address: "02:00:00:00:00:01".into(),
            private_ip: "10.0.0.5".into(),
            tags: node
                .map(|n| [("NodeID".to_string(), n.to_string())].into())
                .unwrap_or_default(),
            attachment: att.map(|(i, s)| EniAttachment {
                attachment_id: format!("eni-attach-{id}"),
                instance_id: i.into(),
                device_index: 1,
                status: s.into(),
                delete_on_termination: false,
            }),
        }
    }

    #[test]
    fn pairs_by_node_id_and_reports_the_rest() {
        let inv = pair_up(
            vec![
                vol("vol-1", Some("1"), None),
                vol("vol-2", Some("2"), None),
                vol("vol-3a", Some("3"), None),
                vol("vol-3b", Some("3"), None),
                vol("vol-e", Some(""), None),
            ],
            vec![
                eni("eni-1", Some("1"), None),
                eni("eni-3", Some("3"), None),
                eni("eni-4", Some("4"), None),
            ],
            "NodeID",
        );
        let ids: Vec<&str> = inv.pairs.iter().map(|p| p.node_id.as_str()).collect();
        assert_eq!(ids, ["1"]);
        assert!(inv.problems.contains(&Problem::VolumeWithoutEni {
            node_id: "2".into(),
            volume_id: "vol-2".into()
        }));
        assert!(inv.problems.contains(&Problem::EniWithoutVolume {
            node_id: "4".into(),
            eni_id: "eni-4".into()
        }));
        assert!(inv.problems.contains(&Problem::Ambiguous {
            node_id: "3".into(),
            volumes: vec!["vol-3a".into(), "vol-3b".into()],
            enis: vec!["eni-3".into()],
        }));
        assert!(inv.problems.contains(&Problem::EmptyNodeId {
            resource: "vol-e".into()
        }));
    }

    #[test]
    fn standing_of_a_pair() {
        let p = |v, e| Pair {
            node_id: "1".into(),
            volume: vol("vol-1", Some("1"), v),
            eni: eni("eni-1", Some("1"), e),
        };
        assert_eq!(p(None, None).standing("i-me"), Standing::Free);
        assert_eq!(
            p(Some(("i-me", "attached")), Some(("i-me", "attaching"))).standing("i-me"),
            Standing::Held
        );
        assert_eq!(
            p(Some(("i-me", "attached")), None).standing("i-me"),
            Standing::HalfHeld
        );
        assert_eq!(
            p(None, Some(("i-me", "attached"))).standing("i-me"),
            Standing::HalfHeld
        );
        assert_eq!(
            p(Some(("i-other", "attached")), None).standing("i-me"),
            Standing::Taken
        );
        // Detaching from us is neither ours nor free yet.
        assert_eq!(
            p(Some(("i-me", "detaching")), None).standing("i-me"),
            Standing::Taken
        );
    }

    #[test]
    fn while_the_group_is_being_made_each_rank_has_its_pair() {
        let now = std::time::SystemTime::now();
        let pair = |node: &str, att: Option<(&str, &str)>, age_s: u64| {
            let mut v = vol(&format!("vol-{node}"), Some(node), att);
            if let Some(a) = v.attachment.as_mut() {
                a.attach_time = Some(now - std::time::Duration::from_secs(age_s));
            }
            Pair {
                node_id: node.into(),
                volume: v,
                eni: eni(&format!("eni-{node}"), Some(node), None),
            }
        };
        let inv = |pairs: Vec<Pair>| Inventory {
            pairs,
            problems: Vec::new(),
        };
        let fresh = inv(vec![
            pair("10", None, 0),
            pair("2", Some(("i-a", "attached")), 5),
            pair("1", None, 0),
        ]);
        assert!(being_made(&fresh, now));
        // Numbers by value: 1, 2, 10; taken pairs keep their place.
        let nodes: Vec<_> = (0..4)
            .map(|r| of_rank(&fresh, r).map(|p| p.node_id.clone()))
            .collect();
        assert_eq!(
            nodes,
            [Some("1".into()), Some("2".into()), Some("10".into()), None]
        );
        let settled = inv(vec![
            pair("1", None, 0),
            pair("2", Some(("i-a", "attached")), 3600),
        ]);
        assert!(!being_made(&settled, now));
        assert!(being_made(&inv(Vec::new()), now));
    }
}
