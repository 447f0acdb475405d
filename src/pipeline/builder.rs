//! [`PipelineBuilder`]: the settings of a run, one method each, checked
//! once by [`PipelineBuilder::build`] into a [`Pipeline`].

use std::path::PathBuf;

use super::{Pipeline, ReduceSpec};
use crate::cancel::CancelToken;
use crate::error::{Error, Result, Setting, SettingNames};
use crate::exec::JournalSpec;
use crate::format::Format;
use crate::reduce::{AggSpec, SortKeySpec};
use crate::sink::rejects::{MaxErrors, OnError};
use crate::source::{sniff_delimiter, ChunkLimit, Input, TextEncoding, MAX_CHUNK_BYTES};

/// Bytes of the first input `build` reads to find its delimiter.
const SNIFF_BYTES: u64 = 64 * 1024;
use crate::transform::{ExecSpec, Projection, Step};

/// The settings of a [`Pipeline`], set one method at a time and checked by
/// [`PipelineBuilder::build`], in the shape of the csv crate's
/// `ReaderBuilder` and rayon's `ThreadPoolBuilder`. Every method takes the
/// builder by value and returns it, so calls chain; a setting set twice
/// keeps the last value (methods that add, such as [`input`](Self::input)
/// or [`step`](Self::step), say so).
///
/// ```
/// use fanfold::{Input, Pipeline};
/// let pipeline = Pipeline::builder()
///     .input(Input::reader("sales", std::io::Cursor::new("city,amount\nOslo,1.50\nLima,2\n")))
///     .filter(".amount > 1.5")
///     .threads(2)
///     .build()?;
/// let mut out = Vec::new();
/// pipeline.run(&mut out, "<memory>")?;
/// assert_eq!(out, b"city,amount\nLima,2\n");
/// # Ok::<(), fanfold::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct PipelineBuilder {
    /// Every setting but the two below (whose fields `build` fills in).
    p: Pipeline,
    /// `None`: one worker per available core.
    threads: Option<usize>,
    /// `None`: `4 × threads`.
    max_in_flight: Option<usize>,
}

impl Default for PipelineBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl Pipeline {
    /// A builder with every setting at its default: no inputs, a concat
    /// (every record, in input order), the input's format, automatic
    /// chunks, one worker per core. Same as [`PipelineBuilder::new`].
    ///
    /// ```
    /// use fanfold::{Input, Pipeline, ReduceSpec};
    /// let pipeline = Pipeline::builder()
    ///     .input(Input::reader("sales", std::io::Cursor::new("city,amount\nOslo,1\nLima,2\nOslo,3\n")))
    ///     .reduce(ReduceSpec::GroupBy { keys: vec!["city".into()], aggs: vec!["sum:amount".parse()?] })
    ///     .build()?;
    /// let mut out = Vec::new();
    /// pipeline.run(&mut out, "<memory>")?;
    /// assert_eq!(out, b"city,sum_amount\nLima,2\nOslo,4\n");
    /// # Ok::<(), fanfold::Error>(())
    /// ```
    pub fn builder() -> PipelineBuilder {
        PipelineBuilder::new()
    }

    /// A builder holding this pipeline's settings (threads and window as
    /// resolved), to make a changed copy of it.
    pub fn to_builder(&self) -> PipelineBuilder {
        PipelineBuilder {
            p: self.clone(),
            threads: Some(self.threads),
            max_in_flight: Some(self.max_in_flight),
        }
    }
}

impl PipelineBuilder {
    /// A builder with every setting at its default; see
    /// [`Pipeline::builder`].
    pub fn new() -> PipelineBuilder {
        PipelineBuilder {
            p: Pipeline {
                inputs: Vec::new(),
                input_format: None,
                input_columns: None,
                partial_step: None,
                split_index: 0,
                partial_print: None,
                emit_partials: None,
                sorted_partials: false,
                output_format: None,
                delimiter: None,
                output_delimiter: None,
                sniffed_delimiter: None,
                skip_rows: 0,
                comment: None,
                encoding: None,
                chunk: ChunkLimit::Auto,
                threads: 0,
                max_in_flight: 0,
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
                setting_names: SettingNames::default(),
            },
            threads: None,
            max_in_flight: None,
        }
    }

