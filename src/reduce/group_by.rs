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
//! estimated as it grows (the hash table's slots as allocated, plus per
//! group its key, its accumulators and the values of its `distinct` and
//! `mode` sets, each with a fixed overhead for its allocation and table
//! slot), and passing the budget is an error naming `--memory-limit`: the
//! groups cannot be spilled (yet), and failing early with a clear message
//! beats being killed by the kernel.
//!
//! `mode` is the most frequent value, compared as text (like `distinct`);
//! ties go to the value seen first in input order. Each partial keeps a
//! count and a first-seen position per value; since partials merge in chunk
//! order, a value new to the running total is later than all of its values,
//! so the result is exact for any chunking. `first` and `last` keep the
//! first and last value in input order. `mode`, `first` and `last` write the
//! value as read (a JSON string stays a string, a JSON number a number).

use hashbrown::{HashMap, HashSet};
use std::cmp::Ordering;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::record::{ColumnRef, Field, Record};
use crate::reduce::group_key::{cmp_group_keys, decode_key, encode_key_part, part_field};
use crate::reduce::number::{format_f64, parse_number, ExactSum, Number};
use crate::reduce::{Reducer, Sink};
use crate::sink::encode::{write_json_string, Encoder, OutValue, OwnedField};

/// What an aggregate computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggKind {
    /// Records in the group (`count`), or non-missing values of a column
    /// (`count:col`).
    Count,
    /// Exact sum (`sum:col`); integers stay integers.
    Sum,
    /// Exact sum divided by the number of values (`mean:col`).
    Mean,
    /// Smallest value (`min:col`): numeric when every value is a number,
    /// else by bytes; written as read.
    Min,
    /// Largest value (`max:col`), as for `min`.
    Max,
    /// Number of distinct values (`distinct:col`), compared as text.
    Distinct,
    /// Most frequent value (`mode:col`), compared as text; ties go to the
    /// value seen first in input order. Written as first read.
    Mode,
    /// First value in input order (`first:col`), written as read.
    First,
    /// Last value in input order (`last:col`), written as read.
    Last,
}

impl AggKind {
    /// The aggregate's name as written in `--agg`.
    pub fn name(self) -> &'static str {
        match self {
            AggKind::Count => "count",
            AggKind::Sum => "sum",
            AggKind::Mean => "mean",
            AggKind::Min => "min",
            AggKind::Max => "max",
            AggKind::Distinct => "distinct",
            AggKind::Mode => "mode",
            AggKind::First => "first",
            AggKind::Last => "last",
        }
    }
}

/// One `--agg` as the user wrote it: `kind[:column][=name]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggSpec {
    /// What to compute.
    pub kind: AggKind,
    /// The output column it reads; `None` only for `count`.
    pub column: Option<String>,
    /// The result's column name (default `kind_column`, or `count`).
    pub name: String,
}

impl FromStr for AggSpec {
    type Err = Error;

    /// Parses `count`, `count:col`, `sum:col`, `mean:col`, `min:col`,
    /// `max:col`, `distinct:col`, `mode:col`, `first:col`, `last:col`, each
    /// with an optional `=name`.
    fn from_str(s: &str) -> Result<Self> {
        let (body, name) = match s.split_once('=') {
            Some((b, n)) if !n.is_empty() => (b, Some(n.to_string())),
            Some(_) => return Err(Error::flag("--agg", format!("`{s}`: empty name after `=`"))),
            None => (s, None),
        };
        let (kind_str, column) = match body.split_once(':') {
            Some((k, c)) if !c.is_empty() => (k, Some(c.to_string())),
            Some(_) => return Err(Error::flag("--agg", format!("`{s}`: empty column after `:`"))),
            None => (body, None),
        };
        let kind = match kind_str {
            "count" => AggKind::Count,
            "sum" => AggKind::Sum,
            "mean" | "avg" => AggKind::Mean,
            "min" => AggKind::Min,
            "max" => AggKind::Max,
            "distinct" => AggKind::Distinct,
            "mode" => AggKind::Mode,
            "first" => AggKind::First,
            "last" => AggKind::Last,
            other => {
                return Err(Error::flag(
                    "--agg",
                    format!(
                        "`{s}`: unknown aggregate `{other}`; use count, count:col, sum:col, \
                         mean:col, min:col, max:col, distinct:col, mode:col, first:col or \
                         last:col"
                    ),
                ))
            }
        };
        if kind != AggKind::Count && column.is_none() {
            return Err(Error::flag(
                "--agg",
                format!("`{s}`: `{kind_str}` needs a column, e.g. `{kind_str}:amount`"),
            ));
        }
        let name = name.unwrap_or_else(|| match &column {
            Some(c) => format!("{kind_str}_{c}"),
            None => "count".to_string(),
        });
        Ok(AggSpec { kind, column, name })
    }
}

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

