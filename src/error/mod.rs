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
//! the same bytes it always wrote. ([`crate::exec::ExecOptions`] carries
//! it down to the workers; `Reject::new` renders with it.)
//!
//! Two texts still hold flag-like names, on purpose: the setting labels of
//! a journal's fingerprint (`--null was ...` in an [`ErrorKind::Journal`]
//! on resume), which are part of the journal file's format, and a few
//! [`ErrorKind::Internal`] messages, which only a bug in fanfold can show.

mod exec;
mod http;
mod kind;
mod message;
mod setting;

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io;

pub use exec::ExecError;
pub use http::HttpError;
pub use kind::ErrorKind;
pub(crate) use message::msg;
use message::DisplayWith;
pub use message::{Message, Piece};
pub use setting::{Setting, SettingNames};

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

/// Everything that can go wrong in a fanfold run: a boxed [`ErrorKind`].
///
/// [`Error::kind`] tells which; [`Display`](fmt::Display) names settings
/// with [`Setting::name`], [`Error::display_with`] with another naming
/// function.
pub struct Error(Box<ErrorKind>);

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
    /// use fanfold::{Error, Setting};
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
            | ErrorKind::Partial { at, .. }
            | ErrorKind::WorkerPanic { at, .. } => Some(at),
            ErrorKind::Exec(e) => Some(&e.at),
            ErrorKind::Http(e) => Some(&e.at),
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
            ErrorKind::Http(_) => "http",
            _ => "other",
        }
    }

    /// True when this is a broken pipe on the output (the reader went away,
    /// as with `fanfold big.csv | head`), which the command treats as success.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self.kind(), ErrorKind::Io { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
    }
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
    use crate::format::Compression;

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
    fn decode_messages_name_the_input_the_offset_and_the_line() {
        let e: Error = ErrorKind::Decode {
            input: "d.csv.gz".into(),
            compression: Some(Compression::Gzip),
            encoding: None,
            offset: 4096,
            line: 77,
            truncated: true,
            message: "unexpected end of file".into(),
        }
        .into();
        assert_eq!(
            e.to_string(),
            "d.csv.gz: the gzip stream ends early (truncated?) at compressed byte 4096, on line \
             77 of its text: unexpected end of file"
        );
        let e: Error = ErrorKind::Decode {
            input: "u.csv".into(),
            compression: None,
            encoding: Some("UTF-16LE"),
            offset: 10,
            line: 2,
            truncated: false,
            message: "2 byte(s) that are not valid UTF-16LE".into(),
        }
        .into();
        assert!(e.to_string().starts_with("u.csv:2: the text is not valid UTF-16LE"), "{e}");
    }
}
