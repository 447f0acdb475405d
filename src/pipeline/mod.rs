//! The public entry point: a [`Pipeline`] describes one run (inputs,
//! formats, chunking, parallelism, transforms, reducer); [`Pipeline::run`]
//! executes it.

mod compose;
mod external_chunking;
mod fingerprint;
mod for_each;
mod key_union;
mod memory;
mod plan;
mod run;
mod run_with;

use std::path::PathBuf;

use crate::cancel::CancelToken;
use crate::exec::JournalSpec;
use crate::format::Format;
use crate::reduce::{AggSpec, CustomSpec, SortKeySpec};
use crate::sink::rejects::{MaxErrors, OnError};
use crate::source::{ChunkLimit, Input};
use crate::transform::{Projection, Step};

pub use self::memory::default_memory_limit;
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
        /// Records kept per group (at least 1; 0 is an [`Error::Flag`](crate::Error::Flag)).
        k: usize,
        /// Sort keys (none: input order).
        keys: Vec<SortKeySpec>,
        /// Output column names to group by.
        group_by: Vec<String>,
    },
}

/// One run of fanfold: build it with struct update syntax from
/// [`Pipeline::new`], then call [`Pipeline::run`].
///
/// ```
/// use fanfold::{Input, Pipeline, ReduceSpec};
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("sales.csv");
/// std::fs::write(&path, "city,amount\nOslo,1.50\nLima,2\nOslo,0.25\n")?;
/// let pipeline = Pipeline {
///     reduce: ReduceSpec::GroupBy {
///         keys: vec!["city".into()],
///         aggs: vec!["count".parse()?, "sum:amount".parse()?],
///     },
///     threads: 2,
///     ..Pipeline::new(vec![Input::Path(path)])
/// };
/// let mut out = Vec::new();
/// pipeline.run(&mut out, "<memory>")?;
/// assert_eq!(String::from_utf8(out)?, "city,count,sum_amount\nLima,1,2\nOslo,2,1.75\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    /// The inputs, read in order as one stream.
    pub inputs: Vec<Input>,
    /// Input format; `None` guesses from the first input's extension, and
    /// for `.json` from its first byte (see [`Format::detect`]; standard
    /// input, [`Input::reader`] and unknown extensions: CSV;
    /// [`Input::pipeline`]: NDJSON).
    pub input_format: Option<Format>,
    /// For NDJSON and JSON array input: the input's columns (keys), which
    /// the projection, the steps and the reducers resolve names against,
    /// and a CSV output's header holds (a record's key outside them is an
    /// [`Error::UnexpectedKey`](crate::Error::UnexpectedKey) there), instead of the first record's
    /// keys. `None` (the default): the first record's. Ignored for CSV and
    /// TSV input, whose header names the columns.
    ///
    /// ```
    /// use fanfold::{Format, Input, Pipeline};
    /// let ndjson = "{\"a\":1}\n{\"a\":2,\"b\":3}\n";
    /// let pipeline = Pipeline {
    ///     input_format: Some(Format::Ndjson),
    ///     input_columns: Some(vec!["a".into(), "b".into()]),
    ///     output_format: Some(Format::Csv),
    ///     ..Pipeline::new(vec![Input::reader("mem", std::io::Cursor::new(ndjson))])
    /// };
    /// let mut out = Vec::new();
    /// pipeline.run(&mut out, "<memory>")?;
    /// assert_eq!(out, b"a,b\n1,\n2,3\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub input_columns: Option<Vec<String>>,
    /// Output format; `None` means the input's.
    pub output_format: Option<Format>,
    /// CSV input delimiter; `None` is the format's (`,` or tab).
    pub delimiter: Option<u8>,
    /// CSV output delimiter; `None` keeps the input's when the output
    /// format is the input's by default, else the output format's.
    pub output_delimiter: Option<u8>,
    /// How big chunks are.
    pub chunk: ChunkLimit,
    /// Worker threads (at least 1).
    pub threads: usize,
    /// Chunks read but not yet merged, at most (at least 1).
    pub max_in_flight: usize,
    /// `--select` / `--drop` / `--rename`, applied before `steps`.
    pub projection: Projection,
    /// Transform steps (`--filter`, `--map` and projection flags), in the
    /// order given; see [`Step`].
    pub steps: Vec<Step>,
    /// `--no-infer`: every CSV field is a string, to jq expressions and in
    /// NDJSON and JSON output (`1` is `"1"`, an empty field `""`); only
    /// `null_markers` become `null`. Reducers still read numbers out of
    /// the text (sort keys, sums) and count empty fields as missing.
    pub no_infer: bool,
    /// What a bad record does (`--on-error`; default: fail).
    pub on_error: OnError,
    /// When to give up on bad records (`--max-errors`; default: never).
    pub max_errors: Option<MaxErrors>,
    /// Where `--on-error reject` writes rejected records (NDJSON, one per
    /// line, in input order); `None` counts them only.
    pub rejects: Option<PathBuf>,
    /// Texts that count as missing (`--null`), besides empty fields and
    /// JSON null.
    pub null_markers: Vec<String>,
    /// The reducer.
    pub reduce: ReduceSpec,
    /// `--memory-limit`, in bytes (at least 1); `None`: the default,
    /// [`default_memory_limit`]. It covers the in-flight window (chunks and
    /// their partials) and the reducer's state; the state gets what the
    /// window leaves, at least half (see [`Plan::state_budget`]). A sort
    /// spills sorted runs to `temp_dir` past it; a group-by fails with
    /// [`Error::MemoryLimit`](crate::Error::MemoryLimit). Not covered: the final merge's read buffers
    /// (bounded by the same budget, 16 KiB to 1 MiB per spilled run), output
    /// buffers, and the allocator's slack.
    pub memory_limit: Option<u64>,
    /// `--temp-dir`: where a sort spills and where records a `--map` made
    /// wait for their CSV header; `None`: [`std::env::temp_dir`]. Spill
    /// files are anonymous (nothing is left even if the process is
    /// killed); the `--map` file is removed when the run ends, on success,
    /// error or panic.
    pub temp_dir: Option<PathBuf>,
    /// Draw a progress bar on standard error (the command turns it on when
    /// standard error is a terminal; default: off).
    pub progress: bool,
    /// `--journal FILE` (and `--resume`): record each mapped chunk durably,
    /// and skip the chunks an earlier run of the same inputs and steps
    /// recorded (see [`JournalSpec`]). Needs a `--map` or
    /// `--exec` step and input files. [`Pipeline::run`] leaves the file in
    /// place; remove it once the output is safely committed (the command
    /// does). `None`: no journal (the default).
    pub journal: Option<JournalSpec>,
    /// Stops the run once cancelled: clone it before [`Pipeline::run`]
    /// and call [`CancelToken::cancel`] from another thread (or register
    /// it with a signal handler, [`CancelToken::signal_flag`]). A read
    /// blocked on a silent pipe or FIFO gives up within
    /// [`POLL_INTERVAL_MS`](crate::cancel::POLL_INTERVAL_MS), `--exec`
    /// commands are killed, and the run returns
    /// [`Error::Cancelled`](crate::Error::Cancelled) (or
    /// [`Error::Interrupted`](crate::Error::Interrupted) for a signal)
    /// without committing anything: the rejects file is not written, and
    /// what went to the output is to be discarded. A run never cancels it
    /// itself. A cancelled token stays cancelled (clones of the pipeline
    /// share it): give the next run a fresh one. Default: a fresh token.
    pub cancel: CancelToken,
}

