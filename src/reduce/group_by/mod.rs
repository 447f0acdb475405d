//! The group-by reducer: one output row per distinct key, with aggregates.
//!
//! Each worker folds its chunk into a hash map from the group key to one
//! accumulator per aggregate; partials merge map into map in chunk order.
//! Every accumulator's merge is exact (integer counts, exact decimal sums,
//! sets), so results never depend on chunking.
//!
//! Output: group columns first, then the aggregates in the order given.
//! Groups are sorted by key, column by column: numbers first, in numeric
//! order; then text, by bytes (UTF-8 code point order); missing keys last
//! (the keys are encoded and ordered by `group_key`, shared with top-k).
//! Column aggregates skip missing values (empty, null, absent, `--null`
//! markers), as SQL does; `count` counts every record of the group. A sum,
//! mean, min, max, mode, first or last over no values is missing (an empty
//! field or `null`).
//!
//! Memory: with [`GroupBy::with_memory_limit`], the merged state's size is
//! estimated as it grows (see `memory.rs`), and passing the budget is an
//! error naming `--memory-limit`: the groups cannot be spilled (yet), and
//! failing early with a clear message beats being killed by the kernel.
//!
//! `mode` is the most frequent value, compared as text (like `distinct`);
//! ties go to the value seen first in input order, for any chunking (see
//! `acc.rs`). `first` and `last` keep the first and last value in input
//! order. `mode`, `first` and `last` write the value as read (a JSON string
//! stays a string, a JSON number a number).
//!
//! This module holds the reducer; the `--agg` specs are in `spec.rs`, the
//! accumulators in `acc.rs`, the memory estimate in `memory.rs`, and the
//! group keys in `group_key` (shared with top-k).

mod acc;
mod memory;
mod spec;

use hashbrown::HashMap;

use crate::error::{Error, ErrorKind, Result};
use crate::record::{ColumnRef, Field, Record};
use crate::reduce::group_key::{cmp_group_keys, decode_key, encode_key_part, part_field};
use crate::reduce::{Reducer, Sink};
use crate::sink::encode::{Encoder, OutValue};
use crate::syntax::number::{parse_number, Number};
use acc::{store_field, Acc, ValueKind};
use memory::{group_bytes, value_bytes, StateLimit, DISTINCT_VALUE_BYTES, MODE_VALUE_BYTES};
pub use spec::{AggKind, AggSpec};

#[derive(Debug, Clone)]
struct Agg {
    kind: AggKind,
    column: Option<ColumnRef>,
    label: String,
    /// An earlier sum/mean over the same column whose accumulator this
    /// sum/mean shares (so the column is parsed and summed once).
    alias: Option<usize>,
}

/// Groups records and computes aggregates; see the module docs.
#[derive(Debug, Clone)]
pub struct GroupBy {
    keys: Vec<ColumnRef>,
    aggs: Vec<Agg>,
    encoder: Encoder,
    null_markers: Vec<Vec<u8>>,
    names: Vec<String>,
    limit: Option<StateLimit>,
}

/// The groups of consecutive chunks: encoded key to accumulators.
#[derive(Debug, Default)]
pub struct GroupPartial {
    groups: HashMap<Vec<u8>, Vec<Acc>>,
    scratch: Vec<u8>,
    /// Per aggregate, the number a sum or mean adds for the record being
    /// folded (reused across records).
    numbers: Vec<Option<Number>>,
    /// Estimated heap bytes of the groups beside the table's slots (see
    /// [`group_bytes`]); kept when a memory limit is set.
    heap: u64,
}

impl GroupBy {
    /// A group-by over resolved `keys` and `aggs` (each with its column
    /// resolved), writing through `encoder`.
    pub fn new(
        keys: Vec<ColumnRef>,
        aggs: Vec<(AggSpec, Option<ColumnRef>)>,
        encoder: Encoder,
        null_markers: Vec<Vec<u8>>,
    ) -> Self {
        let mut names: Vec<String> = keys.iter().map(|k| k.name.clone()).collect();
        names.extend(aggs.iter().map(|(s, _)| s.name.clone()));
        let mut aggs: Vec<Agg> = aggs
            .into_iter()
            .map(|(spec, column)| {
                let label = match &spec.column {
                    Some(c) => format!("{}:{c}", spec.kind.name()),
                    None => spec.kind.name().to_string(),
                };
                Agg { kind: spec.kind, column, label, alias: None }
            })
            .collect();
        let summing = |k: AggKind| matches!(k, AggKind::Sum | AggKind::Mean);
        for i in 0..aggs.len() {
            aggs[i].alias = (0..i).find(|&j| {
                summing(aggs[i].kind)
                    && summing(aggs[j].kind)
                    && aggs[j].alias.is_none()
                    && aggs[j].column.is_some()
                    && aggs[j].column == aggs[i].column
            });
        }
        GroupBy { keys, aggs, encoder, null_markers, names, limit: None }
    }

