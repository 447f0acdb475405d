//! Property tests for fanfold's core promise: the output bytes depend only on
//! the input and the pipeline, never on the thread count, the chunk size or
//! the in-flight window, and they equal a simple sequential reference
//! computed here with the `csv` and `serde_json` crates.
//!
//! - A: concat of random CSV/TSV tables (quotes, commas, newlines, unicode,
//!   CRLF, BOM, missing final newline, several inputs) equals the table
//!   parsed and re-written by the `csv` crate.
//! - B: a stable sort by one or two keys (text or `:n`, asc or desc, missing
//!   last) equals `sort_by` on the parsed rows.
//! - C: group-by with count, sum, mean, min, max, distinct, mode, first and
//!   last equals a reference that sums exactly in integer cents (computed
//!   floats compared as the `f64` they read back as, other fields byte for
//!   byte; mode ties go to the value seen first).
//! - D: the splitter cuts exactly at record boundaries (quote-aware), keeps
//!   line numbers, follows its chunk limit and loses no byte.
//! - E: NDJSON concat keeps every object (blank lines dropped).
//! - F: `--top K` (overall or per group) equals a stable sort of each
//!   group's rows cut to K, groups in group-by order.
//! - G: a JSON array of objects (compact or pretty-printed, any whitespace
//!   between the tokens) gives, as NDJSON, every element as `serde_json`
//!   reads it from the whole array; as a JSON array, the same array.
//!
//! - H: a group-by with one group per record, or a Zipf-like key (a few
//!   big groups and a long tail), count and sum equal a reference map, for
//!   1 to 8 threads, chunks of one record to 4 MiB, in memory and spilled.
//!
//! A, D and G also run on inputs larger than the splitter's 64 KiB reads. Every
//! property also checks that the output is byte-identical to the sequential
//! run (one thread, one chunk). `PROPTEST_CASES=n` overrides the case counts.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use fanfold::__bench::Splitter;
use fanfold::{ChunkLimit, Format, Input, Pipeline, ReduceSpec, SortKeySpec, DEFAULT_CHUNK_BYTES};
use num_bigint::BigInt;
use num_rational::Ratio;
use num_traits::ToPrimitive;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, subsequence, Index};
use proptest::test_runner::TestCaseError;
use serde_json::Value;

/// Cases per property, and for the large-input properties.
const CASES: u32 = 64;
const LARGE_CASES: u32 = 16;
const BOM: &[u8] = b"\xEF\xBB\xBF";

type TestResult<T = ()> = Result<T, TestCaseError>;

/// `cases` cases unless `PROPTEST_CASES` asks for more (or fewer); no
/// failure persistence (an integration test has no `lib.rs` next to it, and
/// this file must not create files in the repository).
fn config(cases: u32) -> ProptestConfig {
    let default = ProptestConfig::default();
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() { default.cases } else { cases };
    ProptestConfig { cases, failure_persistence: None, ..default }
}

// ---------------------------------------------------------------------------
// Run settings
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Settings {
    threads: usize,
    chunk: ChunkLimit,
    max_in_flight: usize,
    /// `--memory-limit` in bytes; `None`: the default (nothing spills at
    /// these sizes).
    memory_limit: Option<u64>,
}

/// One worker, one big chunk, one chunk in flight: the sequential baseline.
const SEQUENTIAL: Settings = Settings {
    threads: 1,
    chunk: ChunkLimit::Bytes(DEFAULT_CHUNK_BYTES),
    max_in_flight: 1,
    memory_limit: None,
};

fn chunk_limit() -> impl Strategy<Value = ChunkLimit> {
    prop_oneof![
        (1usize..=7).prop_map(ChunkLimit::Records),
        (1usize..=300).prop_map(ChunkLimit::Bytes),
    ]
}

fn settings() -> impl Strategy<Value = Settings> {
    (1usize..=4, chunk_limit(), 1usize..=5).prop_map(|(threads, chunk, max_in_flight)| Settings {
        threads,
        chunk,
        max_in_flight,
        memory_limit: None,
    })
}

/// Inputs of the large-input properties span at least this many bytes:
/// more than two of the splitter's 64 KiB reads.
const LARGE_BYTES: usize = 140_000;

/// Settings for inputs of about [`LARGE_BYTES`]: limits from a few hundred
/// bytes (a few hundred chunks) to more than one 64 KiB read.
/// Settings that spill a reducer's state: a `--memory-limit` of a few
/// hundred bytes to a few KiB.
fn spilling_settings() -> impl Strategy<Value = Settings> {
    (settings(), 1u64..=4_000).prop_map(|(s, limit)| Settings { memory_limit: Some(limit), ..s })
}

fn large_settings() -> impl Strategy<Value = Settings> {
    let chunk = prop_oneof![
        (20usize..=3000).prop_map(ChunkLimit::Records),
        (100usize..=300).prop_map(ChunkLimit::Bytes),
        (10_000usize..=150_000).prop_map(ChunkLimit::Bytes),
    ];
    (1usize..=4, chunk, 1usize..=5).prop_map(|(threads, chunk, max_in_flight)| Settings {
        threads,
        chunk,
        max_in_flight,
        memory_limit: None,
    })
}

/// Runs fanfold over `paths` into memory.
fn run(paths: &[PathBuf], format: Format, reduce: &ReduceSpec, s: Settings) -> TestResult<String> {
    let mut builder = Pipeline::builder();
    if let Some(limit) = s.memory_limit {
        builder = builder.memory_limit(limit);
    }
    let pipeline = builder
        .inputs(paths.iter().cloned().map(Input::Path))
        .input_format(format)
        .chunk(s.chunk)
        .threads(s.threads)
        .max_in_flight(s.max_in_flight)
        .reduce(reduce.clone())
        .build()
        .map_err(|e| TestCaseError::fail(format!("build failed with {s:?}: {e}")))?;
    let mut out = Vec::new();
    pipeline
        .run(&mut out, "<mem>")
        .map_err(|e| TestCaseError::fail(format!("run failed with {s:?}: {e}")))?;
    String::from_utf8(out).map_err(|e| TestCaseError::fail(format!("output is not UTF-8: {e}")))
}

/// Runs the sequential baseline and each of `others`, checks that they all
/// give the same bytes, and returns them.
fn run_all(
    paths: &[PathBuf],
    format: Format,
    reduce: &ReduceSpec,
    others: &[Settings],
) -> TestResult<String> {
    let base = run(paths, format, reduce, SEQUENTIAL)?;
    for &s in others {
        let out = run(paths, format, reduce, s)?;
        prop_assert_eq!(&out, &base, "output with {:?} differs from the sequential run", s);
    }
    Ok(base)
}

// ---------------------------------------------------------------------------
// Field generators
// ---------------------------------------------------------------------------

/// A number as text, with its exact value in hundredths.
#[derive(Debug, Clone)]
struct Num {
    text: String,
    cents: i128,
    /// No digits after a decimal point: fanfold sums these as integers.
    integer: bool,
}

