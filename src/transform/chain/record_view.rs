//! A record as the jq steps see it: its fields under the names a
//! projection gives them (a view), as a jq object; and the messages of a
//! step that fails on it.

use jaq_json::Val;

use crate::error::{Error, ErrorKind, Setting};
use crate::record::{ColumnRef, Field, Record, Source};
use crate::transform::jq::{field_value, write_value, JqProgram, ValueOptions};
use crate::transform::Layout;

/// `rec` as a jq object with the columns of `layout` (for a layout of
/// `--map` results, the record's own keys).
///
/// # Errors
/// A JSON value jaq cannot read, as text.
pub(crate) fn record_value(
    rec: &Record<'_>,
    layout: &Layout,
    opts: &ValueOptions,
) -> std::result::Result<Val, String> {
    let fields = if layout.open {
        let mut fields = Vec::new();
        rec.for_each_field(|key, field| {
            fields.push((key.unwrap_or_default().as_bytes().to_vec(), field))
        });
        fields
    } else {
        view_fields(rec, layout)
    };
    let mut map = jaq_json::Map::default();
    for (key, field) in fields {
        map.insert(
            Val::utf8_str(key),
            field_value(field, opts).map_err(crate::transform::JqError::into_message)?,
        );
    }
    Ok(Val::obj(map))
}

/// Where the column that `view` calls `name` comes from; `None` when the
/// view has no such column.
pub(super) fn view_source(view: &Layout, name: &str) -> Option<ColumnRef> {
    let Some(d) = &view.dynamic else {
        // A repeated name: the last column wins, as in a jq object.
        return view.columns.iter().rev().find(|c| c.name == name).cloned();
    };
    let source = match d.rename.iter().find(|(_, new)| *new == name) {
        Some((old, _)) => old.clone(),
        None if d.rename.contains_key(name) => return None,
        None => name.to_string(),
    };
    if d.drop.contains(&source) {
        return None;
    }
    Some(ColumnRef { name: name.to_string(), source: Source::Key(source) })
}

/// The fields of `rec` under their names in `view`, in order.
pub(super) fn view_fields<'a>(rec: &Record<'a>, view: &Layout) -> Vec<(Vec<u8>, Field<'a>)> {
    let mut fields = Vec::new();
    match &view.dynamic {
        Some(d) => rec.for_each_field(|key, field| {
            let key = key.unwrap_or_default();
            if !d.drop.contains(key) {
                let name = d.rename.get(key).map_or(key, String::as_str);
                fields.push((name.as_bytes().to_vec(), field));
            }
        }),
        None => {
            for c in &view.columns {
                fields.push((c.name.as_bytes().to_vec(), rec.get(c)));
            }
        }
    }
    fields
}

pub(super) fn step_error(
    rec: &Record<'_>,
    (setting, expr): &(Setting, String),
    message: String,
) -> Error {
    ErrorKind::Jq { at: rec.location(), setting: *setting, expr: expr.clone(), message }.into()
}

pub(super) fn jq_error(rec: &Record<'_>, program: &JqProgram, message: String) -> Error {
    ErrorKind::Jq {
        at: rec.location(),
        setting: program.setting(),
        expr: program.code().to_string(),
        message,
    }
    .into()
}

pub(super) fn not_object(v: &Val) -> String {
    let mut text = Vec::new();
    write_value(&mut text, v);
    let mut shown = String::from_utf8_lossy(&text).into_owned();
    if shown.len() > 60 {
        let cut = (0..=60).rev().find(|&i| shown.is_char_boundary(i)).unwrap_or(0);
        shown.truncate(cut);
        shown.push('…');
    }
    format!("the result must be an object (a record), got `{shown}`")
}
