//! The library's inputs and outputs beyond files and writers: reader
//! inputs, the record callback, and one pipeline feeding another.

use std::io::Cursor;
use std::path::Path;

use fanfold::{
    Error, ErrorKind, Format, Input, Pipeline, PipelineBuilder, RecordBuf, ReduceSpec, Step,
};

const SALES: &str = "city,amount\nOslo,1.50\nLima,2\nOslo,0.25\nRiga,9\nLima,3\n";

fn group_by_city(inputs: Vec<Input>) -> Pipeline {
    group_by_city_builder(inputs).build().unwrap()
}

fn group_by_city_builder(inputs: Vec<Input>) -> PipelineBuilder {
    Pipeline::builder()
        .inputs(inputs)
        .reduce(ReduceSpec::GroupBy {
            keys: vec!["city".into()],
            aggs: vec!["count".parse().unwrap(), "sum:amount".parse().unwrap()],
        })
        .threads(2)
}

fn run(p: &Pipeline) -> Result<String, Error> {
    let mut out = Vec::new();
    p.run(&mut out, "<out>")?;
    Ok(String::from_utf8(out).expect("UTF-8 output"))
}

fn write(dir: &Path, name: &str, text: &str) -> Input {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    Input::Path(path)
}

/// Collects what `run_for_each` hands over, as NDJSON lines.
fn collect(p: &Pipeline) -> Result<String, Error> {
    let mut lines = String::new();
    p.run_for_each(|rec: RecordBuf| {
        lines.push_str(&rec.as_json());
        lines.push('\n');
        Ok::<(), &str>(())
    })?;
    Ok(lines)
}

#[test]
fn a_reader_input_reads_as_the_same_bytes_in_a_file_do() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "sales.csv", SALES);
    let from_file = run(&group_by_city(vec![file])).unwrap();
    let from_reader = run(&group_by_city(vec![Input::reader("mem", Cursor::new(SALES))])).unwrap();
    assert_eq!(from_reader, from_file);
    assert_eq!(from_file, "city,count,sum_amount\nLima,2,5\nOslo,2,1.75\nRiga,1,9\n");
}

#[test]
fn a_reader_input_is_named_in_messages() {
    let bad = "city,amount\nOslo,1\nLima,2,3\n";
    let e = run(&group_by_city(vec![Input::reader("mem", Cursor::new(bad))])).unwrap_err();
    assert!(e.to_string().starts_with("mem:3: "), "{e}");
    assert!(matches!(e.kind(), ErrorKind::FieldCount { .. }), "{e:?}");
}

#[test]
fn a_reader_input_is_read_once() {
    let p = group_by_city(vec![Input::reader("mem", Cursor::new(SALES))]);
    run(&p).unwrap();
    let e = run(&p).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Io { path, .. } if path == "mem"), "{e:?}");
    assert!(e.to_string().contains("already read"), "{e}");
    // A clone shares the reader, and equals the original.
    assert_eq!(p.clone(), p);
    assert_ne!(Input::reader("mem", Cursor::new("")), Input::reader("mem", Cursor::new("")));
}

#[test]
fn a_reader_input_with_a_journal_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = Pipeline::builder()
        .input(Input::reader("mem", Cursor::new(SALES)))
        .map(".")
        .journal(fanfold::JournalSpec { path: dir.path().join("j"), resume: false })
        .build()
        .unwrap();
    let e = run(&p).unwrap_err();
    assert!(e.to_string().contains("mem cannot be checked on resume"), "{e}");
}

#[test]
fn run_for_each_hands_over_the_ndjson_output() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "sales.csv", SALES);
    let sort = Pipeline::builder()
        .input(file.clone())
        .sort_by(["amount:n:desc".parse().unwrap()])
        .chunk_records(2)
        .threads(3)
        .build()
        .unwrap();
    let group = group_by_city(vec![file]);
    for p in [sort, group] {
        let ndjson = p.to_builder().output_format(Format::Ndjson).build().unwrap();
        let expected = run(&ndjson).unwrap();
        assert!(!expected.is_empty());
        assert_eq!(collect(&p).unwrap(), expected);
    }
}

#[test]
fn run_for_each_gives_fields_keys_and_places() {
    let p = group_by_city(vec![Input::reader("mem", Cursor::new(SALES))]);
    let mut seen = Vec::new();
    p.run_for_each(|rec| {
        let keys: Vec<String> = rec.keys().map(String::from).collect();
        let city = rec.get("city").text().map(|t| String::from_utf8_lossy(&t).into_owned());
        seen.push((rec.location().to_string(), keys, city, rec.value("count")));
        Ok::<(), std::io::Error>(())
    })
    .unwrap();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[1].0, "<records>:2");
    assert_eq!(seen[1].1, ["city", "count", "sum_amount"]);
    assert_eq!(seen[1].2.as_deref(), Some("Oslo"));
    assert_eq!(seen[1].3, Some(serde_json::json!(2)));
}

