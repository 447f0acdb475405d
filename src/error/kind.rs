//! [`ErrorKind`]: what went wrong, and its message.

use std::fmt;
use std::io;

use super::{ExecError, HttpError, Location, Message, Setting};
use crate::format::Compression;

/// What went wrong: the kinds of [`Error`](super::Error).
///
/// Variants that come from input carry a [`Location`]; variants that come
/// from configuration name the [`Setting`].
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Reading an input or writing the output failed.
    Io {
        /// The file (or `<stdin>`, `<stdout>`) involved.
        path: String,
        /// What the file is for, printed after the path in parentheses
        /// (`journal`, `temp_dir, spill file`), if anything.
        note: Option<Message>,
        /// The underlying error.
        source: io::Error,
    },
    /// A CSV record could not be parsed (bad quoting, invalid UTF-8 where
    /// text was required).
    Csv {
        /// Where the record starts.
        at: Location,
        /// What the parser said.
        message: Message,
    },
    /// A CSV record has a different number of fields than the header.
    FieldCount {
        /// Where the record starts.
        at: Location,
        /// Number of fields in the header.
        expected: usize,
        /// Number of fields in this record.
        found: usize,
    },
    /// A quoted CSV field was still open at the end of the input.
    UnterminatedQuote {
        /// The line where the quote opened.
        at: Location,
    },
    /// An NDJSON line is not a JSON object.
    Json {
        /// The line.
        at: Location,
        /// 1-based column reported by the JSON parser.
        column: usize,
        /// What the parser said (and, for a JSON array input, what to set).
        message: Message,
    },
    /// An input is UTF-32: it starts with a UTF-32 byte-order mark, and
    /// the Encoding Standard, whose decoders fanfold uses, has none for it.
    Encoding {
        /// The input.
        input: String,
        /// The encoding its byte-order mark names, e.g. `UTF-16LE`.
        encoding: String,
    },
    /// An input could not be decoded to text: its compressed stream
    /// (recognised by [`Compression::sniff`]) is corrupt or ends before its
    /// end marker, or its bytes are not valid in its text encoding (a UTF-16
    /// byte-order mark, or `--encoding`). A failure of the whole input,
    /// never a record's: `--on-error skip` does not pass over it.
    Decode {
        /// The input.
        input: String,
        /// The compression format, or `None` for a text encoding failure.
        compression: Option<Compression>,
        /// The encoding, for a text encoding failure.
        encoding: Option<&'static str>,
        /// Bytes of the stored (compressed) input consumed when it failed.
        offset: u64,
        /// The line of the decoded text the failure came on: the records
        /// before it were read.
        line: u64,
        /// The stream ended early (a truncated file).
        truncated: bool,
        /// What the decoder said.
        message: String,
    },
    /// The header of a later CSV input differs from the first input's.
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
    /// A setting names a column that does not exist.
    UnknownColumn {
        /// The setting that named it, e.g. [`Setting::GroupBy`].
        setting: Setting,
        /// The unknown name.
        column: String,
        /// The columns that do exist, in order.
        available: Vec<String>,
    },
    /// A value under a numeric aggregate or a numeric sort key is not a
    /// number.
    NotNumeric {
        /// Where the record starts.
        at: Location,
        /// The column.
        column: String,
        /// The offending value (lossily decoded).
        value: String,
        /// What needed the number, e.g. `sum:amount`, `sort_by amount:n`.
        purpose: Message,
    },
    /// An NDJSON record has a key that the CSV output header lacks.
    UnexpectedKey {
        /// Where the record starts.
        at: Location,
        /// The key.
        key: String,
        /// The output header.
        columns: Vec<String>,
    },
    /// A sum or mean is beyond the range of a 64-bit float.
    OutOfRange {
        /// The aggregate, e.g. `sum:amount`.
        aggregate: String,
    },
    /// A setting's value is invalid.
    Setting {
        /// The setting, e.g. [`Setting::Agg`].
        setting: Setting,
        /// What is wrong and how to fix it.
        message: Message,
    },
    /// A jq expression (a filter, a map, a custom reducer's) failed on a
    /// record, or gave a result of the wrong kind.
    Jq {
        /// The record it failed on.
        at: Location,
        /// The setting that gave the expression, e.g. [`Setting::Filter`].
        setting: Setting,
        /// The expression as written.
        expr: String,
        /// What went wrong (jq's error value, or what was expected).
        message: String,
    },
    /// More records were rejected than [`Setting::MaxErrors`] allows.
    TooManyRejects {
        /// The limit as given (`10`, `0.5%`).
        limit: String,
        /// Records rejected so far.
        rejected: u64,
        /// Records read so far.
        read: u64,
    },
    /// An external command ([`Setting::Exec`], [`Setting::ExecPersistent`])
    /// failed on a chunk after all its attempts: it could not be started,
    /// exited with a non-zero status or by a signal, ran past its timeout,
    /// or printed output that does not parse. With `on_error` skip or
    /// reject the chunk's records are set aside instead (one reject entry
    /// for the chunk).
    Exec(Box<ExecError>),
    /// A record's request at an `--http` step ([`Setting::Http`]) failed
    /// after all its attempts: no connection, a timeout, a status that is
    /// not 2xx, or an answer that is not records. With `on_error` skip or
    /// reject that record alone is set aside (the others of its chunk go
    /// on).
    Http(Box<HttpError>),
    /// The run was stopped by a signal (SIGINT, SIGTERM) through its
    /// [`CancelToken`](crate::cancel::CancelToken) (see
    /// [`CancelToken::signal_flag`](crate::cancel::CancelToken::signal_flag));
    /// nothing was committed.
    Interrupted {
        /// The signal number (2: SIGINT, 15: SIGTERM).
        signal: i32,
    },
    /// The run was stopped by a caller's
    /// [`CancelToken::cancel`](crate::cancel::CancelToken::cancel) on
    /// the pipeline's token; nothing was committed (what was written to
    /// the output so far is to be discarded).
    Cancelled,
    /// A reducer's state outgrew [`Setting::MemoryLimit`] and cannot be
    /// spilled to disk (`--top K` per group, a custom reducer's
    /// accumulator, or a group-by without spilling).
    MemoryLimit {
        /// The memory limit, in bytes.
        limit: u64,
        /// What passed it, and how to get past it.
        message: Message,
    },
    /// A [`Setting::Journal`] file cannot be used: it exists and
    /// [`Setting::Resume`] was not set, it is not a fanfold journal, or it
    /// records a run with different inputs or settings (the message says
    /// which changed).
    Journal {
        /// The journal file.
        path: String,
        /// What is wrong and how to go on.
        message: Message,
    },
    /// A partial line (see `fanfold reduce`) cannot be read: it is not a
    /// partial line, is of another version, or comes from a pipeline with
    /// other settings (another fingerprint: the message names both). Not
    /// a record error: a lost partial would change the result.
    Partial {
        /// The line.
        at: Location,
        /// What is wrong, and how to go on.
        message: String,
    },
    /// A worker panicked while processing a chunk: a bug in fanfold.
    WorkerPanic {
        /// The first record of the chunk.
        at: Location,
        /// The panic message.
        message: String,
    },
    /// The callback of [`Pipeline::run_for_each`](crate::Pipeline::run_for_each)
    /// returned an error; the run stopped there.
    Callback {
        /// The output record it failed on (1-based, in output order).
        record: u64,
        /// The callback's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Something that should not happen happened: a bug in fanfold.
    Internal(String),
}

