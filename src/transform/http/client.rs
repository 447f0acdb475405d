//! The client of the `--http` step: one thread that owns a current-thread
//! tokio runtime and one `reqwest::Client` (rustls, HTTP/1.1 keep-alive,
//! HTTP/2 where the server offers it over TLS), fed by the workers through
//! a bounded channel, so that a thousand requests in flight take one
//! thread, not a thousand.
//!
//! **One scheduler for the limits.** A request runs once it holds all of:
//!
//! 1. a permit of the step's semaphore (`--concurrency`, requests in
//!    flight; held for an attempt, handed back during a backoff);
//! 2. no cool-down: after a 429, the whole step waits out its
//!    `Retry-After` (else the backoff) before any request starts, as
//!    Curator does (curator#205), rather than letting every other request
//!    run into the limit too;
//! 3. a turn of the request limiter (`--rate`, `--burst`): GCRA, the
//!    generic cell rate algorithm of ATM networks (ITU-T I.371), from the
//!    `governor` crate. With emission interval T = 1/rate and burst b, no
//!    window of length w sees more than b + w/T starts;
//! 4. its tokens from the token limiter (`--token-rate`, `--tokens`), also
//!    GCRA, charged the estimate up front; when the answer reports more
//!    (`usage.total_tokens`, or `prompt_tokens` + `completion_tokens`, or
//!    `input_tokens` + `output_tokens`), the difference is charged after,
//!    which delays the requests that follow (an over-estimate is not
//!    handed back: GCRA keeps no account to refund).
//!
//! **Retries.** A connection error, a timeout, 408, 429, 500, 502, 503 and
//! 504 are retried up to `--retries` times (other 4xx are not: the request
//! itself is wrong), with exponential backoff and full jitter (the
//! `backon` crate's: the n-th retry waits `d + random(0, d)`, `d =
//! retry_delay × 2^(n-1)` up to `retry_max_delay`), or as long as the
//! answer's `Retry-After` says (seconds or an HTTP date, RFC 9110 §10.2.3)
//! when that is longer.

// Without the `http` feature only the stub client below uses this module.
#![cfg_attr(not(feature = "http"), allow(dead_code))]

use std::time::Duration;

/// One request, as the stage made it from a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    /// `POST`, `GET`...
    pub method: String,
    /// The full URL.
    pub url: String,
    /// Headers beyond the step's own (from `--http-request`).
    pub headers: Vec<(String, String)>,
    /// The body's bytes.
    pub body: Vec<u8>,
    /// Its estimated tokens (0 without `--token-rate`).
    pub tokens: u32,
}

/// A 2xx answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub status: u16,
    /// Header names lowercased, values lossily decoded.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why a request failed for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failed {
    pub reason: String,
    pub status: Option<u16>,
    pub body: Vec<u8>,
}

/// What became of one request after its attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub result: Result<Answer, Failed>,
    pub attempts: u32,
}

/// The limits and retries of a step.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub concurrency: usize,
    /// Emission interval and burst of the request limiter.
    pub rate: Option<(Duration, u32)>,
    /// Emission interval (per token) and burst of the token limiter.
    pub token_rate: Option<(Duration, u32)>,
    pub retries: u32,
    pub timeout: Option<Duration>,
    pub retry_delay: Duration,
    pub retry_max_delay: Duration,
    /// The step's headers (name, value), sent with every request; their
    /// values are marked sensitive.
    pub headers: Vec<(String, String)>,
}

/// The counters of a step's requests.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub requests: std::sync::atomic::AtomicU64,
    pub retries: std::sync::atomic::AtomicU64,
    pub timeouts: std::sync::atomic::AtomicU64,
    pub connection_errors: std::sync::atomic::AtomicU64,
    pub rate_limited: std::sync::atomic::AtomicU64,
    pub in_flight: std::sync::atomic::AtomicU64,
    pub peak_in_flight: std::sync::atomic::AtomicU64,
    pub bytes_sent: std::sync::atomic::AtomicU64,
    pub bytes_received: std::sync::atomic::AtomicU64,
    pub tokens_estimated: std::sync::atomic::AtomicU64,
    pub tokens_reported: std::sync::atomic::AtomicU64,
    /// Answers by status.
    pub statuses: parking_lot::Mutex<std::collections::BTreeMap<u16, u64>>,
    /// Each attempt's time, from sending to the whole body, in seconds: a
    /// DDSketch (Masson, Rim and Lee, VLDB 2019) with 1 % relative
    /// accuracy, so that a run of millions of requests keeps kilobytes,
    /// not 8 bytes a request.
    pub latencies: parking_lot::Mutex<Latencies>,
}

