//! The `Directory` behaviour suite, written once and run against every backend.
//!
//! A backend's test file implements [`Fixture`] (a directory holding given users) and calls
//! [`run_all`]. Each check reads the state back through the same directory afterwards.

#![allow(dead_code)]

use ssprctl::directory::{Directory, DirectoryError};
use ssprctl::model::{AuthDetails, User};
use ssprctl::plan::{
    AuthMethod, AuthUpdate, EmailEdit, PlanError, UserUpdate, plan_auth, plan_user,
};

/// Makes a directory that holds exactly `users`.
pub trait Fixture {
    type D: Directory;
    #[allow(async_fn_in_trait)]
    async fn with_users(&self, users: &[(User, AuthDetails)]) -> Self::D;

    /// `u` as this backend shows it after `with_users` (AD: its own objectGUID, no alternate
    /// email, never "synced").
    fn expect(&self, u: &User) -> User {
        u.clone()
    }

    /// False for a backend without the cloud-only data (alternate emails, the sync flag,
    /// authentication methods): the checks of those are skipped.
    fn cloud_only(&self) -> bool {
        true
    }
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// Three users: Kim (cloud, with data), Lee (synced), Ann (empty).
pub fn users() -> Vec<(User, AuthDetails)> {
    vec![
        (
            User {
                id: "00000000-0000-4000-8000-000000000001".into(),
                user_principal_name: "Kim@contoso.com".into(),
                display_name: s("Kim Akers"),
                alternate_email_addresses: vec!["kim@fabrikam.com".into()],
                mobile_phone: s("+1 2065550123"),
                office_phone: s("+1 4255550100"),
                on_premises_sync_enabled: false,
                account_enabled: None,
                user_type: None,
                on_premises: Default::default(),
            },
            AuthDetails {
                authentication_phone: s("+1 2065550123"),
                authentication_email: s("kim@fabrikam.com"),
                ..Default::default()
            },
        ),
        (
            User {
                id: "00000000-0000-4000-8000-000000000002".into(),
                user_principal_name: "lee@contoso.com".into(),
                display_name: s("Lee Gu"),
                mobile_phone: s("+44 7400123456"),
                on_premises_sync_enabled: true,
                account_enabled: None,
                user_type: None,
                ..Default::default()
            },
            AuthDetails::default(),
        ),
        (
            User {
                id: "00000000-0000-4000-8000-000000000003".into(),
                user_principal_name: "ann@contoso.com".into(),
                display_name: s("Ann Beebe"),
                ..Default::default()
            },
            AuthDetails::default(),
        ),
    ]
}

pub async fn run_all<F: Fixture>(f: &F) {
    get_by_upn_any_case_or_id(f).await;
    unknown_user_is_not_found(f).await;
    list_is_sorted_by_upn(f).await;
    update_writes_the_plan(f).await;
    unchanged_update_changes_nothing(f).await;
    dry_run_writes_nothing(f).await;
    clearing_fields(f).await;
    if f.cloud_only() {
        synced_user_phone_is_refused_and_nothing_written(f).await;
        synced_user_alternate_email_can_change(f).await;
        auth_methods_round_trip(f).await;
        auth_rules_are_enforced(f).await;
    }
}

async fn get_by_upn_any_case_or_id<F: Fixture>(f: &F) {
    let d = f.with_users(&users()).await;
    let kim = f.expect(&users()[0].0);
    let a = d.get_user("kim@CONTOSO.com").await.unwrap();
    assert_eq!(a.user_principal_name, "Kim@contoso.com");
    assert_eq!(a, kim);
    let b = d.get_user(&kim.id.to_uppercase()).await.unwrap();
    assert_eq!(a, b);
    if !f.cloud_only() {
        return;
    }
    let (u, auth) = d.get_auth("kim@contoso.com").await.unwrap();
    assert_eq!(u.id, a.id);
    assert_eq!(auth, users()[0].1);
}

async fn unknown_user_is_not_found<F: Fixture>(f: &F) {
    let d = f.with_users(&users()).await;
    assert!(matches!(
        d.get_user("nobody@contoso.com").await,
        Err(DirectoryError::NotFound(_))
    ));
    if f.cloud_only() {
        assert!(matches!(
            d.get_auth("nobody@contoso.com").await,
            Err(DirectoryError::NotFound(_))
        ));
    }
    let r = d
        .update_user("nobody@contoso.com", false, |u| {
            plan_user(u, &UserUpdate::default())
        })
        .await;
    assert!(matches!(r, Err(DirectoryError::NotFound(_))));
}

async fn list_is_sorted_by_upn<F: Fixture>(f: &F) {
    let d = f.with_users(&users()).await;
    let list = d.list_users().await.unwrap();
    let upns: Vec<_> = list
        .iter()
        .map(|u| u.user_principal_name.as_str())
        .collect();
    assert_eq!(
        upns,
        ["ann@contoso.com", "Kim@contoso.com", "lee@contoso.com"]
    );
    assert_eq!(list[1], f.expect(&users()[0].0));
}

async fn update_writes_the_plan<F: Fixture>(f: &F) {
    let d = f.with_users(&users()).await;
    let cloud = f.cloud_only();
    let update = UserUpdate {
        alternate_emails: cloud.then(|| EmailEdit::Add(vec!["kim@outlook.com".into()])),
        mobile_phone: Some(s("+44 7400123456")),
        office_phone: None,
    };
    let (before, plan) = d
        .update_user("kim@contoso.com", false, |u| plan_user(u, &update))
        .await
        .unwrap();
    assert_eq!(before, f.expect(&users()[0].0));
    assert_eq!(plan.changes.len(), if cloud { 2 } else { 1 });
    let after = d.get_user("kim@contoso.com").await.unwrap();
    if cloud {
        assert_eq!(
            after.alternate_email_addresses,
            ["kim@fabrikam.com", "kim@outlook.com"]
        );
    }
    assert_eq!(after.mobile_phone.as_deref(), Some("+44 7400123456"));
    assert_eq!(after.office_phone.as_deref(), Some("+1 4255550100"));
    // The other users are untouched.
    assert_eq!(
        d.get_user("ann@contoso.com").await.unwrap(),
        f.expect(&users()[2].0)
    );
}

async fn unchanged_update_changes_nothing<F: Fixture>(f: &F) {
    let d = f.with_users(&users()).await;
    let update = UserUpdate {
        mobile_phone: Some(s("+1 2065550123")),
        ..Default::default()
    };
    let (_, plan) = d
        .update_user("kim@contoso.com", false, |u| plan_user(u, &update))
        .await
        .unwrap();
    assert!(plan.patch.is_empty());
    assert_eq!(
        d.get_user("kim@contoso.com").await.unwrap(),
        f.expect(&users()[0].0)
    );
}

async fn dry_run_writes_nothing<F: Fixture>(f: &F) {
    let d = f.with_users(&users()).await;
    let update = UserUpdate {
        mobile_phone: Some(None),
        ..Default::default()
    };
    let (_, plan) = d
        .update_user("kim@contoso.com", true, |u| plan_user(u, &update))
        .await
        .unwrap();
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(
        d.get_user("kim@contoso.com").await.unwrap(),
        f.expect(&users()[0].0)
    );
    if !f.cloud_only() {
        return;
    }
    let auth = AuthUpdate {
        email: Some(None),
        ..Default::default()
    };
    d.update_auth("kim@contoso.com", true, |u, c| {
        plan_auth(&u.user_principal_name, c, &auth)
    })
    .await
    .unwrap();
    assert_eq!(d.get_auth("kim@contoso.com").await.unwrap().1, users()[0].1);
}

async fn clearing_fields<F: Fixture>(f: &F) {
    let d = f.with_users(&users()).await;
    let update = UserUpdate {
        alternate_emails: f.cloud_only().then(|| EmailEdit::Replace(vec![])),
        mobile_phone: Some(None),
        office_phone: Some(None),
    };
    d.update_user("kim@contoso.com", false, |u| plan_user(u, &update))
        .await
        .unwrap();
    let after = d.get_user("kim@contoso.com").await.unwrap();
    assert!(after.alternate_email_addresses.is_empty());
    assert_eq!(after.mobile_phone, None);
    assert_eq!(after.office_phone, None);
}

async fn synced_user_phone_is_refused_and_nothing_written<F: Fixture>(f: &F) {
    let d = f.with_users(&users()).await;
    let update = UserUpdate {
        alternate_emails: Some(EmailEdit::Replace(vec!["lee@outlook.com".into()])),
        mobile_phone: Some(s("+1 2065550123")),
        ..Default::default()
    };
    let r = d
        .update_user("lee@contoso.com", false, |u| plan_user(u, &update))
        .await;
    assert!(
        matches!(
            r,
            Err(DirectoryError::Refused(PlanError::SyncedUser { .. }))
        ),
        "{r:?}"
    );
    assert_eq!(
        d.get_user("lee@contoso.com").await.unwrap(),
        f.expect(&users()[1].0)
    );
}

async fn synced_user_alternate_email_can_change<F: Fixture>(f: &F) {
    let d = f.with_users(&users()).await;
    let update = UserUpdate {
        alternate_emails: Some(EmailEdit::Replace(vec!["lee@outlook.com".into()])),
        ..Default::default()
    };
    d.update_user("lee@contoso.com", false, |u| plan_user(u, &update))
        .await
        .unwrap();
    let after = d.get_user("lee@contoso.com").await.unwrap();
    assert_eq!(after.alternate_email_addresses, ["lee@outlook.com"]);
}

async fn auth_methods_round_trip<F: Fixture>(f: &F) {
    let d = f.with_users(&users()).await;
    let update = AuthUpdate {
        phone: Some(s("+44 7400123456")),
        alternate_phone: Some(s("+44 2079460958")),
        office_phone: Some(s("+1 4255550100")),
        email: Some(s("ann@fabrikam.com")),
    };
    let (_, plan) = d
        .update_auth("ann@contoso.com", false, |u, c| {
            plan_auth(&u.user_principal_name, c, &update)
        })
        .await
        .unwrap();
    assert_eq!(plan.patch.ops[0].0, AuthMethod::Phone);
    let (_, after) = d.get_auth("ann@contoso.com").await.unwrap();
    assert_eq!(
        after,
        AuthDetails {
            authentication_phone: s("+44 7400123456"),
            alternate_authentication_phone: s("+44 2079460958"),
            authentication_office_phone: s("+1 4255550100"),
            authentication_email: s("ann@fabrikam.com"),
        }
    );
    // Changing one value and removing both phones in one go.
    let update = AuthUpdate {
        phone: Some(None),
        alternate_phone: Some(None),
        email: Some(s("ann@outlook.com")),
        ..Default::default()
    };
    d.update_auth("ann@contoso.com", false, |u, c| {
        plan_auth(&u.user_principal_name, c, &update)
    })
    .await
    .unwrap();
    let (_, after) = d.get_auth("ann@contoso.com").await.unwrap();
    assert_eq!(after.authentication_phone, None);
    assert_eq!(after.alternate_authentication_phone, None);
    assert_eq!(after.authentication_office_phone, s("+1 4255550100"));
    assert_eq!(after.authentication_email, s("ann@outlook.com"));
    // The user object's own phones are separate data.
    assert_eq!(
        d.get_user("ann@contoso.com").await.unwrap(),
        f.expect(&users()[2].0)
    );
}

async fn auth_rules_are_enforced<F: Fixture>(f: &F) {
    let d = f.with_users(&users()).await;
    let update = AuthUpdate {
        alternate_phone: Some(s("+44 2079460958")),
        ..Default::default()
    };
    let r = d
        .update_auth("ann@contoso.com", false, |u, c| {
            plan_auth(&u.user_principal_name, c, &update)
        })
        .await;
    assert!(matches!(
        r,
        Err(DirectoryError::Refused(
            PlanError::AlternateNeedsPhone { .. }
        ))
    ));
    assert_eq!(
        d.get_auth("ann@contoso.com").await.unwrap().1,
        AuthDetails::default()
    );
}