    /// Checks the settings and returns the pipeline.
    ///
    /// Resolves the defaults that do not depend on the input: the threads
    /// (one per available core, at least 1) and the in-flight window
    /// (`4 × threads`). What depends on the input (its format, when not
    /// given; the chunk size; the columns) is resolved by each run, once.
    ///
    /// ```
    /// use fanfold::{ErrorKind, Pipeline, Setting};
    /// let err = Pipeline::builder().threads(0).build().unwrap_err();
    /// assert!(matches!(err.kind(), ErrorKind::Setting { setting: Setting::Threads, .. }));
    /// assert_eq!(err.to_string(), "threads: must be at least 1");
    /// ```
    ///
    /// # Errors
    /// An [`ErrorKind::Setting`](crate::ErrorKind::Setting) naming the
    /// setting, for the first of:
    /// - [`Setting::Threads`]: [`threads`](Self::threads) is 0;
    /// - [`Setting::MaxInFlight`]: [`max_in_flight`](Self::max_in_flight) is 0;
    /// - [`Setting::MemoryLimit`]: [`memory_limit`](Self::memory_limit) is 0;
    /// - [`Setting::Delimiter`]: [`delimiter`](Self::delimiter) is `"` or a
    ///   newline (records could not be told apart);
    /// - [`Setting::ChunkBytes`]: [`chunk_bytes`](Self::chunk_bytes) is 0 or
    ///   more than [`MAX_CHUNK_BYTES`] (1 GiB);
    /// - [`Setting::ChunkRecords`]: [`chunk_records`](Self::chunk_records) is 0;
    /// - [`Setting::Top`]: a [`ReduceSpec::TopK`] keeps 0 records.
    ///
    /// - [`ErrorKind::Io`](crate::ErrorKind::Io): a directory input cannot
    ///   be listed or holds no input file (a directory is replaced here by
    ///   its files: [`Input::expand_directories`]).
    ///
    /// Column names (unknown columns), jq expressions, the journal and the
    /// inputs' contents are checked when the pipeline runs.
    pub fn build(self) -> Result<Pipeline> {
        let mut p = self.p;
        p.inputs = Input::expand_directories(std::mem::take(&mut p.inputs))?;
        let format = p.resolved_input_format();
        if p.delimiter.is_none() && format == Format::Csv {
            let head = p.inputs.first().and_then(|i| i.head_text(SNIFF_BYTES, p.encoding));
            p.sniffed_delimiter = head
                .map(|(text, complete)| sniff_delimiter(&text, p.skip_rows, p.comment, complete));
        }
        if let Some(c) = p.comment {
            let delimiter = format.is_delimited().then(|| p.resolved_delimiter(format));
            if matches!(c, b'"' | b'\n' | b'\r') || delimiter == Some(c) {
                return Err(Error::setting(
                    Setting::Comment,
                    "must not be a quote, a line end or the delimiter",
                ));
            }
        }
        p.check_partial_step()?;
        let threads = match self.threads {
            Some(t) => t,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if threads == 0 {
            return Err(Error::setting(Setting::Threads, "must be at least 1"));
        }
        // The window's default: four chunks per thread, here only.
        let max_in_flight = self.max_in_flight.unwrap_or(4 * threads);
        if max_in_flight == 0 {
            return Err(Error::setting(Setting::MaxInFlight, "must be at least 1"));
        }
        if p.memory_limit == Some(0) {
            return Err(Error::setting(Setting::MemoryLimit, "must be at least 1 byte"));
        }
        if matches!(p.delimiter, Some(b'"' | b'\n')) {
            // The splitter could not tell records apart.
            return Err(Error::setting(Setting::Delimiter, "must not be a quote or a newline"));
        }
        match p.chunk {
            ChunkLimit::Bytes(0) => {
                return Err(Error::setting(Setting::ChunkBytes, "must be at least 1"))
            }
            ChunkLimit::Records(0) => {
                return Err(Error::setting(Setting::ChunkRecords, "must be at least 1"))
            }
            ChunkLimit::Bytes(b) if b > MAX_CHUNK_BYTES => {
                return Err(Error::setting(Setting::ChunkBytes, "must be at most 1GiB"))
            }
            _ => {}
        }
        if matches!(p.reduce, ReduceSpec::TopK { k: 0, .. }) {
            return Err(Error::setting(Setting::Top, "must be at least 1"));
        }
        p.threads = threads;
        p.max_in_flight = max_in_flight;
        Ok(p)
    }

    /// Adds an input: the inputs are read in order, as one stream (one
    /// header, for CSV). Default: none (a run over no input writes nothing,
    /// or `[]` for a JSON array).
    pub fn input(mut self, input: Input) -> Self {
        self.p.inputs.push(input);
        self
    }

    /// Adds `inputs`, after those already given.
    pub fn inputs(mut self, inputs: impl IntoIterator<Item = Input>) -> Self {
        self.p.inputs.extend(inputs);
        self
    }

    /// The input format. Default: guessed from the first input's extension,
    /// and for `.json` from its first byte (see [`Input::detect_format`]; standard
    /// input, [`Input::reader`] and unknown extensions: CSV;
    /// [`Input::pipeline`]: NDJSON).
    pub fn input_format(mut self, format: Format) -> Self {
        self.p.input_format = Some(format);
        self
    }

    /// The output format. Default: the input's.
    pub fn output_format(mut self, format: Format) -> Self {
        self.p.output_format = Some(format);
        self
    }

    /// The CSV input's field delimiter, one byte. Default: the format's
    /// (`,` or tab). `build` refuses `"` and `\n` ([`Setting::Delimiter`]).
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.p.delimiter = Some(delimiter);
        self
    }