#[test]
fn an_error_from_the_callback_stops_the_run() {
    let many: String =
        std::iter::once("n\n".to_string()).chain((0..10_000).map(|i| format!("{i}\n"))).collect();
    let p = Pipeline::builder()
        .input(Input::reader("mem", Cursor::new(many)))
        .chunk_records(100)
        .threads(2)
        .build()
        .unwrap();
    let mut calls = 0;
    let e = p
        .run_for_each(|rec| {
            calls += 1;
            match rec.value("n") {
                Some(v) if v == 150 => Err(std::io::Error::other("enough")),
                _ => Ok(()),
            }
        })
        .unwrap_err();
    assert_eq!(calls, 151);
    match e.kind() {
        ErrorKind::Callback { record, source } => {
            assert_eq!(*record, 151);
            assert_eq!(source.to_string(), "enough");
            assert!(source.downcast_ref::<std::io::Error>().is_some());
        }
        other => panic!("not a callback error: {other:?}"),
    }
    assert_eq!(e.to_string(), "the record callback failed on output record 151: enough");
}

#[test]
fn a_pipeline_feeds_another() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "sales.csv", SALES);
    let filter = Pipeline::builder()
        .input(file.clone())
        .filter(".amount >= 1")
        .chunk_records(1)
        .threads(2)
        .build()
        .unwrap();
    // The group-by of the filtered file, written out by hand.
    let filtered =
        run(&filter.to_builder().output_format(Format::Ndjson).build().unwrap()).unwrap();
    let by_hand = write(dir.path(), "filtered.ndjson", &filtered);
    let expected =
        run(&group_by_city_builder(vec![by_hand]).output_format(Format::Csv).build().unwrap())
            .unwrap();
    assert_eq!(expected, "city,count,sum_amount\nLima,2,5\nOslo,1,1.5\nRiga,1,9\n");
    let composed = group_by_city_builder(vec![Input::pipeline("filtered", filter)])
        .output_format(Format::Csv)
        .build()
        .unwrap();
    assert_eq!(run(&composed).unwrap(), expected);
    // A pipeline input runs its pipeline again at each run.
    assert_eq!(run(&composed).unwrap(), expected);
    assert_eq!(collect(&composed).unwrap(), {
        let ndjson = composed.to_builder().output_format(Format::Ndjson).build().unwrap();
        run(&ndjson).unwrap()
    });
}

#[test]
fn an_error_in_the_inner_pipeline_comes_back_from_the_outer_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines: Vec<String> =
        (0..2000).map(|i| format!("{{\"city\":\"c{}\",\"amount\":{i}}}", i % 7)).collect();
    lines[1499] = "{\"city\": oops}".into();
    let file = write(dir.path(), "a.ndjson", &(lines.join("\n") + "\n"));
    let inner = Pipeline::builder()
        .input(file)
        .filter(".amount > 3")
        .chunk_records(10)
        .threads(2)
        .build()
        .unwrap();
    let outer = group_by_city(vec![Input::pipeline("filtered", inner)]);
    let e = run(&outer).unwrap_err();
    let text = e.to_string();
    assert!(text.starts_with("filtered: "), "{text}");
    assert!(text.contains("a.ndjson:1500:"), "{text}");
    let ErrorKind::Io { path, source, .. } = e.kind() else { panic!("not an I/O error: {e:?}") };
    assert_eq!(path, "filtered");
    let inner = source.get_ref().and_then(|s| s.downcast_ref::<Error>());
    match inner.map(Error::kind) {
        Some(ErrorKind::Json { at, .. }) => {
            assert_eq!(at.to_string(), format!("{}:1500", at.input))
        }
        other => panic!("not the inner JSON error: {other:?}"),
    }
}

#[test]
fn an_outer_run_that_stops_early_stops_the_inner_one() {
    // The inner pipeline writes much more than a pipe holds; the outer run
    // fails on its first record (an unknown column), and must come back.
    let big: String =
        std::iter::once("n\n".to_string()).chain((0..200_000).map(|i| format!("{i}\n"))).collect();
    let inner = Pipeline::builder()
        .input(Input::reader("big", Cursor::new(big)))
        .threads(2)
        .build()
        .unwrap();
    let outer = Pipeline::builder()
        .input(Input::pipeline("inner", inner))
        .sort_by(["n:n".parse().unwrap()])
        .step(Step::Map("error(\"stop\")".into()))
        .build()
        .unwrap();
    let e = run(&outer).unwrap_err();
    assert!(e.to_string().contains("stop"), "{e}");
}
