//! Records and fields as the map and reduce stages see them.
//!
//! A [`Record`] borrows from the chunk being processed: no field is copied
//! on the way from the input bytes to a reducer. CSV records are field
//! spans into the chunk's bytes (or into a buffer of unquoted fields),
//! addressed by column index; NDJSON records are the object's key/value
//! pairs in input order, each value kept as its raw JSON text so that it
//! can be written back byte for byte. [`RecordBuf`] builds one outside a
//! run, for tests of a [`crate::Reducer`] or a map step.

use std::borrow::Cow;

use crate::error::Location;

/// One field of a record, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field<'a> {
    /// The key is absent from an NDJSON object.
    Absent,
    /// JSON `null`.
    Null,
    /// A CSV/TSV field's text (quotes removed, `""` undoubled).
    Text(&'a [u8]),
    /// A JSON string literal, quotes and escapes included, as read.
    JsonString(&'a [u8]),
    /// Any other JSON literal (number, `true`, `false`, object, array), as
    /// read.
    JsonOther(&'a [u8]),
}

impl<'a> Field<'a> {
    /// The field's text: CSV text as is, a JSON string unescaped, other JSON
    /// literals as written; `None` for [`Field::Absent`] and [`Field::Null`].
    ///
    /// Allocates only for a JSON string that holds an escape sequence.
    #[inline]
    pub fn text(&self) -> Option<Cow<'a, [u8]>> {
        match *self {
            Field::Absent | Field::Null => None,
            Field::Text(t) | Field::JsonOther(t) => Some(Cow::Borrowed(t)),
            Field::JsonString(raw) => Some(unescape_json_string(raw)),
        }
    }

    /// True when aggregates skip this field: absent, JSON null, an empty
    /// CSV field, or equal to one of `null_markers` (compared as text).
    #[inline(always)]
    pub fn is_missing(&self, null_markers: &[Vec<u8>]) -> bool {
        match self {
            Field::Absent | Field::Null => true,
            Field::Text(t) => t.is_empty() || null_markers.iter().any(|m| m == t),
            Field::JsonString(_) => {
                !null_markers.is_empty()
                    && self.text().is_some_and(|t| null_markers.iter().any(|m| *m == *t))
            }
            Field::JsonOther(_) => false,
        }
    }
}

/// Unescapes a JSON string literal (with its quotes); borrows when there is
/// no backslash. Invalid literals (which the parser has already rejected)
/// come back as their raw inner bytes.
fn unescape_json_string(raw: &[u8]) -> Cow<'_, [u8]> {
    let inner = if raw.len() >= 2 { &raw[1..raw.len() - 1] } else { raw };
    if memchr::memchr(b'\\', inner).is_none() {
        return Cow::Borrowed(inner);
    }
    match serde_json::from_slice::<String>(raw) {
        Ok(s) => Cow::Owned(s.into_bytes()),
        Err(_) => Cow::Borrowed(inner),
    }
}

/// Where a column's value comes from in an input record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The n-th field of a CSV/TSV record (0-based).
    Index(usize),
    /// The value of this key in an NDJSON object.
    Key(String),
    /// The value at this path of keys into nested NDJSON objects (two or
    /// more keys: `.user.id` is `["user", "id"]`); absent where a step is
    /// missing or not an object. See [`Source::parse_path`].
    Path(Vec<String>),
}

