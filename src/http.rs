//! HTTP with the retry rules Microsoft Graph and its login endpoint want.
//!
//! 429, 503 and 504 are retried, honouring `Retry-After` (seconds, decimals allowed, or an HTTP
//! date), else exponential backoff with jitter from [`RetryPolicy::base_delay`]. Transport
//! failures are retried for reads; a write is retried only when the connection failed before
//! the request was sent (the server can't have acted on it). Every request has a timeout, and
//! the whole exchange has a deadline. `-v` logs method, URL, status, time and request id —
//! never a header or a form, where tokens and secrets travel.

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};

use crate::output::Printer;
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
    /// No response: connection failure or timeout.
    Transport { message: String, attempts: u32 },
}

/// A client with a retry policy and a logger.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    pub policy: RetryPolicy,
    log: Printer,
    /// HTTP requests sent, retries included (shared by clones).
    sent: std::sync::Arc<std::sync::atomic::AtomicUsize>,
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

/// Parses a `Retry-After` value: seconds (decimals allowed) or an HTTP date.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
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
    pub fn new(policy: RetryPolicy, log: Printer, direct: bool) -> Self {
        let mut builder =
            reqwest::Client::builder().user_agent(concat!("ssprctl/", env!("CARGO_PKG_VERSION")));
        if direct {
            builder = builder.no_proxy();
        }
        let client = builder.build().expect("the HTTP client builds");
        Http {
            client,
            policy,
            log,
            sent: Default::default(),
        }
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
    /// acted on them.
    pub async fn send(
        &self,
        method: Method,
        url: &Url,
        bearer: Option<&Secret>,
        headers: &[(&str, &str)],
        body: Body<'_>,
        write: bool,
    ) -> Result<Response, Failure> {
        let start = Instant::now();
        let deadline = start + self.policy.total;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
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
            req = match &body {
                Body::None => req,
                Body::Json(v) => req.json(v),
                Body::Form(f) => req.form(f),
            };
            let t = Instant::now();
            self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let sent = req.send().await;
            let result = match sent {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    match resp.bytes().await {
                        Ok(b) => Ok(Response {
                            status,
                            headers,
                            body: b.to_vec(),
                        }),
                        Err(e) => Err((e, true)),
                    }
                }
                Err(e) => Err((e, false)),
            };
            let elapsed = t.elapsed();
            let delay = match result {
                Ok(resp) => {
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
                    if !retryable(resp.status) {
                        return Ok(resp);
                    }
                    let delay = retry_after(&resp.headers).unwrap_or_else(|| self.backoff(attempt));
                    if attempt > self.policy.max_retries || Instant::now() + delay > deadline {
                        return Err(Failure::Exhausted {
                            last: resp,
                            attempts: attempt,
                        });
                    }
                    delay
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
                        || Instant::now() + delay >= deadline
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
        let http = Http::new(
            RetryPolicy::default(),
            Printer {
                format: crate::cli::Format::Json,
                quiet: true,
                verbose: 0,
            },
            true,
        );
        for attempt in 1..=4 {
            let full = 3.0 * f64::from(1u32 << (attempt - 1));
            let d = http.backoff(attempt).as_secs_f64();
            assert!(d >= full / 2.0 && d <= full, "attempt {attempt}: {d}");
        }
    }
}
