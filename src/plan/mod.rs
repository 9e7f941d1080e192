//! What a change request means for one user: the fields that really change (old → new), the
//! warnings, and the rules that refuse a change before anything is written.
//!
//! Backends call [`plan_user`] / [`plan_auth`] with the values they just read, inside their
//! transaction, and write only [`UserPatch`] / [`AuthPatch`]. An unchanged value is no change.

use crate::email;
use crate::model::{AuthDetails, AuthField, Field, User, UserField, Value};

/// How the alternate email list is to be edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailEdit {
    /// Replace the whole list (MSOnline's `-AlternateEmailAddresses`); empty clears it.
    Replace(Vec<String>),
    /// Add these addresses unless present (case-insensitively).
    Add(Vec<String>),
    /// Remove these addresses (case-insensitively).
    Remove(Vec<String>),
}

/// A requested change to a user; `None` leaves a field alone, `Some(None)` clears it.
/// Values are already validated and canonical.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    pub alternate_emails: Option<EmailEdit>,
    pub mobile_phone: Option<Option<String>>,
    pub office_phone: Option<Option<String>>,
}

impl UserUpdate {
    pub fn is_empty(&self) -> bool {
        self.alternate_emails.is_none()
            && self.mobile_phone.is_none()
            && self.office_phone.is_none()
    }
}

/// Only the properties that change, with their new values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPatch {
    pub alternate_email_addresses: Option<Vec<String>>,
    pub mobile_phone: Option<Option<String>>,
    pub office_phone: Option<Option<String>>,
}

impl UserPatch {
    pub fn is_empty(&self) -> bool {
        self.alternate_email_addresses.is_none()
            && self.mobile_phone.is_none()
            && self.office_phone.is_none()
    }

    /// The user as it is after the patch.
    pub fn apply_to(&self, user: &mut User) {
        if let Some(v) = &self.alternate_email_addresses {
            user.alternate_email_addresses = v.clone();
        }
        if let Some(v) = &self.mobile_phone {
            user.mobile_phone = v.clone();
        }
        if let Some(v) = &self.office_phone {
            user.office_phone = v.clone();
        }
    }
}

/// One field's change, as reported to the user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldChange {
    pub field: &'static str,
    pub old: Value,
    pub new: Value,
    /// In hybrid mode, where the value is written: `ad` (a synchronised user's phones, at
    /// their source) or `entraId`; absent elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<&'static str>,
}

/// The outcome of planning a user change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPlan {
    pub patch: UserPatch,
    pub changes: Vec<FieldChange>,
    pub warnings: Vec<String>,
}

/// Why a change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "{upn} is synchronised from on-premises Active Directory: its {fields} can't be changed here"
    )]
    SyncedUser {
        upn: String,
        fields: String,
        ad_attributes: String,
        /// The set-user command that makes the change at the source, in AD.
        ad_command: String,
    },
    #[error(
        "an alternate authentication phone needs an authentication phone, and {upn} would have none"
    )]
    AlternateNeedsPhone { upn: String },
    #[error(
        "the authentication phone of {upn} can't be cleared while an alternate authentication phone exists"
    )]
    PhoneHasAlternate { upn: String },
}

impl PlanError {
    /// The refusal for patching a synchronised user's phones, if `patch` touches them.
    pub fn synced(upn: &str, patch: &UserPatch) -> Option<PlanError> {
        let mut fields = Vec::new();
        let mut attributes = Vec::new();
        let mut command = format!("ssprctl --directory ldaps://<your DC> set-user {upn}");
        for (value, field, attribute, flag) in [
            (
                &patch.mobile_phone,
                "mobile phone",
                "mobile",
                "mobile-phone",
            ),
            (
                &patch.office_phone,
                "office phone",
                "telephoneNumber",
                "office-phone",
            ),
        ] {
            let Some(value) = value else { continue };
            fields.push(field);
            attributes.push(attribute);
            match value {
                Some(v) => command.push_str(&format!(" --{flag} \"{v}\"")),
                None => command.push_str(&format!(" --clear {flag}")),
            }
        }
        (!fields.is_empty()).then(|| PlanError::SyncedUser {
            upn: upn.to_string(),
            fields: fields.join(" and "),
            ad_attributes: attributes.join(", "),
            ad_command: command,
        })
    }