impl Source {
    /// The keys of a path in jq's syntax: `.user.id`, `."a.b"` (a key that
    /// holds a dot, or any key, as a JSON string), `.a."x y".c`; a key
    /// written bare is a letter or `_` and then letters, digits and `_`.
    ///
    /// # Errors
    /// A message naming what is wrong, when `text` is not such a path.
    pub fn parse_path(text: &str) -> std::result::Result<Vec<String>, String> {
        let bad = |why: &str| format!("`{text}` is not a path such as `.user.id`: {why}");
        let mut keys = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            rest = rest.strip_prefix('.').ok_or_else(|| bad("each key follows a `.`"))?;
            if rest.starts_with('"') {
                let mut strings = serde_json::Deserializer::from_str(rest).into_iter::<String>();
                match strings.next() {
                    Some(Ok(key)) => keys.push(key),
                    _ => return Err(bad("a quoted key is a JSON string")),
                }
                rest = &rest[strings.byte_offset()..];
            } else {
                let end = rest
                    .char_indices()
                    .find(|&(i, c)| {
                        !(c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
                    })
                    .map_or(rest.len(), |(i, _)| i);
                if end == 0 {
                    return Err(bad("write a key that is not a plain name as `.\"key\"`"));
                }
                keys.push(rest[..end].to_string());
                rest = &rest[end..];
            }
        }
        if keys.is_empty() {
            return Err(bad("it names no key"));
        }
        Ok(keys)
    }
}

/// The raw value of `key` in the JSON object `raw` (`None` when `raw` is
/// not an object or lacks the key; of repeated keys, the last), read by
/// the records' own object reader (`syntax::json_object::object_pairs`).
fn member<'a>(raw: &'a str, key: &str) -> Option<&'a str> {
    if !raw.starts_with('{') {
        return None;
    }
    let mut pairs = Vec::new();
    crate::syntax::json_object::object_pairs(raw, &mut pairs).ok()?;
    pairs.iter().rev().find(|(name, _)| name == key).map(|&(_, v)| v)
}

/// A resolved reference to a column: its output name and where its value
/// is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnRef {
    /// The column's name in the output (after `--rename`).
    pub name: String,
    /// Where the value comes from.
    pub source: Source,
}

/// The fields of a record, in input order.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fields<'a> {
    /// CSV fields: field `i` is `bytes[spans[i].0..spans[i].1]`.
    /// `raw_line` is the record's whole line when no field was quoted.
    Csv {
        bytes: &'a [u8],
        spans: &'a [(usize, usize)],
        raw_line: Option<&'a [u8]>,
    },
    Json(&'a [(Cow<'a, str>, &'a str)]),
}

/// One input record, borrowed from its chunk.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub(crate) fields: Fields<'a>,
    pub(crate) input: &'a str,
    pub(crate) line: LineAt<'a>,
    /// The record's bytes as read (for a `--map` result: its JSON line).
    pub(crate) raw: &'a [u8],
    /// Byte offset of the record's first byte in its input.
    pub(crate) offset: u64,
    /// The record's position among its chunk's records, from 0.
    pub(crate) index: u64,
    /// The `seq` of the record's chunk: with the order of `fold` calls
    /// within a chunk, the record's place in input order (what `first`,
    /// `last` and `mode` go by when partials meet in any order).
    pub(crate) chunk: u64,
}

/// Where a record starts, as a line number or as an offset in its chunk
/// (counted into a line only when asked: most records never are).
#[derive(Debug, Clone, Copy)]
pub(crate) enum LineAt<'a> {
    Known(u64),
    Offset { first_line: u64, chunk: &'a [u8], offset: usize },
}

/// Counts the lines of one chunk's records met in input order, each from
/// the one before (a [`LineAt::get`] per record would count from the
/// chunk's start every time: quadratic in the chunk's size).
#[derive(Debug, Default)]
pub(crate) struct LineCursor {
    /// The chunk (its first byte's address), offset and line last seen.
    last: Option<(usize, usize, u64)>,
}

impl LineCursor {
    /// The 1-based line of `at`.
    pub(crate) fn line(&mut self, at: LineAt<'_>) -> u64 {
        match at {
            LineAt::Known(line) => line,
            LineAt::Offset { first_line, chunk, offset } => {
                let here = chunk.as_ptr() as usize;
                let (from, base) = match self.last {
                    Some((c, o, l)) if c == here && o <= offset => (o, l),
                    _ => (0, first_line),
                };
                let line = base + memchr::memchr_iter(b'\n', &chunk[from..offset]).count() as u64;
                self.last = Some((here, offset, line));
                line
            }
        }
    }
}

impl LineAt<'_> {
    /// The 1-based line.
    pub(crate) fn get(self) -> u64 {
        LineCursor::default().line(self)
    }
}

