//! [`Message`]: text for a user whose pieces may be [`Setting`]s, printed
//! with a naming function.

use std::fmt;

use super::Setting;

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
/// use fanfold::{Message, Setting};
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
pub(super) struct DisplayWith<F>(pub(super) F);

impl<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result> fmt::Display for DisplayWith<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.0)(f)
    }
}
