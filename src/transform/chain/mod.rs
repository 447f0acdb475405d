//! The transform chain: `--filter`, `--map`, `--select`, `--drop` and
//! `--rename` in the order given, run on the workers, chunk by chunk.
//!
//! The chain runs in two stages:
//!
//! - **Native stage**: the steps before the first `--map`. Records stay as
//!   parsed (borrowed from the chunk, written back byte for byte); a
//!   `--filter` sees the record as a JSON object keyed by the columns that
//!   the projection flags given before it leave, and the projection flags
//!   combine into one [`Projection`] as they do without the chain.
//! - **Value stage**: from the first `--map` on, each record is a jq value
//!   (an object) that the remaining steps replace, filter, fan out and
//!   reshape. The results are written as NDJSON into a buffer of the chunk
//!   and parsed back into records for the reducer, so every reducer works
//!   on them unchanged. A field whose key and value are the same as in the
//!   input record is written with its input text (a CSV `1.50` stays
//!   `1.50`, a JSON `"\u00e9"` keeps its escape); other values are written
//!   as compact JSON.
//! - **`--exec` (and `--exec-persistent`) steps** cut the value stage into segments: the records a
//!   segment wrote for the chunk go, all together, through the command
//!   (see [`crate::transform::command`]), and the records it prints go on
//!   through the next segment's steps. Records the command prints are
//!   placed at their chunk's first line, and do not count as filtered.

use std::collections::HashSet;

use crate::cancel::CancelToken;
use crate::error::{Error, ErrorKind, ExecError, HttpError, Location, Result, Setting};
use crate::parse::{for_each_record_or, BadRecord, ParseOptions};
use crate::record::{Field, Fields, LineAt, LineCursor, Record};
use crate::source::Chunk;
use crate::syntax::json_object::object_pairs;
use crate::transform::command::{merge_stats, ExecStage, ExecStats};
use crate::transform::fast_filter::FastFilter;
use crate::transform::http::{merge_http_stats, HttpStage, HttpStats};
use crate::transform::jq::{JqProgram, ValueOptions};
use crate::transform::{Layout, Projection};

mod record_view;
mod step;
mod value_stage;

pub(crate) use record_view::record_value;
use record_view::view_source;
pub use step::Step;
use value_stage::{keep, FieldWriter, NativeFilter, Place, ValueStage, ValueStep};

/// The records a chain's value stage made of one chunk
/// ([`Chain::map_chunk`]), before the reducer sees them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapped {
    /// Input records read from the chunk, bad ones included.
    pub read: u64,
    /// Input records the chain dropped (filtered out, or mapped to
    /// nothing).
    pub filtered: u64,
    /// The records that came out: one compact JSON object per line, each
    /// ended by `\n`.
    pub records: Vec<u8>,
    /// For each line of `records`: the 1-based input line, the byte offset
    /// in its input and the index in the chunk of the input record it came
    /// from (for a record an `--exec` command printed: the chunk's first
    /// line and offset, and its last record's index).
    pub places: Vec<(u64, u64, u64)>,
}

/// An external step: a command (`--exec`, `--exec-persistent`) or a web
/// service (`--http`).
#[derive(Debug)]
enum External {
    Exec(ExecStage),
    Http(HttpStage),
}

impl External {
    /// Stops the step: no more attempts, running ones ended.
    fn stop(&self) {
        match self {
            External::Exec(e) => e.stop(),
            External::Http(h) => h.stop(),
        }
    }

    /// Retries so far.
    fn retries(&self) -> u64 {
        match self {
            External::Exec(e) => e.retries(),
            External::Http(h) => h.retries(),
        }
    }
}

/// An external step and the value steps after it, up to the next one.
#[derive(Debug)]
struct ExecSegment {
    exec: External,
    rest: ValueStage,
}

/// The resolved chain; see the module docs.
#[derive(Debug)]
pub struct Chain {
    native_filters: Vec<NativeFilter>,
    value: Option<ValueStage>,
    /// The `--exec` steps, each with the value steps that follow it.
    execs: Vec<ExecSegment>,
    /// How untouched input fields are written back.
    writer: FieldWriter,
}

