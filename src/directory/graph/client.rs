//! Authenticated Graph requests and the mapping of Graph's errors to what a user can act on:
//! every error keeps Graph's `code`, `message` and `request-id`.
//!
//! The bearer token goes to the Graph origin in use and nowhere else: a URL the server hands
//! back (`@odata.nextLink`) is used only when its scheme, host and port are that origin's
//! ([`GraphClient::same_origin`]). A 401 renews the token once and sends the same request again.

use std::sync::Arc;

use reqwest::{Method, Url};
use serde_json::Value;

use super::pace::Pacer;
use crate::auth::TokenSource;
use crate::auth::endpoints::Endpoints;
use crate::diag::Log;
use crate::directory::{DirectoryError, ServiceError, ServiceKind};
use crate::http::{Body, Failure, Http, Replay};

/// Graph's error body: `{"error":{"code","message","innerError":{"request-id"}}}`.
#[derive(Debug, Clone, Default)]
pub struct GraphErrorBody {
    pub code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
}

fn parse_error(body: &[u8]) -> GraphErrorBody {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    parse_error_value(&v)
}

fn parse_error_value(v: &Value) -> GraphErrorBody {
    let e = &v["error"];
    let s = |v: &Value| v.as_str().map(str::to_string);
    GraphErrorBody {
        code: s(&e["code"]),
        message: s(&e["message"]),
        request_id: s(&e["innerError"]["request-id"]).or_else(|| s(&e["innererror"]["request-id"])),
    }
}

/// What a request is for, so a 403 can name the permission it needs.
#[derive(Debug, Clone, Copy)]
pub struct Purpose {
    pub permission: &'static str,
    /// A write of an authentication method (a delegated admin can't change their own).
    pub auth_method_write: bool,
}

/// A successful answer.
#[derive(Debug)]
pub struct GraphResponse {
    pub status: u16,
    pub body: Option<Value>,
}

/// Graph at one base URL, with tokens from one source.
#[derive(Clone)]
pub struct GraphClient {
    pub http: Http,
    pub base: Url,
    pub tokens: Arc<TokenSource>,
    /// Paces writes at the tenant's write quota (shared by every request of the run).
    pub pacer: Arc<Pacer>,
}

/// Write items a request carries, for the pacer: a `$batch` was admitted by its sender item by
/// item; a single write is admitted by [`GraphClient::send_with_headers`].
fn writes_carried(method: &Method, is_batch: bool, body: Option<&Value>) -> usize {
    if is_batch {
        body.and_then(|b| b["requests"].as_array()).map_or(0, |r| {
            r.iter()
                .filter(|i| i["method"].as_str() != Some("GET"))
                .count()
        })
    } else {
        usize::from(*method != Method::GET)
    }
}

impl GraphClient {
    pub fn new(
        http: Http,
        graph_host: &Url,
        tokens: Arc<TokenSource>,
        log: impl Into<Log>,
    ) -> Self {
        GraphClient {
            http,
            base: Endpoints::join(graph_host, &["v1.0"]),
            tokens,
            pacer: Arc::new(Pacer::new(log)),
        }
    }

    /// `{graph}/v1.0/{segments}`.
    pub fn url(&self, segments: &[&str]) -> Url {
        Endpoints::join(&self.base, segments)
    }

