//! Numbers in text: the one grammar fanfold reads them by (a JSON number
//! literal, RFC 8259 §6, plus the forms `parse_number` accepts), read as
//! exact decimals, never through `f64`, and `f64`s written back in their
//! shortest round-trip form. Aggregates, the fast filter and the encoders
//! all use it; the exact sum is in `reduce::number`.

use num_bigint::BigInt;

/// Largest decimal scale (digits after the point) of the fast path.
const MAX_SCALE: u32 = 18;
/// Largest decimal exponent magnitude accepted (`1e1000`); beyond it a
/// value is not a number fanfold computes with (`f64` ends near 1e308).
const MAX_EXPONENT: i64 = 1000;
/// A number as parsed from text, exact.
#[derive(Debug, Clone, PartialEq)]
pub enum Number {
    /// `mantissa × 10^-scale`.
    Decimal {
        /// The digits as an integer, with the sign.
        mantissa: i128,
        /// Digits after the decimal point (0..=18).
        scale: u32,
    },
    /// `digits × 10^exp`, for values too long or too small for
    /// [`Number::Decimal`].
    Wide {
        /// The digits as an integer, with the sign.
        digits: BigInt,
        /// The power of ten (-1000..=1000 plus the digits' length).
        exp: i64,
    },
}

impl Number {
    /// The nearest `f64` (infinite beyond its range).
    pub fn to_f64(&self) -> f64 {
        match self {
            Number::Decimal { mantissa, scale } => decimal_to_f64(*mantissa, *scale),
            Number::Wide { digits, exp } => format!("{digits}e{exp}").parse().unwrap_or(f64::NAN),
        }
    }

    /// True when the value has no fractional digits as written.
    pub(crate) fn is_integer(&self) -> bool {
        match self {
            Number::Decimal { scale, .. } => *scale == 0,
            Number::Wide { exp, .. } => *exp >= 0,
        }
    }

    /// The exact square of the value (for the sums of squares of the
    /// variance aggregates): a [`Number::Decimal`] while its digits fit
    /// 38 and its decimals [`MAX_SCALE`], else a [`Number::Wide`] (whose
    /// exponent may then reach twice the parser's range).
    pub(crate) fn square(&self) -> Number {
        if let Number::Decimal { mantissa, scale } = self {
            let squared = mantissa.checked_mul(*mantissa).filter(|m| *m < pow10(38));
            if let (Some(m), true) = (squared, *scale * 2 <= MAX_SCALE) {
                return Number::Decimal { mantissa: m, scale: scale * 2 };
            }
        }
        let (digits, exp) = self.to_wide();
        Number::Wide { digits: &digits * &digits, exp: exp * 2 }
    }

    /// The value as `digits × 10^exp`.
    pub(crate) fn to_wide(&self) -> (BigInt, i64) {
        match self {
            Number::Decimal { mantissa, scale } => (BigInt::from(*mantissa), -i64::from(*scale)),
            Number::Wide { digits, exp } => (digits.clone(), *exp),
        }
    }
}

