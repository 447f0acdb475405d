//! fanfold over two public test suites: JSONTestSuite for the NDJSON reader
//! and csv-spectrum for the CSV reader.
//!
//! The suites are read from `../shared/testsuites/` (relative to the crate
//! root) when it exists, else from the copies in `tests/data/` (a clean
//! clone has only those; see `tests/data/README.md` for their provenance and
//! licences). When both exist, [`copies_match_the_shared_suites`] checks
//! that the copies are byte-identical.
//!
//! JSONTestSuite (each file one JSON text, given to fanfold as an NDJSON
//! input):
//! - `n_` files are rejected with an error naming the file and a line
//!   (library: an `Err`; command line: exit code 1), except the three whose
//!   text is nothing but JSON whitespace (after a UTF-8 BOM): NDJSON skips
//!   blank lines, so those inputs hold no record and give empty output.
//! - `y_` files whose top level is an object are accepted (made one line:
//!   their newlines are whitespace between tokens) and written back with
//!   the same keys and every value's text unchanged; they also survive a
//!   jq `--map '.'`. Other `y_` files are valid JSON but not objects, which
//!   NDJSON records must be: a clear error naming line 1.
//! - `i_` files must not crash: output or a clear error, with and without
//!   a jq map.
//!
//! csv-spectrum (all 11 files): the expected JSON has every value as a
//! string, which is what `--no-infer` writes. Each CSV converted by the
//! command line with `--no-infer`, to a JSON array and to NDJSON, parses
//! (with `serde_json`) to exactly the expected JSON value. Without
//! `--no-infer`, fanfold writes a number-like field as a bare JSON number
//! and an empty field as `null` (see `src/sink/encode.rs`); a number's text
//! is written unchanged, so reading each output value's raw text back (a
//! string unescaped, a number or boolean as written, `null` as the empty
//! field) still recovers the CSV field exactly. Each CSV also goes CSV to
//! CSV, read back with the `csv` crate.

mod fuzz_checks;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use fanfold::{Error, ErrorKind, Format, Input, Pipeline, Step};

/// The crate root.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The shared suites, when this checkout sits next to them.
fn shared() -> Option<PathBuf> {
    let dir = root().join("../shared/testsuites");
    dir.join("JSONTestSuite").is_dir().then_some(dir)
}

/// Where the suites are read from.
fn suites() -> PathBuf {
    shared().unwrap_or_else(|| root().join("tests/data"))
}

/// The files of `dir`, sorted by name.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    paths.sort();
    paths
}

fn file_name(path: &Path) -> String {
    path.file_name().expect("a file name").to_string_lossy().into_owned()
}

/// Runs an NDJSON concat of `path` (with `steps`) in the library: the
/// output, or the error.
fn run_ndjson(path: &Path, steps: Vec<Step>) -> Result<Vec<u8>, Error> {
    let pipeline = Pipeline::builder()
        .input(Input::Path(path.to_path_buf()))
        .input_format(Format::Ndjson)
        .threads(2)
        .steps(steps)
        .build()?;
    let mut out = Vec::new();
    pipeline.run(&mut out, "<memory>").map(|_| out)
}

/// An error is fanfold's own report on the input, never an internal one.
fn assert_clear(path: &Path, e: &Error) {
    let msg = e.to_string();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::Json { .. } | ErrorKind::Encoding { .. } | ErrorKind::Decode { .. }
        ),
        "{}: unexpected kind of error: {msg}",
        path.display()
    );
    assert!(msg.starts_with(&path.display().to_string()), "{msg}");
}

