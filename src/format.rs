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
}

impl Format {
    /// Guesses the format from a file name's extension: `.csv`, `.tsv` /
    /// `.tab`, `.ndjson` / `.jsonl` / `.json`. `None` when unknown.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "tsv" | "tab" => Some(Format::Tsv),
            "ndjson" | "jsonl" | "json" => Some(Format::Ndjson),
            _ => None,
        }
    }

    /// The field delimiter for the delimited formats: `,` for CSV, tab for
    /// TSV; `None` for NDJSON.
    pub fn default_delimiter(self) -> Option<u8> {
        match self {
            Format::Csv => Some(b','),
            Format::Tsv => Some(b'\t'),
            Format::Ndjson => None,
        }
    }

    /// True for CSV and TSV.
    pub fn is_delimited(self) -> bool {
        self != Format::Ndjson
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
}
