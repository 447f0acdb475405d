//! `--exec`: external commands per chunk, with `--concurrency`,
//! `--retries`, `--timeout` and `--on-error`.
//!
//! The commands are `sh -c` and `python3 -c` one-liners. Sleeps are short
//! (at most a few hundred milliseconds), so the file runs in seconds.

use std::path::Path;
use std::time::{Duration, Instant};

use assert_cmd::Command;

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

/// Runs fanfold, asserts success with a quiet stderr, returns stdout.
fn run_ok(args: &[&str], stdin: &str) -> String {
    let (code, out, err) = run(args, stdin);
    assert!(code == 0 && err.is_empty(), "fanfold {args:?}: status {code}, stderr: {err}");
    out
}

/// True when process `pid` is gone, or a zombie waiting for its new
/// parent to reap it.
fn gone(pid: &str) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit(')').next().unwrap_or_default().split_whitespace().next();
    matches!(state, None | Some("Z") | Some("X"))
}

fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect()
}

/// Uppercases the `city` column of the CSV on standard input.
const UPPER_CITY: &str = "python3 -c 'import csv, sys
r = csv.DictReader(sys.stdin)
w = csv.DictWriter(sys.stdout, r.fieldnames, lineterminator=\"\\n\")
w.writeheader()
for row in r:
    row[\"city\"] = row[\"city\"].upper()
    w.writerow(row)'";

#[test]
fn output_records_replace_the_chunk() {
    let input = "name,city,n\nann,oslo,1.50\nbob,\"san jose, ca\",2\ncid,lima,\n";
    for chunk in ["1", "2", "10"] {
        let out = run_ok(&["--exec", UPPER_CITY, "--chunk-size", chunk], input);
        assert_eq!(out, "name,city,n\nann,OSLO,1.50\nbob,\"SAN JOSE, CA\",2\ncid,LIMA,\n");
    }
    // NDJSON in, NDJSON through the command, numbers kept as written.
    let input = "{\"a\":1.50,\"s\":\"x\"}\n{\"a\":2,\"s\":\"y\"}\n";
    let add = "python3 -c 'import json, sys
for l in sys.stdin:
    r = json.loads(l); r[\"t\"] = r[\"s\"] * 2; print(json.dumps(r))'";
    let out = run_ok(&["--input-format", "ndjson", "--exec", add], input);
    assert_eq!(out, "{\"a\":1.5,\"s\":\"x\",\"t\":\"xx\"}\n{\"a\":2,\"s\":\"y\",\"t\":\"yy\"}\n");
}

#[test]
fn exec_runs_in_command_line_order_and_feeds_the_reducer() {
    let input = "k,v\na,1\nb,2\na,3\nb,40\n";
    // --filter before the command sees input records; --map after it sees
    // the command's records (the `w` column it added).
    let add_w = "sh -c 'read -r h; echo \"$h,w\"; while read -r l; do echo \"$l,10\"; done'";
    let args = [
        "--filter",
        ".v < 40",
        "--exec",
        add_w,
        "--map",
        ".x = .v + .w",
        "--group-by",
        "k",
        "--agg",
        "sum:x",
        "--chunk-size",
        "1",
    ];
    assert_eq!(run_ok(&args, input), "k,sum_x\na,24\nb,12\n");
}

#[test]
fn order_is_deterministic_across_threads_concurrency_and_chunks() {
    let mut input = String::from("id,word\n");
    for i in 0..60 {
        input.push_str(&format!("{i},w{}\n", i * 7 % 13));
    }
    // Sleeps 0 to 40 ms depending on the chunk's size, so chunks finish
    // out of order.
    let cmd = "sh -c 'x=$(cat); n=${#x}; sleep 0.0$((n % 5)); printf \"%s\\n\" \"$x\" | tr w W'";
    let expected = input.replace('w', "W");
    for (threads, conc, chunk) in
        [("1", "1", "7"), ("2", "8", "1"), ("1", "32", "3"), ("3", "2", "13"), ("2", "64", "2")]
    {
        let args = ["--exec", cmd, "-j", threads, "--concurrency", conc, "--chunk-size", chunk];
        assert_eq!(run_ok(&args, &input), expected, "{args:?}");
    }
}

#[test]
fn concurrency_bounds_the_processes_at_once() {
    // Each command records how many are running (a file per process in a
    // directory) and the most it saw.
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("path");
    let cmd = format!(
        "sh -c 'touch {d}/run.$$; ls {d} | grep -c run. >> {d}/seen; sleep 0.05; rm {d}/run.$$; cat'"
    );
    let mut input = String::from("a\n");
    for i in 0..24 {
        input.push_str(&format!("{i}\n"));
    }
    for conc in [1usize, 3] {
        let _ = std::fs::remove_file(dir.path().join("seen"));
        let c = conc.to_string();
        let out = run_ok(&["--exec", &cmd, "--concurrency", &c, "--chunk-size", "1"], &input);
        assert_eq!(out, input);
        let seen = std::fs::read_to_string(dir.path().join("seen")).expect("seen");
        let most = seen.lines().map(|l| l.trim().parse::<usize>().expect("count")).max();
        assert!(most.is_some_and(|m| m <= conc), "concurrency {conc}: saw {seen}");
    }
}

/// Fails the first two times it sees a chunk (state in a file named by a
/// hash of the chunk, in the directory given as its argument), then
/// echoes it.
const FLAKY: &str = "import hashlib, os, sys
data = sys.stdin.buffer.read()
p = os.path.join(sys.argv[1], hashlib.sha1(data).hexdigest())
n = int(open(p).read()) if os.path.exists(p) else 0
open(p, \"w\").write(str(n + 1))
if n < 2:
    sys.stderr.write(\"flaky attempt %d\\n\" % (n + 1))
    sys.exit(1)
sys.stdout.buffer.write(data)";

#[test]
fn a_command_that_fails_twice_then_succeeds_is_retried() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stats = dir.path().join("stats.json");
    let state = dir.path().join("state");
    std::fs::create_dir(&state).expect("mkdir");
    let cmd = format!("python3 -c '{FLAKY}' {}", state.display());
    let input = "a,b\n1,2\n3,4\n5,6\n";
    let args = [
        "--exec",
        &cmd,
        "--retries",
        "3",
        "--chunk-size",
        "2",
        "--stats-json",
        stats.to_str().expect("path"),
    ];
    assert_eq!(run_ok(&args, input), input);
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).expect("stats")).expect("JSON");
    let e = &s["exec"];
    assert_eq!((e["chunks"].as_u64(), e["attempts"].as_u64()), (Some(2), Some(6)), "{s}");
    assert_eq!((e["retries"].as_u64(), e["failed_chunks"].as_u64()), (Some(4), Some(0)));
    let (p50, p95, max) = (
        e["latency_p50_secs"].as_f64().expect("p50"),
        e["latency_p95_secs"].as_f64().expect("p95"),
        e["latency_max_secs"].as_f64().expect("max"),
    );
    // Two backoffs: at least 100 ms + 200 ms.
    assert!(0.3 <= p50 && p50 <= p95 && p95 <= max, "{e}");

    // One retry is not enough: the run fails, naming the chunk, the
    // attempts and the command's last words.
    let state2 = dir.path().join("state2");
    std::fs::create_dir(&state2).expect("mkdir");
    let cmd = format!("python3 -c '{FLAKY}' {}", state2.display());
    let (code, out, err) = run(&["--exec", &cmd, "--retries", "1", "--chunk-size", "2"], input);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.starts_with("fanfold: error: <stdin>:2-3: --exec `python3 -c")
            && err.ends_with("failed after 2 attempts: exit status 1; stderr: flaky attempt 2\n"),
        "{err}"
    );
}

#[test]
fn a_permanent_failure_rejects_its_chunk_and_spares_the_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rejects = dir.path().join("rejects.ndjson");
    let stats = dir.path().join("stats.json");
    // Fails on chunks holding `bad`, after 3000 bytes of noise and a last
    // line on standard error.
    let cmd = "sh -c 'x=$(cat); case \"$x\" in *bad*) \
               head -c 3000 /dev/zero | tr \"\\0\" z >&2; echo >&2; echo giving up >&2; exit 7;; esac; \
               printf \"%s\\n\" \"$x\"'";
    let input = "id,tag\n1,ok\n2,bad\n3,ok\n4,ok\n5,ok\n6,bad\n";
    let args = [
        "--exec",
        cmd,
        "--retries",
        "1",
        "--chunk-size",
        "2",
        "-j",
        "2",
        "--on-error",
        "reject",
        "--rejects",
        rejects.to_str().expect("path"),
        "--stats-json",
        stats.to_str().expect("path"),
    ];
    let (code, out, err) = run(&args, input);
    assert_eq!(code, 3, "{err}");
    assert_eq!(out, "id,tag\n3,ok\n4,ok\n");
    assert_eq!(
        err,
        format!("fanfold: 4 of 6 records rejected (written to {})\n", rejects.display())
    );
    let lines = json_lines(&rejects);
    assert_eq!(lines.len(), 2, "one entry per failed chunk");
    let first = &lines[0];
    assert_eq!(first["kind"], "exec");
    assert_eq!((first["line"].as_u64(), first["chunk"].as_u64()), (Some(2), Some(0)));
    assert_eq!((first["records"].as_u64(), first["attempts"].as_u64()), (Some(2), Some(2)));
    assert_eq!(first["record"], "1,ok\n2,bad\n");
    let tail = first["stderr"].as_str().expect("stderr");
    assert!(tail.len() == 2048 && tail.ends_with("zzz\ngiving up\n"), "{tail:?}");
    let message = first["message"].as_str().expect("message");
    assert!(message.ends_with("failed after 2 attempts: exit status 7; stderr: giving up"));
    assert_eq!(
        (lines[1]["line"].as_u64(), lines[1]["record"].as_str()),
        (Some(6), Some("5,ok\n6,bad\n"))
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).expect("stats")).expect("JSON");
    assert_eq!((s["records_read"].as_u64(), s["records_rejected"].as_u64()), (Some(6), Some(4)));
    assert_eq!(s["exec"]["failed_chunks"].as_u64(), Some(2));

    // skip: the same records dropped, nothing written.
    let (code, out, _) = run(&["--exec", cmd, "--chunk-size", "2", "--on-error", "skip"], input);
    assert_eq!((code, out.as_str()), (3, "id,tag\n3,ok\n4,ok\n"));
}

