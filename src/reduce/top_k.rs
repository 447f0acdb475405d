//! The top-k reducer: the first K records in `--sort-by` order, overall or
//! per group (`--top K --sort-by KEYS [--group-by COLS]`).
//!
//! The order is the sorted reducer's (the same code compares the keys):
//! per key ascending or descending, `:n` numeric, missing values last in
//! both directions, ties in input order. So the output equals a stable sort
//! of each group's records cut to its first K.
//!
//! Memory is O(K × groups) per partial. A worker keeps fewer than 2K
//! records per group: when a group reaches 2K it is sorted and cut to its
//! best K, and from then on a record that does not beat the K-th best is
//! dropped before it is encoded. [`Reducer::seal`] cuts every group to K,
//! sorted. [`Reducer::merge`] appends the next partial's records to the
//! running total's (every record carries its input position, so ties stay
//! in input order) and cuts a group back to K whenever it reaches 2K, with
//! a stable sort that merges the sorted runs: amortized O(log K) per record
//! on the merging thread, however large K is. [`Reducer::finish`] cuts
//! every group to K once more.
//!
//! Output: whole records (every output column after `--select`, `--drop`,
//! `--rename`), encoded as the sorted reducer encodes them, after the CSV
//! header. With `--group-by`, the groups come in the group-by reducer's
//! order (numbers first, numerically; then text by bytes; missing keys
//! last), each group's records in sort order.
//!
//! Memory: with [`TopK::with_memory_limit`], the running total's kept
//! records and groups are counted (bytes as held: the encoded record, its
//! sort keys and the bookkeeping of each entry and group), and passing the
//! budget is an error naming `--memory-limit`: kept records cannot spill
//! yet. A chunk's partial is bounded by its chunk.
//!
//! Every record is checked as if it were written (its sort keys parsed, an
//! NDJSON record's keys checked against a CSV header), kept or not, so
//! whether a run fails never depends on chunking.

use std::cmp::Ordering;

use hashbrown::HashMap;

use crate::error::{msg, ErrorKind, Result, Setting};
use crate::record::{ColumnRef, Record};
use crate::reduce::group_key::{encode_key_part, output_order};
use crate::reduce::sort_key::{KeyVal, SortKeySpec, SortKeys};
use crate::reduce::{Reducer, Sink};
use crate::sink::encode::Encoder;

/// Keeps the first `k` records in sort order, per group; see the module
/// docs.
#[derive(Debug, Clone)]
pub struct TopK {
    k: usize,
    keys: SortKeys,
    group_by: Vec<ColumnRef>,
    encoder: Encoder,
    null_markers: Vec<Vec<u8>>,
    /// The state's budget and the `--memory-limit` it comes from (bytes).
    limit: Option<(u64, u64)>,
}

/// One kept record.
#[derive(Debug)]
struct Entry {
    /// Input order: smaller is earlier, across merged partials too.
    pos: u64,
    /// One value per sort key; text ranges index `bytes`.
    keys: Box<[KeyVal]>,
    /// The key texts, then from `record_start` the encoded record.
    bytes: Box<[u8]>,
    record_start: usize,
}

impl Entry {
    fn record(&self) -> &[u8] {
        &self.bytes[self.record_start..]
    }

    /// Bytes this entry holds, as counted for the memory limit.
    fn size(&self) -> u64 {
        (std::mem::size_of::<Entry>()
            + self.bytes.len()
            + self.keys.len() * std::mem::size_of::<KeyVal>()) as u64
    }
}

/// Bytes a group with encoded key `key` holds beside its entries: the key,
/// the group and its hash table slot.
fn group_size(key: &[u8]) -> u64 {
    (key.len() + std::mem::size_of::<(Vec<u8>, Group)>() + 8) as u64
}

/// The records kept for one group.
#[derive(Debug, Default)]
struct Group {
    entries: Vec<Entry>,
    /// `entries[..k]` is sorted and holds `k` records (more may follow,
    /// unsorted), so a record that does not come before `entries[k - 1]`
    /// cannot be in the top K.
    full: bool,
}