impl<'a> Record<'a> {
    /// The value of `column`; [`Field::Absent`] when an NDJSON object lacks
    /// the key.
    #[inline]
    pub fn get(&self, column: &ColumnRef) -> Field<'a> {
        self.get_source(&column.source)
    }

    /// The value at `source`.
    #[inline]
    pub fn get_source(&self, source: &Source) -> Field<'a> {
        match (self.fields, source) {
            (Fields::Csv { bytes, spans, .. }, Source::Index(i)) => {
                spans.get(*i).map_or(Field::Absent, |&(s, e)| Field::Text(&bytes[s..e]))
            }
            (Fields::Json(pairs), Source::Key(k)) => pairs
                .iter()
                .find(|(name, _)| name == k)
                .map_or(Field::Absent, |(_, v)| json_field(v)),
            (Fields::Json(pairs), Source::Path(keys)) => {
                let Some((_, top)) = pairs.iter().find(|(name, _)| *name == keys[0]) else {
                    return Field::Absent;
                };
                let mut value: &'a str = top;
                for key in &keys[1..] {
                    match member(value, key) {
                        Some(v) => value = v,
                        None => return Field::Absent,
                    }
                }
                json_field(value)
            }
            _ => Field::Absent,
        }
    }

    /// Calls `f` with every key (NDJSON) or `None` (CSV, whose names live in
    /// the header) and value, in input order.
    pub(crate) fn for_each_field(&self, mut f: impl FnMut(Option<&str>, Field<'a>)) {
        match self.fields {
            Fields::Csv { bytes, spans, .. } => {
                spans.iter().for_each(|&(s, e)| f(None, Field::Text(&bytes[s..e])))
            }
            Fields::Json(pairs) => pairs.iter().for_each(|(k, v)| f(Some(k), json_field(v))),
        }
    }

    /// The whole input line of a CSV record that was cut at its delimiters
    /// without unquoting (it holds no quote and no `\r`).
    pub(crate) fn raw_csv_line(&self) -> Option<&'a [u8]> {
        match self.fields {
            Fields::Csv { raw_line, .. } => raw_line,
            Fields::Json(_) => None,
        }
    }

    /// The record's bytes as read, without the line end (for a record a
    /// `--map` made: its NDJSON text).
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Byte offset of the record's first byte in its input (for a record a
    /// `--map` made: the offset of the input record it came from).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Where the record is.
    pub fn location(&self) -> Location {
        Location { input: self.input.to_string(), line: self.line.get() }
    }

    /// 1-based line where the record starts in its input.
    ///
    /// For CSV this counts the chunk's newlines before the record, so call
    /// it for messages, not per record on a hot path.
    pub fn line(&self) -> u64 {
        self.line.get()
    }
}

/// A record that owns its bytes, to build a [`Record`] outside a run: in
/// tests of a [`crate::Reducer`], whose `fold` takes records.
///
/// ```
/// use fanfold::{ColumnRef, Field, RecordBuf, Source};
/// let csv = RecordBuf::csv(["Oslo", "1.50"]);
/// let amount = ColumnRef { name: "amount".into(), source: Source::Index(1) };
/// csv.with(|rec| assert_eq!(rec.get(&amount), Field::Text(b"1.50")));
///
/// let json = RecordBuf::json([("city", r#""Oslo""#), ("amount", "1.50")]);
/// let city = ColumnRef { name: "city".into(), source: Source::Key("city".into()) };
/// json.with(|rec| assert_eq!(rec.get(&city).text().as_deref(), Some(&b"Oslo"[..])));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordBuf {
    kind: BufKind,
    input: String,
    line: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum BufKind {
    /// The fields' texts one after another, their spans, and the record as
    /// a CSV line.
    Csv { bytes: Vec<u8>, spans: Vec<(usize, usize)>, raw: Vec<u8> },
    /// Keys and raw JSON values, and the record as an NDJSON line.
    Json { pairs: Vec<(String, String)>, raw: Vec<u8> },
}