#[test]
fn output_that_does_not_parse_is_a_failed_attempt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rejects = dir.path().join("rejects.ndjson");
    let args = [
        "--input-format",
        "ndjson",
        "--exec",
        "sh -c 'cat; echo not json'",
        "--on-error",
        "reject",
        "--rejects",
        rejects.to_str().expect("path"),
    ];
    let (code, out, _) = run(&args, "{\"a\":1}\n");
    assert_eq!((code, out.as_str()), (3, ""));
    let lines = json_lines(&rejects);
    let message = lines[0]["message"].as_str().expect("message");
    assert!(message.contains("its output line 2 is not a JSON object"), "{message}");
    // CSV with a ragged row.
    let (code, _, err) = run(&["--exec", "sh -c 'cat; echo 1,2,3'"], "a,b\n1,2\n");
    assert_eq!(code, 1);
    assert!(err.contains("its output is not CSV"), "{err}");
}

#[test]
fn timeout_kills_the_command_and_its_children() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("pid");
    // A background grandchild and a foreground sleep, both long.
    let cmd = format!("sh -c 'sleep 30 & echo $! > {}; sleep 30'", pid_file.display());
    let started = Instant::now();
    let (code, out, err) = run(&["--exec", &cmd, "--timeout", "300ms", "--retries", "1"], "a\n1\n");
    let took = started.elapsed();
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(took >= Duration::from_millis(600), "two attempts of 300 ms: {took:?}");
    assert!(
        err.ends_with(
            "failed after 2 attempts: timed out after 300ms; its process group was killed\n"
        ),
        "{err}"
    );
    let pid = std::fs::read_to_string(&pid_file).expect("pid").trim().to_string();
    assert!(gone(&pid), "the grandchild lives: pid {pid}");
}

