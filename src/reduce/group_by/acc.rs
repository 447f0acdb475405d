//! The group-by accumulators that hold values (`min`, `max`, `distinct`,
//! `mode`, `first`, `last`, the values of exact quantiles, and the
//! `approx_distinct` and `approx_quantile` sketches; counts, sums and the
//! variances' sums of squares are plain columns of the table, see
//! `table.rs`), each with an exact merge that is commutative as
//! well as associative: a worker's table holds the chunks it happened to
//! fold, in no fixed order, so whatever depends on input order keeps the
//! input position ([`Pos`]) it goes by. `first` keeps the value with the
//! smallest position, `last` the largest; `mode` ties go to the value
//! whose first appearance is earliest; a `min`/`max` tie between numbers
//! written differently (`1.5`, `1.50`) keeps the earliest. So the result
//! is the same for any chunking, any thread count and any order in which
//! partials meet.

use std::cmp::Ordering;

use hashbrown::{HashMap, HashSet};
use serde::{Deserialize, Serialize};

use super::spec::{AggKind, Fraction};
use crate::record::Field;
use crate::sink::encode::{write_json_string, OutValue, OwnedField};

/// A record's place in input order: its split (`0` but for the map step
/// of a split input, see [`GroupBy::with_split`](super::GroupBy::with_split)),
/// its chunk's `seq`, then the order in which its chunk's records were
/// folded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub(super) struct Pos {
    pub(super) split: u64,
    pub(super) chunk: u64,
    pub(super) index: u64,
}

/// Per-group state of an aggregate that holds values.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) enum Acc {
    Extreme(Extreme),
    Distinct(#[serde(serialize_with = "sorted_set")] HashSet<Box<[u8]>>),
    Mode(Mode),
    /// `first` or `last`: the value kept so far and where it was read.
    Value(Option<(Pos, OwnedField)>),
    /// A median's or quantiles' column: every value, as the nearest `f64`,
    /// in no order (merging appends; [`quantile`] selects).
    Values(Vec<f64>),
    /// `approx_distinct`: a HyperLogLog sketch of the values' texts.
    Hll(Box<Hll>),
    /// `approx_quantile`'s column: a DDSketch of its values.
    Sketch(Box<Sketch>),
}

use super::hll::Hll;

/// A set's elements in byte order (a hash set's own order depends on its
/// history and its hasher's seed): written states are the same bytes
/// for the same set.
fn sorted_set<S: serde::Serializer>(set: &HashSet<Box<[u8]>>, s: S) -> Result<S::Ok, S::Error> {
    let mut items: Vec<&Box<[u8]>> = set.iter().collect();
    items.sort_unstable();
    s.collect_seq(items)
}

/// A map's entries in key order (see [`sorted_set`]).
fn sorted_map<S: serde::Serializer>(
    map: &HashMap<Box<[u8]>, ModeEntry>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut items: Vec<(&Box<[u8]>, &ModeEntry)> = map.iter().collect();
    items.sort_unstable_by(|a, b| a.0.cmp(b.0));
    s.collect_map(items)
}

/// A DDSketch whose buckets are never collapsed (see
/// [`AggKind::ApproxQuantile`]).
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct Sketch(sketches_ddsketch::DDSketch);

impl std::fmt::Debug for Sketch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sketch({} values)", self.0.count())
    }
}

impl Sketch {
    fn new() -> Self {
        // 1% relative accuracy; 2^16 buckets never fill (values from 1e-9
        // to f64::MAX take about 36k), so none is ever collapsed and a
        // merge is exact.
        let config = sketches_ddsketch::Config::new(0.01, 1 << 16, 1e-9);
        Sketch(sketches_ddsketch::DDSketch::new(config))
    }
}

/// Estimated heap bytes of a bucket of a [`Sketch`].
const SKETCH_BUCKET_BYTES: u64 = 8;

