//! SSPR readiness: who can reset their password today, why not, and what would fix it. Pure
//! rules over users, their authentication methods and (on Graph) the registration report;
//! the `audit` command reads and prints.
//!
//! Which contact data counts (the seed's fields): the mobile phone (SMS/voice), the office phone
//! (voice) and email. They are counted as SSPR counts methods, by kind: *mobile* (the user's
//! `mobilePhone` or the authentication phone), *office* (`officePhone` or the office
//! authentication phone) and *email* (an alternate email or the authentication email), each only
//! if the tenant enables it. The alternate authentication phone never counts (MFA only). A
//! value counts when SSPR can use it: a phone in `+CC number` form (an extension is dropped but
//! the number works), not shared by more than the threshold of users; an email that is not the
//! user's own sign-in name.

pub mod policy;

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

pub use policy::{EnabledFor, Policy, PolicySource, Tri};

use crate::model::{AuthDetails, User};
use crate::phone::{self, PhoneCheck, PhoneOptions, RegionCode};

/// The method kinds a tenant's SSPR policy can enable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enabled {
    pub mobile: bool,
    pub office: bool,
    pub email: bool,
}

impl Default for Enabled {
    fn default() -> Self {
        Enabled {
            mobile: true,
            office: true,
            email: true,
        }
    }
}

/// How the audit judges.
#[derive(Debug, Clone)]
pub struct Options {
    /// Methods SSPR requires (the policy's "number of methods required to reset").
    pub required: usize,
    /// Which method kinds count, per user.
    pub policy: Policy,
    /// Region for national numbers, to derive their `+CC` fix.
    pub default_region: Option<RegionCode>,
    /// A mobile phone on more users than this is a placeholder, not the user's.
    pub shared_threshold: usize,
    /// The users come from on-premises AD (their phone fixes are made right there).
    pub on_premises: bool,
}

/// What the registration report says of a user (Graph, with `AuditLog.Read.All`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    pub is_sspr_registered: bool,
    pub is_sspr_capable: bool,
    /// Whether SSPR applies to the user at all (enabled for all, or for a group they are in).
    pub is_sspr_enabled: bool,
    pub is_admin: bool,
    pub methods_registered: Vec<String>,
}

/// The registration report, as far as the directory has one.
#[derive(Debug, Clone)]
pub enum Report {
    /// Not a tenant: there is no such report.
    NotApplicable,
    /// A tenant whose report could not be read; why (e.g. the permission it needs).
    Unavailable(String),
    /// By lower-case user id.
    Available(HashMap<String, Registration>),
}

/// One user to audit.
#[derive(Debug, Clone)]
pub struct Subject {
    pub user: User,
    /// `None` when not read (Graph without `--with-methods`, AD).
    pub auth: Option<AuthDetails>,
    /// `None` when the report was unavailable (or not a tenant).
    pub registration: Option<Registration>,
    /// Hybrid mode, a synchronised user: its AD object. `user`'s phones are then AD's (what
    /// Entra Connect copies), and its phone fixes are written there.
    pub ad: Option<AdSide>,
}

/// A synchronised user's AD object, in hybrid mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdSide {
    /// Joined; `pending` names the fields whose Entra copy differs from AD's, with Entra's
    /// values (the next sync replaces them).
    Joined {
        pending: Vec<(&'static str, Option<String>)>,
    },
    /// No usable AD object: the problem code (`not_found_in_ad`, `ad_object_claimed_twice`)
    /// and why.
    Unjoined { code: &'static str, message: String },
}

/// A problem found, and its fix when one can be derived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub code: &'static str,
    pub field: Option<&'static str>,
    pub value: Option<String>,
    pub message: String,
    pub fix: Option<String>,
}