/// A bound on the group-by state; see [`GroupBy::with_memory_limit`].
#[derive(Debug, Clone, Copy)]
struct StateLimit {
    budget: u64,
    limit: u64,
}

/// Per-group, per-aggregate state.
#[derive(Debug, Clone)]
enum Acc {
    Count(u64),
    Sum(ExactSum, u64),
    Extreme(Extreme),
    Distinct(HashSet<Box<[u8]>>),
    Mode(Mode),
    /// `first` or `last`: the value kept so far.
    Value(Option<OwnedField>),
}

/// How a value was read, to write it back the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueKind {
    /// CSV text.
    Text,
    /// A JSON string (the key holds its unescaped text).
    JsonString,
    /// Another JSON literal (the key holds its raw text).
    JsonOther,
}

impl ValueKind {
    fn of(field: Field<'_>) -> Self {
        match field {
            Field::JsonString(_) => ValueKind::JsonString,
            Field::JsonOther(_) => ValueKind::JsonOther,
            _ => ValueKind::Text,
        }
    }
}

/// `mode` state: per value (as text), its count, its first-seen position
/// and how it was first read.
#[derive(Debug, Clone, Default)]
struct Mode {
    values: HashMap<Box<[u8]>, ModeEntry>,
    /// Positions handed out so far (one per distinct value here); the next
    /// new value gets this one.
    next_pos: u64,
}

#[derive(Debug, Clone, Copy)]
struct ModeEntry {
    count: u64,
    /// Order of first appearance within this state: smaller is earlier.
    pos: u64,
    kind: ValueKind,
}

impl Mode {
    fn add(&mut self, text: &[u8], kind: ValueKind) {
        match self.values.get_mut(text) {
            Some(e) => e.count += 1,
            None => {
                self.values.insert(text.into(), ModeEntry { count: 1, pos: self.next_pos, kind });
                self.next_pos += 1;
            }
        }
    }

    /// Merges `next`, whose values all come after this state's in input
    /// order: its new values are placed after every value here.
    fn merge(&mut self, next: Mode) {
        let base = self.next_pos;
        for (text, e) in next.values {
            match self.values.get_mut(&text) {
                Some(mine) => mine.count += e.count,
                None => {
                    self.values.insert(text, ModeEntry { pos: base + e.pos, ..e });
                }
            }
        }
        self.next_pos = base + next.next_pos;
    }

    /// The most frequent value, ties to the earliest seen.
    fn result(&self) -> Option<(&[u8], ValueKind)> {
        self.values
            .iter()
            .max_by(|(_, a), (_, b)| a.count.cmp(&b.count).then_with(|| b.pos.cmp(&a.pos)))
            .map(|(t, e)| (t.as_ref(), e.kind))
    }
}

