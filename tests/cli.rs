//! End-to-end tests of the `fanfold` command line.
//!
//! Every test runs the real binary (`assert_cmd`) from the crate root, so
//! fixture paths are relative (`fixtures/edge/ragged.csv`) and appear as
//! such in error messages. Expected outputs are exact bytes: either
//! hard-coded from an independent computation (Python, noted where used) or
//! computed inside the test with an independent method (the `csv` crate and
//! a plain stable sort).
//!
//! Sections: group-by on the flights data, concat and format crossing,
//! projection, sorting, aggregates, edge-case fixtures, JSON arrays,
//! several inputs and standard input, `-o` output files, `--stats`, bad flags, broken pipes.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The crate root, where the fixtures live.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `fanfold` with `args`, run from the crate root.
fn fanfold(args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("fanfold").expect("the fanfold binary is built");
    cmd.current_dir(root()).args(args);
    cmd
}

/// Runs `fanfold args`, asserts success with nothing on stderr, and returns
/// standard output.
fn run_ok(args: &[&str]) -> Vec<u8> {
    let out = fanfold(args).output().expect("fanfold runs");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "fanfold {args:?} failed: {:?}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Like [`run_ok`], returning standard output as a `String`.
fn run_str(args: &[&str]) -> String {
    String::from_utf8(run_ok(args)).expect("output is UTF-8")
}

/// Runs `fanfold args`, asserts it fails with exit code `code`, and returns
/// standard error.
fn run_err(args: &[&str], code: i32) -> String {
    let out = fanfold(args).output().expect("fanfold runs");
    assert_eq!(
        out.status.code(),
        Some(code),
        "fanfold {args:?}: unexpected status; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stderr).expect("stderr is UTF-8")
}

/// The bytes of a file under the crate root.
fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `args` followed by `extra`.
fn with<'a>(args: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    args.iter().chain(extra).copied().collect()
}

/// Writes `contents` to `name` in `dir` and returns the path as a string.
fn write_file(dir: &Path, name: &str, contents: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write a temp file");
    path.to_str().expect("temp paths are UTF-8").to_string()
}

/// The names of the entries of `dir`, sorted.
fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read the temp dir")
        .map(|e| e.expect("a dir entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Chunking and threading settings that must not change any output.
const SETTINGS: &[&[&str]] = &[
    &["--threads", "1"],
    &["--threads", "2", "--chunk-size", "1"],
    &["--chunk-bytes", "64KiB"],
    &["--threads", "3", "--chunk-bytes", "1000", "--max-in-flight", "1"],
    &["--threads", "4", "--chunk-size", "7"],
];

// ---------------------------------------------------------------------------
// Group-by on the flights data
// ---------------------------------------------------------------------------

const FLIGHTS_GROUP_ARGS: &[&str] =
    &["--group-by", "carrier", "--agg", "count", "--agg", "mean:arr_delay", "--null", "NA"];

/// Computed with Python (csv module, `NA` skipped, mean = integer sum / n,
/// printed in shortest round-trip form; Rust prints `12` where Python
/// prints `12.0`).
const FLIGHTS_BY_CARRIER: &str = "\
carrier,count,mean_arr_delay
9E,1157,5.379185520361991
AA,2075,0.3495575221238938
AS,46,7.6521739130434785
B6,3320,2.87971058185107
DL,2734,-6.495045871559633
EV,3072,20.532735127949486
F9,44,16.045454545454547
FL,243,0.8429752066115702
HA,23,44.34782608695652
MQ,1684,5.666466346153846
UA,3445,1.7131987123207493
US,1149,-1.76558384547849
VX,239,-17.21097046413502
WN,737,2.4979591836734696
YV,32,12
";

#[test]
fn flights_group_by_carrier_exact() {
    let out = run_str(&with(&["fixtures/flights.csv"], FLIGHTS_GROUP_ARGS));
    assert_eq!(out, FLIGHTS_BY_CARRIER);
    // The counts add up to the 20,000 rows.
    let total: u64 =
        out.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse::<u64>().unwrap()).sum();
    assert_eq!(total, 20_000);
}

#[test]
fn flights_group_by_is_independent_of_threads_and_chunks() {
    for s in SETTINGS {
        let args = with(&with(&["fixtures/flights.csv"], FLIGHTS_GROUP_ARGS), s);
        assert_eq!(run_str(&args), FLIGHTS_BY_CARRIER, "settings {s:?}");
    }
}

#[test]
fn flights_ndjson_group_by_equals_csv() {
    let args = with(&["fixtures/flights.ndjson", "--output-format", "csv"], FLIGHTS_GROUP_ARGS);
    assert_eq!(run_str(&args), FLIGHTS_BY_CARRIER);
    for s in SETTINGS {
        assert_eq!(run_str(&with(&args, s)), FLIGHTS_BY_CARRIER, "settings {s:?}");
    }
    // NDJSON in, NDJSON out by default: numbers bare, keys quoted.
    let json = run_str(&with(&["fixtures/flights.ndjson"], FLIGHTS_GROUP_ARGS));
    let mut lines = json.lines();
    assert_eq!(
        lines.next(),
        Some(r#"{"carrier":"9E","count":1157,"mean_arr_delay":5.379185520361991}"#)
    );
    assert_eq!(lines.last(), Some(r#"{"carrier":"YV","count":32,"mean_arr_delay":12}"#));
}

#[test]
fn flights_group_by_origin_matches_reference_values() {
    // fixtures/README.md: rows and dep_delay sums per origin.
    let expected = "origin,n,sum_dep_delay\nEWR,7324,87061\nJFK,6827,48043\nLGA,5849,19381\n";
    let args = ["--group-by", "origin", "--agg", "count=n,sum:dep_delay", "--null", "NA"];
    assert_eq!(run_str(&with(&["fixtures/flights.csv"], &args)), expected);
    let args = with(&["fixtures/flights.ndjson", "--output-format", "csv"], &args);
    assert_eq!(run_str(&args), expected);
}

#[test]
fn flights_global_aggregates_match_reference_values() {
    // fixtures/README.md reference table (computed with Python).
    let cases = [
        ("dep_delay", "19822,154485,-30,1301,7.793613157098174"),
        ("arr_delay", "19767,73962,-70,1272,3.741690696615571"),
        ("air_time", "19767,3053544,20,667,154.47685536500228"),
        ("distance", "20000,20226675,80,4983,1011.33375"),
    ];
    for (col, row) in cases {
        let agg = format!("count:{col},sum:{col},min:{col},max:{col},mean:{col}");
        let header = format!("count_{col},sum_{col},min_{col},max_{col},mean_{col}");
        let expected = format!("{header}\n{row}\n");
        for input in ["fixtures/flights.csv", "fixtures/flights.ndjson"] {
            let args = [input, "--agg", &agg, "--null", "NA", "--output-format", "csv"];
            assert_eq!(run_str(&args), expected, "{input} {col}");
        }
    }
    let out = run_str(&["fixtures/flights.csv", "--agg", "distinct:carrier,count"]);
    assert_eq!(out, "distinct_carrier,count\n15,20000\n");
}

#[test]
fn flights_variances_are_the_correctly_rounded_exact_values() {
    // Expected: Python's `fractions` on fixtures/flights.csv (n, Σx, Σx²
    // as exact fractions; `float()` of the exact variance, and `math.sqrt`
    // of that float), the same bits in CSV and NDJSON, any threads.
    let expected = "origin,var_samp_arr_delay,var_pop_arr_delay,stddev_arr_delay,sd\n\
        EWR,1666.8381655246737,1666.607557034701,40.82692941582398,40.8241050977814\n\
        JFK,1433.58544927245,1433.3733176581748,37.862718461204686,37.85991703184484\n\
        LGA,896.3878988501289,896.2328412651349,29.9397377886001,29.93714818190161\n";
    let aggs = "var_samp:arr_delay,var_pop:arr_delay,stddev:arr_delay,stddev_pop:arr_delay=sd";
    for input in ["fixtures/flights.csv", "fixtures/flights.ndjson"] {
        for threads in ["1", "3"] {
            let args = [input, "--group-by", "origin", "--agg", aggs, "--null", "NA"];
            let args = with(&args, &["--output-format", "csv", "--threads", threads]);
            assert_eq!(run_str(&args), expected, "{input} {threads}");
        }
    }
    // Over all records; `variance` is `var_samp`; one value has no sample
    // variance (empty) but a population variance of 0.
    let out = run_str(&["fixtures/flights.csv", "--agg", "variance:dep_delay", "--null", "NA"]);
    assert_eq!(out, "variance_dep_delay\n1123.9757162315568\n");
    let dir = tempfile::tempdir().unwrap();
    let one = write_file(dir.path(), "one.csv", b"x\n5\n");
    let out = run_str(&[&one, "--agg", "var_samp:x,var_pop:x"]);
    assert_eq!(out, "var_samp_x,var_pop_x\n,0\n");
}

#[test]
fn flights_quantiles_equal_duckdbs() {
    // Expected: DuckDB 2.0's median, quantile_cont and quantile_disc on
    // fixtures/flights.csv (read_csv with nullstr 'NA'), group by origin.
    let expected = "origin,median_arr_delay,q95,quantile_disc_arr_delay_0.95,lo,hi\n\
        EWR,-1,82,82,-61,1109\n\
        JFK,-7,53.149999999999636,54,-70,1272\n\
        LGA,-4,50,50,-54,486\n";
    let aggs = "median:arr_delay,quantile:arr_delay:0.95=q95,quantile_disc:arr_delay:0.95,\
                quantile_disc:arr_delay:0=lo,quantile_cont:arr_delay:1=hi";
    for input in ["fixtures/flights.csv", "fixtures/flights.ndjson"] {
        for threads in ["1", "3"] {
            let args = [input, "--group-by", "origin", "--agg", aggs, "--null", "NA"];
            let args = with(&args, &["--output-format", "csv", "--threads", threads]);
            assert_eq!(run_str(&args), expected, "{input} {threads}");
        }
    }
    // A value that is not a number names its place, as a sum does.
    let err = run_err(&["fixtures/flights.csv", "--agg", "median:carrier"], 1);
    assert!(err.contains("flights.csv:2") && err.contains("`UA` is not a number"), "{err}");
}

#[test]
fn nested_ndjson_fields_are_read_by_jq_paths() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        r#"{"user":{"id":2,"name":"b"},"a.b":{"c":1},"amount":5}"#,
        r#"{"user":{"id":1,"name":"a"},"a.b":{"c":2},"amount":7}"#,
        r#"{"user":{"id":2,"name":"b"},"a.b":{"c":1},"amount":1.5}"#,
        r#"{"user":null,"amount":3}"#,
        r#"{"user":{"name":"z","geo":{"city":"X"}},"amount":2}"#,
    ];
    let input = write_file(dir.path(), "nested.ndjson", (lines.join("\n") + "\n").as_bytes());
    // Group by a nested key (missing and null keys last), aggregate nested
    // values; named by their keys.
    let out =
        run_str(&[&input, "--group-by", ".user.id", "--agg", "count,sum:amount,max:.user.name"]);
    assert_eq!(
        out,
        "{\"user.id\":1,\"count\":1,\"sum_amount\":7,\"max_user.name\":\"a\"}\n\
         {\"user.id\":2,\"count\":2,\"sum_amount\":6.5,\"max_user.name\":\"b\"}\n\
         {\"user.id\":null,\"count\":2,\"sum_amount\":5,\"max_user.name\":\"z\"}\n"
    );
    // A quoted key that holds a dot; CSV output.
    let out = run_str(&[&input, "--group-by", r#"."a.b".c"#, "--output-format", "csv"]);
    assert_eq!(out, "a.b.c,count\n1,2\n2,1\n,2\n");
    // Sort by a nested key, numerically, descending (missing last).
    let out = run_str(&[&input, "--sort-by", ".user.id:n:desc"]);
    let amounts: Vec<&str> = out
        .lines()
        .map(|l| l.rsplit_once("\"amount\":").unwrap().1.trim_end_matches('}'))
        .collect();
    assert_eq!(amounts, ["5", "1.5", "7", "3", "2"]);
    // Selected, as columns named by their keys, which the reducer flags
    // then name either way.
    let out = run_str(&[&input, "--select", ".user.id,amount", "--output-format", "csv"]);
    assert_eq!(out, "user.id,amount\n2,5\n1,7\n2,1.5\n,3\n,2\n");
    for key in [".user.id", "user.id"] {
        let out = run_str(&[&input, "--select", ".user.id,amount", "--group-by", key]);
        assert_eq!(
            out,
            "{\"user.id\":1,\"count\":1}\n{\"user.id\":2,\"count\":2}\n{\"user.id\":null,\"count\":2}\n"
        );
    }
    // Errors name the flag: a bad path, an unknown first key, a CSV input.
    let err = run_err(&[&input, "--group-by", ".user."], 1);
    assert!(err.contains("--group-by") && err.contains("not a path"), "{err}");
    let err = run_err(&[&input, "--group-by", ".nope.x"], 1);
    assert!(err.contains("unknown column `nope`") && err.contains("user, a.b, amount"), "{err}");
    let err = run_err(&["fixtures/flights.csv", "--group-by", ".a.b"], 1);
    assert!(err.contains("is not NDJSON"), "{err}");
}

// ---------------------------------------------------------------------------
// Concat and format crossing
// ---------------------------------------------------------------------------

#[test]
fn concat_reproduces_csv_byte_for_byte() {
    let input = fixture("fixtures/flights.csv");
    assert_eq!(run_ok(&["fixtures/flights.csv"]), input);
    for s in SETTINGS {
        assert_eq!(run_ok(&with(&["fixtures/flights.csv"], s)), input, "settings {s:?}");
    }
}

#[test]
fn concat_reproduces_ndjson_byte_for_byte() {
    let input = fixture("fixtures/flights.ndjson");
    assert_eq!(run_ok(&["fixtures/flights.ndjson"]), input);
    let args = ["fixtures/flights.ndjson", "--threads", "3", "--chunk-size", "100"];
    assert_eq!(run_ok(&args), input);
}

#[test]
fn ndjson_to_csv_reproduces_the_csv_source() {
    // flights.ndjson was derived from flights.csv with NA -> null; back in
    // CSV, null is an empty field.
    let csv = String::from_utf8(fixture("fixtures/flights.csv")).unwrap();
    let expected: String = csv
        .lines()
        .map(|l| l.split(',').map(|f| if f == "NA" { "" } else { f }).collect::<Vec<_>>().join(","))
        .map(|l| l + "\n")
        .collect();
    assert_eq!(run_str(&["fixtures/flights.ndjson", "--output-format", "csv"]), expected);
}

#[test]
fn csv_to_ndjson_types_values() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_file(
        dir.path(),
        "mixed.csv",
        b"id,zip,amt,note,flag\n1,007,-1.50,hello \"x\",NA\n2,,1e3,,true\n3,+1,.5,\"a\nb\",null\n",
    );
    let out = run_str(&[&input, "--output-format", "ndjson", "--null", "NA"]);
    let expected = concat!(
        r#"{"id":1,"zip":"007","amt":-1.50,"note":"hello \"x\"","flag":null}"#,
        "\n",
        r#"{"id":2,"zip":null,"amt":1e3,"note":null,"flag":"true"}"#,
        "\n",
        r#"{"id":3,"zip":"+1","amt":".5","note":"a\nb","flag":"null"}"#,
        "\n",
    );
    assert_eq!(out, expected);
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("each line is valid JSON");
        assert!(v.is_object());
    }
    // Without --null, `NA` is an ordinary string.
    let out = run_str(&[&input, "--output-format", "ndjson", "--select", "flag"]);
    assert_eq!(out, "{\"flag\":\"NA\"}\n{\"flag\":\"true\"}\n{\"flag\":\"null\"}\n");
}

#[test]
fn csv_to_tsv_quotes_only_where_needed() {
    let out = run_str(&["fixtures/edge/quoted.csv", "--output-format", "tsv"]);
    let expected = "id\tcity\tnote\tamount\n\
                    1\tZürich, CH\t\"says \"\"hi\"\"\"\t10\n\
                    2\t東京\t\"line one\nline two\"\t20\n\
                    3\t\t\t\n\
                    4\tSão Paulo\t\"a,b,\"\"c\"\"\"\t40\n";
    assert_eq!(out, expected);
}

#[test]
fn ndjson_records_keep_their_own_keys() {
    // NDJSON to NDJSON: each record keeps its keys and their order.
    let dir = tempfile::tempdir().unwrap();
    let input = write_file(
        dir.path(),
        "k.ndjson",
        b"{\"a\":1,\"b\":\"x\"}\n{\"b\":\"y\",\"a\":2}\n{\"a\":3}\n{\"a\":4,\"c\":true}\n",
    );
    assert_eq!(run_ok(&[&input]), std::fs::read(&input).unwrap());
    let out = run_str(&[&input, "--drop", "a", "--rename", "b=B"]);
    assert_eq!(out, "{\"B\":\"x\"}\n{\"B\":\"y\"}\n{}\n{\"c\":true}\n");
    // With --select every record gets the same keys; absent ones are null.
    let out = run_str(&[&input, "--select", "b,a"]);
    assert_eq!(
        out,
        "{\"b\":\"x\",\"a\":1}\n{\"b\":\"y\",\"a\":2}\n{\"b\":null,\"a\":3}\n{\"b\":null,\"a\":4}\n"
    );
    // To CSV the header is the first record's keys; a later extra key is an
    // error (rather than a silently lost value) naming its line.
    let err = run_err(&[&input, "--output-format", "csv"], 1);
    assert_eq!(
        err,
        format!(
            "fanfold: error: {input}:4: key `c` is not among the output columns (a, b); \
             pass --select to choose the columns\n"
        )
    );
    let out = run_str(&[&input, "--output-format", "csv", "--select", "a,b"]);
    assert_eq!(out, "a,b\n1,x\n2,y\n3,\n4,\n");
}

#[test]
fn custom_delimiter() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_file(dir.path(), "semi.txt", b"a;b\n1;\"x;y\"\n2;z\n");
    let out = run_str(&[&input, "--delimiter", ";", "--output-format", "ndjson"]);
    assert_eq!(out, "{\"a\":1,\"b\":\"x;y\"}\n{\"a\":2,\"b\":\"z\"}\n");
    let out = run_str(&[&input, "--delimiter", ";", "--output-format", "tsv"]);
    assert_eq!(out, "a\tb\n1\tx;y\n2\tz\n");
}

// ---------------------------------------------------------------------------
// Projection: --select, --drop, --rename
// ---------------------------------------------------------------------------

#[test]
fn select_orders_columns() {
    let out = run_str(&["fixtures/edge/sales.tsv", "--select", "price,region"]);
    assert_eq!(
        out,
        "price\tregion\n2.50\tnorth\n10.00\tnorth\n2.50\tsouth\n4.25\tsouth\n2.50\teast\n10.00\teast\n"
    );
}

#[test]
fn drop_and_rename() {
    let args = [
        "fixtures/edge/sales.tsv",
        "--drop",
        "product,price",
        "--rename",
        "region=area",
        "--output-format",
        "csv",
    ];
    assert_eq!(run_str(&args), "area,units\nnorth,10\nnorth,3\nsouth,\nsouth,7\neast,5\neast,1\n");
}

#[test]
fn select_and_rename_on_ndjson() {
    let out =
        run_str(&["fixtures/edge/blank_lines.ndjson", "--select", "v,id", "--rename", "v=value"]);
    assert_eq!(
        out,
        "{\"value\":1.5,\"id\":1}\n{\"value\":2,\"id\":2}\n{\"value\":-3,\"id\":3}\n{\"value\":null,\"id\":4}\n"
    );
}

#[test]
fn reducer_flags_use_renamed_names() {
    let args = [
        "fixtures/edge/sales.tsv",
        "--rename",
        "region=area",
        "--group-by",
        "area",
        "--agg",
        "sum:units=u",
    ];
    assert_eq!(run_str(&args), "area\tu\neast\t6\nnorth\t13\nsouth\t7\n");
    // The old name is gone for reducer flags, and the message lists output names.
    let args = ["fixtures/edge/sales.tsv", "--rename", "region=area", "--group-by", "region"];
    let err = run_err(&args, 1);
    assert_eq!(
        err,
        "fanfold: error: --group-by: unknown column `region`; the columns are: area, product, units, price\n"
    );
}

#[test]
fn unknown_column_names_flag_column_and_columns() {
    let cols = "year, month, day, dep_time, sched_dep_time, dep_delay, arr_time, sched_arr_time, \
                arr_delay, carrier, flight, tailnum, origin, dest, air_time, distance, hour, \
                minute, time_hour";
    let cases = [
        (vec!["--select", "carrier,nope"], "--select"),
        (vec!["--drop", "nope"], "--drop"),
        (vec!["--rename", "nope=x"], "--rename"),
        (vec!["--sort-by", "nope:n"], "--sort-by"),
        (vec!["--group-by", "nope"], "--group-by"),
        (vec!["--agg", "sum:nope"], "--agg"),
    ];
    for (flags, flag) in cases {
        let args = with(&["fixtures/flights.csv"], &flags);
        let out = fanfold(&args).assert().code(1).stdout("");
        let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
        assert_eq!(
            err,
            format!("fanfold: error: {flag}: unknown column `nope`; the columns are: {cols}\n")
        );
    }
}

// ---------------------------------------------------------------------------
// Sorting
// ---------------------------------------------------------------------------

const SORT_INPUT: &[u8] =
    b"id,name,score\n1,bob,10\n2,amy,\n3,cat,2.5\n4,dan,NA\n5,eve,10\n6,amy,-1\n7,Zed,1e1\n";

#[test]
fn sort_numeric_desc_missing_last_ties_stable() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_file(dir.path(), "s.csv", SORT_INPUT);
    // 10, 10 and 1e1 are equal: input order (1, 5, 7). Empty and NA last.
    let expected =
        "id,name,score\n1,bob,10\n5,eve,10\n7,Zed,1e1\n3,cat,2.5\n6,amy,-1\n2,amy,\n4,dan,NA\n";
    let args = [input.as_str(), "--sort-by", "score:n:desc", "--null", "NA"];
    assert_eq!(run_str(&args), expected);
    for s in SETTINGS {
        assert_eq!(run_str(&with(&args, s)), expected, "settings {s:?}");
    }
    // Ascending: missing values are still last.
    let expected =
        "id,name,score\n6,amy,-1\n3,cat,2.5\n1,bob,10\n5,eve,10\n7,Zed,1e1\n2,amy,\n4,dan,NA\n";
    let args = [input.as_str(), "--sort-by", "score:n", "--null", "NA", "--chunk-size", "2"];
    assert_eq!(run_str(&args), expected);
}

#[test]
fn sort_by_string_is_bytewise_and_stable() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_file(dir.path(), "s.csv", SORT_INPUT);
    // Bytes: `Z` sorts before `a`; the two `amy` rows keep input order.
    let expected =
        "id,name,score\n7,Zed,1e1\n2,amy,\n6,amy,-1\n1,bob,10\n3,cat,2.5\n4,dan,NA\n5,eve,10\n";
    assert_eq!(run_str(&[&input, "--sort-by", "name", "--chunk-size", "1", "-j", "3"]), expected);
    // Two keys: name descending, then id numeric descending.
    let expected =
        "id,name,score\n5,eve,10\n4,dan,NA\n3,cat,2.5\n1,bob,10\n6,amy,-1\n2,amy,\n7,Zed,1e1\n";
    assert_eq!(run_str(&[&input, "--sort-by", "name:desc,id:n:desc"]), expected);
    // Without :n numbers compare as text: "10" < "2.5".
    let out = run_str(&[&input, "--sort-by", "score", "--select", "score", "--null", "NA"]);
    // (A lone empty field is written `""`, so the line is not blank.)
    assert_eq!(out, "score\n-1\n10\n10\n1e1\n2.5\n\"\"\nNA\n");
}

