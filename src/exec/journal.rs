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
//! # The file
//!
//! All integers little-endian.
//!
//! ```text
//! header: "FANFOLDJ"  u32 version (1)  u32 n  u32 crc32(json)  json (n bytes)
//! entry:  u32 n  u32 crc32(payload)  payload (n bytes)        ...appended, one per chunk
//! ```
//!
//! The header's JSON holds the [`Fingerprint`] (the settings that shape the
//! records, the fanfold version, and for each input its canonical path,
//! size, modification time and the CRC-32 of its first and last 64 KiB)
//! and the chunk size the run used. An entry's payload is binary: see
//! `encode_entry`. Entries are appended in the order chunks finish (not
//! in seq order) by the worker that mapped the chunk, with one `write`
//! under a lock, before the chunk is merged: from then on the entry
//! survives the process being killed (it is in the page cache). A syncer
//! thread puts the entries on disk (`fdatasync`) as they come, one sync for
//! all the entries written since the last (group commit), so that the
//! workers never wait for the disk: after a crash of the machine, the
//! entries of the last few milliseconds may be lost, and their chunks are
//! mapped again. (Syncing each entry on its worker cost 1.5 ms of wall
//! time an 85 KB entry here, a third of a cheap `--map` run in 64 KiB
//! chunks.) After `kill -9` or a power cut the last entry may be torn: its
//! length runs past the end of the file or its CRC does not match.
//! [`Journal::open`] stops at the first such entry, cuts the file there,
//! and that chunk is simply mapped again.
//!
//! # Policy
//!
//! - `--journal FILE` on a file that exists, without `--resume`: refused
//!   ([`Error::Journal`]), so that no journal is overwritten by accident.
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

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};
use crate::sink::rejects::Reject;
use crate::source::{Chunk, ChunkLimit};
use crate::transform::Mapped;

/// The file's first bytes.
const MAGIC: &[u8; 8] = b"FANFOLDJ";
/// The format version this build writes and reads.
const VERSION: u32 = 1;
/// Bytes at each end of an input whose CRC-32 the fingerprint keeps.
const SAMPLE: u64 = 64 << 10;
/// The [`Reject::kind`]s there are ([`Error::kind`]).
const KINDS: [&str; 8] =
    ["csv", "field_count", "json", "not_numeric", "unexpected_key", "transform", "exec", "other"];

/// `--journal FILE` and `--resume`, as [`crate::Pipeline::journal`] holds
/// them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalSpec {
    /// The journal file.
    pub path: PathBuf,
    /// Go on with the run the file records (`--resume`); when the file
    /// does not exist, start from the beginning. Without it, an existing
    /// file is an [`Error::Journal`].
    pub resume: bool,
}

/// One input as a journal knows it: enough to tell that it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputPrint {
    /// The name as given (for messages).
    pub name: String,
    /// The canonical path (so a run from another directory still matches).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, in nanoseconds since the Unix epoch (0 when the
    /// file system does not say).
    pub mtime_ns: u64,
    /// CRC-32 of the first 64 KiB (all of a smaller file).
    pub head_crc: u32,
    /// CRC-32 of the last 64 KiB (all of a smaller file).
    pub tail_crc: u32,
}

impl InputPrint {
    /// Reads the print of the file at `path` (`name` as given): its
    /// metadata and 128 KiB at most.
    ///
    /// # Errors
    /// [`Error::Io`] naming the input when it cannot be read.
    pub fn of(name: &str, path: &Path) -> Result<InputPrint> {
        let io = |e| Error::io(name.to_string(), e);
        let file = File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        let size = meta.len();
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let crc_at = |at: u64| -> Result<u32> {
            let len = usize::try_from(SAMPLE.min(size - at)).unwrap_or(0);
            let mut buf = vec![0; len];
            file.read_exact_at(&mut buf, at).map_err(io)?;
            Ok(crc32fast::hash(&buf))
        };
        let canonical = std::fs::canonicalize(path).map_err(io)?;
        Ok(InputPrint {
            name: name.to_string(),
            path: canonical.display().to_string(),
            size,
            mtime_ns,
            head_crc: crc_at(0)?,
            tail_crc: crc_at(size.saturating_sub(SAMPLE))?,
        })
    }
}