impl Num {
    fn to_f64(&self) -> f64 {
        exact_f64(self.cents)
    }
}

/// The `f64` nearest to `cents / 100` (correctly rounded; never `-0.0`).
fn exact_f64(cents: i128) -> f64 {
    format!("{cents}e-2").parse().expect("a valid float literal")
}

/// An integer in `range`, written as `12`, `+12`, `12.` or `0012`.
fn int_num(range: std::ops::RangeInclusive<i64>) -> impl Strategy<Value = Num> {
    (range, 0u8..5).prop_map(|(v, style)| {
        let text = match style {
            2 if v >= 0 => format!("+{v}"),
            3 => format!("{v}."),
            4 if v >= 0 => format!("{v:04}"),
            _ => v.to_string(),
        };
        Num { text, cents: i128::from(v) * 100, integer: true }
    })
}

/// `cents / 100`, written as `12.50`, `12.5`, `.50` or `12.500`.
fn dec_num(cents: impl Strategy<Value = i64>) -> impl Strategy<Value = Num> {
    (cents, 0u8..5).prop_map(|(c, style)| {
        let sign = if c < 0 { "-" } else { "" };
        let a = c.unsigned_abs();
        let (whole, frac) = (a / 100, a % 100);
        let text = match style {
            2 if frac % 10 == 0 => format!("{sign}{whole}.{}", frac / 10),
            3 if whole == 0 => format!("{sign}.{frac:02}"),
            4 => format!("{sign}{whole}.{frac:02}0"),
            _ => format!("{sign}{whole}.{frac:02}"),
        };
        Num { text, cents: i128::from(c), integer: false }
    })
}

fn num() -> impl Strategy<Value = Num> {
    let big =
        prop_oneof![Just(9_007_199_254_740_993i64), Just(-9_007_199_254_740_993), any::<i64>()]
            .prop_map(|v| Num { text: v.to_string(), cents: i128::from(v) * 100, integer: true });
    let neg_zero = Just(Num { text: "-0.00".into(), cents: 0, integer: false });
    prop_oneof![
        3 => int_num(-100_000..=100_000),
        3 => dec_num(-1_000_000i64..=1_000_000),
        // Few distinct values in several spellings: ties for sort, min, max
        // and group keys (`1.5`, `1.50`, `1.500`; `2`, `2.`, `+2`, `0002`).
        2 => int_num(-2..=2),
        2 => dec_num((-4i64..=4).prop_map(|c| c * 50)),
        1 => big,
        1 => neg_zero,
    ]
}

const UNICODE: &[&str] = &["é", "東京", "😀", "naïve café", "Ωmega ß", " padded ", "e"];

/// A CSV field's text, with its numeric value when fanfold reads it as a
/// number (only the `num()` texts are numbers: every other text holds a
/// character no number can hold).
fn cell() -> impl Strategy<Value = (String, Option<f64>)> {
    let text = prop_oneof![
        3 => "[a-z]{1,8}",
        2 => Just(String::new()),
        2 => select(UNICODE).prop_map(String::from),
        1 => "[a-z ]{0,3},[a-z,]{0,3}",
        1 => "[a-z]{0,2}\"[a-z\"]{0,3}",
        1 => "[a-z]{0,3}\n[a-z]{0,3}",
        1 => "[a-z]{0,3}\r\n[a-z]{0,3}",
        1 => "[a-z]{0,2}\r[a-z]{0,2}",
        1 => "[a-z]{0,2}\t[a-z ]{0,2}",
    ];
    prop_oneof![
        6 => text.prop_map(|t| (t, None)),
        2 => num().prop_map(|n| {
            let v = n.to_f64();
            (n.text, Some(v))
        }),
    ]
}

fn field() -> impl Strategy<Value = String> {
    cell().prop_map(|(t, _)| t)
}

// ---------------------------------------------------------------------------
// CSV helpers
// ---------------------------------------------------------------------------

/// How one input file is written.
#[derive(Debug, Clone, Copy)]
struct FileStyle {
    bom: bool,
    crlf: bool,
    trailing_newline: bool,
}

fn file_style() -> impl Strategy<Value = FileStyle> {
    (prop::bool::weighted(0.2), any::<bool>(), prop::bool::weighted(0.8))
        .prop_map(|(bom, crlf, trailing_newline)| FileStyle { bom, crlf, trailing_newline })
}

/// Writes `records` with the `csv` crate (RFC 4180 quoting where needed).
fn write_records<R: AsRef<[u8]>>(records: &[Vec<R>], delimiter: u8, crlf: bool) -> Vec<u8> {
    let term = if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') };
    let mut w = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .terminator(term)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(Vec::new());
    for r in records {
        w.write_record(r).expect("writing to memory");
    }
    w.into_inner().expect("flushing to memory")
}

/// One input file: optional BOM, header, rows, optional final terminator.
fn csv_file(header: &[String], rows: &[Vec<String>], style: FileStyle, delimiter: u8) -> Vec<u8> {
    let mut records = vec![header.to_vec()];
    records.extend(rows.iter().cloned());
    let mut bytes = if style.bom { BOM.to_vec() } else { Vec::new() };
    bytes.extend(write_records(&records, delimiter, style.crlf));
    if !style.trailing_newline {
        let term: &[u8] = if style.crlf { b"\r\n" } else { b"\n" };
        if bytes.ends_with(term) {
            bytes.truncate(bytes.len() - term.len());
        }
    }
    bytes
}

/// Parses CSV bytes (BOM stripped) with the `csv` crate, header included.
fn parse_csv(bytes: &[u8], delimiter: u8, flexible: bool) -> TestResult<Vec<Vec<Vec<u8>>>> {
    let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(flexible)
        .delimiter(delimiter)
        .from_reader(bytes);
    let mut out = Vec::new();
    for rec in rdr.byte_records() {
        let rec = rec.map_err(|e| TestCaseError::fail(format!("csv crate: {e}")))?;
        out.push(rec.iter().map(<[u8]>::to_vec).collect());
    }
    Ok(out)
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("writing a temp file");
    path
}

fn utf8(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("UTF-8 text")
}

// ---------------------------------------------------------------------------
// A: concat
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Table {
    tsv: bool,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    /// One style per input file; rows are split between the files at `cuts`.
    files: Vec<FileStyle>,
    cuts: Vec<Index>,
}

fn table() -> impl Strategy<Value = Table> {
    (2usize..=4, prop::bool::weighted(0.25))
        .prop_flat_map(|(ncols, tsv)| {
            (
                Just(tsv),
                vec(field(), ncols),
                vec(vec(field(), ncols), 0..=200),
                prop_oneof![3 => vec(file_style(), 1), 1 => vec(file_style(), 2..=3)],
                vec(any::<Index>(), 2),
            )
        })
        .prop_map(|(tsv, header, rows, files, cuts)| Table {
            tsv,
            header: distinct(header),
            rows,
            files,
            cuts,
        })
}

