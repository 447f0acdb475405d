//! The public entry point: a [`Pipeline`] describes one run (inputs,
//! formats, chunking, parallelism, transforms, reducer); [`Pipeline::run`]
//! executes it.

mod fingerprint;

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::exec::{self, ExecOptions, Journal, JournalSpec, RunStats};
use crate::format::Format;
use crate::parse::ParseOptions;
use crate::reduce::{
    AggSpec, Concat, CustomReduce, CustomSpec, GroupBy, KeyUnion, Reducer, Sink, SortKeySpec,
    Sorted, SpillOptions, SpillStats, TopK, DEFAULT_FAN_IN,
};
use crate::sink::encode::Encoder;
use crate::sink::rejects::{MaxErrors, OnError};
use crate::sink::Output;
use crate::source::{ChunkLimit, Input, Sample, Splitter};
use crate::transform::{Chain, ExecFormat, Layout, Projection, Step, ValueOptions};

pub use crate::source::{DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES, MIN_AUTO_CHUNK_BYTES};
use crate::units::human_bytes;

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
    /// records); groups in group-by order. See [`TopK`].
    TopK {
        /// Records kept per group (at least 1; 0 is an [`Error::Flag`]).
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
    /// input and unknown extensions: CSV).
    pub input_format: Option<Format>,
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
    /// order given; see [`crate::transform::chain`].
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
    /// [`Error::MemoryLimit`]. Not covered: the final merge's read buffers
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
    /// recorded (see [`crate::exec::journal`]). Needs a `--map` or
    /// `--exec` step and input files. [`Pipeline::run`] leaves the file in
    /// place; remove it once the output is safely committed (the command
    /// does). `None`: no journal (the default).
    pub journal: Option<JournalSpec>,
}

