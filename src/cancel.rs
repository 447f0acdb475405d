//! Cancellation: the process-wide interrupt flag that the `fanfold`
//! command's SIGINT/SIGTERM handlers set, and that every blocking place of
//! a run (the input reader, the executor, `--exec` commands and persistent
//! workers) watches.
//!
//! It sits below every stage, so that the source can stop a read blocked
//! on a silent pipe without importing the executor.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Set to a signal number (2 for SIGINT, 15 for SIGTERM) to stop the runs
/// in progress: a read blocked on a pipe, FIFO or socket gives up within
/// [`POLL_INTERVAL_MS`], the reader stops at the next chunk, queued chunks
/// are skipped, `--exec` commands are killed, and the run returns
/// [`ErrorKind::Interrupted`](crate::ErrorKind::Interrupted) without finishing the
/// reducer, so nothing half-done is committed. The `fanfold` command sets
/// it from its signal handlers; it is never reset.
pub static INTERRUPT: AtomicUsize = AtomicUsize::new(0);

/// How often, in milliseconds, a read from an input that can block (a
/// pipe, FIFO, socket or terminal) wakes up to look at [`INTERRUPT`].
pub const POLL_INTERVAL_MS: u16 = 100;

/// The signal that [`INTERRUPT`] holds, or `None` while no run is to stop.
pub fn signal() -> Option<i32> {
    match INTERRUPT.load(Ordering::Relaxed) {
        0 => None,
        signal => Some(signal as i32),
    }
}
