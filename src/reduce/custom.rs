//! A reducer written in jq on the command line (`--reduce-init`,
//! `--reduce-update`, `--reduce-merge`, `--reduce-finish`).
//!
//! Each chunk folds its records into an accumulator with `update` (`.` is
//! the accumulator, `$record` the record, as in jq's
//! `reduce .[] as $record (init; update)`); the merging thread combines
//! the chunks' accumulators in input order with `merge` (`$left` and
//! `$right`, `.` is `$left`); `finish` turns the final accumulator into
//! the output records. Because partials merge in input order, the output
//! is the same for any chunking whenever merging two partials gives what
//! folding their records one after the other would: `merge` must be
//! associative, not commutative.
//!
//! Memory: with [`CustomReduce::with_memory_limit`], the merged
//! accumulator is measured (every string's bytes, every array element and
//! object entry, as [`value_bytes`] counts them) and passing the budget is
//! an error naming `--memory-limit`: a jq value cannot spill. Measuring
//! walks the whole value, so it is done only once what was merged since
//! the last walk could have taken it past the budget and is at least an
//! eighth of its last size (each partial merged is measured, which costs
//! about its chunk): walks cost O(bytes merged) in all, and the
//! accumulator may pass the budget by an eighth before the run stops.

use jaq_json::{Num, Val};
use parking_lot::Mutex;

use crate::error::{Error, ErrorKind, Result, Setting};
use crate::record::Record;
use crate::reduce::partial_line::{push_ordered_u64, write_line};
use crate::reduce::{Reducer, Sink};
use crate::sink::encode::{Encoder, OutValue, OwnedField};
use crate::transform::chain::record_value;
use crate::transform::jq::{key_text, write_value, JqProgram, ValueOptions};
use crate::transform::Layout;

/// The four jq expressions of a custom reducer, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomSpec {
    /// The empty accumulator (input `null`), e.g. `{}`.
    pub init: String,
    /// Accumulator (`.`) and record (`$record`) to the new accumulator.
    pub update: String,
    /// Two accumulators (`$left`, `$right`; `.` is `$left`) to one.
    pub merge: String,
    /// Accumulator to the output records (objects), e.g. `.[]`.
    pub finish: String,
}

/// The reducer; see the module docs.
#[derive(Debug)]
pub struct CustomReduce {
    init: JqProgram,
    update: JqProgram,
    merge: JqProgram,
    finish: JqProgram,
    layout: Layout,
    encoder: Encoder,
    opts: ValueOptions,
    /// The state's budget and the `--memory-limit` it comes from (bytes).
    limit: Option<(u64, u64)>,
    /// The accumulator's bytes when last measured, and the bytes of the
    /// partials merged into it since.
    measured: Mutex<(u64, u64)>,
    /// For the map step: the split's number and the pipeline's
    /// fingerprint; the accumulator is written as one partial line.
    map_line: Option<(u64, u64)>,
}

/// Bytes a jq value holds, as counted for the memory limit: the value
/// itself, plus what its strings, big numbers, arrays and objects hold on
/// the heap (an object entry's key and value and 16 bytes of index; shared
/// parts counted once per reference).
pub(crate) fn value_bytes(v: &Val) -> u64 {
    let own = std::mem::size_of::<Val>() as u64;
    own + match v {
        Val::Null | Val::Bool(_) | Val::Num(Num::Int(_) | Num::Float(_)) => 0,
        Val::Num(Num::BigInt(i)) => i.bits() / 8 + 16,
        Val::Num(Num::Dec(d)) => d.len() as u64 + 16,
        Val::BStr(b) | Val::TStr(b) => b.len() as u64,
        Val::Arr(a) => a.iter().map(value_bytes).sum::<u64>(),
        Val::Obj(o) => o.iter().map(|(k, v)| value_bytes(k) + value_bytes(v) + 16).sum::<u64>(),
    }
}

