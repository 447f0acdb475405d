//! JSON array chunks: whole elements (the splitter cut them between
//! elements and checked the brackets and commas), each parsed like an
//! NDJSON line from its `{` to the `}` where the parser stops. A record's
//! line is the line where its element starts; a parse error names the line
//! and column of the bad byte.

use serde::de::DeserializeSeed;

use super::bad_record::{json_record, BadRecord};
use crate::error::{Error, ErrorKind, Location, Result};
use crate::record::{LineAt, Record};
use crate::source::Chunk;
use crate::syntax::json::{is_ws, line_column, not_an_object};
use crate::syntax::json_object::{element_error, Pairs, PairsSeed};

/// Calls `f` (or `bad`) for every element of the JSON array chunk `chunk`
/// of `input`; returns the records read. See [`super::for_each_record_or`].
pub(super) fn records(
    chunk: &Chunk,
    input: &str,
    mut f: impl FnMut(&Record<'_>) -> Result<()>,
    bad: &mut dyn FnMut(Error, BadRecord<'_>) -> Result<()>,
) -> Result<u64> {
    let mut count = 0;
    let data = chunk.data.as_slice();
    let text = std::str::from_utf8(data).ok();
    let mut pairs: Vec<Pairs<'_>> = Vec::with_capacity(16);
    let mut pos = 0;
    loop {
        // The splitter has checked the framing between elements.
        while pos < data.len() && (is_ws(data[pos]) || b"[,]".contains(&data[pos])) {
            pos += 1;
        }
        let Some(&first) = data.get(pos) else { break };
        let start = pos;
        let at = |message: String| {
            let (line, column) = line_column(data, chunk.first_line, chunk.first_column, start);
            let at = Location { input: input.to_string(), line };
            ErrorKind::Json { at, column: column as usize, message: message.into() }
        };
        if first != b'{' {
            return Err(at(not_an_object(first)).into());
        }
        // Parse the object from its start: the parser stops after
        // its `}`, so the element needs no scan of its own here.
        pairs.clear();
        let parsed = match text {
            Some(t) => PairsSeed(&mut pairs)
                .deserialize(&mut serde_json::Deserializer::from_str(&t[start..])),
            None => PairsSeed(&mut pairs)
                .deserialize(&mut serde_json::Deserializer::from_slice(&data[start..])),
        };
        parsed.map_err(|e| {
            element_error(&e, input, data, chunk.first_line, chunk.first_column, start)
        })?;
        // The `}` follows the last value (values borrow from `data`).
        let after_last = pairs
            .last()
            .map_or(start + 1, |(_, v)| v.as_ptr() as usize + v.len() - data.as_ptr() as usize);
        pos = memchr::memchr(b'}', &data[after_last..]).map_or(data.len(), |i| after_last + i + 1);
        count += 1;
        let line = LineAt::Offset { first_line: chunk.first_line, chunk: data, offset: start };
        let offset = chunk.offset + start as u64;
        let at = BadRecord { raw: &data[start..pos], offset, index: count - 1 };
        json_record(&mut f, bad, &pairs, input, line, at, chunk.seq)?;
    }
    Ok(count)
}
