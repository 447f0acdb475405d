//! Where records come from: the inputs, and the splitter that cuts their
//! bytes into chunks at record boundaries.
//!
//! The source does no parsing beyond finding where records end (and, for
//! CSV, reading each input's header; for JSON arrays, checking the array's
//! brackets and commas); parsing happens on the worker pool.

mod chunk;
pub(crate) mod json_array;
mod split;

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::path::PathBuf;

use nix::poll::{poll, PollFd, PollFlags};

pub use chunk::{
    Chunk, ChunkLimit, Sample, DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES, MIN_AUTO_CHUNK_BYTES,
};
pub use split::Splitter;

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

    /// Opens the input for reading, unbuffered (the splitter reads in
    /// large blocks). An input that can block without end, such as a pipe,
    /// FIFO, socket or terminal (standard input included), is read through
    /// a reader that polls (`InterruptibleRead`), so that a signal stops
    /// the run even while no byte arrives.
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) naming the input when it cannot be opened (opening a
    /// FIFO waits for its writer, as `open(2)` does).
    pub fn open(&self) -> Result<Box<dyn Read + Send>> {
        self.open_stream().map(|(reader, _)| reader)
    }

    /// [`Input::open`], and whether the input is a stream (not a regular
    /// file): a stream's reads return what has arrived, so the splitter
    /// reads it one `read(2)` at a time instead of waiting for a full
    /// block.
    pub(crate) fn open_stream(&self) -> Result<(Box<dyn Read + Send>, bool)> {
        let file = match self {
            Input::Path(p) => File::open(p),
            // A duplicate of descriptor 0: reads bypass `Stdin`'s buffer,
            // which `poll(2)` cannot see into.
            Input::Stdin => io::stdin().as_fd().try_clone_to_owned().map(File::from),
        }
        .map_err(|e| Error::io(self.name(), e))?;
        let regular = file.metadata().map_err(|e| Error::io(self.name(), e))?.is_file();
        if regular {
            Ok((Box::new(file), false))
        } else {
            Ok((Box::new(InterruptibleRead { file }), true))
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

/// A reader that waits for data with `poll(2)`, waking every
/// [`crate::cancel::POLL_INTERVAL_MS`] to look at
/// [`crate::cancel::INTERRUPT`], so that a read blocked on a silent pipe,
/// FIFO or socket ends soon after SIGINT or SIGTERM. (The signal handlers
/// are installed with `SA_RESTART`, so a plain `read(2)` would resume
/// waiting after the signal.)
#[derive(Debug)]
pub(crate) struct InterruptibleRead {
    file: File,
}

impl Read for InterruptibleRead {
    /// Reads as [`File::read`] does, once `poll(2)` says the descriptor is
    /// readable (or closed, or in error: the read then says which).
    ///
    /// # Errors
    /// The read's errors, the poll's (other than `EINTR`), and, once
    /// [`crate::cancel::INTERRUPT`] is set, an error of kind
    /// [`io::ErrorKind::Other`] saying so ([`crate::Splitter`] turns it into
    /// [`ErrorKind::Interrupted`]).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(signal) = crate::cancel::signal() {
                return Err(io::Error::other(format!("interrupted by signal {signal}")));
            }
            let mut fds = [PollFd::new(self.file.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, crate::cancel::POLL_INTERVAL_MS) {
                Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
                Ok(_) => return self.file.read(buf),
                Err(e) => return Err(io::Error::from(e)),
            }
        }
    }
}
