//! `fanfold map`, `combine` and `reduce`: a run split the way Hadoop
//! Streaming runs it (the shell emulation `split | map | sort | combine |
//! sort | reduce`, with coreutils' `split` and `sort`) gives the bytes of
//! one run over the whole input; partial lines of another pipeline or
//! version, and corrupt ones, are refused naming their line.

use std::path::{Path, PathBuf};
use std::process::Command;

const FLIGHTS_CSV: &str = "fixtures/flights.csv";
const FLIGHTS_NDJSON: &str = "fixtures/flights.ndjson";

/// Every group-by aggregate, over columns of the flights fixture.
const EVERY_AGGREGATE: &[&str] = &[
    "--agg",
    "count,count:dep_delay,sum:distance,mean:arr_delay,min:dep_delay,max:dep_delay,\
     min:tailnum,max:tailnum,count_distinct:dest,mode:dest,first:tailnum,last:tailnum,\
     var_samp:arr_delay,var_pop:arr_delay,stddev_samp:arr_delay,stddev_pop:arr_delay,\
     median:dep_delay,quantile_cont:air_time:0.25,quantile_disc:air_time:0.75,\
     approx_distinct:tailnum,approx_quantile:air_time:0.9",
    "--null",
    "NA",
];

fn fanfold() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("fanfold").expect("the fanfold binary")
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fanfold"))
}

/// Words quoted for `sh`.
fn quoted(words: &[&str]) -> String {
    words.iter().map(|w| format!("'{}'", w.replace('\'', r"'\''"))).collect::<Vec<_>>().join(" ")
}

/// What one run over `input` with `flags` prints.
fn one_run(input: &str, flags: &[&str]) -> Vec<u8> {
    let out = fanfold().arg(input).args(flags).output().expect("fanfold runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// What the shell emulation of a Hadoop Streaming job prints: `input` cut
/// by lines into `parts` splits (only the first holds the header line),
/// `fanfold map` over each (with `map_flags` and its split's number),
/// the lines sorted as bytes, combined, sorted again, and reduced.
fn streaming_job(input: &str, parts: usize, map_flags: &[&str], flags: &[&str]) -> Vec<u8> {
    job(input, parts, map_flags, flags, false)
}

/// [`streaming_job`], or with `map_only` the map steps' outputs
/// concatenated in split order (a job with no reducer).
fn job(input: &str, parts: usize, map_flags: &[&str], flags: &[&str], map_only: bool) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join(input);
    let script = format!(
        "set -e
         cd '{dir}'
         split -d -n l/{parts} '{input}' split.
         i=0
         for s in split.*; do
             '{bin}' map --split-index $i {map_flags} {flags} < $s > $s.partial
             i=$((i + 1))
         done
         {after}",
        dir = dir.path().display(),
        input = input.display(),
        bin = bin().display(),
        map_flags = quoted(map_flags),
        flags = quoted(flags),
        after = if map_only {
            "cat split.*.partial".to_string()
        } else {
            format!(
                "cat split.*.partial | LC_ALL=C sort | '{bin}' combine {flags} \
                 | LC_ALL=C sort | '{bin}' reduce {flags}",
                bin = bin().display(),
                flags = quoted(flags)
            )
        },
    );
    let out = Command::new("sh").arg("-c").arg(&script).output().expect("sh runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// The flights fixture's header, for `--columns`.
fn flights_columns() -> String {
    let text = std::fs::read_to_string(FLIGHTS_CSV).expect("the fixture");
    text.lines().next().unwrap_or_default().to_string()
}

#[test]
fn a_streaming_job_gives_the_bytes_of_one_run_for_every_aggregate() {
    let columns = flights_columns();
    let mut flags = vec!["--group-by", "carrier,origin"];
    flags.extend_from_slice(EVERY_AGGREGATE);
    let expected = one_run(FLIGHTS_CSV, &flags);
    assert!(expected.len() > 5_000, "{}", String::from_utf8_lossy(&expected));
    for parts in [1, 3, 8] {
        let got = streaming_job(FLIGHTS_CSV, parts, &["--columns", &columns], &flags);
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&expected), "{parts}");
    }
}

#[test]
fn a_streaming_job_over_ndjson_with_transforms_and_a_global_aggregate() {
    // JSON keys keep their types (a number stays a number), a --filter
    // and a --map run in the map step only, and with no --group-by there
    // is one row.
    let grouped = [
        "--input-format",
        "ndjson",
        "--filter",
        ".distance > 500",
        "--map",
        ".late = (.arr_delay // 0) > 15",
        "--group-by",
        "month,late",
        "--agg",
        "count,mean:dep_delay,first:tailnum,last:dest,median:air_time",
    ];
    let global = ["--input-format", "ndjson", "--agg", "count,sum:distance,stddev:arr_delay"];
    for flags in [&grouped[..], &global[..]] {
        let expected = one_run(FLIGHTS_NDJSON, flags);
        let got = streaming_job(FLIGHTS_NDJSON, 5, &[], flags);
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&expected));
        assert!(expected.starts_with(b"{\""), "{}", String::from_utf8_lossy(&expected));
    }
}

