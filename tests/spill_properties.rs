//! Property tests for the external merge sort: under any `--memory-limit`
//! (tiny ones spill after every chunk), any thread count, chunk size and
//! in-flight window, a sort writes exactly the bytes of the unlimited,
//! sequential run, and leaves nothing in `--temp-dir`.
//!
//! - G: through [`Pipeline`], with random small memory limits.
//! - H: through [`Pipeline::run_with`] and [`Sorted::with_spill`], with
//!   random budgets and merge fan-ins from 2 (many merge passes).
//!
//! And the same for a group-by with every aggregate, on keys from a few
//! groups to one group per record:
//!
//! - I: through [`Pipeline`], with random small memory limits.
//! - J: through [`Pipeline::run_with`] and [`GroupBy::with_spill`], with
//!   random budgets and fan-ins from 2.
//!
//! `PROPTEST_CASES=n` overrides the case counts.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use fanfold::__bench::{GroupBy, Sorted, SpillOptions, SpillStats};
use fanfold::{
    AggSpec, ChunkLimit, Format, Input, Pipeline, PipelineBuilder, Setting, SortKeySpec,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestCaseError;

type TestResult<T = ()> = Result<T, TestCaseError>;

/// `cases` cases unless `PROPTEST_CASES` asks for more (or fewer); no
/// failure persistence (this file must not create files in the
/// repository).
fn config(cases: u32) -> ProptestConfig {
    let default = ProptestConfig::default();
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() { default.cases } else { cases };
    ProptestConfig { cases, failure_persistence: None, ..default }
}

/// One row: a numeric key with many ties (or missing: empty or `NA`),
/// and a text key that may need quoting.
fn row() -> impl Strategy<Value = (Option<i32>, bool, String)> {
    let text = prop_oneof![
        select(vec!["a", "b", "B", "ä", "a,b", "x\"y", "two\nlines", "", "é€"])
            .prop_map(String::from),
        "[a-c]{0,3}",
    ];
    (prop::option::weighted(0.9, -20i32..20), any::<bool>(), text)
}

/// A CSV table of `rows`, with an `id` column in input order (which
/// makes any instability visible).
fn table(rows: &[(Option<i32>, bool, String)]) -> String {
    let mut csv = String::from("id,k,t\n");
    for (i, (k, na, t)) in rows.iter().enumerate() {
        let k = match (k, na) {
            (Some(v), _) => format!("{}{}", v, if i % 3 == 0 { ".5" } else { "" }),
            (None, true) => "NA".into(),
            (None, false) => String::new(),
        };
        let needs_quotes = t.contains([',', '"', '\n']);
        let t = if needs_quotes { format!("\"{}\"", t.replace('"', "\"\"")) } else { t.clone() };
        csv.push_str(&format!("{i},{k},{t}\n"));
    }
    csv
}

fn sort_keys() -> impl Strategy<Value = Vec<SortKeySpec>> {
    select(vec!["k:n", "k:n:desc", "t", "t:desc,k:n", "k:n,t:desc", "k,t"])
        .prop_map(|s| s.split(',').map(|k| k.parse().expect("a valid key")).collect())
}

fn chunk_limit() -> impl Strategy<Value = ChunkLimit> {
    prop_oneof![
        (1usize..=40).prop_map(ChunkLimit::Records),
        (50usize..=3000).prop_map(ChunkLimit::Bytes),
    ]
}

#[derive(Debug, Clone)]
struct Settings {
    threads: usize,
    chunk: ChunkLimit,
    max_in_flight: usize,
    ndjson: bool,
}

fn settings() -> impl Strategy<Value = Settings> {
    (1usize..=4, chunk_limit(), 1usize..=5, any::<bool>()).prop_map(
        |(threads, chunk, max_in_flight, ndjson)| Settings {
            threads,
            chunk,
            max_in_flight,
            ndjson,
        },
    )
}

/// The run of `s` over the CSV at `path`, before its reducer.
fn builder(path: &Path, s: &Settings) -> PipelineBuilder {
    Pipeline::builder()
        .input(Input::Path(path.to_path_buf()))
        .input_format(Format::Csv)
        .output_format(if s.ndjson { Format::Ndjson } else { Format::Csv })
        .chunk(s.chunk)
        .threads(s.threads)
        .max_in_flight(s.max_in_flight)
        .null_markers(["NA"])
}

fn pipeline(path: &Path, keys: &[SortKeySpec], s: &Settings) -> PipelineBuilder {
    builder(path, s).sort_by(keys.iter().cloned())
}

/// The settings of the unlimited sequential run: one thread, one chunk in
/// flight.
fn sequential(ndjson: bool) -> Settings {
    Settings { threads: 1, chunk: ChunkLimit::Bytes(1 << 20), max_in_flight: 1, ndjson }
}

/// The output of `b` with no memory limit.
fn unlimited(b: PipelineBuilder) -> TestResult<Vec<u8>> {
    let p = b
        .memory_limit(u64::MAX)
        .build()
        .map_err(|e| TestCaseError::fail(format!("baseline: {e}")))?;
    let mut out = Vec::new();
    p.run(&mut out, "<mem>").map_err(|e| TestCaseError::fail(format!("baseline: {e}")))?;
    Ok(out)
}

/// The unlimited sequential sort.
fn baseline(path: &Path, keys: &[SortKeySpec], ndjson: bool) -> TestResult<Vec<u8>> {
    unlimited(pipeline(path, keys, &sequential(ndjson)))
}

fn write_input(dir: &Path, csv: &str) -> TestResult<PathBuf> {
    let path = dir.join("in.csv");
    std::fs::write(&path, csv).map_err(|e| TestCaseError::fail(e.to_string()))?;
    Ok(path)
}

fn assert_empty(dir: &Path) -> TestResult {
    let left = std::fs::read_dir(dir).map_err(|e| TestCaseError::fail(e.to_string()))?.count();
    prop_assert_eq!(left, 0, "files left in the temp dir");
    Ok(())
}

proptest! {
    #![proptest_config(config(48))]

    /// G: any memory limit gives the unlimited run's bytes.
    #[test]
    fn any_memory_limit_gives_the_unlimited_bytes(
        rows in vec(row(), 0..400),
        keys in sort_keys(),
        s in settings(),
        limit in prop_oneof![1u64..=2_000, 2_000u64..=200_000],
    ) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let temp = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let path = write_input(dir.path(), &table(&rows))?;
        let expected = baseline(&path, &keys, s.ndjson)?;
        let p = pipeline(&path, &keys, &s)
            .memory_limit(limit)
            .temp_dir(temp.path())
            .build()
            .map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let mut out = Vec::new();
        let stats = p.run(&mut out, "<mem>").map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert!(out == expected, "limit {} with {:?}: output differs", limit, s);
        // Under 200 bytes, even one small record's run passes the budget.
        if limit < 200 && !rows.is_empty() {
            prop_assert!(stats.spilled_runs > 0, "limit {} did not spill", limit);
        }
        assert_empty(temp.path())?;
    }

    /// H: any budget and fan-in (merge passes) give the in-memory bytes.
    #[test]
    fn any_budget_and_fan_in_give_the_in_memory_bytes(
        rows in vec(row(), 0..400),
        keys in sort_keys(),
        s in settings(),
        budget in prop_oneof![1u64..=100, 100u64..=60_000],
        fan_in in 2usize..=5,
    ) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let temp = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let path = write_input(dir.path(), &table(&rows))?;
        let expected = baseline(&path, &keys, s.ndjson)?;
        let stats = Arc::new(SpillStats::default());
        let opts = SpillOptions { budget, dir: temp.path().to_path_buf(), fan_in };
        let mut out = Vec::new();
        let p = pipeline(&path, &keys, &s).build().map_err(|e| TestCaseError::fail(format!("{e}")))?;
        p.run_with(&mut out, "<mem>", |layout, enc| {
            let resolved = keys
                .iter()
                .map(|k| Ok((layout.resolve(Setting::SortBy, &k.column)?, k.clone())))
                .collect::<fanfold::Result<Vec<_>>>()?;
            Ok(Sorted::new(resolved, enc, vec![b"NA".to_vec()])
                .with_merge_threads(s.threads)
                .with_spill(opts, stats.clone()))
        })
        .map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert!(
            out == expected,
            "budget {} fan-in {} with {:?} ({} runs spilled): output differs",
            budget, fan_in, s, stats.runs.load(Relaxed)
        );
        assert_empty(temp.path())?;
    }
}

