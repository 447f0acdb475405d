//! The sorted reducer: a stable sort of all records by one or more keys.
//!
//! Each worker sorts its chunk's records into a run (a stable sort, so ties
//! keep input order); at the end the runs are merged with a k-way merge
//! that breaks ties by chunk order. Past 100,000 records that merge is cut
//! into key ranges (at quantiles of the longest run, each run cut by binary
//! search) that are merged on `--threads` threads and written in order. The result is the same as one stable
//! sort of the whole input, whatever the chunking.
//!
//! Bounded memory: with [`Sorted::with_spill`], once the runs held for the
//! final merge pass a byte budget, they are merged into one sorted run and
//! written to an anonymous temporary file (see [`crate::reduce::spill`] for
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

use std::cmp::Ordering;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::record::{ColumnRef, Record};
use crate::reduce::sort_key::{KeyVal, SortKeys};
use crate::reduce::spill::{SpillOptions, SpillReader, SpillRun, SpillStats, SpillWriter};
use crate::reduce::{Reducer, Sink};
use crate::sink::encode::Encoder;

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

/// A sorted run being read by a merge: in memory or on disk.
enum Cursor<'a> {
    Mem { run: &'a Run, pos: usize, nkeys: usize },
    File(SpillReader),
}

impl Cursor<'_> {
    fn at_end(&self) -> bool {
        match self {
            Cursor::Mem { run, pos, .. } => *pos >= run.ends.len(),
            Cursor::File(r) => r.at_end(),
        }
    }

    /// The current record's keys and the arena they point into.
    fn keys(&self) -> (&[KeyVal], &[u8]) {
        match self {
            Cursor::Mem { run, pos, nkeys } => {
                let i = *pos;
                (&run.keys[i * nkeys..(i + 1) * nkeys], &run.arena)
            }
            Cursor::File(r) => (r.keys(), r.arena()),
        }
    }

    fn record(&self) -> &[u8] {
        match self {
            Cursor::Mem { run, pos, .. } => run.record(*pos),
            Cursor::File(r) => r.record(),
        }
    }

    fn advance(&mut self) -> Result<()> {
        match self {
            Cursor::Mem { pos, .. } => {
                *pos += 1;
                Ok(())
            }
            Cursor::File(r) => r.advance(),
        }
    }
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
        let runs: Vec<&Run> = total.runs.iter().filter(|r| !r.ends.is_empty()).collect();
        let records: usize = runs.iter().map(|r| r.ends.len()).sum();
        // The parallel merge buffers all but the first key range's output:
        // under a budget, only when that fits beside the records.
        let output: u64 = runs.iter().map(|r| r.data.len() as u64).sum();
        let fits = self.spill.as_ref().is_none_or(|o| total.held + output <= o.budget);
        let parts =
            if records >= PARALLEL_MERGE_MIN && fits { self.merge_threads.max(1) } else { 1 };
        let bounds = self.split_points(&runs, parts);
        if parts == 1 {
            return self
                .merge_range(&runs, &bounds[0], &bounds[1], &mut |buf, n| sink.write(buf, n));
        }
        // The first key range is merged on this thread straight into the
        // sink while the others are merged on their own threads into
        // buffers, written after it in order: the same bytes as one merge.
        let outputs: Vec<Result<(Vec<u8>, u64)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (1..parts)
                .map(|k| {
                    let (runs, lo, hi) = (&runs, &bounds[k], &bounds[k + 1]);
                    scope.spawn(move || {
                        let (mut out, mut n) = (Vec::new(), 0);
                        self.merge_range(runs, lo, hi, &mut |buf, m| {
                            out.extend_from_slice(buf);
                            n += m;
                            Ok(())
                        })?;
                        Ok((out, n))
                    })
                })
                .collect();
            let first =
                self.merge_range(&runs, &bounds[0], &bounds[1], &mut |buf, n| sink.write(buf, n));
            let rest = handles.into_iter().map(|h| {
                h.join().unwrap_or_else(|_| Err(Error::Internal("a merge thread panicked".into())))
            });
            std::iter::once(first.map(|()| (Vec::new(), 0))).chain(rest).collect()
        });
        for part in outputs {
            let (buf, n) = part?;
            sink.write(&buf, n)?;
        }
        Ok(())
    }
}

/// Records below which the final merge runs on one thread.
const PARALLEL_MERGE_MIN: usize = 100_000;

impl Sorted {
    /// Merges on up to `threads` threads at the end of a sort (default 1).
    pub fn with_merge_threads(mut self, threads: usize) -> Self {
        self.merge_threads = threads;
        self
    }

