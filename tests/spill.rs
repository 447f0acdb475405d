//! End-to-end tests of `--memory-limit` and `--temp-dir`: a sort that
//! spills sorted runs to disk writes exactly the bytes of the in-memory
//! sort and leaves nothing in the temporary directory (after success and
//! after a failure); so do a group-by and a top-k whose state outgrows the
//! limit.

use std::path::Path;

use assert_cmd::Command;

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

/// Runs `fanfold args`, asserts success, and returns (stdout, stderr).
fn run_ok(args: &[&str]) -> (Vec<u8>, String) {
    let out = fanfold(args).output().expect("fanfold runs");
    let stderr = String::from_utf8(out.stderr).expect("stderr is UTF-8");
    assert!(out.status.success(), "fanfold {args:?} failed: {:?}\nstderr: {stderr}", out.status);
    (out.stdout, stderr)
}

/// Runs `fanfold args`, asserts exit status `code`, and returns stderr.
fn run_err(args: &[&str], code: i32) -> String {
    let out = fanfold(args).output().expect("fanfold runs");
    let stderr = String::from_utf8(out.stderr).expect("stderr is UTF-8");
    assert_eq!(out.status.code(), Some(code), "fanfold {args:?}: stderr: {stderr}");
    stderr
}

/// Names of the entries in `dir`.
fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read the temp dir")
        .map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned())
        .collect()
}

fn with<'a>(args: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    args.iter().chain(extra).copied().collect()
}

/// The spill line of `--stats`: runs spilled, or 0 without one.
fn spilled_runs(stderr: &str) -> u64 {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("fanfold: stats: spilled "))
        .and_then(|l| l.split(' ').next())
        .map_or(0, |n| n.parse().expect("a number of runs"))
}

/// Runs `base` under `--memory-limit 64KiB` with three thread counts and
/// chunk sizes, and asserts that each writes `expected`, spills at least
/// two runs and leaves its temp dir empty.
fn assert_spills_with_the_same_bytes(base: &[&str], expected: &[u8]) {
    for (threads, chunk) in [("1", "256KiB"), ("2", "16KiB"), ("3", "64KiB")] {
        let temp = tempfile::tempdir().unwrap();
        let temp_dir = temp.path().to_str().unwrap();
        let args = with(
            base,
            &[
                "--memory-limit",
                "64KiB",
                "--temp-dir",
                temp_dir,
                "--threads",
                threads,
                "--chunk-bytes",
                chunk,
                "--stats",
            ],
        );
        let (out, stderr) = run_ok(&args);
        assert!(out == expected, "{args:?}: output differs from the in-memory run");
        assert!(spilled_runs(&stderr) >= 2, "{args:?} did not spill: {stderr}");
        assert_eq!(entries(temp.path()), Vec::<String>::new(), "{args:?}");
    }
}

#[test]
fn a_sort_that_spills_writes_the_in_memory_bytes() {
    let sorts: [&[&str]; 3] = [
        &["fixtures/flights.csv", "--null", "NA", "--sort-by", "arr_delay:n:desc,carrier"],
        &[
            "fixtures/flights.csv",
            "--null",
            "NA",
            "--sort-by",
            "tailnum,dep_time:n",
            "--output-format",
            "ndjson",
        ],
        &["fixtures/flights.ndjson", "--sort-by", "dest:desc,distance:n"],
    ];
    for sort in sorts {
        let (expected, stderr) = run_ok(&with(sort, &["--memory-limit", "1GiB", "--stats"]));
        assert_eq!(spilled_runs(&stderr), 0, "{stderr}");
        assert!(expected.len() > 1_000_000);
        assert_spills_with_the_same_bytes(sort, &expected);
    }
}

#[test]
fn a_failing_sort_leaves_no_spill_file_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let temp = tempfile::tempdir().unwrap();
    // The flights, then one record with a non-numeric arr_delay: the run
    // fails after many spills.
    let mut csv = std::fs::read(root().join("fixtures/flights.csv")).unwrap();
    csv.extend_from_slice(
        b"2013,1,2,1,1,0,1,1,late,UA,1,N1,EWR,IAH,1,1,1,1,2013-01-02T10:00:00Z\n",
    );
    let input = dir.path().join("late.csv");
    std::fs::write(&input, csv).unwrap();
    let output = dir.path().join("sorted.csv");
    let args = [
        input.to_str().unwrap(),
        "--sort-by",
        "arr_delay:n",
        "--null",
        "NA",
        "--memory-limit",
        "64KiB",
        "--chunk-bytes",
        "16KiB",
        "--temp-dir",
        temp.path().to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
    ];
    let stderr = run_err(&args, 1);
    assert!(
        stderr.contains("late.csv:20002: column `arr_delay`: `late` is not a number"),
        "{stderr}"
    );
    assert_eq!(entries(temp.path()), Vec::<String>::new());
    assert_eq!(entries(dir.path()), vec!["late.csv".to_string()], "no output, no temporary");
}

