//! smilodon-attach's policy: which pair to keep, finish or try.
//!
//! A pure function of the inventory one look made, so that a run and
//! `--dry-run` take the same decision, and table tests need no rig. The
//! acting side (attach, release) is `claim.rs`.

use super::pairs::{claim_order, of_rank, Inventory, Pair, Standing};

/// What this instance does with the pairs it sees.
#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    /// It holds more than one complete pair: refuse to guess which to let
    /// go (a person detaches all but one).
    Refuse(String),
    /// It holds a complete pair (a restart): keep it; release the halves
    /// of other pairs it also holds.
    Reuse { pair: Box<Pair>, release: Vec<Pair> },
    /// Finish the half-held pairs first (what an earlier run started),
    /// then try the free pairs in this order.
    Take { halves: Vec<Pair>, order: Vec<Pair> },
    /// Nothing to hold or take. Why, when the group's boot decided it; the
    /// caller says "no free pair" in its own words otherwise.
    Nothing(Option<String>),
}

/// 1. Two complete pairs held here: refuse.
/// 2. One complete pair held: reuse it, release any half-held others.
/// 3. Otherwise take: half-held pairs first, then free ones — all of them
///    in this instance's order, or, while the group is being made (`rank`),
///    only this rank's own pair.
/// 4. Nothing half-held and nothing to try: nothing.
pub fn choose(inv: &Inventory, me: &str, rank: Option<usize>) -> Choice {
    let with =
        |s: Standing| -> Vec<&Pair> { inv.pairs.iter().filter(|p| p.standing(me) == s).collect() };
    let held = with(Standing::Held);
    let halves: Vec<Pair> = with(Standing::HalfHeld).into_iter().cloned().collect();
    if held.len() > 1 {
        let ids: Vec<&str> = held.iter().map(|p| p.node_id.as_str()).collect();
        return Choice::Refuse(format!(
            "{me} holds {} complete pairs (NodeIDs {}); refusing to choose which to detach — detach all but one by hand",
            held.len(),
            ids.join(", ")
        ));
    }
    if let Some(p) = held.first() {
        return Choice::Reuse {
            pair: Box::new((*p).clone()),
            release: halves,
        };
    }
    let free = with(Standing::Free);
    let order: Vec<Pair> = match rank {
        None => claim_order(&free, me).into_iter().cloned().collect(),
        Some(rank) => match of_rank(inv, rank) {
            Some(p) if p.standing(me) == Standing::Free => vec![p.clone()],
            Some(p) if halves.is_empty() => {
                return Choice::Nothing(Some(format!(
                    "the group is booting together: NodeID {}, this rank's pair, is taken",
                    p.node_id
                )))
            }
            None if halves.is_empty() => {
                return Choice::Nothing(Some(format!(
                    "the group is booting together and its first {} ranks take the {} pairs",
                    inv.pairs.len(),
                    inv.pairs.len()
                )))
            }
            _ => Vec::new(),
        },
    };
    if halves.is_empty() && order.is_empty() {
        return Choice::Nothing(None);
    }
    Choice::Take { halves, order }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::enis::{EniAttachment, EniInfo};
    use crate::aws::volumes::{VolumeAttachment, VolumeInfo};

    /// A pair with NodeID `node`, its volume and ENI attached to the
    /// instances given (None: free).
    fn pair(node: &str, vol_at: Option<&str>, eni_at: Option<&str>) -> Pair {
        Pair {
            node_id: node.into(),
            volume: VolumeInfo {
                volume_id: format!("vol-{node}"),
                size_gib: 1,
                state: if vol_at.is_some() {
                    "in-use"
                } else {
                    "available"
                }
                .into(),
                availability_zone: "us-east-1a".into(),
                volume_type: "gp3".into(),
                tags: Default::default(),
                attachment: vol_at.map(|i| VolumeAttachment {
                    instance_id: i.into(),
                    device: "/dev/sdf".into(),
                    state: "attached".into(),
                    delete_on_termination: None,
                    attach_time: None,
                }),
                create_time: None,
            },
            eni: EniInfo {
                eni_id: format!("eni-{node}"),
                status: if eni_at.is_some() {
                    "in-use"
                } else {
                    "available"
                }
                .into(),
                availability_zone: "us-east-1a".into(),
                mac_address: "02:00:00:00:00:01".into(),
                private_ip: "10.0.0.5".into(),
                tags: Default::default(),
                attachment: eni_at.map(|i| EniAttachment {
                    attachment_id: format!("eni-attach-{node}"),
                    instance_id: i.into(),
                    device_index: 1,
                    status: "attached".into(),
                    delete_on_termination: false,
                }),
            },
        }
    }

    fn inv(pairs: Vec<Pair>) -> Inventory {
        Inventory {
            pairs,
            problems: Vec::new(),
        }
    }

    fn nodes(pairs: &[Pair]) -> Vec<&str> {
        pairs.iter().map(|p| p.node_id.as_str()).collect()
    }

    /// Every branch of `choose`, one row each.
    #[test]
    fn choose_table() {
        let me = "i-me";
        let held1 = pair("1", Some(me), Some(me));
        let held2 = pair("2", Some(me), Some(me));
        let half3 = pair("3", Some(me), None);
        let free4 = pair("4", None, None);
        let free5 = pair("5", None, None);
        let taken6 = pair("6", Some("i-other"), Some("i-other"));

        assert!(matches!(
            choose(&inv(vec![held1.clone(), held2]), me, None),
            Choice::Refuse(why) if why.contains("NodeIDs 1, 2")
        ));
        assert_eq!(
            choose(
                &inv(vec![held1.clone(), half3.clone(), free4.clone()]),
                me,
                None
            ),
            Choice::Reuse {
                pair: Box::new(held1.clone()),
                release: vec![half3.clone()]
            }
        );
        // A half first, then every free pair (in this instance's order).
        match choose(
            &inv(vec![
                half3.clone(),
                free4.clone(),
                free5.clone(),
                taken6.clone(),
            ]),
            me,
            None,
        ) {
            Choice::Take { halves, order } => {
                assert_eq!(nodes(&halves), ["3"]);
                let mut o = nodes(&order);
                o.sort();
                assert_eq!(o, ["4", "5"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            choose(&inv(vec![taken6.clone()]), me, None),
            Choice::Nothing(None)
        ));
        assert!(matches!(choose(&inv(vec![]), me, None), Choice::Nothing(_)));
        // Booting together: only this rank's pair (by NodeID).
        let all = inv(vec![free4.clone(), free5.clone(), taken6.clone()]);
        match choose(&all, me, Some(1)) {
            Choice::Take { halves, order } => {
                assert!(halves.is_empty());
                assert_eq!(nodes(&order), ["5"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            choose(&all, me, Some(2)),
            Choice::Nothing(Some(why)) if why.contains("NodeID 6, this rank's pair, is taken")
        ));
        assert!(matches!(
            choose(&all, me, Some(3)),
            Choice::Nothing(Some(why)) if why.contains("first 3 ranks")
        ));
        // A half held here is finished even when the rank's pair is taken.
        let with_half = inv(vec![half3.clone(), taken6]);
        assert_eq!(
            choose(&with_half, me, Some(1)),
            Choice::Take {
                halves: vec![half3],
                order: vec![]
            }
        );
    }
}
