//! `--exec-persistent CMD`: long-lived workers that answer one line per
//! record, as Hadoop Streaming and Spark's `pipe` do, so that starting a
//! process is not paid for every chunk.
//!
//! - **The pool.** At most `--concurrency` workers live at once: a chunk
//!   attempt holds one of the step's permits, takes an idle worker (or,
//!   when none is idle, starts one: workers start lazily), and gives it
//!   back when its answers are in. Each worker runs in its own process
//!   group, with `FANFOLD_WORKER` (the how-many-th start, from 0) in its
//!   environment. `FANFOLD_CHUNK`, `FANFOLD_ATTEMPT` and
//!   `FANFOLD_REPLICA` are not set: one worker serves many chunks.
//! - **The protocol.** Records always travel as NDJSON: the chunk's
//!   records are written to the worker's standard input, one JSON object a
//!   line, and the worker answers **exactly one line per record, in
//!   order**: a JSON object replaces the record; `null` drops it (as a
//!   filter would); an array of objects replaces it by those records, in
//!   order (`[]` drops it too). An empty line, any other JSON value, text
//!   that is not JSON, or more lines than records fail the attempt: the
//!   worker is killed and replaced. Chunk boundaries are invisible to the
//!   worker; it must flush its standard output after each answer (or at
//!   least whenever it waits for input), or the chunk waits for it.
//! - **Deadlock-free.** The attempt writes and reads at once, waiting on
//!   the three pipes with `poll(2)` (as `--exec` does), so a worker that
//!   answers while it is still being fed never blocks on a full pipe.
//! - **Failures.** The attempt fails, and the worker is killed (its whole
//!   process group, SIGKILL) and dropped, when it runs past `--timeout`
//!   (counted per chunk attempt, from when it has a worker: a worker
//!   started for the attempt does its start-up on that time), exits or closes its output before it has
//!   answered every record, or breaks the protocol. The retry takes
//!   another worker, started afresh when none is idle; retries, backoff,
//!   `--on-error`, rejects and the exec statistics are those of `--exec`.
//!   The tail of a worker's standard error (over its whole life) goes into
//!   the error message.
//! - **Shutdown.** When the run ends, each idle worker's standard input is
//!   closed and it gets [`SHUTDOWN_GRACE`] to exit; then its process group
//!   is killed. A run that stops on an error or a signal kills them at
//!   once. Their exit status at shutdown is not checked.
//! - **Order.** The answers of a chunk are its records' results in input
//!   order, and chunks are merged in input order: the output is the same
//!   for any `--concurrency`, `--threads` and chunk size, and the same as
//!   `--exec` with a command that maps records one by one.
//!
//! ```
//! use fanfold::{ChunkLimit, ExecSpec, Input, Pipeline, Step};
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("in.csv");
//! std::fs::write(&path, "n\n1\n2\n3\n")?;
//! // Echoes each record, but answers `null` (drop) to {"n":2}.
//! let mut worker = ExecSpec::persistent(
//!     r#"sh -c 'while read -r l; do case "$l" in *:2}) echo null;; *) echo "$l";; esac; done'"#,
//! )?;
//! worker.concurrency = 2;
//! let pipeline = Pipeline::builder()
//!     .input(Input::Path(path))
//!     .step(Step::Exec(worker))
//!     .chunk(ChunkLimit::Records(1))
//!     .build()?;
//! let mut out = Vec::new();
//! let stats = pipeline.run(&mut out, "<memory>")?;
//! assert_eq!(String::from_utf8(out)?, "n\n1\n3\n");
//! let exec = stats.exec.expect("exec stats");
//! assert!((1..=2).contains(&exec.workers_started));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::PathBuf;
use std::process::Child;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::value::RawValue;

use crate::cancel::CancelToken;
use crate::syntax::json_object::object_pairs;
use crate::transform::command::convert::excerpt;
use crate::transform::command::process::{
    describe, expired, kill_group, spawn, AttemptError, Pipes, Streams, KILL_GRACE, POLL,
};

/// How long a worker gets to exit after its standard input is closed at
/// the end of a run (2 s), before its process group is killed.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The persistent workers of one `--exec-persistent` step.
#[derive(Debug)]
pub(crate) struct Pool {
    program: PathBuf,
    argv: Vec<String>,
    idle: parking_lot::Mutex<Vec<Worker>>,
    started: AtomicU64,
    /// The stage's token: cancelled when the run is cancelled or stops on
    /// an error.
    stop: CancelToken,
}

