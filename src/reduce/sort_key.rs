//! Sort keys: `--sort-by` parsing ([`SortKeySpec`]), reading a record's key
//! values and comparing them. Shared by the sorted and top-k reducers, and
//! by the sorted reducer's spill files, which store the key values.
//!
//! Ordering per key: `:n` compares numerically (a non-numeric value is an
//! error naming its line), otherwise by the bytes of the text (UTF-8 code
//! point order). Missing values (empty, null, absent, `--null` markers) sort
//! last in both directions. Ties (every key equal) are broken by input
//! order, by the callers.

use std::cmp::Ordering;
use std::str::FromStr;

use crate::error::{msg, Error, ErrorKind, Result, Setting};
use crate::record::{ColumnRef, Record};
use crate::syntax::number::parse_number;

/// One `--sort-by` key as the user wrote it: `col[:n][:desc]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKeySpec {
    /// Output column name.
    pub column: String,
    /// Compare as numbers (`:n`).
    pub numeric: bool,
    /// Descending (`:desc`).
    pub descending: bool,
}

impl FromStr for SortKeySpec {
    type Err = Error;

    /// Parses `col`, `col:n`, `col:desc`, `col:n:desc` (also `:asc`).
    fn from_str(s: &str) -> Result<Self> {
        let mut parts = s.split(':');
        let column = parts.next().unwrap_or_default().to_string();
        if column.is_empty() {
            return Err(Error::setting(
                Setting::SortBy,
                format!("`{s}`: a key needs a column name"),
            ));
        }
        let mut spec = SortKeySpec { column, numeric: false, descending: false };
        for p in parts {
            match p {
                "n" | "num" => spec.numeric = true,
                "desc" => spec.descending = true,
                "asc" => spec.descending = false,
                other => {
                    return Err(Error::setting(
                        Setting::SortBy,
                        format!("`{s}`: unknown modifier `{other}`; use col[:n][:desc]"),
                    ))
                }
            }
        }
        Ok(spec)
    }
}

#[derive(Debug, Clone)]
struct Key {
    column: ColumnRef,
    numeric: bool,
    descending: bool,
}

/// Resolved `--sort-by` keys: reads a record's key values and compares
/// them in the documented order (see the module docs). Shared by the
/// sorted and top-k reducers.
#[derive(Debug, Clone)]
pub(crate) struct SortKeys {
    keys: Vec<Key>,
    null_markers: Vec<Vec<u8>>,
}

/// One key value of a record, as [`SortKeys::extract`] reads it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KeyVal {
    /// A `:n` key's value.
    Num(f64),
    /// A text key's value: a byte range in the key arena it was read into.
    Str(usize, usize),
    /// Empty, null, absent or a `--null` marker.
    Missing,
}

impl SortKeys {
    /// Keys over resolved columns; `null_markers` count as missing.
    pub(crate) fn new(keys: Vec<(ColumnRef, SortKeySpec)>, null_markers: Vec<Vec<u8>>) -> Self {
        let keys = keys
            .into_iter()
            .map(|(column, s)| Key { column, numeric: s.numeric, descending: s.descending })
            .collect();
        SortKeys { keys, null_markers }
    }

    /// Number of keys: values per record.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// Appends `record`'s value of each key to `out` (one per key), copying
    /// text values into `arena`.
    ///
    /// # Errors
    /// [`ErrorKind::NotNumeric`] for a `:n` key whose value is not a number,
    /// naming the record's line.
    pub(crate) fn extract(
        &self,
        record: &Record<'_>,
        out: &mut Vec<KeyVal>,
        arena: &mut Vec<u8>,
    ) -> Result<()> {
        for key in &self.keys {
            let field = record.get(&key.column);
            if field.is_missing(&self.null_markers) {
                out.push(KeyVal::Missing);
                continue;
            }
            let text = field.text().unwrap_or_default();
            if key.numeric {
                match parse_number(&text) {
                    Some(n) => out.push(KeyVal::Num(n.to_f64())),
                    None => {
                        return Err(ErrorKind::NotNumeric {
                            at: record.location(),
                            column: key.column.name.clone(),
                            value: String::from_utf8_lossy(&text).into_owned(),
                            purpose: msg![Setting::SortBy, format!(" {}:n", key.column.name)],
                        }
                        .into())
                    }
                }
            } else {
                let s = arena.len();
                arena.extend_from_slice(&text);
                out.push(KeyVal::Str(s, arena.len()));
            }
        }
        Ok(())
    }

