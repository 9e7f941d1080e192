//! An in-process, stateful and strict emulator of the Microsoft Graph endpoints ssprctl uses
//! (users, paging, phoneMethods, emailMethods, `$batch`) and of the identity platform's token
//! and device-code endpoints, on 127.0.0.1.
//!
//! It rejects malformed requests the way Graph does (unknown properties, `""` for mobilePhone,
//! a second mobile via POST, alternateMobile before mobile, phone numbers not in `+CC number`
//! form, writes to synced users' phones), counts requests, and injects faults: a status (429
//! with `Retry-After`, 503, 403 …), a delay, or a dropped connection.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use ssprctl::model::{AuthDetails, User};

pub const MOBILE_ID: &str = "3179e48a-750b-4051-897c-87b9720928f7";
pub const ALTERNATE_MOBILE_ID: &str = "b6332ec1-7057-4abe-9331-3d72feddfe41";
pub const OFFICE_ID: &str = "e37fc753-ff3b-4958-9484-eaa9425c82bc";
pub const EMAIL_ID: &str = "3ddfcfc8-9383-446f-83cc-3ab9be4be18f";
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// One request as the emulator saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Decoded path, e.g. `/v1.0/users/kim@contoso.com`.
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    pub body: String,
}

/// What to do to matching requests.
#[derive(Debug, Clone)]
pub enum FaultKind {
    /// Answer with this status and Graph error body; `Retry-After` when given.
    Status {
        status: u16,
        retry_after: Option<String>,
        code: String,
        message: String,
    },
    /// Wait before answering normally.
    Delay(Duration),
    /// Close the connection without answering (before acting).
    Drop,
    /// Answer with exactly this (hostile servers: redirects, huge or broken bodies…).
    Raw(Raw),
    /// Act on the request, then answer with this status and no usable body (a 503 that
    /// hides a success).
    ActThenStatus(u16),
}

/// A response given verbatim.
#[derive(Debug, Clone)]
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn new(status: u16, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Raw {
        Raw {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub method: Option<String>,
    pub path_contains: String,
    pub times: u32,
    pub kind: FaultKind,
}

#[derive(Debug, Clone, Default)]
struct Methods {
    phones: BTreeMap<String, String>,
    email: Option<String>,
}

/// How the device code flow goes.
#[derive(Debug, Clone)]
pub struct DeviceScript {
    pub pending: u32,
    pub slow_down_once: bool,
    /// "success", "expired_token", "authorization_declined"
    pub outcome: String,
    pub interval: u64,
}

#[derive(Default)]
pub struct State {
    users: Vec<User>,
    methods: HashMap<String, Methods>,
    /// Issued access tokens and when they expire.
    tokens: HashMap<String, SystemTime>,
    /// Refresh tokens and the (client id, scope resource) they were issued for.
    refresh_tokens: HashMap<String, (String, String)>,
    /// Lifetime of the access tokens the token endpoint issues.
    pub token_lifetime: Duration,
    /// The Graph resource this emulator serves (`https://graph.microsoft.us` for US Gov…):
    /// token requests must ask for its scope.
    pub resource: String,
    /// The resource asked for at the device code request, for the refresh token it leads to.
    device_resource: String,
    /// Show authentication phone numbers masked, as to an Authentication Administrator.
    pub mask_phones: bool,
    /// The write quota: at most `limit` writes in any `window`, every `$batch` item counted.
    pub quota: Option<Quota>,
    /// The signed-in user of delegated tokens (their `oid`), when set.
    pub delegated_user: Option<String>,
    /// The permissions issued tokens carry (`roles`, or `scp` when delegated).
    pub roles: Vec<String>,
    /// Apps with a federated credential: client id → where their assertions come from.
    pub federated: HashMap<String, Federation>,
    /// Assertions issued by the GitHub / Azure Pipelines stand-ins, and when they expire.
    issued_assertions: HashMap<String, SystemTime>,
    /// The request token GitHub's OIDC endpoint accepts, and how long its tokens live.
    pub github_request_token: Option<String>,
    pub github_lifetime: Duration,
    /// Azure Pipelines: the SYSTEM_ACCESSTOKEN and service connection id accepted.
    pub pipelines: Option<(String, String)>,
    /// App Service: the IDENTITY_HEADER value accepted.
    pub identity_header: Option<String>,
    /// Azure Arc: the key file whose path the challenge names.
    pub arc_key_file: Option<std::path::PathBuf>,
    /// Every managed identity request, as (path, query), for the tests' checks.
    pub identity_requests: Vec<(String, String)>,
    /// The registration report's facts per user id (others: nothing registered).
    pub registrations: HashMap<String, Value>,
    /// Answer the registration report with 403 (no AuditLog.Read.All).
    pub report_forbidden: bool,
    /// The authentication methods policy; `None` answers 403 (no Policy.Read.All).
    pub policy: Option<Value>,
    /// Groups: id → direct members, user ids or other groups' ids (nested groups).
    pub groups: HashMap<String, Vec<String>>,
    /// Answer group member reads with 403 (no GroupMember.Read.All).
    pub groups_forbidden: bool,
    pub seen: Vec<Seen>,
    /// Every user PATCH (direct or in `$batch`): the user's id and the body, as sent.
    pub patches: Vec<(String, String)>,
    /// The organization's `onPremisesSyncEnabled` and `onPremisesLastSyncDateTime`.
    pub sync_enabled: Option<bool>,
    pub last_sync: Option<String>,
    faults: Vec<Fault>,
    latency: Duration,
    next: u64,
    pub client_secrets: HashMap<String, String>,
    /// client id → (x5t#S256, PKCS#8 DER of the public key's private key is not needed: the public key)
    pub certificates: HashMap<String, (String, rsa::PublicKey)>,
    pub device: Option<DeviceScript>,
    /// Throttle every Nth `$batch` item with 429 and its own `Retry-After`…
    pub batch_throttle_every: Option<u64>,
    /// …but only this many items in all, when set.
    pub batch_throttle_max: Option<u64>,
    batch_throttled: u64,
    batch_items: u64,
    /// Items answered inside `$batch` envelopes, by method.
    pub batch_item_counts: HashMap<String, usize>,
    /// Every `$batch` item as "METHOD path".
    pub batch_item_paths: Vec<String>,
    device_polls: u32,
    slowed: bool,
    pub base_url: String,
}

/// A sliding-window write quota like Graph's (3,000 writes per 150 s per app and tenant).
#[derive(Debug, Clone)]
pub struct Quota {
    pub limit: usize,
    pub window: Duration,
    /// When each write in the window was accepted.
    log: std::collections::VecDeque<std::time::Instant>,
    /// Writes accepted, and write items answered 429.
    pub accepted: usize,
    pub throttled: usize,
}

impl Quota {
    pub fn new(limit: usize, window: Duration) -> Self {
        Quota {
            limit,
            window,
            log: Default::default(),
            accepted: 0,
            throttled: 0,
        }
    }

    fn prune(&mut self, now: std::time::Instant) {
        while self
            .log
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            self.log.pop_front();
        }
    }

    /// Counts one write: `Err(retry after)` when the window is full.
    fn take(&mut self, now: std::time::Instant) -> Result<(), Duration> {
        self.prune(now);
        if self.log.len() >= self.limit {
            self.throttled += 1;
            let oldest = *self.log.front().expect("full");
            return Err((oldest + self.window).saturating_duration_since(now));
        }
        self.log.push_back(now);
        self.accepted += 1;
        Ok(())
    }

    /// `x-ms-throttle-limit-percentage` once more than 80% is used.
    fn percentage(&mut self, now: std::time::Instant) -> Option<String> {
        self.prune(now);
        let used = self.log.len() as f64 / self.limit as f64;
        (used > 0.8).then(|| format!("{used:.3}"))
    }
}

/// Where an app's federated assertions come from.
#[derive(Debug, Clone)]
pub enum Federation {
    /// The assertion must equal this file's current content (workload identity).
    File(std::path::PathBuf),
    /// The assertion must be one the GitHub or Azure Pipelines stand-in issued, unexpired.
    Issued,
}

pub struct Emulator {
    pub url: String,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn graph_error(status: u16, code: &str, message: &str, request_id: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message,
        "innerError": {"request-id": request_id, "date": "2026-11-25T00:00:00"}}});
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

