//! `--exec CMD` (and the machinery `--exec-persistent` shares): a map step
//! that pipes each chunk's records through an external command.
//!
//! For every chunk, the records as they are at that point of the chain are
//! written to the standard input of a fresh process, in the step's
//! [`ExecFormat`] (CSV/TSV with a header line, or NDJSON), and the records
//! the process prints on its standard output, in the same format, replace
//! them. This is Hadoop Streaming's and GNU parallel `--pipe`'s model, with
//! fanfold's ordered merge: the output is in input order whatever finishes
//! first.
//!
//! - **No shell, no injection.** The command line is split into words as a
//!   POSIX shell would (quotes respected, by the `shlex` crate) and run
//!   directly; nothing is expanded unless the command itself is `sh -c ...`.
//!   Record data only ever travels through the pipes.
//! - **Concurrency.** At most [`ExecSpec::concurrency`] processes of one step
//!   run at once (a permit is held for the length of an attempt, not during
//!   backoff). The pipeline sizes the worker pool and the in-flight window
//!   so that this many chunks can be at the step together.
//! - **Failed attempts.** An attempt fails when the command cannot be
//!   started, exits with a non-zero status or by a signal, runs past
//!   [`ExecSpec::timeout`] (its whole process group is then killed with
//!   SIGKILL), or prints output that does not parse as records. It is
//!   retried up to [`ExecSpec::retries`] times with exponential backoff and
//!   full jitter (the `backon` crate): the n-th retry waits
//!   `d + random(0, d)` with `d = retry_delay × 2^(n-1)`, at most
//!   `retry_max_delay`.
//! - **A chunk that still fails** becomes an [`crate::Error::Exec`], which
//!   `--on-error` handles like a bad record: `fail` stops the run (the
//!   first failure in input order), `skip` and `reject` drop the records
//!   that reached the step and go on. `reject` writes one entry per failed
//!   chunk (see [`crate::sink::rejects::Reject`]) with the number of
//!   records it stands for, the attempts, the tail of the command's
//!   standard error, and the records' input text.
//! - **Environment.** Each process gets `FANFOLD_CHUNK` (the chunk's
//!   sequence number, from 0), `FANFOLD_ATTEMPT` (from 1) and
//!   `FANFOLD_REPLICA` (from 0; always 0 without `--replicas`), for logs,
//!   caches keyed by chunk, or fault injection in tests.
//! - **Replicas.** With [`ExecSpec::replicas`] K ≥ 2 each chunk runs K
//!   times at once, each replica an attempt sequence of its own under the
//!   same permits, and [`ExecSpec::vote`] picks each record's value (see
//!   [`crate::transform::command::vote`]).
//! - **Persistent workers.** [`ExecMode::Persistent`]
//!   (`--exec-persistent`) sends the records to long-lived workers instead
//!   of a process per attempt, with the same permits, retries, timeouts,
//!   failure handling and statistics (see
//!   [`crate::transform::command::persistent`]).
//! - **Standard error** of the command is captured, not shown; its last
//!   [`STDERR_TAIL_BYTES`] are kept for the error message and the reject.
//! - A chunk with no records left at the step does not run the command.
//!
//! Records the command prints have no input line of their own: messages
//! about them name their chunk's first line.
//!
//! ```
//! use fanfold::transform::{ExecSpec, Step};
//! use fanfold::{Input, Pipeline};
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("in.csv");
//! std::fs::write(&path, "city,n\noslo,1.50\nlima,2\n")?;
//! let mut upper = ExecSpec::new("tr a-z A-Z")?;
//! upper.retries = 2;
//! upper.timeout = Some(std::time::Duration::from_secs(30));
//! let pipeline = Pipeline {
//!     steps: vec![Step::Exec(upper)],
//!     ..Pipeline::new(vec![Input::Path(path)])
//! };
//! let mut out = Vec::new();
//! let stats = pipeline.run(&mut out, "<memory>")?;
//! assert_eq!(String::from_utf8(out)?, "CITY,N\nOSLO,1.50\nLIMA,2\n");
//! // One attempt a chunk; with so few records, the automatic chunk size
//! // gives each its own chunk, so that both run at once.
//! assert_eq!(stats.exec.map(|e| (e.chunks, e.attempts)), Some((2, 2)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod persistent;
pub mod vote;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use backon::{BlockingRetryable, ExponentialBuilder};
use crossbeam_channel::{bounded, Receiver, Sender};
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::cancel::INTERRUPT;
use crate::error::{Error, Result};
use crate::format::Format;
use crate::parse::object_pairs;
use crate::record::Field;
use crate::sink::encode::{write_compact_json, write_csv_field, write_json_string};
use persistent::Pool;
use vote::vote;

/// How much of a failed command's standard error is kept, in bytes (the
/// end of it).
pub const STDERR_TAIL_BYTES: usize = 2048;

/// Default wait before the first retry (100 ms); each later retry waits
/// twice as long, plus jitter.
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Default longest wait between two attempts (10 s), before jitter.
pub const DEFAULT_RETRY_MAX_DELAY: Duration = Duration::from_secs(10);

/// How often a worker waiting on a command checks for a signal (SIGINT,
/// SIGTERM), which kills the command's process group.
pub(crate) const POLL: Duration = Duration::from_millis(100);

/// How long to wait for a killed command's pipes to close (a process that
/// left its group can hold them open).
pub(crate) const KILL_GRACE: Duration = Duration::from_secs(1);

/// The format records travel in between fanfold and an `--exec` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecFormat {
    /// Comma-separated values, with a header line (the union of the
    /// records' keys, in first-seen order) both ways.
    Csv,
    /// Tab-separated values, with a header line.
    Tsv,
    /// One JSON object per line, both ways.
    Ndjson,
}

