//! A wrapper reducer that also collects the union of the record keys it
//! folds, in first-seen input order: the CSV header of records that a
//! `--map` reshaped.

use std::collections::HashSet;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::Result;
use crate::record::Record;
use crate::reduce::{Reducer, Sink};

/// Runs `inner` and collects every key of the records it folds, in the
/// order they first appear in the input (chunks merge in input order, so
/// the order does not depend on chunking).
#[derive(Debug)]
pub struct KeyUnion<R> {
    inner: R,
    keys: Arc<Mutex<Vec<String>>>,
}

/// The inner partial and the keys its records hold, in first-seen order.
#[derive(Debug)]
pub struct KeyUnionPartial<P> {
    inner: P,
    keys: Vec<String>,
    seen: HashSet<String>,
}

impl<R: Reducer> KeyUnion<R> {
    /// Wraps `inner`; when the run finishes, `keys` holds the union.
    pub fn new(inner: R, keys: Arc<Mutex<Vec<String>>>) -> Self {
        KeyUnion { inner, keys }
    }
}

impl<R: Reducer> Reducer for KeyUnion<R> {
    type Partial = KeyUnionPartial<R::Partial>;

    fn empty(&self) -> Self::Partial {
        KeyUnionPartial { inner: self.inner.empty(), keys: Vec::new(), seen: HashSet::new() }
    }

    fn fold(&self, partial: &mut Self::Partial, record: &Record<'_>) -> Result<()> {
        self.inner.fold(&mut partial.inner, record)?;
        record.for_each_field(|key, _| {
            if let Some(k) = key {
                if !partial.seen.contains(k) {
                    partial.seen.insert(k.to_string());
                    partial.keys.push(k.to_string());
                }
            }
        });
        Ok(())
    }

    fn seal(&self, partial: &mut Self::Partial) -> Result<()> {
        self.inner.seal(&mut partial.inner)
    }

    fn merge(&self, total: &mut Self::Partial, next: Self::Partial) -> Result<()> {
        self.inner.merge(&mut total.inner, next.inner)?;
        for k in next.keys {
            if total.seen.insert(k.clone()) {
                total.keys.push(k);
            }
        }
        Ok(())
    }

    fn start(&self, sink: &mut Sink<'_>) -> Result<()> {
        self.inner.start(sink)
    }

    fn drain(&self, total: &mut Self::Partial, sink: &mut Sink<'_>) -> Result<()> {
        self.inner.drain(&mut total.inner, sink)
    }

    fn finalize(&self, total: &mut Self::Partial) -> Result<()> {
        self.inner.finalize(&mut total.inner)
    }

    fn finish(&self, total: Self::Partial, sink: &mut Sink<'_>) -> Result<()> {
        *self.keys.lock() = total.keys;
        self.inner.finish(total.inner, sink)
    }
}
