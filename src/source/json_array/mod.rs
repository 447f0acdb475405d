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

use crate::error::{msg, Message, Setting};
use crate::source::ChunkLimit;
use crate::syntax::json::{is_ws, not_an_object, show};

mod element;

use element::ElementScan;

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
    Error { at: usize, message: Message },
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
                                "unterminated string: the string that opens here never closes",
                            ),
                            None => self.fail(self.element_start, UNTERMINATED_OBJECT),
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
                        "unterminated array: the input ends before the closing `]`",
                    ),
                };
            };
            let at = self.pos;
            match (self.phase, b) {
                (Phase::Open, b'[') => self.phase = Phase::First,
                (Phase::Open, _) => {
                    return self.fail(
                        at,
                        msg![
                            format!(
                                "expected `[`, found {}: a JSON array input must start with \
                                 `[` (for one object per line, use ",
                                show(b)
                            ),
                            Setting::InputFormat,
                            " ndjson)",
                        ],
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
                    return self.fail(at, "expected an object after `,`, found `]`")
                }
                (Phase::First | Phase::AfterComma, b',') => {
                    return self.fail(at, "expected an object, found `,`")
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
    fn fail(&self, at: usize, message: impl Into<Message>) -> Step {
        if self.elements > 0 {
            Step::Cut { at: self.last_end, phase: Phase::AfterElement }
        } else {
            Step::Error { at, message: message.into() }
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
                (c, base + at, message.to_string())
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
