//! The readiness audit's Graph sources: the registration report and the authentication
//! methods policy.

use reqwest::Method;
use serde_json::Value;

use super::client::{self, Purpose};
use super::{GraphDirectory, PAGE_SIZE};
use crate::directory::DirectoryError;

impl GraphDirectory {
    /// The registration report, by user id, in pages; unavailable without the permission it
    /// needs.
    pub(super) async fn registration_report(&self) -> Result<crate::audit::Report, DirectoryError> {
        const PURPOSE: Purpose = Purpose {
            permission: "AuditLog.Read.All (and Entra ID P1 or P2)",
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
                        "the registration report needs AuditLog.Read.All (and Entra ID P1/P2): auditing \
                         from the users' properties only (records say registration: unavailable)"
                            .into(),
                    ));
                }
                Err(e) => return Err(e),
            };
            let Some(page) = body.get("value").and_then(Value::as_array) else {
                return Err(client::malformed(
                    &Method::GET,
                    &url,
                    "the page has no \"value\" list",
                    None,
                ));
            };
            for r in page {
                let Some(id) = r["id"].as_str() else { continue };
                let b = |k: &str| r[k].as_bool().unwrap_or(false);
                out.insert(
                    id.to_lowercase(),
                    crate::audit::Registration {
                        is_sspr_registered: b("isSsprRegistered"),
                        is_sspr_capable: b("isSsprCapable"),
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

    /// The method kinds the tenant's authentication methods policy enables (email, SMS, voice);
    /// `None` without `Policy.Read.All`.
    pub(super) async fn methods_policy(
        &self,
    ) -> Result<Option<crate::audit::Enabled>, DirectoryError> {
        const PURPOSE: Purpose = Purpose {
            permission: "Policy.Read.All",
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
                    "the authentication methods policy can't be read (Policy.Read.All): every method kind counts",
                );
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let on = |id: &str| {
            body["authenticationMethodConfigurations"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| {
                    c["id"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(id))
                        && c["state"].as_str() == Some("enabled")
                })
        };
        Ok(Some(crate::audit::Enabled {
            mobile: on("Sms") || on("Voice"),
            office: on("Voice"),
            email: on("Email"),
        }))
    }
}
