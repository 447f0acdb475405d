//! The command line: clap definitions and their conversion into a
//! [`Pipeline`](fanfold::Pipeline). The engine never sees clap types.
//! This file holds the flags ([`Args`]); `parse.rs` their value parsers,
//! `check.rs` the checks clap's attributes cannot say, `convert.rs` the
//! steps in command-line order and the [`fanfold::Pipeline`] they make.

mod check;
mod convert;
pub(crate) mod flags;
mod parse;

use std::num::{NonZeroU32, NonZeroUsize};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use fanfold::{AggSpec, Format, MaxErrors, SortKeySpec, Step};

use self::parse::{
    check_exec, check_exec_persistent, check_filter, check_finish, check_http, check_http_request,
    check_http_response, check_init, check_map, check_merge, check_tokens, check_update,
    parse_comment, parse_delimiter, parse_duration, parse_encoding, parse_rate, parse_rename,
    parse_replicas, parse_size, parse_spec,
};

/// fanfold: data-parallel map-reduce over CSV, TSV and NDJSON batches.
///
/// Reads the inputs as one stream, cuts it into chunks, maps and folds the
/// chunks on every core, and merges the partial results in input order:
/// the output bytes are the same for any --threads or chunk size.
///
/// Across many machines (Hadoop Streaming, Spark, Dask): `fanfold map
/// [FLAGS]` over each split writes partial lines (`key<TAB>state`),
/// `fanfold combine [FLAGS]` merges some, `fanfold reduce [FLAGS]`
/// writes the output of one run over the whole input; give every step the
/// same flags.
///
/// Exit status: 0 on success (also when the output pipe closes early, as
/// with `| head`), 1 on an error (bad input, unknown column, I/O), 2 on a
/// bad command line, 3 when the run finished but set records aside
/// (--on-error skip or reject).
#[derive(Debug, Parser)]
#[command(name = "fanfold", version, max_term_width = 100)]
#[command(group = clap::ArgGroup::new("any_exec").args(["exec", "exec_persistent", "http"]).multiple(true))]
pub struct Args {
    /// Input files, read in order as one stream; `-` or none for standard
    /// input. CSV inputs must share one header.
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,

    /// Write the output to FILE (atomically: a failed run leaves no file)
    /// instead of standard output. A name ending in .gz, .zst, .bz2 or .xz
    /// is written compressed in that format.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Compression level of a compressed --output: gzip 1-9 (default 6),
    /// zstd 1-22 (default 3), bzip2 1-9 (default 9), xz 0-9 (default 6).
    #[arg(long, value_name = "N")]
    pub compress_level: Option<u32>,

    /// Input format; default from the first input's extension (.csv, .tsv,
    /// .ndjson/.jsonl; .json: json if it starts with `[`, else ndjson),
    /// else csv.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub input_format: Option<FormatArg>,

    /// Output format; default the input's.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub output_format: Option<FormatArg>,

    /// Field delimiter of CSV input: one byte, or `tab`. Default: tab for
    /// .tsv; else found in the first lines of the first file among `,` `;`
    /// tab and `|` (--explain shows it), `,` when unsure.
    #[arg(long, value_name = "CHAR", value_parser = parse_delimiter)]
    pub delimiter: Option<u8>,

    /// Lines to skip at the start of every CSV input, before its header
    /// (a title or an export note); counted by newline.
    #[arg(long, value_name = "N")]
    pub skip_rows: Option<u64>,

    /// Skip CSV lines that begin with CHAR (e.g. '#'), before the header
    /// too; --stats counts them.
    #[arg(long, value_name = "CHAR", value_parser = parse_comment)]
    pub comment: Option<u8>,

    /// Text encoding of the inputs, a WHATWG label (windows-1252, latin1,
    /// iso-8859-15, shift_jis, gbk, utf-16le ...); default UTF-8, and
    /// UTF-16 for files that start with its byte-order mark.
    #[arg(long, value_name = "LABEL", value_parser = parse_encoding)]
    pub encoding: Option<fanfold::TextEncoding>,

