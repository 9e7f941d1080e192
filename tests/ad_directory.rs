//! The Active Directory backend against a real Samba AD domain controller on loopback (see
//! `tests/ad`): the `Directory` suite for what AD holds, and every command and error through
//! the binary, with the directory's state read back with `ldapsearch` and Samba's audit log.

mod ad;
mod common;
mod emulator;
mod hybrid;
mod suite;
mod tenant;

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine;
use serde_json::Value;
use ssprctl::cli::Format;
use ssprctl::directory::ad::AdDirectory;
use ssprctl::directory::{Directory, DirectoryError};
use ssprctl::model::{AuthDetails, User};
use ssprctl::output::Printer;
use ssprctl::plan::{FieldChange, UserPatch, UserPlan};
use ssprctl::secret::Secret;
use ssprctl::settings::{DEFAULT_LDAP_FILTER, LdapSettings};

use common::{Env, json_error};

const SUITE_OU: &str = "OU=Suite,DC=sspr,DC=test";
const CLI_OU: &str = "OU=Cli,DC=sspr,DC=test";

fn printer() -> Printer {
    Printer {
        format: Format::Json,
        quiet: true,
        verbose: 0,
        table_width: None,
    }
}

fn settings(dc: &ad::Dc, url: &str) -> LdapSettings {
    LdapSettings {
        url: url.to_string(),
        host: "localhost".into(),
        starttls: url.starts_with("ldap://"),
        bind_dn: Some(ad::ADMIN.into()),
        password: Some(Secret::new(ad::ADMIN_PASSWORD)),
        ca: Some(dc.ca.clone()),
        insecure_skip_verify: false,
        base_dn: None,
        filter: DEFAULT_LDAP_FILTER.into(),
        stdin_tty: false,
        auth: ssprctl::settings::LdapAuth::Simple,
    }
}

async fn connect(dc: &ad::Dc) -> AdDirectory {
    AdDirectory::open(
        settings(dc, &dc.url),
        ad::ADMIN.into(),
        Secret::new(ad::ADMIN_PASSWORD),
        printer(),
    )
    .await
    .unwrap()
}

/// Once per process: the OUs the tests use, and the CLI tests' users.
fn dc() -> Option<&'static ad::Dc> {
    if ad::skipped() {
        return None;
    }
    static SETUP: std::sync::Once = std::sync::Once::new();
    let dc = ad::dc();
    SETUP.call_once(|| {
        dc.ldapadd(&format!(
            "dn: {SUITE_OU}\nobjectClass: organizationalUnit\n\ndn: {CLI_OU}\nobjectClass: organizationalUnit\n\n"
        ));
        dc.add_users("cli", 300, CLI_OU);
    });
    Some(dc)
}

/// The suite's users in their own OU, recreated for every check.
struct Ad {
    dc: &'static ad::Dc,
    ids: RefCell<HashMap<String, String>>,
    on_prem: RefCell<HashMap<String, ssprctl::model::OnPremises>>,
}

fn guid_of(dc: &ad::Dc, sam: &str) -> String {
    let b64 = &dc.attr(sam, "objectGUID:")[0];
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    ssprctl::directory::ad::conn::guid_string(&bytes).unwrap()
}

/// What AD says of the object `sam` (ldapsearch): its immutable id (base64 of objectGUID: the
/// suite's objects have no mS-DS-ConsistencyGuid), SID, sAMAccountName and DN.
fn on_premises_of(dc: &ad::Dc, sam: &str, dn: &str) -> ssprctl::model::OnPremises {
    let sid = base64::engine::general_purpose::STANDARD
        .decode(&dc.attr(sam, "objectSid:")[0])
        .unwrap();
    ssprctl::model::OnPremises {
        immutable_id: Some(dc.attr(sam, "objectGUID:")[0].clone()),
        security_identifier: ssprctl::directory::ad::conn::sid_string(&sid),
        anchored_by_consistency_guid: false,
        sam_account_name: Some(sam.to_string()),
        distinguished_name: Some(dn.to_string()),
    }
}

impl suite::Fixture for Ad {
    type D = AdDirectory;

