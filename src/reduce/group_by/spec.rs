//! `--agg` specs: what each aggregate computes ([`AggKind`]) and the
//! parsing of `kind[:column][=name]` ([`AggSpec`]).

use std::str::FromStr;

use crate::error::{Error, Result, Setting};

/// What an aggregate computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggKind {
    /// Records in the group (`count`), or non-missing values of a column
    /// (`count:col`).
    Count,
    /// Exact sum (`sum:col`); integers stay integers.
    Sum,
    /// Exact sum divided by the number of values (`mean:col`).
    Mean,
    /// Smallest value (`min:col`): numeric when every value is a number,
    /// else by bytes; written as read.
    Min,
    /// Largest value (`max:col`), as for `min`.
    Max,
    /// Number of distinct values (`distinct:col`), compared as text.
    Distinct,
    /// Most frequent value (`mode:col`), compared as text; ties go to the
    /// value seen first in input order. Written as first read.
    Mode,
    /// First value in input order (`first:col`), written as read.
    First,
    /// Last value in input order (`last:col`), written as read.
    Last,
    /// Sample variance (`var_samp:col`, alias `variance`): Σ(x − mean)² /
    /// (n − 1), from exact sums, rounded once; missing below 2 values.
    VarSamp,
    /// Population variance (`var_pop:col`): Σ(x − mean)² / n, from exact
    /// sums, rounded once.
    VarPop,
    /// Sample standard deviation (`stddev_samp:col`, alias `stddev`): the
    /// square root of the correctly rounded sample variance.
    StddevSamp,
    /// Population standard deviation (`stddev_pop:col`): the square root
    /// of the correctly rounded population variance.
    StddevPop,
    /// Median (`median:col`): `quantile_cont` at 0.5.
    Median,
    /// Continuous quantile at p (`quantile_cont:col:p`, alias `quantile`):
    /// linear interpolation between the values of ranks ⌊h⌋ and ⌈h⌉,
    /// h = (n − 1)·p (Hyndman and Fan's type 7, "Sample quantiles in
    /// statistical packages", 1996: NumPy's and R's default, DuckDB's
    /// `quantile_cont`), computed as DuckDB does: lo·(1 − d) + hi·d in
    /// `f64`, d = h − ⌊h⌋.
    QuantileCont,
    /// Discrete quantile at p (`quantile_disc:col:p`): the value of rank
    /// ⌈n·p⌉ (from 1; the first for p = 0), as DuckDB's `quantile_disc`.
    QuantileDisc,
    /// Approximate number of distinct values (`approx_distinct:col`, alias
    /// `approx_count_distinct`), compared as text: HyperLogLog (Flajolet
    /// et al., 2007) with 2^14 registers, about 0.81% standard error, in
    /// at most 16 KiB a group (exact, but for 64-bit hash collisions, up to
    /// 512 distinct values). Registers merge by maximum and the estimate is
    /// made once at the end, so it depends only on the set of values.
    ApproxDistinct,
    /// Approximate quantile at p (`approx_quantile:col:p`): DDSketch
    /// (Masson, Rim and Lee, VLDB 2019) with 1% relative accuracy: within
    /// 1% of the value of rank ⌊(n − 1)·p⌋ (from 0); exact minimum and
    /// maximum at p = 0 and 1. Its buckets are never collapsed and merge by
    /// adding counts, so the result depends only on the values.
    ApproxQuantile,
}