    /// Strict order of `(run, position in run)`: by key, ties by run then
    /// position, which is input order.
    fn before(&self, runs: &[&Run], a: (usize, usize), b: (usize, usize)) -> bool {
        let (ra, rb) = (runs[a.0], runs[b.0]);
        match self.cmp(ra, a.1, rb, b.1) {
            Ordering::Less => true,
            Ordering::Greater => false,
            Ordering::Equal => a < b,
        }
    }

    /// Cuts the merged order into `parts` ranges: `bounds[k][r]` is where
    /// part `k` starts in run `r`. Splitters are the quantiles of the
    /// longest run; every run is cut at the first record not before the
    /// splitter, so each part holds exactly the records between two
    /// splitters in the global order.
    fn split_points(&self, runs: &[&Run], parts: usize) -> Vec<Vec<usize>> {
        let mut bounds = vec![vec![0; runs.len()]];
        if let Some(big) = (0..runs.len()).max_by_key(|&r| runs[r].ends.len()) {
            for k in 1..parts {
                let pivot = (big, runs[big].ends.len() * k / parts);
                let cut: Vec<usize> = (0..runs.len())
                    .map(|r| {
                        let (mut lo, mut hi) = (0, runs[r].ends.len());
                        while lo < hi {
                            let mid = (lo + hi) / 2;
                            if self.before(runs, (r, mid), pivot) {
                                lo = mid + 1;
                            } else {
                                hi = mid;
                            }
                        }
                        lo
                    })
                    .collect();
                bounds.push(cut);
            }
        }
        bounds.push(runs.iter().map(|r| r.ends.len()).collect());
        bounds
    }

    /// K-way merges positions `lo[r]..hi[r]` of every run, handing the
    /// output to `write` in blocks (bytes, records).
    fn merge_range(
        &self,
        runs: &[&Run],
        lo: &[usize],
        hi: &[usize],
        write: &mut dyn FnMut(&[u8], u64) -> Result<()>,
    ) -> Result<()> {
        let mut buf = Vec::with_capacity((1 << 20) + (1 << 16));
        let mut pending = 0;
        self.merge_runs(runs, lo, hi, |run, i| {
            buf.extend_from_slice(run.record(i));
            pending += 1;
            // Past the output's own buffer size, the sink writes straight
            // through instead of copying again.
            if buf.len() >= 1 << 20 {
                write(&buf, pending)?;
                buf.clear();
                pending = 0;
            }
            Ok(())
        })?;
        write(&buf, pending)
    }

    /// K-way merges positions `lo[r]..hi[r]` of every run, calling `emit`
    /// with each record's run and position, in order.
    fn merge_runs(
        &self,
        runs: &[&Run],
        lo: &[usize],
        hi: &[usize],
        mut emit: impl FnMut(&Run, usize) -> Result<()>,
    ) -> Result<()> {
        // A binary min-heap of (run, position in run); ties go to the
        // earlier run, which keeps the sort stable across chunks.
        let less = |a: (usize, usize), b: (usize, usize)| self.before(runs, a, b);
        let mut heap: Vec<(usize, usize)> =
            (0..runs.len()).filter(|&r| lo[r] < hi[r]).map(|r| (r, lo[r])).collect();
        for i in (0..heap.len() / 2).rev() {
            sift_down(&mut heap, i, &less);
        }
        while let Some(&(r, pos)) = heap.first() {
            emit(runs[r], pos)?;
            if pos + 1 < hi[r] {
                heap[0] = (r, pos + 1);
            } else {
                let last = heap.len() - 1;
                heap.swap(0, last);
                heap.pop();
            }
            sift_down(&mut heap, 0, &less);
        }
        Ok(())
    }

