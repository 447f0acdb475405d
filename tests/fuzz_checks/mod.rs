//! The checks behind fanfold's fuzzing, shared by the proptest targets in
//! `tests/fuzz.rs` (which run in CI) and the libFuzzer targets in `fuzz/`
//! (which need nightly Rust and run by hand). Each check takes arbitrary
//! bytes and returns `Err(message)` when fanfold broke a promise on them; a
//! panic is a failure too. The checks never look at fanfold's own code
//! paths for the expected answer: CSV is compared with the `csv` crate and
//! with [`reference_csv`], a transcription of the automaton of `csv-core`
//! (the `csv` crate's parser), and NDJSON with `serde_json` building
//! [`serde_json::Value`]s.
//!
//! - [`check_split`]: the splitter loses and duplicates no byte (the header
//!   bytes plus the chunks are the input, less a UTF-8 BOM), reads the
//!   header the `csv` crate reads, cuts only where no record spans the cut,
//!   numbers lines, and reports an unterminated quote (naming the line where
//!   it opened) exactly when the input ends inside a quoted field.
//! - [`check_read_csv`]: the CSV reader gives the `csv` crate's records, and
//!   a field-count error names the line where the offending record starts.
//! - [`check_read_ndjson`]: the NDJSON reader accepts a line exactly when
//!   `serde_json` reads it as an object (nesting limit included), names the
//!   first bad line, and keeps every key and raw value.
//! - [`check_pipeline`]: a whole run with any threads, chunk sizes and
//!   window gives the bytes (or the error message) of the sequential run.
//!
//! Inputs with a UTF-16 or UTF-32 byte-order mark must be refused with an
//! error naming the encoding, and inputs that start with a compression
//! format's magic number with an error naming the format.

// Each test target that includes this module uses a part of it.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::Write as _;

use fanfold::__bench::{for_each_record, Chunk, ParseOptions, Splitter};
use fanfold::{
    ChunkLimit, Error, ErrorKind, Field, Format, Input, Layout, Pipeline, Projection, ReduceSpec,
    Source, Step,
};
use serde::de::{Deserializer as _, MapAccess, Visitor};
use serde_json::value::RawValue;

/// The result of a check: `Err` carries what went wrong.
pub type Check = Result<(), String>;

const BOM: &[u8] = b"\xEF\xBB\xBF";

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

/// `bytes` written to a fresh temporary file (kept until the guard drops).
fn temp_input(bytes: &[u8], ext: &str) -> Result<(tempfile::TempPath, Input), String> {
    let mut f =
        tempfile::Builder::new().suffix(ext).tempfile().map_err(|e| format!("temp file: {e}"))?;
    f.write_all(bytes).map_err(|e| format!("temp file: {e}"))?;
    let path = f.into_temp_path();
    let input = Input::Path(path.to_path_buf());
    Ok((path, input))
}

/// The encoding named by a UTF-16 or UTF-32 byte-order mark at the start
/// of `bytes`.
pub fn wide_bom(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\xFF\xFE\x00\x00") {
        Some("UTF-32LE")
    } else if bytes.starts_with(b"\x00\x00\xFE\xFF") {
        Some("UTF-32BE")
    } else {
        None
    }
}

/// True when `bytes` start with a UTF-16 byte-order mark (and not a
/// UTF-32 one): such an input is transcoded to UTF-8 before it is split.
pub fn utf16_bom(bytes: &[u8]) -> bool {
    wide_bom(bytes).is_none() && (bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF"))
}

/// The compression format whose magic number starts `bytes`: gzip
/// (RFC 1952 §2.3.1), zstd (RFC 8878 §3.1.1, and §3.1.2's skippable
/// frames), bzip2 (`BZh`, a digit 1-9, then a block or end-of-stream
/// magic) or xz (the xz file format §2.1.1.1).
pub fn compression_magic(bytes: &[u8]) -> Option<&'static str> {
    let bzip2_block = |rest: &[u8]| {
        rest.starts_with(b"\x31\x41\x59\x26\x53\x59")
            || rest.starts_with(b"\x17\x72\x45\x38\x50\x90")
    };
    if bytes.starts_with(b"\x1f\x8b") {
        Some("gzip")
    } else if bytes.starts_with(b"\x28\xb5\x2f\xfd")
        || (bytes.len() >= 4
            && (0x50..=0x5f).contains(&bytes[0])
            && bytes[1..4] == *b"\x2a\x4d\x18")
    {
        Some("zstd")
    } else if bytes.len() >= 4
        && bytes.starts_with(b"BZh")
        && (b'1'..=b'9').contains(&bytes[3])
        && bzip2_block(&bytes[4..])
    {
        Some("bzip2")
    } else if bytes.starts_with(b"\xfd7zXZ\x00") {
        Some("xz")
    } else {
        None
    }
}

