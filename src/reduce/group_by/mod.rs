//! The group-by reducer: one output row per distinct key, with aggregates.
//!
//! **Aggregation.** Each worker thread folds every chunk it takes into a
//! table of its own, which lives as long as the run (`table.rs`; the
//! thread-local tables of DuckDB's hash aggregate and of Leis et al.,
//! "Morsel-Driven Parallelism", SIGMOD 2014): a record costs one hash of
//! its key and one probe, and a group one slot, whatever the number of
//! chunks. When every aggregate is a count or a sum and the table has
//! outgrown the core's caches (8192 groups), records are added in
//! batches of 64, whose index slots, states and keys are prefetched in
//! three waves before they are probed, so that the cache misses of a
//! table bigger than the cache overlap (the vectorized probing of
//! DuckDB's and Polars' hash aggregates). A chunk's partial is only a
//! handle on a worker's table (borrowed at the chunk's first record,
//! given back by [`Reducer::seal`]), so the merging thread has nothing to
//! merge. At the end, [`Reducer::finalize`] orders the groups of every table by key on
//! the run's threads (`group_key::output_order`: sort keys made in
//! parallel, a parallel sort), and [`Reducer::finish`] walks that order,
//! merging the few states of one key that several workers hold, and
//! writes the rows.
//!
//! **Determinism.** Which worker folds which chunk varies from run to run,
//! so every merge is exact and commutative: integer counts, exact decimal
//! sums, sets, and for what depends on input order (`first`, `last`,
//! `mode`'s ties, a `min`/`max` tie between `1.5` and `1.50`) the input
//! position it goes by (the chunk's `seq`, then the order of the chunk's
//! records; `acc.rs`). So the output is the same bytes for any thread
//! count, chunking or scheduling.
//!
//! **Lean state.** A group's key is stored once, in its table's key
//! arena; a count is 8 bytes, a sum 16 with its count of values (an
//! `i64` at one scale while the values fit, `number::PackedSum`; what does not
//! fit goes to a rest the table keeps beside); a variance or standard
//! deviation is its column's sum and one more sum state, of the values'
//! exact squares, from which `number::exact_variance` computes the exact
//! variance and rounds it once (Σx and Σx² kept exactly, as no streaming
//! update such as Welford's can: Knuth, TAOCP vol. 2, 4.2.2); a record
//! allocates nothing unless it adds a group whose key or values outgrow
//! the vectors' room.
//!
//! Output: group columns first, then the aggregates in the order given.
//! Groups are sorted by key, column by column: numbers first, in numeric
//! order; then text, by bytes (UTF-8 code point order); missing keys last
//! (the keys are encoded and ordered by `group_key`, shared with top-k).
//! Column aggregates skip missing values (empty, null, absent, `--null`
//! markers), as SQL does; `count` counts every record of the group. A sum,
//! mean, min, max, mode, first or last over no values is missing (an empty
//! field or `null`).
//!
//! **Memory.** With [`GroupBy::with_memory_limit`], the tables' bytes are
//! counted as they grow (see `state_limit`). Past the budget, with
//! [`GroupBy::with_spill`], a big table is written to `--temp-dir` as a
//! run sorted by key and the worker starts an empty one; at the end the
//! runs are merged by key into the same rows (`spill.rs`). Without
//! spilling, passing the budget is an error naming `--memory-limit`.
//!
//! `mode` is the most frequent value, compared as text (like `distinct`);
//! ties go to the value seen first in input order. `first` and `last` keep
//! the first and last value in input order. `mode`, `first` and `last`
//! write the value as read (a JSON string stays a string, a JSON number a
//! number).
//!
//! This module holds the reducer; the `--agg` specs are in `spec.rs`, the
//! tables in `table.rs`, the value-holding accumulators in `acc.rs`, the
//! memory bound in `state_limit`, spilling in `spill.rs`, and the group keys
//! in `group_key`.

mod acc;
mod hll;
mod partial_lines;
pub(crate) use partial_lines::SortedPartials;
mod spec;
mod spill;
mod table;

use std::hash::BuildHasher;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use hashbrown::DefaultHashBuilder;
use parking_lot::Mutex;

use crate::error::{Error, ErrorKind, Result};
use crate::record::{ColumnRef, Field, Record};
use crate::reduce::group_key::{encode_key_part, key_parts, output_order, part_value};
use crate::reduce::number::{exact_variance, SmallSum};
use crate::reduce::sorted::spill::SpillRun;
use crate::reduce::state_limit::StateLimit;
use crate::reduce::{Reducer, Sink, SpillOptions, SpillStats};
use crate::sink::encode::{Encoder, RowValue};
use crate::syntax::number::{format_f64, parse_number, Number};
use acc::{quantile, Acc, Pos};
pub use spec::{AggKind, AggSpec, Fraction};
use table::{Table, Widths};

/// Where an aggregate's state lives in a group: its index among the
/// group's counts, sums or value-holding accumulators.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Count(usize),
    /// A `sum` or `mean`: aggregates of one column share a slot.
    Sum(usize),
    /// A variance or standard deviation: the column's sum slot (its count
    /// and sum), and the sum state of its values' squares.
    Moments {
        sum: usize,
        squares: usize,
    },
    /// A median or quantile: the value-holding accumulator of its
    /// column's values (quantiles of one column share it).
    Values(usize),
    Acc(usize),
}

#[derive(Debug, Clone)]
struct Agg {
    kind: AggKind,
    column: Option<ColumnRef>,
    label: String,
    slot: Slot,
    /// A quantile's fraction.
    fraction: Option<Fraction>,
}

/// Groups records and computes aggregates; see the module docs. One
/// `GroupBy` serves one run at a time: it keeps the workers' tables
/// between [`Reducer::seal`] and [`Reducer::finalize`].
#[derive(Debug)]
pub struct GroupBy {
    keys: Vec<ColumnRef>,
    aggs: Vec<Agg>,
    widths: Widths,
    /// Per sum slot: its column, and the aggregate named in its errors.
    sums: Vec<(ColumnRef, usize)>,
    /// Per sum state past the sum slots: the sum slot whose values'
    /// squares it adds (for variances).
    squares: Vec<usize>,
    /// Per column whose values quantiles need (exact and approximate
    /// apart): the column, its value-holding slot, and the aggregate named
    /// in its errors.
    value_columns: Vec<(ColumnRef, usize, usize)>,
    /// Per value-holding slot: its aggregate's kind.
    acc_kinds: Vec<AggKind>,
    encoder: Encoder,
    null_markers: Vec<Vec<u8>>,
    names: Vec<String>,
    hasher: DefaultHashBuilder,
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
    /// Threads that make the output rows: the run's, as seen by
    /// [`Reducer::finalize`].
    finish_threads: AtomicUsize,
    /// Groups from which a table is added to in batches.
    batches_from: usize,
    /// Partial lines read or written instead of records or rows.
    partials: PartialIo,
    /// The split this run folds, first in a record's position.
    split: u64,
}

