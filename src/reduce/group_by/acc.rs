//! The group-by accumulators: per group, one per aggregate, each with an
//! exact merge (integer counts, exact decimal sums, sets), so results never
//! depend on chunking.
//!
//! `mode` keeps, per partial, a count and a first-seen position per value;
//! since partials merge in chunk order, a value new to the running total is
//! later than all of its values, so the result is exact for any chunking.

use std::cmp::Ordering;

use hashbrown::{HashMap, HashSet};

use super::spec::AggKind;
use crate::error::{ErrorKind, Result};
use crate::record::Field;
use crate::reduce::number::ExactSum;
use crate::sink::encode::{write_json_string, OutValue, OwnedField};
use crate::syntax::number::format_f64;

/// Per-group, per-aggregate state.
#[derive(Debug, Clone)]
pub(super) enum Acc {
    Count(u64),
    Sum(ExactSum, u64),
    Extreme(Extreme),
    Distinct(HashSet<Box<[u8]>>),
    Mode(Mode),
    /// `first` or `last`: the value kept so far.
    Value(Option<OwnedField>),
}

impl Acc {
    /// The empty accumulator of an aggregate of `kind`.
    pub(super) fn new(kind: AggKind) -> Acc {
        match kind {
            AggKind::Count => Acc::Count(0),
            AggKind::Sum | AggKind::Mean => Acc::Sum(ExactSum::default(), 0),
            AggKind::Min | AggKind::Max => Acc::Extreme(Extreme::default()),
            AggKind::Distinct => Acc::Distinct(HashSet::new()),
            AggKind::Mode => Acc::Mode(Mode::default()),
            AggKind::First | AggKind::Last => Acc::Value(None),
        }
    }

    /// The output value of an aggregate of `kind` (named `label` in errors).
    ///
    /// # Errors
    /// [`ErrorKind::OutOfRange`] when a sum or mean does not fit its output.
    pub(super) fn value(&self, kind: AggKind, label: &str) -> Result<OutValue> {
        Ok(match self {
            Acc::Count(n) => OutValue::Number(n.to_string().into_bytes()),
            Acc::Sum(sum, n) => {
                let mut out = Vec::new();
                let out_of_range = || ErrorKind::OutOfRange { aggregate: label.to_string() };
                if *n == 0 {
                    OutValue::Field(OwnedField::Missing)
                } else if kind == AggKind::Sum {
                    if !sum.write(&mut out) {
                        return Err(out_of_range().into());
                    }
                    OutValue::Number(out)
                } else {
                    let mean = sum.to_f64() / *n as f64;
                    if !mean.is_finite() {
                        return Err(out_of_range().into());
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
        })
    }
}

/// How a value was read, to write it back the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// `mode` state: per value (as text), its count, its first-seen position
/// and how it was first read.
#[derive(Debug, Clone, Default)]
pub(super) struct Mode {
    pub(super) values: HashMap<Box<[u8]>, ModeEntry>,
    /// Positions handed out so far (one per distinct value here); the next
    /// new value gets this one.
    next_pos: u64,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct ModeEntry {
    count: u64,
    /// Order of first appearance within this state: smaller is earlier.
    pos: u64,
    kind: ValueKind,
}

impl Mode {
    pub(super) fn add(&mut self, text: &[u8], kind: ValueKind) {
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
    pub(super) fn merge(&mut self, next: Mode) {
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
    pub(super) fn result(&self) -> Option<(&[u8], ValueKind)> {
        self.values
            .iter()
            .max_by(|(_, a), (_, b)| a.count.cmp(&b.count).then_with(|| b.pos.cmp(&a.pos)))
            .map(|(t, e)| (t.as_ref(), e.kind))
    }
}

/// Stores `field` in `slot`, reusing its buffer when it has one of the same
/// kind.
pub(super) fn store_field(slot: &mut Option<OwnedField>, field: Field<'_>) {
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
pub(super) struct Extreme {
    /// Best numeric value and its text.
    pub(super) num: Option<(f64, Box<[u8]>)>,
    /// Best value by bytes.
    pub(super) text: Option<Box<[u8]>>,
    pub(super) non_numeric: bool,
    /// The values are JSON strings (written back as strings).
    pub(super) json_strings: bool,
}

impl Extreme {
    /// Takes `text` when it beats the current value (`max` says which
    /// direction); ties keep the earlier value.
    pub(super) fn update(&mut self, text: &[u8], number: Option<f64>, max: bool) {
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

    pub(super) fn merge(&mut self, other: Extreme, max: bool) {
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

    pub(super) fn result(&self) -> Option<&[u8]> {
        if self.non_numeric {
            self.text.as_deref()
        } else {
            self.num.as_ref().map(|(_, t)| t.as_ref())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::number::parse_number;

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
