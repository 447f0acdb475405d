//! The library's error type, in the csv crate's style: an [`Error`] that
//! wraps a boxed [`ErrorKind`] (so a `Result<T>` stays one word wide), with
//! the positions as a struct ([`Location`]).
//!
//! Every error that input can cause names its place: the input file, the
//! absolute line (1-based, counted over the whole file, header included) and,
//! where it is known, the column or the setting. The binary adds nothing but a
//! prefix, and escapes the control characters that quoted input may hold
//! ([`escape_control`]); a library user gets the same messages.
//!
//! # Settings, not flags
//!
//! A configuration error names the library's [`Setting`] (`threads: must be
//! at least 1`), never a command-line flag: a Rust caller who set
//! `pipeline.threads = 0` never wrote `--threads`. A message that tells the
//! user what to do ("raise the memory limit") names the setting the same
//! way: such text is a [`Message`], whose pieces are plain text and
//! [`Setting`]s. [`Display`](fmt::Display) prints each setting as its
//! [`Setting::name`]; [`Error::display_with`] prints it with a naming
//! function of the caller's, which is how the binary prints its flags
//! (`--threads: must be at least 1`) without the library knowing them.
//!
//! # Errors that become text inside a run
//!
//! A record error set aside by `on_error = reject` is turned into text on
//! the workers and written into the rejects file. That text is rendered
//! with the [`SettingNames`] the run carries (`Pipeline::setting_names`,
//! [`Setting::name`] by default), so the rejects file of a library run
//! names settings, and the binary, which sets its flag names there, writes
//! the same bytes it always wrote.

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

/// A setting of a run: a field of `Pipeline` (or of a step or reducer in
/// it), named in errors.
///
/// [`Setting::name`] is the library's name for it (the builder's method);
/// a front end can name it its own way ([`Error::display_with`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Setting {
    /// Worker threads.
    Threads,
    /// Chunks in flight at once.
    MaxInFlight,
    /// Chunk size in bytes.
    ChunkBytes,
    /// Chunk size in records.
    ChunkRecords,
    /// The memory limit.
    MemoryLimit,
    /// The input field delimiter.
    Delimiter,
    /// The output field delimiter.
    OutputDelimiter,
    /// The input format.
    InputFormat,
    /// The output format.
    OutputFormat,
    /// The directory for spill and temporary files.
    TempDir,
    /// The rejects file.
    Rejects,
    /// What a bad record does.
    OnError,
    /// How many rejects stop the run.
    MaxErrors,
    /// Texts that mean "missing".
    NullMarkers,
    /// The journal file.
    Journal,
    /// Going on with the run a journal records.
    Resume,
    /// The columns to keep.
    Select,
    /// The columns to drop.
    Drop,
    /// The columns to rename.
    Rename,
    /// The projection as a whole (select and drop together).
    Projection,
    /// A jq filter step.
    Filter,
    /// A jq map step.
    Map,
    /// A per-chunk external command step.
    Exec,
    /// A persistent external command step.
    ExecPersistent,
    /// How many copies of an external command run at once.
    Concurrency,
    /// How many replicas of an external command vote.
    Replicas,
    /// The field the replicas vote on.
    Vote,
    /// The sort keys.
    SortBy,
    /// The group-by keys.
    GroupBy,
    /// The aggregates of a group-by.
    Agg,
    /// The number of records a top-k keeps.
    Top,
    /// The reducer (`Pipeline::reduce`), or a custom Rust reducer's
    /// columns.
    Reduce,
    /// A custom reducer's initial state expression.
    ReduceInit,
    /// A custom reducer's update expression.
    ReduceUpdate,
    /// A custom reducer's merge expression.
    ReduceMerge,
    /// A custom reducer's finish expression.
    ReduceFinish,
}

