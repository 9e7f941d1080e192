//! Hybrid mode (`--directory graph --ad ldaps://…`): Entra ID and on-premises AD in one run.
//!
//! A synchronised user (`onPremisesSyncEnabled`) is joined to its AD object ([`join`]); its
//! phones are mastered in AD (Entra Connect copies `mobile` → `mobilePhone` and
//! `telephoneNumber` → `businessPhones`), so:
//!
//! - reads plan against the AD values (what the next sync copies), and `get-user` shows both
//!   sides with the fields that differ (`syncPending`);
//! - writes of a synchronised user's phones are one LDAP modify of the joined object; its
//!   alternate email and authentication methods (cloud-mastered for every user) go to Graph;
//!   cloud-only users go to Graph as in `--directory graph`. A synchronised user's phones are
//!   never PATCHed through Graph;
//! - a synchronised user with no AD object, or whose object another Entra user claims too, is
//!   never written (`not_found_in_ad`, `ad_object_claimed_twice`).
//!
//! AD is read once per run: one search by the users' anchors for a few users, or every user
//! (paged) for more than a few hundred. The bulk halves run side by side, each with its own
//! stop: a domain controller that is down fails only the rows with AD writes.

mod claims;
pub mod join;
mod sync;

use std::cell::RefCell;
use std::collections::HashMap;

use super::ad::AdDirectory;
use super::graph::GraphDirectory;
use super::{BulkControl, Current, Directory, DirectoryError, Outcome, Planned, Read};
use crate::diag::Log;
use crate::model::{AuthDetails, Field, User, UserField, Value};
use crate::plan::{AuthPlan, PlanError, UserPatch, UserPlan};
pub use join::{Link, Via};
pub use sync::{Expected, SyncStatus, poll_interval};

/// Where a hybrid write goes: the AD object.
pub const AD: &str = "ad";
/// Where a hybrid write goes: the Entra ID user, through Graph.
pub const ENTRA: &str = "entraId";

/// The columns hybrid mode adds to `get-user`.
pub const EXTRA_FIELDS: &[&str] = &[
    "adMatch",
    "adDistinguishedName",
    "adMobilePhone",
    "adOfficePhone",
    "syncPending",
];

/// Graph and a domain controller, joined.
pub struct HybridDirectory {
    graph: GraphDirectory,
    /// The domain controller, or why it could not be reached (the run goes on: what only
    /// Graph holds is still read and written; what AD holds fails with this error).
    ad: Result<AdDirectory, DirectoryError>,
    /// Synchronised users joined so far, by Entra object id (lower case).
    links: RefCell<HashMap<String, Link>>,
    log: Log,
}

fn is_phone(field: &str) -> bool {
    field == UserField::MobilePhone.name() || field == UserField::OfficePhone.name()
}

/// Why a synchronised user without a usable AD object is not written. Names and anchors come
/// from the directories: shown with control characters escaped.
fn unjoined(user: &User, link: Option<&Link>) -> DirectoryError {
    use crate::text::sanitize;
    let upn = sanitize(&user.user_principal_name);
    match link {
        Some(Link::Claimed { dn, other }) => DirectoryError::Unjoined {
            code: "ad_object_claimed_twice",
            message: format!(
                "{upn}: its AD object {} is also matched by {}; nothing was written",
                sanitize(dn),
                sanitize(other)
            ),
            hint: "two Entra users' onPremisesImmutableId/onPremisesSecurityIdentifier point at one AD \
                   object (a stale or duplicate synchronised user): resolve it in Entra Connect, then run again"
                .into(),
        },
        _ => DirectoryError::Unjoined {
            code: "not_found_in_ad",
            message: format!(
                "{} is synchronised from on-premises AD, but no AD object has its onPremisesImmutableId ({}) \
                 or onPremisesSecurityIdentifier ({}); nothing was written",
                upn,
                sanitize(user.on_premises.immutable_id.as_deref().unwrap_or("none")),
                sanitize(user.on_premises.security_identifier.as_deref().unwrap_or("none")),
            ),
            hint: "check that --ad names a DC of the forest Entra Connect syncs from, and that --base-dn \
                   and --ldap-filter cover the user's OU"
                .into(),
        },
    }
}