    /// Skips the first `rows` lines of every CSV/TSV input, before its
    /// header: a preamble (a title, an export date) that is not records.
    /// Lines are counted by `\n`, quotes or not. Default 0. A run over
    /// NDJSON or JSON input refuses it ([`Setting::SkipRows`]).
    pub fn skip_rows(mut self, rows: u64) -> Self {
        self.p.skip_rows = rows;
        self
    }

    /// Skips every line of CSV/TSV input that begins a record with the
    /// byte `comment` (`#`), before the header too, as the `csv` crate's
    /// `comment` option does: the line ends at its `\n`, whatever quotes
    /// it holds. The skipped lines are counted
    /// ([`RunStats::comment_lines`](crate::RunStats::comment_lines)).
    /// Default: none. `build` refuses `"`, `\n`, `\r` and the delimiter
    /// ([`Setting::Comment`]); a run over NDJSON or JSON input refuses it.
    pub fn comment(mut self, comment: u8) -> Self {
        self.p.comment = Some(comment);
        self
    }

    /// Decodes every input from `encoding` (windows-1252 for latin-1
    /// exports, Shift_JIS, ...; see [`TextEncoding::from_label`]) before
    /// splitting it: line numbers are those of the decoded text. An input
    /// that starts with a UTF-16 byte-order mark is UTF-16 whatever this
    /// says. Default: UTF-8 (and UTF-16 by its byte-order mark).
    pub fn encoding(mut self, encoding: TextEncoding) -> Self {
        self.p.encoding = Some(encoding);
        self
    }

    /// The CSV output's field delimiter, one byte. Default: the input's
    /// when no output format is given, else the output format's.
    pub fn output_delimiter(mut self, delimiter: u8) -> Self {
        self.p.output_delimiter = Some(delimiter);
        self
    }

    /// How chunks are cut: [`ChunkLimit::Bytes`], [`ChunkLimit::Records`]
    /// or [`ChunkLimit::Auto`] (the default: sized from the input and the
    /// memory limit, see [`Pipeline::plan`]). `build` checks it as
    /// [`chunk_bytes`](Self::chunk_bytes) and
    /// [`chunk_records`](Self::chunk_records) say.
    pub fn chunk(mut self, chunk: ChunkLimit) -> Self {
        self.p.chunk = chunk;
        self
    }

