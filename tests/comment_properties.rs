//! `--comment`: for any text of comment lines (holding quotes, delimiters
//! and the comment byte) between records (with quoted fields that span
//! lines, some of whose lines begin with the comment byte), any chunk
//! size and any number of threads give the records the `csv` crate reads
//! with the same `comment` option, and count every comment line.

use fanfold::{Format, Input, Pipeline};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError};

/// A field: plain text, or quoted text that may hold `,`, `"`, `#` and
/// newlines (a line inside it may begin with `#`).
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9 ]{0,6}",
        "[a-z,#\"\n ]{0,8}".prop_map(|s| format!("\"{}\"", s.replace('"', "\"\""))),
    ]
}

/// A line of the input after the header: a comment line (anything but a
/// newline after the `#`, quotes and delimiters included), or a record
/// of two fields.
fn line() -> impl Strategy<Value = (bool, String)> {
    prop_oneof![
        1 => "[a-z,#\" ]{0,10}".prop_map(|s| (true, format!("#{s}"))),
        3 => (field(), field()).prop_map(|(a, b)| (false, format!("{a},{b}"))),
    ]
}

fn config() -> ProptestConfig {
    let default = ProptestConfig::default();
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() { default.cases } else { 64 };
    ProptestConfig { cases, failure_persistence: None, ..default }
}

/// What the `csv` crate reads from `text` with `#` comments, re-written
/// by its writer (quotes only where needed, `\n` line ends), header first.
fn reference(text: &str) -> Result<String, TestCaseError> {
    let mut reader = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .has_headers(false)
        .from_reader(text.as_bytes());
    let mut writer =
        csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    for record in reader.byte_records() {
        let record = record.map_err(|e| TestCaseError::fail(format!("csv crate: {e}")))?;
        writer.write_byte_record(&record).map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
    let bytes = writer.into_inner().map_err(|e| TestCaseError::fail(e.to_string()))?;
    Ok(String::from_utf8(bytes).expect("UTF-8 in, UTF-8 out"))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn comment_lines_are_skipped_as_the_csv_crate_skips_them(
        before in vec("#[a-z,\" ]{0,6}", 0..3),
        lines in vec(line(), 0..40),
        threads in 1usize..4,
        chunk in prop_oneof![1usize..40, Just(1 << 20)],
    ) {
        let mut text = String::new();
        for c in &before {
            text += c;
            text += "\n";
        }
        text += "a,b\n";
        for (_, l) in &lines {
            text += l;
            text += "\n";
        }
        // Comment lines outside quoted fields: before the header, and the
        // lines generated as comments.
        let comments = before.len() as u64 + lines.iter().filter(|(c, _)| *c).count() as u64;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("c.csv");
        std::fs::write(&path, &text).expect("write");
        let pipeline = Pipeline::builder()
            .input(Input::Path(path))
            .input_format(Format::Csv)
            .delimiter(b',')
            .comment(b'#')
            .threads(threads)
            .chunk_bytes(chunk)
            .build()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut out = Vec::new();
        let stats = pipeline.run(&mut out, "<memory>").map_err(|e| TestCaseError::fail(format!("{e}\n{text:?}")))?;
        let want = reference(&text)?;
        prop_assert_eq!(String::from_utf8(out).expect("UTF-8"), want, "input {:?}", text);
        prop_assert_eq!(stats.comment_lines, comments, "input {:?}", text);
    }
}
