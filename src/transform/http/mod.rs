//! `--http URL`: a map step that turns every record into one request to a
//! web service or a model endpoint, and the answer into records.
//!
//! - **The protocol.** By default each record is `POST`ed as a JSON object
//!   (`Content-Type: application/json`), and a 2xx answer follows the
//!   persistent workers' protocol (see
//!   [`crate::transform::command::persistent`]): a JSON object replaces
//!   the record, `null` drops it, an array of objects fans it out.
//!   `--http-request EXPR` (jq over the record) gives the body instead, or
//!   an object with `method`, `url`, `headers` and `body`;
//!   `--http-response EXPR` (jq over `{record, status, headers, body}`)
//!   gives the output records, e.g. `.record + {label:
//!   .body.choices[0].message.content}`.
//! - **Per record.** A chunk's requests all go to the client at once;
//!   the answers come back in any order and are put back in the records'
//!   order, and chunks merge in input order: the output is the same for
//!   any `--concurrency`, `--threads` and chunk size (given the same
//!   answers). A record whose request still fails after its retries goes
//!   to `--on-error` alone ([`crate::ErrorKind::Http`]); the others of its
//!   chunk go on. Records an answer makes keep their record's line.
//! - **Limits and retries**: see [`client`]: `--concurrency`, `--rate`
//!   and `--burst`, `--token-rate` and `--tokens`, `--retries` with
//!   backoff and `Retry-After`, a step-wide cool-down after a 429,
//!   `--timeout` per attempt.
//! - **Secrets.** `--http-header 'Name: value'` values, with `$VAR` and
//!   `${VAR}` from the environment, never appear in a message, a reject,
//!   `--stats-json`, `--explain`, the journal or its fingerprint (see
//!   [`secrets`]). URLs are shown without their query string and user
//!   info.
//! - **Replicas.** With `--replicas K --vote FIELD`, each record is
//!   requested K times at once, and the value most replicas agree on is
//!   kept (see [`crate::transform::command::vote`]).
//!
//! Prior art, and what each lacks (completion order, no resume, no 429
//! cool-down): OpenAI's `api_request_parallel_processor.py`, Ray Data's
//! HTTP processor, Curator, GNU parallel + curl; surveyed in the project's
//! `research/http-map-anchors.md`.
//!
//! The parts: `spec` ([`HttpSpec`], [`Rate`]), `secrets` (header
//! templates, redaction), `client` (the runtime thread, the limits, the
//! attempts), `stage` (requests and records per chunk, [`HttpStats`]).

pub(crate) mod client;
pub(crate) mod secrets;
mod spec;
mod stage;

pub(crate) use secrets::header_name;
pub(crate) use spec::shown_url;
pub use spec::{HttpSpec, Rate, DEFAULT_HTTP_CONCURRENCY};
pub use stage::HttpStats;
pub(crate) use stage::{merge_http_stats, HttpStage};
