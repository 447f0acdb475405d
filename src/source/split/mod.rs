//! The splitter: cuts a stream of inputs into [`Chunk`]s at record
//! boundaries, counting lines so that every record keeps its absolute line.
//!
//! # The splitting rule
//!
//! A chunk ends right after a `\n` that is not inside a quoted CSV field.
//! For NDJSON every `\n` ends a record (JSON strings cannot hold a raw
//! newline). For CSV the splitter follows RFC 4180 quoting the way the `csv`
//! crate's parser does:
//!
//! - a `"` opens a quoted field only at the start of a field: at the start of
//!   a record, or right after the delimiter, `\n` or `\r`;
//! - inside a quoted field the next `"` closes it, and a `"` right after a
//!   closing quote reopens it (that is the doubled quote `""`);
//! - a `"` anywhere else is an ordinary character.
//!
//! So `a,"x\ny",b\n` is one record over two lines, `a,b""c\n` is one record,
//! and `"say ""hi""",1\n` is one record. A quote still open at the end of an
//! input is an [`ErrorKind::UnterminatedQuote`] naming the line where it opened;
//! the records before that one come out first, so that an error in them
//! (earlier in the input) is the one reported, whatever the chunk size.
//!
//! The CSV header is the first record as the `csv` crate reads it: blank
//! lines before it are skipped, and it ends at `\n`, `\r\n` or a bare `\r`.
//! Records may end with a bare `\r` too (the parser splits them), but
//! chunks end only after a `\n`.
//!
//! The splitter reads an input's text: a compressed input (recognised by
//! [`crate::format::Compression::sniff`]) and a UTF-16 or `--encoding` one
//! are decoded to UTF-8 on a thread of their own first (`source::decode`).
//! A UTF-8 BOM is skipped, and an input that starts with a UTF-32
//! byte-order mark is an [`ErrorKind::Encoding`]. With a comment byte set,
//! a line that begins a record with it ends at its `\n`, whatever quotes it
//! holds.
//!
//! A JSON array ([`Format::Json`]) is cut right after the `}` of an element
//! instead, following the array's nesting and strings; the scan (in
//! `source/json_array.rs`) also checks the array's own syntax.
//!
//! With [`ChunkLimit::Bytes`] a chunk ends at the first boundary at or after
//! the target size, so a chunk holds at least one whole record whatever its
//! length. With [`ChunkLimit::Records`] it ends after that many `\n`-ended
//! records (blank lines count), or array elements. Chunks never span two
//! inputs. The scan uses `memchr`, so it runs at memory speed on the reader
//! thread.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::cancel::CancelToken;
use crate::error::{Error, ErrorKind, Location, Message, Result};
use crate::format::Format;
use crate::source::chunk::{Chunk, ChunkLimit, Sample};
use crate::source::decode::{self, DecodeFailure, TextEncoding};
use crate::source::json_array::{ArrayScan, Step};
use crate::source::sniff::{sniff_delimiter, SniffedDelimiter};
use crate::source::Input;
use crate::syntax::json::line_column;

mod csv_scan;
mod header;

use csv_scan::{count_lines, last_boundary, scan, Dialect, ScanState};

/// Bytes of the first input the delimiter is found in, at most.
const SNIFF_BYTES: usize = 64 * 1024;

/// Smallest read from an input, in bytes.
const READ_STEP: usize = 64 * 1024;

struct Current {
    index: usize,
    reader: Box<dyn Read + Send>,
    /// Bytes of the stored input read so far (compressed, for a
    /// compressed input).
    stored: Arc<AtomicU64>,
    /// The input is a pipe, FIFO, socket or terminal: read what has
    /// arrived, one `read(2)` at a time.
    stream: bool,
    buf: Vec<u8>,
    /// Line number of `buf[0]`.
    line: u64,
    /// Byte offset of `buf[0]` in the input.
    offset: u64,
    /// Column of `buf[0]`.
    column: u64,
    eof: bool,
    scan: ScanState,
    /// The scan of a JSON array input.
    array: ArrayScan,
}

