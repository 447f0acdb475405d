//! What a worker needs to know to parse a chunk.

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
}