/// Group keys: a few groups (`k`), many (`t`, `k,t`), one per record
/// (`id`).
fn group_keys() -> impl Strategy<Value = Vec<&'static str>> {
    select(vec![vec!["k"], vec!["t"], vec!["k", "t"], vec!["id"], vec!["t", "id"]])
}

/// Every aggregate, over the numeric and the text column.
const AGGS: &[&str] = &[
    "count",
    "count:k",
    "sum:k",
    "mean:k",
    "min:t",
    "max:k",
    "min:k",
    "max:t",
    "distinct:t",
    "mode:t",
    "mode:k",
    "first:t",
    "last:k",
    "var_samp:k",
    "stddev_pop:k",
    "median:k",
    "quantile_disc:k:0.9",
    "quantile:k:0.25",
    "approx_distinct:t",
    "approx_quantile:k:0.5",
];

/// The aggregates a group-by adds in batches of records (counts, sums and
/// the sums of squares of the variances).
const BATCHED_AGGS: &[&str] =
    &["count", "count:k", "sum:k", "mean:k", "var_pop:k", "stddev_samp:k"];

fn aggs(list: &[&str]) -> Vec<AggSpec> {
    list.iter().map(|a| a.parse().expect("a valid aggregate")).collect()
}

fn group_pipeline(path: &Path, keys: &[&str], list: &[&str], s: &Settings) -> PipelineBuilder {
    aggs(list).into_iter().fold(builder(path, s).group_by(keys.iter().copied()), |b, a| b.agg(a))
}

