//! A fast path for the common NDJSON line: one flat JSON object.
//!
//! [`flat_object`] reads a line holding a JSON object (RFC 8259) whose keys
//! have no escapes and whose values are all strings, numbers, `true`,
//! `false` or `null`, into the same key/raw-value pairs `serde_json` gives,
//! without `serde_json`'s visitor machinery: about half the instructions on
//! typical lines. Anything else (a nested array or object, an escaped key,
//! a `\u` escape, or any byte the grammar does not allow) makes it give up,
//! and the caller parses the line with `serde_json`, which either accepts
//! it or names the error. So the fast path never decides that a line is
//! bad; it only accepts lines `serde_json` accepts, with the same pairs (a
//! unit test and the `flat_object_agrees_with_serde_json` property in
//! `tests/fuzz.rs` compare the two).
//!
//! The string scan looks at eight bytes at a time for a quote,
//! a backslash or a control character (`parse::byte_search`), as `serde_json`'s
//! own string scan does.

use std::borrow::Cow;

use crate::syntax::byte_search::find_json_special;
use crate::syntax::json::{is_ws, Pairs};
use crate::syntax::number::json_number_end;

/// Reads `line` (one NDJSON line, line end removed) into `pairs` when it is
/// a flat JSON object as described in the module docs, and returns `true`.
/// Returns `false` (leaving `pairs` in any state) when the line needs the
/// general parser, which is the case for every line that is not valid
/// JSON.
#[inline]
pub(crate) fn flat_object<'a>(line: &'a str, pairs: &mut Vec<Pairs<'a>>) -> bool {
    let b = line.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return false;
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return skip_ws(b, i + 1) == b.len();
    }
    loop {
        // A key: a string without escapes.
        if b.get(i) != Some(&b'"') {
            return false;
        }
        let key_start = i + 1;
        let Some(key_end) = string_end(b, key_start, false) else { return false };
        i = skip_ws(b, key_end + 1);
        if b.get(i) != Some(&b':') {
            return false;
        }
        i = skip_ws(b, i + 1);
        let value_start = i;
        i = match b.get(i) {
            Some(b'"') => match string_end(b, i + 1, true) {
                Some(end) => end + 1,
                None => return false,
            },
            Some(b'-' | b'0'..=b'9') => match json_number_end(b, i) {
                Some(end) => end,
                None => return false,
            },
            Some(b't') if b[i..].starts_with(b"true") => i + 4,
            Some(b'f') if b[i..].starts_with(b"false") => i + 5,
            Some(b'n') if b[i..].starts_with(b"null") => i + 4,
            _ => return false,
        };
        // SAFETY: `line` is a `str`, and each of the four indexes is at or
        // just past an ASCII byte (a quote, the first byte of a value, the
        // last byte of a value: a quote, a digit or a letter of a
        // literal), so each is a char boundary within `line`. (Checked
        // slicing cost a sixth of the parse.)
        debug_assert!([key_start, key_end, value_start, i]
            .iter()
            .all(|&j| line.is_char_boundary(j)));
        let (key, value) =
            unsafe { (line.get_unchecked(key_start..key_end), line.get_unchecked(value_start..i)) };
        pairs.push((Cow::Borrowed(key), value));
        i = skip_ws(b, i);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => return skip_ws(b, i + 1) == b.len(),
            _ => return false,
        }
    }
}

/// The index of the first byte at or after `i` that is not JSON whitespace.
#[inline]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|&c| is_ws(c)) {
        i += 1;
    }
    i
}

