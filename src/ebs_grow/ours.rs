//! Which volumes are ebs-grow's own: the tags it made them with.
//!
//! Which volumes are ebs-grow's: tagged at creation with who made them,
//! for which instance and mountpoint. Only these are ever adopted,
//! detached or deleted.

use super::config::Settings;
use crate::aws::filter::FilterSpec;
use crate::aws::volumes::{VolumeInfo, VolumeSpec};
use std::collections::BTreeMap;

pub const TAG_MANAGED_BY: &str = "mooring:managed-by";
pub const MANAGED_BY: &str = "ebs-grow";
pub const TAG_INSTANCE: &str = "mooring:source-instance";
pub const TAG_MOUNTPOINT: &str = "mooring:mountpoint";
pub const TAG_SEQUENCE: &str = "mooring:sequence";

/// Filters for this instance's ebs-grow volumes of this mountpoint, in
/// this AZ (EBS volumes never cross an AZ).
pub fn filters(instance_id: &str, az: &str, s: &Settings) -> Vec<FilterSpec> {
    vec![
        FilterSpec::tag(TAG_MANAGED_BY, MANAGED_BY),
        FilterSpec::tag(TAG_INSTANCE, instance_id),
        FilterSpec::tag(TAG_MOUNTPOINT, s.mountpoint.to_string_lossy()),
        FilterSpec::new("availability-zone", [az]),
    ]
}

/// The sequence number a volume was created with (0 when missing).
pub fn sequence(v: &VolumeInfo) -> u32 {
    v.tag(TAG_SEQUENCE)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The spec of volume number `seq` for this mountpoint.
pub fn spec(s: &Settings, instance_id: &str, az: &str, size_gib: i32, seq: u32) -> VolumeSpec {
    let mp = s.mountpoint.to_string_lossy().into_owned();
    let mut tags: BTreeMap<String, String> = s.tags.clone();
    tags.insert(TAG_MANAGED_BY.into(), MANAGED_BY.into());
    tags.insert(TAG_INSTANCE.into(), instance_id.into());
    tags.insert(TAG_MOUNTPOINT.into(), mp.clone());
    tags.insert(TAG_SEQUENCE.into(), seq.to_string());
    tags.entry("Name".into())
        .or_insert_with(|| format!("ebs-grow {mp} on {instance_id}"));
    VolumeSpec {
        size_gib,
        volume_type: s.volume_type.clone(),
        iops: s.iops,
        throughput: s.throughput,
        encrypted: s.encrypted,
        kms_key_id: s.kms_key_id.clone(),
        snapshot_id: None,
        availability_zone: az.into(),
        tags,
    }
}

/// A ClientToken that is the same for every retry of one creation and
/// different for any other: instance, mountpoint, sequence number, and the
/// filesystem generation (its UUID, or the boot ID before there is one).
pub fn client_token(instance_id: &str, s: &Settings, generation: &str, seq: u32) -> String {
    let h = crate::spread::fnv1a(format!("{}\0{generation}", s.mountpoint.display()).as_bytes());
    // At most 64 ASCII characters, as EC2 requires.
    format!("ebs-grow-{instance_id}-{h:016x}-{seq}")
}

/// This boot's ID, the generation of an `init` that has no filesystem yet.
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ebs_grow::config::Options;

    #[test]
    fn tokens_are_stable_distinct_and_short() {
        let s = Options {
            mountpoint: Some("/scratch".into()),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        let id = "i-0123456789abcdef0";
        let a = client_token(id, &s, "uuid-1", 2);
        assert_eq!(a, client_token(id, &s, "uuid-1", 2));
        assert_ne!(a, client_token(id, &s, "uuid-1", 3));
        assert_ne!(a, client_token(id, &s, "uuid-2", 2));
        assert!(a.len() <= 64 && a.is_ascii(), "{a}");
    }
}