#[test]
fn a_streaming_job_sorts_keeps_the_top_k_and_concatenates_as_one_run() {
    let columns = flights_columns();
    let map_flags = ["--columns", columns.as_str()];
    let sorts: [&[&str]; 5] = [
        // Ties (many flights share a destination) in input order.
        &["--sort-by", "dest,arr_delay:n:desc", "--null", "NA"],
        // A JSON array written by the reduce step only.
        &[
            "--top",
            "2",
            "--sort-by",
            "dep_delay:n",
            "--group-by",
            "origin",
            "--null",
            "NA",
            "--output-format",
            "json",
        ],
        &["--top", "3", "--sort-by", "dep_delay:n:desc", "--group-by", "carrier", "--null", "NA"],
        &["--top", "2", "--sort-by", "tailnum"],
        // --map with CSV output: each split's columns are the union of
        // its records' keys, the same in every split here.
        &["--sort-by", "dest", "--map", ".late = .dep_delay > 30", "--null", "NA"],
    ];
    for flags in sorts {
        let expected = one_run(FLIGHTS_CSV, flags);
        let got = streaming_job(FLIGHTS_CSV, 4, &map_flags, flags);
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&expected), "{flags:?}");
    }
    let concat = ["--filter", ".month == 1", "--map", ".late = .dep_delay > 30", "--null", "NA"];
    let expected = one_run(FLIGHTS_CSV, &concat);
    let got = job(FLIGHTS_CSV, 4, &map_flags, &concat, true);
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&expected));
    // NDJSON in and out, a top per group.
    let top = [
        "--input-format",
        "ndjson",
        "--top",
        "1",
        "--sort-by",
        "distance:n",
        "--group-by",
        "origin",
    ];
    assert_eq!(streaming_job(FLIGHTS_NDJSON, 3, &[], &top), one_run(FLIGHTS_NDJSON, &top));
}

#[test]
fn a_streaming_job_merges_a_custom_reducer_in_split_order() {
    // The merge appends the right's lists after the left's: not
    // commutative, so the splits' accumulators must merge in split order
    // (the lines come sorted the wrong way round here).
    let columns = flights_columns();
    let flags = [
        "--reduce-init",
        "{}",
        "--reduce-update",
        ".[$record.carrier] += [$record.dep_delay]",
        "--reduce-merge",
        "$left as $l | $right | to_entries | reduce .[] as $e ($l; .[$e.key] += $e.value)",
        "--reduce-finish",
        "to_entries[] | {carrier: .key, n: (.value | length), \
         firsts: (.value[:3] | map(tostring) | join(\";\")), total: (.value | map(. // 0) | add)}",
        "--null",
        "NA",
    ];
    let expected = one_run(FLIGHTS_CSV, &flags);
    assert!(expected.starts_with(b"carrier,n,firsts,total\nUA,3445,2;4;-4,25040\n"));
    let got = streaming_job(FLIGHTS_CSV, 4, &["--columns", &columns], &flags);
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&expected));
    // Two splits' lines, the second's first: reduce merges them in key
    // (split) order.
    let text = std::fs::read_to_string(FLIGHTS_CSV).expect("the fixture");
    let (first, second) = text.split_at(text.len() / 2);
    let cut = second.find('\n').expect("a line end") + 1;
    let (first, second) = (format!("{first}{}", &second[..cut]), &second[cut..]);
    let map = |split: &str, i: &str| {
        let args = [&["--columns", &columns, "--split-index", i][..], &flags[..]].concat();
        String::from_utf8(step("map", &args, split).stdout).expect("text")
    };
    let lines = format!("{}{}", map(second, "1"), map(&first, "0"));
    assert_eq!(lines.lines().count(), 2);
    let out = step("reduce", &flags, &lines);
    assert_eq!(String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&expected));
}

