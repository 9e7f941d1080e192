//! Client assertions from a federated identity provider, for workload identity federation:
//! a Kubernetes/CI token file (`AZURE_FEDERATED_TOKEN_FILE`), GitHub Actions' OIDC token, or
//! Azure Pipelines' OIDC token. Each is fetched anew for every Entra token request: the file is
//! rotated, and GitHub's tokens live about five minutes (caching one is how long jobs fail).
//! The provider's own bearer token (`ACTIONS_ID_TOKEN_REQUEST_TOKEN`, `SYSTEM_ACCESSTOKEN`)
//! goes only to the provider's URL, never follows a redirect, and is never printed.

use std::path::PathBuf;

use reqwest::{Method, Url};

use super::AuthError;
use super::auth_error;
use super::credential::CredentialKind;
use super::endpoints::is_loopback;
use super::store::usable_token;
use crate::http::{Body, Http, Replay};
use crate::secret::Secret;

/// The audience Entra expects of a federated assertion.
pub const AUDIENCE: &str = "api://AzureADTokenExchange";
/// Largest assertion read from a file.
const MAX_ASSERTION: u64 = 64 * 1024;

/// Where a client assertion comes from.
#[derive(Debug, Clone)]
pub enum Assertion {
    /// A file holding the assertion (re-read every time).
    File(PathBuf),
    /// GitHub Actions: `GET {url}&audience=api://AzureADTokenExchange` with the request token.
    Github { url: String, token: Secret },
    /// Azure Pipelines: `POST {uri}?api-version=7.1&serviceConnectionId={connection}`.
    Pipelines {
        uri: String,
        token: Secret,
        connection: String,
    },
}

/// A provider URL: https, or http to this machine (test stand-ins).
fn provider_url(var: &str, raw: &str) -> Result<Url, AuthError> {
    let url = Url::parse(raw.trim()).map_err(|e| {
        auth_error(
            format!("{var} is not a URL ({e})"),
            "it is set by the CI system; don't set it by hand",
        )
    })?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        _ => Err(auth_error(
            format!("{var} must be an https:// URL (a token is sent to it)"),
            "it is set by the CI system; don't set it by hand",
        )),
    }
}

impl Assertion {
    pub fn kind(&self) -> CredentialKind {
        match self {
            Assertion::File(_) => CredentialKind::WorkloadIdentity,
            Assertion::Github { .. } => CredentialKind::GithubActions,
            Assertion::Pipelines { .. } => CredentialKind::AzurePipelines,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Assertion::File(p) => format!("workload identity (assertion file {})", p.display()),
            Assertion::Github { .. } => "GitHub Actions OIDC token".into(),
            Assertion::Pipelines { connection, .. } => {
                format!("Azure Pipelines OIDC token (service connection {connection})")
            }
        }
    }

    /// A fresh assertion.
    pub async fn get(&self, http: &Http) -> Result<Secret, AuthError> {
        let (value, what) = match self {
            Assertion::File(path) => (read_file(path)?, "AZURE_FEDERATED_TOKEN_FILE"),
            Assertion::Github { url, token } => {
                let mut url = provider_url("ACTIONS_ID_TOKEN_REQUEST_URL", url)?;
                url.query_pairs_mut().append_pair("audience", AUDIENCE);
                let body = request(http, Method::GET, &url, token, &[], "GitHub's OIDC token endpoint",
                    "the workflow needs `permissions: id-token: write`; the request token lives only as long as the job").await?;
                (field(&body, "value"), "GitHub's OIDC token endpoint")
            }
            Assertion::Pipelines {
                uri,
                token,
                connection,
            } => {
                let mut url = provider_url("SYSTEM_OIDCREQUESTURI", uri)?;
                url.query_pairs_mut()
                    .append_pair("api-version", "7.1")
                    .append_pair("serviceConnectionId", connection);
                // As azure-identity does: an auth failure is then a 401 to explain, not a
                // redirect to a sign-in page.
                let suppress = [("X-TFS-FedAuthRedirect", "Suppress")];
                let body = request(http, Method::POST, &url, token, &suppress, "Azure Pipelines' OIDC endpoint",
                    "map SYSTEM_ACCESSTOKEN into the step (env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)) and check the service connection id").await?;
                (field(&body, "oidcToken"), "Azure Pipelines' OIDC endpoint")
            }
        };
        match value {
            Some(v) if usable_token(&v) => Ok(Secret::new(v)),
            _ => Err(auth_error(
                format!(
                    "{what} gave no usable token (empty, or with spaces or control characters)"
                ),
                "check the identity provider's configuration",
            )),
        }
    }
}

fn field(body: &serde_json::Value, name: &str) -> Option<String> {
    body.get(name).and_then(|v| v.as_str()).map(str::to_string)
}

/// Reads an assertion file: a regular file of at most 64 KiB (a larger one is refused, never
/// cut), trimmed.
fn read_file(path: &std::path::Path) -> Result<Option<String>, AuthError> {
    let text = crate::file::read_bounded_text(path, MAX_ASSERTION).map_err(|e| {
        auth_error(
            format!("AZURE_FEDERATED_TOKEN_FILE {}: {e}", path.display()),
            "the file is written by the platform (e.g. the Kubernetes workload identity webhook); check the path",
        )
    })?;
    Ok(Some(text.trim().to_string()))
}

/// Sends the provider request and reads its JSON answer.
async fn request(
    http: &Http,
    method: Method,
    url: &Url,
    token: &Secret,
    headers: &[(&str, &str)],
    what: &str,
    hint: &str,
) -> Result<serde_json::Value, AuthError> {
    let body = serde_json::json!({});
    let resp = http
        .send(
            method.clone(),
            url,
            Some(token),
            headers,
            if method == Method::POST {
                Body::Json(&body)
            } else {
                Body::None
            },
            false,
            Replay::Safe,
        )
        .await
        .map_err(|f| super::token::unavailable(what, f))?;
    if !resp.status.is_success() {
        return Err(auth_error(
            format!(
                "{what} refused the request with HTTP {}",
                resp.status.as_u16()
            ),
            hint,
        ));
    }
    serde_json::from_slice(&resp.body).map_err(|e| {
        auth_error(
            format!("{what} answered with something that is not JSON ({e})"),
            hint,
        )
    })
}