#[test]
fn sort_stable_across_many_chunks() {
    // 500 records with 5 distinct keys: a stable sort keeps each key's ids
    // in increasing order, whatever the chunking.
    let dir = tempfile::tempdir().unwrap();
    let mut data = String::from("id,key\n");
    let mut rows = Vec::new();
    for i in 0..500u32 {
        let key = (i * 7919 % 5).to_string();
        data.push_str(&format!("{i},{key}\n"));
        rows.push((key, i));
    }
    rows.sort_by(|a, b| b.0.cmp(&a.0)); // stable, descending by key
    let mut expected = String::from("id,key\n");
    for (key, i) in &rows {
        expected.push_str(&format!("{i},{key}\n"));
    }
    let input = write_file(dir.path(), "ties.csv", data.as_bytes());
    for s in SETTINGS {
        let args = with(&[&input, "--sort-by", "key:n:desc"], s);
        assert_eq!(run_str(&args), expected, "settings {s:?}");
    }
}

/// Sorts the flights lines by `dep_delay` (numeric, descending, `NA` last)
/// with a stable sort, independently of fanfold.
fn flights_sorted_by_dep_delay_desc() -> String {
    let text = String::from_utf8(fixture("fixtures/flights.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let col = header.split(',').position(|c| c == "dep_delay").unwrap();
    let mut rows: Vec<(Option<f64>, &str)> = lines
        .map(|l| {
            let v = l.split(',').nth(col).unwrap();
            (if v == "NA" { None } else { Some(v.parse().unwrap()) }, l)
        })
        .collect();
    rows.sort_by(|a, b| match (a.0, b.0) {
        (Some(x), Some(y)) => y.total_cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let mut out = format!("{header}\n");
    for (_, l) in rows {
        out.push_str(l);
        out.push('\n');
    }
    out
}

#[test]
fn flights_sort_matches_independent_stable_sort() {
    let expected = flights_sorted_by_dep_delay_desc();
    let args = ["fixtures/flights.csv", "--sort-by", "dep_delay:n:desc", "--null", "NA"];
    assert_eq!(run_str(&args), expected);
    for s in SETTINGS {
        assert_eq!(run_str(&with(&args, s)), expected, "settings {s:?}");
    }
    // The same sort over NDJSON, written as CSV (NA -> empty field).
    let expected_blank: String = expected
        .lines()
        .map(|l| {
            l.split(',').map(|f| if f == "NA" { "" } else { f }).collect::<Vec<_>>().join(",")
                + "\n"
        })
        .collect();
    let args = [
        "fixtures/flights.ndjson",
        "--sort-by",
        "dep_delay:n:desc",
        "--output-format",
        "csv",
        "--chunk-size",
        "333",
    ];
    assert_eq!(run_str(&args), expected_blank);
}

#[test]
fn sort_numeric_on_non_number_names_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_file(dir.path(), "s.csv", SORT_INPUT);
    let err = run_err(&[&input, "--sort-by", "score:n", "--chunk-size", "1"], 1);
    assert_eq!(
        err,
        format!(
            "fanfold: error: {input}:5: column `score`: `NA` is not a number (--sort-by score:n)\n"
        )
    );
}

// ---------------------------------------------------------------------------
// Top-k: --top K --sort-by KEYS [--group-by COLS]
// ---------------------------------------------------------------------------

const FLIGHTS_TOP_SELECT: &[&str] =
    &["--select", "carrier,flight,origin,dest,air_time,distance", "--null", "NA"];

#[test]
fn flights_top_3_longest_overall_and_per_origin() {
    // Expected lines computed once with Python's csv module and a stable
    // `sorted(..., reverse=True)` over fixtures/flights.csv, `NA` last.
    let cases: &[(&[&str], &str)] = &[
        // By air time; 659 ties: JFK's HA 51 comes first in the input.
        (
            &["--top", "3", "--sort-by", "air_time:n:desc"],
            "carrier,flight,origin,dest,air_time,distance
UA,15,EWR,HNL,667,4963
HA,51,JFK,HNL,659,4983
UA,15,EWR,HNL,659,4963
",
        ),
        // By distance: every JFK-HNL flight is 4983 miles; input order.
        (
            &["--top", "3", "--sort-by", "distance:n:desc"],
            "carrier,flight,origin,dest,air_time,distance
HA,51,JFK,HNL,659,4983
HA,51,JFK,HNL,638,4983
HA,51,JFK,HNL,616,4983
",
        ),
        // Per origin, groups in key order.
        (
            &["--top", "3", "--sort-by", "air_time:n:desc", "--group-by", "origin"],
            "carrier,flight,origin,dest,air_time,distance
UA,15,EWR,HNL,667,4963
UA,15,EWR,HNL,659,4963
UA,15,EWR,HNL,656,4963
HA,51,JFK,HNL,659,4983
HA,51,JFK,HNL,653,4983
HA,51,JFK,HNL,650,4983
WN,733,LGA,DEN,279,1620
WN,390,LGA,DEN,273,1620
WN,135,LGA,DEN,271,1620
",
        ),
        // The two shortest per origin, ties by air time descending (LGA's
        // two 48s in input order).
        (
            &["--top", "2", "--sort-by", "distance:n,air_time:n:desc", "--group-by", "origin"],
            "carrier,flight,origin,dest,air_time,distance
EV,4616,EWR,PHL,36,80
EV,4616,EWR,PHL,34,80
9E,3638,JFK,PHL,44,94
9E,3638,JFK,PHL,43,94
US,1153,LGA,PHL,48,96
US,1860,LGA,PHL,48,96
",
        ),
    ];
    for (flags, expected) in cases {
        let csv = with(&with(&["fixtures/flights.csv"], FLIGHTS_TOP_SELECT), flags);
        assert_eq!(run_str(&csv), *expected, "{flags:?}");
        let ndjson = with(&["fixtures/flights.ndjson", "--output-format", "csv"], &csv[1..]);
        assert_eq!(run_str(&ndjson), *expected, "ndjson {flags:?}");
        for s in SETTINGS {
            assert_eq!(run_str(&with(&csv, s)), *expected, "{flags:?} settings {s:?}");
        }
    }
}

#[test]
fn top_more_than_the_input_equals_the_sort() {
    let sort = ["fixtures/flights.csv", "--sort-by", "dep_delay:n:desc,carrier", "--null", "NA"];
    let expected = run_str(&sort);
    let top = with(&sort, &["--top", "1000000"]);
    assert_eq!(run_str(&top), expected);
    assert_eq!(run_str(&with(&top, &["-j", "3", "--chunk-bytes", "4KiB"])), expected);
    // And the first K lines of the sort for a small K.
    let head: String = expected.lines().take(51).map(|l| format!("{l}\n")).collect();
    assert_eq!(run_str(&with(&sort, &["--top", "50", "--chunk-size", "9", "-j", "2"])), head);
}

#[test]
fn top_per_group_ties_missing_values_and_group_order() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_file(
        dir.path(),
        "t.csv",
        b"id,g,v\n1,b,3\n2,10,5\n3,b,\n4,9,1\n5,b,7\n6,,2\n7,b,3\n8,10,NA\n9,b,3\n\
          10,a,0.5\n11,10,6\n12,,4\n13,b,7\n",
    );
    // Groups: numbers first (9 before 10), then text, then the missing key.
    // Within a group: ties in input order (b: 5 and 13 at 7, then 1 of the
    // three 3s), missing values last (10: id 8), fewer than K kept whole.
    let expected = "\
id,g,v
4,9,1
11,10,6
2,10,5
8,10,NA
10,a,0.5
5,b,7
13,b,7
1,b,3
12,,4
6,,2
";
    let args = [&input, "--top", "3", "--sort-by", "v:n:desc", "--group-by", "g", "--null", "NA"];
    assert_eq!(run_str(&args), expected);
    for s in SETTINGS {
        assert_eq!(run_str(&with(&args, s)), expected, "settings {s:?}");
    }
    // Ascending, two per group: missing values still last.
    let expected = "id,g,v\n4,9,1\n2,10,5\n11,10,6\n10,a,0.5\n1,b,3\n7,b,3\n6,,2\n12,,4\n";
    let args = [&input, "--top", "2", "--sort-by", "v:n", "--group-by", "g", "--null", "NA"];
    assert_eq!(run_str(&with(&args, &["--chunk-size", "1", "-j", "3"])), expected);
    // NDJSON out: whole records, keys as in the input.
    let args = [&input, "--top", "1", "--sort-by", "v:n:desc", "--group-by", "g", "--null", "NA"];
    let out = run_str(&with(&args, &["--output-format", "ndjson", "--select", "g,id,v"]));
    assert_eq!(
        out,
        "{\"g\":9,\"id\":4,\"v\":1}\n{\"g\":10,\"id\":11,\"v\":6}\n\
         {\"g\":\"a\",\"id\":10,\"v\":0.5}\n{\"g\":\"b\",\"id\":5,\"v\":7}\n\
         {\"g\":null,\"id\":12,\"v\":4}\n"
    );
}

#[test]
fn top_checks_every_record_not_only_the_kept_ones() {
    let dir = tempfile::tempdir().unwrap();
    // The bad value and the unexpected key are in records that would not
    // be kept: the run fails the same way for any chunking.
    let input = write_file(dir.path(), "t.csv", b"id,v\n1,9\n2,8\n3,1\n4,x\n5,2\n");
    for s in SETTINGS {
        let args = with(&[&input, "--top", "1", "--sort-by", "v:n:desc"], s);
        let err = run_err(&args, 1);
        assert!(err.contains("t.csv:5: column `v`: `x` is not a number"), "{s:?}: {err}");
    }
    let input = write_file(
        dir.path(),
        "t.ndjson",
        b"{\"id\":1,\"v\":9}\n{\"id\":2,\"v\":8}\n{\"id\":3,\"v\":1,\"w\":0}\n{\"id\":4,\"v\":2}\n",
    );
    for s in SETTINGS {
        let args =
            with(&[&input, "--top", "1", "--sort-by", "v:n:desc", "--output-format", "csv"], s);
        let err = run_err(&args, 1);
        assert!(err.contains("t.ndjson:3") && err.contains("`w`"), "{s:?}: {err}");
    }
}

#[test]
fn top_command_line_errors_exit_2() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["--top", "0", "--sort-by", "v"], &["--top", "0"]),
        (&["--top", "2"], &["--sort-by"]),
        (&["--top", "2", "--sort-by", "v", "--agg", "count"], &["--top", "--agg"]),
        (
            &["--top", "2", "--sort-by", "v", "--group-by", "k", "--agg", "sum:v"],
            &["--top", "--agg"],
        ),
        (&["--sort-by", "v", "--group-by", "k"], &["--sort-by", "--group-by", "--top"]),
        (&["--top", "x", "--sort-by", "v"], &["--top", "x"]),
    ];
    for (flags, words) in cases {
        let args = with(&["fixtures/edge/numbers.csv"], flags);
        let err = run_err(&args, 2);
        for w in *words {
            assert!(err.contains(w), "{args:?}: stderr lacks `{w}`: {err}");
        }
    }
}

