//! Stable hashing, and spreading instances over equal candidates.
//!
//! Stable hashing, and spreading instances that boot together over equal
//! candidates (pairs, free volumes, slots) so that they do not all race for
//! the first one. Stable across builds and platforms — std's hasher is not
//! — because tokens made from it must agree between instances and versions.

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

/// FNV-1a of `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_seeded(bytes, FNV_OFFSET)
}

/// FNV-1a starting from `seed` instead of the standard offset: a second,
/// independent hash of the same bytes.
pub fn fnv1a_seeded(bytes: &[u8], seed: u64) -> u64 {
    bytes
        .iter()
        .fold(seed, |h, b| (h ^ u64::from(*b)).wrapping_mul(FNV_PRIME))
}

/// All of `items`, starting at a place that depends on `key` (an instance
/// ID) and wrapping around.
pub fn spread_order<T: Clone>(items: &[T], key: &str) -> Vec<T> {
    if items.is_empty() {
        return Vec::new();
    }
    let start = (fnv1a(key.as_bytes()) % items.len() as u64) as usize;
    items[start..]
        .iter()
        .chain(&items[..start])
        .cloned()
        .collect()
}

/// The one item of `items` for an instance: with a rank (its place in its
/// group, see crate::turn) the rank's own, so that instances looking at
/// the same list at the same time pick different items; else the first of
/// [`spread_order`]. `items` must be in an order every instance shares.
pub fn pick<'a, T>(items: &'a [T], key: &str, rank: Option<usize>) -> Option<&'a T> {
    if items.is_empty() {
        return None;
    }
    let i = match rank {
        Some(r) => r % items.len(),
        None => (fnv1a(key.as_bytes()) % items.len() as u64) as usize,
    };
    items.get(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_is_the_published_function() {
        // Test vectors of the FNV reference.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn spread_order_covers_every_item_once_from_a_stable_start() {
        let items: Vec<u32> = (0..5).collect();
        let a = spread_order(&items, "i-0123");
        assert_eq!(a, spread_order(&items, "i-0123"));
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, items);
        let starts: std::collections::BTreeSet<u32> = (0..20)
            .map(|i| spread_order(&items, &format!("i-{i:04x}"))[0])
            .collect();
        assert!(starts.len() > 1, "{starts:?}");
        assert!(spread_order::<u32>(&[], "i-1").is_empty());
    }

    #[test]
    fn pick_gives_consecutive_ranks_different_items() {
        let items: Vec<u32> = (0..3).collect();
        let picked: Vec<u32> = (0..3)
            .map(|r| *pick(&items, "i-1", Some(r)).unwrap())
            .collect();
        assert_eq!(picked, [0, 1, 2]);
        assert_eq!(pick(&items, "i-1", Some(4)), Some(&1));
        assert_eq!(
            pick(&items, "i-0123", None),
            spread_order(&items, "i-0123").first()
        );
        assert_eq!(pick::<u32>(&[], "i-1", Some(0)), None);
    }
}
