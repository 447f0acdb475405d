//! [`Pipeline::run`]: the reducer each [`ReduceSpec`] names, built over
//! the run's layout and encoder (and wrapped in a [`KeyUnion`] for the
//! first pass of a key-union run), then [`Pipeline::run_with`].

use std::io::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use super::{PartialStep, Pipeline, Plan, ReduceSpec};
use crate::error::{Error, Result, Setting};
use crate::exec::RunStats;
use crate::record::ColumnRef;
use crate::reduce::{
    Concat, CustomReduce, GroupBy, KeyUnion, Reducer, SortKeySpec, Sorted, SpillOptions,
    SpillStats, TopK, DEFAULT_FAN_IN,
};
use crate::sink::encode::Encoder;
use crate::sink::Output;
use crate::transform::{Layout, Step, ValueOptions};

impl Pipeline {
    /// Runs the pipeline, writing the result to `out` (named `out_name` in
    /// errors). The [`Plan`] is computed once, at the start.
    ///
    /// ```
    /// use fanfold::{Format, Input, Pipeline};
    /// let pipeline = Pipeline::builder()
    ///     .input(Input::reader("mem", std::io::Cursor::new("a,b\n1,x\n2,y\n")))
    ///     .select(["b"])
    ///     .output_format(Format::Ndjson)
    ///     .build()?;
    /// let mut out = Vec::new();
    /// let stats = pipeline.run(&mut out, "<memory>")?;
    /// assert_eq!(out, b"{\"b\":\"x\"}\n{\"b\":\"y\"}\n");
    /// assert_eq!(stats.records_written, 2);
    /// # Ok::<(), fanfold::Error>(())
    /// ```
    ///
    /// # Errors
    /// Settings that do not fit the input ([`ErrorKind::Setting`](crate::ErrorKind::Setting),
    /// [`ErrorKind::UnknownColumn`](crate::ErrorKind::UnknownColumn)), a
    /// [`PipelineBuilder::journal`](super::PipelineBuilder::journal) that cannot be used
    /// ([`ErrorKind::Journal`](crate::ErrorKind::Journal)), a cancelled
    /// [`Pipeline::cancel`] token ([`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled)), and
    /// any error from reading, parsing, reducing or writing, naming its
    /// place.
    pub fn run(&self, out: &mut dyn Write, out_name: &str) -> Result<RunStats> {
        if let Some(step @ (PartialStep::Combine | PartialStep::Reduce)) = self.partial_step {
            return self.run_reading_partials(step, out, out_name);
        }
        let plan = self.plan();
        let has_map = self.steps.iter().any(Step::is_map);
        let out_format = self.output_format.unwrap_or(self.resolved_input_format());
        let writes_records = matches!(
            self.reduce,
            ReduceSpec::Concat | ReduceSpec::Sort(_) | ReduceSpec::TopK { .. }
        );
        if has_map && out_format.is_delimited() && writes_records {
            return self.run_key_union(&plan, out, out_name);
        }
        self.run_collecting(&plan, out, out_name, None)
    }