impl CustomReduce {
    /// Compiles `spec`; records are seen through `layout` (the output
    /// columns) and the results written through `encoder`.
    ///
    /// # Errors
    /// [`ErrorKind::Setting`] naming the flag of an expression that does not
    /// parse or compile.
    pub fn new(
        spec: &CustomSpec,
        layout: Layout,
        encoder: Encoder,
        opts: ValueOptions,
    ) -> Result<Self> {
        Ok(CustomReduce {
            init: JqProgram::new(Setting::ReduceInit, &spec.init, &[])?,
            update: JqProgram::new(Setting::ReduceUpdate, &spec.update, &["$record"])?,
            merge: JqProgram::new(Setting::ReduceMerge, &spec.merge, &["$left", "$right"])?,
            finish: JqProgram::new(Setting::ReduceFinish, &spec.finish, &[])?,
            layout,
            encoder,
            opts,
            limit: None,
            measured: Mutex::new((0, 0)),
            map_line: None,
        })
    }

    /// Writes the final accumulator as one partial line (the map step of
    /// split `split`, lines carrying `fingerprint`; see
    /// `reduce::custom_lines`) instead of finishing it; nothing when no
    /// record was folded.
    pub(crate) fn with_map_line(mut self, split: u64, fingerprint: u64) -> Self {
        self.map_line = Some((split, fingerprint));
        self
    }

    /// Fails the run with [`ErrorKind::MemoryLimit`] once the merged
    /// accumulator (see the module docs) passes `budget` bytes; `limit` is
    /// the `--memory-limit` it comes from (bytes), named in the error.
    pub fn with_memory_limit(mut self, budget: u64, limit: u64) -> Self {
        self.limit = Some((budget, limit));
        self
    }

    /// After `merged` (the new accumulator) took in a partial of
    /// `added` bytes: measures it when it may have passed the budget (see
    /// the module docs), and fails when it has.
    fn check_limit(&self, merged: &Val, added: u64) -> Result<()> {
        let Some((budget, limit)) = self.limit else { return Ok(()) };
        let mut m = self.measured.lock();
        m.1 += added;
        let (known, since) = *m;
        if known + since <= budget || since < known / 8 {
            return Ok(());
        }
        let bytes = value_bytes(merged);
        *m = (bytes, 0);
        if bytes <= budget {
            return Ok(());
        }
        Err(ErrorKind::MemoryLimit {
            limit,
            message: crate::error::msg![
                format!(
                    "the custom reducer's accumulator passed the limit (about {}; {} of the \
                     limit for it; a jq value cannot spill to disk); raise ",
                    crate::units::human_bytes(bytes),
                    crate::units::human_bytes(budget)
                ),
                Setting::MemoryLimit,
                ", or keep less in the accumulator",
            ],
        }
        .into())
    }

    /// The last output of `program`, `None` when it gives none.
    fn last(
        &self,
        program: &JqProgram,
        input: Val,
        vars: Vec<Val>,
    ) -> std::result::Result<Option<Val>, String> {
        let mut last = None;
        program
            .run(input, vars, |v| {
                last = Some(v);
                true
            })
            .map_err(crate::transform::JqError::into_message)?;
        Ok(last)
    }

    fn initial(&self) -> Result<Val> {
        let v =
            self.last(&self.init, Val::Null, Vec::new()).map_err(|m| flag_error(&self.init, m))?;
        Ok(v.unwrap_or(Val::Null))
    }
}

fn flag_error(program: &JqProgram, message: String) -> Error {
    Error::setting(program.setting(), format!("`{}`: {message}", program.code()))
}

impl Reducer for CustomReduce {
    /// The accumulator of the chunks so far; `None` before any record.
    type Partial = Option<Val>;

    fn empty(&self) -> Option<Val> {
        None
    }

    fn fold(&self, partial: &mut Option<Val>, record: &Record<'_>) -> Result<()> {
        let jq_error = |message: String| ErrorKind::Jq {
            at: record.location(),
            setting: self.update.setting(),
            expr: self.update.code().to_string(),
            message,
        };
        let acc = match partial.take() {
            Some(acc) => acc,
            None => self.initial()?,
        };
        let next = record_value(record, &self.layout, &self.opts)
            .and_then(|rec| self.last(&self.update, acc.clone(), vec![rec]));
        match next {
            // No output keeps the accumulator; several: the last (as jq 1.7).
            Ok(next) => {
                *partial = Some(next.unwrap_or(acc));
                Ok(())
            }
            Err(message) => {
                // Keep the accumulator, so the record can be skipped.
                *partial = Some(acc);
                Err(jq_error(message).into())
            }
        }
    }