    /// Compares two records' key values (`a` with its arena `a_arena`, `b`
    /// with `b_arena`), key by key: ascending or descending, missing last
    /// in both directions. Equal means a tie, which callers break by input
    /// order.
    pub(crate) fn cmp(
        &self,
        a: &[KeyVal],
        a_arena: &[u8],
        b: &[KeyVal],
        b_arena: &[u8],
    ) -> Ordering {
        for ((key, &x), &y) in self.keys.iter().zip(a).zip(b) {
            let ord = match (x, y) {
                (KeyVal::Missing, KeyVal::Missing) => Ordering::Equal,
                (KeyVal::Missing, _) => return Ordering::Greater,
                (_, KeyVal::Missing) => return Ordering::Less,
                (KeyVal::Num(p), KeyVal::Num(q)) => p.total_cmp(&q),
                (KeyVal::Str(s, e), KeyVal::Str(s2, e2)) => a_arena[s..e].cmp(&b_arena[s2..e2]),
                (KeyVal::Num(_), KeyVal::Str(..)) => Ordering::Less,
                (KeyVal::Str(..), KeyVal::Num(_)) => Ordering::Greater,
            };
            let ord = if key.descending { ord.reverse() } else { ord };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }
}

impl SortKeys {
    /// Appends bytes whose plain byte order is the order of
    /// [`SortKeys::cmp`] for the key values `vals` (read into `arena`):
    /// per key, a class byte, then the value. Ascending: numbers (class
    /// 1, the `f64` as an unsigned big-endian integer in `total_cmp`
    /// order), text (class 2, its bytes with each `00` written `00 FF`,
    /// then `00 00`), missing (class 3). Descending: text (class 1) and
    /// numbers (class 2) with their value bytes inverted, which reverses
    /// their order (the text's encoding is prefix-free), and missing
    /// still last (class 3). The memcomparable style of
    /// `group_key::append_sort_key`. Equal bytes mean a tie.
    pub(crate) fn append_ordered_bytes(&self, vals: &[KeyVal], arena: &[u8], out: &mut Vec<u8>) {
        for (key, &v) in self.keys.iter().zip(vals) {
            let start = out.len();
            let class = match (v, key.descending) {
                (KeyVal::Missing, _) => {
                    out.push(3);
                    continue;
                }
                (KeyVal::Num(_), false) | (KeyVal::Str(..), true) => 1,
                (KeyVal::Num(_), true) | (KeyVal::Str(..), false) => 2,
            };
            out.push(class);
            match v {
                KeyVal::Num(x) => {
                    let bits = x.to_bits();
                    let ordered = if bits >> 63 == 1 { !bits } else { bits | 1 << 63 };
                    out.extend_from_slice(&ordered.to_be_bytes());
                }
                KeyVal::Str(s, e) => {
                    for &b in &arena[s..e] {
                        out.push(b);
                        if b == 0 {
                            out.push(0xff);
                        }
                    }
                    out.extend_from_slice(&[0, 0]);
                }
                KeyVal::Missing => {}
            }
            if key.descending {
                out[start + 1..].iter_mut().for_each(|b| *b = !*b);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key value: missing, a number, or a text.
    type Value = Option<std::result::Result<f64, Vec<u8>>>;

    #[test]
    fn ordered_bytes_sort_as_the_keys_compare() {
        use crate::record::Source;
        use proptest::prelude::*;
        let column = |i| ColumnRef { name: format!("c{i}"), source: Source::Index(i) };
        let value = prop_oneof![
            Just(None),
            any::<f64>().prop_map(|x| Some(Ok(x))),
            (-3i32..3).prop_map(|x| Some(Ok(f64::from(x)))),
            proptest::collection::vec(
                prop_oneof![Just(0u8), Just(1), Just(b'a'), Just(0xff)],
                0..4
            )
            .prop_map(|t| Some(Err(t))),
        ];
        let pair = (value.clone(), value);
        let mut runner = proptest::test_runner::TestRunner::default();
        for descending in [[false, false], [true, false], [false, true]] {
            let keys = SortKeys::new(
                (0..2)
                    .map(|i| {
                        let spec = SortKeySpec {
                            column: format!("c{i}"),
                            numeric: false,
                            descending: descending[i],
                        };
                        (column(i), spec)
                    })
                    .collect(),
                Vec::new(),
            );
            let read = |vals: &(Value, Value), arena: &mut Vec<u8>| {
                [&vals.0, &vals.1]
                    .into_iter()
                    .map(|v| match v {
                        None => KeyVal::Missing,
                        Some(Ok(x)) => KeyVal::Num(*x),
                        Some(Err(t)) => {
                            let s = arena.len();
                            arena.extend_from_slice(t);
                            KeyVal::Str(s, arena.len())
                        }
                    })
                    .collect::<Vec<_>>()
            };
            runner
                .run(&(pair.clone(), pair.clone()), |(a, b)| {
                    let (mut arena_a, mut arena_b) = (Vec::new(), Vec::new());
                    let (x, y) = (read(&a, &mut arena_a), read(&b, &mut arena_b));
                    let (mut bx, mut by) = (Vec::new(), Vec::new());
                    keys.append_ordered_bytes(&x, &arena_a, &mut bx);
                    keys.append_ordered_bytes(&y, &arena_b, &mut by);
                    prop_assert_eq!(bx.cmp(&by), keys.cmp(&x, &arena_a, &y, &arena_b));
                    Ok(())
                })
                .unwrap();
        }
    }

    #[test]
    fn parses_key_specs() {
        let k: SortKeySpec = "amount:n:desc".parse().unwrap();
        assert_eq!(k, SortKeySpec { column: "amount".into(), numeric: true, descending: true });
        assert!("amount:x".parse::<SortKeySpec>().is_err());
        assert!(":n".parse::<SortKeySpec>().is_err());
    }
}
