//! Records as partial lines, for the map, combine and reduce steps of a
//! sort (`--sort-by`) or a top-K (`--top K`, per `--group-by` group): the
//! engine's sort of the lines by key does the sorting, and the reducer
//! only writes.
//!
//! A record's line (see `reduce::partial_line` for the layout) has the
//! key
//!
//! ```text
//! group sort key (group_key::append_sort_key; none without --group-by)
//! ++ sort key bytes (SortKeys::append_ordered_bytes)
//! ++ split number, record number in the split (partial_line::push_ordered_u64)
//! ```
//!
//! whose byte order is the output order: groups in group-by order, then
//! the records in `--sort-by` order, ties in input order (the position
//! makes every key distinct, so the engine's unstable sort is stable
//! here). Records are numbered as the merging thread takes their chunks,
//! in input order, so a split's lines are the same bytes whatever the
//! threads and chunks that read it. Its payload is the group part's length in bytes (u32 LE) and
//! the record as the output encodes it. One more line, with the key `00`
//! (first in byte order), holds the output's header (empty for NDJSON);
//! every map step writes it and the reduce step writes it once.
//!
//! The map step of a sort writes each record's line as it is read (the
//! concat reducer's streaming); the map step of a top-K keeps the first K
//! lines per group of its split, and the combine step those of its input
//! (cutting lines of a sort to none). The reduce step streams: it writes
//! the records of lines that come in key order (the shuffle's guarantee:
//! a line out of order is an error naming it), the first K of each group
//! for a top-K. This is the total-order sort of Hadoop's TeraSort
//! (O'Malley, "TeraByte Sort on Apache Hadoop", 2008): with the lines cut
//! into key ranges by a total-order partitioner, the reducers' outputs in
//! range order are the whole output.

use std::cmp::Ordering;

use crate::error::{ErrorKind, Location, Result};
use crate::record::{ColumnRef, Record};
use crate::reduce::group_key::{append_sort_key, encode_key_part};
use crate::reduce::partial_line::{
    escape_key, push_ordered_u64, read_line, write_line, write_value,
};
use crate::reduce::sort_key::SortKeys;
use crate::reduce::{Reducer, Sink};
use crate::sink::encode::Encoder;

/// The key of the header line: one `00` byte, before every record's key
/// (those begin with a class byte, 1 to 3) and not empty, so that a CSV
/// reader of the lines does not take it for a missing value.
const HEADER_KEY: &[u8] = &[0];

/// How a [`RecordLines`] reads and writes.
#[derive(Debug, Clone)]
pub(crate) enum LinesStep {
    /// Reads records, writes their lines (the map step).
    Map {
        /// The `--sort-by` keys.
        keys: SortKeys,
        /// The `--group-by` columns (top-K only).
        group: Vec<ColumnRef>,
        /// The split's number, first in a record's position.
        split: u64,
    },
    /// Reads lines (these columns: key, partial) and writes the first K
    /// per group (the combine step).
    Combine(ColumnRef, ColumnRef),
    /// Reads lines (these columns) in key order and writes their records
    /// (the reduce step).
    Reduce(ColumnRef, ColumnRef),
}

/// A sort's or a top-K's records as partial lines; see the module docs.
#[derive(Debug, Clone)]
pub(crate) struct RecordLines {
    step: LinesStep,
    /// Records kept per group; `None`: every record (a sort).
    per_group: Option<usize>,
    encoder: Encoder,
    null_markers: Vec<Vec<u8>>,
    fingerprint: u64,
}

/// A record's line as held: its key (raw, not escaped; for a record of
/// the map step, without its position), the length of the key's group
/// part, the record's position (map step: its number in its chunk, then
/// in the split once merged), and the record's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    key: Vec<u8>,
    group_len: usize,
    position: u64,
    record: Vec<u8>,
}