/// Stores `field` in `slot`, reusing its buffer when it has one of the same
/// kind.
fn store_field(slot: &mut Option<OwnedField>, field: Field<'_>) {
    match (slot.as_mut(), field) {
        (Some(OwnedField::Text(v)), Field::Text(t))
        | (Some(OwnedField::JsonString(v)), Field::JsonString(t))
        | (Some(OwnedField::JsonOther(v)), Field::JsonOther(t)) => {
            v.clear();
            v.extend_from_slice(t);
        }
        _ => *slot = Some(OwnedField::from_field(field)),
    }
}

#[derive(Debug, Clone, Default)]
struct Extreme {
    /// Best numeric value and its text.
    num: Option<(f64, Box<[u8]>)>,
    /// Best value by bytes.
    text: Option<Box<[u8]>>,
    non_numeric: bool,
    /// The values are JSON strings (written back as strings).
    json_strings: bool,
}

impl Extreme {
    /// Takes `text` when it beats the current value (`max` says which
    /// direction); ties keep the earlier value.
    fn update(&mut self, text: &[u8], number: Option<f64>, max: bool) {
        let better = |o: Ordering| if max { o == Ordering::Greater } else { o == Ordering::Less };
        match number {
            Some(v) => {
                if self.num.as_ref().is_none_or(|(cur, _)| better(v.total_cmp(cur))) {
                    self.num = Some((v, text.into()));
                }
            }
            None => self.non_numeric = true,
        }
        if self.text.as_deref().is_none_or(|cur| better(text.cmp(cur))) {
            self.text = Some(text.into());
        }
    }

    fn merge(&mut self, other: Extreme, max: bool) {
        self.non_numeric |= other.non_numeric;
        self.json_strings |= other.json_strings;
        let better = |o: Ordering| if max { o == Ordering::Greater } else { o == Ordering::Less };
        if let Some((v, t)) = other.num {
            if self.num.as_ref().is_none_or(|(cur, _)| better(v.total_cmp(cur))) {
                self.num = Some((v, t));
            }
        }
        if let Some(t) = other.text {
            if self.text.as_deref().is_none_or(|cur| better(t.as_ref().cmp(cur))) {
                self.text = Some(t);
            }
        }
    }

    fn result(&self) -> Option<&[u8]> {
        if self.non_numeric {
            self.text.as_deref()
        } else {
            self.num.as_ref().map(|(_, t)| t.as_ref())
        }
    }
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

/// Estimated bytes of one allocation's bookkeeping (malloc header and
/// rounding).
const ALLOC_OVERHEAD: u64 = 16;

/// Estimated bytes of a `distinct` value beside its text: its box, its
/// table slot (at 7/8 load) and its allocation.
const DISTINCT_VALUE_BYTES: u64 = 16 + 3 + ALLOC_OVERHEAD;

/// Estimated bytes of a `mode` value beside its text: its box and entry,
/// its table slot (at 7/8 load) and its allocation.
const MODE_VALUE_BYTES: u64 = 16 + 24 + 6 + ALLOC_OVERHEAD;

/// Estimated heap bytes of one group beside its table slot: its key, its
/// accumulators, and the values they hold.
fn group_bytes(key: &[u8], accs: &[Acc]) -> u64 {
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
fn value_bytes<'a>(values: impl Iterator<Item = &'a Box<[u8]>>) -> u64 {
    values.map(|v| v.len() as u64).sum()
}

impl GroupPartial {
    /// Estimated bytes of the state: the table's slots as allocated, plus
    /// [`GroupPartial::heap`].
    fn state_bytes(&self) -> u64 {
        let slot = std::mem::size_of::<(Vec<u8>, Vec<Acc>)>() as u64 + 1;
        self.groups.capacity() as u64 * slot + self.heap
    }
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

    /// Fails the run with [`Error::MemoryLimit`] once the merged groups'
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
        self.aggs
            .iter()
            .map(|a| match a.kind {
                AggKind::Count => Acc::Count(0),
                AggKind::Sum | AggKind::Mean => Acc::Sum(ExactSum::default(), 0),
                AggKind::Min | AggKind::Max => Acc::Extreme(Extreme::default()),
                AggKind::Distinct => Acc::Distinct(HashSet::new()),
                AggKind::Mode => Acc::Mode(Mode::default()),
                AggKind::First | AggKind::Last => Acc::Value(None),
            })
            .collect()
    }

