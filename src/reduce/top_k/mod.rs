//! The top-k reducer: the first K records in `--sort-by` order, overall or
//! per group (`--top K --sort-by KEYS [--group-by COLS]`).
//!
//! The order is the sorted reducer's (the same code compares the keys):
//! per key ascending or descending, `:n` numeric, missing values last in
//! both directions, ties in input order. So the output equals a stable sort
//! of each group's records cut to its first K.
//!
//! **Folding.** Each worker thread folds every chunk it takes into a table
//! of its own, which lives as long as the run (as the group-by's tables
//! do: a chunk's partial is only a handle on it, borrowed at the chunk's
//! first record and given back by [`Reducer::seal`]). A table keeps fewer
//! than 2K records per group: when a group reaches 2K it is sorted and cut
//! to its best K, and from then on a record that does not beat the K-th
//! best is dropped before it is encoded. Because a table sees many chunks,
//! most records of a big input are dropped that way, whatever the number
//! of groups. Every record carries its input position (its chunk's `seq`,
//! then its order in the chunk), and the order is total, so which worker
//! keeps which record does not change the result: the best K of a group
//! are the best K of the union of the workers' best K.
//!
//! **The end.** [`Reducer::finalize`] cuts every group of every table to
//! K on the run's threads and orders the groups by key (the group-by's
//! `group_key::output_order`); [`Reducer::finish`] walks that order and
//! merges the few groups of one key that several workers hold (their
//! records sorted together, cut to K).
//!
//! **Memory.** With [`TopK::with_memory_limit`], each table's kept records
//! and groups are counted as allocated (the encoded record and its sort
//! keys with the allocator's overhead, each group's key, slot and room for
//! entries) and published to a shared total (`state_limit`). Past the
//! budget, a table first cuts every group to its best K; when that frees
//! less than a quarter of it and [`TopK::with_spill`] gave a place, a big
//! table is written to `--temp-dir` as one run, its groups in output order
//! and each group's best K in sort order, and the worker starts again with
//! only each full group's K-th best sort key (its bar: a record that does
//! not beat it cannot enter, since the run holds K better ones); at the
//! end the runs are merged into the output, the first K records of each
//! group kept (`spill.rs`). The output is the same bytes whether and
//! wherever the run spills. Without spilling, passing the budget is an
//! error naming `--memory-limit`.
//!
//! Output: whole records (every output column after `--select`, `--drop`,
//! `--rename`), encoded as the sorted reducer encodes them, after the CSV
//! header. With `--group-by`, the groups come in the group-by reducer's
//! order (numbers first, numerically; then text by bytes; missing keys
//! last), each group's records in sort order.
//!
//! Every record is checked as if it were written (its sort keys parsed, an
//! NDJSON record's keys checked against a CSV header), kept or not, so
//! whether a run fails never depends on chunking.

mod spill;

use std::cmp::Ordering;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use hashbrown::HashMap;
use parking_lot::Mutex;

use crate::error::Result;
use crate::record::{ColumnRef, Record};
use crate::reduce::group_key::{encode_key_part, output_order};
use crate::reduce::sort_key::{KeyVal, SortKeySpec, SortKeys};
use crate::reduce::sorted::spill::SpillRun;
use crate::reduce::state_limit::StateLimit;
use crate::reduce::{RecordBlocks, Reducer, Sink, SpillOptions, SpillStats};
use crate::sink::encode::Encoder;

/// Keeps the first `k` records in sort order, per group; see the module
/// docs. One `TopK` serves one run at a time: it keeps the workers' tables
/// between [`Reducer::seal`] and [`Reducer::finalize`].
#[derive(Debug)]
pub struct TopK {
    k: usize,
    keys: SortKeys,
    group_by: Vec<ColumnRef>,
    encoder: Encoder,
    null_markers: Vec<Vec<u8>>,
    limit: Option<StateLimit>,
    /// Where tables spill past the limit; `None`: passing it is an error.
    spill: Option<SpillOptions>,
    spill_stats: Arc<SpillStats>,
    /// The workers' tables not lent to a chunk.
    idle: Mutex<Vec<Worker>>,
    /// Tables made in this run (the workers).
    workers: AtomicUsize,
    /// Runs spilled in this run.
    runs: Mutex<Vec<SpillRun>>,
}

