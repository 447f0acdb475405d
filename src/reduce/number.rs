//! The exact sum used by `sum` and `mean`, over numbers read from text
//! (by the crate's one number grammar, `syntax::number`; re-exported here).
//!
//! Values arrive as text (`1.50`, `-2.5e3`, `9007199254740993`) and are
//! parsed as exact decimals, never through `f64`. Most have few digits, so
//! [`ExactSum`] adds them as scaled 128-bit integers; a value with more than
//! 38 significant digits or more than 18 decimals, and a running total that
//! leaves the 128-bit range, continue in an arbitrary-precision integer
//! (`num-bigint`). Either way the sum is exact, associative and commutative,
//! so it cannot depend on where chunks were cut or in which order partials
//! meet. The total is rounded to `f64` once, at the end (through the
//! standard library's correctly rounded decimal parser); a sum of integers
//! is printed as an exact integer.

use num_bigint::BigInt;
use num_rational::Ratio;
use num_traits::ToPrimitive;

use crate::syntax::number::{decimal_to_f64, pow10};
pub use crate::syntax::number::{format_f64, Number};

/// Longest integer sum printed exactly (digits and sign); longer ones are
/// printed as floats.
const MAX_INTEGER_DIGITS: usize = 41;

/// An exact, mergeable sum of [`Number`]s. See the module docs.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ExactSum {
    decimal: i128,
    scale: u32,
    /// The part that left the fast path: `digits × 10^exp`.
    wide: Option<(BigInt, i64)>,
    integer: bool,
}

impl Default for ExactSum {
    fn default() -> Self {
        ExactSum { decimal: 0, scale: 0, wide: None, integer: true }
    }
}

fn add_wide(acc: &mut Option<(BigInt, i64)>, (digits, exp): (BigInt, i64)) {
    *acc = Some(match acc.take() {
        None => (digits, exp),
        Some((d, e)) => {
            let m = e.min(exp);
            let scale = |x: BigInt, by: i64| x * BigInt::from(10u8).pow((by - m) as u32);
            (scale(d, e) + scale(digits, exp), m)
        }
    });
}

impl ExactSum {
    /// Adds one number.
    #[inline]
    pub fn add(&mut self, n: &Number) {
        self.integer &= n.is_integer();
        match n {
            Number::Decimal { mantissa, scale } => self.add_decimal(*mantissa, *scale),
            Number::Wide { .. } => add_wide(&mut self.wide, n.to_wide()),
        }
    }

    fn add_decimal(&mut self, mantissa: i128, scale: u32) {
        if scale == self.scale {
            // The common case: values of one column share their scale.
            if let Some(sum) = self.decimal.checked_add(mantissa) {
                self.decimal = sum;
                return;
            }
        }
        let s = self.scale.max(scale);
        let sum = (|| {
            let a = self.decimal.checked_mul(pow10(s - self.scale))?;
            let b = mantissa.checked_mul(pow10(s - scale))?;
            a.checked_add(b)
        })();
        match sum {
            Some(sum) => {
                self.decimal = sum;
                self.scale = s;
            }
            None => {
                // Leave the 128-bit range: continue exactly in a big integer.
                add_wide(&mut self.wide, (BigInt::from(mantissa), -i64::from(scale)));
            }
        }
    }

    /// Adds everything `other` holds.
    pub fn merge(&mut self, other: ExactSum) {
        self.integer &= other.integer;
        self.add_decimal(other.decimal, other.scale);
        if let Some(w) = other.wide {
            add_wide(&mut self.wide, w);
        }
    }

    /// The sum `decimal × 10^-scale`; `integer`: every value in it was
    /// written as an integer.
    pub(crate) fn from_decimal(decimal: i128, scale: u32, integer: bool) -> ExactSum {
        ExactSum { decimal, scale, wide: None, integer }
    }

    /// True when every value added was written as an integer, so the sum is
    /// an exact integer.
    pub fn is_integer(&self) -> bool {
        self.integer
    }

