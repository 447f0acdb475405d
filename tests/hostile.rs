//! Hostile and edge inputs through the command line: each gives the right
//! output or a clear error (naming the file, the line and what is wrong)
//! with exit status 1, in bounded time and memory, whatever the chunking.
//!
//! Sections: JSON nesting, blank NDJSON lines, CSV line ends before and
//! after the header, unterminated quotes, byte-order marks, line numbers,
//! long lines, delimiters, UTF-16 and UTF-32, a single huge record, a last
//! line without a newline, invalid UTF-8.
//!
//! Every run has a time limit ([`TIME_LIMIT`]): a hang fails the test.

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use fanfold::{ErrorKind, Input, Pipeline, Setting};

/// The longest any one run here may take (debug build, busy machine).
const TIME_LIMIT: Duration = Duration::from_secs(60);

/// Chunking and threading settings that must not change any result.
const SETTINGS: &[&[&str]] = &[
    &["--threads", "1"],
    &["--threads", "2", "--chunk-size", "1"],
    &["--threads", "3", "--chunk-bytes", "7", "--max-in-flight", "1"],
    &["--threads", "2", "--chunk-bytes", "64KiB"],
];

/// `fanfold` with `args`, with a time limit.
fn fanfold(args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("fanfold").expect("the fanfold binary is built");
    cmd.args(args).timeout(TIME_LIMIT);
    cmd
}

/// Runs `fanfold args`, asserts success with nothing on stderr, and returns
/// standard output.
fn run_ok(args: &[&str]) -> Vec<u8> {
    let out = fanfold(args).output().expect("fanfold runs");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "fanfold {args:?} failed: {:?}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs `fanfold args`, asserts it fails with exit code 1, and returns
/// standard error.
fn run_err(args: &[&str]) -> String {
    let out = fanfold(args).output().expect("fanfold runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "fanfold {args:?}: stderr: {stderr}");
    stderr
}

/// `args` followed by `extra`.
fn with<'a>(args: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    args.iter().chain(extra).copied().collect()
}

/// Writes `contents` to `name` in `dir` and returns the path as a string.
fn write_file(dir: &Path, name: &str, contents: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write a temp file");
    path.to_str().expect("temp paths are UTF-8").to_string()
}

// ---------------------------------------------------------------------------
// JSON nesting
// ---------------------------------------------------------------------------

/// `{"a":` + `depth` nested arrays + `}`: the record's object is one more
/// level.
fn nested(depth: usize) -> String {
    format!("{{\"a\":{}{}}}", "[".repeat(depth), "]".repeat(depth))
}

/// 10,000 levels of arrays in one NDJSON line: a clear error naming the
/// line and the column where nesting passes `serde_json`'s limit (127,
/// the record's object included), in bounded time. Before, the reader kept
/// the value raw and a jq `--filter` or `--map` overflowed a worker's stack
/// and aborted the process.
#[test]
fn json_nested_10000_deep_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let deep = nested(10_000);
    let second = write_file(dir.path(), "deep.ndjson", format!("{{\"a\":1}}\n{deep}\n").as_bytes());
    let first = write_file(dir.path(), "first.ndjson", format!("{deep}\n{{\"a\":1}}\n").as_bytes());
    let msg =
        "invalid JSON: recursion limit exceeded: arrays and objects nested more than 127 deep";
    for extra in
        [&[][..], &["--filter", ".a != null"], &["--map", ".b = 1"], &["--output-format", "csv"]]
    {
        for s in SETTINGS {
            let args = with(&with(&[second.as_str()], extra), s);
            // `{"a":` then 127 `[`: the 128th level is the next bracket.
            assert_eq!(run_err(&args), format!("fanfold: error: {second}:2:132: {msg}\n"));
            let args = with(&with(&[first.as_str()], extra), s);
            assert_eq!(run_err(&args), format!("fanfold: error: {first}:1:132: {msg}\n"));
        }
    }
}

/// At the limit a record is written back as read, also through jq; one
/// level more is the error.
#[test]
fn json_nesting_at_the_limit_is_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ok = nested(126);
    let path = write_file(dir.path(), "ok.ndjson", format!("{ok}\n").as_bytes());
    assert_eq!(run_ok(&[&path]), format!("{ok}\n").into_bytes());
    assert_eq!(run_ok(&[&path, "--map", "."]), format!("{ok}\n").into_bytes());
    let over = write_file(dir.path(), "over.ndjson", format!("{}\n", nested(127)).as_bytes());
    assert!(run_err(&[&over]).starts_with(&format!("fanfold: error: {over}:1:132: ")));
}

