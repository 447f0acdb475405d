//! The executor: wires the splitter, the worker pool and the reducer, with
//! bounded backpressure and an in-order merge.
//!
//! ```text
//! reader thread ──Chunk──▶ rayon pool (parse, fold, seal) ──(seq, Partial)──▶ this thread
//!   splitter                 `--threads` workers                 reorder buffer, merge in seq order
//!      ▲                                                                │
//!      └──────────── slot returned once the chunk is merged ◀───────────┘
//! ```
//!
//! A chunk holds one of `max_in_flight` slots from the moment the reader
//! starts cutting it until its partial has been merged. The reader waits
//! for a free slot, so at most `max_in_flight` chunks (their bytes and
//! partials) exist at once, whatever the input size, and a slow chunk
//! cannot make the reorder buffer grow: it can hold at most
//! `max_in_flight - 1` partials waiting for it.
//!
//! Errors: the first error in input order wins (a chunk's error is acted
//! on when every earlier chunk has been merged), so the message does not
//! depend on scheduling. Then the reader stops, queued chunks are skipped,
//! and the error is returned. A panic in a worker becomes
//! [`ErrorKind::WorkerPanic`] naming the chunk's first line.
//!
//! Cancellation: the run watches [`ExecOptions::cancel`] (through a child
//! token, which it cancels itself when it stops on an error). Once the
//! token is cancelled the reader stops at the next chunk, queued chunks are
//! skipped, and the run returns [`ErrorKind::Interrupted`] or
//! [`ErrorKind::Cancelled`] without finishing the reducer.
//!
//! With a [`Journal`] ([`run_journaled`], `--journal`), a worker records
//! what the chain made of its chunk before the chunk is merged, and a chunk
//! the journal already holds skips the chain (see [`journal`]).

pub(crate) mod journal;
mod progress;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{bounded, unbounded};

use crate::cancel::CancelToken;
use crate::error::{Error, ErrorKind, Location, Result, Setting, SettingNames};
use crate::parse::{for_each_record_or, BadRecord, ParseOptions};
use crate::record::Record;
use crate::reduce::{Reducer, Sink};
use crate::sink::rejects::{MaxErrors, OnError, Reject};
use crate::source::{Chunk, Splitter};
use crate::transform::{Chain, ExecStats};

pub use journal::{Journal, JournalSpec};

/// Parallelism, bad-record and cancellation settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecOptions {
    /// Worker threads in the pool (at least 1).
    pub threads: usize,
    /// Chunks read but not yet merged, at most (at least 1).
    pub max_in_flight: usize,
    /// What a bad record does (`--on-error`).
    pub on_error: OnError,
    /// When to give up on bad records (`--max-errors`).
    pub max_errors: Option<MaxErrors>,
    /// Draw a progress bar on standard error (`--progress`), whether or
    /// not it is a terminal.
    pub progress: bool,
    /// Total size of the inputs in bytes, when known (for the progress
    /// bar's ETA).
    pub input_bytes: Option<u64>,
    /// Stops the run once cancelled (see the module docs). The run never
    /// cancels it; give the splitter
    /// ([`Splitter::with_cancel`](crate::source::Splitter::with_cancel)) and the
    /// chain the same token, or children of it, so that a blocked read and
    /// running `--exec` commands stop too.
    pub cancel: CancelToken,
    /// How the text of a rejected record's error names settings (the
    /// messages in the rejects file; see [`crate::error`]).
    pub setting_names: SettingNames,
}

/// What a run did, for `--stats`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunStats {
    /// Records read from the inputs (bad ones included).
    pub records_read: u64,
    /// Records rejected or skipped (`--on-error`).
    pub records_rejected: u64,
    /// Records the transforms dropped (filtered out, or mapped to nothing).
    /// `records_read` = kept + `records_filtered` + `records_rejected`,
    /// where kept records reach the reducer.
    pub records_filtered: u64,
    /// Records written to the output.
    pub records_written: u64,
    /// Chunks processed.
    pub chunks: u64,
    /// Chunks whose records came from the `--journal` of an earlier run
    /// (`--resume`) instead of from their steps.
    pub chunks_resumed: u64,
    /// Comment lines skipped ([`PipelineBuilder::comment`](crate::PipelineBuilder::comment)).
    pub comment_lines: u64,
    /// Worker threads.
    pub threads: usize,
    /// Bytes read from the inputs as they are stored: compressed bytes for
    /// a compressed input.
    pub bytes_read: u64,
    /// Bytes of text the inputs held: decompressed and transcoded to
    /// UTF-8 (equal to `bytes_read` for plain UTF-8 inputs).
    pub bytes_parsed: u64,
    /// Bytes written to the output.
    pub bytes_written: u64,
    /// Wall time of the run, in seconds.
    pub elapsed_secs: f64,
    /// Most chunks in flight at once.
    pub peak_in_flight: u64,
    /// Sorted runs a sort wrote to spill files (merge passes included).
    pub spilled_runs: u64,
    /// Bytes a sort wrote to spill files (merge passes included).
    pub spilled_bytes: u64,
    /// What the `--exec` steps did; `None` without one.
    pub exec: Option<ExecStats>,
    /// What the `--http` steps did; `None` without one.
    pub http: Option<crate::transform::HttpStats>,
}