    /// The exact total as `digits × 10^exp`.
    fn total(&self) -> (BigInt, i64) {
        let mut acc = self.wide.clone();
        add_wide(&mut acc, (BigInt::from(self.decimal), -i64::from(self.scale)));
        acc.unwrap_or_default()
    }

    /// The sum rounded once to `f64` (infinite beyond its range).
    pub fn to_f64(&self) -> f64 {
        if self.wide.is_none() {
            return decimal_to_f64(self.decimal, self.scale);
        }
        let (d, e) = self.total();
        format!("{d}e{e}").parse().unwrap_or(f64::NAN)
    }

    /// Writes the sum: the exact integer when [`Self::is_integer`] and it
    /// has at most 40 digits, else the shortest round-trip form of
    /// [`Self::to_f64`]. Returns false, writing nothing, when that float
    /// is infinite.
    pub fn write(&self, out: &mut Vec<u8>) -> bool {
        if self.is_integer() {
            if self.wide.is_none() && self.scale == 0 {
                out.extend_from_slice(itoa::Buffer::new().format(self.decimal).as_bytes());
                return true;
            }
            let (d, e) = self.total();
            let text = (d * BigInt::from(10u8).pow(e.max(0) as u32)).to_string();
            if text.len() <= MAX_INTEGER_DIGITS {
                out.extend_from_slice(text.as_bytes());
                return true;
            }
        }
        if self.wide.is_none() && write_short_decimal(self.decimal, self.scale, out) {
            return true;
        }
        let v = self.to_f64();
        if !v.is_finite() {
            return false;
        }
        format_f64(v, out);
        true
    }
}

/// Writes `mantissa × 10^-scale` as [`format_f64`] writes the nearest
/// `f64` to it, without making the float, when that is the decimal itself
/// (trailing zeros dropped): when it has at most 15 significant digits
/// (then it is the shortest text that reads back as that float: distinct
/// decimals of 15 digits are distinct floats, IEEE 754's 15-digit
/// round-trip guarantee) and its magnitude is 0 or at least `1e-5` (where
/// `format_f64` writes plain digits). Returns false, writing nothing,
/// otherwise.
fn write_short_decimal(mantissa: i128, scale: u32, out: &mut Vec<u8>) -> bool {
    const MAX: u128 = 1_000_000_000_000_000; // 10^15
    let magnitude = mantissa.unsigned_abs();
    if magnitude >= MAX || scale > 30 {
        return false;
    }
    if magnitude != 0 && scale > 5 && magnitude < 10u128.pow(scale - 5) {
        return false;
    }
    // Below 10^15: u64 arithmetic.
    let (magnitude, pow) = (magnitude as u64, 10u64.pow(scale.min(19)));
    if scale > 19 && magnitude != 0 {
        return false;
    }
    let (int, mut frac) = (magnitude / pow, magnitude % pow);
    if mantissa < 0 && magnitude != 0 {
        out.push(b'-');
    }
    let mut digits = itoa::Buffer::new();
    out.extend_from_slice(digits.format(int).as_bytes());
    if frac != 0 {
        let mut width = scale as usize;
        while frac % 10 == 0 {
            frac /= 10;
            width -= 1;
        }
        let text = digits.format(frac);
        out.push(b'.');
        out.extend(std::iter::repeat_n(b'0', width - text.len()));
        out.extend_from_slice(text.as_bytes());
    }
    true
}

