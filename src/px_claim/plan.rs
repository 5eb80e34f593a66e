//! px-volume-claim's policy: the next step for a template, from one look.
//!
//! Pure functions of the volumes a look returned, so that the claim loop
//! and `--dry-run` take the very same decision, and table tests need no
//! rig. The acting side is in `claim.rs`, `volume.rs` and `release.rs`.

use super::config::Template;
use super::tags::SLOT_TAG;
use crate::aws::volumes::VolumeInfo;
use crate::spread::{fnv1a, fnv1a_seeded, pick};
use crate::turn;
use std::time::SystemTime;

/// A stable, opaque ClientToken (at most 64 characters) for slot `slot`
/// of `cluster`'s `template`, generation `gen`.
pub fn slot_token(cluster: &str, template: &str, slot: u32, gen: u32) -> String {
    let text = format!("mooring-px:{cluster}:{template}:{slot}:{gen}");
    // Two independent 64-bit hashes: a collision would merge two slots.
    let a = fnv1a(text.as_bytes());
    let b = fnv1a_seeded(text.as_bytes(), 0x8422_2325_cbf2_9ce4);
    format!("mooring-px-{a:016x}{b:016x}")
}

/// The slot numbers still free for `t`. Volumes without a slot tag (made by
/// Portworx itself, or by hand) count against max-count too: that many
/// slots are left unused.
pub fn free_slots(t: &Template, vols: &[VolumeInfo]) -> Vec<u32> {
    let taken: Vec<u32> = vols
        .iter()
        .filter_map(|v| v.tag(SLOT_TAG)?.parse().ok())
        .collect();
    let untagged = vols.iter().filter(|v| v.tag(SLOT_TAG).is_none()).count();
    let mut slots: Vec<u32> = (1..=t.max_count).filter(|s| !taken.contains(s)).collect();
    slots.truncate(slots.len().saturating_sub(untagged));
    slots
}

/// None of the template's volumes is older than [`turn::BEING_MADE`]: its
/// cluster is being made now (or has no volume yet).
pub fn being_made(vols: &[VolumeInfo], now: SystemTime) -> bool {
    vols.iter().all(|v| turn::recent(v.create_time, now))
}

/// What rank `rank` of a group booting together does for template `t`.
#[derive(Debug, PartialEq)]
pub enum FleetPlan {
    Attach(Box<VolumeInfo>),
    Create(u32),
    /// Nothing for this rank, and why.
    None(String),
}

/// Rank r's slot is slot r + 1: the first max-count ranks each make and
/// attach their own slot's volume, whatever order their looks come in (a
/// slot's volume that is available is its rank's, made by an earlier run
/// of it), and no two of them contend. The ranks after them are
/// storage-less at their first look: every slot belongs to a rank before
/// theirs.
pub fn fleet_plan(t: &Template, vols: &[VolumeInfo], rank: usize, az: &str) -> FleetPlan {
    let Some(slot) = u32::try_from(rank + 1).ok().filter(|s| *s <= t.max_count) else {
        return FleetPlan::None(format!(
            "the group is booting together and its first {} ranks make the {} volumes",
            t.max_count, t.max_count
        ));
    };
    let slot_tag = slot.to_string();
    match vols
        .iter()
        .find(|v| v.tag(SLOT_TAG) == Some(slot_tag.as_str()))
    {
        Some(v)
            if v.attachment.is_none() && v.state == "available" && v.availability_zone == az =>
        {
            FleetPlan::Attach(Box::new(v.clone()))
        }
        Some(v) if v.attachment.is_none() && v.state == "creating" => FleetPlan::Create(slot),
        Some(v) => FleetPlan::None(format!(
            "slot {slot}, this rank's, is {} ({}, {})",
            v.volume_id,
            v.attachment
                .as_ref()
                .map_or("not attached", |a| a.instance_id.as_str()),
            v.availability_zone
        )),
        None if free_slots(t, vols).contains(&slot) => FleetPlan::Create(slot),
        None => FleetPlan::None(format!(
            "slot {slot}, this rank's, is left for volumes made without a slot"
        )),
    }
}