/// Makes column names distinct (a repeated name gets its index appended):
/// output columns must have distinct names.
fn distinct(names: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, n) in names.into_iter().enumerate() {
        let n = if seen.contains(&n) { format!("{n}{i}") } else { n };
        seen.insert(n.clone());
        out.push(n);
    }
    out
}

impl Table {
    fn delimiter(&self) -> u8 {
        if self.tsv {
            b'\t'
        } else {
            b','
        }
    }

    /// The rows of each input file.
    fn parts(&self) -> Vec<&[Vec<String>]> {
        let n = self.rows.len();
        let mut cuts: Vec<usize> =
            self.cuts.iter().take(self.files.len() - 1).map(|i| i.index(n + 1)).collect();
        cuts.sort_unstable();
        cuts.push(n);
        let mut start = 0;
        cuts.into_iter()
            .map(|end| {
                let part = &self.rows[start..end];
                start = end;
                part
            })
            .collect()
    }
}

/// Property A for one table: fanfold's concat under the sequential baseline
/// and `others` equals the `csv` crate's round trip of the input files.
fn check_concat(t: &Table, others: &[Settings]) -> TestResult {
    let dir = tempfile::tempdir().expect("temp dir");
    let delimiter = t.delimiter();
    let (format, ext) = if t.tsv { (Format::Tsv, "tsv") } else { (Format::Csv, "csv") };
    let mut paths = Vec::new();
    let mut reference: Vec<Vec<Vec<u8>>> = Vec::new();
    for (i, (part, style)) in t.parts().into_iter().zip(&t.files).enumerate() {
        let bytes = csv_file(&t.header, part, *style, delimiter);
        let mut records = parse_csv(&bytes, delimiter, false)?;
        // The generator's own sanity: the csv crate reads back what it wrote.
        prop_assert_eq!(records.len(), part.len() + 1);
        if i > 0 {
            records.remove(0);
        }
        reference.extend(records);
        paths.push(write_file(dir.path(), &format!("in{i}.{ext}"), &bytes));
    }
    let expected = utf8(write_records(&reference, delimiter, false));
    let out = run_all(&paths, format, &ReduceSpec::Concat, others)?;
    prop_assert!(
        out == expected,
        "output differs from the reference:\n{}",
        first_diff(&out, &expected)
    );
    Ok(())
}

/// Where two long texts first differ, for failure messages.
fn first_diff(got: &str, want: &str) -> String {
    let at = got.bytes().zip(want.bytes()).take_while(|(a, b)| a == b).count();
    let around = |s: &str| {
        let b = s.as_bytes();
        String::from_utf8_lossy(&b[at.saturating_sub(80)..(at + 80).min(b.len())]).into_owned()
    };
    format!(
        "lengths {} vs {}; first difference at byte {at}\n got: {:?}\nwant: {:?}",
        got.len(),
        want.len(),
        around(got),
        around(want)
    )
}

// ---------------------------------------------------------------------------
// B and C: a table with a key, a numeric and a mixed column
// ---------------------------------------------------------------------------

/// Texts of the `k` column, with their value when fanfold reads them as
/// numbers (`-0` reads as `0`, `1e1` as `10`).
const KEYS: &[(&str, Option<f64>)] = &[
    ("Oslo", None),
    ("Lima", None),
    ("東京", None),
    ("é", None),
    ("a,b", None),
    ("say \"hi\"", None),
    ("two\nlines", None),
    (" 5", None),
    ("inf", None),
    ("", None),
    ("10", Some(10.0)),
    ("9", Some(9.0)),
    ("1e1", Some(10.0)),
    ("1.50", Some(1.5)),
    ("1.5", Some(1.5)),
    ("-2", Some(-2.0)),
    ("+3", Some(3.0)),
    ("0", Some(0.0)),
    ("-0", Some(0.0)),
];

const J_KEYS: &[&str] = &["x", "y", ""];

const HEADER: [&str; 4] = ["k", "n", "s", "j"];

#[derive(Debug, Clone)]
struct Row {
    k: usize,
    n: Option<Num>,
    s: String,
    s_num: Option<f64>,
    j: &'static str,
}

impl Row {
    fn k(&self) -> &'static str {
        KEYS[self.k].0
    }

    fn text(&self, column: &str) -> &str {
        match column {
            "k" => self.k(),
            "n" => self.n.as_ref().map_or("", |n| n.text.as_str()),
            "s" => &self.s,
            "j" => self.j,
            other => panic!("no column {other}"),
        }
    }

    /// The numeric value of `column` as fanfold reads it.
    fn number(&self, column: &str) -> Option<f64> {
        match column {
            "k" => KEYS[self.k].1,
            "n" => self.n.as_ref().map(Num::to_f64),
            "s" => self.s_num,
            _ => None,
        }
    }

    fn fields(&self) -> Vec<&str> {
        HEADER.iter().map(|c| self.text(c)).collect()
    }
}

fn row() -> impl Strategy<Value = Row> {
    (0..KEYS.len(), prop_oneof![1 => Just(None), 4 => num().prop_map(Some)], cell(), select(J_KEYS))
        .prop_map(|(k, n, (s, s_num), j)| Row { k, n, s, s_num, j })
}

/// Writes the `k,n,s,j` table to `dir` as `name` and returns its path.
fn write_rows(dir: &Path, name: &str, rows: &[Row], crlf: bool) -> PathBuf {
    let mut records = vec![HEADER.to_vec()];
    records.extend(rows.iter().map(Row::fields));
    write_file(dir, name, &write_records(&records, b',', crlf))
}

fn sort_key() -> impl Strategy<Value = SortKeySpec> {
    let columns = vec![("k", false), ("n", false), ("n", true), ("s", false), ("j", false)];
    (select(columns), any::<bool>()).prop_map(|((column, numeric), descending)| SortKeySpec {
        column: column.into(),
        numeric,
        descending,
    })
}

#[derive(Debug, Clone, PartialEq)]
enum SortVal<'a> {
    Num(f64),
    Text(&'a [u8]),
    Missing,
}

fn sort_val<'a>(row: &'a Row, key: &SortKeySpec) -> SortVal<'a> {
    let text = row.text(&key.column);
    if text.is_empty() {
        SortVal::Missing
    } else if key.numeric {
        SortVal::Num(row.number(&key.column).expect("`:n` keys are numeric columns"))
    } else {
        SortVal::Text(text.as_bytes())
    }
}

