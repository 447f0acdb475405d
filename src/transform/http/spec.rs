//! The HTTP step as the user wrote it: [`HttpSpec`] (the URL, the request
//! and response expressions, the header templates, the limits and the
//! retries) and [`Rate`] (`100/s`, `90000/min`).

use std::time::Duration;

use crate::error::{msg, Error, Result, Setting};
use crate::transform::command::spec::{check_copies, DEFAULT_RETRY_DELAY, DEFAULT_RETRY_MAX_DELAY};

/// Default [`HttpSpec::concurrency`]: 64 requests in flight.
pub const DEFAULT_HTTP_CONCURRENCY: usize = 64;

/// A rate: so many events per second (`--rate 100/s`, `--rate 600/min`,
/// `--token-rate 90000/min`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Events per second (more than 0).
    pub per_second: f64,
}

impl Rate {
    /// Parses `N/s`, `N/min` or `N/h` (`N` a positive number, decimals
    /// allowed; `/sec`, `/second`, `/m`, `/minute`, `/hour` too).
    ///
    /// # Errors
    /// A message naming the text and the accepted forms.
    ///
    /// ```
    /// use fanfold::Rate;
    /// assert_eq!(Rate::parse("100/s").unwrap().per_second, 100.0);
    /// assert_eq!(Rate::parse("600/min").unwrap().per_second, 10.0);
    /// assert!(Rate::parse("100").is_err());
    /// ```
    pub fn parse(text: &str) -> std::result::Result<Rate, String> {
        let bad = || format!("`{text}`: expected a rate such as 100/s, 600/min or 5000/h");
        let (n, unit) = text.trim().split_once('/').ok_or_else(bad)?;
        let n: f64 = n.trim().parse().map_err(|_| bad())?;
        let secs = match unit.trim() {
            "s" | "sec" | "second" => 1.0,
            "m" | "min" | "minute" => 60.0,
            "h" | "hour" => 3600.0,
            _ => return Err(bad()),
        };
        if !(n.is_finite() && n > 0.0) {
            return Err(format!("`{text}`: the rate must be more than 0"));
        }
        Ok(Rate { per_second: n / secs })
    }

    /// The time between two events at this rate (GCRA's emission
    /// interval), at least 1 ns.
    pub fn interval(self) -> Duration {
        Duration::from_secs_f64(1.0 / self.per_second).max(Duration::from_nanos(1))
    }

    /// The default burst: a twentieth of a second's worth, at least 1, so
    /// that no second sees more than 1.05 × the rate start.
    pub fn default_burst(self) -> u32 {
        ((self.per_second / 20.0).floor() as u32).max(1)
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.per_second >= 1.0 {
            write!(f, "{}/s", self.per_second)
        } else {
            write!(f, "{}/min", self.per_second * 60.0)
        }
    }
}

/// An `--http URL` step: every record that reaches it becomes one request
/// (by default a `POST` of the record as a JSON object), and the answer
/// replaces it, under the limits below.
///
/// The run's workers wait on the step's own client thread: run a pipeline
/// with this step from ordinary threads, or from async code through
/// `tokio::task::spawn_blocking`, not on a thread that is driving a tokio
/// runtime (tokio refuses a blocking send there).
///
/// ```
/// use fanfold::{HttpSpec, Rate};
/// let mut spec = HttpSpec::new("http://127.0.0.1:8080/classify")?;
/// spec.response = Some(".record + {label: .body.label}".into());
/// spec.headers.push("Authorization: Bearer $API_KEY".into());
/// spec.rate = Some(Rate::parse("100/s")?);
/// spec.retries = 3;
/// assert_eq!(spec.concurrency, 64);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSpec {
    /// The URL requests go to (unless `--http-request` gives one).
    pub url: String,
    /// `--http-request EXPR`: jq over the record giving the request body,
    /// or an object with `method`, `url`, `headers` and `body` (only those
    /// keys, at least one of them); no output skips the record. `None`:
    /// the record itself.
    pub request: Option<String>,
    /// `--http-response EXPR`: jq over `{record, status, headers, body}`
    /// (`body` parsed as JSON when it is JSON, else a string) giving the
    /// output records: objects, arrays of objects, `null` for none.
    /// `None`: the body itself (an object, an array of objects, or `null`).
    pub response: Option<String>,
    /// `--http-header 'Name: value'` templates as written, `$VAR` and
    /// `${VAR}` taken from the environment when the run starts. Their
    /// values are secrets: never shown, logged or fingerprinted.
    pub headers: Vec<String>,
    /// Requests in flight at most (at least 1).
    pub concurrency: usize,
    /// Requests started per second at most (GCRA), if any.
    pub rate: Option<Rate>,
    /// Requests that may start at once above the rate (default
    /// [`Rate::default_burst`]).
    pub burst: Option<u32>,
    /// Tokens per second at most (`--token-rate`), as `--tokens`
    /// estimates them, if any.
    pub token_rate: Option<Rate>,
    /// `--tokens EXPR`: jq over the request body giving its estimated
    /// tokens (a number). Needed with [`HttpSpec::token_rate`].
    pub tokens: Option<String>,
    /// Attempts after the first for a request that failed in a way worth
    /// retrying (a connection error, a timeout, 408, 429, 500, 502, 503,
    /// 504).
    pub retries: u32,
    /// Longest wait for one attempt's whole answer; `None`: no limit.
    pub timeout: Option<Duration>,
    /// Wait before the first retry (doubling for each later one, plus
    /// jitter of up to as much again), unless `Retry-After` says longer.
    pub retry_delay: Duration,
    /// Longest backoff between two attempts, before jitter.
    pub retry_max_delay: Duration,
    /// Requests per record (`--replicas`, at least 1; 2 or more needs
    /// [`HttpSpec::vote`]).
    pub replicas: usize,
    /// `--vote FIELD`, as for `--exec`: the value most replicas agree on.
    pub vote: Option<String>,
}

