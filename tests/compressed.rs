//! Compressed inputs and outputs, and binary bytes in messages.
//!
//! A gzip, zstd, bzip2 or xz input is recognised by its magic number,
//! whatever it is called (and on standard input), and read to the end of
//! its last member or frame; a truncated or corrupt one stops the run with
//! the file, the compressed byte and the line; an output named with a
//! compression extension is written in that format; and no error message
//! writes raw control bytes or invalid UTF-8 to the terminal, however
//! binary the input it quotes.
//!
//! The small compressed inputs are the literal bytes the tools wrote for
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

/// Runs `cmd`, asserts it succeeds, and returns its standard output.
fn succeeds(mut cmd: Command) -> Vec<u8> {
    let out = cmd.output().expect("fanfold runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{cmd:?} failed: {err}");
    out.stdout
}

/// What the group-by prints for `carrier,n\nAA,1\n`.
const COUNTED: &[u8] = b"carrier,count\nAA,1\n";

/// `text` compressed by `format` with the crates fanfold uses (one gzip
/// member, one zstd frame, one bzip2 or xz stream).
fn compress(format: &str, text: &[u8]) -> Vec<u8> {
    use std::io::Write;
    match format {
        "gzip" => {
            let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
            w.write_all(text).expect("compress");
            w.finish().expect("compress")
        }
        "zstd" => zstd::encode_all(text, 3).expect("compress"),
        "bzip2" => {
            let mut w = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(9));
            w.write_all(text).expect("compress");
            w.finish().expect("compress")
        }
        "xz" => {
            let mut w = liblzma::write::XzEncoder::new(Vec::new(), 6);
            w.write_all(text).expect("compress");
            w.finish().expect("compress")
        }
        other => panic!("no format {other}"),
    }
}

/// The flights table's first `rows` rows (with its header), as text.
fn flights(rows: usize) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/flights.csv");
    let text = std::fs::read_to_string(path).expect("read fixtures/flights.csv");
    text.lines().take(rows + 1).flat_map(|l| [l, "\n"]).collect::<String>().into_bytes()
}

// ---------------------------------------------------------------------------
// Compressed inputs
// ---------------------------------------------------------------------------

#[test]
fn compressed_files_are_read_by_their_magic_number_whatever_their_name() {
    let dir = tempfile::tempdir().expect("a temp dir");
    for (format, bytes) in FORMATS {
        let ext = match format {
            "gzip" => "gz",
            "zstd" => "zst",
            "bzip2" => "bz2",
            other => other,
        };
        for name in [format!("flights.csv.{ext}"), "flights.csv".into(), "data".into()] {
            std::fs::write(dir.path().join(&name), bytes).expect("write the input");
            let args: Vec<&str> = [name.as_str()].into_iter().chain(GROUP_BY).collect();
            let out = succeeds(fanfold(dir.path(), &args));
            assert_eq!(out, COUNTED, "{format} named {name}");
        }
    }
    // Text that starts like a magic number is read as text: `BZh1` is a
    // bzip2 header only when a block's magic follows.
    std::fs::write(dir.path().join("t.csv"), "BZh1,x\n1,2\n").expect("write t.csv");
    let out = succeeds(fanfold(dir.path(), &["t.csv", "--select", "BZh1"]));
    assert_eq!(out, b"BZh1\n1\n");
}

#[test]
fn compressed_standard_input_is_read_in_every_format() {
    let dir = tempfile::tempdir().expect("a temp dir");
    for (format, bytes) in FORMATS {
        let mut cmd = fanfold(dir.path(), &["-"]);
        cmd.args(GROUP_BY).write_stdin(bytes);
        assert_eq!(succeeds(cmd), COUNTED, "{format} on stdin");
    }
    let ndjson = b"{\"carrier\":\"AA\"}\n{\"carrier\":\"AA\"}\n";
    for (format, _) in FORMATS {
        for input_format in ["ndjson", "json"] {
            let text: &[u8] = if input_format == "json" {
                b"[{\"carrier\":\"AA\"},\n{\"carrier\":\"AA\"}]"
            } else {
                ndjson
            };
            let mut cmd =
                fanfold(dir.path(), &["--input-format", input_format, "--output-format", "csv"]);
            cmd.args(GROUP_BY).write_stdin(compress(format, text));
            assert_eq!(succeeds(cmd), b"carrier,count\nAA,2\n", "{format} {input_format}");
        }
    }
}