impl Clone for TopK {
    /// The same reducer, without the tables of a run.
    fn clone(&self) -> Self {
        TopK {
            k: self.k,
            keys: self.keys.clone(),
            group_by: self.group_by.clone(),
            encoder: self.encoder.clone(),
            null_markers: self.null_markers.clone(),
            limit: self.limit.clone(),
            spill: self.spill.clone(),
            spill_stats: self.spill_stats.clone(),
            idle: Mutex::new(Vec::new()),
            workers: AtomicUsize::new(0),
            runs: Mutex::new(Vec::new()),
        }
    }
}

/// A record's place in input order: its chunk's `seq`, then the order in
/// which its chunk's records were folded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Pos {
    chunk: u64,
    index: u64,
}

/// One kept record.
#[derive(Debug)]
struct Entry {
    pos: Pos,
    /// One value per sort key; text ranges index `bytes`.
    keys: Box<[KeyVal]>,
    /// The key texts, then from `record_start` the encoded record.
    bytes: Box<[u8]>,
    record_start: usize,
}

impl Entry {
    fn record(&self) -> &[u8] {
        &self.bytes[self.record_start..]
    }

    /// Bytes this entry's two allocations hold, as counted for the memory
    /// limit (the entry itself is counted in its group's vector).
    fn size(&self) -> u64 {
        heap_bytes(self.bytes.len()) + heap_bytes(self.keys.len() * std::mem::size_of::<KeyVal>())
    }
}

/// Bytes an allocation of `n` bytes takes from the allocator: glibc's
/// malloc adds 8 bytes of header and rounds to 16 (so does any common
/// allocator, give or take); the memory limit counts this, since with
/// records of ~100 bytes the overhead is a tenth of what they hold.
fn heap_bytes(n: usize) -> u64 {
    if n == 0 {
        0
    } else {
        (n as u64 + 8).next_multiple_of(16)
    }
}

/// Bytes a group with encoded key `key` holds beside its entries' own
/// allocations: the key, the group, its hash table slot, and room for
/// `capacity` entries.
fn group_size(key: &[u8], capacity: usize) -> u64 {
    heap_bytes(key.len())
        + (std::mem::size_of::<(Vec<u8>, Group)>() + 8) as u64
        + heap_bytes(capacity * std::mem::size_of::<Entry>())
}

/// Entries a group makes room for when it is made: 2K, which it reaches
/// before it is cut back to K, so a small K never grows its vector; at
/// most 64 (a larger K grows as needed).
fn group_capacity(k: usize) -> usize {
    k.saturating_mul(2).min(64)
}

/// The records kept for one group.
#[derive(Debug, Default)]
struct Group {
    entries: Vec<Entry>,
    /// `entries[..k]` is sorted and holds `k` records (more may follow,
    /// unsorted), so a record that does not come before `entries[k - 1]`
    /// cannot be in the top K.
    full: bool,
    /// After the table spilled: the sort keys and position of the K-th
    /// best record the group had then (its record part empty). A spilled
    /// run holds K records better than it, so a record that does not come
    /// before it cannot be in the top K either.
    bar: Option<Box<Entry>>,
}

/// A worker's table: its kept records per encoded group key, their bytes
/// (see [`Entry::size`] and [`group_size`]), and what of them it has
/// published to the memory limit.
#[derive(Debug, Default)]
struct Worker {
    groups: HashMap<Vec<u8>, Group>,
    bytes: u64,
    /// Bytes and groups already published.
    published: (u64, u64),
}

/// A chunk's partial: a handle on the table of the worker folding it (see
/// the module docs); after [`Reducer::finalize`], every group in output
/// order.
#[derive(Debug, Default)]
pub struct TopPartial {
    worker: Option<Box<Worker>>,
    /// Records folded into this partial: the order within the chunk.
    folded: u64,
    scratch_group: Vec<u8>,
    scratch_keys: Vec<KeyVal>,
    scratch_arena: Vec<u8>,
    done: Option<Done>,
}