// ---------------------------------------------------------------------------
// Blank NDJSON lines
// ---------------------------------------------------------------------------

/// Only JSON whitespace (space, tab, CR, LF) makes a blank line, which is
/// skipped. A line holding a form feed is not JSON: it is an error, not
/// a silently skipped line.
#[test]
fn ndjson_form_feed_line_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let blank = write_file(dir.path(), "blank.ndjson", b"{\"a\":1}\n \t\r\n\n{\"a\":2}\n");
    assert_eq!(run_ok(&[&blank]), b"{\"a\":1}\n{\"a\":2}\n");
    let ff = write_file(dir.path(), "ff.ndjson", b"{\"a\":1}\n\x0c\n{\"a\":2}\n");
    for s in SETTINGS {
        let err = run_err(&with(&[&ff], s));
        assert!(err.starts_with(&format!("fanfold: error: {ff}:2:1: invalid JSON")), "{err}");
    }
    let first = write_file(dir.path(), "ff_first.ndjson", b"\x0c\n{\"a\":2}\n");
    let err = run_err(&[&first]);
    assert!(err.starts_with(&format!("fanfold: error: {first}:1:1: invalid JSON")), "{err}");
}

// ---------------------------------------------------------------------------
// CSV line ends around the header
// ---------------------------------------------------------------------------

/// A bare `\r` ends a record (as in the `csv` crate), the header's too.
/// Before, the header took everything up to the first `\n`: with old Mac
/// line ends every record after the header was silently dropped.
#[test]
fn csv_with_bare_cr_line_ends_keeps_every_record() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cr = write_file(dir.path(), "cr.csv", b"a,b\r1,2\r3,\"x\ry\"\r");
    let mixed = write_file(dir.path(), "mixed.csv", b"a,b\r1,2\r\n3,4\n5,6\r7,8");
    for s in SETTINGS {
        assert_eq!(run_ok(&with(&[&cr], s)), b"a,b\n1,2\n3,\"x\ry\"\n");
        let json = run_ok(&with(&[&cr, "--output-format", "ndjson"], s));
        assert_eq!(json, b"{\"a\":1,\"b\":2}\n{\"a\":3,\"b\":\"x\\ry\"}\n");
        assert_eq!(run_ok(&with(&[&mixed], s)), b"a,b\n1,2\n3,4\n5,6\n7,8\n");
    }
}

/// Blank lines before the header are skipped, as the `csv` crate skips
/// them, and still count for line numbers. Before, the first blank line
/// became an empty header and every record failed its field count.
#[test]
fn blank_lines_before_the_csv_header_are_skipped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_file(dir.path(), "lead.csv", b"\n\r\n\na,b\n1,2\n3\n");
    for s in SETTINGS {
        let err = run_err(&with(&[&path], s));
        assert_eq!(
            err,
            format!("fanfold: error: {path}:6: expected 2 fields (as in the header), found 1\n")
        );
    }
    let ok = write_file(dir.path(), "lead_ok.csv", b"\n\na,b\n1,2\n");
    assert_eq!(run_ok(&[&ok]), b"a,b\n1,2\n");
    let only_blank = write_file(dir.path(), "blank.csv", b"\n\r\n\n");
    assert_eq!(run_ok(&[&only_blank]), b"");
}

// ---------------------------------------------------------------------------
// Unterminated quotes
// ---------------------------------------------------------------------------

/// The error names the line where the quoted field opened, not a later
/// line where a doubled quote (`""`) re-entered it, in the header too.
#[test]
fn unterminated_quote_names_the_line_it_opened_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let body = write_file(dir.path(), "body.csv", b"a,b\n1,2\n3,\"open\n\"\"x\"\"\n\"\"y\"\"\n");
    let head = write_file(dir.path(), "head.csv", b"\n\"a\n\"\"b\"\"\n,c\n1,2\n");
    let msg = "unterminated quoted field (the quote opened on this line never closes)";
    for s in SETTINGS {
        assert_eq!(run_err(&with(&[&body], s)), format!("fanfold: error: {body}:3: {msg}\n"));
        assert_eq!(run_err(&with(&[&head], s)), format!("fanfold: error: {head}:2: {msg}\n"));
    }
}

