//! The chain's two stages at work on one record: the native filters
//! (before any `--map`: the record stays as parsed, and a filter sees it as
//! a jq object, or through its fast form), and the value stage (from the
//! first `--map` on: each record a jq value that the steps replace,
//! filter, fan out and reshape, written back as NDJSON with each untouched
//! field's input text).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use jaq_json::Val;

use super::record_view::{jq_error, not_object, step_error, view_fields};
use crate::error::{Result, Setting};
use crate::record::{ColumnRef, Field, LineCursor, Record};
use crate::syntax::json::write_json_string;
use crate::transform::custom::{JsonRecord, MapRecord};
use crate::transform::fast_filter::FastFilter;
use crate::transform::jq::{field_value, key_text, write_value, JqProgram, TextKind, ValueOptions};
use crate::transform::Layout;

/// A step of the value stage, resolved.
#[derive(Debug)]
pub(super) enum ValueStep {
    Filter(JqProgram),
    Map(JqProgram),
    Select(Vec<String>),
    Drop(HashSet<Vec<u8>>),
    Rename(HashMap<Vec<u8>, Vec<u8>>),
    Rust(Arc<dyn MapRecord>),
}

/// A `--filter` before any `--map`, with the record's columns as it sees
/// them, and its fast form when it has one.
#[derive(Debug)]
pub(super) struct NativeFilter {
    pub(super) program: JqProgram,
    pub(super) view: Layout,
    /// The fast form and where each key it reads comes from (`None`: a
    /// column the view does not have, which is `null`).
    pub(super) fast: Option<(FastFilter, Vec<Option<ColumnRef>>)>,
}

/// The value stage's steps (or a segment's after an `--exec`), with the
/// view the first of them sees.
#[derive(Debug)]
pub(super) struct ValueStage {
    /// The record's columns as the first `--map` sees them.
    pub(super) view: Layout,
    pub(super) steps: Vec<ValueStep>,
    /// The last map step (flag, expression), named when a result is not an
    /// object.
    pub(super) last_map: (Setting, String),
}

/// Where a record the value stage wrote came from: its line, byte offset
/// and index in the chunk.
pub(super) type Place = (u64, u64, u64);

/// How an input field no step changed is written back: its JSON text as
/// `--no-infer` and `--null` make it, or (for CSV/TSV output) an untouched
/// `--null` marker as its text.
#[derive(Debug, Clone)]
pub(super) struct FieldWriter {
    /// How CSV text becomes a value.
    pub(super) opts: ValueOptions,
    /// The output is CSV/TSV: an untouched `--null` marker is written back
    /// as its text rather than as `null`.
    pub(super) delimited_out: bool,
}

impl FieldWriter {
    /// Writes an input field as the JSON text it stands for, unchanged.
    pub(super) fn write_original(&self, out: &mut Vec<u8>, field: Field<'_>) {
        match field {
            Field::Absent | Field::Null => out.extend_from_slice(b"null"),
            Field::JsonString(raw) | Field::JsonOther(raw) => out.extend_from_slice(raw),
            Field::Text(t) => match self.opts.classify(t) {
                TextKind::Marker if self.delimited_out => write_json_string(out, t),
                TextKind::Marker | TextKind::Empty => out.extend_from_slice(b"null"),
                TextKind::Number => out.extend_from_slice(t),
                TextKind::String => write_json_string(out, t),
            },
        }
    }
}

/// Runs the native `filters` on `rec`: false when one drops it.
pub(super) fn keep(
    filters: &[NativeFilter],
    rec: &Record<'_>,
    opts: &ValueOptions,
) -> Result<bool> {
    for NativeFilter { program, view, fast } in filters {
        if let Some((fast, sources)) = fast {
            let answer = if sources.len() <= 8 {
                let mut fields = [Field::Absent; 8];
                for (f, s) in fields.iter_mut().zip(sources) {
                    *f = s.as_ref().map_or(Field::Absent, |c| rec.get(c));
                }
                fast.eval(&fields[..sources.len()], opts)
            } else {
                let fields: Vec<Field<'_>> = sources
                    .iter()
                    .map(|s| s.as_ref().map_or(Field::Absent, |c| rec.get(c)))
                    .collect();
                fast.eval(&fields, opts)
            };
            match answer {
                Some(true) => continue,
                Some(false) => return Ok(false),
                None => {}
            }
        }
        let mut map = jaq_json::Map::default();
        for (key, field) in view_fields(rec, view) {
            let value =
                field_value(field, opts).map_err(|m| jq_error(rec, program, m.into_message()))?;
            map.insert(Val::utf8_str(key), value);
        }
        let kept = program
            .any_truthy(Val::obj(map))
            .map_err(|m| jq_error(rec, program, m.into_message()))?;
        if !kept {
            return Ok(false);
        }
    }
    Ok(true)
}

