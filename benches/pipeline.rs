//! Criterion benchmarks for fanfold's splitter and whole pipelines.
//!
//! A deterministic sales-like data set (about 20 MB of CSV, and the same rows
//! as NDJSON) is generated once and written to a temporary directory, since
//! a [`Pipeline`] reads files. Then:
//!
//! - `split_csv/chunk=…`: the [`Splitter`] alone, cutting the CSV into chunks;
//! - `parse/csv`, `parse/ndjson`: one thread parsing pre-cut 4 MiB chunks
//!   into records (the workers' parse path), counting them;
//! - `reduce/group_by_fold` (parse + fold, one thread), `reduce/group_by_merge`
//!   (the end of a group-by: merging the partials, ordering the groups and
//!   writing them) and
//!   `reduce/sorted_merge` (the k-way merge of sorted runs that ends a sort);
//! - `concat_csv`, `sort_csv` (by `amount:n:desc`), `group_by_csv` and
//!   `group_by_ndjson` (by `city`: `count`, `sum:amount`, `mean:amount`),
//!   each as `…/threads=T/chunk=C` over threads {1, 2} and chunk sizes
//!   {256KiB, 1MiB, 4MiB}.
//!
//! Throughput is the input file's size. Every timed iteration checks its
//! result (record counts, bytes, or the exact output), against a reference
//! that is itself checked once against what the generator knows, so that a
//! wrong fast path cannot look good.
//!
//! Run `cargo bench --bench pipeline -- group_by` to run a subset, and add
//! `--quick` for a rough figure.

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput};
use fanfold::__bench::{for_each_record, Chunk, GroupBy, ParseOptions, Sorted, Splitter};
use fanfold::{
    ChunkLimit, Encoder, Format, Input, Layout, Pipeline, Projection, ReduceSpec, Reducer, Setting,
    Sink,
};
use tempfile::TempDir;

/// Target size of the generated CSV, in bytes.
const CSV_TARGET_BYTES: usize = 20_000_000;

/// Worker thread counts swept by the pipeline benchmarks.
const THREADS: [usize; 2] = [1, 2];

/// Chunk sizes swept by the pipeline benchmarks.
const PIPELINE_CHUNKS: [(usize, &str); 3] =
    [(256 << 10, "256KiB"), (1 << 20, "1MiB"), (4 << 20, "4MiB")];

/// Chunk sizes for the splitter benchmark.
const SPLIT_CHUNKS: [(usize, &str); 3] =
    [(64 << 10, "64KiB"), (1 << 20, "1MiB"), (4 << 20, "4MiB")];

/// About 50 cities; a few need CSV quoting (a comma or a double quote).
const CITIES: [&str; 50] = [
    "Amsterdam",
    "Athens",
    "Auckland",
    "Bangkok",
    "Barcelona",
    "Berlin",
    "Bogota",
    "Boston",
    "Brussels",
    "Buenos Aires",
    "Cairo",
    "Cape Town",
    "Chicago",
    "Copenhagen",
    "Delhi",
    "Dubai",
    "Dublin",
    "Helsinki",
    "Hong Kong",
    "Istanbul",
    "Jakarta",
    "Johannesburg",
    "Kyiv",
    "Lagos",
    "Lima",
    "Lisbon",
    "London",
    "Los Angeles",
    "Madrid",
    "Manila",
    "Melbourne",
    "Mexico City",
    "Montreal",
    "Mumbai",
    "Nairobi",
    "Oslo",
    "Paris",
    "Paris, TX",
    "Portland, ME",
    "Portland, OR",
    "Prague",
    "Rome",
    "Saint-Louis \"Ndar\"",
    "Santiago",
    "Seoul",
    "Singapore",
    "Stockholm",
    "Tokyo",
    "Vienna",
    "Washington, D.C.",
];

const CATEGORIES: [&str; 8] =
    ["books", "electronics", "garden", "grocery", "home", "sports", "toys", "clothing"];

/// Short notes, some with a comma (quoted in CSV).
const SHORT_NOTES: [&str; 5] =
    ["gift", "fragile, handle with care", "express", "leave with neighbour", "no invoice"];

