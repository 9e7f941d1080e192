//! The readiness audit's Graph sources: the registration report and the authentication
//! methods policy.

use reqwest::Method;
use serde_json::Value;

use std::collections::{BTreeSet, HashSet};

use super::client::{self, Purpose};
use super::{GraphDirectory, PAGE_SIZE};
use crate::audit::policy::{Members, MethodConfig, MethodsPolicy, Migration};
use crate::directory::DirectoryError;

impl GraphDirectory {
    /// The registration report, by user id, in pages; unavailable without the permission it
    /// needs.
    pub(super) async fn registration_report(&self) -> Result<crate::audit::Report, DirectoryError> {
        const PURPOSE: Purpose = Purpose {
            permission: "AuditLog.Read.All or UserAuthenticationMethod.Read.All (and Entra ID P1 or P2)",
            auth_method_write: false,
        };
        let mut url = self.client.url(&[
            "reports",
            "authenticationMethods",
            "userRegistrationDetails",
        ]);
        url.query_pairs_mut().append_pair("$top", PAGE_SIZE);
        let mut out = std::collections::HashMap::new();
        let mut fetched = std::collections::HashSet::new();
        loop {
            let body = match self.client.send(Method::GET, &url, None, PURPOSE).await {
                Ok(r) => r.body.unwrap_or(Value::Null),
                Err(DirectoryError::Service(s)) if s.status == Some(403) => {
                    return Ok(crate::audit::Report::Unavailable(
                        "the registration report needs AuditLog.Read.All or UserAuthenticationMethod.Read.All \
                         (and Entra ID P1/P2): auditing from the users' properties only (records say registration: \
                         unavailable)"
                            .into(),
                    ));
                }
                Err(e) => return Err(e),
            };
            let page = value_list(&body, &url)?;
            for r in page {
                let Some(id) = r["id"].as_str() else { continue };
                let b = |k: &str| r[k].as_bool().unwrap_or(false);
                out.insert(
                    id.to_lowercase(),
                    crate::audit::Registration {
                        is_sspr_registered: b("isSsprRegistered"),
                        is_sspr_capable: b("isSsprCapable"),
                        // Absent (an older report): SSPR is taken to apply.
                        is_sspr_enabled: r["isSsprEnabled"].as_bool().unwrap_or(true),
                        is_admin: b("isAdmin"),
                        methods_registered: r["methodsRegistered"]
                            .as_array()
                            .map(|m| {
                                m.iter()
                                    .filter_map(|x| x.as_str().map(str::to_string))
                                    .collect()
                            })
                            .unwrap_or_default(),
                    },
                );
            }
            match self.client.next_page(&body, &url, &mut fetched)? {
                Some(next) => url = next,
                None => return Ok(crate::audit::Report::Available(out)),
            }
        }
    }

