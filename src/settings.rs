//! The resolve step: turns parsed arguments and the environment into settings. This is the only
//! place that reads environment variables (besides clap's declared `env` fallbacks) or asks
//! whether stdout is a terminal.

use std::io::IsTerminal;
use std::path::PathBuf;

use std::time::Duration;

use crate::auth::EnvCredentials;
use crate::auth::endpoints::{Cloud, Endpoints};
use crate::auth::store::Store;
use crate::cli::{Format, GlobalArgs, PhoneArgs, PhoneCheckArg};
use crate::error::CliError;
use crate::http::RetryPolicy;
use crate::phone::{PhoneCheck, PhoneOptions, RegionCode};
use crate::secret::Secret;

/// The directory schemes `--directory` accepts.
pub const SCHEMES: &str = "local, local:PATH, graph";

/// Which directory to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectorySpec {
    /// The default local directory; seeded with the sample tenant when first created.
    LocalDefault(PathBuf),
    /// A local directory file; created empty when missing.
    LocalPath(PathBuf),
    /// A tenant through Microsoft Graph.
    Graph,
}

/// How to reach Microsoft Graph and with which credentials.
#[derive(Debug, Clone)]
pub struct GraphSettings {
    pub endpoints: Endpoints,
    /// True when `--cloud` (or `SSPRCTL_CLOUD`) was given: a saved login in another cloud is
    /// then an error rather than followed.
    pub cloud_explicit: bool,
    /// The host overrides, to rebuild the endpoints for a saved login's cloud.
    pub graph_url: Option<String>,
    pub authority_host: Option<String>,
    pub policy: RetryPolicy,
    pub credentials: EnvCredentials,
    pub store: Store,
}

/// Everything the commands need to know besides their own arguments.
#[derive(Debug, Clone)]
pub struct Settings {
    pub directory: DirectorySpec,
    pub format: Format,
    pub select: Option<String>,
    pub quiet: bool,
    pub verbose: u8,
    pub graph: GraphSettings,
    /// Whether stderr is a terminal (progress bars).
    pub stderr_tty: bool,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Settings {
    pub fn resolve(g: &GlobalArgs) -> Result<Self, CliError> {
        let home = std::env::var_os("SSPRCTL_HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from);
        let endpoints = Endpoints::new(
            g.cloud.unwrap_or(Cloud::Global),
            g.graph_url.as_deref(),
            g.authority_host.as_deref(),
        )
        .map_err(|e| {
            CliError::usage("invalid_url", e.to_string())
                .with_hint("give an https:// URL (http:// only to 127.0.0.1, ::1 or localhost)")
        })?;
        let total = Duration::from_secs_f64(g.timeout);
        let graph = GraphSettings {
            endpoints,
            cloud_explicit: g.cloud.is_some(),
            graph_url: g.graph_url.clone(),
            authority_host: g.authority_host.clone(),
            policy: RetryPolicy {
                max_retries: g.max_retries,
                total,
                per_request: RetryPolicy::default().per_request.min(total),
                base_delay: RetryPolicy::default().base_delay,
            },
            credentials: EnvCredentials {
                kind: g.credential,
                access_token: env("SSPRCTL_ACCESS_TOKEN").map(Secret::new),
                // Azure Pipelines' AzureCLI task names them AZURESUBSCRIPTION_*.
                tenant_id: env("AZURE_TENANT_ID").or_else(|| env("AZURESUBSCRIPTION_TENANT_ID")),
                client_id: env("AZURE_CLIENT_ID").or_else(|| env("AZURESUBSCRIPTION_CLIENT_ID")),
                client_secret: env("AZURE_CLIENT_SECRET").map(Secret::new),
                certificate_path: env("AZURE_CLIENT_CERTIFICATE_PATH").map(PathBuf::from),
                certificate_password: env("AZURE_CLIENT_CERTIFICATE_PASSWORD").map(Secret::new),
                federated_token_file: env("AZURE_FEDERATED_TOKEN_FILE").map(PathBuf::from),
                github_request_url: env("ACTIONS_ID_TOKEN_REQUEST_URL"),
                github_request_token: env("ACTIONS_ID_TOKEN_REQUEST_TOKEN").map(Secret::new),
                pipelines_request_uri: env("SYSTEM_OIDCREQUESTURI"),
                pipelines_access_token: env("SYSTEM_ACCESSTOKEN").map(Secret::new),
                pipelines_connection_id: env("AZURESUBSCRIPTION_SERVICE_CONNECTION_ID"),
                identity_endpoint: env("IDENTITY_ENDPOINT"),
                identity_header: env("IDENTITY_HEADER").map(Secret::new),
                imds_endpoint: env("IMDS_ENDPOINT"),
                imds_host: env("AZURE_POD_IDENTITY_AUTHORITY_HOST"),
                // Tests stand a temp folder in for Arc's documented one.
                arc_key_dir: env("SSPRCTL_ARC_KEY_DIR").map_or_else(
                    || PathBuf::from(crate::auth::managed::ARC_KEY_DIR),
                    PathBuf::from,
                ),
                az_program: on_path("az"),
            },
            store: store(home.clone())?,
        };
        Ok(Settings {
            stderr_tty: std::io::stderr().is_terminal(),
            graph,
            directory: parse_directory(g.directory.as_deref().unwrap_or("local"), home)?,
            format: resolve_format(g),
            select: g.select.clone(),
            quiet: g.quiet,
            verbose: g.verbose,
        })
    }

    /// True when errors should also be written as JSON.
    pub fn json_errors(&self) -> bool {
        is_json(self.format)
    }
}

/// The first `name` on PATH that is an executable file.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::metadata(p)
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            }
            #[cfg(not(unix))]
            {
                p.is_file()
            }
        })
}

