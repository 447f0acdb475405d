//! The scan that splits a JSON array (RFC 8259 §5) between its elements.
//!
//! The splitter cuts an array into chunks without parsing it: it follows the
//! array's top-level tokens (`[`, elements, `,`, `]`) and, inside an
//! element, only the nesting depth of `{}`/`[]` and whether it is inside a
//! string (where `\` escapes the next byte, so `"a\"]"` holds no bracket).
//! A chunk ends right after an element's closing `}`, so it holds a run of
//! whole elements with the commas and whitespace between them. The first
//! chunk of an input starts with its `[`; the closing `]` and what follows
//! go with the last chunk, or are dropped when a chunk already ends at the
//! last element (they hold no record). Workers parse each element with
//! `serde_json`, which checks everything inside it.
//!
//! The scan checks the array's own syntax, so that the workers can trust
//! it: the input starts with `[` (after whitespace; the splitter has
//! stripped a UTF-8 BOM), every element starts with `{`, elements are
//! separated by exactly one `,`, and only whitespace follows the closing
//! `]`. An input holding only whitespace is empty, like an empty CSV file.
//!
//! Errors are reported in input order: before reporting a syntax error, the
//! scan first cuts after the last whole element before it, so that the
//! workers see (and report errors in) every element before the error,
//! whatever the chunk size.

use crate::source::ChunkLimit;
use crate::syntax::json::{is_ws, not_an_object, show};

/// 0x80 in each byte of `w` equal to `b`, 0 in the others. Exact: no false
/// hits from carries between bytes.
fn zero_bytes(w: u64, b: u8) -> u64 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let t = w ^ (u64::from(b) * 0x0101_0101_0101_0101);
    !(((t & LOW7) + LOW7) | t | LOW7)
}

/// The 0x80 bits of a [`zero_bytes`] mask gathered into a byte: bit `i`
/// for byte `i` (the little-endian order of [`u64::from_le_bytes`]).
fn gather(m: u64) -> u64 {
    (m >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// A resumable scan of one element, from its opening bracket to the bracket
/// that closes it, through strings and escapes. It checks nothing else:
/// brackets of either kind count, so `{"a":[1}]` ends at its `]`, and the
/// JSON parser then reports the mismatched `}`.
///
/// The scan reads eight bytes at a time as a `u64`: a word with neither a
/// bracket nor a `\` only flips the in-string state once per `"` it
/// holds; a word with brackets follows its quotes and brackets with bit
/// masks; a `\` is stepped over one byte at a time.
#[derive(Debug, Clone, Default)]
pub(crate) struct ElementScan {
    /// Where the element starts.
    start: usize,
    /// The next byte to look at.
    pos: usize,
    /// Open brackets.
    depth: usize,
    in_string: bool,
}

impl ElementScan {
    /// A scan of the element whose opening bracket is at `start`.
    pub(crate) fn at(start: usize) -> Self {
        ElementScan { start, pos: start, ..ElementScan::default() }
    }

    /// Advances through `buf` (the same buffer as before, possibly longer).
    /// Returns the position just after the element's closing bracket, or
    /// `None` when `buf` ends first.
    pub(crate) fn advance(&mut self, buf: &[u8]) -> Option<usize> {
        let n = buf.len();
        let (mut p, mut depth, mut in_string) = (self.pos, self.depth, self.in_string);
        let end = loop {
            if let Some(word) = buf.get(p..p + 8) {
                let w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
                let backslashes = zero_bytes(w, b'\\');
                // `{` and `[` differ only in 0x20, and so do `}` and `]`.
                let lower = w | 0x2020_2020_2020_2020;
                let (opens, closes) = (zero_bytes(lower, b'{'), zero_bytes(lower, b'}'));
                let quotes = zero_bytes(w, b'"');
                if backslashes | opens | closes == 0 {
                    in_string ^= quotes.count_ones() % 2 == 1;
                    p += 8;
                    continue;
                }
                if backslashes == 0 {
                    let (quotes, opens, closes) = (gather(quotes), gather(opens), gather(closes));
                    // Bytes inside strings (opening quote included): a
                    // prefix XOR of the quotes, flipped if a string is open.
                    let mut strings = quotes ^ (quotes << 1);
                    strings ^= strings << 2;
                    strings ^= strings << 4;
                    if in_string {
                        strings = !strings;
                    }
                    let mut brackets = (opens | closes) & !strings & 0xFF;
                    let mut closed = None;
                    while brackets != 0 {
                        let i = brackets.trailing_zeros() as usize;
                        if opens >> i & 1 == 1 {
                            depth += 1;
                        } else {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                closed = Some(i);
                                break;
                            }
                        }
                        brackets &= brackets - 1;
                    }
                    if let Some(i) = closed {
                        // Outside strings there: `in_string` is false.
                        break Some(p + i + 1);
                    }
                    in_string ^= quotes.count_ones() % 2 == 1;
                    p += 8;
                    continue;
                }
            }
            // One byte at a time: near a `\` and at the end of the buffer.
            let Some(&b) = buf.get(p) else { break None };
            if in_string {
                match b {
                    b'"' => in_string = false,
                    b'\\' if p + 1 < n => p += 1,
                    // Resume at the `\` when more bytes come.
                    b'\\' => break None,
                    _ => {}
                }
            } else {
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            break Some(p + 1);
                        }
                    }
                    _ => {}
                }
            }
            p += 1;
        };
        self.pos = end.unwrap_or(p.min(n));
        (self.depth, self.in_string) = (depth, in_string);
        end
    }

    /// Where the string that is still open when the scan of `buf` stopped
    /// began, if one is: found again one byte at a time, as it is needed
    /// only for an error message.
    pub(crate) fn open_string(&self, buf: &[u8]) -> Option<usize> {
        if !self.in_string {
            return None;
        }
        let (mut p, mut open) = (self.start, None);
        while p < self.pos.min(buf.len()) {
            match (open, buf[p]) {
                (Some(_), b'"') => open = None,
                (Some(_), b'\\') => p += 1,
                (None, b'"') => open = Some(p),
                _ => {}
            }
            p += 1;
        }
        open
    }
}

