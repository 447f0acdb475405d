//! Encoding records into output bytes: CSV/TSV (RFC 4180 quoting), NDJSON
//! and JSON arrays (each record as in NDJSON, framed as
//! [`json_array`](crate::sink::json_array) describes).
//!
//! Encoding runs inside the workers, so the thread that writes the output
//! only copies bytes. A field no transform touched is written back as it
//! was read: CSV text unchanged (re-quoted only where the output format
//! needs it), JSON values as their raw text. One exception: NDJSON and JSON
//! array output hold one record per line, so a JSON object or array value
//! that spans lines (from a pretty-printed JSON array input) is written
//! compacted, without the whitespace between its tokens (RFC 8259 §2).
//!
//! Crossing formats:
//! - CSV to NDJSON (and JSON arrays): an empty field or a `--null` marker
//!   becomes `null`, a field that is a JSON number literal (RFC 8259 §6:
//!   `12`, `-1.50`, `1e3`, not `007` or `+1`) is written bare, with its text
//!   unchanged; anything else becomes a JSON string (invalid UTF-8 is
//!   replaced by U+FFFD). The rule is [`ValueOptions::classify`], the one
//!   that jq expressions see fields by. With `--no-infer`
//!   ([`Encoder::with_no_infer`]) every field is a JSON string (`1` is
//!   `"1"`, an empty field `""`), and only a `--null` marker is `null`.
//!   Computed values (a group-by's count, sum or mean) are numbers either
//!   way.
//! - NDJSON or JSON array to CSV: strings are unescaped, `null` and absent
//!   keys become an empty field, numbers, booleans, objects and arrays are
//!   written as their JSON text (as read, line breaks included).

use memchr::memchr2;

use crate::error::{ErrorKind, Result};
use crate::format::Format;
use crate::record::{Field, Record};
use crate::sink::json_array::RECORD_PREFIX;
pub use crate::syntax::csv::write_csv_field;
pub use crate::syntax::json::{write_compact_json, write_json_string};
use crate::transform::jq::{TextKind, ValueOptions};
use crate::transform::Layout;

/// Encodes records under a [`Layout`] into one output format.
#[derive(Debug, Clone)]
pub struct Encoder {
    format: Format,
    delimiter: u8,
    layout: Layout,
    /// How CSV text becomes a JSON value: `--null` markers and `--no-infer`.
    values: ValueOptions,
    /// NDJSON: `{"name":` then `,"name":` per column, pre-escaped.
    json_prefixes: Vec<Vec<u8>>,
    /// The CSV input's delimiter, when the input is CSV/TSV.
    input_delimiter: Option<u8>,
    /// The layout writes every input column, in input order.
    identity: bool,
}

