//! The scan of one array element: where it ends, following the nesting
//! of `{}`/`[]` and whether it is inside a string, eight bytes at a time
//! (see [`ElementScan`]).

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