/// The latencies of a step's attempts: quantiles within 1 % (relative) of
/// the true ones, the exact maximum, in bounded memory.
pub(crate) struct Latencies(sketches_ddsketch::DDSketch);

impl std::fmt::Debug for Latencies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Latencies({} attempts)", self.0.count())
    }
}

impl Default for Latencies {
    fn default() -> Latencies {
        // 1 % relative accuracy, at most 2,048 bins (about 16 KiB), values
        // from 1 microsecond.
        Latencies(sketches_ddsketch::DDSketch::new(sketches_ddsketch::Config::new(
            0.01, 2048, 1e-6,
        )))
    }
}

impl Latencies {
    /// Adds one latency, in seconds.
    pub(crate) fn add(&mut self, secs: f64) {
        self.0.add(secs);
    }

    /// The `q` quantile (0 to 1) in seconds; 0 with none.
    pub(crate) fn quantile(&self, q: f64) -> f64 {
        self.0.quantile(q).ok().flatten().unwrap_or(0.0)
    }

    /// The longest, in seconds; 0 with none.
    pub(crate) fn max(&self) -> f64 {
        self.0.max().unwrap_or(0.0)
    }
}

/// The longest `Retry-After` honoured (1 hour): a longer one is taken as
/// this, so that a broken header cannot stall a run for days.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The wait a `Retry-After` value asks for: delay-seconds or an HTTP date
/// (RFC 9110 §10.2.3), at most [`MAX_RETRY_AFTER`]; `None` when it is
/// neither.
pub(crate) fn retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else if let Ok(secs) = value.parse::<f64>() {
        Duration::try_from_secs_f64(secs).ok()?
    } else {
        #[cfg(feature = "http")]
        {
            let at = httpdate::parse_http_date(value).ok()?;
            at.duration_since(now).unwrap_or(Duration::ZERO)
        }
        #[cfg(not(feature = "http"))]
        {
            let _ = now;
            return None;
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// True for the statuses worth another attempt: 408, 429, 500, 502, 503,
/// 504.
pub(crate) fn retryable(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// The tokens an answer's body reports using: OpenAI's `usage.total_tokens`
/// (or its `prompt_tokens` + `completion_tokens`), Anthropic's
/// `usage.input_tokens` + `output_tokens`; `None` when it reports none.
pub(crate) fn reported_tokens(body: &[u8]) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Usage {
        total_tokens: Option<u64>,
        prompt_tokens: Option<u64>,
        completion_tokens: Option<u64>,
        input_tokens: Option<u64>,
        output_tokens: Option<u64>,
    }
    #[derive(serde::Deserialize)]
    struct Probe {
        usage: Option<Usage>,
    }
    let u = serde_json::from_slice::<Probe>(body).ok()?.usage?;
    u.total_tokens
        .or_else(|| Some(u.prompt_tokens? + u.completion_tokens.unwrap_or(0)))
        .or_else(|| Some(u.input_tokens? + u.output_tokens.unwrap_or(0)))
}

#[cfg(feature = "http")]
pub(crate) use runtime::Client;

#[cfg(not(feature = "http"))]
pub(crate) use disabled::Client;

#[cfg(not(feature = "http"))]
mod disabled {
    use super::{Counters, Limits, Outcome, Request};
    use crate::cancel::CancelToken;

    /// Without the `http` feature: no client.
    #[derive(Debug)]
    pub(crate) struct Client {
        pub counters: std::sync::Arc<Counters>,
    }

    impl Client {
        pub(crate) fn new(_: Limits, _: CancelToken) -> Result<Client, String> {
            Err("this fanfold was built without the `http` feature".into())
        }

        pub(crate) fn call_all(&self, _: Vec<Request>) -> Vec<Outcome> {
            Vec::new()
        }
    }
}

#[cfg(feature = "http")]
mod runtime {
    use std::num::NonZeroU32;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;
    use std::time::{Duration, Instant, SystemTime};

    use backon::{BackoffBuilder, ExponentialBuilder};
    use governor::clock::{Clock, DefaultClock};
    use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
    use tokio::sync::{mpsc, Semaphore};

    use super::{
        reported_tokens, retry_after, retryable, Answer, Counters, Failed, Limits, Outcome, Request,
    };
    use crate::cancel::CancelToken;
    use crate::transform::command::spec::show_duration;

    /// How often a waiting request looks at the stop token.
    const STOP_POLL: Duration = Duration::from_millis(50);

    /// A request and where its outcome goes.
    struct Job {
        index: usize,
        request: Request,
        reply: crossbeam_channel::Sender<(usize, Outcome)>,
    }

    /// What the runtime's tasks share.
    struct Shared {
        http: reqwest::Client,
        limits: Limits,
        headers: reqwest::header::HeaderMap,
        semaphore: Arc<Semaphore>,
        requests: Option<DefaultDirectRateLimiter>,
        tokens: Option<(DefaultDirectRateLimiter, u32)>,
        /// The end of the cool-down after a 429, if one is on.
        paused_until: parking_lot::Mutex<Option<Instant>>,
        counters: Arc<Counters>,
        stop: CancelToken,
    }

    /// The step's client: the runtime's thread and the channel to it.
    pub(crate) struct Client {
        jobs: Option<mpsc::Sender<Job>>,
        thread: Option<std::thread::JoinHandle<()>>,
        /// The requests' counters.
        pub counters: Arc<Counters>,
        stop: CancelToken,
    }

    impl std::fmt::Debug for Client {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Client").field("counters", &self.counters).finish_non_exhaustive()
        }
    }

    impl Client {
        /// Starts the client's thread and runtime.
        ///
        /// # Errors
        /// A message when the TLS setup, a header or the thread fails.
        pub(crate) fn new(limits: Limits, stop: CancelToken) -> Result<Client, String> {
            // reqwest is built without a default crypto provider: ring's,
            // which builds without CMake or a Go toolchain (aws-lc-rs's
            // build needs more); rustls deprecates it only for its lack of
            // post-quantum key exchange.
            #[allow(deprecated)]
            let _ = rustls::crypto::ring::default_provider().install_default();
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(limits.concurrency)
                .tcp_nodelay(true)
                .user_agent(concat!("fanfold/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| format!("cannot set up the HTTP client: {}", innermost(&e)))?;
            let mut headers = reqwest::header::HeaderMap::new();
            for (name, value) in &limits.headers {
                let n = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| format!("`{name}`: not a header name"))?;
                let mut v = reqwest::header::HeaderValue::from_str(value)
                    .map_err(|_| format!("{name}: the value has a character a header cannot"))?;
                v.set_sensitive(true);
                headers.append(n, v);
            }
            let limiter = |(interval, burst): (Duration, u32)| {
                let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
                Quota::with_period(interval).map(|q| RateLimiter::direct(q.allow_burst(burst)))
            };
            let requests = limits.rate.and_then(limiter);
            let tokens = limits.token_rate.and_then(|r| Some((limiter(r)?, r.1.max(1))));
            let counters = Arc::new(Counters::default());
            let shared = Arc::new(Shared {
                http,
                semaphore: Arc::new(Semaphore::new(limits.concurrency.max(1))),
                limits,
                headers,
                requests,
                tokens,
                paused_until: parking_lot::Mutex::new(None),
                counters: counters.clone(),
                stop: stop.clone(),
            });
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the HTTP runtime: {e}"))?;
            let (tx, rx) = mpsc::channel::<Job>(shared.limits.concurrency.max(1));
            let thread = std::thread::Builder::new()
                .name("fanfold-http".into())
                .spawn(move || runtime.block_on(dispatch(rx, shared)))
                .map_err(|e| format!("cannot start the HTTP thread: {e}"))?;
            Ok(Client { jobs: Some(tx), thread: Some(thread), counters, stop })
        }

        /// Sends `requests` and waits for their outcomes, returned in the
        /// same order. Blocks the calling thread (a worker, not the
        /// runtime's).
        pub(crate) fn call_all(&self, requests: Vec<Request>) -> Vec<Outcome> {
            let n = requests.len();
            let (reply, answers) = crossbeam_channel::unbounded();
            let mut outcomes: Vec<Option<Outcome>> = vec![None; n];
            if let Some(jobs) = &self.jobs {
                for (index, request) in requests.into_iter().enumerate() {
                    let job = Job { index, request, reply: reply.clone() };
                    if jobs.blocking_send(job).is_err() {
                        break;
                    }
                }
            }
            drop(reply);
            while let Ok((i, outcome)) = answers.recv() {
                if let Some(slot) = outcomes.get_mut(i) {
                    *slot = Some(outcome);
                }
            }
            let lost = || Outcome {
                result: Err(Failed {
                    reason: if self.stop.is_cancelled() {
                        "cancelled: the run is stopping".into()
                    } else {
                        "internal error: the HTTP client stopped".into()
                    },
                    status: None,
                    body: Vec::new(),
                }),
                attempts: 0,
            };
            outcomes.into_iter().map(|o| o.unwrap_or_else(lost)).collect()
        }
    }

    impl Drop for Client {
        fn drop(&mut self) {
            self.jobs.take();
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    /// The runtime's main task: takes each job once a permit is free and
    /// runs it as a task of its own; returns when the channel closes and
    /// every task is done.
    async fn dispatch(mut jobs: mpsc::Receiver<Job>, shared: Arc<Shared>) {
        while let Some(job) = jobs.recv().await {
            let Ok(permit) = shared.semaphore.clone().acquire_owned().await else { break };
            let shared = shared.clone();
            tokio::spawn(async move {
                let outcome = run_job(&shared, permit, &job.request).await;
                let _ = job.reply.send((job.index, outcome));
            });
        }
        let all = u32::try_from(shared.limits.concurrency).unwrap_or(u32::MAX);
        let _ = shared.semaphore.acquire_many(all).await;
    }

    /// How one attempt ended.
    enum Attempt {
        Done(Answer),
        /// Worth another attempt, after at least this long.
        Again(Failed, Option<Duration>),
        Fatal(Failed),
    }

    /// A request's attempts.
    async fn run_job(
        shared: &Shared,
        permit: tokio::sync::OwnedSemaphorePermit,
        request: &Request,
    ) -> Outcome {
        let mut permit = Some(permit);
        let mut backoff = ExponentialBuilder::new()
            .with_min_delay(shared.limits.retry_delay)
            .with_max_delay(shared.limits.retry_max_delay)
            .with_factor(2.0)
            .with_jitter()
            .with_max_times(shared.limits.retries as usize)
            .build();
        let mut attempts = 0u32;
        let cancelled = || Failed {
            reason: "cancelled: the run is stopping".into(),
            status: None,
            body: Vec::new(),
        };
        loop {
            if permit.is_none() {
                match shared.semaphore.clone().acquire_owned().await {
                    Ok(p) => permit = Some(p),
                    Err(_) => return Outcome { result: Err(cancelled()), attempts },
                }
            }
            if !wait_turn(shared, request.tokens).await {
                return Outcome { result: Err(cancelled()), attempts };
            }
            attempts += 1;
            let result = attempt(shared, request).await;
            let (failed, after) = match result {
                Attempt::Done(answer) => {
                    if let Some((limiter, burst)) = &shared.tokens {
                        if let Some(used) = reported_tokens(&answer.body) {
                            shared.counters.tokens_reported.fetch_add(used, Ordering::Relaxed);
                            let extra = used.saturating_sub(u64::from(request.tokens));
                            drop(permit.take());
                            charge(limiter, *burst, extra, &shared.stop).await;
                        }
                    }
                    return Outcome { result: Ok(answer), attempts };
                }
                Attempt::Fatal(f) => return Outcome { result: Err(f), attempts },
                Attempt::Again(f, after) => (f, after),
            };
            let Some(delay) = backoff.next() else {
                return Outcome { result: Err(failed), attempts };
            };
            if shared.stop.is_cancelled() {
                return Outcome { result: Err(failed), attempts };
            }
            shared.counters.retries.fetch_add(1, Ordering::Relaxed);
            let wait = after.map_or(delay, |a| a.max(delay));
            if failed.status == Some(429) {
                // A cool-down for the whole step.
                let until = Instant::now() + after.unwrap_or(delay);
                let mut paused = shared.paused_until.lock();
                *paused = Some(paused.map_or(until, |p| p.max(until)));
            }
            drop(permit.take());
            if !sleep_unless_stopping(wait, &shared.stop).await {
                return Outcome { result: Err(failed), attempts };
            }
        }
    }

    /// Waits for the cool-down, the request limiter and the token limiter;
    /// false when the run stops meanwhile.
    async fn wait_turn(shared: &Shared, tokens: u32) -> bool {
        loop {
            if shared.stop.is_cancelled() {
                return false;
            }
            let paused = *shared.paused_until.lock();
            if let Some(until) = paused {
                let left = until.saturating_duration_since(Instant::now());
                if !left.is_zero() {
                    if !sleep_unless_stopping(left, &shared.stop).await {
                        return false;
                    }
                    continue;
                }
            }
            if let Some(limiter) = &shared.requests {
                if let Err(not_until) = limiter.check() {
                    let wait = not_until.wait_time_from(DefaultClock::default().now());
                    if !sleep_unless_stopping(wait, &shared.stop).await {
                        return false;
                    }
                    continue;
                }
            }
            break;
        }
        if let Some((limiter, burst)) = &shared.tokens {
            shared.counters.tokens_estimated.fetch_add(u64::from(tokens), Ordering::Relaxed);
            return charge(limiter, *burst, u64::from(tokens), &shared.stop).await;
        }
        true
    }

    /// Takes `n` tokens from `limiter` (in parts of at most `burst`),
    /// waiting as long as it takes; false when the run stops meanwhile.
    async fn charge(
        limiter: &DefaultDirectRateLimiter,
        burst: u32,
        mut n: u64,
        stop: &CancelToken,
    ) -> bool {
        while n > 0 {
            let part = u32::try_from(n.min(u64::from(burst))).unwrap_or(burst);
            let Some(part_nz) = NonZeroU32::new(part) else { return true };
            match limiter.check_n(part_nz) {
                Ok(Ok(())) => n -= u64::from(part),
                Ok(Err(not_until)) => {
                    let wait = not_until.wait_time_from(DefaultClock::default().now());
                    if !sleep_unless_stopping(wait, stop).await {
                        return false;
                    }
                }
                // Larger than the burst: cannot happen, parts are cut to it.
                Err(_) => return true,
            }
        }
        true
    }

    /// Sleeps `d`, in steps, returning false early once `stop` is
    /// cancelled.
    async fn sleep_unless_stopping(d: Duration, stop: &CancelToken) -> bool {
        let until = Instant::now() + d;
        loop {
            if stop.is_cancelled() {
                return false;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            tokio::time::sleep(left.min(STOP_POLL)).await;
        }
    }

    /// Resolves once `stop` is cancelled.
    async fn stopped(stop: &CancelToken) {
        while !stop.is_cancelled() {
            tokio::time::sleep(STOP_POLL).await;
        }
    }

    /// One attempt: sends the request and reads the whole answer.
    async fn attempt(shared: &Shared, request: &Request) -> Attempt {
        let c = &shared.counters;
        c.requests.fetch_add(1, Ordering::Relaxed);
        let now = c.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        c.peak_in_flight.fetch_max(now, Ordering::Relaxed);
        c.bytes_sent.fetch_add(request.body.len() as u64, Ordering::Relaxed);
        let started = Instant::now();
        let send = send(shared, request);
        let result = tokio::select! {
            r = send => Some(r),
            () = stopped(&shared.stop) => None,
        };
        c.in_flight.fetch_sub(1, Ordering::Relaxed);
        c.latencies.lock().add(started.elapsed().as_secs_f64());
        let Some(result) = result else {
            let reason = "cancelled: the run is stopping".to_string();
            return Attempt::Fatal(Failed { reason, status: None, body: Vec::new() });
        };
        match result {
            Ok(answer) => {
                c.bytes_received.fetch_add(answer.body.len() as u64, Ordering::Relaxed);
                *c.statuses.lock().entry(answer.status).or_default() += 1;
                let status = answer.status;
                if (200..300).contains(&status) {
                    return Attempt::Done(answer);
                }
                if status == 429 {
                    c.rate_limited.fetch_add(1, Ordering::Relaxed);
                }
                let after = answer
                    .headers
                    .iter()
                    .find(|(n, _)| n == "retry-after")
                    .and_then(|(_, v)| retry_after(v, SystemTime::now()));
                let reason = match reqwest::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                {
                    Some(text) => format!("HTTP {status} {text}"),
                    None => format!("HTTP {status}"),
                };
                let failed = Failed { reason, status: Some(status), body: answer.body };
                if retryable(status) {
                    Attempt::Again(failed, after)
                } else {
                    Attempt::Fatal(failed)
                }
            }
            Err(e) => {
                let failed = |reason: String| Failed { reason, status: None, body: Vec::new() };
                if e.is_timeout() {
                    c.timeouts.fetch_add(1, Ordering::Relaxed);
                    let limit = shared.limits.timeout.map_or(String::new(), show_duration);
                    Attempt::Again(failed(format!("timed out after {limit}")), None)
                } else if e.is_builder() {
                    Attempt::Fatal(failed(format!("cannot make the request: {}", innermost(&e))))
                } else {
                    c.connection_errors.fetch_add(1, Ordering::Relaxed);
                    let how = if e.is_connect() { "cannot connect" } else { "connection error" };
                    Attempt::Again(failed(format!("{how}: {}", innermost(&e))), None)
                }
            }
        }
    }

    /// Sends the request and reads its answer.
    async fn send(shared: &Shared, request: &Request) -> Result<Answer, reqwest::Error> {
        let method =
            reqwest::Method::from_bytes(request.method.as_bytes()).unwrap_or(reqwest::Method::POST);
        let mut headers = shared.headers.clone();
        for (name, value) in &request.headers {
            if let (Ok(n), Ok(v)) = (
                reqwest::header::HeaderName::from_bytes(name.as_bytes()),
                reqwest::header::HeaderValue::from_str(value),
            ) {
                headers.insert(n, v);
            }
        }
        if !headers.contains_key(reqwest::header::CONTENT_TYPE) {
            headers.insert(
                reqwest::header::CONTENT_TYPE,
                reqwest::header::HeaderValue::from_static("application/json"),
            );
        }
        let mut builder =
            shared.http.request(method, &request.url).headers(headers).body(request.body.clone());
        if let Some(t) = shared.limits.timeout {
            builder = builder.timeout(t);
        }
        let response = builder.send().await?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
            .collect();
        let body = response.bytes().await?.to_vec();
        Ok(Answer { status, headers, body })
    }

    /// The innermost cause of an error (`Connection refused (os error
    /// 111)`), which names no URL.
    fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
        let mut cause: &(dyn std::error::Error + 'static) = e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        cause.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_quantiles_are_within_one_percent() {
        let mut l = Latencies::default();
        assert_eq!((l.quantile(0.5), l.max()), (0.0, 0.0));
        for ms in 1..=1000 {
            l.add(f64::from(ms) / 1000.0);
        }
        let close = |got: f64, want: f64| (got - want).abs() <= 0.011 * want;
        assert!(close(l.quantile(0.5), 0.5), "{}", l.quantile(0.5));
        assert!(close(l.quantile(0.95), 0.95), "{}", l.quantile(0.95));
        assert_eq!(l.max(), 1.0);
    }

    #[test]
    fn retry_after_values() {
        let now = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(" 0.5 ", now), Some(Duration::from_millis(500)));
        assert_eq!(retry_after("999999", now), Some(MAX_RETRY_AFTER));
        // 2001-09-09T01:46:40Z is the epoch + 1e9 s.
        assert_eq!(
            retry_after("Sun, 09 Sep 2001 01:46:50 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(retry_after("Sun, 09 Sep 2001 01:46:30 GMT", now), Some(Duration::ZERO));
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn statuses_and_usage() {
        assert!(retryable(429) && retryable(503) && retryable(408));
        assert!(!retryable(404) && !retryable(400) && !retryable(501));
        assert_eq!(reported_tokens(br#"{"usage":{"total_tokens":12}}"#), Some(12));
        assert_eq!(
            reported_tokens(br#"{"usage":{"prompt_tokens":5,"completion_tokens":2}}"#),
            Some(7)
        );
        assert_eq!(reported_tokens(br#"{"usage":{"input_tokens":5,"output_tokens":3}}"#), Some(8));
        assert_eq!(reported_tokens(br#"{"x":1}"#), None);
        assert_eq!(reported_tokens(b"not json"), None);
    }
}
