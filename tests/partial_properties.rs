//! Property tests for partial lines: a table cut into any number of
//! splits (by records, the splits after the first without a header), each
//! mapped at any chunk size and thread count (the same lines, byte for
//! byte, as a sequential map, but for `approx_quantile`'s sketch), the
//! lines reduced in any
//! order (or sorted, with `sorted_partials`), or combined in groups first,
//! gives the bytes of one sequential run over the whole table: for a
//! group-by with every aggregate, a sort and a top-K per group.
//!
//! `PROPTEST_CASES=n` overrides the case count.

use fanfold::{
    AggKind, AggSpec, Input, PartialStep, Pipeline, PipelineBuilder, ReduceSpec, SortKeySpec,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestCaseError;

fn config(cases: u32) -> ProptestConfig {
    let default = ProptestConfig::default();
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() { default.cases } else { cases };
    ProptestConfig { cases, failure_persistence: None, ..default }
}

/// One row: a key from few groups (or missing), a value that may be a
/// decimal, an integer, empty or `NA`, and a text.
fn row() -> impl Strategy<Value = (String, String, String)> {
    let key = select(vec!["a", "b", "10", "9", "2.50", "", "NA", "ä"]).prop_map(String::from);
    let value = prop_oneof![
        (-50i32..50).prop_map(|v| v.to_string()),
        (-5000i32..5000).prop_map(|v| format!("{}.{:02}", v / 100, v.unsigned_abs() % 100)),
        select(vec!["", "NA", "1.5", "1.50"]).prop_map(String::from),
    ];
    let text = select(vec!["x", "y", "z z", "\"q,\"\"\"", "", "w"]).prop_map(String::from);
    (key, value, text)
}

const HEADER: &str = "k,v,t";

fn line((k, v, t): &(String, String, String)) -> String {
    format!("{k},{v},{t}\n")
}

/// The pipeline of `reduce` over `input`, `--null NA`, with `chunk` records
/// per chunk on `threads` threads.
fn builder(reduce: &ReduceSpec, input: Vec<u8>, chunk: usize, threads: usize) -> PipelineBuilder {
    Pipeline::builder()
        .input(Input::reader("mem", std::io::Cursor::new(input)))
        .reduce(reduce.clone())
        .null_markers(["NA"])
        .chunk_records(chunk)
        .threads(threads)
}

fn run(b: PipelineBuilder) -> Result<Vec<u8>, TestCaseError> {
    let pipeline = b.build().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut out = Vec::new();
    pipeline.run(&mut out, "<memory>").map_err(|e| TestCaseError::fail(e.to_string()))?;
    Ok(out)
}

fn reducers() -> Vec<ReduceSpec> {
    let aggs = "count,count:v,sum:v,mean:v,min:v,max:v,min:t,max:t,count_distinct:t,mode:v,\
                first:t,last:t,var_samp:v,stddev_pop:v,median:v,quantile_disc:v:0.3,\
                approx_distinct:t,approx_quantile:v:0.5";
    let aggs: Vec<AggSpec> = aggs.split(',').map(|a| a.parse().expect("an aggregate")).collect();
    let sort = |s: &str| -> Vec<SortKeySpec> {
        s.split(',').map(|k| k.parse().expect("a sort key")).collect()
    };
    let exact: Vec<AggSpec> =
        aggs.iter().filter(|a| a.kind != AggKind::ApproxQuantile).cloned().collect();
    vec![
        ReduceSpec::GroupBy { keys: vec!["k".into()], aggs: aggs.clone() },
        ReduceSpec::GroupBy { keys: vec!["k".into()], aggs: exact },
        ReduceSpec::GroupBy { keys: vec![], aggs },
        ReduceSpec::Sort(sort("k,t:desc")),
        ReduceSpec::TopK { k: 2, keys: sort("t"), group_by: vec!["k".into()] },
    ]
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn map_combine_reduce_gives_the_bytes_of_one_run(
        rows in vec(row(), 0..60),
        cuts in vec(0usize..60, 0..4),
        chunks in vec(1usize..7, 5),
        threads in 1usize..3,
        shuffle in any::<u64>(),
        sorted in any::<bool>(),
    ) {
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(rows.len())).collect();
        cuts.sort_unstable();
        let mut bounds = vec![0];
        bounds.extend(cuts);
        bounds.push(rows.len());
        for reduce in reducers() {
            let whole: String =
                std::iter::once(format!("{HEADER}\n")).chain(rows.iter().map(line)).collect();
            let expected = run(builder(&reduce, whole.into_bytes(), 1000, 1))?;
            let mut lines: Vec<String> = Vec::new();
            for (i, pair) in bounds.windows(2).enumerate() {
                // Only the first split holds the header line.
                let head = if i == 0 { format!("{HEADER}\n") } else { String::new() };
                let split: String =
                    std::iter::once(head).chain(rows[pair[0]..pair[1]].iter().map(line)).collect();
                let map = |chunk, threads| {
                    builder(&reduce, split.clone().into_bytes(), chunk, threads)
                        .input_columns(["k", "v", "t"])
                        .partial_step(PartialStep::Map)
                        .split_index(i as u64)
                };
                let out = run(map(chunks[i % 5], threads))?;
                // The same lines, byte for byte, from one sequential run
                // (but for a DDSketch's bucket layout, which follows the
                // order its values came in).
                if !format!("{reduce:?}").contains("ApproxQuantile") {
                    prop_assert_eq!(&out, &run(map(1000, 1))?);
                }
                let out = String::from_utf8(out).map_err(|e| TestCaseError::fail(e.to_string()))?;
                lines.extend(out.lines().map(String::from));
            }
            // The engine's shuffle, or lines in any order.
            if !sorted {
                let n = lines.len().max(1);
                lines.rotate_left((shuffle as usize) % n);
                lines.reverse();
            } else {
                lines.sort_unstable();
            }
            // A combine over the first half, then the reduce over all.
            let half = lines.len() / 2;
            let first: String = lines[..half].iter().map(|l| format!("{l}\n")).collect();
            let combine = builder(&reduce, first.into_bytes(), chunks[0], threads)
                .partial_step(PartialStep::Combine)
                .sorted_partials(sorted);
            let mut combined: Vec<String> = String::from_utf8(run(combine)?)
                .map_err(|e| TestCaseError::fail(e.to_string()))?
                .lines()
                .map(String::from)
                .collect();
            combined.extend(lines[half..].iter().cloned());
            if sorted {
                combined.sort_unstable();
            }
            let all: String = combined.iter().map(|l| format!("{l}\n")).collect();
            let reduced = builder(&reduce, all.into_bytes(), chunks[1], threads)
                .partial_step(PartialStep::Reduce)
                .sorted_partials(sorted);
            let got = run(reduced)?;
            prop_assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&expected),
                "{:?} over {} splits",
                reduce,
                bounds.len() - 1
            );
        }
    }
}