fn oauth_error(status: u16, error: &str, description: &str, code: u64) -> Response {
    let body = json!({"error": error, "error_description": description,
        "error_codes": [code], "trace_id": "t", "correlation_id": "c"});
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

fn decode(seg: &str) -> String {
    let bytes = seg.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&seg[i + 1..i + 3], 16)
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

fn query_map(q: &str) -> HashMap<String, String> {
    reqwest::Url::parse(&format!("http://x/?{q}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Graph's phone format: `+{cc} {number}` with an optional `x{ext}`.
fn graph_phone_ok(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('+') else {
        return false;
    };
    let Some((cc, number)) = rest.split_once(' ') else {
        return false;
    };
    let number = number.split_once('x').map_or(number, |(n, _)| n);
    (1..=3).contains(&cc.len())
        && cc.chars().all(|c| c.is_ascii_digit())
        && !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit())
}

fn user_json(u: &User, select: Option<&str>) -> Value {
    let mut v = json!({
        "id": u.id, "displayName": u.display_name, "userPrincipalName": u.user_principal_name,
        "mobilePhone": u.mobile_phone, "businessPhones": u.office_phone.iter().collect::<Vec<_>>(),
        "otherMails": u.alternate_email_addresses, "onPremisesSyncEnabled": u.on_premises_sync_enabled,
        "accountEnabled": u.account_enabled.unwrap_or(true),
        "userType": u.user_type.as_deref().unwrap_or("Member"),
        "onPremisesImmutableId": u.on_premises.immutable_id,
        "onPremisesSecurityIdentifier": u.on_premises.security_identifier,
    });
    let obj = v.as_object_mut().unwrap();
    match select {
        Some(sel) => {
            let keep: HashSet<&str> = sel.split(',').collect();
            obj.retain(|k, _| keep.contains(k.as_str()));
        }
        // Like Graph: these only come when selected.
        None => {
            for k in [
                "otherMails",
                "onPremisesSyncEnabled",
                "accountEnabled",
                "userType",
                "onPremisesImmutableId",
                "onPremisesSecurityIdentifier",
            ] {
                obj.remove(k);
            }
        }
    }
    v
}

impl Emulator {
    pub fn start() -> Emulator {
        let state = Arc::new(Mutex::new(State {
            token_lifetime: Duration::from_secs(3599),
            resource: "https://graph.microsoft.com".into(),
            roles: vec![
                "User.ReadWrite.All".into(),
                "UserAuthenticationMethod.ReadWrite.All".into(),
            ],
            github_lifetime: Duration::from_secs(300),
            ..State::default()
        }));
        let (tx_url, rx_url) = std::sync::mpsc::channel();
        let (tx_stop, rx_stop) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let url = format!("http://{}", listener.local_addr().unwrap());
                st.lock().unwrap().base_url = url.clone();
                tx_url.send(url).unwrap();
                let app = axum::Router::new().fallback(handle).with_state(st);
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx_stop.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let url = rx_url.recv().unwrap();
        Emulator {
            url,
            state,
            shutdown: Some(tx_stop),
        }
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Adds a user and its authentication methods.
    pub fn add_user(&self, user: &User, auth: &AuthDetails) {
        let mut s = self.state();
        let mut m = Methods::default();
        if let Some(p) = &auth.authentication_phone {
            m.phones.insert("mobile".into(), p.clone());
        }
        if let Some(p) = &auth.alternate_authentication_phone {
            m.phones.insert("alternateMobile".into(), p.clone());
        }
        if let Some(p) = &auth.authentication_office_phone {
            m.phones.insert("office".into(), p.clone());
        }
        m.email = auth.authentication_email.clone();
        s.methods.insert(user.id.clone(), m);
        s.users.push(user.clone());
    }

    /// Changes the user `id` in place (as Entra Connect's sync would).
    pub fn with_user(&self, id: &str, f: impl FnOnce(&mut User)) {
        let mut s = self.state();
        let u = s.users.iter_mut().find(|u| u.id == id).expect("a user");
        f(u);
    }

    /// Every user, as the tenant holds them now.
    pub fn users(&self) -> Vec<User> {
        self.state().users.clone()
    }

    /// `n` users `user0000@contoso.com`… with no contact information.
    pub fn add_many(&self, n: usize) {
        for i in 0..n {
            self.add_user(
                &User {
                    id: format!("00000000-0000-4000-9000-{i:012}"),
                    user_principal_name: format!("user{i:05}@contoso.com"),
                    display_name: Some(format!("User {i}")),
                    ..Default::default()
                },
                &AuthDetails::default(),
            );
        }
    }

    /// A valid access token, as if issued by the login endpoint (an hour's lifetime).
    pub fn issue_token(&self) -> String {
        self.issue_token_for(Duration::from_secs(3600))
    }

    /// A valid access token that expires after `lifetime`.
    pub fn issue_token_for(&self, lifetime: Duration) -> String {
        let mut s = self.state();
        mint(&mut s, lifetime)
    }

    pub fn revoke_tokens(&self) {
        self.state().tokens.clear();
    }

    /// Answers matching requests with exactly this status, headers and body.
    pub fn raw(&self, method: Option<&str>, path_contains: &str, times: u32, raw: Raw) {
        self.fault(method, path_contains, times, FaultKind::Raw(raw));
    }

    pub fn user(&self, upn: &str) -> User {
        self.state()
            .users
            .iter()
            .find(|u| u.user_principal_name.eq_ignore_ascii_case(upn))
            .cloned()
            .unwrap()
    }

    pub fn auth(&self, upn: &str) -> AuthDetails {
        let s = self.state();
        let u = s
            .users
            .iter()
            .find(|u| u.user_principal_name.eq_ignore_ascii_case(upn))
            .unwrap();
        let m = s.methods.get(&u.id).cloned().unwrap_or_default();
        AuthDetails {
            authentication_phone: m.phones.get("mobile").cloned(),
            alternate_authentication_phone: m.phones.get("alternateMobile").cloned(),
            authentication_office_phone: m.phones.get("office").cloned(),
            authentication_email: m.email,
        }
    }

    pub fn fault(&self, method: Option<&str>, path_contains: &str, times: u32, kind: FaultKind) {
        self.state().faults.push(Fault {
            method: method.map(str::to_string),
            path_contains: path_contains.to_string(),
            times,
            kind,
        });
    }

    pub fn set_latency(&self, d: Duration) {
        self.state().latency = d;
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state().seen.clone()
    }

    pub fn clear_seen(&self) {
        self.state().seen.clear();
    }

    /// Requests to Graph (not the login endpoint), as `METHOD path`.
    pub fn graph_requests(&self) -> Vec<String> {
        self.seen()
            .iter()
            .filter(|r| r.path.starts_with("/v1.0"))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    pub fn token_requests(&self) -> usize {
        self.seen()
            .iter()
            .filter(|r| r.path.ends_with("/oauth2/v2.0/token"))
            .count()
    }
}

async fn handle(
    AxState(state): AxState<Arc<Mutex<State>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path: String = uri
        .path()
        .split('/')
        .map(decode)
        .collect::<Vec<_>>()
        .join("/");
    let query = uri.query().unwrap_or("").to_string();
    let (latency, fault, rid) = {
        let mut s = state.lock().unwrap();
        s.next += 1;
        let rid = format!("req-{:06}", s.next);
        s.seen.push(Seen {
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            authorization: headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        let fault = s
            .faults
            .iter_mut()
            .find(|f| {
                f.times > 0
                    && f.method.as_deref().is_none_or(|m| m == method.as_str())
                    && path.contains(&f.path_contains)
            })
            .map(|f| {
                f.times -= 1;
                f.kind.clone()
            });
        (s.latency, fault, rid)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match fault {
        Some(FaultKind::Status {
            status,
            retry_after,
            code,
            message,
        }) => {
            let mut r = graph_error(status, &code, &message, &rid);
            if let Some(ra) = retry_after {
                r.headers_mut()
                    .insert("retry-after", HeaderValue::from_str(&ra).unwrap());
            }
            r.headers_mut()
                .insert("request-id", HeaderValue::from_str(&rid).unwrap());
            return r;
        }
        Some(FaultKind::Delay(d)) => tokio::time::sleep(d).await,
        Some(FaultKind::Raw(raw)) => {
            let mut r = Response::new(axum::body::Body::from(raw.body));
            *r.status_mut() = StatusCode::from_u16(raw.status).unwrap();
            for (k, v) in raw.headers {
                r.headers_mut().insert(
                    axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(&v).unwrap(),
                );
            }
            return r;
        }
        Some(FaultKind::ActThenStatus(status)) => {
            let _ = route(&state, &method, &path, &query, &headers, &body, &rid);
            return (
                StatusCode::from_u16(status).unwrap(),
                "<html>upstream timed out</html>",
            )
                .into_response();
        }
        // Unwind without the panic hook: the connection is dropped, nothing answered.
        Some(FaultKind::Drop) => std::panic::resume_unwind(Box::new("dropped")),
        None => {}
    }
    let mut resp = route(&state, &method, &path, &query, &headers, &body, &rid);
    resp.headers_mut()
        .insert("request-id", HeaderValue::from_str(&rid).unwrap());
    let percentage = state
        .lock()
        .unwrap()
        .quota
        .as_mut()
        .and_then(|q| q.percentage(std::time::Instant::now()));
    if let Some(p) = percentage.filter(|_| path.starts_with("/v1.0")) {
        resp.headers_mut().insert(
            "x-ms-throttle-limit-percentage",
            HeaderValue::from_str(&p).unwrap(),
        );
    }
    resp
}

fn route(
    state: &Arc<Mutex<State>>,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
    rid: &str,
) -> Response {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut s = state.lock().unwrap();
    if segs.len() == 4 && segs[1] == "oauth2" && segs[2] == "v2.0" {
        let form = query_map(&String::from_utf8_lossy(body));
        return match segs[3] {
            "token" => token(&mut s, segs[0], &form),
            "devicecode" => devicecode(&mut s, &form),
            _ => oauth_error(404, "not_found", "no such endpoint", 0),
        };
    }
    if let Some(r) = providers(&mut s, method, path, query, headers) {
        return r;
    }
    if segs.first() != Some(&"v1.0") {
        return graph_error(404, "UnknownPath", "not a Graph path", rid);
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let token = auth.strip_prefix("Bearer ").unwrap_or("");
    match s.tokens.get(token) {
        None => {
            return graph_error(
                401,
                "InvalidAuthenticationToken",
                "Access token validation failure. Invalid audience.",
                rid,
            );
        }
        Some(exp) if *exp <= SystemTime::now() => {
            return graph_error(
                401,
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
                rid,
            );
        }
        Some(_) => {}
    }
    // The write quota: every write counts, inside `$batch` or not (the envelope itself is
    // not a write).
    let is_write = *method != Method::GET && segs.get(1) != Some(&"$batch");
    if is_write && let Some(q) = s.quota.as_mut() {
        let now = std::time::Instant::now();
        if let Err(wait) = q.take(now) {
            let mut r = graph_error(
                429,
                "TooManyRequests",
                "Too many requests. Application is over its WriteLimitExceeded quota.",
                rid,
            );
            r.headers_mut().insert(
                "retry-after",
                HeaderValue::from_str(&format!("{:.3}", wait.as_secs_f64().max(0.001))).unwrap(),
            );
            r.headers_mut().insert(
                "x-ms-throttle-scope",
                HeaderValue::from_static("Tenant_Application/WriteLimitExceeded"),
            );
            return r;
        }
    }

    let q = query_map(query);
    let rest = &segs[1..];
    if rest == ["users", "$count"] {
        if headers
            .get("consistencylevel")
            .and_then(|v| v.to_str().ok())
            != Some("eventual")
        {
            return graph_error(
                400,
                "Request_BadRequest",
                "Count is not currently supported without the ConsistencyLevel:eventual header.",
                rid,
            );
        }
        return (
            StatusCode::OK,
            [("content-type", "text/plain")],
            s.users.len().to_string(),
        )
            .into_response();
    }
    if rest
        == [
            "reports",
            "authenticationMethods",
            "userRegistrationDetails",
        ]
    {
        if s.report_forbidden {
            return graph_error(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
                rid,
            );
        }
        return registration_report(&s, &q, rid);
    }
    if rest == ["policies", "authenticationMethodsPolicy"] {
        return match &s.policy {
            Some(p) => (StatusCode::OK, axum::Json(p.clone())).into_response(),
            None => graph_error(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
                rid,
            ),
        };
    }
    if rest == ["organization"] {
        let org = json!({"id": "11111111-2222-4333-8444-555555555555", "displayName": "Contoso",
            "onPremisesSyncEnabled": s.sync_enabled, "onPremisesLastSyncDateTime": s.last_sync});
        return (StatusCode::OK, axum::Json(json!({"value": [org]}))).into_response();
    }
    if let ["groups", gid, "transitiveMembers", "microsoft.graph.user"] = rest {
        return group_users(&s, gid, &q, rid);
    }
    if rest == ["$batch"] {
        if *method != Method::POST {
            return graph_error(405, "MethodNotAllowed", "only POST", rid);
        }
        drop(s);
        return batch(state, headers, body, rid);
    }
    // /users  and  /users/{u}/…  and  /users('{u}')/…
    let (user_key, tail): (Option<String>, &[&str]) = match rest {
        ["users"] => (None, &[]),
        ["users", u, tail @ ..] => (Some(u.to_string()), tail),
        [u, tail @ ..] if u.starts_with("users('") && u.ends_with("')") => (
            Some(u["users('".len()..u.len() - 2].replace("''", "'")),
            tail,
        ),
        _ => return graph_error(404, "UnknownPath", "unknown path", rid),
    };
    let Some(key) = user_key else {
        if *method != Method::GET {
            return graph_error(405, "MethodNotAllowed", "only GET", rid);
        }
        return list_users(&s, &q, rid);
    };
    if key.starts_with('$') && !rest[0].starts_with("users('") {
        return graph_error(400, "Request_BadRequest", "Invalid object identifier.", rid);
    }
    let Some(idx) = s
        .users
        .iter()
        .position(|u| u.id == key || u.user_principal_name.eq_ignore_ascii_case(&key))
    else {
        return graph_error(
            404,
            "Request_ResourceNotFound",
            &format!(
                "Resource '{key}' does not exist or one of its queried reference-property objects are not present."
            ),
            rid,
        );
    };
    match (method.as_str(), tail) {
        ("GET", []) => {
            let u = &s.users[idx];
            (
                StatusCode::OK,
                axum::Json(user_json(u, q.get("$select").map(String::as_str))),
            )
                .into_response()
        }
        ("PATCH", []) => patch_user(&mut s, idx, body, rid),
        (m, ["authentication", kind, rest @ ..]) => {
            let id = s.users[idx].id.clone();
            methods(&mut s, &id, m, kind, rest, body, rid)
        }
        _ => graph_error(405, "MethodNotAllowed", "unsupported", rid),
    }
}

/// `GET /reports/authenticationMethods/userRegistrationDetails`: pages of `$top` (default and
/// at most 999), `$filter` with `eq` on the booleans (joined with `and`).
fn registration_report(s: &State, q: &HashMap<String, String>, rid: &str) -> Response {
    let top: usize = match q.get("$top").map(|t| t.parse::<usize>()) {
        None => 100,
        Some(Ok(t)) if (1..=999).contains(&t) => t,
        _ => return graph_error(400, "BadRequest", "Invalid $top.", rid),
    };
    let mut filters = Vec::new();
    if let Some(f) = q.get("$filter") {
        for part in f.split(" and ") {
            let words: Vec<&str> = part.split_whitespace().collect();
            match words.as_slice() {
                [field, "eq", v @ ("true" | "false")]
                    if [
                        "isSsprRegistered",
                        "isSsprCapable",
                        "isSsprEnabled",
                        "isAdmin",
                        "isMfaRegistered",
                        "isMfaCapable",
                    ]
                    .contains(field) =>
                {
                    filters.push((field.to_string(), *v == "true"))
                }
                _ => return graph_error(400, "BadRequest", "Invalid filter clause.", rid),
            }
        }
    }
    let skip: usize = q
        .get("$skiptoken")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    // Without a filter only this page is built (a 100,000-user tenant stays fast).
    let (skip_first, total) = if filters.is_empty() {
        (skip, s.users.len())
    } else {
        (0, usize::MAX)
    };
    let all: Vec<Value> = s
        .users
        .iter()
        .skip(skip_first)
        .take(if filters.is_empty() { top } else { usize::MAX })
        .map(|u| {
            let mut r = json!({"id": u.id, "userPrincipalName": u.user_principal_name,
                "userDisplayName": u.display_name, "userType": "member", "isAdmin": false,
                "isSsprRegistered": false, "isSsprEnabled": true, "isSsprCapable": false,
                "isMfaRegistered": false, "isMfaCapable": false, "methodsRegistered": [],
                "lastUpdatedDateTime": "2026-11-25T00:00:00Z"});
            if let Some(extra) = s.registrations.get(&u.id) {
                for (k, v) in extra.as_object().unwrap() {
                    r[k] = v.clone();
                }
            }
            r
        })
        .filter(|r| filters.iter().all(|(f, v)| r[f].as_bool() == Some(*v)))
        .collect();
    let (page, total): (Vec<Value>, usize) = if filters.is_empty() {
        (all, total)
    } else {
        let n = all.len();
        (all.into_iter().skip(skip).take(top).collect(), n)
    };
    let mut body = json!({"value": page});
    if skip + top < total {
        let mut next = format!(
            "{}/v1.0/reports/authenticationMethods/userRegistrationDetails?$top={top}&$skiptoken={}",
            s.base_url,
            skip + top
        );
        if let Some(f) = q.get("$filter") {
            next.push_str(&format!("&$filter={}", f.replace(' ', "%20")));
        }
        body["@odata.nextLink"] = json!(next);
    }
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// `GET /groups/{id}/transitiveMembers/microsoft.graph.user`: the users in the group and in the
/// groups nested in it, once each, in pages of `$top` (default 100, at most 999).
fn group_users(s: &State, gid: &str, q: &HashMap<String, String>, rid: &str) -> Response {
    if s.groups_forbidden {
        return graph_error(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
            rid,
        );
    }
    if !s.groups.contains_key(gid) {
        return graph_error(
            404,
            "Request_ResourceNotFound",
            &format!(
                "Resource '{gid}' does not exist or one of its queried reference-property objects are not present."
            ),
            rid,
        );
    }
    let top: usize = match q.get("$top").map(|t| t.parse::<usize>()) {
        None => 100,
        Some(Ok(t)) if (1..=999).contains(&t) => t,
        _ => return graph_error(400, "BadRequest", "Invalid $top.", rid),
    };
    let skip: usize = q
        .get("$skiptoken")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    // Depth-first through nested groups, each group once (a cycle ends).
    let mut users: Vec<&str> = Vec::new();
    let mut seen_users = std::collections::HashSet::new();
    let mut seen_groups = std::collections::HashSet::from([gid.to_string()]);
    let mut todo = vec![gid.to_string()];
    while let Some(g) = todo.pop() {
        for m in &s.groups[&g] {
            if s.groups.contains_key(m) {
                if seen_groups.insert(m.clone()) {
                    todo.push(m.clone());
                }
            } else if seen_users.insert(m.as_str()) {
                users.push(m);
            }
        }
    }
    let page: Vec<Value> = users
        .iter()
        .skip(skip)
        .take(top)
        .map(|id| json!({"@odata.type": "#microsoft.graph.user", "id": id}))
        .collect();
    let mut body = json!({"value": page});
    if skip + top < users.len() {
        body["@odata.nextLink"] = json!(format!(
            "{}/v1.0/groups/{gid}/transitiveMembers/microsoft.graph.user?$select=id&$top={top}&$skiptoken={}",
            s.base_url,
            skip + top
        ));
    }
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// `POST /$batch`: at most 20 requests with unique ids and relative URLs, each answered by the
/// same rules as alone; answers in shuffled order; every Nth item throttled when configured.
fn batch(state: &Arc<Mutex<State>>, headers: &HeaderMap, body: &[u8], rid: &str) -> Response {
    let Ok(env) = serde_json::from_slice::<Value>(body) else {
        return graph_error(400, "BadRequest", "Invalid batch payload format.", rid);
    };
    let Some(requests) = env["requests"].as_array() else {
        return graph_error(400, "BadRequest", "Invalid batch payload format.", rid);
    };
    if requests.len() > 20 {
        return graph_error(
            400,
            "BadRequest",
            "Number of requests exceeds the limit of 20.",
            rid,
        );
    }
    let mut ids = HashSet::new();
    for r in requests {
        let Some(id) = r["id"].as_str() else {
            return graph_error(400, "BadRequest", "Each request needs a string id.", rid);
        };
        if !ids.insert(id.to_string()) {
            return graph_error(400, "BadRequest", "Request ids must be unique.", rid);
        }
        let url = r["url"].as_str().unwrap_or("");
        if !url.starts_with('/') || url.starts_with("/v1.0") {
            return graph_error(
                400,
                "BadRequest",
                "Request url must be relative to the version, e.g. /users.",
                rid,
            );
        }
        if !r["body"].is_null() && r["headers"]["Content-Type"].as_str() != Some("application/json")
        {
            return graph_error(
                400,
                "BadRequest",
                "Content-Type header is required when a body is given.",
                rid,
            );
        }
    }
    let mut responses = Vec::new();
    for (n, r) in requests.iter().enumerate() {
        let id = r["id"].as_str().unwrap();
        let method: Method = r["method"]
            .as_str()
            .unwrap_or("GET")
            .parse()
            .unwrap_or(Method::GET);
        let url = r["url"].as_str().unwrap();
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let path = format!(
            "/v1.0{}",
            path.split('/').map(decode).collect::<Vec<_>>().join("/")
        );
        let item_rid = format!("{rid}-{n}");
        let throttled = {
            let mut s = state.lock().unwrap();
            s.batch_items += 1;
            *s.batch_item_counts.entry(method.to_string()).or_default() += 1;
            s.batch_item_paths.push(format!("{method} {path}"));
            let due = s
                .batch_throttle_every
                .is_some_and(|k| s.batch_items.is_multiple_of(k))
                && s.batch_throttle_max.is_none_or(|m| s.batch_throttled < m);
            s.batch_throttled += u64::from(due);
            due
        };
        if throttled {
            responses.push(json!({"id": id, "status": 429,
                "headers": {"Retry-After": "0.05", "request-id": item_rid},
                "body": {"error": {"code": "TooManyRequests", "message": "Too many requests"}}}));
            continue;
        }
        let item_body = if r["body"].is_null() {
            Vec::new()
        } else {
            r["body"].to_string().into_bytes()
        };
        let resp = route(state, &method, &path, query, headers, &item_body, &item_rid);
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = futures_body(resp);
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let mut item_headers = json!({"request-id": item_rid});
        if let Some(ra) = retry_after {
            item_headers["Retry-After"] = json!(ra);
        }
        responses.push(json!({"id": id, "status": status, "headers": item_headers, "body": body}));
    }
    // Graph answers in any order.
    let n = responses.len();
    if n > 1 {
        let k = (rid.len() + n / 2) % n;
        responses.rotate_left(k.max(1));
        responses.swap(0, n - 1);
    }
    (StatusCode::OK, axum::Json(json!({"responses": responses}))).into_response()
}

/// The bytes of a response built in this process (bodies here are always in memory).
fn futures_body(resp: Response) -> Vec<u8> {
    let body = resp.into_body();
    let fut = axum::body::to_bytes(body, usize::MAX);
    // Already-complete bodies resolve on the first poll.
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut fut = std::pin::pin!(fut);
    match fut.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(Ok(b)) => b.to_vec(),
        _ => Vec::new(),
    }
}

/// A `$filter` on users, as far as ssprctl uses one: `eq` on `onPremisesImmutableId` or
/// `onPremisesSecurityIdentifier` (a quoted string, `''` for a quote) or
/// `onPremisesSyncEnabled` (`true`/`false`). Anything else is Graph's 400.
type Keep = Box<dyn Fn(&User) -> bool>;

fn user_filter(f: &str) -> Option<Keep> {
    let (field, value) = f.split_once(" eq ")?;
    let string = |v: &str| -> Option<String> {
        let inner = v.strip_prefix('\'')?.strip_suffix('\'')?;
        (!inner.replace("''", "").contains('\'')).then(|| inner.replace("''", "'"))
    };
    match (field.trim(), value.trim()) {
        ("onPremisesSyncEnabled", v @ ("true" | "false")) => {
            let want = v == "true";
            Some(Box::new(move |u: &User| u.on_premises_sync_enabled == want))
        }
        ("onPremisesImmutableId", v) => {
            let want = string(v)?;
            Some(Box::new(move |u: &User| {
                u.on_premises.immutable_id.as_deref() == Some(want.as_str())
            }))
        }
        ("onPremisesSecurityIdentifier", v) => {
            let want = string(v)?;
            Some(Box::new(move |u: &User| {
                u.on_premises
                    .security_identifier
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case(&want))
            }))
        }
        _ => None,
    }
}

fn list_users(s: &State, q: &HashMap<String, String>, rid: &str) -> Response {
    let top: usize = q
        .get("$top")
        .and_then(|t| t.parse().ok())
        .unwrap_or(100)
        .clamp(1, 999);
    let skip: usize = q
        .get("$skiptoken")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let select = q.get("$select").map(String::as_str);
    let filter = match q.get("$filter") {
        None => None,
        Some(f) => match user_filter(f) {
            Some(keep) => Some(keep),
            None => return graph_error(400, "BadRequest", "Invalid filter clause.", rid),
        },
    };
    let matching: Vec<&User> = match &filter {
        None => s.users.iter().skip(skip).take(top).collect(),
        Some(keep) => s
            .users
            .iter()
            .filter(|u| keep(u))
            .skip(skip)
            .take(top)
            .collect(),
    };
    let total = match &filter {
        None => s.users.len(),
        Some(keep) => s.users.iter().filter(|u| keep(u)).count(),
    };
    let page: Vec<Value> = matching.iter().map(|u| user_json(u, select)).collect();
    let mut body = json!({"value": page});
    if skip + top < total {
        let mut next = reqwest::Url::parse(&format!("{}/v1.0/users", s.base_url)).unwrap();
        {
            let mut qp = next.query_pairs_mut();
            if let Some(sel) = select {
                qp.append_pair("$select", sel);
            }
            if let Some(f) = q.get("$filter") {
                qp.append_pair("$filter", f);
            }
            qp.append_pair("$top", &top.to_string());
            qp.append_pair("$skiptoken", &(skip + top).to_string());
        }
        body["@odata.nextLink"] = json!(next.as_str());
    }
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn patch_user(s: &mut State, idx: usize, body: &[u8], rid: &str) -> Response {
    let id = s.users[idx].id.clone();
    s.patches
        .push((id, String::from_utf8_lossy(body).into_owned()));
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(body) else {
        return graph_error(
            400,
            "BadRequest",
            "Unable to read JSON request payload.",
            rid,
        );
    };
    for k in obj.keys() {
        if !["mobilePhone", "businessPhones", "otherMails"].contains(&k.as_str()) {
            return graph_error(
                400,
                "Request_BadRequest",
                &format!("Invalid property '{k}'."),
                rid,
            );
        }
    }
    let synced = s.users[idx].on_premises_sync_enabled;
    if synced && (obj.contains_key("mobilePhone") || obj.contains_key("businessPhones")) {
        return graph_error(
            400,
            "Request_BadRequest",
            "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.",
            rid,
        );
    }
    let mut u = s.users[idx].clone();
    if let Some(v) = obj.get("mobilePhone") {
        match v {
            Value::Null => u.mobile_phone = None,
            Value::String(p) if !p.is_empty() && p.len() <= 64 => u.mobile_phone = Some(p.clone()),
            _ => {
                return graph_error(
                    400,
                    "Request_BadRequest",
                    "Invalid value specified for property 'mobilePhone' of resource 'User'. The value should be between 1 and 64 characters.",
                    rid,
                );
            }
        }
    }
    if let Some(v) = obj.get("businessPhones") {
        match v.as_array() {
            Some(a)
                if a.len() <= 1 && a.iter().all(|x| x.as_str().is_some_and(|p| !p.is_empty())) =>
            {
                u.office_phone = a.first().and_then(|x| x.as_str()).map(str::to_string)
            }
            _ => {
                return graph_error(
                    400,
                    "Request_BadRequest",
                    "Invalid value specified for property 'businessPhones'; only one value is allowed.",
                    rid,
                );
            }
        }
    }
    if let Some(v) = obj.get("otherMails") {
        match v.as_array() {
            Some(a)
                if a.len() <= 250
                    && a.iter()
                        .all(|x| x.as_str().is_some_and(|m| m.contains('@') && m.is_ascii())) =>
            {
                u.alternate_email_addresses =
                    a.iter().map(|x| x.as_str().unwrap().to_string()).collect()
            }
            _ => {
                return graph_error(
                    400,
                    "Request_BadRequest",
                    "Invalid value specified for property 'otherMails'.",
                    rid,
                );
            }
        }
    }
    s.users[idx] = u;
    StatusCode::NO_CONTENT.into_response()
}

fn methods(
    s: &mut State,
    user_id: &str,
    method: &str,
    kind: &str,
    rest: &[&str],
    body: &[u8],
    rid: &str,
) -> Response {
    let masked = s.mask_phones;
    if method != "GET" && s.delegated_user.as_deref() == Some(user_id) {
        return graph_error(
            403,
            "accessDenied",
            "Self-service operations are not supported for this method.",
            rid,
        );
    }
    let m = s.methods.entry(user_id.to_string()).or_default();
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let phone_id = |t: &str| match t {
        "mobile" => MOBILE_ID,
        "alternateMobile" => ALTERNATE_MOBILE_ID,
        _ => OFFICE_ID,
    };
    let type_of = |id: &str| match id {
        MOBILE_ID => Some("mobile"),
        ALTERNATE_MOBILE_ID => Some("alternateMobile"),
        OFFICE_ID => Some("office"),
        _ => None,
    };
    let bad = |msg: &str| graph_error(400, "badRequest", msg, rid);
    match (kind, method, rest) {
        ("phoneMethods", "GET", []) => {
            let v: Vec<Value> = m.phones.iter().map(|(t, n)| {
                let shown = if masked { mask(n) } else { n.clone() };
                json!({"id": phone_id(t), "phoneNumber": shown, "phoneType": t, "smsSignInState": "notSupported"})
            }).collect();
            (StatusCode::OK, axum::Json(json!({"value": v}))).into_response()
        }
        ("phoneMethods", "POST", []) => {
            let (Some(number), Some(t)) =
                (body["phoneNumber"].as_str(), body["phoneType"].as_str())
            else {
                return bad("phoneNumber and phoneType are required");
            };
            if !["mobile", "alternateMobile", "office"].contains(&t) {
                return bad("Invalid phoneType");
            }
            if body.as_object().unwrap().len() != 2 {
                return bad("Invalid property in request body");
            }
            if !graph_phone_ok(number) {
                return bad(
                    "Invalid phone number format; expected '+{country code} {number}x{extension}'.",
                );
            }
            if m.phones.contains_key(t) {
                return bad("Phone number of this type already exists for the user.");
            }
            if t == "alternateMobile" && !m.phones.contains_key("mobile") {
                return bad(
                    "Cannot add alternateMobile phone method before a mobile phone method exists.",
                );
            }
            m.phones.insert(t.to_string(), number.to_string());
            (
                StatusCode::CREATED,
                axum::Json(json!({"id": phone_id(t), "phoneNumber": number, "phoneType": t})),
            )
                .into_response()
        }
        ("phoneMethods", "PATCH", [id]) => {
            let Some(t) = type_of(id) else {
                return graph_error(404, "itemNotFound", "no such method", rid);
            };
            if !m.phones.contains_key(t) {
                return graph_error(404, "itemNotFound", "The phone method does not exist.", rid);
            }
            let Some(number) = body["phoneNumber"].as_str() else {
                return bad("phoneNumber is required");
            };
            if body["phoneType"].as_str().is_some_and(|bt| bt != t) {
                return bad("The type of a phone method cannot change.");
            }
            if !graph_phone_ok(number) {
                return bad(
                    "Invalid phone number format; expected '+{country code} {number}x{extension}'.",
                );
            }
            m.phones.insert(t.to_string(), number.to_string());
            StatusCode::NO_CONTENT.into_response()
        }
        ("phoneMethods", "DELETE", [id]) => {
            let Some(t) = type_of(id) else {
                return graph_error(404, "itemNotFound", "no such method", rid);
            };
            if !m.phones.contains_key(t) {
                return graph_error(404, "itemNotFound", "The phone method does not exist.", rid);
            }
            if t == "mobile" && m.phones.contains_key("alternateMobile") {
                return bad(
                    "Cannot delete the mobile phone method while an alternateMobile method exists.",
                );
            }
            m.phones.remove(t);
            StatusCode::NO_CONTENT.into_response()
        }
        ("emailMethods", "GET", []) => {
            let v: Vec<Value> = m
                .email
                .iter()
                .map(|e| json!({"id": EMAIL_ID, "emailAddress": e}))
                .collect();
            (StatusCode::OK, axum::Json(json!({"value": v}))).into_response()
        }
        ("emailMethods", "POST", []) => {
            let Some(e) = body["emailAddress"].as_str() else {
                return bad("emailAddress is required");
            };
            if m.email.is_some() {
                return bad("An email method already exists for the user.");
            }
            m.email = Some(e.to_string());
            (
                StatusCode::CREATED,
                axum::Json(json!({"id": EMAIL_ID, "emailAddress": e})),
            )
                .into_response()
        }
        ("emailMethods", "PATCH", [id]) if *id == EMAIL_ID => {
            let Some(e) = body["emailAddress"].as_str() else {
                return bad("emailAddress is required");
            };
            if m.email.is_none() {
                return graph_error(404, "itemNotFound", "The email method does not exist.", rid);
            }
            m.email = Some(e.to_string());
            StatusCode::NO_CONTENT.into_response()
        }
        ("emailMethods", "DELETE", [id]) if *id == EMAIL_ID => {
            if m.email.take().is_none() {
                return graph_error(404, "itemNotFound", "The email method does not exist.", rid);
            }
            StatusCode::NO_CONTENT.into_response()
        }
        _ => graph_error(405, "MethodNotAllowed", "unsupported", rid),
    }
}

/// How an authentication administrator sees a phone: all but the last two digits hidden.
fn mask(n: &str) -> String {
    let (cc, rest) = n.split_once(' ').unwrap_or(("+1", n));
    let keep = rest.len().saturating_sub(2);
    format!("{cc} {}{}", "X".repeat(keep), &rest[keep..])
}

/// A new access token shaped like Entra's (a JWT with `exp`, `tid`, and `scp`/`oid` for a
/// delegated user), valid for `lifetime`.
fn mint(s: &mut State, lifetime: Duration) -> String {
    s.next += 1;
    let exp = SystemTime::now() + lifetime;
    let exp_secs = exp.duration_since(UNIX_EPOCH).unwrap().as_secs();
    let mut claims = json!({"aud": s.resource, "tid": "tenant-id", "exp": exp_secs, "n": s.next,
        "appid": "app-1", "app_displayname": "ssprctl-ci", "roles": s.roles});
    if let Some(oid) = &s.delegated_user {
        claims = json!({"aud": s.resource, "tid": "tenant-id", "exp": exp_secs, "n": s.next,
            "appid": "public-app", "oid": oid, "upn": "admin@contoso.com", "scp": s.roles.join(" ")});
    }
    let t = format!(
        "{}.{}.c2lnbmF0dXJl",
        URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"RS256"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    s.tokens.insert(t.clone(), exp);
    t
}

fn issue(s: &mut State, refresh: Option<(String, String)>) -> Response {
    let lifetime = s.token_lifetime;
    let t = mint(s, lifetime);
    let mut body =
        json!({"token_type": "Bearer", "expires_in": lifetime.as_secs().max(1), "access_token": t});
    if let Some(bound) = refresh {
        let r = format!("refresh-{}", s.next);
        s.refresh_tokens.insert(r.clone(), bound);
        body["refresh_token"] = json!(r);
    }
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `jti` is a GUID in Microsoft's examples of a certificate assertion.
fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn verify_assertion(s: &State, tenant: &str, client_id: &str, jwt: &str) -> Result<(), String> {
    let (thumb, key) = s
        .certificates
        .get(client_id)
        .ok_or("no certificate registered")?;
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 {
        return Err("not a JWT".into());
    }
    let dec = |p: &str| URL_SAFE_NO_PAD.decode(p).map_err(|e| e.to_string());
    let header: Value = serde_json::from_slice(&dec(parts[0])?).map_err(|e| e.to_string())?;
    let claims: Value = serde_json::from_slice(&dec(parts[1])?).map_err(|e| e.to_string())?;
    if header["alg"] != "PS256" || header["typ"] != "JWT" {
        return Err(format!("bad header {header}"));
    }
    if header["x5t#S256"].as_str() != Some(thumb.as_str()) {
        return Err("x5t#S256 does not match the registered certificate".into());
    }
    let aud = format!("{}/{tenant}/oauth2/v2.0/token", s.base_url);
    if claims["aud"] != aud.as_str() || claims["iss"] != client_id || claims["sub"] != client_id {
        return Err(format!("bad claims {claims}"));
    }
    let (nbf, exp) = (
        claims["nbf"].as_u64().unwrap_or(u64::MAX),
        claims["exp"].as_u64().unwrap_or(0),
    );
    if nbf > now() + 60
        || exp < now()
        || exp > now() + 3600
        || claims["jti"].as_str().is_none_or(|j| !is_guid(j))
    {
        return Err(format!("bad times or jti {claims}"));
    }
    let sig = dec(parts[2])?;
    key.pss_verify::<sha2::Sha256>(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
        .map_err(|e| format!("signature: {e}"))
}

/// Checks a federated client assertion the way Entra does for the app's federated credential.
fn federated(s: &State, f: &Federation, assertion: &str) -> Result<(), (u64, String)> {
    match f {
        Federation::File(path) => {
            let current = std::fs::read_to_string(path).unwrap_or_default();
            if assertion == current.trim() {
                Ok(())
            } else {
                Err((700213, "AADSTS700213: No matching federated identity record found for presented assertion (not the file's current content).".into()))
            }
        }
        Federation::Issued => match s.issued_assertions.get(assertion) {
            Some(exp) if *exp > SystemTime::now() => Ok(()),
            Some(_) => Err((700024, "AADSTS700024: Client assertion is not within its valid time range.".into())),
            None => Err((700213, "AADSTS700213: No matching federated identity record found for presented assertion.".into())),
        },
    }
}

/// An assertion issued by a CI stand-in, valid for `lifetime`.
fn assertion(s: &mut State, issuer: &str, lifetime: Duration) -> String {
    s.next += 1;
    let exp = SystemTime::now() + lifetime;
    let claims = json!({"iss": issuer, "aud": "api://AzureADTokenExchange", "sub": "repo:contoso/hr:ref:refs/heads/main",
        "exp": exp.duration_since(UNIX_EPOCH).unwrap().as_secs(), "n": s.next});
    let t = format!(
        "{}.{}.c2ln",
        URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"RS256"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    s.issued_assertions.insert(t.clone(), exp);
    t
}

/// The CI identity providers and managed identity endpoints, on their own paths:
/// `/github/token`, `/pipelines/oidc`, `/msi/token` (App Service), `/arc/token`,
/// `/metadata/identity/oauth2/token` (IMDS). `None` for other paths.
fn providers(
    s: &mut State,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
) -> Option<Response> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let bearer = header("authorization").and_then(|a| {
        a.split_once(' ')
            .filter(|(k, _)| k.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.to_string())
    });
    let q = query_map(query);
    let error = |status: u16, msg: &str| {
        (
            StatusCode::from_u16(status).unwrap(),
            axum::Json(json!({"error": "invalid_request", "error_description": msg})),
        )
            .into_response()
    };
    let mi_token = |s: &mut State| -> Response {
        if q.get("resource") != Some(&s.resource) {
            return error(400, "the resource is not valid");
        }
        let lifetime = s.token_lifetime;
        let t = mint(s, lifetime);
        let on = (SystemTime::now() + lifetime)
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        (
            StatusCode::OK,
            axum::Json(json!({"access_token": t, "expires_on": on.to_string(),
            "resource": s.resource, "token_type": "Bearer"})),
        )
            .into_response()
    };
    let mi = path != "/github/token" && path != "/pipelines/oidc";
    if mi
        && [
            "/msi/token",
            "/arc/token",
            "/metadata/identity/oauth2/token",
        ]
        .contains(&path)
    {
        s.identity_requests
            .push((path.to_string(), query.to_string()));
    }
    Some(match path {
        "/github/token" if *method == Method::GET => {
            if bearer.is_none() || bearer != s.github_request_token {
                return Some(error(401, "bad request token"));
            }
            if q.get("audience").map(String::as_str) != Some("api://AzureADTokenExchange") {
                return Some(error(400, "audience must be api://AzureADTokenExchange"));
            }
            let lifetime = s.github_lifetime;
            let t = assertion(s, "https://token.actions.githubusercontent.com", lifetime);
            (StatusCode::OK, axum::Json(json!({"count": 1, "value": t}))).into_response()
        }
        "/pipelines/oidc" if *method == Method::POST => {
            let Some((token, connection)) = s.pipelines.clone() else {
                return Some(error(404, "no pipelines"));
            };
            if bearer.as_deref() != Some(token.as_str()) {
                // Azure DevOps sends an unauthenticated caller to its sign-in page unless the
                // request says X-TFS-FedAuthRedirect: Suppress (then a 401).
                if header("x-tfs-fedauthredirect").as_deref() != Some("Suppress") {
                    return Some(
                        (
                            StatusCode::FOUND,
                            [(
                                "location",
                                "https://spsprodweu5.vssps.visualstudio.com/_signin",
                            )],
                        )
                            .into_response(),
                    );
                }
                return Some(error(401, "bad SYSTEM_ACCESSTOKEN"));
            }
            if q.get("serviceConnectionId") != Some(&connection) || !q.contains_key("api-version") {
                return Some(error(400, "unknown service connection"));
            }
            let t = assertion(
                s,
                "https://vstoken.dev.azure.com/org",
                Duration::from_secs(600),
            );
            (StatusCode::OK, axum::Json(json!({"oidcToken": t}))).into_response()
        }
        "/msi/token" if *method == Method::GET => {
            if header("x-identity-header").is_none()
                || header("x-identity-header") != s.identity_header
            {
                return Some(error(401, "X-IDENTITY-HEADER is missing or wrong"));
            }
            if q.get("api-version").map(String::as_str) != Some("2019-08-01") {
                return Some(error(400, "api-version"));
            }
            mi_token(s)
        }
        "/arc/token" if *method == Method::GET => {
            let Some(key_file) = s.arc_key_file.clone() else {
                return Some(error(404, "no arc"));
            };
            if header("metadata").as_deref() != Some("true") {
                return Some(error(400, "Metadata: true is required"));
            }
            let key = std::fs::read_to_string(&key_file).unwrap_or_default();
            match header("authorization") {
                Some(a) if a == format!("Basic {}", key.trim()) => mi_token(s),
                Some(_) => error(401, "wrong key"),
                None => {
                    let mut r = error(401, "challenge");
                    r.headers_mut().insert(
                        "www-authenticate",
                        HeaderValue::from_str(&format!("Basic realm={}", key_file.display()))
                            .unwrap(),
                    );
                    r
                }
            }
        }
        "/metadata/identity/oauth2/token" if *method == Method::GET => {
            if header("metadata").as_deref() != Some("true") {
                return Some(error(400, "Required metadata header not specified"));
            }
            mi_token(s)
        }
        _ => return None,
    })
}

fn token(s: &mut State, tenant: &str, form: &HashMap<String, String>) -> Response {
    let client = form.get("client_id").cloned().unwrap_or_default();
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {
            if form.get("scope").map(String::as_str)
                != Some(format!("{}/.default", s.resource).as_str())
            {
                return oauth_error(
                    400,
                    "invalid_scope",
                    "AADSTS1002012: The provided value for scope is not valid.",
                    1002012,
                );
            }
            if let Some(secret) = form.get("client_secret") {
                if s.client_secrets.get(&client) == Some(secret) {
                    return issue(s, None);
                }
                return oauth_error(
                    401,
                    "invalid_client",
                    "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.\r\nTrace ID: t\r\nCorrelation ID: c",
                    7000215,
                );
            }
            if form.get("client_assertion_type").map(String::as_str)
                == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            {
                let jwt = form.get("client_assertion").cloned().unwrap_or_default();
                if let Some(federation) = s.federated.get(&client).cloned() {
                    return match federated(s, &federation, &jwt) {
                        Ok(()) => issue(s, None),
                        Err((code, msg)) => oauth_error(401, "invalid_client", &msg, code),
                    };
                }
                return match verify_assertion(s, tenant, &client, &jwt) {
                    Ok(()) => issue(s, None),
                    Err(e) => oauth_error(
                        401,
                        "invalid_client",
                        &format!(
                            "AADSTS700027: Client assertion failed signature validation. ({e})"
                        ),
                        700027,
                    ),
                };
            }
            oauth_error(
                400,
                "invalid_request",
                "AADSTS900144: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
                900144,
            )
        }
        Some("urn:ietf:params:oauth:grant-type:device_code") => {
            let Some(script) = s.device.clone() else {
                return oauth_error(
                    400,
                    "bad_verification_code",
                    "AADSTS70019: no such code",
                    70019,
                );
            };
            s.device_polls += 1;
            if script.slow_down_once && !s.slowed {
                s.slowed = true;
                return oauth_error(400, "slow_down", "AADSTS70016: slow down", 70016);
            }
            if s.device_polls <= script.pending {
                return oauth_error(
                    400,
                    "authorization_pending",
                    "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                    70016,
                );
            }
            match script.outcome.as_str() {
                "success" => {
                    let bound = (client.clone(), s.device_resource.clone());
                    issue(s, Some(bound))
                }
                "expired_token" => oauth_error(
                    400,
                    "expired_token",
                    "AADSTS70020: The provided value for the input parameter 'device_code' is not valid. This device code has expired.",
                    70020,
                ),
                other => oauth_error(
                    400,
                    other,
                    "AADSTS70000: The user declined to authorize.",
                    70000,
                ),
            }
        }
        Some("refresh_token") => {
            let rt = form.get("refresh_token").cloned().unwrap_or_default();
            let scope = form.get("scope").cloned().unwrap_or_default();
            match s.refresh_tokens.get(&rt).cloned() {
                // Bound to its client and its cloud's resource, like Entra's.
                Some((c, _)) if c != client => oauth_error(
                    400,
                    "invalid_grant",
                    "AADSTS700016: the refresh token was issued to another client.",
                    700016,
                ),
                Some((_, resource))
                    if !scope
                        .split(' ')
                        .any(|sc| sc == format!("{resource}/.default")) =>
                {
                    oauth_error(
                        400,
                        "invalid_scope",
                        "AADSTS70011: the scope is not valid for this refresh token (another cloud's resource).",
                        70011,
                    )
                }
                Some(bound) => {
                    s.refresh_tokens.remove(&rt);
                    issue(s, Some(bound))
                }
                None => oauth_error(
                    400,
                    "invalid_grant",
                    "AADSTS700082: The refresh token has expired due to inactivity.",
                    700082,
                ),
            }
        }
        _ => oauth_error(
            400,
            "unsupported_grant_type",
            "AADSTS70003: unsupported grant type",
            70003,
        ),
    }
}

fn devicecode(s: &mut State, form: &HashMap<String, String>) -> Response {
    let Some(script) = s.device.clone() else {
        return oauth_error(
            400,
            "invalid_client",
            "AADSTS7000218: public client flows are not allowed",
            7000218,
        );
    };
    if !form
        .get("scope")
        .is_some_and(|sc| sc.contains("offline_access"))
    {
        return oauth_error(
            400,
            "invalid_scope",
            "AADSTS70011: offline_access missing",
            70011,
        );
    }
    s.device_polls = 0;
    s.slowed = false;
    s.device_resource = form
        .get("scope")
        .and_then(|sc| sc.split(' ').find_map(|x| x.strip_suffix("/.default")))
        .unwrap_or_default()
        .to_string();
    (StatusCode::OK, axum::Json(json!({
        "device_code": "DAQABAAEAAAD--device-code", "user_code": "ABCD-EFGH",
        "verification_uri": "https://microsoft.com/devicelogin", "expires_in": 900,
        "interval": script.interval,
        "message": "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code ABCD-EFGH to authenticate."
    }))).into_response()
}
