//! Which method kinds count for a user, as Entra decides it (Microsoft's "Manage authentication
//! methods" and the authenticationMethodsPolicy resource):
//!
//! - `policyMigrationState` `preMigration`: the authentication methods policy governs sign-in
//!   only; SSPR's methods come from the legacy SSPR policy, which Graph does not expose: the
//!   audit assumes what `--enabled-methods` says (default: every kind).
//! - `migrationInProgress`: a method counts when either policy enables it for the user (the
//!   legacy side again as `--enabled-methods` says).
//! - `migrationComplete` (and a policy without the property: every tenant since the legacy
//!   policies' retirement in 2025): only the authentication methods policy.
//! - A method configuration applies to its `includeTargets` (`all_users`, or groups) minus its
//!   `excludeTargets`, membership transitive. SMS or voice makes the mobile phone count; voice
//!   makes the office phone count only with `isOfficePhoneAllowed`; email the alternate email.
//! - A targeted group whose members could not be read leaves the kind *unknown* for the users
//!   it could decide: never silently enabled.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Serialize;

use super::Enabled;

/// Yes, no, or unknown (a targeted group whose members could not be read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tri {
    Yes,
    No,
    Unknown,
}

impl Tri {
    pub fn of(b: bool) -> Tri {
        if b { Tri::Yes } else { Tri::No }
    }

    pub fn or(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::Yes, _) | (_, Tri::Yes) => Tri::Yes,
            (Tri::No, Tri::No) => Tri::No,
            _ => Tri::Unknown,
        }
    }

    pub fn yes(self) -> bool {
        self == Tri::Yes
    }
}

/// The kinds that count for one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnabledFor {
    pub mobile: Tri,
    pub office: Tri,
    pub email: Tri,
}

impl From<Enabled> for EnabledFor {
    fn from(e: Enabled) -> Self {
        EnabledFor {
            mobile: Tri::of(e.mobile),
            office: Tri::of(e.office),
            email: Tri::of(e.email),
        }
    }
}

/// The policy's `policyMigrationState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Migration {
    PreMigration,
    InProgress,
    Complete,
}

impl Migration {
    /// Graph's value; a missing or unknown one is `migrationComplete` (the legacy policies are
    /// retired).
    pub fn parse(v: Option<&str>) -> Migration {
        match v {
            Some("preMigration") => Migration::PreMigration,
            Some("migrationInProgress") => Migration::InProgress,
            _ => Migration::Complete,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Migration::PreMigration => "preMigration",
            Migration::InProgress => "migrationInProgress",
            Migration::Complete => "migrationComplete",
        }
    }
}

/// One method configuration (`Sms`, `Voice`, `Email`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MethodConfig {
    pub enabled: bool,
    /// `includeTargets` has `all_users`.
    pub all_users: bool,
    /// Group ids of `includeTargets`.
    pub include: Vec<String>,
    /// Group ids of `excludeTargets`.
    pub exclude: Vec<String>,
}

impl MethodConfig {
    /// In words, for the note that says what the verdicts rest on.
    fn describe(&self) -> String {
        if !self.enabled {
            return "disabled".into();
        }
        let to = if self.all_users {
            "all users".to_string()
        } else {
            format!("{} group(s)", self.include.len())
        };
        match self.exclude.len() {
            0 => format!("enabled for {to}"),
            n => format!("enabled for {to} except {n} group(s)"),
        }
    }
}

/// The tenant's authentication methods policy, as far as SSPR's contact methods go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodsPolicy {
    pub migration: Migration,
    pub sms: MethodConfig,
    pub voice: MethodConfig,
    /// Voice's `isOfficePhoneAllowed`.
    pub office_phone_allowed: bool,
    pub email: MethodConfig,
}

impl MethodsPolicy {
    /// The groups whose members decide a verdict (enabled configurations only).
    pub fn groups(&self) -> BTreeSet<String> {
        [&self.sms, &self.voice, &self.email]
            .into_iter()
            .filter(|c| c.enabled)
            .flat_map(|c| c.include.iter().chain(&c.exclude))
            .cloned()
            .collect()
    }

    /// The policy in words.
    pub fn describe(&self) -> String {
        format!(
            "Sms {}, Voice {}{}, Email {}",
            self.sms.describe(),
            self.voice.describe(),
            if self.voice.enabled && !self.office_phone_allowed {
                " (mobile only: isOfficePhoneAllowed is false)"
            } else {
                ""
            },
            self.email.describe()
        )
    }
}

/// Members of the targeted groups: lower-case user ids by group id; `None` when they could not
/// be read.
pub type Members = HashMap<String, Option<HashSet<String>>>;

/// Which policy the verdicts rest on (`policySource` in the summary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PolicySource {
    /// `--enabled-methods`, given for a tenant whose methods policy governs alone.
    EnabledMethodsOption,
    /// The authentication methods policy (migration complete).
    AuthenticationMethodsPolicy,
    /// Migration in progress: the methods policy, or the legacy policy as `--enabled-methods`
    /// says.
    Both,
    /// Pre-migration: the legacy SSPR policy, as `--enabled-methods` says.
    LegacySsprPolicy,
    /// No tenant policy (the local directory, AD) or none readable: every kind, or
    /// `--enabled-methods`.
    None,
}

/// What the audit judges method kinds by.
#[derive(Debug, Clone)]
pub enum Policy {
    /// The same kinds for every user.
    Fixed {
        enabled: Enabled,
        source: PolicySource,
    },
    /// Per user, from the authentication methods policy; while migrating, `legacy` is what the
    /// legacy policy is assumed to enable.
    Methods {
        policy: Box<MethodsPolicy>,
        members: Members,
        legacy: Option<Enabled>,
    },
}

