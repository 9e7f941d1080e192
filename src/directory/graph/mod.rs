//! The Microsoft Graph backend: every command against a real Entra ID tenant.
//!
//! Users: `GET /users/{id}?$select=…` (always selected: `otherMails` is otherwise silently
//! missing), `PATCH` with only the changed properties (`officePhone` ↔ `businessPhones[0]`;
//! clearing sends `null` / `[]`, never `""`), lists in pages of 999 following
//! `@odata.nextLink` verbatim. Authentication methods use the fixed method ids; a set is an
//! upsert (PATCH when the type exists, POST when not) in the order the service requires.

pub mod batch;
mod bulk;
pub mod client;
mod methods;
pub mod pace;
mod reports;
pub use reports::SyncStatus;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{BulkControl, Current, Directory, DirectoryError, Outcome, Planned};
use crate::auth::endpoints::Cloud;
use crate::model::{AuthDetails, User};
use crate::plan::{AuthMethod, AuthPatch, AuthPlan, PlanError, UserPatch, UserPlan};
use client::{GraphClient, Purpose};
use methods::{methods_from, write_methods};

/// The properties ssprctl reads; `otherMails`, `onPremisesSyncEnabled`, `accountEnabled` and
/// `userType` only come when asked.
pub const USER_SELECT: &str = "id,displayName,userPrincipalName,mobilePhone,businessPhones,otherMails,\
                               onPremisesSyncEnabled,accountEnabled,userType,onPremisesImmutableId,\
                               onPremisesSecurityIdentifier";
/// Largest page `GET /users` serves.
pub const PAGE_SIZE: &str = "999";

/// Fixed authentication method ids, the same for every user.
pub const MOBILE_ID: &str = "3179e48a-750b-4051-897c-87b9720928f7";
pub const ALTERNATE_MOBILE_ID: &str = "b6332ec1-7057-4abe-9331-3d72feddfe41";
pub const OFFICE_ID: &str = "e37fc753-ff3b-4958-9484-eaa9425c82bc";
pub const EMAIL_ID: &str = "3ddfcfc8-9383-446f-83cc-3ab9be4be18f";

const READ_USERS: Purpose = Purpose {
    permission: "User.Read.All",
    auth_method_write: false,
};

/// Most pages a list may take (999 users each: ten million users); more is a server loop.
pub const MAX_PAGES: usize = 10_000;