    /// What to do instead.
    pub fn hint(&self) -> String {
        match self {
            PlanError::SyncedUser {
                ad_attributes,
                ad_command,
                ..
            } => format!(
                "change the on-premises AD attribute(s) {ad_attributes} and let Entra Connect \
                 synchronise them (within about 30 minutes): {ad_command} — the alternate email and the \
                 authentication methods can be set here"
            ),
            PlanError::AlternateNeedsPhone { .. } => {
                "set --phone as well (the authentication phone comes first)".into()
            }
            PlanError::PhoneHasAlternate { .. } => {
                "clear the alternate phone too: --clear alternate-phone --clear phone".into()
            }
        }
    }
}

fn change_opt(
    changes: &mut Vec<FieldChange>,
    field: &'static str,
    old: &Option<String>,
    new: &Option<Option<String>>,
) -> Option<Option<String>> {
    match new {
        Some(new) if new != old => {
            changes.push(FieldChange {
                destination: None,
                field,
                old: old.into(),
                new: new.into(),
            });
            Some(new.clone())
        }
        _ => None,
    }
}

/// Plans `update` against the current state of the user.
pub fn plan_user(current: &User, update: &UserUpdate) -> Result<UserPlan, PlanError> {
    let mut plan = UserPlan::default();
    if let Some(edit) = &update.alternate_emails {
        let old = &current.alternate_email_addresses;
        let new = match edit {
            EmailEdit::Replace(list) => list.clone(),
            EmailEdit::Add(add) => {
                let mut list = old.clone();
                for a in add {
                    if !list.iter().any(|x| x.eq_ignore_ascii_case(a)) {
                        list.push(a.clone());
                    }
                }
                list
            }
            EmailEdit::Remove(remove) => {
                for r in remove {
                    if !old.iter().any(|x| x.eq_ignore_ascii_case(r)) {
                        plan.warnings.push(format!(
                            "{r} is not an alternate email of {}; nothing to remove",
                            current.user_principal_name
                        ));
                    }
                }
                old.iter()
                    .filter(|x| !remove.iter().any(|r| r.eq_ignore_ascii_case(x)))
                    .cloned()
                    .collect()
            }
        };
        if &new != old {
            plan.warnings
                .extend(email::upn_warning(&new, &current.user_principal_name));
            plan.changes.push(FieldChange {
                destination: None,
                field: UserField::AlternateEmailAddresses.name(),
                old: Value::List(old.clone()),
                new: Value::List(new.clone()),
            });
            plan.patch.alternate_email_addresses = Some(new);
        }
    }
    plan.patch.mobile_phone = change_opt(
        &mut plan.changes,
        UserField::MobilePhone.name(),
        &current.mobile_phone,
        &update.mobile_phone,
    );
    plan.patch.office_phone = change_opt(
        &mut plan.changes,
        UserField::OfficePhone.name(),
        &current.office_phone,
        &update.office_phone,
    );
    if current.on_premises_sync_enabled
        && let Some(refusal) = PlanError::synced(&current.user_principal_name, &plan.patch)
    {
        return Err(refusal);
    }
    Ok(plan)
}

/// The four authentication contact methods an administrator may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Phone,
    AlternatePhone,
    OfficePhone,
    Email,
}

impl AuthMethod {
    pub fn field(self) -> AuthField {
        match self {
            AuthMethod::Phone => AuthField::AuthenticationPhone,
            AuthMethod::AlternatePhone => AuthField::AlternateAuthenticationPhone,
            AuthMethod::OfficePhone => AuthField::AuthenticationOfficePhone,
            AuthMethod::Email => AuthField::AuthenticationEmail,
        }
    }

