//! Managed identity: a token from the Azure host the job runs on, with no secret stored.
//!
//! Detected from the variables azure-identity uses, in its order:
//! - `IDENTITY_ENDPOINT` + `IDENTITY_HEADER`: App Service / Functions
//!   (`GET …?api-version=2019-08-01&resource=…`, header `X-IDENTITY-HEADER`);
//! - `IDENTITY_ENDPOINT` + `IMDS_ENDPOINT`: Azure Arc. The first request is answered 401 with
//!   `WWW-Authenticate: Basic realm=<key file>`; the file is read only if it is a `.key` file of
//!   at most 4 KiB inside Arc's documented folder (`/var/opt/azcmagent/tokens` on Linux), and its
//!   content is sent back as `Authorization: Basic …`;
//! - otherwise IMDS (`http://169.254.169.254`, or `AZURE_POD_IDENTITY_AUTHORITY_HOST`), with
//!   `Metadata: true`. IMDS is used only when chosen with `--credential managed-identity`:
//!   probing it on a machine outside Azure costs seconds.
//!
//! A user-assigned identity is chosen with `AZURE_CLIENT_ID` (not on Arc, which has none).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::{Method, Url};

use super::AuthError;
use super::auth_error;
use super::credential::EnvCredentials;
use super::endpoints::is_loopback;
use super::store::usable_token;
use super::token::Tokens;
use crate::http::{Body, Http, Replay};
use crate::secret::Secret;

/// Where IMDS answers unless `AZURE_POD_IDENTITY_AUTHORITY_HOST` says otherwise.
pub const IMDS_HOST: &str = "http://169.254.169.254";
/// Arc's key files live here on Linux.
pub const ARC_KEY_DIR: &str = "/var/opt/azcmagent/tokens";
/// Largest Arc key file read.
const MAX_KEY: u64 = 4096;

#[derive(Debug, Clone)]
enum Source {
    AppService { endpoint: Url, header: Secret },
    Arc { endpoint: Url, key_dir: PathBuf },
    Imds { base: Url },
}

/// A managed identity and how to reach its token endpoint.
#[derive(Debug, Clone)]
pub struct Managed {
    source: Source,
    client_id: Option<String>,
}

const HINT: &str = "managed identity works on Azure hosts only (App Service, Functions, Arc-enabled servers, VMs); \
elsewhere choose another --credential";

/// A host endpoint: https, or http to this machine or to the link-local IMDS address.
fn endpoint(var: &str, raw: &str) -> Result<Url, AuthError> {
    let url = Url::parse(raw.trim())
        .map_err(|e| auth_error(format!("{var} is not a URL ({e})"), HINT))?;
    let local = is_loopback(&url) || url.host_str() == Some("169.254.169.254");
    match url.scheme() {
        "https" => Ok(url),
        "http" if local => Ok(url),
        _ => Err(auth_error(
            format!("{var} must be https:// or a local address (a token comes back from it)"),
            HINT,
        )),
    }
}

impl Managed {
    /// The identity the environment describes (see the module docs).
    pub fn from_env(env: &EnvCredentials) -> Result<Self, AuthError> {
        let source = match (
            &env.identity_endpoint,
            &env.identity_header,
            &env.imds_endpoint,
        ) {
            (Some(e), Some(h), _) => Source::AppService {
                endpoint: endpoint("IDENTITY_ENDPOINT", e)?,
                header: h.clone(),
            },
            (Some(e), None, Some(_)) => Source::Arc {
                endpoint: endpoint("IDENTITY_ENDPOINT", e)?,
                key_dir: env.arc_key_dir.clone(),
            },
            (Some(_), None, None) => {
                return Err(auth_error(
                    "IDENTITY_ENDPOINT is set but neither IDENTITY_HEADER (App Service, Functions) nor \
                     IMDS_ENDPOINT (Azure Arc) is"
                        .into(),
                    HINT,
                ));
            }
            (None, ..) => Source::Imds {
                base: endpoint(
                    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
                    env.imds_host.as_deref().unwrap_or(IMDS_HOST),
                )?,
            },
        };
        if matches!(source, Source::Arc { .. }) && env.client_id.is_some() {
            return Err(auth_error(
                "Azure Arc has no user-assigned managed identities, but AZURE_CLIENT_ID is set"
                    .into(),
                "unset AZURE_CLIENT_ID to use the machine's system-assigned identity",
            ));
        }
        Ok(Managed {
            source,
            client_id: env.client_id.clone(),
        })
    }

    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// `app-service`, `arc` or `imds`.
    pub fn source_name(&self) -> &'static str {
        match self.source {
            Source::AppService { .. } => "app-service",
            Source::Arc { .. } => "arc",
            Source::Imds { .. } => "imds",
        }
    }

    pub fn describe(&self) -> String {
        let host = match self.source {
            Source::AppService { .. } => "App Service / Functions",
            Source::Arc { .. } => "Azure Arc",
            Source::Imds { .. } => "Azure IMDS",
        };
        match &self.client_id {
            Some(c) => format!("managed identity ({host}, user-assigned {c})"),
            None => format!("managed identity ({host}, system-assigned)"),
        }
    }

    /// A token for `resource` (the cloud's Graph resource).
    pub async fn token(&self, http: &Http, resource: &str) -> Result<Tokens, AuthError> {
        let (mut url, api) = match &self.source {
            Source::AppService { endpoint, .. } => (endpoint.clone(), "2019-08-01"),
            Source::Arc { endpoint, .. } => (endpoint.clone(), "2020-06-01"),
            Source::Imds { base } => (
                super::endpoints::Endpoints::join(
                    base,
                    &["metadata", "identity", "oauth2", "token"],
                ),
                "2018-02-01",
            ),
        };
        url.query_pairs_mut()
            .append_pair("api-version", api)
            .append_pair("resource", resource);
        if let Some(c) = &self.client_id {
            url.query_pairs_mut().append_pair("client_id", c);
        }
        let what = format!("the managed identity endpoint ({})", self.describe());
        let get = |headers: Vec<(&'static str, String)>| {
            let url = url.clone();
            let what = what.clone();
            async move {
                let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
                http.send(Method::GET, &url, None, &h, Body::None, false, Replay::Safe)
                    .await
                    .map_err(|f| super::token::unavailable(&what, f))
            }
        };
        let resp = match &self.source {
            Source::AppService { header, .. } => {
                get(vec![("X-IDENTITY-HEADER", header.expose().to_string())]).await?
            }
            Source::Imds { .. } => get(vec![("Metadata", "true".into())]).await?,
            Source::Arc { key_dir, .. } => {
                let first = get(vec![("Metadata", "true".into())]).await?;
                if first.status.as_u16() != 401 {
                    return Err(auth_error(
                        format!(
                            "{what} answered HTTP {} instead of Azure Arc's 401 challenge",
                            first.status.as_u16()
                        ),
                        HINT,
                    ));
                }
                let key = arc_key(&first.headers, key_dir)?;
                get(vec![
                    ("Metadata", "true".into()),
                    ("Authorization", format!("Basic {}", key.expose())),
                ])
                .await?
            }
        };
        if !resp.status.is_success() {
            let detail: String = serde_json::from_slice::<serde_json::Value>(&resp.body)
                .ok()
                .and_then(|v| {
                    v.get("error_description")
                        .or_else(|| v.get("message"))
                        .and_then(|m| m.as_str())
                        .map(|m| crate::text::sanitize(&m.chars().take(300).collect::<String>()))
                })
                .unwrap_or_default();
            return Err(auth_error(
                format!(
                    "{what} refused with HTTP {}{}",
                    resp.status.as_u16(),
                    if detail.is_empty() {
                        String::new()
                    } else {
                        format!(": {detail}")
                    }
                ),
                "check that the identity is enabled on this host (and, for a user-assigned one, AZURE_CLIENT_ID)",
            ));
        }
        parse(&resp.body, &what)
    }
}

