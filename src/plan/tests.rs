//! Planning rules: what counts as a change, synced-user refusal, auth-method order and rules.

use super::*;

fn user(synced: bool) -> User {
    User {
        id: "1".into(),
        user_principal_name: "kim@contoso.com".into(),
        display_name: Some("Kim".into()),
        alternate_email_addresses: vec!["kim@fabrikam.com".into()],
        mobile_phone: Some("+1 2015550123".into()),
        office_phone: None,
        on_premises_sync_enabled: synced,
        account_enabled: None,
        user_type: None,
        on_premises: Default::default(),
    }
}

fn s(v: &str) -> Option<Option<String>> {
    Some(Some(v.into()))
}

#[test]
fn unchanged_values_make_an_empty_plan() {
    let update = UserUpdate {
        alternate_emails: Some(EmailEdit::Replace(vec!["kim@fabrikam.com".into()])),
        mobile_phone: s("+1 2015550123"),
        office_phone: Some(None),
    };
    let plan = plan_user(&user(false), &update).unwrap();
    assert!(plan.patch.is_empty());
    assert!(plan.changes.is_empty());
}

#[test]
fn changes_list_old_and_new() {
    let update = UserUpdate {
        mobile_phone: Some(None),
        office_phone: s("+44 2079460958"),
        ..Default::default()
    };
    let plan = plan_user(&user(false), &update).unwrap();
    assert_eq!(plan.patch.mobile_phone, Some(None));
    assert_eq!(plan.patch.office_phone, s("+44 2079460958"));
    assert_eq!(plan.changes.len(), 2);
    assert_eq!(plan.changes[0].field, "mobilePhone");
    assert_eq!(plan.changes[0].old, Value::Text("+1 2015550123".into()));
    assert_eq!(plan.changes[0].new, Value::Null);
}

#[test]
fn add_and_remove_edit_the_list() {
    let u = user(false);
    let plan = plan_user(
        &u,
        &UserUpdate {
            alternate_emails: Some(EmailEdit::Add(vec![
                "KIM@fabrikam.com".into(),
                "a@b.com".into(),
            ])),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        plan.patch.alternate_email_addresses,
        Some(vec!["kim@fabrikam.com".into(), "a@b.com".into()])
    );
    let plan = plan_user(
        &u,
        &UserUpdate {
            alternate_emails: Some(EmailEdit::Remove(vec![
                "Kim@Fabrikam.com".into(),
                "x@y.com".into(),
            ])),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(plan.patch.alternate_email_addresses, Some(vec![]));
    assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
}

#[test]
fn synced_user_keeps_its_phones_but_not_its_alternate_email() {
    let err = plan_user(
        &user(true),
        &UserUpdate {
            mobile_phone: s("+1 2015550199"),
            office_phone: s("+1 2015550100"),
            ..Default::default()
        },
    )
    .unwrap_err();
    match &err {
        PlanError::SyncedUser { ad_attributes, .. } => {
            assert_eq!(ad_attributes, "mobile, telephoneNumber")
        }
        other => panic!("{other:?}"),
    }
    assert!(err.hint().contains("mobile, telephoneNumber"));
    // Unchanged phone on a synced user is no change, not a refusal.
    let plan = plan_user(
        &user(true),
        &UserUpdate {
            alternate_emails: Some(EmailEdit::Replace(vec![])),
            mobile_phone: s("+1 2015550123"),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(plan.changes.len(), 1);
}

#[test]
fn alternate_phone_needs_a_phone() {
    let err = plan_auth(
        "kim@contoso.com",
        &AuthDetails::default(),
        &AuthUpdate {
            alternate_phone: s("+1 2015550123"),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, PlanError::AlternateNeedsPhone { .. }));
}

#[test]
fn clearing_the_phone_while_adding_an_alternate_names_the_alternate_rule() {
    let current = AuthDetails {
        authentication_phone: Some("+1 2015550123".into()),
        ..Default::default()
    };
    let err = plan_auth(
        "kim@contoso.com",
        &current,
        &AuthUpdate {
            phone: Some(None),
            alternate_phone: s("+1 2015550124"),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, PlanError::AlternateNeedsPhone { .. }),
        "{err:?}"
    );
}

#[test]
fn phone_cannot_be_cleared_under_an_alternate() {
    let current = AuthDetails {
        authentication_phone: Some("+1 2015550123".into()),
        alternate_authentication_phone: Some("+1 2015550124".into()),
        ..Default::default()
    };
    let err = plan_auth(
        "kim@contoso.com",
        &current,
        &AuthUpdate {
            phone: Some(None),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, PlanError::PhoneHasAlternate { .. }));
    // Clearing both removes the alternate first.
    let plan = plan_auth(
        "kim@contoso.com",
        &current,
        &AuthUpdate {
            phone: Some(None),
            alternate_phone: Some(None),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        plan.patch.ops,
        [
            (AuthMethod::AlternatePhone, None),
            (AuthMethod::Phone, None)
        ]
    );
}

#[test]
fn phone_is_added_before_the_alternate() {
    let plan = plan_auth(
        "kim@contoso.com",
        &AuthDetails::default(),
        &AuthUpdate {
            email: s("kim@fabrikam.com"),
            alternate_phone: s("+1 2015550124"),
            phone: s("+1 2015550123"),
            ..Default::default()
        },
    )
    .unwrap();
    let order: Vec<_> = plan.patch.ops.iter().map(|(m, _)| *m).collect();
    assert_eq!(
        order,
        [
            AuthMethod::Phone,
            AuthMethod::AlternatePhone,
            AuthMethod::Email
        ]
    );
    let mut after = AuthDetails::default();
    plan.patch.apply_to(&mut after);
    assert_eq!(
        after.authentication_email.as_deref(),
        Some("kim@fabrikam.com")
    );
}