#[test]
fn record_data_never_reaches_a_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input =
        "v\n$(touch pwned1)\n; touch pwned2\n`touch pwned3`\n\"a'b\"\"c\"\n| touch pwned4\n";
    let mut cmd = fanfold(&["--exec", "cat", "--chunk-size", "1"]);
    cmd.current_dir(dir.path());
    let out = cmd.write_stdin(input).output().expect("fanfold runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).expect("UTF-8"), input);
    let mut cmd = fanfold(&["--exec", "sh -c 'cat'", "--exec-format", "ndjson"]);
    cmd.current_dir(dir.path());
    let out = cmd.write_stdin(input).output().expect("fanfold runs");
    assert!(out.status.success());
    let names: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").flatten().collect();
    assert!(names.is_empty(), "files appeared: {names:?}");
}

#[test]
fn bad_commands_are_flag_errors() {
    let (code, _, err) = run(&["--exec", "no-such-command-here"], "a\n1\n");
    assert_eq!(code, 1);
    assert_eq!(err, "fanfold: error: --exec: `no-such-command-here`: command not found\n");
    let (code, _, err) = run(&["--exec", "sh -c 'unclosed"], "a\n1\n");
    assert_eq!(code, 2);
    assert!(err.contains("a quote is not closed"), "{err}");
    let (code, _, err) = run(&["--retries", "2"], "a\n1\n");
    assert_eq!(code, 2);
    assert!(err.contains("--exec"), "{err}");
    let (code, _, err) = run(&["--exec", "cat", "--timeout", "soon"], "a\n1\n");
    assert_eq!(code, 2);
    assert!(err.contains("unknown unit `soon`"), "{err}");
    // Persistent workers: the same checks under their own flag; they
    // always speak NDJSON, so --exec-format (for --exec) is refused.
    let (code, _, err) = run(&["--exec-persistent", "no-such-command-here"], "a\n1\n");
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "fanfold: error: --exec-persistent: `no-such-command-here`: command not found\n"
    );
    let (code, _, err) = run(&["--exec-persistent", "cat", "--exec-format", "csv"], "a\n1\n");
    assert_eq!(code, 2, "{err}");
    let out = run_ok(&["--exec-persistent", "cat", "--retries", "1", "--timeout", "5s"], "a\n1\n");
    assert_eq!(out, "a\n1\n");
}

