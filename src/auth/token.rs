//! Requests to the Microsoft identity platform's v2 token endpoint, and its errors.

use reqwest::Method;
use serde::Deserialize;

use super::AuthError;
use super::endpoints::Endpoints;
use super::store::{MAX_LIFETIME, MIN_LIFETIME, usable_token};
use crate::diag::Log;
use crate::http::{Body, Failure, Http, Replay};
use crate::http::{ServiceError, ServiceKind};
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
    Other(AuthError),
}

impl TokenFailure {
    /// The failure as a user-facing error (exit 4 for OAuth errors).
    pub fn into_error(self, hint: &str) -> AuthError {
        match self {
            TokenFailure::OAuth(e, request_id) => AuthError::Service(ServiceError {
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

/// Turns a failed exchange into an error naming `what` (see [`crate::http::service_error`]).
pub fn unavailable(what: &str, failure: Failure) -> AuthError {
    AuthError::Service(crate::http::service_error(what, failure))
}

/// POSTs a form to `url` and reads tokens.
pub async fn post(
    http: &Http,
    url: &reqwest::Url,
    form: &[(&str, &str)],
    log: &Log,
) -> Result<Tokens, TokenFailure> {
    let resp = http
        .send(
            Method::POST,
            url,
            None,
            &[],
            Body::Form(form),
            true,
            Replay::Safe,
        )
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
            TokenFailure::Other(AuthError::Service(ServiceError {
                kind: ServiceKind::Auth,
                status: Some(resp.status.as_u16()),
                code: None,
                message: format!("the login endpoint's answer has no usable token ({e})"),
                request_id: request_id.clone(),
                hint: Some("check --authority-host".into()),
            }))
        })?;
        let unusable = |what: &str| {
            TokenFailure::Other(AuthError::Service(ServiceError {
                kind: ServiceKind::Auth,
                status: Some(resp.status.as_u16()),
                code: None,
                message: format!(
                    "the login endpoint returned an unusable {what} (empty, or with control characters); it was not used or saved"
                ),
                request_id: request_id.clone(),
                hint: Some("check --authority-host".into()),
            }))
        };
        if !usable_token(&body.access_token) {
            return Err(unusable("access token"));
        }
        if body
            .refresh_token
            .as_deref()
            .is_some_and(|t| !usable_token(t))
        {
            return Err(unusable("refresh token"));
        }
        let asked = match &body.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_f64(),
            Some(serde_json::Value::String(s)) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        let expires_in = match asked {
            Some(v) if v.is_finite() => (v.max(0.0).min(u64::MAX as f64)) as u64,
            _ => 3599,
        };
        let clamped = expires_in.clamp(MIN_LIFETIME, MAX_LIFETIME);
        if clamped != expires_in || asked.is_some_and(|v| !v.is_finite()) {
            log.log(
                1,
                &format!(
                    "the login endpoint's expires_in {} is outside 1 s – 24 h: using {clamped} s",
                    asked.map_or("?".into(), |v| v.to_string())
                ),
            );
        }
        let expires_in = clamped;
        return Ok(Tokens {
            access_token: Secret::new(body.access_token),
            expires_in,
            refresh_token: body.refresh_token.map(Secret::new),
        });
    }
    match serde_json::from_slice::<OAuthError>(&resp.body) {
        Ok(e) => Err(TokenFailure::OAuth(e, request_id)),
        Err(_) => Err(TokenFailure::Other(AuthError::Service(ServiceError {
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