/// The kept records of a run, ready to be written.
#[derive(Debug)]
enum Done {
    /// Every table's groups, each sorted and cut to K, and their output
    /// order (indices into `groups`; one key's groups are next to each
    /// other).
    Memory { groups: Vec<(Vec<u8>, Group)>, order: Vec<u32> },
    /// Runs on disk, at most `fan_in`.
    Spilled(Vec<SpillRun>),
}

impl TopK {
    /// A top-`k` reducer: `keys` resolved sort keys, `group_by` resolved
    /// group columns (none: one group), writing through `encoder`;
    /// `null_markers` count as missing. `k` is at least 1 (a `k` of 0 keeps
    /// 1; [`crate::Pipeline::run`] rejects 0 before this).
    pub fn new(
        k: usize,
        keys: Vec<(ColumnRef, SortKeySpec)>,
        group_by: Vec<ColumnRef>,
        encoder: Encoder,
        null_markers: Vec<Vec<u8>>,
    ) -> Self {
        TopK {
            k: k.max(1),
            keys: SortKeys::new(keys, null_markers.clone()),
            group_by,
            encoder,
            null_markers,
            limit: None,
            spill: None,
            spill_stats: Arc::default(),
            idle: Mutex::new(Vec::new()),
            workers: AtomicUsize::new(0),
            runs: Mutex::new(Vec::new()),
        }
    }

    /// Bounds the workers' kept records and groups (see the module docs)
    /// to `budget` bytes; `limit` is the `--memory-limit` it comes from
    /// (bytes), named in the error. Past the budget a table spills (with
    /// [`Self::with_spill`]), or the run fails with
    /// [`ErrorKind::MemoryLimit`](crate::ErrorKind::MemoryLimit).
    pub fn with_memory_limit(mut self, budget: u64, limit: u64) -> Self {
        self.limit = Some(StateLimit::new(
            budget,
            limit,
            "the --top records",
            ", lower --top, or group by fewer columns",
        ));
        self
    }

    /// Spills tables to `opts.dir` past the memory limit (see the module
    /// docs), counting the runs and bytes in `stats`; the final merge's
    /// read buffers share `opts.budget` bytes, and at most `opts.fan_in`
    /// runs are merged at once. Without [`Self::with_memory_limit`] nothing
    /// spills.
    pub fn with_spill(mut self, opts: SpillOptions, stats: Arc<SpillStats>) -> Self {
        self.spill = Some(opts);
        self.spill_stats = stats;
        self
    }

    /// Strict order of kept records: by key, ties by input order.
    fn cmp(&self, a: &Entry, b: &Entry) -> Ordering {
        self.keys.cmp(&a.keys, &a.bytes, &b.keys, &b.bytes).then(a.pos.cmp(&b.pos))
    }

    /// Sorts `group` and keeps its best `k`. (A stable sort merges the
    /// sorted runs that earlier cuts leave; the order is total anyway.)
    /// Returns the bytes the dropped entries held.
    fn compact(&self, group: &mut Group) -> u64 {
        group.entries.sort_by(|a, b| self.cmp(a, b));
        let freed = group.entries.get(self.k..).map_or(0, |cut| cut.iter().map(Entry::size).sum());
        group.entries.truncate(self.k);
        group.full = group.entries.len() == self.k;
        freed
    }

