//! A worker's groups: one hash table that a worker folds the records of
//! every chunk it takes into (DuckDB's thread-local aggregate hash tables,
//! Leis et al., "Morsel-Driven Parallelism", SIGMOD 2014), stored by
//! column so that a group costs a few dozen bytes and no allocation of
//! its own: the keys one after another in one arena, each aggregate's
//! state in one vector (counts as `u64`, sums as 16-byte [`PackedSum`]s,
//! the value-holding aggregates as [`Acc`]); the rare rest of a sum that
//! outgrew its `i64` in a map beside them.
//!
//! The table maps a group's key to its index (a `u32`), hashed once per
//! record, through an open-addressing index with linear probing
//! ([`SlotIndex`]: Knuth, TAOCP vol. 3, 6.4, algorithm L). Each 8-byte
//! slot keeps the low 32 bits of the key's hash beside the group: a probe
//! compares them before it reads the key, and growing the index rehashes
//! from the slots alone. There is no separate array of control bytes (as
//! in a SwissTable), so finding a group costs one cache miss in the index,
//! and a caller that knows the hashes of the next records ahead can
//! [`Table::prefetch`] their slots, so that the misses of a batch of
//! records overlap (the vectorized probing of DuckDB's and Polars' hash
//! aggregates). Nothing is ordered here: the reducer orders the groups of
//! every table at the end.

use hashbrown::HashMap;

use super::acc::Acc;
use crate::reduce::number::{ExactSum, Number, PackedSum, SmallSum};

/// The hash the index is built on, from the low 32 bits of a key's hash
/// (kept in its slot): multiplied by the golden-ratio constant of
/// Fibonacci hashing (Knuth, TAOCP vol. 3, 6.4), so that the top bits,
/// which pick a key's home slot, depend on all 32.
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

/// The index of a table: a power-of-two array of slots, each 0 (empty)
/// or the low 32 bits of a key's hash above its group number plus one;
/// a key's home slot is the top bits of [`slot_hash`], and a probe walks
/// on from it to the first empty slot. At most half of the slots are
/// used while the index is small, three quarters once it is big (then the
/// index doubles), so a probe reads a slot or two (8 slots share a cache
/// line).
#[derive(Debug, Default)]
struct SlotIndex {
    slots: Vec<u64>,
    /// Slots used.
    len: usize,
}

impl SlotIndex {
    /// The home slot of a key whose hash has `low` as its low 32 bits
    /// (the slots must not be empty).
    #[inline]
    fn home(&self, low: u32) -> usize {
        // `slots.len()` is a power of two, at least 16.
        let bits = self.slots.len().trailing_zeros();
        (slot_hash(low) >> (64 - bits)) as usize
    }

    /// The group in the first slot from `low`'s home for which `eq`
    /// holds, or the empty slot where the probe ended.
    #[inline]
    fn find(&self, low: u32, mut eq: impl FnMut(usize) -> bool) -> Result<u32, usize> {
        if self.slots.is_empty() {
            return Err(0);
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(low);
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                return Err(i);
            }
            let g = slot as u32 - 1;
            if (slot >> 32) as u32 == low && eq(g as usize) {
                return Ok(g);
            }
            i = (i + 1) & mask;
        }
    }

    /// Puts group `g` of hash `low` in `at`, the empty slot
    /// [`Self::find`] ended at, growing the index first when it is as
    /// full as [`Self::max_len`] allows (then the slot is found again).
    #[inline]
    fn insert(&mut self, at: usize, low: u32, g: u32) {
        let at = if self.slots.is_empty() || self.len + 1 > self.max_len() {
            self.grow();
            self.find(low, |_| false).unwrap_err()
        } else {
            at
        };
        self.slots[at] = (u64::from(low) << 32) | (u64::from(g) + 1);
        self.len += 1;
    }

    /// Slots the index may use before it grows: half while it is small
    /// (shorter probes, in memory that is cheap), three quarters from
    /// [`SMALL_SLOTS`] slots on.
    #[inline]
    fn max_len(&self) -> usize {
        let n = self.slots.len();
        if n < SMALL_SLOTS {
            n / 2
        } else {
            n / 4 * 3
        }
    }

    /// Doubles the slots (16 at first), rehashing from them.
    #[cold]
    #[expect(clippy::slow_vector_initialization, reason = "zeroed by writing (see below)")]
    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(16);
        // Zeroed by writing, not by `vec![0; size]`: that maps the new
        // slots to the kernel's zero page, whose first write then faults
        // again and flushes the TLBs of every CPU the run is on (15% of a
        // 10M-group run's time on 2 cores).
        let mut slots = Vec::with_capacity(size);
        slots.resize(size, 0);
        let old = std::mem::replace(&mut self.slots, slots);
        let mask = self.slots.len() - 1;
        for slot in old.into_iter().filter(|&s| s != 0) {
            let mut i = self.home((slot >> 32) as u32);
            while self.slots[i] != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = slot;
        }
    }

    /// Asks the CPU to bring `low`'s home slot into the cache.
    #[inline]
    fn prefetch(&self, low: u32) {
        if !self.slots.is_empty() {
            prefetch(&self.slots[self.home(low)]);
        }
    }

    fn clear(&mut self) {
        self.slots.fill(0);
        self.len = 0;
    }
}

