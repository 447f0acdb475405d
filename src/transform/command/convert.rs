//! Records to and from the formats they travel in to a per-chunk command:
//! the chain's NDJSON as CSV/TSV with a header line ([`ndjson_to_csv`]) and
//! back ([`csv_to_ndjson`]), and the check of what a command printed as
//! NDJSON ([`check_ndjson`]).

use std::collections::HashMap;

use crate::record::Field;
use crate::syntax::csv::write_csv_field;
use crate::syntax::json::{write_compact_json, write_json_string};
use crate::syntax::json_object::object_pairs;

/// NDJSON objects (one per line) as CSV with a header line: the union of
/// the keys in first-seen order. Strings are written unquoted (CSV-quoted
/// where needed), `null` and missing keys as empty fields, other values as
/// compact JSON.
pub(crate) fn ndjson_to_csv(records: &[u8], delimiter: u8) -> std::result::Result<Vec<u8>, String> {
    let text = std::str::from_utf8(records).map_err(|e| format!("records are not UTF-8: {e}"))?;
    let mut rows = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut pairs = Vec::new();
        object_pairs(line, &mut pairs).map_err(|e| format!("a record is not JSON: {e}"))?;
        for (k, _) in &pairs {
            if !index.contains_key(k.as_ref()) {
                index.insert(k.to_string(), keys.len());
                keys.push(k.to_string());
            }
        }
        rows.push(pairs);
    }
    let mut out = Vec::with_capacity(records.len());
    write_row(&mut out, keys.iter().map(|k| k.as_bytes().to_vec()), delimiter);
    let mut values: Vec<Vec<u8>> = vec![Vec::new(); keys.len()];
    for pairs in rows {
        values.iter_mut().for_each(Vec::clear);
        for (k, v) in pairs {
            let Some(&i) = index.get(k.as_ref()) else { continue };
            let raw = v.as_bytes();
            let slot = &mut values[i];
            slot.clear();
            match raw.first() {
                Some(b'"') => {
                    if let Some(t) = Field::JsonString(raw).text() {
                        slot.extend_from_slice(&t);
                    }
                }
                Some(b'n') => {}
                _ => write_compact_json(slot, raw),
            }
        }
        write_row(&mut out, values.iter().cloned(), delimiter);
    }
    Ok(out)
}

/// Appends one CSV row; a row of one empty field is written `""`, so that
/// it is not read back as a blank line.
fn write_row(out: &mut Vec<u8>, fields: impl Iterator<Item = Vec<u8>>, delimiter: u8) {
    let start = out.len();
    let mut n = 0;
    for (i, f) in fields.enumerate() {
        if i > 0 {
            out.push(delimiter);
        }
        write_csv_field(out, &f, delimiter);
        n += 1;
    }
    if n == 1 && out.len() == start {
        out.extend_from_slice(b"\"\"");
    }
    out.push(b'\n');
}

/// The CSV a command printed (header line first) as NDJSON lines; each
/// field goes through `write_field` (number inference, empty as null).
pub(crate) fn csv_to_ndjson(
    out: &[u8],
    delimiter: u8,
    write_field: &dyn Fn(&mut Vec<u8>, &[u8]),
) -> std::result::Result<Vec<u8>, String> {
    let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).from_reader(out);
    let header = reader.byte_headers().map_err(|e| format!("its output is not CSV: {e}"))?.clone();
    let mut keys = Vec::with_capacity(header.len());
    for h in &header {
        let k = std::str::from_utf8(h)
            .map_err(|_| "its output's header line is not UTF-8".to_string())?;
        let mut quoted = Vec::new();
        write_json_string(&mut quoted, k.as_bytes());
        keys.push(quoted);
    }
    let mut ndjson = Vec::with_capacity(out.len() * 2);
    let mut rec = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(format!("its output is not CSV: {e}")),
        }
        if std::str::from_utf8(rec.as_slice()).is_err() {
            let line = rec.position().map_or(0, |p| p.line());
            return Err(format!("its output is not UTF-8 (line {line})"));
        }
        ndjson.push(b'{');
        for (i, (k, v)) in keys.iter().zip(rec.iter()).enumerate() {
            if i > 0 {
                ndjson.push(b',');
            }
            ndjson.extend_from_slice(k);
            ndjson.push(b':');
            write_field(&mut ndjson, v);
        }
        ndjson.extend_from_slice(b"}\n");
    }
    Ok(ndjson)
}

/// The first 60 characters of `text`, with `…` when there is more: a bad
/// line as an error message shows it.
pub(crate) fn excerpt(text: &str) -> String {
    let mut shown: String = text.chars().take(60).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    shown
}

/// Checks that every non-blank line a command printed is a JSON object;
/// returns the lines without blank ones and line ends.
pub(crate) fn check_ndjson(out: Vec<u8>) -> std::result::Result<Vec<u8>, String> {
    let text = String::from_utf8(out).map_err(|e| format!("its output is not UTF-8: {e}"))?;
    let mut checked = Vec::with_capacity(text.len() + 1);
    let mut pairs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        pairs.clear();
        object_pairs(line, &mut pairs).map_err(|e| {
            format!("its output line {} is not a JSON object ({e}): `{}`", i + 1, excerpt(line))
        })?;
        checked.extend_from_slice(line.as_bytes());
        checked.push(b'\n');
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_both_ways() {
        let nd = b"{\"a\":\"x,y\",\"b\":1.50}\n{\"b\":null,\"c\":[1, 2]}\n";
        let csv = ndjson_to_csv(nd, b',').unwrap();
        assert_eq!(String::from_utf8(csv.clone()).unwrap(), "a,b,c\n\"x,y\",1.50,\n,,\"[1,2]\"\n");
        let plain = |out: &mut Vec<u8>, t: &[u8]| write_json_string(out, t);
        let back = csv_to_ndjson(&csv, b',', &plain).unwrap();
        assert_eq!(
            String::from_utf8(back).unwrap(),
            "{\"a\":\"x,y\",\"b\":\"1.50\",\"c\":\"\"}\n{\"a\":\"\",\"b\":\"\",\"c\":\"[1,2]\"}\n"
        );
        // One empty field is not a blank line.
        assert_eq!(ndjson_to_csv(b"{\"a\":null}\n", b',').unwrap(), b"a\n\"\"\n");
        assert!(csv_to_ndjson(b"a,b\n1\n", b',', &plain).is_err());
    }

    #[test]
    fn ndjson_output_is_checked() {
        assert_eq!(
            check_ndjson(b"{\"a\":1}\r\n\n {\"b\":2}\n".to_vec()).unwrap(),
            b"{\"a\":1}\n {\"b\":2}\n"
        );
        let e = check_ndjson(b"{\"a\":1}\n[1]\n".to_vec()).unwrap_err();
        assert!(e.starts_with("its output line 2 is not a JSON object"), "{e}");
    }
}