// ---------------------------------------------------------------------------
// Aggregates (fixtures/edge/numbers.csv)
// ---------------------------------------------------------------------------

#[test]
fn numbers_grouped_aggregates_are_exact() {
    // Exact decimal sums (fixtures/README.md): b = 0.1+0.2+0.3 = 0.6, not
    // 0.6000000000000001; c stays an exact integer beyond 2^53. Means are
    // the exact sum rounded to f64, divided by n (checked with Python).
    let expected = "\
k,count,count_v,sum_v,mean_v,min_v,max_v,distinct_v
a,2,2,2.5,1.25,1,1.50,2
b,3,3,0.6,0.19999999999999998,0.1,0.3,3
c,3,3,9007199254738494,3002399751579498,-2.5e3,9007199254740993,3
d,3,1,7,7,7,7,1
";
    let args = [
        "fixtures/edge/numbers.csv",
        "--group-by",
        "k",
        "--agg",
        "count,count:v,sum:v,mean:v,min:v,max:v,distinct:v",
        "--null",
        "NA",
    ];
    assert_eq!(run_str(&args), expected);
    for s in SETTINGS {
        assert_eq!(run_str(&with(&args, s)), expected, "settings {s:?}");
    }
}

#[test]
fn numbers_global_aggregates_and_names() {
    // Exact total 9007199254738504.1, rounded once to f64; mean checked
    // with Python's fractions.
    let args = [
        "fixtures/edge/numbers.csv",
        "--agg",
        "count=rows,count:v=values,sum:v=total,mean:v,min:v=lo,max:v=hi,distinct:v",
        "--null",
        "NA",
    ];
    let expected = "rows,values,total,mean_v,lo,hi,distinct_v\n\
                    11,9,9007199254738504,1000799917193167.1,-2.5e3,9007199254740993,8\n";
    assert_eq!(run_str(&args), expected);
    assert_eq!(run_str(&with(&args, &["--chunk-size", "1", "-j", "4"])), expected);
    // Without --null, `NA` is a value: counted and distinct.
    let out = run_str(&["fixtures/edge/numbers.csv", "--agg", "count:v,distinct:v"]);
    assert_eq!(out, "count_v,distinct_v\n10,9\n");
    // No --agg: count.
    assert_eq!(
        run_str(&["fixtures/edge/numbers.csv", "--group-by", "k"]),
        "k,count\na,2\nb,3\nc,3\nd,3\n"
    );
}