#[test]
fn big_chunks_flow_both_ways_without_deadlock() {
    // One chunk several times a pipe's buffer, through a command that
    // writes while it reads.
    let mut input = String::from("n,text\n");
    for i in 0..3_000 {
        input.push_str(&format!("{i},\"some words to fill the pipes, twice over {i}\"\n"));
    }
    assert_eq!(run_ok(&["--exec", "cat", "--chunk-bytes", "4MiB"], &input), input);
}

#[test]
fn the_command_knows_its_chunk_and_attempt() {
    let cmd = "sh -c 'read -r h; echo \"$h,chunk,attempt\"; \
               while read -r l; do echo \"$l,$FANFOLD_CHUNK,$FANFOLD_ATTEMPT\"; done'";
    let out = run_ok(&["--exec", cmd, "--chunk-size", "2"], "a\nx\ny\nz\n");
    assert_eq!(out, "a,chunk,attempt\nx,0,1\ny,0,1\nz,1,1\n");
}

#[test]
fn sigint_kills_the_running_commands() {
    use std::process::Stdio;
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("pid");
    let cmd = format!("sh -c 'echo $$ > {}; sleep 30'", pid_file.display());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fanfold"))
        .args(["--exec", &cmd, "--concurrency", "1", "--no-progress"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("fanfold starts");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"a\n1\n").expect("write");
    }
    let started = Instant::now();
    while !pid_file.exists() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = std::fs::read_to_string(&pid_file).expect("pid").trim().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let status = child.wait().expect("fanfold exits");
    assert_eq!(status.code(), Some(130));
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    assert!(gone(&pid), "the command lives: pid {pid}");
}

#[test]
fn a_failing_run_kills_the_commands_still_running() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("pid");
    // Chunk 1 fails at once; chunk 2 would sleep 30 s.
    let cmd = format!(
        "sh -c 'x=$(cat); case \"$x\" in *bad*) sleep 0.3; exit 1;; \
         *slow*) echo $$ > {}; sleep 30;; esac; echo \"$x\"'",
        pid_file.display()
    );
    let started = Instant::now();
    let (code, out, err) = run(&["--exec", &cmd, "--chunk-size", "1"], "a\nok\nbad\nslow\n");
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.contains("<stdin>:3-3: --exec"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    let pid = std::fs::read_to_string(&pid_file).expect("pid").trim().to_string();
    assert!(gone(&pid), "the command lives: pid {pid}");
}

/// Reads a `--stats-json` file.
fn stats(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("stats")).expect("JSON")
}