#[test]
fn map_records_wait_in_the_temp_dir_and_leave_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let base = [
        "fixtures/flights.csv",
        "--null",
        "NA",
        "--map",
        "{carrier, flight, dep: .dep_delay}",
        "--sort-by",
        "dep:n:desc,flight:n",
    ];
    let (expected, _) = run_ok(&base);
    let args = with(
        &base,
        &["--memory-limit", "64KiB", "--temp-dir", temp.path().to_str().unwrap(), "--stats"],
    );
    let (out, stderr) = run_ok(&args);
    assert!(out == expected, "output differs");
    assert!(spilled_runs(&stderr) >= 2, "{stderr}");
    assert_eq!(entries(temp.path()), Vec::<String>::new());
}

#[test]
fn a_missing_temp_dir_is_named_only_when_a_sort_spills() {
    let args = ["fixtures/flights.csv", "--sort-by", "carrier", "--temp-dir", "no/such/dir"];
    run_ok(&with(&args, &["--memory-limit", "1GiB"]));
    let stderr = run_err(&with(&args, &["--memory-limit", "64KiB"]), 1);
    assert!(stderr.contains("no/such/dir (--temp-dir, spill file): "), "{stderr}");
}

#[test]
fn a_group_by_that_spills_writes_the_in_memory_bytes() {
    let aggs = [
        "--agg",
        "count",
        "--agg",
        "count:dep_time",
        "--agg",
        "sum:dep_delay",
        "--agg",
        "mean:arr_delay",
        "--agg",
        "min:tailnum",
        "--agg",
        "max:air_time",
        "--agg",
        "distinct:dest",
        "--agg",
        "mode:origin",
        "--agg",
        "first:dep_time",
        "--agg",
        "last:arr_time",
    ];
    // From 105 groups (dest) to one group per record (the day, departure
    // time and flight).
    let keys: [&[&str]; 4] = [
        &["fixtures/flights.csv", "--group-by", "tailnum,flight"],
        &["fixtures/flights.csv", "--group-by", "year,month,day,dep_time,flight"],
        &[
            "fixtures/flights.csv",
            "--group-by",
            "carrier",
            "--output-format",
            "ndjson",
            "--agg",
            "distinct:tailnum",
            "--agg",
            "mode:tailnum",
        ],
        &["fixtures/flights.ndjson", "--group-by", "tailnum"],
    ];
    for key in keys {
        let base: Vec<&str> = key.iter().chain(&["--null", "NA"]).chain(&aggs).copied().collect();
        let (expected, stderr) = run_ok(&with(&base, &["--memory-limit", "1GiB", "--stats"]));
        assert_eq!(spilled_runs(&stderr), 0, "{stderr}");
        // Even the 16 carriers' sets of tail numbers pass 64 KiB.
        assert_spills_with_the_same_bytes(&base, &expected);
    }
}

#[test]
fn a_failing_group_by_leaves_no_spill_file() {
    let dir = tempfile::tempdir().unwrap();
    let temp = tempfile::tempdir().unwrap();
    let mut csv = std::fs::read(root().join("fixtures/flights.csv")).unwrap();
    csv.extend_from_slice(
        b"2013,1,2,1,1,0,1,1,late,UA,1,N1,EWR,IAH,1,1,1,1,2013-01-02T10:00:00Z\n",
    );
    let input = dir.path().join("late.csv");
    std::fs::write(&input, csv).unwrap();
    let args = [
        input.to_str().unwrap(),
        "--group-by",
        "tailnum,flight",
        "--agg",
        "sum:arr_delay",
        "--null",
        "NA",
        "--memory-limit",
        "64KiB",
        "--temp-dir",
        temp.path().to_str().unwrap(),
    ];
    let stderr = run_err(&args, 1);
    assert!(
        stderr.contains("late.csv:20002: column `arr_delay`: `late` is not a number"),
        "{stderr}"
    );
    assert_eq!(entries(temp.path()), Vec::<String>::new());
    // A missing --temp-dir is named once the group-by spills.
    let missing = [
        "fixtures/flights.csv",
        "--group-by",
        "tailnum,flight",
        "--temp-dir",
        "no/such/dir",
        "--memory-limit",
        "64KiB",
    ];
    let stderr = run_err(&missing, 1);
    assert!(stderr.contains("no/such/dir (--temp-dir, spill file): "), "{stderr}");
}

