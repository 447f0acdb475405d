//! Spilling the top-k state past `--memory-limit`: a worker whose table
//! has grown past its share of the budget writes it as one run to an
//! anonymous file in `--temp-dir` and starts an empty table; at the end
//! the runs are merged (a k-way merge over a binary heap) into the
//! output, in group order and within a group in sort order, and the first
//! K records of each group are kept.
//!
//! A run is a spill file of the sorted reducer (`sorted::spill`), one
//! frame per kept record, its groups in output order (the group-by's sort
//! keys, `group_key::append_sort_key`) and each group's best K records in
//! sort order (by their sort keys, then input position). The frame's key
//! values are the group's sort key and encoded key (two text values), then
//! the record's `--sort-by` values; its record part is the record's input
//! position (chunk `seq` and order in the chunk, two `u64` LE), then the
//! encoded record:
//!
//! ```text
//! keys:   Str(group sort key), Str(group key), the --sort-by values
//! record: u64 LE chunk seq, u64 LE order in the chunk, the encoded record
//! ```
//!
//! So a merge orders frames by group, then sort keys, then position: a
//! total order, the same as in memory. A group's first K frames in that
//! order are its best K of every run together, which makes the output the
//! same bytes as the in-memory path's whether and wherever the run
//! spills. The merge streams: it holds one frame per run, however large K
//! is. Past `fan_in` runs, the last `fan_in` are first merged into one run
//! (a merge pass, which keeps the first K of each group too), so the open
//! files and the read buffers stay bounded.
//!
//! This is the external top-k of Spark's `TakeOrderedAndProject` and of
//! Hadoop's secondary sort (records sorted by group, then by value, each
//! group's head taken in the reduce phase), with the same sorted runs as
//! the group-by's spill (`group_by::spill`).

use std::cmp::Ordering;
use std::path::Path;

use super::{Group, Pos, TopK};
use crate::error::Result;
use crate::reduce::group_key::{append_sort_key, output_order};
use crate::reduce::sort_key::KeyVal;
use crate::reduce::sorted::merge::sift_down;
use crate::reduce::sorted::spill::{
    merge_in_passes, read_buffer, SpillReader, SpillRun, SpillWriter,
};
use crate::reduce::{RecordBlocks, Sink, SpillOptions};

/// Key values of a frame before the `--sort-by` values: the group's sort
/// key and encoded key.
const GROUP_KEYS: usize = 2;

/// Bytes of the input position at the start of a frame's record part.
const POS_BYTES: usize = 16;

/// The parts of the current frame of a reader (see the module docs).
struct Parts<'a> {
    group_sort_key: &'a [u8],
    sort_keys: &'a [KeyVal],
    arena: &'a [u8],
    pos: Pos,
    record: &'a [u8],
}

/// The parts of `reader`'s current frame; `None` for a frame that is not
/// one of a top-k run.
fn parts(reader: &SpillReader) -> Option<Parts<'_>> {
    let (keys, arena, payload) = (reader.keys(), reader.arena(), reader.record());
    let group_sort_key = match keys.first()? {
        KeyVal::Str(s, e) => arena.get(*s..*e)?,
        _ => return None,
    };
    if !matches!(keys.get(1)?, KeyVal::Str(..)) || payload.len() < POS_BYTES {
        return None;
    }
    let word = |at: usize| u64::from_le_bytes(payload[at..at + 8].try_into().unwrap_or([0; 8]));
    Some(Parts {
        group_sort_key,
        sort_keys: &keys[GROUP_KEYS..],
        arena,
        pos: Pos { chunk: word(0), index: word(8) },
        record: &payload[POS_BYTES..],
    })
}

