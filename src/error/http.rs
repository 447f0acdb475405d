//! [`HttpError`]: how an `--http` step failed on one record.

use std::fmt;

use super::message::DisplayWith;
use super::{Location, Setting};

/// How a record's request failed at an `--http` step after all its
/// attempts ([`ErrorKind::Http`](super::ErrorKind::Http)). Nothing in it
/// holds a secret: the URL is shown without its query string and user
/// info, and the header values are replaced by `<redacted>` wherever the
/// reason or the body quotes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    /// The record's input and line.
    pub at: Location,
    /// The step's URL as shown (no query string, no user info).
    pub url: String,
    /// What went wrong in the last attempt (`HTTP 404 Not Found`, `timed
    /// out after 2s`, `cannot connect: Connection refused`, `the answer is
    /// not JSON`).
    pub reason: String,
    /// The last answer's status, when there was one.
    pub status: Option<u16>,
    /// Attempts made (1 + retries).
    pub attempts: u32,
    /// The start of the last answer's body (at most 200 characters, lossily
    /// decoded, secrets redacted); empty without one.
    pub body: String,
}

impl HttpError {
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
            "{}: {} {} failed after {} attempt{}: {}",
            self.at,
            name(Setting::Http),
            self.url,
            self.attempts,
            if self.attempts == 1 { "" } else { "s" },
            self.reason,
        )?;
        let body = self.body.trim();
        if !body.is_empty() {
            write!(f, "; body: {body}")?;
        }
        Ok(())
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.render(f, &Setting::name)
    }
}

impl std::error::Error for HttpError {}