impl HttpSpec {
    /// The step for `url` with the defaults: the record as the body, the
    /// body as the answer, [`DEFAULT_HTTP_CONCURRENCY`] in flight, no
    /// rate limit, no retries, no timeout.
    ///
    /// # Errors
    /// [`ErrorKind::Setting`](crate::ErrorKind::Setting) naming `--http`
    /// when the URL is not `http://` or `https://`.
    pub fn new(url: &str) -> Result<HttpSpec> {
        check_url(url, Setting::Http)?;
        Ok(HttpSpec {
            url: url.to_string(),
            request: None,
            response: None,
            headers: Vec::new(),
            concurrency: DEFAULT_HTTP_CONCURRENCY,
            rate: None,
            burst: None,
            token_rate: None,
            tokens: None,
            retries: 0,
            timeout: None,
            retry_delay: DEFAULT_RETRY_DELAY,
            retry_max_delay: DEFAULT_RETRY_MAX_DELAY,
            replicas: 1,
            vote: None,
        })
    }

    /// The burst the rate limit allows.
    pub fn resolved_burst(&self) -> u32 {
        match (self.burst, self.rate) {
            (Some(b), _) => b.max(1),
            (None, Some(r)) => r.default_burst(),
            (None, None) => 1,
        }
    }

    /// Checks the settings that do not need the environment.
    ///
    /// # Errors
    /// [`ErrorKind::Setting`](crate::ErrorKind::Setting) naming
    /// `--concurrency`, `--replicas`, `--vote`, `--burst`, `--tokens` or
    /// `--token-rate`.
    pub(crate) fn check(&self) -> Result<()> {
        check_url(&self.url, Setting::Http)?;
        check_copies(self.concurrency, self.replicas, self.vote.as_ref())?;
        if self.burst.is_some() && self.rate.is_none() {
            return Err(Error::setting(Setting::Burst, msg!["needs ", Setting::Rate]));
        }
        match (&self.token_rate, &self.tokens) {
            (Some(_), None) => Err(Error::setting(
                Setting::TokenRate,
                msg!["needs ", Setting::Tokens, " EXPR: a request's tokens"],
            )),
            (None, Some(_)) => {
                Err(Error::setting(Setting::Tokens, msg!["needs ", Setting::TokenRate]))
            }
            _ => Ok(()),
        }
    }
}

/// Checks that `url` is an absolute `http://` or `https://` URL.
pub(crate) fn check_url(url: &str, setting: Setting) -> Result<()> {
    let lower = url.to_ascii_lowercase();
    let rest = lower.strip_prefix("http://").or_else(|| lower.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(()),
        _ => Err(Error::setting(
            setting,
            format!("`{}`: expected a URL starting with http:// or https://", shown_url(url)),
        )),
    }
}

/// The URL for messages: without its query string (which may hold a key)
/// and user info.
pub(crate) fn shown_url(url: &str) -> String {
    let no_query = url.split(['?', '#']).next().unwrap_or_default();
    match no_query.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = host.rsplit('@').next().unwrap_or(host);
            let cut = if no_query.len() < url.len() { "?…" } else { "" };
            format!("{scheme}://{host}{path}{cut}")
        }
        None => no_query.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(Rate::parse("100/s").unwrap().per_second, 100.0);
        assert_eq!(Rate::parse(" 90000/min ").unwrap().per_second, 1500.0);
        assert_eq!(Rate::parse("3600/h").unwrap().per_second, 1.0);
        assert_eq!(Rate::parse("100/s").unwrap().default_burst(), 5);
        assert_eq!(Rate::parse("10/min").unwrap().default_burst(), 1);
        assert!(Rate::parse("0/s").is_err());
        assert!(Rate::parse("5/day").unwrap_err().contains("100/s"));
        assert_eq!(Rate::parse("100/s").unwrap().interval(), Duration::from_millis(10));
    }

    #[test]
    fn urls() {
        assert!(check_url("http://127.0.0.1:8/x", Setting::Http).is_ok());
        assert!(check_url("HTTPS://api.example.com", Setting::Http).is_ok());
        assert!(check_url("ftp://x", Setting::Http).is_err());
        assert!(check_url("http:///x", Setting::Http).is_err());
        assert_eq!(
            shown_url("https://user:pw@api.example.com/v1/x?key=sk-1"),
            "https://api.example.com/v1/x?…"
        );
        assert_eq!(shown_url("http://h:1/a"), "http://h:1/a");
    }

    #[test]
    fn settings() {
        let mut s = HttpSpec::new("http://h/").unwrap();
        assert!(s.check().is_ok());
        s.burst = Some(3);
        assert!(s.check().is_err());
        s.rate = Some(Rate::parse("10/s").unwrap());
        assert!(s.check().is_ok());
        s.tokens = Some("1".into());
        assert!(s.check().is_err());
        s.token_rate = Some(Rate::parse("100/min").unwrap());
        assert!(s.check().is_ok());
    }
}