/// What a group-by reads and writes as partial lines (see
/// `reduce::partial_line`): the map step writes them, the combine step
/// reads and writes them, the reduce step reads them.
#[derive(Debug, Clone, Default)]
pub(crate) struct PartialIo {
    /// The columns of the key and the partial when the records read are
    /// partial lines.
    pub(crate) input: Option<(ColumnRef, ColumnRef)>,
    /// What the output is.
    pub(crate) output: PartialOutput,
    /// The pipeline's fingerprint, written in partial lines and expected
    /// in those read.
    pub(crate) fingerprint: u64,
}

/// What a group-by writes.
#[derive(Debug, Clone, Default)]
pub(crate) enum PartialOutput {
    /// Rows (the final output).
    #[default]
    Rows,
    /// Partial lines instead of rows.
    Lines,
    /// Rows, and partial lines to this output too (`--emit-partials`).
    Both(Arc<Mutex<crate::sink::Output>>),
}

impl PartialOutput {
    fn rows(&self) -> bool {
        !matches!(self, PartialOutput::Lines)
    }

    /// Writes `lines` to the `--emit-partials` output, if any.
    fn emit(&self, lines: &[u8]) -> Result<()> {
        if let (PartialOutput::Both(out), false) = (self, lines.is_empty()) {
            let mut out = out.lock();
            let name = out.name().to_string();
            std::io::Write::write_all(&mut *out, lines).map_err(|e| Error::io(name, e))?;
        }
        Ok(())
    }
}

impl Clone for GroupBy {
    /// The same reducer, without the tables of a run.
    fn clone(&self) -> Self {
        GroupBy {
            keys: self.keys.clone(),
            aggs: self.aggs.clone(),
            widths: self.widths,
            sums: self.sums.clone(),
            squares: self.squares.clone(),
            value_columns: self.value_columns.clone(),
            acc_kinds: self.acc_kinds.clone(),
            encoder: self.encoder.clone(),
            null_markers: self.null_markers.clone(),
            names: self.names.clone(),
            hasher: self.hasher.clone(),
            limit: self.limit.clone(),
            spill: self.spill.clone(),
            spill_stats: self.spill_stats.clone(),
            idle: Mutex::new(Vec::new()),
            workers: AtomicUsize::new(0),
            runs: Mutex::new(Vec::new()),
            finish_threads: AtomicUsize::new(1),
            batches_from: self.batches_from,
            partials: self.partials.clone(),
            split: self.split,
        }
    }
}

/// A table and what of its size it has published to the memory limit.
#[derive(Debug, Default)]
struct Worker {
    table: Table,
    /// Estimated heap bytes of the value-holding accumulators.
    heap: u64,
    /// Bytes and groups already published.
    published: (u64, u64),
}

impl Worker {
    fn bytes(&self) -> u64 {
        self.table.allocated_bytes() + self.heap
    }
}

/// A chunk's partial: a handle on the table of the worker folding it (see
/// the module docs); after [`Reducer::finalize`], every table in output
/// order.
#[derive(Debug, Default)]
pub struct GroupPartial {
    worker: Option<Box<Worker>>,
    /// Records folded into this partial: the order within the chunk.
    folded: u64,
    scratch: Vec<u8>,
    /// Per sum slot, the number the record being folded adds (reused
    /// across records).
    numbers: Vec<Option<Number>>,
    /// Per column of quantiles, the value the record being folded adds
    /// (reused across records).
    values: Vec<Option<f64>>,
    /// Hashes waiting to be added to `approx_distinct` sketches that have
    /// registers (accumulator index, hash): each register is prefetched
    /// when its hash arrives and written [`PENDING_HASHES`] records later,
    /// so that the cache misses of sketches bigger than the cache overlap.
    /// Emptied before the table is published, spilled or given back.
    pending: std::collections::VecDeque<(usize, u64)>,
    /// Records read but not yet added to the table (when every aggregate
    /// is a count or a sum).
    batch: Batch,
    done: Option<Done>,
}

impl GroupPartial {
    /// The groups of the table it folds into (0 before its first record).
    fn groups(&self) -> usize {
        self.worker.as_ref().map_or(0, |w| w.table.len())
    }
}

/// Groups from which a table is added to in batches by default: below,
/// the table is in the core's own caches, where a batch would only cost
/// time.
const BATCHED_GROUPS: usize = 1 << 13;

/// Up to [`BATCH`] records of a chunk, read (their keys encoded and
/// hashed, their numbers parsed) but not yet added to the worker's table.
/// Adding them together lets the table bring the index slots of all of
/// them into the cache at once, so that their cache misses overlap
/// instead of following one another (DuckDB and Polars probe their hash
/// tables a vector of keys at a time for the same reason).
#[derive(Debug, Default)]
struct Batch {
    hashes: Vec<u64>,
    /// The records' encoded keys, one after another.
    keys: Vec<u8>,
    /// Where each record's key ends in `keys`.
    key_ends: Vec<usize>,
    /// Per record, per sum slot: the number it adds.
    numbers: Vec<Option<Number>>,
    /// Per record, per count slot: whether it counts the record.
    counted: Vec<bool>,
    /// Per record, the group its key likely has (scratch of adding).
    candidates: Vec<Option<usize>>,
}

/// Records per [`Batch`].
const BATCH: usize = 64;

/// The groups of a run, ready to be written.
#[derive(Debug)]
enum Done {
    Memory(Ordered),
    /// Sorted runs on disk, at most `fan_in`.
    Spilled(Vec<SpillRun>),
}

/// Every table's groups, in output order.
#[derive(Debug, Default)]
struct Ordered {
    tables: Vec<Table>,
    /// Where each table's groups start in the numbering `order` uses.
    starts: Vec<usize>,
    /// Group numbers in output order; one key's groups are next to each
    /// other.
    order: Vec<u32>,
}