#[test]
fn a_top_k_that_spills_writes_the_in_memory_bytes() {
    let tops: [&[&str]; 3] = [
        &["fixtures/flights.csv", "--group-by", "tailnum", "--sort-by", "distance:n", "--top", "3"],
        &[
            "fixtures/flights.ndjson",
            "--group-by",
            "dest,carrier",
            "--sort-by",
            "dep_delay:n:desc,flight",
            "--top",
            "2",
        ],
        // One group, more records than fit: the merge streams the first K.
        &["fixtures/flights.csv", "--null", "NA", "--sort-by", "arr_delay:n", "--top", "5000"],
    ];
    for base in tops {
        let (expected, _) = run_ok(base);
        assert_spills_with_the_same_bytes(base, &expected);
    }
}

#[test]
fn custom_reducers_past_the_limit_are_clear_errors() {
    // An accumulator that keeps every record's flight by tail number.
    let custom = [
        "fixtures/flights.csv",
        "--reduce-init",
        "{}",
        "--reduce-update",
        ".[$record.tailnum | tostring] += [$record.flight]",
        "--reduce-merge",
        "$left as $l | $right | to_entries | reduce .[] as $e ($l; .[$e.key] += $e.value)",
        "--reduce-finish",
        "to_entries[] | {tailnum: .key, flights: (.value | length)}",
    ];
    let stderr = run_err(&with(&custom, &["--memory-limit", "256KiB"]), 1);
    assert!(
        stderr.contains("--memory-limit 256.0 KiB: the custom reducer's accumulator passed"),
        "{stderr}"
    );
    let (expected, _) = run_ok(&custom);
    let (out, _) = run_ok(&with(&custom, &["--memory-limit", "8MiB"]));
    assert_eq!(out, expected);
}

#[test]
fn explain_shows_the_limit_and_the_reducer_share() {
    let (out, _) = run_ok(&[
        "fixtures/flights.csv",
        "--threads",
        "2",
        "--memory-limit",
        "256MiB",
        "--explain",
    ]);
    let out = String::from_utf8(out).unwrap();
    // Window: 2 × (224.2 KiB + 64 KiB) × 8 slots = 4.5 MiB; the rest is the reducer's.
    assert!(
        out.contains("memory limit: 256.0 MiB (given); 251.5 MiB of it for the reducer's state"),
        "{out}"
    );
    let (out, _) = run_ok(&["fixtures/flights.csv", "--explain"]);
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("(default: a quarter of the physical memory)"), "{out}");
    // A tight limit lowers the automatic chunk size.
    let (out, _) =
        run_ok(&["fixtures/flights.csv", "--threads", "2", "--memory-limit", "2MiB", "--explain"]);
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("chunk:        64.0 KiB (automatic: lowered so that the window"), "{out}");
    assert!(out.contains("1.0 MiB of it for the reducer's state"), "{out}");
}

#[test]
fn bad_memory_limits_are_flag_errors() {
    for bad in ["0", "lots", "12XB", ""] {
        let stderr = run_err(&["fixtures/flights.csv", "--memory-limit", bad], 2);
        assert!(stderr.contains("--memory-limit"), "{bad}: {stderr}");
    }
}

#[test]
fn sketches_with_registers_give_the_same_bytes_in_memory_spilled_and_at_any_chunking() {
    // 40 groups of 1,500 distinct values each (past the 512 an
    // approx_distinct keeps exactly, so every sketch has registers and
    // its updates wait for their prefetch), and an approx_quantile.
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("g,v\n");
    for i in 0..60_000u64 {
        csv.push_str(&format!("{},{}\n", (i * 7) % 40, (i * 7919) % 100_003));
    }
    let path = dir.path().join("many.csv");
    std::fs::write(&path, csv).unwrap();
    let path = path.to_str().unwrap();
    let base = [path, "--group-by", "g", "--agg", "approx_distinct:v,approx_quantile:v:0.9,count"];
    let (expected, _) = run_ok(&with(&base, &["--threads", "1"]));
    let text = String::from_utf8(expected.clone()).unwrap();
    assert_eq!(text.lines().count(), 41, "{text}");
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let estimate: f64 = fields[1].parse().unwrap();
        // 1,500 distinct values: within 3 standard errors (0.81%).
        assert!((estimate - 1500.0).abs() <= 1500.0 * 0.0243, "{line}");
    }
    for (threads, chunk) in [("2", "4KiB"), ("3", "64KiB"), ("4", "1MiB")] {
        let (out, _) = run_ok(&with(&base, &["--threads", threads, "--chunk-bytes", chunk]));
        assert!(out == expected, "{threads} threads, {chunk} chunks: output differs");
    }
    assert_spills_with_the_same_bytes(&base, &expected);
}
