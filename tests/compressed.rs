//! Compressed inputs and outputs, and binary bytes in messages.
//!
//! fanfold does not decompress yet. A gzip, zstd, bzip2 or xz input is
//! recognised by its magic number, whatever it is called (and on standard
//! input), and refused with a message naming the format and the tool to
//! decompress it with; an output name with a compression extension is a
//! usage error; and no error message writes raw control bytes or invalid
//! UTF-8 to the terminal, however binary the input it quotes.
//!
//! The compressed inputs are the literal bytes the tools wrote for
//! `carrier,n\nAA,1\n` (`gzip`, `zstd`, `bzip2`, `xz`, default levels, on
//! a file named `flights.csv`), so the tests need none of the tools.

use std::path::Path;

use assert_cmd::Command;

/// `gzip flights.csv` (RFC 1952: `1f 8b`, deflate, the file name
/// `flights.csv` in the header).
const GZIP: &[u8] = &[
    0x1f, 0x8b, 0x08, 0x08, 0x5b, 0x49, 0x0f, 0x6b, 0x00, 0x03, 0x66, 0x6c, 0x69, 0x67, 0x68, 0x74,
    0x73, 0x2e, 0x63, 0x73, 0x76, 0x00, 0x4b, 0x4e, 0x2c, 0x2a, 0xca, 0x4c, 0x2d, 0xd2, 0xc9, 0xe3,
    0x72, 0x74, 0xd4, 0x31, 0xe4, 0x02, 0x00, 0x12, 0x64, 0xb6, 0xc0, 0x0f, 0x00, 0x00, 0x00,
];

/// `zstd flights.csv` (RFC 8878: `28 b5 2f fd`; the text is stored raw,
/// so the header `carrier,n` is there in plain sight after 9 bytes).
const ZSTD: &[u8] = &[
    0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x0f, 0x79, 0x00, 0x00, 0x63, 0x61, 0x72, 0x72, 0x69, 0x65, 0x72,
    0x2c, 0x6e, 0x0a, 0x41, 0x41, 0x2c, 0x31, 0x0a, 0x10, 0x6e, 0x26, 0x2a,
];

/// `bzip2 flights.csv` (`BZh9`, then the block magic `1AY&SY`).
const BZIP2: &[u8] = &[
    0x42, 0x5a, 0x68, 0x39, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59, 0x5d, 0x7e, 0x89, 0x63, 0x00, 0x00,
    0x04, 0x5d, 0x80, 0x00, 0x10, 0x00, 0x04, 0x20, 0x00, 0x20, 0x00, 0x2a, 0x21, 0x10, 0x00, 0x20,
    0x00, 0x31, 0x00, 0x30, 0x20, 0x1a, 0x1e, 0xa7, 0x55, 0x8a, 0x56, 0xc0, 0x91, 0x27, 0x8b, 0xb9,
    0x22, 0x9c, 0x28, 0x48, 0x2e, 0xbf, 0x44, 0xb1, 0x80,
];

/// `xz flights.csv` (`fd 37 7a 58 5a 00`; LZMA2 stores this short text
/// uncompressed too).
const XZ: &[u8] = &[
    0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04, 0xe6, 0xd6, 0xb4, 0x46, 0x02, 0x00, 0x21, 0x01,
    0x16, 0x00, 0x00, 0x00, 0x74, 0x2f, 0xe5, 0xa3, 0x01, 0x00, 0x0e, 0x63, 0x61, 0x72, 0x72, 0x69,
    0x65, 0x72, 0x2c, 0x6e, 0x0a, 0x41, 0x41, 0x2c, 0x31, 0x0a, 0x00, 0x00, 0xc4, 0x9d, 0x15, 0x22,
    0xb8, 0x08, 0x4e, 0x19, 0x00, 0x01, 0x27, 0x0f, 0xdf, 0x1a, 0xfc, 0x6a, 0x1f, 0xb6, 0xf3, 0x7d,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x04, 0x59, 0x5a,
];

/// Each format's name (also its tool's) and a file in it.
const FORMATS: [(&str, &[u8]); 4] = [("gzip", GZIP), ("zstd", ZSTD), ("bzip2", BZIP2), ("xz", XZ)];

