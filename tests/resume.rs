//! `--journal FILE` and `--resume`: a run killed with SIGKILL goes on
//! where it stopped, skips the chunks it had done, and writes the same
//! bytes as a run that was never interrupted.
//!
//! The `--exec` step is a shell script that logs each chunk it starts and,
//! while a `stall` file exists, hangs on the chunks from `STALL_AT` on:
//! the first run is killed once the journal holds exactly the chunks
//! before them, so what was done is known, not timed.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Chunks from this one on hang in the first run.
const STALL_AT: usize = 5;

struct Setup {
    dir: tempfile::TempDir,
    /// The `--exec` command.
    exec: String,
}

impl Setup {
    /// A directory with `in.csv` (`rows` records: id, city, n; every
    /// `bad_every`-th record has a field too many) and the step script.
    fn new(rows: usize, bad_every: Option<usize>) -> Setup {
        Setup::padded(rows, bad_every, 0)
    }

    /// [`Setup::new`], with cities `pad` bytes longer (big inputs of few
    /// records: a debug build maps about 10k records a second).
    fn padded(rows: usize, bad_every: Option<usize>, pad: usize) -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut csv = String::from("id,city,n\n");
        let cities = ["oslo", "lima", "rome", "kyiv"];
        let pad = "-".repeat(pad);
        for i in 0..rows {
            csv.push_str(&format!("{i},{}{pad},{}", cities[(i * 7) % 4], (i * 37) % 101));
            if bad_every.is_some_and(|b| i % b == b - 1) {
                csv.push_str(",extra");
            }
            csv.push('\n');
        }
        std::fs::write(dir.path().join("in.csv"), csv).expect("write input");
        let d = dir.path().display();
        // Chunk 1 fails when `fail` exists (for the rejects test).
        let script = format!(
            "echo \"$FANFOLD_CHUNK\" >> {d}/log\n\
             if [ -e {d}/fail ] && [ \"$FANFOLD_CHUNK\" = 1 ]; then echo boom >&2; exit 3; fi\n\
             if [ \"$FANFOLD_CHUNK\" -ge {STALL_AT} ]; then\n\
               while [ -e {d}/stall ]; do sleep 0.02; done\n\
             fi\n\
             cat\n"
        );
        std::fs::write(dir.path().join("step.sh"), script).expect("write script");
        let exec = format!("sh {d}/step.sh");
        Setup { dir, exec }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A fanfold command over `in.csv` with the step, journal `j`, and
    /// `args`.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fanfold"));
        cmd.arg(self.path("in.csv"))
            .args(["--exec", &self.exec, "--journal"])
            .arg(self.path("j"))
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs to the end; returns (exit code, stderr).
    fn run(&self, args: &[&str]) -> (i32, String) {
        let out = self.command(args).stdout(Stdio::null()).output().expect("fanfold runs");
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
    }

    /// The chunks the step started since the last call, sorted.
    fn take_log(&self) -> Vec<usize> {
        let text = std::fs::read_to_string(self.path("log")).unwrap_or_default();
        let _ = std::fs::remove_file(self.path("log"));
        let mut v: Vec<usize> = text.lines().map(|l| l.parse().expect("a chunk")).collect();
        v.sort_unstable();
        v
    }

    /// Starts a run with `args` that hangs on chunk `STALL_AT`, waits until
    /// the journal holds the chunks before it, and kills it with SIGKILL.
    fn run_and_kill(&self, args: &[&str]) {
        self.run_and_signal(args, "KILL");
    }

