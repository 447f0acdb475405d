//! End-to-end tests of the jq transforms: `--filter`, `--map`, their order
//! with the projection flags, and the records they write.
//!
//! Expected outputs are exact bytes, either written out by hand for small
//! inline inputs or computed in the test from the fixture with the `csv`
//! crate (an independent reader).

use std::path::Path;

use assert_cmd::Command;

fn fanfold(args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("fanfold").expect("the fanfold binary is built");
    cmd.current_dir(Path::new(env!("CARGO_MANIFEST_DIR"))).args(args);
    cmd
}

/// Runs `fanfold args` with `stdin`, asserts success with a quiet stderr,
/// returns standard output.
fn run(args: &[&str], stdin: &str) -> String {
    let out = fanfold(args).write_stdin(stdin).output().expect("fanfold runs");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "fanfold {args:?} failed: {:?}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Runs `fanfold args`, asserts exit status `code`, returns stderr.
fn run_err(args: &[&str], stdin: &str, code: i32) -> String {
    let out = fanfold(args).write_stdin(stdin).output().expect("fanfold runs");
    assert_eq!(out.status.code(), Some(code), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty(), "no output on failure");
    String::from_utf8(out.stderr).expect("UTF-8 stderr")
}

/// The flights fixture's lines (header first), and its records parsed by
/// the `csv` crate.
fn flights() -> (Vec<String>, Vec<csv::StringRecord>, csv::StringRecord) {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/flights.csv"))
            .expect("fixture");
    let lines = text.lines().map(str::to_string).collect();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().expect("header").clone();
    let records = reader.records().map(|r| r.expect("record")).collect();
    (lines, records, header)
}

#[test]
fn filter_keeps_matching_records_byte_for_byte() {
    let (lines, records, header) = flights();
    let delay = header.iter().position(|h| h == "dep_delay").expect("dep_delay");
    let mut expected = vec![lines[0].clone()];
    for (line, rec) in lines[1..].iter().zip(&records) {
        if rec[delay].parse::<f64>().is_ok_and(|d| d > 300.0) {
            expected.push(line.clone());
        }
    }
    assert!(expected.len() > 10, "the fixture has long delays");
    let expected = expected.join("\n") + "\n";
    for threads in ["1", "2"] {
        let args = ["fixtures/flights.csv", "--null", "NA", "--filter", ".dep_delay > 300"];
        let got = run(&[&args[..], &["-j", threads, "--chunk-size", "777"]].concat(), "");
        assert_eq!(got, expected);
    }
    // The same question asked in a way the fast path does not take gives
    // the same bytes from jaq.
    let slow =
        run(&["fixtures/flights.csv", "--null", "NA", "--filter", "(.dep_delay + 0) > 300"], "");
    assert_eq!(slow, expected);
}

#[test]
fn filter_follows_jq_on_strings_and_nulls() {
    let input = "a,b\n1,x\n,y\nNA,z\n007,w\n";
    // Without --null, NA is a string, and strings sort after numbers.
    assert_eq!(run(&["--filter", ".a > 0"], input), "a,b\n1,x\nNA,z\n007,w\n");
    assert_eq!(run(&["--null", "NA", "--filter", ".a > 0"], input), "a,b\n1,x\n007,w\n");
    // `007` is not a JSON number: it stays the string "007".
    assert_eq!(run(&["--filter", ".a == \"007\""], input), "a,b\n007,w\n");
    assert_eq!(run(&["--filter", ".a == 1"], input), "a,b\n1,x\n");
    assert_eq!(run(&["--no-infer", "--filter", ".a == 1"], input), "a,b\n");
    assert_eq!(run(&["--no-infer", "--filter", ".a == \"1\""], input), "a,b\n1,x\n");
    assert_eq!(run(&["--filter", ".a == null"], input), "a,b\n,y\n");
    assert_eq!(run(&["--filter", "select(.b | test(\"^[xz]\"))"], input), "a,b\n1,x\nNA,z\n");
}

#[test]
fn map_computes_fields_and_keeps_untouched_text() {
    let input = "id,price,code,note\n1,1.50,007,NA\n2,2,010,\"a, b\"\n";
    let got = run(&["--map", ".total = .price * 2"], input);
    assert_eq!(got, "id,price,code,note,total\n1,1.50,007,NA,3.0\n2,2,010,\"a, b\",4\n");
    let got =
        run(&["--null", "NA", "--map", ".total = .price * 2", "--output-format", "ndjson"], input);
    assert_eq!(
        got,
        "{\"id\":1,\"price\":1.50,\"code\":\"007\",\"note\":null,\"total\":3.0}\n\
         {\"id\":2,\"price\":2,\"code\":\"010\",\"note\":\"a, b\",\"total\":4}\n"
    );
    // NDJSON values keep their text, escapes included.
    let json = "{\"k\":\"\\u00e9\",\"n\":1.0e2}\n";
    assert_eq!(
        run(&["--input-format", "ndjson", "--map", ".m = 1"], json),
        "{\"k\":\"\\u00e9\",\"n\":1.0e2,\"m\":1}\n"
    );
}

#[test]
fn map_fans_out_and_drops_in_order() {
    let input = "name,a,b\nx,1,2\ny,3,4\nz,5,6\n";
    let got = run(
        &["--map", "select(.name != \"y\") | {name, v: .a}, {name, v: .b}", "--chunk-size", "1"],
        input,
    );
    assert_eq!(got, "name,v\nx,1\nx,2\nz,5\nz,6\n");
}

#[test]
fn csv_header_is_the_union_of_keys_in_first_seen_order() {
    let input = "k,v\na,1\nb,2\nc,3\n";
    let map = "if .k == \"b\" then {k, w: .v, extra: true} else {k, v} end";
    for chunk in ["1", "2", "100"] {
        let got = run(&["--map", map, "--chunk-size", chunk, "-j", "2"], input);
        assert_eq!(got, "k,v,w,extra\na,1,,\nb,,2,true\nc,3,,\n");
    }
    // NDJSON output writes each record as it is.
    let got = run(&["--map", map, "--output-format", "ndjson"], input);
    assert_eq!(
        got,
        "{\"k\":\"a\",\"v\":1}\n{\"k\":\"b\",\"w\":2,\"extra\":true}\n{\"k\":\"c\",\"v\":3}\n"
    );
}

#[test]
fn steps_run_in_command_line_order() {
    let input = "a,b\n1,10\n2,20\n3,30\n";
    // The filter sees the renamed column.
    assert_eq!(run(&["--rename", "a=x", "--filter", ".x >= 2"], input), "x,b\n2,20\n3,30\n");
    // Before the rename, the old name.
    assert_eq!(run(&["--filter", ".a >= 2", "--rename", "a=x"], input), "x,b\n2,20\n3,30\n");
    // A dropped column is null to a later filter.
    assert_eq!(run(&["--drop", "a", "--filter", ".a == null"], input), "b\n10\n20\n30\n");
    // After a map, projection flags act on the new records.
    assert_eq!(
        run(&["--map", ".c = .a + .b", "--select", "c,a", "--filter", ".c > 20"], input),
        "c,a\n22,2\n33,3\n"
    );
}

#[test]
fn map_feeds_the_reducers() {
    let input = "city,amount\nOslo,1.5\nLima,2\nOslo,0.25\n";
    let got = run(
        &[
            "--map",
            "{place: .city, cents: (.amount * 100)}",
            "--group-by",
            "place",
            "--agg",
            "sum:cents",
        ],
        input,
    );
    assert_eq!(got, "place,sum_cents\nLima,200\nOslo,175\n");
    let got = run(&["--map", ".neg = -.amount", "--sort-by", "neg:n"], input);
    assert_eq!(got, "city,amount,neg\nLima,2,-2\nOslo,1.5,-1.5\nOslo,0.25,-0.25\n");
}

#[test]
fn jq_errors_name_the_record_and_the_expression() {
    let input = "a\n1\nx\n";
    let err = run_err(&["--map", ".b = .a + 1"], input, 1);
    assert_eq!(err, "fanfold: error: <stdin>:3: --map `.b = .a + 1`: cannot calculate \"x\" + 1\n");
    let err = run_err(&["--map", ".a"], input, 1);
    assert!(
        err.contains("<stdin>:2: --map `.a`: the result must be an object (a record), got `1`"),
        "{err}"
    );
    let err = run_err(&["--filter", ".a >"], input, 2);
    assert!(err.contains("--filter"), "{err}");
    assert!(err.contains("cannot parse `.a >`: expected term at column 5"), "{err}");
    let err = run_err(&["--map", "nosuch(1)"], input, 2);
    assert!(err.contains("undefined filter `nosuch`"), "{err}");
}

/// The README's histogram: departure delays in 15-minute buckets.
const HISTOGRAM: [&str; 8] = [
    "--reduce-init",
    "{}",
    "--reduce-update",
    "($record.dep_delay // empty) as $d | (($d / 15 | floor) * 15 | tostring) as $b | .[$b] += 1",
    "--reduce-merge",
    "reduce ($right | to_entries[]) as $e ($left; .[$e.key] += $e.value)",
    "--reduce-finish",
    "to_entries | sort_by(.key | tonumber) | .[] | {bucket_min: (.key | tonumber), flights: .value}",
];

#[test]
fn custom_reduce_histogram_of_departure_delays() {
    // Expected counts from Python (floor(dep_delay / 15) * 15, NA skipped):
    // 33 buckets, the first six below.
    let first = "bucket_min,flights\n-30,29\n-15,11882\n0,4547\n15,1212\n30,700\n45,375\n";
    let mut outputs = Vec::new();
    for extra in [
        &["-j", "1"][..],
        &["-j", "2", "--chunk-size", "333"],
        &["-j", "3", "--chunk-bytes", "5000"],
    ] {
        let args = [&["fixtures/flights.csv", "--null", "NA"][..], &HISTOGRAM, extra].concat();
        let got = run(&args, "");
        assert!(got.starts_with(first), "{got}");
        assert_eq!(got.lines().count(), 34);
        outputs.push(got);
    }
    assert!(outputs.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn custom_reduce_longest_flight_per_origin() {
    let update = "if (.[$record.origin].distance // -1) < $record.distance \
                  then .[$record.origin] = $record else . end";
    let merge = "reduce ($right | to_entries[]) as $e ($left; \
                 if (.[$e.key].distance // -1) < $e.value.distance then .[$e.key] = $e.value else . end)";
    let args = [
        "fixtures/flights.csv",
        "--reduce-init",
        "{}",
        "--reduce-update",
        update,
        "--reduce-merge",
        merge,
        "--reduce-finish",
        ".[] | {origin, carrier, flight, dest, distance}",
    ];
    // Expected from Python (first flight with the greatest distance per
    // origin, origins in first-seen order).
    let expected = "origin,carrier,flight,dest,distance\nEWR,UA,15,HNL,4963\n\
                    LGA,UA,883,DEN,1620\nJFK,HA,51,HNL,4983\n";
    assert_eq!(run(&args, ""), expected);
    assert_eq!(run(&[&args[..], &["-j", "2", "--chunk-size", "50"]].concat(), ""), expected);
    let ndjson = run(&[&args[..], &["--output-format", "ndjson"]].concat(), "");
    assert_eq!(
        ndjson.lines().next(),
        Some(r#"{"origin":"EWR","carrier":"UA","flight":15,"dest":"HNL","distance":4963}"#)
    );
}

#[test]
fn custom_reduce_errors_name_the_flag() {
    let err = run_err(&["--reduce-update", ".n += 1", "--reduce-merge", "$left +"], "a\n1\n", 2);
    assert!(err.contains("--reduce-merge"), "{err}");
    let err = run_err(&["--reduce-update", ".n += 1"], "a\n1\n", 2);
    assert!(err.contains("--reduce-merge"), "{err}");
    let err = run_err(
        &[
            "--reduce-init",
            "{n: 0}",
            "--reduce-update",
            ".n += 1",
            "--reduce-merge",
            ".n += $right.n",
            "--reduce-finish",
            ".n",
        ],
        "a\n1\n",
        1,
    );
    assert_eq!(err, "fanfold: error: --reduce-finish: `.n`: each result must be an object (a record), got `1`\n");
}

/// A Rust map step that fails on the records without a city.
#[derive(Debug)]
struct NeedsCity;

impl fanfold::MapRecord for NeedsCity {
    fn name(&self) -> &str {
        "needs-city"
    }
    fn map(
        &self,
        record: fanfold::JsonRecord,
        out: &mut Vec<fanfold::JsonRecord>,
    ) -> Result<(), fanfold::MapError> {
        record.get("city").and_then(|v| v.as_str()).filter(|c| !c.is_empty()).ok_or("no city")?;
        out.push(record);
        Ok(())
    }
}

/// A `MapError` from a Rust step is a record error: it names the step,
/// the input and the line, and `--on-error` decides (fail stops the run,
/// skip counts it and goes on).
#[test]
fn a_rust_steps_error_names_the_step_and_the_record() {
    use fanfold::OnError;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("in.csv");
    std::fs::write(&path, "city,n\nOslo,1\n,2\nLima,3\n").expect("write");
    let pipeline = fanfold::Pipeline::builder()
        .input(fanfold::Input::Path(path.clone()))
        .step(fanfold::Step::Rust(std::sync::Arc::new(NeedsCity)))
        .build()
        .expect("valid settings");
    let err = pipeline.run(&mut Vec::new(), "<memory>").expect_err("the step fails");
    let at = format!("{}:3: map `needs-city`: no city", path.display());
    assert_eq!(err.to_string(), at);
    assert!(err.is_record_error());
    let skip = pipeline.to_builder().on_error(OnError::Skip).build().expect("valid settings");
    let mut out = Vec::new();
    let stats = skip.run(&mut out, "<memory>").expect("runs");
    assert_eq!(String::from_utf8(out).expect("UTF-8"), "city,n\nOslo,1\nLima,3\n");
    assert_eq!(stats.records_rejected, 1);
}
