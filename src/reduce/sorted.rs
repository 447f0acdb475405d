//! The sorted reducer: a stable sort of all records by one or more keys.
//!
//! Each worker sorts its chunk's records into a run (a stable sort, so ties
//! keep input order); at the end the runs are merged with a k-way merge
//! that breaks ties by chunk order. Past 100,000 records that merge is cut
//! into key ranges (at quantiles of the longest run, each run cut by binary
//! search) that are merged on `--threads` threads and written in order. The result is the same as one stable
//! sort of the whole input, whatever the chunking.
//!
//! Ordering per key: `:n` compares numerically (a non-numeric value is an
//! error naming its line), otherwise by the bytes of the text (UTF-8 code
//! point order). Missing values (empty, null, absent, `--null` markers) sort
//! last in both directions.

use std::cmp::Ordering;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::record::{ColumnRef, Record};
use crate::reduce::number::parse_number;
use crate::reduce::{Reducer, Sink};
use crate::sink::encode::Encoder;

/// One `--sort-by` key as the user wrote it: `col[:n][:desc]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKeySpec {
    /// Output column name.
    pub column: String,
    /// Compare as numbers (`:n`).
    pub numeric: bool,
    /// Descending (`:desc`).
    pub descending: bool,
}

impl FromStr for SortKeySpec {
    type Err = Error;

    /// Parses `col`, `col:n`, `col:desc`, `col:n:desc` (also `:asc`).
    fn from_str(s: &str) -> Result<Self> {
        let mut parts = s.split(':');
        let column = parts.next().unwrap_or_default().to_string();
        if column.is_empty() {
            return Err(Error::flag("--sort-by", format!("`{s}`: a key needs a column name")));
        }
        let mut spec = SortKeySpec { column, numeric: false, descending: false };
        for p in parts {
            match p {
                "n" | "num" => spec.numeric = true,
                "desc" => spec.descending = true,
                "asc" => spec.descending = false,
                other => {
                    return Err(Error::flag(
                        "--sort-by",
                        format!("`{s}`: unknown modifier `{other}`; use col[:n][:desc]"),
                    ))
                }
            }
        }
        Ok(spec)
    }
}

#[derive(Debug, Clone)]
struct Key {
    column: ColumnRef,
    numeric: bool,
    descending: bool,
}

/// Resolved `--sort-by` keys: reads a record's key values and compares
/// them in the documented order (see the module docs). Shared by the
/// sorted and top-k reducers.
#[derive(Debug, Clone)]
pub(crate) struct SortKeys {
    keys: Vec<Key>,
    null_markers: Vec<Vec<u8>>,
}

/// One key value of a record, as [`SortKeys::extract`] reads it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KeyVal {
    /// A `:n` key's value.
    Num(f64),
    /// A text key's value: a byte range in the key arena it was read into.
    Str(usize, usize),
    /// Empty, null, absent or a `--null` marker.
    Missing,
}

impl SortKeys {
    /// Keys over resolved columns; `null_markers` count as missing.
    pub(crate) fn new(keys: Vec<(ColumnRef, SortKeySpec)>, null_markers: Vec<Vec<u8>>) -> Self {
        let keys = keys
            .into_iter()
            .map(|(column, s)| Key { column, numeric: s.numeric, descending: s.descending })
            .collect();
        SortKeys { keys, null_markers }
    }

    /// Number of keys: values per record.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// Appends `record`'s value of each key to `out` (one per key), copying
    /// text values into `arena`.
    ///
    /// # Errors
    /// [`Error::NotNumeric`] for a `:n` key whose value is not a number,
    /// naming the record's line.
    pub(crate) fn extract(
        &self,
        record: &Record<'_>,
        out: &mut Vec<KeyVal>,
        arena: &mut Vec<u8>,
    ) -> Result<()> {
        for key in &self.keys {
            let field = record.get(&key.column);
            if field.is_missing(&self.null_markers) {
                out.push(KeyVal::Missing);
                continue;
            }
            let text = field.text().unwrap_or_default();
            if key.numeric {
                match parse_number(&text) {
                    Some(n) => out.push(KeyVal::Num(n.to_f64())),
                    None => {
                        return Err(Error::NotNumeric {
                            at: record.location(),
                            column: key.column.name.clone(),
                            value: String::from_utf8_lossy(&text).into_owned(),
                            purpose: format!("--sort-by {}:n", key.column.name),
                        })
                    }
                }
            } else {
                let s = arena.len();
                arena.extend_from_slice(&text);
                out.push(KeyVal::Str(s, arena.len()));
            }
        }
        Ok(())
    }

