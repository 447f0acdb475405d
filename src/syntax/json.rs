//! JSON text (RFC 8259) at the byte level, as several stages need it:
//! whitespace, positions for messages, and writing strings and compact
//! values.

use std::borrow::Cow;

use memchr::memchr2;

use crate::syntax::byte_search::{find_json_special, find_json_special_or_non_ascii};

/// One key of a JSON object and its raw value's text (no surrounding
/// whitespace), the key borrowed unless it holds an escape.
pub(crate) type Pairs<'a> = (Cow<'a, str>, &'a str);

/// RFC 8259 §2 whitespace: space, tab, line feed, carriage return.
pub(crate) fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// The message for an element whose first byte `b` is not `{`.
pub(crate) fn not_an_object(b: u8) -> String {
    format!(
        "array element is not a JSON object: found {}; every element must be an object",
        show(b)
    )
}

/// A byte for an error message: `` `c` `` for printable ASCII, else its
/// hex value.
pub(crate) fn show(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("`{}`", b as char)
    } else {
        format!("byte 0x{b:02X}")
    }
}

/// The 1-based line and byte column of `data[at]`, when `data[0]` is at
/// `first_line`, `first_column`.
pub(crate) fn line_column(
    data: &[u8],
    first_line: u64,
    first_column: u64,
    at: usize,
) -> (u64, u64) {
    let before = &data[..at.min(data.len())];
    let lines = memchr::memchr_iter(b'\n', before).count() as u64;
    let column = match memchr::memrchr(b'\n', before) {
        Some(nl) => (at - nl) as u64,
        None => first_column + at as u64,
    };
    (first_line + lines, column)
}

/// Appends the JSON text `raw` without the whitespace between its tokens
/// (RFC 8259 §2: space, tab, `\n`, `\r` outside strings), e.g.
/// `{"a": [1,\n 2]}` as `{"a":[1,2]}`. Strings are copied as they are.
pub fn write_compact_json(out: &mut Vec<u8>, raw: &[u8]) {
    out.reserve(raw.len());
    let mut pos = 0;
    while pos < raw.len() {
        let b = raw[pos];
        if b == b'"' {
            // Copy the string through its closing quote, skipping escapes.
            let mut end = pos + 1;
            loop {
                match memchr2(b'"', b'\\', raw.get(end..).unwrap_or_default()) {
                    Some(i) if raw[end + i] == b'"' => {
                        end += i + 1;
                        break;
                    }
                    Some(i) => end += i + 2,
                    None => {
                        end = raw.len();
                        break;
                    }
                }
            }
            let end = end.min(raw.len());
            out.extend_from_slice(&raw[pos..end]);
            pos = end;
            continue;
        }
        if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            out.push(b);
        }
        pos += 1;
    }
}

/// Appends `text` as a JSON string literal (invalid UTF-8 replaced by
/// U+FFFD).
#[inline]
pub fn write_json_string(out: &mut Vec<u8>, text: &[u8]) {
    // Printable ASCII without `"` or `\` (most text) is copied as is, and
    // so is other UTF-8 without them or control characters (as serde_json
    // writes it).
    if find_json_special_or_non_ascii(text, 0).is_none() || needs_no_escape(text) {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text);
        out.push(b'"');
        return;
    }
    write_escaped_json_string(out, text);
}

/// True when `text` (not printable ASCII) is UTF-8 without a `"`, `\` or
/// control character.
#[cold]
fn needs_no_escape(text: &[u8]) -> bool {
    find_json_special(text, 0).is_none() && std::str::from_utf8(text).is_ok()
}

/// [`write_json_string`] for text that needs escapes or is not UTF-8.
#[cold]
fn write_escaped_json_string(out: &mut Vec<u8>, text: &[u8]) {
    // serde_json writes valid escapes; writing to a Vec cannot fail.
    let _ = match std::str::from_utf8(text) {
        Ok(s) => serde_json::to_writer(&mut *out, s),
        Err(_) => serde_json::to_writer(&mut *out, String::from_utf8_lossy(text).as_ref()),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_json_keeps_strings() {
        let mut out = Vec::new();
        write_compact_json(&mut out, b"{\n  \"a b\": [1,\r\n\t2],\n  \"s\": \" x\\\" \\\\\"\n}");
        assert_eq!(out, b"{\"a b\":[1,2],\"s\":\" x\\\" \\\\\"}");
        // Unterminated input (the parser rejects it before) stays in bounds.
        out.clear();
        write_compact_json(&mut out, b"[\"ab\\");
        assert_eq!(out, b"[\"ab\\");
    }
}
