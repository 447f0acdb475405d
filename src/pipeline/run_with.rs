//! [`Pipeline::run_with`]: one run with a given reducer, under the run's
//! [`Plan`] (computed once per run). The settings were checked by
//! [`PipelineBuilder::build`](super::PipelineBuilder::build). It opens the journal, cuts the input, builds the transform
//! chain, the layout and the encoder, and hands them to the executor;
//! the rejects file is committed at the end.

use std::io::Write;
use std::sync::Arc;

use super::external_chunking::{
    records_per_chunk, EXTERNAL_CHUNKS_PER_SLOT, EXTERNAL_SAMPLE_BYTES,
};
use super::{PartialStep, Pipeline, Plan};
use crate::error::{Error, ErrorKind, Message, Result, Setting};
use crate::exec::{self, ExecOptions, Journal, RunStats};
use crate::format::Format;
use crate::parse::ParseOptions;
use crate::reduce::{Reducer, Sink};
use crate::sink::encode::Encoder;
use crate::sink::rejects::OnError;
use crate::sink::Output;
use crate::source::{ChunkLimit, SniffedDelimiter, Splitter};
use crate::transform::{Chain, ExecFormat, Layout, Projection, Step, ValueOptions};

impl Pipeline {
    /// Refuses a CSV header of one field when the delimiter was neither
    /// set nor found for sure and the first lines look separated by
    /// another one: the run would read every record as one field.
    fn check_one_field_header(
        &self,
        format: Format,
        header: Option<&[String]>,
        sniffed: Option<SniffedDelimiter>,
    ) -> Result<()> {
        let (Format::Csv, Some([only])) = (format, header) else { return Ok(()) };
        let Some(sniffed) = sniffed.filter(|s| !s.sure && self.delimiter.is_none()) else {
            return Ok(());
        };
        let Some(d) = sniffed.suggestion.filter(|&d| only.as_bytes().contains(&d)) else {
            return Ok(());
        };
        let shown = if d == b'\t' { "tab".to_string() } else { char::from(d).to_string() };
        let message = Message::from(format!(
            "the header has 1 field; the rows look `{shown}`-separated (but not on every line \
             read): try `"
        ))
        .then(Setting::Delimiter)
        .then(format!(" '{shown}'`"));
        Err(ErrorKind::Setting { setting: Setting::Delimiter, message }.into())
    }

    /// Runs the pipeline with a custom reducer, built by `make` from the
    /// resolved output layout and an encoder for the output format.
    /// [`PipelineBuilder::reduce`](super::PipelineBuilder::reduce) is not
    /// used. The [`Plan`] is computed once, at the start.
    ///
    /// ```
    /// use fanfold::{ColumnRef, Input, Pipeline, Record, Reducer, Setting, Sink};
    ///
    /// /// The longest text in one column, in bytes.
    /// #[derive(Debug)]
    /// struct Longest(ColumnRef);
    ///
    /// impl Reducer for Longest {
    ///     type Partial = usize;
    ///     fn empty(&self) -> usize {
    ///         0
    ///     }
    ///     fn fold(&self, longest: &mut usize, record: &Record<'_>) -> fanfold::Result<()> {
    ///         let len = record.get(&self.0).text().map_or(0, |t| t.len());
    ///         *longest = (*longest).max(len);
    ///         Ok(())
    ///     }
    ///     fn merge(&self, total: &mut usize, next: usize) -> fanfold::Result<()> {
    ///         *total = (*total).max(next);
    ///         Ok(())
    ///     }
    ///     fn finish(&self, total: usize, sink: &mut Sink<'_>) -> fanfold::Result<()> {
    ///         sink.write(format!("{total}\n").as_bytes(), 1)
    ///     }
    /// }
    ///
    /// let csv = "city,amount\nOslo,1\nSan Jose,2\n";
    /// let pipeline = Pipeline::builder()
    ///     .input(Input::reader("sales", std::io::Cursor::new(csv)))
    ///     .build()?;
    /// let mut out = Vec::new();
    /// pipeline.run_with(&mut out, "<memory>", |layout, _encoder| {
    ///     Ok(Longest(layout.resolve(Setting::Reduce, "city")?))
    /// })?;
    /// assert_eq!(out, b"8\n");
    /// # Ok::<(), fanfold::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Pipeline::run`], plus any error `make` returns.
    pub fn run_with<R: Reducer>(
        &self,
        out: &mut dyn Write,
        out_name: &str,
        make: impl FnOnce(&Layout, Encoder) -> Result<R>,
    ) -> Result<RunStats> {
        self.run_planned(&self.plan(), out, out_name, make)
    }