/// Slots (of 8 bytes) below which an index is at most half full.
const SMALL_SLOTS: usize = 1 << 16;

/// Asks the CPU to bring the cache line at `at` into its caches, and
/// returns at once (a hint: nothing is read, nothing can fault, so `at`
/// may point anywhere).
#[inline(always)]
pub(super) fn prefetch<T>(at: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` needs SSE, which every x86_64 CPU has; a
    // prefetch reads nothing and cannot fault.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(at.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

/// [`prefetch`]es the first and the last byte of `values` (the lines
/// they span, when they span at most two); nothing when it is empty.
#[inline(always)]
fn prefetch_ends<T>(values: &[T]) {
    if !values.is_empty() {
        let bytes = values.as_ptr_range();
        prefetch(bytes.start);
        prefetch(bytes.end.cast::<u8>().wrapping_sub(1));
    }
}

/// Bits of a key's end kept per group in [`Table::key_ends`]: 32 (4 bytes
/// a group instead of 8); a test build keeps 5, so that the tests cross
/// many wraps of the arena.
#[cfg(not(test))]
const END_BITS: u32 = 32;
#[cfg(test)]
const END_BITS: u32 = 5;

/// Where group `g`'s key ends in the arena: the low [`END_BITS`] bits kept
/// in `ends`, and above them the number of `wraps` (the first group of
/// each wrap of the arena past a multiple of 2^`END_BITS` bytes) at or
/// before `g`.
#[inline]
fn key_end(ends: &[u32], wraps: &[usize], g: usize) -> usize {
    let low = ends[g] as usize;
    if wraps.is_empty() {
        low
    } else {
        let high = wraps.partition_point(|&w| w <= g) as u64;
        ((high << END_BITS) | low as u64) as usize
    }
}

/// The bytes of group `g`'s key in the arena (see [`key_end`]).
#[inline]
fn key_range(ends: &[u32], wraps: &[usize], g: usize) -> std::ops::Range<usize> {
    let start = if g == 0 { 0 } else { key_end(ends, wraps, g - 1) };
    start..key_end(ends, wraps, g)
}

/// The groups one worker has folded (see the module docs).
#[derive(Debug, Default)]
pub(super) struct Table {
    /// Per group: its number and the low 32 bits of its key's hash.
    index: SlotIndex,
    /// Every group's encoded key, one after another.
    keys: Vec<u8>,
    /// Where each group's key ends in `keys`: the low [`END_BITS`] bits
    /// (see [`key_end`]).
    key_ends: Vec<u32>,
    /// The first group whose key ends past each multiple of 2^`END_BITS`
    /// bytes of `keys` (empty below 4 GiB of keys).
    key_wraps: Vec<usize>,
    /// `Widths::counts` per group.
    pub(super) counts: Vec<u64>,
    /// `Widths::sums` per group: the sum and how many values it has.
    sums: Vec<PackedSum>,
    /// The rests of the sums that have one, by index in `sums`.
    sum_rests: HashMap<usize, Box<ExactSum>>,
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
        &self.keys[key_range(&self.key_ends, &self.key_wraps, g)]
    }

    /// The group of `key` (whose hash is `hash`), added with `new_state`
    /// when it is not here yet; the flag says it was added.
    ///
    /// # Panics
    /// When the table would hold `u32::MAX` groups or more.
    #[inline]
    pub(super) fn group(
        &mut self,
        hash: u64,
        key: &[u8],
        widths: Widths,
        new_accs: impl FnOnce(&mut Vec<Acc>),
    ) -> (usize, bool) {
        let Table { index, keys, key_ends, key_wraps, .. } = self;
        let low = hash as u32;
        let found = index.find(low, |g| &keys[key_range(key_ends, key_wraps, g)] == key);
        let at = match found {
            Ok(g) => return (g as usize, false),
            Err(at) => at,
        };
        let g = self.key_ends.len();
        // Group numbers are stored plus one in 32 bits.
        let id = u32::try_from(g)
            .ok()
            .filter(|&id| id < u32::MAX)
            .expect("a worker's table holds fewer than u32::MAX groups");
        self.index.insert(at, low, id);
        self.keys.extend_from_slice(key);
        let end = self.keys.len() as u64;
        while (end >> END_BITS) as usize > self.key_wraps.len() {
            self.key_wraps.push(g);
        }
        self.key_ends.push((end & ((1 << END_BITS) - 1)) as u32);
        self.counts.resize(self.counts.len() + widths.counts, 0);
        self.sums.resize_with(self.sums.len() + widths.sums, Default::default);
        new_accs(&mut self.accs);
        (g, true)
    }

    /// Asks the CPU to bring the index slot of a key of hash `hash` into
    /// its caches, ahead of [`Self::group`] (a hint).
    #[inline]
    pub(super) fn prefetch(&self, hash: u64) {
        self.index.prefetch(hash as u32);
    }

    /// The group the index holds first for a key of hash `hash`, if any:
    /// its likely group, which [`Self::group`] confirms or not (read
    /// after [`Self::prefetch`], to [`Self::prefetch_group`] ahead).
    #[inline]
    pub(super) fn candidate(&self, hash: u64) -> Option<usize> {
        self.index.find(hash as u32, |_| true).ok().map(|g| g as usize)
    }

    /// Asks the CPU to bring where group `g`'s key ends and its counts
    /// and sums into its caches (a hint; `g` must be a group).
    #[inline]
    pub(super) fn prefetch_group(&self, g: usize, w: Widths) {
        prefetch(&self.key_ends[g]);
        // First and last byte: states may cross a cache line.
        if let Some(counts) = self.counts.get(g * w.counts..(g + 1) * w.counts) {
            prefetch_ends(counts);
        }
        if let Some(sums) = self.sums.get(g * w.sums..(g + 1) * w.sums) {
            prefetch_ends(sums);
        }
    }

    /// Asks the CPU to bring group `g`'s key into its caches (a hint;
    /// `g` must be a group).
    #[inline]
    pub(super) fn prefetch_key(&self, g: usize) {
        prefetch_ends(&self.keys[key_range(&self.key_ends, &self.key_wraps, g)]);
    }

    /// The states of group `g`: its counts, sums and value-holding
    /// accumulators.
    pub(super) fn states(&self, g: usize, w: Widths) -> (&[u64], Vec<SmallSum>, &[Acc]) {
        (
            &self.counts[g * w.counts..(g + 1) * w.counts],
            (g * w.sums..(g + 1) * w.sums).map(|i| self.sum(i)).collect(),
            &self.accs[g * w.accs..(g + 1) * w.accs],
        )
    }

    /// Sum state `i` (group `g`'s sum `s` is `g * Widths::sums + s`),
    /// its rest cloned.
    #[inline]
    pub(super) fn sum(&self, i: usize) -> SmallSum {
        let packed = self.sums[i];
        let rest = if packed.has_rest() { self.sum_rests.get(&i).cloned() } else { None };
        SmallSum::from_parts(packed, rest)
    }

    /// Adds `n` to sum state `i`.
    #[inline(always)]
    pub(super) fn add_to_sum(&mut self, i: usize, n: &Number) {
        if !self.sums[i].add(n) {
            self.add_to_rest(i, n);
        }
    }

    #[cold]
    fn add_to_rest(&mut self, i: usize, n: &Number) {
        self.sum_rests.entry(i).or_default().add(n);
    }

    /// Merges `other` into sum state `i`.
    pub(super) fn merge_sum(&mut self, i: usize, other: SmallSum) {
        let mut sum = SmallSum::from_parts(self.sums[i], self.sum_rests.remove(&i));
        sum.merge(other);
        let (packed, rest) = sum.into_parts();
        self.sums[i] = packed;
        if let Some(rest) = rest {
            self.sum_rests.insert(i, rest);
        }
    }

    /// Frees the hash index, which only finding a group needs: before the
    /// groups are ordered, whose sort needs 16 bytes a group of its own.
    /// [`Self::group`] must not be called after.
    pub(super) fn free_index(&mut self) {
        self.index = SlotIndex::default();
    }

    /// Forgets every group, keeping the allocations.
    pub(super) fn clear(&mut self) {
        self.index.clear();
        self.keys.clear();
        self.key_ends.clear();
        self.key_wraps.clear();
        self.counts.clear();
        self.sums.clear();
        self.sum_rests.clear();
        self.accs.clear();
    }

    /// Bytes the table has allocated, as capacities: its slots,
    /// keys and states (not what the value-holding accumulators hold on
    /// the heap: the reducer counts that as it grows).
    pub(super) fn allocated_bytes(&self) -> u64 {
        use std::mem::size_of;
        let slots = self.index.slots.capacity() * size_of::<u64>();
        let columns = self.keys.capacity()
            + self.key_ends.capacity() * size_of::<u32>()
            + self.key_wraps.capacity() * size_of::<usize>()
            + self.counts.capacity() * size_of::<u64>()
            + self.sums.capacity() * size_of::<PackedSum>()
            + self.sum_rests.capacity() * (size_of::<(usize, Box<ExactSum>)>() + 1)
            + self.sum_rests.len() * size_of::<ExactSum>()
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
        assert!(t.allocated_bytes() > 10_003 * 36);
        // Keys of every length across the arena's wraps (every 32 bytes in
        // a test build) come back whole.
        let mut t = Table::default();
        let keys: Vec<Vec<u8>> =
            (0..500u32).map(|i| vec![i as u8; (i % 70) as usize + 1]).collect();
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(t.group(i as u64, k, widths, |_| {}), (i, true));
        }
        assert!(t.key_wraps.len() > 500, "{} wraps", t.key_wraps.len());
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(t.key(i), k.as_slice());
            assert_eq!(t.group(i as u64, k, widths, |_| {}), (i, false));
        }
    }

    #[test]
    fn sums_past_the_i64_keep_their_rest_beside_the_table() {
        use crate::syntax::number::parse_number;
        let widths = Widths { counts: 0, sums: 2, accs: 0 };
        let num = |s: &str| parse_number(s.as_bytes()).unwrap();
        let text = |s: ExactSum| {
            let mut out = Vec::new();
            assert!(s.write(&mut out));
            String::from_utf8(out).unwrap()
        };
        let exact = |values: &[&str]| {
            let mut sum = ExactSum::default();
            values.iter().for_each(|v| sum.add(&num(v)));
            text(sum)
        };
        // Integers: their sums are written exactly, however large.
        let big = ["9223372036854775807", "5", "-3", "9223372036854775807"];
        let mut t = Table::default();
        t.group(1, b"a", widths, |_| {});
        t.group(2, b"b", widths, |_| {});
        // State 1 (a's second sum) outgrows the i64; state 2 (b's first)
        // does not.
        big.iter().for_each(|v| t.add_to_sum(1, &num(v)));
        t.add_to_sum(2, &num("2"));
        assert_eq!(t.sum_rests.len(), 1);
        assert_eq!(text(t.sum(1).to_exact()), exact(&big));
        assert_eq!((t.sum(1).count(), t.sum(2).count(), t.sum(0).count()), (4, 1, 0));
        // A merge keeps the rest, and gives one to a sum that had none.
        let other = t.sum(1);
        t.merge_sum(1, other.clone());
        t.merge_sum(2, other);
        let twice: Vec<&str> = big.iter().chain(&big).copied().collect();
        assert_eq!(text(t.sum(1).to_exact()), exact(&twice));
        let with_b: Vec<&str> = big.iter().chain(&["2"]).copied().collect();
        assert_eq!(text(t.sum(2).to_exact()), exact(&with_b));
        assert_eq!((t.sum(1).count(), t.sum(2).count(), t.sum_rests.len()), (8, 5, 2));
        // Cleared, the table forgets them.
        t.clear();
        t.group(1, b"a", widths, |_| {});
        assert_eq!((t.sum(1).count(), t.sum_rests.len()), (0, 0));
        assert_eq!(std::mem::size_of::<PackedSum>(), 16);
    }
}