/// Notes with a newline (a quoted newline in CSV), about 1% of rows.
const MULTILINE_NOTES: [&str; 3] = [
    "call before delivery\nleave at the back door",
    "gift wrap\nno price tag",
    "second attempt\n\"ring twice\"",
];

/// The generated data set, on disk for the life of the benchmarks.
struct Fixture {
    /// Keeps the files alive; removed when the fixture is dropped.
    _dir: TempDir,
    csv: PathBuf,
    csv_len: u64,
    csv_header_len: u64,
    ndjson: PathBuf,
    ndjson_len: u64,
    rows: u64,
    /// Per city: rows and the sum of `amount` in cents.
    groups: BTreeMap<String, (u64, i64)>,
    /// Sum of `amount` over all rows, in cents.
    total_cents: i64,
}

/// SplitMix64: a small deterministic generator, enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// `(year, month, day)` of a day count since 1970-01-01 (proleptic
/// Gregorian; Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// An RFC 3339 UTC timestamp for seconds since the epoch.
fn timestamp(secs: i64) -> String {
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

/// Appends a CSV field, quoted only where needed.
fn push_csv_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serializes")
}

impl Fixture {
    /// Generates the rows and writes `sales.csv` and `sales.ndjson`.
    fn new() -> Fixture {
        let mut rng = Rng(0xFA4F_01D0);
        let header = "id,ts,user,city,category,amount,qty,note\n";
        let mut csv = String::with_capacity(CSV_TARGET_BYTES + 4096);
        let mut ndjson = String::with_capacity(CSV_TARGET_BYTES * 2);
        csv.push_str(header);
        let mut groups: BTreeMap<String, (u64, i64)> = BTreeMap::new();
        let mut total_cents = 0i64;
        let mut id = 0u64;
        let start = 1_704_067_200i64; // 2024-01-01T00:00:00Z
        while csv.len() < CSV_TARGET_BYTES {
            id += 1;
            let ts = timestamp(start + id as i64 * 97 + rng.below(60) as i64);
            let user = format!("u{:05}", rng.below(20_000));
            // Skewed towards the first cities, like real traffic.
            let city = CITIES[rng.below(CITIES.len()).min(rng.below(CITIES.len()) + 10)];
            let category = CATEGORIES[rng.below(CATEGORIES.len())];
            let cents = 50 + rng.below(99_950) as i64; // 0.50 ..= 999.99
            let amount = format!("{}.{:02}", cents / 100, cents % 100);
            let qty = 1 + rng.below(9);
            let note = match rng.below(100) {
                0 => MULTILINE_NOTES[rng.below(MULTILINE_NOTES.len())],
                1..=9 => SHORT_NOTES[rng.below(SHORT_NOTES.len())],
                _ => "",
            };

            for (i, field) in [
                id.to_string().as_str(),
                &ts,
                &user,
                city,
                category,
                &amount,
                &qty.to_string(),
                note,
            ]
            .into_iter()
            .enumerate()
            {
                if i > 0 {
                    csv.push(',');
                }
                push_csv_field(&mut csv, field);
            }
            csv.push('\n');

            ndjson.push_str(&format!(
                "{{\"id\":{id},\"ts\":\"{ts}\",\"user\":\"{user}\",\"city\":{},\
                 \"category\":\"{category}\",\"amount\":{amount},\"qty\":{qty},\"note\":{}}}\n",
                json_string(city),
                json_string(note),
            ));

            let g = groups.entry(city.to_string()).or_default();
            g.0 += 1;
            g.1 += cents;
            total_cents += cents;
        }

        let dir = tempfile::tempdir().expect("create a temporary directory");
        let csv_path = dir.path().join("sales.csv");
        let ndjson_path = dir.path().join("sales.ndjson");
        fs::write(&csv_path, &csv).expect("write sales.csv");
        fs::write(&ndjson_path, &ndjson).expect("write sales.ndjson");
        Fixture {
            _dir: dir,
            csv: csv_path,
            csv_len: csv.len() as u64,
            csv_header_len: header.len() as u64,
            ndjson: ndjson_path,
            ndjson_len: ndjson.len() as u64,
            rows: id,
            groups,
            total_cents,
        }
    }
}

