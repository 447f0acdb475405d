//! What turns an input's stored bytes into the UTF-8 text the splitter
//! cuts: decompression, recognised by content, and transcoding from
//! UTF-16 or a named legacy encoding.
//!
//! # Decompression
//!
//! An input is decompressed when its first bytes are the magic number of a
//! compression format ([`Compression::sniff`]), whatever its name: gzip
//! (RFC 1952, every member of a multi-member file, as `cat a.gz b.gz`,
//! `pigz` and BGZF write them, through `flate2`'s `MultiGzDecoder` on the
//! pure-Rust `zlib-rs` inflate), Zstandard (RFC 8878, every frame,
//! skippable frames skipped, through the `zstd` crate's bindings to the
//! reference library), bzip2 (every stream, through `bzip2`'s pure-Rust
//! `libbz2-rs-sys`) and xz (every stream, through `liblzma`).
//!
//! # Transcoding
//!
//! An input that starts with a UTF-16 byte-order mark, or any input when
//! an encoding is named ([`TextEncoding`], `--encoding`), is decoded to
//! UTF-8 by `encoding_rs` (the WHATWG Encoding Standard's decoders and
//! labels: `latin1` and `iso-8859-1` name windows-1252, as browsers read
//! them). A byte-order mark wins over a named encoding, as the standard
//! says. Bytes that are not valid in the encoding stop the run: nothing is
//! replaced behind the user's back.
//!
//! # Threads and errors
//!
//! Both run on a thread of their own per input (`fanfold-decode`), which
//! hands blocks of [`BLOCK_BYTES`] decoded bytes to the splitter through a
//! channel of [`BLOCKS_IN_FLIGHT`] blocks: the decoder works while the
//! splitter cuts and the pool parses, and a slow consumer stops it (bounded
//! memory). A stream that is corrupt or ends early reaches the splitter as
//! a [`DecodeFailure`] (inside an [`io::Error`]) with the compressed byte
//! offset, which the splitter turns into
//! [`ErrorKind::Decode`](crate::ErrorKind::Decode) with the last line it
//! reached. An input that needs neither step is read directly, as before.

