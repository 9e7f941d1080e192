//! Authentication methods on Graph: writing a user's phone and email methods in the order the
//! service requires, by the fixed method ids, and reading them back from list answers.

use reqwest::Method;
use serde_json::{Value, json};

use super::client::GraphClient;
use super::{ALTERNATE_MOBILE_ID, EMAIL_ID, MOBILE_ID, OFFICE_ID, methods_purpose, user_url};
use crate::directory::DirectoryError;
use crate::model::AuthDetails;
use crate::plan::{AuthMethod, AuthPatch};

/// The Graph-side identity of an authentication phone type.
fn phone_type(m: AuthMethod) -> Option<(&'static str, &'static str)> {
    match m {
        AuthMethod::Phone => Some(("mobile", MOBILE_ID)),
        AuthMethod::AlternatePhone => Some(("alternateMobile", ALTERNATE_MOBILE_ID)),
        AuthMethod::OfficePhone => Some(("office", OFFICE_ID)),
        AuthMethod::Email => None,
    }
}

/// Writes authentication-method changes for one user, in the plan's order: PATCH a type that
/// exists, POST one that doesn't, DELETE a removed one (all by the fixed method ids).
///
/// PATCH and DELETE of a fixed id are idempotent (a DELETE that finds nothing has done its
/// job). A POST is not: when it gets no clear answer (503/504, timeout) it may have happened,
/// so the collection is read again and the write continues from what is there.
pub(super) async fn write_methods(
    client: &GraphClient,
    user_id: &str,
    current: &AuthDetails,
    patch: &AuthPatch,
) -> Result<(), DirectoryError> {
    for (method, value) in &patch.ops {
        let mut exists = match method {
            AuthMethod::Phone => current.authentication_phone.is_some(),
            AuthMethod::AlternatePhone => current.alternate_authentication_phone.is_some(),
            AuthMethod::OfficePhone => current.authentication_office_phone.is_some(),
            AuthMethod::Email => current.authentication_email.is_some(),
        };
        let (collection, id, body) = match phone_type(*method) {
            Some((kind, id)) => (
                "phoneMethods",
                id,
                value
                    .as_ref()
                    .map(|v| json!({"phoneNumber": v, "phoneType": kind})),
            ),
            None => (
                "emailMethods",
                EMAIL_ID,
                value.as_ref().map(|v| json!({"emailAddress": v})),
            ),
        };
        let purpose = methods_purpose(collection, true);
        let mut rereads = 0;
        loop {
            let (verb, url) = match (&body, exists) {
                (Some(_), true) => (
                    Method::PATCH,
                    user_url(client, user_id, &["authentication", collection, id]),
                ),
                (Some(_), false) => (
                    Method::POST,
                    user_url(client, user_id, &["authentication", collection]),
                ),
                (None, _) => (
                    Method::DELETE,
                    user_url(client, user_id, &["authentication", collection, id]),
                ),
            };
            match client
                .send(verb.clone(), &url, body.as_ref(), purpose)
                .await
            {
                Ok(_) => break,
                Err(DirectoryError::Service(s))
                    if verb == Method::DELETE && s.status == Some(404) =>
                {
                    break;
                }
                Err(e) if verb == Method::POST && uncertain(&e) && rereads < 2 => {
                    rereads += 1;
                    let list = user_url(client, user_id, &["authentication", collection]);
                    let now = client
                        .send(Method::GET, &list, None, methods_purpose(collection, false))
                        .await?;
                    let after = if collection == "phoneMethods" {
                        methods_from(&now.body, &None)
                    } else {
                        methods_from(&None, &now.body)
                    };
                    let there = method_value(*method, &after);
                    client.http.log(
                        1,
                        &format!(
                            "POST {} got no clear answer; read again: the method {}",
                            url.path(),
                            if there.is_some() {
                                "exists"
                            } else {
                                "is absent"
                            }
                        ),
                    );
                    if there.is_some() && there == value.as_ref() {
                        break;
                    }
                    exists = there.is_some();
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// The value of one method in `d`.
pub(super) fn method_value(m: AuthMethod, d: &AuthDetails) -> Option<&String> {
    match m {
        AuthMethod::Phone => d.authentication_phone.as_ref(),
        AuthMethod::AlternatePhone => d.alternate_authentication_phone.as_ref(),
        AuthMethod::OfficePhone => d.authentication_office_phone.as_ref(),
        AuthMethod::Email => d.authentication_email.as_ref(),
    }
}

/// True for a failure after which a write may or may not have happened.
pub(super) fn uncertain(e: &DirectoryError) -> bool {
    matches!(e, DirectoryError::Service(s)
        if s.kind == crate::directory::ServiceKind::Unavailable
            && s.status.is_none_or(|c| c == 503 || c == 504))
}

/// Authentication details from `phoneMethods` and `emailMethods` answers.
pub(super) fn methods_from(phones: &Option<Value>, emails: &Option<Value>) -> AuthDetails {
    let mut d = AuthDetails::default();
    for p in values(phones) {
        let number = p["phoneNumber"].as_str().map(str::to_string);
        match p["phoneType"].as_str() {
            Some("mobile") => d.authentication_phone = number,
            Some("alternateMobile") => d.alternate_authentication_phone = number,
            Some("office") => d.authentication_office_phone = number,
            _ => {}
        }
    }
    d.authentication_email = values(emails)
        .first()
        .and_then(|e| e["emailAddress"].as_str())
        .map(str::to_string);
    d
}

pub(super) fn values(body: &Option<Value>) -> Vec<Value> {
    body.as_ref()
        .and_then(|b| b["value"].as_array().cloned())
        .unwrap_or_default()
}
