//! [`ExecError`]: how an external command failed on a chunk.

use std::fmt;

use super::message::DisplayWith;
use super::{Location, Message, Setting};

/// How an external command failed on a chunk ([`ErrorKind::Exec`](super::ErrorKind::Exec)).
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
    /// The end of the last attempt's standard error (at most 2048 bytes,
    /// lossily decoded).
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

    pub(super) fn render(
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
