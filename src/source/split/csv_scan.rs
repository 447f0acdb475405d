//! The CSV boundary scan: where a chunk or the header may end, following
//! RFC 4180 quoting as the `csv` crate's parser does (see the splitter's
//! module docs for the rule), with `memchr` so that it runs at memory
//! speed. NDJSON is the same scan with quotes ignored.

use memchr::{memchr, memchr2, memchr3, memchr_iter};

use crate::source::chunk::{ChunkLimit, DEFAULT_CHUNK_BYTES};

/// How the CSV text is written, as the scan needs it: the field delimiter
/// and the byte that begins a comment line, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Dialect {
    pub(super) delimiter: u8,
    pub(super) comment: Option<u8>,
}

#[derive(Debug, Default, Clone)]
pub(super) struct ScanState {
    pub(super) pos: usize,
    pub(super) in_quote: bool,
    /// Position of the quote that opened the current quoted field.
    pub(super) open_at: usize,
    pub(super) lines: u64,
    pub(super) records: usize,
    pub(super) after_close: usize,
    /// The quoted field open now has held a newline (kept only when a
    /// comment byte is set).
    pub(super) quote_newline: bool,
    /// Just after the closing quote of the last quoted field that held a
    /// newline: a line that starts at or before it starts inside that
    /// field (kept only when a comment byte is set).
    pub(super) multiline_close: usize,
}

impl ScanState {
    /// Inside a quoted field: moves just past its closing quote and returns
    /// true, or to the end of `buf` and returns false when the quote does
    /// not close in it yet. Counts the lines passed when `count` is set.
    #[inline]
    /// With `track` set (a comment byte is set), notes whether the field
    /// held a newline, for [`ScanState::quote_opens`].
    pub(super) fn close_quote(&mut self, buf: &[u8], count: bool, track: bool) -> bool {
        let rest = &buf[self.pos..];
        let Some(i) = memchr(b'"', rest) else {
            if count {
                self.lines += count_lines(rest);
            }
            if track && memchr(b'\n', rest).is_some() {
                self.quote_newline = true;
            }
            self.pos = buf.len();
            return false;
        };
        if count {
            self.lines += count_lines(&rest[..i]);
        }
        if track && (self.quote_newline || memchr(b'\n', &rest[..i]).is_some()) {
            self.multiline_close = self.pos + i + 1;
        }
        self.quote_newline = false;
        self.in_quote = false;
        self.after_close = self.pos + i + 1;
        self.pos = self.pos + i + 1;
        true
    }

    /// Whether the `"` at `p` opens a quoted field: at the start of a field
    /// (chunk start, after `\n`, `\r` or the delimiter), or right after a
    /// closing quote (the doubled quote `""`). Anywhere else it is data.
    ///
    /// With a comment byte set, a quote on a comment line (a line that
    /// begins a record with that byte) is data too: the `csv` crate skips
    /// such a line to its `\n` whatever it holds.
    pub(super) fn quote_opens(&self, buf: &[u8], p: usize, dialect: Dialect) -> bool {
        let at_field_start = p == 0
            || p == self.after_close
            || matches!(buf[p - 1], b'\n' | b'\r')
            || buf[p - 1] == dialect.delimiter;
        at_field_start && !dialect.comment.is_some_and(|c| self.on_comment_line(buf, p, c))
    }

    /// Whether the byte at `p` (outside a quoted field) is on a line that
    /// begins a record with `comment`. The line begins a record unless a
    /// quoted field was open across its start: the last field that held a
    /// newline closed after it (later fields held none, so none of them
    /// can hold the newline before `p`).
    fn on_comment_line(&self, buf: &[u8], p: usize, comment: u8) -> bool {
        let start = memchr::memrchr(b'\n', &buf[..p]).map_or(0, |i| i + 1);
        buf[start] == comment && start >= self.multiline_close
    }

    /// Enters the quoted field at the `"` at `p`. A doubled quote (`""`)
    /// re-enters the field it closed, which still opened where it first
    /// did: that is the place to name if it never closes.
    pub(super) fn open_quote(&mut self, p: usize) {
        if p == 0 || p != self.after_close {
            self.open_at = p;
        }
        self.in_quote = true;
    }
}

pub(super) fn count_lines(bytes: &[u8]) -> u64 {
    memchr_iter(b'\n', bytes).count() as u64
}

/// Scans `buf` from `st.pos`, updating the quote state and line count.
/// Returns the cut position (just after a `\n`) once `limit` is reached, or
/// `None` when the buffer ends first (`st` then covers all of it).
pub(super) fn scan(
    buf: &[u8],
    st: &mut ScanState,
    csv: bool,
    dialect: Dialect,
    limit: ChunkLimit,
) -> Option<usize> {
    if let ChunkLimit::Bytes(target) = limit {
        return scan_bytes(buf, st, csv, dialect, target);
    }
    let end = buf.len();
    while st.pos < end {
        if st.in_quote {
            st.close_quote(buf, true, dialect.comment.is_some());
            continue;
        }
        let found =
            if csv { memchr2(b'\n', b'"', &buf[st.pos..]) } else { memchr(b'\n', &buf[st.pos..]) };
        let Some(i) = found else {
            st.pos = end;
            break;
        };
        let p = st.pos + i;
        st.pos = p + 1;
        if buf[p] == b'\n' {
            st.lines += 1;
            st.records += 1;
            let done = match limit {
                ChunkLimit::Bytes(t) => st.pos >= t,
                ChunkLimit::Records(n) => st.records >= n,
                ChunkLimit::Auto => st.pos >= DEFAULT_CHUNK_BYTES,
            };
            if done {
                return Some(st.pos);
            }
        } else {
            if st.quote_opens(buf, p, dialect) {
                st.open_quote(p);
            }
        }
    }
    None
}