/// Where the scan is in the array's top-level syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Before the opening `[`.
    Open,
    /// Right after `[`: an element or `]` comes next.
    First,
    /// After a `,`: an element comes next.
    AfterComma,
    /// Inside an element.
    InElement,
    /// After an element: `,` or `]` comes next.
    AfterElement,
    /// After the closing `]`: only whitespace may follow.
    Closed,
}

/// What [`ArrayScan::scan`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Cut the buffer at `at` (just after an element, or at the end of the
    /// input), and resume the next chunk's scan in `phase`.
    Cut { at: usize, phase: Phase },
    /// The buffer ends before the chunk does: read more.
    More,
    /// The input is finished and nothing since the last cut holds an
    /// element: drop the rest of the buffer.
    Done,
    /// A syntax error at byte `at` of the buffer, with no whole element
    /// before it.
    Error { at: usize, message: String },
}

/// The scan state of one input's buffer since the last cut.
#[derive(Debug, Clone)]
pub(crate) struct ArrayScan {
    /// The next byte to look at.
    pos: usize,
    phase: Phase,
    element: ElementScan,
    /// Start of the element being scanned, or of the last whole one.
    element_start: usize,
    /// Whole elements since the last cut.
    elements: usize,
    /// End of the last whole element.
    last_end: usize,
}

impl Default for ArrayScan {
    fn default() -> Self {
        ArrayScan::resume(Phase::Open)
    }
}

impl ArrayScan {
    /// The state at the start of a chunk that begins in `phase`
    /// ([`Phase::Open`] at the start of an input).
    pub(crate) fn resume(phase: Phase) -> Self {
        ArrayScan {
            pos: 0,
            phase,
            element: ElementScan::default(),
            element_start: 0,
            elements: 0,
            last_end: 0,
        }
    }

    /// Start of the last element seen (the element ending at a
    /// [`Step::Cut`]).
    pub(crate) fn element_start(&self) -> usize {
        self.element_start
    }

