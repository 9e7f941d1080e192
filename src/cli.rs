//! The command line as clap parses it: raw input only, no environment or terminal lookups
//! (those happen in the `settings` layer, above this one).

use std::ffi::OsString;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::auth::CredentialKind;
use crate::auth::endpoints::Cloud;
pub use crate::output::Format;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the operation failed or was refused (e.g. a synchronised user's phone)
  2  invalid input or usage; nothing was written
  3  user not found
  4  authentication or permission problem (Graph)
  5  service unavailable after retries (Graph)
  6  --wait-for-sync timed out: written in AD, not yet shown by Entra ID (rows say pending)
130  import interrupted by Ctrl-C (the report is still written)

Environment:
  SSPRCTL_HOME           where the local directory, saved login and token cache live
  SSPRCTL_DIRECTORY, SSPRCTL_OUTPUT, SSPRCTL_CLOUD, SSPRCTL_GRAPH_URL, SSPRCTL_CREDENTIAL
  Graph credentials      SSPRCTL_ACCESS_TOKEN; AZURE_TENANT_ID + AZURE_CLIENT_ID with
                         AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH (+ _PASSWORD) or
                         AZURE_FEDERATED_TOKEN_FILE; GitHub Actions / Azure Pipelines OIDC;
                         IDENTITY_ENDPOINT (managed identity); `az` on PATH
  Active Directory       SSPRCTL_LDAP_BIND_DN, SSPRCTL_LDAP_PASSWORD or SSPRCTL_LDAP_PASSWORD_FILE;
                         SSPRCTL_AD (hybrid mode, with --directory graph)
  NO_COLOR               no color on stderr

Security questions and answers are never shown or set: administrators can't see or change them.";

/// Read and pre-populate the contact information Entra ID self-service password reset uses.
#[derive(Debug, Parser)]
#[command(name = "ssprctl", version, after_help = EXIT_CODES, max_term_width = 100)]
struct RawCli {
    #[command(flatten)]
    common: CommonArgs,
    /// The directory options may also come before the command.
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(subcommand)]
    command: Command,
}

/// The parsed command line.
#[derive(Debug)]
pub struct Cli {
    pub global: GlobalArgs,
    pub command: Command,
}

/// Options every command takes, before or after the subcommand.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(
        short,
        long,
        global = true,
        env = "SSPRCTL_OUTPUT",
        value_enum,
        ignore_case = true,
        help_heading = "Global options"
    )]
    pub output: Option<Format>,
    /// Print no warnings or notes on stderr (errors still go there).
    #[arg(
        short,
        long,
        global = true,
        conflicts_with = "verbose",
        help_heading = "Global options"
    )]
    pub quiet: bool,
    /// Say more on stderr (repeat for more); with graph: credential, requests, status, timing.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = "Global options")]
    pub verbose: u8,
}

/// `--directory`: on the commands that read or write users, and before any command.
#[derive(Debug, Clone, Default, Args)]
pub struct DirectoryArg {
    /// Where users live: `local` (the default local directory), `local:PATH`, `graph` (a
    /// tenant, through Microsoft Graph), or `ldaps://HOST[:PORT]` / `ldap://HOST[:PORT]` (an
    /// Active Directory domain controller; ldap:// is upgraded with StartTLS)
    /// [env: SSPRCTL_DIRECTORY].
    #[arg(long, value_name = "SPEC", help_heading = "Directory")]
    pub directory: Option<String>,
}

/// `--credential`: on the commands that get a Graph token.
#[derive(Debug, Clone, Default, Args)]
pub struct CredentialArg {
    /// Which credential to use for --directory graph (auto: the first that applies, in the
    /// order the README gives) [default: auto] [env: SSPRCTL_CREDENTIAL].
    #[arg(
        long,
        value_enum,
        ignore_case = true,
        value_name = "KIND",
        help_heading = "Microsoft Graph"
    )]
    pub credential: Option<CredentialKind>,
}

/// How to reach Microsoft Graph: on the commands that talk to it.
#[derive(Debug, Clone, Default, Args)]
pub struct GraphArgs {
    /// Microsoft cloud for --directory graph: picks the login and Graph hosts [default: the
    /// saved login's cloud, else global] [env: SSPRCTL_CLOUD].
    #[arg(long, value_enum, ignore_case = true, help_heading = "Microsoft Graph")]
    pub cloud: Option<Cloud>,
    /// Replace the Graph host (https://, or http:// to a loopback address); /v1.0/... is
    /// appended [env: SSPRCTL_GRAPH_URL].
    #[arg(long, value_name = "URL", help_heading = "Microsoft Graph")]
    pub graph_url: Option<String>,
    /// Replace the login host; /{tenant}/oauth2/v2.0/token is appended
    /// [env: AZURE_AUTHORITY_HOST].
    #[arg(long, value_name = "URL", help_heading = "Microsoft Graph")]
    pub authority_host: Option<String>,
    /// Retries of a throttled (429) or unavailable (503, 504) request [default: 3].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=10),
          help_heading = "Microsoft Graph")]
    pub max_retries: Option<u32>,
    /// Time limit in seconds for one request and all its retries; for get-user and
    /// get-auth-details, for the whole command (every page included) [default: 180].
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds, help_heading = "Microsoft Graph")]
    pub timeout: Option<f64>,
}