    /// The next page of a list whose page `url` answered `body`: `None` at the end. The link
    /// must point at the Graph origin in use and at a page not read yet (`fetched`, at most
    /// [`super::MAX_PAGES`]), so a server can't send the token elsewhere or loop the list.
    pub fn next_page(
        &self,
        body: &Value,
        url: &Url,
        fetched: &mut std::collections::HashSet<String>,
    ) -> Result<Option<Url>, DirectoryError> {
        fetched.insert(url.as_str().to_string());
        let next = match &body["@odata.nextLink"] {
            Value::Null => return Ok(None),
            Value::String(next) => self.same_origin(next, "a next page link")?,
            _ => {
                return Err(malformed(
                    &Method::GET,
                    url,
                    "@odata.nextLink is not a string",
                    None,
                ));
            }
        };
        if fetched.contains(next.as_str()) {
            return Err(malformed(
                &Method::GET,
                url,
                "its next page link repeats a page already read (the list would never end)",
                None,
            ));
        }
        if fetched.len() >= super::MAX_PAGES {
            return Err(malformed(
                &Method::GET,
                url,
                &format!(
                    "the list goes on past {} pages, the most ssprctl reads of one list",
                    super::MAX_PAGES
                ),
                None,
            ));
        }
        Ok(Some(next))
    }

    /// A URL the server handed back, if it points at the Graph origin in use (same scheme,
    /// host and port); anything else is refused before any request is sent.
    pub fn same_origin(&self, raw: &str, what: &str) -> Result<Url, DirectoryError> {
        let refuse = |why: String| {
            DirectoryError::Service(ServiceError {
                kind: ServiceKind::Failed,
                status: None,
                code: None,
                message: format!("Microsoft Graph sent {what} {why}; nothing was sent there"),
                request_id: None,
                hint: Some(
                    "the access token only goes to the Graph host in use (--graph-url / --cloud); \
                 report this answer to whoever runs that endpoint"
                        .into(),
                ),
            })
        };
        let url = Url::parse(raw).map_err(|e| {
            refuse(format!(
                "that is not a URL ({e}): \"{}\"",
                crate::text::sanitize(&raw.chars().take(200).collect::<String>())
            ))
        })?;
        if url.origin() != self.base.origin() {
            let host = format!(
                "{}://{}{}",
                url.scheme(),
                url.host_str().unwrap_or("(no host)"),
                url.port().map_or(String::new(), |p| format!(":{p}"))
            );
            return Err(refuse(format!(
                "pointing at another host, {}",
                crate::text::sanitize(&host)
            )));
        }
        Ok(url)
    }

    pub async fn send(
        &self,
        method: Method,
        url: &Url,
        body: Option<&Value>,
        purpose: Purpose,
    ) -> Result<GraphResponse, DirectoryError> {
        self.send_with_headers(method, url, &[], body, purpose)
            .await
    }