    /// Scans `buf` from where the last call stopped until a chunk ends:
    /// `limit` elements ([`ChunkLimit::Records`]) or the first element end
    /// at or after the target ([`ChunkLimit::Bytes`]). `eof` says that
    /// `buf` holds the rest of the input.
    pub(crate) fn scan(&mut self, buf: &[u8], limit: ChunkLimit, eof: bool) -> Step {
        loop {
            if self.phase == Phase::InElement {
                match self.element.advance(buf) {
                    Some(end) => {
                        self.pos = end;
                        self.phase = Phase::AfterElement;
                        self.elements += 1;
                        self.last_end = end;
                        let done = match limit {
                            ChunkLimit::Records(n) => self.elements >= n,
                            ChunkLimit::Bytes(t) => end >= t,
                            ChunkLimit::Auto => end >= crate::source::chunk::DEFAULT_CHUNK_BYTES,
                        };
                        if done {
                            return Step::Cut { at: end, phase: Phase::AfterElement };
                        }
                    }
                    None if !eof => return Step::More,
                    None => {
                        return match self.element.open_string(buf) {
                            Some(at) => self.fail(
                                at,
                                "unterminated string: the string that opens here never closes"
                                    .into(),
                            ),
                            None => self.fail(self.element_start, UNTERMINATED_OBJECT.into()),
                        };
                    }
                }
                continue;
            }
            while self.pos < buf.len() && is_ws(buf[self.pos]) {
                self.pos += 1;
            }
            let Some(&b) = buf.get(self.pos) else {
                if !eof {
                    return Step::More;
                }
                return match self.phase {
                    Phase::Open | Phase::Closed if self.elements > 0 => {
                        Step::Cut { at: buf.len(), phase: self.phase }
                    }
                    Phase::Open | Phase::Closed => Step::Done,
                    _ => self.fail(
                        buf.len(),
                        "unterminated array: the input ends before the closing `]`".into(),
                    ),
                };
            };
            let at = self.pos;
            match (self.phase, b) {
                (Phase::Open, b'[') => self.phase = Phase::First,
                (Phase::Open, _) => {
                    return self.fail(
                        at,
                        format!(
                            "expected `[`, found {}: a JSON array input must start with `[` \
                             (for one object per line, use --input-format ndjson)",
                            show(b)
                        ),
                    )
                }
                (Phase::First | Phase::AfterComma, b'{') => {
                    self.phase = Phase::InElement;
                    self.element = ElementScan::at(at);
                    self.element_start = at;
                    continue;
                }
                (Phase::First, b']') => self.phase = Phase::Closed,
                (Phase::AfterComma, b']') => {
                    return self.fail(at, "expected an object after `,`, found `]`".into())
                }
                (Phase::First | Phase::AfterComma, b',') => {
                    return self.fail(at, "expected an object, found `,`".into())
                }
                (Phase::First | Phase::AfterComma, _) => return self.fail(at, not_an_object(b)),
                (Phase::AfterElement, b',') => self.phase = Phase::AfterComma,
                (Phase::AfterElement, b']') => self.phase = Phase::Closed,
                (Phase::AfterElement, _) => {
                    return self.fail(
                        at,
                        format!("expected `,` or `]` after an array element, found {}", show(b)),
                    )
                }
                (Phase::Closed, _) => {
                    return self.fail(
                        at,
                        format!("trailing characters after the closing `]`: found {}", show(b)),
                    )
                }
                (Phase::InElement, _) => unreachable!("elements are scanned above"),
            }
            self.pos += 1;
        }
    }

    /// An error at `at`, after the whole elements before it have been cut
    /// off into a chunk of their own.
    fn fail(&self, at: usize, message: String) -> Step {
        if self.elements > 0 {
            Step::Cut { at: self.last_end, phase: Phase::AfterElement }
        } else {
            Step::Error { at, message }
        }
    }
}

