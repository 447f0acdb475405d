//! Parsing a chunk's bytes into [`Record`]s, on a worker thread.
//!
//! CSV/TSV chunks take a fast path for the common record: unquoted fields,
//! and quoted fields without a doubled quote, are cut in place by
//! `memchr`-driven scans, with no copy. Anything else (a doubled quote, a
//! quote inside an unquoted field, text after a closing quote, a bare `\r`)
//! goes to `csv-core`, the `csv` crate's RFC 4180 parser. Both paths give
//! exactly the fields the `csv` crate gives (a unit test and the property
//! tests compare them). Every record must have as many fields as the header.
//! Nothing is allocated per record.
//!
//! NDJSON chunks are split on `\n` here and each line is parsed on its own
//! into a reused vector of key/raw-value pairs, keys borrowed unless
//! escaped, so one bad line names its own line and column. A flat object
//! (scalar values, plain keys) is read by the fast path in
//! `syntax::flat_object`; anything else, bad lines included, by
//! `serde_json` (into `RawValue`s), which names the error. Values are kept
//! as raw JSON text, so a value no transform touched is written back
//! exactly as it was read. Arrays and objects may nest 127
//! deep, as in `serde_json`'s own values (a jq transform converts them
//! recursively); a line of JSON whitespace only is blank and skipped.
//!
//! JSON array chunks hold whole elements (the splitter cut them between
//! elements and checked the brackets and commas): each element is parsed
//! like an NDJSON line, into the same key/value pairs, from its `{` to the
//! `}` where the parser stops. A record's line is the line where its element
//! starts; a parse error names the line and column of the bad byte.
//!
//! One file a format: `csv.rs`, `ndjson.rs`, `json_array.rs`; `bad_record.rs`
//! routes record errors.

mod bad_record;
mod csv;
mod json_array;
mod ndjson;
mod options;

pub use bad_record::BadRecord;
pub use options::ParseOptions;

use crate::error::{Error, Result};
use crate::format::Format;
use crate::record::Record;
use crate::source::Chunk;