impl Ordered {
    /// The table and group of group number `i`.
    fn locate(&self, i: u32) -> (usize, usize) {
        let i = i as usize;
        let t = self.starts.partition_point(|&s| s <= i) - 1;
        (t, i - self.starts[t])
    }
}

impl GroupBy {
    /// A group-by over resolved `keys` and `aggs` (each with its column
    /// resolved), writing through `encoder`.
    pub fn new(
        keys: Vec<ColumnRef>,
        aggs: Vec<(AggSpec, Option<ColumnRef>)>,
        encoder: Encoder,
        null_markers: Vec<Vec<u8>>,
    ) -> Self {
        let mut names: Vec<String> = keys.iter().map(|k| k.name.clone()).collect();
        names.extend(aggs.iter().map(|(s, _)| s.name.clone()));
        let mut widths = Widths::default();
        let (mut sums, mut acc_kinds) = (Vec::<(ColumnRef, usize)>::new(), Vec::new());
        let mut squares = Vec::<usize>::new();
        let mut value_columns = Vec::<(ColumnRef, usize, usize)>::new();
        let mut built = Vec::with_capacity(aggs.len());
        for (i, (spec, column)) in aggs.into_iter().enumerate() {
            let label = match &spec.column {
                Some(c) => format!("{}:{c}", spec.kind.name()),
                None => spec.kind.name().to_string(),
            };
            let slot = match (spec.kind, &column) {
                (AggKind::Count, _) => {
                    widths.counts += 1;
                    Slot::Count(widths.counts - 1)
                }
                (AggKind::Sum | AggKind::Mean, Some(col)) => Slot::Sum(sum_slot(&mut sums, col, i)),
                (kind, Some(col)) if kind.is_moment() => {
                    let sum = sum_slot(&mut sums, col, i);
                    let squares = match squares.iter().position(|&s| s == sum) {
                        Some(j) => j,
                        None => {
                            squares.push(sum);
                            squares.len() - 1
                        }
                    };
                    // Square states follow the sum slots (numbered once
                    // every sum slot is known, below).
                    Slot::Moments { sum, squares }
                }
                (kind, Some(col)) if kind.is_quantile() => {
                    let approx = kind == AggKind::ApproxQuantile;
                    let shared = value_columns.iter().find(|(c, slot, _)| {
                        c == col && (acc_kinds[*slot] == AggKind::ApproxQuantile) == approx
                    });
                    match shared {
                        Some(&(_, slot, _)) => Slot::Values(slot),
                        None => {
                            acc_kinds.push(kind);
                            value_columns.push((col.clone(), acc_kinds.len() - 1, i));
                            Slot::Values(acc_kinds.len() - 1)
                        }
                    }
                }
                (kind, _) => {
                    acc_kinds.push(kind);
                    Slot::Acc(acc_kinds.len() - 1)
                }
            };
            built.push(Agg { kind: spec.kind, column, label, slot, fraction: spec.fraction });
        }
        for agg in &mut built {
            if let Slot::Moments { squares, .. } = &mut agg.slot {
                *squares += sums.len();
            }
        }
        widths.sums = sums.len() + squares.len();
        widths.accs = acc_kinds.len();
        GroupBy {
            keys,
            aggs: built,
            widths,
            sums,
            squares,
            value_columns,
            acc_kinds,
            encoder,
            null_markers,
            names,
            hasher: DefaultHashBuilder::default(),
            limit: None,
            spill: None,
            spill_stats: Arc::default(),
            idle: Mutex::new(Vec::new()),
            workers: AtomicUsize::new(0),
            runs: Mutex::new(Vec::new()),
            finish_threads: AtomicUsize::new(1),
            batches_from: BATCHED_GROUPS,
            partials: PartialIo::default(),
            split: 0,
        }
    }

    /// Reads and writes partial lines as `io` says instead of records and
    /// rows (the map, combine and reduce steps; see
    /// `reduce::partial_line`).
    pub(crate) fn with_partials(mut self, io: PartialIo) -> Self {
        self.partials = io;
        self
    }

    /// Positions records after those of splits numbered below `split`
    /// (default 0): for `first`, `last` and the ties of `mode`, `min` and
    /// `max`, the records of a map step over split `split` come after
    /// those of the splits before it, as in one run over the whole input.
    pub fn with_split(mut self, split: u64) -> Self {
        self.split = split;
        self
    }

    /// Adds records to a table in batches (see the module docs) once it
    /// holds `groups` groups (default 8192, where a worker's table
    /// outgrows a core's caches); 0: always. Only where every aggregate
    /// is a count or a sum. The output is the same bytes either way: this
    /// is a tuning knob, and lets tests take the batched path on small
    /// inputs.
    pub fn with_batches_from(mut self, groups: usize) -> Self {
        self.batches_from = groups;
        self
    }

    /// Fails the run with [`ErrorKind::MemoryLimit`] once the tables'
    /// estimated size (see the module docs) passes `budget` bytes; `limit`
    /// is the `--memory-limit` the budget comes from (bytes), named in the
    /// error.
    pub fn with_memory_limit(mut self, budget: u64, limit: u64) -> Self {
        self.limit = Some(StateLimit::new(
            budget,
            limit,
            "the group-by state",
            ", or group by fewer or coarser columns",
        ));
        self
    }

    /// Spills past the memory limit (see [`Self::with_memory_limit`])
    /// instead of failing: a worker whose table holds at least half its
    /// share of the budget writes it as a sorted run to a file in
    /// `opts.dir`, and the runs are merged at the end, with the same
    /// output bytes. `stats` counts the runs and bytes written (merge
    /// passes included); `opts.budget` is shared by the merge's read
    /// buffers (16 KiB to 1 MiB each) and `opts.fan_in` runs at most are
    /// merged at once.
    pub fn with_spill(mut self, opts: SpillOptions, stats: Arc<SpillStats>) -> Self {
        self.spill = Some(opts);
        self.spill_stats = stats;
        self
    }

    fn new_accs(&self, accs: &mut Vec<Acc>) {
        accs.extend(self.acc_kinds.iter().map(|&k| Acc::new(k)));
    }

