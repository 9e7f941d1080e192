//! The user and authentication-contact model, and the stable field names scripts rely on.
//!
//! Canonical names are camelCase (`mobilePhone`); each field also answers to the names admins
//! already type in MSOnline, AzureAD and Graph (see [`UserField::ALIASES`]).

use serde::Serialize;

/// A user's SSPR contact information as stored on the user object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct User {
    pub id: String,
    pub user_principal_name: String,
    pub display_name: Option<String>,
    pub alternate_email_addresses: Vec<String>,
    pub mobile_phone: Option<String>,
    pub office_phone: Option<String>,
    pub on_premises_sync_enabled: bool,
    /// `accountEnabled`: `None` where the directory doesn't say (local, AD).
    pub account_enabled: Option<bool>,
    /// `userType` (`Member`, `Guest`; `BuiltIn` for AD's critical system objects): `None` where
    /// the directory doesn't say.
    pub user_type: Option<String>,
    /// Where the user comes from on premises (hybrid join, AD accounts); empty elsewhere.
    pub on_premises: OnPremises,
}

/// A user's on-premises identity. From Graph: `onPremisesImmutableId` and
/// `onPremisesSecurityIdentifier` of a synchronised user. From AD: the immutable id Entra
/// Connect gives the object (base64 of `ms-DS-ConsistencyGuid` when it has one, else of
/// `objectGUID`), its `objectSid` (`S-1-5-…`), `sAMAccountName` and DN.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OnPremises {
    pub immutable_id: Option<String>,
    pub security_identifier: Option<String>,
    /// AD: whether `immutable_id` comes from `ms-DS-ConsistencyGuid` (else `objectGUID`).
    pub anchored_by_consistency_guid: bool,
    pub sam_account_name: Option<String>,
    pub distinguished_name: Option<String>,
}

/// The authentication contact information (MSOnline's `StrongAuthenticationUserDetails`).
/// Security questions are deliberately absent: administrators can never see or set them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthDetails {
    pub authentication_phone: Option<String>,
    pub alternate_authentication_phone: Option<String>,
    pub authentication_office_phone: Option<String>,
    pub authentication_email: Option<String>,
}

/// A field's value as shown to the user: absent, text, a list or a flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Null,
    Text(String),
    List(Vec<String>),
    Bool(bool),
}

impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        v.map_or(Value::Null, Value::Text)
    }
}

impl From<&Option<String>> for Value {
    fn from(v: &Option<String>) -> Self {
        v.clone().into()
    }
}

impl Value {
    /// Plain text for tables and delimited output: lists joined with `;`, absent as "".
    pub fn to_text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Text(s) => s.clone(),
            Value::List(l) => l.join(";"),
            Value::Bool(b) => b.to_string(),
        }
    }
}

/// A set of named fields, for `--select` and column headers.
pub trait Field: Copy + PartialEq + 'static {
    /// Every field, in default output order.
    const ALL: &'static [Self];
    /// `(alias, field)` pairs accepted besides the canonical names.
    const ALIASES: &'static [(&'static str, Self)];

    /// The stable camelCase name used in JSON keys and CSV headers.
    fn name(self) -> &'static str;

    /// Finds a field by canonical name or alias, case-insensitively.
    fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        Self::ALL
            .iter()
            .copied()
            .find(|f| f.name().eq_ignore_ascii_case(s))
            .or_else(|| {
                Self::ALIASES
                    .iter()
                    .find(|(a, _)| a.eq_ignore_ascii_case(s))
                    .map(|(_, f)| *f)
            })
    }
}

/// Declares a field enum with its canonical name and accepted aliases.
macro_rules! fields {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $canon:literal [$($alias:literal),*]),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant),+ }

        impl Field for $name {
            const ALL: &'static [$name] = &[$($name::$variant),+];
            const ALIASES: &'static [(&'static str, $name)] = &[$($(($alias, $name::$variant),)*)+];

            fn name(self) -> &'static str {
                match self { $($name::$variant => $canon),+ }
            }
        }
    };
}

fields! {
    /// A field of a user.
    UserField {
        Id = "id" ["ObjectId"],
        UserPrincipalName = "userPrincipalName" [],
        DisplayName = "displayName" [],
        AlternateEmailAddresses = "alternateEmailAddresses" ["otherMails"],
        MobilePhone = "mobilePhone" ["Mobile"],
        OfficePhone = "officePhone" ["PhoneNumber", "TelephoneNumber", "businessPhones"],
        OnPremisesSyncEnabled = "onPremisesSyncEnabled" ["DirSyncEnabled"],
    }
}

fields! {
    /// A field of the authentication contact information.
    AuthField {
        UserPrincipalName = "userPrincipalName" [],
        AuthenticationPhone = "authenticationPhone" ["PhoneNumber"],
        AlternateAuthenticationPhone = "alternateAuthenticationPhone" ["AlternativePhoneNumber"],
        AuthenticationOfficePhone = "authenticationOfficePhone" [],
        AuthenticationEmail = "authenticationEmail" ["Email"],
    }
}

impl User {
    /// The name to show the user by: the user principal name, else (an AD account without
    /// one, like `Administrator`) the sAMAccountName, else the id.
    pub fn name(&self) -> &str {
        if !self.user_principal_name.is_empty() {
            &self.user_principal_name
        } else if let Some(sam) = &self.on_premises.sam_account_name {
            sam
        } else {
            &self.id
        }
    }

