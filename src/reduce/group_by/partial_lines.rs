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

use std::borrow::Cow;
use std::hash::BuildHasher;

use super::acc::Acc;
use super::spill::States;
use super::table::Table;
use super::{merged_acc, merged_sum, GroupBy, GroupPartial};
use crate::error::{ErrorKind, Result};
use crate::record::{ColumnRef, Record};
use crate::reduce::group_key::{append_sort_key, is_key};
use crate::reduce::number::SmallSum;
use crate::reduce::partial_line::{read_line, write_line};

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
        let accs: Vec<Cow<'_, Acc>> = (0..w.accs)
            .map(|a| merged_acc(self.acc_kinds[a], (tables, parts), w.accs, a))
            .collect();
        let payload = postcard::to_stdvec(&(key, counts, sums, accs)).map_err(|e| {
            ErrorKind::Internal(format!("a group's state could not be encoded: {e}"))
        })?;
        scratch.clear();
        append_sort_key(scratch, key);
        write_line(buf, scratch, self.partials.fingerprint, &payload);
        Ok(())
    }

    /// Folds a record that is a partial line (its key in `columns.0`, its
    /// partial in `columns.1`): its states are merged into its group's.
    ///
    /// # Errors
    /// [`ErrorKind::Partial`] naming the record's line when it is not a
    /// partial line of this pipeline (see [`read_line`]), or its state is
    /// not one of these aggregates or does not match its key; those of
    /// publishing the table's growth ([`ErrorKind::MemoryLimit`], spill
    /// errors).
    pub(super) fn fold_partial_line(
        &self,
        partial: &mut GroupPartial,
        record: &Record<'_>,
        (key_column, partial_column): &(ColumnRef, ColumnRef),
    ) -> Result<()> {
        let text = |c| record.get(c).text().unwrap_or_default();
        let (sort_key, payload) =
            read_line(&text(key_column), &text(partial_column), self.partials.fingerprint, || {
                record.location()
            })?;
        let corrupt = |message: &str| -> crate::Error {
            ErrorKind::Partial { at: record.location(), message: message.into() }.into()
        };
        let Ok((key, counts, sums, accs)) = postcard::from_bytes::<Line>(&payload) else {
            return Err(corrupt("its state is not a group's state of these aggregates"));
        };
        if !is_key(&key, self.keys.len()) {
            return Err(corrupt("its state holds no group key of these --group-by columns"));
        }
        let mut expected = std::mem::take(&mut partial.scratch);
        expected.clear();
        append_sort_key(&mut expected, &key);
        let matches = expected == sort_key;
        partial.scratch = expected;
        if !matches {
            return Err(corrupt("its key is not the key of the group its state holds"));
        }
        let worker = self.borrow_worker(&mut partial.worker);
        let hash = self.hasher.hash_one(key.as_slice());
        let (g, _) = worker.table.group(hash, &key, self.widths, |accs| self.new_accs(accs));
        let states: States = (counts, sums, accs);
        if !self.merge_decoded(&mut worker.table, g, states) {
            return Err(corrupt("its state is not a group's state of these aggregates"));
        }
        // The states' heap, roughly: their encoded size.
        worker.heap += payload.len() as u64;
        self.publish(worker)
    }
}
