//! The library's error type.
//!
//! Every error that input can cause names its place: the input file, the
//! absolute line (1-based, counted over the whole file, header included) and,
//! where it is known, the column or the flag. The binary adds nothing but a
//! prefix, and escapes the control characters that quoted input may hold
//! ([`escape_control`]); a library user gets the same messages.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io;

use crate::format::Compression;

/// A place in the input: the input's name and a 1-based line number.
///
/// `line` counts physical lines (`\n`) from the start of the file, so a
/// quoted CSV field that spans lines makes later records start on later
/// lines, exactly as an editor would show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The input's name as given on the command line (`-` or `<stdin>` for
    /// standard input).
    pub input: String,
    /// 1-based physical line where the record starts.
    pub line: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.input, self.line)
    }
}

/// Everything that can go wrong in a fanfold run.
///
/// Variants that come from input carry a [`Location`]; variants that come
/// from configuration name the flag.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading an input or writing the output failed.
    #[error("{path}: {source}")]
    Io {
        /// The file (or `<stdin>`, `<stdout>`) involved.
        path: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A CSV record could not be parsed (bad quoting, invalid UTF-8 where
    /// text was required).
    #[error("{at}: malformed CSV: {message}")]
    Csv {
        /// Where the record starts.
        at: Location,
        /// What the parser said.
        message: String,
    },
    /// A CSV record has a different number of fields than the header.
    #[error("{at}: expected {expected} fields (as in the header), found {found}")]
    FieldCount {
        /// Where the record starts.
        at: Location,
        /// Number of fields in the header.
        expected: usize,
        /// Number of fields in this record.
        found: usize,
    },
    /// A quoted CSV field was still open at the end of the input.
    #[error("{at}: unterminated quoted field (the quote opened on this line never closes)")]
    UnterminatedQuote {
        /// The line where the quote opened.
        at: Location,
    },
    /// An NDJSON line is not a JSON object.
    #[error("{at}:{column}: invalid JSON: {message}")]
    Json {
        /// The line.
        at: Location,
        /// 1-based column reported by the JSON parser.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// An input is not UTF-8: it starts with a UTF-16 or UTF-32 byte-order
    /// mark.
    #[error(
        "{input}: the input is {encoding} (it starts with a {encoding} byte-order mark), \
         but fanfold reads UTF-8: convert it first, e.g. `iconv -f {encoding} -t UTF-8`"
    )]
    Encoding {
        /// The input.
        input: String,
        /// The encoding its byte-order mark names, e.g. `UTF-16LE`.
        encoding: String,
    },
    /// An input is compressed: it starts with the magic number of gzip,
    /// zstd, bzip2 or xz ([`Compression::sniff`]), whatever its name.
    /// fanfold does not decompress yet, so it refuses the input rather
    /// than read the compressed bytes as records. The message says how to
    /// decompress it into fanfold's standard input (for an input named
    /// `<stdin>`: to pipe it through the tool first).
    #[error(
        "{input}: the input is {format}-compressed (it starts with the {format} magic number), \
         and fanfold does not read compressed input yet: {}",
        decompress_hint(input, *format)
    )]
    Compressed {
        /// The input.
        input: String,
        /// The compression its first bytes name.
        format: Compression,
    },
    /// The header of a later CSV input differs from the first input's.
    #[error("{input}: header {found:?} differs from the header of {first_input} {expected:?}")]
    HeaderMismatch {
        /// The input whose header differs.
        input: String,
        /// Its header fields.
        found: Vec<String>,
        /// The first input.
        first_input: String,
        /// The first input's header fields.
        expected: Vec<String>,
    },
    /// A flag names a column that does not exist.
    #[error("{flag}: unknown column `{column}`; the columns are: {}", available.join(", "))]
    UnknownColumn {
        /// The flag that named it, e.g. `--group-by`.
        flag: String,
        /// The unknown name.
        column: String,
        /// The columns that do exist, in order.
        available: Vec<String>,
    },
    /// A value under a numeric aggregate or a numeric sort key is not a
    /// number.
    #[error("{at}: column `{column}`: `{value}` is not a number ({purpose})")]
    NotNumeric {
        /// Where the record starts.
        at: Location,
        /// The column.
        column: String,
        /// The offending value (lossily decoded).
        value: String,
        /// What needed the number, e.g. `sum:amount`.
        purpose: String,
    },
    /// An NDJSON record has a key that the CSV output header lacks.
    #[error("{at}: key `{key}` is not among the output columns ({}); pass --select to choose the columns", columns.join(", "))]
    UnexpectedKey {
        /// Where the record starts.
        at: Location,
        /// The key.
        key: String,
        /// The output header.
        columns: Vec<String>,
    },
    /// A sum or mean is beyond the range of a 64-bit float.
    #[error("{aggregate}: the result is beyond the range of a 64-bit float")]
    OutOfRange {
        /// The aggregate, e.g. `sum:amount`.
        aggregate: String,
    },
    /// A flag's value is invalid.
    #[error("{flag}: {message}")]
    Flag {
        /// The flag, e.g. `--agg`.
        flag: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A jq expression (`--filter`, `--map`, `--reduce`) failed on a record,
    /// or gave a result of the wrong kind.
    #[error("{at}: {flag} `{expr}`: {message}")]
    Jq {
        /// The record it failed on.
        at: Location,
        /// The flag that gave the expression, e.g. `--filter`.
        flag: String,
        /// The expression as written.
        expr: String,
        /// What went wrong (jq's error value, or what was expected).
        message: String,
    },
    /// More records were rejected than `--max-errors` allows.
    #[error("--max-errors {limit}: {rejected} records rejected of {read} read; stopped")]
    TooManyRejects {
        /// The limit as given (`10`, `0.5%`).
        limit: String,
        /// Records rejected so far.
        rejected: u64,
        /// Records read so far.
        read: u64,
    },
    /// An `--exec` command failed on a chunk after all its attempts: it
    /// could not be started, exited with a non-zero status or by a signal,
    /// ran past `--timeout`, or printed output that does not parse. With
    /// `--on-error skip|reject` the chunk's records are set aside instead
    /// (one reject entry for the chunk).
    #[error("{0}")]
    Exec(Box<ExecError>),
    /// The run was stopped by a signal (SIGINT, SIGTERM) through its
    /// [`CancelToken`](crate::cancel::CancelToken) (see
    /// [`CancelToken::signal_flag`](crate::cancel::CancelToken::signal_flag));
    /// nothing was committed.
    #[error("interrupted by signal {signal}")]
    Interrupted {
        /// The signal number (2: SIGINT, 15: SIGTERM).
        signal: i32,
    },
    /// The run was stopped by a caller's
    /// [`CancelToken::cancel`](crate::cancel::CancelToken::cancel) on
    /// [`Pipeline::cancel`](crate::Pipeline::cancel); nothing was
    /// committed (what was written to the output so far is to be
    /// discarded).
    #[error("the run was cancelled")]
    Cancelled,
    /// A reducer's state outgrew `--memory-limit` and cannot be spilled to
    /// disk (the groups of a group-by).
    #[error("--memory-limit {}: {message}", crate::units::human_bytes(*limit))]
    MemoryLimit {
        /// The memory limit, in bytes.
        limit: u64,
        /// What passed it, and how to get past it.
        message: String,
    },
    /// A `--journal` file cannot be used: it exists and `--resume` was not
    /// given, it is not a fanfold journal, or it records a run with
    /// different inputs or flags (the message says which changed).
    #[error("{path} (--journal): {message}")]
    Journal {
        /// The journal file.
        path: String,
        /// What is wrong and how to go on.
        message: String,
    },
    /// A worker panicked while processing a chunk: a bug in fanfold.
    #[error(
        "internal error while processing the chunk at {at}: {message} (this is a bug in fanfold)"
    )]
    WorkerPanic {
        /// The first record of the chunk.
        at: Location,
        /// The panic message.
        message: String,
    },
    /// The callback of [`Pipeline::run_for_each`](crate::Pipeline::run_for_each)
    /// returned an error; the run stopped there.
    #[error("the record callback failed on output record {record}: {source}")]
    Callback {
        /// The output record it failed on (1-based, in output order).
        record: u64,
        /// The callback's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Something that should not happen happened: a bug in fanfold.
    #[error("internal error: {0} (this is a bug in fanfold)")]
    Internal(String),
}