#[test]
fn flights_mode_first_last_match_reference_values() {
    // Computed once with Python's csv module over fixtures/flights.csv
    // (`NA` skipped; mode ties to the first seen): per origin, the most
    // frequent dest (EWR: ORD 373 vs MCO 315; JFK: LAX 698 vs SFO 499;
    // LGA: ATL 650 vs ORD 433), the first tailnum, the last dep_delay and
    // the most frequent carrier.
    let expected = "\
origin,mode_dest,first_tailnum,last,mode_carrier
EWR,ORD,N14228,194,EV
JFK,LAX,N619AA,4,B6
LGA,ATL,N24211,-10,DL
";
    let args = [
        "--group-by",
        "origin",
        "--agg",
        "mode:dest,first:tailnum,last:dep_delay=last,mode:carrier",
        "--null",
        "NA",
    ];
    let csv = with(&["fixtures/flights.csv"], &args);
    assert_eq!(run_str(&csv), expected);
    let ndjson = with(&["fixtures/flights.ndjson", "--output-format", "csv"], &args);
    assert_eq!(run_str(&ndjson), expected);
    for s in SETTINGS {
        assert_eq!(run_str(&with(&csv, s)), expected, "settings {s:?}");
        assert_eq!(run_str(&with(&ndjson, s)), expected, "ndjson, settings {s:?}");
    }
    // Over all rows (Python): ATL is the most frequent dest; the first and
    // last dep_time are 517 and 2254; -4 the most frequent dep_delay.
    let args = [
        "fixtures/flights.csv",
        "--agg",
        "mode:dest,first:dep_time,last:dep_time,mode:dep_delay",
        "--null",
        "NA",
    ];
    assert_eq!(
        run_str(&args),
        "mode_dest,first_dep_time,last_dep_time,mode_dep_delay\nATL,517,2254,-4\n"
    );
}

