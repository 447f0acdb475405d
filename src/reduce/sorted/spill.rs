//! Sorted runs on disk: the spill files of the sorted reducer's external
//! merge sort.
//!
//! A spill file holds one sorted run: its records in order, each as a
//! frame
//!
//! ```text
//! u32 LE  frame length L (the bytes below)
//! per sort key, in key order:
//!   0                          missing
//!   1, f64 LE (8 bytes)        a `:n` value, bit for bit
//!   2, u32 LE len, len bytes   a text value
//! the encoded output record (the rest of the frame)
//! ```
//!
//! so reading a record back needs no parsing beyond the keys, and a merge
//! of spill files copies frames unchanged. The files are anonymous
//! temporary files ([`tempfile::tempfile_in`]): they have no name in the
//! directory (or lose it as soon as they are made), and the space is freed
//! when the file is closed: after it is read, when a run fails, when a
//! thread unwinds, even when the process is killed.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{msg, Error, Result, Setting};
use crate::reduce::sort_key::KeyVal;

const TAG_MISSING: u8 = 0;
const TAG_NUM: u8 = 1;
const TAG_STR: u8 = 2;

/// Buffer of a spill writer, in bytes.
const WRITE_BUFFER: usize = 1 << 20;

/// A spill file being written; [`SpillWriter::finish`] turns it into a
/// [`SpillRun`].
#[derive(Debug)]
pub(crate) struct SpillWriter {
    out: BufWriter<File>,
    name: String,
    records: u64,
    bytes: u64,
}

/// One sorted run on disk, written and not yet read.
#[derive(Debug)]
pub(crate) struct SpillRun {
    file: File,
    name: String,
    records: u64,
    bytes: u64,
}

/// The name of spill files in `dir`, for error messages.
pub(crate) fn spill_name(dir: &Path) -> String {
    dir.display().to_string()
}

/// An I/O error on a spill file of the directory `name` ([`spill_name`]).
fn spill_io(name: &str, e: std::io::Error) -> Error {
    Error::io_note(name, msg![Setting::TempDir, ", spill file"], e)
}

impl SpillWriter {
    /// A new anonymous spill file in `dir`.
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) naming `dir` when the file cannot be created (no such
    /// directory, no permission).
    pub(crate) fn create(dir: &Path) -> Result<SpillWriter> {
        let name = spill_name(dir);
        let file = tempfile::tempfile_in(dir).map_err(|e| spill_io(&name, e))?;
        Ok(SpillWriter {
            out: BufWriter::with_capacity(WRITE_BUFFER, file),
            name,
            records: 0,
            bytes: 0,
        })
    }

    /// Appends one record: its key values (text values are ranges of
    /// `arena`) and its encoded bytes.
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) on a write error (a full disk), or when the frame is
    /// 4 GiB or more.
    pub(crate) fn write(&mut self, keys: &[KeyVal], arena: &[u8], record: &[u8]) -> Result<()> {
        let mut len = record.len();
        for k in keys {
            len += match *k {
                KeyVal::Missing => 1,
                KeyVal::Num(_) => 9,
                KeyVal::Str(s, e) => 5 + (e - s),
            };
        }
        let len32 = u32::try_from(len).map_err(|_| {
            let e = std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("a record of {len} bytes is too large to spill (at most 4 GiB)"),
            );
            spill_io(&self.name, e)
        })?;
        let io = |e| spill_io(&self.name, e);
        let out = &mut self.out;
        out.write_all(&len32.to_le_bytes()).map_err(io)?;
        for k in keys {
            match *k {
                KeyVal::Missing => out.write_all(&[TAG_MISSING]).map_err(io)?,
                KeyVal::Num(v) => {
                    let mut b = [TAG_NUM; 9];
                    b[1..].copy_from_slice(&v.to_bits().to_le_bytes());
                    out.write_all(&b).map_err(io)?;
                }
                KeyVal::Str(s, e) => {
                    let mut b = [TAG_STR; 5];
                    b[1..].copy_from_slice(&((e - s) as u32).to_le_bytes());
                    out.write_all(&b).map_err(io)?;
                    out.write_all(&arena[s..e]).map_err(io)?;
                }
            }
        }
        out.write_all(record).map_err(io)?;
        self.records += 1;
        self.bytes += 4 + len as u64;
        Ok(())
    }

    /// Appends a frame as read by [`SpillReader::frame`], unchanged.
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) on a write error.
    pub(crate) fn write_frame(&mut self, frame: &[u8]) -> Result<()> {
        let io = |e| spill_io(&self.name, e);
        // Frames come from spill files, so their length fits in a u32.
        self.out.write_all(&(frame.len() as u32).to_le_bytes()).map_err(io)?;
        self.out.write_all(frame).map_err(io)?;
        self.records += 1;
        self.bytes += 4 + frame.len() as u64;
        Ok(())
    }

    /// Flushes the file and rewinds it for reading.
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) on a write or seek error.
    pub(crate) fn finish(self) -> Result<SpillRun> {
        let SpillWriter { out, name, records, bytes } = self;
        let mut file = out.into_inner().map_err(|e| spill_io(&name, e.into_error()))?;
        file.seek(SeekFrom::Start(0)).map_err(|e| spill_io(&name, e))?;
        Ok(SpillRun { file, name, records, bytes })
    }
}