impl Error {
    /// A [`Error::Flag`] for `flag` with `message`.
    pub fn flag(flag: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Flag { flag: flag.into(), message: message.into() }
    }

    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<String>, source: io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// True for errors that belong to one record (it cannot be parsed, a
    /// transform fails on it, a reducer cannot use a value): the ones
    /// `--on-error skip|reject` sets aside instead of stopping.
    pub fn is_record_error(&self) -> bool {
        matches!(
            self,
            Error::Csv { .. }
                | Error::FieldCount { .. }
                | Error::Json { .. }
                | Error::NotNumeric { .. }
                | Error::UnexpectedKey { .. }
                | Error::Jq { .. }
        )
    }

    /// The place in the input the error names, if any.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Error::Csv { at, .. }
            | Error::FieldCount { at, .. }
            | Error::UnterminatedQuote { at }
            | Error::Json { at, .. }
            | Error::NotNumeric { at, .. }
            | Error::UnexpectedKey { at, .. }
            | Error::Jq { at, .. }
            | Error::WorkerPanic { at, .. } => Some(at),
            Error::Exec(e) => Some(&e.at),
            _ => None,
        }
    }

    /// A short name of the error's kind, for reject reports: `csv`,
    /// `field_count`, `json`, `not_numeric`, `unexpected_key`, `transform`,
    /// `exec`, or `other`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Csv { .. } => "csv",
            Error::FieldCount { .. } => "field_count",
            Error::Json { .. } => "json",
            Error::NotNumeric { .. } => "not_numeric",
            Error::UnexpectedKey { .. } => "unexpected_key",
            Error::Jq { .. } => "transform",
            Error::Exec(_) => "exec",
            _ => "other",
        }
    }

    /// True when this is a broken pipe on the output (the reader went away,
    /// as with `fanfold big.csv | head`), which the command treats as success.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// How an `--exec` command failed on a chunk ([`Error::Exec`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{at}-{last_line}: {flag} `{command}` failed after {attempts} attempt{}: {reason}{}",
    if *.attempts == 1 { "" } else { "s" },
    stderr_hint(.stderr)
)]
pub struct ExecError {
    /// The chunk's input and first line.
    pub at: Location,
    /// The chunk's last line.
    pub last_line: u64,
    /// The step's flag: `--exec` or `--exec-persistent`.
    pub flag: String,
    /// The command as written.
    pub command: String,
    /// What went wrong in the last attempt (`exit status 1`, `timed out
    /// after 30s; ...`, `its output line 3 is not a JSON object ...`).
    pub reason: String,
    /// Attempts made (1 + retries).
    pub attempts: u32,
    /// The end of the last attempt's standard error (at most 2048 bytes,
    /// lossily decoded).
    pub stderr: String,
    /// Input records of the chunk that reached the step and are lost with
    /// it.
    pub records: u64,
}