/// The lines of consecutive chunks.
#[derive(Debug, Default)]
pub(crate) struct LinesPartial {
    /// Lines held: in key order once sealed (map of a top-K, combine), in
    /// input order (reduce).
    lines: Vec<Line>,
    /// Output bytes not yet written (map of a sort), and their lines.
    bytes: Vec<u8>,
    written: u64,
    /// Map of a sort, before the merge: each record's line but for its
    /// position, in `bytes`: where its escaped key ends and where its
    /// value (tab to newline) ends.
    pieces: Vec<(usize, usize)>,
    /// Records folded in these chunks (map step): the number the next
    /// chunk's records start from.
    folded: u64,
    /// The header line's payload read, and where.
    header: Option<(Vec<u8>, Location)>,
    /// The first line read (reduce): its key, and where.
    first: Option<(Vec<u8>, Location)>,
    /// What the reduce step has written: the last key, how many records
    /// of the last key's group, and whether the header is out.
    last: Option<Vec<u8>>,
    in_group: usize,
    header_written: bool,
}

impl RecordLines {
    /// Lines of `step`, keeping `per_group` records per group (`None`: a
    /// sort), records encoded by `encoder`, lines carrying `fingerprint`.
    pub(crate) fn new(
        step: LinesStep,
        per_group: Option<usize>,
        encoder: Encoder,
        null_markers: Vec<Vec<u8>>,
        fingerprint: u64,
    ) -> Self {
        RecordLines { step, per_group, encoder, null_markers, fingerprint }
    }

    /// The header line: [`HEADER_KEY`], the header's bytes.
    fn header_line(&self, header: &[u8], out: &mut Vec<u8>) {
        let mut payload = 0u32.to_le_bytes().to_vec();
        payload.extend_from_slice(header);
        write_line(out, HEADER_KEY, self.fingerprint, &payload);
    }

    fn line_bytes(&self, line: &Line, out: &mut Vec<u8>) {
        let mut payload = Vec::with_capacity(4 + line.record.len());
        payload.extend_from_slice(&(line.group_len as u32).to_le_bytes());
        payload.extend_from_slice(&line.record);
        match &self.step {
            LinesStep::Map { split, .. } => {
                let mut key = line.key.clone();
                push_ordered_u64(&mut key, *split);
                push_ordered_u64(&mut key, line.position);
                write_line(out, &key, self.fingerprint, &payload);
            }
            _ => write_line(out, &line.key, self.fingerprint, &payload),
        }
    }

    /// The split's number (map step; 0 otherwise).
    fn split(&self) -> u64 {
        match self.step {
            LinesStep::Map { split, .. } => split,
            _ => 0,
        }
    }

    /// The line of `record`, the chunk's record number `index` (map step).
    fn record_line(
        &self,
        record: &Record<'_>,
        (keys, group): (&SortKeys, &[ColumnRef]),
        index: u64,
    ) -> Result<Line> {
        let mut raw = Vec::new();
        for c in group {
            encode_key_part(&mut raw, record.get(c), &self.null_markers);
        }
        let mut key = Vec::new();
        if !group.is_empty() {
            append_sort_key(&mut key, &raw);
        }
        let group_len = key.len();
        let (mut vals, mut arena) = (Vec::with_capacity(keys.len()), Vec::new());
        keys.extract(record, &mut vals, &mut arena)?;
        keys.append_ordered_bytes(&vals, &arena, &mut key);
        let mut bytes = Vec::new();
        self.encoder.record(record, &mut bytes)?;
        Ok(Line { key, group_len, position: index, record: bytes })
    }