impl Setting {
    /// Every setting, in declaration order.
    pub const ALL: &'static [Setting] = &[
        Setting::Threads,
        Setting::MaxInFlight,
        Setting::ChunkBytes,
        Setting::ChunkRecords,
        Setting::MemoryLimit,
        Setting::Delimiter,
        Setting::OutputDelimiter,
        Setting::InputFormat,
        Setting::OutputFormat,
        Setting::TempDir,
        Setting::Rejects,
        Setting::OnError,
        Setting::MaxErrors,
        Setting::NullMarkers,
        Setting::Journal,
        Setting::Resume,
        Setting::Select,
        Setting::Drop,
        Setting::Rename,
        Setting::Projection,
        Setting::Filter,
        Setting::Map,
        Setting::Exec,
        Setting::ExecPersistent,
        Setting::Concurrency,
        Setting::Replicas,
        Setting::Vote,
        Setting::SortBy,
        Setting::GroupBy,
        Setting::Agg,
        Setting::Top,
        Setting::Reduce,
        Setting::ReduceInit,
        Setting::ReduceUpdate,
        Setting::ReduceMerge,
        Setting::ReduceFinish,
    ];

    /// The library's name of the setting, in snake case: `threads`,
    /// `max_in_flight`, `memory_limit`, ... (the builder's method names).
    pub fn name(self) -> &'static str {
        match self {
            Setting::Threads => "threads",
            Setting::MaxInFlight => "max_in_flight",
            Setting::ChunkBytes => "chunk_bytes",
            Setting::ChunkRecords => "chunk_records",
            Setting::MemoryLimit => "memory_limit",
            Setting::Delimiter => "delimiter",
            Setting::OutputDelimiter => "output_delimiter",
            Setting::InputFormat => "input_format",
            Setting::OutputFormat => "output_format",
            Setting::TempDir => "temp_dir",
            Setting::Rejects => "rejects",
            Setting::OnError => "on_error",
            Setting::MaxErrors => "max_errors",
            Setting::NullMarkers => "null_markers",
            Setting::Journal => "journal",
            Setting::Resume => "resume",
            Setting::Select => "select",
            Setting::Drop => "drop",
            Setting::Rename => "rename",
            Setting::Projection => "projection",
            Setting::Filter => "filter",
            Setting::Map => "map",
            Setting::Exec => "exec",
            Setting::ExecPersistent => "exec_persistent",
            Setting::Concurrency => "concurrency",
            Setting::Replicas => "replicas",
            Setting::Vote => "vote",
            Setting::SortBy => "sort_by",
            Setting::GroupBy => "group_by",
            Setting::Agg => "agg",
            Setting::Top => "top",
            Setting::Reduce => "reduce",
            Setting::ReduceInit => "reduce_init",
            Setting::ReduceUpdate => "reduce_update",
            Setting::ReduceMerge => "reduce_merge",
            Setting::ReduceFinish => "reduce_finish",
        }
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A function that names a [`Setting`] in messages, carried by a run so
/// that the text it makes of an error (a reject's message) names settings
/// the way its front end does. The default is [`Setting::name`].
///
/// Two are equal when they name every setting alike.
#[derive(Clone, Copy)]
pub struct SettingNames(pub fn(Setting) -> &'static str);

impl SettingNames {
    /// The name of `setting`.
    pub fn name(&self, setting: Setting) -> &'static str {
        (self.0)(setting)
    }
}

impl Default for SettingNames {
    fn default() -> Self {
        SettingNames(Setting::name)
    }
}

impl PartialEq for SettingNames {
    fn eq(&self, other: &Self) -> bool {
        Setting::ALL.iter().all(|&s| self.name(s) == other.name(s))
    }
}

impl Eq for SettingNames {}

impl fmt::Debug for SettingNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SettingNames(")?;
        let threads = self.name(Setting::Threads);
        write!(f, "{threads:?}, ...)")
    }
}

/// A piece of a [`Message`]: text, or a setting named as the reader names
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Text, as it is.
    Text(String),
    /// A setting, printed with the naming function.
    Setting(Setting),
}

impl From<&str> for Piece {
    fn from(s: &str) -> Self {
        Piece::Text(s.to_string())
    }
}

impl From<String> for Piece {
    fn from(s: String) -> Self {
        Piece::Text(s)
    }
}

impl From<Setting> for Piece {
    fn from(s: Setting) -> Self {
        Piece::Setting(s)
    }
}

/// Text for a user that may name settings ("raise `memory_limit`"): a list
/// of [`Piece`]s. `Display` names the settings with [`Setting::name`];
/// [`Message::display_with`] with another naming function.
///
/// ```
/// use fanfold::error::{Message, Setting};
/// let m = Message::from("needs ").then(Setting::Replicas).then(" 2 or more");
/// assert_eq!(m.to_string(), "needs replicas 2 or more");
/// let flag = |s: Setting| if s == Setting::Replicas { "--replicas" } else { "?" };
/// assert_eq!(m.display_with(&flag).to_string(), "needs --replicas 2 or more");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message(Vec<Piece>);