#[test]
fn a_reduce_of_a_sort_sorts_its_lines_or_refuses_them_out_of_order_with_sorted() {
    let flags = ["--sort-by", "dest"];
    let expected = one_run(FLIGHTS_CSV, &flags);
    // A sort's map writes its lines in input order; combined, they are
    // in key order.
    let combined = step("combine", &flags, &map_lines(&flags));
    let lines = String::from_utf8_lossy(&combined.stdout).into_owned();
    let mut shuffled: Vec<&str> = lines.lines().collect();
    // Lines 6 and 10 swapped: line 7 comes before line 6.
    shuffled.swap(5, 9);
    let text: String = shuffled.iter().map(|l| format!("{l}\n")).collect();
    let sorted = [&flags[..], &["--sorted"]].concat();
    let out = step("reduce", &sorted, &text);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("<stdin>:7: the partial lines are not in key order"), "{err}");
    // Combined again, they are in order again.
    let combined = step("combine", &flags, &text);
    let out = step("reduce", &sorted, &String::from_utf8_lossy(&combined.stdout));
    assert_eq!(out.stdout, expected);
    // Without --sorted, the reduce sorts them first, spilling past a
    // small memory limit, whatever their order (the map's own, here).
    let lines = map_lines(&flags);
    let reversed: String = lines.lines().rev().map(|l| format!("{l}\n")).collect();
    for input in [&text, &lines, &reversed] {
        let small = [&flags[..], &["--memory-limit", "256KiB", "--chunk-bytes", "16KiB"]].concat();
        let out = step("reduce", &small, input);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&expected));
    }
    let top = ["--top", "2", "--sort-by", "arr_delay:n", "--group-by", "dest", "--null", "NA"];
    let lines = map_lines(&top);
    let reversed: String = lines.lines().rev().map(|l| format!("{l}\n")).collect();
    assert_eq!(step("reduce", &top, &reversed).stdout, one_run(FLIGHTS_CSV, &top));
    let out = step("reduce", &["--select", "dest"], "");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("map/combine/reduce: a pipeline with no reducer is map-only"), "{err}");
}

/// `fanfold map` over the whole flights fixture with `flags`.
fn map_lines(flags: &[&str]) -> String {
    let out = fanfold().arg("map").arg(FLIGHTS_CSV).args(flags).output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("partial lines are text")
}

/// `fanfold STEP flags` over `lines` on standard input.
fn step(step: &str, flags: &[&str], lines: &str) -> std::process::Output {
    fanfold().arg(step).args(flags).write_stdin(lines.to_string()).output().expect("runs")
}

#[test]
fn partial_lines_are_printable_sorted_and_merge_in_any_order() {
    let flags =
        ["--group-by", "dest", "--agg", "count,mean:arr_delay,last:tailnum", "--null", "NA"];
    let lines = map_lines(&flags);
    let all: Vec<&str> = lines.lines().collect();
    assert!(all.len() > 50, "{lines}");
    for line in &all {
        let (key, value) = line.split_once('\t').expect("a tab");
        assert!(line.bytes().all(|b| b == b'\t' || (0x21..0x7f).contains(&b)), "{line}");
        assert!(!key.contains('"') && value.starts_with("p1."), "{line}");
    }
    let mut sorted = all.clone();
    sorted.sort_unstable();
    assert_eq!(all, sorted, "map writes its lines in key order");
    // Reversed and doubled: combine merges each key's two lines into one,
    // in key order; reducing it counts every flight twice.
    let doubled: String = all.iter().rev().chain(all.iter()).map(|l| format!("{l}\n")).collect();
    let combined = step("combine", &flags, &doubled);
    assert!(combined.status.success(), "{}", String::from_utf8_lossy(&combined.stderr));
    let combined = String::from_utf8(combined.stdout).expect("text");
    assert_eq!(combined.lines().count(), all.len());
    let reduced = step("reduce", &flags, &combined);
    let once = step("reduce", &flags, &lines);
    let count = |out: &std::process::Output, dest: &str| -> u64 {
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let row = text.lines().find(|l| l.starts_with(&format!("{dest},"))).expect("a row");
        row.split(',').nth(1).and_then(|n| n.parse().ok()).expect("a count")
    };
    assert_eq!(count(&reduced, "LAX"), 2 * count(&once, "LAX"));
    assert_eq!(once.stdout, one_run(FLIGHTS_CSV, &flags));
}