impl Acc {
    /// The empty accumulator of an aggregate of `kind`.
    ///
    /// # Panics
    /// For `count`, `sum`, `mean` and the variances, which are not held
    /// here.
    pub(super) fn new(kind: AggKind) -> Acc {
        match kind {
            AggKind::Min | AggKind::Max => Acc::Extreme(Extreme::default()),
            AggKind::Distinct => Acc::Distinct(HashSet::new()),
            AggKind::Mode => Acc::Mode(Mode::default()),
            AggKind::First | AggKind::Last => Acc::Value(None),
            AggKind::Median | AggKind::QuantileCont | AggKind::QuantileDisc => {
                Acc::Values(Vec::new())
            }
            AggKind::ApproxDistinct => Acc::Hll(Box::default()),
            AggKind::ApproxQuantile => Acc::Sketch(Box::new(Sketch::new())),
            AggKind::Count
            | AggKind::Sum
            | AggKind::Mean
            | AggKind::VarSamp
            | AggKind::VarPop
            | AggKind::StddevSamp
            | AggKind::StddevPop => unreachable!("counts and sums are table columns"),
        }
    }

    /// Adds a non-missing `field` (its text `text`) read at `pos`.
    /// Returns the estimated heap bytes the accumulator grew by.
    pub(super) fn add(&mut self, kind: AggKind, field: Field<'_>, text: &[u8], pos: Pos) -> u64 {
        match self {
            Acc::Extreme(e) => {
                e.json_strings |= matches!(field, Field::JsonString(_));
                let num = crate::syntax::number::parse_number(text).map(|n| n.to_f64());
                e.update(text, num, kind == AggKind::Max, pos)
            }
            Acc::Distinct(set) => {
                if set.contains(text) {
                    0
                } else {
                    set.insert(text.into());
                    DISTINCT_VALUE_BYTES + text.len() as u64
                }
            }
            Acc::Mode(mode) => mode.add(text, ValueKind::of(field), pos),
            Acc::Value(slot) => {
                let keep = match slot {
                    None => true,
                    Some((at, _)) => (kind == AggKind::Last) == (pos > *at),
                };
                if !keep {
                    return 0;
                }
                let before = slot.as_ref().map_or(0, |(_, v)| field_bytes(v));
                store_field(slot, field, pos);
                slot.as_ref().map_or(0, |(_, v)| field_bytes(v)).saturating_sub(before)
            }
            Acc::Hll(hll) => hll.insert(text),
            // Values are parsed and checked by the reducer first, then
            // added with `push_value`.
            Acc::Values(_) | Acc::Sketch(_) => 0,
        }
    }

    /// This state as a partial line holds it: the same bytes for the same
    /// input whatever the threads and chunks that made it. The values of
    /// a quantile are sorted; a position keeps its split and, in place of
    /// its chunk and record, its rank among the state's positions (their
    /// order is all a merge goes by, and states of one split never meet
    /// another state of that split).
    pub(super) fn canonical(mut self) -> Acc {
        match &mut self {
            Acc::Values(values) => values.sort_unstable_by(f64::total_cmp),
            Acc::Value(Some((pos, _))) => *pos = Pos { split: pos.split, chunk: 0, index: 0 },
            Acc::Extreme(x) => {
                if let Some((_, _, pos)) = &mut x.num {
                    *pos = Pos { split: pos.split, chunk: 0, index: 0 };
                }
            }
            Acc::Mode(mode) => {
                let mut firsts: Vec<Pos> = mode.values.values().map(|e| e.first).collect();
                firsts.sort_unstable();
                for e in mode.values.values_mut() {
                    let rank = firsts.partition_point(|p| *p < e.first) as u64;
                    e.first = Pos { split: e.first.split, chunk: 0, index: rank };
                }
            }
            _ => {}
        }
        self
    }