impl Encoder {
    /// An encoder writing `format` with `delimiter` (CSV/TSV), under
    /// `layout`. `null_markers` (from `--null`) become `null` in NDJSON
    /// and JSON array output of CSV fields; other fields are inferred as
    /// the module docs say, unless [`Encoder::with_no_infer`].
    #[doc(hidden)] // Not part of the API: a run builds the encoder; for `__bench` users.
    pub fn new(format: Format, delimiter: u8, layout: Layout, null_markers: Vec<Vec<u8>>) -> Self {
        let json_prefixes = layout
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut p = vec![if i == 0 { b'{' } else { b',' }];
                write_json_string(&mut p, c.name.as_bytes());
                p.push(b':');
                p
            })
            .collect();
        Encoder {
            format,
            delimiter,
            layout,
            values: ValueOptions { no_infer: false, null_markers },
            json_prefixes,
            input_delimiter: None,
            identity: false,
        }
    }

    /// With `no_infer` (`--no-infer`), writes every CSV field to NDJSON and
    /// JSON arrays as a JSON string: `1` as `"1"`, an empty field as `""`;
    /// only the `--null` markers given to [`Encoder::new`] become `null`.
    /// CSV/TSV output and JSON input fields are unaffected, and so are
    /// computed values in [`Encoder::row`] ([`OutValue::Number`]).
    pub(crate) fn with_no_infer(mut self, no_infer: bool) -> Self {
        self.values.no_infer = no_infer;
        self
    }

    /// Tells the encoder that the input is CSV/TSV with `delimiter` and
    /// `header_len` columns, which lets it copy unquoted input lines
    /// instead of re-encoding their fields.
    #[doc(hidden)] // Not part of the API, as `new`.
    pub fn with_csv_input(mut self, delimiter: u8, header_len: usize) -> Self {
        self.input_delimiter = Some(delimiter);
        self.identity = self.layout.columns.len() == header_len
            && self
                .layout
                .columns
                .iter()
                .enumerate()
                .all(|(i, c)| c.source == crate::record::Source::Index(i));
        self
    }

    /// The output format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The layout records are written under.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Appends the header line of the layout's columns (CSV/TSV); nothing
    /// for NDJSON and JSON arrays or when records keep their own keys.
    pub fn layout_header(&self, out: &mut Vec<u8>) {
        if !self.layout.is_dynamic() {
            self.header(&self.layout.names(), out);
        }
    }

    /// Appends the header line (CSV/TSV) for `names`; nothing for NDJSON
    /// and JSON arrays.
    pub fn header(&self, names: &[String], out: &mut Vec<u8>) {
        if self.format.is_delimited() {
            self.csv_row(names.iter().map(|n| n.as_bytes()), out);
        }
    }

    /// Appends one CSV row of `fields`; a row of one empty field is written
    /// `""`, so that it is not an empty line.
    fn csv_row<T: AsRef<[u8]>>(&self, fields: impl ExactSizeIterator<Item = T>, out: &mut Vec<u8>) {
        let one = fields.len() == 1;
        for (i, f) in fields.enumerate() {
            self.csv_value(i, one, f.as_ref(), out);
        }
        out.push(b'\n');
    }

    /// Appends field `i` (from 0) of a CSV/TSV row, after the delimiter
    /// when it is not the first; a row of `one` field that is empty is
    /// written `""`, so that it is not a blank line.
    fn csv_value(&self, i: usize, one: bool, f: &[u8], out: &mut Vec<u8>) {
        if i > 0 {
            out.push(self.delimiter);
        }
        if one && f.is_empty() {
            out.extend_from_slice(b"\"\"");
        } else {
            write_csv_field(out, f, self.delimiter);
        }
    }

    /// Appends `rec` as one output record: a CSV/TSV row, an NDJSON line, or
    /// for a JSON array a record prefix and the object (the
    /// [`Sink`](crate::Sink) frames the array).
    ///
    /// # Errors
    /// [`ErrorKind::UnexpectedKey`] when an NDJSON record written as CSV without
    /// `--select` has a key that is not in the header (taken from the first
    /// record).
    pub fn record(&self, rec: &Record<'_>, out: &mut Vec<u8>) -> Result<()> {
        if let Some(dynamic) = &self.layout.dynamic {
            // NDJSON to NDJSON, keys per record.
            self.json_record_start(out);
            let mut first = true;
            rec.for_each_field(|key, value| {
                let key = key.unwrap_or_default();
                if dynamic.drop.contains(key) {
                    return;
                }
                let name = dynamic.rename.get(key).map_or(key, String::as_str);
                out.push(if first { b'{' } else { b',' });
                first = false;
                write_json_string(out, name.as_bytes());
                out.push(b':');
                self.json_value(value, out);
            });
            if first {
                out.push(b'{');
            }
            self.json_record_end(out);
            return Ok(());
        }
        if self.layout.strict_keys {
            self.check_keys(rec)?;
        }
        match self.format {
            Format::Csv | Format::Tsv => {
                let cols = &self.layout.columns;
                if cols.len() == 1 {
                    let v = rec.get(&cols[0]);
                    let t = v.text();
                    self.csv_row(std::iter::once(t.as_deref().unwrap_or_default()), out);
                    return Ok(());
                }
                // A line the parser cut without unquoting holds no quote,
                // `\r`, `\n` or (within a field) delimiter: with the same
                // delimiter out, its fields need no quoting, and an
                // identity layout can copy the whole line.
                let raw =
                    rec.raw_csv_line().filter(|_| self.input_delimiter == Some(self.delimiter));
                if let (Some(line), true) = (raw, self.identity) {
                    out.extend_from_slice(line);
                    out.push(b'\n');
                    return Ok(());
                }
                for (i, c) in cols.iter().enumerate() {
                    if i > 0 {
                        out.push(self.delimiter);
                    }
                    match (raw, rec.get(c)) {
                        (Some(_), Field::Text(t)) => out.extend_from_slice(t),
                        (_, field) => {
                            if let Some(t) = field.text() {
                                write_csv_field(out, &t, self.delimiter);
                            }
                        }
                    }
                }
                out.push(b'\n');
            }
            Format::Ndjson | Format::Json => {
                self.json_record_start(out);
                for (c, prefix) in self.layout.columns.iter().zip(&self.json_prefixes) {
                    out.extend_from_slice(prefix);
                    self.json_value(rec.get(c), out);
                }
                if self.layout.columns.is_empty() {
                    out.push(b'{');
                }
                self.json_record_end(out);
            }
        }
        Ok(())
    }

    /// Checks `rec` as [`Encoder::record`] would, without writing it (for
    /// reducers that keep only some records: whether a run fails must not
    /// depend on which records they keep).
    ///
    /// # Errors
    /// As [`Encoder::record`].
    pub fn check(&self, rec: &Record<'_>) -> Result<()> {
        if self.layout.dynamic.is_none() && self.layout.strict_keys {
            self.check_keys(rec)?;
        }
        Ok(())
    }

    fn check_keys(&self, rec: &Record<'_>) -> Result<()> {
        let mut bad = None;
        rec.for_each_field(|key, _| {
            if let Some(k) = key {
                if bad.is_none()
                    && !self.layout.dropped.contains(k)
                    && !self
                        .layout
                        .columns
                        .iter()
                        .any(|c| matches!(&c.source, crate::record::Source::Key(s) if s == k))
                {
                    bad = Some(k.to_string());
                }
            }
        });
        match bad {
            None => Ok(()),
            Some(key) => Err(ErrorKind::UnexpectedKey {
                at: rec.location(),
                key,
                columns: self.layout.names(),
            }
            .into()),
        }
    }

    /// Appends one output row of already computed values (group-by results),
    /// `values` in the order of `names`. An [`OutValue::Field`] is written
    /// as [`Encoder::record`] writes a field (so with `--no-infer` a key
    /// copied from a CSV field is a JSON string); an [`OutValue::Number`]
    /// is written bare.
    pub(crate) fn row(&self, names: &[String], values: &[OutValue], out: &mut Vec<u8>) {
        for (i, v) in values.iter().enumerate() {
            self.row_value(names, i, v.as_row_value(), out);
        }
        self.row_end(names, out);
    }

    /// Appends value `i` (from 0) of a computed output row of `names`,
    /// with what comes before it: the delimiter (CSV/TSV), or the record
    /// start and `{"name":` / `,"name":` (NDJSON and JSON arrays). Values
    /// are written as [`Encoder::row`] writes them; after the last,
    /// [`Encoder::row_end`] closes the row. This writes a row without
    /// building [`OutValue`]s.
    pub(crate) fn row_value(&self, names: &[String], i: usize, v: RowValue<'_>, out: &mut Vec<u8>) {
        if self.format.is_delimited() {
            let text = match v {
                RowValue::Field(f) => f.text().unwrap_or_default(),
                RowValue::String(t) | RowValue::Number(t) => std::borrow::Cow::Borrowed(t),
            };
            self.csv_value(i, names.len() == 1, &text, out);
            return;
        }
        if i == 0 {
            self.json_record_start(out);
        }
        out.push(if i == 0 { b'{' } else { b',' });
        if let Some(name) = names.get(i) {
            write_json_string(out, name.as_bytes());
        }
        out.push(b':');
        match v {
            RowValue::Field(f) => self.json_value(f, out),
            RowValue::String(t) => write_json_string(out, t),
            RowValue::Number(n) => out.extend_from_slice(n),
        }
    }

    /// Ends a computed output row of `names` begun with
    /// [`Encoder::row_value`]: the newline (CSV/TSV, NDJSON), `}`, or the
    /// whole `{}` of a row of no values (NDJSON and JSON arrays).
    pub(crate) fn row_end(&self, names: &[String], out: &mut Vec<u8>) {
        if self.format.is_delimited() {
            out.push(b'\n');
            return;
        }
        if names.is_empty() {
            self.json_record_start(out);
            out.push(b'{');
        }
        self.json_record_end(out);
    }

    /// What comes before a JSON object record: the separator in a JSON
    /// array, nothing in NDJSON.
    fn json_record_start(&self, out: &mut Vec<u8>) {
        if self.format == Format::Json {
            out.extend_from_slice(RECORD_PREFIX);
        }
    }

    /// Closes a JSON object record: `}`, and the newline that ends an
    /// NDJSON line.
    fn json_record_end(&self, out: &mut Vec<u8>) {
        match self.format {
            Format::Json => out.push(b'}'),
            _ => out.extend_from_slice(b"}\n"),
        }
    }

    #[inline]
    fn json_value(&self, value: Field<'_>, out: &mut Vec<u8>) {
        match value {
            Field::Absent | Field::Null => out.extend_from_slice(b"null"),
            Field::JsonOther(raw)
                if matches!(raw.first(), Some(b'{' | b'['))
                    && memchr2(b'\n', b'\r', raw).is_some() =>
            {
                write_compact_json(out, raw)
            }
            Field::JsonString(raw) | Field::JsonOther(raw) => out.extend_from_slice(raw),
            Field::Text(t) => match self.values.classify(t) {
                TextKind::Marker | TextKind::Empty => out.extend_from_slice(b"null"),
                TextKind::Number => out.extend_from_slice(t),
                TextKind::String => write_json_string(out, t),
            },
        }
    }
}

