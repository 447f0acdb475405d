//! One JSON object (RFC 8259 §4) read into its key and raw-value pairs,
//! the way every stage reads records and keys: the NDJSON parser on the
//! workers, the splitter peeking at the first record's keys, the JSON
//! array element parser. A flat object takes the hand-written scanner
//! ([`flat_object`]); anything else, and every error, `serde_json`, whose
//! message is the one reported. Nesting is limited to
//! [`MAX_JSON_DEPTH`], as `serde_json` limits the values it builds.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{Error, ErrorKind, Location, Result};
use crate::syntax::flat_object::flat_object;
pub(crate) use crate::syntax::json::Pairs;
use crate::syntax::json::{is_ws, line_column};

/// The keys of one NDJSON line, in order.
///
/// # Errors
/// [`ErrorKind::Json`] when the line is not a JSON object.
pub(crate) fn json_keys(line_bytes: &[u8], input: &str, line: u64) -> Result<Vec<String>> {
    let pairs = parse_object(line_bytes, input, line)?;
    Ok(pairs.into_iter().map(|(k, _)| k.into_owned()).collect())
}

/// The keys of the JSON array element `data[start..end]`, in order, where
/// `data[0]` is at `first_line`, `first_column`.
///
/// # Errors
/// [`ErrorKind::Json`] naming the line and column of the error when the
/// element is not a valid JSON object, exactly as a worker would report it.
pub(crate) fn json_element_keys(
    data: &[u8],
    start: usize,
    end: usize,
    first_line: u64,
    first_column: u64,
    input: &str,
) -> Result<Vec<String>> {
    let mut pairs = Vec::new();
    parse_pairs(serde_json::Deserializer::from_slice(&data[start..end]), &mut pairs)
        .map_err(|e| element_error(&e, input, data, first_line, first_column, start))?;
    Ok(pairs.into_iter().map(|(k, _)| k.into_owned()).collect())
}

/// An [`ErrorKind::Json`] for `e`, an error in the array element starting at
/// `data[start]`: the parser counts lines and columns from the element's
/// start, the error names them in the input.
pub(crate) fn element_error(
    e: &serde_json::Error,
    input: &str,
    data: &[u8],
    first_line: u64,
    first_column: u64,
    start: usize,
) -> Error {
    let (line, column) = line_column(data, first_line, first_column, start);
    let (e_line, e_column) = (e.line().max(1) as u64, e.column().max(1) as u64);
    let (line, column) =
        if e_line == 1 { (line, column + e_column - 1) } else { (line + e_line - 1, e_column) };
    ErrorKind::Json {
        at: Location { input: input.to_string(), line },
        column: column as usize,
        message: e.to_string().split(" at line ").next().unwrap_or_default().to_string().into(),
    }
    .into()
}

pub(crate) fn parse_object<'a>(raw: &'a [u8], input: &str, line: u64) -> Result<Vec<Pairs<'a>>> {
    let mut pairs = Vec::new();
    parse_pairs(serde_json::Deserializer::from_slice(raw), &mut pairs)
        .map_err(|e| json_error(&e, input, line))?;
    check_depth(raw, &pairs, input, line)?;
    Ok(pairs)
}

/// True when `line` holds nothing but JSON whitespace.
pub(crate) fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|&b| is_ws(b))
}

/// Arrays and objects may nest at most this deep, the record's own object
/// included: `serde_json`'s limit when it builds values. Raw values skip
/// that limit, but a jq transform converts them (recursively), so a deeper
/// line would overflow a worker's stack instead of failing cleanly.
pub(crate) const MAX_JSON_DEPTH: usize = 127;

/// [`ErrorKind::Json`] when `line` (an object already parsed into `pairs`)
/// nests deeper than [`MAX_JSON_DEPTH`], with the column of the bracket
/// that goes too deep, as `serde_json` reports it. Only lines with a
/// nested value are scanned.
pub(crate) fn check_depth(line: &[u8], pairs: &[Pairs<'_>], input: &str, at: u64) -> Result<()> {
    // Nesting past the limit takes that many brackets, each closed (the
    // line parsed): a shorter line cannot.
    let nested = |(_, v): &Pairs<'_>| matches!(v.as_bytes().first(), Some(b'[' | b'{'));
    if line.len() <= 2 * MAX_JSON_DEPTH || !pairs.iter().any(nested) {
        return Ok(());
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, &b) in line.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Err(ErrorKind::Json {
                        at: Location { input: input.to_string(), line: at },
                        column: i + 1,
                        message: format!(
                            "recursion limit exceeded: arrays and objects nested more than \
                             {MAX_JSON_DEPTH} deep"
                        )
                        .into(),
                    }
                    .into());
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

pub(crate) fn json_error(e: &serde_json::Error, input: &str, line: u64) -> Error {
    ErrorKind::Json {
        at: Location { input: input.to_string(), line },
        column: e.column().max(1),
        message: e.to_string().split(" at line ").next().unwrap_or_default().to_string().into(),
    }
    .into()
}

/// Parses one NDJSON line (without its line end) into `pairs`: a flat
/// object by [`flat_object()`], anything else by `serde_json`.
///
/// # Errors
/// `serde_json`'s error when the line is not one JSON object.
pub(crate) fn object_pairs<'a>(
    text: &'a str,
    pairs: &mut Vec<Pairs<'a>>,
) -> serde_json::Result<()> {
    if flat_object(text, pairs) {
        return Ok(());
    }
    pairs.clear();
    parse_pairs(serde_json::Deserializer::from_str(text), pairs)
}

/// Parses one JSON object (and nothing after it) into `pairs`, keys
/// borrowed unless they hold an escape.
#[inline(always)]
pub(crate) fn parse_pairs<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
    pairs: &mut Vec<Pairs<'de>>,
) -> serde_json::Result<()> {
    PairsSeed(pairs).deserialize(&mut de)?;
    de.end()
}

/// Deserializes a JSON object into a caller's vector, reused across lines.
pub(crate) struct PairsSeed<'v, 'de>(pub(crate) &'v mut Vec<Pairs<'de>>);

impl<'de> DeserializeSeed<'de> for PairsSeed<'_, 'de> {
    type Value = ();

    #[inline(always)]
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PairsSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    #[inline(always)]
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            let v: &'de RawValue = map.next_value()?;
            self.0.push((k, v.get()));
        }
        Ok(())
    }
}

/// An object key, borrowed from the input when it has no escapes (serde's
/// own `Cow<str>` always copies).
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}