    fn get(self, d: &AuthDetails) -> &Option<String> {
        match self {
            AuthMethod::Phone => &d.authentication_phone,
            AuthMethod::AlternatePhone => &d.alternate_authentication_phone,
            AuthMethod::OfficePhone => &d.authentication_office_phone,
            AuthMethod::Email => &d.authentication_email,
        }
    }

    fn slot(self, d: &mut AuthDetails) -> &mut Option<String> {
        match self {
            AuthMethod::Phone => &mut d.authentication_phone,
            AuthMethod::AlternatePhone => &mut d.alternate_authentication_phone,
            AuthMethod::OfficePhone => &mut d.authentication_office_phone,
            AuthMethod::Email => &mut d.authentication_email,
        }
    }
}

/// A requested change to authentication methods; `Some(None)` removes a method.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthUpdate {
    pub phone: Option<Option<String>>,
    pub alternate_phone: Option<Option<String>>,
    pub office_phone: Option<Option<String>>,
    pub email: Option<Option<String>>,
}

impl AuthUpdate {
    pub fn is_empty(&self) -> bool {
        self.requested().next().is_none()
    }

    fn requested(&self) -> impl Iterator<Item = (AuthMethod, &Option<String>)> {
        [
            (AuthMethod::Phone, &self.phone),
            (AuthMethod::AlternatePhone, &self.alternate_phone),
            (AuthMethod::OfficePhone, &self.office_phone),
            (AuthMethod::Email, &self.email),
        ]
        .into_iter()
        .filter_map(|(m, v)| v.as_ref().map(|v| (m, v)))
    }
}

/// The method writes to make, in an order the service accepts: the alternate phone is removed
/// before the authentication phone and added after it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthPatch {
    pub ops: Vec<(AuthMethod, Option<String>)>,
}

impl AuthPatch {
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    pub fn apply_to(&self, details: &mut AuthDetails) {
        for (method, value) in &self.ops {
            *method.slot(details) = value.clone();
        }
    }
}

/// The outcome of planning an authentication-method change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthPlan {
    pub patch: AuthPatch,
    pub changes: Vec<FieldChange>,
}

/// Plans `update` against the user's current methods, enforcing the service's rules.
pub fn plan_auth(
    upn: &str,
    current: &AuthDetails,
    update: &AuthUpdate,
) -> Result<AuthPlan, PlanError> {
    let mut changed: Vec<(AuthMethod, Option<String>)> = update
        .requested()
        // A masked current value can't be compared: the write is planned.
        .filter(|(m, v)| {
            m.get(current) != *v
                || m.get(current)
                    .as_deref()
                    .is_some_and(crate::phone::is_masked)
        })
        .map(|(m, v)| (m, v.clone()))
        .collect();
    let mut after = current.clone();
    for (m, v) in &changed {
        *m.slot(&mut after) = v.clone();
    }
    if after.alternate_authentication_phone.is_some() && after.authentication_phone.is_none() {
        let adds_alternate = matches!(update.alternate_phone, Some(Some(_)));
        return Err(
            if current.authentication_phone.is_some() && !adds_alternate {
                PlanError::PhoneHasAlternate { upn: upn.into() }
            } else {
                PlanError::AlternateNeedsPhone { upn: upn.into() }
            },
        );
    }
    let rank = |(m, v): &(AuthMethod, Option<String>)| match (m, v) {
        (AuthMethod::AlternatePhone, None) => 0,
        (AuthMethod::Phone, _) => 1,
        (AuthMethod::AlternatePhone, Some(_)) => 2,
        (AuthMethod::OfficePhone, _) => 3,
        (AuthMethod::Email, _) => 4,
    };
    changed.sort_by_key(rank);
    let changes = changed
        .iter()
        .map(|(m, v)| FieldChange {
            destination: None,
            field: m.field().name(),
            old: match m.get(current) {
                Some(c) if crate::phone::is_masked(c) => {
                    crate::model::Value::Text(crate::phone::show_masked(c))
                }
                c => c.into(),
            },
            new: v.into(),
        })
        .collect();
    Ok(AuthPlan {
        patch: AuthPatch { ops: changed },
        changes,
    })
}

#[cfg(test)]
mod tests;
