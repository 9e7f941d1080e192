//! The sample tenant a newcomer's default local directory starts with.

use crate::model::{AuthDetails, User};

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// A handful of `@contoso.com` users; Megan Bowen is synchronised from on-premises AD.
pub fn tenant() -> Vec<(User, AuthDetails)> {
    vec![
        (
            User {
                id: "6e7b768e-07e2-4810-8459-485f84f8f204".into(),
                user_principal_name: "adele.vance@contoso.com".into(),
                display_name: s("Adele Vance"),
                alternate_email_addresses: vec!["adele.vance@fabrikam.com".into()],
                mobile_phone: s("+1 2065550123"),
                office_phone: s("+1 4255550100"),
                on_premises_sync_enabled: false,
                account_enabled: None,
                user_type: None,
                on_premises: Default::default(),
            },
            AuthDetails {
                authentication_phone: s("+1 2065550123"),
                authentication_email: s("adele.vance@fabrikam.com"),
                ..Default::default()
            },
        ),
        (
            User {
                id: "87d349ed-44d7-43e1-9a83-5f2406dee5bd".into(),
                user_principal_name: "alex.wilber@contoso.com".into(),
                display_name: s("Alex Wilber"),
                ..Default::default()
            },
            AuthDetails::default(),
        ),
        (
            User {
                id: "e3d0513b-449e-4198-ba6f-bd97ae7cae85".into(),
                user_principal_name: "lee.gu@contoso.com".into(),
                display_name: s("Lee Gu"),
                alternate_email_addresses: vec!["lee.gu@outlook.com".into()],
                mobile_phone: s("+44 7400123456"),
                office_phone: s("+44 2079460958"),
                on_premises_sync_enabled: false,
                account_enabled: None,
                user_type: None,
                on_premises: Default::default(),
            },
            AuthDetails {
                authentication_phone: s("+44 7400123456"),
                alternate_authentication_phone: s("+44 2079460958"),
                ..Default::default()
            },
        ),
        (
            User {
                id: "c8f4e9d2-1a3b-4c5d-8e6f-7a8b9c0d1e2f".into(),
                user_principal_name: "megan.bowen@contoso.com".into(),
                display_name: s("Megan Bowen"),
                mobile_phone: s("+1 4255550102"),
                office_phone: s("+1 4255550103"),
                on_premises_sync_enabled: true,
                account_enabled: None,
                user_type: None,
                on_premises: Default::default(),
                ..Default::default()
            },
            AuthDetails::default(),
        ),
        (
            User {
                id: "4782e723-f4f4-4af3-a76e-25e3bab0d896".into(),
                user_principal_name: "nestor.wilke@contoso.com".into(),
                display_name: s("Nestor Wilke"),
                alternate_email_addresses: vec![],
                mobile_phone: s("+39 3123456789"),
                office_phone: s("+39 0212345678"),
                on_premises_sync_enabled: false,
                account_enabled: None,
                user_type: None,
                on_premises: Default::default(),
            },
            AuthDetails {
                authentication_phone: s("+39 3123456789"),
                authentication_office_phone: s("+39 0212345678"),
                ..Default::default()
            },
        ),
    ]
}