    /// The worker's table a partial folds into: the one it has, else an
    /// idle one, else a new one.
    fn borrow_worker<'a>(&self, worker: &'a mut Option<Box<Worker>>) -> &'a mut Worker {
        worker.get_or_insert_with(|| {
            Box::new(self.idle.lock().pop().unwrap_or_else(|| {
                self.workers.fetch_add(1, Relaxed);
                Worker::default()
            }))
        })
    }

    /// Publishes `worker`'s change to the memory limit
    /// ([`StateLimit::track`]); past the budget, cuts its groups to K and,
    /// when that is not enough, spills its table when it is big enough
    /// ([`StateLimit::should_spill`], [`Self::with_spill`]).
    fn publish(&self, worker: &mut Worker) -> Result<()> {
        let Some(limit) = &self.limit else { return Ok(()) };
        let (bytes, groups) = (worker.bytes, worker.groups.len() as u64);
        let over = limit.track(&mut worker.published, bytes, groups);
        if over.is_err() {
            // First cut every group to K: when that frees a quarter of the
            // table, it fits again without spilling.
            worker.bytes -= self.cut_all(worker);
            if worker.bytes <= bytes / 4 * 3 {
                limit.release(bytes - worker.bytes, 0);
                worker.published.0 = worker.bytes;
                return Ok(());
            }
        }
        match (over, &self.spill) {
            (Ok(()), _) => Ok(()),
            (Err(e), None) => Err(e),
            (Err(_), Some(opts)) => {
                if !limit.should_spill(bytes, self.workers.load(Relaxed)) {
                    return Ok(());
                }
                let mut groups: Vec<(Vec<u8>, Group)> =
                    std::mem::take(&mut worker.groups).into_iter().collect();
                let run = self.write_run(&mut groups, &opts.dir)?;
                self.runs.lock().push(run);
                limit.release(worker.published.0, worker.published.1);
                *worker = self.bars(groups, worker.bytes);
                Ok(())
            }
        }
    }

    /// Cuts every group of `worker`'s table to its best K and gives back
    /// the room of the entries cut; returns the bytes freed.
    fn cut_all(&self, worker: &mut Worker) -> u64 {
        let mut freed = 0;
        for group in worker.groups.values_mut() {
            freed += self.compact(group);
            let capacity = group.entries.capacity();
            group.entries.shrink_to(self.k);
            freed += ((capacity - group.entries.capacity()) * std::mem::size_of::<Entry>()) as u64;
        }
        freed
    }

    /// The table a worker starts with after it spilled `groups` (cut to K),
    /// which held `spilled` bytes: every full group with its bar (see
    /// [`Group::bar`]), so that records that cannot enter are still
    /// dropped before they are encoded. When the bars would take more than
    /// half of what was spilled (groups of about one record, which seldom
    /// meet again), an empty table.
    fn bars(&self, groups: Vec<(Vec<u8>, Group)>, spilled: u64) -> Worker {
        let mut table = HashMap::new();
        let mut bytes = 0;
        for (key, mut group) in groups {
            if !group.full {
                continue;
            }
            let Some(worst) = group.entries.get_mut(self.k - 1) else { continue };
            let text = worst.bytes[..worst.record_start].into();
            let bar = Entry {
                pos: worst.pos,
                keys: std::mem::take(&mut worst.keys),
                bytes: text,
                record_start: worst.record_start,
            };
            bytes += group_size(&key, 0) + bar.size() + heap_bytes(std::mem::size_of::<Entry>());
            if bytes.saturating_mul(2) > spilled {
                return Worker::default();
            }
            table.insert(key, Group { entries: Vec::new(), full: false, bar: Some(Box::new(bar)) });
        }
        Worker { groups: table, bytes, published: (0, 0) }
    }

    /// Writes the groups of `order` (indices into `groups`, one key's
    /// groups next to each other) to `sink`: each key's records in sort
    /// order, its best K when several tables held it.
    fn write_groups(
        &self,
        groups: &[(Vec<u8>, Group)],
        order: &[u32],
        sink: &mut Sink<'_>,
    ) -> Result<()> {
        let mut blocks = RecordBlocks::new(1 << 16);
        let mut merged: Vec<&Entry> = Vec::new();
        let mut at = 0;
        while at < order.len() {
            let key = &groups[order[at] as usize].0;
            let mut end = at + 1;
            while end < order.len() && groups[order[end] as usize].0 == *key {
                end += 1;
            }
            merged.clear();
            merged.extend(order[at..end].iter().flat_map(|&i| &groups[i as usize].1.entries));
            if end - at > 1 {
                merged.sort_by(|a, b| self.cmp(a, b));
                merged.truncate(self.k);
            }
            for e in &merged {
                blocks.push(e.record(), sink)?;
            }
            at = end;
        }
        blocks.finish(sink)
    }
}

impl Reducer for TopK {
    type Partial = TopPartial;

    fn empty(&self) -> TopPartial {
        TopPartial::default()
    }

