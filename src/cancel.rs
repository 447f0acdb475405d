//! Cancellation: the [`CancelToken`] a run watches at every place it can
//! block or wait (the input reader, the executor, `--exec` commands and
//! persistent workers).
//!
//! A run's token is [`Pipeline::cancel`](crate::Pipeline::cancel). The
//! caller keeps a clone and calls [`CancelToken::cancel`] from another
//! thread to stop the run; the `fanfold` command registers its SIGINT and
//! SIGTERM handlers on it ([`CancelToken::signal_flag`]). A run makes
//! [`child`](CancelToken::child) tokens of it for its own stops (an error
//! that ends the run kills the `--exec` commands), so the caller's token is
//! never cancelled by the library, and a fresh token starts every run anew.
//!
//! It sits below every stage, so that the source can stop a read blocked
//! on a silent pipe without importing the executor.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::error::{Error, ErrorKind};

/// How often, in milliseconds, a read from an input that can block (a
/// pipe, FIFO, socket or terminal) wakes up to look at its
/// [`CancelToken`].
pub const POLL_INTERVAL_MS: u16 = 100;

/// The value of a token's flag after [`CancelToken::cancel`] (a signal
/// stores its number, at most a few dozen).
const CANCELLED: usize = usize::MAX;

/// A request to stop a run: cheap to clone (the clones share one flag),
/// safe to set from any thread or from a signal handler.
///
/// Once cancelled, a token stays cancelled: make a new one
/// ([`CancelToken::new`]) for the next run. Cancelling stops the run in
/// progress soon after: a read blocked on a pipe, FIFO or socket gives up
/// within [`POLL_INTERVAL_MS`], the reader stops at the next chunk, queued
/// chunks are skipped, `--exec` commands are killed, and the run returns
/// [`ErrorKind::Cancelled`] (or [`ErrorKind::Interrupted`] when a signal cancelled
/// it) without finishing the reducer, so nothing half-done is committed.
///
/// Two tokens are equal when they are clones of one another (the same
/// flag), not when they are in the same state.
///
/// ```
/// use fanfold::CancelToken;
///
/// let token = CancelToken::new();
/// let run = token.child();
/// assert!(!run.is_cancelled());
/// token.cancel();
/// assert!(run.is_cancelled() && token.signal().is_none());
/// assert!(!CancelToken::new().is_cancelled());
/// ```
#[derive(Clone, Default)]
pub struct CancelToken {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// 0: not cancelled; [`CANCELLED`]: cancelled by a caller; else the
    /// number of the signal that cancelled it.
    flag: Arc<AtomicUsize>,
    /// A token whose cancellation cancels this one too.
    parent: Option<CancelToken>,
}

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Cancels the token (and its children): a caller's cancellation, for
    /// which a run returns [`ErrorKind::Cancelled`]. A token that a signal
    /// already cancelled keeps the signal.
    pub fn cancel(&self) {
        let _ =
            self.inner.flag.compare_exchange(0, CANCELLED, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Cancels the token (and its children) as the signal numbered
    /// `signal` would (2: SIGINT, 15: SIGTERM): a run returns
    /// [`ErrorKind::Interrupted`] with it. A signal handler does the same
    /// through [`CancelToken::signal_flag`].
    ///
    /// # Panics
    /// When `signal` is not positive.
    pub fn cancel_by_signal(&self, signal: i32) {
        assert!(signal > 0, "a signal number is positive, not {signal}");
        self.inner.flag.store(signal as usize, Ordering::Relaxed);
    }

    /// True once this token or one of its ancestors was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.own() != 0 || self.inner.parent.as_ref().is_some_and(CancelToken::is_cancelled)
    }

    /// The signal that cancelled this token or one of its ancestors;
    /// `None` while it is not cancelled, or when only callers cancelled it.
    pub fn signal(&self) -> Option<i32> {
        match self.own() {
            0 | CANCELLED => self.inner.parent.as_ref().and_then(CancelToken::signal),
            signal => Some(signal as i32),
        }
    }

    /// A token that is cancelled when this one is, or when it is cancelled
    /// itself, without cancelling this one: a run cancels its child when
    /// it stops on an error, leaving the caller's token as it was.
    pub fn child(&self) -> CancelToken {
        let inner = Inner { flag: Arc::default(), parent: Some(self.clone()) };
        CancelToken { inner: Arc::new(inner) }
    }

    /// The token's flag, for a signal handler to set to the signal's
    /// number, which cancels the token as
    /// [`cancel_by_signal`](CancelToken::cancel_by_signal) does:
    ///
    /// ```no_run
    /// # let token = fanfold::CancelToken::new();
    /// use signal_hook::consts::SIGINT;
    /// signal_hook::flag::register_usize(SIGINT, token.signal_flag(), SIGINT as usize)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// Store only a signal number (a positive `i32`) in it.
    pub fn signal_flag(&self) -> Arc<AtomicUsize> {
        self.inner.flag.clone()
    }

    /// The error a run stopped by this token returns: [`ErrorKind::Interrupted`]
    /// when a signal cancelled it, [`ErrorKind::Cancelled`] when a caller did;
    /// `None` while it is not cancelled.
    pub(crate) fn error(&self) -> Option<Error> {
        match self.signal() {
            Some(signal) => Some(ErrorKind::Interrupted { signal }.into()),
            None => self.is_cancelled().then(|| ErrorKind::Cancelled.into()),
        }
    }

    fn own(&self) -> usize {
        self.inner.flag.load(Ordering::Relaxed)
    }
}