/// One live worker process.
#[derive(Debug)]
struct Worker {
    child: Child,
    io: Streams,
    /// The last bytes of its standard error, over its life.
    tail: Vec<u8>,
}

impl Worker {
    /// True while it runs with its pipes open.
    fn alive(&mut self) -> bool {
        self.io.open() && matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Worker {
    /// A worker dropped while it runs (replaced, or the run is ending) is
    /// killed with its process group.
    fn drop(&mut self) {
        self.io.close();
        if matches!(self.child.try_wait(), Ok(None)) {
            kill_group(&mut self.child);
        }
    }
}

impl Pool {
    /// A pool for `argv` (the program at `program`); starts nothing.
    pub(crate) fn new(program: PathBuf, argv: Vec<String>, stop: CancelToken) -> Pool {
        Pool {
            program,
            argv,
            idle: parking_lot::Mutex::new(Vec::new()),
            started: AtomicU64::new(0),
            stop,
        }
    }

    /// Workers started so far.
    pub(crate) fn started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    /// Sends `records` (NDJSON, one object a line) to a worker and returns
    /// its answers as NDJSON records. The caller holds a permit.
    pub(crate) fn run(
        &self,
        records: &[u8],
        timeout: Option<Duration>,
    ) -> Result<Vec<u8>, AttemptError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut worker = loop {
            let idle = self.idle.lock().pop();
            match idle {
                // One that died or closed a pipe while idle is dropped.
                Some(mut w) => {
                    if w.alive() {
                        break w;
                    }
                }
                None => break self.start()?,
            }
        };
        let n = memchr::memchr_iter(b'\n', records).count();
        let tail = std::mem::take(&mut worker.tail);
        let mut pipes = Pipes::new(&mut worker.io, records, Some(n), tail);
        if let Some(why) = pipes.pump(deadline, timeout, true, &self.stop) {
            kill_group(&mut worker.child);
            return Err(pipes.killed(why, &self.stop));
        }
        if pipes.lines < n {
            let how = match &pipes.error {
                Some(e) => format!("cannot read its answers: {e}"),
                None => format!("the worker {}", ended(&mut worker.child)),
            };
            kill_group(&mut worker.child);
            let why = format!("{how} after answering {} of {n} records", pipes.lines);
            return Err(pipes.killed(why, &self.stop));
        }
        let answers = if pipes.lines > n || pipes.out.last() != Some(&b'\n') {
            Err(format!("the worker printed more than one line for each of {n} records"))
        } else {
            parse_answers(&pipes.out)
        };
        match answers {
            Ok(records) => {
                worker.tail = std::mem::take(&mut pipes.tail);
                self.idle.lock().push(worker);
                Ok(records)
            }
            Err(reason) => {
                // What it wrote to standard error before the bad answer
                // may still be in the pipe: collected after the kill.
                kill_group(&mut worker.child);
                Err(pipes.killed(reason, &self.stop))
            }
        }
    }

    /// Starts a worker.
    fn start(&self) -> Result<Worker, AttemptError> {
        let id = self.started.fetch_add(1, Ordering::Relaxed);
        let mut child = spawn(&self.program, &self.argv, &[("FANFOLD_WORKER", id.to_string())])?;
        match Streams::take(&mut child) {
            Ok(io) => Ok(Worker { child, io, tail: Vec::new() }),
            Err(e) => {
                kill_group(&mut child);
                Err(AttemptError::new(format!("cannot set up the pipes: {e}")))
            }
        }
    }
}

impl Drop for Pool {
    /// Closes the idle workers' standard input, gives them
    /// [`SHUTDOWN_GRACE`] to exit (none when the run is stopping), then
    /// kills what is left.
    fn drop(&mut self) {
        let mut workers = std::mem::take(&mut *self.idle.lock());
        workers.iter_mut().for_each(|w| w.io.close());
        let stopping = self.stop.is_cancelled();
        let until = Instant::now() + if stopping { Duration::ZERO } else { SHUTDOWN_GRACE };
        while Instant::now() < until
            && workers.iter_mut().any(|w| matches!(w.child.try_wait(), Ok(None)))
            && expired(None, None, &self.stop).is_none()
        {
            std::thread::sleep(Duration::from_millis(5).min(POLL));
        }
        // Those still running are killed as they are dropped.
    }
}

/// How a worker that stopped answering ended: `exited with exit status
/// 3`, `closed its output`.
fn ended(child: &mut Child) -> String {
    let until = Instant::now() + KILL_GRACE.min(Duration::from_millis(200));
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return format!("exited ({})", describe(status)),
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(2)),
            _ => return "closed its output".into(),
        }
    }
}

