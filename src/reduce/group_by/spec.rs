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
        }
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
    /// The result's column name (default `kind_column`, or `count`).
    pub name: String,
}

impl FromStr for AggSpec {
    type Err = Error;

    /// Parses `count`, `count:col`, `sum:col`, `mean:col` (alias `avg`),
    /// `min:col`, `max:col`, `count_distinct:col` (alias `distinct`),
    /// `mode:col`, `first:col`, `last:col`, `var_samp:col` (alias
    /// `variance`), `var_pop:col`, `stddev_samp:col` (alias `stddev`) and
    /// `stddev_pop:col`, each with an optional `=name`.
    fn from_str(s: &str) -> Result<Self> {
        let (body, name) = match s.split_once('=') {
            Some((b, n)) if !n.is_empty() => (b, Some(n.to_string())),
            Some(_) => {
                return Err(Error::setting(Setting::Agg, format!("`{s}`: empty name after `=`")))
            }
            None => (s, None),
        };
        let (kind_str, column) = match body.split_once(':') {
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
            other => {
                return Err(Error::setting(
                    Setting::Agg,
                    format!(
                        "`{s}`: unknown aggregate `{other}`; use count, count:col, sum:col, \
                         mean:col, min:col, max:col, count_distinct:col, mode:col, first:col, \
                         last:col, var_samp:col, var_pop:col, stddev_samp:col or stddev_pop:col"
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
        let name = name.unwrap_or_else(|| match &column {
            Some(c) => format!("{kind_str}_{c}"),
            None => "count".to_string(),
        });
        Ok(AggSpec { kind, column, name })
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
        assert!("median:x"
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
        let e = "median:x".parse::<AggSpec>().unwrap_err().to_string();
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
        let e = "stddev".parse::<AggSpec>().unwrap_err().to_string();
        assert!(e.contains("needs a column"), "{e}");
        let e = "std:x".parse::<AggSpec>().unwrap_err().to_string();
        assert!(e.contains("stddev_samp:col or stddev_pop:col"), "{e}");
    }
}