/// Cuts inputs into chunks. See the module docs for the rule.
///
/// Call [`Splitter::header`] first (CSV: reads the header of the first
/// input; NDJSON and JSON arrays: peeks at the keys of the first record),
/// then
/// [`Splitter::next_chunk`] until it returns `None`.
pub struct Splitter {
    inputs: Vec<Input>,
    names: Vec<String>,
    format: Format,
    delimiter: u8,
    /// The byte that begins a comment line (CSV/TSV).
    comment: Option<u8>,
    /// Lines skipped before each CSV input's header.
    skip_rows: u64,
    /// Comment lines skipped before the headers.
    comment_lines: u64,
    /// Find the delimiter in the first input's first bytes.
    sniff: bool,
    /// What that found.
    sniffed: Option<SniffedDelimiter>,
    limit: ChunkLimit,
    next_input: usize,
    current: Option<Current>,
    seq: u64,
    header: Option<(usize, Vec<String>)>,
    /// CSV columns given instead of a header (see [`Splitter::with_columns`]).
    given_columns: Option<Vec<String>>,
    header_done: bool,
    /// Decoded bytes read from the inputs.
    bytes_parsed: u64,
    /// Stored bytes read from the inputs closed so far.
    stored_done: u64,
    /// The inputs' text encoding, when set.
    encoding: Option<TextEncoding>,
    /// Buffers of processed chunks, handed back for reuse.
    recycled: Option<crossbeam_channel::Receiver<Vec<u8>>>,
    /// Watched by the reads of a stream input.
    cancel: CancelToken,
}

