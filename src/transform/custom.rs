//! Custom map steps written in Rust: the library's counterpart of `--map`.

use serde_json::{Map, Value};

/// A record as a Rust transform sees it: a JSON object, keys in order.
pub type JsonRecord = Map<String, Value>;

/// A map step written in Rust, run on the workers like `--map`: it gets
/// each record as a JSON object (CSV rows keyed by the header, numbers
/// inferred as for jq) and pushes zero or more output records. Add it to
/// a pipeline as a [`crate::transform::Step::Rust`] step
/// ([`PipelineBuilder::step`](crate::PipelineBuilder::step)).
///
/// Values a step passes through unchanged are written back as read (a CSV
/// `1.50` stays `1.50`). The conversion to and from `serde_json` values
/// costs about a microsecond a record; prefer `--filter`'s fast path or
/// the built-in reducers where they fit.
///
/// ```
/// use std::sync::Arc;
/// use fanfold::{Input, JsonRecord, MapError, MapRecord, Pipeline, Step};
///
/// /// Splits a "city" field into one record per word.
/// #[derive(Debug)]
/// struct Words;
///
/// impl MapRecord for Words {
///     fn name(&self) -> &str {
///         "words"
///     }
///     fn map(&self, record: JsonRecord, out: &mut Vec<JsonRecord>) -> Result<(), MapError> {
///         let city = record.get("city").and_then(|v| v.as_str()).ok_or("no city")?;
///         for word in city.split(' ') {
///             let mut r = record.clone();
///             r.insert("city".into(), word.into());
///             out.push(r);
///         }
///         Ok(())
///     }
/// }
///
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("in.csv");
/// std::fs::write(&path, "city,n\nSan Jose,1.50\nLima,2\n")?;
/// let pipeline =
///     Pipeline::builder().input(Input::Path(path)).step(Step::Rust(Arc::new(Words))).build()?;
/// let mut out = Vec::new();
/// pipeline.run(&mut out, "<memory>")?;
/// assert_eq!(String::from_utf8(out)?, "city,n\nSan,1.50\nJose,1.50\nLima,2\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait MapRecord: Send + Sync + std::fmt::Debug {
    /// A short name for error messages.
    fn name(&self) -> &str;

    /// Pushes the records that replace `record` onto `out` (none drops it).
    ///
    /// # Errors
    /// A [`MapError`] saying why (`"no city"?` converts); fanfold adds the
    /// record's file and line, and `--on-error` decides what happens to it.
    fn map(&self, record: JsonRecord, out: &mut Vec<JsonRecord>) -> Result<(), MapError>;
}

/// Why a [`MapRecord`] step failed on a record: a message, and the error
/// behind it when there is one. Made from a `&str` or `String` (so
/// `ok_or("no city")?` works), or from any error by [`MapError::from_error`].
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct MapError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl MapError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> MapError {
        MapError { message: message.into(), source: None }
    }

    /// An error whose message is `source`'s, keeping `source` behind it.
    pub fn from_error(source: impl std::error::Error + Send + Sync + 'static) -> MapError {
        MapError { message: source.to_string(), source: Some(Box::new(source)) }
    }
}

impl From<&str> for MapError {
    fn from(message: &str) -> MapError {
        MapError::new(message)
    }
}

impl From<String> for MapError {
    fn from(message: String) -> MapError {
        MapError::new(message)
    }
}
