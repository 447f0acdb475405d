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

/// A run whose input is open but silent: the fanfold child, the handle
/// that keeps its input open (dropped when the test is done), and the
/// scratch directory holding its output, temp dir and input.
struct Silent {
    child: std::process::Child,
    _input: Box<dyn Write + Send>,
    dir: tempfile::TempDir,
}

/// Where `Silent` reads: standard input, or a FIFO named as an input.
#[derive(Clone, Copy, Debug)]
enum Feed {
    Stdin,
    Fifo,
}

/// Starts fanfold with `args` plus `-o out.csv --temp-dir tmp/`, reading a
/// header and two records from `feed`, which then stays open and silent.
fn start_silent(feed: Feed, args: &[&str]) -> Silent {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("tmp")).expect("temp dir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fanfold"));
    cmd.args(args)
        .arg("-o")
        .arg(dir.path().join("out.csv"))
        .arg("--temp-dir")
        .arg(dir.path().join("tmp"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let (child, mut input): (_, Box<dyn Write + Send>) = match feed {
        Feed::Stdin => {
            let mut child = cmd.stdin(Stdio::piped()).spawn().expect("fanfold starts");
            let stdin = child.stdin.take().expect("stdin");
            (child, Box::new(stdin))
        }
        Feed::Fifo => {
            let fifo = dir.path().join("input.csv");
            nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
            let child = cmd.arg(&fifo).stdin(Stdio::null()).spawn().expect("fanfold starts");
            // Opening a FIFO for writing waits for its reader: fanfold.
            let writer = std::fs::OpenOptions::new().write(true).open(&fifo).expect("open FIFO");
            (child, Box::new(writer))
        }
    };
    input.write_all(b"a,b\n2,x\n1,y\n").expect("write the input");
    input.flush().expect("flush");
    Silent { child, _input: input, dir }
}

/// Sends `signal` to a `Silent` run once it is blocked on its input, and
/// returns its exit code, the seconds from the signal to its exit, and
/// what its scratch directory holds then (the input FIFO and the empty
/// temp dir aside).
fn stop(mut run: Silent, signal: &str) -> (Option<i32>, f64, Vec<String>) {
    std::thread::sleep(Duration::from_millis(500));
    assert!(run.child.try_wait().expect("try_wait").is_none(), "fanfold ended before the signal");
    let sent = Instant::now();
    let pid = run.child.id().to_string();
    let killed =
        Command::new("kill").args([&format!("-{signal}"), &pid]).status().expect("kill runs");
    assert!(killed.success());
    // Before the fix fanfold waited for the end of the input: give up
    // (and kill it) after 10 s rather than hang the suite.
    let status = loop {
        if let Some(status) = run.child.try_wait().expect("try_wait") {
            break status;
        }
        if sent.elapsed() > Duration::from_secs(10) {
            let _ = run.child.kill();
            let _ = run.child.wait();
            panic!("fanfold still running 10 s after SIG{signal}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let secs = sent.elapsed().as_secs_f64();
    let mut left: Vec<String> = std::fs::read_dir(run.dir.path())
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n != "input.csv" && n != "tmp")
        .collect();
    left.extend(
        std::fs::read_dir(run.dir.path().join("tmp"))
            .expect("read temp dir")
            .map(|e| format!("tmp/{}", e.expect("entry").file_name().to_string_lossy())),
    );
    (status.code(), secs, left)
}

/// Concat, sort and group-by, each stopped by SIGINT and SIGTERM while
/// reading an input that stays open: standard input and a FIFO.
#[test]
fn a_signal_stops_a_run_blocked_on_a_silent_input() {
    let reducers: [&[&str]; 3] =
        [&[], &["--sort-by", "a:n"], &["--group-by", "a", "--agg", "count"]];
    for feed in [Feed::Stdin, Feed::Fifo] {
        for args in reducers {
            for (signal, code) in [("INT", 130), ("TERM", 143)] {
                let (got, secs, left) = stop(start_silent(feed, args), signal);
                let what = format!("{feed:?} {args:?} SIG{signal}");
                assert_eq!(got, Some(code), "{what}");
                assert!(secs < 2.0, "{what}: {secs:.2} s from the signal to the exit");
                assert!(left.is_empty(), "{what}: left behind: {left:?}");
            }
        }
    }
}

/// True when process `pid` no longer runs (gone, or a zombie).
fn gone(pid: &str) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit(')').next().unwrap_or_default().split_whitespace().next();
    matches!(state, None | Some("Z") | Some("X"))
}

/// The pids a test's commands wrote, one a line, once `want` of them are
/// there (at most 5 s).
fn pids(path: &std::path::Path, want: usize) -> Vec<String> {
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let pids: Vec<String> = text.lines().map(str::to_string).collect();
        if pids.len() >= want || started.elapsed() > Duration::from_secs(5) {
            return pids;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `--exec` commands and `--exec-persistent` workers busy with the chunks
/// read so far are killed when a signal stops a run whose input is still
/// open.
#[test]
fn a_signal_kills_exec_commands_and_workers_while_the_input_is_open() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let pid_file = scratch.path().join("pids");
    let log = pid_file.display();
    let exec = format!("sh -c 'echo $$ >> {log}; exec sleep 30'");
    let persistent = format!("sh -c 'echo $$ >> {log}; while read line; do sleep 30; done'");
    for step in [["--exec", exec.as_str()], ["--exec-persistent", persistent.as_str()]] {
        let _ = std::fs::remove_file(&pid_file);
        let args = [&["--chunk-size", "1", "--concurrency", "2"][..], &step[..]].concat();
        let run = start_silent(Feed::Stdin, &args);
        let started = pids(&pid_file, 2);
        assert_eq!(started.len(), 2, "{step:?}: both records' commands started");
        let (code, secs, left) = stop(run, "INT");
        assert_eq!(code, Some(130), "{step:?}");
        assert!(secs < 2.0, "{step:?}: {secs:.2} s from the signal to the exit");
        assert!(left.is_empty(), "{step:?}: left behind: {left:?}");
        for pid in &started {
            assert!(gone(pid), "{step:?}: command {pid} still runs");
        }
    }
}