/// The unlimited sequential group-by.
fn group_baseline(path: &Path, keys: &[&str], list: &[&str], ndjson: bool) -> TestResult<Vec<u8>> {
    unlimited(group_pipeline(path, keys, list, &sequential(ndjson)))
}

proptest! {
    #![proptest_config(config(48))]

    /// I: a group-by under any memory limit gives the unlimited run's
    /// bytes.
    #[test]
    fn group_by_under_any_memory_limit_gives_the_unlimited_bytes(
        rows in vec(row(), 0..400),
        keys in group_keys(),
        s in settings(),
        limit in prop_oneof![1u64..=2_000, 2_000u64..=200_000],
    ) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let temp = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let path = write_input(dir.path(), &table(&rows))?;
        let expected = group_baseline(&path, &keys, AGGS, s.ndjson)?;
        let p = group_pipeline(&path, &keys, AGGS, &s)
            .memory_limit(limit)
            .temp_dir(temp.path())
            .build()
            .map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let mut out = Vec::new();
        let stats = p.run(&mut out, "<mem>").map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert!(
            out == expected,
            "limit {} with {:?} ({} runs spilled): output differs",
            limit, s, stats.spilled_runs
        );
        // A tiny budget cannot hold even one table's first growth.
        if limit < 200 && rows.len() > 50 {
            prop_assert!(stats.spilled_runs > 0, "limit {} did not spill", limit);
        }
        assert_empty(temp.path())?;
    }

    /// J: a group-by under any budget and fan-in (merge passes), its
    /// records added one at a time or in batches, gives the in-memory
    /// bytes.
    #[test]
    fn group_by_under_any_budget_and_fan_in_gives_the_in_memory_bytes(
        rows in vec(row(), 0..400),
        keys in group_keys(),
        s in settings(),
        budget in prop_oneof![1u64..=100, 100u64..=60_000],
        fan_in in 2usize..=5,
        batched in any::<bool>(),
    ) {
        // Counts and sums alone, added in batches from the first group
        // on, against the baseline's record at a time (its tables are
        // too small for batches).
        let list = if batched { BATCHED_AGGS } else { AGGS };
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let temp = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let path = write_input(dir.path(), &table(&rows))?;
        let expected = group_baseline(&path, &keys, list, s.ndjson)?;
        let stats = Arc::new(SpillStats::default());
        let opts = SpillOptions { budget, dir: temp.path().to_path_buf(), fan_in };
        let mut out = Vec::new();
        let p = group_pipeline(&path, &keys, list, &s)
            .build()
            .map_err(|e| TestCaseError::fail(format!("{e}")))?;
        p.run_with(&mut out, "<mem>", |layout, enc| {
            let keys = keys
                .iter()
                .map(|k| layout.resolve(Setting::GroupBy, k))
                .collect::<fanfold::Result<Vec<_>>>()?;
            let aggs = aggs(list)
                .into_iter()
                .map(|a| {
                    let col = a.column.as_ref().map(|c| layout.resolve(Setting::Agg, c)).transpose()?;
                    Ok((a, col))
                })
                .collect::<fanfold::Result<Vec<_>>>()?;
            Ok(GroupBy::new(keys, aggs, enc, vec![b"NA".to_vec()])
                .with_batches_from(if batched { 0 } else { usize::MAX })
                .with_memory_limit(budget, budget)
                .with_spill(opts, stats.clone()))
        })
        .map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let runs = stats.runs.load(Relaxed);
        prop_assert!(
            out == expected,
            "budget {} fan-in {} batched {} with {:?} ({} runs spilled): output differs",
            budget, fan_in, batched, s, runs
        );
        if budget <= 100 && rows.len() > 50 {
            prop_assert!(runs > 0, "budget {} did not spill", budget);
        }
        assert_empty(temp.path())?;
    }
}