    /// The line a record that is a partial line holds, or the header's
    /// payload (`Err`) for the header line.
    ///
    /// # Errors
    /// [`ErrorKind::Partial`] naming the line (see [`read_line`]), or when
    /// its payload is not a record's.
    fn read(
        &self,
        record: &Record<'_>,
        (key, partial): (&ColumnRef, &ColumnRef),
    ) -> Result<std::result::Result<Line, Vec<u8>>> {
        let text = |c| record.get(c).text().unwrap_or_default();
        let (key, payload) =
            read_line(&text(key), &text(partial), self.fingerprint, || record.location())?;
        let group_len = payload.get(..4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        let Some(group_len) = group_len.map(|n| n as usize).filter(|&n| n <= key.len()) else {
            let message = "its state is not a record of a sort or a top".to_string();
            return Err(ErrorKind::Partial { at: record.location(), message }.into());
        };
        let record = payload[4..].to_vec();
        if key == HEADER_KEY {
            return Ok(Err(record));
        }
        Ok(Ok(Line { key, group_len, position: 0, record }))
    }

    /// Sorts `lines` by key and keeps the first K of each group. (A
    /// stable sort, which finds sorted runs: merging two cut partials is
    /// one pass.)
    fn sort_and_cut(&self, lines: &mut Vec<Line>) {
        lines.sort_by(|a, b| a.key.cmp(&b.key).then(a.position.cmp(&b.position)));
        let Some(k) = self.per_group else { return };
        let mut in_group = 0;
        let mut last: Option<Vec<u8>> = None;
        lines.retain(|line| {
            let group = &line.key[..line.group_len];
            if last.as_deref() == Some(group) {
                in_group += 1;
            } else {
                last = Some(group.to_vec());
                in_group = 1;
            }
            in_group <= k
        });
    }

    /// Keeps `header` (read at `at`) as the header of `partial`, which
    /// must be the same as any it has.
    fn keep_header(partial: &mut LinesPartial, header: (Vec<u8>, Location)) -> Result<()> {
        match &partial.header {
            None => partial.header = Some(header),
            Some((mine, _)) if *mine == header.0 => {}
            Some(_) => {
                let message = "its header is not the other splits' (their columns differ: give \
                               every split the same columns, with --select or NDJSON output)"
                    .to_string();
                return Err(ErrorKind::Partial { at: header.1, message }.into());
            }
        }
        Ok(())
    }

    /// The error of a line whose key is not after the last one's
    /// (`same`: equal to it).
    fn out_of_order(at: Location, same: bool) -> crate::Error {
        let message = if same {
            "the key of the line before: two map steps were given the same --split-index \
             (each split needs its own number)"
        } else {
            "the partial lines are not in key order (as a shuffle sorts them): sort them \
             first, e.g. `LC_ALL=C sort`"
        };
        ErrorKind::Partial { at, message: message.to_string() }.into()
    }
}

impl Reducer for RecordLines {
    type Partial = LinesPartial;

    fn empty(&self) -> LinesPartial {
        LinesPartial::default()
    }

    fn fold(&self, partial: &mut LinesPartial, record: &Record<'_>) -> Result<()> {
        match &self.step {
            LinesStep::Map { keys, group, .. } => {
                let line = self.record_line(record, (keys, group), partial.folded)?;
                partial.folded += 1;
                if self.per_group.is_some() {
                    partial.lines.push(line);
                } else {
                    // All but the position, which the merge writes.
                    escape_key(&line.key, &mut partial.bytes);
                    let key_end = partial.bytes.len();
                    let mut payload = Vec::with_capacity(4 + line.record.len());
                    payload.extend_from_slice(&0u32.to_le_bytes());
                    payload.extend_from_slice(&line.record);
                    write_value(&mut partial.bytes, self.fingerprint, &payload);
                    partial.pieces.push((key_end, partial.bytes.len()));
                }
            }
            LinesStep::Combine(key, value) => match self.read(record, (key, value))? {
                Ok(line) => partial.lines.push(line),
                Err(header) => Self::keep_header(partial, (header, record.location()))?,
            },
            LinesStep::Reduce(key, value) => match self.read(record, (key, value))? {
                Ok(line) => {
                    match partial.lines.last() {
                        Some(last) if last.key >= line.key => {
                            let same = last.key == line.key;
                            return Err(Self::out_of_order(record.location(), same));
                        }
                        None if partial.first.is_none() => {
                            partial.first = Some((line.key.clone(), record.location()));
                        }
                        _ => {}
                    }
                    partial.lines.push(line);
                }
                Err(header) => {
                    if !partial.lines.is_empty() {
                        return Err(Self::out_of_order(record.location(), false));
                    }
                    Self::keep_header(partial, (header, record.location()))?;
                }
            },
        }
        Ok(())
    }

    fn seal(&self, partial: &mut LinesPartial) -> Result<()> {
        // A sort's map writes its lines as read; a reduce's come sorted.
        let kept_in_order = match self.step {
            LinesStep::Map { .. } => self.per_group.is_none(),
            LinesStep::Combine(..) => false,
            LinesStep::Reduce(..) => true,
        };
        if !kept_in_order {
            self.sort_and_cut(&mut partial.lines);
        }
        Ok(())
    }