/// A pipeline over one file with the given parallelism and chunk size.
fn pipeline(
    path: &Path,
    format: Format,
    threads: usize,
    chunk: usize,
    reduce: ReduceSpec,
) -> Pipeline {
    Pipeline::builder()
        .input(Input::Path(path.to_path_buf()))
        .input_format(format)
        .chunk(ChunkLimit::Bytes(chunk))
        .threads(threads)
        .max_in_flight(2 * threads)
        .reduce(reduce)
        .build()
        .expect("valid settings")
}

/// The group-by all group-by benchmarks run: by city, count, sum and mean.
fn group_by_city() -> ReduceSpec {
    ReduceSpec::GroupBy {
        keys: vec!["city".into()],
        aggs: ["count", "sum:amount", "mean:amount"]
            .into_iter()
            .map(|a| a.parse().expect("a valid aggregate"))
            .collect(),
    }
}

/// Parses a decimal with at most two fraction digits into cents.
fn cents(text: &[u8]) -> i64 {
    let s = std::str::from_utf8(text).expect("an ASCII amount");
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let frac = format!("{frac:0<2}");
    assert_eq!(frac.len(), 2, "amount `{s}` has more than two decimals");
    whole.parse::<i64>().expect("integer part") * 100 + frac.parse::<i64>().expect("cents")
}

/// Checks one group's output against the generator's count and sum.
fn check_group(fx: &Fixture, city: &str, count: u64, sum: f64, mean: f64) {
    let (want_count, want_cents) = fx.groups[city];
    assert_eq!(count, want_count, "count for {city}");
    let want_sum = want_cents as f64 / 100.0;
    assert!((sum - want_sum).abs() <= 1e-9 * want_sum, "sum for {city}: {sum} != {want_sum}");
    let want_mean = want_sum / want_count as f64;
    assert!((mean - want_mean).abs() <= 1e-9 * want_mean, "mean for {city}: {mean} != {want_mean}");
}

/// What every timed run of one pipeline benchmark must produce.
enum Expect {
    /// Output thrown away; these counts must match.
    Stats { records_written: u64, bytes_written: u64 },
    /// Output kept; these exact bytes (and this many records).
    Output { records_written: u64, bytes: Vec<u8> },
}

/// Benchmarks one reducer over threads × chunk sizes as group `name`.
///
/// `reference` runs once, lazily (only when a benchmark of the group passes
/// the filter), checks a reference run thoroughly and returns what every
/// timed run must match.
fn sweep(
    c: &mut Criterion,
    name: &str,
    (path, format, input_len): (&Path, Format, u64),
    rows: u64,
    reduce: &ReduceSpec,
    reference: &dyn Fn() -> Expect,
) {
    let mut group = c.benchmark_group(name);
    group.sampling_mode(SamplingMode::Flat).throughput(Throughput::Bytes(input_len));
    let expect: OnceCell<Expect> = OnceCell::new();
    let mut out = Vec::new();
    for threads in THREADS {
        for (chunk, chunk_name) in PIPELINE_CHUNKS {
            let p = pipeline(path, format, threads, chunk, reduce.clone());
            let id = BenchmarkId::new(format!("threads={threads}"), format!("chunk={chunk_name}"));
            group.bench_function(id, |b| match expect.get_or_init(reference) {
                Expect::Stats { records_written, bytes_written } => b.iter(|| {
                    let stats = p.run(&mut io::sink(), "<sink>").expect("pipeline runs");
                    assert_eq!(stats.bytes_read, input_len);
                    assert_eq!(stats.records_read, rows);
                    assert_eq!(stats.records_written, *records_written);
                    assert_eq!(stats.bytes_written, *bytes_written);
                }),
                Expect::Output { records_written, bytes } => b.iter(|| {
                    out.clear();
                    let stats = p.run(&mut out, "<memory>").expect("pipeline runs");
                    assert_eq!(stats.bytes_read, input_len);
                    assert_eq!(stats.records_read, rows);
                    assert_eq!(stats.records_written, *records_written);
                    assert!(out == *bytes, "output differs from the reference run");
                }),
            });
        }
    }
    group.finish();
}