/// The least-privileged permission for reading or writing one method collection.
fn methods_purpose(collection: &str, write: bool) -> Purpose {
    let permission = match (collection, write) {
        ("emailMethods", false) => {
            "UserAuthMethod-Email.Read.All (or UserAuthenticationMethod.Read.All)"
        }
        ("emailMethods", true) => {
            "UserAuthMethod-Email.ReadWrite.All (or UserAuthenticationMethod.ReadWrite.All)"
        }
        (_, false) => "UserAuthMethod-Phone.Read.All (or UserAuthenticationMethod.Read.All)",
        (_, true) => {
            "UserAuthMethod-Phone.ReadWrite.All (or UserAuthenticationMethod.ReadWrite.All)"
        }
    };
    Purpose {
        permission,
        auth_method_write: write,
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphUser {
    id: String,
    user_principal_name: String,
    display_name: Option<String>,
    mobile_phone: Option<String>,
    business_phones: Option<Vec<String>>,
    other_mails: Option<Vec<String>>,
    on_premises_sync_enabled: Option<bool>,
    account_enabled: Option<bool>,
    user_type: Option<String>,
    on_premises_immutable_id: Option<String>,
    on_premises_security_identifier: Option<String>,
}

impl From<GraphUser> for User {
    fn from(g: GraphUser) -> Self {
        User {
            id: g.id,
            user_principal_name: g.user_principal_name,
            display_name: g.display_name,
            alternate_email_addresses: g.other_mails.unwrap_or_default(),
            mobile_phone: g.mobile_phone,
            office_phone: g.business_phones.unwrap_or_default().into_iter().next(),
            on_premises_sync_enabled: g.on_premises_sync_enabled.unwrap_or(false),
            account_enabled: g.account_enabled,
            user_type: g.user_type,
            on_premises: crate::model::OnPremises {
                immutable_id: g.on_premises_immutable_id,
                security_identifier: g.on_premises_security_identifier,
                ..Default::default()
            },
        }
    }
}

/// The path segments naming a user: `users/{id}`, or `users('$x')` for names starting with `$`.
fn user_segments(user: &str) -> Vec<String> {
    if user.starts_with('$') {
        vec![format!("users('{}')", user.replace('\'', "''"))]
    } else {
        vec!["users".into(), user.to_string()]
    }
}

/// The permission a user PATCH needs.
fn patch_purpose(p: &UserPatch) -> Purpose {
    let phones = p.mobile_phone.is_some() || p.office_phone.is_some();
    let mails = p.alternate_email_addresses.is_some();
    Purpose {
        permission: match (phones, mails) {
            (true, true) => {
                "User-Phone.ReadWrite.All and User-Mail.ReadWrite.All (or User.ReadWrite.All)"
            }
            (false, true) => "User-Mail.ReadWrite.All (or User.ReadWrite.All)",
            _ => "User-Phone.ReadWrite.All (or User.ReadWrite.All)",
        },
        auth_method_write: false,
    }
}

/// The PATCH body for a user: only the changed properties.
pub fn patch_body(p: &UserPatch) -> Value {
    let mut body = Map::new();
    if let Some(list) = &p.alternate_email_addresses {
        body.insert("otherMails".into(), json!(list));
    }
    if let Some(v) = &p.mobile_phone {
        body.insert("mobilePhone".into(), json!(v));
    }
    if let Some(v) = &p.office_phone {
        body.insert("businessPhones".into(), json!(v.iter().collect::<Vec<_>>()));
    }
    Value::Object(body)
}

/// A user directory in a tenant, reached through Microsoft Graph.
pub struct GraphDirectory {
    client: GraphClient,
    /// False in the China cloud, where email authentication methods don't exist.
    email_methods: bool,
}

impl GraphDirectory {
    pub fn new(client: GraphClient) -> Self {
        GraphDirectory {
            client,
            email_methods: true,
        }
    }

    /// Checks that the token grants `ops` before a run starts: exit 4 naming the first missing
    /// permission. A token whose permissions can't be read (opaque) is not checked.
    pub async fn check_permissions(
        &self,
        ops: &[crate::auth::permissions::Operation],
    ) -> Result<(), DirectoryError> {
        let Some(claims) = self.client.tokens.claims().await else {
            self.client.http.log(
                1,
                "the token is opaque: permissions not checked before the run",
            );
            return Ok(());
        };
        let granted = crate::auth::permissions::granted(&claims);
        let Some(op) = ops.iter().find(|op| !op.allowed_by(&granted)) else {
            return Ok(());
        };
        Err(DirectoryError::from(crate::auth::auth_error(
            format!(
                "the token can't {}: it needs one of {} and grants {}; nothing was written",
                op.name,
                op.needs.join(", "),
                if granted.is_empty() {
                    "none".to_string()
                } else {
                    granted.join(", ")
                }
            ),
            &format!(
                "grant {} to the app (with admin consent){}; `ssprctl auth status` shows what the token allows",
                op.needs[0],
                if claims.delegated() {
                    format!(
                        ", and the signed-in admin needs the role {}",
                        op.delegated_role
                    )
                } else {
                    String::new()
                }
            ),
        )))
    }

    /// When a passthrough token (`SSPRCTL_ACCESS_TOKEN`) expires, when it says.
    pub fn passthrough_expiry(&self) -> Option<std::time::SystemTime> {
        self.client.tokens.passthrough_expiry()
    }

    /// Adapts to the cloud's features (the China cloud has no email authentication methods).
    pub fn for_cloud(mut self, cloud: Cloud) -> Self {
        self.email_methods = cloud != Cloud::China;
        self
    }

    /// Refuses a change the cloud can't make, before anything is written.
    fn check_cloud(&self, patch: &AuthPatch) -> Result<(), DirectoryError> {
        if !self.email_methods && patch.ops.iter().any(|(m, _)| *m == AuthMethod::Email) {
            return Err(DirectoryError::Unsupported(
                "email authentication methods are not available in the China cloud (21Vianet); \
                 nothing was written"
                    .into(),
            ));
        }
        Ok(())
    }

    fn user_url(&self, user: &str, rest: &[&str]) -> reqwest::Url {
        user_url(&self.client, user, rest)
    }

    /// A successful batch answer's body, or the error it stands for.
    fn answer(
        &self,
        r: &batch::ItemResult,
        item: &batch::Item,
        purpose: Purpose,
    ) -> Result<Value, DirectoryError> {
        match r {
            batch::ItemResult::Answered(a) if (200..300).contains(&a.status) => {
                // A successful read must carry what was read.
                let list = item.url.path().ends_with("Methods");
                let usable = if list {
                    a.body.get("value").is_some_and(Value::is_array)
                } else {
                    a.body.is_object()
                };
                if item.method == Method::GET && !usable {
                    return Err(client::malformed(
                        &Method::POST,
                        &self.client.url(&["$batch"]),
                        &format!(
                            "for GET {}: {}",
                            self.client.relative(&item.url),
                            if list {
                                "no \"value\" list in its body"
                            } else {
                                "it has no body"
                            }
                        ),
                        a.request_id.clone(),
                    ));
                }
                Ok(a.body.clone())
            }
            batch::ItemResult::Answered(a) => Err(self.client.error_for(
                &item.method,
                &item.url,
                a.status,
                a.body.to_string().as_bytes(),
                a.request_id.clone(),
                purpose,
            )),
            batch::ItemResult::Failed(e) => Err(e.duplicate()),
            batch::ItemResult::NotAttempted => Err(DirectoryError::NotAttempted),
        }
    }

    /// Each user's authentication methods (`ids`: their object ids), two reads per user in
    /// `$batch` envelopes at the authentication-method concurrency.
    async fn methods_of(
        &self,
        ids: &[String],
        ctl: &BulkControl,
    ) -> Vec<Result<AuthDetails, DirectoryError>> {
        let collections: &[&str] = if self.email_methods {
            &["phoneMethods", "emailMethods"]
        } else {
            &["phoneMethods"]
        };
        let items: Vec<batch::Item> = ids
            .iter()
            .flat_map(|id| {
                collections.iter().map(move |c| batch::Item {
                    method: Method::GET,
                    url: self.user_url(id, &["authentication", c]),
                    body: None,
                })
            })
            .collect();
        let results = batch::execute(
            &self.client,
            &items,
            ctl.auth_concurrency,
            methods_purpose("phoneMethods", false),
            ctl,
            |_, _| {},
        )
        .await;
        let per = collections.len();
        results
            .chunks(per)
            .zip(items.chunks(per))
            .map(|(answers, asked)| {
                let phones = self.answer(
                    &answers[0],
                    &asked[0],
                    methods_purpose("phoneMethods", false),
                )?;
                let emails = match (answers.get(1), asked.get(1)) {
                    (Some(a), Some(q)) => {
                        Some(self.answer(a, q, methods_purpose("emailMethods", false))?)
                    }
                    _ => None,
                };
                Ok(methods_from(&Some(phones), &emails))
            })
            .collect()
    }

    /// How many users the tenant has (`$count`), to choose between listing and batching.
    pub(crate) async fn user_count(&self) -> Option<usize> {
        let url = self.client.url(&["users", "$count"]);
        let resp = self
            .client
            .send_with_headers(
                Method::GET,
                &url,
                &[("ConsistencyLevel", "eventual")],
                None,
                READ_USERS,
            )
            .await
            .ok()?;
        resp.body?.as_u64().map(|n| n as usize)
    }

    /// Reads users by key with the fewest requests: the paged list when it takes fewer pages
    /// than `$batch` GETs of 20 would take envelopes, else the batches.
    async fn read_users(
        &self,
        keys: &[String],
        ctl: &BulkControl,
    ) -> Result<Vec<super::Read>, DirectoryError> {
        let current = |u: User| Current {
            user: u,
            auth: None,
        };
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let batches = keys.len().div_ceil(batch::MAX_BATCH);
        let pages = self.user_count().await.map(|n| n.div_ceil(999).max(1));
        if pages.is_some_and(|p| p <= batches) {
            let all = self.list_users().await?;
            let mut index = std::collections::HashMap::with_capacity(all.len() * 2);
            for (i, u) in all.iter().enumerate() {
                index.insert(u.user_principal_name.to_lowercase(), i);
                index.insert(u.id.to_lowercase(), i);
            }
            return Ok(keys
                .iter()
                .map(|k| {
                    Ok(index
                        .get(&k.to_lowercase())
                        .map(|&i| current(all[i].clone())))
                })
                .collect());
        }
        let items: Vec<batch::Item> = keys
            .iter()
            .map(|k| {
                let mut url = self.user_url(k, &[]);
                url.query_pairs_mut().append_pair("$select", USER_SELECT);
                batch::Item {
                    method: Method::GET,
                    url,
                    body: None,
                }
            })
            .collect();
        let results = batch::execute(
            &self.client,
            &items,
            ctl.concurrency,
            READ_USERS,
            ctl,
            |_, _| {},
        )
        .await;
        Ok(results
            .iter()
            .zip(&items)
            .map(|(r, item)| match r {
                batch::ItemResult::Answered(a) if a.status == 404 => Ok(None),
                _ => self
                    .answer(r, item, READ_USERS)
                    .and_then(|b| parse_user(Some(b)).map(|u| Some(current(u)))),
            })
            .collect())
    }

    /// Sends one PATCH of `current` with only `patch`'s properties.
    pub async fn patch_user(
        &self,
        current: &User,
        patch: &UserPatch,
    ) -> Result<(), DirectoryError> {
        let url = self.user_url(&current.id, &[]);
        let body = patch_body(patch);
        match self
            .client
            .send(Method::PATCH, &url, Some(&body), patch_purpose(patch))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(explain_synced(e, &current.user_principal_name, patch)),
        }
    }

    /// Every user, or those `filter` (a `$filter`) selects, in pages of 999, sorted by user
    /// principal name.
    pub async fn list_where(&self, filter: Option<&str>) -> Result<Vec<User>, DirectoryError> {
        let mut url = self.client.url(&["users"]);
        url.query_pairs_mut()
            .append_pair("$select", USER_SELECT)
            .append_pair("$top", PAGE_SIZE);
        if let Some(f) = filter {
            url.query_pairs_mut().append_pair("$filter", f);
        }
        let mut users = Vec::new();
        let mut fetched = std::collections::HashSet::new();
        loop {
            let resp = self
                .client
                .send(Method::GET, &url, None, READ_USERS)
                .await?;
            let mut body = resp.body.unwrap_or(Value::Null);
            let Some(page) = body.get_mut("value").and_then(Value::as_array_mut) else {
                return Err(client::malformed(
                    &Method::GET,
                    &url,
                    "the page has no \"value\" list",
                    None,
                ));
            };
            for v in std::mem::take(page) {
                users.push(parse_user(Some(v))?);
            }
            match self.client.next_page(&body, &url, &mut fetched)? {
                Some(next) => url = next,
                None => break,
            }
        }
        users.sort_by_cached_key(|u| u.user_principal_name.to_lowercase());
        Ok(users)
    }

    /// The users whose `property` equals `value` (`$filter` with `eq`; quotes doubled).
    pub async fn users_where_eq(
        &self,
        property: &str,
        value: &str,
    ) -> Result<Vec<User>, DirectoryError> {
        let f = format!("{property} eq '{}'", value.replace('\'', "''"));
        self.list_where(Some(&f)).await
    }

    async fn fetch_user(&self, user: &str) -> Result<User, DirectoryError> {
        let mut url = self.user_url(user, &[]);
        url.query_pairs_mut().append_pair("$select", USER_SELECT);
        let resp = self
            .client
            .send(Method::GET, &url, None, READ_USERS)
            .await?;
        parse_user(resp.body)
    }

    /// Reads the phone and (where the cloud has them) email methods, at the same time.
    async fn fetch_methods(&self, user: &User) -> Result<AuthDetails, DirectoryError> {
        let read = |collection: &'static str| {
            let url = self.user_url(&user.id, &["authentication", collection]);
            async move {
                self.client
                    .send(Method::GET, &url, None, methods_purpose(collection, false))
                    .await
            }
        };
        if !self.email_methods {
            return Ok(methods_from(&read("phoneMethods").await?.body, &None));
        }
        let (phones, emails) = tokio::join!(read("phoneMethods"), read("emailMethods"));
        Ok(methods_from(&phones?.body, &emails?.body))
    }
}