    fn merge(&self, total: &mut LinesPartial, next: LinesPartial) -> Result<()> {
        if let Some(header) = next.header {
            let reduced = matches!(self.step, LinesStep::Reduce(..));
            if reduced && (total.last.is_some() || !total.lines.is_empty()) {
                // The header line after a record's.
                return Err(Self::out_of_order(header.1, false));
            }
            Self::keep_header(total, header)?;
        }
        match &self.step {
            LinesStep::Reduce(..) => {
                let last = total.lines.last().map(|l| l.key.as_slice()).or(total.last.as_deref());
                if let (Some(last), Some((first, at))) = (last, &next.first) {
                    if last.cmp(first) != Ordering::Less {
                        return Err(Self::out_of_order(at.clone(), last == first.as_slice()));
                    }
                }
                total.lines.extend(next.lines);
            }
            LinesStep::Map { .. } => {
                // The chunk's records numbered after the chunks before.
                let base = total.folded;
                total.folded += next.folded;
                if self.per_group.is_none() {
                    let (mut start, mut position) = (0, Vec::new());
                    for (i, &(key_end, end)) in next.pieces.iter().enumerate() {
                        total.bytes.extend_from_slice(&next.bytes[start..key_end]);
                        position.clear();
                        push_ordered_u64(&mut position, self.split());
                        push_ordered_u64(&mut position, base + i as u64);
                        escape_key(&position, &mut total.bytes);
                        total.bytes.extend_from_slice(&next.bytes[key_end..end]);
                        start = end;
                    }
                    total.written += next.pieces.len() as u64;
                } else {
                    let numbered =
                        next.lines.into_iter().map(|l| Line { position: base + l.position, ..l });
                    total.lines.extend(numbered);
                    self.sort_and_cut(&mut total.lines);
                }
            }
            LinesStep::Combine(..) => {
                total.lines.extend(next.lines);
                self.sort_and_cut(&mut total.lines);
            }
        }
        Ok(())
    }

    fn start(&self, sink: &mut Sink<'_>) -> Result<()> {
        if let LinesStep::Map { .. } = self.step {
            let (mut header, mut line) = (Vec::new(), Vec::new());
            self.encoder.layout_header(&mut header);
            self.header_line(&header, &mut line);
            sink.write(&line, 0)?;
        }
        Ok(())
    }

    fn drain(&self, total: &mut LinesPartial, sink: &mut Sink<'_>) -> Result<()> {
        match &self.step {
            LinesStep::Map { .. } if self.per_group.is_none() => {
                sink.write(&total.bytes, total.written)?;
                total.bytes.clear();
                total.written = 0;
            }
            LinesStep::Reduce(..) => {
                let mut out = Vec::new();
                if let (false, Some((header, _))) = (total.header_written, &total.header) {
                    out.extend_from_slice(header);
                    total.header_written = true;
                }
                let mut written = 0;
                for line in total.lines.drain(..) {
                    let group = &line.key[..line.group_len];
                    let same =
                        total.last.as_ref().is_some_and(|l| l.get(..line.group_len) == Some(group));
                    total.in_group = if same { total.in_group + 1 } else { 1 };
                    if self.per_group.is_none_or(|k| total.in_group <= k) {
                        out.extend_from_slice(&line.record);
                        written += 1;
                    }
                    total.last = Some(line.key);
                }
                sink.write(&out, written)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(&self, mut total: LinesPartial, sink: &mut Sink<'_>) -> Result<()> {
        match &self.step {
            LinesStep::Map { .. } if self.per_group.is_none() => self.drain(&mut total, sink),
            LinesStep::Reduce(..) => self.drain(&mut total, sink),
            _ => {
                let mut out = Vec::new();
                if let (LinesStep::Combine(..), Some((header, _))) = (&self.step, &total.header) {
                    self.header_line(header, &mut out);
                }
                for line in &total.lines {
                    self.line_bytes(line, &mut out);
                }
                sink.write(&out, total.lines.len() as u64)
            }
        }
    }
}
