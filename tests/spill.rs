//! End-to-end tests of `--memory-limit` and `--temp-dir`: a sort that
//! spills sorted runs to disk writes exactly the bytes of the in-memory
//! sort and leaves nothing in the temporary directory (after success and
//! after a failure); a group-by whose state outgrows the limit fails with
//! an error naming the flag.

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
        for (threads, chunk) in [("1", "256KiB"), ("2", "16KiB"), ("3", "64KiB")] {
            let temp = tempfile::tempdir().unwrap();
            let temp_dir = temp.path().to_str().unwrap();
            let args = with(
                sort,
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
            assert!(out == expected, "{args:?}: output differs from the in-memory sort");
            assert!(spilled_runs(&stderr) >= 2, "{args:?} did not spill: {stderr}");
            assert_eq!(entries(temp.path()), Vec::<String>::new(), "{args:?}");
        }
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
    assert!(stderr.contains("no/such/dir (--temp-dir, sort spill file): "), "{stderr}");
}

#[test]
fn group_by_state_past_the_limit_is_a_clear_error() {
    // 20,000 records, thousands of (tailnum, flight) groups.
    let args = ["fixtures/flights.csv", "--group-by", "tailnum,flight", "--agg", "count"];
    let stderr = run_err(&with(&args, &["--memory-limit", "64KiB"]), 1);
    assert!(
        stderr.starts_with(
            "fanfold: error: --memory-limit 64.0 KiB: the group-by state passed the limit after "
        ),
        "{stderr}"
    );
    assert!(stderr.contains(" groups (about "), "{stderr}");
    assert!(stderr.contains("raise --memory-limit"), "{stderr}");
    // A big distinct set in few groups counts too.
    let distinct = ["fixtures/flights.csv", "--group-by", "carrier", "--agg", "distinct:tailnum"];
    let stderr = run_err(&with(&distinct, &["--memory-limit", "100KiB"]), 1);
    assert!(stderr.contains("--memory-limit 100.0 KiB: the group-by state"), "{stderr}");
    // Few small groups fit, with the same bytes.
    let few = ["fixtures/flights.csv", "--group-by", "carrier", "--agg", "count,mean:distance"];
    let (expected, _) = run_ok(&few);
    let (out, _) = run_ok(&with(&few, &["--memory-limit", "64KiB"]));
    assert_eq!(out, expected);
    let (out, _) = run_ok(&with(&args, &["--memory-limit", "16MiB"]));
    assert!(out.len() > 50_000);
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