/// The documented order: per key, ascending or descending, missing last in
/// both directions.
fn sort_cmp(a: &Row, b: &Row, keys: &[SortKeySpec]) -> Ordering {
    for key in keys {
        let ord = match (sort_val(a, key), sort_val(b, key)) {
            (SortVal::Missing, SortVal::Missing) => Ordering::Equal,
            (SortVal::Missing, _) => return Ordering::Greater,
            (_, SortVal::Missing) => return Ordering::Less,
            (SortVal::Num(x), SortVal::Num(y)) => x.partial_cmp(&y).expect("no NaN"),
            (SortVal::Text(x), SortVal::Text(y)) => x.cmp(y),
            _ => unreachable!("a key is numeric or text for every row"),
        };
        let ord = if key.descending { ord.reverse() } else { ord };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// Group-by keys, as the documented order sees them.
#[derive(Debug, Clone)]
enum KeyPart<'a> {
    Num(f64, &'a str),
    Text(&'a str),
    Missing,
}

fn key_part<'a>(row: &'a Row, column: &str) -> KeyPart<'a> {
    let text = row.text(column);
    if text.is_empty() {
        KeyPart::Missing
    } else if let Some(v) = row.number(column) {
        KeyPart::Num(v, text)
    } else {
        KeyPart::Text(text)
    }
}

/// Numbers first (numerically, then by text), then text by bytes, then
/// missing.
fn key_part_cmp(a: &KeyPart<'_>, b: &KeyPart<'_>) -> Ordering {
    match (a, b) {
        (KeyPart::Num(x, s), KeyPart::Num(y, t)) => {
            x.partial_cmp(y).expect("no NaN").then_with(|| s.as_bytes().cmp(t.as_bytes()))
        }
        (KeyPart::Num(..), _) => Ordering::Less,
        (_, KeyPart::Num(..)) => Ordering::Greater,
        (KeyPart::Text(s), KeyPart::Text(t)) => s.as_bytes().cmp(t.as_bytes()),
        (KeyPart::Text(_), KeyPart::Missing) => Ordering::Less,
        (KeyPart::Missing, KeyPart::Text(_)) => Ordering::Greater,
        (KeyPart::Missing, KeyPart::Missing) => Ordering::Equal,
    }
}

const AGGS: &[&str] = &[
    "count",
    "count:n",
    "sum:n",
    "mean:n",
    "min:n",
    "max:n",
    "distinct:n",
    "count:s",
    "min:s",
    "max:s",
    "distinct:s",
    "sum:n=total",
    "avg:n",
    "mode:n",
    "mode:s",
    "mode:j",
    "first:n",
    "first:s=f",
    "last:s",
    "last:j",
    "var_samp:n",
    "var_pop:n",
    "stddev:n",
    "stddev_pop:n=sd",
    "median:n",
    "quantile:n:0.95",
    "quantile_disc:n:0.3",
    "approx_distinct:s",
    "approx_quantile:n:0.9",
];

fn agg_name(spec: &str) -> String {
    match spec.split_once('=') {
        Some((_, name)) => name.to_string(),
        None => spec.replace(':', "_"),
    }
}

/// min or max: numeric when every value is a number (ties keep the first),
/// else by bytes; the value written as read.
fn extreme(values: &[(&str, Option<f64>)], max: bool) -> String {
    if values.is_empty() {
        return String::new();
    }
    if values.iter().all(|(_, v)| v.is_some()) {
        let mut best = values[0];
        for &(t, v) in &values[1..] {
            let (v, b) = (v.expect("numeric"), best.1.expect("numeric"));
            if (max && v > b) || (!max && v < b) {
                best = (t, Some(v));
            }
        }
        best.0.to_string()
    } else {
        let texts = values.iter().map(|(t, _)| t.as_bytes());
        let best = if max { texts.max() } else { texts.min() };
        String::from_utf8(best.expect("non-empty").to_vec()).expect("UTF-8")
    }
}

/// An expected group-by output field.
#[derive(Debug, Clone)]
enum Cell {
    /// Exactly this text.
    Text(String),
    /// A computed float (a non-integer sum, a mean): any text that reads
    /// back as exactly this `f64`, in at most as many significant digits as
    /// its shortest round-trip form. (Exact, not within an ulp: the exact
    /// decimal sum is rounded once, and a mean is that `f64` divided by the
    /// count.)
    Float(f64),
}

impl Cell {
    fn matches(&self, got: &str) -> bool {
        match self {
            Cell::Text(t) => got == t,
            Cell::Float(v) => {
                got.parse::<f64>().is_ok_and(|g| g == *v)
                    && significant_digits(got) <= significant_digits(&format!("{v:e}"))
            }
        }
    }
}

/// Significant digits of a decimal or scientific number's text.
fn significant_digits(text: &str) -> usize {
    let mantissa = text.split(['e', 'E']).next().unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    digits.trim_start_matches('0').trim_end_matches('0').len()
}

/// One aggregate over the rows of a group, as fanfold should write it.
fn agg_value(spec: &str, rows: &[&Row]) -> Cell {
    let body = spec.split('=').next().expect("split has a first part");
    let (kind, column) = body.split_once(':').unwrap_or((body, ""));
    // A quantile's column is followed by its fraction.
    let column = match kind {
        "quantile" | "quantile_disc" | "approx_quantile" => {
            column.split(':').next().unwrap_or_default()
        }
        _ => column,
    };
    if column.is_empty() {
        return Cell::Text(rows.len().to_string());
    }
    let values: Vec<(&str, Option<f64>)> = rows
        .iter()
        .map(|r| (r.text(column), r.number(column)))
        .filter(|(t, _)| !t.is_empty())
        .collect();
    let text = match kind {
        "count" => values.len().to_string(),
        "distinct" => values.iter().map(|(t, _)| *t).collect::<HashSet<_>>().len().to_string(),
        "mode" => {
            // The most frequent text; ties to the one seen first.
            let mut counts: Vec<(&str, usize)> = Vec::new();
            for (t, _) in &values {
                match counts.iter_mut().find(|(u, _)| u == t) {
                    Some((_, c)) => *c += 1,
                    None => counts.push((t, 1)),
                }
            }
            let best = counts.iter().map(|&(_, c)| c).max().unwrap_or(0);
            counts.iter().find(|&&(_, c)| c == best).map_or("", |&(t, _)| t).to_string()
        }
        "first" => values.first().map_or("", |(t, _)| *t).to_string(),
        "last" => values.last().map_or("", |(t, _)| *t).to_string(),
        "min" => extreme(&values, false),
        "max" => extreme(&values, true),
        "sum" | "mean" | "avg" => {
            assert_eq!(column, "n", "sums only over the numeric column");
            let nums: Vec<&Num> = rows.iter().filter_map(|r| r.n.as_ref()).collect();
            if nums.is_empty() {
                return Cell::Text(String::new());
            }
            let cents: i128 = nums.iter().map(|n| n.cents).sum();
            if kind != "sum" {
                return Cell::Float(exact_f64(cents) / nums.len() as f64);
            }
            if !nums.iter().all(|n| n.integer) {
                return Cell::Float(exact_f64(cents));
            }
            // A sum of integers is written as the exact integer.
            (cents / 100).to_string()
        }
        "var_samp" | "var_pop" | "stddev" | "stddev_pop" => {
            // The exact rational (n·Σc² − (Σc)²) / (n·d·100²) over the
            // values in cents, rounded once.
            let cents: Vec<BigInt> =
                rows.iter().filter_map(|r| r.n.as_ref()).map(|n| BigInt::from(n.cents)).collect();
            let n = cents.len() as i64;
            let d = if kind.ends_with("_pop") { n } else { n - 1 };
            if n == 0 || d == 0 {
                return Cell::Text(String::new());
            }
            let (s, q): (BigInt, BigInt) = (cents.iter().sum(), cents.iter().map(|c| c * c).sum());
            let (n, d) = (BigInt::from(n), BigInt::from(d));
            let exact = Ratio::new(&n * q - &s * &s, n * d * 10_000);
            let var = exact.to_f64().expect("a finite variance");
            return Cell::Float(if kind.starts_with("stddev") { var.sqrt() } else { var });
        }
        "median" | "quantile" | "quantile_disc" => {
            // From a sort of the values as floats: ranks ⌊h⌋ and ⌈h⌉ of
            // h = (n − 1)·p interpolated (DuckDB's formula), or rank ⌈n·p⌉.
            let mut v: Vec<f64> =
                rows.iter().filter_map(|r| r.n.as_ref()).map(Num::to_f64).collect();
            if v.is_empty() {
                return Cell::Text(String::new());
            }
            v.sort_by(f64::total_cmp);
            let (p, percent) = match spec.rsplit_once(':').map(|(_, p)| p) {
                Some("0.95") => (0.95, 95),
                Some("0.3") => (0.3, 30),
                _ => (0.5, 50),
            };
            if kind == "quantile_disc" {
                // ⌈n·p⌉, in integers.
                let rank = (v.len() as u64 * percent).div_ceil(100).max(1) - 1;
                return Cell::Float(v[rank as usize]);
            }
            let h = (v.len() - 1) as f64 * p;
            let (lo, hi, d) = (v[h.floor() as usize], v[h.ceil() as usize], h - h.floor());
            return Cell::Float(if d > 0.0 { lo * (1.0 - d) + hi * d } else { lo });
        }
        // The sketches, fed sequentially: fanfold's chunked, merged and
        // spilled sketches must give the same answer.
        "approx_distinct" => {
            // Exact up to 512 distinct values (the groups here are small).
            let distinct = values.iter().map(|(t, _)| *t).collect::<HashSet<_>>().len();
            assert!(distinct <= 512, "a group past the sketch's exact range");
            distinct.to_string()
        }
        "approx_quantile" => {
            let config = sketches_ddsketch::Config::new(0.01, 1 << 16, 1e-9);
            let mut sketch = sketches_ddsketch::DDSketch::new(config);
            rows.iter().filter_map(|r| r.n.as_ref()).for_each(|n| sketch.add(n.to_f64()));
            return match sketch.quantile(0.9).expect("a valid fraction") {
                Some(v) => Cell::Float(v),
                None => Cell::Text(String::new()),
            };
        }
        other => panic!("unknown aggregate {other}"),
    };
    Cell::Text(text)
}

// ---------------------------------------------------------------------------
// D: raw CSV for the splitter
// ---------------------------------------------------------------------------

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A field as the `csv` crate's parser accepts it, not only as its writer
/// writes it: quoted fields with newlines and doubled quotes, quotes in the
/// middle of unquoted fields, text after a closing quote.
fn raw_field() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zé ]{0,4}",
        3 => "[a-z,é\n\"]{0,5}".prop_map(|s| quote(&s)),
        1 => "[a-z]{0,2}\r\n[a-z\r]{0,2}".prop_map(|s| quote(&s)),
        1 => "[a-z ]{1,3}\"[a-z\"]{0,3}",
        1 => ("[a-z\n]{0,3}", "[a-z][a-z\"]{0,3}").prop_map(|(q, g)| format!("{}{g}", quote(&q))),
    ]
}

