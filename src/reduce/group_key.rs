//! Group keys: a record's `--group-by` values encoded as one byte string
//! (the key of a group's entry in a hash map), and the order in which
//! groups are written. Shared by the group-by and top-k reducers.
//!
//! Encoding: per key column a tag byte (missing, CSV text, JSON string,
//! other JSON literal), a 4-byte little-endian length and the text (a JSON
//! string's unescaped text, another literal's raw text). Injective; the
//! output order is computed at the end, on the decoded parts.
//!
//! Order ([`output_order`]): column by column, numbers first, in numeric
//! order; then text, by bytes (UTF-8 code point order); missing keys
//! (empty, null, absent, `--null` markers) last.

use std::borrow::Cow;
#[cfg(test)]
use std::cmp::Ordering;

use crate::record::Field;
use crate::sink::encode::{write_json_string, OwnedField};
use crate::syntax::number::parse_number;

const TAG_MISSING: u8 = 0;
const TAG_TEXT: u8 = 1;
const TAG_JSON_STRING: u8 = 2;
const TAG_JSON_OTHER: u8 = 3;

/// Appends `field` to an encoded group key (see the module docs).
#[inline(always)]
pub(crate) fn encode_key_part(out: &mut Vec<u8>, field: Field<'_>, null_markers: &[Vec<u8>]) {
    let (tag, text) = match field {
        _ if field.is_missing(null_markers) => (TAG_MISSING, None),
        Field::Absent | Field::Null => (TAG_MISSING, None),
        Field::Text(t) => (TAG_TEXT, Some(Cow::Borrowed(t))),
        Field::JsonString(_) => (TAG_JSON_STRING, field.text()),
        Field::JsonOther(t) => (TAG_JSON_OTHER, Some(Cow::Borrowed(t))),
    };
    out.push(tag);
    let text = text.unwrap_or_default();
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(&text);
}

/// Splits an encoded group key into its (tag, text) parts.
pub(crate) fn decode_key(mut key: &[u8]) -> Vec<(u8, &[u8])> {
    let mut parts = Vec::new();
    while key.len() >= 5 {
        let tag = key[0];
        let len = u32::from_le_bytes([key[1], key[2], key[3], key[4]]) as usize;
        parts.push((tag, &key[5..5 + len]));
        key = &key[5 + len..];
    }
    parts
}

/// A decoded key part as an output field, written back as it was read (a
/// JSON string as a string, another JSON literal as it was).
pub(crate) fn part_field(tag: u8, text: &[u8]) -> OwnedField {
    match tag {
        TAG_TEXT => OwnedField::Text(text.to_vec()),
        TAG_JSON_STRING => {
            let mut raw = Vec::new();
            write_json_string(&mut raw, text);
            OwnedField::JsonString(raw)
        }
        TAG_JSON_OTHER => OwnedField::JsonOther(text.to_vec()),
        _ => OwnedField::Missing,
    }
}

/// Sort class of a key part: numbers, then text, then missing.
#[derive(Debug, PartialEq, PartialOrd)]
enum KeyOrder<'a> {
    Num(f64, &'a [u8]),
    Text(&'a [u8]),
    Missing,
}

fn key_order(tag: u8, text: &[u8]) -> KeyOrder<'_> {
    if tag == TAG_MISSING {
        return KeyOrder::Missing;
    }
    if tag != TAG_JSON_STRING {
        if let Some(n) = parse_number(text) {
            return KeyOrder::Num(n.to_f64(), text);
        }
    }
    KeyOrder::Text(text)
}

#[cfg(test)]
fn cmp_key_order(a: &KeyOrder<'_>, b: &KeyOrder<'_>) -> Ordering {
    match (a, b) {
        (KeyOrder::Num(x, s), KeyOrder::Num(y, t)) => x.total_cmp(y).then_with(|| s.cmp(t)),
        (KeyOrder::Num(..), _) => Ordering::Less,
        (_, KeyOrder::Num(..)) => Ordering::Greater,
        (KeyOrder::Text(s), KeyOrder::Text(t)) => s.cmp(t),
        (KeyOrder::Text(_), KeyOrder::Missing) => Ordering::Less,
        (KeyOrder::Missing, KeyOrder::Text(_)) => Ordering::Greater,
        (KeyOrder::Missing, KeyOrder::Missing) => Ordering::Equal,
    }
}

