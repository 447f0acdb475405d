//! jq expressions, compiled and run by the jaq crates (`jaq-core`,
//! `jaq-std`, `jaq-json`: <https://github.com/01mf02/jaq>), and the
//! conversion of records to and from jq values.
//!
//! A [`JqProgram`] is parsed and compiled once when the pipeline is built
//! (so that a syntax error is reported before any input is read), and once
//! more on each worker thread the first time that thread runs it: jaq's
//! values are reference-counted without atomics, so a compiled filter
//! cannot be shared between threads. Compiling takes well under a
//! millisecond; it never happens per record or per chunk.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{data, unwrap_valr, Compiler, Ctx, ValT, Vars};
use jaq_json::{Num, Val};

use crate::error::{Error, Result, Setting};
use crate::record::Field;
use crate::syntax::json::write_json_string;
use crate::syntax::number::is_json_number;

type Compiled = jaq_core::Filter<data::JustLut<Val>>;

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Programs compiled on this thread, by [`JqProgram::id`].
    static COMPILED: RefCell<HashMap<u64, Rc<Compiled>>> = RefCell::new(HashMap::new());
}

/// One jq expression given on the command line, checked and ready to run
/// on any thread.
#[derive(Debug, Clone)]
pub struct JqProgram {
    setting: Setting,
    code: String,
    /// Names of the global variables the program may use (with `$`), bound
    /// in this order by [`JqProgram::run`].
    vars: Vec<String>,
    id: u64,
}

impl PartialEq for JqProgram {
    fn eq(&self, other: &Self) -> bool {
        self.setting == other.setting && self.code == other.code && self.vars == other.vars
    }
}

impl Eq for JqProgram {}

impl JqProgram {
    /// Parses and compiles `code`, given by `setting` (named in errors), with
    /// the global variables `vars` (each starting with `$`).
    ///
    /// # Errors
    /// [`ErrorKind::Setting`](crate::ErrorKind::Setting) naming `setting` with jaq's parse or compile error and
    /// the column (1-based, in characters) where it was found.
    ///
    /// ```
    /// use fanfold::{ErrorKind, JqProgram, Setting};
    /// assert!(JqProgram::new(Setting::Filter, ".amount > 5", &[]).is_ok());
    /// let err = JqProgram::new(Setting::Filter, ".amount >", &[]).unwrap_err();
    /// assert!(matches!(err.kind(), ErrorKind::Setting { setting: Setting::Filter, .. }));
    /// ```
    pub fn new(setting: Setting, code: &str, vars: &[&str]) -> Result<Self> {
        let program = JqProgram {
            setting,
            code: code.to_string(),
            vars: vars.iter().map(|v| v.to_string()).collect(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        };
        program.compile()?;
        Ok(program)
    }

    /// The expression as written.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The setting that gave it.
    pub fn setting(&self) -> Setting {
        self.setting
    }

    fn compile(&self) -> Result<Compiled> {
        let code = self.code.as_str();
        let column = |at: &str| {
            let offset = (at.as_ptr() as usize).saturating_sub(code.as_ptr() as usize);
            code.get(..offset.min(code.len())).map_or(1, |s| s.chars().count() + 1)
        };
        let bad = |message: String| Error::setting(self.setting, message);
        let defs = jaq_core::defs().chain(jaq_std::defs()).chain(jaq_json::defs());
        let funs = jaq_core::funs().chain(jaq_std::funs()).chain(jaq_json::funs());
        let loader = Loader::new(defs);
        let arena = Arena::default();
        let modules = loader.load(&arena, File { code, path: () }).map_err(|errs| {
            let mut parts = Vec::new();
            for (_, e) in errs {
                match e {
                    jaq_core::load::Error::Io(v) => {
                        parts.extend(v.into_iter().map(|(p, m)| format!("{p}: {m}")))
                    }
                    jaq_core::load::Error::Lex(v) => {
                        parts.extend(v.into_iter().map(|(exp, at)| {
                            format!("expected {} at column {}", exp.as_str(), column(at))
                        }))
                    }
                    jaq_core::load::Error::Parse(v) => {
                        parts.extend(v.into_iter().map(|(exp, at)| {
                            let found = if at.is_empty() { "the end" } else { at };
                            let found: String = found.chars().take(20).collect();
                            format!(
                                "expected {} at column {} (found `{found}`)",
                                exp.as_str(),
                                column(at)
                            )
                        }))
                    }
                }
            }
            bad(format!("cannot parse `{code}`: {}", parts.join("; ")))
        })?;
        let vars: Vec<&str> = self.vars.iter().map(String::as_str).collect();
        Compiler::default().with_funs(funs).with_global_vars(vars).compile(modules).map_err(
            |errs| {
                let parts: Vec<String> = errs
                    .into_iter()
                    .flat_map(|(_, v)| v)
                    .map(|(name, undefined)| format!("undefined {} `{name}`", undefined.as_str()))
                    .collect();
                bad(format!("cannot compile `{code}`: {}", parts.join("; ")))
            },
        )
    }

    /// Runs the program on `input` with the global variables bound to
    /// `vars` (in the order given to [`JqProgram::new`]), calling `each` on
    /// every output in order until it returns `false`.
    ///
    /// # Errors
    /// A [`JqError`]: jq's runtime error (e.g. `.x + 1` on a string); the
    /// caller adds the record's place.
    pub(crate) fn run(
        &self,
        input: Val,
        vars: Vec<Val>,
        mut each: impl FnMut(Val) -> bool,
    ) -> std::result::Result<(), JqError> {
        let filter = COMPILED.with(|cache| {
            if let Some(f) = cache.borrow().get(&self.id) {
                return Ok(f.clone());
            }
            let f = Rc::new(self.compile().map_err(|e| JqError(e.to_string()))?);
            cache.borrow_mut().insert(self.id, f.clone());
            Ok::<_, JqError>(f)
        })?;
        let ctx = Ctx::<data::JustLut<Val>>::new(&filter.lut, Vars::new(vars));
        for out in filter.id.run((ctx, input)).map(unwrap_valr) {
            match out {
                Ok(v) => {
                    if !each(v) {
                        break;
                    }
                }
                Err(e) => return Err(JqError(error_text(&e))),
            }
        }
        Ok(())
    }

    /// True when some output of the program on `input` is truthy (neither
    /// `false` nor `null`); stops at the first truthy output.
    ///
    /// # Errors
    /// As [`JqProgram::run`].
    pub(crate) fn any_truthy(&self, input: Val) -> std::result::Result<bool, JqError> {
        let mut kept = false;
        self.run(input, Vec::new(), |v| {
            kept = v.as_bool();
            !kept
        })?;
        Ok(kept)
    }
}

/// A jq program's failure on one value, as text: jq's runtime error (e.g.
/// `.x + 1` on a string; `error("text")` shows the text without JSON
/// quotes), or a JSON literal jaq cannot read. It names no record: the
/// caller adds the record's place ([`ErrorKind::Jq`](crate::ErrorKind::Jq)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JqError(String);

impl JqError {
    /// The error's text, by value.
    pub fn into_message(self) -> String {
        self.0
    }
}

impl std::fmt::Display for JqError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JqError {}

fn error_text(e: &jaq_core::Error<Val>) -> String {
    let text = e.to_string();
    // jq's `error("text")` carries a string: show it without JSON quotes.
    text.strip_prefix('"').and_then(|t| t.strip_suffix('"')).map_or(text.clone(), str::to_string)
}

/// How record fields become jq values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValueOptions {
    /// Keep every CSV field a string (`--no-infer`): no numbers, empty
    /// fields stay `""`; only `null_markers` are `null`.
    pub no_infer: bool,
    /// Texts that are `null` (`--null`).
    pub null_markers: Vec<Vec<u8>>,
}

