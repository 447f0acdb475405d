//! Inputs as they arrive: the output folders of Spark and Hadoop jobs
//! (part files, compressed or not, beside `_SUCCESS` and `.crc` files),
//! and CSV as exported in the wild (other delimiters, preambles, comment
//! lines, legacy encodings).

use std::io::Write;
use std::path::Path;

use assert_cmd::Command;

/// `fanfold` with `args`, run in `dir`.
fn fanfold(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("fanfold").expect("the fanfold binary is built");
    cmd.current_dir(dir).args(args);
    cmd
}

/// Runs `cmd`, asserts it succeeds, and returns its standard output.
fn succeeds(mut cmd: Command) -> Vec<u8> {
    let out = cmd.output().expect("fanfold runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{cmd:?} failed: {err}");
    out.stdout
}

/// Runs `cmd`, asserts it fails with exit status `code`, and returns its
/// standard error.
fn fails(mut cmd: Command, code: i32) -> String {
    let out = cmd.output().expect("fanfold runs");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{cmd:?}: stderr: {err}");
    err
}

/// The flights table's lines `from..to` (0 is the header), each with its
/// `\n`.
fn flights_lines(from: usize, to: usize) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/flights.csv");
    let text = std::fs::read_to_string(path).expect("read fixtures/flights.csv");
    text.lines().skip(from).take(to - from).flat_map(|l| [l, "\n"]).collect::<String>().into()
}

fn gzip(text: &[u8]) -> Vec<u8> {
    let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    w.write_all(text).expect("compress");
    w.finish().expect("compress")
}

// ---------------------------------------------------------------------------
// Directories of part files
// ---------------------------------------------------------------------------

/// A job's output folder holding the flights' first 3000 records in four
/// parts (gzip, zstd, plain, and one in a partition subdirectory), each
/// with the header, beside the files a reader must leave out.
fn job_output(dir: &Path) {
    let header = flights_lines(0, 1);
    let part = |from, to| [header.clone(), flights_lines(from, to)].concat();
    let out = dir.join("out");
    std::fs::create_dir_all(out.join("_temporary/0")).expect("mkdir");
    std::fs::create_dir_all(out.join("year=2013")).expect("mkdir");
    std::fs::write(out.join("part-00000.csv.gz"), gzip(&part(1, 700))).expect("write");
    let zst = zstd::encode_all(&part(700, 1500)[..], 3).expect("compress");
    std::fs::write(out.join("part-00001.csv.zst"), zst).expect("write");
    std::fs::write(out.join("part-00002.csv"), part(1500, 2200)).expect("write");
    std::fs::write(out.join("year=2013/part-00003.csv"), part(2200, 3001)).expect("write");
    // What Hadoop and Spark leave beside the parts.
    std::fs::write(out.join("_SUCCESS"), "").expect("write");
    std::fs::write(out.join(".part-00002.csv.crc"), b"\x00crc\xff").expect("write");
    std::fs::write(out.join("_temporary/0/part-00009.csv"), "junk\n").expect("write");
    std::fs::write(dir.join("all.csv"), flights_lines(0, 3001)).expect("write all.csv");
}

#[test]
fn a_directory_reads_its_part_files_in_name_order_leaving_out_underscore_and_dot_names() {
    let dir = tempfile::tempdir().expect("a temp dir");
    job_output(dir.path());
    // Concat keeps the input order: the parts' records, in name order.
    let whole = succeeds(fanfold(dir.path(), &["all.csv"]));
    let parts = succeeds(fanfold(dir.path(), &["out", "--threads", "3"]));
    assert!(parts == whole, "the parts' records are not the whole file's, in order");
    let args = ["--group-by", "carrier", "--agg", "count", "--agg", "mean:distance"];
    let mut plain = fanfold(dir.path(), &["all.csv"]);
    plain.args(args);
    let mut parts = fanfold(dir.path(), &["out/", "--chunk-bytes", "1000"]);
    parts.args(args);
    assert_eq!(succeeds(parts), succeeds(plain));
}

#[test]
fn explain_lists_a_directorys_files_with_their_compression() {
    let dir = tempfile::tempdir().expect("a temp dir");
    job_output(dir.path());
    let out =
        String::from_utf8(succeeds(fanfold(dir.path(), &["out", "--explain"]))).expect("UTF-8");
    let files: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("files:"))
        .take(5)
        .map(|l| l.trim().split(" (").next().unwrap_or(""))
        .collect();
    assert_eq!(
        files,
        [
            "files:        4",
            "out/part-00000.csv.gz",
            "out/part-00001.csv.zst",
            "out/part-00002.csv",
            "out/year=2013/part-00003.csv"
        ],
        "{out}"
    );
    assert!(out.contains("out/part-00000.csv.gz (") && out.contains(", gzip)\n"), "{out}");
    assert!(out.contains(", zstd)\n"), "{out}");
}

