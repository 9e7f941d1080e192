//! The on-premises Active Directory backend: the attributes Entra Connect syncs to SSPR, read
//! and fixed at their source.
//!
//! | ssprctl field | AD attribute |
//! |---|---|
//! | `id` | `objectGUID` (as a GUID string) |
//! | `userPrincipalName` | `userPrincipalName` (users are also found by `sAMAccountName` or `DOMAIN\sam`) |
//! | `displayName` | `displayName` |
//! | `mobilePhone` | `mobile` |
//! | `officePhone` | `telephoneNumber` |
//!
//! The alternate email is not in AD (Entra Connect doesn't sync it) and neither are the
//! authentication methods: both are refused with a hint to use `--directory graph`. Writes are
//! LDAP modify operations that `replace` exactly the changed attributes (an empty replace
//! clears one), addressed by `<GUID=…>`. Searches skip referrals and use the paged-results
//! control. A bulk run writes over a few connections with one bind each; a connection that
//! drops is reopened and the (idempotent) write retried with back-off.

pub mod conn;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ldap3::adapters::{EntriesOnly, PagedResults};
use ldap3::{Ldap, Mod, Scope, SearchEntry, ldap_escape};

use super::{BulkControl, Current, Directory, DirectoryError, Outcome, Planned, Read};
use crate::diag::Log;
use crate::model::{AuthDetails, OnPremises, User, UserField, check_user_key, is_guid};
use crate::plan::{AuthPlan, PlanError, UserPatch, UserPlan};
use crate::secret::Secret;

/// How to reach and bind to a domain controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapSettings {
    /// `ldaps://host:port` or `ldap://host:port` (upgraded with StartTLS).
    pub url: String,
    pub host: String,
    pub starttls: bool,
    /// `SSPRCTL_LDAP_BIND_DN`: a DN, `DOMAIN\\user` or a UPN.
    pub bind_dn: Option<String>,
    /// `SSPRCTL_LDAP_PASSWORD` or the content of `SSPRCTL_LDAP_PASSWORD_FILE`.
    pub password: Option<Secret>,
    /// A PEM file of CA certificates trusted besides the system's.
    pub ca: Option<PathBuf>,
    pub insecure_skip_verify: bool,
    pub base_dn: Option<String>,
    pub filter: String,
    /// Whether stdin is a terminal (to prompt for a missing password).
    pub stdin_tty: bool,
    /// How to bind (`--ldap-auth`), resolved by `settings`: never `Auto` here.
    pub auth: LdapAuth,
}

/// How to bind to the domain controller (`--ldap-auth`, `SSPRCTL_LDAP_AUTH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LdapAuth {
    /// Kerberos when no bind DN is set and a ticket cache exists (KRB5CCNAME), else simple.
    #[default]
    Auto,
    /// A simple bind as SSPRCTL_LDAP_BIND_DN with its password, always over TLS.
    Simple,
    /// A Kerberos (GSSAPI) bind with the ticket in the cache (`kinit`): no password. Over
    /// ldaps:// Kerberos authenticates and TLS protects; over ldap:// Kerberos seals the
    /// connection (no StartTLS).
    Kerberos,
}

/// The credential a connection binds with.
#[derive(Clone)]
pub enum Bind {
    Simple { dn: String, password: Secret },
    Kerberos,
}

impl std::fmt::Debug for Bind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bind::Simple { dn, .. } => write!(f, "Simple({dn}, password redacted)"),
            Bind::Kerberos => f.write_str("Kerberos"),
        }
    }
}

/// The users an AD search considers unless `--ldap-filter` says otherwise.
pub const DEFAULT_LDAP_FILTER: &str = "(&(objectCategory=person)(objectClass=user))";

/// The attributes read for a user.
const ATTRS: [&str; 10] = [
    "objectGUID",
    "mS-DS-ConsistencyGuid",
    "objectSid",
    "userPrincipalName",
    "sAMAccountName",
    "displayName",
    "mobile",
    "telephoneNumber",
    "userAccountControl",
    "isCriticalSystemObject",
];