/// What a CSV field's text stands for to a transform and in JSON output:
/// the one rule that [`field_value`], the fast filter path, the `--map`
/// writer and the NDJSON/JSON [`Encoder`](crate::sink::encode::Encoder)
/// share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// A `--null` marker: `null`.
    Marker,
    /// An empty field (unless `--no-infer`): `null`.
    Empty,
    /// A JSON number literal (unless `--no-infer`): a number.
    Number,
    /// Anything else: a string.
    String,
}

impl ValueOptions {
    /// True when `text` is one of the `--null` markers.
    #[inline(always)]
    pub fn is_marker(&self, text: &[u8]) -> bool {
        self.null_markers.iter().any(|m| m == text)
    }

    /// What the CSV field text `t` stands for.
    #[inline(always)]
    pub fn classify(&self, t: &[u8]) -> TextKind {
        if self.is_marker(t) {
            TextKind::Marker
        } else if self.no_infer {
            TextKind::String
        } else if t.is_empty() {
            TextKind::Empty
        } else if is_json_number(t) {
            TextKind::Number
        } else {
            TextKind::String
        }
    }
}

/// The jq value of a field: CSV text that is a JSON number literal becomes
/// a number (integers stay integers, decimals keep their digits), an empty
/// field or a `--null` marker becomes `null`, other text a string; JSON
/// values are parsed as they are.
///
/// # Errors
/// A JSON literal jaq cannot read (the record parser has already accepted
/// it, so this is not expected), as a [`JqError`].
pub fn field_value(field: Field<'_>, opts: &ValueOptions) -> std::result::Result<Val, JqError> {
    Ok(match field {
        Field::Absent | Field::Null => Val::Null,
        Field::Text(t) => match opts.classify(t) {
            TextKind::Marker | TextKind::Empty => Val::Null,
            TextKind::Number => jaq_json::read::parse_single_num(t)
                .map_or_else(|| Val::utf8_str(t.to_vec()), Val::Num),
            TextKind::String => Val::utf8_str(t.to_vec()),
        },
        Field::JsonString(raw) => {
            let v = jaq_json::read::parse_single(raw).map_err(|e| JqError(e.to_string()))?;
            let is_marker =
                !opts.null_markers.is_empty() && field.text().is_some_and(|t| opts.is_marker(&t));
            if is_marker {
                Val::Null
            } else {
                v
            }
        }
        Field::JsonOther(raw) => {
            jaq_json::read::parse_single(raw).map_err(|e| JqError(e.to_string()))?
        }
    })
}

