//! Fuzzing that runs in CI: hostile input never crashes, hangs or loses
//! bytes.
//!
//! Property tests feed the splitter, the CSV and NDJSON readers and whole
//! pipelines with arbitrary bytes and with structured-but-broken input
//! (stray and doubled quotes, bare `\r`, CRLF, delimiters, braces,
//! brackets, backslash escapes, lone surrogates, invalid UTF-8, byte-order
//! marks, deep nesting, valid files with a few bytes inserted, deleted or
//! replaced). The checks themselves live in `fuzz_checks/`, shared with the
//! libFuzzer targets under `fuzz/` (see its README):
//!
//! - split: no byte lost or duplicated, cuts only between records (as the
//!   `csv` crate reads them), lines numbered, unterminated quotes reported
//!   where they open;
//! - read: the `csv` crate's records and `serde_json`'s objects, errors on
//!   the right line;
//! - pipeline: any threads, chunk limit and window give the sequential
//!   run's bytes or its error message;
//! - UTF-16/UTF-32 inputs are refused, naming the encoding.
//!
//! Every case runs on its own thread under a time limit, so a hang fails
//! the test instead of stalling CI. [`corpus_replays_cleanly`] also replays
//! every input under `fuzz/corpus/`. Case counts keep the file under a
//! minute in a debug build on two cores; `PROPTEST_CASES=n` overrides them.

mod fuzz_checks;

use std::path::Path;
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::time::Duration;

use fanfold::{ChunkLimit, Format};
use fuzz_checks::{Check, RunSettings};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::TestCaseError;

/// Cases per property for the readers and the splitter, and for whole
/// pipelines (each case is three runs).
const CASES: u32 = 2048;
const PIPELINE_CASES: u32 = 256;

/// One case may take this long (in a debug build, on a busy machine)
/// before it counts as a hang.
const TIME_LIMIT: Duration = Duration::from_secs(30);

/// `cases` cases unless `PROPTEST_CASES` asks for more (or fewer); no
/// failure persistence (this file must not create files in the repo); a
/// bounded time for shrinking.
fn config(cases: u32) -> ProptestConfig {
    let default = ProptestConfig::default();
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() { default.cases } else { cases };
    ProptestConfig { cases, failure_persistence: None, max_shrink_time: 120_000, ..default }
}

/// Runs `check` on its own thread: a panic or a run longer than
/// [`TIME_LIMIT`] fails the case with a message.
fn bounded(check: impl FnOnce() -> Check + Send + 'static) -> Result<(), TestCaseError> {
    let (tx, rx) = channel();
    let worker = std::thread::spawn(move || {
        let _ = tx.send(check());
    });
    match rx.recv_timeout(TIME_LIMIT) {
        Ok(result) => {
            let _ = worker.join();
            result.map_err(TestCaseError::fail)
        }
        Err(RecvTimeoutError::Timeout) => {
            Err(TestCaseError::fail(format!("no result after {TIME_LIMIT:?}: a hang")))
        }
        Err(RecvTimeoutError::Disconnected) => {
            let payload = worker.join().err();
            let msg = payload
                .as_ref()
                .and_then(|p| {
                    p.downcast_ref::<String>()
                        .cloned()
                        .or(p.downcast_ref::<&str>().map(|s| s.to_string()))
                })
                .unwrap_or_default();
            Err(TestCaseError::fail(format!("panicked: {msg}")))
        }
    }
}

// ---------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------

/// Bytes that matter to a CSV splitter or parser (runs of delimiters make
/// records wider than the parser's first buffers).
#[rustfmt::skip]
const CSV_TOKENS: &[&[u8]] = &[
    b"\"", b"\"\"", b",", b",", b"\t", b";", b"|", b"\n", b"\n", b"\r", b"\r\n", b"\n\n", b"a",
    b"bc", b"1", b"-2.5", b" ", b"\xC3\xA9", b"\xE6\x9D\xB1", b"\xFF", b"\xC3", b"\x80",
    b"\xEF\xBB\xBF", b"\0", b"{", b"}", b"\\", b"\"\n\"", b"\",\"", b"\"\r\n",
    b",,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,", b";;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;",
];

/// Bytes that matter to a JSON parser.
#[rustfmt::skip]
const JSON_TOKENS: &[&[u8]] = &[
    b"{", b"}", b"[", b"]", b"\"", b"\"k\"", b"\"a\"", b":", b",", b"\\", b"\\\"", b"\\u",
    b"00e9", b"\\uD800", b"\\uDC00", b"\\ud83d\\ude00", b"\\n", b"\\x", b"1", b"-0", b"0.5e-3",
    b"1e999", b"01", b".5", b"true", b"nul", b"null", b" ", b"\t", b"\n", b"\n", b"\r\n", b"\r",
    b"\x0C", b"\x0B", b"\xFF", b"\xC3", b"\xA9", b"\xC3\xA9", b"\xEF\xBB\xBF", b"\0", b"\x1F",
    b"{\"a\":", b"}\n", b"[[[[", b"]]]]", b"{\"a\":1}\n", b"/*", b"//",
];