/// userAccountControl's ACCOUNTDISABLE flag.
const ACCOUNTDISABLE: u32 = 0x2;
/// AD's default MaxPageSize.
const PAGE: i32 = 1000;
/// Attempts of one operation when the server is down or busy.
const ATTEMPTS: u32 = 4;
/// Above this many keys a bulk read lists every user once instead of one search per key.
pub const LIST_ABOVE: usize = 200;

/// Fields AD doesn't hold: shown as null.
pub const NOT_IN_AD: [UserField; 2] = [
    UserField::AlternateEmailAddresses,
    UserField::OnPremisesSyncEnabled,
];

fn not_in_ad_email() -> DirectoryError {
    DirectoryError::Unsupported(
        "the alternate email is not in Active Directory (Entra Connect doesn't sync it); nothing was \
         written. Set it in the tenant: ssprctl --directory graph set-user USER --alternate-email ADDR"
            .into(),
    )
}

fn not_in_ad_methods() -> DirectoryError {
    DirectoryError::Unsupported(
        "authentication methods are not in Active Directory; nothing was written. Read and set them \
         in the tenant: ssprctl --directory graph get-auth-details / set-auth-details"
            .into(),
    )
}

/// A user directory on a domain controller.
pub struct AdDirectory {
    settings: LdapSettings,
    tls: Option<Arc<rustls::ClientConfig>>,
    bind: Bind,
    /// The connection of single operations (reopened when it drops).
    ldap: std::cell::RefCell<Ldap>,
    base: String,
    log: Log,
    /// How much one search may return.
    limits: Limits,
}

/// The most one search may return: entries, and bytes of DNs and asked-for values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub entries: usize,
    pub bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            entries: MAX_ENTRIES,
            bytes: MAX_BYTES,
        }
    }
}

/// The AD attribute of a patched field and its new value (`None` clears it).
fn mods(patch: &UserPatch) -> Vec<(&'static str, Option<String>)> {
    let mut m = Vec::new();
    if let Some(v) = &patch.mobile_phone {
        m.push(("mobile", v.clone()));
    }
    if let Some(v) = &patch.office_phone {
        m.push(("telephoneNumber", v.clone()));
    }
    m
}

fn ldap_mods(m: &[(&'static str, Option<String>)]) -> Vec<Mod<String>> {
    m.iter()
        .map(|(attr, v)| {
            Mod::Replace(
                attr.to_string(),
                v.iter().cloned().collect::<HashSet<String>>(),
            )
        })
        .collect()
}

/// The first value of attribute `a` (names are case-insensitive in LDAP), text or binary.
fn value<'e>(e: &'e SearchEntry, a: &str) -> Option<&'e [u8]> {
    let text = e
        .attrs
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(a))
        .find_map(|(_, v)| v.first().map(String::as_bytes));
    text.or_else(|| {
        e.bin_attrs
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(a))
            .find_map(|(_, v)| v.first().map(Vec::as_slice))
    })
}

/// A user from a search entry; `None` when it has no GUID (not a user object).
fn user_of(e: &SearchEntry) -> Option<User> {
    let first = |a: &str| value(e, a).map(|v| String::from_utf8_lossy(v).into_owned());
    // ldap3 files a binary value that happens to be valid UTF-8 (about 1 GUID in 10,000)
    // under the text attributes: `value` reads it wherever it is.
    let guid = value(e, "objectGUID")?;
    let id = conn::guid_string(guid)?;
    let consistency = value(e, "mS-DS-ConsistencyGuid").filter(|v| v.len() == 16);
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let on_premises = OnPremises {
        immutable_id: Some(b64.encode(consistency.unwrap_or(guid))),
        anchored_by_consistency_guid: consistency.is_some(),
        security_identifier: value(e, "objectSid").and_then(conn::sid_string),
        sam_account_name: first("sAMAccountName"),
        distinguished_name: Some(e.dn.clone()),
    };
    Some(User {
        id,
        // An account without one (Administrator, service accounts) has none: shown null and
        // named by its sAMAccountName (`User::name`).
        user_principal_name: first("userPrincipalName").unwrap_or_default(),
        display_name: first("displayName"),
        alternate_email_addresses: Vec::new(),
        mobile_phone: first("mobile"),
        office_phone: first("telephoneNumber"),
        on_premises_sync_enabled: false,
        account_enabled: first("userAccountControl")
            .and_then(|v| v.trim().parse::<u32>().ok())
            .map(|uac| uac & ACCOUNTDISABLE == 0),
        // Built-in accounts (krbtgt, Guest, Administrator, the DC's own): not SSPR subjects.
        user_type: first("isCriticalSystemObject")
            .filter(|v| v.eq_ignore_ascii_case("TRUE"))
            .map(|_| BUILT_IN.to_string()),
        on_premises,
    })
}

