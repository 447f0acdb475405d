//! Numbers read from text, and the exact sum used by `sum` and `mean`.
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

/// Largest decimal scale (digits after the point) of the fast path.
const MAX_SCALE: u32 = 18;
/// Largest decimal exponent magnitude accepted (`1e1000`); beyond it a
/// value is not a number fanfold computes with (`f64` ends near 1e308).
const MAX_EXPONENT: i64 = 1000;
/// Longest integer sum printed exactly (digits and sign); longer ones are
/// printed as floats.
const MAX_INTEGER_DIGITS: usize = 41;

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
    fn is_integer(&self) -> bool {
        match self {
            Number::Decimal { scale, .. } => *scale == 0,
            Number::Wide { exp, .. } => *exp >= 0,
        }
    }

    fn to_wide(&self) -> (BigInt, i64) {
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
fn parse_plain_decimal(text: &[u8]) -> Option<Number> {
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

fn pow10(n: u32) -> i128 {
    10i128.pow(n)
}

/// Rounds `mantissa × 10^-scale` to the nearest `f64` (correctly rounded,
/// through the standard library's decimal parser).
fn decimal_to_f64(mantissa: i128, scale: u32) -> f64 {
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

/// An exact, mergeable sum of [`Number`]s. See the module docs.
#[derive(Debug, Clone)]
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
        use std::io::Write;
        if self.is_integer() {
            if self.wide.is_none() && self.scale == 0 {
                let _ = write!(out, "{}", self.decimal);
                return true;
            }
            let (d, e) = self.total();
            let text = (d * BigInt::from(10u8).pow(e.max(0) as u32)).to_string();
            if text.len() <= MAX_INTEGER_DIGITS {
                out.extend_from_slice(text.as_bytes());
                return true;
            }
        }
        let v = self.to_f64();
        if !v.is_finite() {
            return false;
        }
        format_f64(v, out);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