impl Default for Policy {
    fn default() -> Self {
        Policy::Fixed {
            enabled: Enabled::default(),
            source: PolicySource::None,
        }
    }
}

impl Policy {
    pub fn source(&self) -> PolicySource {
        match self {
            Policy::Fixed { source, .. } => *source,
            Policy::Methods { legacy: None, .. } => PolicySource::AuthenticationMethodsPolicy,
            Policy::Methods { .. } => PolicySource::Both,
        }
    }

    /// The kinds that count for the user with object id `id`.
    pub fn for_user(&self, id: &str) -> EnabledFor {
        let (policy, members, legacy) = match self {
            Policy::Fixed { enabled, .. } => return (*enabled).into(),
            Policy::Methods {
                policy,
                members,
                legacy,
            } => (policy, members, legacy),
        };
        let id = id.to_lowercase();
        let applies = |c: &MethodConfig| applies(c, &id, members);
        let voice = applies(&policy.voice);
        let mut e = EnabledFor {
            mobile: applies(&policy.sms).or(voice),
            office: if policy.office_phone_allowed {
                voice
            } else {
                Tri::No
            },
            email: applies(&policy.email),
        };
        if let Some(l) = legacy {
            e.mobile = e.mobile.or(Tri::of(l.mobile));
            e.office = e.office.or(Tri::of(l.office));
            e.email = e.email.or(Tri::of(l.email));
        }
        e
    }
}

/// Whether configuration `c` applies to the user `id`: enabled, included (all users or a
/// group, transitively) and not excluded.
fn applies(c: &MethodConfig, id: &str, members: &Members) -> Tri {
    if !c.enabled {
        return Tri::No;
    }
    let member = |g: &String| match members.get(g) {
        Some(Some(set)) => Tri::of(set.contains(id)),
        _ => Tri::Unknown,
    };
    let included = if c.all_users {
        Tri::Yes
    } else {
        c.include.iter().map(member).fold(Tri::No, Tri::or)
    };
    let excluded = c.exclude.iter().map(member).fold(Tri::No, Tri::or);
    match (included, excluded) {
        (Tri::No, _) | (_, Tri::Yes) => Tri::No,
        (Tri::Yes, Tri::No) => Tri::Yes,
        _ => Tri::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(all: bool, include: &[&str], exclude: &[&str]) -> MethodConfig {
        MethodConfig {
            enabled: true,
            all_users: all,
            include: include.iter().map(|g| g.to_string()).collect(),
            exclude: exclude.iter().map(|g| g.to_string()).collect(),
        }
    }

    fn members(groups: &[(&str, Option<&[&str]>)]) -> Members {
        groups
            .iter()
            .map(|(g, m)| {
                (
                    g.to_string(),
                    m.map(|m| m.iter().map(|u| u.to_string()).collect()),
                )
            })
            .collect()
    }

    fn policy(
        sms: MethodConfig,
        voice: MethodConfig,
        office: bool,
        email: MethodConfig,
    ) -> MethodsPolicy {
        MethodsPolicy {
            migration: Migration::Complete,
            sms,
            voice,
            office_phone_allowed: office,
            email,
        }
    }

    #[test]
    fn targets_minus_exclusions_with_unknown_groups_never_enabled() {
        use Tri::*;
        let p = policy(
            config(false, &["sales"], &["contractors"]),
            MethodConfig::default(),
            true,
            config(true, &[], &["secret"]),
        );
        let m = members(&[
            ("sales", Some(&["a", "b"])),
            ("contractors", Some(&["b"])),
            ("secret", None),
        ]);
        let pol = Policy::Methods {
            policy: Box::new(p.clone()),
            members: m,
            legacy: None,
        };
        // a: in sales, not excluded → SMS; email: all users minus an unreadable group → unknown.
        assert_eq!(
            pol.for_user("A"),
            EnabledFor {
                mobile: Yes,
                office: No,
                email: Unknown
            }
        );
        // b: excluded from SMS.
        assert_eq!(pol.for_user("b").mobile, No);
        // c: not in sales.
        assert_eq!(pol.for_user("c").mobile, No);
        assert_eq!(pol.source(), PolicySource::AuthenticationMethodsPolicy);
        assert_eq!(
            p.groups().into_iter().collect::<Vec<_>>(),
            ["contractors", "sales", "secret"]
        );
    }

    #[test]
    fn voice_counts_for_the_office_phone_only_when_allowed_and_legacy_widens_while_migrating() {
        use Tri::*;
        let voice_only = |office| {
            policy(
                MethodConfig::default(),
                config(true, &[], &[]),
                office,
                MethodConfig::default(),
            )
        };
        let pol = |p, legacy| Policy::Methods {
            policy: Box::new(p),
            members: Members::new(),
            legacy,
        };
        let e = pol(voice_only(false), None).for_user("x");
        assert_eq!((e.mobile, e.office, e.email), (Yes, No, No));
        let e = pol(voice_only(true), None).for_user("x");
        assert_eq!((e.mobile, e.office, e.email), (Yes, Yes, No));
        // Migration in progress: a kind counts when either policy enables it.
        let legacy = Enabled {
            mobile: false,
            office: false,
            email: true,
        };
        let p = pol(voice_only(false), Some(legacy));
        let e = p.for_user("x");
        assert_eq!((e.mobile, e.office, e.email), (Yes, No, Yes));
        assert_eq!(p.source(), PolicySource::Both);
        assert_eq!(
            voice_only(false).describe(),
            "Sms disabled, Voice enabled for all users (mobile only: isOfficePhoneAllowed is false), Email disabled"
        );
    }
}