/// A plan's phone changes (AD) and the rest (Graph).
fn split(plan: &UserPlan) -> (UserPlan, UserPlan) {
    let phones = UserPlan {
        patch: UserPatch {
            mobile_phone: plan.patch.mobile_phone.clone(),
            office_phone: plan.patch.office_phone.clone(),
            alternate_email_addresses: None,
        },
        changes: plan
            .changes
            .iter()
            .filter(|c| is_phone(c.field))
            .cloned()
            .collect(),
        warnings: Vec::new(),
    };
    let rest = UserPlan {
        patch: UserPatch {
            alternate_email_addresses: plan.patch.alternate_email_addresses.clone(),
            ..UserPatch::default()
        },
        changes: plan
            .changes
            .iter()
            .filter(|c| !is_phone(c.field))
            .cloned()
            .collect(),
        warnings: Vec::new(),
    };
    (phones, rest)
}

/// `e`, saying what of the same change was written elsewhere.
fn with_note(e: DirectoryError, note: &str) -> DirectoryError {
    match e {
        DirectoryError::Service(mut s) => {
            s.message = format!("{}; {note}", s.message);
            DirectoryError::Service(s)
        }
        DirectoryError::NotAttempted => DirectoryError::NotAttempted,
        other => DirectoryError::Storage {
            message: format!("{other}; {note}"),
            hint: "run it again: the part already written is left as it is".into(),
        },
    }
}

impl HybridDirectory {
    /// Hybrid mode over `graph` and `ad`; a DC that couldn't be reached (`Err`) fails only
    /// what AD holds.
    pub fn new(
        graph: GraphDirectory,
        ad: Result<AdDirectory, DirectoryError>,
        log: impl Into<Log>,
    ) -> Self {
        HybridDirectory {
            graph,
            ad,
            links: RefCell::default(),
            log: log.into(),
        }
    }

    pub fn graph(&self) -> &GraphDirectory {
        &self.graph
    }

    /// Joins the synchronised ones of `users` not joined yet, with one AD read.
    pub async fn link(&self, users: &[&User]) -> Result<(), DirectoryError> {
        let todo: Vec<&User> = {
            let links = self.links.borrow();
            users
                .iter()
                .copied()
                .filter(|u| u.on_premises_sync_enabled && !links.contains_key(&u.id.to_lowercase()))
                .collect()
        };
        if todo.is_empty() {
            return Ok(());
        }
        let Ok(dc) = &self.ad else {
            self.mark_unavailable(&todo);
            return Ok(());
        };
        let ad = dc.find_anchored(&todo).await?;
        self.join_with(&todo, &ad);
        Ok(())
    }

    fn mark_unavailable(&self, users: &[&User]) {
        let mut links = self.links.borrow_mut();
        for u in users.iter().filter(|u| u.on_premises_sync_enabled) {
            links.insert(u.id.to_lowercase(), Link::AdUnavailable);
        }
    }

    /// Why the domain controller can't be used (a copy of the error met connecting).
    fn ad_error(&self) -> DirectoryError {
        match &self.ad {
            Err(e) => e.duplicate(),
            Ok(_) => DirectoryError::NotAttempted,
        }
    }

    /// Why a synchronised user is not written (or judged on AD values).
    pub fn unjoined(&self, user: &User, link: Option<&Link>) -> DirectoryError {
        match link {
            Some(Link::AdUnavailable) => self.ad_error(),
            other => unjoined(user, other),
        }
    }

    fn join_with(&self, entra: &[&User], ad: &[User]) {
        let links = join::join(entra, ad);
        let unjoined = links
            .values()
            .filter(|l| !matches!(l, Link::Linked { .. }))
            .count();
        self.log.log(
            1,
            &format!(
                "joined {} synchronised users to AD ({} objects read); {unjoined} without a usable AD object",
                links.len(),
                ad.len()
            ),
        );
        self.links.borrow_mut().extend(links);
    }

    /// The user's AD side: `None` for a cloud-only user (or one not read yet).
    pub fn link_of(&self, user: &User) -> Option<Link> {
        self.links.borrow().get(&user.id.to_lowercase()).cloned()
    }

