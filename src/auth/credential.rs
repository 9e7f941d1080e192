//! Which credential a run uses, from `--credential` (env `SSPRCTL_CREDENTIAL`) and what the
//! environment offers.
//!
//! `auto` takes the first that applies, in this order (azure-identity's, with ssprctl's own
//! passthrough token and saved login added):
//! 1. `SSPRCTL_ACCESS_TOKEN` (access-token);
//! 2. `AZURE_CLIENT_SECRET` (secret), then `AZURE_CLIENT_CERTIFICATE_PATH` (certificate);
//! 3. `AZURE_FEDERATED_TOKEN_FILE` (workload-identity);
//! 4. `ACTIONS_ID_TOKEN_REQUEST_URL` + `_TOKEN` (github-actions);
//! 5. `SYSTEM_OIDCREQUESTURI` + `SYSTEM_ACCESSTOKEN` + a service connection id (azure-pipelines);
//! 6. `IDENTITY_ENDPOINT` (managed-identity: App Service with `IDENTITY_HEADER`, Azure Arc with
//!    `IMDS_ENDPOINT`) — IMDS itself only when chosen explicitly, never probed;
//! 7. the login saved by `ssprctl login` (login);
//! 8. `az` on PATH (azure-cli).
//!
//! An explicit kind uses only that one and names exactly which variables it is missing.

use std::path::PathBuf;

use super::AuthError;
use super::endpoints::Endpoints;
use super::store::{self, Store};
use super::{auth_error, managed};
use crate::secret::Secret;

/// The credential kinds `--credential` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum CredentialKind {
    /// The first that applies, in the documented order.
    #[default]
    Auto,
    /// A bearer token obtained elsewhere: SSPRCTL_ACCESS_TOKEN.
    AccessToken,
    /// An app's client secret: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET.
    Secret,
    /// An app's certificate: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_CERTIFICATE_PATH.
    Certificate,
    /// Workload identity federation: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE.
    WorkloadIdentity,
    /// GitHub Actions OIDC (permissions: id-token: write) with AZURE_TENANT_ID, AZURE_CLIENT_ID.
    GithubActions,
    /// Azure Pipelines OIDC: SYSTEM_OIDCREQUESTURI, SYSTEM_ACCESSTOKEN, a service connection id.
    AzurePipelines,
    /// A managed identity (App Service/Functions, Azure Arc, or a VM's IMDS).
    ManagedIdentity,
    /// The Azure CLI's signed-in account (`az account get-access-token`).
    AzureCli,
    /// The login saved by `ssprctl login`.
    Login,
}

impl CredentialKind {
    pub fn name(self) -> &'static str {
        match self {
            CredentialKind::Auto => "auto",
            CredentialKind::AccessToken => "access-token",
            CredentialKind::Secret => "secret",
            CredentialKind::Certificate => "certificate",
            CredentialKind::WorkloadIdentity => "workload-identity",
            CredentialKind::GithubActions => "github-actions",
            CredentialKind::AzurePipelines => "azure-pipelines",
            CredentialKind::ManagedIdentity => "managed-identity",
            CredentialKind::AzureCli => "azure-cli",
            CredentialKind::Login => "login",
        }
    }
}

/// What the environment offers (read in the `settings` layer, the only place that reads it).
#[derive(Debug, Clone, Default)]
pub struct EnvCredentials {
    pub kind: CredentialKind,
    pub access_token: Option<Secret>,
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub certificate_path: Option<PathBuf>,
    pub certificate_password: Option<Secret>,
    pub federated_token_file: Option<PathBuf>,
    pub github_request_url: Option<String>,
    pub github_request_token: Option<Secret>,
    pub pipelines_request_uri: Option<String>,
    pub pipelines_access_token: Option<Secret>,
    pub pipelines_connection_id: Option<String>,
    pub identity_endpoint: Option<String>,
    pub identity_header: Option<Secret>,
    pub imds_endpoint: Option<String>,
    /// Where IMDS is (`AZURE_POD_IDENTITY_AUTHORITY_HOST`, azure-identity's override).
    pub imds_host: Option<String>,
    /// The folder Azure Arc's key files must be in.
    pub arc_key_dir: PathBuf,
    /// `az` found on PATH.
    pub az_program: Option<PathBuf>,
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
    /// A client assertion from a federated identity provider, fetched anew for every token.
    Federated {
        tenant: String,
        client_id: String,
        source: super::federated::Assertion,
    },
    ManagedIdentity(managed::Managed),
    AzureCli {
        program: PathBuf,
        tenant: Option<String>,
    },
    Login(store::Login),
}