/// A bad record before an unterminated quote is the error reported, with
/// any chunk size. Before, a chunk holding both reported the quote (the
/// splitter found it before any worker parsed the record) and small chunks
/// the record.
#[test]
fn an_earlier_error_wins_over_an_unterminated_quote() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_file(dir.path(), "both.csv", b"a,b\n1,2\n3\n4,5\n6,\"open\n7,8\n");
    for s in SETTINGS {
        let err = run_err(&with(&[&path], s));
        assert_eq!(
            err,
            format!("fanfold: error: {path}:3: expected 2 fields (as in the header), found 1\n")
        );
    }
}

// ---------------------------------------------------------------------------
// Byte-order marks and line numbers
// ---------------------------------------------------------------------------

/// Only the input's own UTF-8 BOM is skipped. BOM bytes at the start of a
/// record are data. Before, they were dropped when the record needed the
/// full CSV parser and was the first of its chunk to do so (so the output
/// depended on the chunk size), and a second BOM at the start of the header
/// was dropped too.
#[test]
fn bom_bytes_inside_records_are_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = b"\xEF\xBB\xBF\xEF\xBB\xBFa,b\n\xEF\xBB\xBF\"x\",1\n\xEF\xBB\xBFq\"\"r,2\n";
    let path = write_file(dir.path(), "bom.csv", input);
    for s in SETTINGS {
        // The quotes are not at the start of a field: they are text, which
        // CSV output quotes.
        let out = run_ok(&with(&[&path], s));
        let want = b"\xEF\xBB\xBFa,b\n\"\xEF\xBB\xBF\"\"x\"\"\",1\n\"\xEF\xBB\xBFq\"\"\"\"r\",2\n";
        assert_eq!(out, want);
    }
}

/// A record after a run of line ends that needs the full parser (here
/// `\r\r\n`) names its own line. Before, it named the line before.
#[test]
fn records_after_runs_of_line_ends_name_their_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_file(dir.path(), "cr.csv", b"a,b\n1,2\r\r\n\"3\"\n");
    for s in SETTINGS {
        let err = run_err(&with(&[&path], s));
        assert_eq!(
            err,
            format!("fanfold: error: {path}:3: expected 2 fields (as in the header), found 1\n")
        );
    }
}

// ---------------------------------------------------------------------------
// Long lines, delimiters
// ---------------------------------------------------------------------------

/// A 64 MiB first NDJSON line is read once. Before, the header peek
/// searched the line from its start again after every 64 KiB read: about a
/// minute in a debug build, quadratic in the line's length.
#[test]
fn a_long_first_ndjson_line_is_read_in_linear_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let long = "x".repeat(64 << 20);
    let text = format!("{{\"a\":\"{long}\"}}\n{{\"a\":1}}\n");
    let path = write_file(dir.path(), "long.ndjson", text.as_bytes());
    let started = std::time::Instant::now();
    let out = run_ok(&[&path]);
    assert!(out == text.as_bytes(), "the output differs from the input");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

/// A library user can pass any delimiter byte; a quote or a newline would
/// make records impossible to find, and is refused like on the command
/// line. Before, such a run gave output that depended on the chunk size.
#[test]
fn quote_and_newline_delimiters_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("in.csv");
    std::fs::write(&path, "a\"b\n1\"2\n").expect("write");
    for delimiter in [b'"', b'\n'] {
        let err = Pipeline::builder()
            .input(Input::Path(path.clone()))
            .delimiter(delimiter)
            .build()
            .expect_err("refused");
        assert!(
            matches!(err.kind(), ErrorKind::Setting { setting: Setting::Delimiter, .. }),
            "{err}"
        );
        assert_eq!(err.to_string(), "delimiter: must not be a quote or a newline");
    }
}

// ---------------------------------------------------------------------------
// UTF-16 and UTF-32
// ---------------------------------------------------------------------------

/// `text` in UTF-16 (little or big endian) with its byte-order mark.
fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    let mut out = if big_endian { vec![0xFE, 0xFF] } else { vec![0xFF, 0xFE] };
    for unit in text.encode_utf16() {
        out.extend(if big_endian { unit.to_be_bytes() } else { unit.to_le_bytes() });
    }
    out
}