    /// The user as the next sync leaves it: a joined user's phones are AD's. For planning,
    /// the phones are then writable (at their source), so the sync flag is off. With the DC
    /// unreachable, Entra's copy stands in (a phone change then fails with the DC's error).
    /// A synchronised user without a usable AD object is refused.
    fn for_plan(&self, user: User) -> Result<User, DirectoryError> {
        if !user.on_premises_sync_enabled {
            return Ok(user);
        }
        match self.link_of(&user) {
            Some(Link::Linked { ad, .. }) => Ok(User {
                mobile_phone: ad.mobile_phone,
                office_phone: ad.office_phone,
                on_premises_sync_enabled: false,
                ..user
            }),
            Some(Link::AdUnavailable) => Ok(User {
                on_premises_sync_enabled: false,
                ..user
            }),
            other => Err(unjoined(&user, other.as_ref())),
        }
    }

    /// The fields whose Entra copy differs from AD's (the next sync changes them), with
    /// Entra's value.
    pub fn pending(user: &User, ad: &User) -> Vec<(&'static str, Option<String>)> {
        [
            (UserField::MobilePhone, &user.mobile_phone, &ad.mobile_phone),
            (UserField::OfficePhone, &user.office_phone, &ad.office_phone),
        ]
        .into_iter()
        .filter(|(_, entra, ad)| entra != ad)
        .map(|(f, entra, _)| (f.name(), entra.clone()))
        .collect()
    }

    /// Every Entra user and every AD object under the base and filter, read side by side and
    /// joined.
    async fn read_all(&self) -> Result<Vec<User>, DirectoryError> {
        let Ok(dc) = &self.ad else {
            let entra = self.graph.list_users().await?;
            self.mark_unavailable(&entra.iter().collect::<Vec<_>>());
            return Ok(entra);
        };
        let (entra, ad) = tokio::join!(self.graph.list_users(), dc.list_users());
        let (entra, ad) = (entra?, ad?);
        let refs: Vec<&User> = entra.iter().collect();
        self.join_with(&refs, &ad);
        Ok(entra)
    }

    /// Writes a synchronised user's change: phones to AD, the rest to Graph.
    async fn write_split(
        &self,
        entra: &User,
        ad: &User,
        plan: &UserPlan,
    ) -> Result<(), DirectoryError> {
        let (phones, rest) = split(plan);
        if !phones.patch.is_empty() {
            let dc = self.ad.as_ref().map_err(DirectoryError::duplicate)?;
            dc.write_phones(ad, &phones.patch).await?;
        }
        if !rest.patch.is_empty() {
            self.graph
                .patch_user(entra, &rest.patch)
                .await
                .map_err(|e| {
                    if phones.patch.is_empty() {
                        e
                    } else {
                        with_note(e, "the phones were written to AD")
                    }
                })?;
        }
        Ok(())
    }
}

impl Directory for HybridDirectory {
    /// The Entra user; its AD side is read by [`Directory::prepare_view`] (for every user a
    /// command names, at once).
    async fn get_user(&self, user: &str) -> Result<User, DirectoryError> {
        self.graph.get_user(user).await
    }

    async fn prepare_view(&self, users: &[User]) -> Result<(), DirectoryError> {
        self.link(&users.iter().collect::<Vec<_>>()).await
    }

    async fn list_users(&self) -> Result<Vec<User>, DirectoryError> {
        self.read_all().await
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
        let entra = self.graph.get_user(user).await?;
        self.link(&[&entra]).await?;
        self.check_claims(&[&entra]).await?;
        let link = self.link_of(&entra);
        let current = self.for_plan(entra.clone())?;
        let mut plan = plan(&current)?;
        for c in &mut plan.changes {
            c.destination = self.destination(&entra, c.field);
        }
        if dry_run || plan.patch.is_empty() {
            return Ok((current, plan));
        }
        match &link {
            Some(Link::Linked { ad, .. }) => self.write_split(&entra, ad, &plan).await?,
            // Nothing is written when the phones can't be: the command fails as a whole.
            Some(Link::AdUnavailable) if !split(&plan).0.patch.is_empty() => {
                return Err(self.ad_error());
            }
            _ => self.graph.patch_user(&entra, &plan.patch).await?,
        }
        Ok((current, plan))
    }

    async fn get_auth(&self, user: &str) -> Result<(User, AuthDetails), DirectoryError> {
        self.graph.get_auth(user).await
    }

    async fn update_auth<F>(
        &self,
        user: &str,
        dry_run: bool,
        plan: F,
    ) -> Result<(User, AuthPlan), DirectoryError>
    where
        F: FnOnce(&User, &AuthDetails) -> Result<AuthPlan, PlanError>,
    {
        self.graph.update_auth(user, dry_run, plan).await
    }

