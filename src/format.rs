//! Input and output formats.

use std::path::Path;

/// A record format fanfold reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Comma-separated values with a header row (RFC 4180: `"` quoting,
    /// quoted newlines, doubled quotes; CRLF or LF line ends; a UTF-8 BOM is
    /// skipped). The delimiter can be changed.
    Csv,
    /// Tab-separated values with a header row: CSV with a tab delimiter.
    Tsv,
    /// Newline-delimited JSON (<https://github.com/ndjson/ndjson-spec>): one
    /// JSON object per line; blank lines are ignored.
    Ndjson,
    /// One JSON array of objects (RFC 8259 §5, §4): `[ {...}, {...} ]` with
    /// any whitespace between the tokens, objects possibly spread over many
    /// lines. Each element is one record and must be an object; an empty
    /// array (or an input holding only whitespace) has no records. As
    /// output: `[`, one record per line separated by `,`, then `]`.
    Json,
}

impl Format {
    /// Guesses the format from a file name's extension alone: `.csv`,
    /// `.tsv` / `.tab`, `.ndjson` / `.jsonl` / `.json` (NDJSON; see
    /// [`Input::detect_format`](crate::Input::detect_format), which tells a `.json` array from NDJSON by its
    /// content). A compression extension after it (`.gz`, `.zst`, `.bz2`,
    /// `.xz`: `flights.csv.gz`) is looked past. `None` when unknown.
    pub fn from_path(path: &Path) -> Option<Format> {
        match record_extension(path)?.as_str() {
            "csv" => Some(Format::Csv),
            "tsv" | "tab" => Some(Format::Tsv),
            "ndjson" | "jsonl" | "json" => Some(Format::Ndjson),
            _ => None,
        }
    }

    /// The field delimiter for the delimited formats: `,` for CSV, tab for
    /// TSV; `None` for NDJSON and JSON.
    pub fn default_delimiter(self) -> Option<u8> {
        match self {
            Format::Csv => Some(b','),
            Format::Tsv => Some(b'\t'),
            Format::Ndjson | Format::Json => None,
        }
    }

    /// True for CSV and TSV.
    pub fn is_delimited(self) -> bool {
        matches!(self, Format::Csv | Format::Tsv)
    }

    /// True for the JSON formats, NDJSON and JSON arrays: records are
    /// objects whose fields are found by key.
    pub fn is_json(self) -> bool {
        matches!(self, Format::Ndjson | Format::Json)
    }
}

/// The extension that names a path's record format, lowercased: the last
/// one, or the one before a compression extension (`csv` for
/// `a.CSV.gz`).
pub(crate) fn record_extension(path: &Path) -> Option<String> {
    let path = match Compression::from_path(path) {
        Some(_) => Path::new(path.file_stem()?),
        None => path,
    };
    Some(path.extension()?.to_str()?.to_ascii_lowercase())
}

/// A compression format, recognised by the magic number its files start
/// with: an input in one of them is decompressed whatever its name (see
/// the `source::decode` module), and an output named with a gzip or zstd
/// extension is compressed. Each format's command-line tool has the
/// format's name and decompresses to standard output with `-dc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compression {
    /// gzip (RFC 1952 §2.3.1: a member starts with ID1 = 0x1f, ID2 = 0x8b).
    Gzip,
    /// Zstandard (RFC 8878 §3.1.1: a frame starts with the magic number
    /// 0xFD2FB528, little-endian `28 b5 2f fd`; §3.1.2: a skippable frame,
    /// which `pzstd` writes first, with 0x184D2A50 to 0x184D2A5F).
    Zstd,
    /// bzip2 (bzip2 has no RFC; the stream header as the reference
    /// implementation writes it, described in "BZip2 Format
    /// Specification", J. Tsai, github.com/dsnet/compress,
    /// `doc/bzip2-format.pdf`: `BZh` and a block size digit `1` to `9`,
    /// followed by the magic of the first block, `31 41 59 26 53 59`, or
    /// of the end of an empty stream, `17 72 45 38 50 90`). The six bytes
    /// after the digit are checked too, since `BZh1` alone is ordinary
    /// text that may begin a CSV header.
    Bzip2,
    /// xz ("The .xz File Format", tukaani.org/xz/xz-file-format.txt,
    /// §2.1.1.1: the stream header's magic bytes `fd 37 7a 58 5a 00`).
    Xz,
}

impl Compression {
    /// Every format, in the order [`Compression::sniff`] tries them.
    pub const ALL: [Compression; 4] =
        [Compression::Gzip, Compression::Zstd, Compression::Bzip2, Compression::Xz];