/// `…/v1.0/users/{user}/{rest…}`.
fn user_url(client: &GraphClient, user: &str, rest: &[&str]) -> reqwest::Url {
    let segs = user_segments(user);
    let mut all: Vec<&str> = segs.iter().map(String::as_str).collect();
    all.extend_from_slice(rest);
    client.url(&all)
}

/// The fields a planned item changes.
fn fields(p: &Planned) -> Vec<&'static str> {
    p.user_plan
        .changes
        .iter()
        .chain(&p.auth_plan.changes)
        .map(|c| c.field)
        .collect()
}

fn parse_user(body: Option<Value>) -> Result<User, DirectoryError> {
    let body = body.unwrap_or(Value::Null);
    let user = serde_json::from_value::<GraphUser>(body)
        .map(User::from)
        .map_err(|e| DirectoryError::Storage {
            message: format!("Microsoft Graph returned a user ssprctl can't read ({e})"),
            hint: "check --graph-url points at Microsoft Graph".into(),
        })?;
    // The id goes into later URLs: it must be what Graph's ids are, a GUID.
    if !crate::model::is_guid(&user.id) {
        return Err(DirectoryError::Storage {
            message: format!(
                "Microsoft Graph returned user {} with the id \"{}\", which is not a GUID; it is not used",
                crate::text::sanitize(&user.user_principal_name),
                crate::text::sanitize(&user.id.chars().take(80).collect::<String>())
            ),
            hint: "check --graph-url points at Microsoft Graph".into(),
        });
    }
    Ok(user)
}

