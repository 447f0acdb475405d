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
//! - **A chunk that still fails** becomes an [`crate::ErrorKind::Exec`], which
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
//!   [`STDERR_TAIL_BYTES`](process::STDERR_TAIL_BYTES) are kept for the error message and the reject.
//! - A chunk with no records left at the step does not run the command.
//!
//! Records the command prints have no input line of their own: messages
//! about them name their chunk's first line.
//!
//! The step's parts, one a file: `spec` (what the user asked for:
//! [`ExecSpec`]); `stage` (a run's permits, attempts,
//! retries, replicas and [`ExecStats`]), which runs each attempt as a
//! process (`process`: a command's process group and pipes, which the
//! [`persistent`] workers use too) or on a worker, converts the records
//! to and from the command's format (`convert`), and has the replicas
//! [`vote`]. No part uses `stage`, and `process` uses only `spec`.

mod convert;
pub(crate) mod persistent;
mod process;
pub(crate) mod spec;
mod stage;
pub(crate) mod vote;

pub use spec::{ExecFormat, ExecMode, ExecSpec};
pub use stage::ExecStats;
pub(crate) use stage::{merge_stats, ExecStage};
