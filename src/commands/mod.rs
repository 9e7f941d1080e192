//! One module per command, each with a `run` entry, and what they share: opening the
//! directory, `--select`, and the context they write through.

mod audit;
mod auth_status;
mod get_auth_details;
mod get_user;
mod import;
mod login;
mod new_user;
mod phone;
mod ps;
mod remove_user;
mod set_auth_details;
mod set_user;
mod sync;

use std::io::Write;

use std::sync::Arc;

use clap::ValueEnum;

use crate::auth::endpoints::{Cloud, Endpoints};
use crate::auth::{self, Credential};
use crate::cli::{AuthCommand, Cli, Command, SyncCommand};
use crate::directory::ad::AdDirectory;
use crate::directory::ad::{Bind, LdapAuth};
use crate::directory::graph::GraphDirectory;
use crate::directory::graph::client::GraphClient;
use crate::directory::hybrid::HybridDirectory;
use crate::directory::local::{LocalDirectory, Opened};
use crate::directory::{AnyDirectory, DirectoryError, ServiceKind};
use crate::error::CliError;
use crate::exit::Exit;
use crate::http::Http;
use crate::model::{Field, User, UserField};
use crate::output::Printer;
use crate::output::{Records, Shape};
use crate::secret::Secret;
use crate::settings::{DirectorySpec, LdapSettings, Settings};

/// What a command runs with.
pub struct Ctx<'a> {
    pub settings: &'a Settings,
    pub printer: Printer,
    pub out: &'a mut dyn Write,
    /// Made on first use: local commands never pay for an HTTP client.
    http: std::cell::OnceCell<Http>,
    /// For read commands, `--timeout` bounds the whole run (paging and retries included).
    run_deadline: Option<std::time::Instant>,
}

/// Runs the parsed command.
pub async fn run(cli: Cli, settings: &Settings, out: &mut dyn Write) -> Result<Exit, CliError> {
    let mut ctx = Ctx {
        settings,
        printer: Printer {
            format: settings.format,
            quiet: settings.quiet,
            verbose: settings.verbose,
            table_width: settings.table_width,
        },
        out,
        http: std::cell::OnceCell::new(),
        run_deadline: None,
    };
    // A read command's --timeout covers the whole run.
    if matches!(
        cli.command,
        Command::GetUser(_) | Command::GetAuthDetails(_)
    ) {
        ctx.run_deadline = std::time::Instant::now().checked_add(settings.graph.policy.total);
    }
    match cli.command {
        Command::NewUser(a) => new_user::run(a, &mut ctx).await,
        Command::RemoveUser(a) => remove_user::run(a, &mut ctx).await,
        Command::SetUser(a) => set_user::run(a, &mut ctx).await,
        Command::GetUser(a) => get_user::run(a, &mut ctx).await,
        Command::SetAuthDetails(a) => set_auth_details::run(a, &mut ctx).await,
        Command::GetAuthDetails(a) => get_auth_details::run(a, &mut ctx).await,
        Command::Phone(a) => phone::run(a, &mut ctx),
        Command::Login(a) => login::login(a, &mut ctx).await,
        Command::Import(a) => import::run(a, &mut ctx).await,
        Command::Audit(a) => audit::run(a, &mut ctx).await,
        Command::Ps(a) => ps::run(a, &mut ctx).await,
        Command::Sync(SyncCommand::Status(_)) => sync::status(&mut ctx).await,
        Command::Logout => login::logout(&mut ctx),
        Command::Auth(AuthCommand::Status(_)) | Command::Whoami(_) => {
            auth_status::run(&mut ctx).await
        }
        Command::Completions(a) => {
            let mut cmd = Cli::command();
            clap_complete::generate(a.shell, &mut cmd, "ssprctl", &mut ctx.out);
            Ok(Exit::Success)
        }
        Command::Man => {
            let cmd = Cli::command();
            clap_mangen::Man::new(cmd).render(&mut ctx.out)?;
            Ok(Exit::Success)
        }
    }
}