/// A jq value's key text (object keys are strings in JSON).
pub fn key_text(key: &Val) -> Vec<u8> {
    match key {
        Val::TStr(b) | Val::BStr(b) => b.to_vec(),
        other => other.to_string().into_bytes(),
    }
}

/// Appends `value` as compact JSON text: strings escaped as the NDJSON
/// encoder does, a number as jaq writes it (decimals read from the input
/// keep their digits), `NaN` as `null` and infinities as the largest finite
/// double (as jq does), arrays and objects compact.
pub fn write_value(out: &mut Vec<u8>, value: &Val) {
    match value {
        Val::TStr(b) | Val::BStr(b) => write_json_string(out, b),
        Val::Num(Num::Float(f)) if f.is_nan() => out.extend_from_slice(b"null"),
        Val::Num(Num::Float(f)) if f.is_infinite() => {
            let max = if *f > 0.0 { f64::MAX } else { f64::MIN };
            crate::syntax::number::format_f64(max, out)
        }
        Val::Arr(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, v);
            }
            out.push(b']');
        }
        Val::Obj(map) => {
            out.push(b'{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_string(out, &key_text(k));
                out.push(b':');
                write_value(out, v);
            }
            out.push(b'}');
        }
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn val(f: Field<'_>) -> Val {
        field_value(f, &ValueOptions::default()).unwrap()
    }

    fn text(v: &Val) -> String {
        let mut out = Vec::new();
        write_value(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_fields_infer_numbers_but_keep_their_digits() {
        assert_eq!(text(&val(Field::Text(b"1.50"))), "1.50");
        assert_eq!(text(&val(Field::Text(b"42"))), "42");
        assert_eq!(text(&val(Field::Text(b"007"))), "\"007\"");
        assert_eq!(text(&val(Field::Text(b""))), "null");
        assert_eq!(text(&val(Field::Text(b"S\xc3\xa3o"))), "\"São\"");
        let no_infer = ValueOptions { no_infer: true, ..Default::default() };
        assert_eq!(text(&field_value(Field::Text(b"42"), &no_infer).unwrap()), "\"42\"");
        assert_eq!(text(&field_value(Field::Text(b""), &no_infer).unwrap()), "\"\"");
        let na = ValueOptions { null_markers: vec![b"NA".to_vec()], ..Default::default() };
        assert_eq!(field_value(Field::Text(b"NA"), &na).unwrap(), Val::Null);
        assert_eq!(field_value(Field::JsonString(b"\"NA\""), &na).unwrap(), Val::Null);
    }

    #[test]
    fn filters_run_and_report_errors() {
        let p = JqProgram::new(Setting::Filter, ".amount > 5", &[]).unwrap();
        let obj = |v: Val| {
            let mut m = jaq_json::Map::default();
            m.insert(Val::utf8_str(b"amount".to_vec()), v);
            Val::obj(m)
        };
        assert!(p.any_truthy(obj(Val::from(6isize))).unwrap());
        assert!(!p.any_truthy(obj(Val::from(5isize))).unwrap());
        let q = JqProgram::new(Setting::Map, ".amount + 1", &[]).unwrap();
        let err = q.run(obj(Val::utf8_str(b"x".to_vec())), Vec::new(), |_| true).unwrap_err();
        assert!(err.to_string().contains("cannot"), "{err}");
    }

    #[test]
    fn syntax_errors_name_the_setting_and_column() {
        let e = JqProgram::new(Setting::Filter, ".a >", &[]).unwrap_err().to_string();
        assert!(e.starts_with("filter: cannot parse `.a >`"), "{e}");
        let e = JqProgram::new(Setting::Map, "nosuchfn(1)", &[]).unwrap_err().to_string();
        assert!(e.contains("undefined filter `nosuchfn`"), "{e}");
    }
}

#[cfg(test)]
mod send_check {
    #[test]
    fn values_cross_threads() {
        fn send<T: Send>() {}
        send::<jaq_json::Val>();
        send::<super::Compiled>();
    }
}