/// One user's readiness (the stable camelCase JSON record).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub user_principal_name: String,
    pub id: String,
    /// `cloud`, `synced` (from on-premises AD, through Entra Connect) or `onPremises` (AD).
    pub source: &'static str,
    /// `ready`, `notReady`, or `outOfScope` (SSPR is not enabled for the user: the registration
    /// report's `isSsprEnabled` is false; not counted as not ready, not in the fix file).
    pub state: &'static str,
    pub ready: bool,
    pub usable_methods: Vec<&'static str>,
    pub problems: Vec<Problem>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub registration: Option<Registration>,
    /// `unavailable` when the registration report could not be read (Graph only).
    #[serde(rename = "registration", skip_serializing_if = "Option::is_none")]
    pub registration_note: Option<&'static str>,
}

/// The state of a user SSPR does not apply to.
pub const OUT_OF_SCOPE: &str = "outOfScope";

impl Record {
    /// Whether SSPR applies to the user.
    pub fn in_scope(&self) -> bool {
        self.state != OUT_OF_SCOPE
    }

    /// The fixes this record carries for an import file: (field, value); none for a user SSPR
    /// does not apply to.
    pub fn fixes(&self) -> Vec<(&'static str, &str)> {
        if !self.in_scope() {
            return Vec::new();
        }
        self.problems
            .iter()
            .filter(|p| matches!(p.code, "phone_format" | "phone_extension"))
            .filter_map(|p| Some((p.field?, p.fix.as_deref()?)))
            .collect()
    }
}

/// What a phone value is to SSPR.
enum PhoneState {
    /// In `+CC number` form (perhaps with an extension, which SSPR drops).
    Usable {
        extension: Option<String>,
        canonical: String,
    },
    /// Not in the form SSPR needs; the canonical form when derivable, else why not.
    Misformatted(Result<String, String>),
}

fn phone_state(value: &str, region: Option<RegionCode>) -> PhoneState {
    let opts = PhoneOptions {
        default_region: region,
        check: PhoneCheck::Length,
    };
    match phone::normalize(value, &opts) {
        Ok(p) => {
            let with_ext = match &p.extension {
                Some(x) => format!("{}x{x}", p.canonical),
                None => p.canonical.clone(),
            };
            if value == p.canonical || value == with_ext {
                PhoneState::Usable {
                    extension: p.extension,
                    canonical: p.canonical,
                }
            } else {
                PhoneState::Misformatted(Ok(p.canonical))
            }
        }
        Err(e) => PhoneState::Misformatted(Err(format!("{} ({})", e.reason, e.hint()))),
    }
}

/// Audits `subjects` (phones shared across them are counted among them).
pub fn audit(subjects: &[Subject], opts: &Options) -> Vec<Record> {
    // How many users hold each mobile phone (canonical form).
    let mut holders: HashMap<String, usize> = HashMap::new();
    let states: Vec<[Option<PhoneState>; 2]> = subjects
        .iter()
        .map(|s| {
            let st = |v: &Option<String>| v.as_deref().map(|v| phone_state(v, opts.default_region));
            let mobile = st(&s.user.mobile_phone);
            if let Some(PhoneState::Usable { canonical, .. }) = &mobile {
                *holders.entry(canonical.clone()).or_default() += 1;
            }
            [mobile, st(&s.user.office_phone)]
        })
        .collect();
    subjects
        .iter()
        .zip(states)
        .map(|(s, [mobile, office])| one(s, mobile, office, &holders, opts))
        .collect()
}

