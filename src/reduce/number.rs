//! Numbers read from text, and the exact sum used by `sum` and `mean`.
//!
//! Values arrive as text (`1.50`, `-2.5e3`, `9007199254740993`). Most of
//! them are decimals with few digits, so [`ExactSum`] adds them as scaled
//! 128-bit integers: exact, associative and commutative, so the result
//! cannot depend on where chunks were cut or in which order partials meet.
//! Values that do not fit (more than 38 significant digits, or a scale past
//! 10^-18) fall back to an exact binary accumulator (Zhu and Hayes'
//! OnlineExactSum, from the `accurate` crate). The total is rounded to `f64`
//! once, at the end; sums of integers stay integers.

use accurate::sum::OnlineExactSum;
use accurate::traits::*;

/// Largest decimal scale (digits after the point) kept exactly.
const MAX_SCALE: u32 = 18;

/// A number as parsed from text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// `mantissa × 10^-scale`, exact.
    Decimal {
        /// The digits as an integer, with the sign.
        mantissa: i128,
        /// Digits after the decimal point (0..=18).
        scale: u32,
    },
    /// A number too long or too small to hold exactly as a decimal.
    Float(f64),
}

impl Number {
    /// The nearest `f64`.
    pub fn to_f64(self) -> f64 {
        match self {
            Number::Decimal { mantissa, scale } => decimal_to_f64(mantissa, scale),
            Number::Float(f) => f,
        }
    }
}