impl Ctx<'_> {
    /// Opens the directory the settings name: a local one (created, and the default one
    /// seeded, when missing) or Graph (credentials resolved and a token obtained).
    pub async fn open_directory(&self) -> Result<AnyDirectory, CliError> {
        let (path, sample) = match &self.settings.directory {
            DirectorySpec::Graph => return Ok(AnyDirectory::Graph(self.connect_graph().await?)),
            DirectorySpec::Ldap(l) => return Ok(AnyDirectory::Ad(self.connect_ad(l).await?)),
            DirectorySpec::Hybrid(l) => {
                // The bind's credential first (it may prompt), then the token and the bind side
                // by side.
                let bind = self.ad_bind(l)?;
                let (graph, ad) = tokio::join!(
                    self.connect_graph(),
                    AdDirectory::open_bound(l.clone(), bind, self.printer)
                );
                let graph = graph?;
                let dir = HybridDirectory::new(graph, self.dc_down(ad)?, self.printer);
                self.printer.log(
                    1,
                    &format!(
                        "hybrid mode: Microsoft Graph and the domain controller {}",
                        l.url
                    ),
                );
                return Ok(AnyDirectory::Hybrid(Box::new(dir)));
            }
            DirectorySpec::LocalDefault(p) => {
                if let Some(parent) = p.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        CliError::new(
                            Exit::Failed,
                            "storage",
                            format!("can't create {}: {e}", parent.display()),
                        )
                        .with_hint("set SSPRCTL_HOME to a writable folder")
                    })?;
                }
                (p, true)
            }
            DirectorySpec::LocalPath(p) => (p, false),
        };
        let (dir, opened) = LocalDirectory::open(path, sample)?;
        self.printer
            .log(1, &format!("local directory {}", path.display()));
        match opened {
            Opened::Existing => {}
            Opened::CreatedEmpty => self.printer.note(&format!(
                "note: created an empty local directory at {}",
                path.display()
            )),
            Opened::CreatedWithSample => self.printer.note(&format!(
                "note: created the local directory at {} with a sample tenant of @contoso.com \
                 users (megan.bowen is synchronised from on-premises AD)",
                path.display()
            )),
        }
        Ok(AnyDirectory::Local(dir))
    }

    /// Refuses `command` before anything else when the directory is a tenant.
    pub fn require_local(&self, command: &str) -> Result<(), CliError> {
        match self.settings.directory {
            DirectorySpec::Graph | DirectorySpec::Hybrid(_) => {
                Err(crate::directory::graph::local_only(command).into())
            }
            DirectorySpec::Ldap(_) => Err(crate::directory::DirectoryError::Unsupported(format!(
                "{command} works on the local directory only: ssprctl does not create or delete AD accounts"
            ))
            .into()),
            _ => Ok(()),
        }
    }

    /// The HTTP client for Graph and the login endpoint (one per run, so requests add up).
    pub fn http(&self) -> Http {
        self.http
            .get_or_init(|| {
                let g = &self.settings.graph;
                let http = Http::new(g.policy, self.printer, g.endpoints.all_loopback());
                match self.run_deadline {
                    Some(d) => http.with_run_deadline(d),
                    None => http,
                }
            })
            .clone()
    }

    /// HTTP requests sent so far, when any client was made.
    pub fn http_requests(&self) -> Option<usize> {
        self.http.get().map(Http::requests)
    }

    async fn connect_graph(&self) -> Result<GraphDirectory, CliError> {
        let (tokens, endpoints) = self.graph_tokens().await?;
        let client = GraphClient::new(self.http(), &endpoints.graph, tokens, self.printer);
        Ok(GraphDirectory::new(client).for_cloud(endpoints.cloud))
    }

    /// Hybrid mode: a domain controller that can't be reached (down, or the network to it)
    /// fails only what AD holds, said once; any other failure (credentials, certificate) is
    /// the run's.
    fn dc_down(
        &self,
        ad: Result<AdDirectory, DirectoryError>,
    ) -> Result<Result<AdDirectory, DirectoryError>, CliError> {
        match ad {
            Err(DirectoryError::Service(s)) if s.kind == ServiceKind::Unavailable => {
                self.printer.warn(&format!(
                    "{}; synchronised users' phones can't be read or written in this run (they fail), \
                     everything Entra ID holds goes ahead",
                    s.message
                ));
                Ok(Err(DirectoryError::Service(s)))
            }
            Err(e) => Err(e.into()),
            Ok(d) => Ok(Ok(d)),
        }
    }

    /// Binds to a domain controller (see [`Ctx::ad_bind`]).
    async fn connect_ad(&self, l: &LdapSettings) -> Result<AdDirectory, CliError> {
        let bind = self.ad_bind(l)?;
        Ok(AdDirectory::open_bound(l.clone(), bind, self.printer).await?)
    }

    /// What to bind to a domain controller with: Kerberos (`--ldap-auth`), or
    /// `SSPRCTL_LDAP_BIND_DN` and the password from the environment, a file, or (on a
    /// terminal) a prompt without echo.
    fn ad_bind(&self, l: &LdapSettings) -> Result<Bind, CliError> {
        if l.auth == LdapAuth::Kerberos {
            return Ok(Bind::Kerberos);
        }
        let hint = "set SSPRCTL_LDAP_BIND_DN (a DN, DOMAIN\\user or user@domain) and SSPRCTL_LDAP_PASSWORD \
                    (or SSPRCTL_LDAP_PASSWORD_FILE); passwords are never taken from the command line. \
                    Or sign in with Kerberos: kinit, then --ldap-auth kerberos";
        let bind_dn = l.bind_dn.clone().ok_or_else(|| {
            CliError::new(Exit::Auth, "auth", "SSPRCTL_LDAP_BIND_DN is not set").with_hint(hint)
        })?;
        let password = match &l.password {
            Some(p) => p.clone(),
            None if l.stdin_tty => {
                let p = rpassword::prompt_password(format!("password for {bind_dn}: ")).map_err(
                    |e| CliError::new(Exit::Auth, "auth", format!("can't read the password: {e}")),
                )?;
                Secret::new(p)
            }
            None => {
                return Err(CliError::new(
                    Exit::Auth,
                    "auth",
                    "no LDAP bind password: SSPRCTL_LDAP_PASSWORD and SSPRCTL_LDAP_PASSWORD_FILE are not set, and stdin is not a terminal to ask on",
                )
                .with_hint(hint));
            }
        };
        Ok(Bind::Simple {
            dn: bind_dn,
            password,
        })
    }

    /// The credential's token source, with its first token already in hand, and the endpoints
    /// it serves.
    pub async fn graph_tokens(&self) -> Result<(Arc<auth::TokenSource>, Endpoints), CliError> {
        let g = &self.settings.graph;
        let (credential, why) = Credential::choose(&g.credentials, &g.store)?;
        self.printer
            .log(1, &format!("credential: {} — {why}", credential.describe()));
        let endpoints = self.endpoints_for(&credential)?;
        let http = self.http();
        let tokens = Arc::new(auth::TokenSource::new(
            credential,
            endpoints.clone(),
            g.store.clone(),
            http.clone(),
            self.printer,
        ));
        // The first token now: a credential problem is reported before any other work.
        tokens.token().await?;
        Ok((tokens, endpoints))
    }

    /// The endpoints for `credential`: a saved login keeps the cloud it was made in (its
    /// refresh token is only valid there); an explicit `--cloud` that differs is an error.
    fn endpoints_for(&self, credential: &Credential) -> Result<Endpoints, CliError> {
        let g = &self.settings.graph;
        let Credential::Login(login) = credential else {
            return Ok(g.endpoints.clone());
        };
        let saved = Cloud::from_str(&login.cloud, true).map_err(|_| {
            CliError::new(
                Exit::Auth,
                "auth",
                format!("the saved login names an unknown cloud \"{}\"", login.cloud),
            )
            .with_hint("run `ssprctl login` again")
        })?;
        if saved == g.endpoints.cloud {
            return Ok(g.endpoints.clone());
        }
        if g.cloud_explicit {
            return Err(CliError::new(
                Exit::Auth,
                "cloud_mismatch",
                format!(
                    "--cloud {} differs from the cloud of the saved login ({}): its tokens are only valid there",
                    g.endpoints.cloud.name(),
                    saved.name()
                ),
            )
            .with_hint(format!(
                "drop --cloud to use the saved login in {}, or run `ssprctl login --cloud {}`",
                saved.name(),
                g.endpoints.cloud.name()
            )));
        }
        self.printer.log(
            1,
            &format!("using the saved login's cloud, {}", saved.name()),
        );
        Endpoints::new(saved, g.graph_url.as_deref(), g.authority_host.as_deref())
            .map_err(|e| CliError::usage("invalid_url", e.to_string()))
    }
}