fn one(
    s: &Subject,
    mobile: Option<PhoneState>,
    office: Option<PhoneState>,
    holders: &HashMap<String, usize>,
    opts: &Options,
) -> Record {
    let u = &s.user;
    let source = if opts.on_premises {
        "onPremises"
    } else if u.on_premises_sync_enabled {
        "synced"
    } else {
        "cloud"
    };
    let mut f = Findings {
        enabled: opts.policy.for_user(&u.id),
        ..Findings::default()
    };
    f.phones(u, [mobile, office], holders, opts);
    f.emails(s);
    f.unknown_policy();
    match (&s.ad, source) {
        (Some(side), "synced") => f.hybrid(side),
        (None, "synced") if !f.needs_ad_fix.is_empty() => f.fix_in_ad(u),
        _ => {}
    }
    let ready = f.verdict(s, opts);
    let out_of_scope = s.registration.as_ref().is_some_and(|r| !r.is_sspr_enabled);
    Record {
        user_principal_name: u.user_principal_name.clone(),
        id: u.id.clone(),
        source,
        state: match (out_of_scope, ready) {
            (true, _) => OUT_OF_SCOPE,
            (false, true) => "ready",
            (false, false) => "notReady",
        },
        ready: ready && !out_of_scope,
        usable_methods: f.usable,
        problems: f.problems,
        registration: s.registration.clone(),
        registration_note: None,
    }
}

/// What the checks of one user found: usable fields, problems, and the phones to fix in AD.
struct Findings {
    /// The method kinds that count for this user.
    enabled: EnabledFor,
    usable: Vec<&'static str>,
    /// Fields with a usable value whose kind the policy may or may not enable (a targeted
    /// group's members could not be read).
    undecided: Vec<&'static str>,
    problems: Vec<Problem>,
    needs_ad_fix: Vec<&'static str>,
}

impl Default for Findings {
    fn default() -> Self {
        Findings {
            enabled: crate::audit::Enabled::default().into(),
            usable: Vec::new(),
            undecided: Vec::new(),
            problems: Vec::new(),
            needs_ad_fix: Vec::new(),
        }
    }
}

impl Findings {
    fn problem(
        &mut self,
        code: &'static str,
        field: Option<&'static str>,
        value: Option<String>,
        message: String,
        fix: Option<String>,
    ) {
        self.problems.push(Problem {
            code,
            field,
            value,
            message,
            fix,
        });
    }

    /// The user's mobile and office phone: usable, shared, with an extension, or misformatted.
    fn phones(
        &mut self,
        u: &User,
        [mobile, office]: [Option<PhoneState>; 2],
        holders: &HashMap<String, usize>,
        opts: &Options,
    ) {
        for (state, field, value, kind) in [
            (mobile, "mobilePhone", &u.mobile_phone, self.enabled.mobile),
            (office, "officePhone", &u.office_phone, self.enabled.office),
        ] {
            let (Some(state), Some(value)) = (state, value) else {
                continue;
            };
            match state {
                PhoneState::Usable {
                    extension,
                    canonical,
                } => {
                    let shared = (field == "mobilePhone")
                        .then(|| holders.get(&canonical).copied().unwrap_or(0))
                        .filter(|n| *n > opts.shared_threshold);
                    if let Some(n) = shared {
                        self.problem(
                            "phone_shared",
                            Some(field),
                            Some(value.clone()),
                            format!(
                                "{n} users have this mobile phone (more than {}): a switchboard or placeholder, not the user's own",
                                opts.shared_threshold
                            ),
                            None,
                        );
                        continue;
                    }
                    if let (Some(x), "mobilePhone") = (&extension, field) {
                        self.problem(
                            "phone_extension",
                            Some(field),
                            Some(value.clone()),
                            format!("a mobile phone has no extension; SSPR drops \"x{x}\""),
                            Some(canonical.clone()),
                        );
                        self.needs_ad_fix.push(field);
                    }
                    self.count(field, kind);
                }
                PhoneState::Misformatted(fix) => {
                    let (message, fix) = match fix {
                        Ok(c) => (
                            format!(
                                "SSPR needs +CountryCode Number with a space; this is {c} in that form"
                            ),
                            Some(c),
                        ),
                        Err(why) => (format!("not a phone SSPR can use: {why}"), None),
                    };
                    self.needs_ad_fix.push(field);
                    self.problem(
                        "phone_format",
                        Some(field),
                        Some(value.clone()),
                        message,
                        fix,
                    );
                }
            }
        }
    }