/// Graph's refusal to write on-premises mastered properties, said the way a local refusal
/// says it (the fields, and the AD command that changes them at their source): Graph knows
/// better than our read. Other errors are returned as they are.
fn explain_synced(e: DirectoryError, upn: &str, patch: &UserPatch) -> DirectoryError {
    let refused = matches!(&e, DirectoryError::Service(s)
        if s.status == Some(400) && s.message.contains("on-premises mastered"));
    if !refused {
        return e;
    }
    PlanError::synced(upn, patch).map_or(e, DirectoryError::from)
}

impl Directory for GraphDirectory {
    async fn get_user(&self, user: &str) -> Result<User, DirectoryError> {
        self.fetch_user(user).await
    }

    async fn list_users(&self) -> Result<Vec<User>, DirectoryError> {
        self.list_where(None).await
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
        let current = self.fetch_user(user).await?;
        let plan = plan(&current)?;
        if dry_run || plan.patch.is_empty() {
            return Ok((current, plan));
        }
        self.patch_user(&current, &plan.patch).await?;
        Ok((current, plan))
    }

    async fn get_auth(&self, user: &str) -> Result<(User, AuthDetails), DirectoryError> {
        let u = self.fetch_user(user).await?;
        let d = self.fetch_methods(&u).await?;
        Ok((u, d))
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
        let (u, current) = self.get_auth(user).await?;
        let plan = plan(&u, &current)?;
        if dry_run {
            return Ok((u, plan));
        }
        self.check_cloud(&plan.patch)?;
        write_methods(&self.client, &u.id, &current, &plan.patch).await?;
        Ok((u, plan))
    }