/// One token of `tokens`, or an arbitrary byte.
fn token(tokens: &'static [&'static [u8]]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        5 => select(tokens).prop_map(<[u8]>::to_vec),
        1 => any::<u8>().prop_map(|b| vec![b]),
    ]
}

/// A run of `tokens`.
fn tokens(tokens: &'static [&'static [u8]], max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(token(tokens), 0..max).prop_map(|t| t.concat())
}

/// An edit to a valid input.
#[derive(Debug, Clone)]
enum Edit {
    Insert(Index, Vec<u8>),
    Delete(Index),
    Replace(Index, Vec<u8>),
}

fn edit(tokens: &'static [&'static [u8]]) -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<Index>(), token(tokens)).prop_map(|(i, t)| Edit::Insert(i, t)),
        any::<Index>().prop_map(Edit::Delete),
        (any::<Index>(), token(tokens)).prop_map(|(i, t)| Edit::Replace(i, t)),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: Vec<Edit>) -> Vec<u8> {
    for e in edits {
        match e {
            Edit::Insert(i, t) => {
                let at = i.index(bytes.len() + 1);
                bytes.splice(at..at, t);
            }
            Edit::Delete(_) | Edit::Replace(..) if bytes.is_empty() => {}
            Edit::Delete(i) => {
                bytes.remove(i.index(bytes.len()));
            }
            Edit::Replace(i, t) => {
                let at = i.index(bytes.len());
                bytes.splice(at..=at, t);
            }
        }
    }
    bytes
}

/// A well-formed CSV file: a header and rows of plain and quoted fields
/// (with delimiters, quotes and newlines inside), LF or CRLF.
fn valid_csv() -> impl Strategy<Value = Vec<u8>> {
    let field = prop_oneof![
        3 => "[a-z0-9 .é-]{0,5}",
        2 => "[a-z,;|\t\"\n\r é]{0,6}".prop_map(|s| format!("\"{}\"", s.replace('"', "\"\""))),
    ];
    let row = vec(field, 1..4).prop_map(|f| f.join(","));
    (vec(row, 1..8), any::<bool>(), any::<bool>()).prop_map(|(rows, crlf, last)| {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut text = rows.join(eol);
        if last {
            text.push_str(eol);
        }
        text.into_bytes()
    })
}

/// A well-formed NDJSON file: objects with nested values (sometimes nested
/// about as deep as `serde_json`'s limit), blank lines, LF or CRLF.
fn valid_ndjson() -> impl Strategy<Value = Vec<u8>> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        "[a-z \"\\\\\n\u{1}é😀]{0,5}".prop_map(Value::from),
    ];
    let value = leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..3).prop_map(Value::Array),
            vec(("[a-z]{1,2}", inner), 0..3).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    });
    let object = vec(("[a-zé\"]{0,3}", value), 0..4).prop_map(|kv| {
        let members: Vec<String> = kv
            .iter()
            .map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap_or_default(), v))
            .collect();
        format!("{{{}}}", members.join(","))
    });
    let deep =
        (120usize..135).prop_map(|d| format!("{{\"d\":{}{}}}", "[".repeat(d), "]".repeat(d)));
    let line = prop_oneof![6 => object, 1 => Just(String::new()), 1 => deep];
    (vec(line, 1..8), any::<bool>(), any::<bool>()).prop_map(|(lines, crlf, last)| {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut text = lines.join(eol);
        if last {
            text.push_str(eol);
        }
        text.into_bytes()
    })
}

/// Something to put before an input: mostly nothing, sometimes a UTF-8,
/// UTF-16 or UTF-32 byte-order mark.
fn prefix() -> impl Strategy<Value = &'static [u8]> {
    prop_oneof![
        12 => Just(&b""[..]),
        2 => Just(&b"\xEF\xBB\xBF"[..]),
        1 => Just(&b"\xFF\xFE"[..]),
        1 => Just(&b"\xFE\xFF"[..]),
        1 => Just(&b"\xFF\xFE\x00\x00"[..]),
    ]
}

/// Hostile CSV: arbitrary bytes, runs of CSV tokens, or a valid file with
/// a few edits.
fn hostile_csv() -> impl Strategy<Value = Vec<u8>> {
    let body = prop_oneof![
        1 => vec(any::<u8>(), 0..300),
        4 => tokens(CSV_TOKENS, 120),
        4 => (valid_csv(), vec(edit(CSV_TOKENS), 0..4)).prop_map(|(b, e)| apply(b, e)),
    ];
    (prefix(), body).prop_map(|(p, b)| [p, &b].concat())
}