    /// Field delimiter of CSV output; default the input's when the output
    /// format is the input's, else `,` (csv) or tab (tsv).
    #[arg(long, value_name = "CHAR", value_parser = parse_delimiter)]
    pub output_delimiter: Option<u8>,

    /// Target chunk size: bytes, or with a unit (64KiB, 4MiB, 1GB).
    /// Default: automatic (4MiB, smaller for small inputs; see --explain).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, conflicts_with = "chunk_size")]
    pub chunk_bytes: Option<usize>,

    /// Records (lines, for NDJSON) per chunk, instead of --chunk-bytes.
    #[arg(long, value_name = "N")]
    pub chunk_size: Option<NonZeroUsize>,

    /// Worker threads; default the number of available cores.
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<NonZeroUsize>,

    /// Chunks read but not yet merged, at most; default 4 × threads.
    /// Bounds memory to about this many chunks.
    #[arg(long, value_name = "N")]
    pub max_in_flight: Option<NonZeroUsize>,

    /// Memory limit: bytes, or with a unit (256MiB, 1GB). It covers the
    /// in-flight window and the reducer's state: a sort or a group-by
    /// spills sorted runs to --temp-dir past it (same output); --top with
    /// --group-by and a custom reducer stop with an error. Default: a
    /// quarter of the physical memory (1 GiB if unknown); see --explain.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory_limit: Option<usize>,

    /// Directory for temporary files (the spilled runs of a sort or a
    /// group-by); default the
    /// system's ($TMPDIR or /tmp). Nothing is left in it after a run.
    #[arg(long, value_name = "DIR")]
    pub temp_dir: Option<PathBuf>,

    /// Keep the records for which the jq expression is true (any output
    /// other than false or null), e.g. '.amount > 5000'. Each record is a
    /// JSON object (CSV rows keyed by the header; number-like fields are
    /// numbers, empty fields null, unless --no-infer). Repeatable; runs in
    /// command-line order with --map, --select, --drop and --rename.
    #[arg(long, value_name = "EXPR", value_parser = check_filter)]
    pub filter: Vec<String>,

    /// Replace each record by the outputs of the jq expression (each an
    /// object): no output drops it, several fan it out, in order; e.g.
    /// '.speed = .distance / .air_time'. Fields left unchanged are written
    /// back as read. Repeatable, in command-line order with the others.
    #[arg(long, value_name = "EXPR", value_parser = check_map)]
    pub map: Vec<String>,

    /// Pipe each chunk's records through CMD: they are written to the
    /// standard input of a fresh process (in --exec-format, CSV with a
    /// header line), and the records it prints on its standard output
    /// replace them. CMD is split into words like a shell would (quotes
    /// respected) and run without a shell: write `sh -c '...'` for one.
    /// Its environment has FANFOLD_CHUNK (from 0), FANFOLD_ATTEMPT
    /// (from 1) and FANFOLD_REPLICA (from 0); its standard error is kept
    /// for messages. Repeatable, in command-line order with --filter,
    /// --map and the others. A command that exits non-zero, runs past --timeout or
    /// prints unparsable output is retried (--retries), then handled by
    /// --on-error (reject: one entry per chunk).
    #[arg(long, value_name = "CMD", value_parser = check_exec)]
    pub exec: Vec<String>,

    /// Format of the records sent to and read from --exec commands;
    /// default the input's (JSON arrays: ndjson). --exec-persistent
    /// workers always read and write ndjson: with them alone, ndjson is
    /// accepted (it changes nothing) and csv or tsv refused.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub exec_format: Option<ExecFormatArg>,

    /// --exec commands (or --exec-persistent workers) running at once, at
    /// most; default 4 × cores. The
    /// worker pool grows to at least N threads, the in-flight window to
    /// at least 2 × N chunks. For --http: requests in flight, at most
    /// (default 64), on one client thread.
    #[arg(long, value_name = "N", requires = "any_exec")]
    pub concurrency: Option<NonZeroUsize>,

