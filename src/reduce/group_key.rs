//! Group keys: a record's `--group-by` values encoded as one byte string
//! (the key of a group's entry in a hash map), and the order in which
//! groups are written. Shared by the group-by and top-k reducers.
//!
//! Encoding: per key column a tag byte (missing, CSV text, JSON string,
//! other JSON literal), a 4-byte little-endian length and the text (a JSON
//! string's unescaped text, another literal's raw text). Injective; the
//! output order is computed at the end, on the decoded parts.
//!
//! Order ([`cmp_group_keys`]): column by column, numbers first, in numeric
//! order; then text, by bytes (UTF-8 code point order); missing keys
//! (empty, null, absent, `--null` markers) last.

use std::borrow::Cow;
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

/// Compares two decoded group keys in output order: column by column,
/// numbers, then text, then missing.
pub(crate) fn cmp_group_keys(a: &[(u8, &[u8])], b: &[(u8, &[u8])]) -> Ordering {
    for (x, y) in a.iter().zip(b.iter()) {
        let o = cmp_key_order(&key_order(x.0, x.1), &key_order(y.0, y.1));
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

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
