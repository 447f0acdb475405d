//! The group-by state's memory estimate, for `--memory-limit`: the hash
//! table's slots as allocated, plus per group its key, its accumulators and
//! the values of its `distinct` and `mode` sets, each with a fixed overhead
//! for its allocation and table slot.

use hashbrown::HashMap;

use super::acc::Acc;
use crate::error::{msg, ErrorKind, Result, Setting};
use crate::sink::encode::OwnedField;

/// A bound on the group-by state; see
/// [`GroupBy::with_memory_limit`](super::GroupBy::with_memory_limit).
#[derive(Debug, Clone, Copy)]
pub(super) struct StateLimit {
    pub(super) budget: u64,
    pub(super) limit: u64,
}

impl StateLimit {
    /// Fails with [`ErrorKind::MemoryLimit`] once the estimated bytes of
    /// `groups` (with `heap`, the estimated heap bytes of the groups beside
    /// the table's slots) pass the budget.
    pub(super) fn check(&self, groups: &HashMap<Vec<u8>, Vec<Acc>>, heap: u64) -> Result<()> {
        if state_bytes(groups, heap) <= self.budget {
            return Ok(());
        }
        let n = groups.len() as u64;
        Err(ErrorKind::MemoryLimit {
            limit: self.limit,
            message: msg![
                format!(
                    "the group-by state passed the limit after {n} groups (about {} bytes a \
                     group; {} of the limit is left for groups beside the in-flight window); \
                     raise ",
                    state_bytes(groups, heap) / n.max(1),
                    crate::units::human_bytes(self.budget)
                ),
                Setting::MemoryLimit,
                ", or group by fewer or coarser columns",
            ],
        }
        .into())
    }
}

/// Estimated bytes of the state: the table's slots as allocated, plus
/// `heap` (see [`group_bytes`]).
fn state_bytes(groups: &HashMap<Vec<u8>, Vec<Acc>>, heap: u64) -> u64 {
    let slot = std::mem::size_of::<(Vec<u8>, Vec<Acc>)>() as u64 + 1;
    groups.capacity() as u64 * slot + heap
}

/// Estimated bytes of one allocation's bookkeeping (malloc header and
/// rounding).
const ALLOC_OVERHEAD: u64 = 16;

/// Estimated bytes of a `distinct` value beside its text: its box, its
/// table slot (at 7/8 load) and its allocation.
pub(super) const DISTINCT_VALUE_BYTES: u64 = 16 + 3 + ALLOC_OVERHEAD;

/// Estimated bytes of a `mode` value beside its text: its box and entry,
/// its table slot (at 7/8 load) and its allocation.
pub(super) const MODE_VALUE_BYTES: u64 = 16 + 24 + 6 + ALLOC_OVERHEAD;

/// Estimated heap bytes of one group beside its table slot: its key, its
/// accumulators, and the values they hold.
pub(super) fn group_bytes(key: &[u8], accs: &[Acc]) -> u64 {
    let mut n =
        key.len() as u64 + ALLOC_OVERHEAD + std::mem::size_of_val(accs) as u64 + ALLOC_OVERHEAD;
    for acc in accs {
        n += match acc {
            Acc::Distinct(set) => set.iter().map(|v| v.len() as u64 + DISTINCT_VALUE_BYTES).sum(),
            Acc::Mode(m) => m.values.keys().map(|v| v.len() as u64 + MODE_VALUE_BYTES).sum(),
            Acc::Extreme(e) => {
                let num = e.num.as_ref().map_or(0, |(_, t)| t.len() as u64 + ALLOC_OVERHEAD);
                num + e.text.as_ref().map_or(0, |t| t.len() as u64 + ALLOC_OVERHEAD)
            }
            Acc::Value(Some(v)) => match v {
                OwnedField::Text(t) | OwnedField::JsonString(t) | OwnedField::JsonOther(t) => {
                    t.len() as u64 + ALLOC_OVERHEAD
                }
                OwnedField::Missing => 0,
            },
            Acc::Count(_) | Acc::Sum(..) | Acc::Value(None) => 0,
        };
    }
    n
}

/// Total text bytes of `values`.
pub(super) fn value_bytes<'a>(values: impl Iterator<Item = &'a Box<[u8]>>) -> u64 {
    values.map(|v| v.len() as u64).sum()
}