/// The output format: `--output`/`SSPRCTL_OUTPUT`, else a table on a terminal and JSON when piped.
pub fn resolve_format(g: &GlobalArgs) -> Format {
    g.output.unwrap_or(if std::io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Json
    })
}

/// Where the default local directory lives.
fn default_directory(home: Option<PathBuf>) -> Result<PathBuf, CliError> {
    let base = match home {
        Some(h) => h,
        None => dirs::data_dir().map(|d| d.join("ssprctl")).ok_or_else(|| {
            CliError::usage("no_data_dir", "can't find this platform's data directory")
                .with_hint("set SSPRCTL_HOME to a folder, or use --directory local:PATH")
        })?,
    };
    Ok(base.join("directory.db"))
}

/// Where saved logins and cached tokens live: `$SSPRCTL_HOME`, else the platform's config
/// (login) and cache (tokens) directories.
fn store(home: Option<PathBuf>) -> Result<Store, CliError> {
    let missing = || {
        CliError::usage(
            "no_data_dir",
            "can't find this platform's config or cache directory",
        )
        .with_hint("set SSPRCTL_HOME to a folder")
    };
    Ok(match home {
        Some(h) => Store {
            token_cache: h.join("tokens.json"),
            login: h.join("login.json"),
        },
        None => Store {
            token_cache: dirs::cache_dir()
                .ok_or_else(missing)?
                .join("ssprctl/tokens.json"),
            login: dirs::config_dir()
                .ok_or_else(missing)?
                .join("ssprctl/login.json"),
        },
    })
}

fn parse_directory(spec: &str, home: Option<PathBuf>) -> Result<DirectorySpec, CliError> {
    let spec = spec.trim();
    if spec.eq_ignore_ascii_case("local") {
        return Ok(DirectorySpec::LocalDefault(default_directory(home)?));
    }
    if spec.eq_ignore_ascii_case("graph") {
        return Ok(DirectorySpec::Graph);
    }
    match spec.split_once(':') {
        Some((scheme, path)) if scheme.eq_ignore_ascii_case("local") && !path.is_empty() => {
            Ok(DirectorySpec::LocalPath(PathBuf::from(path)))
        }
        _ => Err(
            CliError::usage("unknown_directory", format!("unknown directory \"{spec}\""))
                .with_hint(format!("--directory takes one of: {SCHEMES}")),
        ),
    }
}

/// True for the formats whose errors are also written as a JSON line.
pub fn is_json(format: Format) -> bool {
    matches!(format, Format::Json | Format::Jsonl)
}

/// Phone options from `--default-region` and `--phone-check`.
pub fn phone_options(a: &PhoneArgs) -> Result<PhoneOptions, CliError> {
    let default_region = match &a.default_region {
        None => None,
        Some(r) => Some(RegionCode::parse(r).ok_or_else(|| {
            CliError::usage(
                "invalid_region",
                format!("invalid --default-region \"{r}\": not a region the phone metadata knows"),
            )
            .with_hint("use a two-letter ISO 3166 code such as US, GB, DE or IT")
        })?),
    };
    Ok(PhoneOptions {
        default_region,
        check: match a.phone_check {
            PhoneCheckArg::Strict => PhoneCheck::Strict,
            PhoneCheckArg::Length => PhoneCheck::Length,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_specs() {
        let home = Some(PathBuf::from("/h"));
        assert_eq!(
            parse_directory("local", home.clone()).unwrap(),
            DirectorySpec::LocalDefault(PathBuf::from("/h/directory.db"))
        );
        assert_eq!(
            parse_directory("local:/tmp/x.db", None).unwrap(),
            DirectorySpec::LocalPath(PathBuf::from("/tmp/x.db"))
        );
        let e = parse_directory("ldap:x", home).unwrap_err();
        assert_eq!(e.code, "unknown_directory");
        assert!(e.hint.unwrap().contains("local:PATH, graph"));
        assert_eq!(
            parse_directory("GRAPH", None).unwrap(),
            DirectorySpec::Graph
        );
    }
}