    fn not_numeric(&self, agg: &Agg, record: &Record<'_>, text: &[u8]) -> Error {
        let column = agg.column.as_ref().map(|c| c.name.clone()).unwrap_or_default();
        ErrorKind::NotNumeric {
            at: record.location(),
            purpose: agg.label.clone().into(),
            column,
            value: String::from_utf8_lossy(text).into_owned(),
        }
        .into()
    }

    /// The number in `record`'s `col` (`None` when the value is missing),
    /// read for aggregate `agg`.
    ///
    /// # Errors
    /// [`ErrorKind::NotNumeric`], naming `agg`, for a value that is not a
    /// number (a JSON string never is).
    #[inline(always)]
    fn number_in(
        &self,
        record: &Record<'_>,
        col: &ColumnRef,
        agg: usize,
    ) -> Result<Option<Number>> {
        let field = record.get(col);
        if field.is_missing(&self.null_markers) {
            return Ok(None);
        }
        let text = field.text().unwrap_or_default();
        let parsed = match field {
            Field::JsonString(_) => None,
            _ => parse_number(&text),
        };
        match parsed {
            Some(v) => Ok(Some(v)),
            None => Err(self.not_numeric(&self.aggs[agg], record, &text)),
        }
    }

    /// Parses the record's value of every summed column into `numbers`
    /// (`None` for a missing value), and after them the squares of the
    /// columns whose variance is asked for.
    ///
    /// # Errors
    /// [`ErrorKind::NotNumeric`] for a value that is not a number; then
    /// every slot is `None` again.
    #[inline(always)] // in both folds' loops (T1: 6% of the run when called)
    fn parse_sums(&self, record: &Record<'_>, numbers: &mut [Option<Number>]) -> Result<()> {
        for ((col, agg), number) in self.sums.iter().zip(numbers.iter_mut()) {
            match self.number_in(record, col, *agg) {
                Ok(v) => *number = v,
                Err(e) => {
                    numbers.iter_mut().for_each(|n| *n = None);
                    return Err(e);
                }
            }
        }
        let (plain, squared) = numbers.split_at_mut(self.sums.len());
        for (&s, square) in self.squares.iter().zip(squared) {
            *square = plain[s].as_ref().map(Number::square);
        }
        Ok(())
    }

    /// Parses the record's value of every column whose quantiles are
    /// asked for into `values` (cleared first; `None` for a missing
    /// value), as the nearest `f64`.
    ///
    /// # Errors
    /// [`ErrorKind::NotNumeric`] for a value that is not a number.
    fn parse_values(&self, record: &Record<'_>, values: &mut Vec<Option<f64>>) -> Result<()> {
        values.clear();
        for (col, _, agg) in &self.value_columns {
            values.push(self.number_in(record, col, *agg)?.map(|n| n.to_f64()));
        }
        Ok(())
    }

    /// Publishes `worker`'s growth to the memory limit
    /// ([`StateLimit::track`]); past the budget, spills its table when it
    /// is big enough ([`StateLimit::should_spill`], [`Self::with_spill`]).
    fn publish(&self, worker: &mut Worker) -> Result<()> {
        let Some(limit) = &self.limit else { return Ok(()) };
        let (bytes, groups) = (worker.bytes(), worker.table.len() as u64);
        match (limit.track(&mut worker.published, bytes, groups), &self.spill) {
            (Ok(()), _) => Ok(()),
            (Err(e), None) => Err(e),
            (Err(_), Some(opts)) => {
                if !limit.should_spill(bytes, self.workers.load(Relaxed)) {
                    return Ok(());
                }
                self.spill_worker(worker, opts)
            }
        }
    }

    /// Appends the output value of aggregate `agg` (value `i` of the row)
    /// of the group whose states `parts` (table, group) hold to `buf`
    /// (value-holding states of several parts are cloned to be merged);
    /// `scratch` holds a computed number.
    fn write_value(
        &self,
        i: usize,
        agg: &Agg,
        (tables, parts): (&[Table], &[(usize, usize)]),
        scratch: &mut Vec<u8>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        let Widths { counts, sums, accs } = self.widths;
        let number = |text: &[u8], buf: &mut Vec<u8>| {
            self.encoder.row_value(&self.names, i, RowValue::Number(text), buf);
        };
        match agg.slot {
            Slot::Count(c) => {
                let n: u64 = parts.iter().map(|&(t, g)| tables[t].counts[g * counts + c]).sum();
                number(itoa::Buffer::new().format(n).as_bytes(), buf);
            }
            Slot::Sum(s) => {
                let sum = merged_sum(tables, parts, sums, s);
                scratch.clear();
                if sum_text(agg, &sum, scratch)? {
                    number(scratch, buf);
                } else {
                    self.encoder.row_value(&self.names, i, RowValue::Field(Field::Null), buf);
                }
            }
            Slot::Moments { sum, squares } => {
                let (sum, squares) = (
                    merged_sum(tables, parts, sums, sum),
                    merged_sum(tables, parts, sums, squares),
                );
                scratch.clear();
                if moment_text(agg, &sum, &squares, scratch)? {
                    number(scratch, buf);
                } else {
                    self.encoder.row_value(&self.names, i, RowValue::Field(Field::Null), buf);
                }
            }
            Slot::Values(a) if agg.kind == AggKind::ApproxQuantile => {
                let p = agg.fraction.unwrap_or(Fraction::HALF);
                let value = merged_acc(agg.kind, (tables, parts), accs, a).sketch_quantile(p);
                self.write_float(i, value, scratch, buf);
            }
            Slot::Values(a) => {
                let mut values = Vec::new();
                for &(t, g) in parts {
                    if let Acc::Values(v) = &tables[t].accs[g * accs + a] {
                        values.extend_from_slice(v);
                    }
                }
                let p = agg.fraction.unwrap_or(Fraction::HALF);
                self.write_float(i, quantile(&mut values, agg.kind, p), scratch, buf);
            }
            Slot::Acc(a) => {
                let value = merged_acc(agg.kind, (tables, parts), accs, a).value();
                self.encoder.row_value(&self.names, i, value.as_row_value(), buf);
            }
        }
        Ok(())
    }
}

impl GroupBy {
    /// Appends value `i` of a row, the computed number `value` (shortest
    /// round-trip form, through `scratch`), or missing for `None`.
    fn write_float(&self, i: usize, value: Option<f64>, scratch: &mut Vec<u8>, buf: &mut Vec<u8>) {
        match value {
            Some(v) => {
                scratch.clear();
                format_f64(v, scratch);
                self.encoder.row_value(&self.names, i, RowValue::Number(scratch), buf);
            }
            None => self.encoder.row_value(&self.names, i, RowValue::Field(Field::Null), buf),
        }
    }

