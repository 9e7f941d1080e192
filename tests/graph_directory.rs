//! The `Directory` behaviour suite, unchanged, against the Graph backend and the emulator;
//! plus request counts and Graph-specific mapping checked at the library level.

mod emulator;
mod suite;

use std::cell::RefCell;

use emulator::Emulator;
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
    };
    let base = reqwest::Url::parse(&emu.url).unwrap();
    let http = Http::new(RetryPolicy::default(), printer);
    GraphDirectory::new(GraphClient::new(
        http,
        &base,
        Secret::new(emu.issue_token()),
        None,
    ))
}

#[derive(Default)]
struct Graph(RefCell<Vec<Emulator>>);

impl suite::Fixture for Graph {
    type D = GraphDirectory;
    fn with_users(&self, users: &[(User, AuthDetails)]) -> GraphDirectory {
        let emu = Emulator::start();
        for (u, a) in users {
            emu.add_user(u, a);
        }
        let d = connect(&emu);
        self.0.borrow_mut().push(emu);
        d
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
