//! CSV and TSV chunks: a fast path for the common record (unquoted
//! fields, and quoted fields without a doubled quote, cut in place by
//! `memchr`-driven scans, with no copy), and `csv-core`, the `csv` crate's
//! RFC 4180 parser, for anything else (a doubled quote, a quote inside an
//! unquoted field, text after a closing quote, a bare `\r`). Both give
//! exactly the fields the `csv` crate gives; every record must have as
//! many fields as the header.

use super::bad_record::{on_record_error, trim_line_end, BadRecord};
use super::options::ParseOptions;
use crate::error::{Error, ErrorKind, Location, Result};
use crate::record::{Fields, LineAt, Record};
use crate::source::Chunk;
use crate::syntax::byte_search;
use crate::syntax::csv::{new_core, reset};

/// Calls `f` (or `bad`) for every record of the CSV chunk `chunk` of
/// `input`; returns the records read. See [`super::for_each_record_or`].
pub(super) fn records(
    chunk: &Chunk,
    opts: &ParseOptions,
    input: &str,
    mut f: impl FnMut(&Record<'_>) -> Result<()>,
    bad: &mut dyn FnMut(Error, BadRecord<'_>) -> Result<()>,
) -> Result<u64> {
    let mut count = 0;
    let mut csv = CsvParser::new(opts.delimiter);
    let data = chunk.data.as_slice();
    let has_cr = memchr::memchr(b'\r', data).is_some();
    let mut pos = 0;
    // Lines are counted only when asked for (an error, a reducer's
    // message): a record knows its offset in the chunk.
    let line_at =
        |offset: usize| LineAt::Offset { first_line: chunk.first_line, chunk: data, offset };
    let mut comments = 0;
    while pos < data.len() {
        let mut start = pos;
        if opts.comment == Some(data[pos]) {
            // A comment line, skipped to its `\n` whatever it holds.
            pos = memchr::memchr(b'\n', &data[pos..]).map_or(data.len(), |i| pos + i + 1);
            comments += 1;
            continue;
        }
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
                start += data[pos..].iter().take_while(|&&b| matches!(b, b'\r' | b'\n')).count();
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
            let e = ErrorKind::FieldCount {
                at: Location { input: input.to_string(), line: line_at(start).get() },
                expected: opts.header_len,
                found: n,
            };
            bad(e.into(), BadRecord { raw, offset, index: count - 1 })?;
            continue;
        }
        if let Err(e) = f(&Record {
            fields,
            input,
            line: line_at(start),
            raw,
            offset,
            index: count - 1,
            chunk: chunk.seq,
        }) {
            on_record_error(e, bad, BadRecord { raw, offset, index: count - 1 })?;
        }
    }
    if comments > 0 {
        opts.comment_lines.fetch_add(comments, std::sync::atomic::Ordering::Relaxed);
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