/// The variance of `n` values whose exact sum is `sum` and the exact sum
/// of whose squares is `squares`: the sample variance (divided by
/// `n − 1`) when `sample`, else the population variance (divided by
/// `n`). Computed exactly, as the rational `(n·Σx² − (Σx)²) / (n·d)`
/// (`d` the divisor), and rounded once to the nearest `f64`, ties to even
/// (`num-rational`'s `to_f64`, which divides big integers with a sticky
/// remainder), so the result is the correctly rounded value of the exact
/// variance, whatever order the values came in. `None` when there is no
/// divisor (`n` is 0, or 1 for the sample variance); infinite past the
/// `f64` range.
pub(crate) fn exact_variance(
    sum: &ExactSum,
    squares: &ExactSum,
    n: u64,
    sample: bool,
) -> Option<f64> {
    let divisor = if sample { n.checked_sub(1)? } else { n };
    if n == 0 || divisor == 0 {
        return None;
    }
    // Fast path: both sums at one 128-bit scale, and the numerator fits.
    if let (None, None) = (&sum.wide, &squares.wide) {
        let fast = (|| {
            // Σx = s × 10^-a, Σx² = q × 10^-b: bring (Σx)² (scale 2a) and
            // n·Σx² (scale b) to one scale c.
            let (s, a, q, b) = (sum.decimal, sum.scale, squares.decimal, squares.scale);
            let c = (2 * a).max(b);
            let nq = q.checked_mul(i128::from(n))?.checked_mul(pow10_checked(c - b)?)?;
            let ss = s.checked_mul(s)?.checked_mul(pow10_checked(c - 2 * a)?)?;
            let denom =
                i128::from(n).checked_mul(i128::from(divisor))?.checked_mul(pow10_checked(c)?)?;
            Ratio::new_raw(nq.checked_sub(ss)?, denom).to_f64()
        })();
        if fast.is_some() {
            return fast;
        }
    }
    let ((s, e), (q, f)) = (sum.total(), squares.total());
    // Σx = s × 10^e, Σx² = q × 10^f; numerator at 10^m, m the smaller.
    let m = (2 * e).min(f);
    let ten = |k: i64| BigInt::from(10u8).pow(k as u32);
    let n_big = BigInt::from(n);
    let numer = &n_big * q * ten(f - m) - &s * &s * ten(2 * e - m);
    let denom = n_big * BigInt::from(divisor);
    let ratio = if m >= 0 {
        Ratio::new_raw(numer * ten(m), denom)
    } else {
        Ratio::new_raw(numer, denom * ten(-m))
    };
    ratio.to_f64()
}

/// `10^k`, when it fits an `i128`.
fn pow10_checked(k: u32) -> Option<i128> {
    10i128.checked_pow(k)
}

/// The part of a sum that a group-by table holds per group, in 16 bytes:
/// an `i64` at one scale while the values fit (amounts with a few
/// decimals always do), and the scale, the integer flag, whether the sum
/// has a rest and the count of values packed in one word. What does not
/// fit the `i64` goes to the sum's rest, an [`ExactSum`] its owner keeps
/// elsewhere ([`SmallSum`] beside it; a group-by table in a map by state,
/// since almost no sum has one). The count saturates at 2^56 − 1 values
/// (over two years of a billion values a second).
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct PackedSum {
    value: i64,
    /// Bits 0–4: the decimals of `value` (0..=18), the most any value
    /// had; bit 5: some value was not written as an integer; bit 6: the
    /// sum has a rest; bits 8–63: how many values were added.
    meta: u64,
}

/// [`PackedSum::meta`]'s scale bits.
const SCALE_MASK: u64 = 0x1f;
/// [`PackedSum::meta`]'s flag: some value was not an integer.
const FRACTIONAL: u64 = 1 << 5;
/// [`PackedSum::meta`]'s flag: the sum has a rest.
const HAS_REST: u64 = 1 << 6;
/// Where [`PackedSum::meta`]'s count starts.
const COUNT_SHIFT: u32 = 8;
/// The most values a [`PackedSum`] counts.
const MAX_COUNT: u64 = u64::MAX >> COUNT_SHIFT;

impl PackedSum {
    /// Values added (saturating at 2^56 − 1).
    #[inline]
    pub(crate) fn count(&self) -> u64 {
        self.meta >> COUNT_SHIFT
    }

    /// Whether some value went to the sum's rest.
    #[inline]
    pub(crate) fn has_rest(&self) -> bool {
        self.meta & HAS_REST != 0
    }