/// The default `--memory-limit` in bytes: a quarter of the physical memory
/// (`MemTotal` in `/proc/meminfo`, or the cgroup v2 `memory.max` when it is
/// smaller), or 1 GiB when neither can be read.
pub fn default_memory_limit() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: u64 =
            line.trim_start_matches("MemTotal:").trim().strip_suffix("kB")?.trim().parse().ok()?;
        Some(kib * 1024)
    });
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|m| m.trim().parse::<u64>().ok());
    let total = match (meminfo, cgroup) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(4 << 30),
    };
    (total / 4).max(1)
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
                _ => None,
            })
            .unwrap_or(Format::Csv)
    }

    /// Runs the pipeline, writing the result to `out` (named `out_name` in
    /// errors).
    ///
    /// # Errors
    /// Bad settings ([`Error::Flag`], [`Error::UnknownColumn`]), a
    /// [`Pipeline::journal`] that cannot be used ([`Error::Journal`]), and
    /// any error from reading, parsing, reducing or writing, naming its
    /// place.
    pub fn run(&self, out: &mut dyn Write, out_name: &str) -> Result<RunStats> {
        let has_map = self.steps.iter().any(Step::is_map);
        let out_format = self.output_format.unwrap_or(self.resolved_input_format());
        let writes_records = matches!(
            self.reduce,
            ReduceSpec::Concat | ReduceSpec::Sort(_) | ReduceSpec::TopK { .. }
        );
        if has_map && out_format.is_delimited() && writes_records {
            return self.run_key_union(out, out_name);
        }
        self.run_collecting(out, out_name, None)
    }

    /// Records a `--map` made, written as CSV: the header is the union of
    /// their keys in first-seen input order, known only at the end. The
    /// records go to a temporary NDJSON file first (bounded memory), then
    /// are written under that header, in parallel.
    fn run_key_union(&self, out: &mut dyn Write, out_name: &str) -> Result<RunStats> {
        let out_format = self.output_format.unwrap_or(self.resolved_input_format());
        let out_delimiter = self.output_delimiter(out_format);
        let dir = self.resolved_temp_dir();
        let tmp = tempfile::NamedTempFile::new_in(&dir)
            .map_err(|e| Error::io(format!("{} (--temp-dir)", dir.display()), e))?;
        let tmp_name = tmp.path().display().to_string();
        let keys = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let mut first = self.clone();
        first.output_format = Some(Format::Ndjson);
        let mut stats = {
            let mut w = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file());
            let stats = first.run_collecting(&mut w, &tmp_name, Some(keys.clone()))?;
            w.flush().map_err(|e| Error::io(&tmp_name, e))?;
            stats
        };
        let keys = std::mem::take(&mut *keys.lock());
        if keys.is_empty() {
            return Ok(stats);
        }
        let layout = Layout::new(
            &Projection { select: Some(keys.clone()), ..Projection::default() },
            &keys,
            true,
            false,
        )?;
        let encoder = Encoder::new(out_format, out_delimiter, layout, self.null_bytes())
            .with_no_infer(self.no_infer);
        let chunk = ChunkLimit::Bytes(DEFAULT_CHUNK_BYTES);
        let mut splitter =
            Splitter::new(vec![Input::Path(tmp.path().to_path_buf())], Format::Ndjson, b',', chunk);
        splitter.header()?;
        let parse = ParseOptions {
            format: Format::Ndjson,
            delimiter: b',',
            header_len: 0,
            input_names: vec![tmp_name],
        };
        let mut sink = Sink::new(out, out_name);
        let opts = ExecOptions {
            threads: self.threads,
            max_in_flight: self.max_in_flight,
            on_error: OnError::Fail,
            max_errors: None,
            progress: false,
            input_bytes: None,
        };
        let reducer = Arc::new(Concat::new(encoder));
        let written = exec::run(splitter, parse, None, reducer, &mut sink, None, opts)?;
        stats.bytes_written = written.bytes_written;
        stats.records_written = written.records_written;
        stats.elapsed_secs += written.elapsed_secs;
        Ok(stats)
    }

    fn run_collecting(
        &self,
        out: &mut dyn Write,
        out_name: &str,
        union: Option<Arc<parking_lot::Mutex<Vec<String>>>>,
    ) -> Result<RunStats> {
        match &self.reduce {
            ReduceSpec::Concat => {
                self.run_wrapped(out, out_name, union.clone(), |_, enc| Ok(Concat::new(enc)))
            }
            ReduceSpec::Sort(keys_spec) => {
                let spilled = Arc::new(SpillStats::default());
                let spill = SpillOptions {
                    budget: self.plan().state_budget,
                    dir: self.resolved_temp_dir(),
                    fan_in: DEFAULT_FAN_IN,
                };
                let mut stats = self.run_wrapped(out, out_name, union.clone(), |layout, enc| {
                    let resolved = keys_spec
                        .iter()
                        .map(|k| Ok((layout.resolve("--sort-by", &k.column)?, k.clone())))
                        .collect::<Result<Vec<_>>>()?;
                    Ok(Sorted::new(resolved, enc, self.null_bytes())
                        .with_merge_threads(self.threads)
                        .with_spill(spill, spilled.clone()))
                })?;
                stats.spilled_runs = spilled.runs.load(Relaxed);
                stats.spilled_bytes = spilled.bytes.load(Relaxed);
                Ok(stats)
            }
            ReduceSpec::Custom(spec) => self.run_with(out, out_name, |layout, enc| {
                let opts =
                    ValueOptions { no_infer: self.no_infer, null_markers: self.null_bytes() };
                CustomReduce::new(spec, layout.clone(), enc, opts)
            }),
            ReduceSpec::GroupBy { keys: group_keys, aggs } => {
                self.run_with(out, out_name, |layout, enc| {
                    let keys = group_keys
                        .iter()
                        .map(|k| layout.resolve("--group-by", k))
                        .collect::<Result<Vec<_>>>()?;
                    let aggs = aggs
                        .iter()
                        .map(|a| {
                            let col = a
                                .column
                                .as_ref()
                                .map(|c| layout.resolve("--agg", c))
                                .transpose()?;
                            Ok((a.clone(), col))
                        })
                        .collect::<Result<Vec<_>>>()?;
                    let plan = self.plan();
                    Ok(GroupBy::new(keys, aggs, enc, self.null_bytes())
                        .with_memory_limit(plan.state_budget, plan.memory_limit))
                })
            }
            ReduceSpec::TopK { k, keys, group_by } => {
                if *k == 0 {
                    return Err(Error::flag("--top", "must be at least 1"));
                }
                self.run_wrapped(out, out_name, union, |layout, enc| {
                    let keys = keys
                        .iter()
                        .map(|s| Ok((layout.resolve("--sort-by", &s.column)?, s.clone())))
                        .collect::<Result<Vec<_>>>()?;
                    let group_by = group_by
                        .iter()
                        .map(|c| layout.resolve("--group-by", c))
                        .collect::<Result<Vec<_>>>()?;
                    Ok(TopK::new(*k, keys, group_by, enc, self.null_bytes()))
                })
            }
        }
    }

    /// [`Pipeline::run_with`], with the reducer wrapped in a [`KeyUnion`]
    /// when `keys` is given.
    fn run_wrapped<R: Reducer>(
        &self,
        out: &mut dyn Write,
        out_name: &str,
        keys: Option<Arc<parking_lot::Mutex<Vec<String>>>>,
        make: impl FnOnce(&Layout, Encoder) -> Result<R>,
    ) -> Result<RunStats> {
        match keys {
            None => self.run_with(out, out_name, make),
            Some(k) => self.run_with(out, out_name, |l, e| Ok(KeyUnion::new(make(l, e)?, k))),
        }
    }

    fn output_delimiter(&self, out_format: Format) -> u8 {
        let format = self.resolved_input_format();
        let delimiter = self.delimiter.or(format.default_delimiter()).unwrap_or(b',');
        match (self.output_delimiter, self.output_format) {
            (Some(d), _) => d,
            (None, None) => delimiter,
            (None, Some(_)) => out_format.default_delimiter().unwrap_or(b','),
        }
    }

    /// Runs the pipeline with a custom reducer, built by `make` from the
    /// resolved output layout and an encoder for the output format.
    ///
    /// # Errors
    /// As [`Pipeline::run`], plus any error `make` returns.
    pub fn run_with<R: Reducer>(
        &self,
        out: &mut dyn Write,
        out_name: &str,
        make: impl FnOnce(&Layout, Encoder) -> Result<R>,
    ) -> Result<RunStats> {
        if self.threads == 0 {
            return Err(Error::flag("--threads", "must be at least 1"));
        }
        if self.max_in_flight == 0 {
            return Err(Error::flag("--max-in-flight", "must be at least 1"));
        }
        if self.memory_limit == Some(0) {
            return Err(Error::flag("--memory-limit", "must be at least 1 byte"));
        }
        if matches!(self.delimiter, Some(b'"' | b'\n')) {
            // The splitter could not tell records apart.
            return Err(Error::flag("--delimiter", "must not be a quote or a newline"));
        }
        match self.chunk {
            ChunkLimit::Bytes(0) => return Err(Error::flag("--chunk-bytes", "must be at least 1")),
            ChunkLimit::Records(0) => {
                return Err(Error::flag("--chunk-size", "must be at least 1"))
            }
            ChunkLimit::Bytes(b) if b > MAX_CHUNK_BYTES => {
                return Err(Error::flag("--chunk-bytes", "must be at most 1GiB"))
            }
            _ => {}
        }
        let format = self.resolved_input_format();
        let delimiter = self.delimiter.or(format.default_delimiter()).unwrap_or(b',');
        let out_format = self.output_format.unwrap_or(format);
        let out_delimiter = match (self.output_delimiter, self.output_format) {
            (Some(d), _) => d,
            (None, None) => delimiter,
            (None, Some(f)) => f.default_delimiter().unwrap_or(b','),
        };
        let plan = self.plan();
        // A resumed run cuts the input where the journal's run did.
        let journal = match &self.journal {
            Some(spec) => {
                let print = self.fingerprint()?;
                Some(Arc::new(Journal::open(spec, &print, plan.chunk)?))
            }
            None => None,
        };
        let chunk = journal.as_ref().map_or(plan.chunk, |j| j.chunk());
        let mut splitter = Splitter::new(self.inputs.clone(), format, delimiter, chunk);
        let header = splitter.header()?;
        if let (true, Some(c), ChunkLimit::Bytes(max_bytes)) =
            (plan.chunk_from_stream, plan.exec_concurrency, plan.chunk)
        {
            // An external step reading a stream: records per chunk from
            // the stream's first bytes (see `external_chunking`).
            if journal.is_none() {
                let sample = splitter.sample(EXTERNAL_SAMPLE_BYTES)?;
                let slots = EXTERNAL_CHUNKS_PER_SLOT * c as u64;
                let per_chunk = records_per_chunk(sample, sample.records, slots, max_bytes as u64);
                splitter.set_limit(ChunkLimit::Records(per_chunk));
            }
        }
        let columns = header.clone().unwrap_or_default();
        let json_input = format.is_json();
        let (chain, projection) = if self.steps.is_empty() {
            (None, self.projection.clone())
        } else {
            let opts = ValueOptions { no_infer: self.no_infer, null_markers: self.null_bytes() };
            // An `--exec` step without a format speaks the input's.
            let steps: Vec<Step> = self
                .steps
                .iter()
                .map(|s| match s {
                    Step::Exec(spec) if spec.format.is_none() => {
                        let mut spec = spec.clone();
                        spec.format = Some(ExecFormat::for_input(format));
                        Step::Exec(spec)
                    }
                    other => other.clone(),
                })
                .collect();
            let built = Chain::new(
                &self.projection,
                &steps,
                &columns,
                json_input,
                opts,
                out_format.is_delimited(),
            );
            match (built, &header) {
                (Ok((chain, projection)), _) => (Some(Arc::new(chain)), projection),
                // With no input at all there are no columns to check flags
                // against, and nothing to run.
                (Err(_), None) => (None, Projection::default()),
                (Err(e), Some(_)) => return Err(e),
            }
        };
        let value_stage = chain.as_ref().is_some_and(|c| c.has_value_stage());
        let layout = if value_stage {
            Ok(Layout::open(out_format.is_json()))
        } else {
            Layout::new(&projection, &columns, json_input, out_format.is_json())
        };
        // With no input at all there are no columns to check flags against.
        let layout = match (layout, &header) {
            (Ok(l), _) => l,
            (Err(_), None) => Layout::new(&Projection::default(), &[], json_input, true)?,
            (Err(e), Some(_)) => return Err(e),
        };
        let mut encoder =
            Encoder::new(out_format, out_delimiter, layout.clone(), self.null_bytes())
                .with_no_infer(self.no_infer);
        if format.is_delimited() && !value_stage {
            encoder = encoder.with_csv_input(delimiter, columns.len());
        }
        // Every input is empty: nothing to read, and no header to write (a
        // JSON array output is still `[]`).
        let empty = |out: &mut dyn Write| {
            Sink::new(out, out_name).framed(out_format).close()?;
            Ok(RunStats { threads: self.threads, ..RunStats::default() })
        };
        let reducer = match make(&layout, encoder) {
            Ok(r) => r,
            Err(e) if header.is_some() => return Err(e),
            Err(_) => return empty(out),
        };
        if header.is_none() {
            return empty(out);
        }
        let mut sink = Sink::new(out, out_name).framed(out_format);
        let parse = ParseOptions {
            format,
            delimiter,
            header_len: columns.len(),
            input_names: splitter.input_names().to_vec(),
        };
        // An `--exec` step runs up to its --concurrency commands at once,
        // each waiting on a worker: the pool grows to that many threads,
        // and the window to twice as many chunks, so that a slow chunk
        // (which holds up the in-order merge) does not idle the others.
        let exec_concurrency = chain.as_ref().and_then(|c| c.exec_concurrency()).unwrap_or(0);
        let opts = ExecOptions {
            threads: self.threads.max(exec_concurrency),
            max_in_flight: self.max_in_flight.max(2 * exec_concurrency),
            on_error: self.on_error,
            max_errors: self.max_errors,
            progress: self.progress,
            input_bytes: plan.input_bytes,
        };
        let mut rejects_out = match (&self.rejects, self.on_error) {
            (Some(path), OnError::Reject) => Some(Output::file(path)?),
            _ => None,
        };
        let rejects_name = rejects_out.as_ref().map(|o| o.name().to_string()).unwrap_or_default();
        let result = {
            let mut rejects_sink = rejects_out.as_mut().map(|o| Sink::new(o, &rejects_name));
            exec::run_journaled(
                splitter,
                parse,
                chain.clone(),
                Arc::new(reducer),
                &mut sink,
                rejects_sink.as_mut(),
                opts,
                journal,
            )
            .map(|mut stats| {
                stats.exec = chain.as_ref().and_then(|c| c.exec_stats());
                stats
            })
        };
        // The rejects file is kept even when the run fails: it is the
        // account of what was set aside before the failure. An interrupted
        // run leaves nothing behind.
        if let Some(o) = rejects_out {
            if !matches!(result, Err(Error::Interrupted { .. })) {
                o.commit()?;
            }
        }
        result
    }

    /// How this run will be cut and scheduled: the chunk size (the one
    /// given, or chosen from the input's size), the threads, the in-flight
    /// window and the memory they bound. `--explain` prints it.
    ///
    /// The automatic chunk size is [`DEFAULT_CHUNK_BYTES`] (4 MiB, the
    /// fastest measured on large inputs), made smaller for inputs that would
    /// otherwise give fewer than 4 chunks per thread, down to 64 KiB, so that
    /// every core gets work and work stealing can even out slow chunks.
    /// With `--exec` steps, the threads are at least their concurrency.
    pub fn plan(&self) -> Plan {
        let sizes: Option<Vec<u64>> = self.inputs.iter().map(Input::size).collect();
        let input_bytes = sizes.map(|v| v.iter().sum::<u64>());
        // With `--exec`, the pool and the window grow (see `run_with`), and
        // the automatic chunk size counts the commands as threads.
        let exec_concurrency =
            self.steps.iter().filter_map(Step::exec).map(|s| s.concurrency).max();
        let c = exec_concurrency.unwrap_or(0);
        let threads = self.threads.max(1).max(c);
        let memory_limit = self.resolved_memory_limit();
        // Automatic chunks are made small enough for the window to take at
        // most half the memory limit (but never below the minimum).
        let window_cap = (memory_limit / (4 * self.max_in_flight.max(1) as u64))
            .saturating_sub(64 << 10)
            .max(MIN_AUTO_CHUNK_BYTES as u64);
        let capped = |bytes: u64, why: String| {
            if bytes > window_cap {
                (
                    window_cap,
                    format!(
                        "automatic: lowered so that the window takes at most half of the \
                         memory limit, at least {} KiB",
                        MIN_AUTO_CHUNK_BYTES >> 10
                    ),
                )
            } else {
                (bytes, why)
            }
        };
        let mut expected_chunks = None;
        let chunk_from_stream = matches!(self.chunk, ChunkLimit::Auto)
            && c > 0
            && input_bytes.is_none()
            && self.resolved_input_format() != Format::Json;
        let (chunk, chunk_reason) = match (self.chunk, input_bytes) {
            (ChunkLimit::Auto, _) if c > 0 => {
                let max_bytes = window_cap.min(DEFAULT_CHUNK_BYTES as u64);
                let (chunk, why, expected) = self.external_chunking(c, input_bytes, max_bytes);
                expected_chunks = expected;
                (chunk, why)
            }
            (ChunkLimit::Auto, Some(total)) => {
                let per_thread = total / (4 * threads as u64);
                let bytes =
                    per_thread.clamp(MIN_AUTO_CHUNK_BYTES as u64, DEFAULT_CHUNK_BYTES as u64);
                let why = if bytes == DEFAULT_CHUNK_BYTES as u64 {
                    "automatic: the default, fastest measured on large inputs".to_string()
                } else {
                    format!(
                        "automatic: input / (4 chunks × {threads} threads), at least {} KiB, \
                         so every thread gets several chunks",
                        MIN_AUTO_CHUNK_BYTES >> 10
                    )
                };
                let (bytes, why) = capped(bytes, why);
                (ChunkLimit::Bytes(bytes as usize), why)
            }
            (ChunkLimit::Auto, None) => {
                let why = "automatic: the default (the input size is not known)".to_string();
                let (bytes, why) = capped(DEFAULT_CHUNK_BYTES as u64, why);
                (ChunkLimit::Bytes(bytes as usize), why)
            }
            (given, _) => (given, "given on the command line".to_string()),
        };
        let expected_chunks = match (chunk, input_bytes) {
            (ChunkLimit::Bytes(b), Some(total)) => Some(total.div_ceil(b as u64).max(1)),
            _ => expected_chunks,
        };
        let max_in_flight = self.max_in_flight.max(2 * c);
        let memory_bound = match chunk {
            // A chunk's bytes plus its encoded partial, for each slot.
            ChunkLimit::Bytes(b) => Some(2 * (b + (64 << 10)) as u64 * max_in_flight as u64),
            _ => None,
        };
        // The reducer's state gets what the window leaves of the limit, at
        // least half of it.
        let state_budget =
            memory_limit.saturating_sub(memory_bound.unwrap_or(u64::MAX)).max(memory_limit / 2);
        let memory_limit_reason = match self.memory_limit {
            Some(_) => "given".to_string(),
            None => "default: a quarter of the physical memory".to_string(),
        };
        Plan {
            input_bytes,
            chunk,
            chunk_reason,
            threads,
            max_in_flight,
            expected_chunks,
            memory_bound,
            memory_limit,
            memory_limit_reason,
            state_budget,
            exec_concurrency,
            chunk_from_stream,
        }
    }

    /// The automatic chunk size of a pipeline with an `--exec` or
    /// `--exec-persistent` step running `concurrency` commands at once:
    /// such a step costs about the same for every record, and inputs are
    /// often small, so chunks are sized in records, to give every command
    /// slot [`EXTERNAL_CHUNKS_PER_SLOT`] chunks when the input holds that
    /// many records (one record a chunk when it holds fewer), and no
    /// chunk over `max_bytes`. The records are counted in the first
    /// [`EXTERNAL_SAMPLE_BYTES`] of the first input, and estimated from
    /// its records per byte when the inputs hold more. Standard input is
    /// sampled by the run itself (see [`Pipeline::run_with`]), once its
    /// header is read; a JSON array (whose records are not lines) gets
    /// chunks of `input / (4 × concurrency)` bytes. Returns the limit, the
    /// reason `--explain` gives, and the chunks expected.
    fn external_chunking(
        &self,
        concurrency: usize,
        input_bytes: Option<u64>,
        max_bytes: u64,
    ) -> (ChunkLimit, String, Option<u64>) {
        let slots = EXTERNAL_CHUNKS_PER_SLOT * concurrency as u64;
        let format = self.resolved_input_format();
        let fallback = |why: &str| {
            let bytes = input_bytes.map_or(max_bytes, |t| (t / slots).clamp(1, max_bytes));
            let why = format!("automatic, with an external step: {why}");
            (ChunkLimit::Bytes(bytes as usize), why, None)
        };
        let Some(total) = input_bytes else {
            return fallback(&format!(
                "the records in the first {} of standard input / ({} chunks × {concurrency} \
                 commands at once), so every command slot gets several chunks",
                human_bytes(EXTERNAL_SAMPLE_BYTES as u64),
                EXTERNAL_CHUNKS_PER_SLOT
            ));
        };
        if format == Format::Json {
            return fallback(&format!(
                "input / ({EXTERNAL_CHUNKS_PER_SLOT} chunks × {concurrency} commands at once), \
                 so every command slot gets several chunks"
            ));
        }
        let delimiter = self.delimiter.or(format.default_delimiter()).unwrap_or(b',');
        let first = self.inputs.iter().take(1).cloned().collect();
        let mut splitter = Splitter::new(first, format, delimiter, ChunkLimit::Auto);
        let Ok(sample) = splitter.sample(EXTERNAL_SAMPLE_BYTES) else {
            // The run reports the error.
            return fallback("the default (the input could not be read)");
        };
        let whole = sample.whole_input && self.inputs.len() == 1;
        let records = estimated_records(sample, total, whole);
        let per_chunk = records_per_chunk(sample, records, slots, max_bytes);
        let how =
            if whole { "records" } else { "records (estimated from the first input's start)" };
        let why = format!(
            "automatic, with an external step: {records} {how} / ({EXTERNAL_CHUNKS_PER_SLOT} \
             chunks × {concurrency} commands at once), so every command slot gets several \
             chunks"
        );
        (ChunkLimit::Records(per_chunk), why, Some(records.div_ceil(per_chunk as u64).max(1)))
    }

    fn null_bytes(&self) -> Vec<Vec<u8>> {
        self.null_markers.iter().map(|s| s.as_bytes().to_vec()).collect()
    }
}

