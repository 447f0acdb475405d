//! The HTTP step's stage, shared by the workers for one run: makes each
//! record's request (`--http-request`, `--tokens`), hands a chunk's
//! requests to the [`Client`] at once, and makes records of the answers
//! (`--http-response`), voting over replicas; and the counters behind
//! [`HttpStats`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use jaq_json::Val;

use crate::error::{Error, Result, Setting};
use crate::transform::command::vote::vote;
use crate::transform::http::client::{Answer, Client, Failed, Limits, Outcome, Request};
use crate::transform::http::secrets::{expand_headers, Redactor};
use crate::transform::http::spec::{shown_url, HttpSpec};
use crate::transform::jq::{write_value, JqProgram};

/// What the `--http` steps of a run did, for `--stats-json`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HttpStats {
    /// Records that reached a step (once per step).
    pub records: u64,
    /// Requests sent: attempts, first ones and retries, of every replica.
    pub requests: u64,
    /// Attempts after a failed one.
    pub retries: u64,
    /// Attempts that ran past `--timeout`.
    pub timeouts: u64,
    /// Attempts that failed to connect or lost their connection.
    pub connection_errors: u64,
    /// Answers with status 429 (each starts a cool-down of the step).
    pub rate_limited: u64,
    /// Records that still failed after their retries.
    pub failed_records: u64,
    /// Answers by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Most requests in flight at once.
    pub peak_in_flight: u64,
    /// The `--concurrency` limit (the largest of the steps').
    pub concurrency: usize,
    /// Request bodies sent, in bytes.
    pub bytes_sent: u64,
    /// Answer bodies received, in bytes.
    pub bytes_received: u64,
    /// Tokens estimated by `--tokens` (0 without it).
    pub tokens_estimated: u64,
    /// Tokens the answers reported using (`usage`), where they did.
    pub tokens_reported: u64,
    /// Median time of one attempt, from sending to the whole answer, in
    /// seconds (within 1 %: a DDSketch).
    pub latency_p50_secs: f64,
    /// 95th percentile of that time, in seconds (within 1 %).
    pub latency_p95_secs: f64,
    /// Longest such time, in seconds.
    pub latency_max_secs: f64,
}

/// Adds up the stats of several steps (percentiles: the worst step's).
pub(crate) fn merge_http_stats(all: impl IntoIterator<Item = HttpStats>) -> Option<HttpStats> {
    all.into_iter().reduce(|a, b| {
        let mut statuses = a.statuses;
        for (s, n) in b.statuses {
            *statuses.entry(s).or_default() += n;
        }
        HttpStats {
            records: a.records + b.records,
            requests: a.requests + b.requests,
            retries: a.retries + b.retries,
            timeouts: a.timeouts + b.timeouts,
            connection_errors: a.connection_errors + b.connection_errors,
            rate_limited: a.rate_limited + b.rate_limited,
            failed_records: a.failed_records + b.failed_records,
            statuses,
            peak_in_flight: a.peak_in_flight.max(b.peak_in_flight),
            concurrency: a.concurrency.max(b.concurrency),
            bytes_sent: a.bytes_sent + b.bytes_sent,
            bytes_received: a.bytes_received + b.bytes_received,
            tokens_estimated: a.tokens_estimated + b.tokens_estimated,
            tokens_reported: a.tokens_reported + b.tokens_reported,
            latency_p50_secs: a.latency_p50_secs.max(b.latency_p50_secs),
            latency_p95_secs: a.latency_p95_secs.max(b.latency_p95_secs),
            latency_max_secs: a.latency_max_secs.max(b.latency_max_secs),
        }
    })
}

/// Why a record failed at the step, for its [`crate::HttpError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordFailure {
    pub reason: String,
    pub status: Option<u16>,
    pub attempts: u32,
    /// The start of the last body (secrets redacted).
    pub body: String,
}

/// The longest start of a body kept for a message or a reject, in
/// characters.
const BODY_EXCERPT_CHARS: usize = 200;

