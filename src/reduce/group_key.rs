//! Group keys: a record's `--group-by` values encoded as one byte string
//! (the key of a group's entry in a hash map), and the order in which
//! groups are written. Shared by the group-by and top-k reducers.
//!
//! Encoding: per key column a tag byte (missing, CSV text, JSON string,
//! other JSON literal), a 4-byte little-endian length and the text (a JSON
//! string's unescaped text, another literal's raw text). Injective; the
//! output order is computed at the end, on the decoded parts.
//!
//! Order ([`output_order`]): column by column, numbers first, in numeric
//! order; then text, by bytes (UTF-8 code point order); missing keys
//! (empty, null, absent, `--null` markers) last.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::record::Field;
use crate::sink::encode::RowValue;
use crate::syntax::number::parse_number;

const TAG_MISSING: u8 = 0;
const TAG_TEXT: u8 = 1;
const TAG_JSON_STRING: u8 = 2;
const TAG_JSON_OTHER: u8 = 3;

/// Appends `field` to an encoded group key (see the module docs).
#[inline(always)]
pub(crate) fn encode_key_part(out: &mut Vec<u8>, field: Field<'_>, null_markers: &[Vec<u8>]) {
    let (tag, text) = match field {
        _ if field.is_missing(null_markers) => (TAG_MISSING, None),
        Field::Absent | Field::Null => (TAG_MISSING, None),
        Field::Text(t) => (TAG_TEXT, Some(Cow::Borrowed(t))),
        Field::JsonString(_) => (TAG_JSON_STRING, field.text()),
        Field::JsonOther(t) => (TAG_JSON_OTHER, Some(Cow::Borrowed(t))),
    };
    out.push(tag);
    let text = text.unwrap_or_default();
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(&text);
}

/// The (tag, text) parts of an encoded group key, in order.
pub(crate) fn key_parts(mut key: &[u8]) -> impl Iterator<Item = (u8, &[u8])> + Clone {
    std::iter::from_fn(move || {
        if key.len() < 5 {
            return None;
        }
        let tag = key[0];
        let len = u32::from_le_bytes([key[1], key[2], key[3], key[4]]) as usize;
        let part = (tag, &key[5..5 + len]);
        key = &key[5 + len..];
        Some(part)
    })
}

/// Whether `key` is an encoded group key of `columns` columns (a key
/// read back from a partial line is checked before it is used).
pub(crate) fn is_key(mut key: &[u8], columns: usize) -> bool {
    for _ in 0..columns {
        let Some(&[tag, a, b, c, d]) = key.get(..5) else { return false };
        let len = u32::from_le_bytes([a, b, c, d]) as usize;
        if tag > TAG_JSON_OTHER || key.len() - 5 < len || (tag == TAG_MISSING && len > 0) {
            return false;
        }
        key = &key[5 + len..];
    }
    key.is_empty()
}

/// A decoded key part as a value of an output row, written back as it
/// was read (a JSON string as a string, another JSON literal as it was).
pub(crate) fn part_value(tag: u8, text: &[u8]) -> RowValue<'_> {
    match tag {
        TAG_TEXT => RowValue::Field(Field::Text(text)),
        TAG_JSON_STRING => RowValue::String(text),
        TAG_JSON_OTHER => RowValue::Field(Field::JsonOther(text)),
        _ => RowValue::Field(Field::Null),
    }
}

/// Sort class of a key part: numbers, then text, then missing.
#[derive(Debug, PartialEq, PartialOrd)]
enum KeyOrder<'a> {
    Num(f64, &'a [u8]),
    Text(&'a [u8]),
    Missing,
}

fn key_order(tag: u8, text: &[u8]) -> KeyOrder<'_> {
    if tag == TAG_MISSING {
        return KeyOrder::Missing;
    }
    if tag != TAG_JSON_STRING {
        if let Some(v) = small_integer(text) {
            return KeyOrder::Num(v, text);
        }
        if let Some(n) = parse_number(text) {
            return KeyOrder::Num(n.to_f64(), text);
        }
    }
    KeyOrder::Text(text)
}