    /// Whether `other` is an accumulator of the same kind, which
    /// [`Acc::merge`] can merge into this one.
    pub(super) fn same_kind(&self, other: &Acc) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }

    /// Merges `other`, another partial's state of the same aggregate.
    ///
    /// # Panics
    /// When `other` is not of the same kind ([`Acc::same_kind`]).
    pub(super) fn merge(&mut self, kind: AggKind, other: Acc) {
        match (self, other) {
            (Acc::Extreme(x), Acc::Extreme(y)) => x.merge(y, kind == AggKind::Max),
            (Acc::Distinct(x), Acc::Distinct(y)) => x.extend(y),
            (Acc::Mode(x), Acc::Mode(y)) => x.merge(y),
            (Acc::Value(x), Acc::Value(Some((at, v)))) => {
                let keep_other = match x {
                    None => true,
                    Some((mine, _)) => (kind == AggKind::Last) == (at > *mine),
                };
                if keep_other {
                    *x = Some((at, v));
                }
            }
            (Acc::Value(_), Acc::Value(None)) => {}
            (Acc::Values(x), Acc::Values(y)) => x.extend_from_slice(&y),
            (Acc::Hll(x), Acc::Hll(y)) => x.merge(&y),
            (Acc::Sketch(x), Acc::Sketch(y)) => {
                // Sketches of one configuration always merge.
                let _ = x.0.merge(&y.0);
            }
            _ => unreachable!("accumulators of one aggregate share a kind"),
        }
    }

    /// Adds `v` to a [`Acc::Values`] or [`Acc::Sketch`] (nothing for
    /// another accumulator); returns the heap bytes it grew by.
    pub(super) fn push_value(&mut self, v: f64) -> u64 {
        match self {
            Acc::Values(values) => {
                let before = values.capacity();
                values.push(v);
                ((values.capacity() - before) * std::mem::size_of::<f64>()) as u64
            }
            Acc::Sketch(sketch) => {
                let before = sketch.0.length();
                sketch.0.add(v);
                (sketch.0.length().saturating_sub(before) as u64) * SKETCH_BUCKET_BYTES
            }
            _ => 0,
        }
    }

    /// The approximate quantile at `p` of an [`Acc::Sketch`] (`None` when
    /// it is empty or not a sketch).
    pub(super) fn sketch_quantile(&self, p: Fraction) -> Option<f64> {
        match self {
            Acc::Sketch(sketch) => sketch.0.quantile(p.value()).ok().flatten(),
            _ => None,
        }
    }

    /// The output value (nothing for [`Acc::Values`], whose quantiles the
    /// reducer computes with [`quantile`]).
    pub(super) fn value(&self) -> OutValue {
        match self {
            Acc::Values(_) | Acc::Sketch(_) => OutValue::Field(OwnedField::Missing),
            Acc::Hll(hll) => OutValue::Number(hll.estimate().to_string().into_bytes()),
            Acc::Extreme(e) => OutValue::Field(match e.result() {
                Some(t) if e.json_strings => {
                    let mut raw = Vec::new();
                    write_json_string(&mut raw, t);
                    OwnedField::JsonString(raw)
                }
                Some(t) => OwnedField::Text(t.to_vec()),
                None => OwnedField::Missing,
            }),
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
            Acc::Value(v) => {
                OutValue::Field(v.as_ref().map_or(OwnedField::Missing, |(_, f)| f.clone()))
            }
        }
    }
}

/// The quantile of `kind` (`median`, `quantile_cont`, `quantile_disc`) at
/// `p` of `values` (reordered: a selection, O(n), not a sort), ordered by
/// `f64::total_cmp`; `None` when there are none. Continuous: ranks
/// ⌊h⌋ and ⌈h⌉ (from 0) of h = (n − 1)·p, interpolated as DuckDB's
/// `quantile_cont` does for doubles, lo·(1 − d) + hi·d in `f64` with d =
/// h − ⌊h⌋.
/// Discrete: rank ⌈n·p⌉ − 1 (0 for p = 0), computed exactly, as DuckDB's
/// `quantile_disc`. The result depends only on the values, not on their
/// order.
pub(super) fn quantile(values: &mut [f64], kind: AggKind, p: Fraction) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let cmp = |a: &f64, b: &f64| a.total_cmp(b);
    if kind == AggKind::QuantileDisc {
        let rank = p.ceil_times(n as u64).max(1) - 1;
        return Some(*values.select_nth_unstable_by(rank as usize, cmp).1);
    }
    let h = (n - 1) as f64 * p.value();
    let low = (h.floor() as usize).min(n - 1);
    let (_, lo, above) = values.select_nth_unstable_by(low, cmp);
    let lo = *lo;
    let d = h - low as f64;
    match above.iter().copied().min_by(cmp) {
        // DuckDB's expression with its two roundings, as its source
        // writes it and its CLI (1.5.6) computes it; its Python wheel
        // (2.0.1) is built to fuse it into one multiply-add and differs in
        // the last bit for about one interpolated quantile in ten. Rust
        // never fuses on its own, so these bits are the same everywhere.
        Some(hi) if d > 0.0 => Some(lo * (1.0 - d) + hi * d),
        _ => Some(lo),
    }
}

/// Estimated bytes of one allocation's bookkeeping (malloc header and
/// rounding).
pub(super) const ALLOC_OVERHEAD: u64 = 16;