#[test]
fn a_directory_part_with_another_header_or_no_file_is_an_error() {
    let dir = tempfile::tempdir().expect("a temp dir");
    job_output(dir.path());
    std::fs::write(dir.path().join("out/part-00004.csv"), "a,b\n1,2\n").expect("write");
    let err = fails(fanfold(dir.path(), &["out"]), 1);
    assert!(err.starts_with("fanfold: error: out/part-00004.csv: header [\"a\", \"b\"] differs"));
    std::fs::create_dir_all(dir.path().join("empty/_logs")).expect("mkdir");
    std::fs::write(dir.path().join("empty/_SUCCESS"), "").expect("write");
    let err = fails(fanfold(dir.path(), &["empty"]), 1);
    assert_eq!(
        err,
        "fanfold: error: empty: the directory holds no input file (names that begin with `_` or \
         `.` are left out)\n"
    );
}

// ---------------------------------------------------------------------------
// CSV as exported in the wild
// ---------------------------------------------------------------------------

/// Settings that must not change any result.
const SPLITS: [&[&str]; 3] = [
    &["--threads", "1"],
    &["--threads", "3", "--chunk-bytes", "7"],
    &["--threads", "2", "--chunk-size", "1"],
];

#[test]
fn the_delimiter_is_found_in_the_first_lines_and_shown_by_explain() {
    let dir = tempfile::tempdir().expect("a temp dir");
    // A European export: `;` between fields, `,` in the numbers.
    let eu = "city;amount\nOslo;1,5\nLima;2,25\nOslo;\"3;0\"\n";
    std::fs::write(dir.path().join("eu.csv"), eu).expect("write");
    for split in SPLITS {
        let mut cmd = fanfold(dir.path(), &["eu.csv", "--group-by", "city", "--agg", "count"]);
        cmd.args(split);
        assert_eq!(succeeds(cmd), b"city;count\nLima;1\nOslo;2\n", "{split:?}");
    }
    let explain =
        String::from_utf8(succeeds(fanfold(dir.path(), &["eu.csv", "--explain"]))).expect("UTF-8");
    assert!(
        explain.contains("format:       csv, delimiter `;` (found in the first 4 records"),
        "{explain}"
    );
    // Tab and `|` in files named .csv, and in a compressed one.
    for (name, text) in [("t.csv", "a\tb\n1\t2\n"), ("p.csv", "a|b\n1|2\n")] {
        std::fs::write(dir.path().join(name), text).expect("write");
        let out = succeeds(fanfold(dir.path(), &[name, "--select", "b", "--output-format", "csv"]));
        assert_eq!(out, b"b\n2\n", "{name}");
    }
    std::fs::write(dir.path().join("eu.csv.gz"), gzip(eu.as_bytes())).expect("write");
    let out = succeeds(fanfold(dir.path(), &["eu.csv.gz", "--select", "amount"]));
    // The output keeps the input's delimiter.
    assert_eq!(out, b"amount\n1,5\n2,25\n\"3;0\"\n");
    // A tie between `,` and `;` keeps `,`; a delimiter given wins.
    std::fs::write(dir.path().join("tie.csv"), "a,b;c\n1,2;3\n").expect("write");
    assert_eq!(succeeds(fanfold(dir.path(), &["tie.csv", "--select", "b;c"])), b"b;c\n2;3\n");
    let out = succeeds(fanfold(dir.path(), &["tie.csv", "--delimiter", ";", "--select", "c"]));
    assert_eq!(out, b"c\n3\n");
}

#[test]
fn the_delimiter_of_standard_input_is_found_as_it_is_read() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let eu = "city;n\nOslo;1\nLima;2\nOslo;3\n";
    for bytes in [eu.as_bytes().to_vec(), gzip(eu.as_bytes())] {
        for split in SPLITS {
            let mut cmd = fanfold(dir.path(), &["--group-by", "city", "--agg", "sum:n"]);
            cmd.args(split).write_stdin(bytes.clone());
            assert_eq!(succeeds(cmd), b"city;sum_n\nLima;2\nOslo;4\n", "{split:?}");
        }
    }
    let mut cmd = fanfold(dir.path(), &["-"]);
    cmd.write_stdin("a;b;c\n1;2\n");
    let err = fails(cmd, 1);
    assert!(err.contains("try `--delimiter ';'`"), "{err}");
}

#[test]
fn an_unsure_delimiter_keeps_the_comma_and_a_one_field_header_suggests_the_one_seen() {
    let dir = tempfile::tempdir().expect("a temp dir");
    // Ragged `;` rows: no candidate fits every line.
    std::fs::write(dir.path().join("r.csv"), "a;b;c\n1;2\n3;4;5;6\n").expect("write");
    let err = fails(fanfold(dir.path(), &["r.csv"]), 1);
    assert_eq!(
        err,
        "fanfold: error: --delimiter: the header has 1 field; the rows look `;`-separated (but \
         not on every line read): try `--delimiter ';'`\n"
    );
    // A one-column file is read as it is.
    std::fs::write(dir.path().join("one.csv"), "name\nOslo\nLima\n").expect("write");
    assert_eq!(succeeds(fanfold(dir.path(), &["one.csv"])), b"name\nOslo\nLima\n");
}