/// The value of `text` when it is 1 to 15 ASCII digits (ids, counts,
/// years: the common numeric key), exact as an `f64` (below 2^53): what
/// [`parse_number`] then `to_f64` give, without the general parser.
#[inline]
fn small_integer(text: &[u8]) -> Option<f64> {
    if text.is_empty() || text.len() > 15 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = text.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
    Some(n as f64)
}

#[cfg(test)]
fn cmp_key_order(a: &KeyOrder<'_>, b: &KeyOrder<'_>) -> Ordering {
    match (a, b) {
        (KeyOrder::Num(x, s), KeyOrder::Num(y, t)) => x.total_cmp(y).then_with(|| s.cmp(t)),
        (KeyOrder::Num(..), _) => Ordering::Less,
        (_, KeyOrder::Num(..)) => Ordering::Greater,
        (KeyOrder::Text(s), KeyOrder::Text(t)) => s.cmp(t),
        (KeyOrder::Text(_), KeyOrder::Missing) => Ordering::Less,
        (KeyOrder::Missing, KeyOrder::Text(_)) => Ordering::Greater,
        (KeyOrder::Missing, KeyOrder::Missing) => Ordering::Equal,
    }
}

/// Appends the sort key of the encoded group key `raw` to `out`: bytes
/// whose plain byte order is the output order (see the module docs), in
/// the memcomparable style (as in FoundationDB's tuple layer and
/// MyRocks' memcomparable format). Per key column: a class byte (`1` a
/// number, `2` text, `3` missing); for a number its `f64` mapped to an
/// unsigned big-endian integer in `total_cmp` order, then its text; for
/// text its bytes. Texts end with `00 00` and have each `00` byte written
/// `00 FF`, so a text sorts before any longer text it is a prefix of.
/// Last, one tag byte per column, so the same text read as a CSV field
/// and as a JSON string still get two keys, in one fixed order. Injective,
/// so equal sort keys mean equal group keys.
pub(crate) fn append_sort_key(out: &mut Vec<u8>, raw: &[u8]) {
    write_sort_key(out, raw);
}

/// Where [`write_sort_key`] puts a sort key's bytes: a whole key
/// (`Vec<u8>`), or only its first 8 bytes ([`Prefix`]).
trait SortKeyOut {
    /// Appends `bytes` (as much of them as is still wanted).
    fn put(&mut self, bytes: &[u8]);

    /// Whether no more bytes are wanted.
    fn full(&self) -> bool;
}

impl SortKeyOut for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }

    #[inline]
    fn full(&self) -> bool {
        false
    }
}

/// The first 8 bytes of a sort key (zeros past its end).
#[derive(Default)]
struct Prefix {
    bytes: [u8; 8],
    len: usize,
}

impl SortKeyOut for Prefix {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(8 - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    #[inline]
    fn full(&self) -> bool {
        self.len == 8
    }
}

/// Writes the sort key of `raw` (see [`append_sort_key`]) to `out`,
/// stopping as soon as `out` is [full](SortKeyOut::full).
#[inline]
fn write_sort_key(out: &mut impl SortKeyOut, raw: &[u8]) {
    let parts = key_parts(raw);
    for (tag, text) in parts.clone() {
        if out.full() {
            return;
        }
        match key_order(tag, text) {
            KeyOrder::Num(v, text) => {
                let bits = v.to_bits();
                let ordered = if bits >> 63 == 1 { !bits } else { bits | 1 << 63 };
                out.put(&[1]);
                out.put(&ordered.to_be_bytes());
                push_text(out, text);
            }
            KeyOrder::Text(text) => {
                out.put(&[2]);
                push_text(out, text);
            }
            KeyOrder::Missing => out.put(&[3]),
        }
    }
    for (tag, _) in parts {
        out.put(&[tag]);
    }
}

/// `text` with each `00` byte written `00 FF`, then `00 00` (stopping
/// once `out` is full).
#[inline]
fn push_text(out: &mut impl SortKeyOut, mut text: &[u8]) {
    while !out.full() {
        match memchr::memchr(0, text) {
            Some(i) => {
                out.put(&text[..i]);
                out.put(&[0, 0xFF]);
                text = &text[i + 1..];
            }
            None => {
                out.put(text);
                out.put(&[0, 0]);
                return;
            }
        }
    }
}

/// The first 8 bytes of the sort key of the encoded group key `raw` (see
/// [`append_sort_key`]) as a big-endian integer (zeros past its end),
/// made without the rest of the key: integer order is the keys' byte
/// order wherever two prefixes differ.
#[inline]
fn sort_prefix(raw: &[u8]) -> u64 {
    let mut prefix = Prefix::default();
    write_sort_key(&mut prefix, raw);
    u64::from_be_bytes(prefix.bytes)
}

/// A group's sort-key prefix ([`sort_prefix`]) and its index, radix
/// sorted by the prefix.
#[derive(Debug, Clone, Copy)]
struct Prefixed {
    prefix: u64,
    index: u32,
}

impl rdst::RadixKey for Prefixed {
    const LEVELS: usize = 8;