    /// The tenant's authentication methods policy: its migration state and the SMS, voice and
    /// email configurations with their targets; `None` without the permission to read it.
    pub(super) async fn read_methods_policy(
        &self,
    ) -> Result<Option<MethodsPolicy>, DirectoryError> {
        const PURPOSE: Purpose = Purpose {
            permission: "Policy.Read.AuthenticationMethod (or Policy.Read.All)",
            auth_method_write: false,
        };
        let url = self
            .client
            .url(&["policies", "authenticationMethodsPolicy"]);
        let body = match self.client.send(Method::GET, &url, None, PURPOSE).await {
            Ok(r) => r.body.unwrap_or(Value::Null),
            Err(DirectoryError::Service(s)) if matches!(s.status, Some(403 | 404)) => {
                self.client.http.log(
                    1,
                    "the authentication methods policy can't be read (Policy.Read.AuthenticationMethod): every method kind counts",
                );
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        Ok(Some(parse_policy(&body)))
    }

    /// The transitive user members of each group, read once, in pages of 999, the groups side
    /// by side. A group whose members can't be read (403: no GroupMember.Read.All; 404: gone)
    /// is `None`.
    pub(super) async fn read_group_members(
        &self,
        groups: &BTreeSet<String>,
    ) -> Result<Members, DirectoryError> {
        let mut tasks = tokio::task::JoinSet::new();
        for g in groups {
            let (client, g) = (self.client.clone(), g.clone());
            tasks.spawn(async move {
                let members = group_members(&client, &g).await;
                (g, members)
            });
        }
        let mut out = Members::new();
        while let Some(joined) = tasks.join_next().await {
            let (g, members) = joined.map_err(|e| DirectoryError::Storage {
                message: format!("reading a group's members failed: {e}"),
                hint: "run the audit again".into(),
            })?;
            out.insert(g, members?);
        }
        Ok(out)
    }
}

/// The transitive user members of group `g`, page by page; `None` when they can't be read.
async fn group_members(
    client: &client::GraphClient,
    g: &str,
) -> Result<Option<HashSet<String>>, DirectoryError> {
    const PURPOSE: Purpose = Purpose {
        permission: "GroupMember.Read.All (or Group.Read.All)",
        auth_method_write: false,
    };
    let mut url = client.url(&["groups", g, "transitiveMembers", "microsoft.graph.user"]);
    url.query_pairs_mut()
        .append_pair("$select", "id")
        .append_pair("$top", PAGE_SIZE);
    let mut ids = HashSet::new();
    let mut fetched = HashSet::new();
    loop {
        let body = match client.send(Method::GET, &url, None, PURPOSE).await {
            Ok(r) => r.body.unwrap_or(Value::Null),
            // The command says it once, for every group left unknown.
            Err(DirectoryError::Service(s)) if matches!(s.status, Some(403 | 404)) => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let page = value_list(&body, &url)?;
        ids.extend(
            page.iter()
                .filter_map(|m| m["id"].as_str().map(str::to_lowercase)),
        );
        match client.next_page(&body, &url, &mut fetched)? {
            Some(next) => url = next,
            None => return Ok(Some(ids)),
        }
    }
}

/// A list page's `value`, or the error naming the page.
fn value_list<'a>(body: &'a Value, url: &reqwest::Url) -> Result<&'a Vec<Value>, DirectoryError> {
    body.get("value")
        .and_then(Value::as_array)
        .ok_or_else(|| client::malformed(&Method::GET, url, "the page has no \"value\" list", None))
}

/// The parts of an authenticationMethodsPolicy that decide SSPR's contact methods.
fn parse_policy(body: &Value) -> MethodsPolicy {
    let configs = body["authenticationMethodConfigurations"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let find = |id: &str| {
        configs
            .iter()
            .find(|c| c["id"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(id)))
    };
    let groups = |c: &Value, key: &str| -> (bool, Vec<String>) {
        let mut all = false;
        let mut ids = Vec::new();
        for t in c[key].as_array().into_iter().flatten() {
            match t["id"].as_str() {
                Some("all_users") => all = true,
                Some(id) if t["targetType"].as_str().is_none_or(|k| k == "group") => {
                    ids.push(id.to_string())
                }
                _ => {}
            }
        }
        (all, ids)
    };
    let config = |id: &str| {
        let Some(c) = find(id) else {
            return MethodConfig::default();
        };
        let (all_users, include) = groups(c, "includeTargets");
        let (_, exclude) = groups(c, "excludeTargets");
        MethodConfig {
            enabled: c["state"].as_str() == Some("enabled"),
            all_users,
            include,
            exclude,
        }
    };
    MethodsPolicy {
        migration: Migration::parse(body["policyMigrationState"].as_str()),
        sms: config("Sms"),
        voice: config("Voice"),
        office_phone_allowed: find("Voice")
            .and_then(|c| c["isOfficePhoneAllowed"].as_bool())
            .unwrap_or(false),
        email: config("Email"),
    }
}

/// The tenant's directory synchronisation, from the organization resource.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    pub tenant_id: String,
    pub display_name: Option<String>,
    /// `onPremisesSyncEnabled`: `null` when synchronisation was never turned on.
    pub on_premises_sync_enabled: Option<bool>,
    /// `onPremisesLastSyncDateTime` (ISO 8601, UTC), as Graph says it.
    pub on_premises_last_sync_date_time: Option<String>,
}

impl GraphDirectory {
    /// The organization's sync state (`GET /organization`).
    pub async fn sync_status(&self) -> Result<SyncStatus, DirectoryError> {
        const PURPOSE: Purpose = Purpose {
            permission: "Organization.Read.All (or Directory.Read.All; User.Read when signed in)",
            auth_method_write: false,
        };
        let mut url = self.client.url(&["organization"]);
        url.query_pairs_mut().append_pair(
            "$select",
            "id,displayName,onPremisesSyncEnabled,onPremisesLastSyncDateTime",
        );
        let body = self
            .client
            .send(Method::GET, &url, None, PURPOSE)
            .await?
            .body
            .unwrap_or(Value::Null);
        let org = value_list(&body, &url)?
            .first()
            .cloned()
            .ok_or_else(|| client::malformed(&Method::GET, &url, "no organization", None))?;
        let text = |k: &str| org[k].as_str().map(str::to_string);
        Ok(SyncStatus {
            tenant_id: text("id").unwrap_or_default(),
            display_name: text("displayName"),
            on_premises_sync_enabled: org["onPremisesSyncEnabled"].as_bool(),
            on_premises_last_sync_date_time: text("onPremisesLastSyncDateTime"),
        })
    }
}
