//! The group-by's partial lines (see `reduce::partial_line`): one per
//! group, its key the group's sort key and its payload the group's
//! encoded key and exact states, in postcard:
//!
//! ```text
//! (encoded key, counts, sums, value-holding accumulators)
//! ```
//!
//! The map step writes them in place of rows; the combine and reduce
//! steps fold them in place of records, each line's states merged into
//! its group's as the spill merge does (`spill.rs`), so the rows come out
//! of the same tables, in the same order, as in one run over all the
//! input.

use std::hash::BuildHasher;

use super::acc::Acc;
use super::spill::States;
use super::table::Table;
use super::{merged_acc, merged_sum, GroupBy, GroupPartial};
use crate::error::{Error, ErrorKind, Result};
use crate::record::{ColumnRef, Record};
use crate::reduce::group_key::{append_sort_key, is_key};
use crate::reduce::number::SmallSum;
use crate::reduce::partial_line::{read_line, write_line};
use crate::reduce::Reducer;

/// A group's line payload as read.
type Line = (Vec<u8>, Vec<u64>, Vec<SmallSum>, Vec<Acc>);

impl GroupBy {
    /// Appends the partial line of the group whose states `parts` (table,
    /// group) hold to `buf`, their states merged (`scratch` holds the
    /// sort key).
    pub(super) fn write_partial_line(
        &self,
        tables: &[Table],
        parts: &[(usize, usize)],
        scratch: &mut Vec<u8>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        let (t0, g0) = parts[0];
        let key = tables[t0].key(g0);
        let w = self.widths;
        let counts: Vec<u64> = (0..w.counts)
            .map(|c| parts.iter().map(|&(t, g)| tables[t].counts[g * w.counts + c]).sum())
            .collect();
        let sums: Vec<SmallSum> =
            (0..w.sums).map(|s| merged_sum(tables, parts, w.sums, s)).collect();
        let accs: Vec<Acc> = (0..w.accs)
            .map(|a| {
                merged_acc(self.acc_kinds[a], (tables, parts), w.accs, a).into_owned().canonical()
            })
            .collect();
        let payload = postcard::to_stdvec(&(key, counts, sums, accs)).map_err(|e| {
            ErrorKind::Internal(format!("a group's state could not be encoded: {e}"))
        })?;
        scratch.clear();
        append_sort_key(scratch, key);
        write_line(buf, scratch, self.partials.fingerprint, &payload);
        Ok(())
    }

    /// The group a record that is a partial line holds (its key in
    /// `columns.0`, its partial in `columns.1`): its sort key, its encoded
    /// key, its states, and the payload's size in bytes.
    ///
    /// # Errors
    /// [`ErrorKind::Partial`] naming the record's line when it is not a
    /// partial line of this pipeline (see [`read_line`]), or its state is
    /// not one of these aggregates or does not match its key.
    fn read_group_line(
        &self,
        record: &Record<'_>,
        (key_column, partial_column): &(ColumnRef, ColumnRef),
    ) -> Result<GroupLine> {
        let text = |c| record.get(c).text().unwrap_or_default();
        let (sort_key, payload) =
            read_line(&text(key_column), &text(partial_column), self.partials.fingerprint, || {
                record.location()
            })?;
        let corrupt = |message: &str| -> crate::Error {
            ErrorKind::Partial { at: record.location(), message: message.into() }.into()
        };
        let not_states = "its state is not a group's state of these aggregates";
        let Ok((key, counts, sums, accs)) = postcard::from_bytes::<Line>(&payload) else {
            return Err(corrupt(not_states));
        };
        let w = self.widths;
        let kinds_fit = accs.len() == w.accs
            && accs.iter().zip(&self.acc_kinds).all(|(a, &k)| a.same_kind(&Acc::new(k)));
        if (counts.len(), sums.len()) != (w.counts, w.sums) || !kinds_fit {
            return Err(corrupt(not_states));
        }
        if !is_key(&key, self.keys.len()) {
            return Err(corrupt("its state holds no group key of these --group-by columns"));
        }
        let mut expected = Vec::with_capacity(sort_key.len());
        append_sort_key(&mut expected, &key);
        if expected != sort_key {
            return Err(corrupt("its key is not the key of the group its state holds"));
        }
        Ok(GroupLine { sort_key, key, states: (counts, sums, accs), bytes: payload.len() })
    }

    /// Folds a record that is a partial line (see
    /// [`GroupBy::read_group_line`]): its states are merged into its
    /// group's.
    ///
    /// # Errors
    /// Those of [`GroupBy::read_group_line`]; those of publishing the
    /// table's growth ([`ErrorKind::MemoryLimit`], spill errors).
    pub(super) fn fold_partial_line(
        &self,
        partial: &mut GroupPartial,
        record: &Record<'_>,
        columns: &(ColumnRef, ColumnRef),
    ) -> Result<()> {
        let line = self.read_group_line(record, columns)?;
        let worker = self.borrow_worker(&mut partial.worker);
        let hash = self.hasher.hash_one(line.key.as_slice());
        let (g, _) = worker.table.group(hash, &line.key, self.widths, |accs| self.new_accs(accs));
        if !self.merge_decoded(&mut worker.table, g, line.states) {
            return Err(Error::internal("a partial line's states, checked, did not merge"));
        }
        // The states' heap, roughly: their encoded size.
        worker.heap += line.bytes as u64;
        self.publish(worker)
    }