    /// Chunks of about `bytes` bytes each (cut at the next record
    /// boundary). Default: automatic. `build` refuses 0 and more than 1 GiB
    /// ([`Setting::ChunkBytes`]).
    pub fn chunk_bytes(self, bytes: usize) -> Self {
        self.chunk(ChunkLimit::Bytes(bytes))
    }

    /// Chunks of `records` records each (lines, for NDJSON) instead of a
    /// size in bytes. Default: automatic, in bytes. `build` refuses 0
    /// ([`Setting::ChunkRecords`]).
    pub fn chunk_records(self, records: usize) -> Self {
        self.chunk(ChunkLimit::Records(records))
    }

    /// Worker threads. Default: one per available core. `build` refuses 0
    /// ([`Setting::Threads`]). An `--exec` step's concurrency raises it.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// Chunks read but not yet merged, at most (a count of chunks; it
    /// bounds memory to about that many chunks). Default: `4 × threads`.
    /// `build` refuses 0 ([`Setting::MaxInFlight`]).
    pub fn max_in_flight(mut self, chunks: usize) -> Self {
        self.max_in_flight = Some(chunks);
        self
    }

    /// The memory limit, in bytes. It covers the in-flight window (chunks
    /// and their partials) and the reducer's state; the state gets what the
    /// window leaves, at least half (see [`Plan::state_budget`](crate::Plan::state_budget)). A sort
    /// and a group-by spill sorted runs to [`temp_dir`](Self::temp_dir)
    /// past it (with the same output bytes); `--top K` with groups and a
    /// custom reducer fail with [`ErrorKind::MemoryLimit`](crate::ErrorKind::MemoryLimit).
    /// Not covered: the final merge's read buffers (bounded by the same
    /// budget, 16 KiB to 1 MiB per spilled run), output buffers, and the
    /// allocator's slack. Default: [`default_memory_limit`](crate::default_memory_limit).
    /// `build` refuses 0 ([`Setting::MemoryLimit`]).
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.p.memory_limit = Some(bytes);
        self
    }

    /// Where a sort or a group-by spills and where records a `map` step made wait for
    /// their CSV header. Spill files are anonymous (nothing is left even if
    /// the process is killed); the `map` file is removed when the run ends,
    /// on success, error or panic. Default: [`std::env::temp_dir`].
    pub fn temp_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.p.temp_dir = Some(dir.into());
        self
    }

    /// Where [`OnError::Reject`] writes rejected records (NDJSON, one per
    /// line, in input order). Default: none (they are counted only).
    pub fn rejects(mut self, path: impl Into<PathBuf>) -> Self {
        self.p.rejects = Some(path.into());
        self
    }

    /// What a bad record does. Default: [`OnError::Fail`].
    pub fn on_error(mut self, on_error: OnError) -> Self {
        self.p.on_error = on_error;
        self
    }

    /// When to give up on bad records. Default: never.
    pub fn max_errors(mut self, max_errors: MaxErrors) -> Self {
        self.p.max_errors = Some(max_errors);
        self
    }

    /// Texts that count as missing, besides empty fields and JSON null
    /// (replacing any given before). Default: none.
    pub fn null_markers<S: Into<String>>(mut self, markers: impl IntoIterator<Item = S>) -> Self {
        self.p.null_markers = markers.into_iter().map(Into::into).collect();
        self
    }

    /// Every CSV field is a string, to jq expressions and in NDJSON and
    /// JSON output (`1` is `"1"`, an empty field `""`); only the
    /// [`null_markers`](Self::null_markers) become `null`. Reducers still
    /// read numbers out of the text (sort keys, sums) and count empty fields
    /// as missing. Default: off.
    pub fn no_infer(mut self, no_infer: bool) -> Self {
        self.p.no_infer = no_infer;
        self
    }

    /// Record each mapped chunk durably, and skip the chunks an earlier run
    /// of the same inputs and steps recorded (see [`JournalSpec`]).
    /// Needs a `map` or `exec` step and input files: a run without them
    /// fails with an [`ErrorKind::Setting`](crate::ErrorKind::Setting) for
    /// [`Setting::Journal`]. A run leaves the file in place; remove it once
    /// the output is safely committed. Default: none.
    pub fn journal(mut self, journal: JournalSpec) -> Self {
        self.p.journal = Some(journal);
        self
    }

    /// Keep only these input columns, in this order, before the steps.
    /// Default: all.
    pub fn select<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.p.projection.select = Some(columns.into_iter().map(Into::into).collect());
        self
    }

    /// Remove these input columns, before the steps. Default: none.
    pub fn drop<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.p.projection.drop = columns.into_iter().map(Into::into).collect();
        self
    }

    /// Rename input columns, `(old, new)` pairs, before the steps. Default:
    /// none.
    pub fn rename<A: Into<String>, B: Into<String>>(
        mut self,
        pairs: impl IntoIterator<Item = (A, B)>,
    ) -> Self {
        self.p.projection.rename = pairs.into_iter().map(|(a, b)| (a.into(), b.into())).collect();
        self
    }

    /// [`select`](Self::select), [`drop`](Self::drop) and
    /// [`rename`](Self::rename) at once, replacing them.
    pub fn projection(mut self, projection: Projection) -> Self {
        self.p.projection = projection;
        self
    }

    /// Adds a transform step, after the projection and the steps given
    /// before (see [`Step`]). Default: none.
    pub fn step(mut self, step: Step) -> Self {
        self.p.steps.push(step);
        self
    }

    /// Adds `steps`, in order, after those given before.
    pub fn steps(mut self, steps: impl IntoIterator<Item = Step>) -> Self {
        self.p.steps.extend(steps);
        self
    }

    /// Adds a jq filter step ([`Step::Filter`]): records for which the
    /// expression is false or null are dropped.
    pub fn filter(self, expression: impl Into<String>) -> Self {
        self.step(Step::Filter(expression.into()))
    }

    /// Adds a jq map step ([`Step::Map`]): each record becomes what the
    /// expression makes of it.
    pub fn map(self, expression: impl Into<String>) -> Self {
        self.step(Step::Map(expression.into()))
    }

    /// Adds an external command step ([`Step::Exec`]).
    pub fn exec(self, spec: ExecSpec) -> Self {
        self.step(Step::Exec(spec))
    }

    /// Adds a per-record HTTP step ([`Step::Http`]).
    pub fn http(self, spec: crate::transform::HttpSpec) -> Self {
        self.step(Step::Http(spec))
    }

    /// The reducer. Default: [`ReduceSpec::Concat`]. `build` refuses a
    /// [`ReduceSpec::TopK`] of 0 records ([`Setting::Top`]).
    pub fn reduce(mut self, reduce: ReduceSpec) -> Self {
        self.p.reduce = reduce;
        self
    }

    /// A stable sort by these keys: [`ReduceSpec::Sort`], replacing the
    /// reducer.
    pub fn sort_by(self, keys: impl IntoIterator<Item = SortKeySpec>) -> Self {
        self.reduce(ReduceSpec::Sort(keys.into_iter().collect()))
    }

    /// Group by these output columns: a [`ReduceSpec::GroupBy`], keeping
    /// the aggregates [`agg`](Self::agg) gave (the reducer becomes a
    /// group-by if it was not one).
    pub fn group_by<S: Into<String>>(mut self, keys: impl IntoIterator<Item = S>) -> Self {
        let keys = keys.into_iter().map(Into::into).collect();
        match &mut self.p.reduce {
            ReduceSpec::GroupBy { keys: k, .. } => *k = keys,
            other => *other = ReduceSpec::GroupBy { keys, aggs: Vec::new() },
        }
        self
    }

    /// Adds an aggregate to a [`ReduceSpec::GroupBy`] (the reducer becomes
    /// a group-by with no keys, one global row, if it was not one).
    pub fn agg(mut self, agg: AggSpec) -> Self {
        match &mut self.p.reduce {
            ReduceSpec::GroupBy { aggs, .. } => aggs.push(agg),
            other => *other = ReduceSpec::GroupBy { keys: Vec::new(), aggs: vec![agg] },
        }
        self
    }

    /// Draw a progress bar on standard error. Default: off.
    pub fn progress(mut self, progress: bool) -> Self {
        self.p.progress = progress;
        self
    }

    /// The token that stops the run once cancelled: keep a clone and call
    /// [`CancelToken::cancel`] from another thread (or register it with a
    /// signal handler, [`CancelToken::signal_flag`]). A read blocked on a
    /// silent pipe or FIFO gives up within
    /// [`POLL_INTERVAL_MS`](crate::cancel::POLL_INTERVAL_MS), external
    /// commands are killed, and the run returns
    /// [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled) (or
    /// [`ErrorKind::Interrupted`](crate::ErrorKind::Interrupted) for a
    /// signal) without committing anything: the rejects file is not
    /// written, and what went to the output is to be discarded. A run never
    /// cancels it itself. A cancelled token stays cancelled (clones of the
    /// pipeline share it): give the next run a fresh one. Default: a fresh
    /// token (see [`Pipeline::cancel`]).
    pub fn cancel(mut self, token: CancelToken) -> Self {
        self.p.cancel = token;
        self
    }

    /// The input's columns, given instead of read. For NDJSON and JSON
    /// array input: the keys which the projection, the steps and the
    /// reducers resolve names against, and a CSV output's header holds (a
    /// record's key outside them is an
    /// [`ErrorKind::UnexpectedKey`](crate::ErrorKind::UnexpectedKey)
    /// there), instead of the first record's keys. For CSV and TSV input:
    /// the inputs have no header line (the splits of a file cut by lines,
    /// as Hadoop and Spark cut it), and an input whose first record is
    /// exactly these names (the split that begins the file) has it
    /// skipped as its header. Default: the first record's keys; for CSV,
    /// each input's header.
    ///
    /// ```
    /// use fanfold::{Format, Input, Pipeline};
    /// let ndjson = "{\"a\":1}\n{\"a\":2,\"b\":3}\n";
    /// let pipeline = Pipeline::builder()
    ///     .input(Input::reader("mem", std::io::Cursor::new(ndjson)))
    ///     .input_format(Format::Ndjson)
    ///     .input_columns(["a", "b"])
    ///     .output_format(Format::Csv)
    ///     .build()?;
    /// let mut out = Vec::new();
    /// pipeline.run(&mut out, "<memory>")?;
    /// assert_eq!(out, b"a,b\n1,\n2,3\n");
    /// # Ok::<(), fanfold::Error>(())
    /// ```
    pub fn input_columns<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.p.input_columns = Some(columns.into_iter().map(Into::into).collect());
        self
    }

    /// Runs one step of a run split across many programs (see
    /// [`PartialStep`](super::PartialStep)): the map step writes partial
    /// lines instead of the output, the combine and reduce steps read
    /// them instead of records. Needs a group-by. Default: none, a whole
    /// run.
    pub fn partial_step(mut self, step: super::PartialStep) -> Self {
        self.p.partial_step = Some(step);
        self
    }

    /// The number of the split a map step (or a run with
    /// [`PipelineBuilder::emit_partials`]) reads (from 0, in input order):
    /// the records of split `n` come after those of the splits before it
    /// for `first`, `last`, and the ties of `mode`, `min` and `max`, as in
    /// one run over the whole input. Default: 0.
    pub fn split_index(mut self, n: u64) -> Self {
        self.p.split_index = n;
        self
    }

    /// For the combine and reduce steps: the partial lines come sorted by
    /// key, as a shuffle hands them to a reducer, so they are merged and
    /// written key by key, in memory bounded by the chunks in flight
    /// whatever the number of groups or records; a line out of order is
    /// an [`ErrorKind::Partial`](crate::ErrorKind::Partial) naming it.
    /// Default: false, lines in any order: a group-by merges them in
    /// tables that spill past the memory limit, and the reduce step of a
    /// sort or a top-K sorts them first (spilling too). (A custom
    /// reducer's lines, one per split, are always sorted in memory.)
    pub fn sorted_partials(mut self, sorted: bool) -> Self {
        self.p.sorted_partials = sorted;
        self
    }

    /// Writes the run's partial lines to the file at `path` too, beside
    /// the output (atomically, as the output): `fanfold reduce` over such
    /// files, with the same settings, merges them into the output of one
    /// run over all their inputs (incremental aggregation: a day's
    /// partials merged with later days'). Needs a group-by. Default: none.
    pub fn emit_partials(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.p.emit_partials = Some(path.into());
        self
    }

    /// How the text a run makes of an error names settings: the messages
    /// in the rejects file (see [`SettingNames`]). Default:
    /// [`Setting::name`], the library's names; a front end sets its own
    /// (the command line: its flags).
    pub fn setting_names(mut self, names: SettingNames) -> Self {
        self.p.setting_names = names;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    /// The setting `b.build()` refuses, and its message.
    fn refused(b: PipelineBuilder) -> (Setting, String) {
        let e = b.build().expect_err("built");
        match e.kind() {
            ErrorKind::Setting { setting, .. } => (*setting, e.to_string()),
            other => panic!("not a setting error: {other:?}"),
        }
    }

    #[test]
    fn defaults_resolve_threads_and_window_once() {
        let p = Pipeline::builder().build().unwrap();
        assert!(p.threads >= 1);
        assert_eq!(p.max_in_flight, 4 * p.threads);
        let p = Pipeline::builder().threads(3).build().unwrap();
        assert_eq!((p.threads, p.max_in_flight), (3, 12));
        let p = Pipeline::builder().max_in_flight(5).threads(3).build().unwrap();
        assert_eq!((p.threads, p.max_in_flight), (3, 5));
        // A copy keeps what was resolved.
        let q = p.to_builder().build().unwrap();
        assert_eq!(p, q);
    }

    #[test]
    fn each_check_names_its_setting() {
        let b = Pipeline::builder;
        let top = ReduceSpec::TopK { k: 0, keys: Vec::new(), group_by: Vec::new() };
        let cases = [
            (b().threads(0), Setting::Threads, "threads: must be at least 1"),
            (b().max_in_flight(0), Setting::MaxInFlight, "max_in_flight: must be at least 1"),
            (b().memory_limit(0), Setting::MemoryLimit, "memory_limit: must be at least 1 byte"),
            (
                b().delimiter(b'"'),
                Setting::Delimiter,
                "delimiter: must not be a quote or a newline",
            ),
            (
                b().delimiter(b'\n'),
                Setting::Delimiter,
                "delimiter: must not be a quote or a newline",
            ),
            (b().chunk_bytes(0), Setting::ChunkBytes, "chunk_bytes: must be at least 1"),
            (
                b().chunk_bytes(MAX_CHUNK_BYTES + 1),
                Setting::ChunkBytes,
                "chunk_bytes: must be at most 1GiB",
            ),
            (b().chunk_records(0), Setting::ChunkRecords, "chunk_records: must be at least 1"),
            (b().reduce(top), Setting::Top, "top: must be at least 1"),
        ];
        for (builder, setting, message) in cases {
            assert_eq!(refused(builder), (setting, message.to_string()));
        }
    }

    #[test]
    fn limits_themselves_are_accepted() {
        let ok = [
            Pipeline::builder().threads(1).max_in_flight(1).memory_limit(1),
            Pipeline::builder().chunk_bytes(MAX_CHUNK_BYTES).delimiter(b';'),
            Pipeline::builder().chunk_records(1),
        ];
        for b in ok {
            b.build().unwrap();
        }
    }

    #[test]
    fn group_by_and_agg_make_one_group_by() {
        let p = Pipeline::builder()
            .agg("count".parse().unwrap())
            .group_by(["k"])
            .agg("sum:v".parse().unwrap())
            .build()
            .unwrap();
        let aggs = vec!["count".parse().unwrap(), "sum:v".parse().unwrap()];
        assert_eq!(p.reduce, ReduceSpec::GroupBy { keys: vec!["k".into()], aggs });
    }

    #[test]
    fn inputs_and_steps_add() {
        let p = Pipeline::builder()
            .input(Input::Stdin)
            .inputs([Input::Stdin])
            .filter(".a")
            .steps([Step::Map(".".into())])
            .build()
            .unwrap();
        assert_eq!(p.inputs.len(), 2);
        assert_eq!(p.steps.len(), 2);
    }
}