impl ExecFormat {
    /// The format an input format travels in by default: CSV as CSV, TSV
    /// as TSV, NDJSON and JSON arrays as NDJSON.
    pub fn for_input(format: Format) -> ExecFormat {
        match format {
            Format::Csv => ExecFormat::Csv,
            Format::Tsv => ExecFormat::Tsv,
            Format::Ndjson | Format::Json => ExecFormat::Ndjson,
        }
    }

    fn delimiter(self) -> Option<u8> {
        match self {
            ExecFormat::Csv => Some(b','),
            ExecFormat::Tsv => Some(b'\t'),
            ExecFormat::Ndjson => None,
        }
    }
}

/// How an external step runs its command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecMode {
    /// `--exec`: a fresh process for every chunk attempt, which reads the
    /// whole chunk and exits.
    #[default]
    PerChunk,
    /// `--exec-persistent`: up to [`ExecSpec::concurrency`] long-lived
    /// workers, each answering one NDJSON line per record line (see
    /// [`crate::transform::command::persistent`]).
    Persistent,
}

impl ExecMode {
    /// The command-line flag of the mode, for messages: `--exec` or
    /// `--exec-persistent`.
    pub fn flag(self) -> &'static str {
        match self {
            ExecMode::PerChunk => "--exec",
            ExecMode::Persistent => "--exec-persistent",
        }
    }
}

/// An `--exec` or `--exec-persistent` step: the command and how it is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecSpec {
    /// The command as written (for messages).
    pub command: String,
    /// The program and its arguments (the command split into words).
    pub argv: Vec<String>,
    /// The format records travel in; `None`: the input's
    /// ([`ExecFormat::for_input`]).
    pub format: Option<ExecFormat>,
    /// Processes of this step running at once, at most (at least 1).
    pub concurrency: usize,
    /// Attempts after the first for a chunk that fails.
    pub retries: u32,
    /// Longest run of one attempt; `None`: no limit.
    pub timeout: Option<Duration>,
    /// Wait before the first retry (doubling for each later one, plus
    /// jitter of up to as much again).
    pub retry_delay: Duration,
    /// Longest wait between two attempts, before jitter.
    pub retry_max_delay: Duration,
    /// A process per chunk attempt, or persistent workers.
    pub mode: ExecMode,
    /// How many times each chunk runs (`--replicas`, at least 1; 2 or
    /// more needs [`ExecSpec::vote`]). Replicas run at once, under the
    /// same [`ExecSpec::concurrency`] permits, each with its own retries.
    pub replicas: usize,
    /// `--vote FIELD`: with [`ExecSpec::replicas`] ≥ 2, keep per record
    /// the value of this field most replicas agree on (see
    /// [`crate::transform::command::vote`]).
    pub vote: Option<String>,
}

impl ExecSpec {
    /// The step for `command`, split into words as a shell would (quotes
    /// and backslashes respected, nothing expanded), with the defaults:
    /// the input's format, [`ExecSpec::default_concurrency`], no retries,
    /// no timeout.
    ///
    /// # Errors
    /// [`Error::Flag`] for `--exec` when the command is empty or its
    /// quotes are not closed.
    pub fn new(command: &str) -> Result<ExecSpec> {
        ExecSpec::with_mode(command, ExecMode::PerChunk)
    }

    /// The `--exec-persistent` step for `command`: as [`ExecSpec::new`],
    /// with persistent workers that speak NDJSON.
    ///
    /// # Errors
    /// [`Error::Flag`] for `--exec-persistent` when the command is empty or
    /// its quotes are not closed.
    pub fn persistent(command: &str) -> Result<ExecSpec> {
        ExecSpec::with_mode(command, ExecMode::Persistent)
    }

    fn with_mode(command: &str, mode: ExecMode) -> Result<ExecSpec> {
        let flag = mode.flag();
        let argv = shlex::split(command)
            .ok_or_else(|| Error::flag(flag, format!("`{command}`: a quote is not closed")))?;
        if argv.is_empty() {
            return Err(Error::flag(flag, "the command is empty"));
        }
        Ok(ExecSpec {
            command: command.to_string(),
            argv,
            format: None,
            concurrency: ExecSpec::default_concurrency(),
            retries: 0,
            timeout: None,
            retry_delay: DEFAULT_RETRY_DELAY,
            retry_max_delay: DEFAULT_RETRY_MAX_DELAY,
            mode,
            replicas: 1,
            vote: None,
        })
    }

    /// The flag the step came from: `--exec` or `--exec-persistent`.
    pub fn flag(&self) -> &'static str {
        self.mode.flag()
    }

    /// The default [`ExecSpec::concurrency`]: 4 × the available cores (a
    /// command mostly waits: on a service, a model, a disk).
    pub fn default_concurrency() -> usize {
        4 * std::thread::available_parallelism().map_or(1, |n| n.get())
    }

    /// Checks the settings and finds the program (a path that exists, or
    /// the first file of that name on `PATH`), so that a typo fails the run
    /// at once rather than every chunk. Returns the program's path.
    ///
    /// # Errors
    /// [`Error::Flag`] naming `--exec` (or `--exec-persistent`),
    /// `--concurrency`, `--replicas` or `--vote`.
    pub fn check(&self) -> Result<PathBuf> {
        if self.concurrency == 0 {
            return Err(Error::flag("--concurrency", "must be at least 1"));
        }
        match (self.replicas, &self.vote) {
            (0, _) => return Err(Error::flag("--replicas", "must be at least 1")),
            (1, Some(_)) => return Err(Error::flag("--vote", "needs --replicas 2 or more")),
            (2.., None) => {
                return Err(Error::flag("--replicas", "needs --vote FIELD: the field to vote on"))
            }
            _ => {}
        }
        let program = self.argv.first().map(String::as_str).unwrap_or_default();
        let found = if program.contains('/') {
            Some(PathBuf::from(program)).filter(|p| p.exists())
        } else {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(program))
                    .find(|p| p.is_file() && !program.is_empty())
            })
        };
        found.ok_or_else(|| Error::flag(self.flag(), format!("`{program}`: command not found")))
    }
}