    /// Alternate emails (usable unless it is the sign-in name) and, when read, the
    /// authentication methods.
    fn emails(&mut self, s: &Subject) {
        let u = &s.user;
        let upn_problem = |f: &mut Self, field: &'static str, addr: &str| {
            f.problem(
                "email_is_upn",
                Some(field),
                Some(addr.to_string()),
                "this is the user's own sign-in name: useless when the account is locked out"
                    .into(),
                None,
            );
        };
        let mut alt_ok = false;
        for a in &u.alternate_email_addresses {
            if a.eq_ignore_ascii_case(&u.user_principal_name) {
                upn_problem(self, "alternateEmailAddresses", a);
            } else {
                alt_ok = true;
            }
        }
        if alt_ok {
            self.count("alternateEmail", self.enabled.email);
        }
        let Some(a) = &s.auth else {
            return;
        };
        let ok_phone = |p: &Option<String>| {
            p.as_deref().is_some_and(|v| {
                matches!(phone_state(v, None), PhoneState::Usable { .. }) || phone::is_masked(v)
            })
        };
        if ok_phone(&a.authentication_phone) {
            self.count("authenticationPhone", self.enabled.mobile);
        }
        if ok_phone(&a.authentication_office_phone) {
            self.count("authenticationOfficePhone", self.enabled.office);
        }
        if let Some(e) = &a.authentication_email {
            if e.eq_ignore_ascii_case(&u.user_principal_name) {
                upn_problem(self, "authenticationEmail", e);
            } else {
                self.count("authenticationEmail", self.enabled.email);
            }
        }
    }

    /// A usable value of `field` counts when the policy enables its kind for the user.
    fn count(&mut self, field: &'static str, kind: Tri) {
        match kind {
            Tri::Yes => self.usable.push(field),
            Tri::Unknown => self.undecided.push(field),
            Tri::No => {}
        }
    }

    /// Values that count only if the policy enables their kind for this user, which could not
    /// be told: said, never counted.
    fn unknown_policy(&mut self) {
        if self.undecided.is_empty() {
            return;
        }
        let fields = self.undecided.join(", ");
        self.problem(
            "policy_unknown",
            None,
            None,
            format!(
                "{fields}: whether the authentication methods policy enables this kind for the user is unknown \
                 (a targeted group's members could not be read: GroupMember.Read.All); not counted"
            ),
            None,
        );
    }

    /// Hybrid mode: the phones judged are AD's, and their fixes are written there by a hybrid
    /// `import`; say what the next sync changes, or why the user can't be fixed.
    fn hybrid(&mut self, side: &AdSide) {
        match side {
            AdSide::Joined { pending } => {
                for (field, entra) in pending {
                    self.problem(
                        "sync_pending",
                        Some(field),
                        entra.clone(),
                        format!(
                            "{field} in Entra ID ({}) differs from AD's; the next Entra Connect sync copies AD's value, which is the one judged here",
                            entra.as_deref().unwrap_or("none")
                        ),
                        None,
                    );
                }
            }
            AdSide::Unjoined { code, message } => {
                self.problem(code, None, None, message.clone(), None);
                for p in self.problems.iter_mut() {
                    p.fix = None;
                }
            }
        }
    }

    /// A synchronised user's phones are fixed in AD: say so, and keep the fixes the tenant
    /// would refuse out of the (Graph or local) fix file.
    fn fix_in_ad(&mut self, u: &User) {
        let attrs: Vec<&str> = self
            .needs_ad_fix
            .iter()
            .map(|f| {
                if *f == "mobilePhone" {
                    "mobile"
                } else {
                    "telephoneNumber"
                }
            })
            .collect();
        self.problem(
            "synced_fix_in_ad",
            None,
            None,
            format!(
                "synchronised from on-premises AD: fix {} there (ssprctl --directory ldaps://<your DC> audit {} --fix-file …); the tenant refuses the change",
                attrs.join(" and "),
                u.user_principal_name
            ),
            None,
        );
        for p in self.problems.iter_mut() {
            if matches!(p.code, "phone_format" | "phone_extension") {
                p.fix = None;
            }
        }
    }

    /// Whether the user can reset: enough method kinds (two for administrators), or registered
    /// methods that make them capable on their own. Adds the problems that say why not.
    fn verdict(&mut self, s: &Subject, opts: &Options) -> bool {
        // Kinds: mobile, office, email.
        let kinds = [
            ["mobilePhone", "authenticationPhone"],
            ["officePhone", "authenticationOfficePhone"],
            ["alternateEmail", "authenticationEmail"],
        ]
        .iter()
        .filter(|k| k.iter().any(|f| self.usable.contains(f)))
        .count();
        let admin = s.registration.as_ref().is_some_and(|r| r.is_admin);
        let required = if admin {
            opts.required.max(2)
        } else {
            opts.required
        };
        let mut ready = kinds >= required;
        if kinds == 0 {
            self.problem(
                "no_method",
                None,
                None,
                "no contact method SSPR can use: set a mobile phone, office phone or alternate email".into(),
                None,
            );
        } else if kinds < opts.required {
            self.problem(
                "too_few_methods",
                None,
                None,
                format!(
                    "{kinds} usable method kind(s); SSPR requires {}",
                    opts.required
                ),
                None,
            );
        }
        if admin && kinds < 2 {
            self.problem(
                "admin_policy",
                None,
                None,
                format!(
                    "an administrator: SSPR for admins always requires two methods, and {kinds} are usable"
                ),
                None,
            );
        }
        // Registered methods (e.g. the Authenticator app) can make a user capable on their own.
        if s.registration.as_ref().is_some_and(|r| r.is_sspr_capable) {
            ready = true;
        }
        ready
    }
}

