//! Byte searches for the short fields and strings of CSV and NDJSON
//! records, where a call to `memchr` costs more than the search itself.
//!
//! On x86-64 the CSV search looks at sixteen bytes at a time with SSE2,
//! which every x86-64 processor has (no runtime detection needed). The
//! JSON string search, the CSV search elsewhere, and both on the last bytes
//! of a buffer look at eight bytes at a time in a `u64` ("SIMD within a
//! register"; for JSON strings, mostly shorter than sixteen bytes, this
//! took fewer instructions than SSE2), with the test "Determine if a word has
//! a byte equal to n" from Sean Eron Anderson's *Bit Twiddling Hacks*:
//! `(y - 0x01…01) & !y & 0x80…80` with `y = x ^ n×0x01…01`. A lane above a
//! true hit may be set falsely (by the borrow), never one below, so the
//! lowest set lane is always the first hit.

/// The index of the first `delimiter`, `"` or `\n` in `b` at or after `i`.
#[inline]
pub(crate) fn find_csv_special(b: &[u8], i: usize, delimiter: u8) -> Option<usize> {
    let is_hit = |c: u8| c == delimiter || c == b'"' || c == b'\n';
    #[cfg(target_arch = "x86_64")]
    let i = match sse2::find(b, i, sse2::csv_special(delimiter)) {
        Ok(hit) => return Some(hit),
        Err(rest) => rest,
    };
    let (d, q, n) = (splat(delimiter), splat(b'"'), splat(b'\n'));
    find(b, i, |x| equal(x, d) | equal(x, q) | equal(x, n), is_hit)
}

/// The index of the first `"`, `\` or control character (below 0x20) in
/// `b` at or after `i`: where a JSON string ends or needs a closer look.
#[inline]
pub(crate) fn find_json_special(b: &[u8], i: usize) -> Option<usize> {
    let is_hit = |c: u8| c == b'"' || c == b'\\' || c < 0x20;
    let (q, s) = (splat(b'"'), splat(b'\\'));
    find(b, i, |x| below(x, 0x20) | equal(x, q) | equal(x, s), is_hit)
}

/// The index of the first byte in `b` at or after `i` that [`find_json_special`]
/// finds or that is not ASCII: where text stops being printable ASCII
/// without a `"` or `\`.
#[inline]
pub(crate) fn find_json_special_or_non_ascii(b: &[u8], i: usize) -> Option<usize> {
    let is_hit = |c: u8| c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c);
    let (q, s) = (splat(b'"'), splat(b'\\'));
    find(b, i, |x| below(x, 0x20) | equal(x, q) | equal(x, s) | (x & HIGHS), is_hit)
}

/// `byte` in every lane.
#[inline]
const fn splat(byte: u8) -> u64 {
    u64::from_ne_bytes([byte; 8])
}

const ONES: u64 = splat(0x01);
const HIGHS: u64 = splat(0x80);

/// The high bit of every lane of `x` (little-endian lanes) that holds the
/// byte splatted in `pattern`, and possibly of lanes above such a lane.
#[inline]
fn equal(x: u64, pattern: u64) -> u64 {
    let y = x ^ pattern;
    y.wrapping_sub(ONES) & !y & HIGHS
}

/// The high bit of every lane of `x` that is below `n` (`n` ≤ 0x80), and
/// possibly of lanes above such a lane.
#[inline]
fn below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(splat(n)) & !x & HIGHS
}

/// The index of the first byte of `b` at or after `i` for which `hits` (a
/// function of an eight-byte little-endian word) sets a lane, or `None`;
/// `is_hit` says the same of one byte, for the tail shorter than a word.
#[inline]
fn find(
    b: &[u8],
    mut i: usize,
    hits: impl Fn(u64) -> u64,
    is_hit: impl Fn(u8) -> bool,
) -> Option<usize> {
    while let Some(word) = b.get(i..i + 8) {
        let mut lanes = [0u8; 8];
        lanes.copy_from_slice(word);
        let h = hits(u64::from_le_bytes(lanes));
        if h != 0 {
            return Some(i + (h.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b.get(i..)?.iter().position(|&c| is_hit(c)).map(|p| i + p)
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };

    /// Searches `b` from `i` sixteen bytes at a time for a lane that `hits`
    /// marks (its result's movemask). `Ok` with the first hit's index, or
    /// `Err` with where the unsearched tail (under sixteen bytes) starts.
    #[inline]
    pub(super) fn find(
        b: &[u8],
        mut i: usize,
        hits: impl Fn(__m128i) -> __m128i,
    ) -> Result<usize, usize> {
        while let Some(block) = b.get(i..i + 16) {
            // SAFETY: `block` is sixteen readable bytes; the load has no
            // alignment requirement; SSE2 is part of x86-64.
            let mask = unsafe {
                _mm_movemask_epi8(hits(_mm_loadu_si128(block.as_ptr().cast::<__m128i>())))
            };
            if mask != 0 {
                return Ok(i + mask.trailing_zeros() as usize);
            }
            i += 16;
        }
        Err(i)
    }

    /// Lanes holding `delimiter`, `"` or `\n`.
    #[inline]
    pub(super) fn csv_special(delimiter: u8) -> impl Fn(__m128i) -> __m128i {
        // SAFETY (this and the closure): SSE2 is part of x86-64.
        let (d, q, n) = unsafe {
            (_mm_set1_epi8(delimiter as i8), _mm_set1_epi8(b'"' as i8), _mm_set1_epi8(b'\n' as i8))
        };
        move |x| unsafe {
            _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(x, d), _mm_cmpeq_epi8(x, q)),
                _mm_cmpeq_epi8(x, n),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both searches, on every path (SSE2 blocks, words, the tail), from
    /// every start, against a byte-by-byte search.
    #[test]
    fn finds_the_first_hit_from_every_start() {
        let text: Vec<u8> =
            b"ab,cdefgh\"ijk\xe9\xff\x80lmnop\n,\x01qrstuvwxyz;0123456789\\\x1f\x20end".repeat(3);
        for delimiter in [b',', b';', b'\t'] {
            let hit = |c: u8| c == delimiter || c == b'"' || c == b'\n';
            for start in 0..=text.len() {
                let want = text[start..].iter().position(|&c| hit(c)).map(|p| start + p);
                assert_eq!(find_csv_special(&text, start, delimiter), want, "from {start}");
            }
        }
        let hit = |c: u8| c == b'"' || c == b'\\' || c < 0x20;
        for start in 0..=text.len() {
            let want = text[start..].iter().position(|&c| hit(c)).map(|p| start + p);
            assert_eq!(find_json_special(&text, start), want, "from {start}");
        }
        let hit = |c: u8| c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c);
        for start in 0..=text.len() {
            let want = text[start..].iter().position(|&c| hit(c)).map(|p| start + p);
            assert_eq!(find_json_special_or_non_ascii(&text, start), want, "from {start}");
        }
        assert_eq!(find_csv_special(&text, text.len() + 1, b','), None);
        assert_eq!(find_json_special(&text, text.len() + 1), None);
    }

    /// Bytes above 0x7f never count as control characters or quotes.
    #[test]
    fn high_bytes_are_text() {
        let text: Vec<u8> = (0x80..=0xff).chain([b'"']).collect();
        assert_eq!(find_json_special(&text, 0), Some(text.len() - 1));
        assert_eq!(find_csv_special(&text, 0, b','), Some(text.len() - 1));
    }
}