/// Parses a duration: a number with a unit `ms`, `s`, `m` or `h` (`500ms`,
/// `30s`, `1.5m`, `2h`); a bare number is seconds.
///
/// # Errors
/// A message when the text is not such a duration, or is negative or not
/// finite.
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let secs: f64 = match unit.trim() {
        "" | "s" | "sec" => 1.0,
        "ms" => 1e-3,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => return Err(format!("unknown unit `{other}` in `{s}`; use e.g. 500ms, 30s, 2m")),
    };
    let n: f64 = num.parse().map_err(|_| format!("`{s}` is not a duration; use e.g. 30s"))?;
    Duration::try_from_secs_f64(n * secs).map_err(|_| format!("`{s}`: out of range"))
}

/// What the `--exec` and `--exec-persistent` steps of a run did, for
/// `--stats-json`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecStats {
    /// Chunks that ran a command (once per step).
    pub chunks: u64,
    /// Attempts, first ones included (of every replica).
    pub attempts: u64,
    /// Attempts after a failed one.
    pub retries: u64,
    /// Attempts that ran past the timeout and were killed.
    pub timeouts: u64,
    /// Chunks that still failed after their retries.
    pub failed_chunks: u64,
    /// Most processes of one step allowed at once.
    pub concurrency: usize,
    /// Runs of each chunk (`--replicas`; 1 without), the most of any step.
    pub replicas: usize,
    /// Replicas that failed after their retries in a chunk that the other
    /// replicas voted on.
    pub failed_replicas: u64,
    /// Persistent workers started (`--exec-persistent`; replacements
    /// included); 0 for `--exec`, which starts a process per attempt.
    pub workers_started: u64,
    /// The attempts' durations added up, in seconds (from getting a
    /// permit to the end of the attempt; backoff not included): about
    /// what the run would spend in its commands at concurrency 1.
    pub attempt_secs: f64,
    /// Median time a chunk spent at a step, in seconds (nearest rank):
    /// from its first attempt's start (once it had a permit) to its last
    /// attempt's end, backoff included.
    pub latency_p50_secs: f64,
    /// 95th percentile of that time, in seconds (nearest rank).
    pub latency_p95_secs: f64,
    /// Longest such time, in seconds.
    pub latency_max_secs: f64,
}

/// Why a chunk failed at an `--exec` step after all its attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// What went wrong in the last attempt.
    pub reason: String,
    /// Attempts made.
    pub attempts: u32,
    /// The end of the last attempt's standard error (lossily decoded).
    pub stderr: String,
}

/// One failed attempt.
#[derive(Debug)]
pub(crate) struct AttemptError {
    pub(crate) reason: String,
    pub(crate) stderr: Vec<u8>,
    pub(crate) timed_out: bool,
}

impl AttemptError {
    pub(crate) fn new(reason: impl Into<String>) -> AttemptError {
        AttemptError { reason: reason.into(), stderr: Vec::new(), timed_out: false }
    }
}

/// Writes a CSV field a command printed as the JSON value it stands for.
pub(crate) type WriteField<'a> = &'a (dyn Fn(&mut Vec<u8>, &[u8]) + Sync);

/// What one replica of a chunk came to: its records (NDJSON) or why it
/// failed, its attempts, and when its first attempt started.
struct ReplicaRun {
    result: std::result::Result<Vec<u8>, AttemptError>,
    attempts: u32,
    started: Option<Instant>,
}

/// An external step resolved for one run: the spec, its permits, its
/// workers (`--exec-persistent`) and its counters. Shared by the workers.
#[derive(Debug)]
pub(crate) struct ExecStage {
    spec: ExecSpec,
    /// The program, found once (each spawn then skips the `PATH` search).
    program: PathBuf,
    format: ExecFormat,
    permits: (Sender<()>, Receiver<()>),
    /// The persistent workers, for [`ExecMode::Persistent`].
    pool: Option<Pool>,
    latencies: parking_lot::Mutex<Vec<f64>>,
    attempts: AtomicU64,
    retries: AtomicU64,
    timeouts: AtomicU64,
    failed: AtomicU64,
    failed_replicas: AtomicU64,
    /// Sum of the attempts' durations, in nanoseconds.
    busy_nanos: AtomicU64,
    /// Set when the run stops on an error: running commands are killed,
    /// no more attempts start.
    stop: Arc<AtomicBool>,
}

/// A permit to run one process; handed back when dropped.
struct Permit<'a>(&'a Sender<()>);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let _ = self.0.try_send(());
    }
}

impl ExecStage {
    /// The stage for `spec`; `json_input` picks the default format when
    /// the spec has none (the pipeline resolves it from the input format
    /// first). Persistent workers always speak NDJSON; none starts here.
    ///
    /// # Errors
    /// As [`ExecSpec::check`].
    pub(crate) fn new(spec: &ExecSpec, json_input: bool) -> Result<ExecStage> {
        let program = spec.check()?;
        let format = match spec.mode {
            ExecMode::Persistent => ExecFormat::Ndjson,
            ExecMode::PerChunk => {
                spec.format.unwrap_or(if json_input { ExecFormat::Ndjson } else { ExecFormat::Csv })
            }
        };
        let permits = bounded(spec.concurrency);
        for _ in 0..spec.concurrency {
            let _ = permits.0.try_send(());
        }
        let stop = Arc::new(AtomicBool::new(false));
        let pool = (spec.mode == ExecMode::Persistent)
            .then(|| Pool::new(program.clone(), spec.argv.clone(), stop.clone()));
        Ok(ExecStage {
            spec: spec.clone(),
            program,
            format,
            permits,
            pool,
            latencies: parking_lot::Mutex::new(Vec::new()),
            attempts: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            failed_replicas: AtomicU64::new(0),
            busy_nanos: AtomicU64::new(0),
            stop,
        })
    }

    /// The spec.
    pub(crate) fn spec(&self) -> &ExecSpec {
        &self.spec
    }

