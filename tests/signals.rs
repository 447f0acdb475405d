//! SIGINT and SIGTERM: the run stops, removes its temporary and partial
//! output files, and exits with 128 + the signal.

#![cfg(unix)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `fanfold` reading an endless CSV on standard input and writing
/// `-o` (and `--rejects`) into a fresh directory, sends `signal` once it has
/// read for a while, and returns the exit code and what the directory
/// holds afterwards.
fn interrupt(signal: &str) -> (Option<i32>, Vec<String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out.csv");
    let rejects = dir.path().join("rejects.ndjson");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fanfold"))
        .args(["--chunk-bytes", "64KiB", "--on-error", "reject", "--rejects"])
        .arg(&rejects)
        .arg("-o")
        .arg(&out)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fanfold starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(b"a,b\n");
        let block: String = (0..2000).map(|i| format!("{i},x\n3\n")).collect();
        let started = Instant::now();
        // Keep the input flowing until fanfold stops reading (a broken
        // pipe), at most 20 s.
        while started.elapsed() < Duration::from_secs(20) {
            if stdin.write_all(block.as_bytes()).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(400));
    let pid = child.id().to_string();
    let killed =
        Command::new("kill").args([&format!("-{signal}"), &pid]).status().expect("kill runs");
    assert!(killed.success());
    let status = child.wait().expect("fanfold exits");
    feeder.join().expect("the feeder ends");
    let left = std::fs::read_dir(dir.path())
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    (status.code(), left)
}

#[test]
fn sigint_exits_130_and_leaves_nothing() {
    let (code, left) = interrupt("INT");
    assert_eq!(code, Some(130));
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn sigterm_exits_143_and_leaves_nothing() {
    let (code, left) = interrupt("TERM");
    assert_eq!(code, Some(143));
    assert!(left.is_empty(), "left behind: {left:?}");
}