/// The summary of an audit.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub audited: usize,
    pub ready: usize,
    /// Of the users in scope.
    pub ready_percent: f64,
    /// Users SSPR does not apply to (not counted in readyPercent or problems).
    pub out_of_scope: usize,
    /// Users not audited: disabled accounts and guests (unless included).
    pub left_out: LeftOut,
    pub problems: BTreeMap<&'static str, usize>,
    /// Which policy the verdicts rest on.
    pub policy_source: PolicySource,
    pub next: Vec<String>,
}

/// Users left out of an audit, by why.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeftOut {
    pub disabled: usize,
    pub guests: usize,
    /// AD's built-in accounts (`isCriticalSystemObject`).
    pub built_in: usize,
}

pub fn summary(
    records: &[Record],
    next: Vec<String>,
    policy_source: PolicySource,
    left_out: LeftOut,
) -> Summary {
    let ready = records.iter().filter(|r| r.ready).count();
    let in_scope = records.iter().filter(|r| r.in_scope()).count();
    let mut problems = BTreeMap::new();
    for p in records
        .iter()
        .filter(|r| r.in_scope())
        .flat_map(|r| &r.problems)
    {
        *problems.entry(p.code).or_default() += 1;
    }
    Summary {
        audited: records.len(),
        ready,
        ready_percent: if in_scope == 0 {
            100.0
        } else {
            (1000.0 * ready as f64 / in_scope as f64).round() / 10.0
        },
        out_of_scope: records.len() - in_scope,
        left_out,
        problems,
        policy_source,
        next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(upn: &str, mobile: Option<&str>, office: Option<&str>, mails: &[&str]) -> Subject {
        Subject {
            user: User {
                id: format!("id-{upn}"),
                user_principal_name: upn.into(),
                mobile_phone: mobile.map(str::to_string),
                office_phone: office.map(str::to_string),
                alternate_email_addresses: mails.iter().map(|m| m.to_string()).collect(),
                ..Default::default()
            },
            auth: None,
            registration: None,
            ad: None,
        }
    }

    fn opts() -> Options {
        Options {
            required: 1,
            policy: Policy::default(),
            default_region: RegionCode::parse("GB"),
            shared_threshold: 3,
            on_premises: false,
        }
    }

    fn codes(r: &Record) -> Vec<&'static str> {
        r.problems.iter().map(|p| p.code).collect()
    }

    #[test]
    fn each_problem_where_expected() {
        let mut subjects = vec![
            user("ok@c.com", Some("+44 7400123456"), None, &[]),
            user("none@c.com", None, None, &[]),
            user("national@c.com", Some("07400 123457"), None, &[]),
            user("ext@c.com", Some("+44 7400123458x12"), None, &[]),
            user("upn@c.com", None, None, &["UPN@c.com"]),
            user("junk@c.com", Some("call reception"), None, &[]),
        ];
        for i in 0..4 {
            subjects.push(user(
                &format!("s{i}@c.com"),
                Some("+1 5555555555"),
                None,
                &[],
            ));
        }
        let mut synced = user("synced@c.com", Some("07400 123459"), None, &["x@f.com"]);
        synced.user.on_premises_sync_enabled = true;
        subjects.push(synced);
        let r = audit(&subjects, &opts());
        assert_eq!(codes(&r[0]), Vec::<&str>::new());
        assert!(r[0].ready);
        assert_eq!(codes(&r[1]), ["no_method"]);
        assert_eq!(codes(&r[2]), ["phone_format", "no_method"]);
        assert_eq!(r[2].problems[0].fix.as_deref(), Some("+44 7400123457"));
        assert_eq!(codes(&r[3]), ["phone_extension"]);
        assert!(r[3].ready, "the number still works");
        assert_eq!(r[3].problems[0].fix.as_deref(), Some("+44 7400123458"));
        assert_eq!(codes(&r[4]), ["email_is_upn", "no_method"]);
        assert_eq!(codes(&r[5]), ["phone_format", "no_method"]);
        assert_eq!(r[5].problems[0].fix, None);
        for s in &r[6..10] {
            assert_eq!(codes(s), ["phone_shared", "no_method"]);
        }
        assert_eq!(codes(&r[10]), ["phone_format", "synced_fix_in_ad"]);
        assert_eq!(r[10].problems[0].fix, None, "not in the tenant's fix file");
        assert!(r[10].ready, "the alternate email works");
        // Two required: one kind is too few; an admin needs two whatever the policy.
        let two = Options {
            required: 2,
            ..opts()
        };
        assert_eq!(codes(&audit(&subjects[..1], &two)[0]), ["too_few_methods"]);
        let mut admin = user("admin@c.com", Some("+44 7400123456"), None, &[]);
        admin.registration = Some(Registration {
            is_admin: true,
            ..Default::default()
        });
        let r = audit(&[admin], &opts());
        assert_eq!(codes(&r[0]), ["admin_policy"]);
        assert!(!r[0].ready);
        // AD users carry their own fixes.
        let r = audit(
            &subjects[2..3],
            &Options {
                on_premises: true,
                ..opts()
            },
        );
        assert_eq!(r[0].source, "onPremises");
        assert_eq!(r[0].fixes(), [("mobilePhone", "+44 7400123457")]);
    }

    #[test]
    fn only_enabled_kinds_count_and_the_alternate_auth_phone_never() {
        let mut s = user("a@c.com", Some("+44 7400123456"), None, &["a@f.com"]);
        s.auth = Some(AuthDetails {
            alternate_authentication_phone: Some("+44 7400123457".into()),
            ..Default::default()
        });
        let o = Options {
            policy: Policy::Fixed {
                enabled: Enabled {
                    mobile: false,
                    office: true,
                    email: true,
                },
                source: PolicySource::EnabledMethodsOption,
            },
            required: 2,
            ..opts()
        };
        let r = audit(&[s], &o);
        assert_eq!(r[0].usable_methods, ["alternateEmail"]);
        assert!(!r[0].ready);
    }
}
