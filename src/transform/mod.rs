//! Map transforms: projection (`--select`), removal (`--drop`) and renaming
//! (`--rename`) of columns, resolved once against the input's columns into
//! a [`Layout`] that the workers apply to every record.
//!
//! `--select` and `--drop` name input columns; `--rename old=new` gives an
//! input column a new output name. Reducer flags (`--sort-by`,
//! `--group-by`, `--agg`) name output columns, that is after renaming.

pub(crate) mod chain;
pub(crate) mod command;
pub(crate) mod custom;
pub(crate) mod fast_filter;
pub(crate) mod http;
pub(crate) mod jq;

use std::collections::{HashMap, HashSet};

pub use chain::{Chain, Mapped, Step};
pub use command::{ExecFormat, ExecMode, ExecSpec, ExecStats};
pub use custom::{JsonRecord, MapError, MapRecord};
pub use http::{HttpSpec, HttpStats, Rate, DEFAULT_HTTP_CONCURRENCY};
pub use jq::{JqError, JqProgram, ValueOptions};

use crate::error::{Error, ErrorKind, Result, Setting};
use crate::record::{ColumnRef, Source};

/// The projection the user asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    /// Keep only these input columns, in this order (`--select`).
    pub select: Option<Vec<String>>,
    /// Remove these input columns (`--drop`).
    pub drop: Vec<String>,
    /// Rename input columns: `(old, new)` pairs (`--rename`).
    pub rename: Vec<(String, String)>,
}

/// How output records are laid out: resolved from a [`Projection`] and the
/// input's columns.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The output columns (the CSV header). For [`Layout::is_dynamic`]
    /// layouts these are the first record's keys after the projection.
    pub columns: Vec<ColumnRef>,
    /// NDJSON to NDJSON without `--select`: every record keeps its own keys
    /// (minus `drop`, renamed by `rename`) instead of a fixed column list.
    pub(crate) dynamic: Option<DynamicKeys>,
    /// NDJSON to CSV without `--select`: a record with a key outside
    /// `columns` is an error rather than silently losing the value.
    pub(crate) strict_keys: bool,
    /// Input keys removed by `--drop` (ignored by the strict-keys check).
    pub(crate) dropped: HashSet<String>,
    /// Records come out of a `--map`, whose keys are known only per
    /// record: any name resolves, to that key.
    pub(crate) open: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct DynamicKeys {
    pub(crate) drop: HashSet<String>,
    pub(crate) rename: HashMap<String, String>,
}

impl Layout {
    /// Resolves `projection` against the input's columns.
    ///
    /// `input_columns` are the CSV header, or the first NDJSON record's keys.
    /// `json_input` selects key-based access; `dynamic` asks for
    /// per-record keys (NDJSON output without `--select`).
    ///
    /// # Errors
    /// [`ErrorKind::UnknownColumn`] when a flag names a column not among
    /// `input_columns` (for NDJSON, not in the first record).
    #[doc(hidden)] // Not part of the API: a run builds the layout; for `__bench` users.
    pub fn new(
        projection: &Projection,
        input_columns: &[String],
        json_input: bool,
        dynamic: bool,
    ) -> Result<Layout> {
        let find = |setting: Setting, name: &str| -> Result<usize> {
            input_columns.iter().position(|c| c == name).ok_or_else(|| {
                ErrorKind::UnknownColumn {
                    setting,
                    column: name.to_string(),
                    available: input_columns.to_vec(),
                }
                .into()
            })
        };
        for d in &projection.drop {
            find(Setting::Drop, d)?;
        }
        let mut rename = HashMap::new();
        for (old, new) in &projection.rename {
            find(Setting::Rename, old)?;
            rename.insert(old.clone(), new.clone());
        }
        // An input column by its index, or (NDJSON) a path into nested
        // objects (`--select .user.id`), named by its keys.
        let choose = |s: &String| -> Result<std::result::Result<usize, ColumnRef>> {
            if !(json_input && s.starts_with('.')) {
                return find(Setting::Select, s).map(Ok);
            }
            let keys = Source::parse_path(s).map_err(|e| Error::setting(Setting::Select, e))?;
            let first = find(Setting::Select, &keys[0])?;
            if keys.len() == 1 {
                return Ok(Ok(first));
            }
            Ok(Err(ColumnRef { name: keys.join("."), source: Source::Path(keys) }))
        };
        let chosen: Vec<std::result::Result<usize, ColumnRef>> = match &projection.select {
            Some(sel) => sel.iter().map(choose).collect::<Result<_>>()?,
            None => (0..input_columns.len()).map(Ok).collect(),
        };
        let columns = chosen
            .into_iter()
            .filter(|c| c.as_ref().map_or(true, |&i| !projection.drop.contains(&input_columns[i])))
            .map(|c| match c {
                Ok(i) => {
                    let old = &input_columns[i];
                    ColumnRef {
                        name: rename.get(old).cloned().unwrap_or_else(|| old.clone()),
                        source: if json_input {
                            Source::Key(old.clone())
                        } else {
                            Source::Index(i)
                        },
                    }
                }
                Err(path) => path,
            })
            .collect();
        let is_dynamic = json_input && dynamic && projection.select.is_none();
        let columns: Vec<ColumnRef> = columns;
        if columns.is_empty() && !input_columns.is_empty() {
            return Err(Error::setting(Setting::Projection, "no column is left to write"));
        }
        // Input headers may repeat a name (legal CSV); a rename must not
        // create a new clash.
        for (i, c) in columns.iter().enumerate() {
            let renamed = projection.rename.iter().any(|(_, new)| *new == c.name);
            if renamed && columns.iter().enumerate().any(|(j, d)| j != i && d.name == c.name) {
                return Err(Error::setting(
                    Setting::Rename,
                    format!("two output columns would be named `{}`", c.name),
                ));
            }
        }
        Ok(Layout {
            dropped: projection.drop.iter().cloned().collect(),
            columns,
            dynamic: is_dynamic
                .then(|| DynamicKeys { drop: projection.drop.iter().cloned().collect(), rename }),
            strict_keys: json_input && !dynamic && projection.select.is_none(),
            open: false,
        })
    }