    fn merge(&self, total: &mut Option<Val>, next: Option<Val>) -> Result<()> {
        let Some(right) = next else { return Ok(()) };
        let added = if self.limit.is_some() { value_bytes(&right) } else { 0 };
        let Some(left) = total.take() else {
            self.check_limit(&right, added)?;
            *total = Some(right);
            return Ok(());
        };
        let merged = self
            .last(&self.merge, left.clone(), vec![left, right])
            .map_err(|m| flag_error(&self.merge, m))?
            .ok_or_else(|| flag_error(&self.merge, "gave no result".into()))?;
        self.check_limit(&merged, added)?;
        *total = Some(merged);
        Ok(())
    }

    fn finish(&self, total: Option<Val>, sink: &mut Sink<'_>) -> Result<()> {
        *self.measured.lock() = (0, 0);
        if let Some((split, fingerprint)) = self.map_line {
            let Some(acc) = total else { return Ok(()) };
            let (mut line, mut key, mut json) = (Vec::new(), Vec::new(), Vec::new());
            push_ordered_u64(&mut key, split);
            write_value(&mut json, &acc);
            write_line(&mut line, &key, fingerprint, &json);
            return sink.write(&line, 1);
        }
        let acc = match total {
            Some(acc) => acc,
            None => self.initial()?,
        };
        let mut outputs = Vec::new();
        let mut bad = None;
        self.finish
            .run(acc, Vec::new(), |v| match v {
                Val::Obj(map) => {
                    let fields: Vec<(String, OutValue)> = map
                        .iter()
                        .map(|(k, v)| {
                            (String::from_utf8_lossy(&key_text(k)).into_owned(), out_value(v))
                        })
                        .collect();
                    outputs.push(fields);
                    true
                }
                other => {
                    let mut text = Vec::new();
                    write_value(&mut text, &other);
                    bad = Some(String::from_utf8_lossy(&text).chars().take(60).collect::<String>());
                    false
                }
            })
            .map_err(|m| flag_error(&self.finish, m.into_message()))?;
        if let Some(v) = bad {
            return Err(flag_error(
                &self.finish,
                format!("each result must be an object (a record), got `{v}`"),
            ));
        }
        let mut out = Vec::new();
        if self.encoder.format().is_json() {
            for fields in &outputs {
                let (names, values): (Vec<String>, Vec<OutValue>) = fields.iter().cloned().unzip();
                self.encoder.row(&names, &values, &mut out);
            }
        } else if !outputs.is_empty() {
            // The header: every key, in first-seen order.
            let mut names: Vec<String> = Vec::new();
            for fields in &outputs {
                for (k, _) in fields {
                    if !names.contains(k) {
                        names.push(k.clone());
                    }
                }
            }
            self.encoder.header(&names, &mut out);
            for fields in &outputs {
                let values: Vec<OutValue> = names
                    .iter()
                    .map(|n| {
                        fields
                            .iter()
                            .rev()
                            .find(|(k, _)| k == n)
                            .map_or(OutValue::Field(OwnedField::Missing), |(_, v)| v.clone())
                    })
                    .collect();
                self.encoder.row(&names, &values, &mut out);
            }
        }
        sink.write(&out, outputs.len() as u64)
    }
}

/// A jq value as a computed output field.
fn out_value(v: &Val) -> OutValue {
    if matches!(v, Val::Null) {
        return OutValue::Field(OwnedField::Missing);
    }
    let mut text = Vec::new();
    write_value(&mut text, v);
    match v {
        Val::TStr(_) | Val::BStr(_) => OutValue::Field(OwnedField::JsonString(text)),
        _ => OutValue::Field(OwnedField::JsonOther(text)),
    }
}
