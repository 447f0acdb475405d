//! Where records come from: the inputs, and the splitter that cuts their
//! bytes into chunks at record boundaries.
//!
//! The source does no parsing beyond finding where records end (and, for
//! CSV, reading each input's header; for JSON arrays, checking the array's
//! brackets and commas); parsing happens on the worker pool.

pub(crate) mod json_array;
mod split;

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;

pub use split::{Chunk, ChunkLimit, Splitter};

use crate::error::{Error, Result};

/// One input: a file or standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file on disk.
    Path(PathBuf),
    /// Standard input.
    Stdin,
}

impl Input {
    /// `-` means standard input; anything else is a path.
    pub fn from_arg(arg: &str) -> Input {
        if arg == "-" {
            Input::Stdin
        } else {
            Input::Path(PathBuf::from(arg))
        }
    }

    /// The name used in messages: the path as given, or `<stdin>`.
    pub fn name(&self) -> String {
        match self {
            Input::Path(p) => p.display().to_string(),
            Input::Stdin => "<stdin>".to_string(),
        }
    }

    /// Opens the input for reading.
    ///
    /// # Errors
    /// [`Error::Io`] naming the path when the file cannot be opened.
    pub fn open(&self) -> Result<Box<dyn Read + Send>> {
        match self {
            Input::Path(p) => {
                let f = File::open(p).map_err(|e| Error::io(self.name(), e))?;
                Ok(Box::new(f))
            }
            Input::Stdin => Ok(Box::new(io::stdin())),
        }
    }

    /// The input's size in bytes when it is a regular file.
    pub fn size(&self) -> Option<u64> {
        match self {
            Input::Path(p) => std::fs::metadata(p).ok().filter(|m| m.is_file()).map(|m| m.len()),
            Input::Stdin => None,
        }
    }
}