/// How to reach and search a domain controller: on the commands that run against AD.
#[derive(Debug, Clone, Default, Args)]
pub struct AdArgs {
    /// Hybrid mode, with --directory graph: the domain controller (ldaps://HOST[:PORT], or
    /// ldap://HOST[:PORT] with StartTLS) of the forest Entra Connect syncs from. Synchronised
    /// users are joined to their AD objects and their phones are read and written there
    /// [env: SSPRCTL_AD].
    #[arg(long, value_name = "URL", help_heading = "Active Directory")]
    pub ad: Option<String>,
    /// A PEM file of CA certificates to trust for the domain controller, besides the system's
    /// (the common case: the domain's private CA).
    #[arg(long, value_name = "PATH", help_heading = "Active Directory")]
    pub ldap_ca: Option<std::path::PathBuf>,
    /// Don't verify the domain controller's certificate (labs only; warns on every run).
    #[arg(long, help_heading = "Active Directory")]
    pub ldap_insecure_skip_verify: bool,
    /// Where to search for users [default: the RootDSE's defaultNamingContext].
    #[arg(long, value_name = "DN", help_heading = "Active Directory")]
    pub base_dn: Option<String>,
    /// Which entries are users [default: (&(objectCategory=person)(objectClass=user))].
    #[arg(long, value_name = "FILTER", help_heading = "Active Directory")]
    pub ldap_filter: Option<String>,
    /// How to bind: simple (SSPRCTL_LDAP_BIND_DN and its password), kerberos (the ticket from
    /// kinit), or auto: Kerberos when no bind DN is set and KRB5CCNAME names a ticket cache
    /// [env: SSPRCTL_LDAP_AUTH] [default: auto].
    #[arg(
        long,
        value_name = "HOW",
        ignore_case = true,
        help_heading = "Active Directory"
    )]
    pub ldap_auth: Option<crate::directory::ad::LdapAuth>,
}

/// The options of a command that reads or writes users in any directory.
#[derive(Debug, Clone, Default, Args)]
pub struct ConnectArgs {
    #[command(flatten)]
    pub directory: DirectoryArg,
    #[command(flatten)]
    pub token: TokenArgs,
    #[command(flatten)]
    pub ad: AdArgs,
}

/// The options of a command for the local directory or Graph (authentication methods are
/// not in Active Directory).
#[derive(Debug, Clone, Default, Args)]
pub struct MethodsConnectArgs {
    #[command(flatten)]
    pub directory: DirectoryArg,
    #[command(flatten)]
    pub token: TokenArgs,
}

/// The options of a command that only gets a Graph token.
#[derive(Debug, Clone, Default, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub credential: CredentialArg,
    #[command(flatten)]
    pub graph: GraphArgs,
}

/// The options after parsing: a command's own copy of a directory option wins over the one
/// given before the command. Environment variables and the saved login are applied later,
/// in the `settings` layer.
#[derive(Debug, Clone, Default)]
pub struct GlobalArgs {
    pub output: Option<Format>,
    pub quiet: bool,
    pub verbose: u8,
    pub directory: Option<String>,
    pub credential: Option<CredentialKind>,
    pub cloud: Option<Cloud>,
    pub graph_url: Option<String>,
    pub authority_host: Option<String>,
    pub max_retries: u32,
    pub timeout: f64,
    pub ldap_ca: Option<std::path::PathBuf>,
    pub ldap_insecure_skip_verify: bool,
    pub base_dn: Option<String>,
    pub ldap_filter: Option<String>,
    pub ldap_auth: Option<crate::directory::ad::LdapAuth>,
    pub ad: Option<String>,
}

/// Retries of a throttled or unavailable request unless `--max-retries` says otherwise.
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// `--timeout`'s default, in seconds.
pub const DEFAULT_TIMEOUT: f64 = 180.0;

impl DirectoryArg {
    /// Takes `later`'s options where given (a command's own copy wins over the root's).
    fn merge(&mut self, later: DirectoryArg) {
        self.directory = later.directory.or(self.directory.take());
    }
}

impl CredentialArg {
    fn merge(&mut self, later: CredentialArg) {
        self.credential = later.credential.or(self.credential.take());
    }
}

impl GraphArgs {
    fn merge(&mut self, later: GraphArgs) {
        self.cloud = later.cloud.or(self.cloud.take());
        self.graph_url = later.graph_url.or(self.graph_url.take());
        self.authority_host = later.authority_host.or(self.authority_host.take());
        self.max_retries = later.max_retries.or(self.max_retries.take());
        self.timeout = later.timeout.or(self.timeout.take());
    }
}

impl AdArgs {
    fn merge(&mut self, later: AdArgs) {
        self.ldap_ca = later.ldap_ca.or(self.ldap_ca.take());
        self.ldap_insecure_skip_verify |= later.ldap_insecure_skip_verify;
        self.base_dn = later.base_dn.or(self.base_dn.take());
        self.ldap_filter = later.ldap_filter.or(self.ldap_filter.take());
        self.ldap_auth = later.ldap_auth.or(self.ldap_auth.take());
        self.ad = later.ad.or(self.ad.take());
    }
}