    /// Kills the running commands and starts no more attempts: the run is
    /// stopping on an error.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Retries so far (for the progress bar).
    pub(crate) fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Runs the command on `records` (NDJSON objects, one per line, as the
    /// value stage writes them) with retries, [`ExecSpec::replicas`] times
    /// at once (voting on the results), and returns the records it printed
    /// as NDJSON, one compact line each. `write_field` writes a CSV field
    /// the command printed as the JSON value it stands for; `chunk` is the
    /// chunk's sequence number, for `FANFOLD_CHUNK`.
    pub(crate) fn run(
        &self,
        records: &[u8],
        write_field: WriteField<'_>,
        chunk: u64,
    ) -> std::result::Result<Vec<u8>, Failure> {
        let input = match self.format.delimiter() {
            Some(d) => ndjson_to_csv(records, d),
            None => Ok(records.to_vec()),
        };
        let input = match input {
            Ok(i) => i,
            Err(reason) => {
                return Err(Failure { reason, attempts: 0, stderr: String::new() });
            }
        };
        let k = self.spec.replicas.max(1);
        let runs: Vec<ReplicaRun> = if k == 1 {
            vec![self.run_replica(&input, write_field, chunk, 0)]
        } else {
            let input = &input;
            std::thread::scope(|s| {
                let others: Vec<_> = (1..k)
                    .map(|r| {
                        std::thread::Builder::new()
                            .name(format!("fanfold-replica-{r}"))
                            .spawn_scoped(s, move || self.run_replica(input, write_field, chunk, r))
                    })
                    .collect();
                let mut runs = vec![self.run_replica(input, write_field, chunk, 0)];
                runs.extend(others.into_iter().map(|h| {
                    let failed = |why: &str| ReplicaRun {
                        result: Err(AttemptError::new(why)),
                        attempts: 0,
                        started: None,
                    };
                    match h {
                        Ok(h) => h.join().unwrap_or_else(|_| failed("internal error: a panic")),
                        Err(e) => failed(&format!("cannot start a thread: {e}")),
                    }
                }));
                runs
            })
        };
        if let Some(t) = runs.iter().filter_map(|r| r.started).min() {
            self.latencies.lock().push(t.elapsed().as_secs_f64());
        }
        let attempts = runs.iter().map(|r| r.attempts).sum();
        let result = match &self.spec.vote {
            Some(field) if k > 1 => {
                let outputs: Vec<Option<&[u8]>> =
                    runs.iter().map(|r| r.result.as_ref().ok().map(Vec::as_slice)).collect();
                let failed = outputs.iter().filter(|o| o.is_none()).count();
                if failed < k {
                    self.failed_replicas.fetch_add(failed as u64, Ordering::Relaxed);
                    vote(&outputs, field).map_err(AttemptError::new)
                } else {
                    Err(first_failure(runs, k))
                }
            }
            _ => first_failure_or_output(runs),
        };
        result.map_err(|e| {
            self.failed.fetch_add(1, Ordering::Relaxed);
            let tail = String::from_utf8_lossy(&e.stderr).into_owned();
            Failure { reason: e.reason, attempts, stderr: tail }
        })
    }

    /// One replica of a chunk: its attempts, with retries and backoff.
    fn run_replica(
        &self,
        input: &[u8],
        write_field: WriteField<'_>,
        chunk: u64,
        replica: usize,
    ) -> ReplicaRun {
        let started = std::cell::Cell::new(None);
        let mut attempts = 0u32;
        let backoff = ExponentialBuilder::new()
            .with_min_delay(self.spec.retry_delay)
            .with_max_delay(self.spec.retry_max_delay)
            .with_factor(2.0)
            .with_jitter()
            .with_max_times(self.spec.retries as usize);
        let result = (|| {
            attempts += 1;
            let env = [
                ("FANFOLD_CHUNK", chunk.to_string()),
                ("FANFOLD_ATTEMPT", attempts.to_string()),
                ("FANFOLD_REPLICA", replica.to_string()),
            ];
            self.attempt(input, write_field, &started, &env)
        })
        .retry(backoff)
        .sleep({
            let stop = self.stop.clone();
            move |d| sleep_unless_stopping(d, &stop)
        })
        .when(|_| INTERRUPT.load(Ordering::Relaxed) == 0 && !self.stop.load(Ordering::Relaxed))
        .notify(|_, _| {
            self.retries.fetch_add(1, Ordering::Relaxed);
        })
        .call();
        ReplicaRun { result, attempts, started: started.get() }
    }

    /// One attempt: holds a permit while the process runs (or the worker
    /// answers). Sets `started` when the chunk's first attempt gets its
    /// permit (its latency counts from there).
    fn attempt(
        &self,
        input: &[u8],
        write_field: WriteField<'_>,
        started: &std::cell::Cell<Option<Instant>>,
        env: &[(&str, String)],
    ) -> std::result::Result<Vec<u8>, AttemptError> {
        let _permit = match self.permits.1.recv() {
            Ok(()) => Permit(&self.permits.0),
            Err(_) => return Err(AttemptError::new("internal error: no permit")),
        };
        if self.stop.load(Ordering::Relaxed) {
            return Err(AttemptError::new("cancelled: the run is stopping"));
        }
        let now = Instant::now();
        if started.get().is_none() {
            started.set(Some(now));
        }
        self.attempts.fetch_add(1, Ordering::Relaxed);
        let timeout = self.spec.timeout;
        let result = match &self.pool {
            Some(pool) => pool.run(input, timeout),
            None => run_once(&self.program, &self.spec.argv, env, input, timeout, &self.stop)
                .and_then(|(stdout, stderr)| {
                    let parsed = match self.format.delimiter() {
                        Some(d) => csv_to_ndjson(&stdout, d, write_field),
                        None => check_ndjson(stdout),
                    };
                    parsed.map_err(|reason| AttemptError { reason, stderr, timed_out: false })
                }),
        };
        let took = u64::try_from(now.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.busy_nanos.fetch_add(took, Ordering::Relaxed);
        if result.as_ref().is_err_and(|e| e.timed_out) {
            self.timeouts.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    /// The counters and latency percentiles so far.
    pub(crate) fn stats(&self) -> ExecStats {
        let mut lat = self.latencies.lock().clone();
        lat.sort_by(f64::total_cmp);
        let rank = |p: f64| -> f64 {
            if lat.is_empty() {
                return 0.0;
            }
            let i = ((p * lat.len() as f64).ceil() as usize).clamp(1, lat.len()) - 1;
            lat[i]
        };
        ExecStats {
            chunks: lat.len() as u64,
            attempts: self.attempts.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
            failed_chunks: self.failed.load(Ordering::Relaxed),
            concurrency: self.spec.concurrency,
            replicas: self.spec.replicas.max(1),
            failed_replicas: self.failed_replicas.load(Ordering::Relaxed),
            workers_started: self.pool.as_ref().map_or(0, Pool::started),
            attempt_secs: Duration::from_nanos(self.busy_nanos.load(Ordering::Relaxed))
                .as_secs_f64(),
            latency_p50_secs: rank(0.50),
            latency_p95_secs: rank(0.95),
            latency_max_secs: lat.last().copied().unwrap_or(0.0),
        }
    }
}

/// The only replica's records, or its failure.
fn first_failure_or_output(runs: Vec<ReplicaRun>) -> std::result::Result<Vec<u8>, AttemptError> {
    runs.into_iter()
        .next()
        .map_or_else(|| Err(AttemptError::new("internal error: no replica ran")), |r| r.result)
}

/// The failure of every one of `k` replicas: the lowest replica's, named.
fn first_failure(runs: Vec<ReplicaRun>, k: usize) -> AttemptError {
    match runs.into_iter().find_map(|r| r.result.err()) {
        Some(mut e) => {
            e.reason = format!("all {k} replicas failed; replica 0: {}", e.reason);
            e
        }
        None => AttemptError::new("internal error: no replica failed"),
    }
}

/// Adds up the stats of several steps (percentiles: the worst step's).
pub(crate) fn merge_stats(all: impl IntoIterator<Item = ExecStats>) -> Option<ExecStats> {
    all.into_iter().reduce(|a, b| ExecStats {
        chunks: a.chunks + b.chunks,
        attempts: a.attempts + b.attempts,
        retries: a.retries + b.retries,
        timeouts: a.timeouts + b.timeouts,
        failed_chunks: a.failed_chunks + b.failed_chunks,
        concurrency: a.concurrency.max(b.concurrency),
        replicas: a.replicas.max(b.replicas),
        failed_replicas: a.failed_replicas + b.failed_replicas,
        workers_started: a.workers_started + b.workers_started,
        attempt_secs: a.attempt_secs + b.attempt_secs,
        latency_p50_secs: a.latency_p50_secs.max(b.latency_p50_secs),
        latency_p95_secs: a.latency_p95_secs.max(b.latency_p95_secs),
        latency_max_secs: a.latency_max_secs.max(b.latency_max_secs),
    })
}

/// Sleeps `d` (a backoff), in steps, returning early on a signal or when
/// the run is stopping.
fn sleep_unless_stopping(d: Duration, stop: &AtomicBool) {
    let until = Instant::now() + d;
    while INTERRUPT.load(Ordering::Relaxed) == 0 && !stop.load(Ordering::Relaxed) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(POLL));
    }
}

/// Starts `argv` (the program at `path`) in its own process group with
/// `env` added to its environment and its three standard streams piped.
pub(crate) fn spawn(
    path: &std::path::Path,
    argv: &[String],
    env: &[(&str, String)],
) -> std::result::Result<Child, AttemptError> {
    let program = argv.first().map(String::as_str).unwrap_or_default();
    Command::new(path)
        .arg0(program)
        .args(argv.get(1..).unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| AttemptError::new(format!("cannot start `{program}`: {e}")))
}

/// Runs `argv` (the program at `path`) once in its own process group with
/// `env` added to its environment and `input` on its standard input;
/// returns its standard output and the tail of its standard error when it
/// exits with status 0.
///
/// This thread moves the bytes itself, waiting on the three pipes with
/// `poll(2)` (standard input non-blocking), so a command that writes before
/// it has read everything cannot deadlock and no thread is started. On the
/// timeout, a signal or `stop` it kills the whole process group.
fn run_once(
    path: &std::path::Path,
    argv: &[String],
    env: &[(&str, String)],
    input: &[u8],
    timeout: Option<Duration>,
    stop: &AtomicBool,
) -> std::result::Result<(Vec<u8>, Vec<u8>), AttemptError> {
    let program = argv.first().map(String::as_str).unwrap_or_default();
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut child = spawn(path, argv, env)?;
    let mut streams = match Streams::take(&mut child) {
        Ok(s) => s,
        Err(e) => {
            kill_group(&mut child);
            return Err(AttemptError::new(format!("cannot set up the pipes: {e}")));
        }
    };
    let mut pipes = Pipes::new(&mut streams, input, None, Vec::new());
    // The outputs end when every process holding them has exited.
    let mut killed = pipes.pump(deadline, timeout, true, stop);
    // Then the process is exiting (or closed them early and goes on: it
    // gets until the deadline).
    let mut status = None;
    let mut nap = Duration::from_micros(20);
    while killed.is_none() {
        match child.try_wait() {
            Ok(Some(s)) => {
                status = Some(s);
                break;
            }
            Ok(None) => {}
            Err(e) => {
                kill_group(&mut child);
                return Err(AttemptError::new(format!("cannot wait for `{program}`: {e}")));
            }
        }
        killed = expired(deadline, timeout, stop);
        std::thread::sleep(nap.min(wait_step(deadline)));
        nap = (nap * 2).min(Duration::from_millis(5));
    }
    if let Some(why) = killed {
        kill_group(&mut child);
        return Err(pipes.killed(why, stop));
    }
    let Pipes { out, tail, error, .. } = pipes;
    let failed = |reason: String| AttemptError { reason, stderr: tail.clone(), timed_out: false };
    let status = status.ok_or_else(|| failed("the process did not exit".into()))?;
    if !status.success() {
        return Err(failed(describe(status)));
    }
    match error {
        Some(e) => Err(failed(format!("cannot read its output: {e}"))),
        None => Ok((out, tail)),
    }
}

/// The parent's ends of a child's three pipes; `None` once closed.
#[derive(Debug)]
pub(crate) struct Streams {
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
}

impl Streams {
    /// Takes the child's pipes, standard input made non-blocking.
    pub(crate) fn take(child: &mut Child) -> std::io::Result<Streams> {
        let missing = || std::io::Error::other("a pipe is missing");
        let stdin = child.stdin.take().ok_or_else(missing)?;
        let flags = fcntl(&stdin, FcntlArg::F_GETFL)?;
        let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
        fcntl(&stdin, FcntlArg::F_SETFL(flags))?;
        Ok(Streams {
            stdin: Some(stdin),
            stdout: Some(child.stdout.take().ok_or_else(missing)?),
            stderr: Some(child.stderr.take().ok_or_else(missing)?),
        })
    }

    /// True while standard input and output are both open.
    pub(crate) fn open(&self) -> bool {
        self.stdin.is_some() && self.stdout.is_some()
    }

    /// Closes standard input (the child reads its end) and drops the
    /// outputs.
    pub(crate) fn close(&mut self) {
        (self.stdin, self.stdout, self.stderr) = (None, None, None);
    }
}

/// One exchange over a child's pipes: the input to write, and what came
/// back.
pub(crate) struct Pipes<'a> {
    io: &'a mut Streams,
    input: &'a [u8],
    written: usize,
    /// Stop once this many lines were read (a persistent worker's
    /// answers), standard input left open; `None`: until both outputs
    /// close, standard input closed once written.
    lines_wanted: Option<usize>,
    /// Line ends read so far.
    pub(crate) lines: usize,
    /// What standard output gave.
    pub(crate) out: Vec<u8>,
    /// The last [`STDERR_TAIL_BYTES`] of standard error.
    pub(crate) tail: Vec<u8>,
    /// A read error on standard output.
    pub(crate) error: Option<std::io::Error>,
}

impl<'a> Pipes<'a> {
    /// An exchange writing `input`, reading until `lines_wanted` lines (or
    /// the end of the outputs), its standard error's tail going on from
    /// `tail`.
    pub(crate) fn new(
        io: &'a mut Streams,
        input: &'a [u8],
        lines_wanted: Option<usize>,
        tail: Vec<u8>,
    ) -> Pipes<'a> {
        if input.is_empty() && lines_wanted.is_none() {
            // Nothing to write: closed at once.
            io.stdin = None;
        }
        Pipes { io, input, written: 0, lines_wanted, lines: 0, out: Vec::new(), tail, error: None }
    }