    /// Fails the run with [`ErrorKind::MemoryLimit`] once the merged groups'
    /// estimated size (see the module docs) passes `budget` bytes; `limit`
    /// is the `--memory-limit` the budget comes from (bytes), named in the
    /// error.
    pub fn with_memory_limit(mut self, budget: u64, limit: u64) -> Self {
        self.limit = Some(StateLimit { budget, limit });
        self
    }

    /// Merges `next`'s groups into `total`'s, keeping `total.heap` (when a
    /// limit is set).
    fn merge_groups(&self, total: &mut GroupPartial, next: GroupPartial) {
        if total.groups.is_empty() {
            total.groups = next.groups;
            total.heap = next.heap;
            return;
        }
        let counting = self.limit.is_some();
        for (key, accs) in next.groups {
            match total.groups.get_mut(&key) {
                None => {
                    if counting {
                        total.heap += group_bytes(&key, &accs);
                    }
                    total.groups.insert(key, accs);
                }
                Some(mine) => {
                    for ((agg, a), b) in self.aggs.iter().zip(mine.iter_mut()).zip(accs) {
                        match (a, b) {
                            (Acc::Count(x), Acc::Count(y)) => *x += y,
                            (Acc::Sum(x, n), Acc::Sum(y, m)) => {
                                x.merge(y);
                                *n += m;
                            }
                            (Acc::Extreme(x), Acc::Extreme(y)) => {
                                x.merge(y, agg.kind == AggKind::Max)
                            }
                            (Acc::Distinct(x), Acc::Distinct(y)) => {
                                let before = x.len();
                                let n = y.len() as u64;
                                let bytes = if counting { value_bytes(y.iter()) } else { 0 };
                                x.extend(y);
                                let added = (x.len() - before) as u64;
                                if counting && added > 0 {
                                    total.heap += added * (DISTINCT_VALUE_BYTES + bytes / n);
                                }
                            }
                            (Acc::Mode(x), Acc::Mode(y)) => {
                                let before = x.values.len();
                                let n = y.values.len() as u64;
                                let bytes = if counting { value_bytes(y.values.keys()) } else { 0 };
                                x.merge(y);
                                let added = (x.values.len() - before) as u64;
                                if counting && added > 0 {
                                    total.heap += added * (MODE_VALUE_BYTES + bytes / n);
                                }
                            }
                            (Acc::Value(x), Acc::Value(y)) => {
                                if y.is_some() && (agg.kind == AggKind::Last || x.is_none()) {
                                    *x = y;
                                }
                            }
                            _ => unreachable!("accumulators of one aggregate share a kind"),
                        }
                    }
                }
            }
        }
    }

    fn new_accs(&self) -> Vec<Acc> {
        self.aggs.iter().map(|a| Acc::new(a.kind)).collect()
    }

    fn not_numeric(&self, agg: &Agg, record: &Record<'_>, text: &[u8]) -> Error {
        let column = agg.column.as_ref().map(|c| c.name.clone()).unwrap_or_default();
        ErrorKind::NotNumeric {
            at: record.location(),
            purpose: agg.label.clone().into(),
            column,
            value: String::from_utf8_lossy(text).into_owned(),
        }
        .into()
    }
}

impl Reducer for GroupBy {
    type Partial = GroupPartial;

    fn empty(&self) -> GroupPartial {
        GroupPartial::default()
    }

