//! HTTP with the retry rules Microsoft Graph and its login endpoint want.
//!
//! 429, 503 and 504 are retried, honouring `Retry-After` (seconds, decimals allowed, or an HTTP
//! date), else exponential backoff with jitter from [`RetryPolicy::base_delay`]. Transport
//! failures are retried for reads; a write is retried only when the connection failed before
//! the request was sent (the server can't have acted on it), and a [`Replay::Unsafe`] write (a
//! POST that creates something) is not replayed after a 503/504 either: its caller re-reads the
//! state and continues from it. Every request has a timeout, the whole exchange has a deadline,
//! and a read command's whole run has one too ([`Http::with_run_deadline`]). `-v` logs method,
//! URL, status, time and request id — never a header or a form, where tokens and secrets travel.
//!
//! What a server can make the tool do is bounded: no redirect is ever followed (a 3xx is an
//! error naming the status and target, so a form or a token can't be re-sent elsewhere), a body
//! over [`MAX_BODY`] is refused, and a `Retry-After` longer than what is left of the time budget
//! stops at once, naming the wait — no server number can overflow a clock or panic.

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};

use crate::diag::Log;
use crate::secret::Secret;

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt (Microsoft's SDKs default to 3).
    pub max_retries: u32,
    /// Deadline for a request and all its retries.
    pub total: Duration,
    /// Timeout of one attempt.
    pub per_request: Duration,
    /// First backoff delay when the server gives no `Retry-After`; doubles each retry.
    pub base_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            total: Duration::from_secs(180),
            per_request: Duration::from_secs(30),
            base_delay: Duration::from_secs(3),
        }
    }
}

/// Largest response body read (64 MiB): more is an error, never an allocation.
pub const MAX_BODY: usize = 64 << 20;

/// Longest wait a `Retry-After` can ask for; longer values are capped to this (and then stop
/// the run, being beyond any time budget `--timeout` allows).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);

/// Whether a request may be sent again after a 503/504 answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Reads, and writes that set a state (PATCH, DELETE, a token request): sending twice is
    /// the same as once.
    Safe,
    /// A POST that creates something: a 503/504 or a timeout may hide a success, so it is not
    /// replayed; the caller re-reads and decides.
    Unsafe,
}

/// A request body.
pub enum Body<'a> {
    None,
    Json(&'a serde_json::Value),
    /// A form; its values are never logged.
    Form(&'a [(&'a str, &'a str)]),
}

/// A response, read whole.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    pub fn request_id(&self) -> Option<String> {
        ["request-id", "client-request-id", "x-ms-request-id"]
            .iter()
            .find_map(|h| self.headers.get(*h))
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Why a request gave up.
#[derive(Debug)]
pub enum Failure {
    /// Still throttled or unavailable after every retry; the last response.
    Exhausted { last: Response, attempts: u32 },
    /// The server asked for a wait longer than the time left; the last response.
    WaitTooLong {
        last: Response,
        wait: Duration,
        left: Duration,
    },
    /// No response: connection failure or timeout.
    Transport { message: String, attempts: u32 },
    /// The server answered with a redirect, which is never followed.
    Redirect { status: u16, location: String },
    /// The answer was larger than [`MAX_BODY`].
    TooLarge { status: u16 },
}

impl Failure {
    /// True for failures worth retrying later (the service was busy or unreachable).
    pub fn unavailable(&self) -> bool {
        matches!(
            self,
            Failure::Exhausted { .. } | Failure::WaitTooLong { .. } | Failure::Transport { .. }
        )
    }

    /// What went wrong, in words, for `what` (e.g. "Microsoft Graph GET /v1.0/users").
    pub fn describe(&self, what: &str) -> String {
        match self {
            Failure::Exhausted { last, attempts } => format!(
                "{what}: still HTTP {} after {attempts} attempts",
                last.status.as_u16()
            ),
            Failure::WaitTooLong { last, wait, left } => format!(
                "{what}: HTTP {} asked to wait {} before retrying, more than the {} left of --timeout",
                last.status.as_u16(),
                show_wait(*wait),
                show_wait(*left)
            ),
            Failure::Transport { message, attempts } => {
                format!("{what}: {message} ({attempts} attempts)")
            }
            Failure::Redirect { status, location } => format!(
                "{what}: the server answered with a redirect (HTTP {status} to {}), which ssprctl never follows",
                crate::text::sanitize(location)
            ),
            Failure::TooLarge { status } => format!(
                "{what}: the answer (HTTP {status}) is larger than {} MiB; refused",
                MAX_BODY >> 20
            ),
        }
    }
}

/// What kind of failure a remote service reported; decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    /// Invalid request or usage (exit 2).
    Usage,
    /// The operation failed (exit 1).
    Failed,
    /// Authentication or permission (exit 4).
    Auth,
    /// Unavailable after retries (exit 5).
    Unavailable,
}