impl AggKind {
    /// The aggregate's name as written in `--agg`.
    pub fn name(self) -> &'static str {
        match self {
            AggKind::Count => "count",
            AggKind::Sum => "sum",
            AggKind::Mean => "mean",
            AggKind::Min => "min",
            AggKind::Max => "max",
            AggKind::Distinct => "distinct",
            AggKind::Mode => "mode",
            AggKind::First => "first",
            AggKind::Last => "last",
            AggKind::VarSamp => "var_samp",
            AggKind::VarPop => "var_pop",
            AggKind::StddevSamp => "stddev_samp",
            AggKind::StddevPop => "stddev_pop",
            AggKind::Median => "median",
            AggKind::QuantileCont => "quantile_cont",
            AggKind::QuantileDisc => "quantile_disc",
            AggKind::ApproxDistinct => "approx_distinct",
            AggKind::ApproxQuantile => "approx_quantile",
        }
    }

    /// A median or quantile, exact or approximate: computed from the
    /// numeric values of its column.
    pub(crate) fn is_quantile(self) -> bool {
        matches!(
            self,
            AggKind::Median
                | AggKind::QuantileCont
                | AggKind::QuantileDisc
                | AggKind::ApproxQuantile
        )
    }

    /// A variance or standard deviation: computed from a column's count,
    /// sum and sum of squares.
    pub(crate) fn is_moment(self) -> bool {
        matches!(
            self,
            AggKind::VarSamp | AggKind::VarPop | AggKind::StddevSamp | AggKind::StddevPop
        )
    }
}

/// One `--agg` as the user wrote it: `kind[:column][=name]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggSpec {
    /// What to compute.
    pub kind: AggKind,
    /// The output column it reads; `None` only for `count`.
    pub column: Option<String>,
    /// The result's column name (default `kind_column`, `count`, or
    /// `kind_column_p` for a quantile).
    pub name: String,
    /// A quantile's fraction p (`quantile_cont:col:p`); 0.5 for `median`;
    /// `None` for the other aggregates.
    pub fraction: Option<Fraction>,
}

/// A quantile's fraction p, from 0 to 1, kept exactly as the decimal
/// written (`0.95` is 95/100), so that a discrete quantile's rank needs no
/// rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fraction {
    /// p = `numer` / 10^`scale`.
    numer: u64,
    scale: u32,
}

impl Fraction {
    /// The fraction in `text` (`0`, `0.5`, `.95`, `1`, `25e-2`).
    ///
    /// # Errors
    /// A message when `text` is not a decimal number from 0 to 1 with at
    /// most 18 digits after the point.
    pub fn parse(text: &str) -> std::result::Result<Fraction, String> {
        let bad = || format!("`{text}` is not a fraction from 0 to 1 (e.g. 0.95)");
        match crate::syntax::number::parse_number(text.as_bytes()) {
            Some(crate::syntax::number::Number::Decimal { mantissa, scale }) => {
                let numer = u64::try_from(mantissa).map_err(|_| bad())?;
                if u128::from(numer) > 10u128.pow(scale) {
                    return Err(bad());
                }
                Ok(Fraction { numer, scale })
            }
            _ => Err(bad()),
        }
    }

    /// The nearest `f64`.
    pub fn value(self) -> f64 {
        crate::syntax::number::decimal_to_f64(self.numer.into(), self.scale)
    }

    /// ⌈n·p⌉, exactly.
    pub(crate) fn ceil_times(self, n: u64) -> u64 {
        let denom = 10u128.pow(self.scale);
        (u128::from(n) * u128::from(self.numer)).div_ceil(denom) as u64
    }

    /// 1/2, the median's.
    pub(crate) const HALF: Fraction = Fraction { numer: 5, scale: 1 };
}

impl FromStr for AggSpec {
    type Err = Error;