impl RunStats {
    /// Input throughput in MB/s (10^6 bytes per second) of text parsed
    /// (`bytes_parsed`: decompressed bytes for a compressed input).
    pub fn mb_per_sec(&self) -> f64 {
        if self.elapsed_secs > 0.0 {
            self.bytes_parsed as f64 / 1e6 / self.elapsed_secs
        } else {
            0.0
        }
    }
}

/// What a worker returns for a chunk.
struct ChunkOutput<P> {
    partial: P,
    read: u64,
    filtered: u64,
    rejects: Vec<Reject>,
    /// The records came from the journal.
    resumed: bool,
}

type ChunkResult<P> = (u64, Result<ChunkOutput<P>>);

/// Runs `reducer` over every chunk of `splitter`, writing to `sink`; with a
/// `chain`, each chunk's records go through it on the worker first. With
/// `--on-error reject`, rejected records are written to `rejects` (as
/// NDJSON, in input order).
///
/// `splitter.header()` must already have been read (the caller needs it to
/// build the reducer).
///
/// With a [`Journal`]: when `chain` has a value stage (a `--map` or
/// `--exec` step), each chunk the journal holds is folded from it instead
/// of being parsed and mapped, and each chunk mapped is recorded in it,
/// durably, before it is merged (see [`journal`]).
///
/// # Errors
/// The first error in input order: I/O, parse, reducer or output errors;
/// [`ErrorKind::Interrupted`] or [`ErrorKind::Cancelled`] once `opts.cancel` is
/// cancelled; the journal's: [`ErrorKind::Journal`] for an entry that does not
/// match its chunk, [`ErrorKind::Io`] naming the journal.
///
/// # Panics
/// When `opts.threads` or `opts.max_in_flight` is 0.
#[allow(clippy::too_many_arguments)]
pub fn run_journaled<R: Reducer>(
    mut splitter: Splitter,
    parse: ParseOptions,
    chain: Option<Arc<Chain>>,
    reducer: Arc<R>,
    sink: &mut Sink<'_>,
    mut rejects: Option<&mut Sink<'_>>,
    opts: ExecOptions,
    journal: Option<Arc<Journal>>,
) -> Result<RunStats> {
    assert!(opts.threads > 0 && opts.max_in_flight > 0);
    if let Some(e) = opts.cancel.error() {
        return Err(e);
    }
    let started = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .thread_name(|i| format!("fanfold-worker-{i}"))
        .build()
        .map_err(|e| Error::setting(Setting::Threads, e.to_string()))?;
    let parse = Arc::new(parse);
    // Cancelled by the caller, or here when the run stops on an error.
    let cancel = opts.cancel.child();
    let in_flight = Arc::new(AtomicU64::new(0));
    let peak = AtomicU64::new(0);

    let (slot_tx, slot_rx) = bounded::<()>(opts.max_in_flight);
    for _ in 0..opts.max_in_flight {
        slot_tx.send(()).expect("the channel has room for every slot");
    }
    let (result_tx, result_rx) = unbounded::<ChunkResult<R::Partial>>();
    // Chunk buffers go back to the reader once parsed.
    let (recycle_tx, recycle_rx) = bounded::<Vec<u8>>(opts.max_in_flight + 1);
    splitter.recycle_from(recycle_rx);

    reducer.start(sink)?;
    let mut stats = RunStats { threads: opts.threads, ..RunStats::default() };
    let bar = opts.progress.then(|| progress::Progress::new(opts.input_bytes));

    let outcome = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let result_tx = result_tx;
            let mut seq = 0;
            loop {
                if slot_rx.recv().is_err() || cancel.is_cancelled() {
                    break;
                }
                let chunk = match splitter.next_chunk() {
                    Ok(Some(c)) => c,
                    Ok(None) => break,
                    Err(e) => {
                        let _ = result_tx.send((seq, Err(e)));
                        break;
                    }
                };
                seq = chunk.seq + 1;
                if let Some(bar) = &bar {
                    bar.bytes(splitter.bytes_read());
                }
                let now = in_flight.fetch_add(1, Ordering::Relaxed) + 1;
                peak.fetch_max(now, Ordering::Relaxed);
                let tx = result_tx.clone();
                let recycle = recycle_tx.clone();
                let (reducer, parse, cancel) = (reducer.clone(), parse.clone(), cancel.clone());
                let (chain, journal) = (chain.clone(), journal.clone());
                let (on_error, names) = (opts.on_error, opts.setting_names);
                pool.spawn_fifo(move || {
                    let seq = chunk.seq;
                    let res = if cancel.is_cancelled() {
                        let partial = reducer.empty();
                        let rejects = Vec::new();
                        let resumed = false;
                        Ok(ChunkOutput { partial, read: 0, filtered: 0, rejects, resumed })
                    } else {
                        let chain = chain.as_deref();
                        let journal = journal.as_deref();
                        process(
                            &chunk,
                            &parse,
                            chain,
                            &*reducer,
                            (on_error, names),
                            journal,
                            &cancel,
                        )
                    };
                    let _ = recycle.try_send(chunk.data);
                    let _ = tx.send((seq, res));
                });
            }
            (splitter.bytes_read(), splitter.bytes_parsed(), splitter.comment_lines())
        });

        let mut pending: BTreeMap<u64, Result<ChunkOutput<R::Partial>>> = BTreeMap::new();
        let mut report = Vec::new();
        let mut next = 0u64;
        let mut total = reducer.empty();
        let mut failure = None;
        'recv: for (seq, res) in result_rx.iter() {
            if let Some(e) = cancel.error() {
                failure = Some(e);
                break 'recv;
            }
            pending.insert(seq, res);
            while let Some(res) = pending.remove(&next) {
                next += 1;
                let step = res.and_then(|out| {
                    // A failed `--exec` chunk is one entry for its records.
                    let rejected_here: u64 = out.rejects.iter().map(|j| j.records).sum();
                    if let Some(max) = opts.max_errors {
                        // The reject that crosses the limit, counted record
                        // by record so the message does not depend on
                        // chunking.
                        let mut rejected = stats.records_rejected;
                        for j in &out.rejects {
                            rejected += j.records;
                            let read = stats.records_read + j.index + 1;
                            if max.exceeded(rejected, read, false) {
                                let limit = max.to_string();
                                return Err(
                                    ErrorKind::TooManyRejects { limit, rejected, read }.into()
                                );
                            }
                        }
                    }
                    stats.records_read += out.read;
                    stats.records_filtered += out.filtered;
                    stats.records_rejected += rejected_here;
                    stats.chunks_resumed += u64::from(out.resumed);
                    if let Some(r) = rejects.as_deref_mut() {
                        report.clear();
                        out.rejects.iter().for_each(|j| j.write_ndjson(&mut report));
                        r.write(&report, out.rejects.len() as u64)?;
                    }
                    reducer.merge(&mut total, out.partial)?;
                    reducer.drain(&mut total, sink)
                });
                let now = in_flight.fetch_sub(1, Ordering::Relaxed).saturating_sub(1);
                if let Some(bar) = &bar {
                    bar.counts(progress::Counts {
                        records: stats.records_read,
                        chunks_done: next,
                        in_flight: now,
                        retries: chain.as_ref().map_or(0, |c| c.exec_retries()),
                        http: chain.as_ref().and_then(|c| c.http_progress()),
                        rejected: stats.records_rejected,
                    });
                }
                if let Err(e) = step {
                    failure = Some(e);
                    break 'recv;
                }
                let _ = slot_tx.send(());
            }
        }
        if failure.is_some() {
            cancel.cancel();
            if let Some(c) = &chain {
                c.stop_execs();
            }
        }
        drop(slot_tx);
        let joined = reader.join();
        // Wait for the chunks still on the workers (each holds a sender),
        // so that no `--exec` command outlives the run.
        for _ in result_rx.iter() {}
        stats.chunks = next;
        match (failure.or_else(|| cancel.error()), joined) {
            (Some(e), _) => Err(e),
            (None, Err(panic)) => Err(Error::internal(format!(
                "the reader thread panicked: {}",
                panic_message(&*panic)
            ))),
            (None, Ok((read, parsed, comments))) => {
                (stats.bytes_read, stats.bytes_parsed) = (read, parsed);
                stats.comment_lines = comments + parse.comment_lines.load(Ordering::Relaxed);
                Ok(total)
            }
        }
    });
    if let Some(bar) = &bar {
        bar.finish();
    }
    let mut total = outcome?;
    if let Some(max) = opts.max_errors {
        if max.exceeded(stats.records_rejected, stats.records_read, true) {
            return Err(ErrorKind::TooManyRejects {
                limit: max.to_string(),
                rejected: stats.records_rejected,
                read: stats.records_read,
            }
            .into());
        }
    }
    pool.install(|| reducer.finalize(&mut total))?;
    if let Some(e) = opts.cancel.error() {
        return Err(e);
    }
    reducer.finish(total, sink)?;
    sink.close()?;
    stats.records_written = sink.records();
    stats.bytes_written = sink.bytes();
    stats.peak_in_flight = peak.load(Ordering::Relaxed);
    stats.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(stats)
}