fn count_lines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(BOM).unwrap_or(bytes)
}

// ---------------------------------------------------------------------------
// The reference CSV parser
// ---------------------------------------------------------------------------

/// A record as `csv-core` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefRecord {
    /// Offset of its first byte (after any blank lines before it).
    pub start: usize,
    /// Offset just after its terminator (`\r` or `\n`), or the input's end.
    pub end: usize,
    /// Its fields, unquoted.
    pub fields: Vec<Vec<u8>>,
}

/// What [`reference_csv`] read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefParse {
    /// The records, in order.
    pub records: Vec<RefRecord>,
    /// Offset of the quote whose field is still open at the end, if any.
    pub open_quote: Option<usize>,
}

/// Parses `text` the way `csv-core` does with the `csv` crate's defaults
/// (`"` quoting with doubled quotes, `\r`, `\n` or `\r\n` ending a record,
/// blank lines skipped, no escapes or comments): a transcription of its
/// automaton, written out state by state, so that it shares nothing with
/// fanfold's memchr-driven splitter and fast path.
pub fn reference_csv(text: &[u8], delim: u8) -> RefParse {
    #[derive(Clone, Copy, PartialEq)]
    enum St {
        StartRecord,
        StartField,
        InField,
        InQuoted,
        QuoteInQuoted,
    }
    let mut st = St::StartRecord;
    let mut records = Vec::new();
    let (mut fields, mut field) = (Vec::new(), Vec::new());
    let (mut start, mut open) = (0, 0);
    for (i, &b) in text.iter().enumerate() {
        let term = b == b'\r' || b == b'\n';
        if st == St::StartRecord {
            if term {
                continue; // a blank line
            }
            start = i;
            st = St::StartField;
        }
        match st {
            St::StartField if b == b'"' => {
                st = St::InQuoted;
                open = i;
            }
            St::InQuoted => {
                if b == b'"' {
                    st = St::QuoteInQuoted;
                } else {
                    field.push(b);
                }
            }
            // A quote right after a closing quote is a doubled quote.
            St::QuoteInQuoted if b == b'"' => {
                field.push(b'"');
                st = St::InQuoted;
            }
            _ => {
                if b == delim {
                    fields.push(std::mem::take(&mut field));
                    st = St::StartField;
                } else if term {
                    fields.push(std::mem::take(&mut field));
                    let fields = std::mem::take(&mut fields);
                    records.push(RefRecord { start, end: i + 1, fields });
                    st = St::StartRecord;
                } else {
                    // Text after a closing quote, or a quote inside an
                    // unquoted field, is ordinary text.
                    field.push(b);
                    st = St::InField;
                }
            }
        }
    }
    let open_quote = (st == St::InQuoted).then_some(open);
    if st != St::StartRecord {
        fields.push(field);
        records.push(RefRecord { start, end: text.len(), fields });
    }
    RefParse { records, open_quote }
}

/// The records the `csv` crate reads from `bytes` (no header, any widths).
pub fn csv_crate_records(bytes: &[u8], delim: u8) -> Result<Vec<Vec<Vec<u8>>>, String> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delim)
        .from_reader(bytes);
    let mut out = Vec::new();
    for rec in rdr.byte_records() {
        let rec = rec.map_err(|e| format!("the csv crate failed: {e}"))?;
        out.push(rec.iter().map(<[u8]>::to_vec).collect());
    }
    Ok(out)
}

