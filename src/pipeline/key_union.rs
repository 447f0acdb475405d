//! The two-pass run behind `--map` with a CSV or TSV output of records:
//! the header is the union of the mapped records' keys, known only at the
//! end, so the records go to a temporary NDJSON file first, then a second
//! [`Pipeline`] writes them under that header.

use std::io::Write;
use std::sync::Arc;

use super::{Pipeline, Plan};
use crate::error::{Error, Result, Setting};
use crate::exec::RunStats;
use crate::format::Format;
use crate::source::{ChunkLimit, Input, DEFAULT_CHUNK_BYTES};

impl Pipeline {
    /// Records a `--map` made, written as CSV: the header is the union of
    /// their keys in first-seen input order, known only at the end. The
    /// records go to a temporary NDJSON file first (bounded memory), then
    /// are written under that header, in parallel, by a second pipeline
    /// over that file.
    pub(super) fn run_key_union(
        &self,
        plan: &Plan,
        out: &mut dyn Write,
        out_name: &str,
    ) -> Result<RunStats> {
        let out_format = self.output_format.unwrap_or(self.resolved_input_format());
        let out_delimiter = self.output_delimiter(out_format);
        let dir = self.resolved_temp_dir();
        let tmp = tempfile::NamedTempFile::new_in(&dir)
            .map_err(|e| Error::io_note(dir.display().to_string(), Setting::TempDir, e))?;
        let tmp_name = tmp.path().display().to_string();
        let keys = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let mut first = self.clone();
        first.output_format = Some(Format::Ndjson);
        if self.partial_step.is_some() {
            // A map step's records in input order; the second pass
            // writes them, or their partial lines.
            first.partial_step = None;
            first.reduce = super::ReduceSpec::Concat;
        }
        let mut stats = {
            let mut w = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file());
            let stats = first.run_collecting(plan, &mut w, &tmp_name, Some(keys.clone()))?;
            w.flush().map_err(|e| Error::io(&tmp_name, e))?;
            stats
        };
        let keys = std::mem::take(&mut *keys.lock());
        if keys.is_empty() {
            return Ok(stats);
        }
        // The union is known before the second pass starts: its columns,
        // whatever keys the file's first record has.
        let mut second = Pipeline::builder()
            .input(Input::Path(tmp.path().to_path_buf()))
            .input_format(Format::Ndjson)
            .input_columns(keys.clone())
            .output_format(out_format)
            .output_delimiter(out_delimiter)
            .chunk(ChunkLimit::Bytes(DEFAULT_CHUNK_BYTES))
            .threads(self.threads)
            .max_in_flight(self.max_in_flight)
            .select(keys)
            .no_infer(self.no_infer)
            .null_markers(self.null_markers.clone())
            .cancel(self.cancel.clone())
            .setting_names(self.setting_names);
        if let Some(bytes) = self.memory_limit {
            second = second.memory_limit(bytes);
        }
        if let Some(dir) = &self.temp_dir {
            second = second.temp_dir(dir.clone());
        }
        if let Some(step) = self.partial_step {
            second =
                second.reduce(self.reduce.clone()).partial_step(step).split_index(self.split_index);
        }
        // This pipeline's settings, checked when it was built.
        let mut second = second.build()?;
        // Its lines are those of this pipeline.
        second.partial_print = Some(self.partial_fingerprint());
        let written = second.run(out, out_name)?;
        stats.bytes_written = written.bytes_written;
        stats.records_written = written.records_written;
        stats.elapsed_secs += written.elapsed_secs;
        Ok(stats)
    }
}
