//! Runs split into map, combine and reduce steps over partial lines (see
//! `reduce::partial_line`), for engines that run one program per split
//! and shuffle by key (Hadoop Streaming, Spark's `RDD.pipe`, Dask):
//! [`PartialStep`], the pipeline's [`Pipeline::partial_fingerprint`], and
//! the runs of the combine and reduce steps, which read partial lines
//! instead of records.

use std::io::Write;
use std::sync::Arc;

use parking_lot::Mutex;

use super::run::{group_columns, sort_columns};
use super::{Pipeline, ReduceSpec};
use crate::error::{Error, Result, Setting};
use crate::exec::RunStats;
use crate::format::Format;
use crate::record::{ColumnRef, Source};
use crate::reduce::custom_lines::CustomLines;
use crate::reduce::group_by::{PartialIo, PartialOutput, SortedPartials};
use crate::reduce::record_lines::{LinesStep, RecordLines};
use crate::reduce::sort_key::SortKeys;
use crate::reduce::{CustomReduce, GroupBy, SortKeySpec};
use crate::sink::encode::Encoder;
use crate::sink::rejects::OnError;
use crate::sink::Output;
use crate::source::Input;
use crate::transform::{Layout, Projection, Step, ValueOptions};

/// A step of a run split across many programs, as an engine runs it: the
/// map step over each split of the input, the combine step (optional) over
/// some map steps' lines, the reduce step over each key's lines.
///
/// What the lines hold depends on the reducer: one per group of a
/// group-by (every aggregate's exact state), one per record kept by a
/// sort or a top-K (keyed by the record's place in the output), one per
/// split of a custom reducer (its accumulator). A pipeline with no
/// reducer has only a map step, which writes the split's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartialStep {
    /// Reads records, as a run does, and writes partial lines
    /// (`key<TAB>partial`) instead of the output.
    Map,
    /// Reads partial lines (two-column TSV, in any order) and writes them
    /// merged, one per key, in key order: a Hadoop combiner, or a Spark
    /// `reduceByKey` step.
    Combine,
    /// Reads partial lines and writes the output, byte for byte what one
    /// run over the whole input writes.
    Reduce,
}

/// The column names partial lines are read under.
const LINE_COLUMNS: [&str; 2] = ["key", "partial"];

impl Pipeline {
    /// A hash of the settings that shape the records and their aggregates
    /// (the steps, the projection, `--no-infer`, the null markers, the
    /// reducer), written in every partial line: the steps of one run must
    /// share it. Settings that only change how the work is done or the
    /// output is written (threads, chunks, memory, formats, delimiters,
    /// the inputs) are left out. wyhash of a text, with seed 0: the same
    /// on every machine.
    pub fn partial_fingerprint(&self) -> u64 {
        if let Some(print) = self.partial_print {
            return print;
        }
        let steps: Vec<String> = self
            .steps
            .iter()
            .map(|s| match s {
                Step::Filter(e) => format!("filter {e}"),
                Step::Map(e) => format!("map {e}"),
                Step::Select(c) => format!("select {c:?}"),
                Step::Drop(c) => format!("drop {c:?}"),
                Step::Rename(r) => format!("rename {r:?}"),
                Step::Rust(m) => format!("rust {}", m.name()),
                Step::Exec(spec) => format!("exec {:?} {}", spec.mode, spec.command),
                Step::Http(spec) => crate::pipeline::fingerprint::http_step_text(spec),
            })
            .collect();
        let text = format!(
            "steps {steps:?}\nprojection {:?}\nno_infer {}\nnull {:?}\nreduce {:?}\n",
            self.projection, self.no_infer, self.null_markers, self.reduce
        );
        wyhash::wyhash(text.as_bytes(), 0)
    }

    /// The output format of a reduce step: the output format, else the
    /// input format set (the inputs are partial lines: their own format
    /// says nothing), else CSV; and its delimiter.
    fn reduce_output(&self) -> (Format, u8) {
        let format = self.output_format.or(self.input_format).unwrap_or(Format::Csv);
        let delimiter = match (self.output_delimiter, self.output_format) {
            (Some(d), _) => d,
            (None, None) => self.delimiter.unwrap_or(format.default_delimiter().unwrap_or(b',')),
            (None, Some(f)) => f.default_delimiter().unwrap_or(b','),
        };
        (format, delimiter)
    }