    async fn with_users(&self, users: &[(User, AuthDetails)]) -> AdDirectory {
        let mut ldif = String::new();
        for (u, _) in users {
            let sam = u
                .user_principal_name
                .split('@')
                .next()
                .unwrap()
                .to_lowercase();
            // Gone first (a previous check's copy), then made anew.
            let _ = std::process::Command::new("ldapdelete")
                .env("LDAPTLS_CACERT", &self.dc.ca)
                .args([
                    "-H",
                    "ldaps://127.0.0.1",
                    "-x",
                    "-D",
                    ad::ADMIN,
                    "-w",
                    ad::ADMIN_PASSWORD,
                ])
                .arg(format!("CN={sam},{SUITE_OU}"))
                .stderr(std::process::Stdio::null())
                .status();
            ldif.push_str(&format!(
                // Enabled without a password (NORMAL_ACCOUNT | PASSWD_NOTREQD).
                "dn: CN={sam},{SUITE_OU}\nobjectClass: user\nsAMAccountName: {sam}\nuserPrincipalName: {}\nuserAccountControl: 544\n",
                u.user_principal_name
            ));
            for (attr, v) in [
                ("displayName", &u.display_name),
                ("mobile", &u.mobile_phone),
                ("telephoneNumber", &u.office_phone),
            ] {
                if let Some(v) = v {
                    ldif.push_str(&format!("{attr}: {v}\n"));
                }
            }
            ldif.push('\n');
        }
        self.dc.ldapadd(&ldif);
        for (u, _) in users {
            let sam = u
                .user_principal_name
                .split('@')
                .next()
                .unwrap()
                .to_lowercase();
            self.ids
                .borrow_mut()
                .insert(u.user_principal_name.clone(), guid_of(self.dc, &sam));
            self.on_prem.borrow_mut().insert(
                u.user_principal_name.clone(),
                on_premises_of(self.dc, &sam, &format!("CN={sam},{SUITE_OU}")),
            );
        }
        let mut s = settings(self.dc, &self.dc.url);
        s.base_dn = Some(SUITE_OU.into());
        AdDirectory::open(
            s,
            ad::ADMIN.into(),
            Secret::new(ad::ADMIN_PASSWORD),
            printer(),
        )
        .await
        .unwrap()
    }

    fn expect(&self, u: &User) -> User {
        User {
            id: self.ids.borrow()[&u.user_principal_name].clone(),
            alternate_email_addresses: Vec::new(),
            on_premises_sync_enabled: false,
            // userAccountControl says it: the suite's accounts are enabled.
            account_enabled: Some(true),
            user_type: None,
            on_premises: self.on_prem.borrow()[&u.user_principal_name].clone(),
            ..u.clone()
        }
    }

    fn cloud_only(&self) -> bool {
        false
    }
}