/// The column AD adds to `get-user`.
pub const EXTRA_FIELDS: &[&str] = &["samAccountName"];

/// The `userType` of an AD account marked `isCriticalSystemObject`.
pub const BUILT_IN: &str = "BuiltIn";

impl AdDirectory {
    /// Connects, binds as `bind_dn` with `password` and finds the base DN.
    pub async fn open(
        settings: LdapSettings,
        bind_dn: String,
        password: Secret,
        log: impl Into<Log>,
    ) -> Result<Self, DirectoryError> {
        let bind = Bind::Simple {
            dn: bind_dn,
            password,
        };
        Self::open_bound(settings, bind, log).await
    }

    /// Connects, binds with `bind` and finds the base DN.
    pub async fn open_bound(
        settings: LdapSettings,
        bind: Bind,
        log: impl Into<Log>,
    ) -> Result<Self, DirectoryError> {
        let log = log.into();
        if settings.insecure_skip_verify {
            log.warn(&format!(
                "--ldap-insecure-skip-verify: the certificate of {} is not checked; anyone on the path can read the bind password",
                settings.url
            ));
        }
        let tls = conn::tls_config(&settings)?;
        let mut ldap = conn::connect(&settings, &tls, &bind).await?;
        log.log(1, &conn::bound_note(&settings, &bind, &mut ldap).await);
        let mut d = AdDirectory {
            base: settings.base_dn.clone().unwrap_or_default(),
            settings,
            tls,
            bind,
            ldap: std::cell::RefCell::new(ldap),
            log,
            limits: Limits::default(),
        };
        if d.base.is_empty() {
            d.base = d.default_naming_context().await?;
            d.log
                .log(1, &format!("base DN {} (defaultNamingContext)", d.base));
        }
        Ok(d)
    }

    async fn default_naming_context(&self) -> Result<String, DirectoryError> {
        let entries = self
            .search(
                "",
                Scope::Base,
                "(objectClass=*)",
                &["defaultNamingContext"],
                false,
            )
            .await?;
        entries
            .first()
            .and_then(|e| e.attrs.get("defaultNamingContext"))
            .and_then(|v| v.first())
            .cloned()
            .ok_or_else(|| DirectoryError::Storage {
                message: format!(
                    "{} has no defaultNamingContext in its RootDSE",
                    self.settings.url
                ),
                hint: "give the base DN with --base-dn, e.g. DC=contoso,DC=com".into(),
            })
    }

    /// A new bound connection.
    async fn reconnect(&self) -> Result<Ldap, DirectoryError> {
        conn::connect(&self.settings, &self.tls, &self.bind).await
    }

