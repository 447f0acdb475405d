//! Reducers: how the workers' partial results become the output.
//!
//! A [`Reducer`] folds the records of one chunk into a `Partial` on a worker
//! thread, then the executor merges partials **strictly in chunk order**
//! (`seq`) on one thread. A reducer's `merge` therefore only needs to be
//! associative, not commutative, for the output to be deterministic: the
//! same input and pipeline give the same bytes for any thread count, chunk
//! size or scheduling.
//!
//! Built in: [`Concat`] (every record in input order, streamed),
//! [`Sorted`] (stable sort, k-way merge of per-chunk sorted runs),
//! [`GroupBy`] (one row per group with aggregates) and [`TopK`] (the first
//! K records in sort order, per group).
//!
//! Shared by them: [`sort_key`] (`--sort-by` keys: parsing, reading,
//! comparing; sorted and top-k) and `group_key` (group keys and the order
//! groups are written in; group-by and top-k).

pub(crate) mod concat;
pub(crate) mod custom;
pub(crate) mod custom_lines;
pub(crate) mod group_by;
pub(crate) mod group_key;
pub(crate) mod key_union;
pub(crate) mod number;
pub(crate) mod partial_line;
pub(crate) mod record_lines;
pub(crate) mod sort_key;
pub(crate) mod sorted;
pub(crate) mod state_limit;
pub(crate) mod top_k;

use std::io::Write;

pub use concat::Concat;
pub use custom::{CustomReduce, CustomSpec};
pub use group_by::{AggKind, AggSpec, Fraction, GroupBy};
pub use key_union::KeyUnion;
pub use sort_key::SortKeySpec;
pub use sorted::spill::{SpillOptions, SpillStats, DEFAULT_FAN_IN};
pub use sorted::Sorted;
pub use top_k::TopK;

use crate::error::{Error, Result};
use crate::format::Format;
use crate::record::Record;
use crate::sink::json_array::ArrayFrame;

/// A pluggable reduction. See the module docs for the ordering contract.
///
/// The executor calls, per chunk on a worker: [`Reducer::empty`], then
/// [`Reducer::fold`] for each record, then [`Reducer::seal`]. On the merging
/// thread, in chunk order: [`Reducer::merge`] into the running total, then
/// [`Reducer::drain`] (a streaming reducer writes what is final). At the
/// end, [`Reducer::finalize`] on the worker pool, then [`Reducer::finish`].
/// [`Reducer::start`] runs once before anything is written.
///
/// When any call returns an error the run stops and later calls are not
/// made; nothing is committed to an output file.
///
/// A reducer can be tested alone, on records built with [`RecordBuf`](crate::RecordBuf)
/// and a [`Sink`] over a `Vec<u8>`; [`Pipeline::run_with`](crate::Pipeline::run_with)
/// runs one.
///
/// ```
/// use fanfold::{ColumnRef, Record, RecordBuf, Reducer, Sink, Source};
///
/// /// The number of records whose column is not empty, as one CSV line.
/// struct CountPresent(ColumnRef);
///
/// impl Reducer for CountPresent {
///     type Partial = u64;
///     fn empty(&self) -> u64 {
///         0
///     }
///     fn fold(&self, n: &mut u64, record: &Record<'_>) -> fanfold::Result<()> {
///         *n += u64::from(!record.get(&self.0).is_missing(&[]));
///         Ok(())
///     }
///     fn merge(&self, total: &mut u64, next: u64) -> fanfold::Result<()> {
///         *total += next;
///         Ok(())
///     }
///     fn finish(&self, total: u64, sink: &mut Sink<'_>) -> fanfold::Result<()> {
///         sink.write(format!("{total}\n").as_bytes(), 1)
///     }
/// }
///
/// let reducer = CountPresent(ColumnRef { name: "city".into(), source: Source::Index(0) });
/// // Two chunks' partials: `Oslo` and an empty city, then `Lima`.
/// let (mut a, mut b) = (reducer.empty(), reducer.empty());
/// for city in ["Oslo", ""] {
///     RecordBuf::csv([city, "1"]).with(|rec| reducer.fold(&mut a, rec))?;
/// }
/// RecordBuf::csv(["Lima", "7"]).with(|rec| reducer.fold(&mut b, rec))?;
/// reducer.merge(&mut a, b)?;
/// let mut out = Vec::new();
/// reducer.finish(a, &mut Sink::new(&mut out, "<memory>"))?;
/// assert_eq!(out, b"2\n");
/// # Ok::<(), fanfold::Error>(())
/// ```
pub trait Reducer: Send + Sync + 'static {
    /// The partial result of some consecutive chunks.
    type Partial: Send + 'static;

    /// The identity partial (no records).
    fn empty(&self) -> Self::Partial;

    /// Adds one record to a chunk's partial.
    ///
    /// # Errors
    /// When the record cannot be reduced (e.g. a non-numeric value under a
    /// sum); the error should name the record's location.
    fn fold(&self, partial: &mut Self::Partial, record: &Record<'_>) -> Result<()>;

    /// Finishes a chunk's partial on the worker (e.g. sorts a run), after
    /// its last record.
    ///
    /// # Errors
    /// Reducer-specific.
    fn seal(&self, _partial: &mut Self::Partial) -> Result<()> {
        Ok(())
    }

    /// Merges `next`, the partial of the chunks right after those in
    /// `total`, into `total`. Must be associative.
    ///
    /// # Errors
    /// Reducer-specific (e.g. an integer overflow).
    fn merge(&self, total: &mut Self::Partial, next: Self::Partial) -> Result<()>;

    /// Writes anything at the start of the output (a CSV header).
    ///
    /// # Errors
    /// Write errors.
    fn start(&self, _sink: &mut Sink<'_>) -> Result<()> {
        Ok(())
    }

    /// Writes what in `total` is final, after a merge. Only streaming
    /// reducers (concat) write here.
    ///
    /// # Errors
    /// Write errors.
    fn drain(&self, _total: &mut Self::Partial, _sink: &mut Sink<'_>) -> Result<()> {
        Ok(())
    }

    /// Prepares the total for [`Reducer::finish`] once every chunk has
    /// been merged, inside the run's worker pool: rayon's parallel
    /// iterators here run on the run's `threads` (the workers are idle by
    /// then). The place for the heavy part of the end that can run in
    /// parallel, such as ordering the groups; `finish` then only writes.
    /// Default: nothing.
    ///
    /// # Errors
    /// Reducer-specific.
    fn finalize(&self, _total: &mut Self::Partial) -> Result<()> {
        Ok(())
    }

    /// Writes the result once every chunk has been merged.
    ///
    /// # Errors
    /// Write errors, or errors found only at the end (overflow).
    fn finish(&self, total: Self::Partial, sink: &mut Sink<'_>) -> Result<()>;
}

/// Encoded output records gathered in one buffer and written to a
/// [`Sink`] a block of at least `block` bytes at a time, with their count:
/// a few large writes instead of one per record.
#[derive(Debug)]
pub(crate) struct RecordBlocks {
    buf: Vec<u8>,
    records: u64,
    block: usize,
}

impl RecordBlocks {
    /// Blocks of at least `block` bytes (the last one may be shorter).
    pub(crate) fn new(block: usize) -> Self {
        RecordBlocks { buf: Vec::with_capacity(block + (1 << 16)), records: 0, block }
    }

    /// Adds one encoded record, writing the block once it is full.
    ///
    /// # Errors
    /// Those of [`Sink::write`].
    #[inline]
    pub(crate) fn push(&mut self, record: &[u8], sink: &mut Sink<'_>) -> Result<()> {
        self.buf.extend_from_slice(record);
        self.records += 1;
        if self.buf.len() >= self.block {
            self.flush(sink)?;
        }
        Ok(())
    }

    fn flush(&mut self, sink: &mut Sink<'_>) -> Result<()> {
        sink.write(&self.buf, self.records)?;
        self.buf.clear();
        self.records = 0;
        Ok(())
    }

    /// Writes the records left.
    ///
    /// # Errors
    /// Those of [`Sink::write`].
    pub(crate) fn finish(mut self, sink: &mut Sink<'_>) -> Result<()> {
        self.flush(sink)
    }
}

/// The writer reducers write to: counts records, names the output in
/// errors, and frames a JSON array output.
pub struct Sink<'a> {
    out: &'a mut dyn Write,
    name: &'a str,
    records: u64,
    bytes: u64,
    /// The JSON array being written, for [`Format::Json`] output.
    array: Option<ArrayFrame>,
}