/// A failure from Microsoft Graph or the login endpoint, with what the user needs to act on
/// it: the server's error code and message, and the request id for Microsoft support.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    pub kind: ServiceKind,
    /// HTTP status, when there was a response.
    pub status: Option<u16>,
    /// The server's error code (`Request_ResourceNotFound`, `invalid_client`, …).
    pub code: Option<String>,
    /// The whole message shown after `error:`.
    pub message: String,
    pub request_id: Option<String>,
    pub hint: Option<String>,
}

/// Turns a failed exchange into an error naming `what`: unavailable (exit 5) when the service
/// was busy or unreachable; a failure (exit 1) for a redirect or an oversized answer.
pub fn service_error(what: &str, failure: Failure) -> ServiceError {
    let message = failure.describe(what);
    let (kind, hint) = if failure.unavailable() {
        (
            ServiceKind::Unavailable,
            "try again later; raise --timeout or --max-retries for slow or busy services",
        )
    } else if matches!(failure, Failure::TooLarge { .. }) {
        (
            ServiceKind::Failed,
            "Microsoft's endpoints never answer these calls at that size: check that --graph-url and --authority-host point at them",
        )
    } else {
        (
            ServiceKind::Failed,
            "check --graph-url and --authority-host: Microsoft's endpoints don't redirect these calls",
        )
    };
    let (status, request_id) = match &failure {
        Failure::Exhausted { last, .. } | Failure::WaitTooLong { last, .. } => {
            (Some(last.status.as_u16()), last.request_id())
        }
        Failure::Redirect { status, .. } | Failure::TooLarge { status } => (Some(*status), None),
        Failure::Transport { .. } => (None, None),
    };
    ServiceError {
        kind,
        status,
        code: None,
        message,
        request_id,
        hint: Some(hint.into()),
    }
}

/// A wait in words: seconds, or "over 24 h" for a capped one.
pub fn show_wait(d: Duration) -> String {
    if d >= MAX_RETRY_AFTER {
        "over 24 h".into()
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// What one answer means for an exchange.
enum Verdict {
    /// The answer to return (success or an error the caller explains).
    Final(Response),
    /// Throttled or unavailable: try again after this wait.
    Retry(Duration),
    /// Throttled or unavailable to the end.
    Stop(Failure),
}

/// A client with a retry policy and a logger.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    pub policy: RetryPolicy,
    log: Log,
    /// HTTP requests sent, retries included (shared by clones).
    sent: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// When set, no request runs past this instant (a read command's whole `--timeout`).
    run_deadline: Option<Instant>,
}

fn jitter_fraction() -> f64 {
    let r = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (r % 1_000_000) as f64 / 1_000_000.0
}

/// Parses the `Retry-After` header.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    parse_retry_after(headers.get(RETRY_AFTER)?.to_str().ok()?)
}

