//! Bad records: `--on-error fail|skip|reject`, `--rejects`, `--max-errors`,
//! the accounting in `--stats-json`, and exit status 3.
//!
//! The property at the end corrupts random lines of a clean table and
//! checks, for any threads and chunk sizes, that every corrupted line is
//! rejected exactly once (in input order, with its line and byte offset),
//! that the result equals the clean lines' result, and that read = kept +
//! filtered + rejected.

use std::path::Path;

use assert_cmd::Command;
use proptest::prelude::*;

fn fanfold(args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("fanfold").expect("the fanfold binary is built");
    cmd.current_dir(Path::new(env!("CARGO_MANIFEST_DIR"))).args(args);
    cmd
}

/// Runs fanfold; returns (exit code, stdout, stderr).
fn run(args: &[&str], stdin: &str) -> (i32, String, String) {
    let out = fanfold(args).write_stdin(stdin).output().expect("fanfold runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("UTF-8"),
        String::from_utf8(out.stderr).expect("UTF-8"),
    )
}

const DIRTY: &str = "a,b\n1,2\n3\n4,x\n5,6,7\n\"u,v\",8\n";

#[test]
fn fail_is_the_default_and_names_the_first_bad_record() {
    let (code, _, err) = run(&["--agg", "sum:b"], DIRTY);
    assert_eq!(code, 1);
    assert_eq!(err, "fanfold: error: <stdin>:3: expected 2 fields (as in the header), found 1\n");
}

#[test]
fn skip_drops_and_counts() {
    let (code, out, err) = run(&["--on-error", "skip", "--agg", "sum:b", "--agg", "count"], DIRTY);
    assert_eq!(code, 3, "status 3: finished, records set aside");
    assert_eq!(out, "sum_b,count\n10,2\n");
    assert_eq!(err, "fanfold: 3 of 5 records rejected (skipped)\n");
    // Concat keeps `4,x`: nothing needs it to be a number.
    let (code, out, _) = run(&["--on-error", "skip"], DIRTY);
    assert_eq!((code, out.as_str()), (3, "a,b\n1,2\n4,x\n\"u,v\",8\n"));
}

/// A record rejected for its second sum leaves no trace of its first: the
/// next record, whose first sum column is empty, adds nothing to it.
#[test]
fn a_rejected_record_adds_to_none_of_its_sums() {
    let input = "g,a,b\nk,1,x\nk,,2\n";
    let args = ["--group-by", "g", "--agg", "sum:a", "--agg", "sum:b", "--on-error", "skip"];
    let (code, out, _) = run(&args, input);
    assert_eq!(code, 3);
    assert_eq!(out, "g,sum_a,sum_b\nk,,2\n");
}

#[test]
fn reject_writes_each_bad_record_with_its_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rejects = dir.path().join("rejects.ndjson");
    let stats = dir.path().join("stats.json");
    let r = rejects.to_str().expect("path");
    let s = stats.to_str().expect("path");
    let args = [
        "--on-error",
        "reject",
        "--rejects",
        r,
        "--stats-json",
        s,
        "--agg",
        "sum:b",
        "-j",
        "2",
        "--chunk-size",
        "1",
    ];
    let (code, out, err) = run(&args, DIRTY);
    assert_eq!(code, 3);
    assert_eq!(out, "sum_b\n10\n");
    assert_eq!(err, format!("fanfold: 3 of 5 records rejected (written to {r})\n"));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&rejects)
        .expect("rejects file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let summary: Vec<(u64, u64, &str, &str)> = lines
        .iter()
        .map(|v| {
            (
                v["line"].as_u64().unwrap(),
                v["byte"].as_u64().unwrap(),
                v["kind"].as_str().unwrap(),
                v["record"].as_str().unwrap(),
            )
        })
        .collect();
    // Byte offsets count the header (4 bytes) and earlier lines.
    assert_eq!(
        summary,
        vec![
            (3, 8, "field_count", "3"),
            (4, 10, "not_numeric", "4,x"),
            (5, 14, "field_count", "5,6,7")
        ]
    );
    assert_eq!(lines[1]["message"], "<stdin>:4: column `b`: `x` is not a number (sum:b)");
    assert_eq!(lines[0]["input"], "<stdin>");
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).expect("stats")).expect("JSON");
    assert_eq!(stats["records_read"], 5);
    assert_eq!(stats["records_rejected"], 3);
    assert_eq!(stats["records_filtered"], 0);
}

#[test]
fn transform_and_json_errors_are_rejected_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rejects = dir.path().join("r.ndjson");
    let r = rejects.to_str().expect("path");
    let input = "{\"a\":1}\n{\"a\":\"x\"}\n{\"a\":\n{\"a\":3}\n";
    let args = [
        "--input-format",
        "ndjson",
        "--on-error",
        "reject",
        "--rejects",
        r,
        "--map",
        ".b = .a + 1",
    ];
    let (code, out, _) = run(&args, input);
    assert_eq!(code, 3);
    assert_eq!(out, "{\"a\":1,\"b\":2}\n{\"a\":3,\"b\":4}\n");
    let text = std::fs::read_to_string(&rejects).expect("rejects");
    let kinds: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON")["kind"].to_string())
        .collect();
    assert_eq!(kinds, ["\"transform\"", "\"json\""]);
}