#[test]
fn partials_of_another_pipeline_or_version_and_corrupt_lines_are_refused_naming_the_line() {
    let flags = ["--group-by", "dest", "--agg", "count"];
    let lines = map_lines(&flags);
    let third = lines.lines().nth(2).expect("three lines");
    // Another aggregate: another fingerprint.
    let out = step("reduce", &["--group-by", "dest", "--agg", "count,sum:distance"], &lines);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("<stdin>:1: partial of another pipeline (fingerprint "), "{err}");
    assert!(err.contains("this one's is "), "{err}");
    let corrupt = |line: &str, expected: &str| {
        let text: String = lines
            .lines()
            .enumerate()
            .map(|(i, l)| if i == 2 { format!("{line}\n") } else { format!("{l}\n") })
            .collect();
        for what in ["combine", "reduce"] {
            let out = step(what, &flags, &text);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{what} {line}: {err}");
            assert!(err.contains(&format!("<stdin>:3: {expected}")), "{what} {line}: {err}");
            assert!(out.stdout.is_empty() || what == "reduce", "{what}");
        }
    };
    let (key, value) = third.split_once('\t').expect("a tab");
    corrupt(&format!("{key}\t{}", value.replacen("p1.", "p9.", 1)), "partial of version `p9`");
    corrupt(&format!("{key}\tnonsense"), "not a fanfold partial line");
    let state = value.rsplit('.').next().expect("a state");
    let print = value.split('.').nth(1).expect("a fingerprint");
    corrupt(&format!("{key}\tp1.{print}.{}", &state[..state.len() - 3]), "its state is not");
    corrupt(&format!("{key}\tp1.{print}.*{state}"), "its state is not base64");
    let other_key = lines.lines().nth(3).and_then(|l| l.split_once('\t')).expect("a line").0;
    corrupt(&format!("{other_key}\t{value}"), "its key is not the key of the group");
    corrupt(&format!("~zz\t{value}"), "its key is not an escaped fanfold key");
}

#[test]
fn headerless_splits_take_their_columns_from_flags_or_a_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let head = dir.path().join("head.csv");
    std::fs::write(&head, "city,amount\n").expect("written");
    let flags = ["--group-by", "city", "--agg", "sum:amount"];
    // The split that begins the file has the header line: skipped.
    for (split, columns) in [
        ("city,amount\nOslo,1\nLima,2\n", vec!["--columns", "city,amount"]),
        ("Oslo,1\nLima,2\n", vec!["--columns", "city,amount"]),
        ("Oslo,1\nLima,2\n", vec!["--header-from", head.to_str().expect("utf-8")]),
    ] {
        let map = step("map", &[&columns[..], &flags[..]].concat(), split);
        assert!(map.status.success(), "{}", String::from_utf8_lossy(&map.stderr));
        let out = step("reduce", &flags, &String::from_utf8_lossy(&map.stdout));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "city,sum_amount\nLima,2\nOslo,1\n");
    }
    // A whole run takes --columns too.
    let out = fanfold()
        .args(["--columns", "city,amount", "--group-by", "city", "--agg", "count"])
        .write_stdin("Oslo,1\nOslo,2\n")
        .output()
        .expect("runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "city,count\nOslo,2\n");
}

#[test]
fn steps_print_hadoop_counters_when_asked_or_under_hadoop() {
    let flags = ["--group-by", "city", "--agg", "count"];
    let input = "city\nOslo\nLima\nOslo\n";
    let counters = |out: std::process::Output| -> Vec<String> {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        err.lines().filter(|l| l.starts_with("reporter:counter:")).map(String::from).collect()
    };
    let asked = counters(step("map", &[&flags[..], &["--counters"]].concat(), input));
    assert_eq!(asked[0], "reporter:counter:fanfold,records_read,3");
    assert_eq!(asked[1], "reporter:counter:fanfold,records_written,2");
    let hadoop = fanfold()
        .arg("map")
        .args(flags)
        .env("mapreduce_task_id", "attempt_1_0001_m_000000_0")
        .write_stdin(input)
        .output()
        .expect("runs");
    assert_eq!(counters(hadoop), asked);
    assert!(counters(step("map", &flags, input)).is_empty());
    // Not a flag of a whole run.
    let out = fanfold().args(["--counters"]).args(flags).write_stdin(input).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn emitted_partials_of_two_days_reduce_to_the_run_over_both() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let text = std::fs::read_to_string(FLIGHTS_CSV).expect("the fixture");
    let mut lines = text.lines();
    let header = lines.next().expect("a header");
    let rows: Vec<&str> = lines.collect();
    let (one, two) = rows.split_at(rows.len() / 3);
    let day = |name: &str, rows: &[&str]| {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("{header}\n{}\n", rows.join("\n"))).expect("written");
        path
    };
    let (day1, day2) = (day("day1.csv", one), day("day2.csv", two));
    let mut flags = vec!["--group-by", "origin,month"];
    flags.extend_from_slice(EVERY_AGGREGATE);
    // Each day's number orders first and last across them.
    for (input, partials, n) in [(&day1, "day1.partial", "0"), (&day2, "day2.partial.gz", "1")] {
        let out = fanfold()
            .arg(input)
            .args(&flags)
            .args(["--emit-partials", partials, "--split-index", n, "-o", "rows.csv"])
            .current_dir(dir.path())
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        // The rows are those of a run without --emit-partials.
        let rows = std::fs::read(dir.path().join("rows.csv")).expect("the output");
        assert_eq!(rows, one_run(input.to_str().expect("utf-8"), &flags));
    }
    let out = fanfold()
        .args(["reduce", "day2.partial.gz", "day1.partial"])
        .args(&flags)
        .current_dir(dir.path())
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&one_run(FLIGHTS_CSV, &flags))
    );
    // Only a whole run's group-by emits partials.
    let refused =
        fanfold().args(["--sort-by", "origin", "--emit-partials", "x"]).arg(&day1).output();
    let err = String::from_utf8_lossy(&refused.expect("runs").stderr).into_owned();
    assert!(err.contains("--emit-partials: needs --group-by or --agg"), "{err}");
}