/// Parses a decimal number: an optional sign, digits with an optional
/// fraction (`12`, `1.50`, `.5`, `5.`), and an optional exponent (`e-3`).
/// Surrounding spaces, `inf`, `nan`, hex and thousands separators are not
/// numbers. Returns `None` for anything else.
pub fn parse_number(text: &[u8]) -> Option<Number> {
    let (neg, rest) = match text.first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let mut mantissa: i128 = 0;
    let mut digits = 0u32; // significant digits kept
    let mut overflow = false;
    let mut frac_digits: i64 = 0;
    let mut seen_digit = false;
    let mut i = 0;
    let mut in_frac = false;
    while i < rest.len() {
        let c = rest[i];
        match c {
            b'0'..=b'9' => {
                seen_digit = true;
                if in_frac {
                    frac_digits += 1;
                }
                if mantissa != 0 || c != b'0' {
                    digits += 1;
                }
                if digits > 38 {
                    overflow = true;
                } else {
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
        // exponent
        let e = &rest[i + 1..];
        let (eneg, edigits) = match e.first()? {
            b'-' => (true, &e[1..]),
            b'+' => (false, &e[1..]),
            _ => (false, e),
        };
        if edigits.is_empty() || !edigits.iter().all(u8::is_ascii_digit) || edigits.len() > 6 {
            return None;
        }
        exp = std::str::from_utf8(edigits).ok()?.parse::<i64>().ok()?;
        if eneg {
            exp = -exp;
        }
    }
    let float = || std::str::from_utf8(text).ok()?.parse::<f64>().ok().map(Number::Float);
    if overflow {
        return float();
    }
    let mantissa = if neg { -mantissa } else { mantissa };
    let mut scale = frac_digits - exp;
    let mut mantissa = mantissa;
    if scale < 0 {
        // 12e3: multiply out
        while scale < 0 {
            match mantissa.checked_mul(10) {
                Some(m) => mantissa = m,
                None => return float(),
            }
            scale += 1;
        }
    }
    if scale > i64::from(MAX_SCALE) {
        return float();
    }
    Some(Number::Decimal { mantissa, scale: scale as u32 })
}

/// True when `text` is a JSON number literal (RFC 8259 §6), which may be
/// written into NDJSON unquoted.
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
    let s = format!("{mantissa}e-{scale}");
    s.parse::<f64>().unwrap_or(f64::NAN)
}

/// Formats a computed float in the shortest form that reads back as the
/// same `f64` (Rust's `Display`, which never uses an exponent).
pub fn format_f64(v: f64, out: &mut Vec<u8>) {
    use std::io::Write;
    let _ = write!(out, "{v}");
}

/// An exact, mergeable sum of [`Number`]s.
#[derive(Debug, Clone, Default)]
pub struct ExactSum {
    decimal: i128,
    scale: u32,
    floats: Option<Box<OnlineExactSum<f64>>>,
    overflow: bool,
}

impl ExactSum {
    /// Adds one number.
    pub fn add(&mut self, n: Number) {
        match n {
            Number::Decimal { mantissa, scale } => self.add_decimal(mantissa, scale),
            Number::Float(f) => {
                let acc = self.floats.take().map_or_else(OnlineExactSum::zero, |b| *b);
                self.floats = Some(Box::new(acc + f));
            }
        }
    }

    fn add_decimal(&mut self, mantissa: i128, scale: u32) {
        if self.overflow {
            return;
        }
        let (mut a, mut b) = (self.decimal, mantissa);
        let s = self.scale.max(scale);
        let ok = (|| {
            a = a.checked_mul(pow10(s - self.scale))?;
            b = b.checked_mul(pow10(s - scale))?;
            a.checked_add(b)
        })();
        match ok {
            Some(sum) => {
                self.decimal = sum;
                self.scale = s;
            }
            None => self.overflow = true,
        }
    }

    /// Adds everything `other` holds.
    pub fn merge(&mut self, other: ExactSum) {
        self.overflow |= other.overflow;
        self.add_decimal(other.decimal, other.scale);
        if let Some(f) = other.floats {
            let acc = self.floats.take().map_or_else(OnlineExactSum::zero, |b| *b);
            self.floats = Some(Box::new(acc + *f));
        }
    }

    /// True when the 128-bit decimal total overflowed (the result is not
    /// exact any more; callers report [`crate::Error::Overflow`]).
    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    /// True when every value added was an integer, so the sum is an exact
    /// integer.
    pub fn is_integer(&self) -> bool {
        self.floats.is_none() && self.scale == 0
    }

    /// The sum rounded once to `f64`. When both decimal and float values
    /// were added, the decimal part is rounded to `f64` first and then
    /// added exactly to the float part.
    pub fn to_f64(&self) -> f64 {
        match &self.floats {
            None => decimal_to_f64(self.decimal, self.scale),
            Some(f) => {
                let acc = (**f).clone() + decimal_to_f64(self.decimal, self.scale);
                acc.sum()
            }
        }
    }

    /// Writes the sum: an integer exactly when [`Self::is_integer`], else
    /// the shortest round-trip form of [`Self::to_f64`].
    pub fn write(&self, out: &mut Vec<u8>) {
        if self.is_integer() {
            use std::io::Write;
            let _ = write!(out, "{}", self.decimal);
        } else {
            format_f64(self.to_f64(), out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Number {
        parse_number(s.as_bytes()).unwrap()
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
        assert!(matches!(dec("1e-30"), Number::Float(_)));
    }

    #[test]
    fn sum_is_exact_and_order_free() {
        let vals = ["0.1", "0.2", "0.3", "1.50", "-2.5e3", "9007199254740993", "1", "7"];
        let mut fwd = ExactSum::default();
        vals.iter().for_each(|v| fwd.add(dec(v)));
        let mut a = ExactSum::default();
        let mut b = ExactSum::default();
        vals[..3].iter().rev().for_each(|v| a.add(dec(v)));
        vals[3..].iter().for_each(|v| b.add(dec(v)));
        b.merge(a);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        fwd.write(&mut x);
        b.write(&mut y);
        assert_eq!(x, y);
        assert_eq!(String::from_utf8(x).unwrap(), "9007199254738503");
        let mut s = ExactSum::default();
        ["0.1", "0.2"].iter().for_each(|v| s.add(dec(v)));
        assert_eq!(s.to_f64(), 0.3);
    }

    #[test]
    fn integer_sum_stays_integer() {
        let mut s = ExactSum::default();
        s.add(dec("9007199254740993"));
        s.add(dec("1"));
        let mut out = Vec::new();
        s.write(&mut out);
        assert_eq!(out, b"9007199254740994");
        assert!(s.is_integer());
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