#[test]
fn mode_ties_go_to_the_first_seen_value_across_chunks() {
    let dir = tempfile::tempdir().unwrap();
    // a: x and y both twice, x seen first. b: only missing values.
    // c: `1` and `1.0` are different texts, twice each; `1` seen first.
    // d: `q` seen first, `r` three times in later records.
    let input = write_file(
        dir.path(),
        "t.csv",
        b"g,v\na,x\nd,q\na,y\nb,\na,y\nc,1\nd,r\nc,1.0\na,x\nd,r\nb,NA\nc,1.0\nd,r\nc,1\n",
    );
    let expected = "\
g,mode_v,first_v,last_v,count_v
a,x,x,x,4
b,,,,0
c,1,1,1,4
d,r,q,r,4
";
    let args = [
        input.as_str(),
        "--group-by",
        "g",
        "--agg",
        "mode:v,first:v,last:v,count:v",
        "--null",
        "NA",
    ];
    assert_eq!(run_str(&args), expected);
    for s in SETTINGS {
        assert_eq!(run_str(&with(&args, s)), expected, "settings {s:?}");
    }
    // Without --null, `NA` is a value: b's first, last and mode.
    let out = run_str(&[&input, "--group-by", "g", "--agg", "mode:v,first:v,last:v"]);
    assert!(out.contains("\nb,NA,NA,NA\n"), "{out}");
}

#[test]
fn mode_first_last_write_json_values_as_read() {
    let dir = tempfile::tempdir().unwrap();
    // `"1"` and `1` are the same text for mode (counted together) and the
    // first one read decides how it is written: a string here.
    let input = write_file(
        dir.path(),
        "t.ndjson",
        br#"{"g":"a","v":"1"}
{"g":"a","v":1}
{"g":"a","v":2}
{"g":"a","v":null}
{"g":"b","v":null}
{"g":"b"}
{"g":"c","v":[1,"x"]}
{"g":"c","v":true}
{"g":"c","v":"say \"hi\""}
"#,
    );
    let expected = r#"{"g":"a","mode_v":"1","first_v":"1","last_v":2}
{"g":"b","mode_v":null,"first_v":null,"last_v":null}
{"g":"c","mode_v":[1,"x"],"first_v":[1,"x"],"last_v":"say \"hi\""}
"#;
    let args = [input.as_str(), "--group-by", "g", "--agg", "mode:v,first:v,last:v"];
    assert_eq!(run_str(&args), expected);
    assert_eq!(run_str(&with(&args, &["--chunk-size", "1", "-j", "3"])), expected);
    let csv = run_str(&with(&args, &["--output-format", "csv"]));
    assert_eq!(csv, "g,mode_v,first_v,last_v\na,1,1,2\nb,,,\nc,\"[1,\"\"x\"\"]\",\"[1,\"\"x\"\"]\",\"say \"\"hi\"\"\"\n");
}

#[test]
fn integer_sums_stay_integers_beyond_2_pow_53() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_file(dir.path(), "big.csv", b"v\n9007199254740993\n9007199254740993\n1\n");
    // With f64 addition this would be 18014398509481984.
    assert_eq!(run_str(&[&input, "--agg", "sum:v"]), "sum_v\n18014398509481987\n");
    // A decimal makes the sum a float, rounded once at the end (adding f64s
    // one by one would lose both halves and give 9007199254740992).
    let input = write_file(dir.path(), "mixed.csv", b"v\n9007199254740993\n0.5\n0.5\n");
    assert_eq!(run_str(&[&input, "--agg", "sum:v"]), "sum_v\n9007199254740994\n");
}

#[test]
fn sum_over_non_number_names_file_line_and_column() {
    let expected =
        "fanfold: error: fixtures/edge/numbers.csv:11: column `v`: `NA` is not a number (sum:v)\n";
    for s in SETTINGS {
        let args = with(&["fixtures/edge/numbers.csv", "--group-by", "k", "--agg", "sum:v"], s);
        assert_eq!(run_err(&args, 1), expected, "settings {s:?}");
    }
    let err = run_err(&["fixtures/edge/numbers.csv", "--agg", "mean:v"], 1);
    assert_eq!(
        err,
        "fanfold: error: fixtures/edge/numbers.csv:11: column `v`: `NA` is not a number (mean:v)\n"
    );
}

// ---------------------------------------------------------------------------
// Edge-case fixtures
// ---------------------------------------------------------------------------

#[test]
fn quoted_csv_round_trips() {
    let out = run_ok(&["fixtures/edge/quoted.csv"]);
    // Fields are re-quoted only where CSV needs it (`"São Paulo"` and `""`
    // lose their quotes); the records are unchanged.
    let expected = "id,city,note,amount\n\
                    1,\"Zürich, CH\",\"says \"\"hi\"\"\",10\n\
                    2,東京,\"line one\nline two\",20\n\
                    3,,,\n\
                    4,São Paulo,\"a,b,\"\"c\"\"\",40\n";
    assert_eq!(String::from_utf8(out.clone()).unwrap(), expected);
    let parse = |bytes: &[u8]| -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(bytes)
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect()
    };
    let original = parse(&fixture("fixtures/edge/quoted.csv"));
    assert_eq!(parse(&out), original);
    assert_eq!(original[2][2], "line one\nline two");
    assert_eq!(original[1][2], "says \"hi\"");
    for s in SETTINGS {
        assert_eq!(run_str(&with(&["fixtures/edge/quoted.csv"], s)), expected, "settings {s:?}");
    }
    // Output of the output is a fixed point.
    let dir = tempfile::tempdir().unwrap();
    let again = write_file(dir.path(), "again.csv", &out);
    assert_eq!(run_str(&[&again]), expected);
}

#[test]
fn quoted_csv_to_ndjson() {
    let out = run_str(&["fixtures/edge/quoted.csv", "--output-format", "ndjson"]);
    let expected = concat!(
        r#"{"id":1,"city":"Zürich, CH","note":"says \"hi\"","amount":10}"#,
        "\n",
        r#"{"id":2,"city":"東京","note":"line one\nline two","amount":20}"#,
        "\n",
        r#"{"id":3,"city":null,"note":null,"amount":null}"#,
        "\n",
        r#"{"id":4,"city":"São Paulo","note":"a,b,\"c\"","amount":40}"#,
        "\n",
    );
    assert_eq!(out, expected);
}

#[test]
fn line_numbers_count_physical_lines_after_a_multiline_field() {
    // quoted.csv spans 6 physical lines; an appended record starts on line 7.
    let dir = tempfile::tempdir().unwrap();
    let mut data = fixture("fixtures/edge/quoted.csv");
    data.extend_from_slice(b"5,Oslo,x,notnum\n");
    write_file(dir.path(), "q.csv", &data);
    let mut ragged = fixture("fixtures/edge/quoted.csv");
    ragged.extend_from_slice(b"5,Oslo,x,1,extra\n");
    write_file(dir.path(), "r.csv", &ragged);
    for s in SETTINGS {
        let mut cmd = Command::cargo_bin("fanfold").unwrap();
        cmd.current_dir(dir.path()).args(with(&["q.csv", "--agg", "sum:amount"], s));
        cmd.assert().code(1).stderr(
            "fanfold: error: q.csv:7: column `amount`: `notnum` is not a number (sum:amount)\n",
        );
        let mut cmd = Command::cargo_bin("fanfold").unwrap();
        cmd.current_dir(dir.path()).args(with(&["r.csv"], s));
        cmd.assert()
            .code(1)
            .stderr("fanfold: error: r.csv:7: expected 4 fields (as in the header), found 5\n");
    }
}

#[test]
fn crlf_bom_csv() {
    // BOM skipped, CRLF not leaking into the last field; output uses LF.
    let out = run_str(&["fixtures/edge/crlf_bom.csv"]);
    assert_eq!(out, "name,qty,price\napple,3,0.50\nbanana,12,0.25\ncherry,7,2.00\n");
    assert_eq!(
        run_str(&["fixtures/edge/crlf_bom.csv", "--select", "name"]),
        "name\napple\nbanana\ncherry\n"
    );
    let out = run_str(&["fixtures/edge/crlf_bom.csv", "--agg", "sum:price,sum:qty,max:price"]);
    assert_eq!(out, "sum_price,sum_qty,max_price\n2.75,22,2.00\n");
    let out =
        run_str(&["fixtures/edge/crlf_bom.csv", "--output-format", "ndjson", "--chunk-size", "1"]);
    assert_eq!(
        out,
        "{\"name\":\"apple\",\"qty\":3,\"price\":0.50}\n{\"name\":\"banana\",\"qty\":12,\"price\":0.25}\n{\"name\":\"cherry\",\"qty\":7,\"price\":2.00}\n"
    );
}

#[test]
fn ragged_csv_names_line_4() {
    for s in SETTINGS {
        let err = run_err(&with(&["fixtures/edge/ragged.csv"], s), 1);
        assert_eq!(
            err,
            "fanfold: error: fixtures/edge/ragged.csv:4: expected 3 fields (as in the header), found 4\n",
            "settings {s:?}"
        );
    }
}

#[test]
fn unterminated_quote_names_line_3() {
    for s in SETTINGS {
        let err = run_err(&with(&["fixtures/edge/unterminated.csv"], s), 1);
        assert_eq!(
            err,
            "fanfold: error: fixtures/edge/unterminated.csv:3: unterminated quoted field \
             (the quote opened on this line never closes)\n",
            "settings {s:?}"
        );
    }
}

#[test]
fn header_only_csv() {
    assert_eq!(run_str(&["fixtures/edge/header_only.csv"]), "a,b,c\n");
    assert_eq!(run_str(&["fixtures/edge/header_only.csv", "--group-by", "a"]), "a,count\n");
    // A global aggregate over no records has one row; a sum over nothing is missing.
    assert_eq!(
        run_str(&["fixtures/edge/header_only.csv", "--agg", "count,sum:b"]),
        "count,sum_b\n0,\n"
    );
    assert_eq!(run_str(&["fixtures/edge/header_only.csv", "--sort-by", "c:n"]), "a,b,c\n");
    assert_eq!(run_str(&["fixtures/edge/header_only.csv", "--output-format", "ndjson"]), "");
}

#[test]
fn empty_csv_gives_empty_output() {
    assert_eq!(run_ok(&["fixtures/edge/empty.csv"]), b"");
    assert_eq!(run_ok(&["fixtures/edge/empty.csv", "--agg", "count"]), b"");
    assert_eq!(run_ok(&["fixtures/edge/empty.csv", "--sort-by", "x"]), b"");
}