impl std::fmt::Debug for Sink<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink").field("name", &self.name).field("records", &self.records).finish()
    }
}

impl<'a> Sink<'a> {
    /// A sink over `out`, named `name` in errors.
    pub fn new(out: &'a mut dyn Write, name: &'a str) -> Self {
        Sink { out, name, records: 0, bytes: 0, array: None }
    }

    /// Frames the output as `format` needs: for [`Format::Json`], the
    /// records written (each as the [`Encoder`](crate::sink::encode::Encoder)
    /// encodes it, starting with
    /// [`RECORD_PREFIX`](crate::sink::json_array::RECORD_PREFIX)) become one
    /// JSON array, which [`Sink::close`] ends; the layout is described in
    /// [`json_array`](crate::sink::json_array). Other formats need no
    /// framing.
    pub(crate) fn framed(mut self, format: Format) -> Self {
        self.array = (format == Format::Json).then(ArrayFrame::default);
        self
    }

    /// Writes `bytes` holding `records` output records.
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) naming the output (a broken pipe included).
    pub fn write(&mut self, bytes: &[u8], records: u64) -> Result<()> {
        let (before, bytes) = match &mut self.array {
            Some(frame) => frame.block(bytes),
            None => (&b""[..], bytes),
        };
        self.write_raw(before)?;
        self.write_raw(bytes)?;
        self.records += records;
        Ok(())
    }

    fn write_raw(&mut self, bytes: &[u8]) -> Result<()> {
        if !bytes.is_empty() {
            self.out.write_all(bytes).map_err(|e| Error::io(self.name, e))?;
            self.bytes += bytes.len() as u64;
        }
        Ok(())
    }

    /// Ends the output after the last record: closes a JSON array (`]`, or
    /// `[]` when no record was written). Nothing for other formats. Call it
    /// once; the executor does, after [`Reducer::finish`].
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) naming the output.
    pub(crate) fn close(&mut self) -> Result<()> {
        match self.array.take() {
            Some(frame) => self.write_raw(frame.close()),
            None => Ok(()),
        }
    }

    /// Output records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Output bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}