/// Estimated bytes of a `distinct` value beside its text: its box, its
/// table slot (at 7/8 load) and its allocation.
const DISTINCT_VALUE_BYTES: u64 = 16 + 3 + ALLOC_OVERHEAD;

/// Estimated bytes of a `mode` value beside its text: its box and entry,
/// its table slot (at 7/8 load) and its allocation.
const MODE_VALUE_BYTES: u64 = 16 + 32 + 7 + ALLOC_OVERHEAD;

/// Estimated heap bytes of a stored text.
fn stored_bytes(text: &[u8]) -> u64 {
    text.len() as u64 + ALLOC_OVERHEAD
}

/// Estimated heap bytes of a stored field.
fn field_bytes(f: &OwnedField) -> u64 {
    match f {
        OwnedField::Text(t) | OwnedField::JsonString(t) | OwnedField::JsonOther(t) => {
            stored_bytes(t)
        }
        OwnedField::Missing => 0,
    }
}

/// How a value was read, to write it back the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum ValueKind {
    /// CSV text.
    Text,
    /// A JSON string (the key holds its unescaped text).
    JsonString,
    /// Another JSON literal (the key holds its raw text).
    JsonOther,
}

impl ValueKind {
    pub(super) fn of(field: Field<'_>) -> Self {
        match field {
            Field::JsonString(_) => ValueKind::JsonString,
            Field::JsonOther(_) => ValueKind::JsonOther,
            _ => ValueKind::Text,
        }
    }
}

/// `mode` state: per value (as text), its count, where it was first read
/// and how.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Mode {
    #[serde(serialize_with = "sorted_map")]
    pub(super) values: HashMap<Box<[u8]>, ModeEntry>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(super) struct ModeEntry {
    count: u64,
    /// The value's first appearance.
    first: Pos,
    kind: ValueKind,
}

impl Mode {
    /// Counts `text` read at `pos`; returns the estimated heap bytes added.
    pub(super) fn add(&mut self, text: &[u8], kind: ValueKind, pos: Pos) -> u64 {
        match self.values.get_mut(text) {
            Some(e) => {
                e.count += 1;
                if pos < e.first {
                    (e.first, e.kind) = (pos, kind);
                }
                0
            }
            None => {
                self.values.insert(text.into(), ModeEntry { count: 1, first: pos, kind });
                MODE_VALUE_BYTES + text.len() as u64
            }
        }
    }

    /// Merges another partial's counts.
    pub(super) fn merge(&mut self, other: Mode) {
        for (text, e) in other.values {
            match self.values.get_mut(&text) {
                Some(mine) => {
                    mine.count += e.count;
                    if e.first < mine.first {
                        (mine.first, mine.kind) = (e.first, e.kind);
                    }
                }
                None => {
                    self.values.insert(text, e);
                }
            }
        }
    }

    /// The most frequent value, ties to the earliest seen.
    pub(super) fn result(&self) -> Option<(&[u8], ValueKind)> {
        self.values
            .iter()
            .max_by(|(_, a), (_, b)| a.count.cmp(&b.count).then_with(|| b.first.cmp(&a.first)))
            .map(|(t, e)| (t.as_ref(), e.kind))
    }
}

/// Stores `field` read at `pos` in `slot`, reusing its buffer when it has
/// one of the same kind.
fn store_field(slot: &mut Option<(Pos, OwnedField)>, field: Field<'_>, pos: Pos) {
    match (slot.as_mut(), field) {
        (Some((at, OwnedField::Text(v))), Field::Text(t))
        | (Some((at, OwnedField::JsonString(v))), Field::JsonString(t))
        | (Some((at, OwnedField::JsonOther(v))), Field::JsonOther(t)) => {
            *at = pos;
            v.clear();
            v.extend_from_slice(t);
        }
        _ => *slot = Some((pos, OwnedField::from_field(field))),
    }
}

/// `min` / `max` state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Extreme {
    /// Best numeric value, its text and where it was read.
    pub(super) num: Option<(f64, Box<[u8]>, Pos)>,
    /// Best value by bytes.
    pub(super) text: Option<Box<[u8]>>,
    pub(super) non_numeric: bool,
    /// The values are JSON strings (written back as strings).
    pub(super) json_strings: bool,
}