    /// Parses `count`, `count:col`, `sum:col`, `mean:col` (alias `avg`),
    /// `min:col`, `max:col`, `count_distinct:col` (alias `distinct`),
    /// `mode:col`, `first:col`, `last:col`, `var_samp:col` (alias
    /// `variance`), `var_pop:col`, `stddev_samp:col` (alias `stddev`) and
    /// `stddev_pop:col`, `median:col`, `quantile_cont:col:p` (alias
    /// `quantile`), `quantile_disc:col:p`, `approx_distinct:col` (alias
    /// `approx_count_distinct`) and `approx_quantile:col:p` (p from 0 to
    /// 1), each with an optional `=name`.
    fn from_str(s: &str) -> Result<Self> {
        let (body, name) = match s.split_once('=') {
            Some((b, n)) if !n.is_empty() => (b, Some(n.to_string())),
            Some(_) => {
                return Err(Error::setting(Setting::Agg, format!("`{s}`: empty name after `=`")))
            }
            None => (s, None),
        };
        let (kind_str, mut column) = match body.split_once(':') {
            Some((k, c)) if !c.is_empty() => (k, Some(c.to_string())),
            Some(_) => {
                return Err(Error::setting(Setting::Agg, format!("`{s}`: empty column after `:`")))
            }
            None => (body, None),
        };
        let kind = match kind_str {
            "count" => AggKind::Count,
            "sum" => AggKind::Sum,
            "mean" | "avg" => AggKind::Mean,
            "min" => AggKind::Min,
            "max" => AggKind::Max,
            "count_distinct" | "distinct" => AggKind::Distinct,
            "mode" => AggKind::Mode,
            "first" => AggKind::First,
            "last" => AggKind::Last,
            "var_samp" | "variance" => AggKind::VarSamp,
            "var_pop" => AggKind::VarPop,
            "stddev_samp" | "stddev" => AggKind::StddevSamp,
            "stddev_pop" => AggKind::StddevPop,
            "median" => AggKind::Median,
            "quantile_cont" | "quantile" => AggKind::QuantileCont,
            "quantile_disc" => AggKind::QuantileDisc,
            "approx_distinct" | "approx_count_distinct" => AggKind::ApproxDistinct,
            "approx_quantile" => AggKind::ApproxQuantile,
            other => {
                return Err(Error::setting(
                    Setting::Agg,
                    format!(
                        "`{s}`: unknown aggregate `{other}`; use count, count:col, sum:col, \
                         mean:col, min:col, max:col, count_distinct:col, mode:col, first:col, \
                         last:col, var_samp:col, var_pop:col, stddev_samp:col, stddev_pop:col, \
                         median:col, quantile_cont:col:p, quantile_disc:col:p, \
                         approx_distinct:col or approx_quantile:col:p"
                    ),
                ))
            }
        };
        if kind != AggKind::Count && column.is_none() {
            return Err(Error::setting(
                Setting::Agg,
                format!("`{s}`: `{kind_str}` needs a column, e.g. `{kind_str}:amount`"),
            ));
        }
        let mut fraction = None;
        let mut p_text = None;
        match (kind, &column) {
            (AggKind::Median, _) => fraction = Some(Fraction::HALF),
            (AggKind::QuantileCont | AggKind::QuantileDisc | AggKind::ApproxQuantile, Some(c)) => {
                let Some((col, p)) = c.rsplit_once(':').filter(|(col, _)| !col.is_empty()) else {
                    return Err(Error::setting(
                        Setting::Agg,
                        format!("`{s}`: `{kind_str}` needs a fraction, e.g. `{kind_str}:{c}:0.95`"),
                    ));
                };
                let f = Fraction::parse(p)
                    .map_err(|e| Error::setting(Setting::Agg, format!("`{s}`: {e}")))?;
                fraction = Some(f);
                p_text = Some(p.to_string());
                column = Some(col.to_string());
            }
            _ => {}
        }
        // A path into nested objects (`.user.id`) is named by its keys
        // (`user.id`), as its group column is.
        let shown = column.as_ref().map(|c| match crate::record::Source::parse_path(c) {
            Ok(keys) if c.starts_with('.') => keys.join("."),
            _ => c.clone(),
        });
        let name = name.unwrap_or_else(|| match (&shown, &p_text) {
            (Some(c), Some(p)) => format!("{kind_str}_{c}_{p}"),
            (Some(c), None) => format!("{kind_str}_{c}"),
            (None, _) => "count".to_string(),
        });
        Ok(AggSpec { kind, column, name, fraction })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_agg_specs() {
        let a: AggSpec = "mean:arr_delay".parse().unwrap();
        assert_eq!(
            (a.kind, a.column.as_deref(), a.name.as_str()),
            (AggKind::Mean, Some("arr_delay"), "mean_arr_delay")
        );
        let c: AggSpec = "count=n".parse().unwrap();
        assert_eq!((c.kind, c.column, c.name.as_str()), (AggKind::Count, None, "n"));
        let e = "sum".parse::<AggSpec>().unwrap_err().to_string();
        assert!(e.contains("needs a column"), "{e}");
        assert!("mean_abs:x"
            .parse::<AggSpec>()
            .unwrap_err()
            .to_string()
            .contains("unknown aggregate"));
    }

    #[test]
    fn parses_mode_first_last() {
        for (spec, kind, name) in [
            ("mode:dest", AggKind::Mode, "mode_dest"),
            ("first:dest", AggKind::First, "first_dest"),
            ("last:dest=final", AggKind::Last, "final"),
        ] {
            let a: AggSpec = spec.parse().unwrap();
            assert_eq!((a.kind, a.column.as_deref(), a.name.as_str()), (kind, Some("dest"), name));
        }
        for bare in ["mode", "first", "last"] {
            let e = bare.parse::<AggSpec>().unwrap_err().to_string();
            assert!(e.contains("needs a column"), "{e}");
        }
        let e = "mean_abs:x".parse::<AggSpec>().unwrap_err().to_string();
        assert!(e.contains("mode:col, first:col"), "{e}");
    }

    #[test]
    fn parses_variances_and_their_aliases() {
        for (spec, kind, name) in [
            ("var_samp:d", AggKind::VarSamp, "var_samp_d"),
            ("variance:d", AggKind::VarSamp, "variance_d"),
            ("var_pop:d", AggKind::VarPop, "var_pop_d"),
            ("stddev_samp:d", AggKind::StddevSamp, "stddev_samp_d"),
            ("stddev:d=sd", AggKind::StddevSamp, "sd"),
            ("stddev_pop:d", AggKind::StddevPop, "stddev_pop_d"),
            ("count_distinct:d", AggKind::Distinct, "count_distinct_d"),
        ] {
            let a: AggSpec = spec.parse().unwrap();
            assert_eq!((a.kind, a.column.as_deref(), a.name.as_str()), (kind, Some("d"), name));
            assert_eq!(a.kind.is_moment(), name != "count_distinct_d", "{spec}");
        }
        for (spec, kind, column, name, p) in [
            ("median:d", AggKind::Median, "d", "median_d", 0.5),
            ("quantile:d:0.95", AggKind::QuantileCont, "d", "quantile_d_0.95", 0.95),
            ("quantile_cont:a:b:.25=q", AggKind::QuantileCont, "a:b", "q", 0.25),
            ("quantile_disc:d:1", AggKind::QuantileDisc, "d", "quantile_disc_d_1", 1.0),
            ("quantile_disc:d:0", AggKind::QuantileDisc, "d", "quantile_disc_d_0", 0.0),
        ] {
            let a: AggSpec = spec.parse().unwrap();
            assert_eq!((a.kind, a.column.as_deref(), a.name.as_str()), (kind, Some(column), name));
            assert_eq!(a.fraction.map(Fraction::value), Some(p), "{spec}");
            assert!(a.kind.is_quantile() && !a.kind.is_moment());
        }
        for bad in
            ["quantile:d", "quantile:d:", "quantile:d:1.01", "quantile:d:-0.1", "quantile:d:x"]
        {
            let e = bad.parse::<AggSpec>().unwrap_err().to_string();
            assert!(e.contains("fraction"), "{bad}: {e}");
        }
        assert_eq!(Fraction::parse("0.95").unwrap().ceil_times(20), 19);
        assert_eq!(Fraction::parse("0.95").unwrap().ceil_times(21), 20);
        let e = "stddev".parse::<AggSpec>().unwrap_err().to_string();
        assert!(e.contains("needs a column"), "{e}");
        let e = "std:x".parse::<AggSpec>().unwrap_err().to_string();
        assert!(e.contains("stddev_samp:col, stddev_pop:col"), "{e}");
    }
}