#[test]
fn every_format_gives_the_bytes_of_the_plain_run_at_any_chunk_size() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let text = flights(3000);
    std::fs::write(dir.path().join("f.csv"), &text).expect("write f.csv");
    let args = ["--group-by", "origin,carrier", "--agg", "count", "--agg", "mean:distance"];
    let plain = succeeds({
        let mut c = fanfold(dir.path(), &["f.csv"]);
        c.args(args);
        c
    });
    assert!(plain.len() > 500, "{}", String::from_utf8_lossy(&plain));
    for (format, _) in FORMATS {
        let name = format!("f.{format}");
        std::fs::write(dir.path().join(&name), compress(format, &text)).expect("write");
        for chunk in ["100", "7000", "1000000"] {
            let mut cmd = fanfold(dir.path(), &[&name, "--input-format", "csv"]);
            cmd.args(args).args(["--chunk-bytes", chunk, "--threads", "3"]);
            assert_eq!(succeeds(cmd), plain, "{format} at --chunk-bytes {chunk}");
        }
    }
}

#[test]
fn multi_member_gzip_and_multi_frame_zstd_are_read_to_their_end() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let text = flights(2000);
    // Cut after line 1200 (a record boundary) into two members or frames,
    // as `cat a.gz b.gz`, pigz and BGZF (members) or `zstd` on
    // concatenated files (frames) write them.
    let cut = text.iter().enumerate().filter(|(_, &b)| b == b'\n').nth(1200).unwrap().0 + 1;
    let (a, b) = text.split_at(cut);
    std::fs::write(dir.path().join("f.csv"), &text).expect("write f.csv");
    let plain = succeeds(fanfold(dir.path(), &["f.csv", "--group-by", "dest", "--agg", "count"]));
    for format in ["gzip", "zstd", "bzip2", "xz"] {
        let mut two = compress(format, a);
        two.extend(compress(format, b));
        std::fs::write(dir.path().join("two"), &two).expect("write two");
        let out = succeeds(fanfold(dir.path(), &["two", "--group-by", "dest", "--agg", "count"]));
        assert_eq!(out, plain, "{format} in two parts");
    }
    // A zstd skippable frame (as pzstd writes first) is passed over.
    let mut skippable = vec![0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4];
    skippable.extend(compress("zstd", &text));
    std::fs::write(dir.path().join("skip.zst"), &skippable).expect("write skip.zst");
    let out = succeeds(fanfold(dir.path(), &["skip.zst", "--group-by", "dest", "--agg", "count"]));
    assert_eq!(out, plain);
}

#[test]
fn a_truncated_stream_is_an_error_naming_the_file_the_byte_and_the_line() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let text = flights(20000);
    for format in ["gzip", "zstd", "bzip2", "xz"] {
        let whole = compress(format, &text);
        let cut = whole.len() * 2 / 3;
        std::fs::write(dir.path().join("t.csv.x"), &whole[..cut]).expect("write");
        for on_error in ["fail", "skip"] {
            let args = ["t.csv.x", "--group-by", "dest", "--on-error", on_error, "-o", "o.csv"];
            let err = fails(fanfold(dir.path(), &args), 1);
            let prefix = format!("fanfold: error: t.csv.x: the {format} stream ends early");
            assert!(err.starts_with(&prefix), "{err}");
            // The byte is where the decoder stopped, near the cut; the line
            // is one the text reached, past the middle of the file.
            let byte: usize = number_after(&err, "at compressed byte ");
            assert!(byte <= cut && byte + 300_000 >= cut, "{byte} of {cut}: {err}");
            let line: usize = number_after(&err, "on line ");
            assert!((5_000..=20_000).contains(&line), "{line}: {err}");
            assert!(!dir.path().join("o.csv").exists(), "{format}: output written");
        }
    }
}

#[test]
fn a_corrupt_stream_is_an_error_and_never_a_skipped_record() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let text = flights(20000);
    for format in ["gzip", "zstd", "bzip2", "xz"] {
        let mut bytes = compress(format, &text);
        let at = bytes.len() / 2;
        for b in &mut bytes[at..at + 64] {
            *b ^= 0x5a;
        }
        std::fs::write(dir.path().join("c.gz"), &bytes).expect("write");
        let args = ["c.gz", "--group-by", "dest", "--on-error", "skip", "-o", "o.csv"];
        let err = fails(fanfold(dir.path(), &args), 1);
        let prefix = format!("fanfold: error: c.gz: the {format} stream ");
        assert!(err.starts_with(&prefix), "{err}");
        assert!(err.contains(" at compressed byte ") && err.contains(" on line "), "{err}");
        assert!(!dir.path().join("o.csv").exists(), "{format}: output written");
    }
}