impl Pipeline {
    /// A concat of `inputs` with default settings: chunks sized by
    /// [`Pipeline::plan`], one worker per available core, `4 × threads`
    /// chunks in flight.
    pub fn new(inputs: Vec<Input>) -> Pipeline {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Pipeline {
            inputs,
            input_format: None,
            input_columns: None,
            output_format: None,
            delimiter: None,
            output_delimiter: None,
            chunk: ChunkLimit::Auto,
            threads,
            max_in_flight: 4 * threads,
            projection: Projection::default(),
            steps: Vec::new(),
            no_infer: false,
            on_error: OnError::Fail,
            max_errors: None,
            rejects: None,
            null_markers: Vec::new(),
            reduce: ReduceSpec::Concat,
            memory_limit: None,
            temp_dir: None,
            progress: false,
            journal: None,
            cancel: CancelToken::new(),
        }
    }

    /// The memory limit in bytes: [`Pipeline::memory_limit`] or the
    /// default.
    pub fn resolved_memory_limit(&self) -> u64 {
        self.memory_limit.unwrap_or_else(default_memory_limit)
    }

    /// The directory for temporary files: [`Pipeline::temp_dir`] or the
    /// system's.
    pub fn resolved_temp_dir(&self) -> PathBuf {
        self.temp_dir.clone().unwrap_or_else(std::env::temp_dir)
    }

    /// The input format this pipeline reads.
    pub fn resolved_input_format(&self) -> Format {
        self.input_format
            .or_else(|| match self.inputs.first() {
                Some(Input::Path(p)) => Format::detect(p),
                Some(Input::Reader(r)) => r.format(),
                _ => None,
            })
            .unwrap_or(Format::Csv)
    }
    pub(super) fn output_delimiter(&self, out_format: Format) -> u8 {
        let format = self.resolved_input_format();
        let delimiter = self.delimiter.or(format.default_delimiter()).unwrap_or(b',');
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