    /// The layout of records that a `--map` made: NDJSON objects whose keys
    /// are known only per record. Every name resolves (to a key, missing in
    /// records that lack it); `dynamic` writes each record's own keys.
    pub(crate) fn open(dynamic: bool) -> Layout {
        Layout {
            columns: Vec::new(),
            dynamic: dynamic.then(DynamicKeys::default),
            strict_keys: false,
            dropped: HashSet::new(),
            open: true,
        }
    }

    /// The output column names, in order.
    pub fn names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    /// True when every record keeps its own keys (NDJSON to NDJSON without
    /// `--select`).
    pub fn is_dynamic(&self) -> bool {
        self.dynamic.is_some()
    }

    /// Looks up an output column by name, for the reducer flags.
    ///
    /// # Errors
    /// [`ErrorKind::UnknownColumn`] naming `setting` and listing the output columns.
    pub fn resolve(&self, setting: Setting, name: &str) -> Result<ColumnRef> {
        if name.starts_with('.') {
            return self.resolve_path(setting, name);
        }
        if self.open {
            return Ok(ColumnRef { name: name.to_string(), source: Source::Key(name.to_string()) });
        }
        self.columns.iter().find(|c| c.name == name).cloned().ok_or_else(|| {
            ErrorKind::UnknownColumn { setting, column: name.to_string(), available: self.names() }
                .into()
        })
    }
}

impl Layout {
    /// Resolves a path into nested NDJSON objects (`.user.id`, see
    /// [`Source::parse_path`]): a column named by its keys joined with `.`
    /// (`user.id`). A path of one key is that key's column.
    ///
    /// # Errors
    /// A [`Setting`] error for a path that does not parse or a CSV input;
    /// [`ErrorKind::UnknownColumn`] when its first key is not a column.
    fn resolve_path(&self, setting: Setting, name: &str) -> Result<ColumnRef> {
        let keys = Source::parse_path(name).map_err(|e| Error::setting(setting, e))?;
        if keys.len() == 1 {
            return self.resolve(setting, &keys[0]);
        }
        let path = Source::Path(keys.clone());
        if let Some(selected) = self.columns.iter().find(|c| c.source == path) {
            return Ok(selected.clone());
        }
        let json = self.open
            || self.columns.iter().any(|c| matches!(c.source, Source::Key(_) | Source::Path(_)));
        if !json {
            return Err(Error::setting(
                setting,
                format!(
                    "`{name}` is a path into nested NDJSON objects, and the input is not NDJSON"
                ),
            ));
        }
        let top = Source::Key(keys[0].clone());
        if !self.open && !self.columns.iter().any(|c| c.source == top) {
            return Err(ErrorKind::UnknownColumn {
                setting,
                column: keys[0].clone(),
                available: self.names(),
            }
            .into());
        }
        Ok(ColumnRef { name: keys.join("."), source: Source::Path(keys) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn select_drop_rename() {
        let p = Projection {
            select: Some(cols(&["c", "a", "b"])),
            drop: cols(&["b"]),
            rename: vec![("a".into(), "alpha".into())],
        };
        let l = Layout::new(&p, &cols(&["a", "b", "c"]), false, false).unwrap();
        assert_eq!(l.names(), cols(&["c", "alpha"]));
        assert_eq!(l.columns[1].source, Source::Index(0));
        assert_eq!(l.resolve(Setting::SortBy, "alpha").unwrap().source, Source::Index(0));
    }

    #[test]
    fn unknown_column_lists_the_columns() {
        let p = Projection { select: Some(cols(&["x"])), ..Default::default() };
        let e = Layout::new(&p, &cols(&["a", "b"]), false, false).unwrap_err();
        assert_eq!(e.to_string(), "select: unknown column `x`; the columns are: a, b");
    }
}
