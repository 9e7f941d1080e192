//! Requests to the Microsoft identity platform's v2 token endpoint, and its errors.

use reqwest::Method;
use serde::Deserialize;

use super::endpoints::Endpoints;
use crate::directory::{DirectoryError, ServiceError, ServiceKind};
use crate::http::{Body, Failure, Http};
use crate::secret::Secret;

/// A successful token response.
#[derive(Debug)]
pub struct Tokens {
    pub access_token: Secret,
    pub expires_in: u64,
    pub refresh_token: Option<Secret>,
}

/// An OAuth error body: `error`, `error_description` (starts with the AADSTS code), codes.
#[derive(Debug, Clone, Deserialize)]
pub struct OAuthError {
    pub error: String,
    #[serde(default)]
    pub error_description: String,
    #[serde(default)]
    pub error_codes: Vec<u64>,
}

impl OAuthError {
    /// `AADSTS7000215` from the description or the codes.
    pub fn aadsts(&self) -> Option<String> {
        let from_text = self
            .error_description
            .split(|c: char| !c.is_ascii_alphanumeric())
            .find(|w| w.starts_with("AADSTS"))
            .map(str::to_string);
        from_text.or_else(|| self.error_codes.first().map(|c| format!("AADSTS{c}")))
    }

    /// The first line of the description (the rest is trace and correlation ids).
    pub fn summary(&self) -> &str {
        self.error_description.lines().next().unwrap_or("").trim()
    }
}

/// Why a token request failed.
#[derive(Debug)]
pub enum TokenFailure {
    /// The endpoint answered with an OAuth error.
    OAuth(OAuthError, Option<String>),
    /// Anything else (transport, unexpected body), already explained.
    Other(DirectoryError),
}

impl TokenFailure {
    /// The failure as a user-facing error (exit 4 for OAuth errors).
    pub fn into_error(self, hint: &str) -> DirectoryError {
        match self {
            TokenFailure::OAuth(e, request_id) => DirectoryError::Service(ServiceError {
                kind: ServiceKind::Auth,
                status: None,
                code: e.aadsts().or(Some(e.error.clone())),
                message: format!(
                    "token request failed: {}: {}",
                    e.error,
                    if e.summary().is_empty() {
                        "(no description)"
                    } else {
                        e.summary()
                    }
                ),
                request_id,
                hint: Some(hint.to_string()),
            }),
            TokenFailure::Other(e) => e,
        }
    }
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    refresh_token: Option<String>,
}

/// Turns a transport failure into an "unavailable" error naming the host.
pub fn unavailable(what: &str, failure: Failure) -> DirectoryError {
    let (message, status, request_id) = match failure {
        Failure::Exhausted { last, attempts } => (
            format!(
                "{what}: still HTTP {} after {attempts} attempts",
                last.status.as_u16()
            ),
            Some(last.status.as_u16()),
            last.request_id(),
        ),
        Failure::Transport { message, attempts } => (
            format!("{what}: {message} ({attempts} attempts)"),
            None,
            None,
        ),
    };
    DirectoryError::Service(ServiceError {
        kind: ServiceKind::Unavailable,
        status,
        code: None,
        message,
        request_id,
        hint: Some(
            "try again later; raise --timeout or --max-retries for slow or busy services".into(),
        ),
    })
}

/// POSTs a form to `url` and reads tokens.
pub async fn post(
    http: &Http,
    url: &reqwest::Url,
    form: &[(&str, &str)],
) -> Result<Tokens, TokenFailure> {
    let resp = http
        .send(Method::POST, url, None, &[], Body::Form(form), true)
        .await
        .map_err(|f| TokenFailure::Other(unavailable("login endpoint", f)))?;
    let request_id = resp
        .headers
        .get("x-ms-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| resp.request_id());
    if resp.status.is_success() {
        let body: TokenBody = serde_json::from_slice(&resp.body).map_err(|e| {
            TokenFailure::Other(DirectoryError::Service(ServiceError {
                kind: ServiceKind::Auth,
                status: Some(resp.status.as_u16()),
                code: None,
                message: format!("the login endpoint's answer has no usable token ({e})"),
                request_id: request_id.clone(),
                hint: Some("check --authority-host".into()),
            }))
        })?;
        let expires_in = match body.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_u64().unwrap_or(3599),
            Some(serde_json::Value::String(s)) => s.parse().unwrap_or(3599),
            _ => 3599,
        };
        return Ok(Tokens {
            access_token: Secret::new(body.access_token),
            expires_in,
            refresh_token: body.refresh_token.map(Secret::new),
        });
    }
    match serde_json::from_slice::<OAuthError>(&resp.body) {
        Ok(e) => Err(TokenFailure::OAuth(e, request_id)),
        Err(_) => Err(TokenFailure::Other(DirectoryError::Service(ServiceError {
            kind: ServiceKind::Auth,
            status: Some(resp.status.as_u16()),
            code: None,
            message: format!(
                "token request failed with HTTP {} and no OAuth error body",
                resp.status.as_u16()
            ),
            request_id,
            hint: Some("check --authority-host and AZURE_TENANT_ID".into()),
        }))),
    }
}

/// The token URL for `tenant`.
pub fn url(endpoints: &Endpoints, tenant: &str) -> reqwest::Url {
    endpoints.token_url(tenant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aadsts_code_is_found() {
        let e: OAuthError = serde_json::from_str(
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x","error_codes":[7000215]}"#,
        )
        .unwrap();
        assert_eq!(e.aadsts().as_deref(), Some("AADSTS7000215"));
        assert_eq!(
            e.summary(),
            "AADSTS7000215: Invalid client secret provided."
        );
    }
}