fn raw_record() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just(String::new()),
        8 => vec(raw_field(), 1..=4).prop_map(|f| f.join(",")),
    ]
}

fn terminator() -> impl Strategy<Value = &'static str> {
    prop_oneof![6 => Just("\n"), 3 => Just("\r\n"), 1 => Just("\r")]
}

/// A raw CSV file for the splitter, with the record ends it may cut at.
#[derive(Debug)]
struct RawFile {
    bytes: Vec<u8>,
    /// Where the first record after the header starts.
    body_start: usize,
    /// Offsets just after each `\n` that ends a record, ascending.
    boundaries: Vec<usize>,
}

impl RawFile {
    fn new<'a>(
        bom: bool,
        header: &str,
        header_crlf: bool,
        records: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> RawFile {
        let mut bytes = if bom { BOM.to_vec() } else { Vec::new() };
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(if header_crlf { b"\r\n" } else { b"\n" });
        let body_start = bytes.len();
        let mut boundaries = Vec::new();
        for (rec, term) in records {
            bytes.extend_from_slice(rec.as_bytes());
            bytes.extend_from_slice(term.as_bytes());
            // Unquoted text never holds a `\n`, so only terminators end here.
            if term.ends_with('\n') {
                boundaries.push(bytes.len());
            }
        }
        RawFile { bytes, body_start, boundaries }
    }

    /// Boundaries `b` with `lo < b < hi`.
    fn between(&self, lo: usize, hi: usize) -> &[usize] {
        let from = self.boundaries.partition_point(|&b| b <= lo);
        let to = self.boundaries.partition_point(|&b| b < hi);
        &self.boundaries[from..to.max(from)]
    }
}

/// Runs the splitter over `raw` and checks every chunk; see property D.
fn check_splitter(raw: &RawFile, limit: ChunkLimit) -> TestResult {
    let file = &raw.bytes;
    let body = &file[raw.body_start..];
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_file(dir.path(), "raw.csv", file);
    let mut splitter = Splitter::new(vec![Input::Path(path)], Format::Csv, b',', limit);
    let got_header = splitter.header().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let header_records = parse_csv(&file[..raw.body_start], b',', true)?;
    let want_header: Vec<String> = header_records
        .first()
        .map(|r| r.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect())
        .unwrap_or_default();
    prop_assert_eq!(got_header, Some(want_header));

    let mut chunks = Vec::new();
    while let Some(c) = splitter.next_chunk().map_err(|e| TestCaseError::fail(e.to_string()))? {
        chunks.push(c);
    }

    let joined: Vec<u8> = chunks.iter().flat_map(|c| c.data.iter().copied()).collect();
    prop_assert!(
        joined == body,
        "chunks joined differ from the body ({} vs {} bytes)",
        joined.len(),
        body.len()
    );

    let mut start = raw.body_start;
    let mut newlines_before = file[..start].iter().filter(|&&b| b == b'\n').count() as u64;
    let mut chunk_records = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        prop_assert_eq!(c.seq, i as u64);
        prop_assert_eq!(c.input, 0);
        prop_assert!(!c.data.is_empty(), "chunk {} is empty", i);
        prop_assert_eq!(c.first_line, 1 + newlines_before, "first_line of chunk {}", i);
        let end = start + c.data.len();
        let is_last = i + 1 == chunks.len();
        let ends_at_boundary = raw.boundaries.binary_search(&end).is_ok();
        if is_last {
            prop_assert_eq!(end, file.len());
        } else {
            prop_assert!(ends_at_boundary, "chunk {} ends at {}, inside a record", i, end);
        }
        let inner = raw.between(start, end);
        match limit {
            ChunkLimit::Records(n) => {
                let records = inner.len() + usize::from(ends_at_boundary);
                if is_last {
                    prop_assert!(records <= n, "last chunk has {} records", records);
                } else {
                    prop_assert_eq!(records, n, "chunk {} record count", i);
                }
            }
            ChunkLimit::Bytes(t) => {
                if !is_last {
                    prop_assert!(end - start >= t, "chunk {} is shorter than the target", i);
                }
                let early = inner.iter().any(|&b| b - start >= t);
                prop_assert!(!early, "chunk {} goes past the first boundary after the target", i);
            }
            ChunkLimit::Auto => unreachable!("the strategies only make Bytes and Records"),
        }
        chunk_records.extend(parse_csv(&c.data, b',', true)?);
        newlines_before += c.data.iter().filter(|&&b| b == b'\n').count() as u64;
        start = end;
    }
    prop_assert!(
        chunk_records == parse_csv(body, b',', true)?,
        "the chunks' records differ from the body's"
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// E: NDJSON
// ---------------------------------------------------------------------------

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        (-1000i64..1000).prop_map(|c| Value::from(c as f64 / 100.0)),
        "[a-z é東京😀\"\\\n\t/\u{1}]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec(("[a-z]{1,3}", inner), 0..4).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        4 => select(vec!["id", "name", "amount", "tags", "é", "東京"]).prop_map(String::from),
        1 => "[a-z\"\\ \n]{0,4}",
    ];
    vec((key, json_value()), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect()))
}

