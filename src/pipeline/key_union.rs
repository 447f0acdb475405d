//! The two-pass run behind `--map` with a CSV or TSV output of records:
//! the header is the union of the mapped records' keys, known only at the
//! end, so the records go to a temporary NDJSON file first, then are
//! written under that header.

use std::io::Write;
use std::sync::Arc;

use super::Pipeline;
use crate::error::{Error, Result, Setting};
use crate::exec::{self, ExecOptions, RunStats};
use crate::format::Format;
use crate::parse::ParseOptions;
use crate::reduce::{Concat, Sink};
use crate::sink::encode::Encoder;
use crate::sink::rejects::OnError;
use crate::source::{ChunkLimit, Input, Splitter, DEFAULT_CHUNK_BYTES};
use crate::transform::{Layout, Projection};

impl Pipeline {
    /// Records a `--map` made, written as CSV: the header is the union of
    /// their keys in first-seen input order, known only at the end. The
    /// records go to a temporary NDJSON file first (bounded memory), then
    /// are written under that header, in parallel.
    pub(super) fn run_key_union(&self, out: &mut dyn Write, out_name: &str) -> Result<RunStats> {
        let out_format = self.output_format.unwrap_or(self.resolved_input_format());
        let out_delimiter = self.output_delimiter(out_format);
        let dir = self.resolved_temp_dir();
        let tmp = tempfile::NamedTempFile::new_in(&dir)
            .map_err(|e| Error::io_note(dir.display().to_string(), Setting::TempDir, e))?;
        let tmp_name = tmp.path().display().to_string();
        let keys = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let mut first = self.clone();
        first.output_format = Some(Format::Ndjson);
        let mut stats = {
            let mut w = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file());
            let stats = first.run_collecting(&mut w, &tmp_name, Some(keys.clone()))?;
            w.flush().map_err(|e| Error::io(&tmp_name, e))?;
            stats
        };
        let keys = std::mem::take(&mut *keys.lock());
        if keys.is_empty() {
            return Ok(stats);
        }
        let layout = Layout::new(
            &Projection { select: Some(keys.clone()), ..Projection::default() },
            &keys,
            true,
            false,
        )?;
        let encoder = Encoder::new(out_format, out_delimiter, layout, self.null_bytes())
            .with_no_infer(self.no_infer);
        let chunk = ChunkLimit::Bytes(DEFAULT_CHUNK_BYTES);
        let mut splitter =
            Splitter::new(vec![Input::Path(tmp.path().to_path_buf())], Format::Ndjson, b',', chunk);
        splitter.header()?;
        let parse = ParseOptions {
            format: Format::Ndjson,
            delimiter: b',',
            header_len: 0,
            input_names: vec![tmp_name],
        };
        let mut sink = Sink::new(out, out_name);
        let opts = ExecOptions {
            threads: self.threads,
            max_in_flight: self.max_in_flight,
            on_error: OnError::Fail,
            max_errors: None,
            progress: false,
            input_bytes: None,
            setting_names: self.setting_names,
        };
        let reducer = Arc::new(Concat::new(encoder));
        let written = exec::run(splitter, parse, None, reducer, &mut sink, None, opts)?;
        stats.bytes_written = written.bytes_written;
        stats.records_written = written.records_written;
        stats.elapsed_secs += written.elapsed_secs;
        Ok(stats)
    }
}
