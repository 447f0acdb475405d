//! Chunks: the unit of parallel work ([`Chunk`]), how big they are
//! ([`ChunkLimit`], its constants and its resolution), and what a look at
//! an input's start finds ([`Sample`]). The splitter cuts chunks to a
//! resolved limit; the pipeline's plan chooses the automatic one.

/// Default target chunk size in bytes (4 MiB: the fastest of 256 KiB, 1, 4
/// and 16 MiB for group-by, concat and NDJSON on a 1.2 GB input, 2 cores).
pub const DEFAULT_CHUNK_BYTES: usize = 4 << 20;

/// Smallest chunk size the automatic plan picks, in bytes (64 KiB).
pub const MIN_AUTO_CHUNK_BYTES: usize = 64 << 10;

/// Largest accepted target chunk size in bytes (1 GiB).
pub const MAX_CHUNK_BYTES: usize = 1 << 30;

/// How big chunks are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkLimit {
    /// Target size in bytes: a chunk ends at the first record boundary at or
    /// after this many bytes.
    Bytes(usize),
    /// Number of records (lines, for NDJSON; elements, for a JSON array)
    /// per chunk.
    Records(usize),
    /// Chosen from the input by [`crate::Pipeline::plan`]; a splitter given
    /// `Auto` directly uses [`crate::DEFAULT_CHUNK_BYTES`].
    Auto,
}

impl ChunkLimit {
    /// The limit a splitter cuts by: [`ChunkLimit::Auto`] is
    /// [`DEFAULT_CHUNK_BYTES`], any other limit itself.
    ///
    /// # Panics
    /// When `self` is zero bytes or zero records.
    pub(crate) fn resolve(self) -> ChunkLimit {
        assert!(!matches!(self, ChunkLimit::Bytes(0) | ChunkLimit::Records(0)));
        match self {
            ChunkLimit::Auto => ChunkLimit::Bytes(DEFAULT_CHUNK_BYTES),
            other => other,
        }
    }
}

/// What [`Splitter::sample`](crate::source::Splitter::sample) found at the start of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Records in the sample (lines, for NDJSON and CSV without quoted
    /// newlines).
    pub records: u64,
    /// Bytes in the sample (the header not counted).
    pub bytes: u64,
    /// The sample is the whole input.
    pub whole_input: bool,
}

/// A run of whole records from one input, the unit of parallel work.
#[derive(Debug, Clone)]
pub struct Chunk {
    /// Position in the stream of chunks, from 0; partials merge in this order.
    pub seq: u64,
    /// Index of the input (in the order given) the bytes come from.
    pub input: usize,
    /// 1-based line number of the chunk's first byte in its input.
    pub first_line: u64,
    /// Byte offset of the chunk's first byte in its input (a skipped UTF-8
    /// BOM and the CSV header counted).
    pub offset: u64,
    /// 1-based column (in bytes) of the chunk's first byte on its line: 1,
    /// except for JSON array chunks, which may start in the middle of a
    /// line.
    pub first_column: u64,
    /// The records' bytes, from a record start to just after a record end
    /// (or the end of the input).
    pub data: Vec<u8>,
}
