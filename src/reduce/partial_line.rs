//! Partial lines: a reducer's partial result written as text, one line per
//! key, for the map, combine and reduce steps of an engine that drives
//! programs through standard input and output (Hadoop Streaming, Spark's
//! `RDD.pipe`, Dask with a subprocess, mrjob).
//!
//! The contract those engines share is Hadoop Streaming's: a line is
//! `key<TAB>value`, the engine sorts the lines by key as plain bytes and
//! hands each key's lines together, in that order, to one reducer
//! program (Apache Hadoop, "Hadoop Streaming", *How Streaming Works*).
//! So a partial line is:
//!
//! ```text
//! KEY <TAB> p1.FINGERPRINT.PAYLOAD <LF>
//! ```
//!
//! - `KEY` is the reducer's sort key (`group_key::append_sort_key` for a
//!   group: its byte order is the output order), escaped into printable
//!   ASCII by an order-preserving code ([`escape_key`]), so the engine's
//!   byte sort puts the keys in fanfold's output order.
//! - `p1` is the version of this layout; a reader refuses any other.
//! - `FINGERPRINT` is 16 lowercase hex digits: a hash of the settings that
//!   shape the records and their aggregates (the pipeline's
//!   `partial_fingerprint`); partials of another pipeline are refused,
//!   naming both.
//! - `PAYLOAD` is the state in postcard, in unpadded URL-safe base64
//!   (RFC 4648, section 5): exact, with no rounding before the final step.
//!
//! Neither part holds a tab, a newline, a carriage return, a space or a
//! double quote, so the lines survive any line-based engine and read back
//! as two-column TSV.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::error::{ErrorKind, Location, Result};

/// The version tag of the layout written here.
pub(crate) const VERSION: &str = "p1";

/// Key bytes below this one are escaped with `!`.
const LOW_ESCAPED: u8 = 0x23;
/// Key bytes from this one up are escaped with `~`.
const HIGH_ESCAPED: u8 = 0x7e;