    /// Compares two records' key values (`a` with its arena `a_arena`, `b`
    /// with `b_arena`), key by key: ascending or descending, missing last
    /// in both directions. Equal means a tie, which callers break by input
    /// order.
    pub(crate) fn cmp(
        &self,
        a: &[KeyVal],
        a_arena: &[u8],
        b: &[KeyVal],
        b_arena: &[u8],
    ) -> Ordering {
        for ((key, &x), &y) in self.keys.iter().zip(a).zip(b) {
            let ord = match (x, y) {
                (KeyVal::Missing, KeyVal::Missing) => Ordering::Equal,
                (KeyVal::Missing, _) => return Ordering::Greater,
                (_, KeyVal::Missing) => return Ordering::Less,
                (KeyVal::Num(p), KeyVal::Num(q)) => p.total_cmp(&q),
                (KeyVal::Str(s, e), KeyVal::Str(s2, e2)) => a_arena[s..e].cmp(&b_arena[s2..e2]),
                (KeyVal::Num(_), KeyVal::Str(..)) => Ordering::Less,
                (KeyVal::Str(..), KeyVal::Num(_)) => Ordering::Greater,
            };
            let ord = if key.descending { ord.reverse() } else { ord };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }
}

/// Sorts all records; see the module docs.
#[derive(Debug, Clone)]
pub struct Sorted {
    keys: SortKeys,
    encoder: Encoder,
    merge_threads: usize,
}

/// One chunk's records, encoded, with their keys; sorted by [`Reducer::seal`].
#[derive(Debug, Default)]
pub struct Run {
    keys: Vec<KeyVal>,
    arena: Vec<u8>,
    data: Vec<u8>,
    /// Record i is `data[ends[i-1]..ends[i]]`.
    ends: Vec<usize>,
    /// Record indices in sorted order.
    order: Vec<u32>,
}

impl Run {
    fn record(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.data[start..self.ends[i]]
    }
}

/// The sorted runs of consecutive chunks, in chunk order.
#[derive(Debug, Default)]
pub struct SortedPartial {
    runs: Vec<Run>,
}

impl Sorted {
    /// A sorted reducer over resolved `keys` (column, numeric, descending),
    /// writing through `encoder`; `null_markers` count as missing.
    pub fn new(
        keys: Vec<(ColumnRef, SortKeySpec)>,
        encoder: Encoder,
        null_markers: Vec<Vec<u8>>,
    ) -> Self {
        Sorted { keys: SortKeys::new(keys, null_markers), encoder, merge_threads: 1 }
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
        SortedPartial { runs: vec![Run::default()] }
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
            run.order = order;
        }
        Ok(())
    }

    fn merge(&self, total: &mut SortedPartial, next: SortedPartial) -> Result<()> {
        total.runs.extend(next.runs.into_iter().filter(|r| !r.ends.is_empty()));
        Ok(())
    }

    fn start(&self, sink: &mut Sink<'_>) -> Result<()> {
        let mut header = Vec::new();
        self.encoder.layout_header(&mut header);
        sink.write(&header, 0)
    }

    fn finish(&self, total: SortedPartial, sink: &mut Sink<'_>) -> Result<()> {
        let runs: Vec<&Run> = total.runs.iter().filter(|r| !r.ends.is_empty()).collect();
        let records: usize = runs.iter().map(|r| r.order.len()).sum();
        let parts = if records >= PARALLEL_MERGE_MIN { self.merge_threads.max(1) } else { 1 };
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

    /// Strict order of `(run, position in run.order)`: by key, ties by run
    /// then position, which is input order.
    fn before(&self, runs: &[&Run], a: (usize, usize), b: (usize, usize)) -> bool {
        let (ra, rb) = (runs[a.0], runs[b.0]);
        match self.cmp(ra, ra.order[a.1] as usize, rb, rb.order[b.1] as usize) {
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
        if let Some(big) = (0..runs.len()).max_by_key(|&r| runs[r].order.len()) {
            for k in 1..parts {
                let pivot = (big, runs[big].order.len() * k / parts);
                let cut: Vec<usize> = (0..runs.len())
                    .map(|r| {
                        let (mut lo, mut hi) = (0, runs[r].order.len());
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
        bounds.push(runs.iter().map(|r| r.order.len()).collect());
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
        // A binary min-heap of (run, position in run.order); ties go to the
        // earlier run, which keeps the sort stable across chunks.
        let less = |a: (usize, usize), b: (usize, usize)| self.before(runs, a, b);
        let mut heap: Vec<(usize, usize)> =
            (0..runs.len()).filter(|&r| lo[r] < hi[r]).map(|r| (r, lo[r])).collect();
        for i in (0..heap.len() / 2).rev() {
            sift_down(&mut heap, i, &less);
        }
        let mut buf = Vec::with_capacity((1 << 20) + (1 << 16));
        let mut pending = 0;
        while let Some(&(r, pos)) = heap.first() {
            buf.extend_from_slice(runs[r].record(runs[r].order[pos] as usize));
            pending += 1;
            // Past the output's own buffer size, the sink writes straight
            // through instead of copying again.
            if buf.len() >= 1 << 20 {
                write(&buf, pending)?;
                buf.clear();
                pending = 0;
            }
            if pos + 1 < hi[r] {
                heap[0] = (r, pos + 1);
            } else {
                let last = heap.len() - 1;
                heap.swap(0, last);
                heap.pop();
            }
            sift_down(&mut heap, 0, &less);
        }
        write(&buf, pending)
    }
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

    #[test]
    fn parses_key_specs() {
        let k: SortKeySpec = "amount:n:desc".parse().unwrap();
        assert_eq!(k, SortKeySpec { column: "amount".into(), numeric: true, descending: true });
        assert!("amount:x".parse::<SortKeySpec>().is_err());
        assert!(":n".parse::<SortKeySpec>().is_err());
    }
}
