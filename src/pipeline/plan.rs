//! How a run is cut and scheduled: [`Pipeline::plan`] chooses the chunk
//! size (given, or automatic from the input's size and the memory limit),
//! the threads, the in-flight window and the memory they bound, into a
//! [`Plan`], which `--explain` prints (its `Display`).

use super::{Pipeline, ReduceSpec};
use crate::format::Format;
use crate::source::{ChunkLimit, Input, DEFAULT_CHUNK_BYTES, MIN_AUTO_CHUNK_BYTES};
use crate::transform::Step;
use crate::units::human_bytes;

impl Pipeline {
    /// How this run will be cut and scheduled: the chunk size (the one
    /// given, or chosen from the input's size), the threads, the in-flight
    /// window and the memory they bound. `--explain` prints it.
    ///
    /// The automatic chunk size is [`DEFAULT_CHUNK_BYTES`] (4 MiB, the
    /// fastest measured on large inputs), made smaller for inputs that would
    /// otherwise give fewer than 4 chunks per thread, down to 64 KiB, so that
    /// every core gets work and work stealing can even out slow chunks.
    /// With `--exec` steps, the threads are at least their concurrency.
    ///
    /// ```
    /// use fanfold::{ChunkLimit, Input, Pipeline};
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("in.csv");
    /// std::fs::write(&path, "city,amount\nOslo,1.50\n".repeat(1000))?;
    /// let pipeline = Pipeline::builder().input(Input::Path(path)).threads(2).build()?;
    /// let plan = pipeline.plan();
    /// assert_eq!(plan.input_bytes, Some(22_000));
    /// // A small file: the smallest automatic chunk, one chunk.
    /// assert_eq!(plan.chunk, ChunkLimit::Bytes(fanfold::MIN_AUTO_CHUNK_BYTES));
    /// assert_eq!((plan.threads, plan.expected_chunks), (2, Some(1)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn plan(&self) -> Plan {
        let sizes: Option<Vec<u64>> = self.inputs.iter().map(Input::size).collect();
        let input_bytes = sizes.map(|v| v.iter().sum::<u64>());
        // With `--exec`, the pool and the window grow (see `run_with`), and
        // the automatic chunk size counts the commands as threads.
        let exec_concurrency =
            self.steps.iter().filter_map(Step::exec).map(|s| s.concurrency).max();
        let c = exec_concurrency.unwrap_or(0);
        let http: Vec<&crate::transform::HttpSpec> =
            self.steps.iter().filter_map(Step::http).collect();
        let http_concurrency = http.iter().map(|s| s.concurrency).max();
        let threads =
            self.threads.max(1).max(c).max(if http.is_empty() { 1 } else { HTTP_MIN_THREADS });
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
            (ChunkLimit::Auto, _) if c == 0 && http_concurrency.is_some() => {
                let n = http_concurrency.unwrap_or(1).max(1);
                (
                    ChunkLimit::Records(n),
                    format!(
                        "automatic, with an --http step: --concurrency ({n}) records a chunk, \
                         so that the chunks in hand keep every request slot busy"
                    ),
                )
            }
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
        let reducer = reducer_plan(&self.reduce, threads);
        let inputs = self.inputs.iter().map(describe_input).collect();
        let format = self.describe_format();
        Plan {
            inputs,
            format,
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
            http: http.iter().map(|s| describe_http(s)).collect(),
            chunk_from_stream,
            reducer,
        }
    }
}

/// How `reduce` runs on `threads` workers and what it does past its
/// budget, in words (the `reducer:` line of `--explain`).
fn reducer_plan(reduce: &ReduceSpec, threads: usize) -> String {
    match reduce {
        ReduceSpec::Concat => "concat: records written in input order; no state".into(),
        ReduceSpec::Sort(_) => format!(
            "sort: records held in memory up to the state's share; past it they spill as a \
             sorted run to --temp-dir; runs and memory k-way merged ({threads} thread(s)), ties \
             in input order"
        ),
        ReduceSpec::GroupBy { keys, .. } if keys.is_empty() => {
            "aggregate: one row over all records; each worker folds into a state of its own, \
             merged at the end"
                .into()
        }
        ReduceSpec::GroupBy { .. } => format!(
            "group-by: each of {threads} worker(s) folds its chunks into a hash table of its \
             own; at the end the groups are ordered by key on every thread and a key held by \
             several workers merged exactly; past the state's share a worker's table spills as a \
             run sorted by key to --temp-dir, and the runs are merged by key"
        ),
        ReduceSpec::TopK { group_by, .. } => {
            let (what, each) =
                if group_by.is_empty() { ("top-k", "") } else { ("top-k per group", " per group") };
            format!(
                "{what}: each of {threads} worker(s) keeps fewer than 2K records{each} of the \
                 chunks it folds, dropping a record that cannot enter before it is encoded; at \
                 the end the records are cut to K{each} and ordered on every thread; past the \
                 state's share a worker's records spill as a run sorted by group and order to \
                 --temp-dir, and the runs are merged, the first K{each} kept"
            )
        }
        ReduceSpec::Custom(_) => "custom (jq): one accumulator per chunk, merged in input order; \
                                  past the state's share the run stops with an error"
            .into(),
    }
}