    fn fold(&self, partial: &mut TopPartial, record: &Record<'_>) -> Result<()> {
        let TopPartial { worker, folded, scratch_group, scratch_keys, scratch_arena, .. } = partial;
        scratch_group.clear();
        for c in &self.group_by {
            encode_key_part(scratch_group, record.get(c), &self.null_markers);
        }
        scratch_keys.clear();
        scratch_arena.clear();
        self.keys.extract(record, scratch_keys, scratch_arena)?;
        let pos = Pos { chunk: record.chunk, index: *folded };
        *folded += 1;
        let worker = self.borrow_worker(worker);
        let Worker { groups, bytes: held, .. } = &mut *worker;
        let group = match groups.get_mut(scratch_group.as_slice()) {
            Some(group) => group,
            None => {
                let capacity = group_capacity(self.k);
                *held += group_size(scratch_group, capacity);
                let group = groups.entry_ref(scratch_group.as_slice()).or_default();
                group.entries.reserve_exact(capacity);
                group
            }
        };
        let worst = if group.full { group.entries.get(self.k - 1) } else { group.bar.as_deref() };
        if let Some(worst) = worst {
            // A worker may fold a later chunk before an earlier one, so a
            // tie goes by position too.
            let order = self.keys.cmp(scratch_keys, scratch_arena, &worst.keys, &worst.bytes);
            if order.then(pos.cmp(&worst.pos)) != Ordering::Less {
                // Not kept: only check it.
                return self.encoder.check(record);
            }
        }
        let mut bytes = Vec::with_capacity(scratch_arena.len() + 128);
        bytes.extend_from_slice(scratch_arena);
        let record_start = bytes.len();
        self.encoder.record(record, &mut bytes)?;
        let entry = Entry {
            pos,
            keys: scratch_keys.as_slice().into(),
            bytes: bytes.into_boxed_slice(),
            record_start,
        };
        *held += entry.size();
        let capacity = group.entries.capacity();
        group.entries.push(entry);
        let grown = group.entries.capacity() - capacity;
        *held += (grown * std::mem::size_of::<Entry>()) as u64;
        if group.entries.len() >= self.k.saturating_mul(2) {
            *held -= self.compact(group);
        }
        self.publish(worker)
    }

    fn seal(&self, partial: &mut TopPartial) -> Result<()> {
        if let Some(worker) = partial.worker.take() {
            self.idle.lock().push(*worker);
        }
        Ok(())
    }

    fn merge(&self, _total: &mut TopPartial, mut next: TopPartial) -> Result<()> {
        // A partial that was not sealed gives its table back here.
        self.seal(&mut next)
    }

    fn start(&self, sink: &mut Sink<'_>) -> Result<()> {
        let mut header = Vec::new();
        self.encoder.layout_header(&mut header);
        sink.write(&header, 0)
    }

    fn finalize(&self, total: &mut TopPartial) -> Result<()> {
        use rayon::prelude::*;
        if total.done.is_some() {
            return Ok(());
        }
        self.seal(total)?;
        let workers = std::mem::take(&mut *self.idle.lock());
        self.workers.store(0, Relaxed);
        if let Some(limit) = &self.limit {
            limit.reset();
        }
        let mut runs = std::mem::take(&mut *self.runs.lock());
        if let (false, Some(opts)) = (runs.is_empty(), &self.spill) {
            // Once a table has spilled, every table does, and the runs
            // are merged into the output.
            for worker in workers {
                let mut groups: Vec<(Vec<u8>, Group)> = worker.groups.into_iter().collect();
                if groups.iter().any(|(_, g)| !g.entries.is_empty()) {
                    runs.push(self.write_run(&mut groups, &opts.dir)?);
                }
            }
            self.merge_passes(&mut runs, opts)?;
            total.done = Some(Done::Spilled(runs));
            return Ok(());
        }
        let mut groups: Vec<(Vec<u8>, Group)> =
            workers.into_iter().flat_map(|w| w.groups).collect();
        groups.par_iter_mut().for_each(|(_, group)| {
            self.compact(group);
        });
        let order = output_order(groups.len(), |i| groups[i].0.as_slice());
        total.done = Some(Done::Memory { groups, order });
        Ok(())
    }