    /// The compression whose magic number `bytes` starts with, if any.
    /// `bytes` should hold the first 10 bytes of the input at least (fewer
    /// only when the input is shorter: then it is not compressed).
    pub fn sniff(bytes: &[u8]) -> Option<Compression> {
        let zstd_skippable =
            bytes.len() >= 4 && bytes[0] & 0xf0 == 0x50 && bytes[1..4] == [0x2a, 0x4d, 0x18];
        let bzip2 = match bytes {
            [b'B', b'Z', b'h', b'1'..=b'9', rest @ ..] => {
                rest.starts_with(&[0x31, 0x41, 0x59, 0x26, 0x53, 0x59])
                    || rest.starts_with(&[0x17, 0x72, 0x45, 0x38, 0x50, 0x90])
            }
            _ => false,
        };
        if bytes.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) || zstd_skippable {
            Some(Compression::Zstd)
        } else if bzip2 {
            Some(Compression::Bzip2)
        } else if bytes.starts_with(&[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) {
            Some(Compression::Xz)
        } else {
            None
        }
    }

    /// The compression a file name's extension names: `.gz`, `.zst`,
    /// `.bz2` or `.xz`, in any case; `None` for any other name.
    pub fn from_path(path: &Path) -> Option<Compression> {
        let ext = path.extension()?.to_str()?;
        Compression::ALL.into_iter().find(|c| ext.eq_ignore_ascii_case(c.extension()))
    }

    /// The format's name, which is also its command-line tool's: `gzip`,
    /// `zstd`, `bzip2`, `xz`.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
        }
    }

    /// The usual file name extension, without the dot: `gz`, `zst`, `bz2`,
    /// `xz`.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::Gzip => "gz",
            Compression::Zstd => "zst",
            Compression::Bzip2 => "bz2",
            Compression::Xz => "xz",
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_extension() {
        assert_eq!(Format::from_path(Path::new("a/b.CSV")), Some(Format::Csv));
        assert_eq!(Format::from_path(Path::new("x.jsonl")), Some(Format::Ndjson));
        assert_eq!(Format::from_path(Path::new("x.tsv")), Some(Format::Tsv));
        assert_eq!(Format::from_path(Path::new("x.txt")), None);
        assert_eq!(Format::from_path(Path::new("x.CSV.gz")), Some(Format::Csv));
        assert_eq!(Format::from_path(Path::new("x.ndjson.zst")), Some(Format::Ndjson));
        assert_eq!(Format::from_path(Path::new("x.gz")), None);
        assert_eq!(Format::from_path(Path::new("-")), None);
    }

    #[test]
    fn sniffs_compression_magic() {
        let sniff = Compression::sniff;
        assert_eq!(sniff(b"\x1f\x8b\x08\x00"), Some(Compression::Gzip));
        assert_eq!(sniff(b"\x28\xb5\x2f\xfd\x24"), Some(Compression::Zstd));
        assert_eq!(sniff(b"\x5e\x2a\x4d\x18\x04\x00"), Some(Compression::Zstd));
        assert_eq!(sniff(b"BZh91AY&SY\x00"), Some(Compression::Bzip2));
        assert_eq!(sniff(b"BZh1\x17\x72\x45\x38\x50\x90"), Some(Compression::Bzip2));
        assert_eq!(sniff(b"\xfd7zXZ\x00\x00"), Some(Compression::Xz));
        // Text that merely looks like a magic number's start.
        assert_eq!(sniff(b"BZh1,BZh2\n1,2\n"), None);
        assert_eq!(sniff(b"BZh"), None);
        assert_eq!(sniff(b"\x1f"), None);
        assert_eq!(sniff(b"\xfd7zXZ"), None);
        assert_eq!(sniff(b"P*M"), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(b"a,b\n"), None);
    }

    #[test]
    fn compression_from_extension() {
        assert_eq!(Compression::from_path(Path::new("o.csv.gz")), Some(Compression::Gzip));
        assert_eq!(Compression::from_path(Path::new("o.ZST")), Some(Compression::Zstd));
        assert_eq!(Compression::from_path(Path::new("d/o.Bz2")), Some(Compression::Bzip2));
        assert_eq!(Compression::from_path(Path::new("o.ndjson.xz")), Some(Compression::Xz));
        assert_eq!(Compression::from_path(Path::new("o.csv")), None);
        assert_eq!(Compression::from_path(Path::new("gz")), None);
        assert_eq!(Compression::from_path(Path::new("o.tgz")), None);
    }
}