#[test]
fn sales_tsv_group_by() {
    // fixtures/README.md: units north 13, south 7 (one empty), east 6.
    let args = [
        "fixtures/edge/sales.tsv",
        "--group-by",
        "region",
        "--agg",
        "sum:units,count:units,count,mean:price",
    ];
    let expected = "region\tsum_units\tcount_units\tcount\tmean_price\n\
                    east\t6\t2\t2\t6.25\n\
                    north\t13\t2\t2\t6.25\n\
                    south\t7\t1\t2\t3.375\n";
    assert_eq!(run_str(&args), expected);
    assert_eq!(
        run_str(&["fixtures/edge/sales.tsv", "--agg", "sum:units,count:units"]),
        "sum_units\tcount_units\n26\t5\n"
    );
    let out = run_str(&with(&args, &["--output-format", "csv"]));
    assert_eq!(out, expected.replace('\t', ","));
}

#[test]
fn blank_lines_ndjson_are_skipped() {
    let expected = concat!(
        r#"{"id":1,"name":"plain","v":1.5}"#,
        "\n",
        r#"{"id":2,"name":null,"v":2}"#,
        "\n",
        r#"{"id":3,"name":"say \"caf\u00e9\"","v":-3}"#,
        "\n",
        r#"{"id":4,"name":"last","v":null}"#,
        "\n",
    );
    assert_eq!(run_str(&["fixtures/edge/blank_lines.ndjson"]), expected);
    assert_eq!(
        run_str(&["fixtures/edge/blank_lines.ndjson", "--chunk-size", "1", "-j", "3"]),
        expected
    );
    // JSON strings are unescaped for CSV; null becomes an empty field.
    let out = run_str(&["fixtures/edge/blank_lines.ndjson", "--output-format", "csv"]);
    assert_eq!(out, "id,name,v\n1,plain,1.5\n2,,2\n3,\"say \"\"café\"\"\",-3\n4,last,\n");
    // v: 1.5 + 2 - 3 = 0.5; null skipped by count:v, counted by count.
    let out =
        run_str(&["fixtures/edge/blank_lines.ndjson", "--agg", "sum:v,count,count:v,count:name"]);
    assert_eq!(out, "{\"sum_v\":0.5,\"count\":4,\"count_v\":3,\"count_name\":3}\n");
}

#[test]
fn bad_line_ndjson_names_line_3() {
    for s in SETTINGS {
        let err = run_err(&with(&["fixtures/edge/bad_line.ndjson"], s), 1);
        assert!(
            err.starts_with("fanfold: error: fixtures/edge/bad_line.ndjson:3:")
                && err.contains("invalid JSON"),
            "settings {s:?}: {err}"
        );
    }
}

// ---------------------------------------------------------------------------
// JSON arrays
// ---------------------------------------------------------------------------

/// `fixtures/edge/array.json` as NDJSON: every value as written, keys in
/// each element's own order.
const ARRAY_AS_NDJSON: &str = concat!(
    r#"{"id":1,"city":"Oslo","amount":1.50,"note":"plain"}"#,
    "\n",
    r#"{"id":2,"city":"Lima","amount":2,"note":"brackets ]}[{, a \"quote\" and a \\"}"#,
    "\n",
    r#"{"id":3,"city":"Oslo","amount":null,"note":"caf\u00e9"}"#,
    "\n",
    r#"{"city":"Zürich","id":4,"amount":-0.25,"note":{"nested": [1, {"deep": "]"}]}}"#,
    "\n",
    r#"{"id":5,"city":"Lima","amount":10,"note":""}"#,
    "\n",
);

/// Parses `text` as one JSON document.
fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn json_array_to_ndjson_and_csv() {
    // `.json` starting with `[` is sniffed as a JSON array.
    let ndjson = run_str(&["fixtures/edge/array.json", "--output-format", "ndjson"]);
    assert_eq!(ndjson, ARRAY_AS_NDJSON);
    for s in SETTINGS {
        let args = with(&["fixtures/edge/array.json", "--output-format", "ndjson"], s);
        assert_eq!(run_str(&args), ARRAY_AS_NDJSON, "settings {s:?}");
    }
    // Each element equals the fixture's element, as serde_json reads both.
    let whole = json(&String::from_utf8(fixture("fixtures/edge/array.json")).unwrap());
    let lines: Vec<serde_json::Value> = ndjson.lines().map(json).collect();
    assert_eq!(serde_json::Value::Array(lines), whole);
    // CSV: the header is the first element's keys; strings unescaped, null
    // empty, nested values as their JSON text.
    let csv = run_str(&["fixtures/edge/array.json", "--output-format", "csv"]);
    assert_eq!(
        csv,
        "id,city,amount,note\n1,Oslo,1.50,plain\n2,Lima,2,\"brackets ]}[{, a \"\"quote\"\" and a \\\"\n\
         3,Oslo,,café\n4,Zürich,-0.25,\"{\"\"nested\"\": [1, {\"\"deep\"\": \"\"]\"\"}]}\"\n5,Lima,10,\n"
    );
    // --input-format json reads any name, and standard input.
    let dir = tempfile::tempdir().unwrap();
    let renamed = write_file(dir.path(), "array.txt", &fixture("fixtures/edge/array.json"));
    assert_eq!(run_str(&[&renamed, "--input-format", "json", "--output-format", "ndjson"]), ndjson);
    fanfold(&["--input-format", "json", "--output-format", "ndjson"])
        .write_stdin(fixture("fixtures/edge/array.json"))
        .assert()
        .success()
        .stdout(ARRAY_AS_NDJSON);
    // A `.json` file of lines is still NDJSON.
    let lines = write_file(dir.path(), "lines.json", ARRAY_AS_NDJSON.as_bytes());
    assert_eq!(run_str(&[&lines]), ARRAY_AS_NDJSON);
    // A nested value spread over lines is compacted for the one-record-per-
    // line outputs; CSV keeps it as read.
    let pretty = write_file(
        dir.path(),
        "pretty.json",
        b"[\n  {\n    \"a\": {\n      \"b\": [1, \"x y\"]\n    },\n    \"c\": [ ]\n  }\n]\n",
    );
    assert_eq!(
        run_str(&[&pretty, "--output-format", "ndjson"]),
        "{\"a\":{\"b\":[1,\"x y\"]},\"c\":[ ]}\n"
    );
    assert_eq!(run_str(&[&pretty]), "[\n{\"a\":{\"b\":[1,\"x y\"]},\"c\":[ ]}\n]\n");
    assert_eq!(
        run_str(&[&pretty, "--output-format", "csv"]),
        "a,c\n\"{\n      \"\"b\"\": [1, \"\"x y\"\"]\n    }\",[ ]\n"
    );
}

#[test]
fn json_array_group_by() {
    // Computed by hand: Lima 2 + 10, Oslo 1.50 (null skipped), Zürich -0.25.
    let expected = "city,count,count_amount,sum_amount,mean_amount\n\
                    Lima,2,2,12,6\nOslo,2,1,1.5,1.5\nZürich,1,1,-0.25,-0.25\n";
    let args = [
        "fixtures/edge/array.json",
        "--group-by",
        "city",
        "--agg",
        "count,count:amount,sum:amount,mean:amount",
        "--output-format",
        "csv",
    ];
    for s in SETTINGS {
        assert_eq!(run_str(&with(&args, s)), expected, "settings {s:?}");
    }
    // Records know the line where their element starts: element 2, on
    // line 8, holds the first note that is not a number (or `plain`).
    let args = ["fixtures/edge/array.json", "--agg", "sum:note", "--null", "plain"];
    let want = "fanfold: error: fixtures/edge/array.json:8: column `note`: \
                `brackets ]}[{, a \"quote\" and a \\` is not a number (sum:note)\n";
    for s in SETTINGS {
        assert_eq!(run_err(&with(&args, s), 1), want, "settings {s:?}");
    }
}

#[test]
fn json_array_of_the_flights_matches_the_csv_results() {
    // flights.ndjson to a JSON array, and back: the same bytes.
    let dir = tempfile::tempdir().unwrap();
    let array = dir.path().join("flights.json");
    let array = array.to_str().unwrap();
    run_ok(&["fixtures/flights.ndjson", "--output-format", "json", "-o", array, "-j", "3"]);
    let text = std::fs::read_to_string(array).unwrap();
    assert!(text.starts_with("[\n{\"year\":2013,") && text.ends_with("}\n]\n"), "{}", &text[..80]);
    assert_eq!(json(&text).as_array().map(Vec::len), Some(20_000));
    for s in SETTINGS {
        let back = run_ok(&with(&[array, "--output-format", "ndjson"], s));
        assert!(back == fixture("fixtures/flights.ndjson"), "settings {s:?}");
        let grouped =
            run_str(&with(&with(&[array, "--output-format", "csv"], FLIGHTS_GROUP_ARGS), s));
        assert_eq!(grouped, FLIGHTS_BY_CARRIER, "settings {s:?}");
    }
}