/// Appends the sort key of the encoded group key `raw` to `out`: bytes
/// whose plain byte order is the output order (see the module docs), in
/// the memcomparable style (as in FoundationDB's tuple layer and
/// MyRocks' memcomparable format). Per key column: a class byte (`1` a
/// number, `2` text, `3` missing); for a number its `f64` mapped to an
/// unsigned big-endian integer in `total_cmp` order, then its text; for
/// text its bytes. Texts end with `00 00` and have each `00` byte written
/// `00 FF`, so a text sorts before any longer text it is a prefix of.
/// Last, one tag byte per column, so the same text read as a CSV field
/// and as a JSON string still get two keys, in one fixed order. Injective,
/// so equal sort keys mean equal group keys.
pub(crate) fn append_sort_key(out: &mut Vec<u8>, raw: &[u8]) {
    let parts = decode_key(raw);
    for &(tag, text) in &parts {
        match key_order(tag, text) {
            KeyOrder::Num(v, text) => {
                out.push(1);
                let bits = v.to_bits();
                let ordered = if bits >> 63 == 1 { !bits } else { bits | 1 << 63 };
                out.extend_from_slice(&ordered.to_be_bytes());
                push_text(out, text);
            }
            KeyOrder::Text(text) => {
                out.push(2);
                push_text(out, text);
            }
            KeyOrder::Missing => out.push(3),
        }
    }
    out.extend(parts.iter().map(|&(tag, _)| tag));
}

/// `text` with each `00` byte written `00 FF`, then `00 00`.
fn push_text(out: &mut Vec<u8>, text: &[u8]) {
    for part in text.split(|&b| b == 0).enumerate() {
        if part.0 > 0 {
            out.extend_from_slice(&[0, 0xFF]);
        }
        out.extend_from_slice(part.1);
    }
    out.extend_from_slice(&[0, 0]);
}

/// Groups a block of sort keys holds (see [`output_order`]).
const SORT_KEY_BLOCK: usize = 1 << 16;