/// The index of the quote that ends the string whose text starts at `i`,
/// or `None` when the string is unterminated, holds a control character,
/// or holds an escape (any escape when `escapes` is false; a `\u` escape or
/// an unknown one otherwise).
#[inline(always)]
fn string_end(b: &[u8], mut i: usize, escapes: bool) -> Option<usize> {
    loop {
        i = find_json_special(b, i)?;
        match b[i] {
            b'"' => return Some(i),
            b'\\' if escapes => match b.get(i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                _ => return None,
            },
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `serde_json` makes of `line`, as the parser's pairs.
    fn general(line: &str) -> Option<Vec<(String, String)>> {
        let mut pairs = Vec::new();
        crate::syntax::json_object::parse_pairs(
            serde_json::Deserializer::from_str(line),
            &mut pairs,
        )
        .ok()?;
        Some(pairs.into_iter().map(|(k, v)| (k.into_owned(), v.to_string())).collect())
    }

    fn fast(line: &str) -> Option<Vec<(String, String)>> {
        let mut pairs = Vec::new();
        flat_object(line, &mut pairs)
            .then(|| pairs.into_iter().map(|(k, v)| (k.into_owned(), v.to_string())).collect())
    }

    #[test]
    fn accepts_flat_objects_as_serde_json_does() {
        let lines = [
            r#"{"id":1,"ts":"2024-01-01T00:29:40Z","amount":4725.42,"ok":true,"n":null}"#,
            r#" { "a" : -0.5e+3 , "b":"x\"y\\z\/\n" , "c":false } "#,
            "{}",
            " {\t}\r",
            r#"{"a":1,"a":2}"#,
            r#"{"":""}"#,
            r#"{"é":"ü €"}"#,
            r#"{"a":0,"b":-0,"c":1E5,"d":12.0e-7}"#,
            "{\"a\":\"0123456789abcdefghij\"}",
        ];
        for line in lines {
            assert_eq!(fast(line), general(line), "{line}");
            assert!(fast(line).is_some(), "{line}");
        }
    }

    #[test]
    fn gives_up_on_everything_else() {
        let lines = [
            r#"{"a":[1]}"#,
            r#"{"a":{"b":1}}"#,
            r#"{"\u0061":1}"#,
            r#"{"a\"":1}"#,
            r#"{"a":"\u00e9"}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":+1}"#,
            r#"{"a":-}"#,
            r#"{"a":1e}"#,
            r#"{"a":tru}"#,
            r#"{"a":truex}"#,
            r#"{"a":1,}"#,
            r#"{"a":1"#,
            r#"{"a":1}x"#,
            r#"{"a":1}{}"#,
            "{\"a\":\"x\ty\"}",
            "{\"a\":\"x\u{1}\"}",
            r#"{"a":"\x"}"#,
            r#"{"a" 1}"#,
            r#"{a:1}"#,
            r#"[1]"#,
            "",
            r#"{"a":"unterminated}"#,
            "{\"a\":1}\u{c}",
        ];
        for line in lines {
            assert_eq!(fast(line), None, "{line}");
        }
    }

    /// A flat object's text, built from tokens some of which break it.
    fn flat_line() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let string = "[a-z é€/]{0,12}|[a-z\"\\\t\u{1}]{0,3}".prop_map(|s| format!("\"{s}\""));
        let escaped = proptest::sample::select(vec![
            r#""a\"b""#,
            r#""\\""#,
            r#""\/\b\f\n\r\t""#,
            r#""\u00e9""#,
            r#""\x""#,
            r#""\""#,
        ])
        .prop_map(str::to_string);
        let number = "-?(0|[1-9][0-9]{0,3}|0[0-9])(\\.[0-9]{0,2})?([eE][+-]?[0-9]{0,2})?";
        let literal = proptest::sample::select(vec![
            "true",
            "false",
            "null",
            "tru",
            "nul",
            "[1]",
            "{}",
            "{\"a\":1}",
            "",
            "+1",
            ".5",
        ])
        .prop_map(str::to_string);
        let value = prop_oneof![3 => string.clone(), 1 => escaped, 3 => number, 2 => literal];
        let space = prop_oneof![
            12 => proptest::sample::select(vec!["", " ", "\t", "\r", "\n"]),
            1 => Just("\u{c}"),
        ];
        let member = (space.clone(), string, space.clone(), value, space.clone())
            .prop_map(|(a, k, b, v, c)| format!("{a}{k}{b}:{v}{c}"));
        let sep = prop_oneof![12 => Just(","), 1 => Just(",,"), 1 => Just("")];
        let close = proptest::bool::weighted(0.95);
        (proptest::collection::vec((member, sep), 0..6), space, close).prop_map(
            |(members, tail, close)| {
                let mut line = String::from("{");
                for (i, (m, sep)) in members.iter().enumerate() {
                    if i > 0 {
                        line.push_str(sep);
                    }
                    line.push_str(m);
                }
                if close {
                    line.push('}');
                }
                line.push_str(tail);
                line
            },
        )
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 2000,
            ..proptest::test_runner::Config::default()
        })]

        /// The fast path gives `serde_json`'s pairs or gives up, and it
        /// does not give up on a valid flat line without escapes in keys
        /// or `\u` escapes.
        #[test]
        fn flat_object_agrees_with_serde_json(line in flat_line()) {
            let (fast, general) = (fast(&line), general(&line));
            if fast.is_some() {
                proptest::prop_assert_eq!(&fast, &general, "{:?}", line);
            }
            let simple = !line.contains('\\') && !line.contains('[') && !line[1..].contains('{');
            if general.is_some() && simple {
                proptest::prop_assert!(fast.is_some(), "gave up on {:?}", line);
            }
        }
    }
}