    pub async fn send_with_headers(
        &self,
        method: Method,
        url: &Url,
        headers: &[(&str, &str)],
        body: Option<&Value>,
        purpose: Purpose,
    ) -> Result<GraphResponse, DirectoryError> {
        let write = method != Method::GET;
        let is_batch = url.path().ends_with("/$batch");
        // A POST creates something, unless it is a `$batch` (of reads and PATCHes).
        let replay = if method == Method::POST && !is_batch {
            Replay::Unsafe
        } else {
            Replay::Safe
        };
        let writes = writes_carried(&method, is_batch, body);
        if write && !is_batch {
            self.pacer.one().await;
        }
        let mut token = self.tokens.token().await?;
        let mut renewed = false;
        let resp = loop {
            let json = body.map_or(Body::None, Body::Json);
            let sent = self
                .http
                .send(
                    method.clone(),
                    url,
                    Some(&token),
                    headers,
                    json,
                    write,
                    replay,
                )
                .await;
            let resp = match sent {
                Ok(r) => r,
                Err(f) => {
                    self.pacer.answered(writes, None);
                    return Err(self.failure(&method, url, f));
                }
            };
            let percentage = resp
                .headers
                .get("x-ms-throttle-limit-percentage")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok());
            self.pacer.answered(writes, percentage);
            if resp.status.as_u16() == 429 && writes > 0 {
                let wait = crate::http::retry_after(&resp.headers).unwrap_or(super::pace::PROBE);
                self.pacer.throttled(std::time::Instant::now(), wait);
            }
            if resp.status.as_u16() == 401 && !renewed {
                renewed = true;
                if let Some(t) = self.tokens.renew(&token).await? {
                    token = t;
                    continue;
                }
            }
            break resp;
        };
        self.answer(&method, url, resp, purpose)
    }

    /// A final answer as what the caller wants: its JSON, or the error it stands for.
    fn answer(
        &self,
        method: &Method,
        url: &Url,
        resp: crate::http::Response,
        purpose: Purpose,
    ) -> Result<GraphResponse, DirectoryError> {
        let status = resp.status.as_u16();
        if resp.status.is_success() {
            if resp.body.is_empty() {
                return Ok(GraphResponse { status, body: None });
            }
            return match serde_json::from_slice(&resp.body) {
                Ok(v) => Ok(GraphResponse {
                    status,
                    body: Some(v),
                }),
                Err(e) => Err(malformed(
                    method,
                    url,
                    &format!("its body is not JSON ({e})"),
                    resp.request_id(),
                )),
            };
        }
        if status == 401 && self.tokens.passthrough() {
            // A token that can't be renewed and was refused: say when it expired, if it says.
            if let Some(at) = self.tokens.passthrough_expiry()
                && at <= std::time::SystemTime::now()
            {
                return Err(DirectoryError::TokenExpired {
                    at: crate::auth::claims::show_time(at),
                });
            }
        }
        Err(self.error_for(method, url, status, &resp.body, resp.request_id(), purpose))
    }

    /// A request that got no usable answer.
    fn failure(&self, method: &Method, url: &Url, f: Failure) -> DirectoryError {
        match f {
            Failure::Exhausted { last, attempts } => {
                let e = parse_error(&last.body);
                DirectoryError::Service(ServiceError {
                    kind: ServiceKind::Unavailable,
                    status: Some(last.status.as_u16()),
                    message: format!(
                        "Microsoft Graph still answered {method} {} with HTTP {} after {attempts} attempts{}",
                        url.path(),
                        last.status.as_u16(),
                        describe(&e, last.request_id())
                    ),
                    code: e.code,
                    request_id: e.request_id.or_else(|| last.request_id()),
                    hint: Some(
                        if *method == Method::POST && !url.path().ends_with("/$batch") {
                            "the change may or may not have been made: check with get-auth-details before retrying".into()
                        } else {
                            "Graph is throttling or unavailable: try again later, or raise --max-retries / --timeout".into()
                        },
                    ),
                })
            }
            Failure::Transport { message, attempts } => {
                transport_error(method, url.path(), &message, attempts)
            }
            other => {
                let what = format!("Microsoft Graph {method} {}", url.path());
                let mut e = DirectoryError::Service(crate::http::service_error(&what, other));
                if let DirectoryError::Service(s) = &mut e
                    && s.kind == ServiceKind::Unavailable
                {
                    s.hint = Some("Graph asked for a longer wait than --timeout leaves: try again later, or raise --timeout".into());
                }
                e
            }
        }
    }

    /// Maps a Graph error answer (a whole response or one `$batch` item) to what the user
    /// can act on.
    pub fn error_for(
        &self,
        method: &Method,
        url: &Url,
        status: u16,
        body: &[u8],
        header_request_id: Option<String>,
        purpose: Purpose,
    ) -> DirectoryError {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let e = parsed.as_ref().map(parse_error_value).unwrap_or_default();
        let request_id = e.request_id.clone().or(header_request_id);
        let detail = describe(&e, request_id.clone());
        let self_service = purpose.auth_method_write
            && self
                .tokens
                .caller()
                .is_some_and(|me| user_from_path(url).eq_ignore_ascii_case(&me));
        let (kind, hint) = match status {
            _ if self_service && matches!(status, 400 | 403) => (
                ServiceKind::Auth,
                "self-service operations are not supported: an admin can't add or change their own \
                 phone or email authentication methods through Graph; sign in as another admin, or \
                 register your own methods at https://aka.ms/mysecurityinfo"
                    .to_string(),
            ),
            401 => (
                ServiceKind::Auth,
                "the access token was rejected or has expired: refresh SSPRCTL_ACCESS_TOKEN, \
                 check the AZURE_* credentials, or run `ssprctl login` again"
                    .to_string(),
            ),
            403 => (
                ServiceKind::Auth,
                format!(
                    "the caller needs the Microsoft Graph permission {} (admin-consented); when the \
                     target user holds an admin role the caller also needs a role allowed to act on \
                     that role (Privileged Authentication Administrator for any admin)",
                    purpose.permission
                ),
            ),
            // Only a 404 on the user resource itself means the user doesn't exist.
            404 if is_user_resource(url) => return DirectoryError::NotFound(user_from_path(url)),
            500..=599 if parsed.is_none() => (
                ServiceKind::Unavailable,
                "Graph answered with a server error and no error body: try again later".to_string(),
            ),
            400 | 409 | 422 => (
                ServiceKind::Failed,
                "Graph refused the request; the message above says why".to_string(),
            ),
            429 | 502..=504 => (
                ServiceKind::Unavailable,
                "Graph is throttling or unavailable: try again later".to_string(),
            ),
            _ => (
                ServiceKind::Failed,
                "Graph could not complete the request; quote the request-id to Microsoft support"
                    .to_string(),
            ),
        };
        DirectoryError::Service(ServiceError {
            kind,
            status: Some(status),
            message: format!(
                "Microsoft Graph refused {method} {} with HTTP {status}{detail}",
                url.path()
            ),
            code: e.code,
            request_id,
            hint: Some(hint),
        })
    }

    /// The part of a Graph URL after `/v1.0`, as `$batch` items name it.
    pub fn relative(&self, url: &Url) -> String {
        let base = self.base.as_str().trim_end_matches('/');
        url.as_str()
            .strip_prefix(base)
            .unwrap_or(url.path())
            .to_string()
    }
}

