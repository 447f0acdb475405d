//! Bad records: what to do with them (`--on-error`), when to give up
//! (`--max-errors`), and the reject report (`--rejects FILE`).
//!
//! The model follows Spark's read modes (FAILFAST / DROPMALFORMED, with
//! DuckDB-style reject rows instead of PERMISSIVE's null columns): a record
//! that cannot be parsed, that a transform fails on, or whose value a
//! reducer cannot use is either fatal, skipped, or skipped and reported.
//! Rejects are reported in input order, whatever the scheduling.

use std::str::FromStr;

use crate::error::{Error, ErrorKind, Result, Setting, SettingNames};
use crate::sink::encode::write_json_string;

/// What a bad record does to the run (`--on-error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Stop at the first bad record, in input order (the default).
    #[default]
    Fail,
    /// Drop bad records and count them.
    Skip,
    /// Drop bad records and write each to the rejects file.
    Reject,
}

/// When to give up on a run with bad records (`--max-errors`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxErrors {
    /// Stop as soon as more than this many records were rejected.
    Count(u64),
    /// Fail at the end when more than this percentage of the records read
    /// were rejected (0–100).
    Percent(f64),
}

/// The percentage is never NaN (parsing refuses it), so equality is total.
impl Eq for MaxErrors {}

impl FromStr for MaxErrors {
    type Err = Error;

    /// Parses `N` (a count) or `P%` (a percentage of the records read).
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::setting(
                Setting::MaxErrors,
                format!("`{s}`: use a count (10) or a percentage (0.5%)"),
            )
        };
        match s.strip_suffix('%') {
            Some(p) => {
                let v: f64 = p.trim().parse().map_err(|_| bad())?;
                if !(0.0..=100.0).contains(&v) {
                    return Err(bad());
                }
                Ok(MaxErrors::Percent(v))
            }
            None => s.trim().parse().map(MaxErrors::Count).map_err(|_| bad()),
        }
    }
}

impl std::fmt::Display for MaxErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MaxErrors::Count(n) => write!(f, "{n}"),
            MaxErrors::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl MaxErrors {
    /// True when `rejected` of `read` records is past this limit; counts
    /// are checked as the run goes (`at_end` false), percentages only at
    /// the end.
    pub(crate) fn exceeded(self, rejected: u64, read: u64, at_end: bool) -> bool {
        match self {
            MaxErrors::Count(n) => rejected > n,
            MaxErrors::Percent(p) => {
                at_end && read > 0 && rejected as f64 * 100.0 > p * read as f64
            }
        }
    }
}

/// One rejected record, or (for a chunk an `--exec` command failed on) one
/// rejected chunk: then `records` says how many input records it stands
/// for, `raw` holds their input text (one per line), and `attempts` and
/// `stderr` tell how the command failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The input it came from.
    pub input: String,
    /// The 1-based line where it starts.
    pub line: u64,
    /// The byte offset where it starts in its input.
    pub offset: u64,
    /// The chunk it was in.
    pub chunk: u64,
    /// Its position among the chunk's records, from 0.
    pub index: u64,
    /// The error's kind ([`Error::kind_name`]).
    pub kind: &'static str,
    /// The error message.
    pub message: String,
    /// The record's bytes as read (lossily decoded in the report).
    pub raw: Vec<u8>,
    /// Input records this entry stands for: 1, or for a failed `--exec`
    /// chunk the records that reached the command.
    pub records: u64,
    /// For a failed `--exec` chunk: the attempts made.
    pub attempts: Option<u32>,
    /// For a failed `--exec` chunk: the end of the command's standard
    /// error.
    pub stderr: Option<String>,
    /// For a record an `--http` step failed on: the last answer's status,
    /// when there was one.
    pub status: Option<u16>,
    /// For a record an `--http` step failed on: the start of the last
    /// answer's body (secrets redacted; empty without an answer).
    pub body: Option<String>,
}

impl Reject {
    /// The reject for `error` on the record `raw` at `offset`, the
    /// `index`-th record of chunk `chunk`; `input` and `line` come from the
    /// error's location. An [`ErrorKind::Exec`] gives a chunk's entry, with its
    /// record count, attempts and standard error.
    pub fn new(
        error: &Error,
        raw: &[u8],
        offset: u64,
        chunk: u64,
        index: u64,
        names: SettingNames,
    ) -> Reject {
        let (input, line) =
            error.location().map_or((String::new(), 0), |l| (l.input.clone(), l.line));
        let (records, attempts, stderr) = match error.kind() {
            ErrorKind::Exec(e) => (e.records, Some(e.attempts), Some(e.stderr.clone())),
            ErrorKind::Http(e) => (1, Some(e.attempts), None),
            _ => (1, None, None),
        };
        let (status, body) = match error.kind() {
            ErrorKind::Http(e) => (e.status, Some(e.body.clone())),
            _ => (None, None),
        };
        Reject {
            records,
            attempts,
            stderr,
            status,
            body,
            input,
            line,
            offset,
            chunk,
            index,
            kind: error.kind_name(),
            message: error.display_with(&names.0).to_string(),
            raw: raw.to_vec(),
        }
    }

    /// Appends the reject as one NDJSON line: `input`, `line`, `byte`,
    /// `chunk`, `kind`, `message`, for a failed `--exec` chunk `records`,
    /// `attempts` and `stderr`, for a record an `--http` step failed on
    /// `records`, `attempts`, `status` and `body`, then `record`.
    pub fn write_ndjson(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"input\":");
        write_json_string(out, self.input.as_bytes());
        out.extend_from_slice(
            format!(
                ",\"line\":{},\"byte\":{},\"chunk\":{},\"kind\":",
                self.line, self.offset, self.chunk
            )
            .as_bytes(),
        );
        write_json_string(out, self.kind.as_bytes());
        out.extend_from_slice(b",\"message\":");
        write_json_string(out, self.message.as_bytes());
        if let Some(attempts) = self.attempts {
            out.extend_from_slice(
                format!(",\"records\":{},\"attempts\":{attempts}", self.records).as_bytes(),
            );
            if let Some(stderr) = &self.stderr {
                out.extend_from_slice(b",\"stderr\":");
                write_json_string(out, stderr.as_bytes());
            }
        }
        if let Some(body) = &self.body {
            match self.status {
                Some(s) => out.extend_from_slice(format!(",\"status\":{s}").as_bytes()),
                None => out.extend_from_slice(b",\"status\":null"),
            }
            out.extend_from_slice(b",\"body\":");
            write_json_string(out, body.as_bytes());
        }
        out.extend_from_slice(b",\"record\":");
        write_json_string(out, &self.raw);
        out.extend_from_slice(b"}\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_errors_parse_and_trip() {
        assert_eq!("10".parse::<MaxErrors>().unwrap(), MaxErrors::Count(10));
        assert_eq!("0.5%".parse::<MaxErrors>().unwrap(), MaxErrors::Percent(0.5));
        assert!("x".parse::<MaxErrors>().is_err());
        assert!("101%".parse::<MaxErrors>().is_err());
        assert!(!MaxErrors::Count(2).exceeded(2, 10, false));
        assert!(MaxErrors::Count(2).exceeded(3, 10, false));
        assert!(!MaxErrors::Percent(10.0).exceeded(5, 10, false));
        assert!(MaxErrors::Percent(10.0).exceeded(2, 10, true));
        assert!(!MaxErrors::Percent(10.0).exceeded(1, 10, true));
    }
}