    /// The value of one field.
    pub fn get(&self, field: UserField) -> Value {
        match field {
            UserField::Id => Value::Text(self.id.clone()),
            // An AD account without a userPrincipalName shows null, not a stand-in.
            UserField::UserPrincipalName if self.user_principal_name.is_empty() => Value::Null,
            UserField::UserPrincipalName => Value::Text(self.user_principal_name.clone()),
            UserField::DisplayName => (&self.display_name).into(),
            UserField::AlternateEmailAddresses => {
                Value::List(self.alternate_email_addresses.clone())
            }
            UserField::MobilePhone => (&self.mobile_phone).into(),
            UserField::OfficePhone => (&self.office_phone).into(),
            UserField::OnPremisesSyncEnabled => Value::Bool(self.on_premises_sync_enabled),
        }
    }
}

/// A phone as shown: masked ones are marked ` (masked)`.
fn phone_value(v: &Option<String>) -> Value {
    match v {
        Some(p) if crate::phone::is_masked(p) => Value::Text(crate::phone::show_masked(p)),
        other => other.into(),
    }
}

impl AuthDetails {
    /// True when Graph showed any phone masked.
    pub fn any_masked(&self) -> bool {
        [
            &self.authentication_phone,
            &self.alternate_authentication_phone,
            &self.authentication_office_phone,
        ]
        .iter()
        .any(|p| p.as_deref().is_some_and(crate::phone::is_masked))
    }

    /// The value of one field; the user's name comes from `upn`.
    pub fn get(&self, field: AuthField, upn: &str) -> Value {
        match field {
            AuthField::UserPrincipalName => Value::Text(upn.to_string()),
            AuthField::AuthenticationPhone => phone_value(&self.authentication_phone),
            AuthField::AlternateAuthenticationPhone => {
                phone_value(&self.alternate_authentication_phone)
            }
            AuthField::AuthenticationOfficePhone => phone_value(&self.authentication_office_phone),
            AuthField::AuthenticationEmail => (&self.authentication_email).into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_select_names_resolve() {
        let names = "DisplayName,UserPrincipalName,AlternateEmailAddresses,MobilePhone,PhoneNumber";
        let fields: Vec<_> = names
            .split(',')
            .map(|n| UserField::parse(n).unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                UserField::DisplayName,
                UserField::UserPrincipalName,
                UserField::AlternateEmailAddresses,
                UserField::MobilePhone,
                UserField::OfficePhone
            ]
        );
        assert_eq!(
            UserField::parse("otherMails"),
            Some(UserField::AlternateEmailAddresses)
        );
        assert_eq!(
            UserField::parse("telephonenumber"),
            Some(UserField::OfficePhone)
        );
        assert_eq!(UserField::parse("objectid"), Some(UserField::Id));
        assert_eq!(UserField::parse("nope"), None);
    }

    #[test]
    fn auth_aliases_mean_the_authentication_fields() {
        assert_eq!(
            AuthField::parse("PhoneNumber"),
            Some(AuthField::AuthenticationPhone)
        );
        assert_eq!(
            AuthField::parse("AlternativePhoneNumber"),
            Some(AuthField::AlternateAuthenticationPhone)
        );
        assert_eq!(
            AuthField::parse("email"),
            Some(AuthField::AuthenticationEmail)
        );
    }
}

/// Checks a user named on the command line or in a file (a user principal name or an object
/// id) before it goes anywhere near a URL or a query: no control characters or spaces (a tab
/// would otherwise vanish and name a different user), not `.` or `..`, no `/`, `?` or `%`
/// (which would address another path), and a backslash only as `DOMAIN\\name`. Returns why not.
pub fn check_user_key(s: &str) -> Result<(), String> {
    if s.trim().is_empty() {
        return Err("the user is empty".into());
    }
    if let Some(c) = s.chars().find(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!(
            "a user principal name or object id has no spaces or control characters (found {})",
            c.escape_default()
        ));
    }
    if s == "." || s == ".." {
        return Err(format!("\"{s}\" is not a user"));
    }
    if let Some(c) = s.chars().find(|c| matches!(c, '/' | '?' | '%')) {
        return Err(format!(
            "a user principal name or object id can't contain '{c}'"
        ));
    }
    // One backslash, in the form DOMAIN\sam (Active Directory's down-level logon name).
    if s.contains('\\') {
        let parts: Vec<&str> = s.split('\\').collect();
        if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
            return Err("a backslash is only accepted as DOMAIN\\name".into());
        }
    }
    Ok(())
}

/// True for a GUID in its usual form (`8-4-4-4-12` hex digits), as Graph and AD object ids are.
pub fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod user_key_tests {
    use super::*;

    #[test]
    fn user_keys_that_would_name_another_path_are_refused() {
        for bad in [
            "a\tb@x", "a\nb@x", "a b@x", ".", "..", "a/b@x", "a\\b\\c", "\\b", "x?y", "%2e%2e", "",
        ] {
            assert!(check_user_key(bad).is_err(), "{bad:?}");
        }
        for good in [
            "kim@contoso.com",
            "kim_f.com#EXT#@c.onmicrosoft.com",
            "$kim@c.com",
            "o'brien@c.com",
            "SSPR\\kim",
            "87D349ED-44D7-43E1-9A83-5F2406DEE5BD",
        ] {
            assert!(check_user_key(good).is_ok(), "{good:?}");
        }
        assert!(is_guid("87d349ed-44d7-43e1-9a83-5f2406dee5bd"));
        assert!(!is_guid("../../me"));
        assert!(!is_guid("87d349ed44d743e19a835f2406dee5bd"));
    }
}