/// True for `/v1.0/users/{user}` (or `/users('{user}')`) with nothing after it.
fn is_user_resource(url: &Url) -> bool {
    let segs: Vec<&str> = url
        .path_segments()
        .map(Iterator::collect)
        .unwrap_or_default();
    match segs.iter().position(|s| *s == "users") {
        Some(i) => segs.len() == i + 2,
        None => segs.last().is_some_and(|s| s.starts_with("users('")),
    }
}

/// An answer ssprctl can't read: names the request and what was wrong (exit 1).
pub fn malformed(
    method: &Method,
    url: &Url,
    what: &str,
    request_id: Option<String>,
) -> DirectoryError {
    DirectoryError::Service(ServiceError {
        kind: ServiceKind::Failed,
        status: None,
        code: None,
        message: format!(
            "Microsoft Graph's answer to {method} {} can't be used: {}",
            url.path(),
            crate::text::sanitize(what)
        ),
        request_id,
        hint: Some("check --graph-url points at Microsoft Graph; run the command again".into()),
    })
}

/// No answer: a connection failure or a timeout.
pub fn transport_error(
    method: &Method,
    path: &str,
    message: &str,
    attempts: u32,
) -> DirectoryError {
    let hint = if *method != Method::GET {
        "the change may or may not have been made: check with get-user / get-auth-details before retrying"
    } else {
        "check the network and --graph-url; raise --timeout for slow links"
    };
    DirectoryError::Service(ServiceError {
        kind: ServiceKind::Unavailable,
        status: None,
        code: None,
        message: format!("Microsoft Graph {method} {path}: {message} ({attempts} attempts)"),
        request_id: None,
        hint: Some(hint.into()),
    })
}

/// `: Code: message (request-id X)`
fn describe(e: &GraphErrorBody, request_id: Option<String>) -> String {
    let mut s = String::new();
    if let Some(c) = &e.code {
        s.push_str(&format!(": {c}"));
    }
    if let Some(m) = &e.message {
        s.push_str(&format!(": {m}"));
    }
    if let Some(r) = request_id {
        s.push_str(&format!(" (request-id {r})"));
    }
    s
}