impl Extreme {
    /// Takes `text` (read at `pos`) when it beats the current value (`max`
    /// says which direction); of equal numbers, the earliest stays.
    /// Returns the estimated heap bytes added.
    pub(super) fn update(&mut self, text: &[u8], number: Option<f64>, max: bool, pos: Pos) -> u64 {
        let mut added = 0;
        match number {
            Some(v) => {
                if beats_num(v, pos, self.num.as_ref(), max) {
                    let old = self.num.as_ref().map_or(0, |(_, t, _)| stored_bytes(t));
                    self.num = Some((v, text.into(), pos));
                    added += stored_bytes(text).saturating_sub(old);
                }
            }
            None => self.non_numeric = true,
        }
        if self.text.as_deref().is_none_or(|cur| better(text.cmp(cur), max)) {
            let old = self.text.as_deref().map_or(0, stored_bytes);
            self.text = Some(text.into());
            added += stored_bytes(text).saturating_sub(old);
        }
        added
    }

    pub(super) fn merge(&mut self, other: Extreme, max: bool) {
        self.non_numeric |= other.non_numeric;
        self.json_strings |= other.json_strings;
        if let Some((v, t, pos)) = other.num {
            if beats_num(v, pos, self.num.as_ref(), max) {
                self.num = Some((v, t, pos));
            }
        }
        if let Some(t) = other.text {
            if self.text.as_deref().is_none_or(|cur| better(t.as_ref().cmp(cur), max)) {
                self.text = Some(t);
            }
        }
    }

    pub(super) fn result(&self) -> Option<&[u8]> {
        if self.non_numeric {
            self.text.as_deref()
        } else {
            self.num.as_ref().map(|(_, t, _)| t.as_ref())
        }
    }
}

/// True when `o` (new against current) is the direction `max` asks for.
fn better(o: Ordering, max: bool) -> bool {
    if max {
        o == Ordering::Greater
    } else {
        o == Ordering::Less
    }
}