    /// [`Setup::run_and_kill`] with another signal; returns the exit code
    /// and standard error.
    fn run_and_signal(&self, args: &[&str], signal: &str) -> (Option<i32>, String) {
        std::fs::write(self.path("stall"), "").expect("stall file");
        let mut child =
            self.command(args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn");
        let started = Instant::now();
        // The chunks before STALL_AT are journaled, and the two after
        // them (--concurrency 2) hang.
        let log_lines =
            || std::fs::read_to_string(self.path("log")).map_or(0, |l| l.lines().count());
        while journal_entries(&self.path("j")) < STALL_AT || log_lines() < STALL_AT + 2 {
            assert!(started.elapsed() < Duration::from_secs(20), "the journal did not fill");
            if let Some(status) = child.try_wait().expect("try_wait") {
                panic!("fanfold ended early: {status}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let pid = child.id().to_string();
        let sent = Command::new("kill").args([&format!("-{signal}"), &pid]).status();
        assert!(sent.expect("kill runs").success());
        let out = child.wait_with_output().expect("reaped");
        // The hung steps (orphans after SIGKILL) see it and end.
        std::fs::remove_file(self.path("stall")).expect("unstall");
        assert_eq!(journal_entries(&self.path("j")), STALL_AT);
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Whole entries in the journal at `path` (0 when there is none yet).
fn journal_entries(path: &Path) -> usize {
    journal_seqs(path).len()
}

/// The chunks of the whole entries in the journal at `path`, in the order
/// they were written (the order the chunks finished).
fn journal_seqs(path: &Path) -> Vec<usize> {
    let Ok(b) = std::fs::read(path) else { return Vec::new() };
    let u32_at = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize;
    if b.len() < 20 || b.len() < 20 + u32_at(12) {
        return Vec::new();
    }
    let mut at = 20 + u32_at(12);
    let mut seqs = Vec::new();
    while at + 8 <= b.len() && at + 8 + u32_at(at) <= b.len() {
        seqs.push(u64::from_le_bytes(b[at + 8..at + 16].try_into().unwrap()) as usize);
        at += 8 + u32_at(at);
    }
    seqs
}

/// The output of a run that is never interrupted (no journal).
fn reference(s: &Setup, args: &[&str]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_fanfold"))
        .arg(s.path("in.csv"))
        .args(["--exec", &s.exec])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("fanfold runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    s.take_log();
    out.stdout
}

/// Kills a run after `STALL_AT` chunks, resumes it (with `resume_args`
/// added), and checks the output bytes and which chunks ran again.
fn kill_and_resume(reducer: &[&str]) {
    let s = Setup::new(200, None);
    let base = [&["--chunk-size", "20", "--concurrency", "2", "-j", "2"], reducer].concat();
    let expected = reference(&s, &base);
    s.run_and_kill(&base);
    assert_eq!(s.take_log(), [0, 1, 2, 3, 4, 5, 6]);
    let out = s.path("out");
    let stats = s.path("stats.json");
    let resume = [
        &base[..],
        &["--resume", "-o", out.to_str().unwrap(), "--stats-json", stats.to_str().unwrap()],
    ]
    .concat();
    let (code, err) = s.run(&resume);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(std::fs::read(&out).expect("output"), expected);
    // Only the chunks the journal lacked ran again.
    assert_eq!(s.take_log(), [5, 6, 7, 8, 9]);
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    assert_eq!((stats["chunks"].as_u64(), stats["chunks_resumed"].as_u64()), (Some(10), Some(5)));
    assert!(!s.path("j").exists(), "the journal is removed after a successful run");
}

#[test]
fn resume_after_kill_concat() {
    kill_and_resume(&[]);
}

#[test]
fn resume_after_kill_sort_by() {
    kill_and_resume(&["--sort-by", "n:n:desc,city"]);
}

#[test]
fn resume_after_kill_group_by() {
    kill_and_resume(&["--group-by", "city", "--agg", "count,sum:n,first:id"]);
}

#[test]
fn resume_after_kill_with_map_and_key_union() {
    // A --map before the command: CSV output of mapped records takes the
    // two-pass key-union path.
    kill_and_resume(&["--map", ".big = (.n > 50)"]);
}

#[test]
fn torn_last_entry_is_mapped_again() {
    let s = Setup::new(200, None);
    let args = ["--chunk-size", "20", "--concurrency", "2", "-j", "2"];
    let expected = reference(&s, &args);
    s.run_and_kill(&args);
    s.take_log();
    let seqs = journal_seqs(&s.path("j"));
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [0, 1, 2, 3, 4]);
    // A write cut short by the kill: the last entry's tail is missing.
    let j = std::fs::OpenOptions::new().write(true).open(s.path("j")).unwrap();
    let len = j.metadata().unwrap().len();
    j.set_len(len - 3).unwrap();
    drop(j);
    assert_eq!(journal_entries(&s.path("j")), STALL_AT - 1);
    let out = s.path("out");
    let (code, err) = s.run(&[&args[..], &["--resume", "-o", out.to_str().unwrap()]].concat());
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(std::fs::read(&out).unwrap(), expected);
    // The chunk of the torn entry (the last to finish) runs again.
    let mut again = vec![seqs[STALL_AT - 1]];
    again.extend(5..10);
    assert_eq!(s.take_log(), again);
}

#[test]
fn changed_input_or_pipeline_is_refused() {
    let s = Setup::new(200, None);
    let args = ["--chunk-size", "20", "--concurrency", "2", "--filter", ".n > 3", "-j", "2"];
    s.run_and_kill(&args);
    s.take_log();
    let journal = std::fs::read(s.path("j")).unwrap();
    let out = s.path("out");
    let resumed: Vec<&str> = [&args[..], &["--resume", "-o", out.to_str().unwrap()]].concat();

    // Another --filter.
    let changed = [&args[..4], &["--filter", ".n > 4", "--resume", "-o", out.to_str().unwrap()]]
        .concat::<&str>();
    let (code, err) = s.run(&changed);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("(--journal): cannot resume")
            && err.contains("--filter .n > 3")
            && err.contains("--filter .n > 4"),
        "{err}"
    );
    // Another chunk size.
    let (code, err) = s.run(&[&["--chunk-size", "30"], &resumed[2..]].concat::<&str>());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--chunk-bytes/--chunk-size was `20 records`, now `30 records`"), "{err}");

    // A line appended to the input.
    let mut input = std::fs::read(s.path("in.csv")).unwrap();
    let size = input.len();
    input.extend_from_slice(b"999,oslo,1\n");
    std::fs::write(s.path("in.csv"), input).unwrap();
    let (code, err) = s.run(&resumed);
    assert_eq!(code, 1, "{err}");
    let said = format!("in.csv was {size} bytes, now {}", size + 11);
    assert!(err.contains(&said), "{err}");

    // Nothing ran, nothing was written, the journal is as it was.
    assert_eq!(s.take_log(), Vec::<usize>::new());
    assert!(!out.exists());
    assert_eq!(std::fs::read(s.path("j")).unwrap(), journal);
}

#[test]
fn other_thread_counts_resume_with_the_journals_chunks() {
    // No chunk size given: the automatic one depends on the threads
    // (input / (4 × threads), at least 64 KiB), so the resumed run must
    // cut where the journal's did.
    let s = Setup::padded(5_000, None, 250);
    let size = std::fs::metadata(s.path("in.csv")).unwrap().len();
    assert!(size > 4 * 2 * 2 * (64 << 10), "input too small: {size}");
    let first = ["--concurrency", "2", "-j", "2"];
    let expected = reference(&s, &first);
    s.run_and_kill(&first);
    let ran = s.take_log();
    assert_eq!(ran, [0, 1, 2, 3, 4, 5, 6]);
    let out = s.path("out");
    let stats = s.path("stats.json");
    let (code, err) = s.run(&[
        "--concurrency",
        "8",
        "-j",
        "1",
        "--resume",
        "-o",
        out.to_str().unwrap(),
        "--stats-json",
        stats.to_str().unwrap(),
    ]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(std::fs::read(&out).unwrap(), expected);
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    let chunks = stats["chunks"].as_u64().unwrap() as usize;
    assert_eq!(stats["chunks_resumed"].as_u64(), Some(STALL_AT as u64));
    assert_eq!(s.take_log(), (STALL_AT..chunks).collect::<Vec<_>>());
}

#[test]
fn rejects_file_is_the_same_after_resume() {
    // Every 13th record has a field too many, and the command fails on
    // chunk 1: both kinds of reject are in the journal's chunks.
    let s = Setup::new(200, Some(13));
    std::fs::write(s.path("fail"), "").unwrap();
    let rejects = s.path("rejects.ndjson");
    let args = [
        "--chunk-size",
        "20",
        "--concurrency",
        "2",
        "-j",
        "2",
        "--on-error",
        "reject",
        "--rejects",
        rejects.to_str().unwrap(),
    ];
    let out = Command::new(env!("CARGO_BIN_EXE_fanfold"))
        .arg(s.path("in.csv"))
        .args(["--exec", &s.exec])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let expected = (out.stdout, std::fs::read(&rejects).unwrap());
    assert!(String::from_utf8_lossy(&expected.1).contains("\"kind\":\"exec\""));
    std::fs::remove_file(&rejects).unwrap();
    s.take_log();

    s.run_and_kill(&args);
    s.take_log();
    let o = s.path("out");
    let (code, err) = s.run(&[&args[..], &["--resume", "-o", o.to_str().unwrap()]].concat());
    assert_eq!(code, 3, "{err}");
    assert_eq!(
        err,
        "fanfold: 33 of 200 records rejected (written to {})\n"
            .replace("{}", rejects.to_str().unwrap())
    );
    assert_eq!((std::fs::read(&o).unwrap(), std::fs::read(&rejects).unwrap()), expected);
    // The failed chunk 1 is done (set aside), not tried again.
    assert_eq!(s.take_log(), [5, 6, 7, 8, 9]);
}

#[test]
fn journal_misuse_is_refused() {
    let s = Setup::new(20, None);
    std::fs::write(s.path("j"), "keep me").unwrap();
    // An existing file without --resume; with --resume, not a journal.
    let (code, err) = s.run(&[]);
    assert_eq!(code, 1);
    assert!(err.contains("the file exists: pass --resume"), "{err}");
    let (code, err) = s.run(&["--resume"]);
    assert_eq!(code, 1);
    assert!(err.contains("not a fanfold journal"), "{err}");
    assert_eq!(std::fs::read(s.path("j")).unwrap(), b"keep me");
    std::fs::remove_file(s.path("j")).unwrap();

    // No step that maps records.
    let out = Command::new(env!("CARGO_BIN_EXE_fanfold"))
        .arg(s.path("in.csv"))
        .arg("--journal")
        .arg(s.path("j"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--journal: needs a --map or --exec"));
    // Standard input.
    let out = Command::new(env!("CARGO_BIN_EXE_fanfold"))
        .args(["--map", ".", "--journal"])
        .arg(s.path("j"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("standard input"));
    // --resume without a journal file starts from the beginning.
    let (code, err) = s.run(&["--resume"]);
    assert_eq!(code, 0);
    assert!(err.contains("no journal at"), "{err}");
    assert!(!s.path("j").exists());
    // --resume needs --journal (a usage error).
    let out = Command::new(env!("CARGO_BIN_EXE_fanfold"))
        .args(["--map", ".", "--resume"])
        .arg(s.path("in.csv"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn sigint_keeps_the_journal_without_the_stopped_chunks() {
    // SIGINT kills the hung commands; with --on-error reject their
    // chunks must not be journaled as rejected, but run again.
    let s = Setup::new(200, None);
    let rejects = s.path("rejects.ndjson");
    let args = [
        "--chunk-size",
        "20",
        "--concurrency",
        "2",
        "-j",
        "2",
        "--on-error",
        "reject",
        "--rejects",
        rejects.to_str().unwrap(),
    ];
    let expected = reference(&s, &args);
    let (code, err) = s.run_and_signal(&args, "INT");
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("run again with --resume"), "{err}");
    assert_eq!(s.take_log(), [0, 1, 2, 3, 4, 5, 6]);
    let out = s.path("out");
    let (code, err) = s.run(&[&args[..], &["--resume", "-o", out.to_str().unwrap()]].concat());
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(std::fs::read(&out).unwrap(), expected);
    assert_eq!(s.take_log(), [5, 6, 7, 8, 9]);
    assert_eq!(std::fs::read(&rejects).unwrap(), b"");
}
