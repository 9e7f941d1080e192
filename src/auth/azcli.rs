//! The Azure CLI's signed-in account: `az account get-access-token --resource {graph resource}
//! [--tenant T] --output json`, reading `accessToken` and `expires_on` (az ≥ 2.54; else
//! `expiresOn` is not trusted and the token is renewed after 5 minutes). The token never
//! reaches the output; az's own error (first line) does, for "az login" hints.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use super::AuthError;
use super::auth_error;
use super::store::usable_token;
use super::token::Tokens;
use crate::secret::Secret;

/// How long `az` may take (it may refresh its own token over the network).
const AZ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A token for `resource` from `az`.
pub async fn token(
    program: &Path,
    resource: &str,
    tenant: Option<&str>,
) -> Result<Tokens, AuthError> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args([
        "account",
        "get-access-token",
        "--resource",
        resource,
        "--output",
        "json",
    ]);
    if let Some(t) = tenant {
        cmd.args(["--tenant", t]);
    }
    cmd.stdin(std::process::Stdio::null()).kill_on_drop(true);
    let out = tokio::time::timeout(AZ_TIMEOUT, cmd.output())
        .await
        .map_err(|_| {
            auth_error(
                format!("the Azure CLI gave no answer within {} s", AZ_TIMEOUT.as_secs()),
                "run `az account get-access-token --resource-type ms-graph` to see what it waits for",
            )
        })?
        .map_err(|e| {
            auth_error(
                format!("can't run the Azure CLI ({}): {e}", program.display()),
                "install the Azure CLI (https://aka.ms/azcli), or choose another --credential",
            )
        })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("(no message)");
        let first = crate::text::sanitize(&first.chars().take(300).collect::<String>());
        let hint = if err.contains("az login") {
            "run `az login` (with --tenant for the tenant you manage), then try again"
        } else {
            "check `az account show`; `az login` signs in"
        };
        return Err(auth_error(
            format!("the Azure CLI could not get a token: {first}"),
            hint,
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        auth_error(
            format!("the Azure CLI's answer is not JSON ({e})"),
            "update the Azure CLI",
        )
    })?;
    let token = v["accessToken"].as_str().unwrap_or("");
    if !usable_token(token) {
        return Err(auth_error(
            "the Azure CLI returned no usable access token".into(),
            "run `az login` again",
        ));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let expires_in = match &v["expires_on"] {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    }
    .map_or(300, |on| on.saturating_sub(now));
    Ok(Tokens {
        access_token: Secret::new(token),
        expires_in: expires_in.clamp(super::store::MIN_LIFETIME, super::store::MAX_LIFETIME),
        refresh_token: None,
    })
}