    /// Runs `search` with retries: a dropped or busy server is retried with back-off over a
    /// new connection.
    async fn search(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
        paged: bool,
    ) -> Result<Vec<SearchEntry>, DirectoryError> {
        let what = format!("searching {} for {filter}", self.settings.url);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut ldap = self.ldap.borrow().clone();
            let result = tokio::time::timeout(
                conn::OP_TIMEOUT * 4,
                search_on(
                    &mut ldap,
                    Search {
                        base,
                        scope,
                        filter,
                        attrs,
                        paged,
                    },
                    self.limits,
                    &what,
                ),
            )
            .await
            .unwrap_or_else(|_| Err(conn::unavailable(&what, "timed out")));
            match result {
                Err(e) if conn::retryable(&e) && attempt < ATTEMPTS => {
                    self.pause(attempt, &e).await;
                    if let Ok(l) = self.reconnect().await {
                        *self.ldap.borrow_mut() = l;
                    }
                }
                other => return other,
            }
        }
    }

    async fn pause(&self, attempt: u32, e: &DirectoryError) {
        let wait = backoff(attempt);
        self.log
            .log(1, &format!("{e}; retrying in {:.1} s", wait.as_secs_f64()));
        tokio::time::sleep(wait).await;
    }

    /// The filter that finds `key`: a GUID, `DOMAIN\sam`, a UPN or a sAMAccountName.
    fn key_filter(&self, key: &str) -> String {
        let cond = if let Some(g) = is_guid(key).then(|| conn::guid_filter(key)).flatten() {
            format!("(objectGUID={g})")
        } else if let Some((_, sam)) = key.split_once('\\') {
            format!("(sAMAccountName={})", ldap_escape(sam))
        } else if key.contains('@') {
            format!("(userPrincipalName={})", ldap_escape(key))
        } else {
            format!("(sAMAccountName={})", ldap_escape(key))
        };
        format!("(&{}{cond})", self.settings.filter)
    }

    /// The user named `key`, or `None`.
    async fn find(&self, key: &str) -> Result<Option<User>, DirectoryError> {
        check_user_key(key)
            .map_err(|why| DirectoryError::Unsupported(format!("\"{key}\": {why}")))?;
        let entries = self
            .search(
                &self.base,
                Scope::Subtree,
                &self.key_filter(key),
                &ATTRS,
                false,
            )
            .await?;
        let users: Vec<User> = entries.iter().filter_map(user_of).collect();
        match users.len() {
            0 => Ok(None),
            1 => Ok(users.into_iter().next()),
            n => Err(DirectoryError::Storage {
                message: format!("{n} users match \"{key}\""),
                hint: "name the user by userPrincipalName or objectGUID".into(),
            }),
        }
    }

    /// Bounds every later search by `limits` instead of the defaults.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Writes the phones of `patch` to `user` (read from this directory) in one modify.
    pub async fn write_phones(&self, user: &User, patch: &UserPatch) -> Result<(), DirectoryError> {
        let m = mods(patch);
        if m.is_empty() {
            return Ok(());
        }
        let mut ldap = self.ldap.borrow().clone();
        self.modify(&mut ldap, &user.id, user.name(), &m).await
    }

    /// The AD objects that Entra users (synchronised ones) may be joined to, in one read: for a
    /// few users, one search by their anchors (objectGUID, mS-DS-ConsistencyGuid, objectSid);
    /// for more than [`LIST_ABOVE`], every user under the base and filter, paged.
    pub async fn find_anchored(&self, entra: &[&User]) -> Result<Vec<User>, DirectoryError> {
        if entra.is_empty() {
            return Ok(Vec::new());
        }
        if entra.len() > LIST_ABOVE {
            return self.list_users().await;
        }
        use base64::Engine as _;
        let mut terms = String::new();
        for u in entra {
            let anchor = u
                .on_premises
                .immutable_id
                .as_deref()
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .filter(|b| b.len() == 16);
            if let Some(b) = anchor {
                let v = conn::escape_bytes(&b);
                terms.push_str(&format!("(objectGUID={v})(mS-DS-ConsistencyGuid={v})"));
            }
            if let Some(sid) = u
                .on_premises
                .security_identifier
                .as_deref()
                .and_then(conn::sid_filter)
            {
                terms.push_str(&format!("(objectSid={sid})"));
            }
        }
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let filter = format!("(&{}(|{terms}))", self.settings.filter);
        let entries = self
            .search(&self.base, Scope::Subtree, &filter, &ATTRS, true)
            .await?;
        Ok(entries.iter().filter_map(user_of).collect())
    }

    /// Modifies the user `id` (a GUID), retrying a dropped or busy server over `ldap`.
    async fn modify(
        &self,
        ldap: &mut Ldap,
        id: &str,
        upn: &str,
        m: &[(&'static str, Option<String>)],
    ) -> Result<(), DirectoryError> {
        modify_on(ldap, id, upn, m, || self.reconnect(), &self.log).await
    }
}

/// Most entries one search may return: 10,000 pages of 1,000 (Graph's bound is 10,000 pages).
pub const MAX_ENTRIES: usize = 10_000 * PAGE as usize;
/// Most bytes of entries one search may hold (DNs and the values of the attributes asked
/// for; anything else the server sends is dropped as it arrives).
pub const MAX_BYTES: usize = 256 << 20;

/// What to search for.
struct Search<'a> {
    base: &'a str,
    scope: Scope,
    filter: &'a str,
    attrs: &'a [&'a str],
    paged: bool,
}

