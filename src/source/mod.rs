//! Where records come from: the inputs, and the splitter that cuts their
//! bytes into chunks at record boundaries.
//!
//! The source does no parsing beyond finding where records end (and, for
//! CSV, reading each input's header; for JSON arrays, checking the array's
//! brackets and commas); parsing happens on the worker pool.

mod chunk;
mod decode;
pub(crate) mod json_array;
mod sniff;
mod split;

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::Arc;

use nix::poll::{poll, PollFd, PollFlags};

pub use chunk::{
    Chunk, ChunkLimit, Sample, DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES, MIN_AUTO_CHUNK_BYTES,
};
#[cfg(test)]
pub(crate) use decode::head_of;
pub use decode::TextEncoding;
pub use sniff::{sniff_delimiter, SniffedDelimiter};
pub use split::Splitter;

use crate::cancel::CancelToken;
use crate::error::{Error, Result};
use crate::format::Format;

/// Most bytes [`Input::detect_format`] reads looking for the first one
/// that is not whitespace.
const SNIFF_BYTES: u64 = 64 * 1024;

/// One input: a file, standard input, or a reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file on disk.
    Path(PathBuf),
    /// Standard input.
    Stdin,
    /// Any reader ([`Input::reader`]), or another pipeline's output
    /// ([`Input::pipeline`](crate::Input::pipeline)): a stream, read as
    /// standard input is.
    Reader(ReaderInput),
}

/// The input behind [`Input::Reader`]: a name for messages and what opens
/// it. Clones share the reader; two are equal when they are clones of one.
#[derive(Clone)]
pub struct ReaderInput {
    name: String,
    open: Arc<dyn OpenReader>,
    format: Option<Format>,
}

/// What a [`ReaderInput`] opens: a reader given once, or a pipeline run
/// anew at each open.
pub(crate) trait OpenReader: Send + Sync {
    /// The reader, for one pass over the input.
    fn open(&self) -> io::Result<Box<dyn Read + Send>>;
}

impl ReaderInput {
    /// An input named `name` that `open` opens, read as `format` when the
    /// pipeline does not say (`None`: CSV).
    pub(crate) fn new(
        name: String,
        open: Arc<dyn OpenReader>,
        format: Option<Format>,
    ) -> ReaderInput {
        ReaderInput { name, open, format }
    }

    /// The format its bytes are in, when it knows (a pipeline's: NDJSON).
    pub(crate) fn format(&self) -> Option<Format> {
        self.format
    }
}

impl std::fmt::Debug for ReaderInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReaderInput").field("name", &self.name).finish_non_exhaustive()
    }
}

impl PartialEq for ReaderInput {
    fn eq(&self, other: &ReaderInput) -> bool {
        Arc::ptr_eq(&self.open, &other.open)
    }
}

impl Eq for ReaderInput {}

/// A reader handed over once ([`Input::reader`]).
struct ReadOnce(parking_lot::Mutex<Option<Box<dyn Read + Send>>>);

