//! Spilling the group-by state past `--memory-limit`: a worker whose
//! table has grown past its share of the budget writes its groups, in
//! output order, as one sorted run to an anonymous file in `--temp-dir`
//! and starts an empty table; at the end the runs are merged by key (a
//! k-way merge over a binary heap), the states of one key merged into one,
//! and the rows written in the order of the in-memory path.
//!
//! This is the sort-based fallback of Spark's hash aggregation
//! (`ObjectAggregationIterator` and `TungstenAggregationIterator` in
//! `sql/core/.../execution/aggregate/`: when the hash map passes its
//! threshold it is sorted by key and spilled, and the spills are merged
//! by key, merging the buffers of equal keys) and of Hadoop's combiner and
//! merge phase. Sorted runs rather than DuckDB's hash partitions (Kuiper,
//! Boncz and Mühleisen, ICDE 2024) because the output is ordered by key:
//! runs in key order merge straight into the output, with no second sort.
//! The merges of states are those of the in-memory path (exact and
//! commutative, see the module docs of `group_by`), so the output is the
//! same bytes whether a run spills or not, and wherever it spills.
//!
//! A run is a spill file of the sorted reducer (`sorted::spill`, read
//! with no sort keys of its own), one frame per group:
//!
//! ```text
//! u32 LE  length S, then S bytes: the group's sort key (group_key::append_sort_key)
//! u32 LE  length K, then K bytes: the group's encoded key
//! the group's states: (counts, sums, accumulators), in postcard
//! ```
//!
//! Past `fan_in` runs, the last `fan_in` are first merged into one (a
//! merge pass), so the open files and the read buffers stay bounded.

use std::path::Path;

use super::acc::Acc;
use super::table::Table;
use super::{GroupBy, Worker};
use crate::error::{ErrorKind, Result};
use crate::reduce::group_key::{append_sort_key, output_order};
use crate::reduce::number::SmallSum;
use crate::reduce::sorted::merge::sift_down;
use crate::reduce::sorted::spill::{
    merge_in_passes, read_buffer, SpillReader, SpillRun, SpillWriter,
};
use crate::reduce::SpillOptions;

/// A group's states as written (counts, sums, value-holding
/// accumulators), in postcard.
pub(super) type States = (Vec<u64>, Vec<SmallSum>, Vec<Acc>);

/// The parts of a frame (see the module docs).
struct Frame<'a> {
    sort_key: &'a [u8],
    key: &'a [u8],
    states: &'a [u8],
}

/// A length-prefixed part at the start of `bytes`, and what follows it.
fn prefixed(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let rest = &bytes[4..];
    (rest.len() >= len).then(|| rest.split_at(len))
}

fn parse_frame(frame: &[u8]) -> Option<Frame<'_>> {
    let (sort_key, rest) = prefixed(frame)?;
    let (key, states) = prefixed(rest)?;
    Some(Frame { sort_key, key, states })
}

/// The sort key of a frame; empty for a malformed one (which the merge
/// then reports when it parses it).
fn sort_key_of(frame: &[u8]) -> &[u8] {
    prefixed(frame).map_or(&[], |(k, _)| k)
}

fn push_prefixed(out: &mut Vec<u8>, part: &[u8]) {
    out.extend_from_slice(&(part.len() as u32).to_le_bytes());
    out.extend_from_slice(part);
}

impl GroupBy {
    /// Writes `worker`'s table as one sorted run, gives back what it
    /// published to the limit, and empties it.
    ///
    /// # Errors
    /// [`ErrorKind::Io`] naming `--temp-dir` when the spill file cannot be
    /// made or written.
    pub(super) fn spill_worker(&self, worker: &mut Worker, opts: &SpillOptions) -> Result<()> {
        let run = self.write_table(&worker.table, &opts.dir)?;
        self.runs.lock().push(run);
        if let Some(limit) = &self.limit {
            limit.release(worker.published.0, worker.published.1);
        }
        *worker = Worker::default();
        Ok(())
    }

    /// Writes `table`'s groups in output order as one run in `dir`.
    pub(super) fn write_table(&self, table: &Table, dir: &Path) -> Result<SpillRun> {
        let order = output_order(table.len(), |g| table.key(g));
        let mut out = SpillWriter::create(dir)?;
        let (mut sort_key, mut frame) = (Vec::new(), Vec::new());
        for &g in &order {
            sort_key.clear();
            append_sort_key(&mut sort_key, table.key(g as usize));
            self.encode_frame(&mut frame, &sort_key, table, g as usize)?;
            out.write_frame(&frame)?;
        }
        let run = out.finish()?;
        self.spill_stats.count(&run);
        Ok(run)
    }

    /// The frame of group `g` of `table`, whose sort key is `sort_key`.
    fn encode_frame(
        &self,
        out: &mut Vec<u8>,
        sort_key: &[u8],
        table: &Table,
        g: usize,
    ) -> Result<()> {
        out.clear();
        push_prefixed(out, sort_key);
        push_prefixed(out, table.key(g));
        let states = table.states(g, self.widths);
        *out = postcard::to_extend(&states, std::mem::take(out)).map_err(|e| {
            ErrorKind::Internal(format!("a group's state could not be encoded: {e}"))
        })?;
        Ok(())
    }