/// The user named in a `/users/{user}/…` URL, for "not found" messages.
fn user_from_path(url: &Url) -> String {
    let segs: Vec<String> = url
        .path_segments()
        .map(|s| s.map(percent_decode).collect())
        .unwrap_or_default();
    let user = segs
        .iter()
        .position(|s| s == "users")
        .and_then(|i| segs.get(i + 1).cloned())
        .or_else(|| {
            segs.iter().find(|s| s.starts_with("users('")).map(|s| {
                s.trim_start_matches("users('")
                    .trim_end_matches("')")
                    .replace("''", "'")
            })
        });
    user.unwrap_or_else(|| url.path().to_string())
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_fields() {
        let e = parse_error(br#"{"error":{"code":"Request_ResourceNotFound","message":"Resource 'x' does not exist","innerError":{"request-id":"abc","date":"d"}}}"#);
        assert_eq!(e.code.as_deref(), Some("Request_ResourceNotFound"));
        assert_eq!(e.request_id.as_deref(), Some("abc"));
        assert_eq!(
            describe(&e, e.request_id.clone()),
            ": Request_ResourceNotFound: Resource 'x' does not exist (request-id abc)"
        );
    }

    #[test]
    fn only_the_user_resource_itself_is_a_user() {
        let u = |p: &str| Url::parse(&format!("https://g/v1.0/{p}")).unwrap();
        assert!(is_user_resource(&u("users/kim@c.com")));
        assert!(is_user_resource(&u("users('$kim@c.com')")));
        assert!(!is_user_resource(&u(
            "users/kim@c.com/authentication/phoneMethods/x"
        )));
        assert!(!is_user_resource(&u(
            "users('$kim@c.com')/authentication/emailMethods"
        )));
    }

    #[test]
    fn user_is_read_back_from_paths() {
        let u =
            Url::parse("https://g/v1.0/users/kim_f.com%23EXT%23@c.com/authentication/phoneMethods")
                .unwrap();
        assert_eq!(user_from_path(&u), "kim_f.com#EXT#@c.com");
        let u = Url::parse("https://g/v1.0/users('$kim@c.com')").unwrap();
        assert_eq!(user_from_path(&u), "$kim@c.com");
    }

    fn client() -> GraphClient {
        let http = Http::new(
            crate::http::RetryPolicy::default(),
            crate::diag::Log::silent(),
            true,
        );
        let tokens = TokenSource::fixed(
            crate::secret::Secret::new("t"),
            http.clone(),
            crate::diag::Log::silent(),
        );
        let graph = Url::parse("https://graph.microsoft.com").unwrap();
        GraphClient::new(http, &graph, Arc::new(tokens), crate::diag::Log::silent())
    }

    #[test]
    fn a_repeated_page_and_the_page_cap_are_told_apart() {
        let c = client();
        let page = |n: usize| {
            Url::parse(&format!("https://graph.microsoft.com/v1.0/users?p={n}")).unwrap()
        };
        let mut fetched = std::collections::HashSet::new();
        let body = |n: usize| serde_json::json!({"@odata.nextLink": page(n).as_str()});
        assert_eq!(
            c.next_page(&body(2), &page(1), &mut fetched).unwrap(),
            Some(page(2))
        );
        let e = c.next_page(&body(1), &page(2), &mut fetched).unwrap_err();
        assert!(e.to_string().contains("repeats a page already read"), "{e}");
        let mut fetched: std::collections::HashSet<String> = (0..super::super::MAX_PAGES - 1)
            .map(|n| page(n).to_string())
            .collect();
        let last = super::super::MAX_PAGES;
        let e = c
            .next_page(&body(last + 1), &page(last), &mut fetched)
            .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("the list goes on past 10000 pages, the most ssprctl reads of one list"),
            "{text}"
        );
        assert!(!text.contains("repeats"), "{text}");
    }
}