/// The reference agrees with the `csv` crate on `text` (a self-check of
/// the oracle; `text` must not start with a BOM, which the crate skips).
fn reference_agrees_with_csv_crate(text: &[u8], delim: u8, parse: &RefParse) -> Check {
    if text.starts_with(BOM) {
        return Ok(());
    }
    let ours: Vec<Vec<Vec<u8>>> = parse.records.iter().map(|r| r.fields.clone()).collect();
    let theirs = csv_crate_records(text, delim)?;
    ensure!(
        ours == theirs,
        "reference {ours:?} != csv crate {theirs:?} (the test's oracle is wrong)"
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// The splitter
// ---------------------------------------------------------------------------

/// Runs the splitter over `input` and checks every promise it makes; see
/// the module docs.
pub fn check_split(input: &[u8], format: Format, delim: u8, limit: ChunkLimit) -> Check {
    let ext = if format == Format::Ndjson { ".ndjson" } else { ".csv" };
    let (_guard, file) = temp_input(input, ext)?;
    let name = file.name();
    let mut splitter = Splitter::new(vec![file], format, delim, limit);
    let mut chunks = Vec::new();
    let result = splitter.header().and_then(|header| {
        while let Some(c) = splitter.next_chunk()? {
            ensure_chunk_count(chunks.len(), input.len())?;
            chunks.push(c);
        }
        Ok(header)
    });
    if let Some(encoding) = wide_bom(input) {
        return match result {
            Err(e) if matches!(e.kind(), ErrorKind::Encoding { .. }) => {
                let msg = e.to_string();
                ensure!(msg.starts_with(&name) && msg.contains(encoding), "bad message: {msg}");
                Ok(())
            }
            other => Err(format!("a {encoding} input was not refused: {other:?}")),
        };
    }
    if compression_magic(input).is_some() || utf16_bom(input) {
        // Decoded before it is split, so the reference parser does not
        // apply to its bytes: it is read, or refused with an error that
        // names it (a corrupt stream, text not valid in its encoding).
        return match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let msg = e.to_string();
                ensure!(msg.starts_with(&name), "the error does not name the input: {msg}");
                Ok(())
            }
        };
    }
    let text = strip_bom(input);
    let body: Vec<u8> = chunks.iter().flat_map(|c| c.data.iter().copied()).collect();
    ensure!(
        result.is_err() || text.ends_with(&body),
        "the chunks ({} bytes) are not the end of the input ({} bytes)",
        body.len(),
        text.len()
    );
    let offset = text.len() - body.len().min(text.len());
    if format == Format::Ndjson {
        return check_split_ndjson(text, &chunks, result, limit);
    }

    let reference = reference_csv(text, delim);
    reference_agrees_with_csv_crate(text, delim, &reference)?;
    let header = match result.map_err(Error::into_kind) {
        Ok(h) => h,
        Err(ErrorKind::UnterminatedQuote { at }) => {
            let open = reference.open_quote.ok_or_else(|| {
                format!("unterminated quote reported at {at}, but every quote closes")
            })?;
            let line = 1 + count_lines(&text[..open]);
            ensure!(at.input == name && at.line == line, "reported at {at}, opened on line {line}");
            // The records before the open one came out first, up to the
            // last line end between records before it.
            let records = &reference.records;
            let last = records.len() - 1;
            let want: &[u8] = if last == 0 {
                &[]
            } else {
                let from = header_end(text, &records[0]);
                let between = |i: usize| !records.iter().any(|r| r.start <= i && i + 1 < r.end);
                let to = (from..records[last].start)
                    .rev()
                    .find(|&i| text[i] == b'\n' && between(i))
                    .map_or(from, |i| i + 1);
                &text[from..to]
            };
            ensure!(body == want, "before the error: chunks {body:?}, want {want:?}");
            return Ok(());
        }
        Err(e) => return Err(format!("unexpected error: {e}")),
    };
    if let Some(open) = reference.open_quote {
        return Err(format!("the quote at byte {open} never closes, yet no error"));
    }

    // The header: the first record, cut after its terminator (and after
    // the `\n` of a `\r\n`).
    let want_header = reference.records.first().map(|r| {
        r.fields.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect::<Vec<_>>()
    });
    ensure!(header == want_header, "header {header:?}, the csv crate reads {want_header:?}");
    let header_end = reference.records.first().map_or(text.len(), |r| header_end(text, r));
    ensure!(
        offset == header_end,
        "the header took {offset} bytes, its record ends at {header_end}"
    );

    let mut at = offset;
    for (i, c) in chunks.iter().enumerate() {
        check_chunk_frame(c, i, at, text, limit, i + 1 == chunks.len())?;
        let end = at + c.data.len();
        if let Some(r) = reference.records.iter().find(|r| r.start < end && end < r.end) {
            return Err(format!(
                "chunk {i} ends at {end}, inside the record at {}..{}",
                r.start, r.end
            ));
        }
        at = end;
    }
    // Every chunk starts at a record boundary, so parsing the chunks one by
    // one gives the records of the whole body.
    let mut got = Vec::new();
    for c in &chunks {
        got.extend(reference_csv(&c.data, delim).records.into_iter().map(|r| r.fields));
    }
    let want: Vec<Vec<Vec<u8>>> =
        reference.records.iter().skip(1).map(|r| r.fields.clone()).collect();
    ensure!(got == want, "the chunks hold records {got:?}, the body {want:?}");
    Ok(())
}