impl SpillRun {
    /// Records in the run.
    #[cfg(test)]
    pub(crate) fn records(&self) -> u64 {
        self.records
    }

    /// Size of the file in bytes.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Opens the run for reading through a buffer of `buffer` bytes, with
    /// `keys` sort keys per record, positioned on its first record (if
    /// any).
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) when the first record cannot be read.
    pub(crate) fn read(self, keys: usize, buffer: usize) -> Result<SpillReader> {
        let SpillRun { file, name, records, .. } = self;
        let mut reader = SpillReader {
            input: BufReader::with_capacity(buffer, file),
            name,
            left: records,
            nkeys: keys,
            frame: Vec::new(),
            keys: Vec::with_capacity(keys),
            data_start: 0,
            at_end: false,
        };
        reader.advance()?;
        Ok(reader)
    }
}

/// Reads a [`SpillRun`] back one record at a time; the current record is
/// [`SpillReader::keys`], [`SpillReader::arena`] and
/// [`SpillReader::record`].
#[derive(Debug)]
pub(crate) struct SpillReader {
    input: BufReader<File>,
    name: String,
    /// Records not read yet.
    left: u64,
    nkeys: usize,
    frame: Vec<u8>,
    keys: Vec<KeyVal>,
    data_start: usize,
    at_end: bool,
}

impl SpillReader {
    /// True once every record has been read (there is no current record).
    pub(crate) fn at_end(&self) -> bool {
        self.at_end
    }

    /// The current record's key values; text values are ranges of
    /// [`SpillReader::arena`].
    pub(crate) fn keys(&self) -> &[KeyVal] {
        &self.keys
    }

    /// The bytes the current record's text keys point into.
    pub(crate) fn arena(&self) -> &[u8] {
        &self.frame
    }

    /// The current record's encoded bytes.
    pub(crate) fn record(&self) -> &[u8] {
        &self.frame[self.data_start..]
    }

    /// The current record's whole frame (without its length prefix).
    pub(crate) fn frame(&self) -> &[u8] {
        &self.frame
    }