/// What a look at a template's volumes says to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// This instance holds one already: a restart, or an attach whose
    /// answer was lost.
    Reuse(Box<VolumeInfo>),
    /// Attach this free volume.
    Attach(Box<VolumeInfo>),
    /// Make slot N's volume (or be handed it by its token) and attach it.
    Create(u32),
    /// Some volume of this AZ is held by another instance, which may be
    /// shutting down (an Auto Scaling replacement): wait for it to come
    /// free, bounded. `before_create`: a new volume could be made, but the
    /// held one is this node's to take over, not to leave orphaned.
    WaitRelease { before_create: bool },
    /// No volume of this template here, and why.
    StorageLess(String),
}

impl Step {
    /// The report's outcome for a dry run that stops at this step.
    pub fn dry_run_outcome(&self) -> &'static str {
        match self {
            Step::Reuse(_) => "reused",
            Step::Attach(_) => "would-claim",
            Step::Create(_) => "would-create",
            Step::WaitRelease { .. } => "would-wait-release",
            Step::StorageLess(_) => "storage-less",
        }
    }
}

/// What a look saw, and where in the run it was taken.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub template: &'a Template,
    pub vols: &'a [VolumeInfo],
    pub me: &'a str,
    pub az: &'a str,
    /// This instance's rank in its group, when it took a turn: spreads
    /// instances over equal candidates.
    pub rank: Option<usize>,
    /// The rank again, when the group is booting together and the
    /// template's volumes are being made: the fleet plan applies.
    pub fleet_rank: Option<usize>,
    /// The template's volumes before this run began.
    pub count_before: usize,
    /// The run's first look.
    pub first_look: bool,
    /// The run has waited for a release already.
    pub waited: bool,
}

/// Is some volume of this AZ attached to another instance? Only then can
/// one be held by an instance that is shutting down.
pub fn held_elsewhere(vols: &[VolumeInfo], me: &str, az: &str) -> bool {
    vols.iter().any(|v| {
        v.availability_zone == az && v.attachment.as_ref().is_some_and(|a| a.instance_id != me)
    })
}

