//! Parsing a chunk's bytes into [`Record`]s, on a worker thread.
//!
//! CSV/TSV chunks take a fast path for the common record: unquoted fields,
//! and quoted fields without a doubled quote, are cut in place by
//! `memchr`-driven scans, with no copy. Anything else (a doubled quote, a
//! quote inside an unquoted field, text after a closing quote, a bare `\r`)
//! goes to `csv-core`, the `csv` crate's RFC 4180 parser. Both paths give
//! exactly the fields the `csv` crate gives (a unit test and the property
//! tests compare them). Every record must have as many fields as the header.
//! Nothing is allocated per record.
//!
//! NDJSON chunks are split on `\n` here and each line is parsed on its own
//! into a reused vector of key/raw-value pairs, keys borrowed unless
//! escaped, so one bad line names its own line and column. A flat object
//! (scalar values, plain keys) is read by the fast path in
//! `parse::flat_object`; anything else, bad lines included, by
//! `serde_json` (into `RawValue`s), which names the error. Values are kept
//! as raw JSON text, so a value no transform touched is written back
//! exactly as it was read. Arrays and objects may nest 127
//! deep, as in `serde_json`'s own values (a jq transform converts them
//! recursively); a line of JSON whitespace only is blank and skipped.
//!
//! JSON array chunks hold whole elements (the splitter cut them between
//! elements and checked the brackets and commas): each element is parsed
//! like an NDJSON line, into the same key/value pairs, from its `{` to the
//! `}` where the parser stops. A record's line is the line where its element
//! starts; a parse error names the line and column of the bad byte.

use serde::de::DeserializeSeed;

use crate::error::{Error, Location, Result};
use crate::format::Format;
use crate::record::{Fields, LineAt, Record};
use crate::source::Chunk;
use crate::syntax::byte_search;
use crate::syntax::csv::{new_core, reset};
use crate::syntax::json::{is_ws, line_column, not_an_object};
use crate::syntax::json_object::{
    check_depth, element_error, is_blank, json_error, parse_pairs, PairsSeed,
};
use crate::syntax::json_object::{object_pairs, Pairs};

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
/// header's, an NDJSON line or a JSON array element that is not a JSON
/// object, each naming the input and line; and any error `f` returns.
pub fn for_each_record(
    chunk: &Chunk,
    opts: &ParseOptions,
    f: impl FnMut(&Record<'_>) -> Result<()>,
) -> Result<u64> {
    for_each_record_or(chunk, opts, f, &mut |e, _| Err(e))
}

/// A record that could not be parsed: its bytes (without the line end) and
/// its byte offset in its input.
#[derive(Debug, Clone, Copy)]
pub struct BadRecord<'a> {
    /// The record's bytes as read.
    pub raw: &'a [u8],
    /// Byte offset of its first byte in its input.
    pub offset: u64,
    /// Its position among the chunk's records, from 0.
    pub index: u64,
}

