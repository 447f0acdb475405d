//! [`Pipeline::run_for_each`]: a run whose output records go to a
//! callback instead of a writer. The run writes NDJSON into a [`Write`]
//! that cuts it into lines and hands each, as a [`RecordBuf`], to the
//! callback: one line in memory at a time.

use std::io::{self, Write};

use super::Pipeline;
use crate::error::{Error, ErrorKind, Result};
use crate::exec::RunStats;
use crate::format::Format;
use crate::record::RecordBuf;

/// The name the records' [`RecordBuf::location`] gives, and the run's
/// output name.
const RECORDS: &str = "<records>";

/// An error a callback returns.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Pipeline {
    /// Runs the pipeline and hands each output record, in output order, to
    /// `f`, as the NDJSON output of [`Pipeline::run`] holds it (the
    /// output format is NDJSON whatever [`PipelineBuilder::output_format`](super::PipelineBuilder::output_format) says):
    /// [`RecordBuf::as_json`] is the record's line of that output, byte for
    /// byte, and [`RecordBuf::location`] is `<records>` and the record's
    /// 1-based place in the output. Every reducer works: concat, sort,
    /// top-k, group-by (one record per group), custom. Memory is what the
    /// run takes, plus one record.
    ///
    /// ```
    /// use fanfold::{Input, Pipeline};
    /// let csv = "city,amount\nOslo,1.50\nLima,2\nOslo,0.25\n";
    /// let pipeline = Pipeline::builder()
    ///     .input(Input::reader("sales", std::io::Cursor::new(csv)))
    ///     .group_by(["city"])
    ///     .agg("sum:amount".parse()?)
    ///     .build()?;
    /// let mut sums = Vec::new();
    /// pipeline.run_for_each(|rec| {
    ///     let city = rec.value("city").ok_or("no city")?;
    ///     sums.push((city, rec.value("sum_amount")));
    ///     Ok::<(), &str>(())
    /// })?;
    /// assert_eq!(sums[1], ("Oslo".into(), Some(1.75.into())));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Pipeline::run`]; and [`ErrorKind::Callback`] when `f` returns an
    /// error: the run stops at that record (no later record is handed
    /// over) and its error is the source.
    pub fn run_for_each<E>(
        &self,
        f: impl FnMut(RecordBuf) -> std::result::Result<(), E>,
    ) -> Result<RunStats>
    where
        E: Into<BoxError>,
    {
        let mut pipeline = self.clone();
        pipeline.output_format = Some(Format::Ndjson);
        let mut out = RecordWriter { f, line: Vec::new(), records: 0, failed: None };
        let result = pipeline.run(&mut out, RECORDS);
        if let Some(e) = out.failed.take() {
            return Err(e);
        }
        let stats = result?;
        // The NDJSON encoder ends every record with a newline: nothing is
        // left but in a run that failed.
        if !out.line.is_empty() {
            let line = std::mem::take(&mut out.line);
            out.emit(&line).map_err(|_| out.failed.take().unwrap_or_else(stopped_error))?;
        }
        Ok(stats)
    }
}

/// The error a run gets back from the writer once the callback failed
/// (the callback's own error is what [`Pipeline::run_for_each`] returns).
fn stopped() -> io::Error {
    io::Error::other("the record callback stopped the run")
}

fn stopped_error() -> Error {
    Error::io(RECORDS, stopped())
}

/// NDJSON output cut into records for a callback.
struct RecordWriter<F> {
    f: F,
    /// The start of a line whose end has not been written yet.
    line: Vec<u8>,
    /// Records handed over so far.
    records: u64,
    /// Why the writer stopped: the callback's error, or a line that did not
    /// parse (a bug).
    failed: Option<Error>,
}

impl<F, E> RecordWriter<F>
where
    F: FnMut(RecordBuf) -> std::result::Result<(), E>,
    E: Into<BoxError>,
{
    /// Hands one NDJSON line to the callback.
    fn emit(&mut self, line: &[u8]) -> io::Result<()> {
        self.records += 1;
        let record = match RecordBuf::from_json_line(line, RECORDS, self.records) {
            Ok(r) => r,
            Err(e) => {
                let message = format!("the NDJSON output does not parse: {e}");
                self.failed = Some(Error::internal(message));
                return Err(stopped());
            }
        };
        (self.f)(record).map_err(|e| {
            self.failed =
                Some(ErrorKind::Callback { record: self.records, source: e.into() }.into());
            stopped()
        })
    }
}

impl<F, E> Write for RecordWriter<F>
where
    F: FnMut(RecordBuf) -> std::result::Result<(), E>,
    E: Into<BoxError>,
{
    fn write(&mut self, mut data: &[u8]) -> io::Result<usize> {
        if self.failed.is_some() {
            return Err(stopped());
        }
        let written = data.len();
        while let Some(nl) = memchr::memchr(b'\n', data) {
            if self.line.is_empty() {
                self.emit(&data[..nl])?;
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&data[..nl]);
                self.emit(&line)?;
                line.clear();
                self.line = line;
            }
            data = &data[nl + 1..];
        }
        self.line.extend_from_slice(data);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