/// The next step, in order:
/// 1. a volume attached here already is reused;
/// 2. a group booting together follows its fleet plan (a slot per rank);
/// 3. a free volume of this AZ is attached (spread by rank);
/// 4. under max-count with a free slot: first, on the first look, wait
///    for a volume held by another instance (it may be shutting down),
///    then make a free slot's volume;
/// 5. at max-count before the run began: wait once for a release;
/// 6. otherwise storage-less.
pub fn next_step(f: &Facts) -> Step {
    if let Some(v) = f.vols.iter().find(|v| v.attached_to(f.me)) {
        return Step::Reuse(Box::new(v.clone()));
    }
    if let Some(rank) = f.fleet_rank {
        return match fleet_plan(f.template, f.vols, rank, f.az) {
            FleetPlan::Attach(v) => Step::Attach(v),
            FleetPlan::Create(slot) => Step::Create(slot),
            FleetPlan::None(why) => Step::StorageLess(why),
        };
    }
    let mut free: Vec<&VolumeInfo> = f
        .vols
        .iter()
        .filter(|v| v.availability_zone == f.az && v.state == "available")
        .collect();
    // In an order every instance shares, for `pick`.
    free.sort_by(|a, b| a.volume_id.cmp(&b.volume_id));
    if let Some(v) = pick(&free, f.me, f.rank) {
        return Step::Attach(Box::new((*v).clone()));
    }
    let max = f.template.max_count as usize;
    let slots = free_slots(f.template, f.vols);
    if f.vols.len() < max && !slots.is_empty() {
        // Asked once, on the first look, and only when some volume here is
        // attached elsewhere (later looks see the instances racing this one).
        if f.first_look && !f.waited && held_elsewhere(f.vols, f.me, f.az) {
            return Step::WaitRelease {
                before_create: true,
            };
        }
        if let Some(&slot) = pick(&slots, f.me, f.rank) {
            return Step::Create(slot);
        }
    } else if !f.waited && f.count_before >= max {
        // At the limit before this run began: a volume held by an instance
        // that is shutting down comes free soon (replacement overlap). A
        // limit reached during this run was reached by instances booting
        // with this one: no call.
        return Step::WaitRelease {
            before_create: false,
        };
    }
    Step::StorageLess(format!(
        "{} of {} volumes exist, none free in {}",
        f.vols.len(),
        f.template.max_count,
        f.az
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::volumes::VolumeAttachment;
    use std::time::Duration;

    const AZ: &str = "us-east-1a";

    fn template(max_count: u32) -> Template {
        Template {
            volume_id: "vol-t".into(),
            max_count,
        }
    }

    fn slot_volume(slot: &str, state: &str, holder: Option<&str>, age_s: u64) -> VolumeInfo {
        VolumeInfo {
            volume_id: format!("vol-{slot}"),
            size_gib: 1,
            state: state.into(),
            availability_zone: AZ.into(),
            volume_type: "gp3".into(),
            tags: [(SLOT_TAG.to_string(), slot.to_string())].into(),
            attachment: holder.map(|i| VolumeAttachment {
                instance_id: i.into(),
                device: "/dev/sdf".into(),
                state: "attached".into(),
                delete_on_termination: Some(false),
                attach_time: None,
            }),
            create_time: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 - age_s)),
        }
    }

    fn untagged(holder: Option<&str>) -> VolumeInfo {
        let mut v = slot_volume(
            "x",
            if holder.is_some() {
                "in-use"
            } else {
                "available"
            },
            holder,
            1,
        );
        v.tags.clear();
        v
    }

    #[test]
    fn free_slots_leave_room_for_untagged_volumes() {
        let t = template(4);
        let slotted = slot_volume("2", "available", None, 1);
        assert_eq!(free_slots(&t, &[]), [1, 2, 3, 4]);
        assert_eq!(free_slots(&t, std::slice::from_ref(&slotted)), [1, 3, 4]);
        assert_eq!(free_slots(&t, &[slotted, untagged(None)]), [1, 3]);
        assert!(free_slots(&t, &vec![untagged(None); 4]).is_empty());
    }

    #[test]
    fn slot_tokens_are_stable_distinct_and_short() {
        let a = slot_token("c", "vol-1", 1, 0);
        assert_eq!(a, slot_token("c", "vol-1", 1, 0));
        assert_ne!(a, slot_token("c", "vol-1", 2, 0));
        assert_ne!(a, slot_token("c", "vol-1", 1, 1));
        assert_ne!(a, slot_token("d", "vol-1", 1, 0));
        assert!(a.len() <= 64);
    }

    #[test]
    fn a_cluster_is_being_made_while_all_its_volumes_are_young() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert!(being_made(&[], now));
        let young = slot_volume("1", "in-use", Some("i-1"), 5);
        let old = slot_volume("2", "available", None, turn::BEING_MADE.as_secs() + 1);
        assert!(being_made(std::slice::from_ref(&young), now));
        assert!(!being_made(&[young, old], now));
    }

    #[test]
    fn each_rank_of_a_booting_group_has_its_own_slot() {
        let t = template(3);
        // Nothing made yet: the first three ranks make slots 1 to 3.
        for rank in 0..3 {
            assert_eq!(
                fleet_plan(&t, &[], rank, AZ),
                FleetPlan::Create(rank as u32 + 1)
            );
        }
        assert!(matches!(fleet_plan(&t, &[], 3, AZ), FleetPlan::None(_)));
        // Slot 2 made (by rank 1, whose attach is on its way): rank 1's
        // rerun attaches it, nobody else touches it.
        let made = [slot_volume("2", "available", None, 1)];
        assert_eq!(
            fleet_plan(&t, &made, 1, AZ),
            FleetPlan::Attach(Box::new(made[0].clone()))
        );
        assert_eq!(fleet_plan(&t, &made, 0, AZ), FleetPlan::Create(1));
        assert!(matches!(fleet_plan(&t, &made, 5, AZ), FleetPlan::None(_)));
        // Still creating: the same token hands it over.
        let creating = [slot_volume("1", "creating", None, 1)];
        assert_eq!(fleet_plan(&t, &creating, 0, AZ), FleetPlan::Create(1));
        // Held by another instance, or made in another AZ: nothing.
        let held = [slot_volume("1", "in-use", Some("i-other"), 1)];
        assert!(matches!(fleet_plan(&t, &held, 0, AZ), FleetPlan::None(_)));
        assert!(matches!(
            fleet_plan(&t, &made, 1, "us-east-1b"),
            FleetPlan::None(_)
        ));
        // A volume without a slot (made by Portworx itself) leaves the
        // last slot unused.
        let px = untagged(Some("i-px"));
        assert_eq!(
            fleet_plan(&t, std::slice::from_ref(&px), 1, AZ),
            FleetPlan::Create(2)
        );
        assert!(matches!(fleet_plan(&t, &[px], 2, AZ), FleetPlan::None(_)));
    }

    fn facts<'a>(t: &'a Template, vols: &'a [VolumeInfo]) -> Facts<'a> {
        Facts {
            template: t,
            vols,
            me: "i-me",
            az: AZ,
            rank: None,
            fleet_rank: None,
            count_before: vols.len(),
            first_look: true,
            waited: false,
        }
    }

    /// In a row's step: whichever free slot this instance's spread picks.
    const ANY_SLOT: u32 = 0;

    /// Every branch of `next_step`, one row each: what the look saw, where
    /// in the run, and the step.
    #[test]
    fn next_step_table() {
        let t2 = template(2);
        let mine = slot_volume("1", "in-use", Some("i-me"), 9999);
        let free = slot_volume("1", "available", None, 9999);
        let held = slot_volume("1", "in-use", Some("i-other"), 9999);
        let held2 = slot_volume("2", "in-use", Some("i-other2"), 9999);
        let other_az = {
            let mut v = free.clone();
            v.availability_zone = "us-east-1b".into();
            v
        };
        type Row<'a> = (&'a str, Vec<VolumeInfo>, fn(&mut Facts), Step);
        let rows: Vec<Row> = vec![
            (
                "mine already",
                vec![mine.clone(), free.clone()],
                |_| {},
                Step::Reuse(Box::new(mine.clone())),
            ),
            (
                "a free one here",
                vec![free.clone()],
                |_| {},
                Step::Attach(Box::new(free.clone())),
            ),
            (
                "nothing yet: any free slot",
                vec![],
                |_| {},
                Step::Create(ANY_SLOT),
            ),
            (
                "free only in another AZ: a new slot",
                vec![other_az.clone()],
                |_| {},
                Step::Create(2),
            ),
            (
                "held elsewhere, first look: wait first",
                vec![held.clone()],
                |_| {},
                Step::WaitRelease {
                    before_create: true,
                },
            ),
            (
                "held elsewhere, waited: create",
                vec![held.clone()],
                |f| f.waited = true,
                Step::Create(2),
            ),
            (
                "held elsewhere, a later look: create",
                vec![held.clone()],
                |f| f.first_look = false,
                Step::Create(2),
            ),
            (
                "at the limit before the run: wait once",
                vec![held.clone(), held2.clone()],
                |_| {},
                Step::WaitRelease {
                    before_create: false,
                },
            ),
            (
                "at the limit, waited",
                vec![held.clone(), held2.clone()],
                |f| f.waited = true,
                Step::StorageLess("2 of 2 volumes exist, none free in us-east-1a".into()),
            ),
            (
                "limit reached during the run: no wait",
                vec![held.clone(), held2.clone()],
                |f| f.count_before = 1,
                Step::StorageLess("2 of 2 volumes exist, none free in us-east-1a".into()),
            ),
            (
                "an untagged volume uses up a slot",
                vec![untagged(Some("i-px"))],
                |f| f.waited = true,
                Step::Create(1),
            ),
            (
                "untagged and slotted fill max-count",
                vec![untagged(Some("i-px")), held2.clone()],
                |f| f.waited = true,
                Step::StorageLess("2 of 2 volumes exist, none free in us-east-1a".into()),
            ),
            (
                "booting together: the rank's own slot",
                vec![],
                |f| {
                    f.rank = Some(1);
                    f.fleet_rank = Some(1)
                },
                Step::Create(2),
            ),
            (
                "booting together, a rank past max-count",
                vec![free.clone()],
                |f| {
                    f.rank = Some(2);
                    f.fleet_rank = Some(2)
                },
                Step::StorageLess(
                    "the group is booting together and its first 2 ranks make the 2 volumes".into(),
                ),
            ),
        ];
        for (why, vols, tweak, want) in rows {
            let mut f = facts(&t2, &vols);
            tweak(&mut f);
            match (next_step(&f), want) {
                // Instances spread over the free slots (`pick`).
                (Step::Create(slot), Step::Create(ANY_SLOT)) => {
                    assert!(free_slots(&t2, &vols).contains(&slot), "{why}: slot {slot}")
                }
                (got, want) => assert_eq!(got, want, "{why}"),
            }
        }
    }

    #[test]
    fn dry_run_outcomes_keep_the_report_strings() {
        assert_eq!(Step::Create(1).dry_run_outcome(), "would-create");
        assert_eq!(
            Step::StorageLess(String::new()).dry_run_outcome(),
            "storage-less"
        );
    }
}
