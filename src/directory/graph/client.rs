//! Authenticated Graph requests and the mapping of Graph's errors to what a user can act on:
//! every error keeps Graph's `code`, `message` and `request-id`.

use reqwest::{Method, Url};
use serde_json::Value;

use crate::auth::endpoints::Endpoints;
use crate::auth::store::Store;
use crate::directory::{DirectoryError, ServiceError, ServiceKind};
use crate::http::{Body, Failure, Http};
use crate::secret::Secret;

/// Graph's error body: `{"error":{"code","message","innerError":{"request-id"}}}`.
#[derive(Debug, Clone, Default)]
pub struct GraphErrorBody {
    pub code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
}

fn parse_error(body: &[u8]) -> GraphErrorBody {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
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
}

/// A successful answer.
#[derive(Debug)]
pub struct GraphResponse {
    pub status: u16,
    pub body: Option<Value>,
}

/// Graph at one base URL with one token.
#[derive(Clone)]
pub struct GraphClient {
    pub http: Http,
    pub base: Url,
    token: Secret,
    /// Where the token came from, to forget it when Graph rejects it.
    cache: Option<(Store, String)>,
}

impl GraphClient {
    pub fn new(
        http: Http,
        graph_host: &Url,
        token: Secret,
        cache: Option<(Store, String)>,
    ) -> Self {
        GraphClient {
            http,
            base: Endpoints::join(graph_host, &["v1.0"]),
            token,
            cache,
        }
    }

    /// `{graph}/v1.0/{segments}`.
    pub fn url(&self, segments: &[&str]) -> Url {
        Endpoints::join(&self.base, segments)
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
        let body = body.map_or(Body::None, Body::Json);
        let resp = match self
            .http
            .send(method.clone(), url, Some(&self.token), headers, body, write)
            .await
        {
            Ok(r) => r,
            Err(Failure::Exhausted { last, attempts }) => {
                let e = parse_error(&last.body);
                return Err(DirectoryError::Service(ServiceError {
                    kind: ServiceKind::Unavailable,
                    status: Some(last.status.as_u16()),
                    message: format!(
                        "Microsoft Graph still answered HTTP {} after {attempts} attempts{}",
                        last.status.as_u16(),
                        describe(&e, last.request_id())
                    ),
                    code: e.code,
                    request_id: e.request_id.or_else(|| last.request_id()),
                    hint: Some("Graph is throttling or unavailable: try again later, or raise --max-retries / --timeout".into()),
                }));
            }
            Err(Failure::Transport { message, attempts }) => {
                return Err(transport_error(&method, url.path(), &message, attempts));
            }
        };
        let status = resp.status.as_u16();
        if resp.status.is_success() {
            return Ok(GraphResponse {
                status,
                body: if resp.body.is_empty() {
                    None
                } else {
                    resp.json()
                },
            });
        }
        Err(self.error_for(&method, url, status, &resp.body, resp.request_id(), purpose))
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
        let e = parse_error(body);
        let request_id = e.request_id.clone().or(header_request_id);
        let detail = describe(&e, request_id.clone());
        let (kind, hint) = match status {
            401 => {
                if let Some((store, key)) = &self.cache {
                    let _ = store.remove_token(key);
                }
                (
                    ServiceKind::Auth,
                    "the access token was rejected or has expired: refresh SSPRCTL_ACCESS_TOKEN, \
                     check the AZURE_* credentials, or run `ssprctl login` again"
                        .to_string(),
                )
            }
            403 => (
                ServiceKind::Auth,
                format!(
                    "the caller needs the Microsoft Graph permission {} (admin-consented); for target \
                     users who hold admin roles it also needs a directory role such as Privileged \
                     Authentication Administrator",
                    purpose.permission
                ),
            ),
            404 => return DirectoryError::NotFound(user_from_path(url)),
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
    fn user_is_read_back_from_paths() {
        let u =
            Url::parse("https://g/v1.0/users/kim_f.com%23EXT%23@c.com/authentication/phoneMethods")
                .unwrap();
        assert_eq!(user_from_path(&u), "kim_f.com#EXT#@c.com");
        let u = Url::parse("https://g/v1.0/users('$kim@c.com')").unwrap();
        assert_eq!(user_from_path(&u), "$kim@c.com");
    }
}