#[test]
fn a_map_step_under_hadoop_names_its_split_in_errors_and_rejects() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let rejects = dir.path().join("rejects.ndjson");
    let out = fanfold()
        .args(["map", "--group-by", "city", "--agg", "sum:amount", "--on-error", "reject"])
        .arg("--rejects")
        .arg(&rejects)
        .env("mapreduce_map_input_file", "hdfs://nn/sales.csv")
        .env("mapreduce_map_input_start", "4096")
        .env("mapreduce_task_id", "attempt_1_0001_m_000001_0")
        .write_stdin("city,amount\nOslo,1\nLima,x\n")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("reporter:counter:fanfold,records_rejected,1"), "{err}");
    let rejected = std::fs::read_to_string(&rejects).expect("the rejects");
    assert!(
        rejected.contains(r#""input":"hdfs://nn/sales.csv (split at byte 4096)","line":3"#),
        "{rejected}"
    );
    // Outside a map step, standard input is <stdin>.
    let out = fanfold()
        .args(["--group-by", "city", "--agg", "sum:amount"])
        .env("mapreduce_map_input_file", "hdfs://nn/sales.csv")
        .write_stdin("city,amount\nLima,x\n")
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&out.stderr).contains("<stdin>:2:"));
}

#[test]
fn sorted_lines_stream_key_by_key_at_any_chunk_size_and_unsorted_ones_are_refused() {
    let mut flags = vec!["--group-by", "dest"];
    flags.extend_from_slice(EVERY_AGGREGATE);
    let lines = map_lines(&flags);
    // Each line twice, sorted: runs of equal keys across chunk boundaries.
    let mut doubled: Vec<&str> = lines.lines().chain(lines.lines()).collect();
    doubled.sort_unstable();
    let doubled: String = doubled.iter().map(|l| format!("{l}\n")).collect();
    let unsorted = step("reduce", &flags, &doubled);
    assert!(unsorted.status.success(), "{}", String::from_utf8_lossy(&unsorted.stderr));
    for (chunk, threads) in [("1", "1"), ("2", "2"), ("3", "2"), ("1000", "2")] {
        let sized = ["--chunk-size", chunk, "--threads", threads, "--sorted"];
        let out = step("reduce", &[&flags[..], &sized[..]].concat(), &doubled);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.stdout, unsorted.stdout, "--chunk-size {chunk} --threads {threads}");
        // Combined, then reduced: the same rows.
        let combined = step("combine", &[&flags[..], &sized[..]].concat(), &doubled);
        assert_eq!(
            String::from_utf8_lossy(&combined.stdout).lines().count(),
            lines.lines().count()
        );
        let out = step(
            "reduce",
            &[&flags[..], &["--sorted"]].concat(),
            &String::from_utf8_lossy(&combined.stdout),
        );
        assert_eq!(out.stdout, unsorted.stdout);
    }
    // In the order the map wrote them, but a doubled copy after: line
    // N + 1 is the first line again, before the last.
    let n = lines.lines().count();
    let twice = format!("{lines}{lines}");
    let out = step("reduce", &[&flags[..], &["--sorted"]].concat(), &twice);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("<stdin>:{}: the partial lines are not in key order", n + 1)),
        "{err}"
    );
    // --sorted is for the steps that read partial lines.
    let out = fanfold().args(["map", "--sorted", "--agg", "count"]).write_stdin("a\n1\n").output();
    assert_eq!(out.expect("runs").status.code(), Some(2));
}