/// Where the header `r` ends in `text`: after its terminator, and after
/// the `\n` of a `\r\n`.
fn header_end(text: &[u8], r: &RefRecord) -> usize {
    if text[r.end - 1] == b'\r' && text.get(r.end) == Some(&b'\n') {
        r.end + 1
    } else {
        r.end
    }
}

fn ensure_chunk_count(n: usize, input_len: usize) -> fanfold::Result<()> {
    if n > input_len + 1 {
        return Err(Error::internal(format!("{n} chunks from {input_len} bytes")));
    }
    Ok(())
}

/// What every chunk must be, whatever the format: in sequence, not empty,
/// numbered from the right line, ending after a `\n` unless it is the last,
/// and no shorter than a byte limit unless it is the last.
fn check_chunk_frame(
    c: &Chunk,
    i: usize,
    at: usize,
    text: &[u8],
    limit: ChunkLimit,
    last: bool,
) -> Check {
    ensure!(c.seq == i as u64 && c.input == 0, "chunk {i}: seq {} input {}", c.seq, c.input);
    ensure!(!c.data.is_empty(), "chunk {i} is empty");
    let line = 1 + count_lines(&text[..at]);
    ensure!(c.first_line == line, "chunk {i}: first_line {} but it starts on {line}", c.first_line);
    if !last {
        ensure!(c.data.ends_with(b"\n"), "chunk {i} does not end after a newline");
        if let ChunkLimit::Bytes(t) = limit {
            ensure!(c.data.len() >= t, "chunk {i} has {} bytes, the target is {t}", c.data.len());
        }
    }
    Ok(())
}

