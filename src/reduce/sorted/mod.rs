//! The sorted reducer: a stable sort of all records by one or more keys.
//!
//! Each worker sorts its chunk's records into a run (a stable sort, so ties
//! keep input order); at the end the runs are merged with a k-way merge
//! that breaks ties by chunk order. Past 100,000 records that merge is cut
//! into key ranges (at quantiles of the longest run, each run cut by binary
//! search) that are merged on `--threads` threads and written in order. The
//! result is the same as one stable sort of the whole input, whatever the
//! chunking.
//!
//! Bounded memory: with [`Sorted::with_spill`], once the runs held for the
//! final merge pass a byte budget, they are merged into one sorted run and
//! written to an anonymous temporary file (see [`spill`] for
//! the format), and memory starts again from empty. At the end the spilled
//! runs and the runs still in memory are k-way merged into the output,
//! reading each file through a bounded buffer; ties go to the earlier run
//! (spilled runs hold earlier input than later ones and than the runs in
//! memory), so the output is the same bytes as an in-memory sort. When more
//! than `fan_in` runs of one merge level are on disk, they are merged into
//! one first (a merge pass), which bounds the open files and the buffers.
//!
//! The keys are parsed, read and compared by
//! [`sort_key`](crate::reduce::sort_key), which documents their order.
//!
//! This module holds the reducer, its runs and its partials; the k-way
//! merges are in `merge.rs`, spilling and the merges after a spill in
//! `external.rs`, and the spill files in [`spill`].

mod external;
pub(crate) mod merge;
pub(crate) mod spill;

use std::cmp::Ordering;
use std::sync::Arc;

use crate::error::Result;
use crate::record::{ColumnRef, Record};
use crate::reduce::sort_key::{KeyVal, SortKeys};
use crate::reduce::{Reducer, Sink};
use crate::sink::encode::Encoder;
use spill::{SpillOptions, SpillRun, SpillStats};

// Moved to `sort_key`; re-exported so that the path keeps working.
pub use crate::reduce::sort_key::SortKeySpec;

/// Sorts all records; see the module docs.
#[derive(Debug, Clone)]
pub struct Sorted {
    keys: SortKeys,
    encoder: Encoder,
    merge_threads: usize,
    spill: Option<SpillOptions>,
    stats: Arc<SpillStats>,
}

/// One chunk's records, encoded, with their keys; [`Reducer::seal`] puts
/// them in sorted order (moving the bytes, so that merges read each run
/// front to back instead of jumping around memory).
#[derive(Debug, Default)]
pub struct Run {
    keys: Vec<KeyVal>,
    arena: Vec<u8>,
    data: Vec<u8>,
    /// Record i is `data[ends[i-1]..ends[i]]`.
    ends: Vec<usize>,
}

impl Run {
    fn record(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.data[start..self.ends[i]]
    }

    /// Bytes this run holds on the heap, as allocated (capacities, not
    /// lengths): the encoded records, the text key values, one
    /// [`KeyVal`] per key and an end offset per record.
    fn heap_bytes(&self) -> u64 {
        use std::mem::size_of;
        (self.data.capacity()
            + self.arena.capacity()
            + self.keys.capacity() * size_of::<KeyVal>()
            + self.ends.capacity() * size_of::<usize>()
            + size_of::<Run>()) as u64
    }
}

/// The sorted runs of consecutive chunks, in chunk order: those spilled to
/// disk (earlier input), then those in memory.
#[derive(Debug, Default)]
pub struct SortedPartial {
    runs: Vec<Run>,
    /// What `runs` hold, in bytes ([`Run::heap_bytes`]).
    held: u64,
    /// Spilled runs in input order, each with its merge level (0: spilled
    /// from memory; n + 1: a merge of `fan_in` runs of level n).
    spilled: Vec<(SpillRun, u32)>,
}

impl Sorted {
    /// A sorted reducer over resolved `keys` (column, numeric, descending),
    /// writing through `encoder`; `null_markers` count as missing.
    pub fn new(
        keys: Vec<(ColumnRef, SortKeySpec)>,
        encoder: Encoder,
        null_markers: Vec<Vec<u8>>,
    ) -> Self {
        Sorted {
            keys: SortKeys::new(keys, null_markers),
            encoder,
            merge_threads: 1,
            spill: None,
            stats: Arc::default(),
        }
    }

