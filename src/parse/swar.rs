//! Byte searches eight bytes at a time in a `u64` ("SIMD within a
//! register"), for the short fields and strings of CSV and NDJSON records,
//! where a call to `memchr` costs more than the search.
//!
//! The test for a byte equal to `n` in every lane at once is "Determine if
//! a word has a byte equal to n" from Sean Eron Anderson's *Bit Twiddling
//! Hacks*: `(y - 0x01…01) & !y & 0x80…80` with `y = x ^ n×0x01…01`. A lane
//! above a true hit may be set falsely (by the borrow), never one below, so
//! the lowest set lane is always the first hit.

/// `byte` in every lane.
#[inline]
pub(crate) const fn splat(byte: u8) -> u64 {
    u64::from_ne_bytes([byte; 8])
}

const ONES: u64 = splat(0x01);
const HIGHS: u64 = splat(0x80);

/// The high bit of every lane of `x` (little-endian lanes) that holds the
/// byte splatted in `pattern`, and possibly of lanes above such a lane.
#[inline]
pub(crate) fn equal(x: u64, pattern: u64) -> u64 {
    let y = x ^ pattern;
    y.wrapping_sub(ONES) & !y & HIGHS
}

/// The high bit of every lane of `x` that is below `n` (`n` ≤ 0x80), and
/// possibly of lanes above such a lane.
#[inline]
pub(crate) fn below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(splat(n)) & !x & HIGHS
}

/// The index of the first byte of `b` at or after `i` for which `hits`
/// (a function of an eight-byte little-endian word, such as an OR of
/// [`equal`] and [`below`] masks) sets a lane, or `None`. `is_hit` tells
/// the same for a single byte, for the tail shorter than a word.
#[inline]
pub(crate) fn find(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_hit_from_every_start() {
        let text = b"ab,cdefgh\"ijk\xe9\xff\x80lmnop\n,\x01qrstuvwxyz";
        let hit = |c: u8| c == b',' || c == b'"' || c == b'\n' || c < 0x10;
        let hits = |x: u64| {
            equal(x, splat(b',')) | equal(x, splat(b'"')) | equal(x, splat(b'\n')) | below(x, 0x10)
        };
        for start in 0..=text.len() {
            let want = text[start..].iter().position(|&c| hit(c)).map(|p| start + p);
            assert_eq!(find(text, start, hits, hit), want, "from {start}");
        }
        assert_eq!(find(text, text.len() + 1, hits, hit), None);
    }
}