impl ValueStage {
    /// Runs the stage on `rec` and appends its results to `buf`, one
    /// NDJSON line each, with the record's line and byte offset in
    /// `places`. Returns how many results; on an error appends nothing.
    pub(super) fn run(
        &self,
        rec: &Record<'_>,
        buf: &mut Vec<u8>,
        places: &mut Vec<(u64, u64, u64)>,
        lines: &mut LineCursor,
        writer: &FieldWriter,
    ) -> Result<usize> {
        // The record's fields through the view, keeping the original text
        // of each for the fields no step changes.
        let keyed = view_fields(rec, &self.view);
        let mut map = jaq_json::Map::default();
        let mut originals = Vec::with_capacity(keyed.len());
        for (key, field) in &keyed {
            let value = field_value(*field, &writer.opts)
                .map_err(|m| step_error(rec, &self.last_map, m.into_message()))?;
            map.insert(Val::utf8_str(key.clone()), value.clone());
            originals.push((key.as_slice(), value, *field));
        }
        let mut current = vec![Val::obj(map)];
        for step in &self.steps {
            current = step.apply(current, rec)?;
            if current.is_empty() {
                return Ok(0);
            }
        }
        if let Some(value) = current.iter().find(|v| !matches!(v, Val::Obj(_))) {
            return Err(step_error(rec, &self.last_map, not_object(value)));
        }
        let line = lines.line(rec.line);
        for value in &current {
            let Val::Obj(map) = value else { continue };
            buf.push(b'{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                let key = key_text(k);
                write_json_string(buf, &key);
                buf.push(b':');
                let same = originals
                    .get(i)
                    .filter(|(ok, ov, _)| *ok == key.as_slice() && ov == v)
                    .or_else(|| {
                        originals.iter().find(|(ok, ov, _)| *ok == key.as_slice() && ov == v)
                    });
                match same {
                    Some((_, _, field)) => writer.write_original(buf, *field),
                    None => write_value(buf, v),
                }
            }
            buf.extend_from_slice(b"}\n");
            places.push((line, rec.offset, rec.index));
        }
        Ok(current.len())
    }
}

impl ValueStep {
    /// The values this step makes of `current` (from `rec`).
    fn apply(&self, current: Vec<Val>, rec: &Record<'_>) -> Result<Vec<Val>> {
        let mut next = Vec::with_capacity(current.len());
        match self {
            ValueStep::Filter(p) => {
                for v in current {
                    if p.any_truthy(v.clone()).map_err(|m| jq_error(rec, p, m.into_message()))? {
                        next.push(v);
                    }
                }
            }
            ValueStep::Map(p) => {
                for v in current {
                    let mut bad = None;
                    p.run(v, Vec::new(), |out| {
                        if matches!(out, Val::Obj(_)) {
                            next.push(out);
                            true
                        } else {
                            bad = Some(not_object(&out));
                            false
                        }
                    })
                    .map_err(|m| jq_error(rec, p, m.into_message()))?;
                    if let Some(m) = bad {
                        return Err(jq_error(rec, p, m));
                    }
                }
            }
            ValueStep::Rust(m) => {
                let err = |msg: String| step_error(rec, &(Setting::Map, m.name().to_string()), msg);
                let mut outs = Vec::new();
                for v in current {
                    let mut text = Vec::new();
                    write_value(&mut text, &v);
                    let record: JsonRecord =
                        serde_json::from_slice(&text).map_err(|e| err(e.to_string()))?;
                    outs.clear();
                    m.map(record, &mut outs).map_err(|e| err(e.to_string()))?;
                    for o in &outs {
                        let text = serde_json::to_vec(o).map_err(|e| err(e.to_string()))?;
                        next.push(
                            jaq_json::read::parse_single(&text).map_err(|e| err(e.to_string()))?,
                        );
                    }
                }
            }
            ValueStep::Select(cols) => {
                for v in current {
                    let Val::Obj(map) = &v else { continue };
                    let mut out = jaq_json::Map::default();
                    for c in cols {
                        let k = Val::utf8_str(c.as_bytes().to_vec());
                        let value = map.get(&k).cloned().unwrap_or(Val::Null);
                        out.insert(k, value);
                    }
                    next.push(Val::obj(out));
                }
            }
            ValueStep::Drop(keys) => {
                for v in current {
                    let Val::Obj(map) = &v else { continue };
                    let out: jaq_json::Map = map
                        .iter()
                        .filter(|(k, _)| !keys.contains(&key_text(k)))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    next.push(Val::obj(out));
                }
            }
            ValueStep::Rename(pairs) => {
                for v in current {
                    let Val::Obj(map) = &v else { continue };
                    let out: jaq_json::Map = map
                        .iter()
                        .map(|(k, v)| match pairs.get(&key_text(k)) {
                            Some(new) => (Val::utf8_str(new.clone()), v.clone()),
                            None => (k.clone(), v.clone()),
                        })
                        .collect();
                    next.push(Val::obj(out));
                }
            }
        }
        Ok(next)
    }
}