#[test]
fn skip_rows_and_comment_lines_leave_the_records_and_their_line_numbers() {
    let dir = tempfile::tempdir().expect("a temp dir");
    // A preamble, a comment before the header, comments between records
    // (one holding quotes and delimiters that must not open a field), and
    // a record with a quoted newline whose second line starts with `#`.
    let text = "Sales report\nexported 2024-01-05, by \"X\"\n# header next\n\
                city,n\n# a, \"comment\nOslo,1\n#,\"x\nLima,\"two\n# lines\"\nOslo,x\n";
    std::fs::write(dir.path().join("c.csv"), text).expect("write");
    for split in SPLITS {
        let mut cmd = fanfold(dir.path(), &["c.csv", "--skip-rows", "2", "--comment", "#"]);
        cmd.args(["--on-error", "skip", "--stats"]).args(split);
        let out = cmd.output().expect("fanfold runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{split:?}: {err}");
        assert_eq!(out.stdout, b"city,n\nOslo,1\nLima,\"two\n# lines\"\nOslo,x\n", "{split:?}");
        assert!(err.contains("fanfold: stats: 3 comment lines skipped\n"), "{split:?}: {err}");
    }
    // Line numbers are the file's: the record with `two` starts on line 8.
    let mut cmd = fanfold(dir.path(), &["c.csv", "--skip-rows", "2", "--comment", "#"]);
    cmd.args(["--agg", "sum:n"]);
    let err = fails(cmd, 1);
    assert!(err.starts_with("fanfold: error: c.csv:8: column `n`: `two"), "{err}");
    // Each input of several has its own preamble.
    std::fs::write(dir.path().join("d.csv"), "Report 2\nx\n# c\ncity,n\nRome,3\n").expect("write");
    let mut cmd = fanfold(dir.path(), &["c.csv", "d.csv", "--skip-rows", "2", "--comment", "#"]);
    cmd.args(["--select", "city", "--on-error", "skip"]);
    assert_eq!(succeeds(cmd), b"city\nOslo\nLima\nOslo\nRome\n");
}

#[test]
fn preamble_settings_are_refused_where_they_cannot_apply() {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("e.ndjson"), "{\"a\":1}\n").expect("write");
    let err = fails(fanfold(dir.path(), &["e.ndjson", "--skip-rows", "1"]), 1);
    assert_eq!(err, "fanfold: error: --skip-rows: applies to CSV and TSV input, not ndjson\n");
    std::fs::write(dir.path().join("c.csv"), "a,b\n").expect("write");
    let err = fails(fanfold(dir.path(), &["c.csv", "--comment", ","]), 1);
    assert!(err.contains("--comment: must not be a quote, a line end or the delimiter"), "{err}");
    let err = fails(fanfold(dir.path(), &["c.csv", "--comment", "\""]), 2);
    assert!(err.contains("the comment marker must be one ASCII byte"), "{err}");
}

#[test]
fn latin1_and_utf16_inputs_are_decoded_with_the_lines_of_the_decoded_text() {
    let dir = tempfile::tempdir().expect("a temp dir");
    // `José,München` in windows-1252 (latin-1), and a bad number on line 3.
    std::fs::write(
        dir.path().join("l.csv"),
        b"name,city,n\nJos\xe9,M\xfcnchen,1\nA\xe7a\xed,B,x\n",
    )
    .expect("write");
    let args = ["l.csv", "--encoding", "latin1", "--output-format", "ndjson", "--on-error", "skip"];
    let out = succeeds(fanfold(dir.path(), &args));
    assert_eq!(
        String::from_utf8(out).expect("UTF-8"),
        "{\"name\":\"José\",\"city\":\"München\",\"n\":1}\n{\"name\":\"Açaí\",\"city\":\"B\",\"n\":\"x\"}\n"
    );
    let err =
        fails(fanfold(dir.path(), &["l.csv", "--encoding", "windows-1252", "--agg", "sum:n"]), 1);
    assert!(err.starts_with("fanfold: error: l.csv:3: column `n`: `x` is not a number"), "{err}");
    let err = fails(fanfold(dir.path(), &["l.csv", "--encoding", "klingon"]), 2);
    assert!(err.contains("`klingon`: not an encoding label"), "{err}");
    // UTF-16LE with its byte-order mark, gzip-compressed.
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain("city,n\nZürich,1\nZürich,2\n".encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    std::fs::write(dir.path().join("u.csv.gz"), gzip(&utf16)).expect("write");
    let out = succeeds(fanfold(dir.path(), &["u.csv.gz", "--group-by", "city", "--agg", "sum:n"]));
    assert_eq!(String::from_utf8(out).expect("UTF-8"), "city,sum_n\nZürich,3\n");
    // An unpaired surrogate is an error naming the line, not a U+FFFD.
    let mut bad = utf16.clone();
    bad.extend([0x00, 0xD8, b'\n', 0]);
    std::fs::write(dir.path().join("bad.csv"), &bad).expect("write");
    let err = fails(fanfold(dir.path(), &["bad.csv"]), 1);
    assert!(err.starts_with("fanfold: error: bad.csv:4: the text is not valid UTF-16LE"), "{err}");
}
