//! Compressed output: the encoder an output file's name asks for
//! (`.gz`, `.zst`, `.bz2`, `.xz`), between the encoded records and the
//! buffered file. The crates are the ones that decompress the inputs
//! (see `source::decode`): `flate2` on `zlib-rs` (RFC 1952, one member),
//! `zstd` (RFC 8878, one frame), `bzip2` and `liblzma`.

use std::io::{self, Write};

use crate::error::{Error, Result, Setting};
use crate::format::Compression;

/// The level each format's command-line tool uses by default, and the
/// levels it takes: gzip 6 (1 to 9), zstd 3 (1 to 19; 20 to 22 are its
/// `--ultra` levels, taken here too), bzip2 9 (1 to 9), xz 6 (0 to 9).
pub(crate) fn levels(compression: Compression) -> (u32, std::ops::RangeInclusive<u32>) {
    match compression {
        Compression::Gzip => (6, 1..=9),
        Compression::Zstd => (3, 1..=22),
        Compression::Bzip2 => (9, 1..=9),
        Compression::Xz => (6, 0..=9),
    }
}

/// A writer that compresses what it is given into `W`, or passes it
/// through.
pub(crate) enum Compressor<W: Write> {
    /// No compression.
    Plain(W),
    /// gzip, one member.
    Gzip(flate2::write::GzEncoder<W>),
    /// Zstandard, one frame.
    Zstd(zstd::stream::write::Encoder<'static, W>),
    /// bzip2, one stream.
    Bzip2(bzip2::write::BzEncoder<W>),
    /// xz, one stream.
    Xz(liblzma::write::XzEncoder<W>),
}

impl<W: Write> std::fmt::Debug for Compressor<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Compressor::Plain(_) => "plain",
            Compressor::Gzip(_) => "gzip",
            Compressor::Zstd(_) => "zstd",
            Compressor::Bzip2(_) => "bzip2",
            Compressor::Xz(_) => "xz",
        };
        f.debug_tuple("Compressor").field(&name).finish()
    }
}

impl<W: Write> Compressor<W> {
    /// A writer into `inner` compressing with `compression` at `level`
    /// (`None`: the format's default, see [`levels`]).
    ///
    /// # Errors
    /// [`ErrorKind::Setting`](crate::ErrorKind::Setting) for
    /// [`Setting::CompressLevel`] when `level` is outside the format's
    /// range, naming it; [`ErrorKind::Io`](crate::ErrorKind::Io) naming
    /// `name` when the zstd encoder cannot be made.
    pub(crate) fn new(
        inner: W,
        compression: Option<Compression>,
        level: Option<u32>,
        name: &str,
    ) -> Result<Compressor<W>> {
        let Some(compression) = compression else { return Ok(Compressor::Plain(inner)) };
        let (default, range) = levels(compression);
        let level = level.unwrap_or(default);
        if !range.contains(&level) {
            return Err(Error::setting(
                Setting::CompressLevel,
                format!(
                    "{level} is not a {compression} level: {name} is written with {compression}, \
                     whose levels are {} to {}",
                    range.start(),
                    range.end()
                ),
            ));
        }
        Ok(match compression {
            Compression::Gzip => Compressor::Gzip(flate2::write::GzEncoder::new(
                inner,
                flate2::Compression::new(level),
            )),
            Compression::Zstd => {
                // The range check above keeps the level within i32.
                let level = i32::try_from(level).unwrap_or(3);
                let encoder = zstd::stream::write::Encoder::new(inner, level)
                    .map_err(|e| Error::io(name, e))?;
                Compressor::Zstd(encoder)
            }
            Compression::Bzip2 => Compressor::Bzip2(bzip2::write::BzEncoder::new(
                inner,
                bzip2::Compression::new(level),
            )),
            Compression::Xz => Compressor::Xz(liblzma::write::XzEncoder::new(inner, level)),
        })
    }

    /// Writes the compressed stream's end and returns the inner writer.
    ///
    /// # Errors
    /// The inner writer's errors.
    pub(crate) fn finish(self) -> io::Result<W> {
        match self {
            Compressor::Plain(w) => Ok(w),
            Compressor::Gzip(w) => w.finish(),
            Compressor::Zstd(w) => w.finish(),
            Compressor::Bzip2(w) => w.finish(),
            Compressor::Xz(w) => w.finish(),
        }
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Compressor::Plain(w) => w,
            Compressor::Gzip(w) => w,
            Compressor::Zstd(w) => w,
            Compressor::Bzip2(w) => w,
            Compressor::Xz(w) => w,
        }
    }
}

impl<W: Write> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer().write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.writer().write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer().flush()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn every_format_round_trips_through_its_decoder() {
        let text = b"city,n\nOslo,1\nLima,2\n".repeat(1000);
        for c in Compression::ALL {
            let mut w = Compressor::new(Vec::new(), Some(c), None, "out").unwrap();
            w.write_all(&text).unwrap();
            let bytes = w.finish().unwrap();
            assert_eq!(Compression::sniff(&bytes), Some(c));
            assert!(bytes.len() < text.len() / 10, "{c}: {} bytes", bytes.len());
            let mut back = Vec::new();
            crate::source::head_of(Box::new(std::io::Cursor::new(bytes)), u64::MAX)
                .as_slice()
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, text, "{c}");
        }
    }

    #[test]
    fn a_level_outside_the_range_names_the_range() {
        let e = Compressor::new(Vec::new(), Some(Compression::Gzip), Some(10), "o.gz").unwrap_err();
        assert_eq!(
            e.to_string(),
            "compress_level: 10 is not a gzip level: o.gz is written with gzip, whose levels \
             are 1 to 9"
        );
        assert!(Compressor::new(Vec::new(), Some(Compression::Zstd), Some(19), "o").is_ok());
        assert!(Compressor::new(Vec::new(), None, Some(99), "o").is_ok());
    }
}