use std::io::{self, BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_channel::{bounded, Receiver, Sender};
use encoding_rs::{DecoderResult, Encoding};

use crate::format::Compression;

/// Bytes of decoded text in one block handed from the decoding thread to
/// the splitter.
pub(crate) const BLOCK_BYTES: usize = 1 << 20;

/// Decoded blocks waiting for the splitter, at most.
pub(crate) const BLOCKS_IN_FLIGHT: usize = 4;

/// Bytes of an input read ahead by the decompressor's buffer.
const RAW_BUFFER_BYTES: usize = 256 * 1024;

/// Bytes looked at to recognise a compression format (the longest magic
/// checked is bzip2's, 10 bytes).
const SNIFF_BYTES: usize = 10;

/// The text encoding of the inputs, named with `--encoding` by a WHATWG
/// label ([`TextEncoding::from_label`]); without one, inputs are UTF-8
/// unless they start with a UTF-16 byte-order mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextEncoding(&'static Encoding);

impl TextEncoding {
    /// The encoding a label names, as the WHATWG Encoding Standard
    /// (<https://encoding.spec.whatwg.org/#names-and-labels>) reads labels,
    /// case-insensitively: `utf-8`, `utf-16le`, `utf-16be`, `windows-1252`
    /// (also named by `latin1`, `latin-1`, `iso-8859-1`, `ascii`),
    /// `iso-8859-15`, `shift_jis`, `gbk`, `euc-kr` and the others it lists.
    /// `None` for an unknown label, and for `replacement` and
    /// `x-user-defined`, which are not text encodings of files.
    pub fn from_label(label: &str) -> Option<TextEncoding> {
        let label = if label.eq_ignore_ascii_case("latin-1") { "latin1" } else { label };
        let encoding = Encoding::for_label(label.trim().as_bytes())?;
        if encoding == encoding_rs::REPLACEMENT || encoding == encoding_rs::X_USER_DEFINED {
            return None;
        }
        Some(TextEncoding(encoding))
    }

    /// The encoding's canonical name, e.g. `windows-1252`.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// True for UTF-8, which needs no transcoding.
    fn is_utf8(self) -> bool {
        self.0 == encoding_rs::UTF_8
    }
}

/// Why a decoding thread stopped before the end of its input: the
/// compressed stream is corrupt or ends early, or the text is not valid in
/// its encoding. Travels inside an [`io::Error`] of kind
/// [`io::ErrorKind::InvalidData`].
#[derive(Debug, Clone)]
pub(crate) struct DecodeFailure {
    /// The compression format, or `None` for a transcoding failure.
    pub(crate) compression: Option<Compression>,
    /// The text encoding, for a transcoding failure.
    pub(crate) encoding: Option<&'static str>,
    /// Bytes of the stored input the decoder had consumed.
    pub(crate) offset: u64,
    /// The stream ended before its end marker (a truncated file).
    pub(crate) truncated: bool,
    /// What the decoder said.
    pub(crate) message: String,
}

impl std::fmt::Display for DecodeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DecodeFailure {}

/// An opened input, ready for the splitter.
pub(crate) struct Opened {
    /// The input's text.
    pub(crate) reader: Box<dyn Read + Send>,
    /// Read what has arrived, one read at a time (a pipe, FIFO, socket or
    /// terminal underneath).
    pub(crate) stream: bool,
    /// Bytes of the stored input read so far (compressed bytes for a
    /// compressed input), updated as the reads happen.
    pub(crate) stored_bytes: Arc<AtomicU64>,
}

/// Wraps `raw` (an input as opened, `stream` when it is not a regular
/// file): reads its first bytes and, when they say it is compressed, when
/// they are a UTF-16 byte-order mark, or when `encoding` names another
/// encoding than UTF-8, decodes it on a thread of its own.
///
/// # Errors
/// The errors of the first read.
pub(crate) fn open(
    raw: Box<dyn Read + Send>,
    stream: bool,
    encoding: Option<TextEncoding>,
) -> io::Result<Opened> {
    let stored_bytes = Arc::new(AtomicU64::new(0));
    let mut raw = Counted { inner: raw, count: stored_bytes.clone(), failed: false };
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    // Reads on only while the bytes so far may begin a magic number or a
    // byte-order mark: a stream whose first line is short and then pauses
    // is not held up.
    while head.is_empty() || head.len() < SNIFF_BYTES && may_begin_magic(&head) {
        let mut byte = [0u8; SNIFF_BYTES];
        let n = raw.read(&mut byte[..SNIFF_BYTES - head.len()])?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&byte[..n]);
    }
    let compression = Compression::sniff(&head);
    let transcode = utf16_bom(&head).is_some() || encoding.is_some_and(|e| !e.is_utf8());
    let raw = Head { head, at: 0, inner: raw };
    if compression.is_none() && !transcode {
        return Ok(Opened { reader: Box::new(raw), stream, stored_bytes });
    }
    let (blocks_tx, blocks_rx) = bounded(BLOCKS_IN_FLIGHT);
    let (spare_tx, spare_rx) = bounded(BLOCKS_IN_FLIGHT + 1);
    let job = Job {
        blocks: blocks_tx,
        spare: spare_rx,
        stream,
        encoding: encoding.filter(|e| !e.is_utf8()),
        stored: stored_bytes.clone(),
    };
    let buffered = BufReader::with_capacity(RAW_BUFFER_BYTES, raw);
    std::thread::Builder::new()
        .name("fanfold-decode".to_string())
        .spawn(move || job.run(buffered, compression))?;
    let reader =
        Box::new(Blocks { rx: blocks_rx, ended: false, spare: spare_tx, block: Vec::new(), at: 0 });
    Ok(Opened { reader, stream, stored_bytes })
}