/// A user argument, checked before it can reach a URL (see [`crate::model::check_user_key`]).
fn user_key(s: &str) -> Result<String, String> {
    crate::model::check_user_key(s).map(|()| s.to_string())
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err("a number of seconds between 0 and 86400, e.g. 30 or 2.5".into()),
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a user in the local directory (a tenant's users are not created by this tool).
    #[command(display_order = 14)]
    NewUser(NewUserArgs),
    /// Delete a user from the local directory.
    #[command(display_order = 15)]
    RemoveUser(RemoveUserArgs),
    /// Set a user's alternate email, mobile phone and office phone (Set-MsolUser, Set-AzureADUser).
    #[command(
        display_order = 2,
        after_long_help = "Examples:\n  ssprctl set-user kim@contoso.com --mobile-phone \"+1 425 555 0101\" --dry-run\n  ssprctl set-user kim@contoso.com --alternate-email \"kim@fabrikam.com;kim@outlook.com\"\n  ssprctl set-user kim@contoso.com --clear office-phone"
    )]
    SetUser(SetUserArgs),
    /// Show users' contact information (Get-MsolUser, Get-AzureADUser).
    #[command(
        display_order = 1,
        after_long_help = "Examples:\n  ssprctl get-user kim@contoso.com\n  ssprctl get-user --all -o csv --select DisplayName,UserPrincipalName,MobilePhone,PhoneNumber\n  ssprctl --directory graph get-user --all -o jsonl"
    )]
    GetUser(GetUserArgs),
    /// Set a user's authentication phone(s) and email (what users register for SSPR).
    ///
    /// SSPR uses the authentication phone (SMS or call), the office phone (call) and the email;
    /// the alternate authentication phone is used for MFA only, never for password reset.
    #[command(
        display_order = 4,
        after_long_help = "Examples:\n  ssprctl set-auth-details kim@contoso.com --phone \"+1 425 555 0101\" --email kim@fabrikam.com\n  ssprctl set-auth-details kim@contoso.com --clear alternate-phone"
    )]
    SetAuthDetails(SetAuthArgs),
    /// Who can't reset their password today, why, and a fix file that import applies.
    ///
    /// One record per user: ready or not, the contact methods SSPR can use now, and each
    /// problem (no_method, policy_unknown, too_few_methods, admin_policy, phone_format,
    /// phone_extension, phone_shared, email_is_upn, synced_fix_in_ad; in hybrid mode also
    /// sync_pending, not_found_in_ad, ad_object_claimed_twice, ad_unavailable) with its fix
    /// where one can be derived.
    /// Writes nothing to the directory. Example:
    ///   ssprctl audit --all --not-ready --default-region US --fix-file fixes.csv
    ///   ssprctl import fixes.csv --dry-run && ssprctl import fixes.csv
    #[command(display_order = 6)]
    Audit(AuditArgs),
    /// Run MSOnline and AzureAD lines as written (Set-MsolUser, Get-AzureADUser, …)
    ///
    /// Connect-*, the module cmdlets, Set-/Get-MsolUser and Set-/Get-AzureADUser with their
    /// pipelines (Where-Object, select, Format-Table, Export-Csv, ConvertTo-Json), and the
    /// Import-Csv bulk idioms (run as one import), through the native commands. The whole script
    /// is checked before anything runs; --translate prints the native commands instead.
    #[command(
        display_order = 7,
        after_long_help = "Examples:\n  ssprctl ps 'Set-MsolUser -UserPrincipalName kim@contoso.com -MobilePhone \"+1 2065550100\"'\n  ssprctl ps --file old-runbook.ps1 --translate\n  ssprctl ps - --dry-run < pasted.ps1"
    )]
    Ps(PsArgs),
    /// Directory synchronisation (Entra Connect): `sync status`.
    #[command(subcommand, display_order = 9)]
    Sync(SyncCommand),
    /// Make the directory match a CSV or JSONL file of contact information.
    ///
    /// Validates every row first (any problem: nothing is written), reads the users with as few
    /// requests as possible, writes only what changes, and reports every row.
    #[command(
        display_order = 5,
        after_long_help = "Examples:\n  ssprctl import hr.csv --default-region US --dry-run\n  ssprctl import hr.csv --report report.csv\n  ssprctl import offices.csv --region-column Country --delimiter \";\""
    )]
    Import(ImportArgs),
    /// Show a user's authentication phones and email (MSOnline's StrongAuthenticationUserDetails).
    ///
    /// SSPR uses the authentication phone, the office phone and the email; the alternate
    /// authentication phone is used for MFA only. Phones that Graph shows masked (to an
    /// Authentication Administrator) are marked "(masked)".
    ///
    /// Security questions and answers are never shown: administrators can't see or set them.
    /// One user prints one object; several users or --all print a list (Graph reads them in
    /// $batch requests at --auth-concurrency; the local directory in one query).
    #[command(
        display_order = 3,
        after_long_help = "Examples:\n  ssprctl get-auth-details kim@contoso.com\n  ssprctl --directory graph get-auth-details --all -o csv"
    )]
    GetAuthDetails(GetAuthArgs),
    /// Sign in to Microsoft Graph with a device code (for an admin at a terminal).
    ///
    /// Prints a code and a URL on stderr; after sign-in the refresh token is saved (readable
    /// only by you) and later commands with --directory graph use it silently.
    #[command(display_order = 8)]
    Login(LoginArgs),
    /// Delete every saved login and cached access token.
    #[command(display_order = 9)]
    Logout,
    /// Credentials for --directory graph: `auth status` says who you are and what you may do.
    #[command(subcommand)]
    #[command(display_order = 10)]
    Auth(AuthCommand),
    /// The same as `auth status`.
    #[command(display_order = 11)]
    Whoami(TokenArgs),
    /// Print a shell completion script: source it, e.g. `source <(ssprctl completions bash)`.
    #[command(display_order = 12)]
    Completions(CompletionsArgs),
    /// Print the man page (roff): `ssprctl man > ssprctl.1`, or `ssprctl man | man -l -`.
    #[command(display_order = 13)]
    Man,
    /// Validate and normalise phone numbers (arguments, or one per line on stdin).
    ///
    /// Exits 1 if any number is invalid: use it to check HR data before an import.
    #[command(
        display_order = 7,
        after_long_help = "Examples:\n  ssprctl phone \"+44 20 7946 0958\" \"(425) 555-0100\" --default-region US\n  cut -d, -f3 hr.csv | ssprctl phone - -o csv --skip-blank"
    )]
    Phone(PhoneCmdArgs),
}