impl RecordBuf {
    /// A CSV/TSV record of these field texts (unquoted), column `i` at
    /// [`Source::Index`]`(i)`, from input `<record>`, line 1.
    pub fn csv<T: AsRef<[u8]>>(fields: impl IntoIterator<Item = T>) -> RecordBuf {
        let (mut bytes, mut spans, mut raw) = (Vec::new(), Vec::new(), Vec::new());
        for (i, f) in fields.into_iter().enumerate() {
            let start = bytes.len();
            bytes.extend_from_slice(f.as_ref());
            spans.push((start, bytes.len()));
            if i > 0 {
                raw.push(b',');
            }
            crate::syntax::csv::write_csv_field(&mut raw, f.as_ref(), b',');
        }
        RecordBuf { kind: BufKind::Csv { bytes, spans, raw }, input: "<record>".into(), line: 1 }
    }

    /// An NDJSON record of these keys and raw JSON values (`r#""Oslo""#` is
    /// the string `Oslo`, `"1.50"` a number, `"null"` null), in this order,
    /// at [`Source::Key`], from input `<record>`, line 1. The values are
    /// not checked: give valid JSON.
    pub fn json<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> RecordBuf {
        let pairs: Vec<(String, String)> =
            pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        let mut raw = vec![b'{'];
        for (i, (k, v)) in pairs.iter().enumerate() {
            if i > 0 {
                raw.push(b',');
            }
            crate::syntax::json::write_json_string(&mut raw, k.as_bytes());
            raw.push(b':');
            raw.extend_from_slice(v.as_bytes());
        }
        raw.push(b'}');
        RecordBuf { kind: BufKind::Json { pairs, raw }, input: "<record>".into(), line: 1 }
    }

    /// The same record, placed at `input`:`line` (what its errors name).
    pub fn at(mut self, input: impl Into<String>, line: u64) -> RecordBuf {
        self.input = input.into();
        self.line = line;
        self
    }

    /// An NDJSON record read from one line of NDJSON output (without its
    /// line end), which stays its [`RecordBuf::as_json`] text, at
    /// `input`:`line`.
    ///
    /// # Errors
    /// [`ErrorKind::Json`](crate::ErrorKind::Json) when the line is not a JSON object.
    pub(crate) fn from_json_line(
        line: &[u8],
        input: &str,
        at: u64,
    ) -> crate::error::Result<RecordBuf> {
        let pairs = crate::syntax::json_object::parse_object(line, input, at)?
            .into_iter()
            .map(|(k, v)| (k.into_owned(), v.to_string()))
            .collect();
        let kind = BufKind::Json { pairs, raw: line.to_vec() };
        Ok(RecordBuf { kind, input: input.into(), line: at })
    }