    /// Moves to the next record; at the end, [`SpillReader::at_end`]
    /// becomes true.
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) on a read error, or when the file does not hold the
    /// frames written to it (truncated or altered).
    pub(crate) fn advance(&mut self) -> Result<()> {
        if self.left == 0 {
            self.at_end = true;
            self.frame = Vec::new();
            self.keys.clear();
            return Ok(());
        }
        self.left -= 1;
        let io = |e| spill_io(&self.name, e);
        let mut len = [0u8; 4];
        self.input.read_exact(&mut len).map_err(io)?;
        let len = u32::from_le_bytes(len) as usize;
        self.frame.resize(len, 0);
        self.input.read_exact(&mut self.frame).map_err(io)?;
        self.keys.clear();
        let f = &self.frame;
        let mut at = 0;
        for _ in 0..self.nkeys {
            let val = match f.get(at) {
                Some(&TAG_MISSING) => {
                    at += 1;
                    KeyVal::Missing
                }
                Some(&TAG_NUM) if at + 9 <= f.len() => {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&f[at + 1..at + 9]);
                    at += 9;
                    KeyVal::Num(f64::from_bits(u64::from_le_bytes(b)))
                }
                Some(&TAG_STR) if at + 5 <= f.len() => {
                    let n = u32::from_le_bytes([f[at + 1], f[at + 2], f[at + 3], f[at + 4]]);
                    let (s, e) = (at + 5, at + 5 + n as usize);
                    if e > f.len() {
                        return Err(self.corrupt());
                    }
                    at = e;
                    KeyVal::Str(s, e)
                }
                _ => return Err(self.corrupt()),
            };
            self.keys.push(val);
        }
        self.data_start = at;
        Ok(())
    }

    /// The error for a frame that is not what was written.
    pub(crate) fn corrupt(&self) -> Error {
        let e = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the spill file does not hold what was written to it",
        );
        spill_io(&self.name, e)
    }
}

/// Where and when the sorted reducer spills; see
/// [`crate::reduce::Sorted::with_spill`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpillOptions {
    /// Bytes of records (encoded bytes, sort keys and per-record
    /// bookkeeping, as allocated) the reducer holds in memory before it
    /// writes them to a spill file as one sorted run.
    pub budget: u64,
    /// Directory for the spill files (they are anonymous: nothing is left
    /// in it, whatever happens).
    pub dir: PathBuf,
    /// Spilled runs merged at once, at least 2 (default
    /// `DEFAULT_FAN_IN`): when more runs of one merge level exist, they
    /// are first merged into one run on disk, so the open files and the
    /// final merge's read buffers stay bounded.
    pub fan_in: usize,
}

/// Spilled runs merged at once by default: at most this many spill files
/// are read together (each through its own buffer).
pub const DEFAULT_FAN_IN: usize = 128;

/// What a sort or a group-by spilled, for `--stats`: counters shared with
/// the reducer.
#[derive(Debug, Default)]
pub struct SpillStats {
    /// Sorted runs written to spill files (merge passes included).
    pub runs: std::sync::atomic::AtomicU64,
    /// Bytes written to spill files (merge passes included).
    pub bytes: std::sync::atomic::AtomicU64,
}

impl SpillStats {
    /// Counts one run written.
    pub(crate) fn count(&self, run: &SpillRun) {
        use std::sync::atomic::Ordering::Relaxed;
        self.runs.fetch_add(1, Relaxed);
        self.bytes.fetch_add(run.bytes(), Relaxed);
    }
}

/// Merges `runs` until at most `opts.fan_in` (at least 2) are left: the
/// last `fan_in` into one new run in `opts.dir`, again and again. `merge`
/// merges the runs it is given into the writer (the group-by's and the
/// top-k's merge passes; the sorted reducer merges by level instead, see
/// `external`); every run made is counted in `stats`.
///
/// # Errors
/// [`ErrorKind::Io`](crate::ErrorKind::Io) naming `--temp-dir` when a run
/// cannot be made or written; what `merge` returns.
pub(crate) fn merge_in_passes(
    runs: &mut Vec<SpillRun>,
    opts: &SpillOptions,
    stats: &SpillStats,
    mut merge: impl FnMut(Vec<SpillRun>, &mut SpillWriter) -> Result<()>,
) -> Result<()> {
    let fan_in = opts.fan_in.max(2);
    while runs.len() > fan_in {
        let group: Vec<SpillRun> = runs.drain(runs.len() - fan_in..).collect();
        let mut out = SpillWriter::create(&opts.dir)?;
        merge(group, &mut out)?;
        let run = out.finish()?;
        stats.count(&run);
        runs.push(run);
    }
    Ok(())
}