/// One search on `ldap`, referrals skipped, paged when asked; bounded by `limits` (by
/// default [`MAX_ENTRIES`] and [`MAX_BYTES`]) so a server can't grow memory without bound.
async fn search_on(
    ldap: &mut Ldap,
    q: Search<'_>,
    limits: Limits,
    what: &str,
) -> Result<Vec<SearchEntry>, DirectoryError> {
    let Search {
        base,
        scope,
        filter,
        attrs,
        paged,
    } = q;
    let mut adapters: Vec<Box<dyn ldap3::adapters::Adapter<_, _>>> =
        vec![Box::new(EntriesOnly::new())];
    if paged {
        adapters.push(Box::new(PagedResults::new(PAGE)));
    }
    let mut stream = ldap
        .streaming_search_with(adapters, base, scope, filter, attrs.to_vec())
        .await
        .map_err(|e| conn::op_error(what, e))?;
    let mut out = Vec::new();
    let mut bytes = 0usize;
    while let Some(entry) = stream.next().await.map_err(|e| conn::op_error(what, e))? {
        let mut e = SearchEntry::construct(entry);
        let asked = |k: &String| attrs.iter().any(|a| a.eq_ignore_ascii_case(k));
        e.attrs.retain(|k, _| asked(k));
        e.bin_attrs.retain(|k, _| asked(k));
        bytes += entry_size(&e);
        out.push(e);
        if out.len() > limits.entries || bytes > limits.bytes {
            // Stop the server sending the rest.
            let id = stream.ldap_handle().last_id();
            let _ = stream.finish().await;
            let _ = ldap.abandon(id).await;
            return Err(too_much(what, limits, out.len(), bytes));
        }
    }
    let res = stream.finish().await;
    // A base or filter outside the DC's naming contexts answers with a referral: skipped.
    if res.rc != 0 && res.rc != 10 {
        return Err(conn::result_error(what, res.rc, &res.text, None));
    }
    Ok(out)
}

/// The bytes an entry holds: its DN, attribute names and values.
fn entry_size(e: &SearchEntry) -> usize {
    let text: usize = e
        .attrs
        .iter()
        .map(|(k, v)| k.len() + v.iter().map(String::len).sum::<usize>())
        .sum();
    let bin: usize = e
        .bin_attrs
        .iter()
        .map(|(k, v)| k.len() + v.iter().map(Vec::len).sum::<usize>())
        .sum();
    e.dn.len() + text + bin
}

fn too_much(what: &str, limits: Limits, entries: usize, bytes: usize) -> DirectoryError {
    DirectoryError::Storage {
        message: format!(
            "{what}: the domain controller sent more than {} entries or {} KiB ({entries} entries, {} KiB so far); stopped reading",
            limits.entries,
            limits.bytes >> 10,
            bytes >> 10
        ),
        hint: "search a smaller part of the directory with --base-dn or --ldap-filter; more than this is not a user directory a DC serves".into(),
    }
}