    /// Appends a group holding `key` and `states` to `table` (or merges
    /// them into its last group, when `merge_last`), as group number
    /// `table.len() - 1`.
    fn push_group(&self, table: &mut Table, key: &[u8], states: States, merge_last: bool) {
        let g = if merge_last {
            table.len() - 1
        } else {
            let hash = self.hasher.hash_one(key);
            table.group(hash, key, self.widths, |accs| self.new_accs(accs)).0
        };
        // The states were checked against this reducer's when read.
        let merged = self.merge_decoded(table, g, states);
        debug_assert!(merged, "checked states merge");
    }

    /// Group `g`'s states in `table`, owned.
    fn owned_states(&self, table: &Table, g: usize) -> States {
        let (counts, sums, accs) = table.states(g, self.widths);
        (counts.to_vec(), sums, accs.to_vec())
    }
}

/// A group read from a partial line.
struct GroupLine {
    sort_key: Vec<u8>,
    key: Vec<u8>,
    states: States,
    /// The payload's bytes.
    bytes: usize,
}

/// The reduce or combine step of a group-by over partial lines that come
/// sorted by key, as a shuffle hands them to a reducer (`--sorted`):
/// each chunk merges its runs of equal keys, the merging thread merges
/// the last group of the chunks before with the first of the next, and
/// every group but the last is written as soon as its chunk is merged.
/// So memory holds the chunks in flight, whatever the number of groups;
/// a line whose key sorts before the line's before it is an error naming
/// it.
#[derive(Debug)]
pub(crate) struct SortedPartials {
    group_by: GroupBy,
    columns: (ColumnRef, ColumnRef),
}

/// The groups of consecutive chunks, in key order, not yet written.
#[derive(Debug, Default)]
pub(crate) struct SortedGroups {
    table: Table,
    /// The sort key of the last group.
    last: Vec<u8>,
    /// The first group's sort key, and where it was read.
    first: Option<(Vec<u8>, crate::error::Location)>,
}

impl SortedPartials {
    /// Reads partial lines from `columns` (key, partial) for `group_by`,
    /// which writes rows or lines as its [`PartialIo`](super::PartialIo)
    /// says.
    pub(crate) fn new(group_by: GroupBy, columns: (ColumnRef, ColumnRef)) -> Self {
        SortedPartials { group_by, columns }
    }

    fn out_of_order(at: crate::error::Location) -> crate::Error {
        let message = "the partial lines are not in key order, as --sorted says they are: \
                       sort them first (`LC_ALL=C sort`), or leave out --sorted"
            .to_string();
        ErrorKind::Partial { at, message }.into()
    }

    /// Writes groups `range` of `table` to `sink`.
    fn write(
        &self,
        table: &Table,
        range: std::ops::Range<usize>,
        sink: &mut crate::reduce::Sink<'_>,
    ) -> Result<()> {
        let (mut buf, mut lines, mut scratch) = (Vec::new(), Vec::new(), Vec::new());
        let rows = range.len() as u64;
        let tables = std::slice::from_ref(table);
        for g in range {
            self.group_by.write_group(tables, &[(0, g)], &mut scratch, (&mut buf, &mut lines))?;
        }
        sink.write(&buf, rows)
    }
}

impl Reducer for SortedPartials {
    type Partial = SortedGroups;

    fn empty(&self) -> SortedGroups {
        SortedGroups::default()
    }

    fn fold(&self, partial: &mut SortedGroups, record: &Record<'_>) -> Result<()> {
        let line = self.group_by.read_group_line(record, &self.columns)?;
        let same = match partial.first {
            None => {
                partial.first = Some((line.sort_key.clone(), record.location()));
                false
            }
            Some(_) => match line.sort_key.cmp(&partial.last) {
                std::cmp::Ordering::Less => return Err(Self::out_of_order(record.location())),
                std::cmp::Ordering::Equal => true,
                std::cmp::Ordering::Greater => false,
            },
        };
        self.group_by.push_group(&mut partial.table, &line.key, line.states, same);
        partial.last = line.sort_key;
        Ok(())
    }

    fn merge(&self, total: &mut SortedGroups, next: SortedGroups) -> Result<()> {
        let Some((first, at)) = next.first else { return Ok(()) };
        let same = match total.first {
            None => {
                total.first = Some((first, at));
                false
            }
            Some(_) => match first.cmp(&total.last) {
                std::cmp::Ordering::Less => return Err(Self::out_of_order(at)),
                std::cmp::Ordering::Equal => true,
                std::cmp::Ordering::Greater => false,
            },
        };
        for g in 0..next.table.len() {
            let states = self.group_by.owned_states(&next.table, g);
            let merge_last = same && g == 0;
            self.group_by.push_group(&mut total.table, next.table.key(g), states, merge_last);
        }
        total.last = next.last;
        Ok(())
    }

    fn start(&self, sink: &mut crate::reduce::Sink<'_>) -> Result<()> {
        self.group_by.start(sink)
    }

    fn drain(&self, total: &mut SortedGroups, sink: &mut crate::reduce::Sink<'_>) -> Result<()> {
        let n = total.table.len();
        if n < 2 {
            return Ok(());
        }
        self.write(&total.table, 0..n - 1, sink)?;
        // Only the last group, which the next chunk may go on with, stays.
        let mut kept = Table::default();
        let states = self.group_by.owned_states(&total.table, n - 1);
        self.group_by.push_group(&mut kept, total.table.key(n - 1), states, false);
        total.table = kept;
        Ok(())
    }

    fn finish(&self, mut total: SortedGroups, sink: &mut crate::reduce::Sink<'_>) -> Result<()> {
        if total.table.len() == 0 && self.group_by.keys.is_empty() {
            // A global aggregate over no records still has one row.
            let g = &self.group_by;
            total.table.group(g.hasher.hash_one(b""), b"", g.widths, |accs| g.new_accs(accs));
        }
        self.write(&total.table, 0..total.table.len(), sink)
    }
}