    /// Merges the runs held in memory into one sorted run on disk, frees
    /// them, and merges spilled runs further when `fan_in` of one level
    /// have piled up.
    fn spill_held(&self, total: &mut SortedPartial, opts: &SpillOptions) -> Result<()> {
        let n = self.keys.len();
        let runs: Vec<&Run> = total.runs.iter().collect();
        let lo = vec![0; runs.len()];
        let hi: Vec<usize> = runs.iter().map(|r| r.ends.len()).collect();
        let mut out = SpillWriter::create(&opts.dir)?;
        self.merge_runs(&runs, &lo, &hi, |run, i| {
            out.write(&run.keys[i * n..(i + 1) * n], &run.arena, run.record(i))
        })?;
        let run = out.finish()?;
        self.count_spill(&run);
        total.runs.clear();
        total.held = 0;
        total.spilled.push((run, 0));
        // Like a counter in base `fan_in`: `fan_in` runs of level n at the
        // end become one of level n + 1.
        loop {
            let k = total.spilled.len();
            let level = match total.spilled.last() {
                Some(&(_, level)) if k >= opts.fan_in => level,
                _ => break,
            };
            if total.spilled[k - opts.fan_in..].iter().any(|&(_, l)| l != level) {
                break;
            }
            let group: Vec<SpillRun> =
                total.spilled.drain(k - opts.fan_in..).map(|(r, _)| r).collect();
            let merged = self.merge_files(group, opts)?;
            total.spilled.push((merged, level + 1));
        }
        Ok(())
    }

    /// Merges consecutive spilled runs into one (a merge pass), reading
    /// each through a buffer of budget / runs bytes (16 KiB to 1 MiB).
    fn merge_files(&self, group: Vec<SpillRun>, opts: &SpillOptions) -> Result<SpillRun> {
        let buffer = read_buffer(opts.budget, group.len());
        let mut cursors = group
            .into_iter()
            .map(|r| r.read(self.keys.len(), buffer).map(Cursor::File))
            .collect::<Result<Vec<_>>>()?;
        let mut out = SpillWriter::create(&opts.dir)?;
        self.merge_cursors(&mut cursors, |c| match c {
            Cursor::File(r) => out.write_frame(r.frame()),
            Cursor::Mem { .. } => Err(Error::Internal("a merge pass read a run in memory".into())),
        })?;
        drop(cursors);
        let run = out.finish()?;
        self.count_spill(&run);
        Ok(run)
    }

    fn count_spill(&self, run: &SpillRun) {
        self.stats.runs.fetch_add(1, Relaxed);
        self.stats.bytes.fetch_add(run.bytes(), Relaxed);
    }

    /// The final merge after a spill: at most `fan_in` spilled runs (after
    /// merge passes over the last ones) and the runs in memory, streamed
    /// to the sink.
    fn finish_external(&self, total: &mut SortedPartial, sink: &mut Sink<'_>) -> Result<()> {
        let Some(opts) = &self.spill else {
            return Err(Error::Internal("runs were spilled without spill options".into()));
        };
        while total.spilled.len() > opts.fan_in {
            let k = total.spilled.len();
            let group: Vec<SpillRun> =
                total.spilled.drain(k - opts.fan_in..).map(|(r, _)| r).collect();
            let merged = self.merge_files(group, opts)?;
            total.spilled.push((merged, u32::MAX));
        }
        // The buffers share what the runs in memory leave of the budget.
        let files = total.spilled.len();
        let buffer = read_buffer(opts.budget.saturating_sub(total.held), files);
        let mut cursors = Vec::with_capacity(files + total.runs.len());
        for (run, _) in total.spilled.drain(..) {
            cursors.push(Cursor::File(run.read(self.keys.len(), buffer)?));
        }
        let nkeys = self.keys.len();
        cursors.extend(total.runs.iter().map(|run| Cursor::Mem { run, pos: 0, nkeys }));
        let mut buf = Vec::with_capacity((1 << 20) + (1 << 16));
        let mut pending = 0;
        self.merge_cursors(&mut cursors, |c| {
            buf.extend_from_slice(c.record());
            pending += 1;
            if buf.len() >= 1 << 20 {
                sink.write(&buf, pending)?;
                buf.clear();
                pending = 0;
            }
            Ok(())
        })?;
        sink.write(&buf, pending)
    }