/// Parses a decimal number: an optional sign, digits with an optional
/// fraction (`12`, `1.50`, `.5`, `5.`), and an optional exponent (`e-3`).
/// Surrounding spaces, `inf`, `nan`, hex, thousands separators and
/// exponents beyond ±1000 are not numbers. Returns `None` for anything else.
#[inline]
pub fn parse_number(text: &[u8]) -> Option<Number> {
    if let Some(n) = parse_plain_decimal(text) {
        return Some(n);
    }
    let (neg, rest) = match text.first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let mut mantissa: i128 = 0;
    let mut significant = 0u32;
    let mut frac_digits: i64 = 0;
    let mut seen_digit = false;
    let mut in_frac = false;
    let mut i = 0;
    while i < rest.len() {
        match rest[i] {
            c @ b'0'..=b'9' => {
                seen_digit = true;
                if in_frac {
                    frac_digits += 1;
                }
                if mantissa != 0 || c != b'0' {
                    significant += 1;
                }
                if significant <= 38 {
                    mantissa = mantissa * 10 + i128::from(c - b'0');
                }
            }
            b'.' if !in_frac => in_frac = true,
            b'e' | b'E' => break,
            _ => return None,
        }
        i += 1;
    }
    if !seen_digit {
        return None;
    }
    let mut exp: i64 = 0;
    if i < rest.len() {
        let e = &rest[i + 1..];
        let (eneg, edigits) = match e.first()? {
            b'-' => (true, &e[1..]),
            b'+' => (false, &e[1..]),
            _ => (false, e),
        };
        if edigits.is_empty() || edigits.len() > 6 || !edigits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        exp = std::str::from_utf8(edigits).ok()?.parse::<i64>().ok()?;
        if eneg {
            exp = -exp;
        }
        if exp.abs() > MAX_EXPONENT {
            return None;
        }
    }
    let exp = exp - frac_digits;
    if significant <= 38 {
        let mut m = if neg { -mantissa } else { mantissa };
        let mut e = exp;
        while e > 0 {
            match m.checked_mul(10) {
                Some(x) => m = x,
                None => break,
            }
            e -= 1;
        }
        if e == 0 || (e < 0 && -e <= i64::from(MAX_SCALE)) {
            return Some(Number::Decimal { mantissa: m, scale: (-e) as u32 });
        }
    }
    // The slow, exact path: all the digits as a big integer.
    let digits: Vec<u8> = rest[..i].iter().copied().filter(u8::is_ascii_digit).collect();
    let mut big = BigInt::parse_bytes(&digits, 10)?;
    if neg {
        big = -big;
    }
    Some(Number::Wide { digits: big, exp })
}

/// The common case of [`parse_number`], in 64-bit arithmetic: at most 19
/// bytes of `-?digits[.digits]`, which always fit. `None` for anything
/// else (the general parser then decides).
#[inline]
pub(crate) fn parse_plain_decimal(text: &[u8]) -> Option<Number> {
    if text.is_empty() || text.len() > 19 {
        return None;
    }
    let (neg, rest) = match text[0] {
        b'-' => (true, &text[1..]),
        _ => (false, text),
    };
    let (mut m, mut digits, mut frac) = (0u64, 0u32, None::<u32>);
    for &c in rest {
        match c {
            b'0'..=b'9' => {
                m = m * 10 + u64::from(c - b'0');
                digits += 1;
                if let Some(f) = frac.as_mut() {
                    *f += 1;
                }
            }
            b'.' if frac.is_none() => frac = Some(0),
            _ => return None,
        }
    }
    if digits == 0 {
        return None;
    }
    let v = i128::from(m);
    Some(Number::Decimal { mantissa: if neg { -v } else { v }, scale: frac.unwrap_or(0) })
}

/// True when `text` is a JSON number literal (RFC 8259 §6), which may be
/// written into NDJSON unquoted.
#[inline]
pub fn is_json_number(text: &[u8]) -> bool {
    let mut i = 0;
    let n = text.len();
    if i < n && text[i] == b'-' {
        i += 1;
    }
    if i >= n {
        return false;
    }
    if text[i] == b'0' {
        i += 1;
    } else if text[i].is_ascii_digit() {
        while i < n && text[i].is_ascii_digit() {
            i += 1;
        }
    } else {
        return false;
    }
    if i < n && text[i] == b'.' {
        i += 1;
        let s = i;
        while i < n && text[i].is_ascii_digit() {
            i += 1;
        }
        if i == s {
            return false;
        }
    }
    if i < n && (text[i] == b'e' || text[i] == b'E') {
        i += 1;
        if i < n && (text[i] == b'+' || text[i] == b'-') {
            i += 1;
        }
        let s = i;
        while i < n && text[i].is_ascii_digit() {
            i += 1;
        }
        if i == s {
            return false;
        }
    }
    i == n
}

pub(crate) fn pow10(n: u32) -> i128 {
    10i128.pow(n)
}