/// One modify with retries on a server that dropped the connection or is busy: the write is
/// a replace, so sending it again is safe.
async fn modify_on<F, Fut>(
    ldap: &mut Ldap,
    id: &str,
    upn: &str,
    m: &[(&'static str, Option<String>)],
    reconnect: F,
    log: &Log,
) -> Result<(), DirectoryError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Ldap, DirectoryError>>,
{
    let attrs: Vec<&str> = m.iter().map(|(a, _)| *a).collect();
    let what = format!("modifying {upn} ({})", attrs.join(", "));
    let dn = format!("<GUID={id}>");
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result =
            match tokio::time::timeout(conn::OP_TIMEOUT, ldap.modify(&dn, ldap_mods(m))).await {
                Err(_) => Err(conn::unavailable(&what, "timed out")),
                Ok(Err(e)) => Err(conn::op_error(&what, e)),
                Ok(Ok(r)) if r.rc == 0 => Ok(()),
                Ok(Ok(r)) if r.rc == 32 => Err(DirectoryError::NotFound(upn.to_string())),
                Ok(Ok(r)) => Err(conn::result_error(
                    &what,
                    r.rc,
                    &r.text,
                    Some(&attrs.join(" and ")),
                )),
            };
        match result {
            Err(e) if conn::retryable(&e) && attempt < ATTEMPTS => {
                let wait = backoff(attempt);
                log.log(1, &format!("{e}; retrying in {:.1} s", wait.as_secs_f64()));
                tokio::time::sleep(wait).await;
                if let Ok(l) = reconnect().await {
                    *ldap = l;
                }
            }
            other => return other,
        }
    }
}

/// 0.5 s, 1 s, 2 s … between attempts.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500u64 << attempt.saturating_sub(1).min(5))
}

impl Directory for AdDirectory {
    async fn get_user(&self, user: &str) -> Result<User, DirectoryError> {
        self.find(user)
            .await?
            .ok_or_else(|| DirectoryError::NotFound(user.to_string()))
    }

    async fn list_users(&self) -> Result<Vec<User>, DirectoryError> {
        let entries = self
            .search(
                &self.base,
                Scope::Subtree,
                &self.settings.filter,
                &ATTRS,
                true,
            )
            .await?;
        let mut users: Vec<User> = entries.iter().filter_map(user_of).collect();
        users.sort_by_cached_key(|u| u.name().to_lowercase());
        Ok(users)
    }

    async fn update_user<F>(
        &self,
        user: &str,
        dry_run: bool,
        plan: F,
    ) -> Result<(User, UserPlan), DirectoryError>
    where
        F: FnOnce(&User) -> Result<UserPlan, PlanError>,
    {
        let current = self.get_user(user).await?;
        let plan = plan(&current)?;
        if plan.patch.alternate_email_addresses.is_some() {
            return Err(not_in_ad_email());
        }
        if dry_run || plan.patch.is_empty() {
            return Ok((current, plan));
        }
        let mut ldap = self.ldap.borrow().clone();
        self.modify(&mut ldap, &current.id, current.name(), &mods(&plan.patch))
            .await?;
        Ok((current, plan))
    }

    async fn get_auth(&self, _user: &str) -> Result<(User, AuthDetails), DirectoryError> {
        Err(not_in_ad_methods())
    }

    async fn update_auth<F>(
        &self,
        _user: &str,
        _dry_run: bool,
        _plan: F,
    ) -> Result<(User, AuthPlan), DirectoryError>
    where
        F: FnOnce(&User, &AuthDetails) -> Result<AuthPlan, PlanError>,
    {
        Err(not_in_ad_methods())
    }

    async fn create_user(
        &self,
        _upn: &str,
        _display_name: Option<&str>,
        _synced: bool,
    ) -> Result<User, DirectoryError> {
        Err(DirectoryError::Unsupported(
            "new-user works on the local directory only: ssprctl does not create AD accounts"
                .into(),
        ))
    }