/// With an `--exec` or `--exec-persistent` step, the automatic chunk size
/// aims at this many chunks for each command that may run at once, so that
/// every slot stays busy and a slow chunk can be made up by the others.
pub const EXTERNAL_CHUNKS_PER_SLOT: u64 = 4;

/// With an external step, bytes at the start of the first input in which
/// the automatic chunk size counts records (1 MiB).
pub const EXTERNAL_SAMPLE_BYTES: usize = 1 << 20;

/// The records of inputs of `total` bytes, from a `sample` of the first:
/// exact when the sample is `whole` (the only input, all of it), else its
/// records per byte times `total`.
fn estimated_records(sample: Sample, total: u64, whole: bool) -> u64 {
    if whole || sample.bytes == 0 {
        sample.records
    } else {
        (sample.records as f64 * total as f64 / sample.bytes as f64).ceil() as u64
    }
}

/// Records per chunk for `records` records over at least `slots` chunks
/// (rounded down, at least 1), and no more than fit in `max_bytes` at the
/// `sample`'s bytes per record.
fn records_per_chunk(sample: Sample, records: u64, slots: u64, max_bytes: u64) -> usize {
    let per_chunk = (records / slots).max(1);
    let bytes_per_record = sample.bytes.div_ceil(sample.records.max(1)).max(1);
    per_chunk.min((max_bytes / bytes_per_record).max(1)) as usize
}