#[derive(Debug, Args)]
pub struct GetAuthArgs {
    /// Users: user principal names or object ids.
    #[arg(value_name = "USER", conflicts_with = "all", value_parser = user_key)]
    pub users: Vec<String>,
    /// The user, as MSOnline's -UserPrincipalName.
    #[arg(long = "user-principal-name", value_name = "UPN", value_parser = user_key, conflicts_with = "all")]
    pub upn: Option<String>,
    /// The user, as AzureAD's -ObjectId.
    #[arg(long = "object-id", value_name = "ID", value_parser = user_key, conflicts_with = "all")]
    pub object_id: Option<String>,
    /// Every user.
    #[arg(long)]
    pub all: bool,
    /// Graph: authentication-method requests in flight at most (several users or --all).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=10))]
    pub auth_concurrency: u16,
    /// Fields to show, comma-separated, case-insensitive; MSOnline, AzureAD and Graph names
    /// work too (e.g. DisplayName,UserPrincipalName,AlternateEmailAddresses,MobilePhone,PhoneNumber).
    #[arg(long, value_name = "FIELDS")]
    pub select: Option<String>,
    #[command(flatten)]
    pub connect: MethodsConnectArgs,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Users to audit: user principal names or object ids.
    #[arg(value_name = "USER", required_unless_present = "all", conflicts_with = "all", value_parser = user_key)]
    pub users: Vec<String>,
    /// Every user.
    #[arg(long)]
    pub all: bool,
    /// Print only the users who are not ready.
    #[arg(long)]
    pub not_ready: bool,
    /// Methods the SSPR policy requires to reset (Graph has no API for it: say it).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub methods_required: u8,
    /// The method kinds the SSPR policy enables, comma-separated: on a migrated tenant this
    /// overrides its authentication methods policy; before or during migration it is what the
    /// legacy SSPR policy (unreadable through Graph) is assumed to enable [default: on Graph,
    /// the methods policy per user when readable; else all].
    #[arg(
        long,
        value_name = "KINDS",
        value_delimiter = ',',
        value_enum,
        ignore_case = true
    )]
    pub enabled_methods: Vec<MethodKind>,
    /// Region for national numbers, to derive their +CC fix (e.g. US, GB).
    #[arg(long, value_name = "CC")]
    pub default_region: Option<String>,
    /// A mobile phone on more users than this is a placeholder (phone_shared).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub shared_threshold: usize,
    /// Write the derivable fixes as an import file (.csv or .jsonl): one row per user.
    #[arg(long, value_name = "PATH")]
    pub fix_file: Option<std::path::PathBuf>,
    /// Graph: also read each user's authentication methods ($batch; slower, and Graph advises
    /// the registration report for tenant-wide audits).
    #[arg(long)]
    pub with_methods: bool,
    /// JSON modes: end with the summary object (json: {"users": [...], "summary": {...}};
    /// jsonl: a last line {"summary": {...}}).
    #[arg(long)]
    pub summary: bool,
    /// Graph: authentication-method requests in flight at most (with --with-methods).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=10))]
    pub auth_concurrency: u16,
    /// Also audit disabled accounts (accountEnabled false; left out by default: they can't
    /// sign in, let alone reset).
    #[arg(long)]
    pub include_disabled: bool,
    /// Also audit guests (userType Guest; left out by default: their home tenant resets them).
    #[arg(long)]
    pub include_guests: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// SSPR's contact method kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodKind {
    /// Mobile phone (SMS or call).
    Mobile,
    /// Office phone (call).
    Office,
    /// Email.
    Email,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum, ignore_case = true)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Get a token (the cache is fine) and show the credential, tenant, app, cloud, expiry,
    /// signed-in user and granted permissions, then which operations they allow.
    ///
    /// Exit 0 when a token was obtained, 4 (with the next step) when not. The token itself is
    /// never printed.
    Status(TokenArgs),
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// The tenant's synchronisation: whether it is on, when Entra Connect last synced, and
    /// when its next default (30-minute) cycle is due. Reads the organization resource
    /// (Organization.Read.All); writes nothing.
    Status(TokenArgs),
}

/// `--wait-for-sync`: on the commands that write users.
#[derive(Debug, Clone, Default, Args)]
pub struct WaitArgs {
    /// Hybrid mode: after the AD writes, wait up to DURATION (e.g. 90s, 45m, 1h30m) for Entra
    /// Connect to copy them, polling Microsoft Graph; each user ends synced or pending, and
    /// exit 6 says some are still pending when the time runs out.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub wait_for_sync: Option<std::time::Duration>,
}