/// Labels each NDJSON record by replica: record `id` gets
/// `LABELS[id][FANFOLD_REPLICA]`, and `by`, the replica.
const LABELER: &str = "awk -F '[:}]' '{ split(\"aabbb ccccc xyzyz pqqpp\", T, \" \"); \
    r = ENVIRON[\"FANFOLD_REPLICA\"]; \
    printf \"{\\\"id\\\":%s,\\\"label\\\":\\\"%s\\\",\\\"by\\\":%s}\\n\", $2, substr(T[$2], r + 1, 1), r }'";

const FOUR_IDS: &str = "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n{\"id\":4}\n";

#[test]
fn vote_keeps_the_majority_with_its_agreement() {
    for chunk in ["1", "3"] {
        let args = ["--input-format", "ndjson", "--exec", LABELER, "--chunk-size", chunk];
        let three = [&args[..], &["--replicas", "3", "--vote", "label"]].concat();
        // 1: a a b; 2: unanimous; 3: x y z, a tie: replica 0's; 4: p q q.
        assert_eq!(
            run_ok(&three, FOUR_IDS),
            "{\"id\":1,\"label\":\"a\",\"by\":0,\"label_agreement\":0.6666666666666666}\n\
             {\"id\":2,\"label\":\"c\",\"by\":0,\"label_agreement\":1}\n\
             {\"id\":3,\"label\":\"x\",\"by\":0,\"label_agreement\":0.3333333333333333}\n\
             {\"id\":4,\"label\":\"q\",\"by\":1,\"label_agreement\":0.6666666666666666}\n"
        );
        // 3: x y z y z, a tie of y (replicas 1, 3) and z (2, 4): replica 1's.
        let five = [&args[..], &["--replicas", "5", "--vote", "label", "--concurrency", "3"]];
        assert_eq!(
            run_ok(&five.concat(), FOUR_IDS),
            "{\"id\":1,\"label\":\"b\",\"by\":2,\"label_agreement\":0.6}\n\
             {\"id\":2,\"label\":\"c\",\"by\":0,\"label_agreement\":1}\n\
             {\"id\":3,\"label\":\"y\",\"by\":1,\"label_agreement\":0.4}\n\
             {\"id\":4,\"label\":\"p\",\"by\":0,\"label_agreement\":0.6}\n"
        );
    }
    // The agreement is a column like any other: CSV output, a filter on it.
    let args = [
        "--input-format",
        "ndjson",
        "--output-format",
        "csv",
        "--exec",
        LABELER,
        "--replicas",
        "3",
        "--vote",
        "label",
        "--filter",
        ".label_agreement > 0.5",
    ];
    assert_eq!(
        run_ok(&args, FOUR_IDS),
        "id,label,by,label_agreement\n1,a,0,0.6666666666666666\n2,c,0,1\n\
         4,q,1,0.6666666666666666\n"
    );
}

/// `--exec CMD --replicas 3 --vote v` and `more`.
fn three_replicas_vote_v<'a>(cmd: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    [&["--exec", cmd, "--replicas", "3", "--vote", "v"][..], more].concat()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

#[test]
fn vote_fails_a_chunk_whose_replicas_print_different_record_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rejects = dir.path().join("rejects.ndjson");
    // Replica 1 keeps only the header and first record of its chunk.
    let cmd = "sh -c 'if [ \"$FANFOLD_REPLICA\" = 1 ]; then head -n 2; else cat; fi'";
    let more = ["--chunk-size", "2", "--on-error", "reject", "--rejects", path(&rejects)];
    let (code, out, _) = run(&three_replicas_vote_v(cmd, &more), "v\n1\n2\n3\n");
    assert_eq!((code, out.as_str()), (3, "v,v_agreement\n3,1\n"));
    let lines = json_lines(&rejects);
    assert_eq!(lines.len(), 1);
    assert_eq!((lines[0]["records"].as_u64(), lines[0]["attempts"].as_u64()), (Some(2), Some(3)));
    assert_eq!(
        lines[0]["message"],
        "<stdin>:2-3: --exec `sh -c 'if [ \"$FANFOLD_REPLICA\" = 1 ]; then head -n 2; else cat; \
         fi'` failed after 3 attempts: the replicas printed different numbers of records \
         (replica 0: 2, replica 1: 1, replica 2: 2); --vote matches records by position"
    );
}