/// The message for an element that does not end before the input does.
pub(crate) const UNTERMINATED_OBJECT: &str =
    "unterminated object: the array element that starts here never closes";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::json::line_column;

    /// Scans all of `data` (as one buffer at EOF) into chunks: the cut
    /// positions, then the final step.
    fn cuts(data: &[u8], limit: ChunkLimit) -> (Vec<usize>, Step) {
        let mut st = ArrayScan::default();
        let mut base = 0;
        let mut out = Vec::new();
        loop {
            match st.scan(&data[base..], limit, true) {
                Step::Cut { at, phase } => {
                    base += at;
                    out.push(base);
                    st = ArrayScan::resume(phase);
                }
                other => return (out, other),
            }
        }
    }

    /// Feeds `data` in pieces of `step` bytes (the buffer grows as the
    /// splitter's does) and returns the cuts.
    fn cuts_streamed(data: &[u8], limit: ChunkLimit, step: usize) -> (Vec<usize>, Step) {
        let mut st = ArrayScan::default();
        let (mut base, mut have) = (0, 0);
        let mut out = Vec::new();
        loop {
            let eof = have == data.len();
            match st.scan(&data[base..have], limit, eof) {
                Step::Cut { at, phase } => {
                    base += at;
                    out.push(base);
                    st = ArrayScan::resume(phase);
                }
                Step::More => have = (have + step).min(data.len()),
                other => return (out, other),
            }
        }
    }

    /// The element scan, one byte at a time: the end, or where an open
    /// string started when the bytes end first.
    fn reference_scan(data: &[u8]) -> (Option<usize>, Option<usize>) {
        let (mut depth, mut string, mut p) = (0usize, None, 0);
        while p < data.len() {
            match (string, data[p]) {
                (Some(_), b'"') => string = None,
                (Some(_), b'\\') => p += 1,
                (Some(_), _) => {}
                (None, b'"') => string = Some(p),
                (None, b'{' | b'[') => depth += 1,
                (None, b'}' | b']') => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return (Some(p + 1), None);
                    }
                }
                (None, _) => {}
            }
            p += 1;
        }
        (None, string)
    }

    proptest::proptest! {
        // No failure files in the source tree.
        #![proptest_config(proptest::test_runner::Config {
            failure_persistence: None,
            ..proptest::test_runner::Config::default()
        })]

        /// The word-at-a-time scan agrees with the byte-at-a-time one, in
        /// one buffer or resumed on a longer one.
        #[test]
        fn element_scan_matches_reference(
            body in proptest::collection::vec(proptest::sample::select(
                b"{}[]\"\"\"\\ ab,:\n\xC3\xA9{}".to_vec()), 0..120),
            split in 0usize..130,
        ) {
            let mut data = vec![b'{'];
            data.extend_from_slice(&body);
            let (end, open) = reference_scan(&data);
            let mut scan = ElementScan::at(0);
            proptest::prop_assert_eq!(scan.advance(&data), end);
            if end.is_none() {
                proptest::prop_assert_eq!(scan.open_string(&data), open);
            }
            let mut resumed = ElementScan::at(0);
            let first = resumed.advance(&data[..split.min(data.len())]);
            if first.is_none() {
                proptest::prop_assert_eq!(resumed.advance(&data), end);
            } else {
                proptest::prop_assert_eq!(first, end);
            }
        }
    }

    #[test]
    fn element_scan_follows_depth_strings_and_escapes() {
        let data = br#"{"a":[1,{"b":"]}"}],"c\"}":"x\\","d":"\"{"} tail"#;
        let end = data.iter().position(|&b| b == b' ').unwrap();
        assert_eq!(ElementScan::at(0).advance(data), Some(end));
        // Resumed at every split point, including right after a `\`.
        for split in 0..end {
            let mut s = ElementScan::at(0);
            assert_eq!(s.advance(&data[..split]), None, "split {split}");
            assert_eq!(s.advance(data), Some(end), "split {split}");
        }
    }

    #[test]
    fn cuts_after_elements() {
        let data = b"[ {\"a\":1},\n  {\"a\":[2,3]} ,{\"s\":\"},{\"}\n]\n";
        // The `}` inside the last element's string is not its end.
        let ends: Vec<usize> = vec![9, 24, 37];
        assert_eq!(cuts(data, ChunkLimit::Records(1)), (ends.clone(), Step::Done));
        assert_eq!(cuts(data, ChunkLimit::Records(2)), (vec![24, data.len()], Step::Done));
        assert_eq!(cuts(data, ChunkLimit::Records(5)), (vec![data.len()], Step::Done));
        // A byte target cuts at the first element end at or after it.
        assert_eq!(cuts(data, ChunkLimit::Bytes(10)), (vec![24, 37], Step::Done));
        assert_eq!(cuts(data, ChunkLimit::Bytes(20)), (vec![24, data.len()], Step::Done));
        assert_eq!(cuts(data, ChunkLimit::Bytes(1)), (ends.clone(), Step::Done));
        for step in [1, 2, 3, 7] {
            assert_eq!(
                cuts_streamed(data, ChunkLimit::Records(1), step),
                (ends.clone(), Step::Done)
            );
        }
    }

    #[test]
    fn elements_spanning_the_target_and_reads() {
        // Pretty-printed elements around 100 bytes each; targets fall
        // inside elements, strings and escapes.
        let mut data = b"[\n".to_vec();
        let mut ends = Vec::new();
        for i in 0..20 {
            if i > 0 {
                data.extend_from_slice(b",\n");
            }
            let el = format!(
                "  {{\n    \"id\": {i},\n    \"s\": \"q\\\"]}}{{[\\\\\",\n    \"n\": [[{{}}]]\n  }}"
            );
            data.extend_from_slice(el.as_bytes());
            ends.push(data.len());
        }
        data.extend_from_slice(b"\n]\n");
        for target in [1, 50, 99, 100, 101, 333, 5000] {
            let (got, last) = cuts(&data, ChunkLimit::Bytes(target));
            assert_eq!(last, Step::Done);
            let mut want = Vec::new();
            let mut base = 0;
            for &e in &ends {
                if e - base >= target {
                    want.push(e);
                    base = e;
                }
            }
            if base < data.len() && want.last() != Some(&ends[19]) {
                want.push(data.len());
            }
            assert_eq!(got, want, "target {target}");
            for step in [1, 13, 64] {
                let streamed = cuts_streamed(&data, ChunkLimit::Bytes(target), step);
                assert_eq!(streamed, (want.clone(), Step::Done), "target {target} step {step}");
            }
        }
    }

    #[test]
    fn empty_inputs() {
        assert_eq!(cuts(b"", ChunkLimit::Records(1)), (vec![], Step::Done));
        assert_eq!(cuts(b" \n ", ChunkLimit::Records(1)), (vec![], Step::Done));
        assert_eq!(cuts(b"[]", ChunkLimit::Records(1)), (vec![], Step::Done));
        assert_eq!(cuts(b" [ \n ] \n", ChunkLimit::Records(1)), (vec![], Step::Done));
    }

    /// The cuts before a syntax error, and the error's absolute position
    /// and message.
    fn error(data: &[u8]) -> (Vec<usize>, usize, String) {
        match cuts(data, ChunkLimit::Records(100)) {
            (c, Step::Error { at, message }) => {
                let base = c.last().copied().unwrap_or(0);
                (c, base + at, message)
            }
            other => panic!("{}: {other:?}", String::from_utf8_lossy(data)),
        }
    }

    #[test]
    fn syntax_errors_come_after_the_elements_before_them() {
        let (c, at, m) = error(b"{\"a\":1}");
        assert_eq!((c, at), (vec![], 0));
        assert!(m.starts_with("expected `[`, found `{`"), "{m}");
        let (c, at, m) = error(b"[{},{} {}]");
        assert_eq!((c, at), (vec![6], 7));
        assert_eq!(m, "expected `,` or `]` after an array element, found `{`");
        let (c, at, m) = error(b"[{},,{}]");
        assert_eq!((c, at, m.as_str()), (vec![3], 4, "expected an object, found `,`"));
        let (c, at, m) = error(b"[,{}]");
        assert_eq!((c, at, m.as_str()), (vec![], 1, "expected an object, found `,`"));
        let (c, at, m) = error(b"[{},]");
        assert_eq!((c, at, m.as_str()), (vec![3], 4, "expected an object after `,`, found `]`"));
        let (c, at, m) = error(b"[{}, 1]");
        assert_eq!((c, at), (vec![3], 5));
        assert!(m.starts_with("array element is not a JSON object: found `1`"), "{m}");
        let (c, at, m) = error(b"[{}] x");
        assert_eq!((c, at), (vec![3], 5));
        assert_eq!(m, "trailing characters after the closing `]`: found `x`");
        let (c, at, m) = error(b"[{}]]");
        assert_eq!((c, at), (vec![3], 4));
        assert!(m.starts_with("trailing characters"), "{m}");
        let (c, at, m) = error(b"[{},{}");
        assert_eq!((c, at), (vec![6], 6));
        assert!(m.starts_with("unterminated array"), "{m}");
        let (c, at, m) = error(b"[{},\n{\"a\":\"x}]\n");
        assert_eq!((c, at), (vec![3], 10));
        assert!(m.starts_with("unterminated string"), "{m}");
        let (c, at, m) = error(b"[{}, {\"a\":[1]");
        assert_eq!((c, at), (vec![3], 5));
        assert!(m.starts_with("unterminated object"), "{m}");
        // Mismatched brackets still balance: the element ends at the `]`
        // (its parser reports the `}`), then the array is unterminated.
        let (c, at, m) = error(b"[{}, {\"a\":[1}]");
        assert_eq!((c, at), (vec![14], 14));
        assert!(m.starts_with("unterminated array"), "{m}");
        let (_, _, m) = error(b"[\xFF]");
        assert!(m.contains("byte 0xFF"), "{m}");
    }

    #[test]
    fn line_and_column() {
        let data = b"ab\ncd\nef";
        assert_eq!(line_column(data, 5, 7, 0), (5, 7));
        assert_eq!(line_column(data, 5, 7, 1), (5, 8));
        assert_eq!(line_column(data, 5, 7, 3), (6, 1));
        assert_eq!(line_column(data, 5, 7, 7), (7, 2));
        assert_eq!(line_column(data, 5, 7, 8), (7, 3));
    }
}
