//! Usage errors: every `requires`, `conflicts_with`, `required_if_eq` and
//! group in the clap definitions (`src/cli.rs`), and every check of
//! `Args::parse_checked`, run once from the command line. Each must exit
//! with status 2 before reading any input, write nothing to standard
//! output, and say what is wrong naming the flags the user has to change,
//! never a flag that would not help (as `--exec-format` with
//! `--exec-persistent` once asked for `--exec`).
//!
//! `--progress` / `--no-progress` override each other (the last wins), so
//! they are no usage error; a test below checks that.

use assert_cmd::Command;

/// `fanfold` with `args`, run from the crate root.
fn fanfold(args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("fanfold").expect("the fanfold binary is built");
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).args(args);
    cmd
}

/// The input every case reads (it never gets that far).
const INPUT: &str = "fixtures/edge/numbers.csv";

/// Runs `fanfold INPUT args`, asserts a usage error (status 2, nothing on
/// standard output, clap's `error: ` prefix) whose message holds every one
/// of `words`, and returns standard error.
fn usage_error(args: &[&str], words: &[&str]) -> String {
    let all: Vec<&str> = std::iter::once(INPUT).chain(args.iter().copied()).collect();
    let out = fanfold(&all).output().expect("fanfold runs");
    let err = String::from_utf8(out.stderr).expect("stderr is UTF-8");
    assert_eq!(out.status.code(), Some(2), "fanfold {all:?}: unexpected status; stderr: {err}");
    assert!(out.stdout.is_empty(), "fanfold {all:?} wrote output");
    assert!(err.starts_with("error: "), "fanfold {all:?}: {err}");
    for w in words {
        assert!(err.contains(w), "fanfold {all:?}: stderr lacks `{w}`: {err}");
    }
    err
}

/// The message of clap's error `err`, without the usage line after it
/// (which lists the flags given as well as the missing ones).
fn message(err: &str) -> &str {
    err.split("\n\nUsage:").next().unwrap_or_default()
}

