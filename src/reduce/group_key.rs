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
use std::cmp::Ordering;

use crate::record::Field;
use crate::sink::encode::RowValue;
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

/// The (tag, text) parts of an encoded group key, in order.
pub(crate) fn key_parts(mut key: &[u8]) -> impl Iterator<Item = (u8, &[u8])> + Clone {
    std::iter::from_fn(move || {
        if key.len() < 5 {
            return None;
        }
        let tag = key[0];
        let len = u32::from_le_bytes([key[1], key[2], key[3], key[4]]) as usize;
        let part = (tag, &key[5..5 + len]);
        key = &key[5 + len..];
        Some(part)
    })
}

/// A decoded key part as a value of an output row, written back as it
/// was read (a JSON string as a string, another JSON literal as it was).
pub(crate) fn part_value(tag: u8, text: &[u8]) -> RowValue<'_> {
    match tag {
        TAG_TEXT => RowValue::Field(Field::Text(text)),
        TAG_JSON_STRING => RowValue::String(text),
        TAG_JSON_OTHER => RowValue::Field(Field::JsonOther(text)),
        _ => RowValue::Field(Field::Null),
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
        if let Some(v) = small_integer(text) {
            return KeyOrder::Num(v, text);
        }
        if let Some(n) = parse_number(text) {
            return KeyOrder::Num(n.to_f64(), text);
        }
    }
    KeyOrder::Text(text)
}

/// The value of `text` when it is 1 to 15 ASCII digits (ids, counts,
/// years: the common numeric key), exact as an `f64` (below 2^53): what
/// [`parse_number`] then `to_f64` give, without the general parser.
#[inline]
fn small_integer(text: &[u8]) -> Option<f64> {
    if text.is_empty() || text.len() > 15 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = text.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
    Some(n as f64)
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
    let parts = key_parts(raw);
    for (tag, text) in parts.clone() {
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
    out.extend(parts.map(|(tag, _)| tag));
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

/// The first 8 bytes of a sort key as a big-endian integer (zeros past
/// its end): integer order is the keys' byte order wherever two prefixes
/// differ.
fn sort_prefix(sort_key: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    let n = sort_key.len().min(8);
    bytes[..n].copy_from_slice(&sort_key[..n]);
    u64::from_be_bytes(bytes)
}

/// A group's sort-key prefix ([`sort_prefix`]) and its index, radix
/// sorted by the prefix.
#[derive(Debug, Clone, Copy)]
struct Prefixed {
    prefix: u64,
    index: u32,
}

impl rdst::RadixKey for Prefixed {
    const LEVELS: usize = 8;

    /// The prefix's bytes, as `rdst` reads a `u64`'s.
    #[inline]
    fn get_level(&self, level: usize) -> u8 {
        (self.prefix >> (level * 8)) as u8
    }
}

/// The order of two encoded keys by their sort keys, made in two
/// thread-local buffers.
fn cmp_sort_keys(a: &[u8], b: &[u8]) -> Ordering {
    thread_local! {
        static SCRATCH: std::cell::RefCell<(Vec<u8>, Vec<u8>)> = const {
            std::cell::RefCell::new((Vec::new(), Vec::new()))
        };
    }
    SCRATCH.with(|s| {
        let (x, y) = &mut *s.borrow_mut();
        x.clear();
        y.clear();
        append_sort_key(x, a);
        append_sort_key(y, b);
        x.as_slice().cmp(y.as_slice())
    })
}

/// The output order of `n` groups whose encoded keys `key(i)` gives: their
/// indices, sorted by sort key ([`append_sort_key`]); equal keys (the same
/// group in two partials) end up next to each other, in no fixed order.
///
/// Each key's sort key is made once and its first 8 bytes kept as an
/// integer beside the group's index (the normalized-key prefix of DuckDB's
/// sort and of AlphaSort, Nyberg et al., SIGMOD 1994). The array is radix
/// sorted by the prefixes (`rdst`'s parallel unstable radix sort, as
/// DuckDB radix sorts its normalized keys: 10M numeric keys 5% faster
/// end to end than a comparison sort), and only runs of keys with the same
/// prefix are then sorted by comparison, with their whole sort keys made
/// again. (Decorating each
/// key once matters: at 300k numeric keys the parses inside the
/// comparisons were half of a group-by's instructions; keeping every whole
/// sort key instead cost 28 bytes a group at 10M groups, and the sort
/// chased pointers.) Made and sorted with rayon, on its current pool, so a
/// caller inside the run's worker pool
/// ([`Reducer::finalize`](crate::Reducer::finalize)) sorts on the run's
/// threads.
///
/// # Panics
/// When `n` is over `u32::MAX`, or a key is not an encoded key of this
/// module.
pub(crate) fn output_order<'k>(n: usize, key: impl Fn(usize) -> &'k [u8] + Sync) -> Vec<u32> {
    use rayon::prelude::*;
    assert!(u32::try_from(n).is_ok(), "more than u32::MAX groups");
    let mut entries: Vec<Prefixed> = (0..n as u32)
        .into_par_iter()
        .map_init(Vec::new, |scratch, index| {
            scratch.clear();
            append_sort_key(scratch, key(index as usize));
            Prefixed { prefix: sort_prefix(scratch), index }
        })
        .collect();
    rdst::RadixSort::radix_sort_unstable(&mut entries);
    entries.par_chunk_by_mut(|a, b| a.prefix == b.prefix).for_each(|run| {
        if run.len() > 1 {
            run.sort_unstable_by(|a, b| {
                cmp_sort_keys(key(a.index as usize), key(b.index as usize))
            });
        }
    });
    entries.into_par_iter().map(|e| e.index).collect()
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

    #[test]
    fn small_integers_have_the_value_the_number_parser_gives() {
        let texts = ["0", "7", "007", "10", "999999999999999", "123456789012345", "42"];
        for t in texts {
            let parsed = parse_number(t.as_bytes()).unwrap().to_f64();
            assert_eq!(small_integer(t.as_bytes()), Some(parsed), "{t}");
        }
        for i in (0..2_000_000u64).step_by(7) {
            let t = i.to_string();
            assert_eq!(small_integer(t.as_bytes()), Some(i as f64), "{t}");
        }
        // Left to the parser.
        for t in ["", "-1", "+1", "1.5", "1e3", "1234567890123456", " 1", "1a", "٣"] {
            assert_eq!(small_integer(t.as_bytes()), None, "{t}");
        }
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