/// A duration as admins write one: `90s`, `45m`, `2h`, `1h30m` (or plain seconds), up to 24 h.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let bad =
        || format!("\"{s}\" is not a duration: write e.g. 90s, 45m, 2h or 1h30m (at most 24h)");
    let t = s.trim().to_ascii_lowercase();
    if t.is_empty() {
        return Err(bad());
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in t.chars() {
        match c {
            '0'..='9' => number.push(c),
            'h' | 'm' | 's' if !number.is_empty() => {
                let n: u64 = number.parse().map_err(|_| bad())?;
                let unit = match c {
                    'h' => 3600,
                    'm' => 60,
                    _ => 1,
                };
                total = total.saturating_add(n.saturating_mul(unit));
                number.clear();
            }
            _ => return Err(bad()),
        }
    }
    if !number.is_empty() {
        total = total.saturating_add(number.parse().map_err(|_| bad())?);
    }
    if total == 0 || total > 24 * 3600 {
        return Err(bad());
    }
    Ok(std::time::Duration::from_secs(total))
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file, or - for stdin. Columns/keys: userPrincipalName or id, and any of
    /// alternateEmailAddresses (; between addresses), mobilePhone, officePhone,
    /// authenticationPhone, alternateAuthenticationPhone, authenticationOfficePhone,
    /// authenticationEmail (or their MSOnline/AzureAD/Graph names).
    #[arg(value_name = "FILE")]
    pub file: String,
    /// File format [default: from the extension: .csv, or .jsonl/.ndjson; for stdin (-), from
    /// the content].
    #[arg(long, value_enum, ignore_case = true)]
    pub format: Option<ImportFormat>,
    /// The column (or JSONL key) holding each row's country as an ISO code (US, GB…): national
    /// numbers in that row are read in that region (overrides --default-region for the row).
    #[arg(long, value_name = "NAME")]
    pub region_column: Option<String>,
    /// CSV field separator [default: from the header: `;` (European Excel), tab or `,`].
    #[arg(long, value_enum, ignore_case = true, value_name = "SEP")]
    pub delimiter: Option<Delimiter>,
    /// Show the plan (per user, field: old → new) and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
    /// Write one record per input row to PATH (.csv, or .jsonl); its failed rows re-import as is.
    #[arg(long, value_name = "PATH")]
    pub report: Option<std::path::PathBuf>,
    /// Import the valid rows and report the invalid ones as skipped, instead of stopping.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Local directory only: create the users the file names (by userPrincipalName) that don't
    /// exist yet, before importing (sandbox tenants; AD and Graph accounts are not created).
    #[arg(long)]
    pub create_missing: bool,
    /// Empty cells clear the field (otherwise they leave it alone).
    #[arg(long)]
    pub clear_empty: bool,
    #[command(flatten)]
    pub phone: PhoneArgs,
    /// Graph: $batch requests in flight at most (each holds up to 20 user requests).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=20))]
    pub concurrency: u16,
    /// Graph: authentication-method requests in flight at most (they have lower limits).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=10))]
    pub auth_concurrency: u16,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// CSV separators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Delimiter {
    /// `,`
    #[value(name = ",", alias = "comma")]
    Comma,
    /// `;`
    #[value(name = ";", alias = "semicolon")]
    Semicolon,
    /// A tab.
    #[value(name = "tab", alias = "\\t")]
    Tab,
}