/// True when the number `v` read at `pos` beats `cur`: better, or equal
/// and read earlier.
fn beats_num(v: f64, pos: Pos, cur: Option<&(f64, Box<[u8]>, Pos)>, max: bool) -> bool {
    cur.is_none_or(|(c, _, at)| {
        let o = v.total_cmp(c);
        better(o, max) || (o == Ordering::Equal && pos < *at)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::number::parse_number;

    fn at(chunk: u64, index: u64) -> Pos {
        Pos { split: 0, chunk, index }
    }

    /// The mode of `chunks` (each a list of values, in input order), folded
    /// one partial per chunk and merged in the order `merge_order` gives.
    fn mode_of(chunks: &[&[&str]], merge_order: &[usize]) -> Option<String> {
        let parts: Vec<Mode> = chunks
            .iter()
            .enumerate()
            .map(|(c, vs)| {
                let mut m = Mode::default();
                for (i, v) in vs.iter().enumerate() {
                    m.add(v.as_bytes(), ValueKind::Text, at(c as u64, i as u64));
                }
                m
            })
            .collect();
        let mut total = Mode::default();
        for &i in merge_order {
            total.merge(parts[i].clone());
        }
        total.result().map(|(t, _)| String::from_utf8(t.to_vec()).unwrap())
    }

    #[test]
    fn mode_counts_across_partials_and_ties_go_to_the_first_seen() {
        assert_eq!(mode_of(&[], &[]), None);
        assert_eq!(mode_of(&[&["b", "a", "a"]], &[0]), Some("a".into()));
        // b and a tie at 2: b was seen first.
        assert_eq!(mode_of(&[&["b", "a", "a", "b"]], &[0]), Some("b".into()));
        // The same, cut into partials every way and merged in any order.
        for order in [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]] {
            assert_eq!(mode_of(&[&["b"], &["a"], &["a"], &["b"]], &order), Some("b".into()));
        }
        assert_eq!(mode_of(&[&["b", "a"], &[], &["a", "b"]], &[2, 1, 0]), Some("b".into()));
        // A value first seen in a later partial comes after every earlier one.
        assert_eq!(mode_of(&[&["x", "y", "z", "c"], &["d", "d", "c"]], &[1, 0]), Some("c".into()));
        // Counts add up across partials.
        assert_eq!(mode_of(&[&["a", "b"], &["b", "c"], &["c", "c"]], &[2, 0, 1]), Some("c".into()));
    }

    #[test]
    fn first_and_last_go_by_position_whatever_the_merge_order() {
        let value = |kind: AggKind, vals: &[(u64, &str)], order: &[usize]| {
            let parts: Vec<Acc> = vals
                .iter()
                .map(|&(c, v)| {
                    let mut a = Acc::new(kind);
                    a.add(kind, Field::Text(v.as_bytes()), v.as_bytes(), at(c, 0));
                    a
                })
                .collect();
            let mut total = Acc::new(kind);
            order.iter().for_each(|&i| total.merge(kind, parts[i].clone()));
            match total.value() {
                OutValue::Field(OwnedField::Text(t)) => String::from_utf8(t).unwrap(),
                other => panic!("{other:?}"),
            }
        };
        let vals = [(3, "c"), (1, "a"), (2, "b")];
        for order in [[0, 1, 2], [2, 1, 0], [1, 0, 2]] {
            assert_eq!(value(AggKind::First, &vals, &order), "a");
            assert_eq!(value(AggKind::Last, &vals, &order), "c");
        }
    }

    #[test]
    fn extremes_prefer_numbers_keep_text_and_break_ties_by_position() {
        let mut e = Extreme::default();
        for (i, t) in ["10", "9", "1.50"].iter().enumerate() {
            let n = parse_number(t.as_bytes()).map(|n| n.to_f64());
            e.update(t.as_bytes(), n, false, at(0, i as u64));
        }
        assert_eq!(e.result(), Some(&b"1.50"[..]));
        e.update(b"abc", None, false, at(0, 3));
        assert_eq!(e.result(), Some(&b"1.50"[..]));
        // 1.5 and 1.50 tie: the earlier stays, from either side of a merge.
        let one = |t: &str, pos| {
            let mut e = Extreme::default();
            e.update(t.as_bytes(), Some(1.5), true, pos);
            e
        };
        let mut x = one("1.50", at(2, 0));
        x.merge(one("1.5", at(1, 5)), true);
        assert_eq!(x.result(), Some(&b"1.5"[..]));
        let mut y = one("1.5", at(1, 5));
        y.merge(one("1.50", at(2, 0)), true);
        assert_eq!(y.result(), Some(&b"1.5"[..]));
    }

    fn fraction(p: &str) -> Fraction {
        Fraction::parse(p).unwrap()
    }

    #[test]
    fn quantiles_select_the_ranks_a_sort_gives_in_any_order() {
        // 11 values, in every rotation of a shuffle: ranks 0..=10 of the
        // sorted list.
        let sorted: Vec<f64> = vec![-7.5, -1.0, 0.0, 0.0, 2.25, 3.0, 3.0, 10.0, 11.5, 40.0, 1e9];
        // h = 10 × 0.42 = 4.2: 2.25 and 3 at d = 0.2 (as f64 arithmetic
        // gives it), with one rounding.
        let d42 = 10.0 * 0.42 - 4.0;
        let cases = [
            (AggKind::Median, "0.5", 3.0f64),
            (AggKind::QuantileCont, "0", -7.5),
            (AggKind::QuantileCont, "1", 1e9),
            // h = 2.5: ranks 2 and 3, both 0.
            (AggKind::QuantileCont, "0.25", 0.0),
            // h = 9.5: 40 and 1e9 halved.
            (AggKind::QuantileCont, "0.95", 40.0 * 0.5 + 1e9 * 0.5),
            (AggKind::QuantileCont, "0.42", 2.25 * (1.0 - d42) + 3.0 * d42),
            // Discrete: rank ⌈11·p⌉ from 1 (the first for 0).
            (AggKind::QuantileDisc, "0", -7.5),
            (AggKind::QuantileDisc, "0.5", 3.0),
            (AggKind::QuantileDisc, "0.25", 0.0),
            (AggKind::QuantileDisc, "0.3636", 0.0),
            (AggKind::QuantileDisc, "0.3637", 2.25),
            (AggKind::QuantileDisc, "1", 1e9),
        ];
        for (kind, p, want) in cases {
            for shift in 0..sorted.len() {
                // Steps of 3 through 11 values visit each once.
                let mut values: Vec<f64> =
                    sorted.iter().cycle().skip(shift * 7).step_by(3).take(11).copied().collect();
                let mut check = values.clone();
                check.sort_by(f64::total_cmp);
                assert_eq!(check, sorted, "the cases are a permutation");
                let got = quantile(&mut values, kind, fraction(p)).unwrap();
                assert_eq!(got.to_bits(), want.to_bits(), "{kind:?} {p} shift {shift}");
            }
        }
        assert_eq!(quantile(&mut [], AggKind::Median, fraction("0.5")), None);
        assert_eq!(quantile(&mut [4.5], AggKind::QuantileCont, fraction("0.9")), Some(4.5));
        assert_eq!(quantile(&mut [4.5], AggKind::QuantileDisc, fraction("0")), Some(4.5));
        // DuckDB 1.5.6's quantile_cont of -19 and -15 (and 8 more) at
        // 0.1: two roundings give -15.399999999999999 (a fused
        // multiply-add would give -15.4).
        let mut v = vec![-19.0, -15.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
        let q = quantile(&mut v, AggKind::QuantileCont, fraction("0.1"));
        assert_eq!(q, Some(-15.399999999999999));
    }

    #[test]
    fn values_merge_by_appending_and_count_their_growth() {
        let mut a = Acc::new(AggKind::Median);
        let grown: u64 = (0..5).map(|i| a.push_value(f64::from(i))).sum();
        assert!(grown >= 5 * 8, "{grown}");
        let mut b = Acc::new(AggKind::QuantileCont);
        b.push_value(-1.0);
        a.merge(AggKind::Median, b);
        let Acc::Values(v) = &mut a else { panic!("values") };
        assert_eq!(quantile(v, AggKind::Median, fraction("0.5")), Some(1.5));
    }

    /// A sketch's state depends only on the values: the same estimate or
    /// quantile for any order and any cut into merged parts.
    #[test]
    fn sketches_merge_to_the_same_answer_for_any_order_and_cut() {
        let values: Vec<String> =
            (0..20_000u64).map(|i| ((i * 7919) % 5_003).to_string()).collect();
        let fold = |kind: AggKind, cut: usize, reverse: bool| -> Acc {
            let mut parts: Vec<Acc> = Vec::new();
            let mut ordered: Vec<&String> = values.iter().collect();
            if reverse {
                ordered.reverse();
            }
            for chunk in ordered.chunks(cut) {
                let mut acc = Acc::new(kind);
                for v in chunk {
                    match kind {
                        AggKind::ApproxDistinct => {
                            acc.add(kind, Field::Text(v.as_bytes()), v.as_bytes(), at(0, 0));
                        }
                        _ => {
                            acc.push_value(v.parse().unwrap());
                        }
                    }
                }
                parts.push(acc);
            }
            let mut total = Acc::new(kind);
            for part in parts.into_iter().rev() {
                total.merge(kind, part);
            }
            total
        };
        let estimate = |acc: &Acc| match acc.value() {
            OutValue::Number(n) => String::from_utf8(n).unwrap().parse::<f64>().unwrap(),
            other => panic!("{other:?}"),
        };
        let one = estimate(&fold(AggKind::ApproxDistinct, values.len(), false));
        // 5,003 distinct values: within 3 standard errors (0.81%).
        assert!((one - 5_003.0).abs() < 5_003.0 * 0.0243, "{one}");
        for (cut, reverse) in [(1, false), (7, true), (1_000, false), (19_999, true)] {
            assert_eq!(estimate(&fold(AggKind::ApproxDistinct, cut, reverse)), one, "{cut}");
        }
        let p90 = fraction("0.9");
        let sketch = fold(AggKind::ApproxQuantile, values.len(), false);
        let q = sketch.sketch_quantile(p90).unwrap();
        // The value of rank ⌊19,999 × 0.9⌋ = 17,999 of the sorted values.
        let mut sorted: Vec<f64> = values.iter().map(|v| v.parse().unwrap()).collect();
        sorted.sort_by(f64::total_cmp);
        let exact = sorted[17_999];
        assert!((q - exact).abs() <= 0.01 * exact, "{q} vs {exact}");
        for (cut, reverse) in [(1, true), (13, false), (20_000, true)] {
            let other = fold(AggKind::ApproxQuantile, cut, reverse).sketch_quantile(p90);
            assert_eq!(other, Some(q), "{cut}");
        }
        assert_eq!(sketch.sketch_quantile(fraction("0")), Some(0.0));
        assert_eq!(sketch.sketch_quantile(fraction("1")), Some(5_002.0));
        assert_eq!(Acc::new(AggKind::ApproxQuantile).sketch_quantile(p90), None);
    }
}