impl Message {
    /// The message of `pieces`, in order.
    pub fn from_pieces(pieces: Vec<Piece>) -> Message {
        Message(pieces)
    }

    /// The message with `piece` appended.
    #[must_use]
    pub fn then(mut self, piece: impl Into<Piece>) -> Message {
        self.0.push(piece.into());
        self
    }

    /// The message with `other`'s pieces appended.
    #[must_use]
    pub fn append(mut self, other: Message) -> Message {
        self.0.extend(other.0);
        self
    }

    /// The pieces, in order.
    pub fn pieces(&self) -> &[Piece] {
        &self.0
    }

    /// The message with its settings named by `name`.
    pub fn display_with<'a>(
        &'a self,
        name: &'a dyn Fn(Setting) -> &'static str,
    ) -> impl fmt::Display + 'a {
        DisplayWith(move |f: &mut fmt::Formatter<'_>| self.render(f, name))
    }

    fn render(
        &self,
        f: &mut fmt::Formatter<'_>,
        name: &dyn Fn(Setting) -> &'static str,
    ) -> fmt::Result {
        for piece in &self.0 {
            match piece {
                Piece::Text(t) => f.write_str(t)?,
                Piece::Setting(s) => f.write_str(name(*s))?,
            }
        }
        Ok(())
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Self {
        Message(vec![Piece::from(s)])
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Message(vec![Piece::from(s)])
    }
}

impl From<Setting> for Message {
    fn from(s: Setting) -> Self {
        Message(vec![Piece::Setting(s)])
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.render(f, &Setting::name)
    }
}

/// A [`Message`] of text and settings: `msg!["needs ", Setting::Replicas,
/// " 2 or more"]`.
macro_rules! msg {
    ($($piece:expr),* $(,)?) => {
        $crate::error::Message::from_pieces(vec![$($crate::error::Piece::from($piece)),*])
    };
}
pub(crate) use msg;

/// A `Display` of a closure.
struct DisplayWith<F>(F);

impl<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result> fmt::Display for DisplayWith<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.0)(f)
    }
}

/// Everything that can go wrong in a fanfold run: a boxed [`ErrorKind`].
///
/// [`Error::kind`] tells which; [`Display`](fmt::Display) names settings
/// with [`Setting::name`], [`Error::display_with`] with another naming
/// function.
pub struct Error(Box<ErrorKind>);

/// What went wrong: the kinds of [`Error`].
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
        /// (`journal`, `temp_dir, sort spill file`), if anything.
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
    /// An input is not UTF-8: it starts with a UTF-16 or UTF-32 byte-order
    /// mark.
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
    Compressed {
        /// The input.
        input: String,
        /// The compression its first bytes name.
        format: Compression,
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
    /// The run was stopped by a signal (SIGINT, SIGTERM) through
    /// [`crate::cancel::INTERRUPT`]; nothing was committed.
    Interrupted {
        /// The signal number (2: SIGINT, 15: SIGTERM).
        signal: i32,
    },
    /// A reducer's state outgrew [`Setting::MemoryLimit`] and cannot be
    /// spilled to disk (the groups of a group-by).
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
    /// A worker panicked while processing a chunk: a bug in fanfold.
    WorkerPanic {
        /// The first record of the chunk.
        at: Location,
        /// The panic message.
        message: String,
    },
    /// Something that should not happen happened: a bug in fanfold.
    Internal(String),
}

impl ErrorKind {
    /// Writes the message, naming settings with `name`.
    fn render(
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
                 but fanfold reads UTF-8: convert it first, e.g. `iconv -f {encoding} -t UTF-8`"
            ),
            ErrorKind::Compressed { input, format } => write!(
                f,
                "{input}: the input is {format}-compressed (it starts with the {format} magic \
                 number), and fanfold does not read compressed input yet: {}",
                decompress_hint(input, *format)
            ),
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
            ErrorKind::Interrupted { signal } => write!(f, "interrupted by signal {signal}"),
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
            ErrorKind::WorkerPanic { at, message } => write!(
                f,
                "internal error while processing the chunk at {at}: {message} (this is a bug in \
                 fanfold)"
            ),
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
            _ => None,
        }
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error(Box::new(kind))
    }
}

