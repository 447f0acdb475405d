//! The run journal (`--journal FILE`, `--resume`): a durable record of the
//! chunks a run has mapped, so that a run killed part way (`kill -9`, a
//! crash, a reboot, Ctrl-C) can go on where it stopped instead of running
//! its `--map` and `--exec` steps again on the chunks it had done.
//!
//! # What is recorded
//!
//! For each chunk whose transform chain has finished (not waiting for the
//! in-order merge), one entry: the chunk's place (seq, input, byte offset
//! and length), the records the chain made of it ([`Mapped`]: NDJSON lines
//! with the line, offset and index each came from, and the counts of
//! records read and filtered), and the records the chain set aside
//! ([`Reject`]s, with `--on-error skip|reject`). That is everything that
//! happens to a chunk before the reducer: on `--resume`, the splitter cuts
//! the input the same way, and a chunk found in the journal skips parsing
//! and its steps; its records go from the journal to the reducer's fold.
//! Every reducer then sees the same records in the same order, so the
//! output and the rejects file are byte for byte those of a run that was
//! never interrupted, whatever the reducer, and no reducer has to
//! serialize its partials.
//!
//! # How it is kept
//!
//! The file is a header holding the run's [`Fingerprint`] and chunk size,
//! then one entry a chunk (its framing and the entry codec are
//! `file.rs`'s). Entries are appended in the order chunks finish (not in
//! seq order) by the worker that mapped the chunk, with one `write` under
//! a lock, before the chunk is merged: from then on the entry survives the
//! process being killed (it is in the page cache). A syncer thread
//! (`sync.rs`) puts the entries on disk (`fdatasync`) as they come, one
//! sync for all the entries written since the last (group commit), so that
//! the workers never wait for the disk: after a crash of the machine, the
//! entries of the last few milliseconds may be lost, and their chunks are
//! mapped again. After `kill -9` or a power cut the last entry may be
//! torn: [`Journal::open`] stops at the first such entry, cuts the file
//! there, and that chunk is simply mapped again.
//!
//! # Policy
//!
//! - `--journal FILE` on a file that exists, without `--resume`: refused
//!   ([`ErrorKind::Journal`]), so that no journal is overwritten by accident.
//! - `--resume` without the file: the run starts from the beginning and
//!   creates it (a retry loop can always pass `--resume`).
//! - A journal whose fingerprint differs from the run's: refused, naming
//!   what changed (a flag and its two values, or an input's size, time or
//!   content).
//! - The chunk size is the journal's: with automatic chunk sizing (which
//!   depends on `--threads`, `--concurrency` and `--memory-limit`), a
//!   resumed run cuts where the first run did, so those flags may change.
//! - The journal is left in place when [`crate::Pipeline::run`] returns;
//!   the `fanfold` command removes it once the output is committed.

mod file;
mod fingerprint;
mod sync;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use parking_lot::Mutex;

use self::file::{decode_entry, encode_entry, frame, header, read_journal, Index};
use self::sync::Syncer;
use crate::error::{msg, Error, ErrorKind, Message, Result, Setting};
use crate::sink::rejects::Reject;
use crate::source::{Chunk, ChunkLimit};
use crate::transform::Mapped;

pub use self::fingerprint::{Fingerprint, InputPrint};

/// `--journal FILE` and `--resume`, as [`crate::PipelineBuilder::journal`] holds
/// them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalSpec {
    /// The journal file.
    pub path: PathBuf,
    /// Go on with the run the file records (`--resume`); when the file
    /// does not exist, start from the beginning. Without it, an existing
    /// file is an [`ErrorKind::Journal`].
    pub resume: bool,
}

/// An open journal: the chunks it already holds, and a file to append new
/// ones to. Shared by the workers (`&Journal` is `Sync`).
#[derive(Debug)]
pub struct Journal {
    /// The thread that syncs new entries to disk. The first field, so that
    /// it is dropped first: the last entries are synced and the thread
    /// ends before the files below are closed.
    syncer: Syncer,
    name: String,
    /// The file, for reading entries back.
    file: File,
    /// The same file opened for appending; the lock keeps entries whole.
    append: Mutex<File>,
    /// Where each journaled chunk's payload is: seq → (offset, length).
    done: Index,
    chunk: ChunkLimit,
}

