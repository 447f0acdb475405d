//! The sorted reducer's k-way merges: of its runs in memory (the final
//! merge, on `--threads` threads past `PARALLEL_MERGE_MIN` records, and the
//! merge that makes a spilled run), and of cursors over runs in memory or
//! on disk (after a spill).
//!
//! Each merge is a binary min-heap over the runs, ordered by key with ties
//! to the earlier run, which keeps the sort stable across chunks. The
//! parallel merge cuts the merged order into key ranges, one per thread:
//! the splitters are quantiles of the longest run, and every run is cut at
//! the first record not before a splitter (binary search). The first range
//! is merged straight into the sink, the others into buffers written after
//! it in order: the same bytes as one merge.

use std::cmp::Ordering;

use super::spill::SpillReader;
use super::{Run, Sorted, SortedPartial};
use crate::error::{Error, Result};
use crate::reduce::sort_key::{KeyVal, SortKeys};
use crate::reduce::Sink;

/// A sorted run being read by a merge: in memory or on disk.
pub(super) enum Cursor<'a> {
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

    pub(super) fn record(&self) -> &[u8] {
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

/// Records below which the final merge runs on one thread.
const PARALLEL_MERGE_MIN: usize = 100_000;

impl Sorted {
    /// The final merge when nothing was spilled: the runs in memory,
    /// streamed to the sink (in key ranges merged in parallel past
    /// [`PARALLEL_MERGE_MIN`] records).
    pub(super) fn finish_in_memory(
        &self,
        total: &SortedPartial,
        sink: &mut Sink<'_>,
    ) -> Result<()> {
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
                h.join().unwrap_or_else(|_| Err(Error::internal("a merge thread panicked")))
            });
            std::iter::once(first.map(|()| (Vec::new(), 0))).chain(rest).collect()
        });
        for part in outputs {
            let (buf, n) = part?;
            sink.write(&buf, n)?;
        }
        Ok(())
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
    pub(super) fn merge_runs(
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

    /// K-way merges `cursors` (in input order: ties go to the earlier
    /// one), calling `emit` on each record's cursor, in order.
    pub(super) fn merge_cursors(
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

/// Restores the min-heap order of `heap` (by `less`) below index `i`.
pub(crate) fn sift_down<T: Copy>(heap: &mut [T], mut i: usize, less: &impl Fn(T, T) -> bool) {
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