/// The issue's command, less the input.
const GROUP_BY: [&str; 4] = ["--group-by", "carrier", "--agg", "count"];

/// `fanfold` with `args`, run in `dir`.
fn fanfold(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("fanfold").expect("the fanfold binary is built");
    cmd.current_dir(dir).args(args);
    cmd
}

/// Asserts that `stderr` is text a terminal shows as it is: UTF-8, with no
/// control character but `\n` (no C0 byte, DEL or C1 control), and
/// returns it.
fn printable(stderr: &[u8]) -> String {
    let text = String::from_utf8(stderr.to_vec())
        .unwrap_or_else(|e| panic!("stderr is not UTF-8 ({e}): {stderr:?}"));
    let bad: Vec<char> = text.chars().filter(|&c| c != '\n' && c.is_control()).collect();
    assert!(bad.is_empty(), "stderr holds control characters {bad:?}: {text:?}");
    assert!(stderr.iter().all(|&b| b >= 0x20 || b == b'\n'), "{stderr:?}");
    text
}

/// Runs `cmd`, asserts it fails with exit status `code` (for a usage
/// error, 2, writing nothing to standard output), and returns its
/// (printable) standard error.
fn fails(mut cmd: Command, code: i32) -> String {
    let out = cmd.output().expect("fanfold runs");
    let err = printable(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{cmd:?}: unexpected status; stderr: {err}");
    if code == 2 {
        assert!(out.stdout.is_empty(), "{cmd:?} wrote output: {:?}", out.stdout);
    }
    err
}

/// The whole message for the input `name` compressed with `format`.
fn refusal(name: &str, format: &str) -> String {
    let how = if name == "<stdin>" {
        format!("pipe it through `{format} -dc` first")
    } else {
        format!("decompress it first, e.g. `{format} -dc {name} | fanfold -`")
    };
    format!(
        "fanfold: error: {name}: the input is {format}-compressed (it starts with the {format} \
         magic number), and fanfold does not read compressed input yet: {how}\n"
    )
}

// ---------------------------------------------------------------------------
// Compressed inputs
// ---------------------------------------------------------------------------

#[test]
fn compressed_files_are_refused_by_their_magic_number_whatever_their_name() {
    let dir = tempfile::tempdir().expect("a temp dir");
    for (format, bytes) in FORMATS {
        let ext = match format {
            "gzip" => "gz",
            "zstd" => "zst",
            "bzip2" => "bz2",
            other => other,
        };
        for name in [format!("flights.csv.{ext}"), "flights.csv".into(), "events.ndjson".into()]
            .into_iter()
            .chain(["data".to_string(), "array.json".into()])
        {
            std::fs::write(dir.path().join(&name), bytes).expect("write the input");
            let args: Vec<&str> = [name.as_str()].into_iter().chain(GROUP_BY).collect();
            let err = fails(fanfold(dir.path(), &args), 1);
            assert_eq!(err, refusal(&name, format), "{format} named {name}");
        }
    }
    // Text that starts like a magic number is read: `BZh1` is a bzip2
    // header only when a block's magic follows.
    std::fs::write(dir.path().join("t.csv"), "BZh1,x\n1,2\n").expect("write t.csv");
    let out = fanfold(dir.path(), &["t.csv", "--select", "BZh1"]).output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, b"BZh1\n1\n");
}

#[test]
fn compressed_standard_input_is_refused_in_every_input_format() {
    let dir = tempfile::tempdir().expect("a temp dir");
    for (format, bytes) in FORMATS {
        for input_format in ["csv", "tsv", "ndjson", "json"] {
            let mut cmd = fanfold(dir.path(), &["--input-format", input_format]);
            cmd.args(GROUP_BY).write_stdin(bytes);
            let err = fails(cmd, 1);
            assert_eq!(err, refusal("<stdin>", format), "{format} as {input_format}");
        }
        let mut cmd = fanfold(dir.path(), &["-"]);
        cmd.write_stdin(bytes);
        assert_eq!(fails(cmd, 1), refusal("<stdin>", format), "{format} as `-`");
    }
}

#[test]
fn a_compressed_second_input_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("a.csv"), "carrier,n\nAA,1\n").expect("write a.csv");
    std::fs::write(dir.path().join("b.csv"), ZSTD).expect("write b.csv");
    let args: Vec<&str> = ["a.csv", "b.csv"].into_iter().chain(GROUP_BY).collect();
    let err = fails(fanfold(dir.path(), &args), 1);
    assert_eq!(err, refusal("b.csv", "zstd"));
}