    /// K-way merges `cursors` (in input order: ties go to the earlier
    /// one), calling `emit` on each record's cursor, in order.
    fn merge_cursors(
        &self,
        cursors: &mut [Cursor<'_>],
        mut emit: impl FnMut(&Cursor<'_>) -> Result<()>,
    ) -> Result<()> {
        fn less(keys: &SortKeys, c: &[Cursor<'_>], a: usize, b: usize) -> bool {
            let ((x, xa), (y, ya)) = (c[a].keys(), c[b].keys());
            match keys.cmp(x, xa, y, ya) {
                Ordering::Less => true,
                Ordering::Greater => false,
                Ordering::Equal => a < b,
            }
        }
        let mut heap: Vec<usize> = (0..cursors.len()).filter(|&i| !cursors[i].at_end()).collect();
        for i in (0..heap.len() / 2).rev() {
            sift_down(&mut heap, i, &|a, b| less(&self.keys, cursors, a, b));
        }
        while let Some(&top) = heap.first() {
            emit(&cursors[top])?;
            cursors[top].advance()?;
            if cursors[top].at_end() {
                let last = heap.len() - 1;
                heap.swap(0, last);
                heap.pop();
            }
            sift_down(&mut heap, 0, &|a, b| less(&self.keys, cursors, a, b));
        }
        Ok(())
    }
}

/// The read buffer of each of `files` spill files merged at once, sharing
/// `budget` bytes: 16 KiB to 1 MiB.
fn read_buffer(budget: u64, files: usize) -> usize {
    let share = budget / files.max(1) as u64;
    share.clamp(16 << 10, 1 << 20) as usize
}

fn sift_down<T: Copy>(heap: &mut [T], mut i: usize, less: &impl Fn(T, T) -> bool) {
    loop {
        let (l, r) = (2 * i + 1, 2 * i + 2);
        let mut m = i;
        if l < heap.len() && less(heap[l], heap[m]) {
            m = l;
        }
        if r < heap.len() && less(heap[r], heap[m]) {
            m = r;
        }
        if m == i {
            return;
        }
        heap.swap(i, m);
        i = m;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sorts `csv` by `keys` with chunks of `chunk` records on 2 threads,
    /// with or without spilling (`(budget, fan_in)`), and returns the
    /// output and the runs spilled.
    fn sort(csv: &str, keys: &str, chunk: usize, spill: Option<(u64, usize)>) -> (Vec<u8>, u64) {
        use crate::{ChunkLimit, Input, Pipeline};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.csv");
        std::fs::write(&path, csv).unwrap();
        let spill_dir = tempfile::tempdir().unwrap();
        let pipeline = Pipeline {
            chunk: ChunkLimit::Records(chunk),
            threads: 2,
            max_in_flight: 3,
            ..Pipeline::new(vec![Input::Path(path)])
        };
        let specs: Vec<SortKeySpec> = keys.split(',').map(|k| k.parse().unwrap()).collect();
        let stats = Arc::new(SpillStats::default());
        let mut out = Vec::new();
        pipeline
            .run_with(&mut out, "<mem>", |layout, enc| {
                let keys = specs
                    .iter()
                    .map(|k| Ok((layout.resolve("--sort-by", &k.column)?, k.clone())))
                    .collect::<Result<Vec<_>>>()?;
                let sorted = Sorted::new(keys, enc, vec![b"NA".to_vec()]);
                Ok(match spill {
                    None => sorted,
                    Some((budget, fan_in)) => {
                        let dir = spill_dir.path().to_path_buf();
                        sorted.with_spill(SpillOptions { budget, dir, fan_in }, stats.clone())
                    }
                })
            })
            .unwrap();
        assert_eq!(std::fs::read_dir(spill_dir.path()).unwrap().count(), 0);
        (out, stats.runs.load(Relaxed))
    }

    #[test]
    fn spilled_runs_and_merge_passes_give_the_in_memory_bytes() {
        let mut csv = String::from("id,k,name\n");
        for i in 0..3000u64 {
            // Many ties, missing values (empty and NA), text that needs quoting.
            let k = match i % 41 {
                0 => String::new(),
                1 => "NA".into(),
                _ => ((i * 7919) % 53).to_string(),
            };
            let name =
                if i % 7 == 0 { format!("\"n,{}\"", i % 13) } else { format!("n{}", i % 11) };
            csv.push_str(&format!("{i},{k},{name}\n"));
        }
        for keys in ["k:n", "k:n:desc,name", "name:desc", "name,k:n:desc"] {
            let (expected, none) = sort(&csv, keys, 50, None);
            assert_eq!(none, 0);
            // (budget, fan-in): a spill per chunk with passes of 2 and 3,
            // a few spills, and a budget never reached.
            for (budget, fan_in) in [(1, 2), (1, 3), (40_000, 2), (40_000, 128), (1 << 40, 2)] {
                let (out, spilled) = sort(&csv, keys, 50, Some((budget, fan_in)));
                assert!(out == expected, "{keys}, budget {budget}, fan-in {fan_in}: differs");
                match budget {
                    // 60 chunks, 60 spills, plus the merge passes.
                    1 => assert!(spilled > 60, "{spilled}"),
                    40_000 => assert!(spilled > 1, "{spilled}"),
                    _ => assert_eq!(spilled, 0),
                }
            }
        }
    }
}