/// The records a worker's answers stand for, as NDJSON lines: an object is
/// one record, `null` none, an array of objects those records.
///
/// # Errors
/// A message naming the answer (its record's number in the chunk, from 1)
/// that is empty or not an object, `null`, or an array of objects.
fn parse_answers(out: &[u8]) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(out).map_err(|e| format!("its answers are not UTF-8: {e}"))?;
    let mut records = Vec::with_capacity(out.len());
    let object = |text: &str, records: &mut Vec<u8>, i: usize| -> Result<(), String> {
        let mut pairs = Vec::new();
        object_pairs(text, &mut pairs).map_err(|e| {
            let shown = excerpt(text);
            format!("its answer to record {i} is not a JSON object, array or null ({e}): `{shown}`")
        })?;
        records.extend_from_slice(text.trim().as_bytes());
        records.push(b'\n');
        Ok(())
    };
    for (i, line) in text.split_terminator('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let answer = line.trim();
        match answer.as_bytes().first() {
            None => {
                return Err(format!(
                    "its answer to record {} is an empty line (answer null to drop a record)",
                    i + 1
                ))
            }
            Some(b'n') if answer == "null" => {}
            Some(b'[') => {
                let items: Vec<&RawValue> = serde_json::from_str(answer).map_err(|e| {
                    format!("its answer to record {} is not a JSON array of objects: {e}", i + 1)
                })?;
                for item in items {
                    object(item.get(), &mut records, i + 1)?;
                }
            }
            _ => object(answer, &mut records, i + 1)?,
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        let out = b"{\"a\":1}\nnull\n[{\"b\":2}, {\"b\":3}]\n[]\n {\"c\":4} \r\n";
        assert_eq!(
            String::from_utf8(parse_answers(out).unwrap()).unwrap(),
            "{\"a\":1}\n{\"b\":2}\n{\"b\":3}\n{\"c\":4}\n"
        );
        let e = parse_answers(b"{\"a\":1}\n\n").unwrap_err();
        assert_eq!(e, "its answer to record 2 is an empty line (answer null to drop a record)");
        let e = parse_answers(b"[1]\n").unwrap_err();
        assert!(e.starts_with("its answer to record 1 is not a JSON object"), "{e}");
        let e = parse_answers(b"3\n").unwrap_err();
        assert!(e.starts_with("its answer to record 1 is not a JSON object"), "{e}");
    }

    fn pool(script: &str) -> Pool {
        let argv: Vec<String> = ["sh", "-c", script].map(String::from).into();
        Pool::new("/bin/sh".into(), argv, CancelToken::new())
    }

    #[test]
    fn a_worker_serves_many_chunks_and_is_replaced_when_it_dies() {
        let p = pool("while read -r l; do echo \"$l\"; done");
        let recs = b"{\"a\":1}\n{\"a\":2}\n";
        assert_eq!(p.run(recs, None).unwrap(), recs);
        assert_eq!(p.run(recs, None).unwrap(), recs);
        assert_eq!(p.started(), 1);
        let p = pool("read -r l; echo \"$l\"; echo bye >&2; exit 4");
        let e = p.run(recs, None).unwrap_err();
        assert_eq!(
            e.reason.to_string(),
            "the worker exited (exit status 4) after answering 1 of 2 records"
        );
        assert_eq!(e.stderr, b"bye\n");
        // One that exits while idle is replaced before the next chunk.
        let p = pool("read -r l; echo \"$l\"");
        assert_eq!(p.run(b"{}\n", None).unwrap(), b"{}\n");
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(p.run(b"{}\n", None).unwrap(), b"{}\n");
        assert_eq!(p.started(), 2);
        let t = Instant::now();
        let p = pool("sleep 5");
        let e = p.run(recs, Some(Duration::from_millis(100))).unwrap_err();
        assert!(e.timed_out && t.elapsed() < Duration::from_secs(3), "{e:?}");
        assert!(p.idle.lock().is_empty());
    }
}