impl Journal {
    /// The journal `name` over `file`, appending with `append`, and its
    /// syncer thread.
    fn start(
        name: String,
        file: File,
        append: File,
        done: Index,
        chunk: ChunkLimit,
    ) -> Result<Journal> {
        let io = |e| Error::io_note(name.clone(), Setting::Journal, e);
        let syncer = Syncer::start(&file).map_err(io)?;
        let append = Mutex::new(append);
        Ok(Journal { name, file, append, done, chunk, syncer })
    }
    /// Opens the journal `spec` names for a run with fingerprint `print`
    /// that would cut its input into `chunk`s: with `--resume` and an
    /// existing file, checks that it records this run and indexes its
    /// entries (cutting off a torn last one); else creates the file and
    /// writes its header, durably.
    ///
    /// # Errors
    /// [`ErrorKind::Journal`] when the file exists without `spec.resume`, is
    /// not a fanfold journal (or one of another format version), or records
    /// a run with other inputs or settings (the message lists them);
    /// [`ErrorKind::Io`] naming the file when it cannot be read or written.
    pub fn open(spec: &JournalSpec, print: &Fingerprint, chunk: ChunkLimit) -> Result<Journal> {
        let name = spec.path.display().to_string();
        let io = |e| Error::io_note(name.clone(), Setting::Journal, e);
        let refuse = |message: Message| -> Error {
            ErrorKind::Journal { path: name.clone(), message }.into()
        };
        let exists = std::fs::metadata(&spec.path).is_ok();
        if exists && !spec.resume {
            return Err(refuse(msg![
                "the file exists: pass ",
                Setting::Resume,
                " to go on with the run it records, or remove it to start over",
            ]));
        }
        if exists {
            let mut file =
                OpenOptions::new().read(true).write(true).open(&spec.path).map_err(io)?;
            if let Some((earlier, chunk, done, end)) =
                read_journal(&mut file, &|m: String| refuse(m.into()), &io)?
            {
                let diffs = print.differences(&earlier);
                if !diffs.is_empty() {
                    return Err(refuse(
                        format!(
                            "cannot resume: it records a run with other inputs or flags: {}. Run \
                         with the inputs and flags it records, or remove it to start over",
                            diffs.join("; ")
                        )
                        .into(),
                    ));
                }
                // A torn last entry is cut off, so that new ones follow the
                // last whole one.
                if file.metadata().map_err(io)?.len() != end {
                    file.set_len(end).map_err(io)?;
                    file.sync_all().map_err(io)?;
                }
                let append = OpenOptions::new().append(true).open(&spec.path).map_err(io)?;
                return Journal::start(name, file, append, done, chunk);
            }
            // Killed while the header was being written: nothing to keep.
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&spec.path)
            .map_err(io)?;
        let header = header(&name, print, chunk)?;
        file.write_all(&header).map_err(io)?;
        file.sync_all().map_err(io)?;
        // The new file's directory entry must survive a crash too.
        let dir = match spec.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        let append = OpenOptions::new().append(true).open(&spec.path).map_err(io)?;
        Journal::start(name, file, append, Index::new(), chunk)
    }

    /// The chunk size to cut the input with: the one the journal's first
    /// run used (see the module docs).
    pub fn chunk(&self) -> ChunkLimit {
        self.chunk
    }

    /// The journaled records and rejects of `chunk`, when the journal has
    /// them.
    ///
    /// # Errors
    /// [`ErrorKind::Journal`] when the entry is damaged or does not cover the
    /// same bytes as `chunk`; [`ErrorKind::Io`] when it cannot be read.
    pub fn replay(&self, chunk: &Chunk) -> Result<Option<(Mapped, Vec<Reject>)>> {
        let Some(&(at, len)) = self.done.get(&chunk.seq) else { return Ok(None) };
        let mut payload = vec![0; len as usize];
        self.file
            .read_exact_at(&mut payload, at)
            .map_err(|e| Error::io_note(self.name.clone(), Setting::Journal, e))?;
        let damaged = || ErrorKind::Journal {
            path: self.name.clone(),
            message: format!(
                "the entry of chunk {} is damaged; remove it to start over",
                chunk.seq
            )
            .into(),
        };
        let entry = decode_entry(&payload).ok_or_else(damaged)?;
        let here = (chunk.input as u64, chunk.offset, chunk.data.len() as u64);
        if entry.place != (chunk.seq, here.0, here.1, here.2) {
            return Err(ErrorKind::Journal {
                path: self.name.clone(),
                message: format!(
                    "chunk {} was input {} bytes {}+{}, now input {} bytes {}+{}: the input or \
                     the chunking changed; remove it to start over",
                    chunk.seq, entry.place.1, entry.place.2, entry.place.3, here.0, here.1, here.2
                )
                .into(),
            }
            .into());
        }
        Ok(Some((entry.mapped, entry.rejects)))
    }

    /// Appends `chunk`'s entry (the records `mapped` and the `rejects` its
    /// chain set aside) and has the syncer thread put it on disk
    /// (`fdatasync`) without waiting for it. Once this returns, the entry
    /// survives the process being killed (it is in the page cache); it
    /// survives a crash of the machine once the next sync is done.
    ///
    /// # Errors
    /// [`ErrorKind::Io`] naming the journal when writing fails, or when an
    /// earlier sync failed.
    pub fn record(&self, chunk: &Chunk, mapped: &Mapped, rejects: &[Reject]) -> Result<()> {
        let payload = encode_entry(chunk, mapped, rejects);
        let io = |e| Error::io_note(self.name.clone(), Setting::Journal, e);
        let frame = frame(&self.name, &payload)?;
        self.append.lock().write_all(&frame).map_err(io)?;
        self.syncer.dirty().map_err(io)
    }
}