/// What a record makes: a request, or nothing (`--http-request` gave no
/// output), or a failure before any request.
enum Made {
    /// The request, and the record as a value when an expression needed
    /// it (parsed once, for `--http-request` and `--http-response`).
    Request(Request, Option<Val>),
    Skip,
    Failed(String),
}

/// An `--http` step resolved for one run. Shared by the workers.
#[derive(Debug)]
pub(crate) struct HttpStage {
    spec: HttpSpec,
    request: Option<JqProgram>,
    response: Option<JqProgram>,
    tokens: Option<JqProgram>,
    redactor: Redactor,
    client: Client,
    records: AtomicU64,
    failed: AtomicU64,
    /// A child of the run's token: cancelled when the run stops on an
    /// error, which ends the requests in flight.
    stop: crate::cancel::CancelToken,
}

impl HttpStage {
    /// The stage for `spec`: compiles its expressions, expands its headers
    /// from the environment and starts its client (stopped once `cancel`
    /// is).
    ///
    /// # Errors
    /// [`ErrorKind::Setting`](crate::ErrorKind::Setting) naming the flag: a
    /// bad expression, header or limit, an environment variable not set,
    /// or a client that cannot start.
    pub(crate) fn new(spec: &HttpSpec, cancel: &crate::cancel::CancelToken) -> Result<HttpStage> {
        spec.check()?;
        let program = |setting, code: &Option<String>| {
            code.as_deref().map(|c| JqProgram::new(setting, c, &[])).transpose()
        };
        let request = program(Setting::HttpRequest, &spec.request)?;
        let response = program(Setting::HttpResponse, &spec.response)?;
        let tokens = program(Setting::Tokens, &spec.tokens)?;
        let (headers, redactor) = expand_headers(&spec.headers, &|v| std::env::var(v).ok())?;
        let limits = Limits {
            concurrency: spec.concurrency,
            rate: spec.rate.map(|r| (r.interval(), spec.resolved_burst())),
            token_rate: spec.token_rate.map(|r| {
                let burst = (r.per_second.ceil() as u32).max(1);
                (r.interval(), burst)
            }),
            retries: spec.retries,
            timeout: spec.timeout,
            retry_delay: spec.retry_delay,
            retry_max_delay: spec.retry_max_delay,
            headers: headers.iter().map(|h| (h.name.clone(), h.value.clone())).collect(),
        };
        let stop = cancel.child();
        let client = Client::new(limits, stop.clone())
            .map_err(|m| Error::setting(Setting::Http, redactor.redact(&m)))?;
        Ok(HttpStage {
            spec: spec.clone(),
            request,
            response,
            tokens,
            redactor,
            client,
            records: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            stop,
        })
    }

    /// Ends the requests in flight and starts no more: the run is stopping
    /// on an error.
    pub(crate) fn stop(&self) {
        self.stop.cancel();
    }

    /// The URL as messages show it.
    pub(crate) fn shown_url(&self) -> String {
        shown_url(&self.spec.url)
    }

    /// Retries so far (for the progress bar).
    pub(crate) fn retries(&self) -> u64 {
        self.client.counters.retries.load(Ordering::Relaxed)
    }

    /// Requests sent, in flight now, and 429s so far (for the progress
    /// bar).
    pub(crate) fn progress(&self) -> (u64, u64, u64) {
        let c = &self.client.counters;
        (
            c.requests.load(Ordering::Relaxed),
            c.in_flight.load(Ordering::Relaxed),
            c.rate_limited.load(Ordering::Relaxed),
        )
    }