    /// Bounds the records held in memory: past `opts.budget` bytes they
    /// are spilled to a file in `opts.dir` (see the module docs); `stats`
    /// counts what was spilled. Without it, every record stays in memory
    /// until the end.
    ///
    /// # Panics
    /// When `opts.fan_in` is less than 2.
    pub fn with_spill(mut self, opts: SpillOptions, stats: Arc<SpillStats>) -> Self {
        assert!(opts.fan_in >= 2, "a merge needs at least 2 runs");
        self.spill = Some(opts);
        self.stats = stats;
        self
    }

    /// Merges on up to `threads` threads at the end of a sort (default 1).
    pub fn with_merge_threads(mut self, threads: usize) -> Self {
        self.merge_threads = threads;
        self
    }

    fn cmp(&self, a: &Run, ai: usize, b: &Run, bi: usize) -> Ordering {
        let n = self.keys.len();
        let (x, y) = (&a.keys[ai * n..(ai + 1) * n], &b.keys[bi * n..(bi + 1) * n]);
        self.keys.cmp(x, &a.arena, y, &b.arena)
    }
}

impl Reducer for Sorted {
    type Partial = SortedPartial;

    fn empty(&self) -> SortedPartial {
        SortedPartial { runs: vec![Run::default()], ..SortedPartial::default() }
    }

    fn fold(&self, partial: &mut SortedPartial, record: &Record<'_>) -> Result<()> {
        let run = partial.runs.last_mut().expect("a partial being folded has one run");
        let (keys, arena, data) = (run.keys.len(), run.arena.len(), run.data.len());
        let res = self
            .keys
            .extract(record, &mut run.keys, &mut run.arena)
            .and_then(|()| self.encoder.record(record, &mut run.data));
        if let Err(e) = res {
            // Leave the run as it was, so the record can be skipped.
            run.keys.truncate(keys);
            run.arena.truncate(arena);
            run.data.truncate(data);
            return Err(e);
        }
        run.ends.push(run.data.len());
        Ok(())
    }

    fn seal(&self, partial: &mut SortedPartial) -> Result<()> {
        for run in &mut partial.runs {
            let mut order: Vec<u32> = (0..run.ends.len() as u32).collect();
            order.sort_by(|&i, &j| self.cmp(run, i as usize, run, j as usize));
            // Rewrite the run in sorted order, at exact capacities (what is
            // held is counted as allocated).
            let n = self.keys.len();
            let mut sorted = Run {
                keys: Vec::with_capacity(run.keys.len()),
                arena: Vec::with_capacity(run.arena.len()),
                data: Vec::with_capacity(run.data.len()),
                ends: Vec::with_capacity(run.ends.len()),
            };
            for &i in &order {
                let i = i as usize;
                sorted.data.extend_from_slice(run.record(i));
                sorted.ends.push(sorted.data.len());
                for &k in &run.keys[i * n..(i + 1) * n] {
                    sorted.keys.push(match k {
                        KeyVal::Str(s, e) => {
                            let at = sorted.arena.len();
                            sorted.arena.extend_from_slice(&run.arena[s..e]);
                            KeyVal::Str(at, sorted.arena.len())
                        }
                        other => other,
                    });
                }
            }
            *run = sorted;
        }
        Ok(())
    }

    fn merge(&self, total: &mut SortedPartial, next: SortedPartial) -> Result<()> {
        for run in next.runs.into_iter().filter(|r| !r.ends.is_empty()) {
            total.held += run.heap_bytes();
            total.runs.push(run);
        }
        // Workers never spill; `next.spilled` is empty.
        total.spilled.extend(next.spilled);
        if let Some(opts) = &self.spill {
            if total.held > opts.budget {
                self.spill_held(total, opts)?;
            }
        }
        Ok(())
    }

    fn start(&self, sink: &mut Sink<'_>) -> Result<()> {
        let mut header = Vec::new();
        self.encoder.layout_header(&mut header);
        sink.write(&header, 0)
    }

    fn finish(&self, mut total: SortedPartial, sink: &mut Sink<'_>) -> Result<()> {
        if !total.spilled.is_empty() {
            return self.finish_external(&mut total, sink);
        }
        self.finish_in_memory(&total, sink)
    }
}
