//! The resolve step: turns parsed arguments and the environment into settings. This is the only
//! place that reads environment variables (besides clap's declared `env` fallbacks of
//! `--output` and `login`'s options) or asks whether stdout is a terminal. A flag wins over its
//! variable: `--directory` over `SSPRCTL_DIRECTORY`, `--cloud` over `SSPRCTL_CLOUD`,
//! `--credential` over `SSPRCTL_CREDENTIAL`, `--graph-url` over `SSPRCTL_GRAPH_URL` and
//! `--authority-host` over `AZURE_AUTHORITY_HOST`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::ValueEnum;

use crate::auth::EnvCredentials;
use crate::auth::endpoints::{Cloud, Endpoints};
use crate::auth::store::Store;
use crate::cli::{Format, GlobalArgs, PhoneArgs, PhoneCheckArg};
use crate::error::CliError;
use crate::http::RetryPolicy;
use crate::phone::{PhoneCheck, PhoneOptions, RegionCode};
use crate::secret::Secret;

/// The directory schemes `--directory` accepts.
pub const SCHEMES: &str = "local, local:PATH, graph, ldaps://HOST[:PORT], ldap://HOST[:PORT]";

/// Which directory to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectorySpec {
    /// The default local directory; seeded with the sample tenant when first created.
    LocalDefault(PathBuf),
    /// A local directory file; created empty when missing.
    LocalPath(PathBuf),
    /// A tenant through Microsoft Graph.
    Graph,
    /// An Active Directory domain controller over LDAPS or LDAP + StartTLS.
    Ldap(LdapSettings),
    /// Hybrid mode: a tenant, and the domain controller its synchronised users come from.
    Hybrid(LdapSettings),
}