/// Runs `reduce` once on one thread with default chunks, into memory.
fn reference_run(path: &Path, format: Format, reduce: ReduceSpec) -> (u64, Vec<u8>) {
    let p = pipeline(path, format, 1, fanfold::DEFAULT_CHUNK_BYTES, reduce);
    let mut out = Vec::new();
    let stats = p.run(&mut out, "<memory>").expect("reference run");
    assert_eq!(stats.bytes_written, out.len() as u64);
    (stats.records_written, out)
}

/// The splitter alone: header, then every chunk of the CSV.
fn bench_split(c: &mut Criterion, fx: &Fixture) {
    let mut group = c.benchmark_group("split_csv");
    group.sampling_mode(SamplingMode::Flat).throughput(Throughput::Bytes(fx.csv_len));
    let body_len = fx.csv_len - fx.csv_header_len;
    for (chunk, chunk_name) in SPLIT_CHUNKS {
        group.bench_function(BenchmarkId::from_parameter(format!("chunk={chunk_name}")), |b| {
            b.iter(|| {
                let input = vec![Input::Path(fx.csv.clone())];
                let mut splitter =
                    Splitter::new(input, Format::Csv, b',', ChunkLimit::Bytes(chunk));
                let header = splitter.header().expect("header").expect("a non-empty input");
                assert_eq!(header.len(), 8);
                let (mut chunks, mut bytes) = (0u64, 0u64);
                while let Some(ch) = splitter.next_chunk().expect("split") {
                    assert_eq!(ch.seq, chunks);
                    assert_eq!(ch.data.last(), Some(&b'\n'));
                    chunks += 1;
                    bytes += ch.data.len() as u64;
                }
                assert_eq!(bytes, body_len);
                assert_eq!(splitter.bytes_read(), fx.csv_len);
                // Every chunk but the last reaches the target size.
                assert!(chunks <= body_len.div_ceil(chunk as u64));
                chunks
            });
        });
    }
    group.finish();
}

fn bench_concat(c: &mut Criterion, fx: &Fixture) {
    let reference = || {
        let (records, out) = reference_run(&fx.csv, Format::Csv, ReduceSpec::Concat);
        assert_eq!(records, fx.rows);
        // Minimal quoting in, minimal quoting out: the input comes back.
        assert!(out == fs::read(&fx.csv).expect("read sales.csv"), "concat changed the CSV");
        Expect::Stats { records_written: records, bytes_written: out.len() as u64 }
    };
    let input = (fx.csv.as_path(), Format::Csv, fx.csv_len);
    sweep(c, "concat_csv", input, fx.rows, &ReduceSpec::Concat, &reference);
}

fn bench_sort(c: &mut Criterion, fx: &Fixture) {
    let reduce = ReduceSpec::Sort(vec!["amount:n:desc".parse().expect("a valid sort key")]);
    let reference = || {
        let (records, out) = reference_run(&fx.csv, Format::Csv, reduce.clone());
        assert_eq!(records, fx.rows);
        // A stable sort by amount, descending: (amount desc, id asc), all
        // rows there.
        let mut rdr = csv::ReaderBuilder::new().from_reader(out.as_slice());
        let mut prev: Option<(i64, u64)> = None;
        let (mut n, mut total) = (0u64, 0i64);
        let mut rec = csv::ByteRecord::new();
        while rdr.read_byte_record(&mut rec).expect("valid CSV output") {
            let amount = cents(&rec[5]);
            let id: u64 = std::str::from_utf8(&rec[0]).expect("id").parse().expect("id");
            if let Some((pa, pid)) = prev {
                assert!(amount < pa || (amount == pa && id > pid), "not sorted at id {id}");
            }
            prev = Some((amount, id));
            n += 1;
            total += amount;
        }
        assert_eq!((n, total), (fx.rows, fx.total_cents));
        Expect::Stats { records_written: records, bytes_written: out.len() as u64 }
    };
    let input = (fx.csv.as_path(), Format::Csv, fx.csv_len);
    sweep(c, "sort_csv", input, fx.rows, &reduce, &reference);
}