    /// Retries of a failed --exec or --exec-persistent attempt, with exponential backoff and
    /// jitter (100ms, 200ms, 400ms... up to 10s, each plus up to as much
    /// again). For --http, of a request that failed to connect, timed out
    /// or got 408, 429, 500, 502, 503 or 504, waiting at least what its
    /// Retry-After says.
    #[arg(long, value_name = "N", default_value_t = 0, requires = "any_exec")]
    pub retries: u32,

    /// Time limit of one --exec attempt (for --exec-persistent: of one
    /// chunk's answers; for --http: of one request's whole answer), e.g.
    /// 500ms, 30s, 2m; past it the command's (the worker's) process group
    /// is killed and the attempt fails.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "any_exec")]
    pub timeout: Option<Duration>,

    /// Like --exec, but CMD is a long-lived worker: --concurrency of them
    /// at most, each fed many chunks' records as NDJSON, one object a line,
    /// answering exactly one line per record, in order: an object replaces
    /// the record, null drops it, an array of objects fans it out. A worker
    /// that times out, dies or breaks that protocol is killed and
    /// replaced, and the chunk retried. At the end, workers' standard
    /// input is closed; they get 2s to exit. Its environment has
    /// FANFOLD_WORKER (from 0). Repeatable, in command-line order with the
    /// others.
    #[arg(long, value_name = "CMD", value_parser = check_exec_persistent)]
    pub exec_persistent: Vec<String>,

    /// Send each record to URL (http:// or https://) as one request: by
    /// default a POST of the record as a JSON object. A 2xx answer that is
    /// a JSON object replaces the record, null drops it, an array of
    /// objects fans it out. Up to --concurrency requests in flight (default
    /// 64), limited by --rate and --token-rate; failures are retried
    /// (--retries), then go to --on-error one record at a time. Output
    /// stays in input order. Repeatable, in command-line order with the
    /// others.
    #[arg(long, value_name = "URL", value_parser = check_http)]
    pub http: Vec<String>,

    /// jq over the record giving the --http request: its body, or an
    /// object with only the keys method, url, headers and body; no output
    /// skips the record. E.g. '{model: "m", messages: [{role: "user",
    /// content: .text}]}'.
    #[arg(long, value_name = "EXPR", requires = "http", value_parser = check_http_request)]
    pub http_request: Option<String>,

    /// jq over {record, status, headers, body} (body parsed when it is
    /// JSON, else a string) giving the records an --http answer makes:
    /// objects, arrays of objects, or null for none. E.g. '.record +
    /// {label: .body.choices[0].message.content}'.
    #[arg(long, value_name = "EXPR", requires = "http", value_parser = check_http_response)]
    pub http_response: Option<String>,

    /// A header sent with every --http request, 'Name: value'; $VAR and
    /// ${VAR} are taken from the environment. Values are secrets: never
    /// shown in messages, rejects, --stats-json, --explain or the journal.
    /// Repeatable.
    #[arg(long, value_name = "HEADER", requires = "http")]
    pub http_header: Vec<String>,

    /// Most --http requests started per second or minute (N/s, N/min),
    /// over all the run's requests; GCRA, with a burst of --burst (default
    /// a twentieth of a second's worth, at least 1). A 429 answer pauses
    /// every request for its Retry-After.
    #[arg(long, value_name = "N/s|N/min", requires = "http", value_parser = parse_rate)]
    pub rate: Option<fanfold::Rate>,

    /// Requests that may start at once above --rate.
    #[arg(long, value_name = "N", requires = "rate")]
    pub burst: Option<NonZeroU32>,

    /// Most tokens per minute (N/min, N/s) that --http requests may use,
    /// as --tokens estimates them; an answer reporting more (OpenAI's or
    /// Anthropic's usage) is charged the difference.
    #[arg(long, value_name = "N/min", requires_all = ["http", "tokens"], value_parser = parse_rate)]
    pub token_rate: Option<fanfold::Rate>,

    /// jq over an --http request's body giving its estimated tokens, e.g.
    /// '(.messages | map(.content | length) | add) / 4 + 16'.
    #[arg(long, value_name = "EXPR", requires = "token_rate", value_parser = check_tokens)]
    pub tokens: Option<String>,