impl Chain {
    /// Resolves `steps` (after `base`, the pipeline's own projection)
    /// against the input's columns. Returns the chain and the projection
    /// the output layout uses when there is no `--map`. Its `--exec` steps
    /// stop (kill their running commands, start no more) once `cancel` is
    /// cancelled; pass the run's token (a fresh [`CancelToken`] when
    /// nothing is to stop them).
    ///
    /// # Errors
    /// A jq syntax or compile error ([`ErrorKind::Setting`]), or a projection flag
    /// naming an unknown column ([`ErrorKind::UnknownColumn`]).
    pub fn new(
        base: &Projection,
        steps: &[Step],
        columns: &[String],
        json_input: bool,
        opts: ValueOptions,
        delimited_out: bool,
        cancel: &CancelToken,
    ) -> Result<(Chain, Projection)> {
        let mut projection = base.clone();
        let mut native_filters = Vec::new();
        let mut rest = steps;
        while let Some((step, tail)) = rest.split_first() {
            match step {
                Step::Map(_) | Step::Rust(_) | Step::Exec(_) | Step::Http(_) => break,
                Step::Filter(code) => {
                    let view = Layout::new(&projection, columns, json_input, true)?;
                    let program = JqProgram::new(Setting::Filter, code, &[])?;
                    let fast = FastFilter::new(code).map(|f| {
                        let sources = f.keys().iter().map(|k| view_source(&view, k)).collect();
                        (f, sources)
                    });
                    native_filters.push(NativeFilter { program, view, fast });
                }
                Step::Select(c) => {
                    projection.select.get_or_insert_with(Vec::new).extend_from_slice(c)
                }
                Step::Drop(c) => projection.drop.extend_from_slice(c),
                Step::Rename(r) => projection.rename.extend_from_slice(r),
            }
            rest = tail;
        }
        let mut execs = Vec::new();
        let value = if rest.is_empty() {
            None
        } else {
            let view = Layout::new(&projection, columns, json_input, true)?;
            let mut value_steps = Vec::new();
            let mut last_map = None;
            let mut first = None;
            for step in rest {
                value_steps.push(match step {
                    Step::Exec(_) | Step::Http(_) => {
                        let (exec, label) = match step {
                            Step::Exec(spec) => (
                                External::Exec(ExecStage::new(spec, json_input, cancel)?),
                                (spec.setting(), spec.command.clone()),
                            ),
                            Step::Http(spec) => {
                                let stage = HttpStage::new(spec, cancel)?;
                                let label = (Setting::Http, stage.shown_url());
                                (External::Http(stage), label)
                            }
                            _ => continue,
                        };
                        let steps = std::mem::take(&mut value_steps);
                        let last = last_map.replace(label.clone());
                        let last = last.unwrap_or_else(|| label.clone());
                        match execs.last_mut() {
                            None => first = Some((steps, last)),
                            Some(ExecSegment { rest, .. }) => {
                                *rest =
                                    ValueStage { view: Layout::open(true), steps, last_map: last }
                            }
                        }
                        let rest = ValueStage {
                            view: Layout::open(true),
                            steps: Vec::new(),
                            last_map: label,
                        };
                        execs.push(ExecSegment { exec, rest });
                        continue;
                    }
                    Step::Filter(code) => {
                        ValueStep::Filter(JqProgram::new(Setting::Filter, code, &[])?)
                    }
                    Step::Map(code) => {
                        let p = JqProgram::new(Setting::Map, code, &[])?;
                        last_map = Some((Setting::Map, code.clone()));
                        ValueStep::Map(p)
                    }
                    Step::Rust(m) => {
                        last_map = Some((Setting::Map, m.name().to_string()));
                        ValueStep::Rust(m.clone())
                    }
                    Step::Select(c) => ValueStep::Select(c.clone()),
                    Step::Drop(c) => {
                        ValueStep::Drop(c.iter().map(|s| s.as_bytes().to_vec()).collect())
                    }
                    Step::Rename(r) => ValueStep::Rename(
                        r.iter()
                            .map(|(a, b)| (a.as_bytes().to_vec(), b.as_bytes().to_vec()))
                            .collect(),
                    ),
                });
            }
            let last_map =
                last_map.ok_or_else(|| ErrorKind::Internal("value stage without --map".into()))?;
            match (first, execs.last_mut()) {
                (Some((steps, first_map)), Some(segment)) => {
                    segment.rest.steps = value_steps;
                    segment.rest.last_map = last_map;
                    Some(ValueStage { view, steps, last_map: first_map })
                }
                _ => Some(ValueStage { view, steps: value_steps, last_map }),
            }
        };
        let writer = FieldWriter { opts, delimited_out };
        let chain = Chain { native_filters, value, execs, writer };
        Ok((chain, projection))
    }

