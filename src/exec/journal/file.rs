//! The journal file: its framing (a header, then one entry a chunk, each
//! with its length and CRC-32), reading it back (stopping at a torn last
//! entry), and the binary codec of an entry's payload.
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
//! [`encode_entry`]. After `kill -9` or a power cut the last entry may be
//! torn: its length runs past the end of the file or its CRC does not
//! match. [`read_journal`] stops at the first such entry, and that chunk
//! is simply mapped again.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};

use super::fingerprint::Fingerprint;
use crate::error::{msg, Error, ErrorKind, Result, Setting};
use crate::sink::rejects::Reject;
use crate::source::{Chunk, ChunkLimit};
use crate::transform::Mapped;

/// The file's first bytes.
const MAGIC: &[u8; 8] = b"FANFOLDJ";
/// The format version this build writes and reads.
const VERSION: u32 = 2;
/// The [`Reject::kind`]s there are ([`Error::kind_name`]).
const KINDS: [&str; 9] = [
    "csv",
    "field_count",
    "json",
    "not_numeric",
    "unexpected_key",
    "transform",
    "exec",
    "http",
    "other",
];

/// The header of a new journal `name` for a run with fingerprint `print`
/// cutting its input into `chunk`s.
///
/// # Errors
/// [`ErrorKind::Journal`] when the header's JSON is over 4 GiB.
pub(super) fn header(name: &str, print: &Fingerprint, chunk: ChunkLimit) -> Result<Vec<u8>> {
    let json = print.to_json(chunk).to_string();
    let mut header = Vec::with_capacity(json.len() + 20);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&VERSION.to_le_bytes());
    header.extend_from_slice(&frame_len(name, json.len())?.to_le_bytes());
    header.extend_from_slice(&crc32fast::hash(json.as_bytes()).to_le_bytes());
    header.extend_from_slice(json.as_bytes());
    Ok(header)
}

/// The frame of an entry's `payload` in the journal `name`: its length,
/// its CRC-32, and the payload.
///
/// # Errors
/// [`ErrorKind::Journal`] when the payload is over 4 GiB.
pub(super) fn frame(name: &str, payload: &[u8]) -> Result<Vec<u8>> {
    let mut frame = Vec::with_capacity(payload.len() + 8);
    frame.extend_from_slice(&frame_len(name, payload.len())?.to_le_bytes());
    frame.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    frame.extend_from_slice(payload);
    Ok(frame)
}

/// A length as a frame's `u32`; an entry over 4 GiB is an
/// [`ErrorKind::Journal`] for the journal `name`.
fn frame_len(name: &str, len: usize) -> Result<u32> {
    u32::try_from(len).map_err(|_| {
        ErrorKind::Journal {
            path: name.to_string(),
            message: msg![
                format!(
                "a chunk's entry would take {len} bytes, over the 4 GiB an entry may hold: use \
                 smaller chunks ("
            ),
                Setting::ChunkBytes,
                ")",
            ],
        }
        .into()
    })
}

/// Where each journaled chunk's payload is: seq → (offset, length).
pub(super) type Index = HashMap<u64, (u64, u32)>;

/// Reads and checks the header of the journal `file`, then indexes its
/// whole entries. Returns the fingerprint, the chunk size, the index and
/// where the last whole entry ends; `None` when the header itself is
/// incomplete (a run killed while creating the file).
pub(super) fn read_journal(
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
pub(super) struct Entry {
    /// (seq, input, offset, length) of the chunk.
    pub(super) place: (u64, u64, u64, u64),
    pub(super) mapped: Mapped,
    pub(super) rejects: Vec<Reject>,
}

/// An entry's payload: `u64` seq, input, offset, length, read, filtered;
/// `u64` reject count and each reject (input, line, offset, chunk, index,
/// kind, message, raw, records, attempts, stderr, status, body); `u64` record count and
/// each record's line, offset and index; then the records' NDJSON bytes.
/// Strings and byte strings are a `u64` length and the bytes; an optional
/// value is a `u8` flag (0: none) and the value.
pub(super) fn encode_entry(chunk: &Chunk, mapped: &Mapped, rejects: &[Reject]) -> Vec<u8> {
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
        match r.status {
            Some(s) => {
                out.push(1);
                put(&mut out, u64::from(s));
            }
            None => out.push(0),
        }
        match &r.body {
            Some(b) => {
                out.push(1);
                put_bytes(&mut out, b.as_bytes());
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
pub(super) fn decode_entry(payload: &[u8]) -> Option<Entry> {
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
        let status = match d.u8()? {
            0 => None,
            _ => Some(u16::try_from(d.u64()?).ok()?),
        };
        let body = match d.u8()? {
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
            status,
            body,
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
            status: Some(503),
            body: Some("{\"error\":1}".into()),
        };
        let payload = encode_entry(&chunk, &mapped, std::slice::from_ref(&reject));
        let entry = decode_entry(&payload).expect("decodes");
        assert_eq!(entry.place, (7, 1, 40, 4));
        assert_eq!(entry.mapped, mapped);
        assert_eq!(entry.rejects, vec![reject]);
        assert!(decode_entry(&payload[..payload.len() - 1]).is_none());
    }
}