fn check_split_ndjson(
    text: &[u8],
    chunks: &[Chunk],
    result: fanfold::Result<Option<Vec<String>>>,
    limit: ChunkLimit,
) -> Check {
    // The first non-blank line gives the header (its keys), or its error.
    let first = ndjson_lines(text).into_iter().find(|(_, l)| !is_blank(l));
    match (result.as_ref().map_err(Error::kind), first) {
        (Ok(None), None) => {}
        (Ok(Some(keys)), Some((_, line))) => {
            let pairs = reference_pairs(line)
                .map_err(|e| format!("header {keys:?} from a line serde_json rejects: {e}"))?;
            let want: Vec<String> = pairs.into_iter().map(|(k, _)| k).collect();
            ensure!(*keys == want, "header {keys:?}, the first line's keys are {want:?}");
        }
        (Err(ErrorKind::Json { at, .. }), Some((n, line))) => {
            ensure!(at.line == n, "the first record is on line {n}, the error names {at}");
            ensure!(reference_pairs(line).is_err(), "the first line is fine, yet {at}: error");
        }
        (other, first) => return Err(format!("{other:?} for first line {first:?}")),
    }
    if result.is_err() {
        return Ok(());
    }
    let body: Vec<u8> = chunks.iter().flat_map(|c| c.data.iter().copied()).collect();
    // An input of blank lines only holds no record, and need not be read.
    let blank = matches!(result, Ok(None)) && body.is_empty();
    ensure!(
        body == text || blank,
        "the chunks ({} bytes) are not the input ({} bytes)",
        body.len(),
        text.len()
    );
    let mut at = 0;
    for (i, c) in chunks.iter().enumerate() {
        check_chunk_frame(c, i, at, text, limit, i + 1 == chunks.len())?;
        at += c.data.len();
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The CSV reader
// ---------------------------------------------------------------------------

/// Parses `data` as one chunk (starting on line `first_line`) with
/// fanfold's reader and checks it against [`reference_csv`] and the `csv`
/// crate: the same records, field for field, until the first record whose
/// width differs from the first record's, which must be a field-count
/// error naming the line where that record starts.
pub fn check_read_csv(data: &[u8], delim: u8, first_line: u64) -> Check {
    let reference = reference_csv(data, delim);
    reference_agrees_with_csv_crate(data, delim, &reference)?;
    let width = reference.records.first().map_or(1, |r| r.fields.len());
    let chunk =
        Chunk { seq: 0, input: 0, first_line, first_column: 1, offset: 0, data: data.to_vec() };
    let opts = ParseOptions {
        format: Format::Csv,
        delimiter: delim,
        header_len: width,
        input_names: vec!["in.csv".into()],
        comment: None,
        comment_lines: Default::default(),
    };
    let mut got: Vec<(u64, Vec<Vec<u8>>)> = Vec::new();
    let result = for_each_record(&chunk, &opts, |rec| {
        let mut fields = Vec::new();
        for i in 0.. {
            match rec.get_source(&Source::Index(i)) {
                Field::Text(t) => fields.push(t.to_vec()),
                Field::Absent => break,
                other => return Err(Error::internal(format!("a CSV field read as {other:?}"))),
            }
        }
        got.push((rec.line(), fields));
        Ok(())
    });
    let line_of = |r: &RefRecord| first_line + count_lines(&data[..r.start]);
    let good = reference.records.iter().take_while(|r| r.fields.len() == width).count();
    for (i, (r, (line, fields))) in reference.records.iter().zip(&got).enumerate() {
        ensure!(
            *fields == r.fields,
            "record {i}: fields {fields:?}, the csv crate reads {:?}",
            r.fields
        );
        ensure!(*line == line_of(r), "record {i} reports line {line}, it starts on {}", line_of(r));
    }
    match result.map_err(Error::into_kind) {
        Ok(n) => {
            ensure!(good == reference.records.len(), "no field-count error for record {good}");
            ensure!(n as usize == got.len() && got.len() == good, "{n} records, want {good}");
        }
        Err(ErrorKind::FieldCount { at, expected, found }) => {
            let r = reference.records.get(good).ok_or_else(|| {
                format!("field-count error {at} but every record is {width} wide")
            })?;
            ensure!(got.len() == good, "{} records before the error, want {good}", got.len());
            ensure!(
                expected == width && found == r.fields.len() && at.line == line_of(r),
                "error at {at} ({expected} vs {found}); record {good} starts on line {} with {} fields",
                line_of(r),
                r.fields.len()
            );
        }
        Err(e) => return Err(format!("unexpected error: {e}")),
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The NDJSON reader
// ---------------------------------------------------------------------------

/// JSON whitespace (RFC 8259): what a blank NDJSON line may hold.
pub fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// The lines of `text` with their 1-based numbers (a last line without
/// `\n` included, an empty one after a final `\n` not).
fn ndjson_lines(text: &[u8]) -> Vec<(u64, &[u8])> {
    let mut lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    if text.is_empty() || text.ends_with(b"\n") {
        lines.pop();
    }
    lines.into_iter().enumerate().map(|(i, l)| (i as u64 + 1, l)).collect()
}

/// One key (unescaped) and its value (raw text) per member of an object.
pub type Pairs = Vec<(String, Box<RawValue>)>;

/// The members of `line`, in order, duplicates kept, when `serde_json`
/// reads the line as an object, nesting no deeper than it allows when it
/// builds a [`serde_json::Value`] (127). Values are not decoded: fanfold
/// keeps their text, so `1e999` is as good as `1`.
pub fn reference_pairs(line: &[u8]) -> Result<Pairs, String> {
    struct PairsVisitor;
    impl<'de> Visitor<'de> for PairsVisitor {
        type Value = Pairs;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs, A::Error> {
            let mut out = Vec::new();
            while let Some(k) = map.next_key::<String>()? {
                out.push((k, map.next_value::<Box<RawValue>>()?));
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(line);
    let pairs = (&mut de).deserialize_map(PairsVisitor).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    // Raw values skip serde_json's nesting limit; building a Value applies
    // it. Strings and numbers are emptied first: fanfold keeps their text,
    // so neither `1e999` (out of range for a float) nor `"\udc00"` (a lone
    // surrogate) is an error in a value.
    serde_json::from_slice::<serde_json::Value>(&skeleton(line)).map_err(|e| e.to_string())?;
    Ok(pairs)
}

/// `line` (valid JSON) with every string made `""` and every number `0`.
fn skeleton(line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    let (mut in_string, mut escaped, mut in_number) = (false, false, false);
    for &b in line {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => {
                    in_string = false;
                    out.push(b'"');
                }
                _ => {}
            }
            continue;
        }
        let starts = b == b'-' || b.is_ascii_digit();
        let continues = starts || matches!(b, b'+' | b'.' | b'e' | b'E');
        if (in_number && continues) || starts {
            if !in_number {
                out.push(b'0');
                in_number = true;
            }
            continue;
        }
        in_number = false;
        in_string = b == b'"';
        out.push(b);
    }
    out
}

/// Parses `data` as one NDJSON chunk (starting on line `first_line`) with
/// fanfold's reader and checks, line by line against [`reference_pairs`]:
/// blank lines skipped, every object's keys and raw values kept (written
/// back through an NDJSON encoder), and the first line `serde_json` rejects
/// named in an [`ErrorKind::Json`].
pub fn check_read_ndjson(data: &[u8], first_line: u64) -> Check {
    let chunk =
        Chunk { seq: 0, input: 0, first_line, first_column: 1, offset: 0, data: data.to_vec() };
    let opts = ParseOptions {
        format: Format::Ndjson,
        delimiter: b',',
        header_len: 0,
        input_names: vec!["in.ndjson".into()],
        comment: None,
        comment_lines: Default::default(),
    };
    let layout =
        Layout::new(&Projection::default(), &[], true, true).map_err(|e| format!("layout: {e}"))?;
    let encoder = fanfold::Encoder::new(Format::Ndjson, b',', layout, Vec::new());
    let mut written = Vec::new();
    let mut lines = Vec::new();
    let result = for_each_record(&chunk, &opts, |rec| {
        lines.push(rec.line());
        encoder.record(rec, &mut written)
    });
    let mut want_lines = Vec::new();
    let mut want_pairs = Vec::new();
    let mut first_bad = None;
    for (n, line) in ndjson_lines(data) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if is_blank(line) {
            continue;
        }
        match reference_pairs(line) {
            Ok(p) => {
                want_lines.push(first_line + n - 1);
                want_pairs.push(p);
            }
            Err(e) => {
                first_bad = Some((first_line + n - 1, e));
                break;
            }
        }
    }
    ensure!(lines == want_lines, "records on lines {lines:?}, want {want_lines:?}");
    match (result.map_err(Error::into_kind), first_bad) {
        (Ok(n), None) => ensure!(n as usize == want_lines.len(), "{n} records"),
        (Err(ErrorKind::Json { at, .. }), Some((line, _))) => {
            ensure!(at.line == line, "error at {at}, serde_json fails on line {line}")
        }
        (Err(e), None) => return Err(format!("error `{e}` on input serde_json reads")),
        (other, Some((line, e))) => {
            return Err(format!("{other:?}; serde_json fails on line {line}: {e}"))
        }
    }
    let written_text = String::from_utf8(written).map_err(|e| format!("output not UTF-8: {e}"))?;
    let got: Vec<Pairs> = written_text
        .lines()
        .map(|l| reference_pairs(l.as_bytes()).map_err(|e| format!("output `{l}`: {e}")))
        .collect::<Result<_, _>>()?;
    ensure!(got.len() == want_pairs.len(), "{} records written", got.len());
    // The encoder writes a nested value that holds a line break (a bare CR
    // here) compacted: such values compare as JSON values, others as text.
    let same = |g: &str, w: &str| match w.contains(['\r', '\n']) {
        true => {
            let value = |t: &str| serde_json::from_str::<serde_json::Value>(t).ok();
            value(g).is_some() && value(g) == value(w)
        }
        false => g == w,
    };
    for (g, w) in got.iter().zip(&want_pairs) {
        let keys_and_values_kept = g.len() == w.len()
            && g.iter().zip(w).all(|((gk, gv), (wk, wv))| gk == wk && same(gv.get(), wv.get()));
        let g: Vec<(&str, &str)> = g.iter().map(|(k, v)| (k.as_str(), v.get())).collect();
        let w: Vec<(&str, &str)> = w.iter().map(|(k, v)| (k.as_str(), v.get())).collect();
        ensure!(keys_and_values_kept, "written {g:?}, read {w:?}");
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The whole pipeline
// ---------------------------------------------------------------------------

/// How one run is cut and scheduled.
#[derive(Debug, Clone, Copy)]
pub struct RunSettings {
    /// Worker threads.
    pub threads: usize,
    /// The chunk limit.
    pub chunk: ChunkLimit,
    /// Chunks in flight.
    pub max_in_flight: usize,
}

/// One worker, one big chunk, one chunk in flight.
pub const SEQUENTIAL: RunSettings = RunSettings {
    threads: 1,
    chunk: ChunkLimit::Bytes(fanfold::DEFAULT_CHUNK_BYTES),
    max_in_flight: 1,
};

/// What a pipeline does, apart from its scheduling.
#[derive(Debug, Clone)]
pub struct Job {
    /// Input format.
    pub format: Format,
    /// Input delimiter (CSV/TSV).
    pub delimiter: u8,
    /// Output format.
    pub output: Format,
    /// Transform steps.
    pub steps: Vec<Step>,
    /// The reducer.
    pub reduce: ReduceSpec,
}

/// Runs `job` on `file` with `settings`: the output bytes, or the error
/// message (`Err` when fanfold failed inside: a panic or an internal error).
pub fn run_job(
    file: &Input,
    job: &Job,
    settings: RunSettings,
) -> Result<Result<Vec<u8>, String>, String> {
    let pipeline = Pipeline::builder()
        .input(file.clone())
        .input_format(job.format)
        .output_format(job.output)
        .delimiter(job.delimiter)
        .chunk(settings.chunk)
        .threads(settings.threads)
        .max_in_flight(settings.max_in_flight)
        .steps(job.steps.clone())
        .reduce(job.reduce.clone())
        .build();
    let mut out = Vec::new();
    Ok(match pipeline.and_then(|p| p.run(&mut out, "<memory>")) {
        Ok(_) => Ok(out),
        Err(e) if matches!(e.kind(), ErrorKind::WorkerPanic { .. } | ErrorKind::Internal(_)) => {
            return Err(format!("fanfold failed inside: {e}"))
        }
        Err(e) => Err(e.to_string()),
    })
}

/// Runs `job` sequentially and with each of `others`: the same bytes, or
/// the same error message, every time.
pub fn check_pipeline(input: &[u8], job: &Job, others: &[RunSettings]) -> Check {
    let ext = if job.format == Format::Ndjson { ".ndjson" } else { ".csv" };
    let (_guard, file) = temp_input(input, ext)?;
    let base = run_job(&file, job, SEQUENTIAL)?;
    for s in others {
        let got = run_job(&file, job, *s)?;
        if got != base {
            let mut msg = format!("{s:?} differs from the sequential run:\n");
            for (name, r) in [("sequential", &base), ("this run", &got)] {
                let _ = match r {
                    Ok(bytes) => writeln!(msg, "{name}: Ok {:?}", String::from_utf8_lossy(bytes)),
                    Err(e) => writeln!(msg, "{name}: Err {e}"),
                };
            }
            return Err(msg);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Targets: arbitrary bytes to a check (shared with `fuzz/` and the corpus)
// ---------------------------------------------------------------------------

/// The fuzz targets, as named under `fuzz/fuzz_targets/` and
/// `fuzz/corpus/`.
pub const TARGETS: &[&str] =
    &["split_csv", "split_ndjson", "read_csv", "read_ndjson", "pipeline_csv", "pipeline_ndjson"];

/// A CSV delimiter chosen by one byte.
fn delimiter(b: u8) -> u8 {
    [b',', b'\t', b';', b'|'][usize::from(b & 3)]
}

/// A chunk limit chosen by one byte: 1 to 8 records, or 1 to 382 bytes.
fn limit(b: u8) -> ChunkLimit {
    if b & 1 == 1 {
        ChunkLimit::Records(1 + usize::from(b >> 1) % 8)
    } else {
        ChunkLimit::Bytes(1 + 3 * usize::from(b >> 1))
    }
}

/// Run settings chosen by one byte.
fn settings(b: u8) -> RunSettings {
    RunSettings {
        threads: 1 + usize::from(b & 3),
        chunk: limit(b >> 2),
        max_in_flight: 1 + usize::from(b >> 6),
    }
}

/// A job chosen by one byte, for input `format`.
pub fn job(b: u8, format: Format, delimiter: u8) -> Job {
    let other = if format == Format::Ndjson { Format::Csv } else { Format::Ndjson };
    let count = || "count".parse().expect("`count` is an aggregate");
    let (output, steps, reduce) = match b % 6 {
        0 => (format, vec![], ReduceSpec::Concat),
        1 => (other, vec![], ReduceSpec::Concat),
        2 => (format, vec![], ReduceSpec::GroupBy { keys: vec![], aggs: vec![count()] }),
        3 => (other, vec![Step::Map(".".into())], ReduceSpec::Concat),
        4 => (format, vec![Step::Filter("true".into())], ReduceSpec::Concat),
        _ => (format, vec![], ReduceSpec::TopK { k: 2, keys: vec![], group_by: vec![] }),
    };
    Job { format, delimiter, output, steps, reduce }
}

/// Runs fuzz target `target` on `data`: the first byte or two choose the
/// options (delimiter, chunk limit, settings, job), the rest is the input.
pub fn run_target(target: &str, data: &[u8]) -> Check {
    let at = |i: usize| data.get(i).copied().unwrap_or(0);
    let rest = |n: usize| data.get(n..).unwrap_or_default();
    match target {
        "split_csv" => check_split(rest(2), Format::Csv, delimiter(at(0)), limit(at(1))),
        "split_ndjson" => check_split(rest(1), Format::Ndjson, b',', limit(at(0))),
        "read_csv" => check_read_csv(rest(1), delimiter(at(0)), 1 + u64::from(at(0) >> 2)),
        "read_ndjson" => check_read_ndjson(data, 1),
        "pipeline_csv" => {
            let job = job(at(1), Format::Csv, delimiter(at(1) >> 4));
            check_pipeline(rest(2), &job, &[settings(at(0)), settings(!at(0))])
        }
        "pipeline_ndjson" => {
            let job = job(at(1), Format::Ndjson, b',');
            check_pipeline(rest(2), &job, &[settings(at(0)), settings(!at(0))])
        }
        other => Err(format!("no fuzz target `{other}`")),
    }
}