    fn not_numeric(&self, agg: &Agg, record: &Record<'_>, text: &[u8]) -> Error {
        let column = agg.column.as_ref().map(|c| c.name.clone()).unwrap_or_default();
        Error::NotNumeric {
            at: record.location(),
            purpose: agg.label.clone(),
            column,
            value: String::from_utf8_lossy(text).into_owned(),
        }
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
            Some(l) if total.state_bytes() > l.budget => {
                let groups = total.groups.len() as u64;
                Err(Error::MemoryLimit {
                    limit: l.limit,
                    message: format!(
                        "the group-by state passed the limit after {groups} groups (about {} \
                         bytes a group; {} of the limit is left for groups beside the in-flight \
                         window); raise --memory-limit, or group by fewer or coarser columns",
                        total.state_bytes() / groups.max(1),
                        crate::pipeline::human_bytes(l.budget)
                    ),
                })
            }
            _ => Ok(()),
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
                let v = match acc {
                    Acc::Count(n) => OutValue::Number(n.to_string().into_bytes()),
                    Acc::Sum(sum, n) => {
                        let mut out = Vec::new();
                        let out_of_range = || Error::OutOfRange { aggregate: agg.label.clone() };
                        if *n == 0 {
                            OutValue::Field(OwnedField::Missing)
                        } else if agg.kind == AggKind::Sum {
                            if !sum.write(&mut out) {
                                return Err(out_of_range());
                            }
                            OutValue::Number(out)
                        } else {
                            let mean = sum.to_f64() / *n as f64;
                            if !mean.is_finite() {
                                return Err(out_of_range());
                            }
                            format_f64(mean, &mut out);
                            OutValue::Number(out)
                        }
                    }
                    Acc::Extreme(e) => match e.result() {
                        Some(t) if e.json_strings => {
                            let mut raw = Vec::new();
                            write_json_string(&mut raw, t);
                            OutValue::Field(OwnedField::JsonString(raw))
                        }
                        Some(t) => OutValue::Field(OwnedField::Text(t.to_vec())),
                        None => OutValue::Field(OwnedField::Missing),
                    },
                    Acc::Distinct(set) => OutValue::Number(set.len().to_string().into_bytes()),
                    Acc::Mode(mode) => OutValue::Field(match mode.result() {
                        Some((t, ValueKind::JsonString)) => {
                            let mut raw = Vec::new();
                            write_json_string(&mut raw, t);
                            OwnedField::JsonString(raw)
                        }
                        Some((t, ValueKind::JsonOther)) => OwnedField::JsonOther(t.to_vec()),
                        Some((t, ValueKind::Text)) => OwnedField::Text(t.to_vec()),
                        None => OwnedField::Missing,
                    }),
                    Acc::Value(v) => OutValue::Field(v.clone().unwrap_or(OwnedField::Missing)),
                };
                values.push(v);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_agg_specs() {
        let a: AggSpec = "mean:arr_delay".parse().unwrap();
        assert_eq!(
            (a.kind, a.column.as_deref(), a.name.as_str()),
            (AggKind::Mean, Some("arr_delay"), "mean_arr_delay")
        );
        let c: AggSpec = "count=n".parse().unwrap();
        assert_eq!((c.kind, c.column, c.name.as_str()), (AggKind::Count, None, "n"));
        let e = "sum".parse::<AggSpec>().unwrap_err().to_string();
        assert!(e.contains("needs a column"), "{e}");
        assert!("median:x"
            .parse::<AggSpec>()
            .unwrap_err()
            .to_string()
            .contains("unknown aggregate"));
    }

    #[test]
    fn parses_mode_first_last() {
        for (spec, kind, name) in [
            ("mode:dest", AggKind::Mode, "mode_dest"),
            ("first:dest", AggKind::First, "first_dest"),
            ("last:dest=final", AggKind::Last, "final"),
        ] {
            let a: AggSpec = spec.parse().unwrap();
            assert_eq!((a.kind, a.column.as_deref(), a.name.as_str()), (kind, Some("dest"), name));
        }
        for bare in ["mode", "first", "last"] {
            let e = bare.parse::<AggSpec>().unwrap_err().to_string();
            assert!(e.contains("needs a column"), "{e}");
        }
        let e = "median:x".parse::<AggSpec>().unwrap_err().to_string();
        assert!(e.contains("mode:col, first:col or last:col"), "{e}");
    }

    fn mode_of(chunks: &[&[&str]]) -> Option<String> {
        let mut total = Mode::default();
        for chunk in chunks {
            let mut m = Mode::default();
            for v in *chunk {
                m.add(v.as_bytes(), ValueKind::Text);
            }
            total.merge(m);
        }
        total.result().map(|(t, _)| String::from_utf8(t.to_vec()).unwrap())
    }

    #[test]
    fn mode_counts_across_partials_and_ties_go_to_the_first_seen() {
        assert_eq!(mode_of(&[]), None);
        assert_eq!(mode_of(&[&["b", "a", "a"]]), Some("a".into()));
        // b and a tie at 2: b was seen first.
        assert_eq!(mode_of(&[&["b", "a", "a", "b"]]), Some("b".into()));
        // The same, cut into partials every way.
        assert_eq!(mode_of(&[&["b"], &["a"], &["a"], &["b"]]), Some("b".into()));
        assert_eq!(mode_of(&[&["b", "a"], &[], &["a", "b"]]), Some("b".into()));
        // A value first seen in a later partial comes after every earlier one,
        // even when the earlier partial's own positions are larger.
        assert_eq!(mode_of(&[&["x", "y", "z", "c"], &["d", "d", "c"]]), Some("c".into()));
        assert_eq!(mode_of(&[&["x", "c"], &["d", "d", "c"]]), Some("c".into()));
        // Counts add up across partials.
        assert_eq!(mode_of(&[&["a", "b"], &["b", "c"], &["c", "c"]]), Some("c".into()));
        // Merging is associative: ((p1 p2) p3) equals (p1 (p2 p3)).
        let part = |vs: &[&str]| {
            let mut m = Mode::default();
            vs.iter().for_each(|v| m.add(v.as_bytes(), ValueKind::Text));
            m
        };
        let (p1, p2, p3) = (part(&["q", "r"]), part(&["s", "r", "s"]), part(&["q", "t"]));
        let mut left = p1.clone();
        left.merge(p2.clone());
        left.merge(p3.clone());
        let mut right = p2;
        right.merge(p3);
        let mut outer = p1;
        outer.merge(right);
        assert_eq!(left.result().map(|r| r.0), Some(&b"q"[..]));
        assert_eq!(outer.result().map(|r| r.0), Some(&b"q"[..]));
    }

    #[test]
    fn stored_fields_reuse_their_buffer_and_change_kind() {
        let mut slot = None;
        store_field(&mut slot, Field::Text(b"abc"));
        store_field(&mut slot, Field::Text(b"d"));
        assert_eq!(slot, Some(OwnedField::Text(b"d".to_vec())));
        store_field(&mut slot, Field::JsonOther(b"12"));
        assert_eq!(slot, Some(OwnedField::JsonOther(b"12".to_vec())));
    }

    #[test]
    fn extremes_prefer_numbers_and_keep_text() {
        let mut e = Extreme::default();
        for t in ["10", "9", "1.50"] {
            e.update(t.as_bytes(), parse_number(t.as_bytes()).map(|n| n.to_f64()), false);
        }
        assert_eq!(e.result(), Some(&b"1.50"[..]));
        e.update(b"abc", None, false);
        assert_eq!(e.result(), Some(&b"1.50"[..]));
    }
}