impl OpenReader for ReadOnce {
    fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        self.0
            .lock()
            .take()
            .ok_or_else(|| io::Error::other("already read (a reader input can be read only once)"))
    }
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

    /// An input read from `reader`, named `name` in every message
    /// (`name:line: ...`). It is a stream, read one `read` at a time as
    /// standard input is, and it can be read once: a second run over it
    /// fails with an [`ErrorKind::Io`](crate::ErrorKind::Io) naming it ("already read"). Its format
    /// is [`PipelineBuilder::input_format`](crate::PipelineBuilder::input_format)'s, CSV
    /// by default. A read blocked on it is not interrupted by a signal
    /// (it has no descriptor to poll); the run stops between reads.
    ///
    /// ```
    /// use fanfold::{Format, Input, Pipeline};
    /// let bytes = "{\"city\":\"Oslo\"}\n{\"city\":\"Lima\"}\n";
    /// let pipeline = Pipeline::builder()
    ///     .input(Input::reader("mem", std::io::Cursor::new(bytes)))
    ///     .input_format(Format::Ndjson)
    ///     .output_format(Format::Csv)
    ///     .build()?;
    /// let mut out = Vec::new();
    /// pipeline.run(&mut out, "<memory>")?;
    /// assert_eq!(out, b"city\nOslo\nLima\n");
    /// // The reader is spent.
    /// let again = pipeline.run(&mut Vec::new(), "<memory>").unwrap_err();
    /// assert!(again.to_string().starts_with("mem: already read"), "{again}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reader(name: impl Into<String>, reader: impl Read + Send + 'static) -> Input {
        let open = ReadOnce(parking_lot::Mutex::new(Some(Box::new(reader))));
        Input::Reader(ReaderInput::new(name.into(), Arc::new(open), None))
    }

    /// The name used in messages: the path as given, `<stdin>`, or a
    /// reader input's name.
    pub fn name(&self) -> String {
        match self {
            Input::Path(p) => p.display().to_string(),
            Input::Stdin => "<stdin>".to_string(),
            Input::Reader(r) => r.name.clone(),
        }
    }

    /// Opens the input for reading, unbuffered (the splitter reads in
    /// large blocks), and says whether it is a stream (not a regular
    /// file). An input that can block without end, such as a pipe, FIFO,
    /// socket or terminal (standard input included), is read through a
    /// reader that polls (`InterruptibleRead`), whose reads watch `cancel`
    /// and return what has arrived, so the splitter reads a stream one
    /// `read(2)` at a time instead of waiting for a full block.
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) naming the input when it cannot be opened (opening a
    /// FIFO waits for its writer, as `open(2)` does), or when it is a
    /// reader input read before.
    pub(crate) fn open_stream(&self, cancel: &CancelToken) -> Result<(Box<dyn Read + Send>, bool)> {
        let file = match self {
            Input::Reader(r) => {
                return r
                    .open
                    .open()
                    .map(|reader| (reader, true))
                    .map_err(|e| Error::io(&r.name, e))
            }
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
            Ok((Box::new(InterruptibleRead { file, cancel: cancel.clone() }), true))
        }
    }

    /// The format of a file input: [`Format::from_path`], except that a
    /// `.json` file (compressed or not) is sniffed: when the first byte of
    /// its decoded text that is neither whitespace (RFC 8259 §2: space,
    /// tab, `\n`, `\r`) nor part of a UTF-8 BOM is `[`, it is
    /// [`Format::Json`] (one array of objects); anything else (`{`, an
    /// empty file, a file that cannot be read, a pipe, no such byte in the
    /// first 64 KiB) is [`Format::Ndjson`]. `.ndjson` and `.jsonl` files are
    /// always NDJSON. Reads at most 64 KiB; a file that cannot be opened is
    /// reported when the run opens it. `None` for standard input, a reader
    /// input that does not say, and an unknown extension.
    pub fn detect_format(&self) -> Option<Format> {
        let path = match self {
            Input::Path(p) => p,
            Input::Reader(r) => return r.format(),
            Input::Stdin => return None,
        };
        let by_name = Format::from_path(path)?;
        if crate::format::record_extension(path).as_deref() != Some("json") {
            return Some(by_name);
        }
        // A pipe or FIFO is not read ahead: what was read would be lost.
        let head = self.head_text(SNIFF_BYTES, None).map(|(text, _)| text).unwrap_or_default();
        let body = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head);
        match body.iter().find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
            Some(b'[') => Some(Format::Json),
            _ => Some(Format::Ndjson),
        }
    }

    /// `inputs` with each directory replaced by the files it holds, as
    /// Hadoop's and Spark's readers take a job's output folder: its
    /// regular files (and links to them), in its subdirectories too, in
    /// byte-wise order of their paths under it, leaving out every file and
    /// subdirectory whose name begins with `_` or `.` (`_SUCCESS`,
    /// `_temporary/`, `.part-00000.crc`). Each file is decompressed by its
    /// own content. Other inputs stay as they are.
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) naming a directory that
    /// cannot be listed, or that holds no file once those are left out.
    pub fn expand_directories(inputs: Vec<Input>) -> Result<Vec<Input>> {
        let mut out = Vec::with_capacity(inputs.len());
        for input in inputs {
            match &input {
                Input::Path(p) if p.is_dir() => {
                    let before = out.len();
                    list_files(p, &mut out)?;
                    if out.len() == before {
                        let why = "the directory holds no input file (names that begin with `_` \
                                   or `.` are left out)";
                        return Err(Error::io(path_name(p), io::Error::other(why)));
                    }
                }
                _ => out.push(input),
            }
        }
        Ok(out)
    }

    /// The compression the first bytes of a regular file input name, if
    /// any (`None` for standard input, reader inputs, pipes and FIFOs,
    /// which are not read ahead).
    pub fn compression(&self) -> Option<crate::format::Compression> {
        let Input::Path(p) = self else { return None };
        if !std::fs::metadata(p).ok()?.is_file() {
            return None;
        }
        let mut head = Vec::new();
        File::open(p).ok()?.take(16).read_to_end(&mut head).ok()?;
        crate::format::Compression::sniff(&head)
    }

    /// The first `max` bytes of a regular file input's text (decompressed,
    /// and transcoded from UTF-16 or `encoding`), and whether that is all
    /// of it. `None` for other inputs, which are not read ahead, and for
    /// a file that cannot be read.
    pub fn head_text(&self, max: u64, encoding: Option<TextEncoding>) -> Option<(Vec<u8>, bool)> {
        let Input::Path(p) = self else { return None };
        if !std::fs::metadata(p).ok()?.is_file() {
            return None;
        }
        let opened = decode::open(Box::new(File::open(p).ok()?), false, encoding).ok()?;
        let mut text = Vec::new();
        let read = opened.reader.take(max + 1).read_to_end(&mut text);
        let complete = read.is_ok() && text.len() as u64 <= max;
        text.truncate(max as usize);
        Some((text, complete))
    }

    /// The input's size in bytes when it is a regular file (never for
    /// standard input or a reader input).
    pub(crate) fn size(&self) -> Option<u64> {
        match self {
            Input::Path(p) => std::fs::metadata(p).ok().filter(|m| m.is_file()).map(|m| m.len()),
            Input::Stdin | Input::Reader(_) => None,
        }
    }
}