/// The kept records of consecutive chunks, per encoded group key.
#[derive(Debug, Default)]
pub struct TopPartial {
    groups: HashMap<Vec<u8>, Group>,
    /// Records folded into (or merged into) this partial.
    records: u64,
    /// Bytes the groups and kept entries hold (see [`Entry::size`]).
    bytes: u64,
    scratch_group: Vec<u8>,
    scratch_keys: Vec<KeyVal>,
    scratch_arena: Vec<u8>,
    /// The groups' output order, set by [`Reducer::finalize`]: indices
    /// into `groups` in its iteration order (the table is not changed
    /// after it).
    order: Option<Vec<u32>>,
}

impl TopK {
    /// A top-`k` reducer: `keys` resolved sort keys, `group_by` resolved
    /// group columns (none: one group), writing through `encoder`;
    /// `null_markers` count as missing. `k` is at least 1 (a `k` of 0 keeps
    /// 1; [`crate::Pipeline::run`] rejects 0 before this).
    pub fn new(
        k: usize,
        keys: Vec<(ColumnRef, SortKeySpec)>,
        group_by: Vec<ColumnRef>,
        encoder: Encoder,
        null_markers: Vec<Vec<u8>>,
    ) -> Self {
        TopK {
            k: k.max(1),
            keys: SortKeys::new(keys, null_markers.clone()),
            group_by,
            encoder,
            null_markers,
            limit: None,
        }
    }

    /// Fails the run with [`ErrorKind::MemoryLimit`] once the merged
    /// records and groups (see the module docs) pass `budget` bytes;
    /// `limit` is the `--memory-limit` it comes from (bytes), named in the
    /// error.
    pub fn with_memory_limit(mut self, budget: u64, limit: u64) -> Self {
        self.limit = Some((budget, limit));
        self
    }

    /// Fails when `total` has passed the budget.
    fn check_limit(&self, total: &TopPartial) -> Result<()> {
        let Some((budget, limit)) = self.limit else { return Ok(()) };
        if total.bytes <= budget {
            return Ok(());
        }
        let groups = total.groups.len().max(1) as u64;
        let what = if self.group_by.is_empty() {
            "the --top records".to_string()
        } else {
            format!(
                "the --top records of {groups} groups (about {} bytes a group)",
                total.bytes / groups
            )
        };
        Err(ErrorKind::MemoryLimit {
            limit,
            message: msg![
                format!(
                    "{what} passed the limit ({} of it for kept records; they cannot spill to \
                     disk yet); raise ",
                    crate::units::human_bytes(budget)
                ),
                Setting::MemoryLimit,
                ", lower --top, or group by fewer columns",
            ],
        }
        .into())
    }

    /// Strict order of kept records: by key, ties by input order.
    fn cmp(&self, a: &Entry, b: &Entry) -> Ordering {
        self.keys.cmp(&a.keys, &a.bytes, &b.keys, &b.bytes).then(a.pos.cmp(&b.pos))
    }

    /// Sorts `group` and keeps its best `k`. (A stable sort merges the
    /// sorted runs that merged partials leave; the order is total anyway.)
    /// Returns the bytes the dropped entries held.
    fn compact(&self, group: &mut Group) -> u64 {
        group.entries.sort_by(|a, b| self.cmp(a, b));
        let freed = group.entries.get(self.k..).map_or(0, |cut| cut.iter().map(Entry::size).sum());
        group.entries.truncate(self.k);
        group.full = group.entries.len() == self.k;
        freed
    }
}

impl Reducer for TopK {
    type Partial = TopPartial;

    fn empty(&self) -> TopPartial {
        TopPartial::default()
    }