impl Delimiter {
    pub fn byte(self) -> u8 {
        match self {
            Delimiter::Comma => b',',
            Delimiter::Semicolon => b';',
            Delimiter::Tab => b'\t',
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportFormat {
    /// CSV with a header row (RFC 4180; UTF-8, BOM optional).
    Csv,
    /// One JSON object per line.
    Jsonl,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Tenant: its id or a verified domain (e.g. contoso.onmicrosoft.com).
    #[arg(long, env = "AZURE_TENANT_ID", value_name = "TENANT")]
    pub tenant: String,
    /// Application (client) id of an app registration that allows public client flows.
    #[arg(long, env = "AZURE_CLIENT_ID", value_name = "ID")]
    pub client_id: String,
    #[command(flatten)]
    pub graph: GraphArgs,
}

#[derive(Debug, Args)]
pub struct NewUserArgs {
    /// User principal name, e.g. kim@contoso.com.
    #[arg(value_name = "UPN")]
    pub upn: String,
    /// Display name.
    #[arg(long, value_name = "NAME")]
    pub display_name: Option<String>,
    /// Mark the user as synchronised from on-premises AD (its phones can't be changed here).
    #[arg(long)]
    pub synced: bool,
    #[command(flatten)]
    pub directory: DirectoryArg,
}

#[derive(Debug, Args)]
pub struct RemoveUserArgs {
    #[command(flatten)]
    pub user: UserArg,
    #[command(flatten)]
    pub directory: DirectoryArg,
}

/// The user a command acts on.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct UserArg {
    /// The user: a user principal name (case-insensitive) or an object id.
    #[arg(value_name = "USER", value_parser = user_key)]
    pub user: Option<String>,
    /// The user, as MSOnline's -UserPrincipalName.
    #[arg(long = "user-principal-name", value_name = "UPN", value_parser = user_key)]
    pub upn: Option<String>,
    /// The user, as AzureAD's -ObjectId.
    #[arg(long = "object-id", value_name = "ID", value_parser = user_key)]
    pub object_id: Option<String>,
}

impl UserArg {
    pub fn value(&self) -> &str {
        self.user
            .as_deref()
            .or(self.upn.as_deref())
            .or(self.object_id.as_deref())
            .expect("clap requires one of them")
    }
}

/// How phone numbers are read.
#[derive(Debug, Args)]
pub struct PhoneArgs {
    /// Region for numbers written without +CountryCode, e.g. US, GB (ISO 3166 two letters).
    #[arg(long, value_name = "CC")]
    pub default_region: Option<String>,
    /// strict: the number must be valid for its country; length: a possible length suffices.
    #[arg(long, value_enum, ignore_case = true, default_value_t = PhoneCheckArg::Strict)]
    pub phone_check: PhoneCheckArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PhoneCheckArg {
    /// Valid for its country by the phone metadata.
    Strict,
    /// Only a possible length for its country.
    Length,
}

#[derive(Debug, Args)]
pub struct SetUserArgs {
    #[command(flatten)]
    pub user: UserArg,
    /// Replace the alternate email addresses (repeat, or separate with , or ;).
    #[arg(long = "alternate-email", visible_aliases = ["alternate-email-addresses", "other-mails"],
          value_name = "ADDR", value_delimiter = ',', num_args = 1)]
    pub alternate_email: Vec<String>,
    /// Add an alternate email address, keeping the others.
    #[arg(
        long,
        value_name = "ADDR",
        value_delimiter = ',',
        conflicts_with = "alternate_email"
    )]
    pub add_alternate_email: Vec<String>,
    /// Remove an alternate email address, keeping the others.
    #[arg(long, value_name = "ADDR", value_delimiter = ',',
          conflicts_with_all = ["alternate_email", "add_alternate_email"])]
    pub remove_alternate_email: Vec<String>,
    /// Mobile phone, as +CountryCode Number (MSOnline -MobilePhone, AzureAD -Mobile).
    #[arg(long, visible_alias = "mobile", value_name = "PHONE")]
    pub mobile_phone: Option<String>,
    /// Office phone (MSOnline -PhoneNumber, AzureAD -TelephoneNumber, Graph businessPhones).
    #[arg(long, visible_aliases = ["phone-number", "telephone-number"], value_name = "PHONE")]
    pub office_phone: Option<String>,
    /// Clear a field (repeatable).
    #[arg(long, value_enum, ignore_case = true, value_name = "FIELD")]
    pub clear: Vec<UserClear>,
    #[command(flatten)]
    pub phone: PhoneArgs,
    /// Show what would change and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UserClear {
    /// All alternate email addresses.
    AlternateEmail,
    /// The mobile phone.
    MobilePhone,
    /// The office phone.
    OfficePhone,
}

#[derive(Debug, Args)]
pub struct GetUserArgs {
    /// Users: user principal names or object ids.
    #[arg(value_name = "USER", conflicts_with = "all", value_parser = user_key)]
    pub users: Vec<String>,
    /// Every user, sorted by user principal name.
    #[arg(long)]
    pub all: bool,
    /// Fields to show, comma-separated, case-insensitive; MSOnline, AzureAD and Graph names
    /// work too (e.g. DisplayName,UserPrincipalName,AlternateEmailAddresses,MobilePhone,PhoneNumber).
    /// On AD also samAccountName; in hybrid mode (--ad) also adMatch, adDistinguishedName,
    /// adMobilePhone, adOfficePhone and syncPending (shown after the others by default).
    #[arg(long, value_name = "FIELDS")]
    pub select: Option<String>,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, Args)]