#[test]
fn a_failed_replica_does_not_vote_and_all_failed_fails_the_chunk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stats_path = dir.path().join("stats.json");
    let cmd = "sh -c 'if [ \"$FANFOLD_REPLICA\" = 2 ]; then echo down >&2; exit 1; fi; cat'";
    let more = ["--retries", "1", "--chunk-size", "1", "--stats-json", path(&stats_path)];
    let out = run_ok(&three_replicas_vote_v(cmd, &more), "v\nx\ny\n");
    assert_eq!(out, "v,v_agreement\nx,0.6666666666666666\ny,0.6666666666666666\n");
    let e = &stats(&stats_path)["exec"];
    assert_eq!((e["chunks"].as_u64(), e["attempts"].as_u64()), (Some(2), Some(8)), "{e}");
    assert_eq!((e["failed_replicas"].as_u64(), e["replicas"].as_u64()), (Some(2), Some(3)));
    // Every replica failing fails the chunk, with replica 0's reason.
    let (code, out, err) =
        run(&["--exec", "sh -c 'exit 4'", "--replicas", "2", "--vote", "v"], "v\nx\n");
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.ends_with("failed after 2 attempts: all 2 replicas failed; replica 0: exit status 4\n"),
        "{err}"
    );
}

#[test]
fn replicas_and_vote_need_each_other() {
    for args in [
        &["--exec", "cat", "--vote", "v"][..],
        &["--exec", "cat", "--replicas", "3"],
        &["--exec", "cat", "--replicas", "1", "--vote", "v"],
        &["--replicas", "2", "--vote", "v"],
    ] {
        let (code, _, err) = run(args, "v\n1\n");
        assert_eq!(code, 2, "{args:?}: {err}");
    }
    let (_, _, err) = run(&["--exec", "cat", "--replicas", "1", "--vote", "v"], "v\n1\n");
    assert!(err.contains("`1`: the replicas must be a whole number, at least 2"), "{err}");
}