/// Parses a `Retry-After` value: seconds (decimals allowed) or an HTTP date, capped at
/// [`MAX_RETRY_AFTER`] (so `1e20` is a long wait, not an overflow).
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<f64>() {
        if secs.is_nan() || secs < 0.0 {
            return None;
        }
        return Some(
            Duration::try_from_secs_f64(secs)
                .unwrap_or(MAX_RETRY_AFTER)
                .min(MAX_RETRY_AFTER),
        );
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

/// Reads a body of at most [`MAX_BODY`] bytes; `Ok(None)` when it is larger.
async fn read_body(resp: &mut reqwest::Response) -> Result<Option<Vec<u8>>, reqwest::Error> {
    if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > MAX_BODY {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

fn retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 503 | 504)
}

/// Removes the query string for logs only when asked; URLs here carry no secrets.
fn show(url: &Url) -> String {
    url.as_str().to_string()
}

impl Http {
    /// A client; `direct` skips the proxies named by `HTTPS_PROXY` and the like (used when
    /// every endpoint is on this machine, where a proxy can only get in the way).
    pub fn new(policy: RetryPolicy, log: impl Into<Log>, direct: bool) -> Self {
        // Never follow a redirect: it would re-send a form (a client secret) or a bearer token
        // to wherever the server points.
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("ssprctl/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none());
        if direct {
            builder = builder.no_proxy();
        }
        let client = builder.build().expect("the HTTP client builds");
        Http {
            client,
            policy,
            log: log.into(),
            sent: Default::default(),
            run_deadline: None,
        }
    }

    /// The same client, with no request running past `deadline` (retries and paging included).
    pub fn with_run_deadline(mut self, deadline: Instant) -> Self {
        self.run_deadline = Some(deadline);
        self
    }

    /// A log line at `-v` (1) or `-vv` (2).
    pub fn log(&self, level: u8, msg: &str) {
        self.log.log(level, msg);
    }

    /// HTTP requests sent so far by this client and its clones, retries included.
    pub fn requests(&self) -> usize {
        self.sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sends with retries. `write` requests are retried only when the server can't have
    /// acted on them; [`Replay::Unsafe`] ones are not replayed after a 503/504 either.
    #[allow(clippy::too_many_arguments)]
    pub async fn send(
        &self,
        method: Method,
        url: &Url,
        bearer: Option<&Secret>,
        headers: &[(&str, &str)],
        body: Body<'_>,
        write: bool,
        replay: Replay,
    ) -> Result<Response, Failure> {
        let deadline = self.deadline();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(Failure::Transport {
                    message: format!(
                        "timed out: the --timeout of {:.1} s is used up",
                        self.policy.total.as_secs_f64()
                    ),
                    attempts: attempt - 1,
                });
            }
            let req = self.request(&method, url, bearer, headers, &body, remaining);
            let t = Instant::now();
            let exchanged = self.exchange(req, &method, url).await?;
            let elapsed = t.elapsed();
            let delay = match exchanged {
                Ok(resp) => {
                    self.log_response(&method, url, &resp, elapsed);
                    match self.retry_response(resp, attempt, deadline, replay) {
                        Verdict::Final(resp) => return Ok(resp),
                        Verdict::Stop(failure) => return Err(failure),
                        Verdict::Retry(delay) => delay,
                    }
                }
                Err((e, got_response)) => {
                    let message = describe(&e);
                    self.log.log(
                        1,
                        &format!(
                            "{method} {} → {message} after {} ms",
                            show(url),
                            elapsed.as_millis()
                        ),
                    );
                    // A write may have reached the server unless the connection never opened.
                    let safe = !write || (e.is_connect() && !got_response);
                    let delay = self.backoff(attempt);
                    if !safe
                        || attempt > self.policy.max_retries
                        || delay >= deadline.saturating_duration_since(Instant::now())
                    {
                        return Err(Failure::Transport {
                            message,
                            attempts: attempt,
                        });
                    }
                    delay
                }
            };
            self.log.log(
                1,
                &format!(
                    "retrying in {:.2} s (attempt {} of {})",
                    delay.as_secs_f64(),
                    attempt + 1,
                    self.policy.max_retries + 1
                ),
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// When the exchange that starts now must end: `--timeout` from now, or the run's
    /// deadline if that comes first.
    fn deadline(&self) -> Instant {
        let start = Instant::now();
        let own = start
            .checked_add(self.policy.total)
            .unwrap_or(start + MAX_RETRY_AFTER);
        self.run_deadline.map_or(own, |d| d.min(own))
    }

    /// One attempt's request, with at most `remaining` to run.
    fn request(
        &self,
        method: &Method,
        url: &Url,
        bearer: Option<&Secret>,
        headers: &[(&str, &str)],
        body: &Body<'_>,
        remaining: Duration,
    ) -> reqwest::RequestBuilder {
        let mut req = self
            .client
            .request(method.clone(), url.clone())
            .timeout(self.policy.per_request.min(remaining));
        if let Some(token) = bearer {
            req = req.bearer_auth(token.expose());
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        match body {
            Body::None => req,
            Body::Json(v) => req.json(v),
            Body::Form(f) => req.form(f),
        }
    }

    /// Sends one attempt and reads its answer whole. A redirect or an oversized body ends the
    /// exchange (`Err`); a transport error is handed back with whether a response had begun.
    async fn exchange(
        &self,
        req: reqwest::RequestBuilder,
        method: &Method,
        url: &Url,
    ) -> Result<Result<Response, (reqwest::Error, bool)>, Failure> {
        self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut resp = match req.send().await {
            Ok(resp) => resp,
            Err(e) => return Ok(Err((e, false))),
        };
        let status = resp.status();
        if status.is_redirection() {
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_else(|| "(no Location)".into());
            self.log.log(
                1,
                &format!(
                    "{method} {} → {} (not followed)",
                    show(url),
                    status.as_u16()
                ),
            );
            return Err(Failure::Redirect {
                status: status.as_u16(),
                location,
            });
        }
        let headers = resp.headers().clone();
        match read_body(&mut resp).await {
            Ok(Some(body)) => Ok(Ok(Response {
                status,
                headers,
                body,
            })),
            Ok(None) => Err(Failure::TooLarge {
                status: status.as_u16(),
            }),
            Err(e) => Ok(Err((e, true))),
        }
    }

    /// The `-v` line of an answer, and `-vv`'s throttle headroom.
    fn log_response(&self, method: &Method, url: &Url, resp: &Response, elapsed: Duration) {
        self.log.log(
            1,
            &format!(
                "{method} {} → {} in {} ms (request-id {})",
                show(url),
                resp.status.as_u16(),
                elapsed.as_millis(),
                resp.request_id().as_deref().unwrap_or("none")
            ),
        );
        if let Some(p) = resp.headers.get("x-ms-throttle-limit-percentage") {
            self.log.log(2, &format!("throttle limit percentage {p:?}"));
        }
    }

    /// What an answer means for the exchange.
    fn retry_response(
        &self,
        resp: Response,
        attempt: u32,
        deadline: Instant,
        replay: Replay,
    ) -> Verdict {
        if !retryable(resp.status) {
            return Verdict::Final(resp);
        }
        // A 503/504 may hide a success: an unsafe write is not sent twice.
        if replay == Replay::Unsafe && resp.status != StatusCode::TOO_MANY_REQUESTS {
            return Verdict::Stop(Failure::Exhausted {
                last: resp,
                attempts: attempt,
            });
        }
        let asked = retry_after(&resp.headers);
        let delay = asked.unwrap_or_else(|| self.backoff(attempt));
        let left = deadline.saturating_duration_since(Instant::now());
        if asked.is_some() && delay > left && attempt <= self.policy.max_retries {
            return Verdict::Stop(Failure::WaitTooLong {
                last: resp,
                wait: delay,
                left,
            });
        }
        if attempt > self.policy.max_retries || delay > left {
            return Verdict::Stop(Failure::Exhausted {
                last: resp,
                attempts: attempt,
            });
        }
        Verdict::Retry(delay)
    }

    /// Exponential backoff with jitter: between half and all of `base × 2^(attempt-1)`.
    fn backoff(&self, attempt: u32) -> Duration {
        let full = self
            .policy
            .base_delay
            .saturating_mul(1 << attempt.saturating_sub(1).min(16))
            .min(Duration::from_secs(180));
        full.mul_f64(0.5 + 0.5 * jitter_fraction())
    }
}

/// A transport error in words, without the URL (callers add it) or any header.
fn describe(e: &reqwest::Error) -> String {
    use std::error::Error;
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "connection failed"
    };
    let mut source = e.source();
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        what.to_string()
    } else {
        format!("{what} ({detail})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("2.128"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs_f64(2.128)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let future = SystemTime::now() + Duration::from_secs(30);
        let date = httpdate::fmt_http_date(future);
        h.insert(RETRY_AFTER, HeaderValue::from_str(&date).unwrap());
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("-1"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn backoff_doubles_with_jitter() {
        let http = Http::new(RetryPolicy::default(), Log::silent(), true);
        for attempt in 1..=4 {
            let full = 3.0 * f64::from(1u32 << (attempt - 1));
            let d = http.backoff(attempt).as_secs_f64();
            assert!(d >= full / 2.0 && d <= full, "attempt {attempt}: {d}");
        }
    }
}