/// A file with a UTF-16 or UTF-32 byte-order mark is refused with an
/// error naming the file and its encoding (before: a header of garbage
/// with NUL bytes, or a JSON error at 1:1), also as a later input or on
/// standard input.
#[test]
fn utf16_inputs_are_decoded_and_utf32_ones_refused_naming_the_encoding() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = "name,qty\nZürich,1\n";
    let good = write_file(dir.path(), "good.csv", text.as_bytes());
    let want = run_ok(&[&good]);
    for (name, bytes) in [("le.csv", utf16(text, false)), ("be.csv", utf16(text, true))] {
        let path = write_file(dir.path(), name, &bytes);
        assert_eq!(run_ok(&[&path]), want, "{name}");
        // Beside a UTF-8 input, with one header.
        assert_eq!(run_ok(&[&good, &path]), [&want[..], b"Z\xc3\xbcrich,1\n"].concat());
    }
    let path = write_file(dir.path(), "le.ndjson", &utf16("{\"a\":1}\n", false));
    assert_eq!(run_ok(&[&path]), b"{\"a\":1}\n");
    let out = fanfold(&["-"]).write_stdin(utf16(text, false)).output().expect("fanfold runs");
    assert_eq!(out.stdout, want);
    let cases: &[(&str, Vec<u8>, &str)] = &[
        ("le32.csv", b"\xFF\xFE\x00\x00n\x00\x00\x00".to_vec(), "UTF-32LE"),
        ("be32.csv", b"\x00\x00\xFE\xFF\x00\x00\x00n".to_vec(), "UTF-32BE"),
    ];
    for (name, bytes, encoding) in cases {
        let path = write_file(dir.path(), name, bytes);
        let want = format!(
            "fanfold: error: {path}: the input is {encoding} (it starts with a {encoding} \
             byte-order mark), which fanfold does not decode (it reads UTF-8, UTF-16 and the \
             encodings --encoding names): convert it first, e.g. `iconv -f {encoding} -t \
             UTF-8`\n"
        );
        assert_eq!(run_err(&[&path]), want);
        // As the second input: the records of the first may already be
        // out on standard output, but the run fails naming this file.
        let out = fanfold(&[&good, &path]).output().expect("fanfold runs");
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(String::from_utf8_lossy(&out.stderr), want);
    }
}

// ---------------------------------------------------------------------------
// A single huge record
// ---------------------------------------------------------------------------

