//! CSV text (RFC 4180) at the byte level, as several stages need it: a
//! `csv-core` reader set up for fields inside a chunk, and quoting a
//! field for output.

/// A `csv-core` reader for `delimiter`, [`reset`].
pub(crate) fn new_core(delimiter: u8) -> csv_core::Reader {
    let mut core = csv_core::ReaderBuilder::new().delimiter(delimiter).build();
    reset(&mut core);
    core
}

/// Resets `core` to the start of a record, ready for any bytes. A fresh
/// `csv-core` reader skips a UTF-8 BOM before its first record; here its
/// first record is a record inside a chunk, whose bytes must all be kept
/// (the splitter has already skipped the input's BOM). An empty output
/// buffer makes the reader return before it looks at the input, but only
/// after it has noted that it has read.
pub(crate) fn reset(core: &mut csv_core::Reader) {
    core.reset();
    let _ = core.read_record(b"x", &mut [], &mut []);
}

/// Appends `field` quoted as RFC 4180 (§2.6, §2.7) requires: inside `"`
/// when it holds the delimiter, a quote, `\r` or `\n`, with `"` doubled.
/// Spaces are kept and not quoted, as the `csv` crate does.
pub fn write_csv_field(out: &mut Vec<u8>, field: &[u8], delimiter: u8) {
    let needs = field.iter().any(|&b| b == delimiter || b == b'"' || b == b'\n' || b == b'\r');
    if !needs {
        out.extend_from_slice(field);
        return;
    }
    out.push(b'"');
    for &b in field {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting_round_trips_through_the_csv_crate() {
        let fields: Vec<&[u8]> = vec![b"plain", b"a,b", b"say \"hi\"", b"two\nlines", b"", b" sp "];
        let mut out = Vec::new();
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_csv_field(&mut out, f, b',');
        }
        out.push(b'\n');
        let mut rdr = csv::ReaderBuilder::new().has_headers(false).from_reader(out.as_slice());
        let rec = rdr.byte_records().next().unwrap().unwrap();
        assert_eq!(rec.iter().collect::<Vec<_>>(), fields);
    }
}