/// Like [`for_each_record`], but a record that cannot be parsed, or for
/// which `f` returns a record error ([`Error::is_record_error`]), goes to
/// `bad` with its error; parsing goes on after it when `bad` returns `Ok`.
/// Returns the number of records read, bad ones included.
///
/// # Errors
/// What `f` or `bad` return.
pub fn for_each_record_or(
    chunk: &Chunk,
    opts: &ParseOptions,
    mut f: impl FnMut(&Record<'_>) -> Result<()>,
    bad: &mut dyn FnMut(Error, BadRecord<'_>) -> Result<()>,
) -> Result<u64> {
    let input = opts.input_names.get(chunk.input).map_or("<input>", String::as_str);
    let mut count = 0;
    match opts.format {
        Format::Csv | Format::Tsv => {
            let mut csv = CsvParser::new(opts.delimiter);
            let data = chunk.data.as_slice();
            let has_cr = memchr::memchr(b'\r', data).is_some();
            let mut pos = 0;
            // Lines are counted only when asked for (an error, a reducer's
            // message): a record knows its offset in the chunk.
            let line_at = |offset: usize| LineAt::Offset {
                first_line: chunk.first_line,
                chunk: data,
                offset,
            };
            while pos < data.len() {
                let mut start = pos;
                let (fields, n) = match csv.fast_record(data, pos, has_cr) {
                    Fast::Blank { next } => {
                        pos = next;
                        continue;
                    }
                    Fast::Record { next, raw_end } => {
                        let raw_line = raw_end.map(|e| &data[pos..e]);
                        pos = next;
                        (Fields::Csv { bytes: data, spans: &csv.spans, raw_line }, csv.spans.len())
                    }
                    Fast::Fallback => {
                        // csv-core skips the line ends before a record.
                        start +=
                            data[pos..].iter().take_while(|&&b| matches!(b, b'\r' | b'\n')).count();
                        let (consumed, got) = csv.quoted_record(&data[pos..]);
                        pos += consumed;
                        if !got {
                            continue;
                        }
                        let fields = Fields::Csv {
                            bytes: &csv.packed[..csv.n_out],
                            spans: &csv.spans,
                            raw_line: None,
                        };
                        (fields, csv.spans.len())
                    }
                };
                let raw = trim_line_end(&data[start..pos]);
                let offset = chunk.offset + start as u64;
                count += 1;
                if n != opts.header_len {
                    let e = Error::FieldCount {
                        at: Location { input: input.to_string(), line: line_at(start).get() },
                        expected: opts.header_len,
                        found: n,
                    };
                    bad(e, BadRecord { raw, offset, index: count - 1 })?;
                    continue;
                }
                if let Err(e) = f(&Record {
                    fields,
                    input,
                    line: line_at(start),
                    raw,
                    offset,
                    index: count - 1,
                }) {
                    on_record_error(e, bad, BadRecord { raw, offset, index: count - 1 })?;
                }
            }
        }
        Format::Ndjson => {
            // Check UTF-8 once per chunk, so that each line parses from a
            // `&str` without checking it again (an invalid chunk falls back
            // to byte parsing, whose error names the line).
            let text = std::str::from_utf8(&chunk.data).ok();
            let mut pairs: Vec<Pairs<'_>> = Vec::with_capacity(16);
            let mut start = 0;
            let mut line = chunk.first_line;
            let data = chunk.data.as_slice();
            while start < data.len() {
                let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
                let this = line;
                line += 1;
                let (s, e) =
                    (start, if end > start && data[end - 1] == b'\r' { end - 1 } else { end });
                start = end + 1;
                let raw = &data[s..e];
                if raw.first().is_none_or(|&b| is_ws(b)) && is_blank(raw) {
                    continue;
                }
                pairs.clear();
                let parsed = match text {
                    Some(t) => object_pairs(&t[s..e], &mut pairs),
                    None => parse_pairs(serde_json::Deserializer::from_slice(raw), &mut pairs),
                };
                count += 1;
                let offset = chunk.offset + s as u64;
                let at = BadRecord { raw, offset, index: count - 1 };
                if let Err(e) = parsed {
                    bad(json_error(&e, input, this), at)?;
                    continue;
                }
                if let Err(e) = check_depth(raw, &pairs, input, this) {
                    bad(e, at)?;
                    continue;
                }
                json_record(&mut f, bad, &pairs, input, LineAt::Known(this), at)?;
            }
        }
        Format::Json => {
            let data = chunk.data.as_slice();
            let text = std::str::from_utf8(data).ok();
            let mut pairs: Vec<Pairs<'_>> = Vec::with_capacity(16);
            let mut pos = 0;
            loop {
                // The splitter has checked the framing between elements.
                while pos < data.len() && (is_ws(data[pos]) || b"[,]".contains(&data[pos])) {
                    pos += 1;
                }
                let Some(&first) = data.get(pos) else { break };
                let start = pos;
                let at = |message: String| {
                    let (line, column) =
                        line_column(data, chunk.first_line, chunk.first_column, start);
                    let at = Location { input: input.to_string(), line };
                    Error::Json { at, column: column as usize, message }
                };
                if first != b'{' {
                    return Err(at(not_an_object(first)));
                }
                // Parse the object from its start: the parser stops after
                // its `}`, so the element needs no scan of its own here.
                pairs.clear();
                let parsed = match text {
                    Some(t) => PairsSeed(&mut pairs)
                        .deserialize(&mut serde_json::Deserializer::from_str(&t[start..])),
                    None => PairsSeed(&mut pairs)
                        .deserialize(&mut serde_json::Deserializer::from_slice(&data[start..])),
                };
                parsed.map_err(|e| {
                    element_error(&e, input, data, chunk.first_line, chunk.first_column, start)
                })?;
                // The `}` follows the last value (values borrow from `data`).
                let after_last = pairs.last().map_or(start + 1, |(_, v)| {
                    v.as_ptr() as usize + v.len() - data.as_ptr() as usize
                });
                pos = memchr::memchr(b'}', &data[after_last..])
                    .map_or(data.len(), |i| after_last + i + 1);
                count += 1;
                let line =
                    LineAt::Offset { first_line: chunk.first_line, chunk: data, offset: start };
                let offset = chunk.offset + start as u64;
                let at = BadRecord { raw: &data[start..pos], offset, index: count - 1 };
                json_record(&mut f, bad, &pairs, input, line, at)?;
            }
        }
    }
    Ok(count)
}

/// Reusable state for parsing the CSV records of one chunk.
struct CsvParser {
    delimiter: u8,
    /// Field spans of the current record: into the chunk on the fast path,
    /// into `packed` after the full parser.
    spans: Vec<(usize, usize)>,
    core: csv_core::Reader,
    /// Unquoted fields of the current quoted record, packed.
    packed: Vec<u8>,
    packed_ends: Vec<usize>,
    /// Bytes of `packed` the record uses.
    n_out: usize,
}

/// What the fast path made of one record.
enum Fast {
    /// A record, its field spans in `CsvParser::spans`; `next` is where
    /// the next record starts, `raw_end` the end of the line's text when no
    /// field was quoted (the whole line can then be copied as is).
    Record { next: usize, raw_end: Option<usize> },
    /// A blank line, which the `csv` crate skips.
    Blank { next: usize },
    /// The record needs the full parser.
    Fallback,
}

impl CsvParser {
    fn new(delimiter: u8) -> Self {
        CsvParser {
            delimiter,
            spans: Vec::with_capacity(32),
            core: new_core(delimiter),
            packed: vec![0; 1024],
            packed_ends: vec![0; 32],
            n_out: 0,
        }
    }

    /// Parses the record at `pos` without copying, when it is simple:
    /// unquoted fields, and quoted fields with no doubled quote that end
    /// right before a delimiter or `\n`. Field spans (into `data`) go to
    /// `self.spans`. A bare `\r`, a quote inside an unquoted field, text
    /// after a closing quote or a doubled quote ask for the full parser.
    fn fast_record(&mut self, data: &[u8], pos: usize, has_cr: bool) -> Fast {
        self.spans.clear();
        match data[pos] {
            b'\n' => return Fast::Blank { next: pos + 1 },
            b'\r' if has_cr => {
                return match data.get(pos + 1) {
                    Some(b'\n') => Fast::Blank { next: pos + 2 },
                    _ => Fast::Fallback,
                }
            }
            _ => {}
        }
        let mut raw = true;
        let mut i = pos;
        loop {
            if data.get(i) == Some(&b'"') {
                raw = false;
                let Some(k) = memchr::memchr(b'"', &data[i + 1..]) else {
                    return Fast::Fallback;
                };
                let q = i + 1 + k;
                match data.get(q + 1) {
                    None => {
                        self.spans.push((i + 1, q));
                        return Fast::Record { next: data.len(), raw_end: None };
                    }
                    Some(b'\n') => {
                        self.spans.push((i + 1, q));
                        return Fast::Record { next: q + 2, raw_end: None };
                    }
                    Some(&c) if c == self.delimiter => {
                        self.spans.push((i + 1, q));
                        i = q + 2;
                        continue;
                    }
                    _ => return Fast::Fallback,
                }
            }
            let found = byte_search::find_csv_special(data, i, self.delimiter).map(|e| e - i);
            let (end, next) = match found.map(|k| (i + k, data[i + k])) {
                Some((_, b'"')) => return Fast::Fallback,
                Some((e, b'\n')) => (e, Some(e + 1)),
                Some((e, _)) => (e, None),
                None => (data.len(), Some(data.len())),
            };
            let mut field_end = end;
            if has_cr {
                if next.is_some() && field_end > i && data[field_end - 1] == b'\r' {
                    field_end -= 1;
                }
                if memchr::memchr(b'\r', &data[i..field_end]).is_some() {
                    return Fast::Fallback;
                }
            }
            self.spans.push((i, field_end));
            match next {
                Some(next) => {
                    let raw_end = raw.then_some(field_end);
                    return Fast::Record { next, raw_end };
                }
                None => i = end + 1,
            }
        }
    }

    /// Parses one record (quoted fields, quoted newlines) from the start of
    /// `input` with `csv-core`. Returns the bytes consumed and whether a
    /// record was read (false for a skipped blank line at the end).
    fn quoted_record(&mut self, input: &[u8]) -> (usize, bool) {
        use csv_core::ReadRecordResult as R;
        let (mut consumed, mut out, mut nends) = (0, 0, 0);
        loop {
            let (res, nin, nout, nend) = self.core.read_record(
                &input[consumed..],
                &mut self.packed[out..],
                &mut self.packed_ends[nends..],
            );
            consumed += nin;
            out += nout;
            nends += nend;
            match res {
                R::InputEmpty => {
                    if consumed >= input.len() {
                        // The chunk ends without a terminator: end the
                        // record, with room for its last field's end.
                        let res = loop {
                            let (res, _, nout, nend) = self.core.read_record(
                                &[],
                                &mut self.packed[out..],
                                &mut self.packed_ends[nends..],
                            );
                            out += nout;
                            nends += nend;
                            if !matches!(res, R::OutputEndsFull) {
                                break res;
                            }
                            let n = self.packed_ends.len();
                            self.packed_ends.resize(n * 2, 0);
                        };
                        reset(&mut self.core);
                        self.finish(out, nends);
                        return (consumed, matches!(res, R::Record));
                    }
                }
                R::OutputFull => {
                    let n = self.packed.len();
                    self.packed.resize(n * 2, 0);
                }
                R::OutputEndsFull => {
                    let n = self.packed_ends.len();
                    self.packed_ends.resize(n * 2, 0);
                }
                R::Record => {
                    self.finish(out, nends);
                    return (consumed, true);
                }
                R::End => {
                    reset(&mut self.core);
                    self.finish(out, nends);
                    return (consumed, false);
                }
            }
        }
    }

    fn finish(&mut self, out: usize, nends: usize) {
        self.n_out = out;
        self.spans.clear();
        let mut start = 0;
        for &end in &self.packed_ends[..nends] {
            self.spans.push((start, end));
            start = end;
        }
    }
}

/// Calls `f` on the JSON record `pairs` found at `at`, routing a record
/// error to `bad`.
fn json_record(
    f: &mut impl FnMut(&Record<'_>) -> Result<()>,
    bad: &mut dyn FnMut(Error, BadRecord<'_>) -> Result<()>,
    pairs: &[Pairs<'_>],
    input: &str,
    line: LineAt<'_>,
    at: BadRecord<'_>,
) -> Result<()> {
    let BadRecord { raw, offset, index } = at;
    match f(&Record { fields: Fields::Json(pairs), input, line, raw, offset, index }) {
        Err(e) => on_record_error(e, bad, at),
        Ok(()) => Ok(()),
    }
}

/// An error `f` returned for one record: a record error goes to `bad`,
/// anything else stops the chunk.
fn on_record_error(
    e: Error,
    bad: &mut dyn FnMut(Error, BadRecord<'_>) -> Result<()>,
    at: BadRecord<'_>,
) -> Result<()> {
    if e.is_record_error() {
        bad(e, at)
    } else {
        Err(e)
    }
}

/// `bytes` without a final `\n` or `\r\n`.
fn trim_line_end(bytes: &[u8]) -> &[u8] {
    let b = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    b.strip_suffix(b"\r").unwrap_or(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Field;
    use crate::syntax::json_object::json_element_keys;

    fn opts(format: Format, header_len: usize) -> ParseOptions {
        ParseOptions { format, delimiter: b',', header_len, input_names: vec!["in".into()] }
    }

    #[test]
    fn csv_lines_are_absolute() {
        let chunk = chunk_at(10, 1, b"1,\"a\nb\"\n2,c\n");
        let mut seen = Vec::new();
        for_each_record(&chunk, &opts(Format::Csv, 2), |r| {
            seen.push(r.line());
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec![10, 12]);
    }

    /// The fast path and the csv-core fallback give exactly the fields the
    /// `csv` crate gives, on the awkward cases.
    #[test]
    fn csv_paths_agree_with_the_csv_crate() {
        let cases: &[&[u8]] = &[
            b"a,b\n\nc,d\n",
            b"a,b\r\nc,d\r\n",
            b"a,b\rc,d\n",
            b"a\"x,b\nc,\"d\"\"e\"\n",
            b"\"q\nr\",s\n\"t\"u,v\n",
            b"a,\"b\"",
            b"a,b",
            b"\"x\",\"\"\r\n\r\ny,z",
            b",\n,\n",
            b"\"a,b\",c\n\"multi\nline\",\"\"\n",
            b"\"x\"\"y\",z\n\"x\"y,z\n",
            b"\"x\",y\r\n,\"\"",
            b"a,\"b\",\n\"c\",,",
            b"\"open\n",
        ];
        for data in cases {
            let mut expected = Vec::new();
            let mut rdr =
                csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(*data);
            for rec in rdr.byte_records() {
                let rec = rec.unwrap();
                expected.push(rec.iter().map(<[u8]>::to_vec).collect::<Vec<_>>());
            }
            let chunk = chunk_at(1, 1, data);
            let mut got = Vec::new();
            let width = expected.first().map_or(2, Vec::len);
            for_each_record(&chunk, &opts(Format::Csv, width), |r| {
                let mut fields = Vec::new();
                r.for_each_field(|_, f| fields.push(f.text().unwrap().to_vec()));
                got.push(fields);
                Ok(())
            })
            .unwrap();
            assert_eq!(got, expected, "{:?}", String::from_utf8_lossy(data));
        }
    }

    /// A fresh csv-core reader skips a UTF-8 BOM; inside a chunk a BOM is
    /// data, on the fast path and the full parser alike.
    #[test]
    fn csv_bom_inside_a_chunk_is_data() {
        let data = b"\xEF\xBB\xBF\"x\",1\n\xEF\xBB\xBFy,2\n".to_vec();
        let chunk = chunk_at(1, 1, &data);
        let mut got = Vec::new();
        for_each_record(&chunk, &opts(Format::Csv, 2), |r| {
            r.for_each_field(|_, f| got.push(f.text().unwrap().to_vec()));
            Ok(())
        })
        .unwrap();
        let want: [&[u8]; 4] = [b"\xEF\xBB\xBF\"x\"", b"1", b"\xEF\xBB\xBFy", b"2"];
        assert_eq!(got, want);
    }

    /// A last record without a line end, read by the full parser, keeps
    /// every field, however many: when its last field is empty, the end of
    /// the chunk ends the record just as the buffer of field ends may be
    /// full.
    #[test]
    fn csv_wide_last_record_without_terminator() {
        for width in 2..140 {
            let mut data = b"\"a\"\"b\"".to_vec();
            for i in 1..width - 1 {
                data.extend_from_slice(format!(",{i}").as_bytes());
            }
            data.push(b',');
            let chunk = chunk_at(1, 1, &data);
            let mut got = Vec::new();
            let n = for_each_record(&chunk, &opts(Format::Csv, width), |r| {
                r.for_each_field(|_, f| got.push(f.text().unwrap().to_vec()));
                Ok(())
            })
            .unwrap();
            let mut want = vec![b"a\"b".to_vec()];
            want.extend((1..width - 1).map(|i| i.to_string().into_bytes()));
            want.push(Vec::new());
            assert_eq!((n, got), (1, want), "{width} fields");
        }
    }

    #[test]
    fn csv_field_count_error_names_line() {
        let chunk = chunk_at(2, 1, b"1,2\n1,2,3\n");
        let err = for_each_record(&chunk, &opts(Format::Csv, 2), |_| Ok(())).unwrap_err();
        assert_eq!(err.to_string(), "in:3: expected 2 fields (as in the header), found 3");
    }

    #[test]
    fn ndjson_skips_blank_lines_and_reports_bad_ones() {
        let data = b"{\"a\":1}\n\n{\"a\":\"x\"}\n{\"a\":\n".to_vec();
        let chunk = chunk_at(1, 1, &data);
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
        let chunk = chunk_at(1, 1, b"[1,2]\n");
        let err = for_each_record(&chunk, &opts(Format::Ndjson, 0), |_| Ok(())).unwrap_err();
        assert!(err.to_string().contains("a JSON object"), "{err}");
    }

    /// A chunk of `data` starting at `first_line`, `first_column`.
    fn chunk_at(first_line: u64, first_column: u64, data: &[u8]) -> Chunk {
        Chunk { seq: 0, input: 0, first_line, first_column, offset: 0, data: data.to_vec() }
    }

    #[test]
    fn array_elements_keep_their_start_lines() {
        let data =
            b"[\n  {\n    \"a\": 1,\n    \"s\": \"x]}\"\n  },\n  {\"a\": [2, {}]}, {\"a\":3}\n]\n";
        let mut seen = Vec::new();
        let n = for_each_record(&chunk_at(4, 1, data), &opts(Format::Json, 0), |r| {
            let a = r.get_source(&crate::record::Source::Key("a".into()));
            seen.push((r.line(), a.text().unwrap().into_owned()));
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 3);
        let want: Vec<(u64, Vec<u8>)> =
            vec![(5, b"1".to_vec()), (9, b"[2, {}]".to_vec()), (9, b"3".to_vec())];
        assert_eq!(seen, want);
    }

    #[test]
    fn array_element_errors_name_line_and_column() {
        let err = |first_column: u64, data: &[u8]| {
            for_each_record(&chunk_at(7, first_column, data), &opts(Format::Json, 0), |_| Ok(()))
                .unwrap_err()
                .to_string()
        };
        // On the element's first line the column counts from the chunk's.
        assert_eq!(err(1, b",{\"a\" 1}"), "in:7:7: invalid JSON: expected `:`");
        assert_eq!(err(30, b",{\"a\" 1}"), "in:7:36: invalid JSON: expected `:`");
        // On a later line it is the parser's, from the line start.
        assert_eq!(err(30, b",\n {\n\"a\" 1}"), "in:9:5: invalid JSON: expected `:`");
        // Chunks not from the splitter are still checked, not trusted.
        assert!(err(1, b"[1]").starts_with("in:7:2: invalid JSON: array element is not"));
        assert_eq!(err(1, b"[{\"a\":[}"), "in:7:8: invalid JSON: expected value");
        assert_eq!(err(1, b"[{\"a\":1"), "in:7:7: invalid JSON: EOF while parsing an object");
    }

    #[test]
    fn array_element_keys_match_the_workers_errors() {
        let data = b"[\n  {\"a\":1, \"b\":2}]";
        assert_eq!(json_element_keys(data, 4, 18, 1, 1, "in").unwrap(), vec!["a", "b"]);
        let bad = b"[\n  {\"a\":1 \"b\":2}]";
        let from_keys = json_element_keys(bad, 4, 17, 1, 1, "in").unwrap_err().to_string();
        let from_worker = for_each_record(&chunk_at(1, 1, bad), &opts(Format::Json, 0), |_| Ok(()))
            .unwrap_err()
            .to_string();
        assert_eq!(from_keys, from_worker);
        assert_eq!(from_keys, "in:2:10: invalid JSON: expected `,` or `}`");
    }
}