    fn fold(&self, partial: &mut GroupPartial, record: &Record<'_>) -> Result<()> {
        let mut key = std::mem::take(&mut partial.scratch);
        key.clear();
        for k in &self.keys {
            encode_key_part(&mut key, record.get(k), &self.null_markers);
        }
        // Numbers for sums are parsed first, so that a value that is not a
        // number leaves the partial as it was (the record can be skipped).
        // Every slot is `None` between records (the update loop takes
        // them), so the slots are reused without clearing.
        let mut numbers = std::mem::take(&mut partial.numbers);
        if numbers.len() != self.aggs.len() {
            numbers.resize_with(self.aggs.len(), || None);
        }
        for (agg, number) in self.aggs.iter().zip(numbers.iter_mut()) {
            if let (AggKind::Sum | AggKind::Mean, Some(col), None) =
                (agg.kind, &agg.column, agg.alias)
            {
                let field = record.get(col);
                if !field.is_missing(&self.null_markers) {
                    let text = field.text().unwrap_or_default();
                    let parsed = match field {
                        Field::JsonString(_) => None,
                        _ => parse_number(&text),
                    };
                    match parsed {
                        Some(v) => *number = Some(v),
                        None => {
                            numbers.iter_mut().for_each(|n| *n = None);
                            partial.scratch = key;
                            partial.numbers = numbers;
                            return Err(self.not_numeric(agg, record, &text));
                        }
                    }
                }
            }
        }
        let accs = partial.groups.entry_ref(key.as_slice()).or_insert_with(|| self.new_accs());
        for ((agg, acc), number) in self.aggs.iter().zip(accs.iter_mut()).zip(numbers.iter_mut()) {
            if agg.alias.is_some() {
                continue;
            }
            let Some(col) = &agg.column else {
                if let Acc::Count(n) = acc {
                    *n += 1;
                }
                continue;
            };
            // A sum's value was looked up and parsed above.
            if let Acc::Sum(sum, n) = acc {
                if let Some(v) = number.take() {
                    sum.add(&v);
                    *n += 1;
                }
                continue;
            }
            let field = record.get(col);
            if field.is_missing(&self.null_markers) {
                continue;
            }
            let text = field.text().unwrap_or_default();
            match acc {
                Acc::Count(n) => *n += 1,
                Acc::Sum(..) => {}
                Acc::Extreme(e) => {
                    e.json_strings |= matches!(field, Field::JsonString(_));
                    let num = parse_number(&text).map(|n| n.to_f64());
                    e.update(&text, num, agg.kind == AggKind::Max);
                }
                Acc::Distinct(set) => {
                    if !set.contains(text.as_ref()) {
                        set.insert(text.as_ref().into());
                    }
                }
                Acc::Mode(mode) => mode.add(&text, ValueKind::of(field)),
                Acc::Value(slot) => {
                    if agg.kind == AggKind::Last || slot.is_none() {
                        store_field(slot, field);
                    }
                }
            }
        }
        debug_assert!(numbers.iter().all(Option::is_none), "a parsed number was not used");
        partial.scratch = key;
        partial.numbers = numbers;
        Ok(())
    }

    fn seal(&self, partial: &mut GroupPartial) -> Result<()> {
        if self.limit.is_some() {
            partial.heap = partial.groups.iter().map(|(k, a)| group_bytes(k, a)).sum();
        }
        Ok(())
    }

    fn merge(&self, total: &mut GroupPartial, next: GroupPartial) -> Result<()> {
        self.merge_groups(total, next);
        match self.limit {
            Some(l) => l.check(&total.groups, total.heap),
            None => Ok(()),
        }
    }

    fn start(&self, sink: &mut Sink<'_>) -> Result<()> {
        let mut header = Vec::new();
        self.encoder.header(&self.names, &mut header);
        sink.write(&header, 0)
    }

    fn finish(&self, mut total: GroupPartial, sink: &mut Sink<'_>) -> Result<()> {
        if self.keys.is_empty() && total.groups.is_empty() {
            // A global aggregate over no records still has one row.
            total.groups.insert(Vec::new(), self.new_accs());
        }
        type Decoded<'k> = (Vec<(u8, &'k [u8])>, &'k Vec<Acc>);
        let mut groups: Vec<Decoded<'_>> =
            total.groups.iter().map(|(k, v)| (decode_key(k), v)).collect();
        groups.sort_by(|(a, _), (b, _)| cmp_group_keys(a, b));
        let mut buf = Vec::with_capacity(1 << 16);
        let mut values = Vec::with_capacity(self.names.len());
        for (key, accs) in groups {
            values.clear();
            for (tag, text) in key {
                values.push(OutValue::Field(part_field(tag, text)));
            }
            for (i, agg) in self.aggs.iter().enumerate() {
                let acc = &accs[agg.alias.unwrap_or(i)];
                values.push(acc.value(agg.kind, &agg.label)?);
            }
            self.encoder.row(&self.names, &values, &mut buf);
            if buf.len() >= 1 << 16 {
                sink.write(&buf, 0)?;
                buf.clear();
            }
        }
        sink.write(&buf, 0)?;
        sink.records += total.groups.len() as u64;
        Ok(())
    }
}
