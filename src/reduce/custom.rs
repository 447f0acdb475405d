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

use jaq_json::Val;

use crate::error::{Error, ErrorKind, Result, Setting};
use crate::record::Record;
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
        })
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
        let Some(left) = total.take() else {
            *total = Some(right);
            return Ok(());
        };
        let merged = self
            .last(&self.merge, left.clone(), vec![left, right])
            .map_err(|m| flag_error(&self.merge, m))?
            .ok_or_else(|| flag_error(&self.merge, "gave no result".into()))?;
        *total = Some(merged);
        Ok(())
    }

    fn finish(&self, total: Option<Val>, sink: &mut Sink<'_>) -> Result<()> {
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
