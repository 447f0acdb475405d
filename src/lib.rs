//! fanfold: data-parallel batch map-reduce for CSV, TSV, NDJSON and JSON
//! arrays of objects.
//!
//! ```text
//! Source ──bytes──▶ Splitter ──Chunk──▶ bounded window ──▶ rayon pool ──(seq, Partial)──▶ Reducer ──▶ Sink
//!  files, stdin      cuts at record      backpressure:       parse, map,     merge partials          csv / tsv /
//!                    boundaries          max in flight       fold            in seq order            ndjson
//! ```
//!
//! - [`source`]: inputs and the [`Splitter`], which cuts bytes into
//!   [`Chunk`]s at record boundaries (quote-aware for CSV, between elements
//!   for JSON arrays), counting lines.
//! - [`parse`]: chunk bytes to [`Record`]s, on the workers.
//! - [`transform`]: `--select`, `--drop`, `--rename` resolved into a
//!   [`Layout`].
//! - [`exec`]: the bounded, ordered parallel executor.
//! - [`reduce`]: the [`Reducer`] trait and the concat, sorted, group-by and
//!   top-k reducers.
//! - [`sink`]: output encoding and atomic output files.
//!
//! The promise: output bytes depend only on the input and the pipeline,
//! never on the thread count, the chunk size or scheduling; memory is bounded
//! by the in-flight window (plus the reducer's state); every error names its
//! input, line and column or flag.
//!
//! Start with [`Pipeline`].

#![warn(missing_docs)]

pub mod cancel;
pub mod error;
pub mod exec;
pub mod format;
pub mod parse;
pub mod pipeline;
pub mod record;
pub mod reduce;
pub mod sink;
pub mod source;
pub(crate) mod syntax;
pub mod transform;
pub(crate) mod units;

pub use error::{Error, ErrorKind, ExecError, Location, Message, Result, Setting};
pub use exec::{ExecOptions, RunStats};
pub use format::{Compression, Format};
pub use pipeline::{
    default_memory_limit, Pipeline, PipelineBuilder, Plan, ReduceSpec, DEFAULT_CHUNK_BYTES,
    MIN_AUTO_CHUNK_BYTES,
};
pub use record::{ColumnRef, Field, Record, RecordBuf, Source};
pub use reduce::{AggKind, AggSpec, Reducer, Sink, SortKeySpec};
pub use sink::Output;
pub use source::{Chunk, ChunkLimit, Input, Splitter};
pub use transform::{Layout, Projection};