fn bench_group_by_csv(c: &mut Criterion, fx: &Fixture) {
    let reference = || {
        let (records, out) = reference_run(&fx.csv, Format::Csv, group_by_city());
        assert_eq!(records, fx.groups.len() as u64);
        let mut rdr = csv::ReaderBuilder::new().from_reader(out.as_slice());
        let header = rdr.headers().expect("a header").clone();
        assert_eq!(
            header.iter().collect::<Vec<_>>(),
            ["city", "count", "sum_amount", "mean_amount"]
        );
        let mut seen = 0;
        for row in rdr.records() {
            let row = row.expect("valid CSV output");
            let num = |i: usize| row[i].parse::<f64>().expect("a number");
            check_group(fx, &row[0], row[1].parse().expect("a count"), num(2), num(3));
            seen += 1;
        }
        assert_eq!(seen, fx.groups.len());
        Expect::Output { records_written: records, bytes: out }
    };
    let input = (fx.csv.as_path(), Format::Csv, fx.csv_len);
    sweep(c, "group_by_csv", input, fx.rows, &group_by_city(), &reference);
}

fn bench_group_by_ndjson(c: &mut Criterion, fx: &Fixture) {
    let reference = || {
        let (records, out) = reference_run(&fx.ndjson, Format::Ndjson, group_by_city());
        assert_eq!(records, fx.groups.len() as u64);
        let mut seen = 0;
        for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let v: serde_json::Value = serde_json::from_slice(line).expect("valid NDJSON output");
            let num = |k: &str| v[k].as_f64().unwrap_or_else(|| panic!("`{k}` in {v}"));
            let city = v["city"].as_str().expect("a city");
            let count = v["count"].as_u64().expect("a count");
            check_group(fx, city, count, num("sum_amount"), num("mean_amount"));
            seen += 1;
        }
        assert_eq!(seen, fx.groups.len());
        Expect::Output { records_written: records, bytes: out }
    };
    let input = (fx.ndjson.as_path(), Format::Ndjson, fx.ndjson_len);
    sweep(c, "group_by_ndjson", input, fx.rows, &group_by_city(), &reference);
}

/// Cuts `path` into 4 MiB chunks once, outside any timed code.
fn chunks_of(path: &Path, format: Format) -> (Vec<String>, Vec<Chunk>) {
    let mut splitter = Splitter::new(
        vec![Input::Path(path.to_path_buf())],
        format,
        b',',
        ChunkLimit::Bytes(4 << 20),
    );
    let header = splitter.header().expect("header").expect("a non-empty input");
    let mut chunks = Vec::new();
    while let Some(c) = splitter.next_chunk().expect("split") {
        chunks.push(c);
    }
    (header, chunks)
}

fn parse_options(format: Format, header: &[String]) -> ParseOptions {
    ParseOptions {
        format,
        delimiter: b',',
        header_len: header.len(),
        input_names: vec!["bench".to_string()],
        comment: None,
        comment_lines: Default::default(),
    }
}

fn bench_parse(c: &mut Criterion, fx: &Fixture) {
    let mut group = c.benchmark_group("parse");
    group.sampling_mode(SamplingMode::Flat);
    for (name, path, format, len) in [
        ("csv", &fx.csv, Format::Csv, fx.csv_len),
        ("ndjson", &fx.ndjson, Format::Ndjson, fx.ndjson_len),
    ] {
        let (header, chunks) = chunks_of(path, format);
        let opts = parse_options(format, &header);
        group.throughput(Throughput::Bytes(len));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut n = 0;
                for chunk in &chunks {
                    n += for_each_record(chunk, &opts, |_| Ok(())).expect("parse");
                }
                assert_eq!(n, fx.rows);
                n
            })
        });
    }
    group.finish();
}