/// What a journal is valid for: the inputs, and the settings that shape
/// the records each chunk gives the reducer.
///
/// Left out, because they do not change those records: `--threads`,
/// `--max-in-flight`, `--concurrency`, `--memory-limit`, `--temp-dir`,
/// `--progress`, `--retries`, `--timeout`, `--rejects` (the path),
/// `--max-errors`, `--output-delimiter` and the reducer (`--sort-by`,
/// `--group-by`, `--agg`, `--top`, `--reduce-*`). A resumed run may change
/// them; its output is then what an uninterrupted run with its own flags
/// gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// `(name, value)` pairs: the flags (by name) and the fanfold version,
    /// each value in a canonical text form.
    pub settings: Vec<(String, String)>,
    /// The inputs, in order.
    pub inputs: Vec<InputPrint>,
}

impl Fingerprint {
    /// What differs from `earlier`, one phrase each; empty when nothing
    /// does.
    pub fn differences(&self, earlier: &Fingerprint) -> Vec<String> {
        let mut diffs = Vec::new();
        for (name, now) in &self.settings {
            match earlier.settings.iter().find(|(n, _)| n == name) {
                Some((_, was)) if was == now => {}
                Some((_, was)) => diffs.push(format!("{name} was `{was}`, now `{now}`")),
                None => diffs.push(format!("{name} is new (`{now}`)")),
            }
        }
        if self.inputs.len() != earlier.inputs.len() {
            let names =
                |v: &[InputPrint]| v.iter().map(|i| i.name.clone()).collect::<Vec<_>>().join(", ");
            diffs.push(format!(
                "the inputs were [{}], now [{}]",
                names(&earlier.inputs),
                names(&self.inputs)
            ));
            return diffs;
        }
        for (now, was) in self.inputs.iter().zip(&earlier.inputs) {
            let name = &now.name;
            if now.path != was.path {
                diffs.push(format!("input {name} is {}, was {}", now.path, was.path));
            } else if now.size != was.size {
                diffs.push(format!("input {name} was {} bytes, now {}", was.size, now.size));
            } else if (now.head_crc, now.tail_crc) != (was.head_crc, was.tail_crc) {
                diffs.push(format!("input {name} has changed (same size, other content)"));
            } else if now.mtime_ns != was.mtime_ns {
                diffs.push(format!("input {name} was modified since (its mtime changed)"));
            }
        }
        diffs
    }

    fn to_json(&self, chunk: ChunkLimit) -> serde_json::Value {
        let inputs: Vec<serde_json::Value> = self
            .inputs
            .iter()
            .map(|i| {
                serde_json::json!({
                    "name": i.name, "path": i.path, "size": i.size, "mtime_ns": i.mtime_ns,
                    "head_crc32": i.head_crc, "tail_crc32": i.tail_crc,
                })
            })
            .collect();
        let chunk = match chunk {
            ChunkLimit::Records(n) => serde_json::json!({ "records": n }),
            ChunkLimit::Bytes(b) => serde_json::json!({ "bytes": b }),
            ChunkLimit::Auto => serde_json::json!({ "bytes": crate::source::DEFAULT_CHUNK_BYTES }),
        };
        serde_json::json!({ "settings": self.settings, "inputs": inputs, "chunk": chunk })
    }