/// Appends `bytes` escaped into printable ASCII with no tab, newline,
/// space or `"`, keeping their order: for any byte strings `a` and `b`,
/// `escape(a)` sorts before `escape(b)` exactly when `a` sorts before `b`.
///
/// Each byte has its own code, the codes in the bytes' order and none
/// the start of another: bytes `00`-`22` are `!` then one character
/// (`@` for `00` up to `b` for `22`); `23`-`7d` are themselves; `7e`-`ff`
/// are `~` then two lowercase hex digits. (`!` sorts before every byte
/// kept as it is, `~` after, and lowercase hex digits sort as their
/// values.)
pub(crate) fn escape_key(bytes: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        if b < LOW_ESCAPED {
            out.extend_from_slice(&[b'!', b'@' + b]);
        } else if b >= HIGH_ESCAPED {
            out.extend_from_slice(&[b'~', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        } else {
            out.push(b);
        }
    }
}

/// The bytes [`escape_key`] escaped into `text`; `None` when `text` is not
/// such an escape.
pub(crate) fn unescape_key(text: &[u8]) -> Option<Vec<u8>> {
    let hex = |d: u8| match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        _ => None,
    };
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while let Some(&c) = text.get(i) {
        match c {
            b'!' => {
                let b = text.get(i + 1)?.checked_sub(b'@').filter(|&b| b < LOW_ESCAPED)?;
                out.push(b);
                i += 2;
            }
            b'~' => {
                let b = hex(*text.get(i + 1)?)? << 4 | hex(*text.get(i + 2)?)?;
                if b < HIGH_ESCAPED {
                    return None;
                }
                out.push(b);
                i += 3;
            }
            LOW_ESCAPED..HIGH_ESCAPED => {
                out.push(c);
                i += 1;
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Appends `n` so that byte order is number order and small numbers are
/// short: the count of its significant bytes, then those bytes,
/// big-endian (0 is one byte, `00`).
pub(crate) fn push_ordered_u64(out: &mut Vec<u8>, n: u64) {
    let skip = (n.leading_zeros() / 8) as usize;
    out.push((8 - skip) as u8);
    out.extend_from_slice(&n.to_be_bytes()[skip..]);
}

/// Appends one partial line: `sort_key` escaped, a tab, the version, the
/// `fingerprint` and `payload`, and a newline (see the module docs).
pub(crate) fn write_line(out: &mut Vec<u8>, sort_key: &[u8], fingerprint: u64, payload: &[u8]) {
    escape_key(sort_key, out);
    write_value(out, fingerprint, payload);
}

/// Appends what follows a partial line's escaped key: a tab, the version,
/// the `fingerprint` and `payload`, and a newline.
pub(crate) fn write_value(out: &mut Vec<u8>, fingerprint: u64, payload: &[u8]) {
    out.push(b'\t');
    out.extend_from_slice(VERSION.as_bytes());
    out.push(b'.');
    out.extend_from_slice(format!("{fingerprint:016x}").as_bytes());
    out.push(b'.');
    let start = out.len();
    out.resize(start + base64::encoded_len(payload.len(), false).unwrap_or(0), 0);
    let written = URL_SAFE_NO_PAD.encode_slice(payload, &mut out[start..]).unwrap_or(0);
    out.truncate(start + written);
    out.push(b'\n');
}

/// The key and payload of the partial line whose two fields are `key` and
/// `value`, read at `at`, checked against the `fingerprint` expected.
///
/// # Errors
/// [`ErrorKind::Partial`] naming `at` when the key is not an escaped key,
/// the value is not `version.fingerprint.payload`, the version is not
/// [`VERSION`], the fingerprint is not `fingerprint` (naming both), or
/// the payload is not base64.
pub(crate) fn read_line(
    key: &[u8],
    value: &[u8],
    fingerprint: u64,
    at: impl FnOnce() -> Location,
) -> Result<(Vec<u8>, Vec<u8>)> {
    let fail = |at: Location, message: String| Err(ErrorKind::Partial { at, message }.into());
    let mut parts = value.splitn(3, |&b| b == b'.');
    let (Some(version), Some(print), Some(payload)) = (parts.next(), parts.next(), parts.next())
    else {
        return fail(at(), "not a fanfold partial line (`KEY<TAB>p1.FINGERPRINT.STATE`)".into());
    };
    if version != VERSION.as_bytes() {
        let found = String::from_utf8_lossy(version);
        return fail(
            at(),
            format!(
                "partial of version `{found}`; this fanfold reads version `{VERSION}`: map \
                 and reduce with the same fanfold version"
            ),
        );
    }
    let expected = format!("{fingerprint:016x}");
    if print != expected.as_bytes() {
        let found = String::from_utf8_lossy(print);
        return fail(
            at(),
            format!(
                "partial of another pipeline (fingerprint {found}; this one's is {expected}): \
                 run every step with the same flags that shape records and aggregates \
                 (--group-by, --agg, --sort-by, --top, the transforms, --null, --no-infer)"
            ),
        );
    }
    let Some(key) = unescape_key(key) else {
        return fail(at(), "its key is not an escaped fanfold key".into());
    };
    match URL_SAFE_NO_PAD.decode(payload) {
        Ok(payload) => Ok((key, payload)),
        Err(e) => fail(at(), format!("its state is not base64: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn escaped(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        escape_key(bytes, &mut out);
        out
    }

    #[test]
    fn keys_stay_readable_and_hold_no_separator() {
        assert_eq!(escaped(b"AA"), b"AA");
        assert_eq!(escaped(b"a b\t\"\n"), b"a!`b!I!b!J");
        assert_eq!(escaped(&[0, 0x7e, 0xff]), b"!@~7e~ff");
        for b in 0..=255u8 {
            let e = escaped(&[b]);
            assert!(e.iter().all(|c| (0x21..0x7f).contains(c) && *c != b'"'), "{b}: {e:?}");
            assert_eq!(unescape_key(&e), Some(vec![b]));
        }
    }

    #[test]
    fn ordered_numbers_sort_as_numbers() {
        let bytes = |n| {
            let mut out = Vec::new();
            push_ordered_u64(&mut out, n);
            out
        };
        assert_eq!(bytes(0), [0]);
        assert_eq!(bytes(300), [2, 1, 44]);
        let ns = [0, 1, 255, 256, 65_535, 1 << 40, u64::MAX];
        for w in ns.windows(2) {
            assert!(bytes(w[0]) < bytes(w[1]), "{w:?}");
        }
    }

    #[test]
    fn bad_escapes_are_refused() {
        for bad in [&b"!"[..], b"!c", b"~7", b"~7d", b"~g0", b"a b", b"\t", b"\x7f"] {
            assert_eq!(unescape_key(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn lines_read_back_and_name_what_is_wrong() {
        let mut line = Vec::new();
        write_line(&mut line, b"\x02k\x00", 0xabc, b"\x00\x01state");
        let text = String::from_utf8(line.clone()).unwrap();
        assert_eq!(text, "!Bk!@\tp1.0000000000000abc.AAFzdGF0ZQ\n");
        let (key, value) = text.trim_end().split_once('\t').unwrap();
        let at = || Location { input: "parts".into(), line: 7 };
        let read = read_line(key.as_bytes(), value.as_bytes(), 0xabc, at).unwrap();
        assert_eq!(read, (b"\x02k\x00".to_vec(), b"\x00\x01state".to_vec()));
        let err = |k: &str, v: &str| {
            read_line(k.as_bytes(), v.as_bytes(), 0xabc, at).unwrap_err().to_string()
        };
        let e = err(key, "p1.0000000000000abd.AAFz");
        assert!(e.starts_with("parts:7: ") && e.contains("fingerprint 0000000000000abd"), "{e}");
        assert!(e.contains("this one's is 0000000000000abc"), "{e}");
        assert!(err(key, "p2.0000000000000abc.AAFz").contains("version `p2`"));
        assert!(err(key, "garbage").contains("not a fanfold partial line"));
        assert!(err(key, "p1.0000000000000abc.A*").contains("not base64"));
        assert!(err("~zz", value).contains("not an escaped"));
    }

    proptest! {
        #[test]
        fn escaping_keeps_byte_order(a in proptest::collection::vec(any::<u8>(), 0..12),
                                     b in proptest::collection::vec(any::<u8>(), 0..12)) {
            prop_assert_eq!(escaped(&a).cmp(&escaped(&b)), a.cmp(&b));
            prop_assert_eq!(unescape_key(&escaped(&a)), Some(a));
        }
    }
}