    /// [`Pipeline::run_with`] under `plan`, this pipeline's
    /// [`Pipeline::plan`], computed once per run by the caller.
    pub(super) fn run_planned<R: Reducer>(
        &self,
        plan: &Plan,
        out: &mut dyn Write,
        out_name: &str,
        make: impl FnOnce(&Layout, Encoder) -> Result<R>,
    ) -> Result<RunStats> {
        // Cancelled before it started: nothing is opened or written.
        if let Some(e) = self.cancel.error() {
            return Err(e);
        }
        let format = self.resolved_input_format();
        let delimiter = self.resolved_delimiter(format);
        let out_format = self.output_format.unwrap_or(format);
        // A resumed run cuts the input where the journal's run did.
        let journal = match &self.journal {
            Some(spec) => {
                let print = self.fingerprint()?;
                Some(Arc::new(Journal::open(spec, &print, plan.chunk)?))
            }
            None => None,
        };
        let chunk = journal.as_ref().map_or(plan.chunk, |j| j.chunk());
        if !format.is_delimited() && (self.skip_rows > 0 || self.comment.is_some()) {
            let setting = if self.skip_rows > 0 { Setting::SkipRows } else { Setting::Comment };
            let name = format!("{format:?}").to_lowercase();
            return Err(Error::setting(
                setting,
                format!("applies to CSV and TSV input, not {name}"),
            ));
        }
        let mut splitter = Splitter::new(self.inputs.clone(), format, delimiter, chunk)
            .with_cancel(self.cancel.clone())
            .with_encoding(self.encoding)
            .with_csv_preamble(self.skip_rows, self.comment)
            .with_columns(self.input_columns.clone().filter(|_| format.is_delimited()));
        // An input `build` could not read ahead (standard input, a pipe):
        // its delimiter is found as it is read.
        let sniff_stream =
            format == Format::Csv && self.delimiter.is_none() && self.sniffed_delimiter.is_none();
        if sniff_stream {
            splitter = splitter.sniff_delimiter();
        }
        let header = splitter.header()?;
        let sniffed = self.sniffed_delimiter.or(splitter.sniffed());
        self.check_one_field_header(format, header.as_deref(), sniffed)?;
        let delimiter = splitter.delimiter();
        let out_delimiter = match (self.output_delimiter, self.output_format) {
            (Some(d), _) => d,
            (None, None) => delimiter,
            (None, Some(f)) => f.default_delimiter().unwrap_or(b','),
        };
        if let (true, Some(c), ChunkLimit::Bytes(max_bytes)) =
            (plan.chunk_from_stream, plan.exec_concurrency, plan.chunk)
        {
            // An external step reading a stream: records per chunk from
            // the stream's first bytes (see `external_chunking`).
            if journal.is_none() {
                let sample = splitter.sample(EXTERNAL_SAMPLE_BYTES)?;
                let slots = EXTERNAL_CHUNKS_PER_SLOT * c as u64;
                let per_chunk = records_per_chunk(sample, sample.records, slots, max_bytes as u64);
                splitter.set_limit(ChunkLimit::Records(per_chunk));
            }
        }
        // The lines of a map step are not records of the output: no JSON
        // array around them.
        let frame = match self.partial_step {
            Some(PartialStep::Map | PartialStep::Combine) => Format::Ndjson,
            Some(PartialStep::Reduce) | None => out_format,
        };
        let json_input = format.is_json();
        let columns = match &self.input_columns {
            Some(given) if json_input => given.clone(),
            _ => header.clone().unwrap_or_default(),
        };
        let (chain, projection) = if self.steps.is_empty() {
            (None, self.projection.clone())
        } else {
            let opts = ValueOptions { no_infer: self.no_infer, null_markers: self.null_bytes() };
            // An `--exec` step without a format speaks the input's.
            let steps: Vec<Step> = self
                .steps
                .iter()
                .map(|s| match s {
                    Step::Exec(spec) if spec.format.is_none() => {
                        let mut spec = spec.clone();
                        spec.format = Some(ExecFormat::for_input(format));
                        Step::Exec(spec)
                    }
                    other => other.clone(),
                })
                .collect();
            let built = Chain::new(
                &self.projection,
                &steps,
                &columns,
                json_input,
                opts,
                out_format.is_delimited(),
                &self.cancel,
            );
            match (built, &header) {
                (Ok((chain, projection)), _) => (Some(Arc::new(chain)), projection),
                // With no input at all there are no columns to check flags
                // against, and nothing to run.
                (Err(_), None) => (None, Projection::default()),
                (Err(e), Some(_)) => return Err(e),
            }
        };
        let value_stage = chain.as_ref().is_some_and(|c| c.has_value_stage());
        let layout = if value_stage {
            Ok(Layout::open(out_format.is_json()))
        } else {
            Layout::new(&projection, &columns, json_input, out_format.is_json())
        };
        // With no input at all there are no columns to check flags against.
        let layout = match (layout, &header) {
            (Ok(l), _) => l,
            (Err(_), None) => Layout::new(&Projection::default(), &[], json_input, true)?,
            (Err(e), Some(_)) => return Err(e),
        };
        let mut encoder =
            Encoder::new(out_format, out_delimiter, layout.clone(), self.null_bytes())
                .with_no_infer(self.no_infer);
        if format.is_delimited() && !value_stage {
            encoder = encoder.with_csv_input(delimiter, columns.len());
        }
        // Every input is empty: nothing to read, and no header to write (a
        // JSON array output is still `[]`).
        let empty = |out: &mut dyn Write| {
            Sink::new(out, out_name).framed(frame).close()?;
            Ok(RunStats { threads: self.threads, ..RunStats::default() })
        };
        let reducer = match make(&layout, encoder) {
            Ok(r) => r,
            Err(e) if header.is_some() => return Err(e),
            Err(_) => return empty(out),
        };
        if header.is_none() {
            return empty(out);
        }
        let mut sink = Sink::new(out, out_name).framed(frame);
        let parse = ParseOptions {
            format,
            delimiter,
            header_len: columns.len(),
            input_names: splitter.input_names().to_vec(),
            comment: self.comment,
            comment_lines: Default::default(),
        };
        // An `--exec` step runs up to its --concurrency commands at once,
        // each waiting on a worker: the pool grows to that many threads,
        // and the window to twice as many chunks, so that a slow chunk
        // (which holds up the in-order merge) does not idle the others.
        let exec_concurrency = chain.as_ref().and_then(|c| c.exec_concurrency()).unwrap_or(0);
        let opts = ExecOptions {
            threads: self.threads.max(exec_concurrency).max(plan.threads),
            max_in_flight: self.max_in_flight.max(2 * exec_concurrency),
            on_error: self.on_error,
            max_errors: self.max_errors,
            progress: self.progress,
            input_bytes: plan.input_bytes,
            cancel: self.cancel.clone(),
            setting_names: self.setting_names,
        };
        let mut rejects_out = match (&self.rejects, self.on_error) {
            (Some(path), OnError::Reject) => Some(Output::file(path)?),
            _ => None,
        };
        let rejects_name = rejects_out.as_ref().map(|o| o.name().to_string()).unwrap_or_default();
        let result = {
            let mut rejects_sink = rejects_out.as_mut().map(|o| Sink::new(o, &rejects_name));
            exec::run_journaled(
                splitter,
                parse,
                chain.clone(),
                Arc::new(reducer),
                &mut sink,
                rejects_sink.as_mut(),
                opts,
                journal,
            )
            .map(|mut stats| {
                stats.exec = chain.as_ref().and_then(|c| c.exec_stats());
                stats.http = chain.as_ref().and_then(|c| c.http_stats());
                stats
            })
        };
        // The rejects file is kept even when the run fails: it is the
        // account of what was set aside before the failure. An interrupted
        // or cancelled run leaves nothing behind.
        if let Some(o) = rejects_out {
            if !matches!(&result, Err(e) if matches!(e.kind(), ErrorKind::Interrupted { .. } | ErrorKind::Cancelled))
            {
                o.commit()?;
            }
        }
        result
    }
}