/// One NDJSON line: blank lines before it, padding around it.
#[derive(Debug, Clone)]
struct JsonLine {
    blanks_before: Vec<&'static str>,
    pad: (&'static str, &'static str),
    value: Value,
}

fn json_line() -> impl Strategy<Value = JsonLine> {
    let blank = select(vec!["", "  ", "\t", " \t "]);
    let pad = select(vec!["", "", "", " ", "\t"]);
    (prop_oneof![3 => Just(Vec::new()), 1 => vec(blank, 1..=2)], (pad.clone(), pad), json_object())
        .prop_map(|(blanks_before, pad, value)| JsonLine { blanks_before, pad, value })
}

// ---------------------------------------------------------------------------
// G: JSON arrays
// ---------------------------------------------------------------------------

/// Whitespace between a JSON array's tokens.
fn json_ws() -> impl Strategy<Value = &'static str> {
    select(vec!["", "", " ", "\n", "\n  ", "\r\n", "\t", " \n\n "])
}

/// One element of a JSON array: its object, written compact or pretty, and
/// the whitespace before and after it.
#[derive(Debug, Clone)]
struct ArrayElement {
    value: Value,
    pretty: bool,
    before: &'static str,
    after: &'static str,
}

fn array_element() -> impl Strategy<Value = ArrayElement> {
    (json_object(), any::<bool>(), json_ws(), json_ws())
        .prop_map(|(value, pretty, before, after)| ArrayElement { value, pretty, before, after })
}

/// The text of a JSON array of `elements`, with `open`/`close` whitespace
/// around the brackets and an optional BOM.
fn array_text(elements: &[ArrayElement], bom: bool, open: &str, close: &str) -> String {
    let mut text = String::from(if bom { "\u{feff}" } else { "" });
    text.push_str(open);
    text.push('[');
    for (i, e) in elements.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(e.before);
        let json = if e.pretty {
            serde_json::to_string_pretty(&e.value)
        } else {
            serde_json::to_string(&e.value)
        };
        text.push_str(&json.expect("serialize"));
        text.push_str(e.after);
    }
    text.push_str(close);
    text.push(']');
    text.push_str(open);
    text
}

/// G: concat of the array at `path` is the same for every setting; as
/// NDJSON, line `i` is element `i` of `want` (serde_json's reading of the
/// whole array); as a JSON array, the output is `want`.
fn check_array(path: &Path, want: &Value, settings: &[Settings]) -> TestResult {
    let paths = [path.to_path_buf()];
    let ndjson = run_all_to(&paths, Format::Json, Format::Ndjson, settings)?;
    prop_assert!(ndjson.is_empty() || ndjson.ends_with('\n'));
    let got: Vec<Value> = ndjson
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| TestCaseError::fail(format!("{e}: {l}"))))
        .collect::<TestResult<_>>()?;
    prop_assert_eq!(&Value::Array(got), want);
    let array = run_all_to(&paths, Format::Json, Format::Json, settings)?;
    let got: Value = serde_json::from_str(&array)
        .map_err(|e| TestCaseError::fail(format!("JSON output does not parse: {e}")))?;
    prop_assert_eq!(&got, want);
    // The documented layout: the NDJSON lines joined by `,`.
    let layout = if ndjson.is_empty() {
        "[]\n".to_string()
    } else {
        format!("[\n{}\n]\n", ndjson.trim_end().replace('\n', ",\n"))
    };
    prop_assert_eq!(array, layout);
    Ok(())
}

/// [`run_all`] with an output format.
fn run_all_to(
    paths: &[PathBuf],
    format: Format,
    output: Format,
    others: &[Settings],
) -> TestResult<String> {
    let one = |s: Settings| -> TestResult<String> {
        let pipeline = Pipeline::builder()
            .inputs(paths.iter().cloned().map(Input::Path))
            .input_format(format)
            .output_format(output)
            .chunk(s.chunk)
            .threads(s.threads)
            .max_in_flight(s.max_in_flight)
            .build()
            .map_err(|e| TestCaseError::fail(format!("build failed with {s:?}: {e}")))?;
        let mut out = Vec::new();
        pipeline
            .run(&mut out, "<mem>")
            .map_err(|e| TestCaseError::fail(format!("run failed with {s:?}: {e}")))?;
        String::from_utf8(out).map_err(|e| TestCaseError::fail(format!("not UTF-8: {e}")))
    };
    let base = one(SEQUENTIAL)?;
    for &s in others {
        let out = one(s)?;
        prop_assert_eq!(&out, &base, "output with {:?} differs from the sequential run", s);
    }
    Ok(base)
}