/// The read buffer of each of `files` spill files merged at once, sharing
/// `budget` bytes: 16 KiB to 1 MiB.
pub(crate) fn read_buffer(budget: u64, files: usize) -> usize {
    let share = budget / files.max(1) as u64;
    share.clamp(16 << 10, 1 << 20) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_keys_and_records() {
        let dir = tempfile::tempdir().unwrap();
        let arena = b"OsloLima\xE2\x82\xAC".to_vec();
        let rows: Vec<(Vec<KeyVal>, Vec<u8>)> = vec![
            (vec![KeyVal::Num(-0.0), KeyVal::Str(0, 4)], b"a,1\n".to_vec()),
            (vec![KeyVal::Missing, KeyVal::Str(4, 11)], b"\"b\nc\",2\n".to_vec()),
            (vec![KeyVal::Num(f64::NAN), KeyVal::Missing], Vec::new()),
            (vec![KeyVal::Num(1e300), KeyVal::Str(4, 4)], vec![b'x'; 100_000]),
        ];
        let mut w = SpillWriter::create(dir.path()).unwrap();
        for (keys, rec) in &rows {
            w.write(keys, &arena, rec).unwrap();
        }
        let run = w.finish().unwrap();
        assert_eq!(run.records(), 4);
        // 4 frames: length prefixes, 2 keys each, the records.
        let expected = 4 * 4 + (9 + 9) + (1 + 5 + 7) + (9 + 1) + (9 + 5) + 4 + 8 + 100_000;
        assert_eq!(run.bytes(), expected);
        // A tiny buffer: frames span buffer refills.
        let mut r = run.read(2, 7).unwrap();
        for (keys, rec) in &rows {
            assert!(!r.at_end());
            assert_eq!(r.record(), rec.as_slice());
            assert_eq!(r.keys().len(), 2);
            for (got, want) in r.keys().iter().zip(keys) {
                match (*got, *want) {
                    (KeyVal::Num(a), KeyVal::Num(b)) => assert_eq!(a.to_bits(), b.to_bits()),
                    (KeyVal::Str(s, e), KeyVal::Str(s2, e2)) => {
                        assert_eq!(&r.arena()[s..e], &arena[s2..e2])
                    }
                    (KeyVal::Missing, KeyVal::Missing) => {}
                    other => panic!("key changed: {other:?}"),
                }
            }
            r.advance().unwrap();
        }
        assert!(r.at_end());
        r.advance().unwrap();
        assert!(r.at_end());
    }

    #[test]
    fn frames_copy_unchanged_and_files_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SpillWriter::create(dir.path()).unwrap();
        w.write(&[KeyVal::Str(0, 2)], b"ab", b"ab,1\n").unwrap();
        w.write(&[KeyVal::Num(3.5)], b"", b"c,3.5\n").unwrap();
        let mut r = w.finish().unwrap().read(1, 1 << 10).unwrap();
        let mut copy = SpillWriter::create(dir.path()).unwrap();
        while !r.at_end() {
            copy.write_frame(r.frame()).unwrap();
            r.advance().unwrap();
        }
        let mut r2 = copy.finish().unwrap().read(1, 1 << 10).unwrap();
        assert_eq!(r2.record(), b"ab,1\n");
        assert!(matches!(r2.keys()[0], KeyVal::Str(s, e) if &r2.arena()[s..e] == b"ab"));
        r2.advance().unwrap();
        assert_eq!(r2.record(), b"c,3.5\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "anonymous files");
    }

    #[test]
    fn a_truncated_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SpillWriter::create(dir.path()).unwrap();
        w.write(&[KeyVal::Str(0, 2)], b"ab", b"ab,1\n").unwrap();
        let run = w.finish().unwrap();
        run.file.set_len(6).unwrap();
        let err = run.read(1, 64).unwrap_err();
        assert!(err.to_string().contains("spill file"), "{err}");
        // A frame whose key runs past its end.
        let mut w = SpillWriter::create(dir.path()).unwrap();
        w.write_frame(&[TAG_STR, 9, 0, 0, 0, b'a']).unwrap();
        let err = w.finish().unwrap().read(1, 64).unwrap_err();
        assert!(err.to_string().contains("does not hold"), "{err}");
    }

    #[test]
    fn a_missing_directory_names_the_setting() {
        let err = SpillWriter::create(Path::new("/nonexistent/fanfold-spill")).unwrap_err();
        assert!(err.to_string().contains("(temp_dir, spill file): "), "{err}");
    }
}
