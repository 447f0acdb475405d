//! Delimiter detection: which of `,` `;` tab and `|` separates the fields
//! of a CSV input whose name and settings do not say, read from its first
//! lines. The approach is the one of DuckDB's CSV sniffer ("Dialect
//! detection", `src/execution/operator/csv_scanner/sniffer/dialect_detection.cpp`)
//! and Python's `csv.Sniffer`: parse the first records with each candidate
//! and keep the one that gives the same number of fields, more than one, on
//! every record, the most fields winning.

use memchr::memchr;

use crate::syntax::csv::new_core;

/// The delimiters tried, in the order that breaks ties.
pub const CANDIDATES: [u8; 4] = [b',', b'\t', b';', b'|'];

/// Records read to decide, at most.
const SNIFF_RECORDS: usize = 50;

/// What the sniffer made of an input's first lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SniffedDelimiter {
    /// The delimiter to use: the one found, or `,` when none was.
    pub delimiter: u8,
    /// One candidate alone gave a steady number of fields, more than one,
    /// on every record read.
    pub sure: bool,
    /// When not sure: the candidate that splits the header into the most
    /// fields (more than one), which the error for a one-field header
    /// suggests.
    pub suggestion: Option<u8>,
    /// Records read to decide (the header included).
    pub records: usize,
}

/// Sniffs the delimiter of the CSV text `head` (an input's first bytes,
/// decoded; `complete` when it is the whole input), after its first
/// `skip_rows` lines, leaving out blank lines and lines that begin with
/// `comment`.
pub fn sniff_delimiter(
    head: &[u8],
    skip_rows: u64,
    comment: Option<u8>,
    complete: bool,
) -> SniffedDelimiter {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let mut text = head;
    for _ in 0..skip_rows {
        text = match memchr(b'\n', text) {
            Some(i) => &text[i + 1..],
            None => &[],
        };
    }
    let counts: Vec<Vec<usize>> =
        CANDIDATES.iter().map(|&d| field_counts(text, d, comment, complete)).collect();
    let steady = |c: &Vec<usize>| c.first().is_some_and(|&n| n > 1) && c.iter().all(|&n| n == c[0]);
    let best = (0..CANDIDATES.len())
        .filter(|&i| steady(&counts[i]))
        .max_by_key(|&i| (counts[i][0], std::cmp::Reverse(i)));
    let records = counts.iter().map(Vec::len).max().unwrap_or(0);
    match best {
        Some(i) => {
            let rivals = (0..CANDIDATES.len())
                .filter(|&j| j != i && steady(&counts[j]) && counts[j][0] == counts[i][0])
                .count();
            SniffedDelimiter {
                delimiter: CANDIDATES[i],
                sure: rivals == 0,
                suggestion: None,
                records,
            }
        }
        None => {
            let header = |i: usize| counts[i].first().copied().unwrap_or(0);
            let suggestion = (0..CANDIDATES.len())
                .filter(|&i| header(i) > 1)
                .max_by_key(|&i| (header(i), std::cmp::Reverse(i)))
                .map(|i| CANDIDATES[i]);
            SniffedDelimiter { delimiter: b',', sure: false, suggestion, records }
        }
    }
}

/// The number of fields of each of the first records of `text` read with
/// `delimiter` (blank and comment lines left out); the last record is
/// left out when `text` may end in the middle of it.
fn field_counts(text: &[u8], delimiter: u8, comment: Option<u8>, complete: bool) -> Vec<usize> {
    let mut core = new_core(delimiter);
    let mut out = vec![0u8; text.len() + 1];
    let mut ends = vec![0usize; 1024];
    let mut counts = Vec::new();
    let mut pos = 0;
    while pos < text.len() && counts.len() < SNIFF_RECORDS {
        if matches!(text[pos], b'\n' | b'\r') {
            pos += 1;
            continue;
        }
        if comment == Some(text[pos]) {
            pos = memchr(b'\n', &text[pos..]).map_or(text.len(), |i| pos + i + 1);
            continue;
        }
        let (mut nin, mut nend) = (0, 0);
        let ended = loop {
            let (res, i, _, e) = core.read_record(&text[pos + nin..], &mut out, &mut ends[nend..]);
            nin += i;
            nend += e;
            match res {
                csv_core::ReadRecordResult::Record => break true,
                csv_core::ReadRecordResult::InputEmpty if pos + nin < text.len() => continue,
                csv_core::ReadRecordResult::OutputEndsFull if nend == ends.len() => {
                    ends.resize(ends.len() * 2, 0);
                }
                csv_core::ReadRecordResult::OutputFull => break false,
                _ => break false,
            }
        };
        if !ended {
            if complete {
                let (_, _, _, e) = core.read_record(&[], &mut out, &mut ends[nend..]);
                counts.push(nend + e);
            }
            break;
        }
        counts.push(nend);
        pos += nin;
        crate::syntax::csv::reset(&mut core);
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sniff(text: &str) -> SniffedDelimiter {
        sniff_delimiter(text.as_bytes(), 0, None, true)
    }

    #[test]
    fn finds_the_steady_delimiter() {
        let s = sniff("name;price;note\nA;1,5;x\nB;2,25;\"a;b\"\n");
        assert_eq!((s.delimiter, s.sure), (b';', true));
        let s = sniff("a\tb\nx, y\tz\n");
        assert_eq!((s.delimiter, s.sure), (b'\t', true));
        let s = sniff("a|b|c\n1|2|3\n");
        assert_eq!((s.delimiter, s.sure), (b'|', true));
        let s = sniff("a,b\n\"x;y\",2\n");
        assert_eq!((s.delimiter, s.sure), (b',', true));
    }

    #[test]
    fn a_tie_or_nothing_steady_is_unsure() {
        // Two fields with `,` and with `;` on every line: a tie.
        let s = sniff("a,b;c\n1,2;3\n");
        assert_eq!((s.delimiter, s.sure), (b',', false));
        // A one-column file: nothing steady, nothing to suggest.
        let s = sniff("name\nOslo\nLima\n");
        assert_eq!((s.delimiter, s.sure, s.suggestion), (b',', false, None));
        // Ragged `;` rows: unsure, but the header looks `;`-separated.
        let s = sniff("a;b;c\n1;2\n3;4;5;6\n");
        assert_eq!((s.delimiter, s.sure, s.suggestion), (b',', false, Some(b';')));
    }

    #[test]
    fn skips_preamble_comments_and_a_cut_last_record() {
        let text =
            "Report of 2024\nexported by X, Y and Z\n# a comment, with commas\na;b\n1;2\n3;4";
        let s = sniff_delimiter(text.as_bytes(), 2, Some(b'#'), false);
        assert_eq!((s.delimiter, s.sure, s.records), (b';', true, 2));
    }
}
