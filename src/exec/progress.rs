//! The progress bar (`--progress`): an `indicatif` bar on standard error,
//! redrawn at most 10 times a second from what the executor knows: bytes
//! read (against the input size when it is known, for an ETA; else a
//! spinner, so it works on standard input too), records read and records
//! per second, chunks merged and in flight, `--http` requests (per second,
//! in flight, 429 answers), `--exec` and `--http` retries, and records
//! rejected.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar for one run.
#[derive(Debug)]
pub(crate) struct Progress {
    bar: ProgressBar,
    started: Instant,
}

/// What the bar's message shows.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counts {
    pub records: u64,
    pub chunks_done: u64,
    pub in_flight: u64,
    pub retries: u64,
    pub rejected: u64,
    /// With `--http` steps: requests sent, in flight now, 429 answers.
    pub http: Option<(u64, u64, u64)>,
}

impl Progress {
    /// A bar drawn on standard error (whether or not it is a terminal: the
    /// caller decides), against `total_bytes` when known.
    pub(crate) fn new(total_bytes: Option<u64>) -> Progress {
        let target = ProgressDrawTarget::term_like_with_hz(Box::new(console::Term::stderr()), 10);
        let (bar, template) = match total_bytes {
            Some(total) => (
                ProgressBar::with_draw_target(Some(total), target),
                "{bar:30} {bytes}/{total_bytes} ({binary_bytes_per_sec}, ETA {eta}) {msg}",
            ),
            None => (
                ProgressBar::with_draw_target(None, target),
                "{spinner} {bytes} ({binary_bytes_per_sec}) {msg}",
            ),
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        Progress { bar, started: Instant::now() }
    }

    /// Sets the bytes read so far.
    pub(crate) fn bytes(&self, n: u64) {
        self.bar.set_position(n);
    }

    /// Updates the counts.
    pub(crate) fn counts(&self, c: Counts) {
        let secs = self.started.elapsed().as_secs_f64();
        let rate = if secs > 0.0 { c.records as f64 / secs } else { 0.0 };
        let mut msg = format!(
            "{} records ({rate:.0}/s), chunks {} done / {} in flight",
            c.records, c.chunks_done, c.in_flight
        );
        if let Some((requests, in_flight, limited)) = c.http {
            let per_sec = if secs > 0.0 { requests as f64 / secs } else { 0.0 };
            msg.push_str(&format!(", {requests} requests ({per_sec:.0}/s), {in_flight} in flight"));
            if limited > 0 {
                msg.push_str(&format!(", {limited} × 429"));
            }
        }
        if c.retries > 0 {
            msg.push_str(&format!(", {} retries", c.retries));
        }
        if c.rejected > 0 {
            msg.push_str(&format!(", {} rejected", c.rejected));
        }
        self.bar.set_message(msg);
    }

    /// Removes the bar.
    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