/// Rounds `mantissa × 10^-scale` to the nearest `f64` (correctly rounded,
/// through the standard library's decimal parser).
pub(crate) fn decimal_to_f64(mantissa: i128, scale: u32) -> f64 {
    let magnitude = u64::try_from(mantissa.unsigned_abs()).ok();
    match magnitude.and_then(|m| exact_decimal_to_f64(m, scale as usize)) {
        Some(v) if mantissa < 0 => -v,
        Some(v) => v,
        None => format!("{mantissa}e-{scale}").parse::<f64>().unwrap_or(f64::NAN),
    }
}

/// `m × 10^-scale` by Clinger's fast path, when it applies: a mantissa
/// below 2^53 and a power of ten up to 10^22 are exact doubles, so one
/// IEEE division is correctly rounded. `None` otherwise.
#[inline]
pub(crate) fn exact_decimal_to_f64(m: u64, scale: usize) -> Option<f64> {
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    (m < 1 << 53).then(|| POW10.get(scale).map(|p| m as f64 / p)).flatten()
}

/// Formats a computed float in the shortest form that reads back as the
/// same `f64`: plain digits (`5000.841790533736`, `12`) for magnitudes in
/// [1e-5, 1e16), else with an exponent (`1e308`, `2.5e-7`), so that the
/// text is also a JSON number.
pub fn format_f64(v: f64, out: &mut Vec<u8>) {
    use std::io::Write;
    let a = v.abs();
    let _ = if a == 0.0 || (1e-5..1e16).contains(&a) {
        write!(out, "{v}")
    } else {
        write!(out, "{v:e}")
    };
}

/// The index just past the JSON number starting at `i`:
/// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, or `None` when
/// the text there is not one. (This finds where a number ends inside a
/// line, for the flat-object reader; [`is_json_number`] checks a whole
/// string, and finding the end first and then calling it took 8% more
/// instructions.)
#[inline(always)]
pub(crate) fn json_number_end(b: &[u8], mut i: usize) -> Option<usize> {
    let digits = |mut i: usize| {
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i > start).then_some(i)
    };
    if b[i] == b'-' {
        i += 1;
    }
    i = match b.get(i) {
        Some(b'0') => i + 1,
        Some(b'1'..=b'9') => digits(i)?,
        _ => return None,
    };
    if b.get(i) == Some(&b'.') {
        i = digits(i + 1)?;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        i = digits(i)?;
    }
    Some(i)
}

/// A plain number read in one pass by [`plain_number`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PlainNumber {
    /// An integer that fits in an `i64`.
    Int(i64),
    /// A decimal, correctly rounded.
    Float(f64),
}

/// The value of `text` when it is a plain JSON number (an optional minus,
/// digits without a leading zero, an optional fraction; at most 19 digits)
/// that converts exactly in one step: an integer as i64, a nonzero decimal
/// by [`exact_decimal_to_f64`] (Clinger's fast path, correctly rounded as
/// `str::parse` rounds). `None` for anything else, which the general rules
/// handle. One pass, for the common field of a numeric
/// comparison (`parse_plain_decimal` and `Number::to_f64` took 8% more
/// instructions on a filter over 300k rows).
#[inline]
pub(crate) fn plain_number(text: &[u8]) -> Option<PlainNumber> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let (&first, &last) = (digits.first()?, digits.last()?);
    let leading_zero = first == b'0' && digits.get(1).is_some_and(|&c| c != b'.');
    if digits.len() > 19 || !first.is_ascii_digit() || !last.is_ascii_digit() || leading_zero {
        return None;
    }
    let (mut m, mut scale, mut point) = (0u64, 0usize, false);
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d < 10 {
            m = m * 10 + u64::from(d);
            scale += usize::from(point);
        } else if c == b'.' && !point {
            point = true;
        } else {
            return None;
        }
    }
    if !point {
        let v = i64::try_from(m).ok()?;
        return Some(PlainNumber::Int(if negative { -v } else { v }));
    }
    if m == 0 {
        return None;
    }
    let v = exact_decimal_to_f64(m, scale)?;
    Some(PlainNumber::Float(if negative { -v } else { v }))
}