/// Reads the token answer: `access_token` and `expires_on` (Unix seconds, number or string) or
/// `expires_in`.
fn parse(body: &[u8], what: &str) -> Result<Tokens, AuthError> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        auth_error(
            format!("{what} answered with something that is not JSON ({e})"),
            HINT,
        )
    })?;
    let token = v["access_token"].as_str().unwrap_or("");
    if !usable_token(token) {
        return Err(auth_error(
            format!("{what} gave no usable access token"),
            HINT,
        ));
    }
    let number = |x: &serde_json::Value| match x {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let expires_in = number(&v["expires_on"])
        .map(|on| on - now)
        .or_else(|| number(&v["expires_in"]))
        .filter(|s| s.is_finite())
        .map_or(3599, |s| s.clamp(0.0, u64::MAX as f64) as u64);
    Ok(Tokens {
        access_token: Secret::new(token),
        expires_in: expires_in.clamp(super::store::MIN_LIFETIME, super::store::MAX_LIFETIME),
        refresh_token: None,
    })
}

/// Arc's challenge: the key file named by `WWW-Authenticate: Basic realm=<path>`, read only
/// from `key_dir`, only a `.key` file of at most 4 KiB.
fn arc_key(headers: &reqwest::header::HeaderMap, key_dir: &Path) -> Result<Secret, AuthError> {
    let bad = |why: String| {
        auth_error(
            format!("Azure Arc's challenge can't be answered: {why}"),
            "run on an Arc-enabled server as a user in the himds group (or root)",
        )
    };
    let challenge = headers
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| bad("no WWW-Authenticate header".into()))?;
    let path = challenge
        .split_once("realm=")
        .map(|(_, p)| p.trim().trim_matches('"'))
        .filter(|p| !p.is_empty())
        .ok_or_else(|| bad("the header names no key file".into()))?;
    let path = Path::new(path);
    let dir = std::fs::canonicalize(key_dir).map_err(|e| {
        bad(format!(
            "the key folder {} is not readable ({e})",
            key_dir.display()
        ))
    })?;
    let file = std::fs::canonicalize(path)
        .map_err(|e| bad(format!("the key file is not readable ({e})")))?;
    if file.parent() != Some(dir.as_path())
        || file.extension().and_then(|e| e.to_str()) != Some("key")
    {
        return Err(bad(format!(
            "the key file {} is not a .key file in {}; it was not read",
            crate::text::sanitize(&path.display().to_string()),
            dir.display()
        )));
    }
    let meta = std::fs::metadata(&file).map_err(|e| bad(e.to_string()))?;
    if !meta.is_file() || meta.len() > MAX_KEY {
        return Err(bad(format!(
            "the key file is not a file of at most {MAX_KEY} bytes"
        )));
    }
    let key = std::fs::read_to_string(&file).map_err(|e| bad(e.to_string()))?;
    let key = key.trim();
    if !usable_token(key) {
        return Err(bad("the key file's content is not usable".into()));
    }
    Ok(Secret::new(key))
}