    /// True once the input is written and the lines wanted were read.
    fn answered(&self) -> bool {
        self.lines_wanted.is_some_and(|n| self.lines >= n && self.written >= self.input.len())
    }

    /// The attempt's error after the child's group was killed for `why`:
    /// collects what the pipes still hold for a short while (stderr's tail
    /// explains a hang; a process that left the group may keep them open).
    pub(crate) fn killed(mut self, why: String, stop: &AtomicBool) -> AttemptError {
        self.lines_wanted = None;
        let _ = self.pump(Some(Instant::now() + KILL_GRACE), None, false, stop);
        let timed_out = why.starts_with("timed out");
        AttemptError { reason: why, stderr: self.tail, timed_out }
    }

    /// Writes the input and reads both outputs until both outputs are
    /// closed (or the lines wanted came); returns why it stopped early (the
    /// deadline passed, or with `signals` a signal asked the run to stop),
    /// if so. A command that exits without reading all its input gets a
    /// broken pipe: its exit status decides.
    pub(crate) fn pump(
        &mut self,
        deadline: Option<Instant>,
        timeout: Option<Duration>,
        signals: bool,
        stop: &AtomicBool,
    ) -> Option<String> {
        let mut buf = vec![0u8; 64 << 10];
        // Waiting for answers, a closed standard output ends the wait.
        let err_too = self.lines_wanted.is_none();
        while (self.io.stdout.is_some() || err_too && self.io.stderr.is_some()) && !self.answered()
        {
            let stop = match (signals, timeout) {
                (true, _) => expired(deadline, timeout, stop),
                (false, _) if deadline.is_some_and(|d| Instant::now() >= d) => {
                    Some("grace period over".into())
                }
                _ => None,
            };
            if stop.is_some() {
                return stop;
            }
            let wait = wait_step(deadline);
            let ms = u16::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(u16::MAX);
            let (mut ready_in, mut ready_out, mut ready_err) = (false, false, false);
            {
                let (mut which, mut fds) = (Vec::with_capacity(3), Vec::with_capacity(3));
                if let Some(p) = self.io.stdin.as_ref().filter(|_| self.written < self.input.len())
                {
                    which.push(0);
                    fds.push(PollFd::new(p.as_fd(), PollFlags::POLLOUT));
                }
                if let Some(p) = &self.io.stdout {
                    which.push(1);
                    fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
                }
                if let Some(p) = &self.io.stderr {
                    which.push(2);
                    fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
                }
                match poll(&mut fds, PollTimeout::from(ms)) {
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => {
                        self.error = Some(e.into());
                        return Some(format!("cannot wait on its pipes: {e}"));
                    }
                }
                for (w, f) in which.iter().zip(&fds) {
                    let ready = f.revents().is_some_and(|r| !r.is_empty());
                    match w {
                        0 => ready_in = ready,
                        1 => ready_out = ready,
                        _ => ready_err = ready,
                    }
                }
            }
            if ready_in {
                self.write_some();
            }
            if ready_out {
                if let Some(p) = &mut self.io.stdout {
                    match p.read(&mut buf) {
                        Ok(0) => self.io.stdout = None,
                        Ok(n) => {
                            let got = &buf[..n];
                            if self.lines_wanted.is_some() {
                                self.lines += memchr::memchr_iter(b'\n', got).count();
                            }
                            self.out.extend_from_slice(got);
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            self.error = Some(e);
                            self.io.stdout = None;
                        }
                    }
                }
            }
            if ready_err {
                if let Some(p) = &mut self.io.stderr {
                    match p.read(&mut buf) {
                        Ok(0) | Err(_) => self.io.stderr = None,
                        Ok(n) => push_tail(&mut self.tail, &buf[..n], STDERR_TAIL_BYTES),
                    }
                }
            }
        }
        None
    }