pub use crate::directory::ad::{DEFAULT_LDAP_FILTER, LdapAuth, LdapSettings};

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
    pub quiet: bool,
    pub verbose: u8,
    pub graph: GraphSettings,
    /// Whether stderr is a terminal (progress bars).
    pub stderr_tty: bool,
    /// stdout's terminal width (`COLUMNS`, else the terminal's); `None` when piped.
    pub table_width: Option<usize>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Settings {
    pub fn resolve(g: &GlobalArgs) -> Result<Self, CliError> {
        let home = std::env::var_os("SSPRCTL_HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from);
        let cloud = match g.cloud {
            Some(c) => Some(c),
            None => env_choice::<Cloud>("SSPRCTL_CLOUD", "--cloud")?,
        };
        let kind = match g.credential {
            Some(k) => k,
            None => env_choice("SSPRCTL_CREDENTIAL", "--credential")?.unwrap_or_default(),
        };
        let graph_url = g.graph_url.clone().or_else(|| env("SSPRCTL_GRAPH_URL"));
        let authority_host = g
            .authority_host
            .clone()
            .or_else(|| env("AZURE_AUTHORITY_HOST"));
        let directory = g.directory.clone().or_else(|| env("SSPRCTL_DIRECTORY"));
        let endpoints = Endpoints::new(
            cloud.unwrap_or(Cloud::Global),
            graph_url.as_deref(),
            authority_host.as_deref(),
        )
        .map_err(|e| {
            CliError::usage("invalid_url", e.to_string())
                .with_hint("give an https:// URL (http:// only to 127.0.0.1, ::1 or localhost)")
        })?;
        let total = Duration::from_secs_f64(g.timeout);
        let graph = GraphSettings {
            endpoints,
            cloud_explicit: cloud.is_some(),
            graph_url,
            authority_host,
            policy: RetryPolicy {
                max_retries: g.max_retries,
                total,
                per_request: RetryPolicy::default().per_request.min(total),
                base_delay: RetryPolicy::default().base_delay,
            },
            credentials: EnvCredentials {
                kind,
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
            table_width: terminal_width(),
            graph,
            directory: directory_spec(directory.as_deref().unwrap_or("local"), home, g)?,
            format: resolve_format(g),
            quiet: g.quiet,
            verbose: g.verbose,
        })
    }

    /// True when errors should also be written as JSON.
    pub fn json_errors(&self) -> bool {
        is_json(self.format)
    }
}

/// `--directory` (or `SSPRCTL_DIRECTORY`) with `--ad` (or `SSPRCTL_AD`): hybrid mode needs
/// both a tenant and a domain controller.
fn directory_spec(
    spec: &str,
    home: Option<PathBuf>,
    g: &GlobalArgs,
) -> Result<DirectorySpec, CliError> {
    let ad = g.ad.clone().or_else(|| env("SSPRCTL_AD"));
    match (parse_directory(spec, home)?, ad) {
        (DirectorySpec::Ldap(l), None) => Ok(DirectorySpec::Ldap(ldap_settings(l, g)?)),
        (DirectorySpec::Graph, Some(url)) => {
            let l = parse_ldap(&url).map_err(|e| {
                let message = e.message.replacen("--directory", "--ad", 1);
                CliError { message, ..e }
            })?;
            Ok(DirectorySpec::Hybrid(ldap_settings(l, g)?))
        }
        (_, Some(url)) => Err(CliError::usage(
            "conflicting_flags",
            format!("--ad {url} (hybrid mode) needs --directory graph, not --directory {spec}"),
        )
        .with_hint(format!(
            "ssprctl --directory graph --ad {url} …; or unset SSPRCTL_AD to use {spec} alone"
        ))),
        (other, None) => Ok(other),
    }
}

/// A choice (`--cloud`, `--credential`) from its environment variable, case ignored; unset or
/// blank is `None`, anything else not one of the choices is a usage error naming both.
fn env_choice<T: ValueEnum>(name: &str, flag: &str) -> Result<Option<T>, CliError> {
    let Some(v) = env(name) else {
        return Ok(None);
    };
    T::from_str(v.trim(), true).map(Some).map_err(|_| {
        let names: Vec<String> = T::value_variants()
            .iter()
            .filter_map(|c| c.to_possible_value())
            .map(|p| p.get_name().to_string())
            .collect();
        CliError::usage(
            "invalid_env",
            format!("{name}=\"{v}\" is not a value {flag} takes"),
        )
        .with_hint(format!(
            "set {name} to one of: {} (or unset it)",
            names.join(", ")
        ))
    })
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

/// stdout's width when it is a terminal: `COLUMNS` if set, else the terminal's own size.
fn terminal_width() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    if let Some(c) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
    {
        return Some(c);
    }
    #[cfg(unix)]
    {
        // SAFETY: TIOCGWINSZ fills the struct we pass for a terminal file descriptor.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        if unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0
            && ws.ws_col > 0
        {
            return Some(usize::from(ws.ws_col));
        }
    }
    None
}

/// Whether stderr gets color: a terminal, and `NO_COLOR` unset or empty (no-color.org).
pub fn stderr_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
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

/// `auto` decided: Kerberos when no bind DN is set and `KRB5CCNAME` names a ticket cache that
/// exists (a `FILE:` cache is looked for; other kinds — KEYRING, KCM — are taken as there).
fn resolve_ldap_auth(asked: LdapAuth, bind_dn: bool, ccache: Option<&str>) -> LdapAuth {
    if asked != LdapAuth::Auto {
        return asked;
    }
    let cache_exists = ccache.is_some_and(|c| match c.split_once(':') {
        Some(("FILE", path)) => Path::new(path).is_file(),
        Some((kind, _)) if kind.len() > 1 => true,
        _ => Path::new(c).is_file(),
    });
    if !bind_dn && cache_exists {
        LdapAuth::Kerberos
    } else {
        LdapAuth::Simple
    }
}

/// Fills in the bind and TLS settings of an LDAP directory from the flags and environment.
fn ldap_settings(mut l: LdapSettings, g: &GlobalArgs) -> Result<LdapSettings, CliError> {
    l.bind_dn = env("SSPRCTL_LDAP_BIND_DN");
    l.password = match (
        env_raw("SSPRCTL_LDAP_PASSWORD"),
        env("SSPRCTL_LDAP_PASSWORD_FILE"),
    ) {
        (Some(p), _) => Some(Secret::new(p)),
        (None, Some(file)) => {
            // A password file is small: a FIFO, a device or a huge file is refused, not read.
            let text = crate::file::read_bounded_text(Path::new(&file), 64 << 10).map_err(|e| {
                CliError::usage(
                    "unreadable_file",
                    format!("SSPRCTL_LDAP_PASSWORD_FILE {file}: {e}"),
                )
                .with_hint("point it at a regular file holding the bind password")
            })?;
            Some(Secret::new(text.trim_end_matches(['\n', '\r'])))
        }
        (None, None) => None,
    };
    let asked = match g.ldap_auth {
        Some(a) => a,
        None => env_choice::<LdapAuth>("SSPRCTL_LDAP_AUTH", "--ldap-auth")?.unwrap_or_default(),
    };
    l.auth = resolve_ldap_auth(asked, l.bind_dn.is_some(), env("KRB5CCNAME").as_deref());
    // Kerberos seals a plain ldap:// connection itself (ldap3 installs GSSAPI confidentiality);
    // StartTLS stays for simple binds, whose password must never travel in the clear.
    if l.auth == LdapAuth::Kerberos && l.url.starts_with("ldap://") {
        l.starttls = false;
    }
    l.ca = g.ldap_ca.clone();
    l.insecure_skip_verify = g.ldap_insecure_skip_verify;
    l.base_dn = g.base_dn.clone();
    l.filter = g
        .ldap_filter
        .clone()
        .unwrap_or_else(|| DEFAULT_LDAP_FILTER.to_string());
    // ldap3's own filter parser, before any connection: a malformed filter is the user's input
    // (exit 2), not the server's failure.
    if !(l.filter.starts_with('(') && l.filter.ends_with(')'))
        || ldap3::parse_filter(&l.filter).is_err()
    {
        return Err(CliError::usage(
            "invalid_filter",
            format!("--ldap-filter \"{}\" is not an LDAP filter", l.filter),
        )
        .with_hint(
            "write it in balanced parentheses, e.g. (&(objectClass=user)(department=Sales))",
        ));
    }
    l.stdin_tty = std::io::stdin().is_terminal();
    Ok(l)
}

/// A variable's value, spaces kept (a password may have them); unset or empty is `None`.
fn env_raw(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// `ldaps://host[:port]` or `ldap://host[:port]`, nothing else (no path, user or query).
fn parse_ldap(spec: &str) -> Result<LdapSettings, CliError> {
    let bad = |why: &str| {
        CliError::usage("unknown_directory", format!("--directory {spec}: {why}"))
            .with_hint("e.g. --directory ldaps://dc1.contoso.com (or ldap://dc1.contoso.com:389, upgraded with StartTLS)")
    };
    let url = reqwest::Url::parse(spec).map_err(|e| bad(&format!("not a URL ({e})")))?;
    let starttls = match url.scheme() {
        "ldaps" => false,
        "ldap" => true,
        _ => return Err(bad("the scheme must be ldaps or ldap")),
    };
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("no host"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "no user or password in the URL: set SSPRCTL_LDAP_BIND_DN and SSPRCTL_LDAP_PASSWORD",
        ));
    }
    if !(url.path().is_empty() || url.path() == "/")
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(bad(
            "give the host and port only (the base DN is --base-dn)",
        ));
    }
    let port = url.port().unwrap_or(if starttls { 389 } else { 636 });
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let shown = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.clone()
    };
    Ok(LdapSettings {
        url: format!("{}://{shown}:{port}", url.scheme()),
        host,
        starttls,
        bind_dn: None,
        password: None,
        ca: None,
        insecure_skip_verify: false,
        base_dn: None,
        filter: DEFAULT_LDAP_FILTER.into(),
        stdin_tty: false,
        auth: LdapAuth::Simple,
    })
}