#[tokio::test(flavor = "current_thread")]
async fn behaviour_suite() {
    let Some(dc) = dc() else { return };
    suite::run_all(&Ad {
        dc,
        ids: RefCell::default(),
        on_prem: RefCell::default(),
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_value_ad_refuses_names_the_ldap_result() {
    let Some(dc) = dc() else { return };
    let d = connect(dc).await;
    // Longer than mobile's rangeUpper of 64: the CLI never sends one; AD's own check answers.
    let long = format!("+1 {}", "2".repeat(70));
    let r = d
        .update_user("cli00001@sspr.test", false, |_| {
            Ok(UserPlan {
                patch: UserPatch {
                    mobile_phone: Some(Some(long.clone())),
                    ..Default::default()
                },
                changes: vec![FieldChange {
                    destination: None,
                    field: "mobilePhone",
                    old: ssprctl::model::Value::Null,
                    new: ssprctl::model::Value::Text(long.clone()),
                }],
                warnings: vec![],
            })
        })
        .await;
    match r {
        Err(DirectoryError::Service(s)) => {
            assert!(
                s.message
                    .starts_with("modifying cli00001@sspr.test (mobile) failed: LDAP"),
                "{}",
                s.message
            );
            let e: ssprctl::error::CliError = DirectoryError::Service(s).into();
            assert_eq!(e.exit, ssprctl::exit::Exit::Failed);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(dc.attr("cli00001", "mobile"), ["+1 2065550001"]);
}

/// The binary bound as the administrator, `-vv` so the password check sees everything.
fn ssprctl(env: &Env, dc: &ad::Dc, args: &[&str]) -> (i32, String, String) {
    ssprctl_as(env, dc, ad::ADMIN, ad::ADMIN_PASSWORD, &dc.url, args)
}

fn ssprctl_as(
    env: &Env,
    dc: &ad::Dc,
    user: &str,
    password: &str,
    url: &str,
    args: &[&str],
) -> (i32, String, String) {
    let out = env
        .cmd()
        .args([
            "--directory",
            url,
            "--ldap-ca",
            dc.ca.to_str().unwrap(),
            "-vv",
        ])
        .args(args)
        .env("SSPRCTL_LDAP_BIND_DN", user)
        .env("SSPRCTL_LDAP_PASSWORD", password)
        .output()
        .unwrap();
    let (o, e) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert!(
        !o.contains(password) && !e.contains(password),
        "password leaked:\n{o}\n{e}"
    );
    (out.status.code().unwrap_or(-1), o, e)
}

#[test]
fn get_user_by_every_name_in_every_format() {
    let Some(dc) = dc() else { return };
    let env = Env::new();
    let guid = guid_of(dc, "cli00002");
    for key in [
        "cli00002@sspr.test",
        "CLI00002@SSPR.TEST",
        "cli00002",
        "SSPR\\cli00002",
        guid.as_str(),
        &guid.to_uppercase(),
    ] {
        let (code, out, err) = ssprctl(&env, dc, &["get-user", key, "-o", "json"]);
        assert_eq!(code, 0, "{key}: {err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v,
            serde_json::json!([{"id": guid, "userPrincipalName": "cli00002@sspr.test", "displayName": "cli 2",
                "alternateEmailAddresses": null, "mobilePhone": "+1 2065550002", "officePhone": null,
                "onPremisesSyncEnabled": null, "samAccountName": "cli00002"}]),
            "{key}"
        );
    }
    let (code, out, _) = ssprctl(
        &env,
        dc,
        &[
            "get-user",
            "cli00002",
            "-o",
            "csv",
            "--select",
            "upn,MobilePhone"
                .replace("upn", "userPrincipalName")
                .as_str(),
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "userPrincipalName,mobilePhone\ncli00002@sspr.test,+1 2065550002\n"
    );
    let (code, out, _) = ssprctl(&env, dc, &["get-user", "cli00002", "-o", "table"]);
    assert_eq!(code, 0);
    assert!(out.contains("cli00002@sspr.test"), "{out}");
    let (code, out, err) = ssprctl(&env, dc, &["get-user", "nobody@sspr.test", "-o", "json"]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(out, "[]\n");
    let (code, out, err) = ssprctl(
        &env,
        dc,
        &[
            "get-user",
            "--all",
            "-o",
            "jsonl",
            "--ldap-filter",
            "(&(objectClass=user)(sAMAccountName=cli*))",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 300);
}

#[test]
fn set_user_replaces_exactly_the_changed_attributes() {
    let Some(dc) = dc() else { return };
    let env = Env::new();
    let before = dc.modify_requests("CN=cli00010,");
    let (code, out, err) = ssprctl(
        &env,
        dc,
        &[
            "set-user",
            "cli00010",
            "--mobile-phone",
            "+44 7400 123456",
            "--office-phone",
            "(425) 555-0100",
            "--default-region",
            "US",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["changes"].as_array().unwrap().len(), 2);
    assert_eq!(dc.attr("cli00010", "mobile"), ["+44 7400123456"]);
    assert_eq!(dc.attr("cli00010", "telephoneNumber"), ["+1 4255550100"]);
    assert_eq!(dc.modify_requests("CN=cli00010,"), before + 1, "one modify");
    // Unchanged: no write at all.
    let (code, _, err) = ssprctl(
        &env,
        dc,
        &["set-user", "cli00010", "--mobile-phone", "+44 7400123456"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(dc.modify_requests("CN=cli00010,"), before + 1);
    // Dry run: the plan, no write.
    let (code, out, err) = ssprctl(
        &env,
        dc,
        &[
            "set-user",
            "cli00010",
            "--clear",
            "office-phone",
            "--dry-run",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["dryRun"], true);
    assert_eq!(dc.attr("cli00010", "telephoneNumber"), ["+1 4255550100"]);
    assert_eq!(dc.modify_requests("CN=cli00010,"), before + 1);
    // Clear removes the attribute.
    let (code, _, err) = ssprctl(
        &env,
        dc,
        &["set-user", "cli00010", "--clear", "office-phone"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(dc.attr("cli00010", "telephoneNumber").is_empty());
    // StartTLS on ldap:// works the same.
    let (code, _, err) = ssprctl_as(
        &env,
        dc,
        ad::ADMIN,
        ad::ADMIN_PASSWORD,
        "ldap://localhost",
        &["set-user", "cli00010", "--office-phone", "+1 4255550101"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(dc.attr("cli00010", "telephoneNumber"), ["+1 4255550101"]);
}

#[test]
fn invalid_input_and_what_ad_does_not_hold_write_nothing() {
    let Some(dc) = dc() else { return };
    let env = Env::new();
    let before = dc.modify_requests("CN=cli00020,");
    let cases: [(&[&str], i32, &str); 6] = [
        (
            &["set-user", "cli00020", "--mobile-phone", "555-0100"],
            2,
            "no country code",
        ),
        (
            &[
                "set-user",
                "cli00020",
                "--alternate-email",
                "a@fabrikam.com",
            ],
            2,
            "the alternate email is not in Active Directory",
        ),
        (
            &["get-auth-details", "cli00020"],
            2,
            "authentication methods are not in Active Directory",
        ),
        (
            &["set-auth-details", "cli00020", "--phone", "+1 2065550100"],
            2,
            "authentication methods are not in Active Directory",
        ),
        (
            &["new-user", "x@sspr.test"],
            2,
            "does not create or delete AD accounts",
        ),
        (
            &["remove-user", "cli00020"],
            2,
            "does not create or delete AD accounts",
        ),
    ];
    for (args, exit, msg) in cases {
        let (code, _, err) = ssprctl(&env, dc, args);
        assert_eq!(code, exit, "{args:?}: {err}");
        assert!(err.contains(msg), "{args:?}: {err}");
    }
    assert_eq!(dc.modify_requests("CN=cli00020,"), before);
    assert_eq!(dc.attr("cli00020", "mobile"), ["+1 2065550020"]);
}

#[test]
fn bind_and_permission_errors() {
    let Some(dc) = dc() else { return };
    let env = Env::new();
    let (code, _, err) = ssprctl_as(
        &env,
        dc,
        ad::ADMIN,
        "wrong-password",
        &dc.url,
        &["get-user", "cli00001", "-o", "json"],
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("LDAP 49 invalidCredentials"), "{err}");
    assert_eq!(json_error(&err)["error"]["code"], "auth");
    // An account without write access on other users.
    let (code, _, err) = ssprctl_as(
        &env,
        dc,
        ad::READER,
        ad::READER_PASSWORD,
        &dc.url,
        &["set-user", "cli00030", "--mobile-phone", "+1 2065550999"],
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("LDAP 50 insufficientAccessRights"), "{err}");
    assert!(err.contains("write permission on mobile"), "{err}");
    assert!(err.contains("Delegation of Control"), "{err}");
    assert_eq!(dc.attr("cli00030", "mobile"), ["+1 2065550030"]);
    // No bind name, no password.
    let out = env
        .cmd()
        .args(["--directory", &dc.url, "get-user", "cli00001"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SSPRCTL_LDAP_BIND_DN is not set"));
    // A certificate from an unknown CA is refused (no --ldap-ca).
    let out = env
        .cmd()
        .args(["--directory", &dc.url, "get-user", "cli00001"])
        .env("SSPRCTL_LDAP_BIND_DN", ad::ADMIN)
        .env("SSPRCTL_LDAP_PASSWORD", ad::ADMIN_PASSWORD)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("--ldap-ca"), "{err}");
    // …unless verification is switched off, which warns.
    let out = env
        .cmd()
        .args([
            "--directory",
            &dc.url,
            "--ldap-insecure-skip-verify",
            "get-user",
            "cli00001",
        ])
        .env("SSPRCTL_LDAP_BIND_DN", ad::ADMIN)
        .env("SSPRCTL_LDAP_PASSWORD_FILE", {
            let p = env.home.path().join("pw");
            std::fs::write(&p, format!("{}\n", ad::ADMIN_PASSWORD)).unwrap();
            p
        })
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("warning: --ldap-insecure-skip-verify"),
        "{err}"
    );
}

fn csv(rows: impl Iterator<Item = String>) -> String {
    let mut s = String::from("userPrincipalName,mobilePhone,officePhone\n");
    for r in rows {
        s.push_str(&r);
        s.push('\n');
    }
    s
}

#[test]
fn import_validates_plans_applies_and_round_trips() {
    let Some(dc) = dc() else { return };
    let env = Env::new();
    let file = env.home.path().join("hr.csv");
    // 100 users: national numbers read with --default-region GB.
    std::fs::write(
        &file,
        csv((100..200).map(|i| format!("cli{i:05}@sspr.test,07400 {:06},", 100000 + i))),
    )
    .unwrap();
    let f = file.to_str().unwrap();
    // Users cli00100–cli00199.
    let ours = "CN=cli001";
    let before = dc.modify_requests(ours);
    let (code, out, err) = ssprctl(
        &env,
        dc,
        &[
            "import",
            f,
            "--default-region",
            "GB",
            "--dry-run",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        100
    );
    assert_eq!(dc.modify_requests(ours), before, "a dry run writes nothing");
    let report = env.home.path().join("report.csv");
    let (code, out, err) = ssprctl(
        &env,
        dc,
        &[
            "import",
            f,
            "--default-region",
            "GB",
            "-o",
            "json",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let s: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (s["updated"].as_u64(), s["failed"].as_u64()),
        (Some(100), Some(0))
    );
    assert_eq!(dc.attr("cli00150", "mobile"), ["+44 7400100150"]);
    assert_eq!(dc.modify_requests(ours), before + 100);
    // Again: nothing to write.
    let (code, out, _) = ssprctl(
        &env,
        dc,
        &["import", f, "--default-region", "GB", "-o", "json"],
    );
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["unchanged"],
        100
    );
    assert_eq!(dc.modify_requests(ours), before + 100);
    // A file with one bad row writes nothing.
    std::fs::write(
        &file,
        csv([
            "cli00195@sspr.test,+1 2065550999,".to_string(),
            "cli00196@sspr.test,oops,".to_string(),
        ]
        .into_iter()),
    )
    .unwrap();
    let (code, _, err) = ssprctl(&env, dc, &["import", f]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(dc.attr("cli00195", "mobile"), ["+44 7400100195"]);
    // Its users exported as CSV re-import as all unchanged (other tests change other users
    // meanwhile: the export is scoped with --ldap-filter).
    let (code, export, err) = ssprctl(
        &env,
        dc,
        &[
            "get-user",
            "--all",
            "-o",
            "csv",
            "--ldap-filter",
            "(&(objectClass=user)(sAMAccountName=cli001*))",
        ],
    );
    assert_eq!(code, 0, "{err}");
    std::fs::write(&file, export).unwrap();
    let (code, out, err) = ssprctl(&env, dc, &["import", f, "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let s: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(s["updated"], 0, "{out}");
    assert_eq!(s["unchanged"], s["rows"]);
    assert_eq!(dc.modify_requests(ours), before + 100);
}

/// A TCP relay to the DC that can be cut, to stop "the server" mid-run.
fn relay(cut: Arc<AtomicBool>) -> u16 {
    relay_watching(cut, |_| {})
}

/// A TCP relay to the DC; `on_client_data(cut)` sees each chunk the client sends before it is
/// forwarded, and may cut the link (for good: new connections are refused too).
fn relay_watching(
    cut: Arc<AtomicBool>,
    on_client_data: impl Fn(&AtomicBool) + Send + Sync + 'static,
) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let watch = Arc::new(on_client_data);
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            if cut.load(Ordering::SeqCst) {
                continue;
            }
            let Ok(server) = TcpStream::connect("127.0.0.1:636") else {
                continue;
            };
            for (to_server, (mut from, mut to)) in [
                (
                    true,
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                ),
                (false, (server, client)),
            ] {
                let (cut, watch) = (cut.clone(), watch.clone());
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    loop {
                        let n = match from.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if to_server {
                            watch(&cut);
                        }
                        if cut.load(Ordering::SeqCst) || to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(std::net::Shutdown::Both);
                });
            }
        }
    });
    port
}

#[test]
fn a_server_that_stops_mid_import_fails_the_rest_with_exit_5_and_a_report() {
    let Some(dc) = dc() else { return };
    let env = Env::new();
    let file = env.home.path().join("hr.csv");
    std::fs::write(
        &file,
        csv((200..300).map(|i| format!("cli{i:05}@sspr.test,+1 425 555 {:04},", i))),
    )
    .unwrap();
    let cut = Arc::new(AtomicBool::new(false));
    let port = relay(cut.clone());
    let url = format!("ldaps://localhost:{port}");
    let report = env.home.path().join("report.jsonl");
    let child = env
        .std_cmd()
        .args([
            "--directory",
            &url,
            "--ldap-ca",
            dc.ca.to_str().unwrap(),
            "import",
            file.to_str().unwrap(),
            "--concurrency",
            "1",
            "-o",
            "json",
            "--report",
            report.to_str().unwrap(),
        ])
        .env("SSPRCTL_LDAP_BIND_DN", ad::ADMIN)
        .env("SSPRCTL_LDAP_PASSWORD", ad::ADMIN_PASSWORD)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Cut the link once the first writes landed.
    let t = std::time::Instant::now();
    while dc.attr("cli00201", "mobile") != ["+1 4255550201"] && t.elapsed().as_secs() < 30 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    cut.store(true, Ordering::SeqCst);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(
        t.elapsed().as_secs() < 60,
        "stopped promptly: {:?}",
        t.elapsed()
    );
    let lines: Vec<Value> = std::fs::read_to_string(&report)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 100);
    let count = |status: &str| lines.iter().filter(|l| l["status"] == status).count();
    let failed: Vec<&Value> = lines.iter().filter(|l| l["status"] == "failed").collect();
    // The row that met the outage failed after its retries; the rest were not attempted.
    assert_eq!(failed.len(), 1, "{lines:?}");
    assert_eq!(
        failed[0]["errorCode"], "service_unavailable",
        "{:?}",
        failed[0]
    );
    assert!(count("updated") >= 1);
    assert_eq!(count("updated") + 1 + count("skipped"), 100);
    assert!(err.contains("error: modifying"), "{err}");
}

#[test]
fn audit_on_ad_fixes_phones_at_the_source() {
    let Some(dc) = dc() else { return };
    let env = Env::new();
    let ou = "OU=Audit,DC=sspr,DC=test";
    dc.ldapadd(&format!(
        "dn: {ou}\nobjectClass: organizationalUnit\n\n\
         dn: CN=aud1,{ou}\nobjectClass: user\nsAMAccountName: aud1\nuserPrincipalName: aud1@sspr.test\nmobile: (206) 555-0111\nuserAccountControl: 544\n\n\
         dn: CN=aud2,{ou}\nobjectClass: user\nsAMAccountName: aud2\nuserPrincipalName: aud2@sspr.test\ntelephoneNumber: +1 4255550112\nuserAccountControl: 544\n\n\
         dn: CN=aud3,{ou}\nobjectClass: user\nsAMAccountName: aud3\nuserPrincipalName: aud3@sspr.test\nuserAccountControl: 544\n\n\
         dn: CN=aud4,{ou}\nobjectClass: user\nsAMAccountName: aud4\nuserPrincipalName: aud4@sspr.test\nmobile: +1 2065550114\n\n"
    ));
    let fixes = env.home.path().join("fixes.csv");
    let f = fixes.to_str().unwrap();
    let (code, out, err) = ssprctl(
        &env,
        dc,
        &[
            "--base-dn",
            ou,
            "audit",
            "--all",
            "--default-region",
            "US",
            "--fix-file",
            f,
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let by = |upn: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|r| r["userPrincipalName"] == upn)
            .unwrap()
            .clone()
    };
    assert_eq!(by("aud1@sspr.test")["source"], "onPremises");
    assert_eq!(by("aud1@sspr.test")["problems"][0]["code"], "phone_format");
    assert_eq!(by("aud2@sspr.test")["ready"], true);
    assert_eq!(by("aud3@sspr.test")["problems"][0]["code"], "no_method");
    assert!(
        err.contains("next 2: ssprctl --directory ldaps://<your DC> import"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&fixes).unwrap(),
        "userPrincipalName,mobilePhone,officePhone\naud1@sspr.test,+1 2065550111,\n"
    );
    let (code, _, err) = ssprctl(&env, dc, &["import", f]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(dc.attr("aud1", "mobile"), ["+1 2065550111"]);
    let (_, out, err) = ssprctl(
        &env,
        dc,
        &[
            "--base-dn",
            ou,
            "audit",
            "--all",
            "--not-ready",
            "-o",
            "json",
        ],
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1, "only aud3 is left: {v}");
    // The disabled aud4 (an account added without a password) was left out and counted; the
    // built-in Administrator and krbtgt likewise; --include-disabled brings them in.
    assert!(
        err.contains(
            "left out: 1 disabled account(s), 0 guest(s) (--include-disabled, --include-guests)"
        ),
        "{err}"
    );
    let (code, out, err) = ssprctl(
        &env,
        dc,
        &[
            "audit",
            "--all",
            "--summary",
            "-o",
            "json",
            "--ldap-filter",
            "(|(sAMAccountName=Administrator)(sAMAccountName=krbtgt)(sAMAccountName=aud4))",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["summary"]["audited"], 0, "{v}");
    assert_eq!(
        v["summary"]["leftOut"],
        serde_json::json!({"disabled": 1, "guests": 0, "builtIn": 2})
    );
    let (_, out, _) = ssprctl(
        &env,
        dc,
        &[
            "audit",
            "--all",
            "--summary",
            "--include-disabled",
            "-o",
            "json",
            "--ldap-filter",
            "(|(sAMAccountName=Administrator)(sAMAccountName=krbtgt)(sAMAccountName=aud4))",
        ],
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["summary"]["audited"], 3, "{v}");
}

/// The binary with a Kerberos ticket cache and no bind DN or password in the environment.
fn ssprctl_kerberos(
    env: &Env,
    dc: &ad::Dc,
    cache: &str,
    url: &str,
    args: &[&str],
) -> (i32, String, String) {
    let out = env
        .cmd()
        .args([
            "--directory",
            url,
            "--ldap-ca",
            dc.ca.to_str().unwrap(),
            "-v",
        ])
        .args(args)
        .env("KRB5_CONFIG", dc.krb5_conf())
        .env("KRB5CCNAME", cache)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[cfg(feature = "kerberos")]
#[test]
fn kerberos_ticket_binds_without_a_bind_dn_over_ldaps_and_sealed_ldap() {
    let Some(dc) = dc() else { return };
    let env = Env::new();
    let cache = dc.kinit(env.home.path(), "reader", ad::READER_PASSWORD);
    let cache = format!("FILE:{}", cache.display());
    let expected = serde_json::json!([{"id": guid_of(dc, "cli00003"), "userPrincipalName": "cli00003@sspr.test",
        "displayName": "cli 3", "alternateEmailAddresses": null, "mobilePhone": "+1 2065550003",
        "officePhone": null, "onPremisesSyncEnabled": null, "samAccountName": "cli00003"}]);
    // auto: no bind DN and a ticket cache → Kerberos. Over LDAPS: TLS protects.
    let (code, out, err) = ssprctl_kerberos(
        &env,
        dc,
        &cache,
        &dc.url,
        &["get-user", "cli00003", "-o", "json"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), expected);
    assert!(
        err.contains(
            "debug: bound to ldaps://localhost:636 with Kerberos (GSSAPI) as the ticket's principal \
             (the DC does not answer Who-am-I); protection: TLS (LDAPS); Kerberos authenticates (with channel binding)"
        ),
        "{err}"
    );
    // Plain ldap:// with --ldap-auth kerberos: no StartTLS, the connection is sealed.
    let (code, out, err) = ssprctl_kerberos(
        &env,
        dc,
        &cache,
        "ldap://localhost:389",
        &[
            "get-user",
            "cli00003",
            "-o",
            "json",
            "--ldap-auth",
            "kerberos",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), expected);
    assert!(
        err.contains("protection: Kerberos sealing (GSSAPI confidentiality and integrity), no TLS"),
        "{err}"
    );
    // The reader may read, not write: the DC knows who the ticket is.
    let (code, _, err) = ssprctl_kerberos(
        &env,
        dc,
        &cache,
        &dc.url,
        &["set-user", "cli00031", "--mobile-phone", "+1 2065550999"],
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("LDAP 50 insufficientAccessRights"), "{err}");
    assert_eq!(dc.attr("cli00031", "mobile"), ["+1 2065550031"]);
    // No ticket in the cache: exit 4 and how to get one.
    let empty = format!("FILE:{}", env.home.path().join("no-such-cache").display());
    let (code, _, err) = ssprctl_kerberos(
        &env,
        dc,
        &empty,
        &dc.url,
        &["get-user", "cli00003", "--ldap-auth", "kerberos"],
    );
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("error: Kerberos bind to ldaps://localhost:636 failed:"),
        "{err}"
    );
    assert!(
        err.contains("hint: get a ticket with `kinit user@REALM`"),
        "{err}"
    );
    // --ldap-auth simple with a ticket but no bind DN: the simple bind's own error.
    let (code, _, err) = ssprctl_kerberos(
        &env,
        dc,
        &cache,
        &dc.url,
        &["get-user", "cli00003", "--ldap-auth", "simple"],
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("SSPRCTL_LDAP_BIND_DN is not set"), "{err}");
}

#[cfg(not(feature = "kerberos"))]
#[test]
fn kerberos_in_a_build_without_it_says_how_to_get_it() {
    let Some(dc) = dc() else { return };
    let env = Env::new();
    let cache = dc.kinit(env.home.path(), "reader", ad::READER_PASSWORD);
    let cache = format!("FILE:{}", cache.display());
    let (code, out, err) = ssprctl_kerberos(&env, dc, &cache, &dc.url, &["get-user", "cli00003"]);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(
        err.contains("this ssprctl was built without Kerberos support"),
        "{err}"
    );
    assert!(err.contains("--features kerberos"), "{err}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_search_returning_more_than_its_bound_stops_with_a_clear_error() {
    use ssprctl::directory::ad::Limits;
    let Some(dc) = dc() else { return };
    // The domain holds the CLI OU's 300 users and more.
    let d = connect(dc).await.with_limits(Limits {
        entries: 100,
        bytes: 64 << 20,
    });
    match d.list_users().await {
        Err(DirectoryError::Storage { message, hint }) => {
            assert!(message.contains("sent more than 100 entries"), "{message}");
            assert!(hint.contains("--base-dn or --ldap-filter"), "{hint}");
        }
        other => panic!("{other:?}"),
    }
    // The connection is still good for the next operation.
    assert_eq!(
        d.get_user("cli00002").await.unwrap().user_principal_name,
        "cli00002@sspr.test"
    );
    let d = connect(dc).await.with_limits(Limits {
        entries: 1_000_000,
        bytes: 8 << 10,
    });
    match d.list_users().await {
        Err(DirectoryError::Storage { message, .. }) => {
            assert!(message.contains("or 8 KiB"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_account_without_a_upn_shows_null_and_its_sam_account_name() {
    let Some(dc) = dc() else { return };
    let env = Env::new();
    let (code, out, err) = ssprctl(&env, dc, &["get-user", "Administrator", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["userPrincipalName"], Value::Null, "{v}");
    assert_eq!(v[0]["samAccountName"], "Administrator");
    // And it stays a valid key: SSPR\Administrator names it too.
    let (code, out, _) = ssprctl(&env, dc, &["get-user", "SSPR\\Administrator", "-o", "json"]);
    assert_eq!(code, 0);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), v);
}
