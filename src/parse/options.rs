//! What a worker needs to know to parse a chunk.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use crate::format::Format;

/// What a worker needs to parse a chunk.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// The input format.
    pub format: Format,
    /// The field delimiter (CSV/TSV).
    pub delimiter: u8,
    /// Number of header fields; every CSV record must have this many.
    pub header_len: usize,
    /// The inputs' names, indexed by [`Chunk::input`](crate::source::Chunk::input).
    pub input_names: Vec<String>,
    /// The byte that begins a comment line in CSV/TSV input: a record
    /// that starts with it is skipped to its `\n`, as the `csv` crate's
    /// `comment` option does.
    pub comment: Option<u8>,
    /// Comment lines skipped, added to by every worker.
    pub comment_lines: Arc<AtomicU64>,
}