impl From<ExecError> for Error {
    fn from(e: ExecError) -> Self {
        ErrorKind::Exec(Box::new(e)).into()
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.render(f, &Setting::name)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl Error {
    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0
    }

    /// What went wrong, by value.
    pub fn into_kind(self) -> ErrorKind {
        *self.0
    }

    /// The message with its settings named by `name` (the binary passes
    /// its flag names); `Display` is `display_with(&Setting::name)`.
    ///
    /// ```
    /// use fanfold::error::{Error, Setting};
    /// let e = Error::setting(Setting::Threads, "must be at least 1");
    /// assert_eq!(e.to_string(), "threads: must be at least 1");
    /// let flag = |_: Setting| "--threads";
    /// assert_eq!(e.display_with(&flag).to_string(), "--threads: must be at least 1");
    /// ```
    pub fn display_with<'a>(
        &'a self,
        name: &'a dyn Fn(Setting) -> &'static str,
    ) -> impl fmt::Display + 'a {
        DisplayWith(move |f: &mut fmt::Formatter<'_>| self.0.render(f, name))
    }

    /// An [`ErrorKind::Setting`] for `setting` with `message`.
    pub fn setting(setting: Setting, message: impl Into<Message>) -> Self {
        ErrorKind::Setting { setting, message: message.into() }.into()
    }

    /// An [`ErrorKind::Io`] for `path`.
    pub fn io(path: impl Into<String>, source: io::Error) -> Self {
        ErrorKind::Io { path: path.into(), note: None, source }.into()
    }

    /// An [`ErrorKind::Io`] for `path`, with what the file is for (`note`,
    /// printed in parentheses after the path: `journal`).
    pub fn io_note(path: impl Into<String>, note: impl Into<Message>, source: io::Error) -> Self {
        ErrorKind::Io { path: path.into(), note: Some(note.into()), source }.into()
    }

    /// An [`ErrorKind::Internal`]: a bug in fanfold.
    pub fn internal(message: impl Into<String>) -> Self {
        ErrorKind::Internal(message.into()).into()
    }

    /// True for errors that belong to one record (it cannot be parsed, a
    /// transform fails on it, a reducer cannot use a value): the ones
    /// `on_error` skip or reject sets aside instead of stopping.
    pub fn is_record_error(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::Csv { .. }
                | ErrorKind::FieldCount { .. }
                | ErrorKind::Json { .. }
                | ErrorKind::NotNumeric { .. }
                | ErrorKind::UnexpectedKey { .. }
                | ErrorKind::Jq { .. }
        )
    }

    /// The place in the input the error names, if any.
    pub fn location(&self) -> Option<&Location> {
        match self.kind() {
            ErrorKind::Csv { at, .. }
            | ErrorKind::FieldCount { at, .. }
            | ErrorKind::UnterminatedQuote { at }
            | ErrorKind::Json { at, .. }
            | ErrorKind::NotNumeric { at, .. }
            | ErrorKind::UnexpectedKey { at, .. }
            | ErrorKind::Jq { at, .. }
            | ErrorKind::WorkerPanic { at, .. } => Some(at),
            ErrorKind::Exec(e) => Some(&e.at),
            _ => None,
        }
    }

    /// A short name of the error's kind, for reject reports: `csv`,
    /// `field_count`, `json`, `not_numeric`, `unexpected_key`, `transform`,
    /// `exec`, or `other`.
    pub fn kind_name(&self) -> &'static str {
        match self.kind() {
            ErrorKind::Csv { .. } => "csv",
            ErrorKind::FieldCount { .. } => "field_count",
            ErrorKind::Json { .. } => "json",
            ErrorKind::NotNumeric { .. } => "not_numeric",
            ErrorKind::UnexpectedKey { .. } => "unexpected_key",
            ErrorKind::Jq { .. } => "transform",
            ErrorKind::Exec(_) => "exec",
            _ => "other",
        }
    }

    /// True when this is a broken pipe on the output (the reader went away,
    /// as with `fanfold big.csv | head`), which the command treats as success.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self.kind(), ErrorKind::Io { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// How an external command failed on a chunk ([`ErrorKind::Exec`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecError {
    /// The chunk's input and first line.
    pub at: Location,
    /// The chunk's last line.
    pub last_line: u64,
    /// The step's setting: [`Setting::Exec`] or [`Setting::ExecPersistent`].
    pub setting: Setting,
    /// The command as written.
    pub command: String,
    /// What went wrong in the last attempt (`exit status 1`, `timed out
    /// after 30s; ...`, `its output line 3 is not a JSON object ...`).
    pub reason: Message,
    /// Attempts made (1 + retries).
    pub attempts: u32,
    /// The end of the last attempt's standard error (at most
    /// [`crate::transform::external::STDERR_TAIL_BYTES`] bytes, lossily
    /// decoded).
    pub stderr: String,
    /// Input records of the chunk that reached the step and are lost with
    /// it.
    pub records: u64,
}