// ---------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(CASES))]

    /// A: concat output is the same for any settings and equals the input
    /// parsed and re-written by the `csv` crate (`\n` terminators, quotes only
    /// where needed).
    #[test]
    fn concat_matches_csv_crate_round_trip(t in table(), s1 in settings(), s2 in settings()) {
        check_concat(&t, &[s1, s2])?;
    }

    /// B: a sort on one or two keys equals a stable `sort_by` of the parsed
    /// rows, for any settings.
    #[test]
    fn sort_matches_stable_sort(
        rows in vec(row(), 0..=150),
        keys in vec(sort_key(), 1..=2),
        crlf in any::<bool>(),
        s1 in settings(),
        s2 in settings(),
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write_rows(dir.path(), "t.csv", &rows, crlf);
        let mut sorted: Vec<&Row> = rows.iter().collect();
        sorted.sort_by(|a, b| sort_cmp(a, b, &keys));
        let mut records = vec![HEADER.to_vec()];
        records.extend(sorted.iter().map(|r| r.fields()));
        let expected = utf8(write_records(&records, b',', false));
        let out = run_all(&[path], Format::Csv, &ReduceSpec::Sort(keys), &[s1, s2])?;
        prop_assert_eq!(out, expected);
    }

    /// C: group-by with every aggregate equals an exact reference (sums in
    /// integer cents, rounded once), groups ordered numbers, text, missing.
    #[test]
    fn group_by_matches_exact_reference(
        rows in vec(row(), 0..=150),
        keys in select(vec![vec![], vec!["k"], vec!["k", "j"], vec!["j", "k"], vec!["s"]]),
        aggs in subsequence(AGGS.to_vec(), 1..=AGGS.len()).prop_shuffle(),
        crlf in any::<bool>(),
        s1 in settings(),
        s2 in settings(),
        s3 in spilling_settings(),
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let spec = ReduceSpec::GroupBy {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            aggs: aggs.iter().map(|a| a.parse().expect("valid --agg")).collect(),
        };
        let path = write_rows(dir.path(), "t.csv", &rows, crlf);

        // Group by the keys' texts, then order the groups.
        let mut groups: BTreeMap<Vec<&str>, Vec<&Row>> = BTreeMap::new();
        for r in &rows {
            groups.entry(keys.iter().map(|k| r.text(k)).collect()).or_default().push(r);
        }
        if keys.is_empty() && groups.is_empty() {
            groups.insert(Vec::new(), Vec::new());
        }
        let mut groups: Vec<(Vec<&str>, Vec<&Row>)> = groups.into_iter().collect();
        groups.sort_by(|(_, a), (_, b)| {
            // Rows in a group share the key texts; groups with no rows only
            // exist without keys, where there is one group.
            let (Some(a), Some(b)) = (a.first(), b.first()) else { return Ordering::Equal };
            keys.iter()
                .map(|k| key_part_cmp(&key_part(a, k), &key_part(b, k)))
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        });

        let mut header: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        header.extend(aggs.iter().map(|a| agg_name(a)));
        let mut expected: Vec<Vec<Cell>> = Vec::new();
        for (key, members) in &groups {
            let mut rec: Vec<Cell> = key.iter().map(|k| Cell::Text(k.to_string())).collect();
            rec.extend(aggs.iter().map(|a| agg_value(a, members)));
            expected.push(rec);
        }

        // Byte-identical for every setting; then equal to the reference.
        let out = run_all(&[path], Format::Csv, &spec, &[s1, s2, s3])?;
        let mut got = parse_csv(out.as_bytes(), b',', false)?.into_iter();
        let got_header = got.next().map(|h| h.into_iter().map(utf8).collect::<Vec<_>>());
        prop_assert_eq!(got_header, Some(header));
        let got: Vec<Vec<String>> = got.map(|r| r.into_iter().map(utf8).collect()).collect();
        prop_assert_eq!(got.len(), expected.len(), "group count; output:\n{}", out);
        for (g, (got_row, want_row)) in got.iter().zip(&expected).enumerate() {
            prop_assert_eq!(got_row.len(), want_row.len());
            for (c, (got, want)) in got_row.iter().zip(want_row).enumerate() {
                prop_assert!(want.matches(got), "group {} column {}: got {:?}, want {:?}; output:\n{}",
                    g, c, got, want, out);
            }
        }
    }

    /// F: `--top K` by one or two sort keys, overall or per group, equals a
    /// stable sort of each group's rows cut to K, groups in group-by order,
    /// in memory and spilled.
    #[test]
    fn top_k_matches_stable_sort_cut_per_group(
        rows in vec(row(), 0..=150),
        keys in vec(sort_key(), 1..=2),
        group_by in select(vec![vec![], vec!["k"], vec!["j"], vec!["k", "j"], vec!["s"]]),
        k in prop_oneof![3 => 1usize..=4, 1 => 5usize..=200],
        crlf in any::<bool>(),
        s1 in settings(),
        s2 in settings(),
        s3 in spilling_settings(),
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write_rows(dir.path(), "t.csv", &rows, crlf);
        let mut sorted: Vec<&Row> = rows.iter().collect();
        sorted.sort_by(|a, b| sort_cmp(a, b, &keys));
        let mut groups: BTreeMap<Vec<&str>, Vec<&Row>> = BTreeMap::new();
        for r in sorted {
            groups.entry(group_by.iter().map(|c| r.text(c)).collect()).or_default().push(r);
        }
        let mut groups: Vec<Vec<&Row>> = groups.into_values().collect();
        groups.sort_by(|a, b| {
            group_by.iter()
                .map(|c| key_part_cmp(&key_part(a[0], c), &key_part(b[0], c)))
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        });
        let mut records = vec![HEADER.to_vec()];
        for g in &groups {
            records.extend(g.iter().take(k).map(|r| r.fields()));
        }
        let expected = utf8(write_records(&records, b',', false));
        let spec = ReduceSpec::TopK {
            k,
            keys,
            group_by: group_by.iter().map(|c| c.to_string()).collect(),
        };
        let out = run_all(&[path], Format::Csv, &spec, &[s1, s2, s3])?;
        prop_assert_eq!(out, expected);
    }

    /// D: the splitter loses no byte, cuts only at record ends (never inside
    /// quotes), follows its limit, numbers lines, and every chunk parses on
    /// its own to the same records as the whole input.
    #[test]
    fn splitter_round_trip(
        header in vec(raw_field(), 1..=4),
        header_crlf in any::<bool>(),
        body in vec((raw_record(), terminator()), 0..=60),
        last in select(vec!["\n", "\r\n", ""]),
        bom in prop::bool::weighted(0.2),
        limit in chunk_limit(),
    ) {
        let n = body.len();
        let records = body
            .iter()
            .enumerate()
            .map(|(i, (rec, term))| (rec.as_str(), if i + 1 == n { last } else { *term }));
        // A blank line is no header (the csv crate skips blank lines before
        // it, and so does fanfold): a lone empty header field is quoted.
        let header = if header.join(",").is_empty() { quote("") } else { header.join(",") };
        let raw = RawFile::new(bom, &header, header_crlf, records);
        check_splitter(&raw, limit)?;
    }

    /// E: NDJSON concat is the same for any settings, drops blank lines and
    /// keeps every object's value.
    #[test]
    fn ndjson_concat_keeps_every_object(
        lines in vec(json_line(), 0..=80),
        trailing_blanks in vec(select(vec!["", " "]), 0..=2),
        crlf in any::<bool>(),
        final_newline in prop::bool::weighted(0.8),
        s1 in settings(),
        s2 in settings(),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut text = String::new();
        // What serde_json reads from each input line (without the
        // `float_roundtrip` feature it may not read back the very `f64` it
        // wrote, so the reference is the input text, not `l.value`).
        let mut want = Vec::new();
        for l in &lines {
            for b in &l.blanks_before {
                text.push_str(b);
                text.push_str(eol);
            }
            let json = serde_json::to_string(&l.value).expect("serialize");
            want.push(serde_json::from_str::<Value>(&json).expect("serde_json reads its output"));
            text.push_str(l.pad.0);
            text.push_str(&json);
            text.push_str(l.pad.1);
            text.push_str(eol);
        }
        for b in &trailing_blanks {
            text.push_str(b);
            text.push_str(eol);
        }
        if !final_newline && text.ends_with(eol) {
            text.truncate(text.len() - eol.len());
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write_file(dir.path(), "in.ndjson", text.as_bytes());
        let out = run_all(&[path], Format::Ndjson, &ReduceSpec::Concat, &[s1, s2])?;

        prop_assert!(out.is_empty() || out.ends_with('\n'));
        let got: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).map_err(|e| TestCaseError::fail(format!("{e}: {l}"))))
            .collect::<TestResult<_>>()?;
        prop_assert_eq!(got, want);
    }

    /// G: a JSON array, compact or pretty-printed, is split between its
    /// elements for any settings and loses none of them; JSON output
    /// round-trips.
    #[test]
    fn json_array_keeps_every_element(
        elements in vec(array_element(), 0..=60),
        bom in prop::bool::weighted(0.2),
        open in json_ws(),
        close in json_ws(),
        s1 in settings(),
        s2 in settings(),
    ) {
        let text = array_text(&elements, bom, open, close);
        let want: Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
            .map_err(|e| TestCaseError::fail(format!("the test wrote bad JSON: {e}")))?;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write_file(dir.path(), "in.json", text.as_bytes());
        check_array(&path, &want, &[s1, s2])?;
    }
}