/// The text of `bytes` after a UTF-8 BOM is JSON whitespace only.
fn only_whitespace(bytes: &[u8]) -> bool {
    fuzz_checks::is_blank(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
}

fn json_dir() -> PathBuf {
    suites().join("JSONTestSuite/test_parsing")
}

#[test]
fn json_n_files_are_rejected_naming_file_and_line() {
    let mut blank = Vec::new();
    let mut checked = 0;
    for path in files(&json_dir()) {
        let name = file_name(&path);
        if !name.starts_with("n_") {
            continue;
        }
        checked += 1;
        let bytes = std::fs::read(&path).expect("read");
        let lines = bytes.split(|&b| b == b'\n').count() as u64;
        match run_ndjson(&path, vec![]) {
            Ok(out) => {
                assert!(only_whitespace(&bytes), "{name} was accepted: {out:?}");
                assert!(out.is_empty(), "{name}: {out:?}");
                blank.push(name);
            }
            Err(e) => {
                assert_clear(&path, &e);
                match e.kind() {
                    ErrorKind::Json { at, .. } => {
                        assert!((1..=lines).contains(&at.line), "{name}: {e}")
                    }
                    other => panic!("{name}: {other}"),
                }
            }
        }
    }
    assert_eq!(checked, 188);
    assert_eq!(
        blank,
        ["n_single_space.json", "n_structure_UTF8_BOM_no_data.json", "n_structure_no_data.json"]
    );
}

/// The members of the one-line form of `bytes`, as `serde_json` reads them.
fn pairs_of(bytes: &[u8]) -> Vec<(String, String)> {
    fuzz_checks::reference_pairs(bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
        .into_iter()
        .map(|(k, v)| (k, v.get().to_string()))
        .collect()
}

#[test]
fn json_y_objects_are_written_back_unchanged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut objects, mut others) = (0, 0);
    for path in files(&json_dir()) {
        let name = file_name(&path);
        if !name.starts_with("y_") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read");
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            // Valid JSON, but an NDJSON record is an object.
            others += 1;
            let e = run_ndjson(&path, vec![]).expect_err(&name);
            assert_clear(&path, &e);
            assert!(e.to_string().contains("expected a JSON object"), "{name}: {e}");
            continue;
        }
        objects += 1;
        // A raw newline in a JSON text can only be whitespace between
        // tokens: a space is the same text on one line.
        let one_line: Vec<u8> = bytes.iter().map(|&b| if b == b'\n' { b' ' } else { b }).collect();
        let input = dir.path().join(format!("{name}.ndjson"));
        std::fs::write(&input, &one_line).expect("write");
        let out = run_ndjson(&input, vec![]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let text = String::from_utf8(out).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(text.matches('\n').count(), 1, "{name}: {text}");
        assert!(text.ends_with('\n'), "{name}: {text}");
        // The same keys, in order, and each value's text exactly as read.
        assert_eq!(pairs_of(text.trim_end().as_bytes()), pairs_of(&one_line), "{name}");
        // Through jq, values are rebuilt; the result must still be an object.
        let mapped = run_ndjson(&input, vec![Step::Map(".".into())])
            .unwrap_or_else(|e| panic!("{name} through --map: {e}"));
        let mapped = String::from_utf8(mapped).expect("UTF-8");
        let v: serde_json::Value = serde_json::from_str(mapped.trim_end())
            .unwrap_or_else(|e| panic!("{name} through --map: {e}: {mapped}"));
        assert!(v.is_object(), "{name}: {mapped}");
    }
    assert_eq!((objects, others), (12, 83));
}

#[test]
fn json_i_files_never_crash() {
    let mut checked = 0;
    for path in files(&json_dir()) {
        if !file_name(&path).starts_with("i_") {
            continue;
        }
        checked += 1;
        for steps in [vec![], vec![Step::Map(".".into())]] {
            if let Err(e) = run_ndjson(&path, steps) {
                assert_clear(&path, &e);
            }
        }
    }
    assert_eq!(checked, 35);
}