impl TopK {
    /// Writes a table's groups as one run in `dir`: each group cut to its
    /// best K (left so in `groups`), the groups in output order (see the
    /// module docs).
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) naming `--temp-dir` when the
    /// spill file cannot be made or written.
    pub(super) fn write_run(
        &self,
        groups: &mut [(Vec<u8>, Group)],
        dir: &Path,
    ) -> Result<SpillRun> {
        for (_, group) in groups.iter_mut() {
            self.compact(group);
        }
        let order = output_order(groups.len(), |i| groups[i].0.as_slice());
        let mut out = SpillWriter::create(dir)?;
        let (mut arena, mut keys, mut payload) = (Vec::new(), Vec::new(), Vec::new());
        for &i in &order {
            let (key, group) = &groups[i as usize];
            arena.clear();
            append_sort_key(&mut arena, key);
            let sort_key_end = arena.len();
            arena.extend_from_slice(key);
            let key_end = arena.len();
            for e in &group.entries {
                arena.truncate(key_end);
                keys.clear();
                keys.push(KeyVal::Str(0, sort_key_end));
                keys.push(KeyVal::Str(sort_key_end, key_end));
                for k in e.keys.iter() {
                    keys.push(match *k {
                        KeyVal::Str(s, t) => {
                            let at = arena.len();
                            arena.extend_from_slice(&e.bytes[s..t]);
                            KeyVal::Str(at, arena.len())
                        }
                        other => other,
                    });
                }
                payload.clear();
                payload.extend_from_slice(&e.pos.chunk.to_le_bytes());
                payload.extend_from_slice(&e.pos.index.to_le_bytes());
                payload.extend_from_slice(e.record());
                out.write(&keys, &arena, &payload)?;
            }
        }
        let run = out.finish()?;
        self.spill_stats.count(&run);
        Ok(run)
    }

    /// The order of two readers' current frames: group, sort keys, input
    /// position, then the reader's index (frames were checked by
    /// [`Self::merge_runs`]).
    fn frame_cmp(&self, readers: &[SpillReader], a: usize, b: usize) -> Ordering {
        match (parts(&readers[a]), parts(&readers[b])) {
            (Some(x), Some(y)) => x
                .group_sort_key
                .cmp(y.group_sort_key)
                .then_with(|| self.keys.cmp(x.sort_keys, x.arena, y.sort_keys, y.arena))
                .then(x.pos.cmp(&y.pos))
                .then(a.cmp(&b)),
            _ => a.cmp(&b),
        }
    }

    /// Merges `runs`, reading each through a buffer that shares `budget`
    /// bytes, and calls `emit` with the reader of each of the first K
    /// frames of every group, in output order.
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) on a read error or a frame
    /// that is not what was written; what `emit` returns.
    fn merge_runs(
        &self,
        runs: Vec<SpillRun>,
        budget: u64,
        mut emit: impl FnMut(&SpillReader) -> Result<()>,
    ) -> Result<()> {
        let buffer = read_buffer(budget, runs.len());
        let nkeys = GROUP_KEYS + self.keys.len();
        let mut readers = runs
            .into_iter()
            .map(|r| r.read(nkeys, buffer))
            .collect::<Result<Vec<SpillReader>>>()?;
        for r in &readers {
            if !r.at_end() && parts(r).is_none() {
                return Err(r.corrupt());
            }
        }
        let less = |rs: &[SpillReader], a: usize, b: usize| self.frame_cmp(rs, a, b).is_lt();
        let mut heap: Vec<usize> = (0..readers.len()).filter(|&i| !readers[i].at_end()).collect();
        for i in (0..heap.len() / 2).rev() {
            sift_down(&mut heap, i, &|a, b| less(&readers, a, b));
        }
        let (mut group, mut taken) = (Vec::new(), 0);
        while let Some(&top) = heap.first() {
            let reader = &readers[top];
            let p = parts(reader).ok_or_else(|| reader.corrupt())?;
            if p.group_sort_key != group.as_slice() || taken == 0 {
                group.clear();
                group.extend_from_slice(p.group_sort_key);
                taken = 0;
            }
            if taken < self.k {
                emit(reader)?;
                taken += 1;
            }
            let reader = &mut readers[top];
            reader.advance()?;
            if reader.at_end() {
                heap.swap_remove(0);
            } else if parts(reader).is_none() {
                return Err(reader.corrupt());
            }
            sift_down(&mut heap, 0, &|a, b| less(&readers, a, b));
        }
        Ok(())
    }

    /// Merges runs until at most `opts.fan_in` are left (see
    /// [`merge_in_passes`]); a pass keeps the first K of each group too.
    pub(super) fn merge_passes(&self, runs: &mut Vec<SpillRun>, opts: &SpillOptions) -> Result<()> {
        merge_in_passes(runs, opts, &self.spill_stats, |group, out| {
            self.merge_runs(group, opts.budget, |r| out.write_frame(r.frame()))
        })
    }

    /// Merges the runs into `sink`: the first K records of each group, in
    /// output order.
    pub(super) fn write_runs(&self, runs: Vec<SpillRun>, sink: &mut Sink<'_>) -> Result<()> {
        let budget = self.spill.as_ref().map_or(0, |o| o.budget);
        let mut blocks = RecordBlocks::new(1 << 16);
        self.merge_runs(runs, budget, |r| {
            blocks.push(parts(r).ok_or_else(|| r.corrupt())?.record, sink)
        })?;
        blocks.finish(sink)
    }
}
