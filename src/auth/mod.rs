//! Credentials for Microsoft Graph ([`credential`] chooses one; see its docs for the order)
//! and the [`TokenSource`] that keeps a run supplied with valid tokens.
//!
//! Tokens from every credential but a passthrough one are cached (0600) per credential kind,
//! tenant, client and cloud until shortly before they expire, so a script calling ssprctl 1,000
//! times asks for one token; the Azure CLI caches its own. Secrets are never taken from the
//! command line.

pub mod assertion;
pub mod azcli;
pub mod claims;
pub mod credential;
pub mod device;
pub mod endpoints;
pub mod federated;
pub mod managed;
pub mod permissions;
pub mod store;
pub mod token;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::diag::Log;
use crate::http::{Http, ServiceError, ServiceKind};
use crate::secret::Secret;
pub use credential::{Credential, CredentialKind, EnvCredentials, NO_CREDENTIAL_HINT};
use endpoints::Endpoints;
use store::Store;

/// Why no usable access token could be had. The directory layer turns it into its own error.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The login endpoint, a token provider or the credential's own files refused or failed.
    #[error("{}", .0.message)]
    Service(ServiceError),
    /// The passthrough access token expired; it can't be renewed.
    #[error("the access token in SSPRCTL_ACCESS_TOKEN expired at {at}")]
    TokenExpired { at: String },
}

/// An authentication failure (exit 4) with what to do next.
pub(crate) fn auth_error(message: String, hint: &str) -> AuthError {
    AuthError::Service(ServiceError {
        kind: ServiceKind::Auth,
        status: None,
        code: None,
        message,
        request_id: None,
        hint: Some(hint.to_string()),
    })
}

/// The token in hand, and what is known of its lifetime.
struct Held {
    token: Secret,
    /// `None`: unknown (an opaque passthrough token).
    expires_at: Option<SystemTime>,
    /// How long it lived when issued; renewal starts in its last quarter (at most 5 minutes).
    lifetime: Duration,
}

/// Hands out a valid access token for the whole run: renewed before it expires for every
/// credential that can be renewed (secret, certificate, saved login), and once more when Graph
/// rejects it. A passthrough token (`SSPRCTL_ACCESS_TOKEN`) can't be renewed: once it has
/// expired, [`TokenSource::token`] says so ([`AuthError::TokenExpired`]) rather than send it.
pub struct TokenSource {
    credential: Credential,
    endpoints: Endpoints,
    store: Store,
    http: Http,
    log: Log,
    held: tokio::sync::Mutex<Option<Held>>,
    /// Whom the token in hand acts for (delegated tokens), readable without waiting.
    caller: std::sync::Mutex<Option<String>>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}

/// The renewal margin for a token that lived `lifetime`: its last quarter, at most 5 minutes.
fn margin(lifetime: Duration) -> Duration {
    (lifetime / 4).min(store::EXPIRY_MARGIN)
}

impl TokenSource {
    /// A source for `credential`; the first token is fetched by [`TokenSource::token`].
    pub fn new(
        credential: Credential,
        endpoints: Endpoints,
        store: Store,
        http: Http,
        log: impl Into<Log>,
    ) -> Self {
        TokenSource {
            credential,
            endpoints,
            store,
            http,
            log: log.into(),
            held: tokio::sync::Mutex::new(None),
            caller: std::sync::Mutex::new(None),
        }
    }

    /// A source that only hands out `token` (a passthrough token, as from
    /// `SSPRCTL_ACCESS_TOKEN`): for library users and tests.
    pub fn fixed(token: Secret, http: Http, log: impl Into<Log>) -> Self {
        let endpoints =
            Endpoints::new(endpoints::Cloud::Global, None, None).expect("the built-in hosts parse");
        let store = Store {
            token_cache: PathBuf::new(),
            login: PathBuf::new(),
        };
        Self::new(Credential::AccessToken(token), endpoints, store, http, log)
    }

    /// The credential in use.
    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    /// The claims of the token in hand, when it is a JWT (after [`TokenSource::token`]).
    pub async fn claims(&self) -> Option<claims::Claims> {
        let held = self.held.lock().await;
        claims::Claims::of(held.as_ref()?.token.expose())
    }