    /// Writes what the pipe takes of the rest of the input; closes it at
    /// the end (or on a broken pipe) unless lines are wanted back.
    fn write_some(&mut self) {
        let Some(p) = &mut self.io.stdin else { return };
        let rest = self.input.get(self.written..).unwrap_or_default();
        match p.write(rest) {
            Ok(n) => self.written += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => {
                self.written = self.input.len();
                self.io.stdin = None;
            }
        }
        if self.written >= self.input.len() && self.lines_wanted.is_none() {
            self.io.stdin = None;
        }
    }
}

/// Appends `bytes` to `tail`, keeping its last `keep` bytes.
fn push_tail(tail: &mut Vec<u8>, bytes: &[u8], keep: usize) {
    tail.extend_from_slice(bytes);
    if tail.len() > keep {
        tail.drain(..tail.len() - keep);
    }
}

/// Why to kill the process now, if so: the deadline passed, a signal asked
/// the run to stop, or the run is stopping on an error (`stop`).
pub(crate) fn expired(
    deadline: Option<Instant>,
    timeout: Option<Duration>,
    stop: &AtomicBool,
) -> Option<String> {
    if INTERRUPT.load(Ordering::Relaxed) != 0 {
        return Some("interrupted".into());
    }
    if stop.load(Ordering::Relaxed) {
        return Some("cancelled: the run is stopping".into());
    }
    match (deadline, timeout) {
        (Some(d), Some(t)) if Instant::now() >= d => {
            Some(format!("timed out after {}; its process group was killed", show_duration(t)))
        }
        _ => None,
    }
}