#[test]
fn stats_count_compressed_bytes_read_and_text_bytes_parsed() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let text = flights(5000);
    let bytes = compress("zstd", &text);
    std::fs::write(dir.path().join("f.csv.zst"), &bytes).expect("write");
    let args = ["f.csv.zst", "--group-by", "dest", "--stats-json", "s.json", "-o", "o.csv"];
    succeeds(fanfold(dir.path(), &args));
    let stats = std::fs::read_to_string(dir.path().join("s.json")).expect("read s.json");
    let stats: serde_json::Value = serde_json::from_str(&stats).expect("stats are JSON");
    assert_eq!(stats["bytes_read"], bytes.len() as u64, "{stats}");
    assert_eq!(stats["bytes_parsed"], text.len() as u64, "{stats}");
    assert_eq!(stats["records_read"], 5000, "{stats}");
}

/// The number right after `label` in `text`.
fn number_after(text: &str, label: &str) -> usize {
    let rest =
        &text[text.find(label).unwrap_or_else(|| panic!("no {label:?} in {text}")) + label.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or_else(|_| panic!("no number after {label:?} in {text}"))
}

// ---------------------------------------------------------------------------
// Compressed output
// ---------------------------------------------------------------------------

/// Decompresses `path` with the system's tool for `format` (`gzip -dc`,
/// `zstd -dc`, ...). The tools are on every CI machine (`.ci/run`
/// installs the missing ones).
fn system_decompress(format: &str, path: &Path) -> Vec<u8> {
    let out = std::process::Command::new(format)
        .arg("-dc")
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("run `{format} -dc` (install {format}): {e}"));
    assert!(out.status.success(), "{format} -dc: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn an_output_named_for_a_format_is_written_in_it_and_read_back_by_its_tool() {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("f.csv"), flights(3000)).expect("write f.csv");
    let plain = succeeds(fanfold(dir.path(), &["f.csv", "--select", "carrier,flight,dest"]));
    for (name, format) in
        [("o.csv.gz", "gzip"), ("o.csv.ZST", "zstd"), ("o.csv.bz2", "bzip2"), ("o.csv.xz", "xz")]
    {
        for level in [None, Some("1")] {
            let mut cmd = fanfold(dir.path(), &["f.csv", "--select", "carrier,flight,dest"]);
            cmd.args(["-o", name]);
            if let Some(level) = level {
                cmd.args(["--compress-level", level]);
            }
            assert!(succeeds(cmd).is_empty());
            let path = dir.path().join(name);
            assert_eq!(system_decompress(format, &path), plain, "{name} at level {level:?}");
            // And fanfold reads it back, by its content.
            let back = succeeds(fanfold(dir.path(), &[name, "--input-format", "csv"]));
            assert_eq!(back, plain, "{name} read back");
        }
    }
    // The rejects file too.
    std::fs::write(dir.path().join("bad.csv"), "k,v\n1,2\n3\n").expect("write bad.csv");
    let args = ["bad.csv", "--on-error", "reject", "--rejects", "bad.ndjson.gz"];
    let _ = fanfold(dir.path(), &args).output().expect("fanfold runs");
    let rejects = system_decompress("gzip", &dir.path().join("bad.ndjson.gz"));
    assert!(String::from_utf8_lossy(&rejects).contains("\"line\":3"), "{rejects:?}");
}

#[test]
fn a_compression_level_out_of_range_or_without_a_compressed_output_is_refused() {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("in.csv"), "carrier,n\nAA,1\n").expect("write in.csv");
    let err = fails(fanfold(dir.path(), &["in.csv", "-o", "o.gz", "--compress-level", "10"]), 1);
    assert_eq!(
        err,
        "fanfold: error: --compress-level: 10 is not a gzip level: o.gz is written with gzip, \
         whose levels are 1 to 9\n"
    );
    let err = fails(fanfold(dir.path(), &["in.csv", "-o", "o.csv", "--compress-level", "3"]), 2);
    assert!(
        err.starts_with(
            "error: --compress-level applies to a compressed --output, one whose name ends in \
             .gz, .zst, .bz2 or .xz\n"
        ),
        "{err}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("list the dir").collect();
    assert_eq!(left.len(), 1, "files were written: {left:?}");
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
