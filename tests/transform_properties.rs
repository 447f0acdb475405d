//! Property tests for the jq transforms: the same bytes for any thread
//! count, chunk size and in-flight window, equal to references computed
//! here without fanfold.
//!
//! - G: `--filter '.a > T'` (the fast path) and the same question through
//!   jaq keep exactly the rows a reference implementation of jq's ordering
//!   keeps (null < numbers < strings), byte for byte.
//! - H: `--map` fanning each row out into two records with different keys
//!   writes the union header and the rows a reference builds by hand.
//! - I: a custom `--reduce-*` sum per key equals the exact per-key sums, for
//!   any chunking (partials merge in input order).
//!
//! `PROPTEST_CASES=n` overrides the case counts.

use std::collections::BTreeMap;

use fanfold::{ChunkLimit, CustomSpec, Input, Pipeline, PipelineBuilder, ReduceSpec, Step};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

const CASES: u32 = 48;

fn config() -> ProptestConfig {
    let default = ProptestConfig::default();
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() { default.cases } else { CASES };
    ProptestConfig { cases, failure_persistence: None, ..default }
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    threads: usize,
    chunk: ChunkLimit,
    max_in_flight: usize,
}

fn settings() -> impl Strategy<Value = Settings> {
    let chunk = prop_oneof![
        (1usize..=7).prop_map(ChunkLimit::Records),
        (1usize..=200).prop_map(ChunkLimit::Bytes),
    ];
    (1usize..=4, chunk, 1usize..=5).prop_map(|(threads, chunk, max_in_flight)| Settings {
        threads,
        chunk,
        max_in_flight,
    })
}

/// A value of column `a`: an integer, a decimal with 1–2 places, empty, or
/// a word (which jq orders after every number).
fn amount() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (-500i64..500).prop_map(|n| n.to_string()),
        3 => (-50000i64..50000, 1u32..=2).prop_map(|(n, places)| {
            let scale = 10i64.pow(places);
            let sign = if n < 0 { "-" } else { "" };
            let (whole, frac) = (n.abs() / scale, n.abs() % scale);
            format!("{sign}{whole}.{frac:0width$}", width = places as usize)
        }),
        1 => Just(String::new()),
        1 => "[a-z]{1,4}",
    ]
}

fn rows() -> impl Strategy<Value = Vec<(String, String)>> {
    vec(("[a-c]", amount()), 0..40)
}

fn csv_text(rows: &[(String, String)]) -> String {
    let mut text = String::from("k,a\n");
    for (k, a) in rows {
        text.push_str(&format!("{k},{a}\n"));
    }
    text
}

fn run(
    text: &str,
    pipeline: impl FnOnce(PipelineBuilder) -> PipelineBuilder,
    s: Settings,
) -> Result<String, TestCaseError> {
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let path = dir.path().join("in.csv");
    std::fs::write(&path, text).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let base = Pipeline::builder()
        .input(Input::Path(path))
        .threads(s.threads)
        .chunk(s.chunk)
        .max_in_flight(s.max_in_flight);
    let built = pipeline(base).build().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut out = Vec::new();
    built.run(&mut out, "<memory>").map_err(|e| TestCaseError::fail(e.to_string()))?;
    String::from_utf8(out).map_err(|e| TestCaseError::fail(e.to_string()))
}

/// jq's `.a > t` for a CSV field: empty is null (below every number), a
/// word is a string (above every number), else compare the numbers.
fn jq_greater(a: &str, t: f64) -> bool {
    if a.is_empty() {
        false
    } else {
        a.parse::<f64>().map_or(true, |v| v > t)
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn g_filter_matches_jq_order(rows in rows(), t in -600i64..600, s in settings()) {
        let text = csv_text(&rows);
        let mut expected = String::from("k,a\n");
        for (k, a) in &rows {
            if jq_greater(a, t as f64) {
                expected.push_str(&format!("{k},{a}\n"));
            }
        }
        let fast = format!(".a > {t}");
        let slow = format!("select(.a > {t}) | true");
        for code in [fast, slow] {
            let got = run(&text, |p| p.filter(code.clone()), s)?;
            prop_assert_eq!(&got, &expected, "filter `{}`", code);
        }
    }

    #[test]
    fn h_map_fan_out_writes_the_union_header(rows in rows(), s in settings()) {
        let text = csv_text(&rows);
        let step = Step::Map("{k, x: .a}, {k, y: 1}".into());
        let got = run(&text, |p| p.step(step), s)?;
        let mut expected = if rows.is_empty() { String::new() } else { String::from("k,x,y\n") };
        for (k, a) in &rows {
            // A word is a string, written back as its text; numbers keep
            // their digits; empty is null, an empty field.
            expected.push_str(&format!("{k},{a},\n{k},,1\n"));
        }
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn i_custom_reduce_sums_per_key(rows in vec(("[a-c]", -1000i64..1000), 0..40), s in settings()) {
        let text = {
            let mut t = String::from("k,a\n");
            for (k, a) in &rows {
                t.push_str(&format!("{k},{a}\n"));
            }
            t
        };
        let spec = CustomSpec {
            init: "{}".into(),
            update: ".[$record.k] += $record.a".into(),
            merge: "reduce ($right | to_entries[]) as $e ($left; .[$e.key] += $e.value)".into(),
            finish: "to_entries | sort_by(.key)[] | {k: .key, sum: .value}".into(),
        };
        let got = run(&text, |p| p.reduce(ReduceSpec::Custom(spec)), s)?;
        let mut sums: BTreeMap<&str, i64> = BTreeMap::new();
        for (k, a) in &rows {
            *sums.entry(k).or_default() += a;
        }
        let mut expected = if sums.is_empty() { String::new() } else { String::from("k,sum\n") };
        for (k, v) in sums {
            expected.push_str(&format!("{k},{v}\n"));
        }
        prop_assert_eq!(got, expected);
    }
}
