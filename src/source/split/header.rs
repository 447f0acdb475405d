//! Where an input's records begin: its first bytes checked (not UTF-32,
//! BOM skipped), the CSV header read (after `--skip-rows` lines and, with
//! `--comment`, comment lines; the first record as the `csv` crate reads
//! it: blank lines before it skipped, ended by `\n`, `\r\n` or a bare
//! `\r`, and the same in every input), and the keys of the first NDJSON
//! record or JSON array element peeked at, without consuming it.

use memchr::{memchr, memchr_iter};

use super::csv_scan::{count_lines, scan_header, ScanState};
use super::{Splitter, READ_STEP};
use crate::error::{ErrorKind, Location, Result};
use crate::source::chunk::ChunkLimit;
use crate::source::json_array::{ArrayScan, Step};

impl Splitter {
    /// Refuses the input just opened when its text starts with a UTF-32
    /// byte-order mark ([`ErrorKind::Encoding`]; compressed and UTF-16
    /// inputs were decoded before, by `source::decode`), and skips its
    /// UTF-8 BOM.
    pub(super) fn check_start(&mut self) -> Result<()> {
        let cur = self.current.as_mut().expect("just opened");
        let index = cur.index;
        if let Some(encoding) = wide_encoding(&cur.buf) {
            return Err(ErrorKind::Encoding {
                input: self.names[index].clone(),
                encoding: encoding.to_string(),
            }
            .into());
        }
        if cur.buf.starts_with(b"\xEF\xBB\xBF") {
            cur.buf.drain(..3);
            cur.offset += 3;
        }
        Ok(())
    }

    /// Drops the current input's first line, through its `\n` (or to the
    /// end of the input), reading more of it as needed. False when there
    /// was nothing left to drop.
    fn skip_line(&mut self) -> Result<bool> {
        loop {
            let cur = self.current.as_mut().expect("an input is open");
            if let Some(i) = memchr(b'\n', &cur.buf) {
                cur.buf.drain(..=i);
                cur.line += 1;
                cur.offset += i as u64 + 1;
                return Ok(true);
            }
            if cur.eof {
                let any = !cur.buf.is_empty();
                cur.offset += cur.buf.len() as u64;
                cur.buf.clear();
                return Ok(any);
            }
            self.fill(READ_STEP)?;
        }
    }