/// How long to block before looking at the deadline and signals again.
pub(crate) fn wait_step(deadline: Option<Instant>) -> Duration {
    match deadline {
        Some(d) => d.saturating_duration_since(Instant::now()).min(POLL),
        None => POLL,
    }
}

/// Kills the child's process group (the command and every process it
/// started that stayed in the group) and reaps the child.
pub(crate) fn kill_group(child: &mut Child) {
    if let Ok(id) = i32::try_from(child.id()) {
        // The child is not reaped yet, so its id still names its group.
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(id),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// An exit status in words: `exit status 3`, `killed by signal 9`.
pub(crate) fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => status.to_string(),
    }
}

/// `1.5s`, `200ms`, `2m`.
pub(crate) fn show_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{}ms", d.as_millis())
    } else if s < 60.0 || s % 60.0 != 0.0 {
        format!("{s}s")
    } else {
        format!("{}m", s / 60.0)
    }
}

/// NDJSON objects (one per line) as CSV with a header line: the union of
/// the keys in first-seen order. Strings are written unquoted (CSV-quoted
/// where needed), `null` and missing keys as empty fields, other values as
/// compact JSON.
fn ndjson_to_csv(records: &[u8], delimiter: u8) -> std::result::Result<Vec<u8>, String> {
    let text = std::str::from_utf8(records).map_err(|e| format!("records are not UTF-8: {e}"))?;
    let mut rows = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut pairs = Vec::new();
        object_pairs(line, &mut pairs).map_err(|e| format!("a record is not JSON: {e}"))?;
        for (k, _) in &pairs {
            if !index.contains_key(k.as_ref()) {
                index.insert(k.to_string(), keys.len());
                keys.push(k.to_string());
            }
        }
        rows.push(pairs);
    }
    let mut out = Vec::with_capacity(records.len());
    write_row(&mut out, keys.iter().map(|k| k.as_bytes().to_vec()), delimiter);
    let mut values: Vec<Vec<u8>> = vec![Vec::new(); keys.len()];
    for pairs in rows {
        values.iter_mut().for_each(Vec::clear);
        for (k, v) in pairs {
            let Some(&i) = index.get(k.as_ref()) else { continue };
            let raw = v.as_bytes();
            let slot = &mut values[i];
            slot.clear();
            match raw.first() {
                Some(b'"') => {
                    if let Some(t) = Field::JsonString(raw).text() {
                        slot.extend_from_slice(&t);
                    }
                }
                Some(b'n') => {}
                _ => write_compact_json(slot, raw),
            }
        }
        write_row(&mut out, values.iter().cloned(), delimiter);
    }
    Ok(out)
}

/// Appends one CSV row; a row of one empty field is written `""`, so that
/// it is not read back as a blank line.
fn write_row(out: &mut Vec<u8>, fields: impl Iterator<Item = Vec<u8>>, delimiter: u8) {
    let start = out.len();
    let mut n = 0;
    for (i, f) in fields.enumerate() {
        if i > 0 {
            out.push(delimiter);
        }
        write_csv_field(out, &f, delimiter);
        n += 1;
    }
    if n == 1 && out.len() == start {
        out.extend_from_slice(b"\"\"");
    }
    out.push(b'\n');
}