    fn fold(&self, partial: &mut TopPartial, record: &Record<'_>) -> Result<()> {
        let TopPartial {
            groups,
            records,
            bytes: held,
            scratch_group,
            scratch_keys,
            scratch_arena,
            ..
        } = partial;
        scratch_group.clear();
        for c in &self.group_by {
            encode_key_part(scratch_group, record.get(c), &self.null_markers);
        }
        scratch_keys.clear();
        scratch_arena.clear();
        self.keys.extract(record, scratch_keys, scratch_arena)?;
        let pos = *records;
        *records += 1;
        let group = match groups.get_mut(scratch_group.as_slice()) {
            Some(group) => group,
            None => {
                *held += group_size(scratch_group);
                groups.entry_ref(scratch_group.as_slice()).or_default()
            }
        };
        if group.full {
            let worst = &group.entries[self.k - 1];
            if self.keys.cmp(scratch_keys, scratch_arena, &worst.keys, &worst.bytes)
                != Ordering::Less
            {
                // Not kept (a tie is later in input order): only check it.
                return self.encoder.check(record);
            }
        }
        let mut bytes = Vec::with_capacity(scratch_arena.len() + 128);
        bytes.extend_from_slice(scratch_arena);
        let record_start = bytes.len();
        self.encoder.record(record, &mut bytes)?;
        let entry = Entry {
            pos,
            keys: scratch_keys.as_slice().into(),
            bytes: bytes.into_boxed_slice(),
            record_start,
        };
        *held += entry.size();
        group.entries.push(entry);
        if group.entries.len() >= self.k.saturating_mul(2) {
            *held -= self.compact(group);
        }
        Ok(())
    }

    fn seal(&self, partial: &mut TopPartial) -> Result<()> {
        for group in partial.groups.values_mut() {
            partial.bytes -= self.compact(group);
        }
        Ok(())
    }

    fn merge(&self, total: &mut TopPartial, next: TopPartial) -> Result<()> {
        let offset = total.records;
        total.records += next.records;
        total.bytes += next.bytes;
        for (key, mut group) in next.groups {
            for e in &mut group.entries {
                e.pos += offset;
            }
            match total.groups.get_mut(&key) {
                None => {
                    total.groups.insert(key, group);
                }
                Some(mine) => {
                    total.bytes -= group_size(&key);
                    mine.entries.append(&mut group.entries);
                    if mine.entries.len() >= self.k.saturating_mul(2) {
                        total.bytes -= self.compact(mine);
                    }
                }
            }
        }
        self.check_limit(total)
    }

    fn start(&self, sink: &mut Sink<'_>) -> Result<()> {
        let mut header = Vec::new();
        self.encoder.layout_header(&mut header);
        sink.write(&header, 0)
    }

    fn finalize(&self, total: &mut TopPartial) -> Result<()> {
        for group in total.groups.values_mut() {
            total.bytes -= self.compact(group);
        }
        let keys: Vec<&[u8]> = total.groups.keys().map(Vec::as_slice).collect();
        total.order = Some(output_order(keys.len(), |i| keys[i]));
        Ok(())
    }