    /// The run of the [`ReduceSpec`]'s reducer under `plan` (computed
    /// once per run), wrapped in a [`KeyUnion`] collecting into `union`
    /// when given.
    pub(super) fn run_collecting(
        &self,
        plan: &Plan,
        out: &mut dyn Write,
        out_name: &str,
        union: Option<Arc<parking_lot::Mutex<Vec<String>>>>,
    ) -> Result<RunStats> {
        match &self.reduce {
            ReduceSpec::Concat => {
                // A map step writes the header in the first split's part.
                let header = self.partial_step.is_none() || self.split_index == 0;
                self.run_wrapped(plan, out, out_name, union.clone(), |_, enc| {
                    let concat = Concat::new(enc);
                    Ok(if header { concat } else { concat.without_header() })
                })
            }
            ReduceSpec::Sort(_) | ReduceSpec::TopK { .. }
                if self.partial_step == Some(PartialStep::Map) =>
            {
                self.run_wrapped(plan, out, out_name, union.clone(), |layout, enc| {
                    self.map_record_lines(layout, enc)
                })
            }
            ReduceSpec::Sort(keys_spec) => {
                let (spill, spilled) = self.spill_options(plan);
                let stats =
                    self.run_wrapped(plan, out, out_name, union.clone(), |layout, enc| {
                        Ok(Sorted::new(sort_columns(layout, keys_spec)?, enc, self.null_bytes())
                            .with_merge_threads(self.threads)
                            .with_spill(spill, spilled.clone()))
                    })?;
                Ok(with_spills(stats, &spilled))
            }
            ReduceSpec::Custom(spec) => self.run_planned(plan, out, out_name, |layout, enc| {
                let opts =
                    ValueOptions { no_infer: self.no_infer, null_markers: self.null_bytes() };
                let reducer = CustomReduce::new(spec, layout.clone(), enc, opts)?
                    .with_memory_limit(plan.state_budget, plan.memory_limit);
                Ok(match self.partial_step {
                    Some(_) => reducer.with_map_line(self.split_index, self.partial_fingerprint()),
                    None => reducer,
                })
            }),
            ReduceSpec::GroupBy { keys: group_keys, aggs } => {
                let (spill, spilled) = self.spill_options(plan);
                let emitted = match &self.emit_partials {
                    Some(path) => Some(Arc::new(parking_lot::Mutex::new(Output::file(path)?))),
                    None => None,
                };
                let stats = self.run_planned(plan, out, out_name, |layout, enc| {
                    let keys = group_columns(layout, group_keys)?;
                    let aggs = aggs
                        .iter()
                        .map(|a| {
                            let col = a
                                .column
                                .as_ref()
                                .map(|c| layout.resolve(Setting::Agg, c))
                                .transpose()?;
                            Ok((a.clone(), col))
                        })
                        .collect::<Result<Vec<_>>>()?;
                    Ok(GroupBy::new(keys, aggs, enc, self.null_bytes())
                        .with_memory_limit(plan.state_budget, plan.memory_limit)
                        .with_spill(spill, spilled.clone())
                        .with_partials(self.map_partials(emitted.as_ref()))
                        .with_split(self.split_index))
                })?;
                if let Some(out) = emitted {
                    // The reducer, and its handle on the file, are gone.
                    let out = Arc::try_unwrap(out).map_err(|_| {
                        Error::internal("the --emit-partials output is still in use")
                    })?;
                    out.into_inner().commit()?;
                }
                Ok(with_spills(stats, &spilled))
            }
            ReduceSpec::TopK { k, keys, group_by } => {
                let (spill, spilled) = self.spill_options(plan);
                let stats = self.run_wrapped(plan, out, out_name, union, |layout, enc| {
                    let (keys, group_by) =
                        (sort_columns(layout, keys)?, group_columns(layout, group_by)?);
                    Ok(TopK::new(*k, keys, group_by, enc, self.null_bytes())
                        .with_memory_limit(plan.state_budget, plan.memory_limit)
                        .with_spill(spill, spilled.clone()))
                })?;
                Ok(with_spills(stats, &spilled))
            }
        }
    }

    /// Where a reducer that spills past the state's budget writes its runs
    /// (`plan.state_budget` bytes for the final merge's read buffers,
    /// `--temp-dir`, [`DEFAULT_FAN_IN`]), and the counters it reports them
    /// in.
    pub(super) fn spill_options(&self, plan: &Plan) -> (SpillOptions, Arc<SpillStats>) {
        let opts = SpillOptions {
            budget: plan.state_budget,
            dir: self.resolved_temp_dir(),
            fan_in: DEFAULT_FAN_IN,
        };
        (opts, Arc::new(SpillStats::default()))
    }

    /// [`Pipeline::run_with`], with the reducer wrapped in a [`KeyUnion`]
    /// when `keys` is given.
    fn run_wrapped<R: Reducer>(
        &self,
        plan: &Plan,
        out: &mut dyn Write,
        out_name: &str,
        keys: Option<Arc<parking_lot::Mutex<Vec<String>>>>,
        make: impl FnOnce(&Layout, Encoder) -> Result<R>,
    ) -> Result<RunStats> {
        match keys {
            None => self.run_planned(plan, out, out_name, make),
            Some(k) => {
                self.run_planned(plan, out, out_name, |l, e| Ok(KeyUnion::new(make(l, e)?, k)))
            }
        }
    }
}

/// `keys` (`--sort-by`) with their columns in `layout`.
///
/// # Errors
/// [`ErrorKind::UnknownColumn`](crate::ErrorKind::UnknownColumn) naming
/// `--sort-by` for a column `layout` does not have.
pub(super) fn sort_columns(
    layout: &Layout,
    keys: &[SortKeySpec],
) -> Result<Vec<(ColumnRef, SortKeySpec)>> {
    keys.iter().map(|k| Ok((layout.resolve(Setting::SortBy, &k.column)?, k.clone()))).collect()
}

/// The `--group-by` columns `names` in `layout`.
///
/// # Errors
/// [`ErrorKind::UnknownColumn`](crate::ErrorKind::UnknownColumn) naming
/// `--group-by` for a column `layout` does not have.
pub(super) fn group_columns(layout: &Layout, names: &[String]) -> Result<Vec<ColumnRef>> {
    names.iter().map(|c| layout.resolve(Setting::GroupBy, c)).collect()
}

/// `stats` with the runs and bytes `spilled` counted (for `--stats`).
pub(super) fn with_spills(mut stats: RunStats, spilled: &SpillStats) -> RunStats {
    stats.spilled_runs = spilled.runs.load(Relaxed);
    stats.spilled_bytes = spilled.bytes.load(Relaxed);
    stats
}