    /// True when records leave the chain as NDJSON objects (there is a
    /// `--map`), so the reducers must address columns by key.
    pub fn has_value_stage(&self) -> bool {
        self.value.is_some()
    }

    /// What the `--exec` steps did so far; `None` without one.
    pub fn exec_stats(&self) -> Option<ExecStats> {
        merge_stats(self.execs.iter().filter_map(|s| match &s.exec {
            External::Exec(e) => Some(e.stats()),
            External::Http(_) => None,
        }))
    }

    /// What the `--http` steps did so far; `None` without one.
    pub fn http_stats(&self) -> Option<HttpStats> {
        merge_http_stats(self.execs.iter().filter_map(|s| match &s.exec {
            External::Http(h) => Some(h.stats()),
            External::Exec(_) => None,
        }))
    }

    /// The `--http` steps' requests sent, in flight now, and 429 answers
    /// so far, added up; `None` without one.
    pub fn http_progress(&self) -> Option<(u64, u64, u64)> {
        self.execs
            .iter()
            .filter_map(|s| match &s.exec {
                External::Http(h) => Some(h.progress()),
                External::Exec(_) => None,
            })
            .reduce(|a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2))
    }

    /// Kills the running `--exec` commands and starts no more: the run is
    /// stopping on an error, and what they would print is not needed. (It
    /// cancels the steps' own tokens, children of the one given to
    /// [`Chain::new`], which stays as it was.)
    pub fn stop_execs(&self) {
        self.execs.iter().for_each(|s| s.exec.stop());
    }

    /// Retries of the `--exec` and `--http` steps so far.
    pub fn exec_retries(&self) -> u64 {
        self.execs.iter().map(|s| s.exec.retries()).sum()
    }

    /// The most processes the `--exec` steps run at once; `None` without
    /// one.
    pub fn exec_concurrency(&self) -> Option<usize> {
        self.execs
            .iter()
            .filter_map(|s| match &s.exec {
                External::Exec(e) => Some(e.spec().concurrency),
                External::Http(_) => None,
            })
            .max()
    }

    /// Parses `chunk`, runs the chain on each record and calls `fold` on
    /// every record that comes out, in order. A record that cannot be
    /// parsed or that a step fails on goes to `bad` (which decides whether
    /// the run goes on). Returns the number of input records read and how
    /// many of them the chain dropped (filtered out, or mapped to nothing).
    ///
    /// With a value stage this is [`Chain::map_chunk`] then
    /// [`Chain::fold_mapped`].
    ///
    /// # Errors
    /// What `bad` and `fold` return.
    pub fn run_chunk(
        &self,
        chunk: &Chunk,
        parse: &ParseOptions,
        fold: &mut dyn FnMut(&Record<'_>) -> Result<()>,
        bad: &mut dyn FnMut(Error, BadRecord<'_>) -> Result<()>,
    ) -> Result<(u64, u64)> {
        if let Some(mapped) = self.map_chunk(chunk, parse, bad)? {
            let input = parse.input_names.get(chunk.input).map_or("<input>", String::as_str);
            self.fold_mapped(&mapped, input, chunk.seq, fold, bad)?;
            return Ok((mapped.read, mapped.filtered));
        }
        let mut filtered = 0;
        let read = for_each_record_or(
            chunk,
            parse,
            |rec| {
                if keep(&self.native_filters, rec, &self.writer.opts)? {
                    fold(rec)
                } else {
                    filtered += 1;
                    Ok(())
                }
            },
            bad,
        )?;
        Ok((read, filtered))
    }

    /// The map half of [`Chain::run_chunk`] for a chain with a value stage
    /// (a `--map`, a Rust map or an `--exec`): parses `chunk` and runs every
    /// step, `--exec` commands included, on its records, sending bad ones
    /// to `bad`. Returns the records that come out, as NDJSON, ready for
    /// [`Chain::fold_mapped`]; `None` when the chain has no value stage
    /// (its records are the parsed input records, folded as they are read).
    ///
    /// This is what `--journal` records for a chunk: folding the same
    /// [`Mapped`] again gives the reducer the same records.
    ///
    /// # Errors
    /// What `bad` returns.
    pub fn map_chunk(
        &self,
        chunk: &Chunk,
        parse: &ParseOptions,
        bad: &mut dyn FnMut(Error, BadRecord<'_>) -> Result<()>,
    ) -> Result<Option<Mapped>> {
        let Some(stage) = &self.value else { return Ok(None) };
        let mut filtered = 0;
        let mut buf = Vec::new();
        let mut places = Vec::new();
        let mut lines = LineCursor::default();
        // Where the records that reach the first `--exec` are in the chunk.
        let mut entered = Vec::new();
        let read = for_each_record_or(
            chunk,
            parse,
            |rec| {
                let produced = if keep(&self.native_filters, rec, &self.writer.opts)? {
                    stage.run(rec, &mut buf, &mut places, &mut lines, &self.writer)?
                } else {
                    0
                };
                if produced == 0 {
                    filtered += 1;
                } else if !self.execs.is_empty() {
                    entered.push((rec.offset.saturating_sub(chunk.offset), rec.raw.len()));
                }
                Ok(())
            },
            bad,
        )?;
        if !self.execs.is_empty() {
            // With only `--http` steps each record keeps its own place, so
            // a record all of whose answers are `null` (or that
            // `--http-request` skips) counts as filtered, as a `--map` with
            // no output does. (A command's output records have no input
            // record of their own.)
            let http_only = self.execs.iter().all(|s| matches!(s.exec, External::Http(_)));
            let reached: HashSet<u64> =
                if http_only { places.iter().map(|p| p.2).collect() } else { HashSet::new() };
            let mut rejected = HashSet::new();
            let mut note_bad = |e: Error, r: BadRecord<'_>| {
                rejected.insert(r.index);
                bad(e, r)
            };
            match self.run_execs(chunk, parse, read, &entered, buf, places, &mut note_bad)? {
                Some((b, p)) => {
                    let out: HashSet<u64> = p.iter().map(|p| p.2).collect();
                    filtered += reached
                        .iter()
                        .filter(|i| !out.contains(i) && !rejected.contains(i))
                        .count() as u64;
                    (buf, places) = (b, p);
                }
                None => {
                    let (records, places) = (Vec::new(), Vec::new());
                    return Ok(Some(Mapped { read, filtered, records, places }));
                }
            }
        }
        Ok(Some(Mapped { read, filtered, records: buf, places }))
    }

    /// The fold half of [`Chain::run_chunk`]: parses the records of
    /// `mapped` (which [`Chain::map_chunk`] made for the chunk of `input`
    /// whose `seq` is `chunk`) and calls `fold` on each, in order. A record that cannot be written
    /// as JSON, or that `fold` fails on with a record error, goes to `bad`.
    ///
    /// # Errors
    /// What `bad` and `fold` return; [`ErrorKind::Internal`] when the records
    /// are not UTF-8.
    pub fn fold_mapped(
        &self,
        mapped: &Mapped,
        input: &str,
        chunk: u64,
        fold: &mut dyn FnMut(&Record<'_>) -> Result<()>,
        bad: &mut dyn FnMut(Error, BadRecord<'_>) -> Result<()>,
    ) -> Result<()> {
        let Some(stage) = &self.value else { return Ok(()) };
        let text = std::str::from_utf8(&mapped.records)
            .map_err(|e| ErrorKind::Internal(format!("--map output is not UTF-8: {e}")))?;
        let mut pairs = Vec::new();
        for (line_text, &(line, offset, index)) in text.lines().zip(&mapped.places) {
            pairs.clear();
            let raw = line_text.as_bytes();
            if let Err(e) = object_pairs(line_text, &mut pairs) {
                let e = ErrorKind::Jq {
                    at: Location { input: input.to_string(), line },
                    setting: stage.last_map.0,
                    expr: stage.last_map.1.clone(),
                    message: format!("the result cannot be written as JSON: {e}"),
                };
                bad(e.into(), BadRecord { raw, offset, index })?;
                continue;
            }
            let line = LineAt::Known(line);
            let rec =
                Record { fields: Fields::Json(&pairs), input, line, raw, offset, index, chunk };
            match fold(&rec) {
                Err(e) if e.is_record_error() => bad(e, BadRecord { raw, offset, index })?,
                other => other?,
            }
        }
        Ok(())
    }

    /// Runs the external steps (and the steps after each) on the records
    /// the first segment wrote to `buf` (at `places`). Returns the records
    /// that come out (NDJSON lines) with their places, or `None` when a
    /// command failed for good and the chunk went to `bad` as one
    /// [`ErrorKind::Exec`]. A record an `--http` step failed on goes to
    /// `bad` alone, as an [`ErrorKind::Http`].
    #[allow(clippy::too_many_arguments)]
    fn run_execs(
        &self,
        chunk: &Chunk,
        parse: &ParseOptions,
        read: u64,
        entered: &[(u64, usize)],
        mut buf: Vec<u8>,
        mut places: Vec<Place>,
        bad: &mut dyn FnMut(Error, BadRecord<'_>) -> Result<()>,
    ) -> Result<Option<(Vec<u8>, Vec<Place>)>> {
        let input = parse.input_names.get(chunk.input).map_or("<input>", String::as_str);
        // Records a command prints stand at the chunk's first line; as an
        // index (which --max-errors counts by), the chunk's last record.
        let index = read.saturating_sub(1);
        let place = (chunk.first_line, chunk.offset, index);
        let write_field =
            |out: &mut Vec<u8>, text: &[u8]| self.writer.write_original(out, Field::Text(text));
        for ExecSegment { exec, rest } in &self.execs {
            if buf.is_empty() {
                return Ok(Some((buf, Vec::new())));
            }
            match exec {
                External::Exec(exec) => {
                    buf = match exec.run(&buf, &write_field, chunk.seq) {
                        Ok(out) => out,
                        Err(failure) => {
                            let mut raw = Vec::new();
                            for &(start, len) in entered {
                                let at = usize::try_from(start).unwrap_or(usize::MAX);
                                let text = chunk.data.get(at..).and_then(|d| d.get(..len));
                                raw.extend_from_slice(text.unwrap_or_default());
                                raw.push(b'\n');
                            }
                            let body = chunk.data.strip_suffix(b"\n").unwrap_or(&chunk.data);
                            let last_line =
                                chunk.first_line + memchr::memchr_iter(b'\n', body).count() as u64;
                            let e = ErrorKind::Exec(Box::new(ExecError {
                                at: Location { input: input.to_string(), line: chunk.first_line },
                                last_line,
                                setting: exec.spec().setting(),
                                command: exec.spec().command.clone(),
                                reason: failure.reason,
                                attempts: failure.attempts,
                                stderr: failure.stderr,
                                records: entered.len() as u64,
                            }));
                            bad(e.into(), BadRecord { raw: &raw, offset: chunk.offset, index })?;
                            return Ok(None);
                        }
                    };
                    places.clear();
                    places.resize(memchr::memchr_iter(b'\n', &buf).count(), place);
                }
                External::Http(http) => {
                    let results = http.run(&buf);
                    let mut out = Vec::with_capacity(buf.len());
                    let mut out_places = Vec::with_capacity(places.len());
                    let lines = buf.split(|&b| b == b'\n').filter(|l| !l.is_empty());
                    for ((line, result), &at) in lines.zip(results).zip(&places) {
                        match result {
                            Ok(records) => {
                                let n = memchr::memchr_iter(b'\n', &records).count();
                                out.extend_from_slice(&records);
                                out_places.extend(std::iter::repeat_n(at, n));
                            }
                            Err(f) => {
                                let e = ErrorKind::Http(Box::new(HttpError {
                                    at: Location { input: input.to_string(), line: at.0 },
                                    url: http.shown_url(),
                                    reason: f.reason,
                                    status: f.status,
                                    attempts: f.attempts,
                                    body: f.body,
                                }));
                                bad(e.into(), BadRecord { raw: line, offset: at.1, index: at.2 })?;
                            }
                        }
                    }
                    buf = out;
                    places = out_places;
                }
            }
            if rest.steps.is_empty() {
                continue;
            }
            let text = std::str::from_utf8(&buf)
                .map_err(|e| ErrorKind::Internal(format!("--exec output is not UTF-8: {e}")))?;
            let mut next = Vec::new();
            let mut next_places = Vec::new();
            let mut pairs = Vec::new();
            for (line_text, &(line, offset, index)) in text.lines().zip(&places) {
                pairs.clear();
                let raw = line_text.as_bytes();
                object_pairs(line_text, &mut pairs)
                    .map_err(|e| ErrorKind::Internal(format!("--exec output was checked: {e}")))?;
                let rec = Record {
                    fields: Fields::Json(&pairs),
                    input,
                    line: LineAt::Known(line),
                    raw,
                    offset,
                    index,
                    chunk: chunk.seq,
                };
                match rest.run(
                    &rec,
                    &mut next,
                    &mut next_places,
                    &mut LineCursor::default(),
                    &self.writer,
                ) {
                    Ok(_) => {}
                    Err(e) if e.is_record_error() => bad(e, BadRecord { raw, offset, index })?,
                    Err(e) => return Err(e),
                }
            }
            buf = next;
            places = next_places;
        }
        Ok(Some((buf, places)))
    }
}
