//! The external step's stage, shared by the workers for one run: the
//! permits that bound the processes at once, each chunk's attempts with
//! retries and backoff, its replicas and their vote, and the counters and
//! latencies behind [`ExecStats`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use backon::{BlockingRetryable, ExponentialBuilder};
use crossbeam_channel::{bounded, Receiver, Sender};

use crate::cancel::CancelToken;
use crate::error::{Message, Result};
use crate::transform::command::convert::{check_ndjson, csv_to_ndjson, ndjson_to_csv};
use crate::transform::command::persistent::Pool;
use crate::transform::command::process::{run_once, AttemptError, POLL};
use crate::transform::command::spec::{ExecFormat, ExecMode, ExecSpec};
use crate::transform::command::vote::vote;

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
    pub reason: Message,
    /// Attempts made.
    pub attempts: u32,
    /// The end of the last attempt's standard error (lossily decoded).
    pub stderr: String,
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
    /// A child of the run's token, cancelled when the run stops on an
    /// error: once it (or the run's token) is cancelled, running commands
    /// are killed and no more attempts start.
    stop: CancelToken,
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
    /// The stage stops once `cancel` is cancelled.
    ///
    /// # Errors
    /// As [`ExecSpec::check`].
    pub(crate) fn new(
        spec: &ExecSpec,
        json_input: bool,
        cancel: &CancelToken,
    ) -> Result<ExecStage> {
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
        let stop = cancel.child();
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
        self.stop.cancel();
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
                return Err(Failure { reason: reason.into(), attempts: 0, stderr: String::new() });
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
        .when(|_| !self.stop.is_cancelled())
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
        if self.stop.is_cancelled() {
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
                    parsed.map_err(|reason| AttemptError {
                        reason: reason.into(),
                        stderr,
                        timed_out: false,
                    })
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
            e.reason =
                Message::from(format!("all {k} replicas failed; replica 0: ")).append(e.reason);
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

/// Sleeps `d` (a backoff), in steps, returning early once `stop` is
/// cancelled (a signal, a caller, or the run stopping on an error).
fn sleep_unless_stopping(d: Duration, stop: &CancelToken) {
    let until = Instant::now() + d;
    while !stop.is_cancelled() {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(POLL));
    }
}
