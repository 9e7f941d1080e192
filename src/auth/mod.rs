//! Credentials for Microsoft Graph. The first that applies wins:
//! 1. `SSPRCTL_ACCESS_TOKEN`, a bearer token obtained elsewhere;
//! 2. a client secret (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`);
//! 3. a certificate (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_CERTIFICATE_PATH`,
//!    optionally `AZURE_CLIENT_CERTIFICATE_PASSWORD`);
//! 4. the login saved by `ssprctl login` (device code flow), through its refresh token.
//!
//! Tokens from 2–4 are cached (0600) per credential kind, tenant, client and cloud until
//! shortly before they expire, so a script calling ssprctl 1,000 times asks for one token.
//! Secrets are never taken from the command line.

pub mod assertion;
pub mod device;
pub mod endpoints;
pub mod store;
pub mod token;

use std::path::PathBuf;

use crate::directory::{DirectoryError, ServiceError, ServiceKind};
use crate::http::Http;
use crate::output::Printer;
use crate::secret::Secret;
use endpoints::Endpoints;
use store::Store;

/// What the environment offers.
#[derive(Debug, Clone, Default)]
pub struct EnvCredentials {
    pub access_token: Option<Secret>,
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub certificate_path: Option<PathBuf>,
    pub certificate_password: Option<Secret>,
}

/// The credential in use.
#[derive(Debug)]
pub enum Credential {
    AccessToken(Secret),
    ClientSecret {
        tenant: String,
        client_id: String,
        secret: Secret,
    },
    Certificate {
        tenant: String,
        client_id: String,
        path: PathBuf,
        password: Option<Secret>,
    },
    Login(store::Login),
}

/// What to do when no credential applies.
pub const NO_CREDENTIAL_HINT: &str = "set SSPRCTL_ACCESS_TOKEN (e.g. from `az account get-access-token --resource-type ms-graph`), \
or AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, \
or AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_CERTIFICATE_PATH (+ AZURE_CLIENT_CERTIFICATE_PASSWORD), \
or run `ssprctl login --tenant T --client-id C`";

/// An authentication failure (exit 4) with what to do next.
pub(crate) fn auth_error(message: String, hint: &str) -> DirectoryError {
    DirectoryError::Service(ServiceError {
        kind: ServiceKind::Auth,
        status: None,
        code: None,
        message,
        request_id: None,
        hint: Some(hint.to_string()),
    })
}

impl Credential {
    /// Picks the credential (see the module docs for the order).
    pub fn choose(env: &EnvCredentials, store: &Store) -> Result<Self, DirectoryError> {
        if let Some(t) = &env.access_token {
            return Ok(Credential::AccessToken(t.clone()));
        }
        let app = env.client_secret.is_some() || env.certificate_path.is_some();
        if app {
            let missing: Vec<&str> = [
                ("AZURE_TENANT_ID", env.tenant_id.is_none()),
                ("AZURE_CLIENT_ID", env.client_id.is_none()),
            ]
            .iter()
            .filter(|(_, m)| *m)
            .map(|(n, _)| *n)
            .collect();
            if !missing.is_empty() {
                let what = if env.client_secret.is_some() {
                    "AZURE_CLIENT_SECRET"
                } else {
                    "AZURE_CLIENT_CERTIFICATE_PATH"
                };
                return Err(auth_error(
                    format!("{what} is set but {} is not", missing.join(" and ")),
                    "set AZURE_TENANT_ID and AZURE_CLIENT_ID to the app registration's tenant and application (client) id",
                ));
            }
            let tenant = env.tenant_id.clone().expect("checked");
            let client_id = env.client_id.clone().expect("checked");
            if let Some(secret) = &env.client_secret {
                return Ok(Credential::ClientSecret {
                    tenant,
                    client_id,
                    secret: secret.clone(),
                });
            }
            return Ok(Credential::Certificate {
                tenant,
                client_id,
                path: env.certificate_path.clone().expect("checked"),
                password: env.certificate_password.clone(),
            });
        }
        if let Some(login) = store.load_login() {
            return Ok(Credential::Login(login));
        }
        Err(auth_error(
            "no Microsoft Graph credential found".into(),
            NO_CREDENTIAL_HINT,
        ))
    }

    /// Which credential, for `-v`.
    pub fn describe(&self) -> String {
        match self {
            Credential::AccessToken(_) => "access token from SSPRCTL_ACCESS_TOKEN".into(),
            Credential::ClientSecret {
                tenant, client_id, ..
            } => format!("client secret for app {client_id} in tenant {tenant}"),
            Credential::Certificate {
                tenant,
                client_id,
                path,
                ..
            } => format!(
                "certificate {} for app {client_id} in tenant {tenant}",
                path.display()
            ),
            Credential::Login(l) => format!(
                "saved login (ssprctl login) for app {} in tenant {}",
                l.client_id, l.tenant
            ),
        }
    }