/// The group-by of the pipeline benches (city: count, sum and mean of
/// amount), built from the library's parts.
fn group_by_reducer(header: &[String]) -> GroupBy {
    let layout = Layout::new(&Projection::default(), header, false, false).expect("layout");
    let encoder = Encoder::new(Format::Csv, b',', layout.clone(), Vec::new());
    let city = layout.resolve(Setting::GroupBy, "city").expect("city");
    let amount = layout.resolve(Setting::Agg, "amount").expect("amount");
    let aggs = ["count", "sum:amount", "mean:amount"]
        .iter()
        .map(|s| {
            let spec: fanfold::AggSpec = s.parse().expect("spec");
            let col = spec.column.as_ref().map(|_| amount.clone());
            (spec, col)
        })
        .collect();
    GroupBy::new(vec![city], aggs, encoder, Vec::new())
}

fn fold_all<R: Reducer>(reducer: &R, chunks: &[Chunk], opts: &ParseOptions) -> Vec<R::Partial> {
    chunks
        .iter()
        .map(|chunk| {
            let mut partial = reducer.empty();
            for_each_record(chunk, opts, |r| reducer.fold(&mut partial, r)).expect("fold");
            reducer.seal(&mut partial).expect("seal");
            partial
        })
        .collect()
}

fn bench_reduce(c: &mut Criterion, fx: &Fixture) {
    let mut group = c.benchmark_group("reduce");
    group.sampling_mode(SamplingMode::Flat).throughput(Throughput::Bytes(fx.csv_len));
    let (header, chunks) = chunks_of(&fx.csv, Format::Csv);
    let opts = parse_options(Format::Csv, &header);
    let gb = group_by_reducer(&header);
    // A fresh reducer per iteration: a group-by keeps its workers' tables
    // until it finishes.
    group.bench_function("group_by_fold", |b| {
        b.iter(|| {
            let gb = gb.clone();
            let partials = fold_all(&gb, &chunks, &opts);
            assert_eq!(partials.len(), chunks.len());
            (gb, partials)
        })
    });
    group.bench_function("group_by_merge", |b| {
        b.iter_batched(
            || {
                let gb = gb.clone();
                let partials = fold_all(&gb, &chunks, &opts);
                (gb, partials)
            },
            |(gb, partials)| {
                let mut total = gb.empty();
                for p in partials {
                    gb.merge(&mut total, p).expect("merge");
                }
                let mut out = Vec::new();
                gb.finish(total, &mut Sink::new(&mut out, "bench")).expect("finish");
                assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), fx.groups.len());
                out
            },
            BatchSize::LargeInput,
        )
    });
    let layout = Layout::new(&Projection::default(), &header, false, false).expect("layout");
    let key = layout.resolve(Setting::SortBy, "amount").expect("amount");
    let encoder =
        Encoder::new(Format::Csv, b',', layout, Vec::new()).with_csv_input(b',', header.len());
    let sorted =
        Sorted::new(vec![(key, "amount:n:desc".parse().expect("spec"))], encoder, Vec::new());
    group.bench_function("sorted_merge", |b| {
        b.iter_batched(
            || fold_all(&sorted, &chunks, &opts),
            |partials| {
                let mut total = sorted.empty();
                for p in partials {
                    sorted.merge(&mut total, p).expect("merge");
                }
                let mut out = Vec::new();
                let mut sink = Sink::new(&mut out, "bench");
                sorted.finish(total, &mut sink).expect("finish");
                assert_eq!(sink.records(), fx.rows);
                out.len()
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn main() {
    let fx = Fixture::new();
    eprintln!(
        "data set: {} rows, {} groups; CSV {} bytes, NDJSON {} bytes",
        fx.rows,
        fx.groups.len(),
        fx.csv_len,
        fx.ndjson_len
    );
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    bench_split(&mut c, &fx);
    bench_parse(&mut c, &fx);
    bench_reduce(&mut c, &fx);
    bench_concat(&mut c, &fx);
    bench_sort(&mut c, &fx);
    bench_group_by_csv(&mut c, &fx);
    bench_group_by_ndjson(&mut c, &fx);
    c.final_summary();
}