/// An owned field value (a group key) kept past its chunk.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum OwnedField {
    /// Absent or JSON `null`.
    Missing,
    /// CSV text.
    Text(Vec<u8>),
    /// A raw JSON string literal.
    JsonString(Vec<u8>),
    /// Another raw JSON literal.
    JsonOther(Vec<u8>),
}

impl OwnedField {
    /// Copies a borrowed field.
    pub fn from_field(f: Field<'_>) -> Self {
        match f {
            Field::Absent | Field::Null => OwnedField::Missing,
            Field::Text(t) => OwnedField::Text(t.to_vec()),
            Field::JsonString(t) => OwnedField::JsonString(t.to_vec()),
            Field::JsonOther(t) => OwnedField::JsonOther(t.to_vec()),
        }
    }

    /// Borrows it back as a [`Field`].
    pub fn as_field(&self) -> Field<'_> {
        match self {
            OwnedField::Missing => Field::Null,
            OwnedField::Text(t) => Field::Text(t),
            OwnedField::JsonString(t) => Field::JsonString(t),
            OwnedField::JsonOther(t) => Field::JsonOther(t),
        }
    }
}

/// A value of a computed output row, borrowed (see [`Encoder::row_value`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum RowValue<'a> {
    /// A field, written as [`Encoder::record`] writes one.
    Field(Field<'a>),
    /// Text that is a JSON string in NDJSON and JSON array output (a key
    /// read from a JSON string, unescaped).
    String(&'a [u8]),
    /// A computed number, already formatted: written bare.
    Number(&'a [u8]),
}

/// A value in a computed output row.
#[derive(Debug, Clone, PartialEq)]
pub enum OutValue {
    /// A field copied from the input (a group key, a min or max).
    Field(OwnedField),
    /// A computed number, already formatted.
    Number(Vec<u8>),
}

impl OutValue {
    /// The value, borrowed, as [`Encoder::row_value`] takes it.
    pub(crate) fn as_row_value(&self) -> RowValue<'_> {
        match self {
            OutValue::Field(f) => RowValue::Field(f.as_field()),
            OutValue::Number(n) => RowValue::Number(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The NDJSON row of CSV texts (`None`: missing) under `no_infer`,
    /// with `NA` as the `--null` marker, and a computed count of 2.
    fn ndjson_row(texts: &[Option<&str>], no_infer: bool) -> String {
        let mut names: Vec<String> = (0..texts.len()).map(|i| format!("c{i}")).collect();
        let layout = Layout::new(&crate::Projection::default(), &names, false, true).unwrap();
        let encoder = Encoder::new(Format::Ndjson, b',', layout, vec![b"NA".to_vec()])
            .with_no_infer(no_infer);
        let mut values: Vec<OutValue> = texts
            .iter()
            .map(|t| OutValue::Field(t.map_or(OwnedField::Missing, |t| OwnedField::Text(t.into()))))
            .collect();
        names.push("count".into());
        values.push(OutValue::Number(b"2".to_vec()));
        let mut out = Vec::new();
        encoder.row(&names, &values, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_text_to_json_infers_unless_no_infer() {
        let texts = [Some("007"), Some("1"), Some("1.50"), Some(""), Some("NA"), Some("x"), None];
        assert_eq!(
            ndjson_row(&texts, false),
            "{\"c0\":\"007\",\"c1\":1,\"c2\":1.50,\"c3\":null,\"c4\":null,\"c5\":\"x\",\
             \"c6\":null,\"count\":2}\n"
        );
        assert_eq!(
            ndjson_row(&texts, true),
            "{\"c0\":\"007\",\"c1\":\"1\",\"c2\":\"1.50\",\"c3\":\"\",\"c4\":null,\"c5\":\"x\",\
             \"c6\":null,\"count\":2}\n"
        );
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut out = Vec::new();
        write_json_string(&mut out, "a\"b\n\u{e9}".as_bytes());
        assert_eq!(out, "\"a\\\"b\\n\u{e9}\"".as_bytes());
    }
}