    /// Appends what the output holds of the group whose states `parts`
    /// (table, group) hold to `buf`: its row, or its partial line.
    fn write_group(
        &self,
        tables: &[Table],
        parts: &[(usize, usize)],
        scratch: &mut Vec<u8>,
        (buf, lines): (&mut Vec<u8>, &mut Vec<u8>),
    ) -> Result<()> {
        match self.partials.output {
            PartialOutput::Rows => self.write_row(tables, parts, scratch, buf),
            PartialOutput::Lines => self.write_partial_line(tables, parts, scratch, buf),
            PartialOutput::Both(_) => {
                self.write_row(tables, parts, scratch, buf)?;
                self.write_partial_line(tables, parts, scratch, lines)
            }
        }
    }

    /// Appends the row of the group whose states `parts` (table, group)
    /// hold to `buf` (`scratch` is room for a computed number).
    fn write_row(
        &self,
        tables: &[Table],
        parts: &[(usize, usize)],
        scratch: &mut Vec<u8>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        let (t0, g0) = parts[0];
        let mut i = 0;
        for (tag, text) in key_parts(tables[t0].key(g0)) {
            self.encoder.row_value(&self.names, i, part_value(tag, text), buf);
            i += 1;
        }
        for agg in &self.aggs {
            self.write_value(i, agg, (tables, parts), scratch, buf)?;
            i += 1;
        }
        self.encoder.row_end(&self.names, buf);
        Ok(())
    }

    /// Appends the rows of the groups at `order[range]` to `buf` (the
    /// range starts and ends at key boundaries); returns the rows.
    fn write_rows(
        &self,
        ordered: &Ordered,
        range: Range<usize>,
        (buf, lines): (&mut Vec<u8>, &mut Vec<u8>),
    ) -> Result<u64> {
        let (mut parts, mut scratch) = (Vec::new(), Vec::new());
        let tables = &ordered.tables;
        let (mut k, mut rows) = (range.start, 0);
        while k < range.end {
            // The groups of one key: at most one per table, next to each
            // other in the order.
            parts.clear();
            parts.push(ordered.locate(ordered.order[k]));
            let (t0, g0) = parts[0];
            k += 1;
            while let Some(&i) = ordered.order.get(k) {
                let (t, g) = ordered.locate(i);
                if tables[t].key(g) != tables[t0].key(g0) {
                    break;
                }
                parts.push((t, g));
                k += 1;
            }
            self.write_group(tables, &parts, &mut scratch, (&mut *buf, &mut *lines))?;
            rows += 1;
        }
        Ok(rows)
    }

    /// Writes every group of `ordered` to `sink`, in order; returns the
    /// rows. The rows are made in ranges of [`ROWS_RANGE`] groups on
    /// `self.finish_threads` threads (range `r` on thread `r % threads`,
    /// each with a channel of two ranges, so at most three ranges per
    /// thread are held) and written in order by the calling thread.
    fn write_ordered(&self, ordered: &Ordered, sink: &mut Sink<'_>) -> Result<u64> {
        let n = ordered.order.len();
        let same_key = |a: usize, b: usize| {
            let ((ta, ga), (tb, gb)) =
                (ordered.locate(ordered.order[a]), ordered.locate(ordered.order[b]));
            ordered.tables[ta].key(ga) == ordered.tables[tb].key(gb)
        };
        // The first key boundary at or after `p`.
        let boundary = |p: usize| {
            let mut p = p.min(n);
            while p > 0 && p < n && same_key(p - 1, p) {
                p += 1;
            }
            p
        };
        let range = |r: usize| boundary(r * ROWS_RANGE)..boundary((r + 1) * ROWS_RANGE);
        let ranges = n.div_ceil(ROWS_RANGE);
        let threads = self.finish_threads.load(Relaxed).clamp(1, ranges.max(1));
        if threads == 1 {
            let (mut buf, mut lines, mut rows) = (Vec::new(), Vec::new(), 0);
            for r in 0..ranges {
                buf.clear();
                lines.clear();
                rows += self.write_rows(ordered, range(r), (&mut buf, &mut lines))?;
                sink.write(&buf, 0)?;
                self.partials.output.emit(&lines)?;
            }
            return Ok(rows);
        }
        std::thread::scope(|scope| {
            let mut receivers = Vec::with_capacity(threads);
            for first in 0..threads {
                let (tx, rx) = crossbeam_channel::bounded::<Result<(Vec<u8>, Vec<u8>, u64)>>(2);
                receivers.push(rx);
                let range = &range;
                scope.spawn(move || {
                    for r in (first..ranges).step_by(threads) {
                        let (mut buf, mut lines) = (Vec::with_capacity(1 << 20), Vec::new());
                        let made = self
                            .write_rows(ordered, range(r), (&mut buf, &mut lines))
                            .map(|n| (buf, lines, n));
                        let failed = made.is_err();
                        // A closed channel: the writer stopped.
                        if tx.send(made).is_err() || failed {
                            return;
                        }
                    }
                });
            }
            let mut rows = 0;
            for r in 0..ranges {
                let (buf, lines, n) = receivers[r % threads].recv().map_err(|_| {
                    ErrorKind::Internal("a group-by output thread stopped".into())
                })??;
                sink.write(&buf, 0)?;
                self.partials.output.emit(&lines)?;
                rows += n;
            }
            Ok(rows)
        })
    }
}

impl GroupBy {
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

    /// [`Reducer::fold`] when every aggregate is a count or a sum: the
    /// record goes to the partial's [`Batch`], which is added to the table
    /// when full (and when the chunk is sealed).
    ///
    /// # Errors
    /// [`ErrorKind::NotNumeric`] for a summed value that is not a number
    /// (the record is left out, the batch is as it was); the errors of
    /// [`Self::add_batch`].
    fn fold_batched(&self, partial: &mut GroupPartial, record: &Record<'_>) -> Result<()> {
        let batch = &mut partial.batch;
        let (key_start, numbers_start) = (batch.keys.len(), batch.numbers.len());
        for k in &self.keys {
            encode_key_part(&mut batch.keys, record.get(k), &self.null_markers);
        }
        batch.numbers.resize_with(numbers_start + self.widths.sums, || None);
        if let Err(e) = self.parse_sums(record, &mut batch.numbers[numbers_start..]) {
            batch.keys.truncate(key_start);
            batch.numbers.truncate(numbers_start);
            return Err(e);
        }
        for agg in &self.aggs {
            if let Slot::Count(_) = agg.slot {
                let counted = match &agg.column {
                    None => true,
                    Some(col) => !record.get(col).is_missing(&self.null_markers),
                };
                batch.counted.push(counted);
            }
        }
        batch.hashes.push(self.hasher.hash_one(&batch.keys[key_start..]));
        batch.key_ends.push(batch.keys.len());
        if batch.hashes.len() == BATCH {
            self.add_batch(partial)?;
        }
        Ok(())
    }