impl std::fmt::Debug for Splitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Splitter")
            .field("inputs", &self.names)
            .field("format", &self.format)
            .field("limit", &self.limit)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl Splitter {
    /// A splitter over `inputs`, read in order as one stream.
    ///
    /// `delimiter` is used for CSV/TSV only.
    ///
    /// # Panics
    /// When `limit` is zero bytes or zero records.
    pub fn new(inputs: Vec<Input>, format: Format, delimiter: u8, limit: ChunkLimit) -> Splitter {
        let limit = limit.resolve();
        let names = inputs.iter().map(Input::name).collect();
        Splitter {
            inputs,
            names,
            format,
            delimiter,
            comment: None,
            skip_rows: 0,
            comment_lines: 0,
            sniff: false,
            sniffed: None,
            limit,
            next_input: 0,
            current: None,
            seq: 0,
            header: None,
            given_columns: None,
            header_done: false,
            bytes_parsed: 0,
            stored_done: 0,
            encoding: None,
            recycled: None,
            cancel: CancelToken::new(),
        }
    }

    /// Reads stream inputs (pipes, FIFOs, sockets, terminals) watching
    /// `cancel`: once it is cancelled, a read blocked on a silent stream
    /// gives up within [`crate::cancel::POLL_INTERVAL_MS`] with
    /// [`ErrorKind::Interrupted`] (cancelled by a signal) or
    /// [`ErrorKind::Cancelled`]. Without it the splitter's token is one that
    /// is never cancelled. It applies to the inputs opened from now on.
    pub fn with_cancel(mut self, cancel: CancelToken) -> Splitter {
        self.cancel = cancel;
        self
    }

    /// Reads CSV/TSV inputs that have no header line, as the splits of a
    /// file cut by lines are (Hadoop's, Spark's): `columns` are their
    /// columns, and an input whose first record is exactly `columns` (the
    /// split that begins the file) has that record taken as its header
    /// and skipped. `None`: every input begins with its header (the
    /// default). NDJSON and JSON inputs ignore it.
    pub fn with_columns(mut self, columns: Option<Vec<String>>) -> Splitter {
        self.given_columns = columns;
        self
    }

    /// Reads CSV/TSV inputs as exported in the wild: skips the first
    /// `skip_rows` lines of each input (a preamble before its header,
    /// counted by `\n`), and, when `comment` is set, every line that begins
    /// a record with that byte, before the header too (as the `csv` crate's
    /// `comment` option does; the workers skip those after the header). It
    /// applies to the inputs opened from now on; NDJSON and JSON inputs
    /// ignore it.
    pub fn with_csv_preamble(mut self, skip_rows: u64, comment: Option<u8>) -> Splitter {
        self.skip_rows = skip_rows;
        self.comment = comment;
        self
    }

    /// Finds the CSV delimiter in the first input's first 64 KiB as read
    /// (after decoding; for a stream, what has arrived once its header's
    /// line has), before its header is read, and uses it instead of the
    /// one given to [`Splitter::new`] when the sniffer (`source::sniff`)
    /// is sure. Meant for inputs that cannot be read twice, such as
    /// standard input.
    pub fn sniff_delimiter(mut self) -> Splitter {
        self.sniff = true;
        self
    }

    /// The CSV delimiter in use: the one given, or the one found
    /// ([`Splitter::sniff_delimiter`]) once the header has been read.
    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// What [`Splitter::sniff_delimiter`] found, once the header has been
    /// read.
    pub(crate) fn sniffed(&self) -> Option<SniffedDelimiter> {
        self.sniffed
    }

    /// Comment lines skipped before the inputs' headers so far.
    pub fn comment_lines(&self) -> u64 {
        self.comment_lines
    }

    /// The delimiter and comment byte, as the boundary scan needs them.
    fn dialect(&self) -> Dialect {
        Dialect { delimiter: self.delimiter, comment: self.comment }
    }

    /// Takes chunk buffers back from `recycled` to read into, instead of
    /// allocating a fresh one per chunk (fresh memory costs a page fault
    /// per 4 KiB on first touch).
    pub fn recycle_from(&mut self, recycled: crossbeam_channel::Receiver<Vec<u8>>) {
        self.recycled = Some(recycled);
    }

    /// The inputs' names, indexed like [`Chunk::input`].
    pub fn input_names(&self) -> &[String] {
        &self.names
    }

    /// Decodes the inputs from `encoding` (an input that starts with a
    /// UTF-16 byte-order mark is UTF-16 whatever it says). It applies to
    /// the inputs opened from now on.
    pub fn with_encoding(mut self, encoding: Option<TextEncoding>) -> Splitter {
        self.encoding = encoding;
        self
    }

    /// Bytes read from the inputs so far as they are stored: compressed
    /// bytes for a compressed input. This is what a progress bar over the
    /// inputs' sizes counts.
    pub fn bytes_read(&self) -> u64 {
        let current = self.current.as_ref().map_or(0, |c| c.stored.load(Ordering::Relaxed));
        self.stored_done + current
    }

    /// Bytes of text read from the inputs so far: decompressed and
    /// transcoded to UTF-8, before any header or BOM is taken off.
    pub fn bytes_parsed(&self) -> u64 {
        self.bytes_parsed
    }

    /// The column names: for CSV/TSV the first non-empty input's header; for
    /// NDJSON and JSON arrays the keys of the first record, in order. `None`
    /// when every input is empty (for JSON arrays: holds only whitespace or
    /// `[]`).
    ///
    /// # Errors
    /// I/O errors, an input that is UTF-32 ([`ErrorKind::Encoding`]), a
    /// compressed stream that is corrupt or cut short or text not valid in
    /// its encoding ([`ErrorKind::Decode`]), an unterminated quote in the
    /// header, an invalid first
    /// NDJSON record, or [`ErrorKind::Json`] for a JSON array whose syntax is
    /// wrong before its first element ends or whose first element is not a
    /// valid object.
    pub fn header(&mut self) -> Result<Option<Vec<String>>> {
        if !self.header_done {
            self.header_done = true;
            match self.format {
                Format::Csv | Format::Tsv => {
                    if let Some(columns) = &self.given_columns {
                        self.header = Some((0, columns.clone()));
                        self.open_next()?;
                    }
                    while self.header.is_none() && self.open_next()? {}
                }
                Format::Ndjson => self.peek_json_keys()?,
                Format::Json => self.peek_array_keys()?,
            }
        }
        Ok(self.header.as_ref().map(|(_, h)| h.clone()))
    }

    /// Reads ahead in the current input, after its header, until at least
    /// `max_bytes` bytes are buffered or the input ends, and says what the
    /// buffer holds: records counted as [`ChunkLimit::Records`] counts them
    /// (`\n`-ended lines, blank ones included, plus a last line without a
    /// `\n`), its bytes, and whether that is the whole input. Nothing is
    /// consumed: the chunks still start at the first record. Meant for
    /// line formats (CSV, TSV, NDJSON); for a JSON array it counts lines.
    ///
    /// # Errors
    /// As [`Splitter::header`] and [`Splitter::next_chunk`]'s reads.
    pub fn sample(&mut self, max_bytes: usize) -> Result<Sample> {
        self.header()?;
        if self.current.is_none() && !self.open_next()? {
            return Ok(Sample { records: 0, bytes: 0, whole_input: true });
        }
        loop {
            let cur = self.current.as_ref().expect("an input is open");
            if cur.eof || cur.buf.len() >= max_bytes {
                break;
            }
            let want = max_bytes - cur.buf.len();
            self.fill(want)?;
        }
        let cur = self.current.as_ref().expect("an input is open");
        let buf = &cur.buf;
        let unended = u64::from(buf.last().is_some_and(|&b| b != b'\n'));
        let records = count_lines(buf) + unended;
        Ok(Sample { records, bytes: buf.len() as u64, whole_input: cur.eof })
    }

    /// Changes the chunk size for the chunks not yet cut.
    ///
    /// # Panics
    /// When `limit` is zero bytes or zero records.
    pub fn set_limit(&mut self, limit: ChunkLimit) {
        self.limit = limit.resolve();
    }

    /// The next chunk, or `None` at the end of the last input.
    ///
    /// # Errors
    /// I/O errors, a later input that is UTF-32 or cannot be decoded
    /// (as in [`Splitter::header`]), an unterminated quote, a CSV input whose header
    /// differs from the first input's, or [`ErrorKind::Json`] for a syntax
    /// error in a JSON array's framing (not starting with `[`, a missing or
    /// extra `,`, an element that is not an object, text after the `]`, an
    /// unterminated array, object or string), named by line and column
    /// after every whole element before it has been handed out in a chunk.
    pub fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        self.header()?;
        if self.format == Format::Json {
            return self.next_array_chunk();
        }
        loop {
            if self.current.is_none() && !self.open_next()? {
                return Ok(None);
            }
            let csv = self.format.is_delimited();
            let dialect = self.dialect();
            let limit = self.limit;
            let cur = self.current.as_mut().expect("an input is open");
            if let Some(cut) = scan(&cur.buf, &mut cur.scan, csv, dialect, limit) {
                return Ok(Some(self.emit(cut)));
            }
            if cur.eof {
                if cur.buf.is_empty() {
                    self.close_current();
                    continue;
                }
                if cur.scan.in_quote {
                    // The records before the one whose quote never closes
                    // go out first: an error in them comes first in the
                    // input, so it is the one reported, whatever the chunk
                    // size.
                    let before = last_boundary(&cur.buf[..cur.scan.open_at], dialect);
                    if before > 0 {
                        return Ok(Some(self.emit(before)));
                    }
                    let at = Location {
                        input: self.names[cur.index].clone(),
                        line: cur.line + count_lines(&cur.buf[..cur.scan.open_at]),
                    };
                    return Err(ErrorKind::UnterminatedQuote { at }.into());
                }
                let all = cur.buf.len();
                return Ok(Some(self.emit(all)));
            }
            let want = match limit {
                ChunkLimit::Bytes(t) => t.saturating_sub(cur.buf.len()).max(READ_STEP),
                ChunkLimit::Records(_) | ChunkLimit::Auto => READ_STEP,
            };
            self.fill(want)?;
        }
    }

    /// [`Splitter::next_chunk`] for JSON arrays.
    fn next_array_chunk(&mut self) -> Result<Option<Chunk>> {
        loop {
            if self.current.is_none() && !self.open_next()? {
                return Ok(None);
            }
            let limit = self.limit;
            let cur = self.current.as_mut().expect("an input is open");
            match cur.array.scan(&cur.buf, limit, cur.eof) {
                Step::Cut { at, phase } => {
                    let chunk = self.emit(at);
                    let cur = self.current.as_mut().expect("an input is open");
                    cur.array = ArrayScan::resume(phase);
                    return Ok(Some(chunk));
                }
                Step::Done => self.close_current(),
                Step::Error { at, message } => return Err(self.array_error(at, message)),
                Step::More => {
                    let want = match limit {
                        ChunkLimit::Bytes(t) => t.saturating_sub(cur.buf.len()).max(READ_STEP),
                        ChunkLimit::Records(_) | ChunkLimit::Auto => READ_STEP,
                    };
                    self.fill(want)?;
                }
            }
        }
    }

    /// An [`ErrorKind::Json`] at byte `at` of the current buffer.
    fn array_error(&self, at: usize, message: Message) -> Error {
        let cur = self.current.as_ref().expect("an input is open");
        let (line, column) = line_column(&cur.buf, cur.line, cur.column, at);
        ErrorKind::Json {
            at: Location { input: self.names[cur.index].clone(), line },
            column: column as usize,
            message,
        }
        .into()
    }

    fn emit(&mut self, cut: usize) -> Chunk {
        let cur = self.current.as_mut().expect("an input is open");
        let cap = match self.limit {
            ChunkLimit::Bytes(t) => t.saturating_add(READ_STEP),
            ChunkLimit::Records(_) | ChunkLimit::Auto => READ_STEP,
        };
        let need = cap.min(1 << 30).max(cur.buf.len() - cut);
        let mut rest = match self.recycled.as_ref().and_then(|r| r.try_recv().ok()) {
            Some(mut v) => {
                v.clear();
                v.reserve(need);
                v
            }
            None => Vec::with_capacity(need),
        };
        rest.extend_from_slice(&cur.buf[cut..]);
        let mut data = std::mem::replace(&mut cur.buf, rest);
        data.truncate(cut);
        let lines = count_lines(&data);
        let next_column = match memchr::memrchr(b'\n', &data) {
            Some(nl) => (data.len() - nl) as u64,
            None => cur.column + data.len() as u64,
        };
        let chunk = Chunk {
            seq: self.seq,
            input: cur.index,
            first_line: cur.line,
            offset: cur.offset,
            first_column: cur.column,
            data,
        };
        cur.line += lines;
        cur.offset += cut as u64;
        cur.column = next_column;
        cur.scan = ScanState::default();
        self.seq += 1;
        chunk
    }

    /// Reads up to `want` more bytes into the current buffer: from a file,
    /// until there are `want` or the file ends; from a stream, what one
    /// read returns (at most [`READ_STEP`]), so that records are cut and
    /// worked on as they arrive.
    fn fill(&mut self, want: usize) -> Result<()> {
        let cur = self.current.as_mut().expect("an input is open");
        let read = if cur.stream {
            let start = cur.buf.len();
            cur.buf.resize(start + want.min(READ_STEP), 0);
            let read = cur.reader.read(&mut cur.buf[start..]);
            cur.buf.truncate(start + *read.as_ref().unwrap_or(&0));
            read
        } else {
            (&mut cur.reader).take(want as u64).read_to_end(&mut cur.buf)
        };
        let n = match read {
            Ok(n) => n,
            Err(e) => {
                if let Some(stopped) = self.cancel.error() {
                    return Err(stopped);
                }
                let failure = e.get_ref().and_then(|inner| inner.downcast_ref::<DecodeFailure>());
                let Some(failure) = failure else {
                    return Err(Error::io(self.names[cur.index].clone(), e));
                };
                return Err(ErrorKind::Decode {
                    input: self.names[cur.index].clone(),
                    compression: failure.compression,
                    encoding: failure.encoding,
                    offset: failure.offset,
                    line: cur.line + count_lines(&cur.buf),
                    truncated: failure.truncated,
                    message: failure.message.clone(),
                }
                .into());
            }
        };
        self.bytes_parsed += n as u64;
        if n == 0 {
            cur.eof = true;
        }
        Ok(())
    }

    /// Closes the current input, if one is open, counting its stored
    /// bytes.
    fn close_current(&mut self) {
        if let Some(done) = self.current.take() {
            self.stored_done += done.stored.load(Ordering::Relaxed);
        }
    }

    /// Opens the next input (decoding it when it is compressed or not
    /// UTF-8), refuses a UTF-32 one, strips a UTF-8 BOM and, for CSV,
    /// finds the delimiter of the first input when asked to
    /// ([`Splitter::sniff_delimiter`]) and reads and checks its header.
    /// Returns false when there are no inputs left.
    fn open_next(&mut self) -> Result<bool> {
        let Some(input) = self.inputs.get(self.next_input) else {
            return Ok(false);
        };
        let index = self.next_input;
        self.next_input += 1;
        let (raw, stream) = input.open_stream(&self.cancel)?;
        let opened = decode::open(raw, stream, self.encoding)
            .map_err(|e| self.cancel.error().unwrap_or_else(|| Error::io(input.name(), e)))?;
        self.close_current();
        self.current = Some(Current {
            index,
            reader: opened.reader,
            stored: opened.stored_bytes,
            stream: opened.stream,
            buf: Vec::new(),
            line: 1,
            offset: 0,
            column: 1,
            eof: false,
            scan: ScanState::default(),
            array: ArrayScan::default(),
        });
        self.fill(READ_STEP)?;
        self.check_start()?;
        if self.format.is_delimited() {
            if self.sniff && index == 0 {
                self.sniff_first_input()?;
            }
            self.read_csv_header()?;
        }
        Ok(true)
    }

    /// Finds the delimiter in the first [`SNIFF_BYTES`] of the input just
    /// opened (see [`sniff_delimiter`]) and uses it when the sniffer is
    /// sure.
    ///
    /// A stream is not waited on for all of them: what has arrived is
    /// looked at once it holds the header's line, so that records that
    /// trickle in are still worked on as they come.
    fn sniff_first_input(&mut self) -> Result<()> {
        let lines_wanted = self.skip_rows.saturating_add(1);
        loop {
            let cur = self.current.as_ref().expect("an input is open");
            if cur.eof || cur.buf.len() >= SNIFF_BYTES {
                break;
            }
            if cur.stream && count_lines(&cur.buf) >= lines_wanted {
                break;
            }
            let want = SNIFF_BYTES - cur.buf.len();
            self.fill(want)?;
        }
        let cur = self.current.as_ref().expect("an input is open");
        let found = sniff_delimiter(&cur.buf, self.skip_rows, self.comment, cur.eof);
        if found.sure {
            self.delimiter = found.delimiter;
        }
        self.sniffed = Some(found);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitter_keeps_lines_and_detects_unterminated_quote() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("u.csv");
        std::fs::write(&p, "h1,h2\n1,2\n2,\"open\n3,4\n").unwrap();
        let mut s = Splitter::new(vec![Input::Path(p)], Format::Csv, b',', ChunkLimit::Records(1));
        assert_eq!(s.header().unwrap().unwrap(), vec!["h1", "h2"]);
        let c = s.next_chunk().unwrap().unwrap();
        assert_eq!((c.first_line, c.data.as_slice()), (2, &b"1,2\n"[..]));
        match s.next_chunk().map_err(Error::into_kind) {
            Err(ErrorKind::UnterminatedQuote { at }) => assert_eq!(at.line, 3),
            other => panic!("{other:?}"),
        }
    }

    fn array_splitter(body: &[u8], limit: ChunkLimit) -> (tempfile::TempDir, Splitter) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        std::fs::write(&p, body).unwrap();
        (dir, Splitter::new(vec![Input::Path(p)], Format::Json, b',', limit))
    }

    #[test]
    fn array_chunks_keep_lines_and_columns() {
        let body = b"\xEF\xBB\xBF[{\"a\":1,\"b\":[]}, {\"a\":2},\n  {\"a\":\n3}\n]\n";
        let (_dir, mut s) = array_splitter(body, ChunkLimit::Records(1));
        assert_eq!(s.header().unwrap().unwrap(), vec!["a", "b"]);
        let mut got = Vec::new();
        while let Some(c) = s.next_chunk().unwrap() {
            got.push((c.first_line, c.first_column, String::from_utf8(c.data).unwrap()));
        }
        // The rest after the last element (`\n]\n`) holds no record: no
        // chunk.
        let want =
            [(1, 1, "[{\"a\":1,\"b\":[]}"), (1, 16, ", {\"a\":2}"), (1, 25, ",\n  {\"a\":\n3}")];
        let want: Vec<(u64, u64, String)> =
            want.iter().map(|&(l, c, d)| (l, c, d.to_string())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn array_elements_longer_than_a_read() {
        // Elements of ~100 KiB, over several 64 KiB reads, with brackets
        // and escaped quotes in their strings.
        let big = "x]}\\\"{[".repeat(12_000);
        let body = format!("[{{\"s\":\"{big}\"}},{{\"s\":\"{big}\",\"t\":[[1]]}}]");
        for limit in [ChunkLimit::Records(1), ChunkLimit::Bytes(1000), ChunkLimit::Bytes(1 << 20)] {
            let (_dir, mut s) = array_splitter(body.as_bytes(), limit);
            assert_eq!(s.header().unwrap().unwrap(), vec!["s"]);
            let mut all = Vec::new();
            let mut n = 0;
            while let Some(c) = s.next_chunk().unwrap() {
                all.extend_from_slice(&c.data);
                n += 1;
            }
            // Cut after each element, the closing `]` is a rest without
            // records, and is dropped.
            let one = limit == ChunkLimit::Bytes(1 << 20);
            let want = if one { body.as_bytes() } else { &body.as_bytes()[..body.len() - 1] };
            assert!(all == want, "{limit:?}: {} bytes of {}", all.len(), body.len());
            assert_eq!(n, if one { 1 } else { 2 });
        }
    }

    #[test]
    fn array_errors_come_after_the_chunks_before_them() {
        let body = b"[{\"a\":1},\n{\"a\":2}\n{\"a\":3}]";
        let (_dir, mut s) = array_splitter(body, ChunkLimit::Bytes(1 << 20));
        assert_eq!(s.next_chunk().unwrap().unwrap().data, b"[{\"a\":1},\n{\"a\":2}");
        let err = s.next_chunk().unwrap_err().to_string();
        assert!(
            err.ends_with(
                "a.json:3:1: invalid JSON: expected `,` or `]` after an array element, found `{`"
            ),
            "{err}"
        );
        // Nothing but `[]` and whitespace: no header, no chunk.
        let (_dir, mut s) = array_splitter(b"  [\n]  \n", ChunkLimit::Records(1));
        assert_eq!(s.header().unwrap(), None);
        assert!(s.next_chunk().unwrap().is_none());
        // A bad first element is reported by the header.
        let (_dir, mut s) = array_splitter(b"\n [ 7 ]", ChunkLimit::Records(1));
        let err = s.header().unwrap_err().to_string();
        assert!(
            err.contains("a.json:2:4: invalid JSON: array element is not a JSON object"),
            "{err}"
        );
    }
}
