//! The automatic chunk size with an external step (`--exec`,
//! `--exec-persistent`): chunks sized in records, so that every command
//! slot gets several, counted (or estimated) from the first bytes of the
//! input.

use super::Pipeline;
use crate::format::Format;
use crate::source::{ChunkLimit, Sample, Splitter};
use crate::units::human_bytes;

impl Pipeline {
    /// The automatic chunk size of a pipeline with an `--exec` or
    /// `--exec-persistent` step running `concurrency` commands at once:
    /// such a step costs about the same for every record, and inputs are
    /// often small, so chunks are sized in records, to give every command
    /// slot [`EXTERNAL_CHUNKS_PER_SLOT`] chunks when the input holds that
    /// many records (one record a chunk when it holds fewer), and no
    /// chunk over `max_bytes`. The records are counted in the first
    /// [`EXTERNAL_SAMPLE_BYTES`] of the first input, and estimated from
    /// its records per byte when the inputs hold more. Standard input is
    /// sampled by the run itself (see [`Pipeline::run_with`]), once its
    /// header is read; a JSON array (whose records are not lines) gets
    /// chunks of `input / (4 × concurrency)` bytes. Returns the limit, the
    /// reason `--explain` gives, and the chunks expected.
    pub(super) fn external_chunking(
        &self,
        concurrency: usize,
        input_bytes: Option<u64>,
        max_bytes: u64,
    ) -> (ChunkLimit, String, Option<u64>) {
        let slots = EXTERNAL_CHUNKS_PER_SLOT * concurrency as u64;
        let format = self.resolved_input_format();
        let fallback = |why: &str| {
            let bytes = input_bytes.map_or(max_bytes, |t| (t / slots).clamp(1, max_bytes));
            let why = format!("automatic, with an external step: {why}");
            (ChunkLimit::Bytes(bytes as usize), why, None)
        };
        let Some(total) = input_bytes else {
            return fallback(&format!(
                "the records in the first {} of standard input / ({} chunks × {concurrency} \
                 commands at once), so every command slot gets several chunks",
                human_bytes(EXTERNAL_SAMPLE_BYTES as u64),
                EXTERNAL_CHUNKS_PER_SLOT
            ));
        };
        if format == Format::Json {
            return fallback(&format!(
                "input / ({EXTERNAL_CHUNKS_PER_SLOT} chunks × {concurrency} commands at once), \
                 so every command slot gets several chunks"
            ));
        }
        let delimiter = self.resolved_delimiter(format);
        let first = self.inputs.iter().take(1).cloned().collect();
        let mut splitter = Splitter::new(first, format, delimiter, ChunkLimit::Auto)
            .with_cancel(self.cancel.clone());
        let Ok(sample) = splitter.sample(EXTERNAL_SAMPLE_BYTES) else {
            // The run reports the error.
            return fallback("the default (the input could not be read)");
        };
        let whole = sample.whole_input && self.inputs.len() == 1;
        let records = estimated_records(sample, total, whole);
        let per_chunk = records_per_chunk(sample, records, slots, max_bytes);
        let how =
            if whole { "records" } else { "records (estimated from the first input's start)" };
        let why = format!(
            "automatic, with an external step: {records} {how} / ({EXTERNAL_CHUNKS_PER_SLOT} \
             chunks × {concurrency} commands at once), so every command slot gets several \
             chunks"
        );
        (ChunkLimit::Records(per_chunk), why, Some(records.div_ceil(per_chunk as u64).max(1)))
    }
}

/// With an `--exec` or `--exec-persistent` step, the automatic chunk size
/// aims at this many chunks for each command that may run at once, so that
/// every slot stays busy and a slow chunk can be made up by the others.
pub const EXTERNAL_CHUNKS_PER_SLOT: u64 = 4;

/// With an external step, bytes at the start of the first input in which
/// the automatic chunk size counts records (1 MiB).
pub const EXTERNAL_SAMPLE_BYTES: usize = 1 << 20;

/// The records of inputs of `total` bytes, from a `sample` of the first:
/// exact when the sample is `whole` (the only input, all of it), else its
/// records per byte times `total`.
fn estimated_records(sample: Sample, total: u64, whole: bool) -> u64 {
    if whole || sample.bytes == 0 {
        sample.records
    } else {
        (sample.records as f64 * total as f64 / sample.bytes as f64).ceil() as u64
    }
}

/// Records per chunk for `records` records over at least `slots` chunks
/// (rounded down, at least 1), and no more than fit in `max_bytes` at the
/// `sample`'s bytes per record.
pub(super) fn records_per_chunk(sample: Sample, records: u64, slots: u64, max_bytes: u64) -> usize {
    let per_chunk = (records / slots).max(1);
    let bytes_per_record = sample.bytes.div_ceil(sample.records.max(1)).max(1);
    per_chunk.min((max_bytes / bytes_per_record).max(1)) as usize
}