/// Maps NDJSON records one by one: drops multiples of 5, splits multiples
/// of 7 in two, else adds fields. With an argument it speaks the
/// `--exec-persistent` protocol (one answer line per record, flushed).
const MAPPER: &str = "python3 -c 'import json, sys
persistent = len(sys.argv) > 1
while True:
    line = sys.stdin.readline()
    if not line:
        break
    r = json.loads(line)
    n = r[\"n\"]
    if n % 5 == 0:
        out = []
    elif n % 7 == 0:
        out = [dict(r, part=1), dict(r, part=2)]
    else:
        out = [dict(r, sq=n * n, w=r[\"w\"].upper())]
    if not persistent:
        for o in out:
            print(json.dumps(o))
    elif len(out) == 1:
        print(json.dumps(out[0]), flush=True)
    else:
        print(json.dumps(out or None), flush=True)'";

#[test]
fn persistent_workers_give_the_same_bytes_as_a_process_per_chunk() {
    let mut input = String::new();
    let mut expected = String::new();
    for n in 1..=30 {
        input.push_str(&format!("{{\"n\":{n},\"w\":\"w{n}\"}}\n"));
        if n % 5 == 0 {
        } else if n % 7 == 0 {
            for part in [1, 2] {
                expected.push_str(&format!("{{\"n\":{n},\"w\":\"w{n}\",\"part\":{part}}}\n"));
            }
        } else {
            expected.push_str(&format!("{{\"n\":{n},\"w\":\"W{n}\",\"sq\":{}}}\n", n * n));
        }
    }
    let spawned =
        run_ok(&["--input-format", "ndjson", "--exec", MAPPER, "--chunk-size", "10"], &input);
    assert_eq!(spawned, expected);
    let persistent = format!("{MAPPER} p");
    for (conc, chunk, threads) in
        [("1", "1", "1"), ("3", "4", "2"), ("8", "7", "1"), ("2", "100", "2")]
    {
        let args = [
            "--input-format",
            "ndjson",
            "--exec-persistent",
            &persistent,
            "--concurrency",
            conc,
            "--chunk-size",
            chunk,
            "-j",
            threads,
        ];
        assert_eq!(run_ok(&args, &input), spawned, "{args:?}");
    }
}

/// A persistent worker that echoes records, after appending its PID to the
/// file named by its argument.
const ECHO_WORKER: &str =
    "sh -c 'echo $$ >> \"$0\"; while read -r l; do printf \"%s\\n\" \"$l\"; done'";

#[test]
fn persistent_workers_number_at_most_the_concurrency() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pids = dir.path().join("pids");
    let stats_path = dir.path().join("stats.json");
    let cmd = format!("{ECHO_WORKER} {}", pids.display());
    let mut input = String::from("a,b\n");
    for i in 0..40 {
        input.push_str(&format!("{i},\"x, \"\"{i}\"\"\"\n"));
    }
    for conc in ["1", "3"] {
        let _ = std::fs::remove_file(&pids);
        let args = [
            "--exec-persistent",
            &cmd,
            "--concurrency",
            conc,
            "--chunk-size",
            "1",
            "--stats-json",
            stats_path.to_str().expect("path"),
        ];
        assert_eq!(run_ok(&args, &input), input);
        let text = std::fs::read_to_string(&pids).expect("pids");
        let distinct: std::collections::BTreeSet<&str> = text.lines().collect();
        let n: usize = conc.parse().expect("number");
        assert!(!distinct.is_empty() && distinct.len() <= n, "concurrency {conc}: {text}");
        // At the end they got EOF and exited: none outlives the run.
        for pid in &distinct {
            assert!(gone(pid), "a worker lives: pid {pid}");
        }
        let e = &stats(&stats_path)["exec"];
        assert_eq!(e["workers_started"].as_u64(), Some(distinct.len() as u64), "{e}");
        assert_eq!((e["chunks"].as_u64(), e["attempts"].as_u64()), (Some(40), Some(40)));
    }
}

#[test]
fn a_persistent_worker_past_the_timeout_is_replaced_and_the_chunk_retried() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stats_path = dir.path().join("stats.json");
    // The first worker hangs on `slow`; the ones after it answer.
    let cmd = "sh -c 'while read -r l; do case \"$l\" in *slow*) \
               [ \"$FANFOLD_WORKER\" = 0 ] && echo stuck >&2 && sleep 30;; esac; \
               printf \"%s\\n\" \"$l\"; done'";
    let input = "v\nfast\nslow\nfast again\n";
    let args = [
        "--exec-persistent",
        cmd,
        "--concurrency",
        "1",
        "--chunk-size",
        "1",
        "--timeout",
        "300ms",
        "--retries",
        "1",
        "--stats-json",
        stats_path.to_str().expect("path"),
    ];
    let started = Instant::now();
    assert_eq!(run_ok(&args, input), input);
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    let e = &stats(&stats_path)["exec"];
    assert_eq!((e["timeouts"].as_u64(), e["retries"].as_u64()), (Some(1), Some(1)), "{e}");
    assert_eq!((e["workers_started"].as_u64(), e["attempts"].as_u64()), (Some(2), Some(4)));
}

#[test]
fn a_persistent_worker_that_dies_is_replaced_and_the_chunk_retried() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stats_path = dir.path().join("stats.json");
    // The first worker exits at its third record.
    let cmd = "sh -c 'n=0; while read -r l; do n=$((n + 1)); \
               if [ \"$FANFOLD_WORKER\" = 0 ] && [ $n = 3 ]; then exit 5; fi; \
               printf \"%s\\n\" \"$l\"; done'";
    let input = "{\"i\":1}\n{\"i\":2}\n{\"i\":3}\n{\"i\":4}\n{\"i\":5}\n";
    let args = [
        "--input-format",
        "ndjson",
        "--exec-persistent",
        cmd,
        "--concurrency",
        "1",
        "--chunk-size",
        "2",
        "--retries",
        "1",
        "--stats-json",
        stats_path.to_str().expect("path"),
    ];
    assert_eq!(run_ok(&args, input), input);
    let e = &stats(&stats_path)["exec"];
    assert_eq!((e["retries"].as_u64(), e["workers_started"].as_u64()), (Some(1), Some(2)), "{e}");
}

#[test]
fn a_persistent_worker_that_keeps_failing_rejects_the_chunk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rejects = dir.path().join("rejects.ndjson");
    // Answers `oops` to records holding `bad`.
    let cmd = "sh -c 'while read -r l; do case \"$l\" in *bad*) echo \"bad one\" >&2; \
               echo oops;; *) printf \"%s\\n\" \"$l\";; esac; done'";
    let args = [
        "--exec-persistent",
        cmd,
        "--chunk-size",
        "2",
        "--retries",
        "1",
        "--on-error",
        "reject",
        "--rejects",
        rejects.to_str().expect("path"),
    ];
    let (code, out, _) = run(&args, "id,tag\n1,ok\n2,ok\n3,ok\n4,bad\n5,ok\n");
    assert_eq!((code, out.as_str()), (3, "id,tag\n1,ok\n2,ok\n5,ok\n"));
    let lines = json_lines(&rejects);
    assert_eq!(lines.len(), 1);
    assert_eq!(
        (lines[0]["line"].as_u64(), lines[0]["record"].as_str()),
        (Some(4), Some("3,ok\n4,bad\n"))
    );
    assert_eq!(lines[0]["stderr"], "bad one\n");
    assert_eq!(
        lines[0]["message"],
        format!(
            "<stdin>:4-5: --exec-persistent `{cmd}` failed after 2 attempts: its answer to \
             record 2 is not a JSON object, array or null (expected value at line 1 column 1): \
             `oops`; stderr: bad one"
        )
    );
}