/// How a run is cut and scheduled; see [`Pipeline::plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Total size of the inputs in bytes, when every input is a file.
    pub input_bytes: Option<u64>,
    /// The chunk size used (never [`ChunkLimit::Auto`]).
    pub chunk: ChunkLimit,
    /// Why that chunk size.
    pub chunk_reason: String,
    /// Worker threads.
    pub threads: usize,
    /// Chunks in flight at most.
    pub max_in_flight: usize,
    /// Number of chunks expected, when sizes are known.
    pub expected_chunks: Option<u64>,
    /// Bytes the in-flight window holds at most (chunk bytes and encoded
    /// partials), not counting the reducer's own state.
    pub memory_bound: Option<u64>,
    /// The memory limit, in bytes ([`Pipeline::resolved_memory_limit`]).
    pub memory_limit: u64,
    /// Where the memory limit comes from.
    pub memory_limit_reason: String,
    /// Bytes the reducer's state may hold: the memory limit less the
    /// window's bound, at least half the limit (half when the window's size
    /// is not known). A sort spills past it; a group-by fails.
    pub state_budget: u64,
    /// With `--exec` steps: the most commands of one step running at once
    /// (`threads` and `max_in_flight` have grown to it).
    pub exec_concurrency: Option<usize>,
    /// The run chooses the records per chunk itself, from the first
    /// [`EXTERNAL_SAMPLE_BYTES`] of standard input (an automatic chunk
    /// size with an external step); `chunk` is then the most bytes a chunk
    /// is meant to hold.
    pub chunk_from_stream: bool,
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let input = self.input_bytes.map_or("unknown (standard input)".into(), human_bytes);
        writeln!(f, "input:        {input}")?;
        let chunk = match self.chunk {
            _ if self.chunk_from_stream => "records, chosen once read".into(),
            ChunkLimit::Bytes(b) => human_bytes(b as u64),
            ChunkLimit::Records(n) => format!("{n} records"),
            ChunkLimit::Auto => "automatic".into(),
        };
        writeln!(f, "chunk:        {chunk} ({})", self.chunk_reason)?;
        let expected = self.expected_chunks.map_or("unknown".into(), |n| n.to_string());
        writeln!(f, "chunks:       {expected} expected")?;
        writeln!(f, "threads:      {}", self.threads)?;
        if let Some(c) = self.exec_concurrency {
            writeln!(
                f,
                "exec:         {c} commands at once (threads at least {c}, window at least {})",
                2 * c
            )?;
        }
        writeln!(
            f,
            "window:       {} chunks in flight (a chunk holds its slot until merged)",
            self.max_in_flight
        )?;
        let mem = self.memory_bound.map_or("unknown (chunks sized in records)".into(), |b| {
            format!("{} (window × 2 × chunk), plus the reducer's state", human_bytes(b))
        });
        writeln!(f, "memory bound: {mem}")?;
        write!(
            f,
            "memory limit: {} ({}); {} of it for the reducer's state (a sort spills past it, a \
             group-by fails)",
            human_bytes(self.memory_limit),
            self.memory_limit_reason,
            human_bytes(self.state_budget)
        )
    }
}