    /// Checks that this pipeline can run as its partial step, and write
    /// `--emit-partials`.
    ///
    /// # Errors
    /// [`ErrorKind::Setting`](crate::ErrorKind::Setting): for
    /// [`Setting::PartialStep`], a combine or reduce step of a pipeline
    /// with no reducer (it is map-only); for [`Setting::OutputFormat`],
    /// the map step of such a pipeline with a JSON array output (its
    /// parts cannot be concatenated); for [`Setting::EmitPartials`],
    /// partials emitted by a partial step or by a run with no group-by.
    pub(super) fn check_partial_step(&self) -> Result<()> {
        if self.emit_partials.is_some() {
            let why = match (&self.partial_step, &self.reduce) {
                (Some(_), _) => "is for a whole run: a map step writes partial lines already",
                (None, ReduceSpec::GroupBy { .. }) => "",
                (None, _) => "needs --group-by or --agg",
            };
            if !why.is_empty() {
                return Err(Error::setting(Setting::EmitPartials, why));
            }
        }
        match (&self.partial_step, &self.reduce) {
            (None, _)
            | (
                Some(_),
                ReduceSpec::GroupBy { .. } | ReduceSpec::Sort(_) | ReduceSpec::TopK { .. },
            ) => Ok(()),
            (Some(PartialStep::Map), ReduceSpec::Concat)
                if self.output_format != Some(Format::Json) =>
            {
                Ok(())
            }
            (Some(PartialStep::Map), ReduceSpec::Concat) => Err(Error::setting(
                Setting::OutputFormat,
                "json cannot be cut into map-only parts: write ndjson",
            )),
            (Some(_), ReduceSpec::Concat) => Err(Error::setting(
                Setting::PartialStep,
                "a pipeline with no reducer is map-only: its map steps' outputs, in split \
                 order, are the output (only the first split's has the CSV header)",
            )),
            (Some(_), ReduceSpec::Custom(_)) => Ok(()),
        }
    }

    /// The reducer of a sort's or a top-K's map step: the records'
    /// partial lines (see `reduce::record_lines`), over the run's
    /// `layout`, records encoded by `encoder`.
    ///
    /// # Errors
    /// [`ErrorKind::UnknownColumn`](crate::ErrorKind::UnknownColumn) for a
    /// key column the output does not have.
    pub(super) fn map_record_lines(
        &self,
        layout: &Layout,
        encoder: Encoder,
    ) -> Result<RecordLines> {
        let (spec, group, per_group) = match &self.reduce {
            ReduceSpec::Sort(keys) => (keys, &[][..], None),
            ReduceSpec::TopK { k, keys, group_by } => (keys, &group_by[..], Some(*k)),
            _ => return Err(Error::internal("record lines of a reducer with no records")),
        };
        let step = LinesStep::Map {
            keys: SortKeys::new(sort_columns(layout, spec)?, self.null_bytes()),
            group: group_columns(layout, group)?,
            split: self.split_index,
        };
        Ok(RecordLines::new(
            step,
            per_group,
            encoder,
            self.null_bytes(),
            self.partial_fingerprint(),
        ))
    }

    /// How a group-by of this pipeline's map step (or whole run) writes:
    /// `emitted` is the `--emit-partials` output, when there is one.
    pub(super) fn map_partials(&self, emitted: Option<&Arc<Mutex<Output>>>) -> PartialIo {
        let output = match (self.partial_step, emitted) {
            (Some(PartialStep::Map), _) => PartialOutput::Lines,
            (_, Some(out)) => PartialOutput::Both(out.clone()),
            _ => PartialOutput::Rows,
        };
        PartialIo { input: None, output, fingerprint: self.partial_fingerprint() }
    }