    /// Adds the records of the partial's batch to its worker's table (the
    /// index slots of their keys prefetched first) and empties the batch.
    ///
    /// # Errors
    /// Those of publishing the table's growth ([`ErrorKind::MemoryLimit`],
    /// spill errors).
    fn add_batch(&self, partial: &mut GroupPartial) -> Result<()> {
        let batch = &mut partial.batch;
        if batch.hashes.is_empty() {
            return Ok(());
        }
        let worker = self.borrow_worker(&mut partial.worker);
        let table = &mut worker.table;
        // The misses of a probe come in three waves: the index slot, then
        // the group's key end and states, then its key.
        for &hash in &batch.hashes {
            table.prefetch(hash);
        }
        batch.candidates.clear();
        for &hash in &batch.hashes {
            let candidate = table.candidate(hash);
            if let Some(g) = candidate {
                table.prefetch_group(g, self.widths);
            }
            batch.candidates.push(candidate);
        }
        for &g in batch.candidates.iter().flatten() {
            table.prefetch_key(g);
        }
        let Widths { counts, sums, .. } = self.widths;
        let (mut grew, mut start) = (false, 0);
        for (r, (&hash, &end)) in batch.hashes.iter().zip(&batch.key_ends).enumerate() {
            let (g, new) = table.group(hash, &batch.keys[start..end], self.widths, |_| {});
            start = end;
            grew |= new;
            let counted = &batch.counted[r * counts..(r + 1) * counts];
            for (state, &yes) in table.counts[g * counts..(g + 1) * counts].iter_mut().zip(counted)
            {
                *state += u64::from(yes);
            }
            let numbers = &mut batch.numbers[r * sums..(r + 1) * sums];
            add_numbers(table, g * sums, numbers);
        }
        batch.hashes.clear();
        batch.keys.clear();
        batch.key_ends.clear();
        batch.numbers.clear();
        batch.counted.clear();
        if grew {
            self.publish(worker)?;
        }
        Ok(())
    }
}

/// Adds each number a record has for a sum slot to that slot's state in
/// `table` (the group's first sum state is `first`), leaving every slot of
/// `numbers` `None`.
#[inline(always)]
fn add_numbers(table: &mut Table, first: usize, numbers: &mut [Option<Number>]) {
    for (s, number) in numbers.iter_mut().enumerate() {
        if let Some(v) = number.take() {
            table.add_to_sum(first + s, &v);
        }
    }
}

/// The sum slot of `col` in `sums`, added (for aggregate `agg`) when the
/// column has none yet: the aggregates of one column share it.
fn sum_slot(sums: &mut Vec<(ColumnRef, usize)>, col: &ColumnRef, agg: usize) -> usize {
    match sums.iter().position(|(c, _)| c == col) {
        Some(s) => s,
        None => {
            sums.push((col.clone(), agg));
            sums.len() - 1
        }
    }
}

/// Value-holding accumulator `a` of the group whose states `parts`
/// (table, group) hold, merged over the parts (cloned only when there are
/// several; `width` accumulators a group).
fn merged_acc<'t>(
    kind: AggKind,
    (tables, parts): (&'t [Table], &[(usize, usize)]),
    width: usize,
    a: usize,
) -> std::borrow::Cow<'t, Acc> {
    let (t0, g0) = parts[0];
    let first = &tables[t0].accs[g0 * width + a];
    if parts.len() == 1 {
        return std::borrow::Cow::Borrowed(first);
    }
    let mut acc = first.clone();
    for &(t, g) in &parts[1..] {
        acc.merge(kind, tables[t].accs[g * width + a].clone());
    }
    std::borrow::Cow::Owned(acc)
}

/// Sum state `s` of the group whose states `parts` (table, group) hold,
/// merged over the parts (`width` sum states a group).
fn merged_sum(tables: &[Table], parts: &[(usize, usize)], width: usize, s: usize) -> SmallSum {
    let (t0, g0) = parts[0];
    let mut sum = tables[t0].sum(g0 * width + s);
    for &(t, g) in &parts[1..] {
        sum.merge(tables[t].sum(g * width + s));
    }
    sum
}

/// Writes the output value of a variance or standard deviation of the
/// values whose sum is `sum` and whose squares' sum is `squares` in
/// `out` ([`exact_variance`], and for a deviation its `f64` square root,
/// itself correctly rounded by IEEE 754); false (nothing written) when it
/// has no value (no values, or one for a sample statistic).
///
/// # Errors
/// [`ErrorKind::OutOfRange`] when it does not fit an `f64`.
fn moment_text(agg: &Agg, sum: &SmallSum, squares: &SmallSum, out: &mut Vec<u8>) -> Result<bool> {
    let sample = matches!(agg.kind, AggKind::VarSamp | AggKind::StddevSamp);
    let Some(variance) = exact_variance(&sum.to_exact(), &squares.to_exact(), sum.count(), sample)
    else {
        return Ok(false);
    };
    let value = match agg.kind {
        AggKind::StddevSamp | AggKind::StddevPop => variance.sqrt(),
        _ => variance,
    };
    if !value.is_finite() {
        return Err(ErrorKind::OutOfRange { aggregate: agg.label.clone() }.into());
    }
    format_f64(value, out);
    Ok(true)
}

/// Hashes an `approx_distinct` register waits for its prefetch (see
/// [`GroupPartial::pending`]).
const PENDING_HASHES: usize = 32;

/// Adds the first `n` (at most) of the `pending` hashes to their sketches
/// in `table`.
fn add_pending(
    table: &mut Table,
    pending: &mut std::collections::VecDeque<(usize, u64)>,
    n: usize,
) {
    for _ in 0..n {
        let Some((at, h)) = pending.pop_front() else { return };
        if let Acc::Hll(hll) = &mut table.accs[at] {
            hll.insert_hash(h);
        }
    }
}