/// Parses, transforms and folds one chunk on a worker, setting bad records
/// aside as `on_error` says and turning a panic into an error. With a
/// journal and a chain that maps records, the chunk's records come from
/// the journal when it has them, and go to it when it does not.
fn process<R: Reducer>(
    chunk: &Chunk,
    parse: &ParseOptions,
    chain: Option<&Chain>,
    reducer: &R,
    (on_error, names): (OnError, SettingNames),
    journal: Option<&Journal>,
    cancel: &CancelToken,
) -> Result<ChunkOutput<R::Partial>> {
    let run = || -> Result<ChunkOutput<R::Partial>> {
        let mut partial = reducer.empty();
        let mut rejects = Vec::new();
        let bad = |rejects: &mut Vec<Reject>, e: Error, at: BadRecord<'_>| match on_error {
            OnError::Fail => Err(e),
            OnError::Skip | OnError::Reject => {
                rejects.push(Reject::new(&e, at.raw, at.offset, chunk.seq, at.index, names));
                Ok(())
            }
        };
        let mut fold = |rec: &Record<'_>| reducer.fold(&mut partial, rec);
        let mut resumed = false;
        let (read, filtered) = match (chain, journal) {
            (Some(chain), Some(journal)) if chain.has_value_stage() => {
                let mapped = match journal.replay(chunk)? {
                    Some((mapped, journaled)) => {
                        resumed = true;
                        rejects = journaled;
                        mapped
                    }
                    None => {
                        let mut bad = |e: Error, at: BadRecord<'_>| bad(&mut rejects, e, at);
                        let mapped = chain.map_chunk(chunk, parse, &mut bad)?.unwrap_or_default();
                        // A run that is stopping kills its `--exec`
                        // commands: what they left is no result to keep.
                        // (A run stopping on an error has its error
                        // already: this one is not reported.)
                        if let Some(e) = cancel.error() {
                            return Err(e);
                        }
                        journal.record(chunk, &mapped, &rejects)?;
                        mapped
                    }
                };
                let input = parse.input_names.get(chunk.input).map_or("<input>", String::as_str);
                let mut bad = |e: Error, at: BadRecord<'_>| bad(&mut rejects, e, at);
                chain.fold_mapped(&mapped, input, chunk.seq, &mut fold, &mut bad)?;
                (mapped.read, mapped.filtered)
            }
            (None, _) => {
                let mut bad = |e: Error, at: BadRecord<'_>| bad(&mut rejects, e, at);
                (for_each_record_or(chunk, parse, &mut fold, &mut bad)?, 0)
            }
            (Some(chain), _) => {
                let mut bad = |e: Error, at: BadRecord<'_>| bad(&mut rejects, e, at);
                chain.run_chunk(chunk, parse, &mut fold, &mut bad)?
            }
        };
        if on_error == OnError::Skip {
            // Counted, not reported: keep only what the count needs.
            rejects.iter_mut().for_each(|r| {
                r.raw = Vec::new();
                r.message = String::new();
            });
        }
        reducer.seal(&mut partial)?;
        Ok(ChunkOutput { partial, read, filtered, rejects, resumed })
    };
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(res) => res,
        Err(panic) => {
            let message = panic_message(&*panic);
            let input = parse.input_names.get(chunk.input).cloned().unwrap_or_default();
            Err(ErrorKind::WorkerPanic { at: Location { input, line: chunk.first_line }, message }
                .into())
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}