/// The last non-empty line of a command's standard error, for a message:
/// `; stderr: ...` (at most 200 characters), or nothing.
fn stderr_hint(stderr: &str) -> String {
    match stderr.lines().rev().map(str::trim).find(|l| !l.is_empty()) {
        None => String::new(),
        Some(line) if line.chars().count() > 200 => {
            let cut: String = line.chars().take(200).collect();
            format!("; stderr: {cut}…")
        }
        Some(line) => format!("; stderr: {line}"),
    }
}

/// How to get a compressed input into fanfold, for [`Error::Compressed`]:
/// decompress it with its tool into fanfold's standard input.
fn decompress_hint(input: &str, format: Compression) -> String {
    if input == "<stdin>" {
        return format!("pipe it through `{format} -dc` first");
    }
    let quoted = shlex::try_quote(input).unwrap_or(Cow::Borrowed(input));
    format!("decompress it first, e.g. `{format} -dc {quoted} | fanfold -`")
}

/// `s` with its control characters escaped, so that a message quoting
/// input (a header name, a field, a command's standard error) cannot
/// write raw control bytes to a terminal: an escape sequence that
/// recolours it, moves the cursor or rings the bell.
///
/// Escaped: the C0 controls U+0000 to U+001F except `\n` (tab as `\t`,
/// carriage return as `\r`, the others as `\x01` ... `\x1f`), DEL as
/// `\x7f`, and the C1 controls U+0080 to U+009F as `\u{80}` ...
/// `\u{9f}`. Everything else is kept, `\n` and backslashes included, so
/// the escaping is for reading, not reversible. A `&str` holds no invalid
/// UTF-8: fanfold decodes input bytes lossily where they become text
/// (invalid sequences become U+FFFD, `�`), and this keeps U+FFFD as it
/// is. Borrows `s` when there is nothing to escape.
///
/// ```
/// use fanfold::escape_control;
/// assert_eq!(escape_control("a\x1b[31mb\tc\n"), "a\\x1b[31mb\\tc\n");
/// assert_eq!(escape_control("\u{9b}2J"), "\\u{9b}2J");
/// assert!(matches!(escape_control("plain"), std::borrow::Cow::Borrowed("plain")));
/// ```
pub fn escape_control(s: &str) -> Cow<'_, str> {
    let escaped = |c: char| c != '\n' && c.is_control();
    if !s.chars().any(escaped) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0'..='\x1f' | '\x7f' if c != '\n' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            '\u{80}'..='\u{9f}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `Result` with fanfold's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_c0_del_and_c1_controls() {
        assert_eq!(escape_control("a\tb\rc"), "a\\tb\\rc");
        assert_eq!(escape_control("\0\x01\x1b[31m\x1f"), "\\x00\\x01\\x1b[31m\\x1f");
        assert_eq!(escape_control("x\x7fy"), "x\\x7fy");
        assert_eq!(escape_control("\u{80}\u{9b}\u{9f}"), "\\u{80}\\u{9b}\\u{9f}");
    }

    #[test]
    fn keeps_newlines_and_printable_text() {
        for s in ["", "plain", "two\nlines\n", "é ü 日本 \u{fffd} \u{a0} \\x41", "\u{7e}\u{a1}"]
        {
            assert!(matches!(escape_control(s), Cow::Borrowed(b) if b == s), "{s:?}");
        }
        assert_eq!(escape_control("a\n\x07b\n"), "a\n\\x07b\n");
    }

    #[test]
    fn escaped_text_has_no_control_characters() {
        let all: String = (0..=0x2ffu32).filter_map(char::from_u32).collect();
        let out = escape_control(&all);
        assert!(out.chars().all(|c| c == '\n' || !c.is_control()), "{out:?}");
        assert_eq!(out.matches('\n').count(), 1);
    }

    #[test]
    fn compressed_message_names_the_format_and_the_tool() {
        let e = Error::Compressed { input: "my data.csv.gz".into(), format: Compression::Gzip };
        assert_eq!(
            e.to_string(),
            "my data.csv.gz: the input is gzip-compressed (it starts with the gzip magic \
             number), and fanfold does not read compressed input yet: decompress it first, \
             e.g. `gzip -dc 'my data.csv.gz' | fanfold -`"
        );
        let e = Error::Compressed { input: "<stdin>".into(), format: Compression::Xz };
        assert!(e.to_string().ends_with("yet: pipe it through `xz -dc` first"), "{e}");
    }
}