    /// The prefix's bytes, as `rdst` reads a `u64`'s.
    #[inline]
    fn get_level(&self, level: usize) -> u8 {
        (self.prefix >> (level * 8)) as u8
    }
}

/// The order of two encoded keys by their sort keys, made in two
/// thread-local buffers.
fn cmp_sort_keys(a: &[u8], b: &[u8]) -> Ordering {
    thread_local! {
        static SCRATCH: std::cell::RefCell<(Vec<u8>, Vec<u8>)> = const {
            std::cell::RefCell::new((Vec::new(), Vec::new()))
        };
    }
    SCRATCH.with(|s| {
        let (x, y) = &mut *s.borrow_mut();
        x.clear();
        y.clear();
        append_sort_key(x, a);
        append_sort_key(y, b);
        x.as_slice().cmp(y.as_slice())
    })
}

/// The output order of `n` groups whose encoded keys `key(i)` gives: their
/// indices, sorted by sort key ([`append_sort_key`]); equal keys (the same
/// group in two partials) end up next to each other, in no fixed order.
///
/// Each key's sort key is made once and its first 8 bytes kept as an
/// integer beside the group's index (the normalized-key prefix of DuckDB's
/// sort and of AlphaSort, Nyberg et al., SIGMOD 1994). Then one of two
/// ways, chosen by a scan of the prefixes in group order:
///
/// - **Merge.** When the groups form at most [`MERGED_RUNS`] runs of
///   strictly rising prefixes (a worker's groups arrive in input order, so
///   an input sorted by its key, such as ids or timestamps, gives one run
///   per worker table), the runs are merged, the output cut into ranges
///   at pivots taken from the longest run and each range merged on its own
///   thread (the partitioned merge of parallel sample sorts). Equal
///   prefixes in two runs are ordered by their whole sort keys.
/// - **Radix sort.** Otherwise the array is radix sorted by the prefixes
///   (`rdst`'s parallel unstable radix sort, as DuckDB radix sorts its
///   normalized keys: 10M numeric keys 5% faster end to end than a
///   comparison sort), and only runs of keys with the same prefix are then
///   sorted by comparison, with their whole sort keys made again.
///
/// (Decorating each key once matters: at 300k numeric keys the parses
/// inside the comparisons were half of a group-by's instructions; keeping
/// every whole sort key instead cost 28 bytes a group at 10M groups, and
/// the sort chased pointers.) Made and sorted with rayon, on its current
/// pool, so a caller inside the run's worker pool
/// ([`Reducer::finalize`](crate::Reducer::finalize)) sorts on the run's
/// threads.
///
/// # Panics
/// When `n` is over `u32::MAX`, or a key is not an encoded key of this
/// module.
pub(crate) fn output_order<'k>(n: usize, key: impl Fn(usize) -> &'k [u8] + Sync) -> Vec<u32> {
    use rayon::prelude::*;
    assert!(u32::try_from(n).is_ok(), "more than u32::MAX groups");
    let mut entries: Vec<Prefixed> = (0..n as u32)
        .into_par_iter()
        .map(|index| Prefixed { prefix: sort_prefix(key(index as usize)), index })
        .collect();
    let cmp = |a: &Prefixed, b: &Prefixed| {
        a.prefix
            .cmp(&b.prefix)
            .then_with(|| cmp_sort_keys(key(a.index as usize), key(b.index as usize)))
    };
    if let Some(starts) = rising_runs(&entries, MERGED_RUNS) {
        return merge_rising_runs(&entries, &starts, cmp);
    }
    rdst::RadixSort::radix_sort_unstable(&mut entries);
    entries.par_chunk_by_mut(|a, b| a.prefix == b.prefix).for_each(|run| {
        if run.len() > 1 {
            run.sort_unstable_by(cmp);
        }
    });
    entries.into_par_iter().map(|e| e.index).collect()
}