    async fn create_user(
        &self,
        _upn: &str,
        _display_name: Option<&str>,
        _synced: bool,
    ) -> Result<User, DirectoryError> {
        Err(super::graph::local_only("new-user"))
    }

    async fn remove_user(&self, _user: &str) -> Result<User, DirectoryError> {
        Err(super::graph::local_only("remove-user"))
    }

    async fn read_methods(
        &self,
        users: &[User],
        ctl: &BulkControl,
    ) -> Result<Vec<Option<AuthDetails>>, DirectoryError> {
        self.graph.read_methods(users, ctl).await
    }

    async fn registrations(&self) -> Result<crate::audit::Report, DirectoryError> {
        self.graph.registrations().await
    }

    async fn methods_policy(
        &self,
    ) -> Result<Option<crate::audit::policy::MethodsPolicy>, DirectoryError> {
        self.graph.methods_policy().await
    }

    async fn group_members(
        &self,
        groups: &std::collections::BTreeSet<String>,
    ) -> Result<crate::audit::policy::Members, DirectoryError> {
        self.graph.group_members(groups).await
    }

    fn extra_fields(&self) -> &'static [&'static str] {
        EXTRA_FIELDS
    }

    fn extra_values(&self, user: &User) -> Vec<Value> {
        let text = |s: &str| Value::Text(s.to_string());
        match self.link_of(user) {
            None => vec![Value::Null; EXTRA_FIELDS.len()],
            Some(Link::Linked { ad, via }) => vec![
                text(via.name()),
                ad.on_premises.distinguished_name.clone().into(),
                ad.mobile_phone.clone().into(),
                ad.office_phone.clone().into(),
                Value::List(
                    Self::pending(user, &ad)
                        .into_iter()
                        .map(|(f, _)| f.to_string())
                        .collect(),
                ),
            ],
            Some(Link::NotFound) => {
                let mut v = vec![text("notFound")];
                v.extend([Value::Null, Value::Null, Value::Null, Value::Null]);
                v
            }
            Some(Link::Claimed { dn, .. }) => vec![
                text("claimedTwice"),
                text(&dn),
                Value::Null,
                Value::Null,
                Value::Null,
            ],
            Some(Link::AdUnavailable) => {
                let mut v = vec![text("adUnavailable")];
                v.extend([Value::Null, Value::Null, Value::Null, Value::Null]);
                v
            }
        }
    }

    fn destination(&self, user: &User, field: &'static str) -> Option<&'static str> {
        let in_ad = matches!(
            self.link_of(user),
            Some(Link::Linked { .. } | Link::AdUnavailable)
        );
        Some(if in_ad && is_phone(field) { AD } else { ENTRA })
    }

    fn bulk_chunk(&self) -> Option<usize> {
        self.graph.bulk_chunk()
    }

    async fn read_many(
        &self,
        keys: &[String],
        auth: &[bool],
        ctl: &BulkControl,
    ) -> Result<Vec<Read>, DirectoryError> {
        // Many rows: AD is listed whole and the claims read from every synchronised user, so
        // all three reads go side by side.
        let (reads, prefetched) = match &self.ad {
            Ok(dc) if keys.len() > super::ad::LIST_ABOVE => {
                let (reads, ad, synced) = tokio::join!(
                    self.graph.read_many(keys, auth, ctl),
                    dc.list_users(),
                    self.graph.list_where(Some(claims::SYNCED))
                );
                (reads?, Some((ad?, synced?)))
            }
            _ => (self.graph.read_many(keys, auth, ctl).await?, None),
        };
        let found: Vec<&User> = reads
            .iter()
            .filter_map(|r| r.as_ref().ok().and_then(Option::as_ref))
            .map(|c| &c.user)
            .collect();
        match &prefetched {
            Some((ad, synced)) => {
                self.join_with(&found, ad);
                self.claims_among(&found, synced.clone());
            }
            None => {
                self.link(&found).await?;
                self.check_claims(&found).await?;
            }
        }
        Ok(reads
            .into_iter()
            .map(|r| match r {
                Ok(Some(Current { user, auth })) => {
                    self.for_plan(user).map(|user| Some(Current { user, auth }))
                }
                other => other,
            })
            .collect())
    }

    async fn apply_many(&self, items: &[Planned], ctl: &BulkControl) -> Vec<Outcome> {
        bulk::apply(self, items, ctl).await
    }
}

mod bulk;