    fn bulk_chunk(&self) -> Option<usize> {
        None
    }

    async fn read_many(
        &self,
        keys: &[String],
        auth: &[bool],
        ctl: &BulkControl,
    ) -> Result<Vec<super::Read>, DirectoryError> {
        let mut users = self.read_users(keys, ctl).await?;
        // Two reads per user whose row touches authentication methods, in batches, at the
        // lower authentication-method concurrency.
        let wanted: Vec<usize> = (0..users.len())
            .filter(|&i| matches!(users[i], Ok(Some(_))) && auth.get(i).copied().unwrap_or(false))
            .collect();
        let ids: Vec<String> = wanted
            .iter()
            .map(|&i| match &users[i] {
                Ok(Some(c)) => c.user.id.clone(),
                _ => unreachable!("filtered"),
            })
            .collect();
        for (read, &i) in self.methods_of(&ids, ctl).await.into_iter().zip(&wanted) {
            match read {
                Ok(d) => {
                    if let Ok(Some(c)) = &mut users[i] {
                        c.auth = Some(d);
                    }
                }
                Err(e) => users[i] = Err(e),
            }
        }
        Ok(users)
    }

    async fn read_methods(
        &self,
        users: &[User],
        ctl: &BulkControl,
    ) -> Result<Vec<Option<AuthDetails>>, DirectoryError> {
        let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
        self.methods_of(&ids, ctl)
            .await
            .into_iter()
            .map(|r| r.map(Some))
            .collect()
    }