impl ExecError {
    /// The message with its settings named by `name`.
    pub fn display_with<'a>(
        &'a self,
        name: &'a dyn Fn(Setting) -> &'static str,
    ) -> impl fmt::Display + 'a {
        DisplayWith(move |f: &mut fmt::Formatter<'_>| self.render(f, name))
    }

    fn render(
        &self,
        f: &mut fmt::Formatter<'_>,
        name: &dyn Fn(Setting) -> &'static str,
    ) -> fmt::Result {
        write!(
            f,
            "{}-{}: {} `{}` failed after {} attempt{}: {}{}",
            self.at,
            self.last_line,
            name(self.setting),
            self.command,
            self.attempts,
            if self.attempts == 1 { "" } else { "s" },
            self.reason.display_with(name),
            stderr_hint(&self.stderr)
        )
    }
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.render(f, &Setting::name)
    }
}

impl std::error::Error for ExecError {}

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

/// How to get a compressed input into fanfold, for [`ErrorKind::Compressed`]:
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
/// use fanfold::error::escape_control;
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
    fn settings_are_named_by_the_library_and_by_the_caller() {
        let e = Error::setting(Setting::Threads, "must be at least 1");
        assert_eq!(e.to_string(), "threads: must be at least 1");
        assert!(matches!(
            e.kind(),
            ErrorKind::Setting { setting: Setting::Threads, message } if message.to_string() == "must be at least 1"
        ));
        let flag = |s: Setting| match s {
            Setting::Threads => "--threads",
            Setting::MemoryLimit => "--memory-limit",
            _ => "--other",
        };
        assert_eq!(e.display_with(&flag).to_string(), "--threads: must be at least 1");
        let e: Error = ErrorKind::MemoryLimit {
            limit: 1024,
            message: msg!["too big; raise ", Setting::MemoryLimit],
        }
        .into();
        assert_eq!(e.to_string(), "memory_limit 1.0 KiB: too big; raise memory_limit");
        assert_eq!(
            e.display_with(&flag).to_string(),
            "--memory-limit 1.0 KiB: too big; raise --memory-limit"
        );
        assert!(matches!(e.into_kind(), ErrorKind::MemoryLimit { limit: 1024, .. }));
    }

    #[test]
    fn every_setting_has_a_distinct_snake_case_name() {
        let names: std::collections::HashSet<_> = Setting::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(names.len(), Setting::ALL.len());
        for s in Setting::ALL {
            assert_eq!(s.to_string(), s.name());
            assert!(s.name().chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{s}");
        }
        assert_eq!(SettingNames::default(), SettingNames(Setting::name));
    }

    #[test]
    fn io_errors_keep_their_source() {
        use std::error::Error as _;
        let e = Error::io_note("j.json", Setting::Journal, io::Error::other("boom"));
        assert_eq!(e.to_string(), "j.json (journal): boom");
        assert!(e.source().is_some());
        assert!(std::mem::size_of::<Result<()>>() <= 2 * std::mem::size_of::<usize>());
    }

    #[test]
    fn compressed_message_names_the_format_and_the_tool() {
        let e: Error =
            ErrorKind::Compressed { input: "my data.csv.gz".into(), format: Compression::Gzip }
                .into();
        assert_eq!(
            e.to_string(),
            "my data.csv.gz: the input is gzip-compressed (it starts with the gzip magic \
             number), and fanfold does not read compressed input yet: decompress it first, \
             e.g. `gzip -dc 'my data.csv.gz' | fanfold -`"
        );
        let e: Error =
            ErrorKind::Compressed { input: "<stdin>".into(), format: Compression::Xz }.into();
        assert!(e.to_string().ends_with("yet: pipe it through `xz -dc` first"), "{e}");
    }
}