/// The output order of `n` groups whose encoded keys `key(i)` gives: their
/// indices, sorted by sort key ([`append_sort_key`]); equal keys (the same
/// group in two partials) end up next to each other, in no fixed order.
///
/// Each key is decoded and its numbers parsed once, not once per
/// comparison (decorate, sort, undecorate): at 300k numeric keys the
/// parses inside the comparisons were half of a group-by's instructions.
/// The sort keys are made in blocks of 65,536 and sorted with rayon, on
/// its current pool, so a caller inside the run's worker pool
/// ([`Reducer::finalize`](crate::Reducer::finalize)) sorts on the run's
/// threads.
///
/// # Panics
/// When `n` is over `u32::MAX`, or a key is not an encoded key of this
/// module.
pub(crate) fn output_order<'k>(n: usize, key: impl Fn(usize) -> &'k [u8] + Sync) -> Vec<u32> {
    use rayon::prelude::*;
    assert!(u32::try_from(n).is_ok(), "more than u32::MAX groups");
    let blocks: Vec<(Vec<u8>, Vec<usize>)> = (0..n.div_ceil(SORT_KEY_BLOCK))
        .into_par_iter()
        .map(|b| {
            let (mut bytes, mut ends) = (Vec::new(), Vec::new());
            for i in b * SORT_KEY_BLOCK..((b + 1) * SORT_KEY_BLOCK).min(n) {
                append_sort_key(&mut bytes, key(i));
                ends.push(bytes.len());
            }
            (bytes, ends)
        })
        .collect();
    let sort_key = |i: u32| {
        let (bytes, ends) = &blocks[i as usize / SORT_KEY_BLOCK];
        let j = i as usize % SORT_KEY_BLOCK;
        &bytes[if j == 0 { 0 } else { ends[j - 1] }..ends[j]]
    };
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.par_sort_unstable_by(|&a, &b| sort_key(a).cmp(sort_key(b)));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(parts: &[(u8, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (tag, text) in parts {
            out.push(*tag);
            out.extend_from_slice(&(text.len() as u32).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        out
    }

    #[test]
    fn output_order_sorts_by_column_then_class_and_breaks_ties_by_bytes() {
        let keys = [
            key(&[(TAG_TEXT, "b"), (TAG_TEXT, "2")]),
            key(&[(TAG_TEXT, "10"), (TAG_MISSING, "")]),
            key(&[(TAG_TEXT, "b"), (TAG_TEXT, "10")]),
            key(&[(TAG_JSON_STRING, "a"), (TAG_TEXT, "x")]),
            key(&[(TAG_TEXT, "9"), (TAG_TEXT, "z")]),
            key(&[(TAG_TEXT, "a"), (TAG_TEXT, "x")]),
            key(&[(TAG_MISSING, ""), (TAG_TEXT, "x")]),
            key(&[(TAG_TEXT, "b"), (TAG_TEXT, "x")]),
        ];
        // 9 < 10 (numbers), then "a" (the CSV text before the JSON string
        // of the same text: tag 1 < tag 2), "b" by its second column
        // (2 < 10 < x), missing last.
        assert_eq!(output_order(keys.len(), |i| &keys[i]), [4, 1, 5, 3, 0, 2, 7, 6]);
        // The same order from any order of the keys.
        let back: Vec<u32> =
            output_order(keys.len(), |i| &keys[7 - i]).iter().map(|&i| 7 - i).collect();
        assert_eq!(back, [4, 1, 5, 3, 0, 2, 7, 6]);
        assert!(output_order(0, |i| &keys[i]).is_empty());
    }

    /// Sort keys order as the decoded keys compare, for every pair of a
    /// set of awkward parts: prefixes, NUL bytes, negative zero, numbers
    /// that are equal but written differently, missing.
    #[test]
    fn sort_keys_order_as_the_parts_compare() {
        let texts =
            ["", "a", "a\0", "a\0b", "ab", "-0", "0", "0.0", "-1.5", "1e3", "999", "\u{ff}"];
        let mut parts = vec![(TAG_MISSING, String::new())];
        for t in texts {
            parts.extend([(TAG_TEXT, t.to_string()), (TAG_JSON_STRING, t.to_string())]);
        }
        for (ta, a) in &parts {
            for (tb, b) in &parts {
                let (ka, kb) =
                    (key(&[(*ta, a), (TAG_TEXT, "z")]), key(&[(*tb, b), (TAG_TEXT, "z")]));
                let (mut sa, mut sb) = (Vec::new(), Vec::new());
                append_sort_key(&mut sa, &ka);
                append_sort_key(&mut sb, &kb);
                let want =
                    cmp_key_order(&key_order(*ta, a.as_bytes()), &key_order(*tb, b.as_bytes()))
                        .then(ta.cmp(tb));
                assert_eq!(sa.cmp(&sb), want, "{ta}:{a:?} vs {tb}:{b:?}");
            }
        }
    }

    #[test]
    fn keys_order_numbers_then_text_then_missing() {
        let mut v = [
            key_order(TAG_TEXT, b"b"),
            key_order(TAG_MISSING, b""),
            key_order(TAG_TEXT, b"10"),
            key_order(TAG_TEXT, b"9"),
            key_order(TAG_TEXT, b"a"),
        ];
        v.sort_by(cmp_key_order);
        assert_eq!(
            v,
            [
                KeyOrder::Num(9.0, b"9"),
                KeyOrder::Num(10.0, b"10"),
                KeyOrder::Text(b"a"),
                KeyOrder::Text(b"b"),
                KeyOrder::Missing
            ]
        );
    }
}
