//! A custom reducer's partial lines (see `reduce::partial_line`): the map
//! step of split `n` writes its accumulator as one line, keyed by `n`
//! (`partial_line::push_ordered_u64`, so the byte order is split order),
//! its payload the accumulator as JSON text (jq's numbers written as
//! their shortest round-trip text, so that reading them back gives the
//! same numbers; a NaN is written `null`, as jq writes it).
//!
//! `--reduce-merge` need not be commutative, so accumulators are merged
//! in split order only: the combine step writes its lines back in key
//! order, unmerged (it cannot know whether the splits between two of
//! them went elsewhere), and the reduce step merges every line in key
//! order, whatever order they came in, then finishes the result as one
//! run over the whole input does.

use jaq_json::Val;

use crate::error::{ErrorKind, Result};
use crate::record::{ColumnRef, Record};
use crate::reduce::custom::CustomReduce;
use crate::reduce::partial_line::{read_line, write_line};
use crate::reduce::{Reducer, Sink};
use crate::transform::jq::write_value;

/// Reads a custom reducer's partial lines; see the module docs.
#[derive(Debug)]
pub(crate) struct CustomLines {
    reducer: CustomReduce,
    key: ColumnRef,
    partial: ColumnRef,
    /// Writes the lines back (combine) instead of the output (reduce).
    combine: bool,
    fingerprint: u64,
}

impl CustomLines {
    /// Lines in `key` and `partial` columns carrying `fingerprint`, merged
    /// and finished by `reducer` (`combine`: written back in key order).
    pub(crate) fn new(
        reducer: CustomReduce,
        (key, partial): (ColumnRef, ColumnRef),
        combine: bool,
        fingerprint: u64,
    ) -> Self {
        CustomLines { reducer, key, partial, combine, fingerprint }
    }
}

impl Reducer for CustomLines {
    /// The lines read: key (raw) and accumulator.
    type Partial = Vec<(Vec<u8>, Val)>;

    fn empty(&self) -> Self::Partial {
        Vec::new()
    }

    fn fold(&self, partial: &mut Self::Partial, record: &Record<'_>) -> Result<()> {
        let text = |c| record.get(c).text().unwrap_or_default();
        let (key, payload) =
            read_line(&text(&self.key), &text(&self.partial), self.fingerprint, || {
                record.location()
            })?;
        match jaq_json::read::parse_single(&payload) {
            Ok(acc) => {
                partial.push((key, acc));
                Ok(())
            }
            Err(e) => {
                let message = format!("its state is not a custom reducer's JSON: {e}");
                Err(ErrorKind::Partial { at: record.location(), message }.into())
            }
        }
    }

    fn merge(&self, total: &mut Self::Partial, next: Self::Partial) -> Result<()> {
        total.extend(next);
        Ok(())
    }

    fn finish(&self, mut total: Self::Partial, sink: &mut Sink<'_>) -> Result<()> {
        total.sort_by(|a, b| a.0.cmp(&b.0));
        if self.combine {
            let (mut out, mut json) = (Vec::new(), Vec::new());
            for (key, acc) in &total {
                json.clear();
                write_value(&mut json, acc);
                write_line(&mut out, key, self.fingerprint, &json);
            }
            return sink.write(&out, total.len() as u64);
        }
        let mut acc = None;
        for (_, next) in total {
            self.reducer.merge(&mut acc, Some(next))?;
        }
        self.reducer.finish(acc, sink)
    }
}