    async fn remove_user(&self, _user: &str) -> Result<User, DirectoryError> {
        Err(DirectoryError::Unsupported(
            "remove-user works on the local directory only: ssprctl does not delete AD accounts"
                .into(),
        ))
    }

    fn bulk_chunk(&self) -> Option<usize> {
        None
    }

    fn unsupported_fields(&self) -> &'static [UserField] {
        &NOT_IN_AD
    }

    fn extra_fields(&self) -> &'static [&'static str] {
        EXTRA_FIELDS
    }

    fn extra_values(&self, user: &User) -> Vec<crate::model::Value> {
        vec![user.on_premises.sam_account_name.clone().into()]
    }

    async fn read_methods(
        &self,
        _users: &[User],
        _ctl: &BulkControl,
    ) -> Result<Vec<Option<AuthDetails>>, DirectoryError> {
        Err(not_in_ad_methods())
    }

    async fn read_many(
        &self,
        keys: &[String],
        auth: &[bool],
        ctl: &BulkControl,
    ) -> Result<Vec<Read>, DirectoryError> {
        let index = if keys.len() > LIST_ABOVE {
            let all = self.list_users().await?;
            let mut map: HashMap<String, User> = HashMap::with_capacity(all.len() * 2);
            for u in all {
                map.insert(u.id.to_lowercase(), u.clone());
                if !u.user_principal_name.is_empty() {
                    map.insert(u.user_principal_name.to_lowercase(), u);
                }
            }
            Some(map)
        } else {
            None
        };
        let mut out = Vec::with_capacity(keys.len());
        for (i, key) in keys.iter().enumerate() {
            if auth.get(i).copied().unwrap_or(false) {
                out.push(Err(not_in_ad_methods()));
                continue;
            }
            if ctl.is_cancelled() {
                out.push(Err(DirectoryError::NotAttempted));
                continue;
            }
            let found = match &index {
                Some(map) => match map.get(&key.to_lowercase()) {
                    Some(u) => Ok(Some(u.clone())),
                    // `DOMAIN\sam` and bare sAMAccountNames aren't in the index.
                    None if !key.contains('@') && !is_guid(key) => self.find(key).await,
                    None => Ok(None),
                },
                None => self.find(key).await,
            };
            out.push(found.map(|u| u.map(|user| Current { user, auth: None })));
        }
        Ok(out)
    }

    async fn apply_many(&self, items: &[Planned], ctl: &BulkControl) -> Vec<Outcome> {
        let (outcomes, queue) = jobs(items, ctl);
        let outcomes_shared = Arc::new(Mutex::new(outcomes));
        let workers = ctl.concurrency.clamp(1, 20).min(queue.len());
        let queue = Arc::new(Mutex::new(queue));
        let mut tasks = tokio::task::JoinSet::new();
        for w in 0..workers {
            let writer = Writer {
                queue: queue.clone(),
                outcomes: outcomes_shared.clone(),
                ctl: ctl.clone(),
                settings: self.settings.clone(),
                tls: self.tls.clone(),
                bind: self.bind.clone(),
                log: self.log.clone(),
            };
            let first = (w == 0).then(|| self.ldap.borrow().clone());
            tasks.spawn(writer.run(first));
        }
        while tasks.join_next().await.is_some() {}
        // Not reached: interrupted, or no writer could connect.
        let left: Vec<Job> = queue.lock().expect("not poisoned").drain(..).collect();
        let mut outcomes = std::mem::take(&mut *outcomes_shared.lock().expect("not poisoned"));
        for job in left {
            outcomes[job.idx] = Some(if ctl.is_cancelled() {
                Outcome::NotAttempted
            } else {
                Outcome::Failed(conn::unavailable(
                    &format!("modifying {}", job.upn),
                    "no connection to the domain controller could be opened",
                ))
            });
        }
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or(Outcome::NotAttempted))
            .collect()
    }
}