    /// Run each chunk K times (K >= 2) through every --exec and
    /// --exec-persistent step (each record K times through every --http
    /// step), at once under the --concurrency limit, each with its own
    /// retries; --exec commands get FANFOLD_REPLICA (from 0). Needs --vote.
    #[arg(long, value_name = "K", requires = "vote", value_parser = parse_replicas)]
    pub replicas: Option<usize>,

    /// With --replicas: per record (matched by position), keep the value
    /// of FIELD that most replicas printed (ties: the lowest replica's),
    /// taking that replica's record, plus FIELD_agreement: votes / K (1,
    /// 0.5, 0.6666666666666666). Failed replicas do not vote; replicas
    /// printing different record counts fail the chunk.
    #[arg(long, value_name = "FIELD", requires_all = ["replicas", "any_exec"])]
    pub vote: Option<String>,

    /// Record each chunk's mapped records (what --map and --exec made of
    /// it, and its rejects) in FILE as soon as its steps finish, synced to
    /// disk, so that a killed run can go on with --resume. Needs --map or
    /// --exec and input files. Refused when FILE exists (unless --resume);
    /// removed once the output is written.
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,

    /// Go on with the run the --journal FILE records: chunks it holds skip
    /// their steps, and the output is byte for byte that of an
    /// uninterrupted run. The inputs and the flags that shape the records
    /// must be the same (else it is refused, naming what changed); --threads,
    /// --concurrency, --retries, --timeout, --memory-limit and the reducer
    /// may differ. Without FILE, the run starts from the beginning.
    #[arg(long, requires = "journal")]
    pub resume: bool,

    /// Show a progress bar on standard error even when it is not a
    /// terminal (default: only when it is).
    #[arg(long, overrides_with = "no_progress")]
    pub progress: bool,

    /// Never show the progress bar.
    #[arg(long, overrides_with = "progress")]
    pub no_progress: bool,

    /// No type inference: every CSV field stays a string, both to jq
    /// expressions and in NDJSON/JSON output (1 is "1", 007 is "007", an
    /// empty field is ""). Only the --null markers given explicitly become
    /// null. Reducers still count empty fields as missing (a group-by key
    /// or a min over only empty fields is null), and computed aggregates
    /// (count, sum, mean) are still numbers.
    #[arg(long)]
    pub no_infer: bool,

    /// Keep only these columns, in this order (input names). In NDJSON, a
    /// path in jq's syntax (.user.id, ."a.b".c) reads a nested field, as
    /// a column named by its keys (user.id); --group-by, --agg and
    /// --sort-by take such paths too.
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    pub select: Option<Vec<String>>,

    /// Remove these columns (input names).
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    pub drop: Vec<String>,

    /// Rename columns: old=new,...
    #[arg(long, value_name = "OLD=NEW", value_delimiter = ',', value_parser = parse_rename)]
    pub rename: Vec<(String, String)>,