    /// The reduce step of a sort or a top-K over lines in any order: a
    /// first run sorts them by key (the sorted reducer, spilling past the
    /// memory limit) into a temporary file in the temp dir, and the
    /// reduce streams that. `reader` is the pipeline that reads the lines.
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) naming the temp dir; those
    /// of the two runs.
    fn reduce_unsorted_record_lines(
        &self,
        reader: &Pipeline,
        out: &mut dyn Write,
        out_name: &str,
    ) -> Result<RunStats> {
        let dir = self.resolved_temp_dir();
        let tmp = tempfile::NamedTempFile::new_in(&dir)
            .map_err(|e| Error::io_note(dir.display().to_string(), Setting::TempDir, e))?;
        let tmp_name = tmp.path().display().to_string();
        let mut sorter = reader.clone();
        sorter.partial_step = None;
        sorter.reduce = ReduceSpec::Sort(vec![SortKeySpec {
            column: LINE_COLUMNS[0].to_string(),
            numeric: false,
            descending: false,
        }]);
        sorter.output_format = Some(Format::Tsv);
        sorter.output_delimiter = Some(b'\t');
        {
            // Its header line (`key`, `partial`) is skipped when read back.
            let mut w = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file());
            sorter.run(&mut w, &tmp_name)?;
            w.flush().map_err(|e| Error::io(&tmp_name, e))?;
        }
        let mut sorted = self.clone();
        sorted.inputs = vec![Input::Path(tmp.path().to_path_buf())];
        sorted.sorted_partials = true;
        sorted.run_reading_partials(PartialStep::Reduce, out, out_name)
    }

    /// The run of a combine or reduce step (`step`): the inputs read as
    /// partial lines (two-column TSV with no header) by the reducer's
    /// line reader in place of records; the output is partial lines
    /// again (combine) or the output (reduce). A line that cannot be
    /// read stops the run, whatever `--on-error` says: a lost partial
    /// would change the result.
    pub(super) fn run_reading_partials(
        &self,
        step: PartialStep,
        out: &mut dyn Write,
        out_name: &str,
    ) -> Result<RunStats> {
        let (format, delimiter) = match step {
            PartialStep::Reduce => self.reduce_output(),
            _ => (Format::Tsv, b'\t'),
        };
        let mut reader = self.clone();
        reader.input_format = Some(Format::Tsv);
        reader.delimiter = Some(b'\t');
        reader.sniffed_delimiter = None;
        reader.input_columns = Some(LINE_COLUMNS.iter().map(|c| c.to_string()).collect());
        reader.output_format = Some(format);
        reader.output_delimiter = Some(delimiter);
        reader.steps = Vec::new();
        reader.projection = Projection::default();
        reader.skip_rows = 0;
        reader.comment = None;
        reader.encoding = None;
        reader.journal = None;
        reader.on_error = OnError::Fail;
        reader.rejects = None;
        reader.max_errors = None;
        let plan = reader.plan();
        let fingerprint = self.partial_fingerprint();
        let columns = |layout: &Layout| -> Result<(ColumnRef, ColumnRef)> {
            let key = layout.resolve(Setting::PartialStep, LINE_COLUMNS[0])?;
            Ok((key, layout.resolve(Setting::PartialStep, LINE_COLUMNS[1])?))
        };
        let (keys, aggs) = match &self.reduce {
            ReduceSpec::GroupBy { keys, aggs } => (keys, aggs),
            ReduceSpec::Custom(spec) => {
                return reader.run_planned(&plan, out, out_name, |layout, encoder| {
                    let opts =
                        ValueOptions { no_infer: self.no_infer, null_markers: self.null_bytes() };
                    let reducer = CustomReduce::new(spec, layout.clone(), encoder, opts)?
                        .with_memory_limit(plan.state_budget, plan.memory_limit);
                    let combine = step == PartialStep::Combine;
                    Ok(CustomLines::new(reducer, columns(layout)?, combine, fingerprint))
                });
            }
            ReduceSpec::Sort(_) | ReduceSpec::TopK { .. }
                if step == PartialStep::Reduce && !self.sorted_partials =>
            {
                return self.reduce_unsorted_record_lines(&reader, out, out_name);
            }
            ReduceSpec::Sort(_) | ReduceSpec::TopK { .. } => {
                let per_group = match &self.reduce {
                    ReduceSpec::TopK { k, .. } => Some(*k),
                    _ => None,
                };
                return reader.run_planned(&plan, out, out_name, |layout, encoder| {
                    let (key, partial) = columns(layout)?;
                    let step = match step {
                        PartialStep::Reduce => LinesStep::Reduce(key, partial),
                        _ => LinesStep::Combine(key, partial),
                    };
                    Ok(RecordLines::new(step, per_group, encoder, self.null_bytes(), fingerprint))
                });
            }
            ReduceSpec::Concat => {
                self.check_partial_step()?;
                return Err(Error::internal("a combine or reduce step of a concat"));
            }
        };
        let output = match step {
            PartialStep::Reduce => PartialOutput::Rows,
            _ => PartialOutput::Lines,
        };
        // The group-by folds no record: its columns are only names.
        let named = |name: &String| ColumnRef { name: name.clone(), source: Source::Index(0) };
        let group_by = |encoder| {
            let aggs = aggs.iter().map(|a| (a.clone(), a.column.as_ref().map(named))).collect();
            GroupBy::new(keys.iter().map(named).collect(), aggs, encoder, self.null_bytes())
        };
        if self.sorted_partials {
            return reader.run_planned(&plan, out, out_name, |layout, encoder| {
                let io = PartialIo { input: None, output, fingerprint };
                Ok(SortedPartials::new(group_by(encoder).with_partials(io), columns(layout)?))
            });
        }
        let (spill, spilled) = reader.spill_options(&plan);
        let stats = reader.run_planned(&plan, out, out_name, |layout, encoder| {
            let io = PartialIo { input: Some(columns(layout)?), output, fingerprint };
            Ok(group_by(encoder)
                .with_memory_limit(plan.state_budget, plan.memory_limit)
                .with_spill(spill, spilled.clone())
                .with_partials(io))
        })?;
        Ok(super::run::with_spills(stats, &spilled))
    }
}