pub struct SetAuthArgs {
    #[command(flatten)]
    pub user: UserArg,
    /// Authentication phone (used for SMS and voice calls).
    #[arg(long, value_name = "PHONE")]
    pub phone: Option<String>,
    /// Alternate authentication phone (needs an authentication phone). Used for MFA only:
    /// SSPR can't use it.
    #[arg(long, value_name = "PHONE")]
    pub alternate_phone: Option<String>,
    /// Office authentication phone.
    #[arg(long, value_name = "PHONE")]
    pub office_phone: Option<String>,
    /// Authentication email.
    #[arg(long, value_name = "ADDR")]
    pub email: Option<String>,
    /// Remove a method (repeatable).
    #[arg(long, value_enum, ignore_case = true, value_name = "METHOD")]
    pub clear: Vec<AuthClear>,
    #[command(flatten)]
    pub phone_args: PhoneArgs,
    /// Show what would change and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub connect: MethodsConnectArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthClear {
    /// The authentication phone.
    Phone,
    /// The alternate authentication phone.
    AlternatePhone,
    /// The office authentication phone.
    OfficePhone,
    /// The authentication email.
    Email,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// The PowerShell line(s) to run; - reads the script from stdin.
    #[arg(value_name = "LINE", conflicts_with = "file")]
    pub line: Option<String>,
    /// Run the script in this file.
    #[arg(long, value_name = "SCRIPT.ps1")]
    pub file: Option<std::path::PathBuf>,
    /// Print the native ssprctl commands that do the same, one per statement; run nothing.
    #[arg(long)]
    pub translate: bool,
    /// Show what each write would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub phone: PhoneArgs,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, Args)]
pub struct PhoneCmdArgs {
    /// Numbers to check; none (or -) reads one per line from stdin, as a stream: LF, CRLF or
    /// CR line ends; a line that is not UTF-8 is reported invalid and the rest go on.
    #[arg(value_name = "NUMBER")]
    pub numbers: Vec<String>,
    /// Leave out blank lines of stdin (otherwise each is reported, so results line up with
    /// the input's lines).
    #[arg(long)]
    pub skip_blank: bool,
    #[command(flatten)]
    pub phone: PhoneArgs,
}

impl TokenArgs {
    fn merge(&mut self, later: TokenArgs) {
        self.credential.merge(later.credential);
        self.graph.merge(later.graph);
    }
}

impl ConnectArgs {
    fn merge(&mut self, later: ConnectArgs) {
        self.directory.merge(later.directory);
        self.token.merge(later.token);
        self.ad.merge(later.ad);
    }
}

impl From<MethodsConnectArgs> for ConnectArgs {
    fn from(MethodsConnectArgs { directory, token }: MethodsConnectArgs) -> Self {
        ConnectArgs {
            directory,
            token,
            ad: AdArgs::default(),
        }
    }
}

impl From<TokenArgs> for ConnectArgs {
    fn from(token: TokenArgs) -> Self {
        ConnectArgs {
            token,
            ..ConnectArgs::default()
        }
    }
}

impl From<DirectoryArg> for ConnectArgs {
    fn from(directory: DirectoryArg) -> Self {
        ConnectArgs {
            directory,
            ..ConnectArgs::default()
        }
    }
}

impl Command {
    /// Moves out the directory options given after the command (those its help lists).
    fn take_connect(&mut self) -> ConnectArgs {
        use std::mem::take;
        match self {
            Command::GetUser(a) => take(&mut a.connect),
            Command::SetUser(a) => take(&mut a.connect),
            Command::Import(a) => take(&mut a.connect),
            Command::Audit(a) => take(&mut a.connect),
            Command::Ps(a) => take(&mut a.connect),
            Command::GetAuthDetails(a) => take(&mut a.connect).into(),
            Command::SetAuthDetails(a) => take(&mut a.connect).into(),
            Command::NewUser(a) => take(&mut a.directory).into(),
            Command::RemoveUser(a) => take(&mut a.directory).into(),
            Command::Login(a) => TokenArgs {
                credential: CredentialArg::default(),
                graph: take(&mut a.graph),
            }
            .into(),
            Command::Auth(AuthCommand::Status(a))
            | Command::Whoami(a)
            | Command::Sync(SyncCommand::Status(a)) => take(a).into(),
            Command::Logout | Command::Completions(_) | Command::Man | Command::Phone(_) => {
                ConnectArgs::default()
            }
        }
    }
}

impl Cli {
    /// Parses arguments without exiting. The directory options may come before the command
    /// (for every command) or after it (for the commands that use them, which list them in
    /// their help); given in both places, the later one wins.
    pub fn try_parse_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let RawCli {
            common,
            mut connect,
            mut command,
        } = RawCli::try_parse_from(args)?;
        connect.merge(command.take_connect());
        let ConnectArgs {
            directory,
            token: TokenArgs { credential, graph },
            ad,
        } = connect;
        Ok(Cli {
            global: GlobalArgs {
                output: common.output,
                quiet: common.quiet,
                verbose: common.verbose,
                directory: directory.directory,
                credential: credential.credential,
                cloud: graph.cloud,
                graph_url: graph.graph_url,
                authority_host: graph.authority_host,
                max_retries: graph.max_retries.unwrap_or(DEFAULT_MAX_RETRIES),
                timeout: graph.timeout.unwrap_or(DEFAULT_TIMEOUT),
                ldap_ca: ad.ldap_ca,
                ldap_insecure_skip_verify: ad.ldap_insecure_skip_verify,
                base_dn: ad.base_dn,
                ldap_filter: ad.ldap_filter,
                ldap_auth: ad.ldap_auth,
                ad: ad.ad,
            },
            command,
        })
    }

    /// The clap command, for completions and the man page.
    pub fn command() -> clap::Command {
        <RawCli as clap::CommandFactory>::command()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_args(std::iter::once("ssprctl").chain(args.iter().copied()))
    }