    fn finish(&self, mut total: TopPartial, sink: &mut Sink<'_>) -> Result<()> {
        if total.order.is_none() {
            self.finalize(&mut total)?;
        }
        let order = total.order.take().unwrap_or_default();
        let groups: Vec<&Group> = total.groups.values().collect();
        let mut buf = Vec::with_capacity(1 << 16);
        let mut pending = 0;
        for group in order.into_iter().map(|i| groups[i as usize]) {
            for e in &group.entries {
                buf.extend_from_slice(e.record());
                pending += 1;
                if buf.len() >= 1 << 16 {
                    sink.write(&buf, pending)?;
                    buf.clear();
                    pending = 0;
                }
            }
        }
        sink.write(&buf, pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Format;
    use crate::record::Source;
    use crate::transform::{Layout, Projection};

    /// A top-`k` by `v:n` (descending when `desc`) over CSV `g,v`, grouped
    /// by `g` when `grouped`.
    fn reducer(k: usize, desc: bool, grouped: bool) -> TopK {
        let names = vec!["g".to_string(), "v".to_string()];
        let layout = Layout::new(&Projection::default(), &names, false, false).unwrap();
        let encoder = Encoder::new(Format::Csv, b',', layout, Vec::new());
        let col = |name: &str, i| ColumnRef { name: name.into(), source: Source::Index(i) };
        let spec = SortKeySpec { column: "v".into(), numeric: true, descending: desc };
        let group = if grouped { vec![col("g", 0)] } else { Vec::new() };
        TopK::new(k, vec![(col("v", 1), spec)], group, encoder, Vec::new())
    }

    /// A CSV record of `bytes` cut at `spans`, at `line` of input `t`.
    fn csv_record<'a>(bytes: &'a [u8], spans: &'a [(usize, usize)], line: u64) -> Record<'a> {
        Record {
            fields: crate::record::Fields::Csv { bytes, spans, raw_line: None },
            input: "t",
            line: crate::record::LineAt::Known(line),
            raw: b"",
            offset: 0,
            index: 0,
            chunk: 0,
        }
    }

    /// Runs `r` over `chunks` of CSV rows (`g,v`), sealing each chunk and
    /// merging in order; returns the output.
    fn run(r: &TopK, chunks: &[&[(&str, &str)]]) -> String {
        let mut total = r.empty();
        for chunk in chunks {
            let mut p = r.empty();
            for (line, (g, v)) in chunk.iter().enumerate() {
                let text = format!("{g},{v}");
                let bytes = text.as_bytes();
                let spans = [(0, g.len()), (g.len() + 1, bytes.len())];
                r.fold(&mut p, &csv_record(bytes, &spans, line as u64 + 2)).unwrap();
            }
            r.seal(&mut p).unwrap();
            r.merge(&mut total, p).unwrap();
        }
        let mut out = Vec::new();
        let mut sink = Sink::new(&mut out, "mem");
        r.start(&mut sink).unwrap();
        r.finish(total, &mut sink).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn keeps_the_best_k_with_ties_in_input_order() {
        let rows: &[(&str, &str)] =
            &[("a", "3"), ("b", "5"), ("c", "3"), ("d", ""), ("e", "5"), ("f", "1"), ("g", "3")];
        let r = reducer(3, true, false);
        let want = "g,v\nb,5\ne,5\na,3\n";
        assert_eq!(run(&r, &[rows]), want);
        // Every cut into chunks gives the same.
        for cut in 0..=rows.len() {
            assert_eq!(run(&r, &[&rows[..cut], &rows[cut..]]), want, "cut at {cut}");
        }
        let singles: Vec<&[(&str, &str)]> = rows.chunks(1).collect();
        assert_eq!(run(&r, &singles), want);
        // Ascending: 1, then the three 3s in input order (a, c, g); missing
        // last.
        assert_eq!(run(&reducer(4, false, false), &singles), "g,v\nf,1\na,3\nc,3\ng,3\n");
        assert_eq!(run(&reducer(100, false, false), &[rows]).lines().last(), Some("d,"));
    }

    #[test]
    fn keeps_k_per_group_in_group_order() {
        let rows: &[(&str, &str)] = &[
            ("y", "1"),
            ("10", "4"),
            ("y", "7"),
            ("9", "2"),
            ("", "5"),
            ("y", "3"),
            ("10", "8"),
            ("y", "7"),
        ];
        let r = reducer(2, true, true);
        let want = "g,v\n9,2\n10,8\n10,4\ny,7\ny,7\n,5\n";
        assert_eq!(run(&r, &[rows]), want);
        let singles: Vec<&[(&str, &str)]> = rows.chunks(1).collect();
        assert_eq!(run(&r, &singles), want);
    }

    #[test]
    fn a_full_group_drops_records_that_cannot_enter() {
        let r = reducer(2, false, false);
        let mut p = r.empty();
        let rows = ["5", "4", "3", "2", "9", "9", "1"];
        for (i, v) in rows.iter().enumerate() {
            let text = format!("x,{v}");
            let spans = [(0, 1), (2, text.len())];
            r.fold(&mut p, &csv_record(text.as_bytes(), &spans, i as u64 + 2)).unwrap();
            let kept = p.groups.values().map(|g| g.entries.len()).sum::<usize>();
            assert!(kept < 4, "at most 2k - 1 records between compactions");
        }
        r.seal(&mut p).unwrap();
        let kept: Vec<&[u8]> =
            p.groups.values().flat_map(|g| &g.entries).map(|e| e.record()).collect();
        assert_eq!(kept, [&b"x,1\n"[..], &b"x,2\n"[..]]);
        assert_eq!(p.records, 7);
    }
}