#[test]
fn json_output_of_concat_group_by_and_sort() {
    // Concat: the layout is `[`, one record per line, `]`.
    let expected = format!("[\n{}\n]\n", ARRAY_AS_NDJSON.trim_end().replace('\n', ",\n"));
    assert_eq!(run_str(&["fixtures/edge/array.json"]), expected);
    for s in SETTINGS {
        assert_eq!(run_str(&with(&["fixtures/edge/array.json"], s)), expected, "settings {s:?}");
    }
    let back = json(&expected);
    assert_eq!(back, json(&String::from_utf8(fixture("fixtures/edge/array.json")).unwrap()));
    // From CSV, for every reducer.
    let csv_to_json = run_str(&["fixtures/edge/numbers.csv", "--output-format", "json"]);
    let rows = json(&csv_to_json);
    assert_eq!(rows.as_array().map(Vec::len), Some(11));
    assert_eq!(rows[1], serde_json::json!({"k": "a", "v": 1.50}));
    let group_args = ["fixtures/edge/numbers.csv", "--group-by", "k", "--agg", "count,sum:v"];
    let grouped = run_str(&with(&group_args, &["--output-format", "json", "--null", "NA"]));
    assert_eq!(
        grouped,
        "[\n{\"k\":\"a\",\"count\":2,\"sum_v\":2.5},\n{\"k\":\"b\",\"count\":3,\"sum_v\":0.6},\n\
         {\"k\":\"c\",\"count\":3,\"sum_v\":9007199254738494},\n{\"k\":\"d\",\"count\":3,\"sum_v\":7}\n]\n"
    );
    json(&grouped);
    let sort_args =
        ["fixtures/edge/array.json", "--sort-by", "amount:n:desc", "--select", "id,amount"];
    let want =
        "[\n{\"id\":5,\"amount\":10},\n{\"id\":2,\"amount\":2},\n{\"id\":1,\"amount\":1.50},\n\
                {\"id\":4,\"amount\":-0.25},\n{\"id\":3,\"amount\":null}\n]\n";
    for s in SETTINGS {
        assert_eq!(run_str(&with(&sort_args, s)), want, "settings {s:?}");
    }
    json(want);
    // No records: `[]`, for every reducer, from an empty array, a
    // header-only CSV or an empty file.
    let dir = tempfile::tempdir().unwrap();
    let empty_array = write_file(dir.path(), "empty.json", b" [\n ]\n");
    for input in [&empty_array[..], "fixtures/edge/header_only.csv", "fixtures/edge/empty.csv"] {
        for extra in [&[][..], &["--sort-by", "a"][..], &["--group-by", "a"][..]] {
            let args = with(&[input, "--output-format", "json"], extra);
            assert_eq!(run_str(&args), "[]\n", "{args:?}");
        }
    }
    assert_eq!(run_str(&[&empty_array, "--output-format", "ndjson"]), "");
}

#[test]
fn json_array_errors_name_line_and_column() {
    let cases: &[(&[u8], &str)] = &[
        (b"{\"a\":1}\n", "1:1: invalid JSON: expected `[`, found `{`: a JSON array input must start with `[` (for one object per line, use --input-format ndjson)"),
        (b"[\n  {\"a\":1},\n  2\n]\n", "3:3: invalid JSON: array element is not a JSON object: found `2`; every element must be an object"),
        (b"[\n{\"a\":1}\n{\"a\":2}\n]\n", "3:1: invalid JSON: expected `,` or `]` after an array element, found `{`"),
        (b"[{\"a\":1},,{\"a\":2}]", "1:10: invalid JSON: expected an object, found `,`"),
        (b"[{\"a\":1},\n]", "2:1: invalid JSON: expected an object after `,`, found `]`"),
        (b"[{\"a\":1}]\n\nx\n", "3:1: invalid JSON: trailing characters after the closing `]`: found `x`"),
        (b"[{\"a\":1},\n {\"a\":2}\n", "3:1: invalid JSON: unterminated array: the input ends before the closing `]`"),
        (b"[{\"a\":1},\n {\"a\":\"open}]\n", "2:7: invalid JSON: unterminated string: the string that opens here never closes"),
        (b"[{\"a\":1},\n  {\"a\":[1,\n2}\n", "2:3: invalid JSON: unterminated object: the array element that starts here never closes"),
        // Inside an element, the JSON parser's message, at its place.
        (b"[{\"a\":1},\n  {\"a\" 2}]", "2:8: invalid JSON: expected `:`"),
        (b"[{\"a\":1}, {\"a\":\n  tru}]", "2:6: invalid JSON: expected ident"),
        // The first error in input order wins, whatever the chunks: the bad
        // element on line 2 before the missing comma on line 3.
        (b"[{\"a\":1},\n{\"a\":2,},\n{\"a\":3} {\"a\":4}]", "2:8: invalid JSON: trailing comma"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, (body, want)) in cases.iter().enumerate() {
        let path = write_file(dir.path(), &format!("bad{i}.json"), body);
        let want = format!("fanfold: error: {path}:{want}\n");
        for s in SETTINGS {
            let args = with(&[&path, "--input-format", "json"], s);
            assert_eq!(run_err(&args, 1), want, "settings {s:?}");
        }
    }
}

// ---------------------------------------------------------------------------
// Several inputs, standard input
// ---------------------------------------------------------------------------

#[test]
fn several_inputs_form_one_stream() {
    let csv = fixture("fixtures/flights.csv");
    let header_end = csv.iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut expected = csv.clone();
    expected.extend_from_slice(&csv[header_end..]);
    let args = ["fixtures/flights.csv", "fixtures/flights.csv"];
    assert_eq!(run_ok(&args), expected);
    assert_eq!(run_ok(&with(&args, &["--chunk-bytes", "10000", "-j", "4"])), expected);
    // Aggregates see both copies.
    let out = run_str(&with(&args, &["--group-by", "origin", "--agg", "count"]));
    assert_eq!(out, "origin,count\nEWR,14648\nJFK,13654\nLGA,11698\n");
    // A later input with a BOM and CRLF has the same header.
    let dir = tempfile::tempdir().unwrap();
    let plain = write_file(dir.path(), "plain.csv", b"name,qty,price\nfig,1,1.00\n");
    let out = run_str(&["fixtures/edge/crlf_bom.csv", &plain]);
    assert_eq!(out, "name,qty,price\napple,3,0.50\nbanana,12,0.25\ncherry,7,2.00\nfig,1,1.00\n");
    // An input without a final newline does not merge with the next one.
    let nonl = write_file(dir.path(), "nonl.csv", b"a,b\n1,2");
    assert_eq!(run_str(&[&nonl, &nonl]), "a,b\n1,2\n1,2\n");
}

#[test]
fn different_headers_name_the_differing_file() {
    let err = run_err(&["fixtures/edge/numbers.csv", "fixtures/edge/header_only.csv"], 1);
    assert_eq!(
        err,
        "fanfold: error: fixtures/edge/header_only.csv: header [\"a\", \"b\", \"c\"] differs from the \
         header of fixtures/edge/numbers.csv [\"k\", \"v\"]\n"
    );
}

#[test]
fn error_in_second_input_names_it_and_its_own_line() {
    let dir = tempfile::tempdir().unwrap();
    let ok = write_file(dir.path(), "ok.csv", b"a,b,c\n1,2,3\n4,5,6\n7,8,9\n");
    let err = run_err(&[&ok, "fixtures/edge/ragged.csv", "--chunk-size", "1"], 1);
    assert_eq!(
        err,
        "fanfold: error: fixtures/edge/ragged.csv:4: expected 3 fields (as in the header), found 4\n"
    );
}

#[test]
fn missing_input_file() {
    let err = run_err(&["fixtures/no_such_file.csv"], 1);
    assert!(err.starts_with("fanfold: error: fixtures/no_such_file.csv: "), "{err}");
}

#[test]
fn stdin_input() {
    let numbers = fixture("fixtures/edge/numbers.csv");
    for args in [&["--agg", "count"][..], &["-", "--agg", "count"][..]] {
        fanfold(args)
            .write_stdin(numbers.clone())
            .assert()
            .success()
            .stdout("count\n11\n")
            .stderr("");
    }
    // Standard input defaults to CSV; --input-format overrides it.
    fanfold(&["--input-format", "ndjson", "--agg", "sum:v"])
        .write_stdin(fixture("fixtures/edge/blank_lines.ndjson"))
        .assert()
        .success()
        .stdout("{\"sum_v\":0.5}\n");
    fanfold(&["-", "--input-format", "tsv", "--group-by", "region", "--agg", "sum:units"])
        .write_stdin(fixture("fixtures/edge/sales.tsv"))
        .assert()
        .success()
        .stdout("region\tsum_units\neast\t6\nnorth\t13\nsouth\t7\n");
    fanfold(&["--delimiter", "tab", "--agg", "sum:units"])
        .write_stdin(fixture("fixtures/edge/sales.tsv"))
        .assert()
        .success()
        .stdout("sum_units\n26\n");
    // Standard input mixes with files, in order.
    fanfold(&["-", "fixtures/edge/numbers.csv", "--agg", "count"])
        .write_stdin(numbers)
        .assert()
        .success()
        .stdout("count\n22\n");
    // Errors in standard input are named <stdin>.
    fanfold(&["--input-format", "csv"])
        .write_stdin("a,b\n1,2\n1,2,3\n")
        .assert()
        .code(1)
        .stderr("fanfold: error: <stdin>:3: expected 2 fields (as in the header), found 3\n");
}

// ---------------------------------------------------------------------------
// -o FILE
// ---------------------------------------------------------------------------

#[test]
fn output_file_gets_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.csv");
    let t = target.to_str().unwrap();
    let args = with(&with(&["fixtures/flights.csv"], FLIGHTS_GROUP_ARGS), &["-o", t]);
    fanfold(&args).assert().success().stdout("").stderr("");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), FLIGHTS_BY_CARRIER);
    assert_eq!(dir_entries(dir.path()), ["out.csv"]);
    // Overwrites an existing file.
    fanfold(&["fixtures/edge/numbers.csv", "--agg", "count", "--output", t])
        .assert()
        .success()
        .stdout("");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "count\n11\n");
    assert_eq!(dir_entries(dir.path()), ["out.csv"]);
    // `-o -` is standard output.
    fanfold(&["fixtures/edge/numbers.csv", "--agg", "count", "-o", "-"])
        .assert()
        .success()
        .stdout("count\n11\n");
}