    /// Merges the states a frame holds (`bytes`) into group 0 of `into`.
    /// Returns false, merging nothing, when they are not states of this
    /// reducer.
    fn merge_states(&self, into: &mut Table, bytes: &[u8]) -> bool {
        match postcard::from_bytes::<States>(bytes) {
            Ok(states) => self.merge_decoded(into, 0, states),
            Err(_) => false,
        }
    }

    /// Merges `states`, another partial's states of group `g`'s key, into
    /// group `g` of `into`. Returns false, merging nothing, when they are
    /// not states of this reducer (other widths, or accumulators of other
    /// kinds).
    pub(super) fn merge_decoded(&self, into: &mut Table, g: usize, states: States) -> bool {
        let (counts, sums, accs) = states;
        let w = self.widths;
        if (counts.len(), sums.len(), accs.len()) != (w.counts, w.sums, w.accs) {
            return false;
        }
        let mine = &into.accs[g * w.accs..(g + 1) * w.accs];
        if !mine.iter().zip(&accs).all(|(a, b)| a.same_kind(b)) {
            return false;
        }
        for (mine, c) in into.counts[g * w.counts..].iter_mut().zip(counts) {
            *mine += c;
        }
        for (i, s) in sums.into_iter().enumerate() {
            into.merge_sum(g * w.sums + i, s);
        }
        let mine = &mut into.accs[g * w.accs..(g + 1) * w.accs];
        for ((mine, acc), &kind) in mine.iter_mut().zip(accs).zip(&self.acc_kinds) {
            mine.merge(kind, acc);
        }
        true
    }

    /// Merges `runs` by key, reading each through a buffer that shares
    /// `budget` bytes, and calls `emit` once per key, in output order,
    /// with its sort key and a table holding its one group, every run's
    /// states of it merged.
    ///
    /// # Errors
    /// [`ErrorKind::Io`] on a read error or a frame that is not what was
    /// written; what `emit` returns.
    pub(super) fn merge_runs(
        &self,
        runs: Vec<SpillRun>,
        budget: u64,
        mut emit: impl FnMut(&[u8], &mut Table) -> Result<()>,
    ) -> Result<()> {
        let buffer = read_buffer(budget, runs.len());
        let mut readers =
            runs.into_iter().map(|r| r.read(0, buffer)).collect::<Result<Vec<SpillReader>>>()?;
        let less = |rs: &[SpillReader], a: usize, b: usize| {
            sort_key_of(rs[a].frame()).cmp(sort_key_of(rs[b].frame())).then(a.cmp(&b)).is_lt()
        };
        let mut heap: Vec<usize> = (0..readers.len()).filter(|&i| !readers[i].at_end()).collect();
        for i in (0..heap.len() / 2).rev() {
            sift_down(&mut heap, i, &|a, b| less(&readers, a, b));
        }
        let (mut current, mut group) = (Vec::new(), Table::default());
        while let Some(&top) = heap.first() {
            let f = parse_frame(readers[top].frame()).ok_or_else(|| readers[top].corrupt())?;
            current.clear();
            current.extend_from_slice(f.sort_key);
            group.clear();
            group.group(0, f.key, self.widths, |accs| self.new_accs(accs));
            while let Some(&top) = heap.first() {
                let f = parse_frame(readers[top].frame()).ok_or_else(|| readers[top].corrupt())?;
                if f.sort_key != current.as_slice() {
                    break;
                }
                if !self.merge_states(&mut group, f.states) {
                    return Err(readers[top].corrupt());
                }
                readers[top].advance()?;
                if readers[top].at_end() {
                    heap.swap_remove(0);
                }
                sift_down(&mut heap, 0, &|a, b| less(&readers, a, b));
            }
            emit(&current, &mut group)?;
        }
        Ok(())
    }

    /// Merges runs until at most `opts.fan_in` are left (see
    /// [`merge_in_passes`]), the states of one key merged into one frame.
    pub(super) fn merge_passes(&self, runs: &mut Vec<SpillRun>, opts: &SpillOptions) -> Result<()> {
        let mut frame = Vec::new();
        merge_in_passes(runs, opts, &self.spill_stats, |group, out| {
            self.merge_runs(group, opts.budget, |sort_key, table| {
                self.encode_frame(&mut frame, sort_key, table, 0)?;
                out.write_frame(&frame)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_into_their_parts_and_short_ones_are_refused() {
        let mut frame = Vec::new();
        push_prefixed(&mut frame, b"sort");
        push_prefixed(&mut frame, b"key");
        frame.extend_from_slice(b"states");
        let f = parse_frame(&frame).expect("a whole frame");
        assert_eq!((f.sort_key, f.key, f.states), (&b"sort"[..], &b"key"[..], &b"states"[..]));
        assert_eq!(sort_key_of(&frame), b"sort");
        // Cut inside the key, or inside a length: not a frame.
        assert!(parse_frame(&frame[..10]).is_none());
        assert!(parse_frame(&frame[..2]).is_none());
        assert_eq!(sort_key_of(&frame[..6]), b"");
    }
}