/// One LDAP modify to make.
struct Job {
    idx: usize,
    id: String,
    upn: String,
    mods: Vec<(&'static str, Option<String>)>,
    fields: Vec<&'static str>,
}

/// The modifies of a bulk run, and the outcomes of the items refused before any write (an
/// alternate email or authentication methods: not in AD).
fn jobs(items: &[Planned], ctl: &BulkControl) -> (Vec<Option<Outcome>>, VecDeque<Job>) {
    let mut outcomes: Vec<Option<Outcome>> = items.iter().map(|_| None).collect();
    let mut queue = VecDeque::new();
    for (idx, p) in items.iter().enumerate() {
        let refused = if p.user_plan.patch.alternate_email_addresses.is_some() {
            Some(not_in_ad_email())
        } else if !p.auth_plan.patch.is_empty() {
            Some(not_in_ad_methods())
        } else {
            None
        };
        if let Some(e) = refused {
            let o = Outcome::Failed(e);
            ctl.record(&o);
            outcomes[idx] = Some(o);
            continue;
        }
        queue.push_back(Job {
            idx,
            id: p.current.user.id.clone(),
            upn: p.current.user.name().to_string(),
            mods: mods(&p.user_plan.patch),
            fields: p.user_plan.changes.iter().map(|c| c.field).collect(),
        });
    }
    (outcomes, queue)
}

/// One writer connection of a bulk run: takes jobs off the shared queue until it is empty.
struct Writer {
    queue: Arc<Mutex<VecDeque<Job>>>,
    outcomes: Arc<Mutex<Vec<Option<Outcome>>>>,
    ctl: BulkControl,
    settings: LdapSettings,
    tls: Option<Arc<rustls::ClientConfig>>,
    bind: Bind,
    log: Log,
}

impl Writer {
    /// Writes over `first` (the directory's own connection) or a connection of its own.
    async fn run(self, first: Option<Ldap>) {
        let reconnect = || conn::connect(&self.settings, &self.tls, &self.bind);
        let mut ldap = match first {
            Some(l) => l,
            None => match reconnect().await {
                Ok(l) => l,
                // This worker can't connect: the others carry on.
                Err(e) => {
                    self.log.log(1, &format!("a writer connection failed: {e}"));
                    return;
                }
            },
        };
        loop {
            if self.ctl.is_cancelled() {
                return;
            }
            let Some(job) = self.queue.lock().expect("not poisoned").pop_front() else {
                return;
            };
            let r = modify_on(
                &mut ldap, &job.id, &job.upn, &job.mods, reconnect, &self.log,
            )
            .await;
            let o = match r {
                Ok(()) => Outcome::Updated(job.fields),
                // The DC stayed down through the retries: stop the run (the rest are not
                // attempted, the report is written, exit 5) rather than wait out every
                // row's retries.
                Err(e) if conn::retryable(&e) => {
                    self.ctl.stop(e.duplicate());
                    Outcome::Failed(e)
                }
                Err(e) => Outcome::Failed(e),
            };
            self.ctl.record(&o);
            self.outcomes.lock().expect("not poisoned")[job.idx] = Some(o);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_guid_that_is_valid_utf8_is_read_too() {
        let entry = |text: bool| {
            let guid = b"ABCDEFGHIJKLMNOP".to_vec();
            let mut e = SearchEntry {
                dn: "CN=u,DC=x".into(),
                attrs: HashMap::from([("userPrincipalName".to_string(), vec!["u@x".to_string()])]),
                bin_attrs: HashMap::new(),
            };
            if text {
                e.attrs
                    .insert("objectGUID".into(), vec![String::from_utf8(guid).unwrap()]);
            } else {
                e.bin_attrs.insert("objectGUID".into(), vec![guid]);
            }
            e
        };
        let (a, b) = (
            user_of(&entry(true)).unwrap(),
            user_of(&entry(false)).unwrap(),
        );
        assert_eq!(a.id, b.id);
        assert_eq!(a.id, conn::guid_string(b"ABCDEFGHIJKLMNOP").unwrap());
    }
}