/// The CSV a command printed (header line first) as NDJSON lines; each
/// field goes through `write_field` (number inference, empty as null).
fn csv_to_ndjson(
    out: &[u8],
    delimiter: u8,
    write_field: &dyn Fn(&mut Vec<u8>, &[u8]),
) -> std::result::Result<Vec<u8>, String> {
    let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).from_reader(out);
    let header = reader.byte_headers().map_err(|e| format!("its output is not CSV: {e}"))?.clone();
    let mut keys = Vec::with_capacity(header.len());
    for h in &header {
        let k = std::str::from_utf8(h)
            .map_err(|_| "its output's header line is not UTF-8".to_string())?;
        let mut quoted = Vec::new();
        write_json_string(&mut quoted, k.as_bytes());
        keys.push(quoted);
    }
    let mut ndjson = Vec::with_capacity(out.len() * 2);
    let mut rec = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(format!("its output is not CSV: {e}")),
        }
        if std::str::from_utf8(rec.as_slice()).is_err() {
            let line = rec.position().map_or(0, |p| p.line());
            return Err(format!("its output is not UTF-8 (line {line})"));
        }
        ndjson.push(b'{');
        for (i, (k, v)) in keys.iter().zip(rec.iter()).enumerate() {
            if i > 0 {
                ndjson.push(b',');
            }
            ndjson.extend_from_slice(k);
            ndjson.push(b':');
            write_field(&mut ndjson, v);
        }
        ndjson.extend_from_slice(b"}\n");
    }
    Ok(ndjson)
}

/// The first 60 characters of `text`, with `…` when there is more: a bad
/// line as an error message shows it.
pub(crate) fn excerpt(text: &str) -> String {
    let mut shown: String = text.chars().take(60).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    shown
}

/// Checks that every non-blank line a command printed is a JSON object;
/// returns the lines without blank ones and line ends.
fn check_ndjson(out: Vec<u8>) -> std::result::Result<Vec<u8>, String> {
    let text = String::from_utf8(out).map_err(|e| format!("its output is not UTF-8: {e}"))?;
    let mut checked = Vec::with_capacity(text.len() + 1);
    let mut pairs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        pairs.clear();
        object_pairs(line, &mut pairs).map_err(|e| {
            format!("its output line {} is not a JSON object ({e}): `{}`", i + 1, excerpt(line))
        })?;
        checked.extend_from_slice(line.as_bytes());
        checked.push(b'\n');
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("3 days").is_err());
        assert!(parse_duration("-1s").is_err());
        assert_eq!(show_duration(Duration::from_millis(200)), "200ms");
        assert_eq!(show_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(show_duration(Duration::from_secs(120)), "2m");
    }

    #[test]
    fn command_words() {
        let s = ExecSpec::new(r#"python3 -c 'print("a b")' "x y" z\ w"#).unwrap();
        assert_eq!(s.argv, ["python3", "-c", "print(\"a b\")", "x y", "z w"]);
        assert!(ExecSpec::new("echo 'open").is_err());
        assert!(ExecSpec::new("  ").is_err());
    }

    #[test]
    fn csv_both_ways() {
        let nd = b"{\"a\":\"x,y\",\"b\":1.50}\n{\"b\":null,\"c\":[1, 2]}\n";
        let csv = ndjson_to_csv(nd, b',').unwrap();
        assert_eq!(String::from_utf8(csv.clone()).unwrap(), "a,b,c\n\"x,y\",1.50,\n,,\"[1,2]\"\n");
        let plain = |out: &mut Vec<u8>, t: &[u8]| write_json_string(out, t);
        let back = csv_to_ndjson(&csv, b',', &plain).unwrap();
        assert_eq!(
            String::from_utf8(back).unwrap(),
            "{\"a\":\"x,y\",\"b\":\"1.50\",\"c\":\"\"}\n{\"a\":\"\",\"b\":\"\",\"c\":\"[1,2]\"}\n"
        );
        // One empty field is not a blank line.
        assert_eq!(ndjson_to_csv(b"{\"a\":null}\n", b',').unwrap(), b"a\n\"\"\n");
        assert!(csv_to_ndjson(b"a,b\n1\n", b',', &plain).is_err());
    }

    #[test]
    fn ndjson_output_is_checked() {
        assert_eq!(
            check_ndjson(b"{\"a\":1}\r\n\n {\"b\":2}\n".to_vec()).unwrap(),
            b"{\"a\":1}\n {\"b\":2}\n"
        );
        let e = check_ndjson(b"{\"a\":1}\n[1]\n".to_vec()).unwrap_err();
        assert!(e.starts_with("its output line 2 is not a JSON object"), "{e}");
    }

    #[test]
    fn tail_keeps_the_end() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut tail = Vec::new();
        data.chunks(999).for_each(|c| push_tail(&mut tail, c, 2048));
        assert_eq!(tail, data[data.len() - 2048..]);
    }

    #[test]
    fn run_once_and_timeout() {
        let argv: Vec<String> = ["sh", "-c", "tr a-z A-Z; echo oops >&2"].map(String::from).into();
        let sh = std::path::Path::new("/bin/sh");
        let no = AtomicBool::new(false);
        let (out, err) = run_once(sh, &argv, &[], b"abc\n", None, &no).unwrap();
        assert_eq!((out.as_slice(), err.as_slice()), (&b"ABC\n"[..], &b"oops\n"[..]));
        let argv: Vec<String> = ["sh", "-c", "echo bad >&2; exit 3"].map(String::from).into();
        let e = run_once(sh, &argv, &[], b"", None, &no).unwrap_err();
        assert_eq!((e.reason.as_str(), e.stderr.as_slice()), ("exit status 3", &b"bad\n"[..]));
        let argv: Vec<String> = ["sh", "-c", "sleep 5 & sleep 5; wait"].map(String::from).into();
        let t = Instant::now();
        let e = run_once(sh, &argv, &[], b"", Some(Duration::from_millis(200)), &no).unwrap_err();
        assert!(e.timed_out && t.elapsed() < Duration::from_secs(3), "{e:?}");
    }
}