fn parse_directory(spec: &str, home: Option<PathBuf>) -> Result<DirectorySpec, CliError> {
    let spec = spec.trim();
    let lower = spec.to_ascii_lowercase();
    if lower.starts_with("ldaps://") || lower.starts_with("ldap://") {
        return parse_ldap(spec).map(DirectorySpec::Ldap);
    }
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

/// A `--default-region` value: an ISO 3166 code the metadata knows; common mistakes (UK, EN,
/// USA…) get the code they mean.
pub fn region_arg(r: &str) -> Result<RegionCode, CliError> {
    RegionCode::parse(r).ok_or_else(|| {
        let meant = match r.trim().to_ascii_uppercase().as_str() {
            "UK" | "EN" | "ENG" | "GBR" => Some("GB"),
            "USA" => Some("US"),
            "DEU" | "GER" => Some("DE"),
            "FRA" => Some("FR"),
            "ESP" => Some("ES"),
            "JAP" | "JPN" => Some("JP"),
            "CAN" => Some("CA"),
            "AUS" => Some("AU"),
            _ => None,
        };
        let e = CliError::usage(
            "invalid_region",
            format!("invalid --default-region \"{r}\": not a region the phone metadata knows"),
        );
        match meant {
            Some(code) => e.with_hint(format!(
                "did you mean {code}? (regions are ISO 3166 two-letter codes)"
            )),
            None => e.with_hint("use a two-letter ISO 3166 code such as US, GB, DE or IT"),
        }
    })
}

/// Phone options from `--default-region` and `--phone-check`.
pub fn phone_options(a: &PhoneArgs) -> Result<PhoneOptions, CliError> {
    let default_region = a.default_region.as_deref().map(region_arg).transpose()?;
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
    fn ldap_auth_auto_uses_kerberos_only_without_a_bind_dn_and_with_a_ticket_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("krb5cc");
        std::fs::write(&cache, b"cache").unwrap();
        let file = format!("FILE:{}", cache.display());
        let missing = format!("FILE:{}", dir.path().join("none").display());
        use LdapAuth::*;
        for (asked, bind_dn, ccache, want) in [
            (Auto, false, Some(file.as_str()), Kerberos),
            (Auto, false, Some(cache.to_str().unwrap()), Kerberos),
            (Auto, false, Some("KEYRING:persistent:0"), Kerberos),
            (Auto, true, Some(file.as_str()), Simple),
            (Auto, false, Some(missing.as_str()), Simple),
            (Auto, false, None, Simple),
            (Simple, false, Some(file.as_str()), Simple),
            (Kerberos, true, None, Kerberos),
        ] {
            assert_eq!(
                resolve_ldap_auth(asked, bind_dn, ccache),
                want,
                "{asked:?} {bind_dn} {ccache:?}"
            );
        }
    }

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
        match parse_directory("LDAP://dc1.contoso.com", None).unwrap() {
            DirectorySpec::Ldap(l) => {
                assert_eq!(
                    (l.url.as_str(), l.starttls),
                    ("ldap://dc1.contoso.com:389", true)
                )
            }
            other => panic!("{other:?}"),
        }
        match parse_directory("ldaps://127.0.0.1:1636", None).unwrap() {
            DirectorySpec::Ldap(l) => {
                assert_eq!((l.host.as_str(), l.starttls), ("127.0.0.1", false))
            }
            other => panic!("{other:?}"),
        }
        for bad in [
            "ldaps://",
            "ldaps://u:p@dc1",
            "ldaps://dc1/DC=x",
            "ldapx://dc1",
        ] {
            assert!(parse_directory(bad, None).is_err(), "{bad}");
        }
        assert_eq!(
            parse_directory("GRAPH", None).unwrap(),
            DirectorySpec::Graph
        );
    }
}