/// The end of the last whole CSV record in `buf` (just after its `\n`),
/// or 0 when there is none.
pub(super) fn last_boundary(buf: &[u8], dialect: Dialect) -> usize {
    let mut st = ScanState::default();
    let mut last = 0;
    while let Some(cut) = scan(buf, &mut st, true, dialect, ChunkLimit::Records(1)) {
        last = cut;
    }
    last
}

/// Finds the end of the header, the first record of `buf`, from `st.pos`:
/// just after the first `\n` or `\r` outside a quoted field (and after the
/// `\n` of a `\r\n`), where the `csv` crate ends a record. A header ended
/// by a bare `\r` must not swallow the records after it. `None` when `buf`
/// ends first (or ends with a `\r` and more input may follow).
pub(super) fn scan_header(
    buf: &[u8],
    st: &mut ScanState,
    dialect: Dialect,
    eof: bool,
) -> Option<usize> {
    while st.pos < buf.len() {
        if st.in_quote {
            st.close_quote(buf, false, dialect.comment.is_some());
            continue;
        }
        let Some(i) = memchr3(b'\n', b'\r', b'"', &buf[st.pos..]) else {
            st.pos = buf.len();
            break;
        };
        let p = st.pos + i;
        match (buf[p], buf.get(p + 1)) {
            (b'\n', _) => return Some(p + 1),
            (b'\r', Some(b'\n')) => return Some(p + 2),
            (b'\r', Some(_)) => return Some(p + 1),
            (b'\r', None) if eof => return Some(p + 1),
            (b'\r', None) => {
                // Is it a `\r\n`? Look again when more bytes are in.
                st.pos = p;
                return None;
            }
            _ => {
                st.pos = p + 1;
                if st.quote_opens(buf, p, dialect) {
                    st.open_quote(p);
                }
            }
        }
    }
    None
}

/// [`scan`] for a byte target: jumps to the first `\n` that ends at or
/// after `target` and only visits the quotes before it, so a chunk costs a
/// `memchr` over its quotes rather than a stop at every line. Same rule,
/// same cuts as the record-by-record scan.
fn scan_bytes(
    buf: &[u8],
    st: &mut ScanState,
    csv: bool,
    dialect: Dialect,
    target: usize,
) -> Option<usize> {
    let end = buf.len();
    // The first newline whose cut (just after it) reaches the target.
    let newline_from = |from: usize| memchr(b'\n', &buf[from..]).map(|i| from + i);
    loop {
        if st.in_quote {
            if !st.close_quote(buf, false, dialect.comment.is_some()) {
                return None;
            }
            continue;
        }
        let from = st.pos.max(target.saturating_sub(1));
        let nl = if from < end { newline_from(from) } else { None };
        let Some(nl) = nl else {
            // No boundary in this buffer yet: bring the quote state up to
            // its end, so the next call (with more bytes) resumes there.
            if csv {
                advance_quotes(buf, st, dialect, end);
                if st.in_quote {
                    continue;
                }
            }
            st.pos = end;
            return None;
        };
        if csv {
            // Process the quotes before the newline: it is a boundary only
            // if no quoted field is open there.
            advance_quotes(buf, st, dialect, nl);
            if st.in_quote {
                continue;
            }
        }
        st.pos = nl + 1;
        return Some(nl + 1);
    }
}

/// Moves the quote state forward from `st.pos` to `limit` (exclusive),
/// stopping early inside a quoted field (at the byte after its opening
/// quote).
fn advance_quotes(buf: &[u8], st: &mut ScanState, dialect: Dialect, limit: usize) {
    while st.pos < limit {
        let Some(i) = memchr(b'"', &buf[st.pos..limit]) else {
            st.pos = limit;
            return;
        };
        let p = st.pos + i;
        st.pos = p + 1;
        if st.quote_opens(buf, p, dialect) {
            st.open_quote(p);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cuts(data: &[u8], limit: ChunkLimit) -> Vec<(usize, u64)> {
        let mut st = ScanState::default();
        let mut out = Vec::new();
        let mut base = 0;
        while let Some(c) =
            scan(&data[base..], &mut st, true, Dialect { delimiter: b',', comment: None }, limit)
        {
            out.push((base + c, count_lines(&data[base..base + c])));
            base += c;
            st = ScanState::default();
        }
        out
    }

    #[test]
    fn quoted_newline_is_not_a_boundary() {
        let data = b"a,\"x\ny\",b\nc,d,e\n";
        assert_eq!(cuts(data, ChunkLimit::Records(1)), vec![(10, 2), (16, 1)]);
    }

    #[test]
    fn doubled_quotes_and_mid_field_quotes() {
        let data = b"\"say \"\"hi\"\"\",1\na,b\"\"c\nq\"\n";
        assert_eq!(cuts(data, ChunkLimit::Records(1)), vec![(15, 1), (22, 1), (25, 1)]);
    }

    #[test]
    fn byte_limit_cuts_at_first_boundary_after_target() {
        let data = b"aaaa\nbb\ncc\n";
        assert_eq!(cuts(data, ChunkLimit::Bytes(6)), vec![(8, 2)]);
    }
}