    /// Runs the step on `records` (NDJSON objects, one a line): one
    /// request per record and replica, all handed to the client at once.
    /// Returns, for each record in order, the records its answer makes (as
    /// NDJSON lines; none for a record `--http-request` skips or whose
    /// answer is `null`), or why it failed.
    pub(crate) fn run(&self, records: &[u8]) -> Vec<std::result::Result<Vec<u8>, RecordFailure>> {
        let lines: Vec<&[u8]> = records.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
        self.records.fetch_add(lines.len() as u64, Ordering::Relaxed);
        let k = self.spec.replicas.max(1);
        let made: Vec<Made> = lines.iter().map(|l| self.make(l)).collect();
        let mut requests = Vec::new();
        for m in &made {
            if let Made::Request(r, _) = m {
                requests.extend(std::iter::repeat_n(r.clone(), k));
            }
        }
        let mut outcomes = self.client.call_all(requests).into_iter();
        let mut results = Vec::with_capacity(made.len());
        for m in made {
            let result = match m {
                Made::Skip => Ok(Vec::new()),
                Made::Failed(reason) => {
                    Err(RecordFailure { reason, status: None, attempts: 0, body: String::new() })
                }
                Made::Request(_, record) => {
                    let replicas: Vec<Outcome> = outcomes.by_ref().take(k).collect();
                    self.answer(record, replicas)
                }
            };
            if result.is_err() {
                self.failed.fetch_add(1, Ordering::Relaxed);
            }
            results.push(result);
        }
        results
    }

    /// The request for one record.
    fn make(&self, line: &[u8]) -> Made {
        let mut request = Request {
            method: "POST".into(),
            url: self.spec.url.clone(),
            headers: Vec::new(),
            body: line.to_vec(),
            tokens: 0,
        };
        let mut body_value = None;
        // The record as a value, for the expressions that read it.
        let record = if self.request.is_some() || self.response.is_some() {
            match jaq_json::read::parse_single(line) {
                Ok(v) => Some(v),
                Err(e) => {
                    return Made::Failed(format!("internal error: a record is not JSON: {e}"))
                }
            }
        } else {
            None
        };
        if let (Some(p), Some(record)) = (&self.request, &record) {
            let mut first = None;
            if let Err(e) = p.run(record.clone(), Vec::new(), |v| {
                first = Some(v);
                false
            }) {
                return Made::Failed(self.redactor.redact(&format!(
                    "--http-request `{}`: {}",
                    p.code(),
                    e.into_message()
                )));
            }
            let Some(value) = first else { return Made::Skip };
            match self.describe(&mut request, value) {
                Ok(body) => body_value = Some(body),
                Err(why) => return Made::Failed(why),
            }
        }
        if let Some(p) = &self.tokens {
            let body = match body_value {
                Some(v) => v,
                None => match jaq_json::read::parse_single(&request.body) {
                    Ok(v) => v,
                    Err(_) => Val::utf8_str(request.body.clone()),
                },
            };
            let mut n = None;
            let run = p.run(body, Vec::new(), |v| {
                let mut t = Vec::new();
                write_value(&mut t, &v);
                n = std::str::from_utf8(&t).ok().and_then(|t| t.parse::<f64>().ok());
                false
            });
            match (run, n) {
                (Ok(()), Some(n)) if n.is_finite() && n >= 0.0 => {
                    request.tokens = n.ceil().min(f64::from(u32::MAX)) as u32;
                }
                (Err(e), _) => {
                    return Made::Failed(format!("--tokens `{}`: {}", p.code(), e.into_message()))
                }
                _ => {
                    return Made::Failed(format!(
                        "--tokens `{}`: the estimate must be a number, at least 0",
                        p.code()
                    ))
                }
            }
        }
        Made::Request(request, record)
    }

