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
//! [`Error::WorkerPanic`] naming the chunk's first line.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{bounded, unbounded};

use crate::error::{Error, Location, Result};
use crate::parse::{for_each_record, ParseOptions};
use crate::reduce::{Reducer, Sink};
use crate::source::{Chunk, Splitter};
use crate::transform::Chain;

/// Parallelism settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecOptions {
    /// Worker threads in the pool (at least 1).
    pub threads: usize,
    /// Chunks read but not yet merged, at most (at least 1).
    pub max_in_flight: usize,
}

/// What a run did, for `--stats`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunStats {
    /// Records parsed from the inputs.
    pub records_read: u64,
    /// Records written to the output.
    pub records_written: u64,
    /// Chunks processed.
    pub chunks: u64,
    /// Worker threads.
    pub threads: usize,
    /// Bytes read from the inputs.
    pub bytes_read: u64,
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
}

impl RunStats {
    /// Input throughput in MB/s (10^6 bytes per second).
    pub fn mb_per_sec(&self) -> f64 {
        if self.elapsed_secs > 0.0 {
            self.bytes_read as f64 / 1e6 / self.elapsed_secs
        } else {
            0.0
        }
    }
}

type ChunkResult<P> = (u64, Result<(P, u64)>);

/// Runs `reducer` over every chunk of `splitter`, writing to `sink`; with a
/// `chain`, each chunk's records go through it on the worker first.
///
/// `splitter.header()` must already have been read (the caller needs it to
/// build the reducer).
///
/// # Errors
/// The first error in input order: I/O, parse, reducer or output errors.
///
/// # Panics
/// When `opts.threads` or `opts.max_in_flight` is 0.
pub fn run<R: Reducer>(
    mut splitter: Splitter,
    parse: ParseOptions,
    chain: Option<Arc<Chain>>,
    reducer: Arc<R>,
    sink: &mut Sink<'_>,
    opts: ExecOptions,
) -> Result<RunStats> {
    assert!(opts.threads > 0 && opts.max_in_flight > 0);
    let started = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .thread_name(|i| format!("fanfold-worker-{i}"))
        .build()
        .map_err(|e| Error::flag("--threads", e.to_string()))?;
    let parse = Arc::new(parse);
    let cancel = Arc::new(AtomicBool::new(false));
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

    let outcome = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let result_tx = result_tx;
            let mut seq = 0;
            loop {
                if slot_rx.recv().is_err() || cancel.load(Ordering::Relaxed) {
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
                let now = in_flight.fetch_add(1, Ordering::Relaxed) + 1;
                peak.fetch_max(now, Ordering::Relaxed);
                let tx = result_tx.clone();
                let recycle = recycle_tx.clone();
                let (reducer, parse, cancel) = (reducer.clone(), parse.clone(), cancel.clone());
                let chain = chain.clone();
                pool.spawn_fifo(move || {
                    let seq = chunk.seq;
                    let res = if cancel.load(Ordering::Relaxed) {
                        Ok((reducer.empty(), 0))
                    } else {
                        process(&chunk, &parse, chain.as_deref(), &*reducer)
                    };
                    let _ = recycle.try_send(chunk.data);
                    let _ = tx.send((seq, res));
                });
            }
            splitter.bytes_read()
        });

        let mut pending: BTreeMap<u64, Result<(R::Partial, u64)>> = BTreeMap::new();
        let mut next = 0u64;
        let mut total = reducer.empty();
        let mut failure = None;
        'recv: for (seq, res) in result_rx.iter() {
            pending.insert(seq, res);
            while let Some(res) = pending.remove(&next) {
                next += 1;
                let step = res.and_then(|(partial, n)| {
                    stats.records_read += n;
                    reducer.merge(&mut total, partial)?;
                    reducer.drain(&mut total, sink)
                });
                in_flight.fetch_sub(1, Ordering::Relaxed);
                if let Err(e) = step {
                    failure = Some(e);
                    break 'recv;
                }
                let _ = slot_tx.send(());
            }
        }
        if failure.is_some() {
            cancel.store(true, Ordering::Relaxed);
        }
        drop(slot_tx);
        let joined = reader.join();
        stats.chunks = next;
        match (failure, joined) {
            (Some(e), _) => Err(e),
            (None, Err(panic)) => Err(Error::Internal(format!(
                "the reader thread panicked: {}",
                panic_message(&*panic)
            ))),
            (None, Ok(bytes)) => {
                stats.bytes_read = bytes;
                Ok(total)
            }
        }
    });
    let total = outcome?;
    reducer.finish(total, sink)?;
    stats.records_written = sink.records();
    stats.bytes_written = sink.bytes();
    stats.peak_in_flight = peak.load(Ordering::Relaxed);
    stats.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(stats)
}

/// Parses, transforms and folds one chunk on a worker, turning a panic into
/// an error.
fn process<R: Reducer>(
    chunk: &Chunk,
    parse: &ParseOptions,
    chain: Option<&Chain>,
    reducer: &R,
) -> Result<(R::Partial, u64)> {
    let run = || -> Result<(R::Partial, u64)> {
        let mut partial = reducer.empty();
        let n = match chain {
            None => for_each_record(chunk, parse, |rec| reducer.fold(&mut partial, rec))?,
            Some(chain) => {
                chain.run_chunk(chunk, parse, &mut |rec| reducer.fold(&mut partial, rec))?
            }
        };
        reducer.seal(&mut partial)?;
        Ok((partial, n))
    };
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(res) => res,
        Err(panic) => {
            let message = panic_message(&*panic);
            let input = parse.input_names.get(chunk.input).cloned().unwrap_or_default();
            Err(Error::WorkerPanic { at: Location { input, line: chunk.first_line }, message })
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