/// One CSV record of 24 MiB (set `FANFOLD_HOSTILE_RECORD_MB`, e.g. to 100,
/// for a bigger one; 100 MB took 8.4 s and 342 MB of peak memory in a debug
/// build): a quoted field with delimiters, doubled quotes and newlines,
/// far larger than a chunk or a read. It comes out byte for byte, with any
/// chunk size, and as NDJSON.
#[test]
fn a_single_huge_csv_record() {
    let mb: usize =
        std::env::var("FANFOLD_HOSTILE_RECORD_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(24);
    let unit = "abc,def \"q\"\n";
    let text = unit.repeat((mb << 20) / unit.len());
    let quoted = text.replace('"', "\"\"");
    let input = format!("id,text,n\n1,\"{quoted}\",7\n2,x,8\n");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_file(dir.path(), "big.csv", input.as_bytes());
    let out_path = dir.path().join("out.csv");
    let out_name = out_path.to_str().expect("UTF-8 path");
    for s in [&["--threads", "1"][..], &["--threads", "2", "--chunk-bytes", "64KiB"]] {
        run_ok(&with(&[&path, "-o", out_name], s));
        let out = std::fs::read(&out_path).expect("the output file");
        assert!(out == input.as_bytes(), "the output differs from the input");
    }
    let json = run_ok(&[&path, "--output-format", "ndjson"]);
    let lines: Vec<serde_json::Value> = json
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("an NDJSON line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0]["text"] == text.as_str(), "the long field differs");
    assert_eq!(lines[1], serde_json::json!({"id": 2, "text": "x", "n": 8}));
}

// ---------------------------------------------------------------------------
// The last line, invalid UTF-8
// ---------------------------------------------------------------------------

/// A last line without `\n` is a record like any other (output lines
/// always end with `\n`), quoted or not, CSV or NDJSON.
#[test]
fn a_last_line_without_newline_is_a_record() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plain = write_file(dir.path(), "plain.csv", b"a,b\n1,2\n3,4");
    let quoted = write_file(dir.path(), "quoted.csv", b"a,b\r\n1,2\r\n3,\"x\ny\"");
    let crlf_last = write_file(dir.path(), "cr.csv", b"a,b\n1,2\r");
    let json = write_file(dir.path(), "last.ndjson", b"{\"a\":1}\n{\"a\":2}");
    let json_cr = write_file(dir.path(), "last_cr.ndjson", b"{\"a\":1}\r\n{\"a\":2}\r");
    for s in SETTINGS {
        assert_eq!(run_ok(&with(&[&plain], s)), b"a,b\n1,2\n3,4\n");
        assert_eq!(run_ok(&with(&[&quoted], s)), b"a,b\n1,2\n3,\"x\ny\"\n");
        assert_eq!(run_ok(&with(&[&crlf_last], s)), b"a,b\n1,2\n");
        assert_eq!(run_ok(&with(&[&json], s)), b"{\"a\":1}\n{\"a\":2}\n");
        assert_eq!(run_ok(&with(&[&json_cr], s)), b"{\"a\":1}\n{\"a\":2}\n");
    }
}

/// A last record without `\n` that needs the full CSV parser keeps all
/// its fields. Before, with 33 fields, the last one empty (the parser's
/// first buffer of field ends holds 32), the whole record was silently
/// dropped.
#[test]
fn a_wide_last_record_without_newline_is_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let header: Vec<String> = (0..33).map(|i| format!("c{i}")).collect();
    let fields: Vec<String> = (1..32).map(|i| i.to_string()).collect();
    let text = format!("{}\n\"x\"\"y\",{},", header.join(","), fields.join(","));
    let path = write_file(dir.path(), "wide.csv", text.as_bytes());
    let want = format!("{text}\n");
    for s in SETTINGS {
        assert_eq!(String::from_utf8(run_ok(&with(&[&path], s))).expect("UTF-8"), want);
    }
}

/// Invalid UTF-8 in CSV: the chosen behaviour is to pass the bytes
/// through. CSV fields are bytes; CSV output writes them back unchanged
/// (grouping and sorting compare them as bytes). Where text is needed they
/// are decoded with U+FFFD for each invalid sequence: NDJSON output, jq
/// transforms, and header names (which are always text).
#[test]
fn invalid_utf8_in_csv_passes_through() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path =
        write_file(dir.path(), "latin1.csv", b"name,city\nJos\xe9,Z\xfcrich\nAnn,\xff\xfe\n");
    for s in SETTINGS {
        let out = run_ok(&with(&[&path], s));
        assert_eq!(out, b"name,city\nJos\xe9,Z\xfcrich\nAnn,\xff\xfe\n");
        let out = run_ok(&with(&[&path, "--output-format", "ndjson"], s));
        let want = "{\"name\":\"Jos\u{FFFD}\",\"city\":\"Z\u{FFFD}rich\"}\n\
                    {\"name\":\"Ann\",\"city\":\"\u{FFFD}\u{FFFD}\"}\n";
        assert_eq!(String::from_utf8(out).expect("UTF-8"), want);
        let out = run_ok(&with(&[&path, "--sort-by", "city", "--select", "city"], s));
        assert_eq!(out, b"city\nZ\xfcrich\n\xff\xfe\n");
    }
    let head = write_file(dir.path(), "head.csv", b"n\xe4me,b\n1,2\n");
    assert_eq!(run_ok(&[&head]), "n\u{FFFD}me,b\n1,2\n".as_bytes());
}

/// Invalid UTF-8 in NDJSON is not JSON: an error naming line and column.
#[test]
fn invalid_utf8_in_ndjson_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_file(dir.path(), "bad.ndjson", b"{\"a\":\"ok\"}\n{\"a\":\"\xff\"}\n");
    for s in SETTINGS {
        let err = run_err(&with(&[&path], s));
        assert_eq!(
            err,
            format!("fanfold: error: {path}:2:7: invalid JSON: invalid unicode code point\n")
        );
    }
}
