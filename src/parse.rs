//! Parsing a chunk's bytes into [`Record`]s, on a worker thread.
//!
//! CSV/TSV chunks go through the `csv` crate (RFC 4180), one reused
//! `ByteRecord` per chunk; every record must have as many fields as the
//! header. NDJSON chunks are split on `\n` here and each line is parsed on
//! its own with `serde_json`, so one bad line names its own line and column.
//! Object values are kept as raw JSON text (`RawValue`), so a value no
//! transform touched is written back exactly as it was read.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{Error, Location, Result};
use crate::format::Format;
use crate::record::{Fields, Record};
use crate::source::Chunk;

/// What a worker needs to parse a chunk.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// The input format.
    pub format: Format,
    /// The field delimiter (CSV/TSV).
    pub delimiter: u8,
    /// Number of header fields; every CSV record must have this many.
    pub header_len: usize,
    /// The inputs' names, indexed by [`Chunk::input`].
    pub input_names: Vec<String>,
}

/// Calls `f` for every record of `chunk`, in order.
///
/// # Errors
/// A malformed CSV record, a CSV record whose field count differs from the
/// header's, or an NDJSON line that is not a JSON object, each naming the
/// input and line; and any error `f` returns.
pub fn for_each_record(
    chunk: &Chunk,
    opts: &ParseOptions,
    mut f: impl FnMut(&Record<'_>) -> Result<()>,
) -> Result<u64> {
    let input = opts.input_names.get(chunk.input).map_or("<input>", String::as_str);
    let mut count = 0;
    match opts.format {
        Format::Csv | Format::Tsv => {
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(false)
                .delimiter(opts.delimiter)
                .flexible(true)
                .from_reader(chunk.data.as_slice());
            let mut rec = csv::ByteRecord::new();
            loop {
                let line_of = |rec: &csv::ByteRecord| {
                    chunk.first_line + rec.position().map_or(1, |p| p.line()) - 1
                };
                match rdr.read_byte_record(&mut rec) {
                    Ok(false) => break,
                    Ok(true) => {}
                    Err(e) => {
                        let line = e.position().map_or(chunk.first_line, |p| {
                            chunk.first_line + p.line().saturating_sub(1)
                        });
                        let at = Location { input: input.to_string(), line };
                        return Err(Error::Csv { at, message: e.to_string() });
                    }
                }
                let line = line_of(&rec);
                if rec.len() != opts.header_len {
                    let at = Location { input: input.to_string(), line };
                    return Err(Error::FieldCount {
                        at,
                        expected: opts.header_len,
                        found: rec.len(),
                    });
                }
                count += 1;
                f(&Record { fields: Fields::Csv(&rec), input, line })?;
            }
        }
        Format::Ndjson => {
            for (this, raw) in (chunk.first_line..).zip(chunk.data.split(|&b| b == b'\n')) {
                let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
                if raw.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let obj = parse_object(raw, input, this)?;
                count += 1;
                f(&Record { fields: Fields::Json(&obj.0), input, line: this })?;
            }
        }
    }
    Ok(count)
}

/// The keys of one NDJSON line, in order.
///
/// # Errors
/// [`Error::Json`] when the line is not a JSON object.
pub fn json_keys(line_bytes: &[u8], input: &str, line: u64) -> Result<Vec<String>> {
    let obj = parse_object(line_bytes, input, line)?;
    Ok(obj.0.into_iter().map(|(k, _)| k.into_owned()).collect())
}

fn parse_object<'a>(raw: &'a [u8], input: &str, line: u64) -> Result<JsonObject<'a>> {
    serde_json::from_slice::<JsonObject<'a>>(raw).map_err(|e| Error::Json {
        at: Location { input: input.to_string(), line },
        column: e.column().max(1),
        message: e.to_string().split(" at line ").next().unwrap_or_default().to_string(),
    })
}

/// A JSON object as its key/value pairs in input order, values raw.
struct JsonObject<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for JsonObject<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonObject<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(k) = map.next_key::<Cow<'de, str>>()? {
                    let v: &'de RawValue = map.next_value()?;
                    pairs.push((k, v));
                }
                Ok(JsonObject(pairs))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Field;

    fn opts(format: Format, header_len: usize) -> ParseOptions {
        ParseOptions { format, delimiter: b',', header_len, input_names: vec!["in".into()] }
    }

    #[test]
    fn csv_lines_are_absolute() {
        let chunk = Chunk { seq: 0, input: 0, first_line: 10, data: b"1,\"a\nb\"\n2,c\n".to_vec() };
        let mut seen = Vec::new();
        for_each_record(&chunk, &opts(Format::Csv, 2), |r| {
            seen.push(r.line());
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec![10, 12]);
    }

    #[test]
    fn csv_field_count_error_names_line() {
        let chunk = Chunk { seq: 0, input: 0, first_line: 2, data: b"1,2\n1,2,3\n".to_vec() };
        let err = for_each_record(&chunk, &opts(Format::Csv, 2), |_| Ok(())).unwrap_err();
        assert_eq!(err.to_string(), "in:3: expected 2 fields (as in the header), found 3");
    }

    #[test]
    fn ndjson_skips_blank_lines_and_reports_bad_ones() {
        let data = b"{\"a\":1}\n\n{\"a\":\"x\"}\n{\"a\":\n".to_vec();
        let chunk = Chunk { seq: 0, input: 0, first_line: 1, data };
        let mut vals = Vec::new();
        let err = for_each_record(&chunk, &opts(Format::Ndjson, 0), |r| {
            let f = r.get_source(&crate::record::Source::Key("a".into()));
            vals.push(matches!(f, Field::JsonOther(b"1")) as u8);
            Ok(())
        })
        .unwrap_err();
        assert_eq!(vals, vec![1, 0]);
        assert!(err.to_string().starts_with("in:4:"), "{err}");
    }

    #[test]
    fn ndjson_non_object_is_an_error() {
        let chunk = Chunk { seq: 0, input: 0, first_line: 1, data: b"[1,2]\n".to_vec() };
        let err = for_each_record(&chunk, &opts(Format::Ndjson, 0), |_| Ok(())).unwrap_err();
        assert!(err.to_string().contains("a JSON object"), "{err}");
    }
}