#[test]
fn failed_run_leaves_output_file_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.csv");
    let t = target.to_str().unwrap();
    std::fs::write(&target, "previous contents\n").unwrap();
    fanfold(&["fixtures/edge/ragged.csv", "-o", t]).assert().code(1).stdout("");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "previous contents\n");
    assert_eq!(dir_entries(dir.path()), ["out.csv"]);

    // A failure after many chunks were already written to the temp file.
    let mut big = String::from("a,b\n");
    for i in 0..50_000 {
        big.push_str(&format!("{i},{}\n", i * 2));
    }
    big.push_str("1,2,3\n");
    let input = write_file(dir.path(), "big.csv", big.as_bytes());
    fanfold(&[&input, "-o", t, "--chunk-size", "1000", "-j", "2"]).assert().code(1).stderr(
        format!("fanfold: error: {input}:50002: expected 2 fields (as in the header), found 3\n"),
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "previous contents\n");
    assert_eq!(dir_entries(dir.path()), ["big.csv", "out.csv"]);

    // A failure with no previous file creates none.
    let fresh = dir.path().join("fresh.csv");
    fanfold(&["fixtures/edge/numbers.csv", "--agg", "sum:v", "-o", fresh.to_str().unwrap()])
        .assert()
        .code(1);
    assert!(!fresh.exists());
    // Nor does a bad column.
    fanfold(&["fixtures/edge/numbers.csv", "--select", "zz", "-o", fresh.to_str().unwrap()])
        .assert()
        .code(1);
    assert!(!fresh.exists());
    assert!(dir_entries(dir.path()).iter().all(|n| !n.starts_with(".fanfold-")));
}

#[test]
fn output_into_missing_directory_fails() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("no_such_dir").join("out.csv");
    let t = target.to_str().unwrap();
    let err = run_err(&["fixtures/edge/numbers.csv", "-o", t], 1);
    assert!(err.starts_with(&format!("fanfold: error: {t}: ")), "{err}");
    assert!(!target.exists());
}

#[test]
fn output_to_dev_null() {
    if !Path::new("/dev/null").exists() {
        return;
    }
    fanfold(&["fixtures/flights.csv", "-o", "/dev/null"]).assert().success().stdout("").stderr("");
}

#[cfg(unix)]
#[test]
fn output_file_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.csv");
    let t = target.to_str().unwrap();
    fanfold(&["fixtures/edge/numbers.csv", "-o", t]).assert().success();
    let mode = |p: &PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&target), 0o644);
    // An existing file keeps its mode.
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
    fanfold(&["fixtures/edge/header_only.csv", "-o", t]).assert().success();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "a,b,c\n");
    assert_eq!(mode(&target), 0o600);
}

// ---------------------------------------------------------------------------
// --stats
// ---------------------------------------------------------------------------

/// A regex for the stats line with these counts.
fn stats_line(read: u64, written: u64, threads: usize, bytes: u64) -> String {
    format!(
        r"^fanfold: stats: records read {read}, records written {written}, records filtered 0, records rejected 0, chunks \d+, threads {threads}, bytes read {bytes}, bytes parsed {bytes}, elapsed \d+\.\d{{3}} s, \d+\.\d MB/s, peak chunks in flight \d+\n$"
    )
}

#[test]
fn stats_line_on_stderr() {
    let csv_len = fixture("fixtures/flights.csv").len() as u64;
    let args = with(&with(&["fixtures/flights.csv"], FLIGHTS_GROUP_ARGS), &["--stats", "-j", "3"]);
    fanfold(&args)
        .assert()
        .success()
        .stdout(FLIGHTS_BY_CARRIER)
        .stderr(predicate::str::is_match(stats_line(20_000, 15, 3, csv_len)).unwrap());
    // Concat writes every record; two inputs count both.
    let args =
        ["fixtures/flights.csv", "fixtures/flights.csv", "--stats", "-j", "2", "-o", "/dev/null"];
    fanfold(&args)
        .assert()
        .success()
        .stdout("")
        .stderr(predicate::str::is_match(stats_line(40_000, 40_000, 2, 2 * csv_len)).unwrap());
    // The chunk count follows --chunk-size.
    let args = ["fixtures/flights.csv", "--stats", "--chunk-size", "1000", "-j", "1"];
    let out = fanfold(&args).output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(", chunks 20, threads 1,"), "{err}");
    // Without --stats, nothing on stderr.
    fanfold(&["fixtures/edge/numbers.csv"]).assert().success().stderr("");
}

// ---------------------------------------------------------------------------
// Bad command lines
// ---------------------------------------------------------------------------

#[test]
fn bad_flag_values_name_the_flag() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["--agg", "percentile:x"], &["--agg", "percentile", "quantile_cont:col:p"]),
        (&["--agg", "quantile:x:2"], &["--agg", "fraction from 0 to 1"]),
        (&["--agg", "sum"], &["--agg", "needs a column"]),
        (&["--sort-by", "a:zz"], &["--sort-by", "zz"]),
        (&["--chunk-bytes", "4XB"], &["--chunk-bytes", "4XB"]),
        (&["--chunk-bytes", "0"], &["--chunk-bytes"]),
        (&["--threads", "0"], &["--threads"]),
        (&["--chunk-size", "0"], &["--chunk-size"]),
        (&["--max-in-flight", "0"], &["--max-in-flight"]),
        (&["--rename", "nope"], &["--rename", "old=new"]),
        (&["--delimiter", "ab"], &["--delimiter"]),
        (&["--input-format", "xml"], &["--input-format", "xml"]),
        (&["--sort-by", "k", "--group-by", "k"], &["--sort-by", "--group-by"]),
        (&["--chunk-bytes", "1", "--chunk-size", "1"], &["--chunk-bytes", "--chunk-size"]),
    ];
    for (flags, words) in cases {
        let args = with(&["fixtures/edge/numbers.csv"], flags);
        let out = fanfold(&args).output().unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        assert_ne!(out.status.code(), None, "{args:?} was killed");
        assert!(out.stdout.is_empty(), "{args:?} wrote output");
        let err = String::from_utf8(out.stderr).unwrap();
        for w in *words {
            assert!(err.contains(w), "{args:?}: stderr lacks `{w}`: {err}");
        }
    }
    // Errors found by clap exit with 2.
    for flags in [&["--threads", "0"][..], &["--chunk-bytes", "4XB"][..]] {
        fanfold(&with(&["fixtures/edge/numbers.csv"], flags)).assert().code(2);
    }
}

// ---------------------------------------------------------------------------
// Broken pipe
// ---------------------------------------------------------------------------

/// Writes a CSV of about 20 MB into `dir` and returns its path.
fn big_csv(dir: &Path) -> String {
    use std::io::Write;
    let path = dir.join("big.csv");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(w, "id,name,value,note").unwrap();
    for i in 0..700_000u32 {
        writeln!(w, "{i},name{},{}.5,some filler text", i % 97, i / 3).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    assert!(std::fs::metadata(&path).unwrap().len() > 19_000_000);
    path.to_str().unwrap().to_string()
}

#[test]
fn broken_pipe_is_success() {
    if std::process::Command::new("bash").arg("-c").arg("true").status().is_err() {
        return; // no bash to build the pipe with
    }
    let dir = tempfile::tempdir().unwrap();
    let input = big_csv(dir.path());
    let bin = env!("CARGO_BIN_EXE_fanfold");
    let cases: &[(&[&str], &str)] = &[
        (&[], "id,name,value,note\n"),
        (
            &["--output-format", "ndjson"],
            "{\"id\":0,\"name\":\"name0\",\"value\":0.5,\"note\":\"some filler text\"}\n",
        ),
        (&["--sort-by", "id:n:desc", "--chunk-size", "50000"], "id,name,value,note\n"),
        (&["--chunk-size", "10", "-j", "4"], "id,name,value,note\n"),
    ];
    for (flags, first) in cases {
        // No pipefail: fanfold's own status comes from PIPESTATUS.
        let script = r#""$@" | head -n 1; echo "status=${PIPESTATUS[0]}""#;
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(script)
            .arg("bash")
            .arg(bin)
            .arg(&input)
            .args(*flags)
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stdout, format!("{first}status=0\n"), "{flags:?}; stderr: {stderr}");
        assert_eq!(stderr, "", "{flags:?}");
    }
}

// ---------------------------------------------------------------------------
// --explain
// ---------------------------------------------------------------------------

#[test]
fn explain_prints_the_plan_and_does_not_run() {
    let out = run_str(&["fixtures/flights.csv", "--threads", "2", "--explain"]);
    // 1,836,697 bytes / (4 chunks × 2 threads) = 229,587 bytes a chunk.
    assert!(out.contains("chunk:        224.2 KiB (automatic"), "{out}");
    assert!(out.contains("chunks:       9 expected"), "{out}");
    assert!(out.contains("threads:      2"), "{out}");
    assert!(out.contains("window:       8 chunks in flight"), "{out}");
    assert!(!out.contains("carrier"), "--explain must not run the pipeline: {out}");
    let given = run_str(&["fixtures/flights.csv", "--chunk-bytes", "64KiB", "--explain"]);
    assert!(given.contains("chunk:        64.0 KiB (given on the command line)"), "{given}");
}

// ---------------------------------------------------------------------------
// Parallel final merge of a sort (used from 100,000 records)
// ---------------------------------------------------------------------------

#[test]
fn large_sort_merges_in_parallel_with_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("id,key,word\n");
    for i in 0..150_000u64 {
        // Many ties (97 keys, some missing), and text that needs quoting.
        let key = if i % 1000 == 7 { String::new() } else { ((i * 7919) % 97).to_string() };
        let word = if i % 5 == 0 { format!("\"w,{i}\"") } else { format!("w{i}") };
        csv.push_str(&format!("{i},{key},{word}\n"));
    }
    let path = write_file(dir.path(), "big.csv", csv.as_bytes());
    // The expected order: a stable sort by key, numeric, descending, missing last.
    let mut lines: Vec<&str> = csv.lines().skip(1).collect();
    let key_of = |l: &str| l.split(',').nth(1).unwrap().parse::<i64>().ok();
    lines.sort_by(|a, b| match (key_of(a), key_of(b)) {
        (Some(x), Some(y)) => y.cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let expected = format!("id,key,word\n{}\n", lines.join("\n"));
    for threads in ["1", "2", "3", "4"] {
        for chunk in ["64KiB", "1MiB"] {
            let out = run_str(&[
                &path,
                "--sort-by",
                "key:n:desc",
                "--threads",
                threads,
                "--chunk-bytes",
                chunk,
            ]);
            assert!(out == expected, "threads {threads}, chunk {chunk}: output differs");
        }
    }
}