    fn finish(&self, mut total: TopPartial, sink: &mut Sink<'_>) -> Result<()> {
        self.finalize(&mut total)?;
        match total.done.take() {
            Some(Done::Memory { groups, order }) => self.write_groups(&groups, &order, sink),
            Some(Done::Spilled(runs)) => self.write_runs(runs, sink),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Format;
    use crate::record::Source;
    use crate::transform::{Layout, Projection};

    /// A top-`k` by `v:n` (descending when `desc`) over CSV `g,v`, grouped
    /// by `g` when `grouped`.
    fn reducer(k: usize, desc: bool, grouped: bool) -> TopK {
        let names = vec!["g".to_string(), "v".to_string()];
        let layout = Layout::new(&Projection::default(), &names, false, false).unwrap();
        let encoder = Encoder::new(Format::Csv, b',', layout, Vec::new());
        let col = |name: &str, i| ColumnRef { name: name.into(), source: Source::Index(i) };
        let spec = SortKeySpec { column: "v".into(), numeric: true, descending: desc };
        let group = if grouped { vec![col("g", 0)] } else { Vec::new() };
        TopK::new(k, vec![(col("v", 1), spec)], group, encoder, Vec::new())
    }

    /// A CSV record of `bytes` cut at `spans`, at `line` of input `t`.
    fn csv_record<'a>(bytes: &'a [u8], spans: &'a [(usize, usize)], line: u64) -> Record<'a> {
        Record {
            fields: crate::record::Fields::Csv { bytes, spans, raw_line: None },
            input: "t",
            line: crate::record::LineAt::Known(line),
            raw: b"",
            offset: 0,
            index: 0,
            chunk: 0,
        }
    }

    /// Folds the CSV rows (`g,v`) of the chunk of `seq` `seq` into `p`.
    fn fold_chunk(r: &TopK, p: &mut TopPartial, chunk: &[(&str, &str)], seq: usize) {
        for (line, (g, v)) in chunk.iter().enumerate() {
            let text = format!("{g},{v}");
            let spans = [(0, g.len()), (g.len() + 1, text.len())];
            let mut rec = csv_record(text.as_bytes(), &spans, line as u64 + 2);
            rec.chunk = seq as u64;
            r.fold(p, &rec).unwrap();
        }
    }

    /// The output of `r` for `total`, the header first.
    fn output(r: &TopK, total: TopPartial) -> String {
        let mut out = Vec::new();
        let mut sink = Sink::new(&mut out, "mem");
        r.start(&mut sink).unwrap();
        r.finish(total, &mut sink).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// Runs `r` over `chunks` of CSV rows (`g,v`), chunk `i` with `seq`
    /// `i`, sealing each chunk and merging in order; returns the output.
    fn run(r: &TopK, chunks: &[&[(&str, &str)]]) -> String {
        let mut total = r.empty();
        for (c, chunk) in chunks.iter().enumerate() {
            let mut p = r.empty();
            fold_chunk(r, &mut p, chunk, c);
            r.seal(&mut p).unwrap();
            r.merge(&mut total, p).unwrap();
        }
        output(r, total)
    }

    #[test]
    fn keeps_the_best_k_with_ties_in_input_order() {
        let rows: &[(&str, &str)] =
            &[("a", "3"), ("b", "5"), ("c", "3"), ("d", ""), ("e", "5"), ("f", "1"), ("g", "3")];
        let r = reducer(3, true, false);
        let want = "g,v\nb,5\ne,5\na,3\n";
        assert_eq!(run(&r, &[rows]), want);
        // Every cut into chunks gives the same.
        for cut in 0..=rows.len() {
            assert_eq!(run(&r, &[&rows[..cut], &rows[cut..]]), want, "cut at {cut}");
        }
        let singles: Vec<&[(&str, &str)]> = rows.chunks(1).collect();
        assert_eq!(run(&r, &singles), want);
        // Ascending: 1, then the three 3s in input order (a, c, g); missing
        // last.
        assert_eq!(run(&reducer(4, false, false), &singles), "g,v\nf,1\na,3\nc,3\ng,3\n");
        assert_eq!(run(&reducer(100, false, false), &[rows]).lines().last(), Some("d,"));
    }

    #[test]
    fn keeps_k_per_group_in_group_order() {
        let rows: &[(&str, &str)] = &[
            ("y", "1"),
            ("10", "4"),
            ("y", "7"),
            ("9", "2"),
            ("", "5"),
            ("y", "3"),
            ("10", "8"),
            ("y", "7"),
        ];
        let r = reducer(2, true, true);
        let want = "g,v\n9,2\n10,8\n10,4\ny,7\ny,7\n,5\n";
        assert_eq!(run(&r, &[rows]), want);
        let singles: Vec<&[(&str, &str)]> = rows.chunks(1).collect();
        assert_eq!(run(&r, &singles), want);
    }

    #[test]
    fn a_full_group_drops_records_that_cannot_enter() {
        let r = reducer(2, false, false);
        let mut p = r.empty();
        let rows = ["5", "4", "3", "2", "9", "9", "1"];
        for (i, v) in rows.iter().enumerate() {
            let text = format!("x,{v}");
            let spans = [(0, 1), (2, text.len())];
            r.fold(&mut p, &csv_record(text.as_bytes(), &spans, i as u64 + 2)).unwrap();
            let table = &p.worker.as_ref().expect("a table after a record").groups;
            let kept = table.values().map(|g| g.entries.len()).sum::<usize>();
            assert!(kept < 4, "at most 2k - 1 records between compactions");
        }
        assert_eq!(p.folded, 7);
        r.finalize(&mut p).unwrap();
        let Some(Done::Memory { groups, .. }) = &p.done else { panic!("not in memory") };
        let kept: Vec<&[u8]> =
            groups.iter().flat_map(|(_, g)| &g.entries).map(|e| e.record()).collect();
        assert_eq!(kept, [&b"x,1\n"[..], &b"x,2\n"[..]]);
    }

    /// Rows of 5 groups with many ties, `n` of them.
    fn tied_rows(n: usize) -> Vec<(String, String)> {
        (0..n)
            .map(|i| (["a", "7", "", "b", "10"][i % 5].to_string(), (i * 7 % 4).to_string()))
            .collect()
    }

    #[test]
    fn two_tables_at_once_give_the_one_table_output() {
        let rows = tied_rows(40);
        let rows: Vec<(&str, &str)> = rows.iter().map(|(g, v)| (g.as_str(), v.as_str())).collect();
        for (k, desc, grouped) in [(1, true, true), (3, false, true), (2, true, false)] {
            let r = reducer(k, desc, grouped);
            let want = run(&r, &[&rows]);
            // Chunks folded by two workers at once: odd chunks into one
            // table, even into the other.
            let mut total = r.empty();
            let (mut a, mut b) = (r.empty(), r.empty());
            for (c, chunk) in rows.chunks(3).enumerate() {
                fold_chunk(&r, if c % 2 == 0 { &mut a } else { &mut b }, chunk, c);
            }
            assert_eq!(r.workers.load(Relaxed), 2);
            r.merge(&mut total, a).unwrap();
            r.merge(&mut total, b).unwrap();
            assert_eq!(output(&r, total), want, "k {k} desc {desc} grouped {grouped}");
        }
    }

    #[test]
    fn chunks_folded_out_of_input_order_keep_ties_in_input_order() {
        let rows = tied_rows(45);
        let rows: Vec<(&str, &str)> = rows.iter().map(|(g, v)| (g.as_str(), v.as_str())).collect();
        for (k, desc, grouped) in [(1, true, true), (2, false, true), (3, true, false)] {
            let r = reducer(k, desc, grouped);
            let want = run(&r, &[&rows]);
            // One table, the last chunk first.
            let mut p = r.empty();
            let chunks: Vec<&[(&str, &str)]> = rows.chunks(4).collect();
            for (c, chunk) in chunks.iter().enumerate().rev() {
                fold_chunk(&r, &mut p, chunk, c);
            }
            assert_eq!(output(&r, p), want, "k {k} desc {desc} grouped {grouped}");
        }
    }

    #[test]
    fn spilled_runs_give_the_in_memory_output_and_leave_nothing() {
        let rows = tied_rows(60);
        let rows: Vec<(&str, &str)> = rows.iter().map(|(g, v)| (g.as_str(), v.as_str())).collect();
        let dir = tempfile::tempdir().unwrap();
        for (k, desc, grouped) in
            [(1, true, true), (3, false, true), (2, true, false), (50, false, false)]
        {
            let want = run(&reducer(k, desc, grouped), &[&rows]);
            for (budget, fan_in) in [(1, 2), (300, 3), (2000, 128)] {
                let stats = Arc::new(SpillStats::default());
                let opts = SpillOptions { budget, dir: dir.path().to_path_buf(), fan_in };
                let r = reducer(k, desc, grouped)
                    .with_memory_limit(budget, budget)
                    .with_spill(opts, stats.clone());
                let chunks: Vec<&[(&str, &str)]> = rows.chunks(7).collect();
                assert_eq!(run(&r, &chunks), want, "k {k} budget {budget} fan-in {fan_in}");
                if budget == 1 {
                    assert!(stats.runs.load(Relaxed) > 2, "spilled and merged in passes");
                }
                assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
            }
        }
    }

    #[test]
    fn a_table_that_spilled_keeps_bars_and_the_same_output() {
        // Records of ~200 bytes in 4 groups: after a spill the full groups
        // keep bars, and a record that does not beat its group's bar is
        // dropped. A wrong bar would drop a record of the top K.
        let names = vec!["g".to_string(), "v".to_string(), "pad".to_string()];
        let layout = Layout::new(&Projection::default(), &names, false, false).unwrap();
        let encoder = Encoder::new(Format::Csv, b',', layout, Vec::new());
        let col = |name: &str, i| ColumnRef { name: name.into(), source: Source::Index(i) };
        let spec = SortKeySpec { column: "v".into(), numeric: true, descending: true };
        let make = || {
            TopK::new(
                2,
                vec![(col("v", 1), spec.clone())],
                vec![col("g", 0)],
                encoder.clone(),
                vec![],
            )
        };
        let pad = "p".repeat(200);
        // Values rise and fall, so that later records beat the bars too.
        let rows: Vec<String> = (0..160)
            .map(|i| format!("{},{},{pad}", ["w", "x", "y", "z"][i % 4], (i * 37) % 101))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let run_rows = |r: &TopK| {
            let mut total = r.empty();
            for (c, chunk) in rows.chunks(5).enumerate() {
                let mut p = r.empty();
                for (line, text) in chunk.iter().enumerate() {
                    let cut: Vec<usize> = text.match_indices(',').map(|(i, _)| i).collect();
                    let spans = [(0, cut[0]), (cut[0] + 1, cut[1]), (cut[1] + 1, text.len())];
                    let mut rec = csv_record(text.as_bytes(), &spans, line as u64 + 2);
                    rec.chunk = c as u64;
                    r.fold(&mut p, &rec).unwrap();
                }
                r.seal(&mut p).unwrap();
                r.merge(&mut total, p).unwrap();
            }
            output(r, total)
        };
        let want = run_rows(&make());
        assert_eq!(want.lines().count(), 1 + 4 * 2);
        for budget in [2600, 3000, 3400] {
            let stats = Arc::new(SpillStats::default());
            let opts = SpillOptions { budget, dir: dir.path().to_path_buf(), fan_in: 4 };
            let r = make().with_memory_limit(budget, budget).with_spill(opts, stats.clone());
            assert_eq!(run_rows(&r), want, "budget {budget}");
            assert!(stats.runs.load(Relaxed) >= 2, "budget {budget} spilled");
        }
    }

    #[test]
    fn without_a_place_to_spill_the_limit_is_an_error() {
        let r = reducer(2, true, true).with_memory_limit(100, 4096);
        let mut p = r.empty();
        let mut err = None;
        for (i, (g, v)) in tied_rows(20).iter().enumerate() {
            let text = format!("{g},{v}");
            let spans = [(0, g.len()), (g.len() + 1, text.len())];
            if let Err(e) = r.fold(&mut p, &csv_record(text.as_bytes(), &spans, i as u64 + 2)) {
                err = Some(e.to_string());
                break;
            }
        }
        let err = err.expect("the limit is passed");
        assert!(err.contains("4.0 KiB: the --top records passed the limit"), "{err}");
        assert!(err.contains("lower --top, or group by fewer columns"), "{err}");
    }
}
