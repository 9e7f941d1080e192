//! The `Directory` behaviour suite, unchanged, against the Graph backend and the emulator;
//! plus request counts and Graph-specific mapping checked at the library level.

mod emulator;
mod suite;

use std::cell::RefCell;

use emulator::Emulator;
use ssprctl::auth::TokenSource;
use ssprctl::cli::Format;
use ssprctl::directory::graph::GraphDirectory;
use ssprctl::directory::graph::client::GraphClient;
use ssprctl::directory::{Directory, DirectoryError};
use ssprctl::http::{Http, RetryPolicy};
use ssprctl::model::{AuthDetails, User};
use ssprctl::output::Printer;
use ssprctl::plan::{UserUpdate, plan_user};
use ssprctl::secret::Secret;

fn connect(emu: &Emulator) -> GraphDirectory {
    let printer = Printer {
        format: Format::Json,
        quiet: true,
        verbose: 0,
        table_width: None,
    };
    let base = reqwest::Url::parse(&emu.url).unwrap();
    let http = Http::new(RetryPolicy::default(), printer, true);
    let tokens = TokenSource::fixed(Secret::new(emu.issue_token()), http.clone(), printer);
    GraphDirectory::new(GraphClient::new(
        http,
        &base,
        std::sync::Arc::new(tokens),
        printer,
    ))
}

#[derive(Default)]
struct Graph(RefCell<Vec<Emulator>>);

impl suite::Fixture for Graph {
    type D = GraphDirectory;
    async fn with_users(&self, users: &[(User, AuthDetails)]) -> GraphDirectory {
        let emu = Emulator::start();
        for (u, a) in users {
            emu.add_user(u, a);
        }
        let d = connect(&emu);
        self.0.borrow_mut().push(emu);
        d
    }

    /// Graph always says whether the account is enabled and what kind of user it is.
    fn expect(&self, u: &User) -> User {
        User {
            account_enabled: u.account_enabled.or(Some(true)),
            user_type: u.user_type.clone().or(Some("Member".into())),
            ..u.clone()
        }
    }
}

#[tokio::test]
async fn behaviour_suite() {
    suite::run_all(&Graph::default()).await;
}

