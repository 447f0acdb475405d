//! A worker's groups: one hash table that a worker folds the records of
//! every chunk it takes into (DuckDB's thread-local aggregate hash tables,
//! Leis et al., "Morsel-Driven Parallelism", SIGMOD 2014), stored by
//! column so that a group costs a few dozen bytes and no allocation of
//! its own: the keys one after another in one arena, each aggregate's
//! state in one vector (counts as `u64`, sums as [`SmallSum`], the
//! value-holding aggregates as [`Acc`]).
//!
//! The table maps a group's key to its index (a `u32`), hashed once per
//! record. Each slot keeps the low 32 bits of the key's hash beside the
//! index: a probe compares them before it reads the key (one cache miss
//! fewer than reading a hash kept by group), and growing the table
//! rehashes from the slots alone. Nothing is ordered here: the reducer
//! orders the groups of every table at the end.

use hashbrown::HashTable;

use super::acc::Acc;
use crate::reduce::number::SmallSum;

/// The hash the index is built on, from the low 32 bits of a key's hash
/// (kept in its slot): multiplied by the golden-ratio constant of
/// Fibonacci hashing (Knuth, TAOCP vol. 3, 6.4), so that the top bits,
/// which the index's control bytes keep, depend on all 32.
#[inline]
fn slot_hash(low: u32) -> u64 {
    u64::from(low).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// How many of each kind of state a group has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Widths {
    /// `count` and `count:col` aggregates.
    pub(super) counts: usize,
    /// Distinct summed columns (a `sum` and a `mean` of one column share).
    pub(super) sums: usize,
    /// Aggregates that hold values (`min`, `max`, `distinct`, `mode`,
    /// `first`, `last`).
    pub(super) accs: usize,
}

/// The groups one worker has folded (see the module docs).
#[derive(Debug, Default)]
pub(super) struct Table {
    /// Per group: its index and the low 32 bits of its key's hash.
    index: HashTable<(u32, u32)>,
    /// Every group's encoded key, one after another.
    keys: Vec<u8>,
    /// Where each group's key ends in `keys`.
    key_ends: Vec<usize>,
    /// `Widths::counts` per group.
    pub(super) counts: Vec<u64>,
    /// `Widths::sums` per group: the sum and how many values it has.
    pub(super) sums: Vec<(SmallSum, u64)>,
    /// `Widths::accs` per group.
    pub(super) accs: Vec<Acc>,
}

impl Table {
    /// Groups held.
    pub(super) fn len(&self) -> usize {
        self.key_ends.len()
    }

    /// The encoded key of group `g`.
    pub(super) fn key(&self, g: usize) -> &[u8] {
        let start = if g == 0 { 0 } else { self.key_ends[g - 1] };
        &self.keys[start..self.key_ends[g]]
    }

    /// The group of `key` (whose hash is `hash`), added with `new_state`
    /// when it is not here yet; the flag says it was added.
    ///
    /// # Panics
    /// When the table would hold more than `u32::MAX` groups.
    #[inline]
    pub(super) fn group(
        &mut self,
        hash: u64,
        key: &[u8],
        widths: Widths,
        new_accs: impl FnOnce(&mut Vec<Acc>),
    ) -> (usize, bool) {
        let Table { index, keys, key_ends, .. } = self;
        let low = hash as u32;
        let found = index.find(slot_hash(low), |&(g, h)| {
            let g = g as usize;
            h == low && {
                let start = if g == 0 { 0 } else { key_ends[g - 1] };
                &keys[start..key_ends[g]] == key
            }
        });
        if let Some(&(g, _)) = found {
            return (g as usize, false);
        }
        let g = self.key_ends.len();
        let id = u32::try_from(g).expect("a worker's table holds at most u32::MAX groups");
        self.index.insert_unique(slot_hash(low), (id, low), |&(_, h)| slot_hash(h));
        self.keys.extend_from_slice(key);
        self.key_ends.push(self.keys.len());
        self.counts.resize(self.counts.len() + widths.counts, 0);
        self.sums.resize_with(self.sums.len() + widths.sums, Default::default);
        new_accs(&mut self.accs);
        (g, true)
    }

    /// The states of group `g`: its counts, sums and value-holding
    /// accumulators.
    pub(super) fn states(&self, g: usize, w: Widths) -> (&[u64], &[(SmallSum, u64)], &[Acc]) {
        (
            &self.counts[g * w.counts..(g + 1) * w.counts],
            &self.sums[g * w.sums..(g + 1) * w.sums],
            &self.accs[g * w.accs..(g + 1) * w.accs],
        )
    }

    /// Frees the hash index, which only finding a group needs: before the groups are ordered, whose sort needs 20 bytes a
    /// group of its own. [`Self::group`] must not be called after.
    pub(super) fn free_index(&mut self) {
        self.index = HashTable::new();
    }

    /// Forgets every group, keeping the allocations.
    pub(super) fn clear(&mut self) {
        self.index.clear();
        self.keys.clear();
        self.key_ends.clear();
        self.counts.clear();
        self.sums.clear();
        self.accs.clear();
    }

    /// Bytes the table has allocated, as capacities: its slots,
    /// keys and states (not what the value-holding accumulators hold on
    /// the heap: the reducer counts that as it grows).
    pub(super) fn allocated_bytes(&self) -> u64 {
        use std::mem::size_of;
        let slots = self.index.capacity() * (size_of::<(u32, u32)>() + 1);
        let columns = self.keys.capacity()
            + self.key_ends.capacity() * size_of::<usize>()
            + self.counts.capacity() * size_of::<u64>()
            + self.sums.capacity() * size_of::<(SmallSum, u64)>()
            + self.accs.capacity() * size_of::<Acc>();
        (slots + columns) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_found_by_hash_and_key_and_get_fresh_state() {
        let widths = Widths { counts: 2, sums: 1, accs: 0 };
        let mut t = Table::default();
        // Two keys with the same hash stay two groups.
        assert_eq!(t.group(7, b"a", widths, |_| {}), (0, true));
        assert_eq!(t.group(7, b"b", widths, |_| {}), (1, true));
        assert_eq!(t.group(9, b"a", widths, |_| {}), (2, true));
        assert_eq!(t.group(7, b"a", widths, |_| {}), (0, false));
        for i in 0..10_000u64 {
            t.group(i * 31, &i.to_le_bytes(), widths, |_| {});
        }
        assert_eq!(t.group(7, b"b", widths, |_| {}), (1, false));
        assert_eq!(t.group(31 * 77, &77u64.to_le_bytes(), widths, |_| {}), (3 + 77, false));
        assert_eq!((t.len(), t.counts.len(), t.sums.len()), (10_003, 20_006, 10_003));
        assert_eq!((t.key(0), t.key(1), t.key(3)), (&b"a"[..], &b"b"[..], &0u64.to_le_bytes()[..]));
        assert!(t.allocated_bytes() > 10_003 * 40);
    }
}