impl PartialEq for CancelToken {
    /// Clones of one token are equal; two tokens made apart are not.
    fn eq(&self, other: &CancelToken) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for CancelToken {}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .field("signal", &self.signal())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_token_is_not_cancelled() {
        let t = CancelToken::new();
        assert!(!t.is_cancelled());
        assert_eq!(t.signal(), None);
        assert!(t.error().is_none());
    }

    #[test]
    fn cancel_is_seen_by_every_clone() {
        let t = CancelToken::new();
        let c = t.clone();
        t.cancel();
        assert!(c.is_cancelled());
        assert_eq!(c.signal(), None);
        assert!(matches!(c.error().map(Error::into_kind), Some(ErrorKind::Cancelled)));
    }

    #[test]
    fn a_child_sees_its_parent() {
        let parent = CancelToken::new();
        let child = parent.child();
        let grandchild = child.child();
        parent.cancel();
        assert!(child.is_cancelled() && grandchild.is_cancelled());
    }

    #[test]
    fn a_parent_does_not_see_its_child() {
        let parent = CancelToken::new();
        let child = parent.child();
        let sibling = parent.child();
        child.cancel();
        assert!(child.is_cancelled());
        assert!(!parent.is_cancelled());
        assert!(!sibling.is_cancelled());
    }

    #[test]
    fn the_signal_number_is_kept() {
        let t = CancelToken::new();
        let child = t.child();
        t.cancel_by_signal(15);
        assert_eq!(t.signal(), Some(15));
        assert_eq!(child.signal(), Some(15));
        assert!(matches!(
            child.error().map(Error::into_kind),
            Some(ErrorKind::Interrupted { signal: 15 })
        ));
        // A later caller's cancel does not hide the signal.
        t.cancel();
        assert_eq!(t.signal(), Some(15));
    }

    #[test]
    fn a_signal_handler_sets_the_flag() {
        let t = CancelToken::new();
        t.signal_flag().store(2, Ordering::Relaxed);
        assert!(t.is_cancelled());
        assert_eq!(t.signal(), Some(2));
    }

    #[test]
    fn a_signal_after_a_cancel_wins() {
        let t = CancelToken::new();
        let child = t.child();
        child.cancel();
        t.cancel_by_signal(2);
        assert_eq!(child.signal(), Some(2));
    }

    #[test]
    fn a_fresh_token_after_a_cancelled_one_is_not_cancelled() {
        let old = CancelToken::new();
        old.cancel_by_signal(2);
        let fresh = CancelToken::new();
        assert!(!fresh.is_cancelled());
        assert_ne!(old, fresh);
        assert_eq!(old, old.clone());
        assert_ne!(old, old.child());
    }
}