/// The order `auto` tries the kinds in.
const AUTO_ORDER: [CredentialKind; 9] = [
    CredentialKind::AccessToken,
    CredentialKind::Secret,
    CredentialKind::Certificate,
    CredentialKind::WorkloadIdentity,
    CredentialKind::GithubActions,
    CredentialKind::AzurePipelines,
    CredentialKind::ManagedIdentity,
    CredentialKind::Login,
    CredentialKind::AzureCli,
];

/// What to do when no credential applies.
pub const NO_CREDENTIAL_HINT: &str = "set SSPRCTL_ACCESS_TOKEN; or AZURE_TENANT_ID and AZURE_CLIENT_ID with \
AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE; or run in GitHub Actions \
(permissions: id-token: write) or Azure Pipelines with AZURE_TENANT_ID and AZURE_CLIENT_ID; or use \
--credential managed-identity on Azure; or run `ssprctl login --tenant T --client-id C`; or sign in with `az login`";

/// The names in `vars` whose value is missing, or `Ok` when none is.
fn need(vars: &[(&'static str, bool)]) -> Result<(), Vec<&'static str>> {
    let missing: Vec<&str> = vars.iter().filter(|(_, m)| *m).map(|(n, _)| *n).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(missing)
    }
}

/// The variable that makes `kind` apply, and whether it is set.
fn trigger(kind: CredentialKind, env: &EnvCredentials) -> (&'static str, bool) {
    use CredentialKind as K;
    match kind {
        K::AccessToken => ("SSPRCTL_ACCESS_TOKEN", env.access_token.is_some()),
        K::Secret => ("AZURE_CLIENT_SECRET", env.client_secret.is_some()),
        K::Certificate => (
            "AZURE_CLIENT_CERTIFICATE_PATH",
            env.certificate_path.is_some(),
        ),
        K::WorkloadIdentity => (
            "AZURE_FEDERATED_TOKEN_FILE",
            env.federated_token_file.is_some(),
        ),
        K::GithubActions => (
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            env.github_request_url.is_some(),
        ),
        K::AzurePipelines => ("SYSTEM_OIDCREQUESTURI", env.pipelines_request_uri.is_some()),
        K::ManagedIdentity => ("IDENTITY_ENDPOINT", env.identity_endpoint.is_some()),
        K::Login => ("the saved login", true),
        K::AzureCli => ("az on PATH", env.az_program.is_some()),
        K::Auto => unreachable!("auto is an order, not a kind"),
    }
}

/// The tenant and client id, or the names of those not set.
fn app_ids(env: &EnvCredentials) -> Result<(String, String), Vec<&'static str>> {
    need(&[
        ("AZURE_TENANT_ID", env.tenant_id.is_none()),
        ("AZURE_CLIENT_ID", env.client_id.is_none()),
    ])
    .map(|()| {
        (
            env.tenant_id.clone().unwrap_or_default(),
            env.client_id.clone().unwrap_or_default(),
        )
    })
}

/// `what` needs the variables `names`, which are not set.
fn missing(what: &str, names: Vec<&str>, hint: &str) -> AuthError {
    auth_error(
        format!(
            "the {} credential needs {} (not set)",
            what,
            names.join(" and ")
        ),
        hint,
    )
}

impl Credential {
    /// Picks the credential (see the module docs for the order). Also says why, for `-v`.
    pub fn choose(env: &EnvCredentials, store: &Store) -> Result<(Self, String), AuthError> {
        use CredentialKind as K;
        let explicit = env.kind != K::Auto;
        let single = [env.kind];
        let order: &[K] = if explicit { &single } else { &AUTO_ORDER };
        for &kind in order {
            match Self::try_kind(kind, env, store, explicit) {
                Ok(Some((c, why))) => {
                    let why = if explicit {
                        format!("--credential {} ({why})", kind.name())
                    } else {
                        format!("the first that applies: {why}")
                    };
                    return Ok((c, why));
                }
                Ok(None) => {}
                Err(e) => return Err(e),
            }
        }
        Err(auth_error(
            "no Microsoft Graph credential found".into(),
            NO_CREDENTIAL_HINT,
        ))
    }

    /// `kind` if the environment offers it: `Ok(None)` when it doesn't apply (auto moves on),
    /// an error naming what is missing when it partly applies or was chosen explicitly.
    fn try_kind(
        kind: CredentialKind,
        env: &EnvCredentials,
        store: &Store,
        explicit: bool,
    ) -> Result<Option<(Self, String)>, AuthError> {
        use CredentialKind as K;
        let (trigger, present) = trigger(kind, env);
        if !present && !explicit && kind != K::Login {
            return Ok(None);
        }
        let credential = match kind {
            K::AccessToken => match &env.access_token {
                Some(t) => Credential::AccessToken(t.clone()),
                None => {
                    return Err(missing(
                        "access-token",
                        vec!["SSPRCTL_ACCESS_TOKEN"],
                        "e.g. SSPRCTL_ACCESS_TOKEN=$(az account get-access-token --resource-type ms-graph --query accessToken -o tsv)",
                    ));
                }
            },
            K::Secret | K::Certificate | K::WorkloadIdentity => {
                Self::app(kind, env, trigger, present)?
            }
            K::GithubActions => Self::github(env)?,
            K::AzurePipelines => Self::pipelines(env)?,
            K::ManagedIdentity => Credential::ManagedIdentity(managed::Managed::from_env(env)?),
            K::Login => match store.load_login() {
                Some(l) => Credential::Login(l),
                None if explicit => {
                    return Err(auth_error(
                        "--credential login: no saved login".into(),
                        "run `ssprctl login --tenant T --client-id C` first",
                    ));
                }
                None => return Ok(None),
            },
            K::AzureCli => match &env.az_program {
                Some(p) => Credential::AzureCli {
                    program: p.clone(),
                    tenant: env.tenant_id.clone(),
                },
                None => {
                    return Err(auth_error(
                        "--credential azure-cli: `az` is not on PATH".into(),
                        "install the Azure CLI (https://aka.ms/azcli) and run `az login`, or choose another --credential",
                    ));
                }
            },
            K::Auto => unreachable!("auto is an order, not a kind"),
        };
        Ok(Some((credential, format!("{trigger} is set"))))
    }

    /// An app registration's own credential: a client secret, a certificate or a federated
    /// token file, with the tenant and client id.
    fn app(
        kind: CredentialKind,
        env: &EnvCredentials,
        trigger: &str,
        present: bool,
    ) -> Result<Self, AuthError> {
        use CredentialKind as K;
        let ids_hint = "set AZURE_TENANT_ID and AZURE_CLIENT_ID to the app registration's tenant and application (client) id";
        if !present {
            return Err(missing(kind.name(), vec![trigger], ids_hint));
        }
        let (tenant, client_id) = app_ids(env).map_err(|names| {
            auth_error(
                format!("{trigger} is set but {} is not", names.join(" and ")),
                ids_hint,
            )
        })?;
        Ok(match kind {
            K::Secret => Credential::ClientSecret {
                tenant,
                client_id,
                secret: env.client_secret.clone().expect("present"),
            },
            K::Certificate => Credential::Certificate {
                tenant,
                client_id,
                path: env.certificate_path.clone().expect("present"),
                password: env.certificate_password.clone(),
            },
            _ => Credential::Federated {
                tenant,
                client_id,
                source: super::federated::Assertion::File(
                    env.federated_token_file.clone().expect("present"),
                ),
            },
        })
    }

    /// GitHub Actions' OIDC token, exchanged for the app's.
    fn github(env: &EnvCredentials) -> Result<Self, AuthError> {
        if let Err(names) = need(&[
            (
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                env.github_request_url.is_none(),
            ),
            (
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                env.github_request_token.is_none(),
            ),
            ("AZURE_TENANT_ID", env.tenant_id.is_none()),
            ("AZURE_CLIENT_ID", env.client_id.is_none()),
        ]) {
            return Err(missing(
                "github-actions",
                names,
                "give the job `permissions: id-token: write` (GitHub sets ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN) \
                 and set AZURE_TENANT_ID and AZURE_CLIENT_ID to the app with a federated credential for this repository",
            ));
        }
        let (tenant, client_id) = app_ids(env).expect("checked");
        Ok(Credential::Federated {
            tenant,
            client_id,
            source: super::federated::Assertion::Github {
                url: env.github_request_url.clone().expect("checked"),
                token: env.github_request_token.clone().expect("checked"),
            },
        })
    }

    /// Azure Pipelines' OIDC token (a workload-identity service connection).
    fn pipelines(env: &EnvCredentials) -> Result<Self, AuthError> {
        if let Err(names) = need(&[
            ("SYSTEM_OIDCREQUESTURI", env.pipelines_request_uri.is_none()),
            ("SYSTEM_ACCESSTOKEN", env.pipelines_access_token.is_none()),
            (
                "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID",
                env.pipelines_connection_id.is_none(),
            ),
            ("AZURE_TENANT_ID", env.tenant_id.is_none()),
            ("AZURE_CLIENT_ID", env.client_id.is_none()),
        ]) {
            return Err(missing(
                "azure-pipelines",
                names,
                "map SYSTEM_ACCESSTOKEN into the step's env (env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)) and \
                 set AZURESUBSCRIPTION_SERVICE_CONNECTION_ID, AZURE_TENANT_ID and AZURE_CLIENT_ID from the \
                 workload-identity service connection",
            ));
        }
        let (tenant, client_id) = app_ids(env).expect("checked");
        Ok(Credential::Federated {
            tenant,
            client_id,
            source: super::federated::Assertion::Pipelines {
                uri: env.pipelines_request_uri.clone().expect("checked"),
                token: env.pipelines_access_token.clone().expect("checked"),
                connection: env.pipelines_connection_id.clone().expect("checked"),
            },
        })
    }

    /// The kind, as `--credential` names it.
    pub fn kind(&self) -> CredentialKind {
        match self {
            Credential::AccessToken(_) => CredentialKind::AccessToken,
            Credential::ClientSecret { .. } => CredentialKind::Secret,
            Credential::Certificate { .. } => CredentialKind::Certificate,
            Credential::Federated { source, .. } => source.kind(),
            Credential::ManagedIdentity(_) => CredentialKind::ManagedIdentity,
            Credential::AzureCli { .. } => CredentialKind::AzureCli,
            Credential::Login(_) => CredentialKind::Login,
        }
    }

    /// Which credential, for `-v` and `auth status` (never a secret).
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
            Credential::Federated {
                tenant,
                client_id,
                source,
            } => format!(
                "{} for app {client_id} in tenant {tenant}",
                source.describe()
            ),
            Credential::ManagedIdentity(m) => m.describe(),
            Credential::AzureCli { tenant, .. } => format!(
                "the Azure CLI's signed-in account{}",
                tenant
                    .as_ref()
                    .map_or(String::new(), |t| format!(" in tenant {t}"))
            ),
            Credential::Login(l) => format!(
                "saved login (ssprctl login) for app {} in tenant {}",
                l.client_id, l.tenant
            ),
        }
    }

    /// The tenant and app the credential names, where it names them.
    pub fn tenant_and_client(&self) -> (Option<&str>, Option<&str>) {
        match self {
            Credential::ClientSecret {
                tenant, client_id, ..
            }
            | Credential::Certificate {
                tenant, client_id, ..
            }
            | Credential::Federated {
                tenant, client_id, ..
            } => (Some(tenant), Some(client_id)),
            Credential::Login(l) => (Some(&l.tenant), Some(&l.client_id)),
            Credential::ManagedIdentity(m) => (None, m.client_id()),
            Credential::AzureCli { tenant, .. } => (tenant.as_deref(), None),
            Credential::AccessToken(_) => (None, None),
        }
    }

    /// The token cache key, for credentials whose tokens ssprctl caches (not a passthrough
    /// token, and not the Azure CLI's, which az caches itself).
    pub fn cache_key(&self, endpoints: &Endpoints) -> Option<String> {
        let (kind, tenant, client) = match self {
            Credential::AccessToken(_) | Credential::AzureCli { .. } => return None,
            Credential::ClientSecret {
                tenant, client_id, ..
            } => ("secret", tenant.as_str(), client_id.as_str()),
            Credential::Certificate {
                tenant, client_id, ..
            } => ("certificate", tenant.as_str(), client_id.as_str()),
            Credential::Federated {
                tenant,
                client_id,
                source,
            } => (source.kind().name(), tenant.as_str(), client_id.as_str()),
            Credential::ManagedIdentity(m) => (
                "managed-identity",
                m.source_name(),
                m.client_id().unwrap_or("system"),
            ),
            Credential::Login(l) => ("login", l.tenant.as_str(), l.client_id.as_str()),
        };
        Some(format!(
            "{kind}|{tenant}|{client}|{}|{}",
            endpoints.cloud.name(),
            endpoints.login
        ))
    }
}