#[tokio::test]
async fn an_unchanged_value_sends_one_get_and_a_change_one_get_and_one_patch() {
    let emu = Emulator::start();
    for (u, a) in suite::users() {
        emu.add_user(&u, &a);
    }
    let d = connect(&emu);
    let same = UserUpdate {
        mobile_phone: Some(Some("+1 2065550123".into())),
        ..Default::default()
    };
    d.update_user("kim@contoso.com", false, |u| plan_user(u, &same))
        .await
        .unwrap();
    assert_eq!(emu.graph_requests(), ["GET /v1.0/users/kim@contoso.com"]);
    emu.clear_seen();
    let change = UserUpdate {
        mobile_phone: Some(None),
        ..Default::default()
    };
    d.update_user("kim@contoso.com", false, |u| plan_user(u, &change))
        .await
        .unwrap();
    assert_eq!(
        emu.graph_requests(),
        [
            "GET /v1.0/users/kim@contoso.com",
            "PATCH /v1.0/users/00000000-0000-4000-8000-000000000001"
        ]
    );
    let patch = emu.seen().last().unwrap().body.clone();
    assert_eq!(patch, r#"{"mobilePhone":null}"#);
    // $select is always sent, so otherMails is never silently missing.
    let get = &emu.seen()[0];
    assert!(get.query.contains("otherMails"), "{}", get.query);
}

#[tokio::test]
async fn listing_2500_users_takes_3_pages() {
    let emu = Emulator::start();
    emu.add_many(2500);
    let d = connect(&emu);
    let users = d.list_users().await.unwrap();
    assert_eq!(users.len(), 2500);
    assert_eq!(users[0].user_principal_name, "user00000@contoso.com");
    let pages = emu.graph_requests();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(
        emu.seen()[0].query.contains("%24top=999"),
        "{}",
        emu.seen()[0].query
    );
}

#[tokio::test]
async fn guest_and_dollar_upns_are_addressed() {
    let emu = Emulator::start();
    for (i, upn) in [
        "kim_fabrikam.com#EXT#@contoso.onmicrosoft.com",
        "$admin@contoso.com",
        "o'brien@contoso.com",
    ]
    .iter()
    .enumerate()
    {
        emu.add_user(
            &User {
                id: format!("00000000-0000-4000-8000-00000000010{i}"),
                user_principal_name: upn.to_string(),
                ..Default::default()
            },
            &AuthDetails::default(),
        );
    }
    let d = connect(&emu);
    for upn in [
        "kim_fabrikam.com#EXT#@contoso.onmicrosoft.com",
        "$admin@contoso.com",
        "o'brien@contoso.com",
    ] {
        assert_eq!(d.get_user(upn).await.unwrap().user_principal_name, upn);
    }
    let paths = emu.graph_requests();
    assert_eq!(paths[1], "GET /v1.0/users('$admin@contoso.com')");
}

#[tokio::test]
async fn create_and_remove_are_local_only() {
    let emu = Emulator::start();
    let d = connect(&emu);
    assert!(matches!(
        d.create_user("x@contoso.com", None, false).await,
        Err(DirectoryError::Unsupported(_))
    ));
    assert!(matches!(
        d.remove_user("x@contoso.com").await,
        Err(DirectoryError::Unsupported(_))
    ));
    assert!(emu.graph_requests().is_empty());
}

/// The emulator must refuse what Graph refuses, or the tests above could pass against a
/// client that sends bad requests.
#[tokio::test]
async fn the_emulator_is_as_strict_as_graph() {
    let emu = Emulator::start();
    for (u, a) in suite::users() {
        emu.add_user(&u, &a);
    }
    let token = emu.issue_token();
    let c = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = |p: &str| format!("{}/v1.0{p}", emu.url);
    let send = |m: reqwest::Method, p: &str, body: serde_json::Value| {
        c.request(m, url(p)).bearer_auth(&token).json(&body).send()
    };
    let ann = "/users/00000000-0000-4000-8000-000000000003";
    let cases = [
        (
            reqwest::Method::PATCH,
            ann.to_string(),
            serde_json::json!({"mobilePhone": ""}),
            400,
        ),
        (
            reqwest::Method::PATCH,
            ann.to_string(),
            serde_json::json!({"department": "x"}),
            400,
        ),
        (
            reqwest::Method::PATCH,
            ann.to_string(),
            serde_json::json!({"businessPhones": ["+1 2065550100", "+1 2065550101"]}),
            400,
        ),
        (
            reqwest::Method::PATCH,
            "/users/lee@contoso.com".to_string(),
            serde_json::json!({"mobilePhone": "+1 2065550100"}),
            400,
        ),
        (
            reqwest::Method::POST,
            format!("{ann}/authentication/phoneMethods"),
            serde_json::json!({"phoneNumber": "+12065550100", "phoneType": "mobile"}),
            400,
        ),
        (
            reqwest::Method::POST,
            format!("{ann}/authentication/phoneMethods"),
            serde_json::json!({"phoneNumber": "+1 2065550100", "phoneType": "alternateMobile"}),
            400,
        ),
        (
            reqwest::Method::POST,
            format!("{ann}/authentication/phoneMethods"),
            serde_json::json!({"phoneNumber": "+1 2065550100", "phoneType": "mobile"}),
            201,
        ),
        (
            reqwest::Method::POST,
            format!("{ann}/authentication/phoneMethods"),
            serde_json::json!({"phoneNumber": "+1 2065550101", "phoneType": "mobile"}),
            400,
        ),
        (
            reqwest::Method::PATCH,
            ann.to_string(),
            serde_json::json!({"mobilePhone": null, "otherMails": []}),
            204,
        ),
    ];
    for (m, p, body, status) in cases {
        let r = send(m.clone(), &p, body.clone()).await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{m} {p} {body}");
    }
    let r = c.get(url("/users/kim@contoso.com")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401, "no token");
    let too_many: Vec<_> = (0..21).map(|i| serde_json::json!({"id": i.to_string(), "method": "GET", "url": "/users/kim@contoso.com"})).collect();
    let r = send(
        reqwest::Method::POST,
        "/$batch",
        serde_json::json!({"requests": too_many}),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 400, "more than 20 in a batch");
    let r = send(reqwest::Method::POST, "/$batch", serde_json::json!({"requests": [{"id": "1", "method": "PATCH", "url": ann, "body": {"mobilePhone": null}}]})).await.unwrap();
    assert_eq!(r.status().as_u16(), 400, "a body needs its Content-Type");
    let r = c
        .get(url("/users/$count"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        400,
        "$count needs ConsistencyLevel: eventual"
    );
    let r = c
        .get(url("/users/kim@contoso.com"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(
        v.get("otherMails").is_none(),
        "otherMails only when selected"
    );
}
