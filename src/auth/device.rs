//! `ssprctl login`: the device code flow for an admin at a terminal. Prints the server's
//! message (code and URL) on stderr, polls as the server says (`authorization_pending`: wait
//! `interval`; `slow_down`: 5 s more; `authorization_declined`, `expired_token`,
//! `bad_verification_code`: stop), then saves the refresh token and caches the access token.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Deserialize;

use super::AuthError;
use super::auth_error;
use super::endpoints::Endpoints;
use super::store::{Login, Store};
use super::token::{self, TokenFailure};
use crate::diag::Log;
use crate::http::{Body, Http, Replay};

#[derive(Deserialize)]
struct DeviceCode {
    device_code: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    user_code: Option<String>,
    #[serde(default)]
    verification_uri: Option<String>,
    #[serde(default = "default_interval")]
    interval: u64,
    #[serde(default = "default_expiry")]
    expires_in: u64,
}

fn default_interval() -> u64 {
    5
}

fn default_expiry() -> u64 {
    900
}

/// Runs the flow and saves the login.
pub async fn login(
    tenant: &str,
    client_id: &str,
    endpoints: &Endpoints,
    store: &Store,
    http: &Http,
    printer: &Log,
) -> Result<(), AuthError> {
    let dc = request_code(tenant, client_id, endpoints, http).await?;
    // The user must see this even with --quiet: there is nothing to do without it.
    let message = dc.message.clone().unwrap_or_else(|| {
        format!(
            "To sign in, open {} and enter the code {}",
            dc.verification_uri
                .as_deref()
                .unwrap_or("the verification page"),
            dc.user_code.as_deref().unwrap_or("(none)")
        )
    });
    printer.prompt(&message);
    let tokens = poll(tenant, client_id, endpoints, http, printer, &dc).await?;
    let refresh = tokens.refresh_token.ok_or_else(|| {
        auth_error(
            "sign-in succeeded but no refresh token came back".into(),
            "the scope must include offline_access; check the app registration",
        )
    })?;
    let login = Login {
        tenant: tenant.to_string(),
        client_id: client_id.to_string(),
        cloud: endpoints.cloud.name().to_string(),
        refresh_token: refresh.expose().to_string(),
    };
    store.save_login(&login).map_err(|e| {
        auth_error(
            format!("can't save the login to {}: {e}", store.login.display()),
            "set SSPRCTL_HOME to a writable folder",
        )
    })?;
    let key = super::Credential::Login(login)
        .cache_key(endpoints)
        .expect("logins are cacheable");
    if let Err(e) = store.save_token(&key, &tokens.access_token, tokens.expires_in) {
        printer.log(1, &format!("could not cache the access token: {e}"));
    }
    Ok(())
}

/// Asks the login endpoint for a device code.
async fn request_code(
    tenant: &str,
    client_id: &str,
    endpoints: &Endpoints,
    http: &Http,
) -> Result<DeviceCode, AuthError> {
    let scope = format!("{} offline_access", endpoints.scope);
    let form = [("client_id", client_id), ("scope", scope.as_str())];
    let url = endpoints.device_code_url(tenant);
    let resp = http
        .send(
            Method::POST,
            &url,
            None,
            &[],
            Body::Form(&form),
            true,
            Replay::Safe,
        )
        .await
        .map_err(|f| token::unavailable("login endpoint", f))?;
    if !resp.status.is_success() {
        let e = serde_json::from_slice::<token::OAuthError>(&resp.body)
            .map(|e| TokenFailure::OAuth(e, resp.request_id()))
            .unwrap_or_else(|_| {
                TokenFailure::Other(auth_error(
                    format!(
                        "device code request failed with HTTP {}",
                        resp.status.as_u16()
                    ),
                    "check --tenant, --client-id and --authority-host",
                ))
            });
        return Err(e.into_error(
            "check --tenant and --client-id; the app registration must allow public client flows",
        ));
    }
    serde_json::from_slice(&resp.body).map_err(|e| {
        auth_error(
            format!("the device code answer is not understood ({e})"),
            "check --authority-host",
        )
    })
}

/// Polls the token endpoint as the server says until the admin has signed in.
async fn poll(
    tenant: &str,
    client_id: &str,
    endpoints: &Endpoints,
    http: &Http,
    printer: &Log,
    dc: &DeviceCode,
) -> Result<token::Tokens, AuthError> {
    // Server numbers are bounded before any clock arithmetic: at most an hour to sign in,
    // at most a minute between polls.
    let deadline = Instant::now() + Duration::from_secs(dc.expires_in.min(3600));
    let mut interval = Duration::from_secs(dc.interval.min(60));
    let token_url = endpoints.token_url(tenant);
    loop {
        if Instant::now() + interval > deadline {
            return Err(auth_error(
                "the device code expired before sign-in completed".into(),
                "run `ssprctl login` again and finish signing in within the time shown",
            ));
        }
        tokio::time::sleep(interval.max(Duration::from_millis(50))).await;
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", client_id),
            ("device_code", dc.device_code.as_str()),
        ];
        let e = match token::post(http, &token_url, &form, printer).await {
            Ok(tokens) => return Ok(tokens),
            Err(TokenFailure::Other(e)) => return Err(e),
            Err(TokenFailure::OAuth(e, rid)) => (e, rid),
        };
        match e.0.error.as_str() {
            "authorization_pending" => {
                printer.log(2, "authorization pending");
            }
            "slow_down" => {
                interval = (interval + Duration::from_secs(5)).min(Duration::from_secs(60));
                printer.log(1, "the server asked to slow down: polling 5 s less often");
            }
            "authorization_declined" => {
                return Err(TokenFailure::OAuth(e.0, e.1)
                    .into_error("sign-in was declined; run `ssprctl login` again to retry"));
            }
            "expired_token" => {
                return Err(TokenFailure::OAuth(e.0, e.1).into_error(
                    "the code expired; run `ssprctl login` again and finish within the time shown",
                ));
            }
            "bad_verification_code" => {
                return Err(TokenFailure::OAuth(e.0, e.1).into_error("run `ssprctl login` again"));
            }
            _ => {
                return Err(
                    TokenFailure::OAuth(e.0, e.1).into_error("check --tenant and --client-id")
                );
            }
        }
    }
}