    /// Fills `request` from what `--http-request` gave: a request object
    /// (only the keys `method`, `url`, `headers`, `body`, at least one) or
    /// the body. Returns the body as a value (for `--tokens`).
    fn describe(&self, request: &mut Request, value: Val) -> std::result::Result<Val, String> {
        let keys = ["method", "url", "headers", "body"];
        let is_request = match &value {
            Val::Obj(map) => {
                !map.is_empty()
                    && map.keys().all(|k| {
                        matches!(k, Val::TStr(..) | Val::BStr(..))
                            && keys
                                .iter()
                                .any(|n| crate::transform::jq::key_text(k) == n.as_bytes())
                    })
            }
            _ => false,
        };
        let bad = |what: &str| format!("--http-request: {what}");
        let text = |v: &Val| -> Option<String> {
            match v {
                Val::TStr(..) | Val::BStr(..) => {
                    let mut t = Vec::new();
                    write_value(&mut t, v);
                    serde_json::from_slice::<String>(&t).ok()
                }
                _ => None,
            }
        };
        let mut body = value.clone();
        if is_request {
            let Val::Obj(map) = &value else { return Err(bad("not an object")) };
            let get = |k: &str| map.get(&Val::utf8_str(k.as_bytes().to_vec()));
            if let Some(m) = get("method") {
                request.method = text(m)
                    .filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_alphabetic()))
                    .ok_or_else(|| bad("`method` must be a string such as \"GET\""))?
                    .to_ascii_uppercase();
            }
            if let Some(u) = get("url") {
                let url = text(u).ok_or_else(|| bad("`url` must be a string"))?;
                crate::transform::http::spec::check_url(&url, Setting::HttpRequest)
                    .map_err(|e| self.redactor.redact(&e.to_string()))?;
                request.url = url;
            }
            if let Some(h) = get("headers") {
                let Val::Obj(hs) = h else { return Err(bad("`headers` must be an object")) };
                for (k, v) in hs.iter() {
                    let name = String::from_utf8_lossy(&crate::transform::jq::key_text(k)).into();
                    let value = text(v).ok_or_else(|| bad("each header value must be a string"))?;
                    request.headers.push((name, value));
                }
            }
            body = get("body").cloned().unwrap_or(Val::Null);
            if get("body").is_none() {
                request.body = Vec::new();
                return Ok(body);
            }
        }
        request.body = match text(&body) {
            Some(s) => s.into_bytes(),
            None => {
                let mut t = Vec::new();
                write_value(&mut t, &body);
                t
            }
        };
        Ok(body)
    }

    /// The records of one record's answers (one per replica), or why it
    /// failed.
    fn answer(
        &self,
        record: Option<Val>,
        replicas: Vec<Outcome>,
    ) -> std::result::Result<Vec<u8>, RecordFailure> {
        let k = replicas.len();
        let attempts = replicas.iter().map(|o| o.attempts).sum();
        let results: Vec<std::result::Result<Vec<u8>, RecordFailure>> = replicas
            .into_iter()
            .map(|o| match o.result {
                Ok(answer) => {
                    self.records_of(record.as_ref(), &answer).map_err(|reason| RecordFailure {
                        reason,
                        status: Some(answer.status),
                        attempts: o.attempts,
                        body: self.excerpt(&answer.body),
                    })
                }
                Err(Failed { reason, status, body }) => Err(RecordFailure {
                    reason: self.redactor.redact(&reason),
                    status,
                    attempts: o.attempts,
                    body: self.excerpt(&body),
                }),
            })
            .collect();
        let with_attempts = |mut f: RecordFailure| {
            f.attempts = attempts;
            f
        };
        match &self.spec.vote {
            Some(field) if k > 1 => {
                let outputs: Vec<Option<&[u8]>> =
                    results.iter().map(|r| r.as_ref().ok().map(Vec::as_slice)).collect();
                if outputs.iter().all(Option::is_none) {
                    let first = results.into_iter().find_map(|r| r.err());
                    let mut f = first.unwrap_or(RecordFailure {
                        reason: "internal error: no replica".into(),
                        status: None,
                        attempts: 0,
                        body: String::new(),
                    });
                    f.reason = format!("all {k} replicas failed; replica 0: {}", f.reason);
                    return Err(with_attempts(f));
                }
                vote(&outputs, field).map_err(|m| RecordFailure {
                    reason: m.to_string(),
                    status: None,
                    attempts,
                    body: String::new(),
                })
            }
            _ => results
                .into_iter()
                .next()
                .unwrap_or_else(|| {
                    Err(RecordFailure {
                        reason: "internal error: no answer".into(),
                        status: None,
                        attempts: 0,
                        body: String::new(),
                    })
                })
                .map_err(with_attempts),
        }
    }

    /// The records an answer makes: through `--http-response`, or the body
    /// itself.
    fn records_of(
        &self,
        record: Option<&Val>,
        answer: &Answer,
    ) -> std::result::Result<Vec<u8>, String> {
        let body = jaq_json::read::parse_single(&answer.body);
        let mut out = Vec::new();
        let Some(p) = &self.response else {
            let value = body.map_err(|_| "the answer is not JSON".to_string())?;
            push_records(&mut out, value, "the answer")?;
            return Ok(out);
        };
        let record = record.cloned().unwrap_or(Val::Null);
        let body = body.unwrap_or_else(|_| {
            Val::utf8_str(String::from_utf8_lossy(&answer.body).into_owned().into_bytes())
        });
        let mut headers = jaq_json::Map::default();
        for (n, v) in &answer.headers {
            headers
                .insert(Val::utf8_str(n.as_bytes().to_vec()), Val::utf8_str(v.as_bytes().to_vec()));
        }
        let mut input = jaq_json::Map::default();
        let key = |k: &str| Val::utf8_str(k.as_bytes().to_vec());
        input.insert(key("record"), record);
        input.insert(
            key("status"),
            jaq_json::read::parse_single(answer.status.to_string().as_bytes()).unwrap_or(Val::Null),
        );
        input.insert(key("headers"), Val::obj(headers));
        input.insert(key("body"), body);
        let mut bad = None;
        p.run(Val::obj(input), Vec::new(), |v| match push_records(&mut out, v, "the result") {
            Ok(()) => true,
            Err(e) => {
                bad = Some(e);
                false
            }
        })
        .map_err(|e| {
            self.redactor.redact(&format!("--http-response `{}`: {}", p.code(), e.into_message()))
        })?;
        match bad {
            Some(e) => Err(format!("--http-response `{}`: {e}", p.code())),
            None => Ok(out),
        }
    }

    /// The start of a body, lossily decoded, with the secrets redacted.
    fn excerpt(&self, body: &[u8]) -> String {
        let text = String::from_utf8_lossy(body);
        let text = self.redactor.redact(&text);
        let mut shown: String = text.chars().take(BODY_EXCERPT_CHARS).collect();
        if shown.len() < text.len() {
            shown.push('…');
        }
        shown
    }

    /// The counters and latency percentiles so far.
    pub(crate) fn stats(&self) -> HttpStats {
        let c = &self.client.counters;
        let (p50, p95, max) = {
            let lat = c.latencies.lock();
            (lat.quantile(0.50), lat.quantile(0.95), lat.max())
        };
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        HttpStats {
            records: get(&self.records),
            requests: get(&c.requests),
            retries: get(&c.retries),
            timeouts: get(&c.timeouts),
            connection_errors: get(&c.connection_errors),
            rate_limited: get(&c.rate_limited),
            failed_records: get(&self.failed),
            statuses: c.statuses.lock().clone(),
            peak_in_flight: get(&c.peak_in_flight),
            concurrency: self.spec.concurrency,
            bytes_sent: get(&c.bytes_sent),
            bytes_received: get(&c.bytes_received),
            tokens_estimated: get(&c.tokens_estimated),
            tokens_reported: get(&c.tokens_reported),
            latency_p50_secs: p50,
            latency_p95_secs: p95,
            latency_max_secs: max,
        }
    }
}

/// Appends the records `value` stands for as NDJSON lines: an object is
/// one, `null` none, an array of objects those.
///
/// # Errors
/// A message naming `what` when it is anything else.
fn push_records(out: &mut Vec<u8>, value: Val, what: &str) -> std::result::Result<(), String> {
    let bad = |v: &Val| {
        let mut t = Vec::new();
        write_value(&mut t, v);
        let shown = String::from_utf8_lossy(&t);
        let shown: String = shown.chars().take(60).collect();
        format!("{what} must be a JSON object, an array of objects or null, got `{shown}`")
    };
    match &value {
        Val::Null => Ok(()),
        Val::Obj(_) => {
            write_value(out, &value);
            out.push(b'\n');
            Ok(())
        }
        Val::Arr(items) => {
            if let Some(v) = items.iter().find(|v| !matches!(v, Val::Obj(_))) {
                return Err(bad(v));
            }
            for v in items.iter() {
                write_value(out, v);
                out.push(b'\n');
            }
            Ok(())
        }
        other => Err(bad(other)),
    }
}