impl ErrorKind {
    /// Writes the message, naming settings with `name`.
    pub(super) fn render(
        &self,
        f: &mut fmt::Formatter<'_>,
        name: &dyn Fn(Setting) -> &'static str,
    ) -> fmt::Result {
        match self {
            ErrorKind::Io { path, note: None, source } => write!(f, "{path}: {source}"),
            ErrorKind::Io { path, note: Some(note), source } => {
                write!(f, "{path} ({}): {source}", note.display_with(name))
            }
            ErrorKind::Csv { at, message } => {
                write!(f, "{at}: malformed CSV: {}", message.display_with(name))
            }
            ErrorKind::FieldCount { at, expected, found } => {
                write!(f, "{at}: expected {expected} fields (as in the header), found {found}")
            }
            ErrorKind::UnterminatedQuote { at } => write!(
                f,
                "{at}: unterminated quoted field (the quote opened on this line never closes)"
            ),
            ErrorKind::Json { at, column, message } => {
                write!(f, "{at}:{column}: invalid JSON: {}", message.display_with(name))
            }
            ErrorKind::Encoding { input, encoding } => write!(
                f,
                "{input}: the input is {encoding} (it starts with a {encoding} byte-order mark), \
                 which fanfold does not decode (it reads UTF-8, UTF-16 and the encodings \
                 --encoding names): convert it first, e.g. `iconv -f {encoding} -t UTF-8`"
            ),
            ErrorKind::Decode {
                input,
                compression: Some(format),
                offset,
                line,
                truncated,
                message,
                ..
            } => {
                let what = if *truncated { "ends early (truncated?)" } else { "is corrupt" };
                write!(
                    f,
                    "{input}: the {format} stream {what} at compressed byte {offset}, on line \
                     {line} of its text: {message}"
                )
            }
            ErrorKind::Decode {
                input, compression: None, encoding, offset, line, message, ..
            } => {
                let encoding = encoding.unwrap_or("its encoding");
                write!(
                    f,
                    "{input}:{line}: the text is not valid {encoding} (byte {offset} of the \
                     input): {message}; name the right one with `--encoding`"
                )
            }
            ErrorKind::HeaderMismatch { input, found, first_input, expected } => {
                write!(f, "{input}: header {found:?} differs from the header of {first_input} {expected:?}")
            }
            ErrorKind::UnknownColumn { setting, column, available } => write!(
                f,
                "{}: unknown column `{column}`; the columns are: {}",
                name(*setting),
                available.join(", ")
            ),
            ErrorKind::NotNumeric { at, column, value, purpose } => write!(
                f,
                "{at}: column `{column}`: `{value}` is not a number ({})",
                purpose.display_with(name)
            ),
            ErrorKind::UnexpectedKey { at, key, columns } => write!(
                f,
                "{at}: key `{key}` is not among the output columns ({}); pass {} to choose the \
                 columns",
                columns.join(", "),
                name(Setting::Select)
            ),
            ErrorKind::OutOfRange { aggregate } => {
                write!(f, "{aggregate}: the result is beyond the range of a 64-bit float")
            }
            ErrorKind::Setting { setting, message } => {
                write!(f, "{}: {}", name(*setting), message.display_with(name))
            }
            ErrorKind::Jq { at, setting, expr, message } => {
                write!(f, "{at}: {} `{expr}`: {message}", name(*setting))
            }
            ErrorKind::TooManyRejects { limit, rejected, read } => write!(
                f,
                "{} {limit}: {rejected} records rejected of {read} read; stopped",
                name(Setting::MaxErrors)
            ),
            ErrorKind::Exec(e) => e.render(f, name),
            ErrorKind::Http(e) => e.render(f, name),
            ErrorKind::Interrupted { signal } => write!(f, "interrupted by signal {signal}"),
            ErrorKind::Cancelled => write!(f, "the run was cancelled"),
            ErrorKind::MemoryLimit { limit, message } => write!(
                f,
                "{} {}: {}",
                name(Setting::MemoryLimit),
                crate::units::human_bytes(*limit),
                message.display_with(name)
            ),
            ErrorKind::Journal { path, message } => {
                write!(f, "{path} ({}): {}", name(Setting::Journal), message.display_with(name))
            }
            ErrorKind::Partial { at, message } => write!(f, "{at}: {message}"),
            ErrorKind::WorkerPanic { at, message } => write!(
                f,
                "internal error while processing the chunk at {at}: {message} (this is a bug in \
                 fanfold)"
            ),
            ErrorKind::Callback { record, source } => {
                write!(f, "the record callback failed on output record {record}: {source}")
            }
            ErrorKind::Internal(m) => write!(f, "internal error: {m} (this is a bug in fanfold)"),
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.render(f, &Setting::name)
    }
}

impl std::error::Error for ErrorKind {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ErrorKind::Io { source, .. } => Some(source),
            ErrorKind::Callback { source, .. } => Some(&**source),
            _ => None,
        }
    }
}