impl Pipeline {
    /// The `format:` line of `--explain`.
    fn describe_format(&self) -> String {
        let format = self.resolved_input_format();
        let mut out = format!("{format:?}").to_lowercase();
        if format.is_delimited() {
            let d = self.resolved_delimiter(format);
            let shown = if d == b'\t' { "tab".to_string() } else { format!("`{}`", char::from(d)) };
            let why = match (self.delimiter, self.sniffed_delimiter) {
                (Some(_), _) => "given".to_string(),
                (None, Some(s)) if s.sure => {
                    format!("found in the first {} records of the first input", s.records)
                }
                (None, Some(_)) => "the default: no delimiter fits every first line".to_string(),
                (None, None) if format == Format::Tsv => "TSV's".to_string(),
                (None, None) => "to be found in the first lines of the stream as it is read, \
                                 else the default"
                    .to_string(),
            };
            out += &format!(", delimiter {shown} ({why})");
            if self.skip_rows > 0 {
                out += &format!(", {} line(s) skipped before each header", self.skip_rows);
            }
            if let Some(c) = self.comment {
                out += &format!(", lines beginning with `{}` skipped", char::from(c));
            }
        }
        let encoding = self.encoding.map_or("UTF-8 (UTF-16 by its byte-order mark)", |e| e.name());
        out + &format!(", text {encoding}")
    }
}

/// An input as `--explain` lists it: its name, and for a file its size
/// and the compression its first bytes name.
fn describe_input(input: &Input) -> String {
    let name = crate::error::escape_control(&input.name()).into_owned();
    match (input.size(), input.compression()) {
        (Some(size), Some(c)) => format!("{name} ({}, {c})", human_bytes(size)),
        (Some(size), None) => format!("{name} ({})", human_bytes(size)),
        _ => name,
    }
}

/// Inputs `--explain` lists one by one, at most; the rest are counted.
const LISTED_INPUTS: usize = 20;

/// How a run is cut and scheduled; see [`Pipeline::plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The inputs in the order they are read, directories replaced by
    /// their files: each one's name, and for a file its size and its
    /// compression (`flights.csv.gz (12.0 MiB, gzip)`).
    pub inputs: Vec<String>,
    /// The input format and how its text is read, in words: for CSV the
    /// delimiter and where it comes from, the encoding, lines skipped.
    pub format: String,
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
    /// is not known). A sort and a group-by spill past it; see
    /// [`Plan::reducer`].
    pub state_budget: u64,
    /// With `--exec` steps: the most commands of one step running at once
    /// (`threads` and `max_in_flight` have grown to it).
    pub exec_concurrency: Option<usize>,
    /// Each `--http` step, in words: its URL (no query string), limits and
    /// header names (never their values).
    pub http: Vec<String>,
    /// The run chooses the records per chunk itself, from the first
    /// 1 MiB of standard input (an automatic chunk
    /// size with an external step); `chunk` is then the most bytes a chunk
    /// is meant to hold.
    pub chunk_from_stream: bool,
    /// How the reducer runs and what it does past
    /// [`state_budget`](Self::state_budget), in words.
    pub reducer: String,
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let input = self.input_bytes.map_or("unknown (standard input)".into(), human_bytes);
        writeln!(f, "input:        {input}")?;
        if self.inputs.len() > 1 || self.inputs.first().is_some_and(|i| i.contains(" (")) {
            writeln!(f, "files:        {}", self.inputs.len())?;
            for name in self.inputs.iter().take(LISTED_INPUTS) {
                writeln!(f, "              {name}")?;
            }
            if self.inputs.len() > LISTED_INPUTS {
                writeln!(f, "              and {} more", self.inputs.len() - LISTED_INPUTS)?;
            }
        }
        let chunk = match self.chunk {
            _ if self.chunk_from_stream => "records, chosen once read".into(),
            ChunkLimit::Bytes(b) => human_bytes(b as u64),
            ChunkLimit::Records(n) => format!("{n} records"),
            ChunkLimit::Auto => "automatic".into(),
        };
        writeln!(f, "format:       {}", self.format)?;
        writeln!(f, "chunk:        {chunk} ({})", self.chunk_reason)?;
        let expected = self.expected_chunks.map_or("unknown".into(), |n| n.to_string());
        writeln!(f, "chunks:       {expected} expected")?;
        writeln!(f, "threads:      {}", self.threads)?;
        for h in &self.http {
            writeln!(f, "http:         {h}")?;
        }
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
        writeln!(
            f,
            "memory limit: {} ({}); {} of it for the reducer's state",
            human_bytes(self.memory_limit),
            self.memory_limit_reason,
            human_bytes(self.state_budget)
        )?;
        write!(f, "reducer:      {}", self.reducer)
    }
}

/// The fewest worker threads a run with an `--http` step has (4): each
/// waits on a chunk's requests, so that while one chunk's last answers
/// come in, the others' requests keep the slots busy.
pub const HTTP_MIN_THREADS: usize = 4;

/// An `--http` step for `--explain`: `http://host/path, 64 requests in
/// flight, rate 100/s (burst 5), retries 3, timeout 30s, headers
/// Authorization: <redacted>`.
fn describe_http(s: &crate::transform::HttpSpec) -> String {
    use crate::transform::command::spec::show_duration;
    let mut t = format!(
        "{}, {} requests in flight at most",
        crate::transform::http::shown_url(&s.url),
        s.concurrency
    );
    if let Some(r) = s.rate {
        t.push_str(&format!(", rate {r} (burst {})", s.resolved_burst()));
    }
    if let Some(r) = s.token_rate {
        t.push_str(&format!(", tokens {r}"));
    }
    t.push_str(&format!(", retries {}", s.retries));
    if let Some(d) = s.timeout {
        t.push_str(&format!(", timeout {}", show_duration(d)));
    }
    if s.replicas > 1 {
        t.push_str(&format!(", {} replicas", s.replicas));
    }
    if !s.headers.is_empty() {
        let names: Vec<String> = s
            .headers
            .iter()
            .map(|h| {
                format!(
                    "{}: {}",
                    crate::transform::http::header_name(h),
                    crate::transform::http::secrets::REDACTED
                )
            })
            .collect();
        t.push_str(&format!(", headers {}", names.join(", ")));
    }
    t
}