/// The command line, on every `n_` and `i_` file: exit code 1 with an error
/// naming the file (or 0 for the blank `n_` files and accepted `i_` files),
/// never a crash.
#[test]
fn json_n_and_i_files_through_the_command_line() {
    for path in files(&json_dir()) {
        let name = file_name(&path);
        if !(name.starts_with("n_") || name.starts_with("i_")) {
            continue;
        }
        let out = Command::cargo_bin("fanfold")
            .expect("the fanfold binary is built")
            .args(["--input-format", "ndjson"])
            .arg(&path)
            .output()
            .expect("fanfold runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let blank = only_whitespace(&std::fs::read(&path).expect("read"));
        match out.status.code() {
            Some(1) => {
                let prefix = format!("fanfold: error: {}:", path.display());
                assert!(stderr.starts_with(&prefix), "{name}: {stderr}");
                assert!(!stderr.contains("bug in fanfold"), "{name}: {stderr}");
            }
            Some(0) if name.starts_with("i_") || blank => {
                assert!(stderr.is_empty(), "{name}: {stderr}")
            }
            other => panic!("{name}: exit {other:?}, stderr: {stderr}"),
        }
    }
}

/// The expected JSON of csv-spectrum's `name`, as `serde_json` reads it.
fn spectrum_expected_json(name: &str) -> serde_json::Value {
    let path = suites().join("csv-spectrum/json").join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The expected records of csv-spectrum's `name`: field name to text.
fn spectrum_expected(name: &str) -> Vec<BTreeMap<String, String>> {
    serde_json::from_value(spectrum_expected_json(name))
        .unwrap_or_else(|e| panic!("{name}: not an array of string records: {e}"))
}

/// One line of fanfold's NDJSON output, each value back to its CSV text.
fn as_csv_texts(line: &str) -> BTreeMap<String, String> {
    fuzz_checks::reference_pairs(line.as_bytes())
        .unwrap_or_else(|e| panic!("{e}: {line}"))
        .into_iter()
        .map(|(k, v)| {
            let raw = v.get();
            let text = match raw.as_bytes()[0] {
                b'"' => serde_json::from_str::<String>(raw).expect("a JSON string"),
                b'n' => String::new(),
                _ => raw.to_string(),
            };
            (k, text)
        })
        .collect()
}

#[test]
fn csv_spectrum_parses_to_its_expected_json() {
    let dir = suites().join("csv-spectrum/csvs");
    let paths = files(&dir);
    assert_eq!(paths.len(), 11);
    for path in paths {
        let name = file_name(&path);
        let stem = name.trim_end_matches(".csv");
        let want_json = spectrum_expected_json(stem);
        let want = spectrum_expected(stem);
        let run = |extra: &[&str]| {
            let out = Command::cargo_bin("fanfold")
                .expect("the fanfold binary is built")
                .arg(&path)
                .args(extra)
                .output()
                .expect("fanfold runs");
            assert!(
                out.status.success() && out.stderr.is_empty(),
                "{name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        };
        // With --no-infer: exactly the expected JSON, as a JSON array (also
        // cut into one-record chunks) and as NDJSON.
        for extra in [&[][..], &["--threads", "2", "--chunk-size", "1"][..]] {
            let args: Vec<&str> = ["--output-format", "json", "--no-infer"]
                .into_iter()
                .chain(extra.iter().copied())
                .collect();
            let json: serde_json::Value = serde_json::from_slice(&run(&args))
                .unwrap_or_else(|e| panic!("{name} as JSON {extra:?}: {e}"));
            assert_eq!(json, want_json, "{name} as JSON with --no-infer {extra:?}");
        }
        let ndjson =
            String::from_utf8(run(&["--output-format", "ndjson", "--no-infer"])).expect("UTF-8");
        let lines: Vec<serde_json::Value> = ndjson
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: {e}: {l}")))
            .collect();
        assert_eq!(serde_json::Value::Array(lines), want_json, "{name} as NDJSON with --no-infer");

        // Without it, each value's raw text is the CSV field.
        let ndjson = String::from_utf8(run(&["--output-format", "ndjson"])).expect("UTF-8");
        let got: Vec<BTreeMap<String, String>> = ndjson.lines().map(as_csv_texts).collect();
        assert_eq!(got, want, "{name} as NDJSON");

        // CSV to CSV, read back by the csv crate.
        let csv_out = run(&["--threads", "2", "--chunk-size", "1"]);
        let mut rdr = csv::Reader::from_reader(csv_out.as_slice());
        let header = rdr.headers().expect("a header").clone();
        let got: Vec<BTreeMap<String, String>> = rdr
            .records()
            .map(|r| {
                let r = r.expect("a record");
                header.iter().zip(r.iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect()
            })
            .collect();
        assert_eq!(got, want, "{name} as CSV");
    }
}

/// The copies in `tests/data/` are the shared suites, byte for byte.
#[test]
fn copies_match_the_shared_suites() {
    let Some(shared) = shared() else {
        return; // a clean clone: nothing to compare with
    };
    let copies = root().join("tests/data");
    for sub in ["JSONTestSuite/test_parsing", "csv-spectrum/csvs", "csv-spectrum/json"] {
        let names = |dir: &Path| files(dir).iter().map(|p| file_name(p)).collect::<Vec<_>>();
        let (a, b) = (shared.join(sub), copies.join(sub));
        assert_eq!(names(&a), names(&b), "{sub}");
        for name in names(&a) {
            let same = std::fs::read(a.join(&name)).ok() == std::fs::read(b.join(&name)).ok();
            assert!(same, "{sub}/{name} differs from the shared copy");
        }
    }
    for file in ["JSONTestSuite/LICENSE", "csv-spectrum/package.json"] {
        assert_eq!(std::fs::read(shared.join(file)).ok(), std::fs::read(copies.join(file)).ok());
    }
}