    /// When the token in hand expires, when known.
    pub async fn expires_at(&self) -> Option<SystemTime> {
        self.held.lock().await.as_ref()?.expires_at
    }

    /// True for a passthrough token, which can't be renewed.
    pub fn passthrough(&self) -> bool {
        matches!(self.credential, Credential::AccessToken(_))
    }

    /// When the passthrough token expires, when it says (a JWT's `exp`).
    pub fn passthrough_expiry(&self) -> Option<SystemTime> {
        match &self.credential {
            Credential::AccessToken(t) => claims::Claims::of(t.expose())?.expires_at(),
            _ => None,
        }
    }

    /// The signed-in user's object id when the token in hand is delegated (a JWT with `scp`).
    pub fn caller(&self) -> Option<String> {
        self.caller
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Makes `h` the token in hand (and notes whom it acts for); returns the token.
    fn hold(&self, held: &mut Option<Held>, h: Held) -> Secret {
        let caller = claims::Claims::of(h.token.expose())
            .filter(claims::Claims::delegated)
            .and_then(|c| c.oid);
        *self.caller.lock().unwrap_or_else(|e| e.into_inner()) = caller;
        let token = h.token.clone();
        *held = Some(h);
        token
    }

    /// A token valid for a while yet: the one in hand, a cached one, or a new one.
    pub async fn token(&self) -> Result<Secret, AuthError> {
        let mut held = self.held.lock().await;
        let now = SystemTime::now();
        if let Some(h) = held.as_ref() {
            let fresh = h.expires_at.is_none_or(|at| {
                at.duration_since(now)
                    .is_ok_and(|left| left > margin(h.lifetime))
            });
            if fresh || self.passthrough() {
                self.check_passthrough(h)?;
                return Ok(h.token.clone());
            }
            self.log
                .log(1, "the access token expires soon: renewing it");
        }
        let h = self.acquire(held.is_none()).await?;
        Ok(self.hold(&mut held, h))
    }

    /// After Graph rejected `rejected` (401): forgets it and gets a new one, once per token.
    /// `Ok(None)` when the credential can't be renewed (a passthrough token).
    pub async fn renew(&self, rejected: &Secret) -> Result<Option<Secret>, AuthError> {
        if self.passthrough() {
            return Ok(None);
        }
        let mut held = self.held.lock().await;
        if let Some(h) = held.as_ref()
            && h.token != *rejected
        {
            // Someone else renewed it meanwhile.
            return Ok(Some(h.token.clone()));
        }
        if let Some(key) = self.credential.cache_key(&self.endpoints) {
            let _ = self.store.remove_token(&key);
        }
        self.log.log(
            1,
            "Microsoft Graph rejected the access token: getting a new one",
        );
        let h = self.acquire(false).await?;
        Ok(Some(self.hold(&mut held, h)))
    }

    /// Refuses a passthrough token past its expiry.
    fn check_passthrough(&self, h: &Held) -> Result<(), AuthError> {
        match h.expires_at {
            Some(at) if self.passthrough() && at <= SystemTime::now() => {
                Err(AuthError::TokenExpired {
                    at: claims::show_time(at),
                })
            }
            _ => Ok(()),
        }
    }

    /// A token from the credential: the passthrough one, a cached one (`from_cache`), or a
    /// new one from the login endpoint (then cached).
    async fn acquire(&self, from_cache: bool) -> Result<Held, AuthError> {
        let now = SystemTime::now();
        if let Credential::AccessToken(t) = &self.credential {
            let expires_at = claims::Claims::of(t.expose()).and_then(|c| c.expires_at());
            let h = Held {
                token: t.clone(),
                expires_at,
                lifetime: Duration::from_secs(3600),
            };
            self.check_passthrough(&h)?;
            return Ok(h);
        }
        let key = self.credential.cache_key(&self.endpoints);
        if from_cache
            && let Some(key) = &key
            && let Some((token, expires_at)) = self.store.cached_token(key)
        {
            self.log.log(1, "using a cached access token");
            let left = expires_at.duration_since(now).unwrap_or_default();
            return Ok(Held {
                token,
                expires_at: Some(expires_at),
                lifetime: left.max(store::EXPIRY_MARGIN * 4),
            });
        }
        let tokens = fetch(
            &self.credential,
            &self.endpoints,
            &self.store,
            &self.http,
            &self.log,
        )
        .await?;
        let lifetime = Duration::from_secs(tokens.expires_in);
        if let Some(key) = &key
            && let Err(e) = self
                .store
                .save_token(key, &tokens.access_token, tokens.expires_in)
        {
            self.log
                .log(1, &format!("could not cache the access token: {e}"));
        }
        Ok(Held {
            token: tokens.access_token,
            expires_at: now.checked_add(lifetime),
            lifetime,
        })
    }
}

/// Asks the login endpoint for a new access token with `credential` (not a passthrough one).
async fn fetch(
    credential: &Credential,
    endpoints: &Endpoints,
    store: &Store,
    http: &Http,
    log: &Log,
) -> Result<token::Tokens, AuthError> {
    match credential {
        Credential::AccessToken(_) => unreachable!("passthrough tokens are not fetched"),
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
            token::post(http, &url, &form, log).await.map_err(|e| {
                e.into_error("check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (secrets expire; create a new one in the app registration)")
            })
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
                    "AZURE_CLIENT_CERTIFICATE_PATH must name a PEM file with the certificate and its RSA private key, or a PKCS#12 (.pfx/.p12) file with both",
                )
            })?;
            let url = token::url(endpoints, tenant);
            let assertion = cert
                .assertion(client_id, url.as_str())
                .map_err(|e| auth_error(e.to_string(), "check the certificate's private key"))?;
            let hint = "check that the certificate is uploaded to the app registration named by AZURE_CLIENT_ID";
            post_assertion(http, endpoints, tenant, client_id, &assertion, log, hint).await
        }
        Credential::Federated {
            tenant,
            client_id,
            source,
        } => {
            // A fresh assertion for every token: files rotate, GitHub's live minutes.
            let assertion = source.get(http).await?;
            let hint = "check the app registration's federated credential: its issuer, subject (e.g. \
                        repo:ORG/REPO:ref:refs/heads/main) and audience api://AzureADTokenExchange must match";
            post_assertion(http, endpoints, tenant, client_id, &assertion, log, hint).await
        }
        Credential::ManagedIdentity(m) => m.token(http, endpoints.resource()).await,
        Credential::AzureCli { program, tenant } => {
            azcli::token(program, endpoints.resource(), tenant.as_deref()).await
        }
        Credential::Login(saved) => refresh_login(saved, endpoints, store, http, log).await,
    }
}

