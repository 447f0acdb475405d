//! A record that could not be parsed ([`BadRecord`]), and how a record
//! error goes to the caller's `bad` while any other error stops the chunk.

use crate::error::{Error, Result};
use crate::record::{Fields, LineAt, Record};
use crate::syntax::json::Pairs;

/// A record that could not be parsed: its bytes (without the line end) and
/// its byte offset in its input.
#[derive(Debug, Clone, Copy)]
pub struct BadRecord<'a> {
    /// The record's bytes as read.
    pub raw: &'a [u8],
    /// Byte offset of its first byte in its input.
    pub offset: u64,
    /// Its position among the chunk's records, from 0.
    pub index: u64,
}

/// Calls `f` on the JSON record `pairs` found at `at`, routing a record
/// error to `bad`.
pub(super) fn json_record(
    f: &mut impl FnMut(&Record<'_>) -> Result<()>,
    bad: &mut dyn FnMut(Error, BadRecord<'_>) -> Result<()>,
    pairs: &[Pairs<'_>],
    input: &str,
    line: LineAt<'_>,
    at: BadRecord<'_>,
    chunk: u64,
) -> Result<()> {
    let BadRecord { raw, offset, index } = at;
    match f(&Record { fields: Fields::Json(pairs), input, line, raw, offset, index, chunk }) {
        Err(e) => on_record_error(e, bad, at),
        Ok(()) => Ok(()),
    }
}

/// An error `f` returned for one record: a record error goes to `bad`,
/// anything else stops the chunk.
pub(super) fn on_record_error(
    e: Error,
    bad: &mut dyn FnMut(Error, BadRecord<'_>) -> Result<()>,
    at: BadRecord<'_>,
) -> Result<()> {
    if e.is_record_error() {
        bad(e, at)
    } else {
        Err(e)
    }
}

/// `bytes` without a final `\n` or `\r\n`.
pub(super) fn trim_line_end(bytes: &[u8]) -> &[u8] {
    let b = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    b.strip_suffix(b"\r").unwrap_or(b)
}