#[test]
fn max_errors_stops_the_run_and_leaves_no_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out.csv");
    let o = out.to_str().expect("path");
    // The message counts record by record: the same for any chunking.
    for extra in [&[][..], &["-j", "2", "--chunk-size", "1"], &["--chunk-size", "2"]] {
        let args = [&["--on-error", "skip", "--max-errors", "1", "-o", o][..], extra].concat();
        let (code, _, err) = run(&args, DIRTY);
        assert_eq!(code, 1);
        assert_eq!(err, "fanfold: error: --max-errors 1: 2 records rejected of 4 read; stopped\n");
        assert!(!out.exists(), "no output file after an aborted run");
    }
    // A percentage is checked at the end: 1 of 5 is 20%.
    let (code, _, _) =
        run(&["--on-error", "skip", "--max-errors", "20%"], "a,b\n1,2\n3\n4,5\n6,7\n8,9\n");
    assert_eq!(code, 3);
    let (code, _, err) =
        run(&["--on-error", "skip", "--max-errors", "19%"], "a,b\n1,2\n3\n4,5\n6,7\n8,9\n");
    assert_eq!(code, 1, "{err}");
    let (code, _, err) = run(&["--on-error", "reject"], DIRTY);
    assert_eq!(code, 2, "reject needs --rejects: {err}");
}

/// A clean row (key, amount) or one of three corruptions.
#[derive(Debug, Clone)]
enum Row {
    Good(u8, i32),
    MissingField(u8),
    ExtraField(u8, i32),
    NotNumber(u8),
}

fn row() -> impl Strategy<Value = Row> {
    prop_oneof![
        6 => (0u8..3, -999i32..999).prop_map(|(k, a)| Row::Good(k, a)),
        1 => (0u8..3).prop_map(Row::MissingField),
        1 => (0u8..3, 0i32..9).prop_map(|(k, a)| Row::ExtraField(k, a)),
        1 => (0u8..3).prop_map(Row::NotNumber),
    ]
}

fn line(r: &Row) -> String {
    match r {
        Row::Good(k, a) => format!("k{k},{a}"),
        Row::MissingField(k) => format!("k{k}"),
        Row::ExtraField(k, a) => format!("k{k},{a},extra"),
        Row::NotNumber(k) => format!("k{k},n/a"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() { ProptestConfig::default().cases } else { 24 },
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_bad_record_is_rejected_once(
        rows in proptest::collection::vec(row(), 1..40),
        threads in 1usize..=3,
        chunk in 1usize..=5,
    ) {
        let mut text = String::from("k,amount\n");
        let mut expected_rejects = Vec::new();
        let mut sums = std::collections::BTreeMap::<String, i64>::new();
        let mut offset = text.len();
        for (i, r) in rows.iter().enumerate() {
            let l = line(r);
            match r {
                Row::Good(k, a) => *sums.entry(format!("k{k}")).or_default() += i64::from(*a),
                _ => expected_rejects.push((i as u64 + 2, offset as u64, l.clone())),
            }
            offset += l.len() + 1;
            text.push_str(&l);
            text.push('\n');
        }
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let rejects = dir.path().join("r.ndjson");
        let stats = dir.path().join("s.json");
        let (t, c) = (threads.to_string(), chunk.to_string());
        let args = [
            "--on-error", "reject", "--rejects", rejects.to_str().unwrap(),
            "--stats-json", stats.to_str().unwrap(),
            "--group-by", "k", "--agg", "sum:amount", "-j", &t, "--chunk-size", &c,
        ];
        let (code, out, _) = run(&args, &text);
        prop_assert_eq!(code, if expected_rejects.is_empty() { 0 } else { 3 });
        let mut expected = String::from("k,sum_amount\n");
        for (k, v) in &sums {
            expected.push_str(&format!("{k},{v}\n"));
        }
        if sums.is_empty() {
            expected = String::from("k,sum_amount\n");
        }
        prop_assert_eq!(out, expected);
        let got: Vec<(u64, u64, String)> = std::fs::read_to_string(&rejects)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (v["line"].as_u64().unwrap(), v["byte"].as_u64().unwrap(), v["record"].as_str().unwrap().to_string())
            })
            .collect();
        prop_assert_eq!(&got, &expected_rejects);
        let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
        let read = s["records_read"].as_u64().unwrap();
        let rejected = s["records_rejected"].as_u64().unwrap();
        let filtered = s["records_filtered"].as_u64().unwrap();
        let kept = rows.iter().filter(|r| matches!(r, Row::Good(..))).count() as u64;
        prop_assert_eq!(read, rows.len() as u64);
        prop_assert_eq!(read, kept + filtered + rejected);
    }
}