impl Ctx<'_> {
    /// Prints one user with every field, as a single record.
    pub fn print_user(&mut self, user: &User) -> Result<(), CliError> {
        let header = names(UserField::ALL);
        let records = Records {
            fields: &header,
            rows: vec![UserField::ALL.iter().map(|f| user.get(*f)).collect()],
        };
        self.printer.records(self.out, &records, Shape::Object)?;
        Ok(())
    }
}

/// Writes a file through a temp file beside `path`, renamed into place: a reader never sees
/// half of it, and a failed write leaves the old one.
pub fn write_atomically(
    path: &std::path::Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map_or("file".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|f| {
            let mut w = std::io::BufWriter::new(f);
            write(&mut w)?;
            w.flush()?;
            w.get_ref().sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Resolves `--select` into fields, or every field when it is absent.
pub fn select<F: Field>(spec: Option<&str>) -> Result<Vec<F>, CliError> {
    let Some(spec) = spec else {
        return Ok(F::ALL.to_vec());
    };
    let mut fields = Vec::new();
    for name in spec.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match F::parse(name) {
            Some(f) if !fields.contains(&f) => fields.push(f),
            Some(_) => {}
            None => {
                let canonical: Vec<&str> = F::ALL.iter().map(|f| f.name()).collect();
                let aliases: Vec<&str> = F::ALIASES.iter().map(|(a, _)| *a).collect();
                return Err(CliError::usage(
                    "unknown_field",
                    format!("unknown field \"{name}\" in --select"),
                )
                .with_hint(format!(
                    "valid fields: {} (also accepted: {})",
                    canonical.join(", "),
                    aliases.join(", ")
                )));
            }
        }
    }
    if fields.is_empty() {
        return Err(CliError::usage("unknown_field", "--select names no field"));
    }
    Ok(fields)
}

/// The canonical names of `fields`, for headers and JSON keys.
pub fn names<F: Field>(fields: &[F]) -> Vec<&'static str> {
    fields.iter().map(|f| f.name()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_keeps_order_and_rejects_unknown_names() {
        let f: Vec<UserField> = select(Some("PhoneNumber, displayname")).unwrap();
        assert_eq!(f, [UserField::OfficePhone, UserField::DisplayName]);
        let e = select::<UserField>(Some("DisplayName,Bogus")).unwrap_err();
        assert!(e.message.contains("Bogus"));
        assert!(e.hint.unwrap().contains("userPrincipalName"));
    }
}