    fn from_json(v: &serde_json::Value) -> Option<(Fingerprint, ChunkLimit)> {
        let settings = v["settings"]
            .as_array()?
            .iter()
            .map(|p| Some((p[0].as_str()?.to_string(), p[1].as_str()?.to_string())))
            .collect::<Option<Vec<_>>>()?;
        let inputs = v["inputs"]
            .as_array()?
            .iter()
            .map(|i| {
                Some(InputPrint {
                    name: i["name"].as_str()?.to_string(),
                    path: i["path"].as_str()?.to_string(),
                    size: i["size"].as_u64()?,
                    mtime_ns: i["mtime_ns"].as_u64()?,
                    head_crc: u32::try_from(i["head_crc32"].as_u64()?).ok()?,
                    tail_crc: u32::try_from(i["tail_crc32"].as_u64()?).ok()?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let size = |n: &serde_json::Value| n.as_u64().and_then(|n| usize::try_from(n).ok());
        let chunk = match (size(&v["chunk"]["bytes"]), size(&v["chunk"]["records"])) {
            (Some(b), None) if b > 0 => ChunkLimit::Bytes(b),
            (None, Some(n)) if n > 0 => ChunkLimit::Records(n),
            _ => return None,
        };
        Some((Fingerprint { settings, inputs }, chunk))
    }
}

/// An open journal: the chunks it already holds, and a file to append new
/// ones to. Shared by the workers (`&Journal` is `Sync`).
#[derive(Debug)]
pub struct Journal {
    name: String,
    /// The file, for reading entries back.
    file: File,
    /// The same file opened for appending; the lock keeps entries whole.
    append: Mutex<File>,
    /// Where each journaled chunk's payload is: seq → (offset, length).
    done: HashMap<u64, (u64, u32)>,
    chunk: ChunkLimit,
    /// The thread that syncs new entries to disk, and what it shares.
    syncer: Option<std::thread::JoinHandle<()>>,
    sync: Arc<SyncShared>,
}

/// What [`Journal::record`] and the syncer thread share.
#[derive(Debug, Default)]
struct SyncShared {
    state: Mutex<SyncState>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct SyncState {
    /// Entries appended since the last `fdatasync` started.
    dirty: bool,
    /// The journal is being dropped: sync what is left, then end.
    stop: bool,
    /// A failed `fdatasync`, for the next [`Journal::record`] to report.
    error: Option<std::io::Error>,
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
        let io = |e| Error::io(format!("{name} (--journal)"), e);
        let sync = Arc::new(SyncShared::default());
        let shared = sync.clone();
        let target = file.try_clone().map_err(io)?;
        let syncer = std::thread::Builder::new()
            .name("fanfold-journal".into())
            .spawn(move || sync_loop(&target, &shared))
            .map_err(io)?;
        let append = Mutex::new(append);
        Ok(Journal { name, file, append, done, chunk, syncer: Some(syncer), sync })
    }
}

/// The syncer thread: whenever entries were appended, one `fdatasync`
/// for all of them (group commit), until the journal is dropped.
fn sync_loop(file: &File, shared: &SyncShared) {
    let mut state = shared.state.lock();
    loop {
        while !state.dirty && !state.stop {
            shared.wake.wait(&mut state);
        }
        if !state.dirty {
            return;
        }
        state.dirty = false;
        let synced = parking_lot::MutexGuard::unlocked(&mut state, || file.sync_data());
        if let Err(e) = synced {
            state.error.get_or_insert(e);
        }
    }
}

impl Drop for Journal {
    /// Syncs the last entries and ends the syncer thread.
    fn drop(&mut self) {
        self.sync.state.lock().stop = true;
        self.sync.wake.notify_one();
        if let Some(t) = self.syncer.take() {
            let _ = t.join();
        }
    }
}

impl Journal {
    /// Opens the journal `spec` names for a run with fingerprint `print`
    /// that would cut its input into `chunk`s: with `--resume` and an
    /// existing file, checks that it records this run and indexes its
    /// entries (cutting off a torn last one); else creates the file and
    /// writes its header, durably.
    ///
    /// # Errors
    /// [`Error::Journal`] when the file exists without `spec.resume`, is
    /// not a fanfold journal (or one of another format version), or records
    /// a run with other inputs or settings (the message lists them);
    /// [`Error::Io`] naming the file when it cannot be read or written.
    pub fn open(spec: &JournalSpec, print: &Fingerprint, chunk: ChunkLimit) -> Result<Journal> {
        let name = spec.path.display().to_string();
        let io = |e| Error::io(format!("{name} (--journal)"), e);
        let refuse = |message: String| Error::Journal { path: name.clone(), message };
        let exists = std::fs::metadata(&spec.path).is_ok();
        if exists && !spec.resume {
            return Err(refuse(
                "the file exists: pass --resume to go on with the run it records, or remove it \
                 to start over"
                    .to_string(),
            ));
        }
        if exists {
            let mut file =
                OpenOptions::new().read(true).write(true).open(&spec.path).map_err(io)?;
            if let Some((earlier, chunk, done, end)) = read_journal(&mut file, &refuse, &io)? {
                let diffs = print.differences(&earlier);
                if !diffs.is_empty() {
                    return Err(refuse(format!(
                        "cannot resume: it records a run with other inputs or flags: {}. Run \
                         with the inputs and flags it records, or remove it to start over",
                        diffs.join("; ")
                    )));
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
        let json = print.to_json(chunk).to_string();
        let mut header = Vec::with_capacity(json.len() + 20);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&VERSION.to_le_bytes());
        header.extend_from_slice(&frame_len(&name, json.len())?.to_le_bytes());
        header.extend_from_slice(&crc32fast::hash(json.as_bytes()).to_le_bytes());
        header.extend_from_slice(json.as_bytes());
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
        Journal::start(name, file, append, HashMap::new(), chunk)
    }

    /// The chunk size to cut the input with: the one the journal's first
    /// run used (see the module docs).
    pub fn chunk(&self) -> ChunkLimit {
        self.chunk
    }

    /// How many chunks the journal held when it was opened.
    pub fn completed(&self) -> usize {
        self.done.len()
    }

    /// The journaled records and rejects of `chunk`, when the journal has
    /// them.
    ///
    /// # Errors
    /// [`Error::Journal`] when the entry is damaged or does not cover the
    /// same bytes as `chunk`; [`Error::Io`] when it cannot be read.
    pub fn replay(&self, chunk: &Chunk) -> Result<Option<(Mapped, Vec<Reject>)>> {
        let Some(&(at, len)) = self.done.get(&chunk.seq) else { return Ok(None) };
        let mut payload = vec![0; len as usize];
        self.file
            .read_exact_at(&mut payload, at)
            .map_err(|e| Error::io(format!("{} (--journal)", self.name), e))?;
        let damaged = || Error::Journal {
            path: self.name.clone(),
            message: format!(
                "the entry of chunk {} is damaged; remove it to start over",
                chunk.seq
            ),
        };
        let entry = decode_entry(&payload).ok_or_else(damaged)?;
        let here = (chunk.input as u64, chunk.offset, chunk.data.len() as u64);
        if entry.place != (chunk.seq, here.0, here.1, here.2) {
            return Err(Error::Journal {
                path: self.name.clone(),
                message: format!(
                    "chunk {} was input {} bytes {}+{}, now input {} bytes {}+{}: the input or \
                     the chunking changed; remove it to start over",
                    chunk.seq, entry.place.1, entry.place.2, entry.place.3, here.0, here.1, here.2
                ),
            });
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
    /// [`Error::Io`] naming the journal when writing fails, or when an
    /// earlier sync failed.
    pub fn record(&self, chunk: &Chunk, mapped: &Mapped, rejects: &[Reject]) -> Result<()> {
        let payload = encode_entry(chunk, mapped, rejects);
        let io = |e| Error::io(format!("{} (--journal)", self.name), e);
        let mut frame = Vec::with_capacity(payload.len() + 8);
        frame.extend_from_slice(&frame_len(&self.name, payload.len())?.to_le_bytes());
        frame.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        frame.extend_from_slice(&payload);
        self.append.lock().write_all(&frame).map_err(io)?;
        let mut state = self.sync.state.lock();
        if let Some(e) = state.error.take() {
            return Err(io(e));
        }
        state.dirty = true;
        self.sync.wake.notify_one();
        Ok(())
    }
}

/// A length as a frame's `u32`; an entry over 4 GiB is an
/// [`Error::Journal`] for the journal `name`.
fn frame_len(name: &str, len: usize) -> Result<u32> {
    u32::try_from(len).map_err(|_| Error::Journal {
        path: name.to_string(),
        message: format!(
            "a chunk's entry would take {len} bytes, over the 4 GiB an entry may hold: use \
             smaller chunks (--chunk-bytes)"
        ),
    })
}

type Index = HashMap<u64, (u64, u32)>;

/// Reads and checks the header of the journal `file`, then indexes its
/// whole entries. Returns the fingerprint, the chunk size, the index and
/// where the last whole entry ends; `None` when the header itself is
/// incomplete (a run killed while creating the file).
fn read_journal(
    file: &mut File,
    refuse: &dyn Fn(String) -> Error,
    io: &dyn Fn(std::io::Error) -> Error,
) -> Result<Option<(Fingerprint, ChunkLimit, Index, u64)>> {
    let file_len = file.metadata().map_err(io)?.len();
    let mut r = BufReader::with_capacity(1 << 20, &*file);
    let mut fixed = [0u8; 20];
    let got = read_up_to(&mut r, &mut fixed).map_err(io)?;
    if !MAGIC.starts_with(&fixed[..got.min(8)]) {
        return Err(refuse("not a fanfold journal; refusing to touch it".to_string()));
    }
    if got < 20 {
        return Ok(None);
    }
    let version = u32::from_le_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]);
    if version != VERSION {
        return Err(refuse(format!(
            "journal format version {version}; this fanfold reads version {VERSION}: finish the \
             run with the fanfold that started it, or remove the file to start over"
        )));
    }
    let len = u32::from_le_bytes([fixed[12], fixed[13], fixed[14], fixed[15]]) as u64;
    let crc = u32::from_le_bytes([fixed[16], fixed[17], fixed[18], fixed[19]]);
    if 20 + len > file_len {
        return Ok(None);
    }
    let mut json = vec![0; len as usize];
    r.read_exact(&mut json).map_err(io)?;
    if crc32fast::hash(&json) != crc {
        return Ok(None);
    }
    let parsed = serde_json::from_slice::<serde_json::Value>(&json)
        .ok()
        .and_then(|v| Fingerprint::from_json(&v));
    let Some((print, chunk)) = parsed else {
        return Err(refuse("its header is damaged; remove it to start over".to_string()));
    };
    let mut done = HashMap::new();
    let mut end = 20 + len;
    loop {
        let mut head = [0u8; 8];
        if read_up_to(&mut r, &mut head).map_err(io)? < 8 {
            break;
        }
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        if end + 8 + u64::from(len) > file_len || len < 8 {
            break;
        }
        let mut payload = vec![0; len as usize];
        r.read_exact(&mut payload).map_err(io)?;
        if crc32fast::hash(&payload) != crc {
            break;
        }
        let seq = u64::from_le_bytes(payload[..8].try_into().unwrap_or_default());
        done.entry(seq).or_insert((end + 8, len));
        end += 8 + u64::from(len);
    }
    Ok(Some((print, chunk, done, end)))
}

/// Reads into `buf` until it is full or the input ends; returns how many
/// bytes were read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A decoded entry.
struct Entry {
    /// (seq, input, offset, length) of the chunk.
    place: (u64, u64, u64, u64),
    mapped: Mapped,
    rejects: Vec<Reject>,
}

/// An entry's payload: `u64` seq, input, offset, length, read, filtered;
/// `u64` reject count and each reject (input, line, offset, chunk, index,
/// kind, message, raw, records, attempts, stderr); `u64` record count and
/// each record's line, offset and index; then the records' NDJSON bytes.
/// Strings and byte strings are a `u64` length and the bytes; an optional
/// value is a `u8` flag (0: none) and the value.
fn encode_entry(chunk: &Chunk, mapped: &Mapped, rejects: &[Reject]) -> Vec<u8> {
    let mut out = Vec::with_capacity(mapped.records.len() + 24 * mapped.places.len() + 128);
    let put = |out: &mut Vec<u8>, v: u64| out.extend_from_slice(&v.to_le_bytes());
    let put_bytes = |out: &mut Vec<u8>, b: &[u8]| {
        out.extend_from_slice(&(b.len() as u64).to_le_bytes());
        out.extend_from_slice(b);
    };
    for v in [chunk.seq, chunk.input as u64, chunk.offset, chunk.data.len() as u64] {
        put(&mut out, v);
    }
    put(&mut out, mapped.read);
    put(&mut out, mapped.filtered);
    put(&mut out, rejects.len() as u64);
    for r in rejects {
        put_bytes(&mut out, r.input.as_bytes());
        for v in [r.line, r.offset, r.chunk, r.index] {
            put(&mut out, v);
        }
        put_bytes(&mut out, r.kind.as_bytes());
        put_bytes(&mut out, r.message.as_bytes());
        put_bytes(&mut out, &r.raw);
        put(&mut out, r.records);
        match r.attempts {
            Some(a) => {
                out.push(1);
                put(&mut out, u64::from(a));
            }
            None => out.push(0),
        }
        match &r.stderr {
            Some(s) => {
                out.push(1);
                put_bytes(&mut out, s.as_bytes());
            }
            None => out.push(0),
        }
    }
    put(&mut out, mapped.places.len() as u64);
    for &(line, offset, index) in &mapped.places {
        for v in [line, offset, index] {
            put(&mut out, v);
        }
    }
    put_bytes(&mut out, &mapped.records);
    out
}

/// Reads an entry's payload back; `None` when it does not parse.
fn decode_entry(payload: &[u8]) -> Option<Entry> {
    let mut d = Decoder { buf: payload };
    let place = (d.u64()?, d.u64()?, d.u64()?, d.u64()?);
    let (read, filtered) = (d.u64()?, d.u64()?);
    let n = d.u64()?;
    let mut rejects = Vec::new();
    for _ in 0..n {
        let input = d.string()?;
        let (line, offset, chunk, index) = (d.u64()?, d.u64()?, d.u64()?, d.u64()?);
        let kind = d.string()?;
        let kind = KINDS.iter().find(|k| **k == kind).copied().unwrap_or("other");
        let message = d.string()?;
        let raw = d.bytes()?.to_vec();
        let records = d.u64()?;
        let attempts = match d.u8()? {
            0 => None,
            _ => Some(u32::try_from(d.u64()?).ok()?),
        };
        let stderr = match d.u8()? {
            0 => None,
            _ => Some(d.string()?),
        };
        rejects.push(Reject {
            input,
            line,
            offset,
            chunk,
            index,
            kind,
            message,
            raw,
            records,
            attempts,
            stderr,
        });
    }
    let n = d.u64()?;
    let mut places = Vec::new();
    for _ in 0..n {
        places.push((d.u64()?, d.u64()?, d.u64()?));
    }
    let records = d.bytes()?.to_vec();
    d.buf.is_empty().then_some(Entry {
        place,
        mapped: Mapped { read, filtered, records, places },
        rejects,
    })
}

struct Decoder<'a> {
    buf: &'a [u8],
}

impl<'a> Decoder<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.buf.len() {
            return None;
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u64(&mut self) -> Option<u64> {
        self.take(8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes)
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.u64()?).ok()?;
        self.take(n)
    }

    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_what_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.csv");
        std::fs::write(&path, "a\n1\n").unwrap();
        let before = Fingerprint {
            settings: vec![("--null".into(), "[]".into())],
            inputs: vec![InputPrint::of("in.csv", &path).unwrap()],
        };
        assert!(before.differences(&before).is_empty());
        std::fs::write(&path, "a\n2\n").unwrap();
        let mut after = before.clone();
        after.inputs = vec![InputPrint::of("in.csv", &path).unwrap()];
        after.settings[0].1 = "[\"NA\"]".into();
        assert_eq!(
            after.differences(&before),
            [
                "--null was `[]`, now `[\"NA\"]`",
                "input in.csv has changed (same size, other content)"
            ]
        );
    }

    #[test]
    fn entries_round_trip() {
        let chunk = Chunk {
            seq: 7,
            input: 1,
            first_line: 3,
            offset: 40,
            first_column: 1,
            data: b"a,b\n".to_vec(),
        };
        let mapped = Mapped {
            read: 3,
            filtered: 1,
            records: b"{\"a\":1}\n".to_vec(),
            places: vec![(3, 40, 0)],
        };
        let reject = Reject {
            input: "in.csv".into(),
            line: 4,
            offset: 44,
            chunk: 7,
            index: 1,
            kind: "exec",
            message: "boom".into(),
            raw: b"x,y".to_vec(),
            records: 2,
            attempts: Some(3),
            stderr: Some("err".into()),
        };
        let payload = encode_entry(&chunk, &mapped, std::slice::from_ref(&reject));
        let entry = decode_entry(&payload).expect("decodes");
        assert_eq!(entry.place, (7, 1, 40, 4));
        assert_eq!(entry.mapped, mapped);
        assert_eq!(entry.rejects, vec![reject]);
        assert!(decode_entry(&payload[..payload.len() - 1]).is_none());
    }
}