/// Hostile NDJSON: arbitrary bytes, runs of JSON tokens, or a valid file
/// with a few edits.
fn hostile_ndjson() -> impl Strategy<Value = Vec<u8>> {
    let body = prop_oneof![
        1 => vec(any::<u8>(), 0..300),
        4 => tokens(JSON_TOKENS, 100),
        4 => (valid_ndjson(), vec(edit(JSON_TOKENS), 0..4)).prop_map(|(b, e)| apply(b, e)),
    ];
    (prefix(), body).prop_map(|(p, b)| [p, &b].concat())
}

fn delimiter() -> impl Strategy<Value = u8> {
    select(vec![b',', b',', b'\t', b';', b'|'])
}

fn chunk_limit() -> impl Strategy<Value = ChunkLimit> {
    prop_oneof![
        (1usize..=6).prop_map(ChunkLimit::Records),
        (1usize..=200).prop_map(ChunkLimit::Bytes),
    ]
}

fn run_settings() -> impl Strategy<Value = RunSettings> {
    (1usize..=4, chunk_limit(), 1usize..=4)
        .prop_map(|(threads, chunk, max_in_flight)| RunSettings { threads, chunk, max_in_flight })
}

// ---------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(CASES))]

    /// The splitter keeps every byte of hostile CSV and cuts only between
    /// records.
    #[test]
    fn splitter_on_hostile_csv(input in hostile_csv(), delim in delimiter(), limit in chunk_limit()) {
        bounded(move || fuzz_checks::check_split(&input, Format::Csv, delim, limit))?;
    }

    /// The splitter keeps every byte of hostile NDJSON and reads the first
    /// record's keys (or names its error).
    #[test]
    fn splitter_on_hostile_ndjson(input in hostile_ndjson(), limit in chunk_limit()) {
        bounded(move || fuzz_checks::check_split(&input, Format::Ndjson, b',', limit))?;
    }

    /// The CSV reader reads what the `csv` crate reads, and names the line
    /// of the first record of the wrong width.
    #[test]
    fn csv_reader_matches_the_csv_crate(
        input in hostile_csv(),
        delim in delimiter(),
        first_line in 1u64..1000,
    ) {
        bounded(move || fuzz_checks::check_read_csv(&input, delim, first_line))?;
    }

    /// The NDJSON reader accepts what `serde_json` accepts as an object,
    /// keeps keys and raw values, and names the first bad line.
    #[test]
    fn ndjson_reader_matches_serde_json(input in hostile_ndjson(), first_line in 1u64..1000) {
        bounded(move || fuzz_checks::check_read_ndjson(&input, first_line))?;
    }
}

proptest! {
    #![proptest_config(config(PIPELINE_CASES))]

    /// Whole runs over hostile CSV: the sequential run's bytes or error,
    /// whatever the settings.
    #[test]
    fn pipeline_on_hostile_csv(
        input in hostile_csv(),
        delim in delimiter(),
        job in any::<u8>(),
        s1 in run_settings(),
        s2 in run_settings(),
    ) {
        let job = fuzz_checks::job(job, Format::Csv, delim);
        bounded(move || fuzz_checks::check_pipeline(&input, &job, &[s1, s2]))?;
    }

    /// Whole runs over hostile NDJSON, likewise.
    #[test]
    fn pipeline_on_hostile_ndjson(
        input in hostile_ndjson(),
        job in any::<u8>(),
        s1 in run_settings(),
        s2 in run_settings(),
    ) {
        let job = fuzz_checks::job(job, Format::Ndjson, b',');
        bounded(move || fuzz_checks::check_pipeline(&input, &job, &[s1, s2]))?;
    }

    /// A library user may pass any delimiter byte, even a quote or a line
    /// end: the run is refused or behaves the same for every setting.
    #[test]
    fn odd_delimiters_are_refused_or_deterministic(
        input in hostile_csv(),
        delim in select(vec![b'"', b'\n', b'\r', b'\0', b'\xFF', b' ', b'a']),
        s1 in run_settings(),
        s2 in run_settings(),
    ) {
        let job = fuzz_checks::job(0, Format::Csv, delim);
        bounded(move || fuzz_checks::check_pipeline(&input, &job, &[s1, s2]))?;
    }
}

/// Every input kept under `fuzz/corpus/<target>/` (seeds and what fuzzing
/// found worth keeping) passes its target's check.
#[test]
fn corpus_replays_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut failures = Vec::new();
    let mut replayed = 0;
    for target in fuzz_checks::TARGETS {
        let dir = root.join(target);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let mut paths: Vec<_> = entries.map(|e| e.expect("a corpus entry").path()).collect();
        paths.sort();
        assert!(!paths.is_empty(), "{} has no inputs", dir.display());
        for path in paths {
            let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let name = target.to_string();
            if let Err(e) = bounded(move || fuzz_checks::run_target(&name, &data)) {
                failures.push(format!("{}: {e}", path.display()));
            }
            replayed += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {replayed} inputs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