/// Groups per range of output rows made at once by one thread.
const ROWS_RANGE: usize = 1 << 15;

/// Writes the output value of a `sum` or `mean` of the values `sum` holds
/// in `out`; false (nothing written) when it holds none, so the value is
/// missing.
///
/// # Errors
/// [`ErrorKind::OutOfRange`] when it does not fit its output.
fn sum_text(agg: &Agg, sum: &SmallSum, out: &mut Vec<u8>) -> Result<bool> {
    let n = sum.count();
    if n == 0 {
        return Ok(false);
    }
    let out_of_range = || ErrorKind::OutOfRange { aggregate: agg.label.clone() };
    let sum = sum.to_exact();
    if agg.kind == AggKind::Sum {
        if !sum.write(out) {
            return Err(out_of_range().into());
        }
    } else {
        let mean = sum.to_f64() / n as f64;
        if !mean.is_finite() {
            return Err(out_of_range().into());
        }
        format_f64(mean, out);
    }
    Ok(true)
}

impl Reducer for GroupBy {
    type Partial = GroupPartial;

    fn empty(&self) -> GroupPartial {
        GroupPartial::default()
    }

    fn fold(&self, partial: &mut GroupPartial, record: &Record<'_>) -> Result<()> {
        if let Some(columns) = &self.partials.input {
            return self.fold_partial_line(partial, record, columns);
        }
        if self.widths.accs == 0
            && (!partial.batch.hashes.is_empty() || partial.groups() >= self.batches_from)
        {
            return self.fold_batched(partial, record);
        }
        let mut key = std::mem::take(&mut partial.scratch);
        key.clear();
        for k in &self.keys {
            encode_key_part(&mut key, record.get(k), &self.null_markers);
        }
        // Numbers for sums are parsed first, so that a value that is not a
        // number leaves the partial as it was (the record can be skipped).
        // Every slot is `None` between records (the update below takes
        // them), so the slots are reused without clearing.
        let mut numbers = std::mem::take(&mut partial.numbers);
        numbers.resize_with(self.widths.sums, || None);
        let mut values = std::mem::take(&mut partial.values);
        let mut parsed = self.parse_sums(record, &mut numbers);
        if parsed.is_ok() && !self.value_columns.is_empty() {
            parsed = self.parse_values(record, &mut values);
        }
        if let Err(e) = parsed {
            numbers.iter_mut().for_each(|n| *n = None);
            partial.scratch = key;
            partial.numbers = numbers;
            partial.values = values;
            return Err(e);
        }
        let worker = self.borrow_worker(&mut partial.worker);
        let pos = Pos { split: self.split, chunk: record.chunk, index: partial.folded };
        partial.folded += 1;
        let hash = self.hasher.hash_one(key.as_slice());
        let (g, mut grew) = worker.table.group(hash, &key, self.widths, |accs| self.new_accs(accs));
        let Widths { counts, sums, accs } = self.widths;
        for agg in &self.aggs {
            match (agg.slot, &agg.column) {
                (Slot::Count(i), None) => worker.table.counts[g * counts + i] += 1,
                (Slot::Count(i), Some(col)) => {
                    if !record.get(col).is_missing(&self.null_markers) {
                        worker.table.counts[g * counts + i] += 1;
                    }
                }
                (Slot::Acc(i), Some(col)) => {
                    let field = record.get(col);
                    if field.is_missing(&self.null_markers) {
                        continue;
                    }
                    let text = field.text().unwrap_or_default();
                    let at = g * accs + i;
                    if let Acc::Hll(hll) = &worker.table.accs[at] {
                        let h = hll::hash(&text);
                        if let Some(register) = hll.register_of(h) {
                            table::prefetch(register);
                            partial.pending.push_back((at, h));
                            if partial.pending.len() > PENDING_HASHES {
                                add_pending(&mut worker.table, &mut partial.pending, 1);
                            }
                            continue;
                        }
                    }
                    let added = worker.table.accs[at].add(agg.kind, field, &text, pos);
                    worker.heap += added;
                    grew |= added > 0;
                }
                (Slot::Sum(_) | Slot::Moments { .. } | Slot::Values(_), _)
                | (Slot::Acc(_), None) => {}
            }
        }
        for (&(_, slot, _), value) in self.value_columns.iter().zip(&values) {
            if let Some(v) = value {
                let added = worker.table.accs[g * accs + slot].push_value(*v);
                worker.heap += added;
                grew |= added > 0;
            }
        }
        partial.values = values;
        add_numbers(&mut worker.table, g * sums, &mut numbers);
        partial.scratch = key;
        partial.numbers = numbers;
        if grew {
            add_pending(&mut worker.table, &mut partial.pending, usize::MAX);
            self.publish(worker)?;
        }
        Ok(())
    }

    fn seal(&self, partial: &mut GroupPartial) -> Result<()> {
        self.add_batch(partial)?;
        if let Some(worker) = partial.worker.as_mut() {
            add_pending(&mut worker.table, &mut partial.pending, usize::MAX);
        }
        if let Some(worker) = partial.worker.take() {
            self.idle.lock().push(*worker);
        }
        Ok(())
    }

    fn merge(&self, _total: &mut GroupPartial, mut next: GroupPartial) -> Result<()> {
        // A partial that was not sealed gives its table back here.
        self.seal(&mut next)
    }

    fn start(&self, sink: &mut Sink<'_>) -> Result<()> {
        if !self.partials.output.rows() {
            return Ok(());
        }
        let mut header = Vec::new();
        self.encoder.header(&self.names, &mut header);
        sink.write(&header, 0)
    }

