//! The layout of JSON array output ([`Format::Json`](crate::Format::Json)),
//! decided here and nowhere else.
//!
//! The output is one JSON array (RFC 8259 §5) with one record per line:
//!
//! ```text
//! [
//! {"a":1,"b":"x"},
//! {"a":2,"b":"y"}
//! ]
//! ```
//!
//! and `[]` followed by a newline when there is no record. Each record is
//! encoded exactly as an NDJSON line, but preceded by [`RECORD_PREFIX`]
//! (`,` and a newline) instead of followed by a newline. Records can then
//! be encoded on any worker, reordered (sort) or concatenated (concat) as
//! they are, without knowing whether a record comes first: the
//! [`Sink`](crate::Sink) writes `[` before the first byte of records and
//! drops that first record's `,`, and [`ArrayFrame::close`] ends the array.
//! So the bytes depend only on the records, never on how they were cut into
//! chunks or written in blocks.

/// What the encoder writes before every JSON array record.
pub const RECORD_PREFIX: &[u8] = b",\n";

/// The state of a JSON array being written: whether `[` is out yet.
#[derive(Debug, Clone, Default)]
pub struct ArrayFrame {
    opened: bool,
}

impl ArrayFrame {
    /// Splits a block of records (each starting with [`RECORD_PREFIX`]) into
    /// what to write before it and the part of it to write: `[` and the
    /// block without its first `,` for the first non-empty block, nothing
    /// and the whole block afterwards.
    pub fn block<'b>(&mut self, records: &'b [u8]) -> (&'static [u8], &'b [u8]) {
        if self.opened || records.is_empty() {
            return (b"", records);
        }
        self.opened = true;
        (b"[", records.strip_prefix(&RECORD_PREFIX[..1]).unwrap_or(records))
    }

    /// The bytes that end the array: `\n]\n` after records, `[]\n` when
    /// none was written.
    pub fn close(&self) -> &'static [u8] {
        if self.opened {
            b"\n]\n"
        } else {
            b"[]\n"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(blocks: &[&[u8]]) -> Vec<u8> {
        let mut f = ArrayFrame::default();
        let mut out = Vec::new();
        for b in blocks {
            let (before, body) = f.block(b);
            out.extend_from_slice(before);
            out.extend_from_slice(body);
        }
        out.extend_from_slice(f.close());
        out
    }

    #[test]
    fn layout_does_not_depend_on_blocks() {
        let want = b"[\n{\"a\":1},\n{\"a\":2},\n{\"a\":3}\n]\n".to_vec();
        assert_eq!(frame(&[b",\n{\"a\":1},\n{\"a\":2},\n{\"a\":3}"]), want);
        assert_eq!(frame(&[b"", b",\n{\"a\":1}", b"", b",\n{\"a\":2},\n{\"a\":3}"]), want);
        assert_eq!(frame(&[]), b"[]\n");
        assert_eq!(frame(&[b"", b""]), b"[]\n");
        let v: serde_json::Value = serde_json::from_slice(&want).unwrap();
        assert_eq!(v, serde_json::json!([{"a":1},{"a":2},{"a":3}]));
    }
}