/// Runs `fanfold INPUT args`, asserts success, and returns
/// standard output.
fn run_ok(args: &[&str]) -> String {
    let all: Vec<&str> = std::iter::once(INPUT).chain(args.iter().copied()).collect();
    let out = fanfold(&all).output().expect("fanfold runs");
    assert!(
        out.status.success(),
        "fanfold {all:?} failed: {:?}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("output is UTF-8")
}

/// The `k` column of [`INPUT`], as CSV.
const KEYS: &str = "k\na\na\nb\nb\nb\nc\nc\nc\nd\nd\nd\n";

/// The message clap writes for a missing required argument.
const MISSING: &str = "the following required arguments were not provided";

/// How clap names the `--exec` / `--exec-persistent` / `--http` group.
const ANY_EXEC: &str = "<--exec <CMD>|--exec-persistent <CMD>|--http <URL>>";

// ---------------------------------------------------------------------------
// Chunking
// ---------------------------------------------------------------------------

#[test]
fn chunk_bytes_conflicts_with_chunk_size() {
    usage_error(
        &["--chunk-bytes", "1K", "--chunk-size", "5"],
        &["the argument '--chunk-bytes <SIZE>' cannot be used with '--chunk-size <N>'"],
    );
}

// ---------------------------------------------------------------------------
// --exec, --exec-persistent and their options
// ---------------------------------------------------------------------------

#[test]
fn exec_format_needs_exec() {
    let err = usage_error(
        &["--exec-format", "csv"],
        &["the argument '--exec-format <FORMAT>' requires '--exec <CMD>'", "--exec commands"],
    );
    assert!(!message(&err).contains("--exec-persistent"), "{err}");
}

#[test]
fn exec_format_csv_or_tsv_with_only_exec_persistent_says_workers_speak_ndjson() {
    for format in ["csv", "tsv"] {
        let err = usage_error(
            &["--exec-persistent", "cat", "--exec-format", format],
            &[
                "--exec-format applies to --exec; --exec-persistent workers always read and \
                 write NDJSON",
                &format!("'--exec-format {format}'"),
            ],
        );
        assert!(!message(&err).contains(MISSING), "{err}");
    }
}

#[test]
fn exec_format_ndjson_with_only_exec_persistent_is_accepted() {
    let out = run_ok(&["--exec-persistent", "cat", "--exec-format", "ndjson", "--select", "k"]);
    assert_eq!(out, KEYS);
}

#[test]
fn exec_format_with_exec_and_exec_persistent_applies_to_exec() {
    // The --exec step gets TSV: `cut -f 1` keeps the first column only if
    // the records are tab-separated (of CSV it keeps whole lines, and the
    // `v` column). The worker gets NDJSON.
    let out = run_ok(&["--exec-format", "tsv", "--exec", "cut -f 1", "--exec-persistent", "cat"]);
    assert_eq!(out, KEYS);
}

#[test]
fn concurrency_needs_an_exec_step() {
    usage_error(&["--concurrency", "2"], &[MISSING, ANY_EXEC]);
}

#[test]
fn http_flags_need_their_step_and_good_values() {
    usage_error(&["--http-request", "."], &[MISSING, "--http <URL>"]);
    usage_error(&["--http-response", "."], &[MISSING, "--http <URL>"]);
    usage_error(&["--http-header", "A: b"], &[MISSING, "--http <URL>"]);
    usage_error(&["--rate", "10/s"], &[MISSING, "--http <URL>"]);
    let url = "http://127.0.0.1:9/x";
    usage_error(&["--http", url, "--burst", "3"], &[MISSING, "--rate"]);
    usage_error(&["--http", url, "--token-rate", "100/min"], &[MISSING, "--tokens"]);
    usage_error(&["--http", url, "--rate", "10"], &["--rate", "100/s, 600/min"]);
    usage_error(&["--http", "ftp://x"], &["--http", "http:// or https://"]);
    usage_error(&["--http", url, "--http-request", ".a +"], &["--http-request", "cannot parse"]);
}

#[test]
fn retries_needs_an_exec_step() {
    usage_error(&["--retries", "2"], &[MISSING, ANY_EXEC]);
}

#[test]
fn timeout_needs_an_exec_step() {
    usage_error(&["--timeout", "1s"], &[MISSING, ANY_EXEC]);
}

#[test]
fn replicas_needs_vote() {
    let err = usage_error(&["--exec", "cat", "--replicas", "2"], &[MISSING, "--vote <FIELD>"]);
    assert!(!message(&err).contains(ANY_EXEC), "the --exec step is there: {err}");
}

#[test]
fn vote_needs_replicas() {
    let err = usage_error(&["--exec", "cat", "--vote", "v"], &[MISSING, "--replicas <K>"]);
    assert!(!message(&err).contains(ANY_EXEC), "the --exec step is there: {err}");
}

#[test]
fn vote_needs_an_exec_step() {
    let err = usage_error(&["--replicas", "2", "--vote", "v"], &[MISSING, ANY_EXEC]);
    assert!(!message(&err).contains("--replicas <K>"), "--replicas is given: {err}");
}

#[test]
fn resume_needs_journal() {
    usage_error(&["--resume"], &[MISSING, "--journal <FILE>"]);
}

// ---------------------------------------------------------------------------
// Reducers
// ---------------------------------------------------------------------------

#[test]
fn sort_by_conflicts_with_agg() {
    usage_error(
        &["--sort-by", "k", "--agg", "count"],
        &["the argument '--sort-by <KEYS>' cannot be used with '--agg <SPEC>'"],
    );
}

#[test]
fn sort_by_with_group_by_needs_top() {
    usage_error(
        &["--sort-by", "v", "--group-by", "k"],
        &["the argument '--sort-by <KEYS>' cannot be used with '--group-by <COLS>' without \
           '--top <K>'"],
    );
}

#[test]
fn top_needs_sort_by() {
    usage_error(&["--top", "3"], &[MISSING, "--sort-by <KEYS>"]);
}

#[test]
fn top_conflicts_with_agg() {
    usage_error(
        &["--top", "3", "--sort-by", "v", "--agg", "count"],
        &["the argument '--top <K>' cannot be used with '--agg <SPEC>'"],
    );
}

#[test]
fn reduce_init_needs_reduce_update_and_merge() {
    usage_error(
        &["--reduce-init", "0"],
        &[MISSING, "--reduce-update <EXPR>", "--reduce-merge <EXPR>"],
    );
}

#[test]
fn reduce_update_needs_reduce_merge() {
    let err = usage_error(&["--reduce-update", ". + 1"], &[MISSING, "--reduce-merge <EXPR>"]);
    assert!(!message(&err).contains("--reduce-update"), "--reduce-update is given: {err}");
}

#[test]
fn reduce_merge_needs_reduce_update() {
    usage_error(&["--reduce-merge", "$left + $right"], &[MISSING, "--reduce-update <EXPR>"]);
}

#[test]
fn reduce_finish_needs_reduce_update_and_merge() {
    usage_error(
        &["--reduce-finish", "."],
        &[MISSING, "--reduce-update <EXPR>", "--reduce-merge <EXPR>"],
    );
}

#[test]
fn reduce_update_conflicts_with_the_other_reducers() {
    let custom = ["--reduce-update", ". + 1", "--reduce-merge", "$left + $right"];
    let others: [(&[&str], &str); 4] = [
        (&["--group-by", "k"], "'--group-by <COLS>'"),
        (&["--sort-by", "k"], "'--sort-by <KEYS>'"),
        (&["--agg", "count"], "'--agg <SPEC>'"),
        (&["--top", "2", "--sort-by", "k"], "--top <K>"),
    ];
    for (flags, named) in others {
        let args: Vec<&str> = custom.iter().chain(flags).copied().collect();
        usage_error(&args, &["cannot be used with", "--reduce-update <EXPR>", named]);
    }
}

// ---------------------------------------------------------------------------
// Bad records
// ---------------------------------------------------------------------------

#[test]
fn on_error_reject_needs_rejects() {
    usage_error(&["--on-error", "reject"], &[MISSING, "--rejects <FILE>"]);
}

// ---------------------------------------------------------------------------
// Overrides: no error
// ---------------------------------------------------------------------------

#[test]
fn progress_and_no_progress_override_each_other() {
    // The last one wins; neither is an error. (Standard error is not a
    // terminal here, so only an explicit --progress draws a bar.)
    for flags in [["--progress", "--no-progress"], ["--no-progress", "--progress"]] {
        let args: Vec<&str> = flags.iter().copied().chain(["--agg", "count"]).collect();
        assert_eq!(run_ok(&args), "count\n11\n");
    }
}