/// Whether `head` (fewer bytes than [`SNIFF_BYTES`]) may be the start of
/// a magic number [`Compression::sniff`] knows or of a UTF-16 or UTF-32
/// byte-order mark, so that more bytes are needed to tell.
fn may_begin_magic(head: &[u8]) -> bool {
    let prefix_of = |magic: &[u8]| head.len() < magic.len() && magic.starts_with(head);
    let fixed: [&[u8]; 6] = [
        &[0x1f, 0x8b],
        &[0x28, 0xb5, 0x2f, 0xfd],
        &[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00],
        b"\xFF\xFE\x00\x00",
        b"\x00\x00\xFE\xFF",
        b"\xFE\xFF",
    ];
    // zstd's skippable frames: `5X 2a 4d 18`.
    let skippable = head.len() < 4
        && head.iter().zip([0x50, 0x2a, 0x4d, 0x18]).enumerate().all(|(i, (&b, m))| {
            if i == 0 {
                b & 0xf0 == m
            } else {
                b == m
            }
        });
    // bzip2: `BZh`, a digit, then a block's or an empty stream's magic.
    let bzip2 = match head {
        [b'B', b'Z', b'h', b'1'..=b'9', rest @ ..] => {
            [0x31, 0x41, 0x59, 0x26, 0x53, 0x59].starts_with(rest)
                || [0x17, 0x72, 0x45, 0x38, 0x50, 0x90].starts_with(rest)
        }
        _ => prefix_of(b"BZh") || head == b"BZh",
    };
    fixed.iter().any(|m| prefix_of(m)) || skippable || bzip2
}

/// The UTF-16 encoding whose byte-order mark `bytes` starts with; `None`
/// for a UTF-32 one (`FF FE 00 00` starts like UTF-16LE's), which the
/// splitter refuses since the Encoding Standard has no UTF-32 decoder.
fn utf16_bom(bytes: &[u8]) -> Option<&'static Encoding> {
    if bytes.starts_with(b"\xFF\xFE\x00\x00") {
        return None;
    }
    Encoding::for_bom(bytes).map(|(e, _)| e).filter(|&e| e != encoding_rs::UTF_8)
}

/// Reads `bytes` of a stored input, compressed or not, and returns up to
/// `max` bytes of its decoded text from the start (fewer at its end or on
/// an error: what was decoded before it).
#[cfg(test)]
pub(crate) fn head_of(raw: Box<dyn Read + Send>, max: u64) -> Vec<u8> {
    let mut text = Vec::new();
    if let Ok(opened) = open(raw, false, None) {
        // A read error leaves what was read; the run reports the error.
        let _ = opened.reader.take(max).read_to_end(&mut text);
    }
    text
}

/// A reader that counts the bytes read through it, and remembers a
/// failed read (so that a decompressor's error is told from the input's).
struct Counted {
    inner: Box<dyn Read + Send>,
    count: Arc<AtomicU64>,
    failed: bool,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.count.fetch_add(n as u64, Ordering::Relaxed);
                Ok(n)
            }
            Err(e) => {
                self.failed = e.kind() != io::ErrorKind::Interrupted;
                Err(e)
            }
        }
    }
}

/// A reader that gives the bytes already read to sniff the input first.
struct Head {
    head: Vec<u8>,
    at: usize,
    inner: Counted,
}

impl Head {
    /// Bytes read from the input and not yet handed on.
    fn unread(&self) -> usize {
        self.head.len() - self.at
    }
}

impl Read for Head {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at < self.head.len() {
            let n = buf.len().min(self.head.len() - self.at);
            buf[..n].copy_from_slice(&self.head[self.at..self.at + n]);
            self.at += n;
            return Ok(n);
        }
        self.inner.read(buf)
    }
}

/// What the decoding thread sends.
enum Block {
    /// Decoded text.
    Text(Vec<u8>),
    /// The input ended cleanly.
    End,
    /// A read or decoding error: the last message.
    Failed(io::Error),
}

/// The splitter's side of a decoding thread: its blocks, read as one
/// stream.
struct Blocks {
    rx: Receiver<Block>,
    /// The thread sent [`Block::End`].
    ended: bool,
    spare: Sender<Vec<u8>>,
    block: Vec<u8>,
    at: usize,
}

