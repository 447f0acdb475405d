//! [`Step`]: one transform step as the command line (or a library user)
//! gives it, before the chain resolves it.

use std::sync::Arc;

use crate::transform::command::ExecSpec;
use crate::transform::custom::MapRecord;
use crate::transform::http::HttpSpec;

/// One transform step, as given on the command line (or, for
/// [`Step::Rust`], by a library user).
#[derive(Debug, Clone)]
pub enum Step {
    /// `--filter EXPR`: keep the records for which some output of the jq
    /// expression is truthy (neither `false` nor `null`).
    Filter(String),
    /// `--map EXPR`: replace each record by the outputs of the jq expression
    /// (each must be an object): none drops it, several fan it out, in order.
    Map(String),
    /// `--select COLS`: keep these columns, in this order.
    Select(Vec<String>),
    /// `--drop COLS`: remove these columns.
    Drop(Vec<String>),
    /// `--rename OLD=NEW,...`: rename columns.
    Rename(Vec<(String, String)>),
    /// A map step written in Rust; runs where a `--map` would.
    Rust(Arc<dyn MapRecord>),
    /// `--exec CMD` or `--exec-persistent CMD` ([`ExecSpec::mode`]): each
    /// chunk's records, as they are at this point, go through an external
    /// command (a process per chunk, or persistent workers), whose output
    /// records replace them, voted on across [`ExecSpec::replicas`].
    Exec(ExecSpec),
    /// `--http URL`: each record, as it is at this point, becomes one
    /// request, and the records its answer makes replace it (see
    /// [`HttpSpec`]).
    Http(HttpSpec),
}

impl PartialEq for Step {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Step::Filter(a), Step::Filter(b)) | (Step::Map(a), Step::Map(b)) => a == b,
            (Step::Select(a), Step::Select(b)) | (Step::Drop(a), Step::Drop(b)) => a == b,
            (Step::Rename(a), Step::Rename(b)) => a == b,
            (Step::Rust(a), Step::Rust(b)) => Arc::ptr_eq(a, b),
            (Step::Exec(a), Step::Exec(b)) => a == b,
            (Step::Http(a), Step::Http(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Step {}

impl Step {
    /// True for the steps that replace records ([`Step::Map`],
    /// [`Step::Rust`], [`Step::Exec`], [`Step::Http`]).
    pub(crate) fn is_map(&self) -> bool {
        matches!(self, Step::Map(_) | Step::Rust(_) | Step::Exec(_) | Step::Http(_))
    }

    /// The spec of an [`Step::Http`].
    pub(crate) fn http(&self) -> Option<&HttpSpec> {
        match self {
            Step::Http(spec) => Some(spec),
            _ => None,
        }
    }

    /// The command of an [`Step::Exec`].
    pub(crate) fn exec(&self) -> Option<&ExecSpec> {
        match self {
            Step::Exec(spec) => Some(spec),
            _ => None,
        }
    }
}