proptest! {
    #![proptest_config(config(LARGE_CASES))]

    /// A on inputs of several 64 KiB reads (the rows repeated), with chunk
    /// limits from tiny to larger than one read.
    #[test]
    fn concat_large_inputs(t in table(), s1 in large_settings(), s2 in large_settings()) {
        let one = write_records(&t.rows, t.delimiter(), false).len().max(1);
        let copies = LARGE_BYTES.div_ceil(one).min(LARGE_BYTES);
        let rows: Vec<Vec<String>> =
            (0..copies).flat_map(|_| t.rows.iter().cloned()).collect();
        check_concat(&Table { rows, ..t }, &[s1, s2])?;
    }

    /// D on inputs of several 64 KiB reads, where long quoted fields (with
    /// doubled quotes and newlines) straddle the read boundaries at offsets
    /// set by `pad`.
    #[test]
    fn splitter_round_trip_large(
        body in vec((raw_record(), terminator()), 1..=30),
        pad in 0usize..70_000,
        bom in prop::bool::weighted(0.2),
        limit in large_settings().prop_map(|s| s.chunk),
    ) {
        let long = quote(&"ab\"\n".repeat(pad / 4 + 1)[..pad]);
        let mut records: Vec<(&str, &str)> = Vec::new();
        let mut len = 0;
        while len < LARGE_BYTES {
            records.push((&long, "\n"));
            len += long.len() + 1;
            for (rec, term) in &body {
                records.push((rec, term));
                len += rec.len() + term.len();
            }
        }
        let raw = RawFile::new(bom, "h1,\"h\n2\"", false, records);
        check_splitter(&raw, limit)?;
    }

    /// G on arrays of several 64 KiB reads, where long elements (strings
    /// with escaped quotes and brackets, set by `pad`) straddle the read
    /// boundaries.
    #[test]
    fn json_array_large(
        elements in vec(array_element(), 1..=20),
        pad in 0usize..70_000,
        s1 in large_settings(),
        s2 in large_settings(),
    ) {
        let long = ArrayElement {
            value: serde_json::json!({"id": "long", "s": "]}\"{[\\".repeat(pad / 6 + 1)}),
            pretty: true,
            before: "\n",
            after: "",
        };
        let mut all = Vec::new();
        let mut len = 0;
        while len < LARGE_BYTES {
            all.push(long.clone());
            len += pad;
            for e in &elements {
                all.push(e.clone());
                len += serde_json::to_string_pretty(&e.value).map_or(0, |j| j.len());
            }
        }
        let text = array_text(&all, false, "", "\n");
        let want: Value = serde_json::from_str(&text)
            .map_err(|e| TestCaseError::fail(format!("the test wrote bad JSON: {e}")))?;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write_file(dir.path(), "in.json", text.as_bytes());
        check_array(&path, &want, &[s1, s2])?;
    }
}

/// Settings for property H: 1 to 8 threads, chunks of one record to
/// 4 MiB, in memory or spilling.
fn cardinality_settings() -> impl Strategy<Value = Settings> {
    let chunk = prop_oneof![
        (1usize..=50).prop_map(ChunkLimit::Records),
        (64usize..=4096).prop_map(ChunkLimit::Bytes),
        Just(ChunkLimit::Bytes(4 << 20)),
    ];
    let limit = prop_oneof![Just(None), (1u64..=20_000).prop_map(Some)];
    (1usize..=8, chunk, 1usize..=6, limit).prop_map(
        |(threads, chunk, max_in_flight, memory_limit)| Settings {
            threads,
            chunk,
            max_in_flight,
            memory_limit,
        },
    )
}

proptest! {
    #![proptest_config(config(LARGE_CASES))]

    /// H: count and sum per key, from one group per record to a Zipf-like
    /// key, equal a map built here, for any threads, chunks and memory
    /// limit.
    #[test]
    fn group_by_at_any_cardinality_matches_a_reference_map(
        values in vec(-1_000i64..=1_000, 0..=3_000),
        zipf in any::<bool>(),
        s1 in cardinality_settings(),
        s2 in cardinality_settings(),
    ) {
        // Key of record i: i itself (every key unique), or n / (i + 1)
        // (key 0 for half the records, then ever smaller groups).
        let n = values.len() as i64;
        let key = |i: usize| if zipf { n / (i as i64 + 1) } else { i as i64 };
        let mut csv = String::from("key,v\n");
        let mut want: BTreeMap<i64, (u64, i64)> = BTreeMap::new();
        for (i, v) in values.iter().enumerate() {
            csv.push_str(&format!("{},{v}\n", key(i)));
            let e = want.entry(key(i)).or_default();
            e.0 += 1;
            e.1 += v;
        }
        let mut expected = String::from("key,count,sum_v\n");
        for (k, (c, sum)) in &want {
            expected.push_str(&format!("{k},{c},{sum}\n"));
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write_file(dir.path(), "keys.csv", csv.as_bytes());
        let spec = ReduceSpec::GroupBy {
            keys: vec!["key".into()],
            aggs: vec!["count".parse().expect("valid"), "sum:v".parse().expect("valid")],
        };
        let out = run_all(&[path], Format::Csv, &spec, &[s1, s2])?;
        prop_assert!(out == expected, "{}", first_diff(&out, &expected));
    }
}