    /// The value of the key `name` in an NDJSON record, as
    /// [`Record::get`] reads it ([`Field::Absent`] when the object lacks
    /// it). A CSV record's columns have no names: always
    /// [`Field::Absent`] (read them by [`Source::Index`] in
    /// [`RecordBuf::with`]).
    ///
    /// ```
    /// use fanfold::{Field, RecordBuf};
    /// let rec = RecordBuf::json([("city", r#""Oslo""#), ("n", "2")]);
    /// assert_eq!(rec.get("n"), Field::JsonOther(b"2"));
    /// assert_eq!(rec.get("city").text().as_deref(), Some(&b"Oslo"[..]));
    /// assert_eq!(rec.get("zip"), Field::Absent);
    /// ```
    pub fn get(&self, name: &str) -> Field<'_> {
        match &self.kind {
            BufKind::Json { pairs, .. } => {
                pairs.iter().find(|(k, _)| k == name).map_or(Field::Absent, |(_, v)| json_field(v))
            }
            BufKind::Csv { .. } => Field::Absent,
        }
    }

    /// The value of the key `name` as a [`serde_json::Value`]; `None` when
    /// the object lacks it (and for a CSV record).
    ///
    /// ```
    /// use fanfold::RecordBuf;
    /// let rec = RecordBuf::json([("tags", r#"["a","b"]"#)]);
    /// assert_eq!(rec.value("tags"), Some(serde_json::json!(["a", "b"])));
    /// ```
    pub fn value(&self, name: &str) -> Option<serde_json::Value> {
        match &self.kind {
            BufKind::Json { pairs, .. } => pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| serde_json::from_str(v).unwrap_or(serde_json::Value::Null)),
            BufKind::Csv { .. } => None,
        }
    }

    /// An NDJSON record's keys, in order; none for a CSV record.
    ///
    /// ```
    /// use fanfold::RecordBuf;
    /// let rec = RecordBuf::json([("city", r#""Oslo""#), ("n", "2")]);
    /// assert_eq!(rec.keys().collect::<Vec<_>>(), ["city", "n"]);
    /// ```
    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        let pairs = match &self.kind {
            BufKind::Json { pairs, .. } => &pairs[..],
            BufKind::Csv { .. } => &[],
        };
        pairs.iter().map(|(k, _)| k.as_str())
    }

    /// The record as JSON text: an NDJSON record's object as written (a
    /// record from [`Pipeline::run_for_each`](crate::Pipeline::run_for_each):
    /// its line of NDJSON output, byte for byte); a CSV record's fields as
    /// an array of strings.
    ///
    /// ```
    /// use fanfold::RecordBuf;
    /// assert_eq!(RecordBuf::json([("n", "2")]).as_json(), r#"{"n":2}"#);
    /// assert_eq!(RecordBuf::csv(["a", "1"]).as_json(), r#"["a","1"]"#);
    /// ```
    pub fn as_json(&self) -> Cow<'_, str> {
        match &self.kind {
            BufKind::Json { raw, .. } => String::from_utf8_lossy(raw),
            BufKind::Csv { bytes, spans, .. } => {
                let mut out = vec![b'['];
                for (i, &(s, e)) in spans.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    crate::syntax::json::write_json_string(&mut out, &bytes[s..e]);
                }
                out.push(b']');
                Cow::Owned(String::from_utf8_lossy(&out).into_owned())
            }
        }
    }

    /// Where the record is: its input's name and line.
    pub fn location(&self) -> Location {
        Location { input: self.input.clone(), line: self.line }
    }

    /// Calls `f` with the record as a run would give it to a reducer.
    pub fn with<R>(&self, f: impl FnOnce(&Record<'_>) -> R) -> R {
        let line = LineAt::Known(self.line);
        let input = self.input.as_str();
        match &self.kind {
            BufKind::Csv { bytes, spans, raw } => {
                let fields = Fields::Csv { bytes, spans, raw_line: None };
                f(&Record { fields, input, line, raw, offset: 0, index: 0, chunk: 0 })
            }
            BufKind::Json { pairs, raw } => {
                let borrowed: Vec<(Cow<'_, str>, &str)> =
                    pairs.iter().map(|(k, v)| (Cow::Borrowed(k.as_str()), v.as_str())).collect();
                let fields = Fields::Json(&borrowed);
                f(&Record { fields, input, line, raw, offset: 0, index: 0, chunk: 0 })
            }
        }
    }
}

fn json_field(v: &str) -> Field<'_> {
    let raw = v.as_bytes();
    match raw.first() {
        Some(b'"') => Field::JsonString(raw),
        Some(b'n') => Field::Null,
        _ => Field::JsonOther(raw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_in_jq_syntax_and_read_nested_objects() {
        let keys = |t: &str| Source::parse_path(t);
        assert_eq!(keys(".user.id").unwrap(), ["user", "id"]);
        assert_eq!(keys(".a_1").unwrap(), ["a_1"]);
        assert_eq!(keys(r#"."a.b".c"#).unwrap(), ["a.b", "c"]);
        assert_eq!(keys(r#".x."q \"y\"""#).unwrap(), ["x", "q \"y\""]);
        for bad in ["", ".", "user", ".user.", "..a", ".1a", r#"."open"#, ".a b"] {
            assert!(keys(bad).is_err(), "{bad}");
        }
        let rec = RecordBuf::json([
            ("user", r#"{"id": 7, "geo": {"city": "Oslo"}, "tags": [1]}"#),
            ("a.b", r#"{"c": null}"#),
        ]);
        let path =
            |t: &str| ColumnRef { name: String::new(), source: Source::Path(keys(t).unwrap()) };
        rec.with(|r| {
            assert!(matches!(r.get(&path(".user.id")), Field::JsonOther(b"7")));
            assert!(matches!(r.get(&path(".user.geo.city")), Field::JsonString(br#""Oslo""#)));
            assert!(matches!(r.get(&path(r#"."a.b".c"#)), Field::Null));
            // Missing keys, and steps into what is not an object.
            assert!(matches!(r.get(&path(".user.nope")), Field::Absent));
            assert!(matches!(r.get(&path(".user.tags.x")), Field::Absent));
            assert!(matches!(r.get(&path(".nope.x")), Field::Absent));
        });
    }

    #[test]
    fn json_string_unescapes_only_when_needed() {
        assert!(matches!(Field::JsonString(br#""abc""#).text(), Some(Cow::Borrowed(b"abc"))));
        assert_eq!(
            Field::JsonString(br#""a\"\u00e9""#).text().unwrap().as_ref(),
            "a\"é".as_bytes()
        );
    }

    #[test]
    fn missing_values() {
        let na = vec![b"NA".to_vec()];
        assert!(Field::Text(b"").is_missing(&[]));
        assert!(Field::Text(b"NA").is_missing(&na));
        assert!(!Field::Text(b"NA").is_missing(&[]));
        assert!(Field::Null.is_missing(&[]));
        assert!(Field::JsonString(br#""NA""#).is_missing(&na));
        assert!(!Field::JsonOther(b"0").is_missing(&na));
    }

    /// The cursor gives what counting from the chunk's start gives, for
    /// records met in order, again at the same offset, after a jump back,
    /// and in another chunk.
    #[test]
    fn line_cursor_counts_like_line_at() {
        let a: &[u8] = b"x\ny\n\nz\nw";
        let b: &[u8] = b"p\nq\n";
        let mut cursor = LineCursor::default();
        let visits = [(a, 0), (a, 2), (a, 2), (a, 6), (a, 5), (a, 2), (b, 0), (b, 2), (a, 8)];
        for (chunk, offset) in visits {
            let first_line = if chunk == a { 10 } else { 100 };
            let at = LineAt::Offset { first_line, chunk, offset };
            assert_eq!(cursor.line(at), at.get(), "offset {offset}");
        }
        assert_eq!(cursor.line(LineAt::Known(3)), 3);
    }

    #[test]
    fn record_bufs_read_as_parsed_records_do() {
        let col = |i| ColumnRef { name: String::new(), source: Source::Index(i) };
        let csv = RecordBuf::csv(["a,b", "", "x"]).at("in.csv", 7);
        csv.with(|r| {
            assert_eq!(r.get(&col(0)), Field::Text(b"a,b"));
            assert_eq!(r.get(&col(1)), Field::Text(b""));
            assert_eq!(r.get(&col(3)), Field::Absent);
            assert_eq!(r.raw(), b"\"a,b\",,x");
            assert_eq!(r.location().to_string(), "in.csv:7");
        });
        let key = |k: &str| ColumnRef { name: k.into(), source: Source::Key(k.into()) };
        let json = RecordBuf::json([("a", "null"), ("b", "[1]"), ("c\"", r#""\u00e9""#)]);
        json.with(|r| {
            assert_eq!(r.get(&key("a")), Field::Null);
            assert_eq!(r.get(&key("b")), Field::JsonOther(b"[1]"));
            assert_eq!(r.get(&key("c\"")).text().as_deref(), Some("é".as_bytes()));
            assert_eq!(r.get(&key("z")), Field::Absent);
            assert_eq!(r.raw(), br#"{"a":null,"b":[1],"c\"":"\u00e9"}"#);
            assert_eq!(r.line(), 1);
        });
    }
}