    #[inline]
    fn scale(&self) -> u8 {
        (self.meta & SCALE_MASK) as u8
    }

    #[inline]
    fn fractional(&self) -> bool {
        self.meta & FRACTIONAL != 0
    }

    /// Sets the count to `n` (at most [`MAX_COUNT`]).
    #[inline]
    fn set_count(&mut self, n: u64) {
        self.meta = (self.meta & ((1 << COUNT_SHIFT) - 1)) | (n.min(MAX_COUNT) << COUNT_SHIFT);
    }

    /// Adds one number: counts it, and adds it to `value` when it fits;
    /// false when it does not (then the sum is marked as having a rest,
    /// and the caller adds `n` to it).
    #[inline(always)]
    pub(crate) fn add(&mut self, n: &Number) -> bool {
        self.set_count(self.count() + 1);
        if !n.is_integer() {
            self.meta |= FRACTIONAL;
        }
        if let Number::Decimal { mantissa, scale } = n {
            if let Ok(m) = i64::try_from(*mantissa) {
                if self.add_small(m, *scale as u8) {
                    return true;
                }
            }
        }
        self.meta |= HAS_REST;
        false
    }

    /// Adds `m × 10^-scale` to `value` when the result fits; false (and
    /// nothing changed) when it does not.
    #[inline]
    fn add_small(&mut self, m: i64, scale: u8) -> bool {
        let pow = |by: u8| 10i64.checked_pow(u32::from(by));
        let mine = self.scale();
        let sum = if scale == mine {
            self.value.checked_add(m)
        } else if scale > mine {
            pow(scale - mine).and_then(|p| self.value.checked_mul(p)).and_then(|v| v.checked_add(m))
        } else {
            pow(mine - scale).and_then(|p| m.checked_mul(p)).and_then(|m| self.value.checked_add(m))
        };
        match sum {
            Some(v) => {
                self.value = v;
                self.meta = (self.meta & !SCALE_MASK) | u64::from(mine.max(scale));
                true
            }
            None => false,
        }
    }
}

/// An [`ExactSum`] and how many values it has: a [`PackedSum`] and its
/// rest (boxed, and `None` while every value fit the `i64`), in 24 bytes.
/// [`SmallSum::to_exact`] gives the same sum an [`ExactSum`] of the same
/// values holds (same value, same scale, same integer flag), so the
/// output is the same bytes.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct SmallSum {
    packed: PackedSum,
    /// What did not fit `packed`'s `i64`.
    rest: Option<Box<ExactSum>>,
}

impl SmallSum {
    /// The sum whose packed part is `packed` and whose rest is `rest`.
    #[inline]
    pub(crate) fn from_parts(packed: PackedSum, rest: Option<Box<ExactSum>>) -> Self {
        SmallSum { packed, rest }
    }

    /// The packed part and the rest.
    #[inline]
    pub(crate) fn into_parts(self) -> (PackedSum, Option<Box<ExactSum>>) {
        (self.packed, self.rest)
    }

    /// Values added (saturating at 2^56 − 1).
    #[inline]
    pub(crate) fn count(&self) -> u64 {
        self.packed.count()
    }

    /// Adds one number.
    #[cfg(test)]
    pub(crate) fn add(&mut self, n: &Number) {
        if !self.packed.add(n) {
            self.rest.get_or_insert_with(Box::default).add(n);
        }
    }

    /// Adds everything `other` holds, its count included.
    pub(crate) fn merge(&mut self, other: SmallSum) {
        let (mine, theirs) = (&mut self.packed, other.packed);
        mine.set_count(mine.count().saturating_add(theirs.count()));
        mine.meta |= theirs.meta & FRACTIONAL;
        if !mine.add_small(theirs.value, theirs.scale()) {
            let part = ExactSum::from_decimal(theirs.value.into(), theirs.scale().into(), true);
            self.rest.get_or_insert_with(Box::default).merge(part);
        }
        if let Some(rest) = other.rest {
            self.rest.get_or_insert_with(Box::default).merge(*rest);
        }
        if self.rest.is_some() {
            self.packed.meta |= HAS_REST;
        }
    }