    /// Sort by these keys: col[:n][:desc],... (`:n` numeric). Stable: ties
    /// keep input order; missing values sort last.
    #[arg(long, value_name = "KEYS", value_delimiter = ',', conflicts_with = "agg",
          value_parser = parse_spec::<SortKeySpec>)]
    pub sort_by: Vec<SortKeySpec>,

    /// Keep only the first K records in --sort-by order (ties in input
    /// order); with --group-by, the first K of each group, groups in key
    /// order. Needs --sort-by.
    #[arg(long, value_name = "K", requires = "sort_by", conflicts_with = "agg")]
    pub top: Option<NonZeroUsize>,

    /// Group by these columns: one output row per distinct key, sorted by key.
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    pub group_by: Vec<String>,

    /// An aggregate per group: count, count:col, sum:col, mean:col, min:col,
    /// max:col, count_distinct:col, mode:col (most frequent; ties to the
    /// first seen), first:col, last:col, var_samp:col (alias variance),
    /// var_pop:col, stddev_samp:col (alias stddev), stddev_pop:col,
    /// median:col, quantile_cont:col:p (alias quantile; linear
    /// interpolation, p from 0 to 1), quantile_disc:col:p,
    /// approx_distinct:col (HyperLogLog, 2^14 registers: exact up to 512
    /// values, then about 0.81% standard error), approx_quantile:col:p
    /// (DDSketch: within 1% of the exact value of rank floor((n-1)p)),
    /// each with an optional =name. Repeatable. Sums, means and variances
    /// are exact and rounded once (a standard deviation is the square root
    /// of the rounded variance); quantiles are exact and keep every value.
    /// Every aggregate gives the same bytes for any --threads and
    /// chunking. Without --group-by, one row over all records. Default:
    /// count.
    #[arg(long, value_name = "SPEC", value_delimiter = ',', value_parser = parse_spec::<AggSpec>)]
    pub agg: Vec<AggSpec>,

    /// Custom reducer in jq: the empty accumulator (default null).
    #[arg(long, value_name = "EXPR", value_parser = check_init, requires = "reduce_update")]
    pub reduce_init: Option<String>,

    /// Custom reducer: fold one record into the accumulator. `.` is the
    /// accumulator, `$record` the record; the last output is the new
    /// accumulator (none keeps it). Needs --reduce-merge.
    #[arg(long, value_name = "EXPR", value_parser = check_update, requires = "reduce_merge",
          conflicts_with_all = ["sort_by", "group_by", "agg", "top"])]
    pub reduce_update: Option<String>,

    /// Custom reducer: combine the accumulators of consecutive chunks,
    /// `$left` (earlier input; also `.`) and `$right`. Must be associative;
    /// need not be commutative (chunks merge in input order).
    #[arg(long, value_name = "EXPR", value_parser = check_merge, requires = "reduce_update")]
    pub reduce_merge: Option<String>,

    /// Custom reducer: turn the final accumulator into output records
    /// (objects); default `.`. E.g. 'to_entries[] | {key, n: .value}'.
    #[arg(long, value_name = "EXPR", value_parser = check_finish, requires = "reduce_update")]
    pub reduce_finish: Option<String>,

    /// Texts that mean "missing" (besides empty fields and JSON null), e.g.
    /// NA: skipped by column aggregates, sorted last, null in NDJSON output.
    #[arg(long, value_name = "TEXTS", value_delimiter = ',')]
    pub null: Vec<String>,

    /// What a bad record does (one that cannot be parsed, has the wrong
    /// field count, holds a non-number under a sum, or fails a transform):
    /// fail stops the run; skip drops and counts it; reject also writes it
    /// to --rejects.
    #[arg(long, value_enum, value_name = "MODE", default_value = "fail")]
    pub on_error: OnErrorArg,

    /// Where --on-error reject writes the rejected records: NDJSON with
    /// input, line, byte, chunk, kind, message and the record's text
    /// (compressed when the name ends in .gz, .zst, .bz2 or .xz).
    #[arg(long, value_name = "FILE", required_if_eq("on_error", "reject"))]
    pub rejects: Option<PathBuf>,

    /// Stop (exit 1, no output file) once more than N records were
    /// rejected, or at the end when more than P% of the records read were.
    #[arg(long, value_name = "N|P%", value_parser = parse_spec::<MaxErrors>)]
    pub max_errors: Option<MaxErrors>,

    /// Write the run statistics as JSON to FILE (records read, written,
    /// filtered, rejected; chunks, bytes, seconds; with --exec or
    /// --exec-persistent an `exec` object: attempts, retries, timeouts,
    /// workers started, latency p50/p95/max, attempt_secs and
    /// speedup_vs_concurrency_1, their sum over the wall time).
    #[arg(long, value_name = "FILE")]
    pub stats_json: Option<PathBuf>,

    /// Print the plan (chunk size, expected chunks, threads, window, memory
    /// bound, and why) and exit without running.
    #[arg(long)]
    pub explain: bool,

    /// Print run statistics to standard error: records, chunks, threads,
    /// bytes, seconds, MB/s, peak chunks in flight.
    #[arg(long)]
    pub stats: bool,

    /// The CSV input has no header line: these are its columns (the
    /// splits of a file cut by lines, as Hadoop and Spark cut it). An
    /// input whose first line is exactly these names (the split that
    /// begins the file) has it skipped.
    #[arg(long, value_name = "COLS", value_delimiter = ',', conflicts_with = "header_from")]
    pub columns: Option<Vec<String>>,

    /// Like --columns, with the columns read from the header line of FILE
    /// (the whole input's first file, or a copy of its first line).
    #[arg(long, value_name = "FILE")]
    pub header_from: Option<PathBuf>,

    /// `fanfold map` (and --emit-partials): the number of the split read
    /// (from 0, in input order), so that first, last and the ties of
    /// mode, min and max are those of one run over the whole input.
    /// Default: Hadoop's $mapreduce_map_input_start (the split's byte
    /// offset) when set, else 0.
    #[arg(long, value_name = "N")]
    pub split_index: Option<u64>,

    /// `fanfold map`, `combine`, `reduce`: print Hadoop Streaming
    /// counters on standard error at the end
    /// (reporter:counter:fanfold,records_read,N ...). Default: when
    /// Hadoop's $mapreduce_task_id is set.
    #[arg(long)]
    pub counters: bool,

    /// Write the group-by's partial lines to FILE too (as `fanfold map`
    /// writes them): `fanfold reduce FILES...` with the same flags merges
    /// such files into the output of one run over all their inputs
    /// (today's partials with yesterday's).
    #[arg(long, value_name = "FILE")]
    pub emit_partials: Option<PathBuf>,

    /// `fanfold combine` and `reduce`: the partial lines come sorted by
    /// key (as a shuffle hands them to a reducer): merge and write them
    /// key by key, in constant memory. A line out of order is an error.
    /// Without it, lines may come in any order (a group-by merges them in
    /// tables, a sort or a top sorts them first, both spilling past
    /// --memory-limit).
    #[arg(long)]
    pub sorted: bool,

    /// Which step of a run split across an engine this is (the first
    /// word: `fanfold map|combine|reduce [FLAGS]`).
    #[arg(skip)]
    pub partial_step: Option<fanfold::PartialStep>,
}

