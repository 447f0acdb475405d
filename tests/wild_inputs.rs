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