#[test]
fn persistent_workers_serve_replicas_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stats_path = dir.path().join("stats.json");
    // `cat` echoes line by line: a persistent worker as it is.
    let args = [
        "--exec-persistent",
        "cat",
        "--replicas",
        "2",
        "--vote",
        "a",
        "--concurrency",
        "2",
        "--chunk-size",
        "1",
        "--stats-json",
        path(&stats_path),
    ];
    assert_eq!(run_ok(&args, "a,b\nx,1\ny,2\n"), "a,b,a_agreement\nx,1,1\ny,2,1\n");
    let e = &stats(&stats_path)["exec"];
    assert_eq!((e["chunks"].as_u64(), e["attempts"].as_u64()), (Some(2), Some(4)), "{e}");
    assert!(matches!(e["workers_started"].as_u64(), Some(1 | 2)), "{e}");
}

/// The chunks and concurrency a run reports in `--stats-json`.
fn exec_chunks(args: &[&str], stdin: &str) -> (u64, u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let stats = dir.path().join("stats.json");
    let stats_arg = stats.to_str().expect("UTF-8 path");
    let out = run_ok(&[args, &["--stats-json", stats_arg]].concat(), stdin);
    assert_eq!(out.lines().count(), 2001, "every record came back");
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).expect("stats")).expect("JSON");
    (s["chunks"].as_u64().expect("chunks"), s["exec"]["concurrency"].as_u64().expect("concurrency"))
}

/// With an external step and no chunk size given, a small input is cut
/// in records so that every command slot gets several chunks: 2,000 short
/// records (8.7 KiB, one 64 KiB chunk before) at `--concurrency 64` make
/// at least 4 × 64 chunks, from a file and from standard input alike, for
/// `--exec` and `--exec-persistent`; `--explain` says why.
#[test]
fn automatic_chunks_keep_every_command_slot_busy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input: String =
        std::iter::once("n\n".to_string()).chain((1..=2000).map(|i| format!("{i}\n"))).collect();
    let path = dir.path().join("in.csv");
    std::fs::write(&path, &input).expect("write");
    let file = path.to_str().expect("UTF-8 path");
    let worker = "perl -e '$| = 1; print while <STDIN>'";
    for step in [["--exec", "cat"], ["--exec-persistent", worker]] {
        let args = [&["--concurrency", "64"][..], &step[..]].concat();
        let (chunks, concurrency) = exec_chunks(&[&[file][..], &args].concat(), "");
        assert_eq!(concurrency, 64);
        assert!(chunks >= 4 * 64, "{step:?} on a file: {chunks} chunks");
        let (chunks, _) = exec_chunks(&args, &input);
        assert!(chunks >= 4 * 64, "{step:?} on standard input: {chunks} chunks");
    }
    let plan = run_ok(&[file, "--concurrency", "64", "--exec", "cat", "--explain"], "");
    assert!(
        plan.contains("chunk:        7 records (automatic, with an external step: 2000 records / (4 chunks × 64 commands at once)"),
        "{plan}"
    );
    assert!(plan.contains("chunks:       286 expected"), "{plan}");
    // Fewer records than slots: one record a chunk.
    let (code, _, _) =
        run(&["--concurrency", "64", "--exec", "cat", "--stats-json", "/dev/null"], "n\n1\n2\n3\n");
    assert_eq!(code, 0);
    let plan = run_ok(&["--concurrency", "64", "--exec", "cat", "--explain"], "");
    assert!(plan.contains("records, chosen once read"), "{plan}");
}