/// `--on-error` on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnErrorArg {
    /// Stop at the first bad record (in input order).
    Fail,
    /// Drop bad records and count them.
    Skip,
    /// Drop bad records and write them to --rejects.
    Reject,
}

/// `--exec-format` on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExecFormatArg {
    /// Comma-separated values with a header line.
    Csv,
    /// Tab-separated values with a header line.
    Tsv,
    /// One JSON object per line.
    Ndjson,
}

/// A format name on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Comma-separated values with a header row.
    Csv,
    /// Tab-separated values with a header row.
    Tsv,
    /// One JSON object per line.
    Ndjson,
    /// One JSON array of objects.
    Json,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Csv => Format::Csv,
            FormatArg::Tsv => Format::Tsv,
            FormatArg::Ndjson => Format::Ndjson,
            FormatArg::Json => Format::Json,
        }
    }
}

impl Args {
    /// Parses the command line and checks what clap's attributes cannot
    /// say (see [`Args::check`]). A bad command line exits with status 2,
    /// as clap's own errors do. Returns the arguments and the transform
    /// steps in command-line order.
    pub fn parse_checked() -> (Args, Vec<Step>) {
        use clap::{CommandFactory, FromArgMatches};
        let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
        // `fanfold map|combine|reduce FLAGS...`: a step over partial lines.
        let step = match argv.get(1).and_then(|a| a.to_str()) {
            Some("map") => Some(fanfold::PartialStep::Map),
            Some("combine") => Some(fanfold::PartialStep::Combine),
            Some("reduce") => Some(fanfold::PartialStep::Reduce),
            _ => None,
        };
        let mut command = Args::command();
        if step.is_some() {
            let word = argv.remove(1).to_string_lossy().into_owned();
            command = command.bin_name(format!("fanfold {word}"));
        }
        let matches = command.get_matches_from(argv);
        let mut args = Args::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
        args.partial_step = step;
        if let Err((kind, message)) = args.check() {
            Args::command().error(kind, message).exit();
        }
        let steps = args.steps(&matches);
        (args, steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Args::command().debug_assert();
    }
}