    /// The token cache key, for cacheable credentials.
    pub fn cache_key(&self, endpoints: &Endpoints) -> Option<String> {
        let (kind, tenant, client) = match self {
            Credential::AccessToken(_) => return None,
            Credential::ClientSecret {
                tenant, client_id, ..
            } => ("secret", tenant, client_id),
            Credential::Certificate {
                tenant, client_id, ..
            } => ("certificate", tenant, client_id),
            Credential::Login(l) => ("login", &l.tenant, &l.client_id),
        };
        Some(format!(
            "{kind}|{tenant}|{client}|{}|{}",
            endpoints.cloud.name(),
            endpoints.login
        ))
    }
}

/// A bearer token and the cache entry it came from (to forget it if Graph rejects it).
pub struct Token {
    pub secret: Secret,
    pub cache_key: Option<String>,
}

/// Gets an access token for `credential`, from the cache when possible.
pub async fn access_token(
    credential: &Credential,
    endpoints: &Endpoints,
    store: &Store,
    http: &Http,
    log: &Printer,
) -> Result<Token, DirectoryError> {
    log.log(1, &format!("credential: {}", credential.describe()));
    let key = credential.cache_key(endpoints);
    if let Credential::AccessToken(t) = credential {
        return Ok(Token {
            secret: t.clone(),
            cache_key: None,
        });
    }
    let key = key.expect("cacheable credential");
    if let Some(t) = store.cached_token(&key) {
        log.log(1, "using a cached access token");
        return Ok(Token {
            secret: t,
            cache_key: Some(key),
        });
    }
    let tokens = match credential {
        Credential::AccessToken(_) => unreachable!("returned above"),
        Credential::ClientSecret {
            tenant,
            client_id,
            secret,
        } => {
            let url = token::url(endpoints, tenant);
            let form = [
                ("client_id", client_id.as_str()),
                ("client_secret", secret.expose()),
                ("grant_type", "client_credentials"),
                ("scope", endpoints.scope.as_str()),
            ];
            token::post(http, &url, &form).await.map_err(|e| {
                e.into_error("check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (secrets expire; create a new one in the app registration)")
            })?
        }
        Credential::Certificate {
            tenant,
            client_id,
            path,
            password,
        } => {
            let cert = assertion::Certificate::load(path, password.as_ref()).map_err(|e| {
                auth_error(
                    e.to_string(),
                    "AZURE_CLIENT_CERTIFICATE_PATH must name a PEM file with the certificate and its RSA private key",
                )
            })?;
            let url = token::url(endpoints, tenant);
            let assertion = cert
                .assertion(client_id, url.as_str())
                .map_err(|e| auth_error(e.to_string(), "check the certificate's private key"))?;
            let form = [
                ("client_id", client_id.as_str()),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion.expose()),
                ("grant_type", "client_credentials"),
                ("scope", endpoints.scope.as_str()),
            ];
            token::post(http, &url, &form).await.map_err(|e| {
                e.into_error("check that the certificate is uploaded to the app registration named by AZURE_CLIENT_ID")
            })?
        }
        Credential::Login(login) => {
            let url = token::url(endpoints, &login.tenant);
            let scope = format!("{} offline_access", endpoints.scope);
            let form = [
                ("client_id", login.client_id.as_str()),
                ("grant_type", "refresh_token"),
                ("refresh_token", login.refresh_token.as_str()),
                ("scope", scope.as_str()),
            ];
            let tokens = token::post(http, &url, &form).await.map_err(|e| {
                e.into_error(
                    "the saved login has expired or was revoked: run `ssprctl login` again",
                )
            })?;
            if let Some(rt) = &tokens.refresh_token {
                let renewed = store::Login {
                    refresh_token: rt.expose().to_string(),
                    tenant: login.tenant.clone(),
                    client_id: login.client_id.clone(),
                    cloud: login.cloud.clone(),
                };
                if let Err(e) = store.save_login(&renewed) {
                    log.log(1, &format!("could not update the saved login: {e}"));
                }
            }
            tokens
        }
    };
    if let Err(e) = store.save_token(&key, &tokens.access_token, tokens.expires_in) {
        log.log(1, &format!("could not cache the access token: {e}"));
    }
    Ok(Token {
        secret: tokens.access_token,
        cache_key: Some(key),
    })
}
