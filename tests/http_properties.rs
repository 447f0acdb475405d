//! Determinism of the `--http` step: for any records, chunk size, thread
//! count, window and `--concurrency`, and answers that come back in any
//! order (each record waits its own few milliseconds at the loopback
//! server), the output is the same bytes as a simple sequential
//! reference: the records in input order, each answered, mapped, or
//! dropped where the response expression says so.
//!
//! 16 cases by default (each a run against the server);
//! `PROPTEST_CASES=n` overrides it.

#![cfg(feature = "http")]

mod support;

use std::sync::OnceLock;

use fanfold::{ChunkLimit, HttpSpec, Input, Pipeline};
use proptest::prelude::*;
use support::http_server::TestServer;

const CASES: u32 = 16;

fn config() -> ProptestConfig {
    let default = ProptestConfig::default();
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() { default.cases } else { CASES };
    ProptestConfig { cases, failure_persistence: None, ..default }
}

fn server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(TestServer::start)
}

/// The run through the library: each record goes to `/delay/MS` with its
/// own delay; the answer (the record echoed) gets the status added, or is
/// dropped for ids ≡ 3 (mod 7); a `--map` after the step doubles the id.
fn run(
    delays: &[u8],
    chunk: usize,
    threads: usize,
    window: usize,
    concurrency: usize,
) -> Result<String, TestCaseError> {
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let path = dir.path().join("in.ndjson");
    let input: String =
        delays.iter().enumerate().map(|(i, d)| format!("{{\"id\":{i},\"ms\":{d}}}\n")).collect();
    std::fs::write(&path, input).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut spec =
        HttpSpec::new(&server().url("/echo")).map_err(|e| TestCaseError::fail(e.to_string()))?;
    spec.request =
        Some(format!("{{url: (\"{}\" + (.ms | tostring)), body: .}}", server().url("/delay/")));
    spec.response = Some("if .record.id % 7 == 3 then null else .body + {s: .status} end".into());
    spec.concurrency = concurrency;
    let pipeline = Pipeline::builder()
        .input(Input::Path(path))
        .http(spec)
        .map(".twice = .id * 2")
        .chunk(ChunkLimit::Records(chunk))
        .threads(threads)
        .max_in_flight(window)
        .build()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut out = Vec::new();
    pipeline.run(&mut out, "<memory>").map_err(|e| TestCaseError::fail(e.to_string()))?;
    String::from_utf8(out).map_err(|e| TestCaseError::fail(e.to_string()))
}

/// The same, one record at a time, by hand.
fn reference(delays: &[u8]) -> String {
    delays
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 7 != 3)
        .map(|(i, d)| format!("{{\"id\":{i},\"ms\":{d},\"s\":200,\"twice\":{}}}\n", 2 * i))
        .collect()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn http_output_is_the_sequential_reference(
        delays in proptest::collection::vec(0u8..6, 0..60),
        chunk in 1usize..25,
        threads in 1usize..5,
        window in 1usize..9,
        concurrency in 1usize..40,
    ) {
        let got = run(&delays, chunk, threads, window, concurrency)?;
        prop_assert_eq!(got, reference(&delays));
    }
}
