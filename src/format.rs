//! Input and output formats.

use std::io::Read;
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
    /// output: `[`, one record per line separated by `,`, then `]` (see
    /// [`crate::sink::json_array`]).
    Json,
}

/// Most bytes [`Format::detect`] reads looking for the first one that is
/// not whitespace.
const SNIFF_BYTES: u64 = 64 * 1024;

impl Format {
    /// Guesses the format from a file name's extension alone: `.csv`,
    /// `.tsv` / `.tab`, `.ndjson` / `.jsonl` / `.json` (NDJSON; see
    /// [`Format::detect`], which tells a `.json` array from NDJSON by its
    /// content). `None` when unknown.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "tsv" | "tab" => Some(Format::Tsv),
            "ndjson" | "jsonl" | "json" => Some(Format::Ndjson),
            _ => None,
        }
    }

    /// The format of the file at `path`: [`Format::from_path`], except that
    /// a `.json` file is sniffed: when its first byte that is neither
    /// whitespace (RFC 8259 §2: space, tab, `\n`, `\r`) nor part of a UTF-8
    /// BOM is `[`, it is [`Format::Json`] (one array of objects); anything
    /// else (`{`, an empty file, a file that cannot be read, no such byte
    /// in the first 64 KiB) is [`Format::Ndjson`]. `.ndjson` and `.jsonl`
    /// files are always NDJSON. Reads at most 64 KiB; a file that cannot be
    /// opened is reported when the run opens it.
    pub fn detect(path: &Path) -> Option<Format> {
        let by_name = Format::from_path(path)?;
        let is_json_ext = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if !is_json_ext {
            return Some(by_name);
        }
        let mut head = Vec::new();
        if let Ok(f) = std::fs::File::open(path) {
            // A read error leaves what was read; the run reports the error.
            let _ = f.take(SNIFF_BYTES).read_to_end(&mut head);
        }
        let body = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head);
        match body.iter().find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
            Some(b'[') => Some(Format::Json),
            _ => Some(Format::Ndjson),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_extension() {
        assert_eq!(Format::from_path(Path::new("a/b.CSV")), Some(Format::Csv));
        assert_eq!(Format::from_path(Path::new("x.jsonl")), Some(Format::Ndjson));
        assert_eq!(Format::from_path(Path::new("x.tsv")), Some(Format::Tsv));
        assert_eq!(Format::from_path(Path::new("x.txt")), None);
        assert_eq!(Format::from_path(Path::new("-")), None);
    }

    #[test]
    fn detect_sniffs_json_files() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, body: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, body).unwrap();
            p
        };
        let array = write("a.json", b"\xEF\xBB\xBF \r\n\t[{\"a\":1}]");
        assert_eq!(Format::detect(&array), Some(Format::Json));
        let lines = write("b.JSON", b"\n{\"a\":1}\n");
        assert_eq!(Format::detect(&lines), Some(Format::Ndjson));
        let empty = write("c.json", b"");
        assert_eq!(Format::detect(&empty), Some(Format::Ndjson));
        // Other JSON extensions are never sniffed.
        let jsonl = write("d.jsonl", b"[1]");
        assert_eq!(Format::detect(&jsonl), Some(Format::Ndjson));
        assert_eq!(Format::detect(&dir.path().join("missing.json")), Some(Format::Ndjson));
        assert_eq!(Format::detect(Path::new("x.txt")), None);
    }
}