    #[test]
    fn durations_read_as_admins_write_them() {
        let secs = |s: &str| parse_duration(s).map(|d| d.as_secs());
        assert_eq!(secs("90s"), Ok(90));
        assert_eq!(secs("45m"), Ok(2700));
        assert_eq!(secs("1h30m"), Ok(5400));
        assert_eq!(secs("2H"), Ok(7200));
        assert_eq!(secs("600"), Ok(600));
        assert_eq!(secs("24h"), Ok(86400));
        for bad in ["", "0", "0s", "25h", "m", "1.5h", "-5m", "5 m", "1d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn msonline_and_azuread_spellings_are_accepted() {
        let cli = parse(&[
            "set-user",
            "--user-principal-name",
            "kim@contoso.com",
            "--alternate-email-addresses",
            "a@x.com,b@x.com",
            "--mobile",
            "+1 2015550123",
            "--telephone-number",
            "+1 2015550124",
        ])
        .unwrap();
        let Command::SetUser(a) = cli.command else {
            panic!()
        };
        assert_eq!(a.user.value(), "kim@contoso.com");
        assert_eq!(a.alternate_email, ["a@x.com", "b@x.com"]);
        assert_eq!(a.mobile_phone.as_deref(), Some("+1 2015550123"));
        assert_eq!(a.office_phone.as_deref(), Some("+1 2015550124"));
        let cli = parse(&[
            "set-user",
            "--object-id",
            "x",
            "--other-mails",
            "a@x.com",
            "--phone-number",
            "1",
        ])
        .unwrap();
        let Command::SetUser(a) = cli.command else {
            panic!()
        };
        assert_eq!(a.user.value(), "x");
        assert_eq!(a.office_phone.as_deref(), Some("1"));
    }

    #[test]
    fn global_options_go_before_or_after_the_command() {
        let a = parse(&["-o", "json", "get-user", "--all"]).unwrap();
        let b = parse(&["get-user", "--all", "-o", "json", "--select", "id"]).unwrap();
        assert_eq!(a.global.output, Some(Format::Json));
        assert_eq!(b.global.output, Some(Format::Json));
        let Command::GetUser(g) = &b.command else {
            panic!("get-user")
        };
        assert_eq!(g.select.as_deref(), Some("id"));
        // --select belongs to the commands that print fields.
        assert!(parse(&["set-user", "x", "--select", "id"]).is_err());
        let c = parse(&[
            "--cloud",
            "usgov-dod",
            "get-user",
            "--all",
            "--max-retries",
            "0",
            "--timeout",
            "2.5",
        ])
        .unwrap();
        assert_eq!(c.global.cloud, Some(Cloud::UsgovDod));
        assert_eq!((c.global.max_retries, c.global.timeout), (0, 2.5));
        assert!(parse(&["get-user", "--all", "--max-retries", "11"]).is_err());
        assert!(parse(&["get-user", "--all", "--timeout", "0"]).is_err());
        let d = parse(&["get-user", "--all"]).unwrap();
        assert_eq!(
            (d.global.max_retries, d.global.timeout, d.global.credential),
            (DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, None)
        );
    }

    #[test]
    fn directory_options_go_before_any_command_or_after_those_that_use_them() {
        // Before the command: every command, so a script can set them once.
        let a = parse(&["--directory", "graph", "--ldap-ca", "ca.pem", "phone", "1"]).unwrap();
        assert_eq!(a.global.directory.as_deref(), Some("graph"));
        // After the command: only where its help lists them.
        for args in [
            &["phone", "1", "--directory", "graph"][..],
            &["phone", "1", "--cloud", "usgov"],
            &["completions", "bash", "--graph-url", "https://x"],
            &["get-auth-details", "x", "--ldap-ca", "ca.pem"],
            &["new-user", "a@x.com", "--credential", "secret"],
            &[
                "login",
                "--tenant",
                "t",
                "--client-id",
                "c",
                "--directory",
                "graph",
            ],
            &["whoami", "--base-dn", "DC=x"],
        ] {
            let e = parse(args).unwrap_err();
            assert_eq!(
                e.kind(),
                clap::error::ErrorKind::UnknownArgument,
                "{args:?}"
            );
        }
        // Given twice, the later one (the command's own) wins; a flag given once is kept.
        let b = parse(&[
            "--directory",
            "local",
            "--timeout",
            "9",
            "--ldap-insecure-skip-verify",
            "import",
            "f.csv",
            "--directory",
            "graph",
            "--credential",
            "secret",
        ])
        .unwrap();
        assert_eq!(b.global.directory.as_deref(), Some("graph"));
        assert_eq!(b.global.credential, Some(CredentialKind::Secret));
        assert_eq!(b.global.timeout, 9.0);
        assert!(b.global.ldap_insecure_skip_verify);
        for (args, want) in [
            (
                &["remove-user", "x", "--directory", "local:a.db"][..],
                "local:a.db",
            ),
            (
                &["new-user", "a@x.com", "--directory", "local:b.db"],
                "local:b.db",
            ),
            (&["get-auth-details", "x", "--directory", "graph"], "graph"),
            (
                &[
                    "set-auth-details",
                    "x",
                    "--email",
                    "a@x.com",
                    "--directory",
                    "graph",
                ],
                "graph",
            ),
            (
                &["audit", "--all", "--directory", "ldaps://dc"],
                "ldaps://dc",
            ),
        ] {
            assert_eq!(
                parse(args).unwrap().global.directory.as_deref(),
                Some(want),
                "{args:?}"
            );
        }
        let c = parse(&["--cloud", "china", "auth", "status", "--cloud", "usgov"]).unwrap();
        assert_eq!(c.global.cloud, Some(Cloud::Usgov));
        let l = parse(&[
            "login",
            "--tenant",
            "t",
            "--client-id",
            "c",
            "--cloud",
            "china",
        ])
        .unwrap();
        assert_eq!(l.global.cloud, Some(Cloud::China));
    }

    #[test]
    fn user_is_required_once() {
        // get-auth-details takes several users or --all (no user: exit 2 at run time, with a hint).
        assert!(parse(&["get-auth-details", "a", "--all"]).is_err());
        assert!(parse(&["get-auth-details", "a", "--object-id", "b"]).is_ok());
        // get-user with no user: exit 2 at run time, with a hint to use --all.
        assert!(parse(&["get-user"]).is_ok());
        assert!(parse(&["get-user", "a", "--all"]).is_err());
    }

    #[test]
    fn replace_and_incremental_edits_conflict() {
        assert!(
            parse(&[
                "set-user",
                "u",
                "--alternate-email",
                "a@x.com",
                "--add-alternate-email",
                "b@x.com"
            ])
            .is_err()
        );
        assert!(
            parse(&[
                "set-user",
                "u",
                "--clear",
                "mobile-phone",
                "--clear",
                "office-phone"
            ])
            .is_ok()
        );
        assert!(parse(&["set-user", "u", "--phone-check", "loose"]).is_err());
    }
}
