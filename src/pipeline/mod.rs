//! The public entry point: a [`PipelineBuilder`] gathers the settings of
//! a run (inputs, formats, chunking, parallelism, transforms, reducer) and
//! checks them into a [`Pipeline`]; [`Pipeline::run`] executes it.

mod builder;
mod compose;
mod external_chunking;
mod fingerprint;
mod for_each;
mod key_union;
mod memory;
mod partials;
mod plan;
mod run;
mod run_with;

use crate::error::SettingNames;
use std::path::PathBuf;

use crate::cancel::CancelToken;
use crate::exec::JournalSpec;
use crate::format::Format;
use crate::reduce::{AggSpec, CustomSpec, SortKeySpec};
use crate::sink::rejects::{MaxErrors, OnError};
use crate::source::{ChunkLimit, Input, SniffedDelimiter, TextEncoding};
use crate::transform::{Projection, Step};

pub use self::builder::PipelineBuilder;
pub use self::memory::default_memory_limit;
pub use self::partials::PartialStep;
pub use self::plan::Plan;

/// Which reducer a run uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ReduceSpec {
    /// Every record in input order.
    #[default]
    Concat,
    /// A stable sort by these keys.
    Sort(Vec<SortKeySpec>),
    /// A reducer written in jq (`--reduce-update` and friends).
    Custom(CustomSpec),
    /// One row per group of `keys` (none: one global row) with `aggs`.
    GroupBy {
        /// Output column names to group by.
        keys: Vec<String>,
        /// Aggregates, in output order.
        aggs: Vec<AggSpec>,
    },
    /// The first `k` records in `keys` order (a stable sort: ties in input
    /// order, missing last), per group of `group_by` (none: over all
    /// records); groups in group-by order.
    TopK {
        /// Records kept per group (at least 1; 0 is an [`ErrorKind::Setting`](crate::ErrorKind::Setting)).
        k: usize,
        /// Sort keys (none: input order).
        keys: Vec<SortKeySpec>,
        /// Output column names to group by.
        group_by: Vec<String>,
    },
}

/// One run of fanfold: made by [`Pipeline::builder`] (whose
/// [`build`](PipelineBuilder::build) checks the settings), then run with
/// [`Pipeline::run`], [`Pipeline::run_with`] or [`Pipeline::run_for_each`],
/// as often as wanted. The settings are private: each is documented on its
/// [`PipelineBuilder`] method; [`Pipeline::to_builder`] makes a changed
/// copy.
///
/// ```
/// use fanfold::{Input, Pipeline};
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("sales.csv");
/// std::fs::write(&path, "city,amount\nOslo,1.50\nLima,2\nOslo,0.25\n")?;
/// let pipeline = Pipeline::builder()
///     .input(Input::Path(path))
///     .group_by(["city"])
///     .agg("count".parse()?)
///     .agg("sum:amount".parse()?)
///     .threads(2)
///     .build()?;
/// let mut out = Vec::new();
/// pipeline.run(&mut out, "<memory>")?;
/// assert_eq!(String::from_utf8(out)?, "city,count,sum_amount\nLima,1,2\nOslo,2,1.75\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    /// The inputs, read in order as one stream.
    pub(crate) inputs: Vec<Input>,
    /// Input format; `None` guesses ([`PipelineBuilder::input_format`]).
    pub(crate) input_format: Option<Format>,
    /// See [`PipelineBuilder::input_columns`].
    pub(crate) input_columns: Option<Vec<String>>,
    /// See [`PipelineBuilder::partial_step`].
    pub(crate) partial_step: Option<PartialStep>,
    /// See [`PipelineBuilder::split_index`].
    pub(crate) split_index: u64,
    /// See [`PipelineBuilder::sorted_partials`].
    pub(crate) sorted_partials: bool,
    /// See [`PipelineBuilder::emit_partials`].
    pub(crate) emit_partials: Option<PathBuf>,
    /// The fingerprint its partial lines carry, when not its own: the
    /// second pass of a map step's key union writes the lines of the
    /// pipeline it serves.
    pub(crate) partial_print: Option<u64>,
    /// Output format; `None` means the input's.
    pub(crate) output_format: Option<Format>,
    /// CSV input delimiter; `None` is the format's (`,` or tab).
    pub(crate) delimiter: Option<u8>,
    /// CSV output delimiter; see [`PipelineBuilder::output_delimiter`].
    pub(crate) output_delimiter: Option<u8>,
    /// What `build` read of the first input's delimiter, when neither the
    /// format nor a setting says it.
    pub(crate) sniffed_delimiter: Option<SniffedDelimiter>,
    /// See [`PipelineBuilder::skip_rows`].
    pub(crate) skip_rows: u64,
    /// See [`PipelineBuilder::comment`].
    pub(crate) comment: Option<u8>,
    /// See [`PipelineBuilder::encoding`].
    pub(crate) encoding: Option<TextEncoding>,
    /// How big chunks are.
    pub(crate) chunk: ChunkLimit,
    /// Worker threads (at least 1; resolved by `build`).
    pub(crate) threads: usize,
    /// Chunks read but not yet merged, at most (at least 1; resolved by
    /// `build`).
    pub(crate) max_in_flight: usize,
    /// `select` / `drop` / `rename`, applied before `steps`.
    pub(crate) projection: Projection,
    /// Transform steps, in order; see [`crate::transform::chain`].
    pub(crate) steps: Vec<Step>,
    /// See [`PipelineBuilder::no_infer`].
    pub(crate) no_infer: bool,
    /// What a bad record does.
    pub(crate) on_error: OnError,
    /// When to give up on bad records.
    pub(crate) max_errors: Option<MaxErrors>,
    /// Where rejected records go; `None` counts them only.
    pub(crate) rejects: Option<PathBuf>,
    /// Texts that count as missing, besides empty fields and JSON null.
    pub(crate) null_markers: Vec<String>,
    /// The reducer.
    pub(crate) reduce: ReduceSpec,
    /// In bytes (at least 1); `None`: [`default_memory_limit`].
    pub(crate) memory_limit: Option<u64>,
    /// `None`: [`std::env::temp_dir`].
    pub(crate) temp_dir: Option<PathBuf>,
    /// Draw a progress bar on standard error.
    pub(crate) progress: bool,
    /// See [`PipelineBuilder::journal`].
    pub(crate) journal: Option<JournalSpec>,
    /// See [`PipelineBuilder::cancel`].
    pub(crate) cancel: CancelToken,
    /// See [`PipelineBuilder::setting_names`].
    pub(crate) setting_names: SettingNames,
}