/// The name of the path `p` in messages.
fn path_name(p: &std::path::Path) -> String {
    p.display().to_string()
}

/// Appends the files under `dir` to `out` as [`Input::expand_directories`]
/// orders and filters them.
fn list_files(dir: &std::path::Path, out: &mut Vec<Input>) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(path_name(dir), e))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(path_name(dir), e))?;
        let name = entry.file_name();
        if matches!(name.as_bytes().first(), Some(b'_' | b'.')) {
            continue;
        }
        names.push(name);
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for name in names {
        let path = dir.join(name);
        // Follows links, as reading the file will.
        let meta = std::fs::metadata(&path).map_err(|e| Error::io(path_name(&path), e))?;
        if meta.is_dir() {
            list_files(&path, out)?;
        } else {
            out.push(Input::Path(path));
        }
    }
    Ok(())
}

/// A reader that waits for data with `poll(2)`, waking every
/// [`crate::cancel::POLL_INTERVAL_MS`] to look at its [`CancelToken`], so
/// that a read blocked on a silent pipe, FIFO or socket ends soon after
/// the token is cancelled (by a caller, or by SIGINT or SIGTERM: the
/// signal handlers are installed with `SA_RESTART`, so a plain `read(2)`
/// would resume waiting after the signal).
#[derive(Debug)]
pub(crate) struct InterruptibleRead {
    file: File,
    cancel: CancelToken,
}

impl Read for InterruptibleRead {
    /// Reads as [`File::read`] does, once `poll(2)` says the descriptor is
    /// readable (or closed, or in error: the read then says which).
    ///
    /// # Errors
    /// The read's errors, the poll's (other than `EINTR`), and, once
    /// the token is cancelled, an error of kind [`io::ErrorKind::Other`]
    /// saying so ([`Splitter`] turns it into [`ErrorKind::Interrupted`](crate::ErrorKind::Interrupted)
    /// or [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled)).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(e) = self.cancel.error() {
                return Err(io::Error::other(e.to_string()));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detect_format_sniffs_json_files_compressed_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, body: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, body).unwrap();
            Input::Path(p)
        };
        let array = write("a.json", b"\xEF\xBB\xBF \r\n\t[{\"a\":1}]");
        assert_eq!(array.detect_format(), Some(Format::Json));
        let lines = write("b.JSON", b"\n{\"a\":1}\n");
        assert_eq!(lines.detect_format(), Some(Format::Ndjson));
        let empty = write("c.json", b"");
        assert_eq!(empty.detect_format(), Some(Format::Ndjson));
        // Other JSON extensions are never sniffed.
        let jsonl = write("d.jsonl", b"[1]");
        assert_eq!(jsonl.detect_format(), Some(Format::Ndjson));
        let missing = Input::Path(dir.path().join("missing.json"));
        assert_eq!(missing.detect_format(), Some(Format::Ndjson));
        assert_eq!(Input::Path("x.txt".into()).detect_format(), None);
        assert_eq!(Input::Stdin.detect_format(), None);
        // A compressed array is sniffed on its decoded text.
        let gz = zstd::encode_all(&b"  [{\"a\":1}]"[..], 3).unwrap();
        assert_eq!(write("e.json.zst", &gz).detect_format(), Some(Format::Json));
        assert_eq!(write("f.csv.gz", &gz).detect_format(), Some(Format::Csv));
    }
}