    /// The sum as an [`ExactSum`].
    pub(crate) fn to_exact(&self) -> ExactSum {
        let p = &self.packed;
        let mut sum = ExactSum::from_decimal(p.value.into(), p.scale().into(), !p.fractional());
        if let Some(rest) = &self.rest {
            sum.merge((**rest).clone());
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The variance of `values` as the exact rational Σ(x − x̄)² / d,
    /// computed from the values themselves (two passes over exact
    /// fractions, not from sums as `exact_variance` does) and rounded once.
    fn two_pass_variance(values: &[&str], sample: bool) -> f64 {
        let exact: Vec<Ratio<BigInt>> = values
            .iter()
            .map(|v| {
                let (digits, exp) = parse_number(v.as_bytes()).unwrap().to_wide();
                let ten = BigInt::from(10u8).pow(exp.unsigned_abs() as u32);
                if exp >= 0 {
                    Ratio::from_integer(digits * ten)
                } else {
                    Ratio::new(digits, ten)
                }
            })
            .collect();
        let n = BigInt::from(values.len());
        let mean = exact.iter().fold(Ratio::from_integer(BigInt::from(0)), |a, x| a + x)
            / Ratio::from_integer(n.clone());
        let squares = exact
            .iter()
            .fold(Ratio::from_integer(BigInt::from(0)), |a, x| a + (x - &mean) * (x - &mean));
        let d = if sample { n - 1 } else { n };
        (squares / Ratio::from_integer(d)).to_f64().unwrap()
    }

    fn sums(values: &[&str]) -> (ExactSum, ExactSum) {
        let (mut sum, mut squares) = (ExactSum::default(), ExactSum::default());
        for v in values {
            let n = parse_number(v.as_bytes()).unwrap();
            sum.add(&n);
            squares.add(&n.square());
        }
        (sum, squares)
    }

    #[test]
    fn variances_are_the_exact_variance_rounded_once() {
        let sets: [&[&str]; 7] = [
            &["1", "2", "3", "4"],
            &["0.1", "0.2", "0.3"],
            &["1e8", "1.00000001e8", "0.99999999e8"],
            // Large and tiny magnitudes: squares past 128 bits and past 18
            // decimals (the wide path).
            &["123456789012345678901234567890.5", "-3", "7e-30", "1.000000000000000001"],
            &["1e300", "-1e300", "2.5"],
            &["-42.25", "-42.25", "-42.25"],
            &["9223372036854775807", "-9223372036854775808", "12345.678"],
        ];
        for values in sets {
            let (sum, squares) = sums(values);
            let n = values.len() as u64;
            for sample in [true, false] {
                let got = exact_variance(&sum, &squares, n, sample).unwrap();
                assert_eq!(
                    got.to_bits(),
                    two_pass_variance(values, sample).to_bits(),
                    "{values:?}"
                );
            }
            // The same sums in another order: the same bits.
            let reversed: Vec<&str> = values.iter().rev().copied().collect();
            let (rsum, rsquares) = sums(&reversed);
            assert_eq!(
                exact_variance(&rsum, &rsquares, n, true),
                exact_variance(&sum, &squares, n, true)
            );
        }
        assert_eq!(
            exact_variance(&sums(&["1", "2", "3", "4"]).0, &sums(&["1", "2", "3", "4"]).1, 4, true),
            Some(5.0 / 3.0)
        );
        // 0.1, 0.2, 0.3: exactly 0.01 (a naive float sum of squares misses it).
        let (s, q) = sums(&["0.1", "0.2", "0.3"]);
        assert_eq!(exact_variance(&s, &q, 3, true), Some(0.01));
        // No divisor: no value, or one value for the sample variance.
        let (s, q) = sums(&["5"]);
        assert_eq!(exact_variance(&s, &q, 1, true), None);
        assert_eq!(exact_variance(&s, &q, 1, false), Some(0.0));
        assert_eq!(exact_variance(&ExactSum::default(), &ExactSum::default(), 0, false), None);
    }

    #[test]
    fn short_decimals_are_written_as_their_nearest_float_is() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let edges =
            [0i128, 1, -1, 5, 10, 99_999, 100_000, 999_999_999_999_999, -999_999_999_999_999];
        for i in 0..200_000u64 {
            let m = match i % 4 {
                0 => edges[(i / 4) as usize % edges.len()],
                1 => (next() % 1_000_000) as i128 - 500_000,
                2 => (next() % 2_000_000_000_000_000) as i128 - 1_000_000_000_000_000,
                _ => (next() % 100_000_000) as i128,
            };
            let scale = (next() % 12) as u32;
            let mut fast = Vec::new();
            let mut slow = Vec::new();
            format_f64(decimal_to_f64(m, scale), &mut slow);
            if write_short_decimal(m, scale, &mut fast) {
                assert_eq!(
                    String::from_utf8(fast).unwrap(),
                    String::from_utf8(slow).unwrap(),
                    "{m}e-{scale}"
                );
            } else {
                assert!(fast.is_empty());
            }
        }
    }
    use crate::syntax::number::parse_plain_decimal;
    use crate::syntax::number::{is_json_number, parse_number};

    fn dec(s: &str) -> Number {
        parse_number(s.as_bytes()).unwrap()
    }

    fn written(s: &ExactSum) -> String {
        let mut out = Vec::new();
        assert!(s.write(&mut out));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn parses_decimals_exactly() {
        assert_eq!(dec("1.50"), Number::Decimal { mantissa: 150, scale: 2 });
        assert_eq!(dec("-2.5e3"), Number::Decimal { mantissa: -2500, scale: 0 });
        assert_eq!(dec(".5"), Number::Decimal { mantissa: 5, scale: 1 });
        assert_eq!(dec("+7"), Number::Decimal { mantissa: 7, scale: 0 });
        assert_eq!(dec("1e-3"), Number::Decimal { mantissa: 1, scale: 3 });
        for bad in ["", "-", ".", "1.2.3", "1e", "nan", "inf", " 1", "1 ", "0x10", "1,000", "e5"] {
            assert!(parse_number(bad.as_bytes()).is_none(), "{bad}");
        }
        assert!(matches!(dec("1e-30"), Number::Wide { .. }));
        assert!(parse_number(b"1e1001").is_none());
    }

    #[test]
    fn sum_is_exact_and_order_free() {
        let vals = ["0.1", "0.2", "0.3", "1.50", "-2.5e3", "9007199254740993", "1", "7"];
        let mut fwd = ExactSum::default();
        vals.iter().for_each(|v| fwd.add(&dec(v)));
        let mut a = ExactSum::default();
        let mut b = ExactSum::default();
        vals[..3].iter().rev().for_each(|v| a.add(&dec(v)));
        vals[3..].iter().for_each(|v| b.add(&dec(v)));
        b.merge(a);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        assert!(fwd.write(&mut x) && b.write(&mut y));
        assert_eq!(x, y);
        assert_eq!(String::from_utf8(x).unwrap(), "9007199254738503");
        let mut s = ExactSum::default();
        ["0.1", "0.2"].iter().for_each(|v| s.add(&dec(v)));
        assert_eq!(s.to_f64(), 0.3);
    }

    /// A [`SmallSum`] writes what an [`ExactSum`] of the same values
    /// writes, however the values are split and merged, across scales,
    /// the `i64` range and wide numbers.
    #[test]
    fn small_sums_equal_exact_sums() {
        let cases: &[&[&str]] = &[
            &["1.50", "2", "0.25"],
            &["7", "9", "-3"],
            &["9223372036854775807", "1", "2"],
            &["-9223372036854775808", "-1"],
            &["0.000000000000000001", "92233720368.54775807", "1e-30", "5"],
            &["99999999999999999999999999999999999999", "1.5", "-2.5e3"],
            &["1e3", "2.5e1", "0.1"],
        ];
        for vals in cases {
            let mut exact = ExactSum::default();
            vals.iter().for_each(|v| exact.add(&dec(v)));
            for cut in 0..=vals.len() {
                let (mut a, mut b) = (SmallSum::default(), SmallSum::default());
                vals[..cut].iter().for_each(|v| a.add(&dec(v)));
                vals[cut..].iter().for_each(|v| b.add(&dec(v)));
                a.merge(b);
                assert_eq!(a.count(), vals.len() as u64, "{vals:?} cut at {cut}");
                let got = a.to_exact();
                assert_eq!(written(&got), written(&exact), "{vals:?} cut at {cut}");
                assert_eq!(got.to_f64().to_bits(), exact.to_f64().to_bits(), "{vals:?}");
                assert_eq!(got.is_integer(), exact.is_integer(), "{vals:?}");
            }
        }
        assert_eq!(std::mem::size_of::<SmallSum>(), 24);
    }

    #[test]
    fn integer_sum_stays_integer() {
        let mut s = ExactSum::default();
        s.add(&dec("9007199254740993"));
        s.add(&dec("1"));
        assert_eq!(written(&s), "9007199254740994");
        assert!(s.is_integer());
    }

    #[test]
    fn leaves_the_fast_path_exactly() {
        let mut s = ExactSum::default();
        for v in
            ["234567890123456789012.5", "0.000000000000000001", "1e-30", "1e308", "1e308", "-1e308"]
        {
            s.add(&dec(v));
        }
        assert_eq!(s.to_f64(), 1e308);
        let mut big = ExactSum::default();
        for _ in 0..4 {
            big.add(&dec("99999999999999999999999999999999999999"));
        }
        assert_eq!(written(&big), "399999999999999999999999999999999999996");
        let mut split = ExactSum::default();
        let mut other = ExactSum::default();
        split.add(&dec("0.5"));
        other.add(&dec("1e-30"));
        other.merge(split);
        assert_eq!(written(&other), "0.5");
    }

    #[test]
    fn fast_float_conversion_matches_the_parser() {
        for (m, s) in
            [(472542i128, 2u32), (1, 1), (3, 1), (-9007199254740991, 0), (123456789, 18), (7, 22)]
        {
            let slow: f64 = format!("{m}e-{s}").parse().unwrap();
            assert_eq!(decimal_to_f64(m, s), slow, "{m}e-{s}");
        }
    }

    #[test]
    fn plain_decimals_agree_with_the_general_parser() {
        for t in [
            "0",
            "-0",
            "7",
            "007",
            "4725.42",
            "-1.50",
            ".5",
            "5.",
            "9999999999999999999",
            "-999999999999999999",
        ] {
            let general = {
                // The general path alone: prefix a `+`, which the plain path refuses.
                let plus = format!("+{}", t.trim_start_matches('-'));
                let n = parse_number(plus.as_bytes()).unwrap();
                match (t.starts_with('-'), n) {
                    (true, Number::Decimal { mantissa, scale }) => {
                        Number::Decimal { mantissa: -mantissa, scale }
                    }
                    (_, n) => n,
                }
            };
            assert_eq!(parse_plain_decimal(t.as_bytes()), Some(general), "{t}");
        }
        for t in ["", "-", ".", "1.2.3", "1e5", "+1", " 1", "12345678901234567890"] {
            assert_eq!(parse_plain_decimal(t.as_bytes()), None, "{t}");
        }
    }

    #[test]
    fn json_numbers() {
        for ok in ["0", "-1", "1.5", "1e5", "-0.0E-3"] {
            assert!(is_json_number(ok.as_bytes()), "{ok}");
        }
        for bad in ["007", "+1", ".5", "1.", "1e", "", "-", "NaN"] {
            assert!(!is_json_number(bad.as_bytes()), "{bad}");
        }
    }
}
