//! The memory of a reducer's per-worker state, for `--memory-limit`
//! (the group-by's tables and the top-k's kept records): each worker
//! counts its bytes (the group-by: its table's allocations as capacities,
//! plus what the value-holding accumulators hold on the heap; the top-k:
//! its kept records as held) and publishes them, in steps of
//! [`StateLimit::step`] bytes, to one shared total that the limit is
//! checked against. Past the budget, a big enough worker spills its state
//! and takes back what it published; without a place to spill, passing
//! the budget is an error naming `--memory-limit` (failing early with a
//! clear message beats being killed by the kernel).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{msg, ErrorKind, Result, Setting};

/// Bytes a worker's estimate may grow by before it is added to the
/// shared total (so that workers do not contend on it for every group),
/// at most: a small budget gets a 64th of itself.
const PUBLISH_BYTES: u64 = 64 << 10;

/// A bound on a reducer's per-worker state; see
/// [`GroupBy::with_memory_limit`](super::GroupBy::with_memory_limit) and
/// [`TopK::with_memory_limit`](super::TopK::with_memory_limit).
#[derive(Debug)]
pub(crate) struct StateLimit {
    /// Bytes the state may hold.
    pub(crate) budget: u64,
    /// The `--memory-limit` the budget comes from, for the message.
    pub(crate) limit: u64,
    /// What the state is, for the message ("the group-by state").
    what: &'static str,
    /// What else than raising the limit helps, for the message (", or
    /// group by fewer or coarser columns").
    advice: &'static str,
    /// Bytes the workers have published.
    published: AtomicU64,
    /// Groups the workers have published (counted per table: a group two
    /// workers hold counts twice).
    groups: AtomicU64,
}

impl StateLimit {
    /// A bound of `budget` bytes out of a `--memory-limit` of `limit`
    /// bytes, on the state `what` is (its error then advises `advice`
    /// beside raising the limit).
    pub(crate) fn new(budget: u64, limit: u64, what: &'static str, advice: &'static str) -> Self {
        StateLimit {
            budget,
            limit,
            what,
            advice,
            published: AtomicU64::new(0),
            groups: AtomicU64::new(0),
        }
    }

    /// Bytes a worker's estimate may grow by before it publishes them:
    /// a 64th of the budget, 1 byte to 64 KiB.
    fn step(&self) -> u64 {
        (self.budget / 64).clamp(1, PUBLISH_BYTES)
    }

    /// Publishes a worker's growth (`bytes`, `groups` since its last
    /// publication) and fails with [`ErrorKind::MemoryLimit`] once the
    /// total passes the budget.
    pub(crate) fn publish(&self, bytes: u64, groups: u64) -> Result<()> {
        let total = self.published.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let n = self.groups.fetch_add(groups, Ordering::Relaxed) + groups;
        if total <= self.budget {
            return Ok(());
        }
        Err(ErrorKind::MemoryLimit {
            limit: self.limit,
            message: msg![
                format!(
                    "{} passed the limit after {n} groups (about {} bytes a group; {} of the \
                     limit is left for groups beside the in-flight window); raise ",
                    self.what,
                    total / n.max(1),
                    crate::units::human_bytes(self.budget)
                ),
                Setting::MemoryLimit,
                self.advice,
            ],
        }
        .into())
    }

    /// Publishes the change of a worker's state, now `bytes` bytes in
    /// `groups` groups, since what it last published (`published`, which
    /// this updates): growth of [`Self::step`] or more is published (with
    /// the error of [`Self::publish`] past the budget), shrinking by a
    /// step or more is given back; smaller changes wait.
    ///
    /// # Errors
    /// [`ErrorKind::MemoryLimit`] once the total passes the budget.
    pub(crate) fn track(&self, published: &mut (u64, u64), bytes: u64, groups: u64) -> Result<()> {
        let (old_bytes, old_groups) = *published;
        if bytes.saturating_add(self.step()) <= old_bytes {
            self.release(old_bytes - bytes, 0);
            published.0 = bytes;
            return Ok(());
        }
        if bytes < old_bytes + self.step() {
            return Ok(());
        }
        *published = (bytes, groups);
        self.publish(bytes - old_bytes, groups.saturating_sub(old_groups))
    }

    /// Whether a worker whose state holds `bytes`, one of `workers`, is to
    /// spill once the total has passed the budget: a small one that crosses
    /// the line leaves the spilling to the big ones (at least half a
    /// worker's share), which cross it at their next growth.
    pub(crate) fn should_spill(&self, bytes: u64, workers: usize) -> bool {
        bytes.saturating_mul(2 * workers.max(1) as u64) >= self.budget
    }

    /// Takes back what a worker published before it spilled its table.
    pub(crate) fn release(&self, bytes: u64, groups: u64) {
        self.published.fetch_sub(bytes, Ordering::Relaxed);
        self.groups.fetch_sub(groups, Ordering::Relaxed);
    }

    /// Forgets what was published, for a new run.
    pub(crate) fn reset(&self) {
        self.published.store(0, Ordering::Relaxed);
        self.groups.store(0, Ordering::Relaxed);
    }
}

impl Clone for StateLimit {
    fn clone(&self) -> Self {
        StateLimit::new(self.budget, self.limit, self.what, self.advice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_fails_once_the_published_total_passes_the_budget() {
        let l = StateLimit::new(1000, 4096, "the state", "");
        assert!(l.publish(600, 10).is_ok());
        assert!(l.publish(400, 5).is_ok());
        let e = l.publish(1, 1).unwrap_err();
        assert!(
            e.to_string()
                .contains("the state passed the limit after 16 groups (about 62 bytes a group"),
            "{e}"
        );
        l.reset();
        assert!(l.publish(1000, 1).is_ok());
        // A spilled table gives back what it published.
        l.release(1000, 1);
        // A worker's changes wait until they are a step (1000 / 64 = 15
        // bytes) away from what it published.
        l.reset();
        let mut published = (0, 0);
        assert!(l.track(&mut published, 10, 1).is_ok());
        assert_eq!(published, (0, 0));
        assert!(l.track(&mut published, 900, 3).is_ok());
        assert_eq!(published, (900, 3));
        assert!(l.track(&mut published, 890, 3).is_ok());
        assert_eq!(published, (900, 3));
        assert!(l.track(&mut published, 100, 3).is_ok());
        assert_eq!(published, (100, 3));
        assert!(l.track(&mut published, 1200, 4).is_err());
        assert!(l.should_spill(250, 2) && !l.should_spill(249, 2));
        l.reset();
        assert!(l.publish(900, 1).is_ok());
    }
}