    /// Reads the header: the first record as the `csv` crate reads it,
    /// after any blank lines, ended by `\n`, `\r\n` or a bare `\r`.
    pub(super) fn read_csv_header(&mut self) -> Result<()> {
        let dialect = self.dialect();
        // The preamble: `skip_rows` lines, whatever they hold.
        for _ in 0..self.skip_rows {
            if !self.skip_line()? {
                break;
            }
        }
        // Blank lines before the header are skipped, as the csv crate does,
        // and so are comment lines.
        loop {
            let cur = self.current.as_mut().expect("an input is open");
            let blank = cur.buf.iter().take_while(|&&b| b == b'\n' || b == b'\r').count();
            cur.line += count_lines(&cur.buf[..blank]);
            cur.offset += blank as u64;
            cur.buf.drain(..blank);
            if dialect.comment.is_some() && cur.buf.first() == dialect.comment.as_ref() {
                self.skip_line()?;
                self.comment_lines += 1;
                continue;
            }
            if !cur.buf.is_empty() || cur.eof {
                break;
            }
            self.fill(READ_STEP)?;
        }
        let cut = loop {
            let cur = self.current.as_mut().expect("an input is open");
            if let Some(cut) = scan_header(&cur.buf, &mut cur.scan, dialect, cur.eof) {
                break cut;
            }
            if cur.eof {
                if cur.scan.in_quote {
                    let line = cur.line + count_lines(&cur.buf[..cur.scan.open_at]);
                    let at = Location { input: self.names[cur.index].clone(), line };
                    return Err(ErrorKind::UnterminatedQuote { at }.into());
                }
                break cur.buf.len();
            }
            self.fill(READ_STEP)?;
        };
        let cur = self.current.as_mut().expect("an input is open");
        if cut == 0 {
            // An empty input: no header, no records.
            return Ok(());
        }
        if let Some(columns) = &self.given_columns {
            // No header but, in the split that begins the file, the
            // columns' own line.
            if parse_header(&cur.buf[..cut], dialect.delimiter) != *columns {
                cur.scan = ScanState::default();
                return Ok(());
            }
        }
        let bytes: Vec<u8> = cur.buf.drain(..cut).collect();
        cur.line += count_lines(&bytes);
        cur.offset += cut as u64;
        cur.scan = ScanState::default();
        let index = cur.index;
        let fields = parse_header(&bytes, dialect.delimiter);
        match &self.header {
            _ if self.given_columns.is_some() => {}
            None => self.header = Some((index, fields)),
            Some((first, expected)) if *expected != fields => {
                return Err(ErrorKind::HeaderMismatch {
                    input: self.names[index].clone(),
                    found: fields,
                    first_input: self.names[*first].clone(),
                    expected: expected.clone(),
                }
                .into());
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// Finds the first element of the first JSON array input that has one
    /// and records its keys as the header, without consuming anything.
    /// Inputs that hold no element (`[]`, only whitespace) are passed over
    /// once their syntax has been checked.
    pub(super) fn peek_array_keys(&mut self) -> Result<()> {
        let mut probe: Option<ArrayScan> = None;
        loop {
            if self.current.is_none() {
                if !self.open_next()? {
                    return Ok(());
                }
                probe = None;
            }
            let cur = self.current.as_mut().expect("an input is open");
            let st = probe.get_or_insert_with(|| cur.array.clone());
            match st.scan(&cur.buf, ChunkLimit::Records(1), cur.eof) {
                Step::Cut { at, .. } => {
                    let start = st.element_start();
                    let name = &self.names[cur.index];
                    let keys = crate::syntax::json_object::json_element_keys(
                        &cur.buf, start, at, cur.line, cur.column, name,
                    )?;
                    self.header = Some((cur.index, keys));
                    return Ok(());
                }
                Step::Done => self.close_current(),
                Step::Error { at, message } => return Err(self.array_error(at, message)),
                Step::More => self.fill(READ_STEP)?,
            }
        }
    }

    /// Finds the first non-blank NDJSON line and records its keys as the
    /// header, without consuming anything.
    pub(super) fn peek_json_keys(&mut self) -> Result<()> {
        // The input being looked at, where its current line starts, that
        // line's number, and how far the search for its `\n` has got: kept
        // across reads, so that a long first line is scanned once.
        let mut at: Option<(usize, usize, u64, usize)> = None;
        loop {
            if self.current.is_none() && !self.open_next()? {
                return Ok(());
            }
            let cur = self.current.as_mut().expect("an input is open");
            let (mut start, mut line, mut searched) = match at {
                Some((index, start, line, searched)) if index == cur.index => {
                    (start, line, searched)
                }
                _ => (0, cur.line, 0),
            };
            while start < cur.buf.len() {
                let end = memchr(b'\n', &cur.buf[searched..]).map(|i| searched + i);
                let Some(end) = end.or(if cur.eof { Some(cur.buf.len()) } else { None }) else {
                    searched = cur.buf.len();
                    break;
                };
                let text = &cur.buf[start..end];
                if !crate::syntax::json_object::is_blank(text) {
                    let name = self.names[cur.index].clone();
                    let keys = crate::syntax::json_object::json_keys(text, &name, line)?;
                    self.header = Some((cur.index, keys));
                    return Ok(());
                }
                start = end + 1;
                searched = start;
                line += 1;
            }
            if cur.eof {
                // Nothing but blank lines in this input: move on, keeping it
                // open is not needed since it holds no record.
                self.close_current();
                continue;
            }
            at = Some((cur.index, start, line, searched));
            self.fill(READ_STEP)?;
        }
    }
}

/// The encoding named by a UTF-32 byte-order mark at the start of
/// `bytes` (UTF-16 is transcoded before the splitter sees it; UTF-32 has
/// no decoder in the Encoding Standard, and without this check such a
/// file reads as garbage with NUL bytes in every field).
fn wide_encoding(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\xFF\xFE\x00\x00") {
        Some("UTF-32LE")
    } else if bytes.starts_with(b"\x00\x00\xFE\xFF") {
        Some("UTF-32BE")
    } else {
        None
    }
}

/// The fields of the header record `bytes` (decoded lossily), parsed by
/// `csv-core` as the records are: a BOM here is data, since the input's own
/// BOM is already skipped.
fn parse_header(bytes: &[u8], delimiter: u8) -> Vec<String> {
    let mut core = crate::syntax::csv::new_core(delimiter);
    // Room for every byte and every field: one call reads the whole record.
    let fields = memchr_iter(delimiter, bytes).count() + 2;
    let (mut out, mut ends) = (vec![0; bytes.len() + 1], vec![0; fields]);
    let (res, _, mut nout, mut nend) = core.read_record(bytes, &mut out, &mut ends);
    if res == csv_core::ReadRecordResult::InputEmpty {
        // No terminator: the end of the bytes ends the record.
        let (_, _, o, e) = core.read_record(&[], &mut out[nout..], &mut ends[nend..]);
        (nout, nend) = (nout + o, nend + e);
    }
    let mut start = 0;
    ends[..nend]
        .iter()
        .map(|&end| {
            let field = String::from_utf8_lossy(&out[start..end.min(nout)]).into_owned();
            start = end;
            field
        })
        .collect()
}