    async fn registrations(&self) -> Result<crate::audit::Report, DirectoryError> {
        self.registration_report().await
    }

    async fn methods_policy(
        &self,
    ) -> Result<Option<crate::audit::policy::MethodsPolicy>, DirectoryError> {
        self.read_methods_policy().await
    }

    async fn group_members(
        &self,
        groups: &std::collections::BTreeSet<String>,
    ) -> Result<crate::audit::policy::Members, DirectoryError> {
        self.read_group_members(groups).await
    }

    async fn apply_many(&self, items: &[Planned], ctl: &BulkControl) -> Vec<Outcome> {
        self.write_many(items, ctl).await
    }

    async fn create_user(
        &self,
        _upn: &str,
        _display_name: Option<&str>,
        _synced: bool,
    ) -> Result<User, DirectoryError> {
        Err(local_only("new-user"))
    }

    async fn remove_user(&self, _user: &str) -> Result<User, DirectoryError> {
        Err(local_only("remove-user"))
    }
}

/// The refusal of a local-only command against a tenant.
pub fn local_only(command: &str) -> DirectoryError {
    DirectoryError::Unsupported(format!(
        "{command} works on the local directory only: ssprctl does not create or delete users in a tenant \
         (use the Entra admin center, or --directory local)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_sends_only_changes_and_clears_with_null_or_empty() {
        let p = UserPatch {
            alternate_email_addresses: Some(vec![]),
            mobile_phone: Some(None),
            office_phone: Some(Some("+1 4255550100".into())),
        };
        assert_eq!(
            patch_body(&p),
            json!({"otherMails": [], "mobilePhone": null, "businessPhones": ["+1 4255550100"]})
        );
        let p = UserPatch {
            office_phone: Some(None),
            ..Default::default()
        };
        assert_eq!(patch_body(&p), json!({"businessPhones": []}));
    }

    #[test]
    fn dollar_upns_use_the_key_form() {
        assert_eq!(
            user_segments("$kim@contoso.com"),
            ["users('$kim@contoso.com')"]
        );
        assert_eq!(
            user_segments("$o'brien@contoso.com"),
            ["users('$o''brien@contoso.com')"]
        );
        assert_eq!(
            user_segments("kim@contoso.com"),
            ["users", "kim@contoso.com"]
        );
    }
}
