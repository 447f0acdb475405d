//! Cancelling a run through its `CancelToken` (`Pipeline::cancel`), from
//! the public API only.

#![cfg(unix)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fanfold::{CancelToken, ErrorKind, Input, OnError, Pipeline, ReduceSpec};

fn csv(dir: &Path) -> PathBuf {
    let path = dir.join("in.csv");
    std::fs::write(&path, "k,v\na,1\nb,2\na,3\n").expect("write the input");
    path
}

#[test]
fn a_token_cancelled_before_the_run_stops_it_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rejects = dir.path().join("rejects.ndjson");
    let pipeline = Pipeline::builder()
        .input(Input::Path(csv(dir.path())))
        .on_error(OnError::Reject)
        .rejects(rejects.clone())
        .build()
        .expect("valid settings");
    pipeline.cancel().clone().cancel();
    let mut out = Vec::new();
    let err = pipeline.run(&mut out, "<memory>").expect_err("a cancelled run fails");
    assert!(matches!(err.kind(), ErrorKind::Cancelled), "{err:?}");
    assert_eq!(err.to_string(), "the run was cancelled");
    assert!(out.is_empty(), "written: {:?}", String::from_utf8_lossy(&out));
    assert!(!rejects.exists(), "the rejects file was committed");
}

#[test]
fn a_fresh_pipeline_runs_after_a_cancelled_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = csv(dir.path());
    let cancelled =
        Pipeline::builder().input(Input::Path(input.clone())).build().expect("valid settings");
    cancelled.cancel().cancel_by_signal(2);
    let err = cancelled.run(&mut Vec::new(), "<memory>").expect_err("a cancelled run fails");
    assert!(matches!(err.kind(), ErrorKind::Interrupted { signal: 2 }), "{err:?}");

    // The same process, a new pipeline: its token is a fresh one.
    let pipeline = Pipeline::builder()
        .input(Input::Path(input))
        .reduce(ReduceSpec::GroupBy {
            keys: vec!["k".into()],
            aggs: vec!["count".parse().expect("an aggregate")],
        })
        .build()
        .expect("valid settings");
    assert!(!pipeline.cancel().is_cancelled());
    assert_ne!(pipeline.cancel(), cancelled.cancel());
    let mut out = Vec::new();
    let stats = pipeline.run(&mut out, "<memory>").expect("the run succeeds");
    assert_eq!(String::from_utf8(out).expect("utf-8"), "k,count\na,2\nb,1\n");
    assert_eq!(stats.records_read, 3);
}

#[test]
fn cancelling_a_run_blocked_on_a_silent_fifo_stops_it_soon() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("in.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    // The writer sends the header and one record, then stays silent with
    // the FIFO open (so the reader sees no end of input) until the test
    // tells it to go.
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).expect("open");
            w.write_all(b"k,v\na,1\n").expect("write");
            w.flush().expect("flush");
            let _ = done_rx.recv_timeout(Duration::from_secs(30));
        })
    };
    let pipeline = Pipeline::builder()
        .input(Input::Path(fifo))
        .threads(2)
        .reduce(ReduceSpec::GroupBy {
            keys: vec!["k".into()],
            aggs: vec!["count".parse().expect("an aggregate")],
        })
        .input_format(fanfold::Format::Csv)
        .build()
        .expect("valid settings");
    let token: CancelToken = pipeline.cancel().clone();
    let canceller = std::thread::spawn(move || {
        // Long enough for the run to read what was sent and block.
        std::thread::sleep(Duration::from_millis(500));
        token.cancel();
        Instant::now()
    });
    let mut out = Vec::new();
    let result = pipeline.run(&mut out, "<memory>");
    let ended = Instant::now();
    let cancelled_at = canceller.join().expect("the canceller ends");
    let _ = done_tx.send(());
    writer.join().expect("the writer ends");
    let err = result.expect_err("a cancelled run fails");
    assert!(matches!(err.kind(), ErrorKind::Cancelled), "{err:?}");
    // It was blocked until the cancel, and ended soon after.
    assert!(ended >= cancelled_at, "the run ended before the cancel");
    let late = ended.duration_since(cancelled_at);
    assert!(late < Duration::from_secs(1), "ended {late:?} after the cancel");
}