#[test]
fn a_name_with_spaces_is_quoted_in_the_hint() {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("my flights.csv.gz"), GZIP).expect("write the input");
    let err = fails(fanfold(dir.path(), &["my flights.csv.gz"]), 1);
    assert!(err.ends_with("e.g. `gzip -dc 'my flights.csv.gz' | fanfold -`\n"), "{err}");
}

// ---------------------------------------------------------------------------
// Compressed output names
// ---------------------------------------------------------------------------

#[test]
fn an_output_name_with_a_compression_extension_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("in.csv"), "carrier,n\nAA,1\n").expect("write in.csv");
    for (name, format) in [
        ("out.csv.gz", "gzip"),
        ("out.csv.GZ", "gzip"),
        ("out.ndjson.zst", "zstd"),
        ("out.bz2", "bzip2"),
        ("out.tsv.Xz", "xz"),
    ] {
        for flag in ["-o", "--output"] {
            let err = fails(fanfold(dir.path(), &["in.csv", flag, name]), 2);
            assert_eq!(
                err,
                format!(
                    "error: the argument '--output <FILE>' names a {format}-compressed file \
                     ({name}), but fanfold does not write compressed output yet: write to \
                     standard output and pipe it through `{format}`, e.g. `fanfold ... | \
                     {format} > {name}`\n\nUsage: fanfold [OPTIONS] [INPUT]...\n\nFor more \
                     information, try '--help'.\n"
                )
            );
        }
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("list the dir").collect();
    assert_eq!(left.len(), 1, "files were written: {left:?}");
}

#[test]
fn a_rejects_name_with_a_compression_extension_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("in.csv"), "carrier,n\nAA,1,2\n").expect("write in.csv");
    let args = ["in.csv", "--on-error", "reject", "--rejects", "bad.ndjson.gz"];
    let err = fails(fanfold(dir.path(), &args), 2);
    assert!(
        err.starts_with(
            "error: the argument '--rejects <FILE>' names a gzip-compressed file \
             (bad.ndjson.gz), but fanfold does not write compressed output yet: write the \
             rejects to an uncompressed file and compress it afterwards with `gzip`\n"
        ),
        "{err}"
    );
    assert!(!dir.path().join("bad.ndjson.gz").exists());
}

// ---------------------------------------------------------------------------
// Binary bytes in messages
// ---------------------------------------------------------------------------

#[test]
fn a_header_of_control_bytes_and_invalid_utf8_is_quoted_escaped() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let header = b"a\x01b,\x1b[31mred,\xff\xfeok,tab\there,\x7f\xc2\x9b2J\n1,2,3,4,5\n";
    std::fs::write(dir.path().join("bin.csv"), header).expect("write bin.csv");
    let err = fails(fanfold(dir.path(), &["bin.csv", "--group-by", "nosuch"]), 1);
    assert_eq!(
        err,
        "fanfold: error: --group-by: unknown column `nosuch`; the columns are: a\\x01b, \
         \\x1b[31mred, \u{fffd}\u{fffd}ok, tab\\there, \\x7f\\u{9b}2J\n"
    );
}

#[test]
fn a_field_value_with_control_bytes_is_quoted_escaped() {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("v.csv"), b"k,v\na,\x07\x1b]0;title\x07\n")
        .expect("write v.csv");
    let err = fails(fanfold(dir.path(), &["v.csv", "--agg", "sum:v"]), 1);
    assert_eq!(
        err,
        "fanfold: error: v.csv:2: column `v`: `\\x07\\x1b]0;title\\x07` is not a number \
         (sum:v)\n"
    );
}

#[test]
fn a_commands_standard_error_is_quoted_escaped() {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("in.csv"), "k\n1\n").expect("write in.csv");
    let cmd = r#"sh -c 'printf "\033[2Joops\001\n" >&2; exit 1'"#;
    let err = fails(fanfold(dir.path(), &["in.csv", "--exec", cmd]), 1);
    assert!(err.ends_with("; stderr: \\x1b[2Joops\\x01\n"), "{err}");
}
