//! NDJSON chunks: split on `\n` here, each line parsed on its own into a
//! reused vector of key/raw-value pairs (a flat object by the fast path,
//! anything else by `serde_json`), so one bad line names its own line and
//! column. A line of JSON whitespace only is blank and skipped.

use super::bad_record::{json_record, BadRecord};
use crate::error::{Error, Result};
use crate::record::{LineAt, Record};
use crate::source::Chunk;
use crate::syntax::json::is_ws;
use crate::syntax::json_object::{
    check_depth, is_blank, json_error, object_pairs, parse_pairs, Pairs,
};

/// Calls `f` (or `bad`) for every record of the NDJSON chunk `chunk` of
/// `input`; returns the records read. See [`super::for_each_record_or`].
pub(super) fn records(
    chunk: &Chunk,
    input: &str,
    mut f: impl FnMut(&Record<'_>) -> Result<()>,
    bad: &mut dyn FnMut(Error, BadRecord<'_>) -> Result<()>,
) -> Result<u64> {
    let mut count = 0;
    // Check UTF-8 once per chunk, so that each line parses from a
    // `&str` without checking it again (an invalid chunk falls back
    // to byte parsing, whose error names the line).
    let text = std::str::from_utf8(&chunk.data).ok();
    let mut pairs: Vec<Pairs<'_>> = Vec::with_capacity(16);
    let mut start = 0;
    let mut line = chunk.first_line;
    let data = chunk.data.as_slice();
    while start < data.len() {
        let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
        let this = line;
        line += 1;
        let (s, e) = (start, if end > start && data[end - 1] == b'\r' { end - 1 } else { end });
        start = end + 1;
        let raw = &data[s..e];
        if raw.first().is_none_or(|&b| is_ws(b)) && is_blank(raw) {
            continue;
        }
        pairs.clear();
        let parsed = match text {
            Some(t) => object_pairs(&t[s..e], &mut pairs),
            None => parse_pairs(serde_json::Deserializer::from_slice(raw), &mut pairs),
        };
        count += 1;
        let offset = chunk.offset + s as u64;
        let at = BadRecord { raw, offset, index: count - 1 };
        if let Err(e) = parsed {
            bad(json_error(&e, input, this), at)?;
            continue;
        }
        if let Err(e) = check_depth(raw, &pairs, input, this) {
            bad(e, at)?;
            continue;
        }
        json_record(&mut f, bad, &pairs, input, LineAt::Known(this), at, chunk.seq)?;
    }
    Ok(count)
}