/// Calls `f` for every record of `chunk`, in order.
///
/// # Errors
/// A malformed CSV record, a CSV record whose field count differs from the
/// header's, an NDJSON line or a JSON array element that is not a JSON
/// object, each naming the input and line; and any error `f` returns.
pub fn for_each_record(
    chunk: &Chunk,
    opts: &ParseOptions,
    f: impl FnMut(&Record<'_>) -> Result<()>,
) -> Result<u64> {
    for_each_record_or(chunk, opts, f, &mut |e, _| Err(e))
}

/// Like [`for_each_record`], but a record that cannot be parsed, or for
/// which `f` returns a record error ([`Error::is_record_error`]), goes to
/// `bad` with its error; parsing goes on after it when `bad` returns `Ok`.
/// Returns the number of records read, bad ones included.
///
/// # Errors
/// What `f` or `bad` return.
pub fn for_each_record_or(
    chunk: &Chunk,
    opts: &ParseOptions,
    f: impl FnMut(&Record<'_>) -> Result<()>,
    bad: &mut dyn FnMut(Error, BadRecord<'_>) -> Result<()>,
) -> Result<u64> {
    let input = opts.input_names.get(chunk.input).map_or("<input>", String::as_str);
    match opts.format {
        Format::Csv | Format::Tsv => csv::records(chunk, opts, input, f, bad),
        Format::Ndjson => ndjson::records(chunk, input, f, bad),
        Format::Json => json_array::records(chunk, input, f, bad),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Field;
    use crate::syntax::json_object::json_element_keys;

    fn opts(format: Format, header_len: usize) -> ParseOptions {
        ParseOptions {
            format,
            delimiter: b',',
            header_len,
            input_names: vec!["in".into()],
            comment: None,
            comment_lines: Default::default(),
        }
    }

    #[test]
    fn csv_lines_are_absolute() {
        let chunk = chunk_at(10, 1, b"1,\"a\nb\"\n2,c\n");
        let mut seen = Vec::new();
        for_each_record(&chunk, &opts(Format::Csv, 2), |r| {
            seen.push(r.line());
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec![10, 12]);
    }

    /// The fast path and the csv-core fallback give exactly the fields the
    /// `csv` crate gives, on the awkward cases.
    #[test]
    fn csv_paths_agree_with_the_csv_crate() {
        let cases: &[&[u8]] = &[
            b"a,b\n\nc,d\n",
            b"a,b\r\nc,d\r\n",
            b"a,b\rc,d\n",
            b"a\"x,b\nc,\"d\"\"e\"\n",
            b"\"q\nr\",s\n\"t\"u,v\n",
            b"a,\"b\"",
            b"a,b",
            b"\"x\",\"\"\r\n\r\ny,z",
            b",\n,\n",
            b"\"a,b\",c\n\"multi\nline\",\"\"\n",
            b"\"x\"\"y\",z\n\"x\"y,z\n",
            b"\"x\",y\r\n,\"\"",
            b"a,\"b\",\n\"c\",,",
            b"\"open\n",
        ];
        for data in cases {
            let mut expected = Vec::new();
            let mut rdr =
                ::csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(*data);
            for rec in rdr.byte_records() {
                let rec = rec.unwrap();
                expected.push(rec.iter().map(<[u8]>::to_vec).collect::<Vec<_>>());
            }
            let chunk = chunk_at(1, 1, data);
            let mut got = Vec::new();
            let width = expected.first().map_or(2, Vec::len);
            for_each_record(&chunk, &opts(Format::Csv, width), |r| {
                let mut fields = Vec::new();
                r.for_each_field(|_, f| fields.push(f.text().unwrap().to_vec()));
                got.push(fields);
                Ok(())
            })
            .unwrap();
            assert_eq!(got, expected, "{:?}", String::from_utf8_lossy(data));
        }
    }

    /// A fresh csv-core reader skips a UTF-8 BOM; inside a chunk a BOM is
    /// data, on the fast path and the full parser alike.
    #[test]
    fn csv_bom_inside_a_chunk_is_data() {
        let data = b"\xEF\xBB\xBF\"x\",1\n\xEF\xBB\xBFy,2\n".to_vec();
        let chunk = chunk_at(1, 1, &data);
        let mut got = Vec::new();
        for_each_record(&chunk, &opts(Format::Csv, 2), |r| {
            r.for_each_field(|_, f| got.push(f.text().unwrap().to_vec()));
            Ok(())
        })
        .unwrap();
        let want: [&[u8]; 4] = [b"\xEF\xBB\xBF\"x\"", b"1", b"\xEF\xBB\xBFy", b"2"];
        assert_eq!(got, want);
    }

    /// A last record without a line end, read by the full parser, keeps
    /// every field, however many: when its last field is empty, the end of
    /// the chunk ends the record just as the buffer of field ends may be
    /// full.
    #[test]
    fn csv_wide_last_record_without_terminator() {
        for width in 2..140 {
            let mut data = b"\"a\"\"b\"".to_vec();
            for i in 1..width - 1 {
                data.extend_from_slice(format!(",{i}").as_bytes());
            }
            data.push(b',');
            let chunk = chunk_at(1, 1, &data);
            let mut got = Vec::new();
            let n = for_each_record(&chunk, &opts(Format::Csv, width), |r| {
                r.for_each_field(|_, f| got.push(f.text().unwrap().to_vec()));
                Ok(())
            })
            .unwrap();
            let mut want = vec![b"a\"b".to_vec()];
            want.extend((1..width - 1).map(|i| i.to_string().into_bytes()));
            want.push(Vec::new());
            assert_eq!((n, got), (1, want), "{width} fields");
        }
    }

    #[test]
    fn csv_field_count_error_names_line() {
        let chunk = chunk_at(2, 1, b"1,2\n1,2,3\n");
        let err = for_each_record(&chunk, &opts(Format::Csv, 2), |_| Ok(())).unwrap_err();
        assert_eq!(err.to_string(), "in:3: expected 2 fields (as in the header), found 3");
    }

    #[test]
    fn ndjson_skips_blank_lines_and_reports_bad_ones() {
        let data = b"{\"a\":1}\n\n{\"a\":\"x\"}\n{\"a\":\n".to_vec();
        let chunk = chunk_at(1, 1, &data);
        let mut vals = Vec::new();
        let err = for_each_record(&chunk, &opts(Format::Ndjson, 0), |r| {
            let f = r.get_source(&crate::record::Source::Key("a".into()));
            vals.push(matches!(f, Field::JsonOther(b"1")) as u8);
            Ok(())
        })
        .unwrap_err();
        assert_eq!(vals, vec![1, 0]);
        assert!(err.to_string().starts_with("in:4:"), "{err}");
    }

    #[test]
    fn ndjson_non_object_is_an_error() {
        let chunk = chunk_at(1, 1, b"[1,2]\n");
        let err = for_each_record(&chunk, &opts(Format::Ndjson, 0), |_| Ok(())).unwrap_err();
        assert!(err.to_string().contains("a JSON object"), "{err}");
    }

    /// A chunk of `data` starting at `first_line`, `first_column`.
    fn chunk_at(first_line: u64, first_column: u64, data: &[u8]) -> Chunk {
        Chunk { seq: 0, input: 0, first_line, first_column, offset: 0, data: data.to_vec() }
    }

    #[test]
    fn array_elements_keep_their_start_lines() {
        let data =
            b"[\n  {\n    \"a\": 1,\n    \"s\": \"x]}\"\n  },\n  {\"a\": [2, {}]}, {\"a\":3}\n]\n";
        let mut seen = Vec::new();
        let n = for_each_record(&chunk_at(4, 1, data), &opts(Format::Json, 0), |r| {
            let a = r.get_source(&crate::record::Source::Key("a".into()));
            seen.push((r.line(), a.text().unwrap().into_owned()));
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 3);
        let want: Vec<(u64, Vec<u8>)> =
            vec![(5, b"1".to_vec()), (9, b"[2, {}]".to_vec()), (9, b"3".to_vec())];
        assert_eq!(seen, want);
    }

    #[test]
    fn array_element_errors_name_line_and_column() {
        let err = |first_column: u64, data: &[u8]| {
            for_each_record(&chunk_at(7, first_column, data), &opts(Format::Json, 0), |_| Ok(()))
                .unwrap_err()
                .to_string()
        };
        // On the element's first line the column counts from the chunk's.
        assert_eq!(err(1, b",{\"a\" 1}"), "in:7:7: invalid JSON: expected `:`");
        assert_eq!(err(30, b",{\"a\" 1}"), "in:7:36: invalid JSON: expected `:`");
        // On a later line it is the parser's, from the line start.
        assert_eq!(err(30, b",\n {\n\"a\" 1}"), "in:9:5: invalid JSON: expected `:`");
        // Chunks not from the splitter are still checked, not trusted.
        assert!(err(1, b"[1]").starts_with("in:7:2: invalid JSON: array element is not"));
        assert_eq!(err(1, b"[{\"a\":[}"), "in:7:8: invalid JSON: expected value");
        assert_eq!(err(1, b"[{\"a\":1"), "in:7:7: invalid JSON: EOF while parsing an object");
    }

    #[test]
    fn array_element_keys_match_the_workers_errors() {
        let data = b"[\n  {\"a\":1, \"b\":2}]";
        assert_eq!(json_element_keys(data, 4, 18, 1, 1, "in").unwrap(), vec!["a", "b"]);
        let bad = b"[\n  {\"a\":1 \"b\":2}]";
        let from_keys = json_element_keys(bad, 4, 17, 1, 1, "in").unwrap_err().to_string();
        let from_worker = for_each_record(&chunk_at(1, 1, bad), &opts(Format::Json, 0), |_| Ok(()))
            .unwrap_err()
            .to_string();
        assert_eq!(from_keys, from_worker);
        assert_eq!(from_keys, "in:2:10: invalid JSON: expected `,` or `}`");
    }
}
