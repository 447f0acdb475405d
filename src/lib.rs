//! fanfold: data-parallel batch map-reduce for CSV, TSV, NDJSON and JSON
//! arrays of objects.
//!
//! ```text
//! Source ──bytes──▶ Splitter ──Chunk──▶ bounded window ──▶ rayon pool ──(seq, Partial)──▶ Reducer ──▶ Sink
//!  files, stdin      cuts at record      backpressure:       parse, map,     merge partials          csv / tsv /
//!                    boundaries          max in flight       fold            in seq order            ndjson
//! ```
//!
//! Inputs are read in order and cut into chunks at record boundaries
//! (quote-aware for CSV, between elements for JSON arrays); the workers
//! parse, transform and fold each chunk; the partials are merged strictly
//! in chunk order and written to the output.
//!
//! The promise: output bytes depend only on the input and the pipeline,
//! never on the thread count, the chunk size or scheduling; memory is bounded
//! by the in-flight window (plus the reducer's state); every error names its
//! input, line and column or flag.
//!
//! Start with [`Pipeline`].
//!
//! # The public API
//!
//! Everything a user composes is at the crate root (as in the `csv`
//! crate); the stages themselves (splitter, parsers, executor, encoders,
//! the built-in reducers) are private to the crate.
//!
//! - Run: [`PipelineBuilder`] (its [`build`](PipelineBuilder::build)
//!   checks the settings), [`Pipeline`] (its [`run`](Pipeline::run),
//!   [`run_with`](Pipeline::run_with), [`run_for_each`](Pipeline::run_for_each),
//!   [`plan`](Pipeline::plan)), [`ReduceSpec`], [`Plan`],
//!   [`default_memory_limit`], [`JournalSpec`]; [`PartialStep`] (a run
//!   as the map, combine or reduce step of an engine's job).
//! - Inputs and formats: [`Input`] (and [`ReaderInput`], behind
//!   [`Input::Reader`]), [`Format`], [`Compression`], [`ChunkLimit`] and
//!   its bounds [`DEFAULT_CHUNK_BYTES`], [`MIN_AUTO_CHUNK_BYTES`],
//!   [`MAX_CHUNK_BYTES`].
//! - Steps: [`Step`], [`Projection`], [`MapRecord`] (a map step in Rust,
//!   over a [`JsonRecord`], failing with a [`MapError`]), [`ExecSpec`]
//!   with [`ExecMode`] and [`ExecFormat`] (an external command),
//!   [`JqProgram`] (to check a jq expression before a run).
//! - Reducers and sinks: [`Reducer`] (a custom reducer, built by
//!   [`Pipeline::run_with`] from a [`Layout`] and an [`Encoder`]),
//!   [`Sink`], [`AggSpec`], [`AggKind`], [`SortKeySpec`], [`CustomSpec`],
//!   [`OnError`], [`MaxErrors`], [`Output`] (an atomic output file).
//! - Records: [`Record`], [`RecordBuf`], [`Field`], [`ColumnRef`],
//!   [`Source`].
//! - Stats: [`RunStats`], [`ExecStats`].
//! - Errors: [`Error`] wrapping an [`ErrorKind`], [`Location`],
//!   [`ExecError`], [`Result`]; a setting's error names a [`Setting`]
//!   (with [`SettingNames`] a caller names them its own way) in a
//!   [`Message`] of [`Piece`]s.
//! - Cancellation: [`CancelToken`], [`POLL_INTERVAL_MS`].
//!
//! `docs/public-api.txt` lists every public item, so that a change shows
//! its API diff in review. The hidden `__bench` module is not part of the
//! API (see there).

#![warn(missing_docs)]
// A public signature must not show a type a user cannot name.
#![warn(unnameable_types)]

mod cancel;
mod error;
mod exec;
mod format;
mod parse;
mod pipeline;
mod record;
mod reduce;
mod sink;
mod source;
mod syntax;
mod transform;
mod units;

// Run.
pub use exec::{JournalSpec, RunStats};
pub use pipeline::{
    default_memory_limit, PartialStep, Pipeline, PipelineBuilder, Plan, ReduceSpec,
};
// Inputs and formats.
pub use format::{Compression, Format};
pub use source::{
    ChunkLimit, Input, ReaderInput, TextEncoding, DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES,
    MIN_AUTO_CHUNK_BYTES,
};
// Steps.
pub use transform::{
    ExecFormat, ExecMode, ExecSpec, HttpSpec, JqProgram, JsonRecord, MapError, MapRecord,
    Projection, Rate, Step, DEFAULT_HTTP_CONCURRENCY,
};
// Reducers and sinks.
pub use reduce::{AggKind, AggSpec, CustomSpec, Fraction, Reducer, Sink, SortKeySpec};
pub use sink::encode::Encoder;
pub use sink::rejects::{MaxErrors, OnError};
pub use sink::Output;
pub use transform::Layout;
// Records.
pub use record::{ColumnRef, Field, Record, RecordBuf, Source};
// Stats.
pub use transform::{ExecStats, HttpStats};
// Errors.
pub use error::{
    Error, ErrorKind, ExecError, HttpError, Location, Message, Piece, Result, Setting, SettingNames,
};
// Cancellation.
pub use cancel::{CancelToken, POLL_INTERVAL_MS};

// For the binary only: not part of the API.
#[doc(hidden)]
pub use error::escape_control;

/// Not part of the API: the stage internals that `benches/`, the tests
/// that check one stage alone (`tests/fuzz_checks`, `tests/determinism.rs`,
/// `tests/spill_properties.rs`) and the `fuzz/` targets drive directly.
/// Re-exports only; no semver promise, no stability, may change or go in
/// any release.
#[doc(hidden)]
pub mod __bench {
    pub use crate::parse::{for_each_record, ParseOptions};
    pub use crate::reduce::group_by::GroupPartial;
    pub use crate::reduce::sorted::SortedPartial;
    pub use crate::reduce::{GroupBy, Sorted, SpillOptions, SpillStats};
    pub use crate::source::{Chunk, Sample, Splitter};
}