impl Read for Blocks {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.block.len() {
            if self.ended {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Block::Text(next)) => {
                    let done = std::mem::replace(&mut self.block, next);
                    let _ = self.spare.try_send(done);
                    self.at = 0;
                }
                Ok(Block::End) => self.ended = true,
                Ok(Block::Failed(e)) => return Err(e),
                Err(_) => return Err(io::Error::other("the decoding thread stopped")),
            }
        }
        let n = buf.len().min(self.block.len() - self.at);
        buf[..n].copy_from_slice(&self.block[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The decoding thread's state.
struct Job {
    blocks: Sender<Block>,
    spare: Receiver<Vec<u8>>,
    stream: bool,
    encoding: Option<TextEncoding>,
    stored: Arc<AtomicU64>,
}

/// A decompressor over the input's buffer, which says how far into the
/// stored input it is.
trait Decompress: Read {
    /// The buffered input underneath.
    fn raw(&self) -> &Raw;

    /// Bytes of the stored input consumed so far: read, less what waits
    /// in the buffer.
    fn consumed(&self) -> u64 {
        let raw = self.raw();
        let head = raw.get_ref();
        head.inner.count.load(Ordering::Relaxed) - (raw.buffer().len() + head.unread()) as u64
    }
}

/// The stored input, buffered for the decompressors.
type Raw = BufReader<Head>;

impl Decompress for Raw {
    fn raw(&self) -> &Raw {
        self
    }
}

macro_rules! decompress_over_raw {
    ($($ty:ty),*) => {$(
        impl Decompress for $ty {
            fn raw(&self) -> &Raw {
                self.get_ref()
            }
        }
    )*};
}

decompress_over_raw!(
    flate2::bufread::MultiGzDecoder<Raw>,
    zstd::stream::read::Decoder<'static, Raw>,
    bzip2::bufread::MultiBzDecoder<Raw>,
    liblzma::bufread::XzDecoder<Raw>
);

impl Job {
    /// Decodes the whole input, sending its blocks; stops early when the
    /// splitter is gone.
    fn run(self, raw: Raw, compression: Option<Compression>) {
        let _ = match compression {
            None => self.pump(raw, None),
            Some(Compression::Gzip) => {
                self.pump(flate2::bufread::MultiGzDecoder::new(raw), compression)
            }
            Some(Compression::Zstd) => match zstd::stream::read::Decoder::with_buffer(raw) {
                Ok(d) => self.pump(d, compression),
                Err(e) => self.blocks.send(Block::Failed(e)).map_err(drop),
            },
            Some(Compression::Bzip2) => {
                self.pump(bzip2::bufread::MultiBzDecoder::new(raw), compression)
            }
            Some(Compression::Xz) => {
                self.pump(liblzma::bufread::XzDecoder::new_multi_decoder(raw), compression)
            }
        };
    }

    /// A block to read into: one the splitter gave back when there is
    /// one, with its old bytes still in it (it is read over: zeroing a
    /// mebibyte per block cost 2% of a gzip run's time), else a new one.
    fn block(&self) -> Vec<u8> {
        self.spare.try_recv().unwrap_or_else(|_| Vec::with_capacity(BLOCK_BYTES))
    }

    /// Reads `source` to its end in blocks, transcoding them when an
    /// encoding is set or the text starts with a UTF-16 byte-order mark.
    /// `Err(())` when the splitter is gone.
    fn pump<D: Decompress>(
        mut self,
        mut source: D,
        compression: Option<Compression>,
    ) -> Result<(), ()> {
        let mut transcoder: Option<encoding_rs::Decoder> = None;
        let mut first = true;
        // The block read into when transcoding, which stays here.
        let mut scratch = Vec::new();
        loop {
            let mut block =
                if transcoder.is_some() { std::mem::take(&mut scratch) } else { self.block() };
            block.resize(BLOCK_BYTES, 0);
            let mut filled = 0;
            let (mut failed, mut eof) = (None, false);
            while filled < block.len() {
                match source.read(&mut block[filled..]) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        failed = Some(self.failure(e, compression, &source));
                        break;
                    }
                }
                // A stream's text goes on as soon as decoding more would
                // wait for its next read; while stored bytes are buffered,
                // the block keeps filling.
                if self.stream && source.raw().buffer().is_empty() {
                    break;
                }
            }
            block.truncate(filled);
            if std::mem::take(&mut first) {
                transcoder = self.transcoder(&block);
            }
            match transcoder.as_mut() {
                Some(decoder) => {
                    self.transcode(decoder, &block, eof)?;
                    scratch = block;
                }
                None if block.is_empty() => {}
                None => {
                    self.blocks.send(Block::Text(block)).map_err(drop)?;
                }
            }
            if let Some(e) = failed {
                return self.blocks.send(Block::Failed(e)).map_err(drop);
            }
            if eof {
                return self.blocks.send(Block::End).map_err(drop);
            }
        }
    }

    /// The decoder to transcode with, decided on the first block: the
    /// encoding its byte-order mark names, else the one set; `None` for
    /// UTF-8.
    fn transcoder(&self, first: &[u8]) -> Option<encoding_rs::Decoder> {
        // `new_decoder` sniffs and removes a byte-order mark.
        utf16_bom(first).or(self.encoding.map(|e| e.0)).map(Encoding::new_decoder)
    }

    /// Transcodes `input` to UTF-8 and sends it on; `last` when the input
    /// ends with it. A sequence that is not valid in the encoding sends
    /// the text before it, then a [`DecodeFailure`], and stops.
    fn transcode(
        &mut self,
        decoder: &mut encoding_rs::Decoder,
        mut input: &[u8],
        last: bool,
    ) -> Result<(), ()> {
        let mut out = self.block();
        out.clear();
        loop {
            let room = decoder
                .max_utf8_buffer_length_without_replacement(input.len())
                .unwrap_or(input.len() * 3 + 16);
            let start = out.len();
            out.resize(start + room, 0);
            let (result, read, written) =
                decoder.decode_to_utf8_without_replacement(input, &mut out[start..], last);
            out.truncate(start + written);
            input = &input[read..];
            match result {
                DecoderResult::InputEmpty => break,
                DecoderResult::OutputFull => continue,
                DecoderResult::Malformed(bad, _) => {
                    let name = decoder.encoding().name();
                    if !out.is_empty() {
                        self.blocks.send(Block::Text(out)).map_err(drop)?;
                    }
                    let failure = DecodeFailure {
                        compression: None,
                        encoding: Some(name),
                        offset: self.stored.load(Ordering::Relaxed),
                        truncated: false,
                        message: format!("{bad} byte(s) that are not valid {name}"),
                    };
                    let e = io::Error::new(io::ErrorKind::InvalidData, failure);
                    let _ = self.blocks.send(Block::Failed(e));
                    return Err(());
                }
            }
        }
        if !out.is_empty() {
            self.blocks.send(Block::Text(out)).map_err(drop)?;
        }
        Ok(())
    }

    /// The error to hand on for a failed read: a read error of the input
    /// itself as it is, a decompressor's as a [`DecodeFailure`].
    fn failure<D: Decompress>(
        &self,
        e: io::Error,
        compression: Option<Compression>,
        source: &D,
    ) -> io::Error {
        let Some(compression) = compression else { return e };
        if source.raw().get_ref().inner.failed {
            return e;
        }
        let truncated = e.kind() == io::ErrorKind::UnexpectedEof;
        let failure = DecodeFailure {
            compression: Some(compression),
            encoding: None,
            offset: source.consumed(),
            truncated,
            message: e.to_string(),
        };
        io::Error::new(io::ErrorKind::InvalidData, failure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_is_read_only_while_it_may_begin_a_magic_number() {
        for head in [&b"\x1f"[..], b"\x28\xb5", b"\x5a\x2a\x4d", b"BZ", b"BZh", b"BZh9", b"BZh91AY"]
        {
            assert!(may_begin_magic(head), "{head:?}");
        }
        for head in [&b"k"[..], b"\x1f\x8c", b"BZh0", b"BZh1,", b"BZh91AX", b"\xFF\xFEa", b"id,"] {
            assert!(!may_begin_magic(head), "{head:?}");
        }
    }
}