/// The client-credentials grant with a signed assertion (a certificate's or a federated one).
async fn post_assertion(
    http: &Http,
    endpoints: &Endpoints,
    tenant: &str,
    client_id: &str,
    assertion: &Secret,
    log: &Log,
    hint: &str,
) -> Result<token::Tokens, AuthError> {
    let url = token::url(endpoints, tenant);
    let form = [
        ("client_id", client_id),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion.expose()),
        ("grant_type", "client_credentials"),
        ("scope", endpoints.scope.as_str()),
    ];
    token::post(http, &url, &form, log)
        .await
        .map_err(|e| e.into_error(hint))
}

/// A new access token from the saved login's refresh token; the rotated refresh token is
/// saved for the next renewal.
async fn refresh_login(
    saved: &store::Login,
    endpoints: &Endpoints,
    store: &Store,
    http: &Http,
    log: &Log,
) -> Result<token::Tokens, AuthError> {
    // The refresh token rotates: a renewal later in the run uses the newest one.
    let newest = store.load_login().filter(|l| {
        l.tenant == saved.tenant && l.client_id == saved.client_id && l.cloud == saved.cloud
    });
    let login = newest.as_ref().unwrap_or(saved);
    let url = token::url(endpoints, &login.tenant);
    let scope = format!("{} offline_access", endpoints.scope);
    let form = [
        ("client_id", login.client_id.as_str()),
        ("grant_type", "refresh_token"),
        ("refresh_token", login.refresh_token.as_str()),
        ("scope", scope.as_str()),
    ];
    let tokens = token::post(http, &url, &form, log).await.map_err(|e| {
        e.into_error("the saved login has expired or was revoked: run `ssprctl login` again")
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
    Ok(tokens)
}
