//! The concat reducer: every record, in input order.
//!
//! Workers encode their chunk's records into output bytes; the merging
//! thread writes each chunk's bytes as soon as every earlier chunk has been
//! written, so memory stays at the in-flight window whatever the input size.

use parking_lot::Mutex;

use crate::error::Result;
use crate::record::Record;
use crate::reduce::{Reducer, Sink};
use crate::sink::encode::Encoder;

/// Writes every record in input order.
#[derive(Debug)]
pub struct Concat {
    encoder: Encoder,
    /// Output buffers already written, reused by later chunks: fresh
    /// memory costs a page fault per 4 KiB on first touch.
    pool: Mutex<Vec<Vec<u8>>>,
    /// Whether the CSV header is written (not by the map steps of splits
    /// after the first).
    header: bool,
}

/// Buffers kept for reuse, at most.
const POOL_SIZE: usize = 16;

/// Encoded output bytes of consecutive chunks.
#[derive(Debug, Default)]
pub struct ConcatPartial {
    bytes: Vec<u8>,
    records: u64,
}

impl Concat {
    /// A concat reducer writing through `encoder`.
    pub fn new(encoder: Encoder) -> Self {
        Concat { encoder, pool: Mutex::new(Vec::new()), header: true }
    }

    /// Writes no CSV header: the output follows an earlier part's (the
    /// map step of a split after the first).
    pub(crate) fn without_header(mut self) -> Self {
        self.header = false;
        self
    }

    fn recycle(&self, mut buf: Vec<u8>) {
        buf.clear();
        let mut pool = self.pool.lock();
        if pool.len() < POOL_SIZE && buf.capacity() > 0 {
            pool.push(buf);
        }
    }
}

impl Reducer for Concat {
    type Partial = ConcatPartial;

    fn empty(&self) -> ConcatPartial {
        let bytes = self.pool.lock().pop().unwrap_or_default();
        ConcatPartial { bytes, records: 0 }
    }

    fn fold(&self, partial: &mut ConcatPartial, record: &Record<'_>) -> Result<()> {
        let len = partial.bytes.len();
        if let Err(e) = self.encoder.record(record, &mut partial.bytes) {
            // Leave the partial as it was, so the record can be skipped.
            partial.bytes.truncate(len);
            return Err(e);
        }
        partial.records += 1;
        Ok(())
    }

    fn merge(&self, total: &mut ConcatPartial, next: ConcatPartial) -> Result<()> {
        if total.bytes.is_empty() {
            let old = std::mem::replace(&mut total.bytes, next.bytes);
            self.recycle(old);
        } else {
            total.bytes.extend_from_slice(&next.bytes);
            self.recycle(next.bytes);
        }
        total.records += next.records;
        Ok(())
    }

    fn start(&self, sink: &mut Sink<'_>) -> Result<()> {
        if !self.header {
            return Ok(());
        }
        let mut header = Vec::new();
        self.encoder.layout_header(&mut header);
        sink.write(&header, 0)
    }

    fn drain(&self, total: &mut ConcatPartial, sink: &mut Sink<'_>) -> Result<()> {
        sink.write(&total.bytes, total.records)?;
        self.recycle(std::mem::take(&mut total.bytes));
        total.records = 0;
        Ok(())
    }

    fn finish(&self, mut total: ConcatPartial, sink: &mut Sink<'_>) -> Result<()> {
        self.drain(&mut total, sink)
    }
}