impl Pipeline {
    /// The inputs, in the order they are read.
    pub fn inputs(&self) -> &[Input] {
        &self.inputs
    }

    /// The token that stops this pipeline's runs (see
    /// [`PipelineBuilder::cancel`]): clone it before a run and cancel it
    /// from another thread.
    ///
    /// ```
    /// use fanfold::{ErrorKind, Input, Pipeline};
    /// let pipeline = Pipeline::builder()
    ///     .input(Input::reader("mem", std::io::Cursor::new("a\n1\n")))
    ///     .build()?;
    /// pipeline.cancel().cancel();
    /// let err = pipeline.run(&mut Vec::new(), "<memory>").unwrap_err();
    /// assert!(matches!(err.kind(), ErrorKind::Cancelled));
    /// # Ok::<(), fanfold::Error>(())
    /// ```
    pub fn cancel(&self) -> &CancelToken {
        &self.cancel
    }

    /// How a run's messages name settings (see
    /// [`PipelineBuilder::setting_names`]).
    pub fn setting_names(&self) -> SettingNames {
        self.setting_names
    }

    /// The memory limit in bytes: the one given
    /// ([`PipelineBuilder::memory_limit`]) or [`default_memory_limit`].
    pub fn resolved_memory_limit(&self) -> u64 {
        self.memory_limit.unwrap_or_else(default_memory_limit)
    }

    /// The directory for temporary files: the one given
    /// ([`PipelineBuilder::temp_dir`]) or the system's.
    pub fn resolved_temp_dir(&self) -> PathBuf {
        self.temp_dir.clone().unwrap_or_else(std::env::temp_dir)
    }

    /// The input format this pipeline reads.
    pub fn resolved_input_format(&self) -> Format {
        self.input_format
            .or_else(|| self.inputs.first().and_then(Input::detect_format))
            .unwrap_or(Format::Csv)
    }
    /// The CSV input delimiter: the one set, else the one `build` found
    /// in the first input when it was sure, else the format's (`,` or
    /// tab).
    pub(crate) fn resolved_delimiter(&self, format: Format) -> u8 {
        let sniffed = self.sniffed_delimiter.filter(|s| s.sure).map(|s| s.delimiter);
        self.delimiter.or(sniffed).or(format.default_delimiter()).unwrap_or(b',')
    }

    pub(super) fn output_delimiter(&self, out_format: Format) -> u8 {
        let format = self.resolved_input_format();
        let delimiter = self.resolved_delimiter(format);
        match (self.output_delimiter, self.output_format) {
            (Some(d), _) => d,
            (None, None) => delimiter,
            (None, Some(_)) => out_format.default_delimiter().unwrap_or(b','),
        }
    }

    pub(super) fn null_bytes(&self) -> Vec<Vec<u8>> {
        self.null_markers.iter().map(|s| s.as_bytes().to_vec()).collect()
    }
}
