//! End-to-end tests of `--no-infer` (no type inference): every CSV field
//! stays a string, to jq expressions and in NDJSON and JSON array output
//! (`1` is `"1"`, `007` is `"007"`, an empty field `""`), and only the
//! `--null` markers given explicitly become `null`, as DuckDB's
//! `all_varchar` keeps every column a string.
//!
//! Expected outputs are exact bytes, written out by hand for small inline
//! inputs given on standard input. Without `--no-infer` the old conversion
//! holds (number literals bare, empty fields `null`); it is checked here too
//! so the two meanings stay apart.

use std::path::Path;

use assert_cmd::Command;

/// Ids, zip codes and amounts whose text matters, with an empty field and
/// an `NA`.
const INPUT: &str = "id,zip,amount,note\n1,007,1.50,\n2,,2,NA\n1,10001,3,x\n";

fn fanfold(args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("fanfold").expect("the fanfold binary is built");
    cmd.current_dir(Path::new(env!("CARGO_MANIFEST_DIR"))).args(args);
    cmd
}

/// Runs `fanfold args` on [`INPUT`], asserts success with a quiet stderr,
/// returns standard output.
fn run(args: &[&str]) -> String {
    let out = fanfold(args).write_stdin(INPUT).output().expect("fanfold runs");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "fanfold {args:?} failed: {:?}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

#[test]
fn ndjson_output_keeps_every_field_a_string() {
    assert_eq!(
        run(&["--output-format", "ndjson", "--no-infer"]),
        "{\"id\":\"1\",\"zip\":\"007\",\"amount\":\"1.50\",\"note\":\"\"}\n\
         {\"id\":\"2\",\"zip\":\"\",\"amount\":\"2\",\"note\":\"NA\"}\n\
         {\"id\":\"1\",\"zip\":\"10001\",\"amount\":\"3\",\"note\":\"x\"}\n"
    );
}

#[test]
fn json_array_output_keeps_every_field_a_string() {
    let out =
        run(&["--output-format", "json", "--no-infer", "--threads", "2", "--chunk-size", "1"]);
    assert_eq!(
        out,
        "[\n\
         {\"id\":\"1\",\"zip\":\"007\",\"amount\":\"1.50\",\"note\":\"\"},\n\
         {\"id\":\"2\",\"zip\":\"\",\"amount\":\"2\",\"note\":\"NA\"},\n\
         {\"id\":\"1\",\"zip\":\"10001\",\"amount\":\"3\",\"note\":\"x\"}\n\
         ]\n"
    );
}

#[test]
fn only_explicit_null_markers_become_null() {
    // The `NA` becomes null; the empty fields stay "".
    assert_eq!(
        run(&["--output-format", "ndjson", "--no-infer", "--null", "NA"]),
        "{\"id\":\"1\",\"zip\":\"007\",\"amount\":\"1.50\",\"note\":\"\"}\n\
         {\"id\":\"2\",\"zip\":\"\",\"amount\":\"2\",\"note\":null}\n\
         {\"id\":\"1\",\"zip\":\"10001\",\"amount\":\"3\",\"note\":\"x\"}\n"
    );
}

#[test]
fn without_no_infer_numbers_are_bare_and_empty_fields_null() {
    assert_eq!(
        run(&["--output-format", "ndjson", "--null", "NA"]),
        "{\"id\":1,\"zip\":\"007\",\"amount\":1.50,\"note\":null}\n\
         {\"id\":2,\"zip\":null,\"amount\":2,\"note\":null}\n\
         {\"id\":1,\"zip\":10001,\"amount\":3,\"note\":\"x\"}\n"
    );
}

#[test]
fn csv_output_is_the_same_with_or_without_no_infer() {
    assert_eq!(run(&["--no-infer"]), INPUT);
    assert_eq!(run(&["--no-infer", "--null", "NA"]), INPUT);
}

#[test]
fn sorted_filtered_and_top_records_keep_strings() {
    // The sort still reads `:n` keys as numbers; the records it writes
    // keep their fields as strings.
    assert_eq!(
        run(&["--output-format", "ndjson", "--no-infer", "--sort-by", "amount:n:desc"]),
        "{\"id\":\"1\",\"zip\":\"10001\",\"amount\":\"3\",\"note\":\"x\"}\n\
         {\"id\":\"2\",\"zip\":\"\",\"amount\":\"2\",\"note\":\"NA\"}\n\
         {\"id\":\"1\",\"zip\":\"007\",\"amount\":\"1.50\",\"note\":\"\"}\n"
    );
    assert_eq!(
        run(&["--output-format", "ndjson", "--no-infer", "--sort-by", "amount:n", "--top", "1"]),
        "{\"id\":\"1\",\"zip\":\"007\",\"amount\":\"1.50\",\"note\":\"\"}\n"
    );
    // The fast filter path sees strings too: `.id == "1"`, not `1`.
    assert_eq!(
        run(&["--output-format", "ndjson", "--no-infer", "--filter", ".id == \"1\""]),
        "{\"id\":\"1\",\"zip\":\"007\",\"amount\":\"1.50\",\"note\":\"\"}\n\
         {\"id\":\"1\",\"zip\":\"10001\",\"amount\":\"3\",\"note\":\"x\"}\n"
    );
}

#[test]
fn group_by_keys_are_strings_and_computed_aggregates_numbers() {
    let args = ["--no-infer", "--group-by", "id", "--agg", "count", "--agg", "sum:amount"];
    let args: Vec<&str> = args.iter().copied().chain(["--agg", "max:zip"]).collect();
    let ndjson: Vec<&str> = args.iter().copied().chain(["--output-format", "ndjson"]).collect();
    assert_eq!(
        run(&ndjson),
        "{\"id\":\"1\",\"count\":2,\"sum_amount\":4.5,\"max_zip\":\"10001\"}\n\
         {\"id\":\"2\",\"count\":1,\"sum_amount\":2,\"max_zip\":null}\n"
    );
    let json: Vec<&str> = args.iter().copied().chain(["--output-format", "json"]).collect();
    assert_eq!(
        run(&json),
        "[\n\
         {\"id\":\"1\",\"count\":2,\"sum_amount\":4.5,\"max_zip\":\"10001\"},\n\
         {\"id\":\"2\",\"count\":1,\"sum_amount\":2,\"max_zip\":null}\n\
         ]\n"
    );
    // Without --no-infer the key is a number.
    let inferred: Vec<&str> = ndjson.iter().copied().filter(|a| *a != "--no-infer").collect();
    assert_eq!(
        run(&inferred),
        "{\"id\":1,\"count\":2,\"sum_amount\":4.5,\"max_zip\":10001}\n\
         {\"id\":2,\"count\":1,\"sum_amount\":2,\"max_zip\":null}\n"
    );
}

#[test]
fn group_by_an_empty_key_is_still_missing() {
    // Reducers count an empty field as missing, with or without
    // --no-infer: the group of empty zips is written with a null key,
    // sorted last.
    let args = ["--no-infer", "--group-by", "zip", "--agg", "count", "--output-format", "ndjson"];
    assert_eq!(
        run(&args),
        "{\"zip\":\"007\",\"count\":1}\n{\"zip\":\"10001\",\"count\":1}\n{\"zip\":null,\"count\":1}\n"
    );
}

#[test]
fn a_map_sees_strings_and_writes_them_back() {
    let map = "{id, zip, t: (.id | type), e: (.zip | type), n: (.note | type)}";
    assert_eq!(
        run(&["--output-format", "ndjson", "--no-infer", "--null", "NA", "--map", map]),
        "{\"id\":\"1\",\"zip\":\"007\",\"t\":\"string\",\"e\":\"string\",\"n\":\"string\"}\n\
         {\"id\":\"2\",\"zip\":\"\",\"t\":\"string\",\"e\":\"string\",\"n\":\"null\"}\n\
         {\"id\":\"1\",\"zip\":\"10001\",\"t\":\"string\",\"e\":\"string\",\"n\":\"string\"}\n"
    );
    // CSV output of the same map: the strings' texts, as read.
    assert_eq!(run(&["--no-infer", "--map", "{id, zip}"]), "id,zip\n1,007\n2,\n1,10001\n");
}

#[test]
fn help_says_what_no_infer_means() {
    let out = fanfold(&["--help"]).output().expect("fanfold runs");
    let help = String::from_utf8(out.stdout).expect("UTF-8 help");
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(help.contains("every CSV field stays a string"), "{help}");
    assert!(help.contains("in NDJSON/JSON output"), "{help}");
    assert!(help.contains("Only the --null markers given explicitly become null"), "{help}");
}