/// Runs of rising prefixes up to which [`output_order`] merges instead of
/// sorting (a few per worker table).
const MERGED_RUNS: usize = 64;

/// Where each run of strictly rising prefixes of `entries` starts (the
/// first at 0), when there are at most `max` runs; `None` past that (or
/// when `entries` is empty).
fn rising_runs(entries: &[Prefixed], max: usize) -> Option<Vec<usize>> {
    use rayon::prelude::*;
    let falls = |i: &usize| entries[i - 1].prefix >= entries[*i].prefix;
    let breaks = (1..entries.len()).into_par_iter().with_min_len(1 << 14).filter(falls).count();
    if entries.is_empty() || breaks + 1 > max {
        return None;
    }
    Some(std::iter::once(0).chain((1..entries.len()).filter(falls)).collect())
}

/// The indices of `entries`, whose runs from `starts` on (see
/// [`rising_runs`]) each rise by `cmp`, merged in `cmp` order. The output
/// is cut into ranges at pivots taken evenly from the longest run (every
/// run split where the pivot would go in it, so equal entries of several
/// runs fall in one range), and the ranges are merged on rayon's threads.
fn merge_rising_runs(
    entries: &[Prefixed],
    starts: &[usize],
    cmp: impl Fn(&Prefixed, &Prefixed) -> Ordering + Sync,
) -> Vec<u32> {
    use rayon::prelude::*;
    let runs: Vec<&[Prefixed]> = starts
        .iter()
        .zip(starts[1..].iter().chain([&entries.len()]))
        .map(|(&s, &e)| &entries[s..e])
        .collect();
    // Ranges: a few per thread, none below 64k entries.
    let ranges = (rayon::current_num_threads() * 4).min(entries.len() >> 16).max(1);
    let longest = runs.iter().copied().max_by_key(|r| r.len()).unwrap_or_default();
    let pivots: Vec<&Prefixed> =
        (1..ranges).map(|j| &longest[longest.len() * j / ranges]).collect();
    // Per run: where each range starts in it, and its end.
    let cuts: Vec<Vec<usize>> = runs
        .iter()
        .map(|run| {
            let inner = pivots.iter().map(|p| run.partition_point(|e| cmp(e, p).is_lt()));
            std::iter::once(0).chain(inner).chain([run.len()]).collect()
        })
        .collect();
    let mut order = vec![0u32; entries.len()];
    let mut outs = Vec::with_capacity(ranges);
    let mut rest = order.as_mut_slice();
    for j in 0..ranges {
        let len = cuts.iter().map(|c| c[j + 1] - c[j]).sum();
        let (out, tail) = rest.split_at_mut(len);
        outs.push((j, out));
        rest = tail;
    }
    outs.into_par_iter().for_each(|(j, out)| {
        let mut heads: Vec<&[Prefixed]> = runs
            .iter()
            .zip(&cuts)
            .map(|(run, c)| &run[c[j]..c[j + 1]])
            .filter(|part| !part.is_empty())
            .collect();
        for slot in out.iter_mut() {
            // The run whose head comes first (`heads` is never empty
            // here: the range holds as many entries as `out`).
            let mut best = 0;
            for h in 1..heads.len() {
                if cmp(&heads[h][0], &heads[best][0]).is_lt() {
                    best = h;
                }
            }
            *slot = heads[best][0].index;
            heads[best] = &heads[best][1..];
            if heads[best].is_empty() {
                heads.swap_remove(best);
            }
        }
    });
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(parts: &[(u8, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (tag, text) in parts {
            out.push(*tag);
            out.extend_from_slice(&(text.len() as u32).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        out
    }

    #[test]
    fn output_order_sorts_by_column_then_class_and_breaks_ties_by_bytes() {
        let keys = [
            key(&[(TAG_TEXT, "b"), (TAG_TEXT, "2")]),
            key(&[(TAG_TEXT, "10"), (TAG_MISSING, "")]),
            key(&[(TAG_TEXT, "b"), (TAG_TEXT, "10")]),
            key(&[(TAG_JSON_STRING, "a"), (TAG_TEXT, "x")]),
            key(&[(TAG_TEXT, "9"), (TAG_TEXT, "z")]),
            key(&[(TAG_TEXT, "a"), (TAG_TEXT, "x")]),
            key(&[(TAG_MISSING, ""), (TAG_TEXT, "x")]),
            key(&[(TAG_TEXT, "b"), (TAG_TEXT, "x")]),
        ];
        // 9 < 10 (numbers), then "a" (the CSV text before the JSON string
        // of the same text: tag 1 < tag 2), "b" by its second column
        // (2 < 10 < x), missing last.
        assert_eq!(output_order(keys.len(), |i| &keys[i]), [4, 1, 5, 3, 0, 2, 7, 6]);
        // The same order from any order of the keys.
        let back: Vec<u32> =
            output_order(keys.len(), |i| &keys[7 - i]).iter().map(|&i| 7 - i).collect();
        assert_eq!(back, [4, 1, 5, 3, 0, 2, 7, 6]);
        assert!(output_order(0, |i| &keys[i]).is_empty());
    }

    /// Keys in a few rising runs (merged) and the same keys shuffled
    /// (radix sorted) come out in sort-key order, with equal keys and
    /// equal prefixes in several runs, across several merge ranges.
    #[test]
    fn merged_runs_and_radix_sort_give_the_sort_key_order() {
        // Run r holds numbers rising by 3 from r (so runs overlap and
        // share keys: 3 in runs 0 and 3), texts with a long shared
        // beginning (equal prefixes across runs), and the missing key.
        let mut keys = Vec::new();
        for r in 0..4u64 {
            keys.extend((0..40_000u64).map(|i| key(&[(TAG_TEXT, &(r + 3 * i).to_string())])));
            keys.extend((0..1_000u64).map(|i| key(&[(TAG_TEXT, &format!("{i:06}.x{r}"))])));
            keys.push(key(&[(TAG_MISSING, "")]));
        }
        let sorted_keys = |order: &[u32], keys: &[Vec<u8>]| -> Vec<Vec<u8>> {
            order
                .iter()
                .map(|&i| {
                    let mut k = Vec::new();
                    append_sort_key(&mut k, &keys[i as usize]);
                    k
                })
                .collect()
        };
        let mut want: Vec<Vec<u8>> =
            sorted_keys(&(0..keys.len() as u32).collect::<Vec<_>>(), &keys);
        want.sort();
        let runs = rising_runs(&sorted_prefixes(&keys), MERGED_RUNS).unwrap();
        assert_eq!(runs.len(), 4);
        let merged = output_order(keys.len(), |i| &keys[i]);
        assert_eq!(sorted_keys(&merged, &keys), want);
        // Shuffled (a fixed permutation), the keys are radix sorted.
        let n = keys.len();
        let shuffled: Vec<Vec<u8>> = (0..n).map(|i| keys[i * 7919 % n].clone()).collect();
        assert!(rising_runs(&sorted_prefixes(&shuffled), MERGED_RUNS).is_none());
        let radix = output_order(n, |i| &shuffled[i]);
        assert_eq!(sorted_keys(&radix, &shuffled), want);
    }

    fn sorted_prefixes(keys: &[Vec<u8>]) -> Vec<Prefixed> {
        (0..keys.len() as u32)
            .map(|index| Prefixed { prefix: sort_prefix(&keys[index as usize]), index })
            .collect()
    }

    #[test]
    fn small_integers_have_the_value_the_number_parser_gives() {
        let texts = ["0", "7", "007", "10", "999999999999999", "123456789012345", "42"];
        for t in texts {
            let parsed = parse_number(t.as_bytes()).unwrap().to_f64();
            assert_eq!(small_integer(t.as_bytes()), Some(parsed), "{t}");
        }
        for i in (0..2_000_000u64).step_by(7) {
            let t = i.to_string();
            assert_eq!(small_integer(t.as_bytes()), Some(i as f64), "{t}");
        }
        // Left to the parser.
        for t in ["", "-1", "+1", "1.5", "1e3", "1234567890123456", " 1", "1a", "٣"] {
            assert_eq!(small_integer(t.as_bytes()), None, "{t}");
        }
    }

    /// Sort keys order as the decoded keys compare, for every pair of a
    /// set of awkward parts: prefixes, NUL bytes, negative zero, numbers
    /// that are equal but written differently, missing.
    #[test]
    fn sort_keys_order_as_the_parts_compare() {
        let texts =
            ["", "a", "a\0", "a\0b", "ab", "-0", "0", "0.0", "-1.5", "1e3", "999", "\u{ff}"];
        let mut parts = vec![(TAG_MISSING, String::new())];
        for t in texts {
            parts.extend([(TAG_TEXT, t.to_string()), (TAG_JSON_STRING, t.to_string())]);
        }
        for (ta, a) in &parts {
            for (tb, b) in &parts {
                let (ka, kb) =
                    (key(&[(*ta, a), (TAG_TEXT, "z")]), key(&[(*tb, b), (TAG_TEXT, "z")]));
                let (mut sa, mut sb) = (Vec::new(), Vec::new());
                append_sort_key(&mut sa, &ka);
                append_sort_key(&mut sb, &kb);
                let want =
                    cmp_key_order(&key_order(*ta, a.as_bytes()), &key_order(*tb, b.as_bytes()))
                        .then(ta.cmp(tb));
                assert_eq!(sa.cmp(&sb), want, "{ta}:{a:?} vs {tb}:{b:?}");
            }
        }
    }

    #[test]
    fn a_prefix_is_the_first_8_bytes_of_the_whole_sort_key() {
        let texts = ["", "a", "a\0", "\0\0\0\0\0\0\0\0", "a\0b", "abcdefghij", "-0", "1e3", "12"];
        let mut keys = vec![key(&[(TAG_MISSING, "")]), key(&[(TAG_MISSING, ""), (TAG_TEXT, "b")])];
        for t in texts {
            for tag in [TAG_TEXT, TAG_JSON_STRING, TAG_JSON_OTHER] {
                keys.push(key(&[(tag, t)]));
                keys.push(key(&[(tag, t), (TAG_TEXT, "7")]));
            }
        }
        for k in &keys {
            let mut whole = Vec::new();
            append_sort_key(&mut whole, k);
            whole.resize(whole.len().max(8), 0);
            let want = u64::from_be_bytes(whole[..8].try_into().unwrap());
            assert_eq!(sort_prefix(k), want, "{k:?}");
        }
    }

    #[test]
    fn keys_order_numbers_then_text_then_missing() {
        let mut v = [
            key_order(TAG_TEXT, b"b"),
            key_order(TAG_MISSING, b""),
            key_order(TAG_TEXT, b"10"),
            key_order(TAG_TEXT, b"9"),
            key_order(TAG_TEXT, b"a"),
        ];
        v.sort_by(cmp_key_order);
        assert_eq!(
            v,
            [
                KeyOrder::Num(9.0, b"9"),
                KeyOrder::Num(10.0, b"10"),
                KeyOrder::Text(b"a"),
                KeyOrder::Text(b"b"),
                KeyOrder::Missing
            ]
        );
    }
}