    fn finalize(&self, total: &mut GroupPartial) -> Result<()> {
        if total.done.is_some() {
            return Ok(());
        }
        self.seal(total)?;
        self.finish_threads.store(rayon::current_num_threads(), Relaxed);
        let mut tables: Vec<Table> =
            std::mem::take(&mut *self.idle.lock()).into_iter().map(|w| w.table).collect();
        tables.retain(|t| t.len() > 0);
        self.workers.store(0, Relaxed);
        if let Some(limit) = &self.limit {
            limit.reset();
        }
        let mut runs = std::mem::take(&mut *self.runs.lock());
        if let (false, Some(opts)) = (runs.is_empty(), &self.spill) {
            // Once a table has spilled, every table does, and the runs
            // are merged into the output.
            for table in tables.drain(..) {
                runs.push(self.write_table(&table, &opts.dir)?);
            }
            self.merge_passes(&mut runs, opts)?;
            total.done = Some(Done::Spilled(runs));
            return Ok(());
        }
        if self.keys.is_empty() && tables.is_empty() {
            // A global aggregate over no records still has one row.
            let mut table = Table::default();
            table.group(self.hasher.hash_one(b""), b"", self.widths, |accs| self.new_accs(accs));
            tables.push(table);
        }
        let mut starts = Vec::with_capacity(tables.len());
        let mut n = 0;
        for t in &tables {
            starts.push(n);
            n += t.len();
        }
        for t in &mut tables {
            t.free_index();
        }
        let mut done = Ordered { tables, starts, order: Vec::new() };
        let order = output_order(n, |i| {
            let (t, g) = done.locate(i as u32);
            done.tables[t].key(g)
        });
        done.order = order;
        total.done = Some(Done::Memory(done));
        Ok(())
    }

    fn finish(&self, mut total: GroupPartial, sink: &mut Sink<'_>) -> Result<()> {
        self.finalize(&mut total)?;
        let rows = match total.done.take() {
            Some(Done::Spilled(runs)) => {
                let budget = self.spill.as_ref().map_or(0, |o| o.budget);
                let (mut buf, mut scratch, mut rows) = (Vec::with_capacity(1 << 16), Vec::new(), 0);
                let mut lines = Vec::new();
                self.merge_runs(runs, budget, |_, table| {
                    let one = std::slice::from_ref(table);
                    self.write_group(one, &[(0, 0)], &mut scratch, (&mut buf, &mut lines))?;
                    rows += 1;
                    if buf.len() >= 1 << 16 || lines.len() >= 1 << 16 {
                        sink.write(&buf, 0)?;
                        self.partials.output.emit(&lines)?;
                        buf.clear();
                        lines.clear();
                    }
                    Ok(())
                })?;
                sink.write(&buf, 0)?;
                self.partials.output.emit(&lines)?;
                rows
            }
            Some(Done::Memory(ordered)) => self.write_ordered(&ordered, sink)?,
            None => 0,
        };
        sink.records += rows;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::format::Format;
    use crate::record::{RecordBuf, Source};
    use crate::transform::{Layout, Projection};

    /// A group-by of CSV `k,v` by `k` with `aggs` (each over `v` when it
    /// names a column).
    fn reducer(aggs: &[&str]) -> GroupBy {
        let names = vec!["k".to_string(), "v".to_string()];
        let layout = Layout::new(&Projection::default(), &names, false, false).unwrap();
        let encoder = Encoder::new(Format::Csv, b',', layout, Vec::new());
        let col = |name: &str, i| ColumnRef { name: name.into(), source: Source::Index(i) };
        let aggs = aggs
            .iter()
            .map(|s| {
                let spec: AggSpec = s.parse().unwrap();
                let column = spec.column.as_ref().map(|_| col("v", 1));
                (spec, column)
            })
            .collect();
        GroupBy::new(vec![col("k", 0)], aggs, encoder, Vec::new())
    }

    #[test]
    fn batched_records_count_and_sum_like_one_at_a_time_and_skip_a_bad_value() {
        // Counts and sums go through batches of `BATCH` records; a `min`
        // (or a table too small) makes the reducer fold one record at a
        // time. Both must agree, across several batches, two chunks and a
        // value that is not a number (left out, with its error).
        let values: Vec<(String, String)> = (0..5 * BATCH + 3)
            .map(|i| {
                let v = match i {
                    150 => "x".to_string(),
                    _ if i % 5 == 0 => String::new(),
                    _ => format!("{i}.{}", i % 3),
                };
                (format!("g{}", i * i % 11), v)
            })
            .collect();
        let run = |aggs: &[&str], batches_from: usize| -> (String, usize) {
            let r = reducer(aggs).with_batches_from(batches_from);
            let (mut total, mut errors) = (r.empty(), 0);
            for chunk in values.chunks(3 * BATCH / 2) {
                let mut partial = r.empty();
                for (k, v) in chunk {
                    let folded = RecordBuf::csv([k.as_str(), v.as_str()])
                        .with(|rec| r.fold(&mut partial, rec));
                    if let Err(e) = folded {
                        assert!(e.to_string().contains("`x` is not a number"), "{e}");
                        errors += 1;
                    }
                }
                r.seal(&mut partial).unwrap();
                r.merge(&mut total, partial).unwrap();
            }
            let mut out = Vec::new();
            r.finish(total, &mut Sink::new(&mut out, "<memory>")).unwrap();
            (String::from_utf8(out).unwrap(), errors)
        };
        let (batched, errors) = run(&["count", "count:v", "sum:v"], 0);
        assert_eq!(errors, 1);
        // From the 8th group on, or never.
        assert_eq!(run(&["count", "count:v", "sum:v"], 8), (batched.clone(), 1));
        let (single, _) = run(&["count", "count:v", "sum:v"], usize::MAX);
        assert_eq!(single, batched);
        let (single, _) = run(&["count", "count:v", "sum:v", "min:v"], 0);
        let single: String =
            single.lines().map(|l| format!("{}\n", &l[..l.rfind(',').unwrap()])).collect();
        assert_eq!(batched, single);
        // And both are what the records say.
        let mut expected = BTreeMap::<&str, (u64, u64, f64)>::new();
        for (i, (k, v)) in values.iter().enumerate() {
            if i == 150 {
                continue;
            }
            let e = expected.entry(k).or_default();
            e.0 += 1;
            if let Ok(x) = v.parse::<f64>() {
                e.1 += 1;
                e.2 += x;
            }
        }
        let lines: Vec<&str> = batched.lines().collect();
        assert_eq!(lines.len(), expected.len());
        for (line, (k, (n, m, sum))) in lines.iter().zip(&expected) {
            let got: Vec<&str> = line.split(',').collect();
            assert_eq!((got[0], got[1], got[2]), (*k, &*n.to_string(), &*m.to_string()), "{line}");
            assert!((got[3].parse::<f64>().unwrap() - sum).abs() < 1e-6, "{line}");
        }
    }
}
