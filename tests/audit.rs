//! `audit` through the binary: a crafted directory where each problem code appears exactly
//! where expected, `--not-ready`, every format, the fix file round trip (audit → import →
//! audit), that audit writes nothing; on Graph, the registration report (and its 403), the
//! methods policy and `--with-methods`.

mod common;
mod emulator;
mod tenant;

use std::collections::BTreeMap;

use common::Env;
use emulator::Emulator;
use serde_json::{Value, json};
use ssprctl::model::{AuthDetails, User};
use tenant::Tenant;

/// (upn, mobile, office, alternate emails, synced, auth email)
type Row = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    &'static [&'static str],
    bool,
    Option<&'static str>,
);

/// The crafted directory: each user shows one problem (or none).
const ROWS: &[Row] = &[
    (
        "ready@contoso.com",
        Some("+1 2065550100"),
        None,
        &[],
        false,
        None,
    ),
    ("nothing@contoso.com", None, None, &[], false, None),
    (
        "national@contoso.com",
        Some("(206) 555-0101"),
        None,
        &[],
        false,
        None,
    ),
    (
        "extension@contoso.com",
        Some("+1 2065550102x33"),
        None,
        &[],
        false,
        None,
    ),
    (
        "upnmail@contoso.com",
        None,
        None,
        &["UPNmail@contoso.com"],
        false,
        None,
    ),
    (
        "authmail@contoso.com",
        None,
        None,
        &[],
        false,
        Some("authmail@contoso.com"),
    ),
    (
        "shared1@contoso.com",
        Some("+1 5555555555"),
        None,
        &[],
        false,
        None,
    ),
    (
        "shared2@contoso.com",
        Some("+1 5555555555"),
        None,
        &[],
        false,
        None,
    ),
    (
        "shared3@contoso.com",
        Some("+1 5555555555"),
        None,
        &[],
        false,
        None,
    ),
    (
        "shared4@contoso.com",
        Some("+1 5555555555"),
        None,
        &[],
        false,
        None,
    ),
    (
        "synced@contoso.com",
        Some("206.555.0103"),
        None,
        &["synced@fabrikam.com"],
        true,
        None,
    ),
    (
        "office@contoso.com",
        None,
        Some("+44 20 7946 0958"),
        &[],
        false,
        None,
    ),
];

fn expected() -> BTreeMap<&'static str, Vec<&'static str>> {
    BTreeMap::from([
        ("ready@contoso.com", vec![]),
        ("nothing@contoso.com", vec!["no_method"]),
        ("national@contoso.com", vec!["phone_format", "no_method"]),
        ("extension@contoso.com", vec!["phone_extension"]),
        ("upnmail@contoso.com", vec!["email_is_upn", "no_method"]),
        ("authmail@contoso.com", vec!["email_is_upn", "no_method"]),
        ("shared1@contoso.com", vec!["phone_shared", "no_method"]),
        ("shared2@contoso.com", vec!["phone_shared", "no_method"]),
        ("shared3@contoso.com", vec!["phone_shared", "no_method"]),
        ("shared4@contoso.com", vec!["phone_shared", "no_method"]),
        (
            "synced@contoso.com",
            vec!["phone_format", "synced_fix_in_ad"],
        ),
        ("office@contoso.com", vec!["phone_format", "no_method"]),
    ])
}

fn user(i: usize, r: &Row) -> (User, AuthDetails) {
    (
        User {
            id: format!("00000000-0000-4000-a000-{i:012}"),
            user_principal_name: r.0.into(),
            display_name: Some(r.0.split('@').next().unwrap().into()),
            mobile_phone: r.1.map(str::to_string),
            office_phone: r.2.map(str::to_string),
            alternate_email_addresses: r.3.iter().map(|m| m.to_string()).collect(),
            on_premises_sync_enabled: r.4,
            account_enabled: None,
            user_type: None,
            on_premises: Default::default(),
        },
        AuthDetails {
            authentication_email: r.5.map(str::to_string),
            ..Default::default()
        },
    )
}

/// A local directory holding the crafted users, written straight into SQLite (stored values
/// as HR systems leave them, which set-user would refuse).
fn local() -> Env {
    let env = Env::new();
    let spec = format!("local:{}", env.home.path().join("d.db").display());
    let (code, _, err) = env.run(&["--directory", &spec, "get-user", "--all"]);
    assert_eq!(code, 0, "{err}");
    let conn = rusqlite::Connection::open(env.home.path().join("d.db")).unwrap();
    for (i, r) in ROWS.iter().enumerate() {
        let (u, a) = user(i, r);
        conn.execute(
            "INSERT INTO users (id, user_principal_name, display_name, alternate_email_addresses, mobile_phone, office_phone, on_premises_sync_enabled, authentication_email) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            rusqlite::params![u.id, u.user_principal_name, u.display_name, serde_json::to_string(&u.alternate_email_addresses).unwrap(), u.mobile_phone, u.office_phone, u.on_premises_sync_enabled, a.authentication_email],
        )
        .unwrap();
    }
    env
}

fn run_local(env: &Env, args: &[&str]) -> (i32, String, String) {
    let spec = format!("local:{}", env.home.path().join("d.db").display());
    let mut all = vec!["--directory", spec.as_str()];
    all.extend_from_slice(args);
    let (code, out, err) = env.run(&all);
    (code, out, err)
}

fn codes(records: &Value) -> BTreeMap<String, Vec<String>> {
    records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["userPrincipalName"].as_str().unwrap().to_string(),
                r["problems"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["code"].as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

fn as_strings(m: BTreeMap<&str, Vec<&str>>) -> BTreeMap<String, Vec<String>> {
    m.into_iter()
        .map(|(k, v)| (k.to_string(), v.into_iter().map(str::to_string).collect()))
        .collect()
}

#[test]
fn each_problem_appears_exactly_where_expected_and_audit_writes_nothing() {
    let env = local();
    let db = env.home.path().join("d.db");
    let before = std::fs::read(&db).unwrap();
    let (code, out, err) = run_local(
        &env,
        &["audit", "--all", "-o", "json", "--default-region", "US"],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(codes(&v), as_strings(expected()));
    let national = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["userPrincipalName"] == "national@contoso.com")
        .unwrap();
    assert_eq!(national["problems"][0]["fix"], "+1 2065550101");
    assert_eq!(national["source"], "cloud");
    assert_eq!(national["ready"], false);
    let synced = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["userPrincipalName"] == "synced@contoso.com")
        .unwrap();
    assert_eq!(synced["source"], "synced");
    assert_eq!(synced["ready"], true);
    assert_eq!(synced["usableMethods"], json!(["alternateEmail"]));
    // The summary, after the data, and the next steps.
    assert!(err.contains("audit: 12 users, 3 ready (25.0%); problems: email_is_upn 2, no_method 9, phone_extension 1, phone_format 3, phone_shared 4, synced_fix_in_ad 1"), "{err}");
    assert!(
        err.contains("next 1: ssprctl audit --all --default-region US --fix-file fixes.csv"),
        "{err}"
    );
    // Without --default-region the national number's fix can't be derived.
    let (_, out, _) = run_local(&env, &["audit", "national@contoso.com", "-o", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["problems"][0]["fix"], Value::Null);
    assert!(
        v[0]["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no country code")
    );
    // --methods-required 2 and --enabled-methods narrow readiness.
    let (_, out, _) = run_local(
        &env,
        &[
            "audit",
            "ready@contoso.com",
            "-o",
            "json",
            "--methods-required",
            "2",
        ],
    );
    assert_eq!(
        codes(&serde_json::from_str(&out).unwrap())["ready@contoso.com"],
        ["too_few_methods"]
    );
    let (_, out, _) = run_local(
        &env,
        &[
            "audit",
            "ready@contoso.com",
            "-o",
            "json",
            "--enabled-methods",
            "office,email",
        ],
    );
    assert_eq!(
        codes(&serde_json::from_str(&out).unwrap())["ready@contoso.com"],
        ["no_method"]
    );
    assert_eq!(std::fs::read(&db).unwrap(), before, "audit wrote nothing");
}

#[test]
fn not_ready_formats_and_summary() {
    let env = local();
    let (code, out, _) = run_local(
        &env,
        &["audit", "--all", "--not-ready", "-o", "jsonl", "--summary"],
    );
    assert_eq!(code, 0);
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 9 + 1);
    assert!(lines[..9].iter().all(|r| r["ready"] == false));
    assert_eq!(lines[9]["summary"]["audited"], 12);
    assert_eq!(lines[9]["summary"]["ready"], 3);
    let (_, out, _) = run_local(&env, &["audit", "--all", "-o", "json", "--summary"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["users"].as_array().unwrap().len(), 12);
    assert_eq!(v["summary"]["problems"]["phone_shared"], 4);
    let (_, out, _) = run_local(&env, &["audit", "national@contoso.com", "-o", "csv"]);
    assert_eq!(
        out,
        "userPrincipalName,id,source,ready,state,usableMethods,problems,details\n\
         national@contoso.com,00000000-0000-4000-a000-000000000002,cloud,false,notReady,,\"phone_format;no_method\",'phone_format: not a phone SSPR can use: no country code (it does not start with +) (write it as +CountryCode Number (e.g. +1 4255550100), or give --default-region CC (e.g. --default-region US) for national numbers);no_method: no contact method SSPR can use: set a mobile phone, office phone or alternate email\n"
            .replace(",'phone_format", ",\"phone_format")
            .replace("alternate email\n", "alternate email\"\n")
            .as_str()
    );
    let (_, out, _) = run_local(&env, &["audit", "national@contoso.com", "-o", "tsv"]);
    assert!(
        out.starts_with("userPrincipalName\tid\tsource\tready"),
        "{out}"
    );
    let (_, out, _) = run_local(&env, &["audit", "--all", "-o", "table"]);
    assert!(out.contains("phone_shared"), "{out}");
    // A missing user: the others are printed, exit 3.
    let (code, out, _) = run_local(
        &env,
        &[
            "audit",
            "ready@contoso.com",
            "ghost@contoso.com",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 3);
    assert_eq!(
        serde_json::from_str::<Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn the_fix_file_round_trip_makes_the_fixable_users_ready() {
    let env = local();
    for ext in ["csv", "jsonl"] {
        let fixes = env.home.path().join(format!("fixes.{ext}"));
        let f = fixes.to_str().unwrap();
        let (code, _, err) = run_local(
            &env,
            &[
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
        if ext == "csv" {
            assert_eq!(
                std::fs::read_to_string(&fixes).unwrap(),
                "userPrincipalName,mobilePhone,officePhone\n\
                 extension@contoso.com,+1 2065550102,\n\
                 national@contoso.com,+1 2065550101,\n\
                 office@contoso.com,,+44 2079460958\n"
            );
            // The dry run shows exactly those changes.
            let (code, out, err) = run_local(&env, &["import", f, "--dry-run", "-o", "json"]);
            assert_eq!(code, 0, "{err}");
            let v: Value = serde_json::from_str(&out).unwrap();
            assert_eq!(v.as_array().unwrap().len(), 3);
            let (code, _, err) = run_local(&env, &["import", f]);
            assert_eq!(code, 0, "{err}");
        } else {
            // After the import there is nothing left to fix.
            assert_eq!(std::fs::read_to_string(&fixes).unwrap(), "");
        }
    }
    let (_, out, _) = run_local(&env, &["audit", "--all", "-o", "json"]);
    let after = codes(&serde_json::from_str(&out).unwrap());
    assert_eq!(after["national@contoso.com"], Vec::<String>::new());
    assert_eq!(after["extension@contoso.com"], Vec::<String>::new());
    assert_eq!(after["office@contoso.com"], Vec::<String>::new());
    // The unfixable ones are unchanged.
    assert_eq!(
        after["synced@contoso.com"],
        ["phone_format", "synced_fix_in_ad"]
    );
    assert_eq!(after["shared1@contoso.com"], ["phone_shared", "no_method"]);
    // A bad --fix-file name fails before anything.
    let (code, _, err) = run_local(&env, &["audit", "--all", "--fix-file", "fixes.txt"]);
    assert_eq!(code, 2, "{err}");
}

fn graph() -> Tenant {
    let emu = Emulator::start();
    for (i, r) in ROWS.iter().enumerate() {
        let (u, a) = user(i, r);
        emu.add_user(&u, &a);
    }
    Tenant::new(emu)
}

#[test]
fn graph_reads_pages_and_the_registration_report_not_per_user() {
    let g = graph();
    let admin = user(0, &ROWS[0]).0.id;
    g.emu.state().registrations.insert(
        admin.clone(),
        json!({"isAdmin": true, "methodsRegistered": ["mobilePhone"]}),
    );
    let capable = user(1, &ROWS[1]).0.id;
    g.emu.state().registrations.insert(capable, json!({"isSsprRegistered": true, "isSsprCapable": true, "methodsRegistered": ["microsoftAuthenticatorPush"]}));
    g.emu.clear_seen();
    let (code, out, err) = g.run(&["audit", "--all", "-o", "json", "--default-region", "US"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    // Every code exactly where expected: as on the local directory, plus the admin's; the
    // authentication email is not read without --with-methods (checked below with it).
    let mut want = expected();
    want.insert("ready@contoso.com", vec!["admin_policy"]);
    want.insert("authmail@contoso.com", vec!["no_method"]);
    assert_eq!(codes(&v), as_strings(want));
    let by = |upn: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|r| r["userPrincipalName"] == upn)
            .unwrap()
            .clone()
    };
    // The admin with one method: admin_policy. The Authenticator user: ready by registration.
    assert_eq!(
        by("ready@contoso.com")["problems"][0]["code"],
        "admin_policy"
    );
    assert_eq!(by("ready@contoso.com")["isAdmin"], true);
    assert_eq!(by("nothing@contoso.com")["ready"], true);
    assert_eq!(
        by("nothing@contoso.com")["methodsRegistered"],
        json!(["microsoftAuthenticatorPush"])
    );
    // The Graph fix file carries no fix for the synced user.
    assert_eq!(by("synced@contoso.com")["problems"][0]["fix"], Value::Null);
    let paths = g.emu.graph_requests();
    assert!(
        paths.iter().all(|p| !p.contains("/authentication/")),
        "no per-user reads: {paths:?}"
    );
    assert!(
        paths.contains(
            &"GET /v1.0/reports/authenticationMethods/userRegistrationDetails".to_string()
        ),
        "{paths:?}"
    );
    let report = g
        .emu
        .seen()
        .into_iter()
        .find(|r| r.path.ends_with("userRegistrationDetails"))
        .unwrap();
    assert_eq!(report.query, "%24top=999");
    assert!(
        !err.contains("verdicts rest on the tenant's"),
        "the policy is not readable here"
    );
    // No permission for the report: said once, records say unavailable.
    g.emu.state().report_forbidden = true;
    let (code, out, err) = g.run(&["audit", "--all", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(err.matches("AuditLog.Read.All").count(), 1, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .all(|r| r["registration"] == "unavailable")
    );
    // The policy narrows the kinds: SMS and voice off.
    let all = json!([{"targetType": "group", "id": "all_users"}]);
    g.emu.state().policy = Some(json!({"authenticationMethodConfigurations": [
        {"id": "Email", "state": "enabled", "includeTargets": all},
        {"id": "Sms", "state": "disabled", "includeTargets": all},
        {"id": "Voice", "state": "disabled", "includeTargets": all}]}));
    let (_, out, err) = g.run(&["audit", "ready@contoso.com", "-o", "json"]);
    assert!(err.contains("verdicts rest on the tenant's authentication methods policy (migrationComplete): Sms disabled, Voice disabled, Email enabled for all users"), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["problems"][0]["code"], "no_method");
    // --with-methods reads the methods, in batches.
    g.emu.state().policy = None;
    g.emu.clear_seen();
    let (code, out, _) = g.run(&["audit", "--all", "--with-methods", "-o", "json"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    let authmail = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["userPrincipalName"] == "authmail@contoso.com")
        .unwrap();
    assert_eq!(authmail["problems"][0]["code"], "email_is_upn");
    assert!(
        g.emu
            .graph_requests()
            .iter()
            .any(|p| p == "POST /v1.0/$batch")
    );
    // Audit wrote nothing.
    assert!(!g.emu.seen().iter().any(|r| r.method == "PATCH"
        || r.method == "DELETE"
        || (r.method == "POST" && !r.path.ends_with("$batch"))));
}

const MOB: &str = "00000000-0000-4000-b000-000000000001";
const OFF: &str = "00000000-0000-4000-b000-000000000002";
const MAIL: &str = "00000000-0000-4000-b000-000000000003";

/// Three users with one contact method each: a mobile, an office phone, an alternate email.
fn policy_tenant() -> Tenant {
    let emu = Emulator::start();
    for (id, upn, mobile, office, mail) in [
        (MOB, "mob@contoso.com", Some("+44 7400123456"), None, None),
        (OFF, "off@contoso.com", None, Some("+44 2079460958"), None),
        (
            MAIL,
            "mail@contoso.com",
            None,
            None,
            Some("mail@fabrikam.com"),
        ),
    ] {
        let u = User {
            id: id.into(),
            user_principal_name: upn.into(),
            display_name: Some(upn.into()),
            alternate_email_addresses: mail.into_iter().map(String::from).collect(),
            mobile_phone: mobile.map(String::from),
            office_phone: office.map(String::from),
            on_premises_sync_enabled: false,
            account_enabled: None,
            user_type: None,
            on_premises: Default::default(),
        };
        emu.add_user(&u, &AuthDetails::default());
    }
    Tenant::new(emu)
}

/// The policy's three method configurations.
fn policy(state: &str, sms: Value, voice: Value, office_allowed: bool, email: Value) -> Value {
    let config = |id: &str, c: Value| {
        let mut c = c;
        c["id"] = json!(id);
        if c.get("state").is_none() {
            c["state"] = json!("enabled");
        }
        c
    };
    let mut voice = config("Voice", voice);
    voice["isOfficePhoneAllowed"] = json!(office_allowed);
    json!({"id": "authenticationMethodsPolicy", "policyMigrationState": state,
        "authenticationMethodConfigurations": [config("Sms", sms), voice, config("Email", email)]})
}

fn off() -> Value {
    json!({"state": "disabled", "includeTargets": [{"targetType": "group", "id": "all_users"}]})
}

fn to(include: &[&str], exclude: &[&str]) -> Value {
    let t = |ids: &[&str]| -> Vec<Value> {
        ids.iter()
            .map(|id| json!({"targetType": "group", "id": id}))
            .collect()
    };
    json!({"includeTargets": t(include), "excludeTargets": t(exclude)})
}

/// Who is ready, the problem codes by user, the summary's policySource, and stderr.
fn verdicts(
    g: &Tenant,
    extra: &[&str],
) -> (
    BTreeMap<String, bool>,
    BTreeMap<String, Vec<String>>,
    String,
    String,
) {
    let mut args = vec!["audit", "--all", "-o", "json", "--summary"];
    args.extend_from_slice(extra);
    let (code, out, err) = g.run(&args);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let ready = v["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["userPrincipalName"].as_str().unwrap().to_string(),
                r["ready"].as_bool().unwrap(),
            )
        })
        .collect();
    (
        ready,
        codes(&v["users"]),
        v["summary"]["policySource"].as_str().unwrap().to_string(),
        err,
    )
}

fn ready(pairs: &[(&str, bool)]) -> BTreeMap<String, bool> {
    pairs.iter().map(|(u, r)| (u.to_string(), *r)).collect()
}

#[test]
fn the_methods_policy_decides_per_user_as_entra_does() {
    let g = policy_tenant();
    let all = || to(&["all_users"], &[]);
    // The tenant: before migration the methods policy does not govern SSPR at all.
    g.emu.state().policy = Some(policy("preMigration", off(), all(), false, off()));
    let (r, _, source, err) = verdicts(&g, &[]);
    assert_eq!(
        r,
        ready(&[
            ("mail@contoso.com", true),
            ("mob@contoso.com", true),
            ("off@contoso.com", true)
        ])
    );
    assert_eq!(source, "legacySsprPolicy");
    assert!(
        err.contains("verdicts rest on: legacySsprPolicy (policySource)\n"),
        "{err}"
    );
    assert!(
        err.contains("the tenant's SSPR methods come from the legacy SSPR policy (policyMigrationState preMigration), \
                      which Microsoft Graph does not expose: verdicts assume every kind (say which with --enabled-methods)"),
        "{err}"
    );
    // The same policy once migrated: voice counts for the mobile phone only (isOfficePhoneAllowed
    // false), email is off.
    g.emu.state().policy = Some(policy("migrationComplete", off(), all(), false, off()));
    let (r, c, source, err) = verdicts(&g, &[]);
    assert_eq!(
        r,
        ready(&[
            ("mail@contoso.com", false),
            ("mob@contoso.com", true),
            ("off@contoso.com", false)
        ])
    );
    assert_eq!(c["off@contoso.com"], ["no_method"]);
    assert_eq!(source, "authenticationMethodsPolicy");
    assert!(
        err.contains("verdicts rest on the tenant's authentication methods policy (migrationComplete): \
                      Sms disabled, Voice enabled for all users (mobile only: isOfficePhoneAllowed is false), Email disabled"),
        "{err}"
    );
    // isOfficePhoneAllowed: the office phone counts too.
    g.emu.state().policy = Some(policy("migrationComplete", off(), all(), true, off()));
    let (r, _, _, _) = verdicts(&g, &[]);
    assert!(r["off@contoso.com"]);
    // Migration in progress: the legacy policy (as --enabled-methods says) can enable email.
    g.emu.state().policy = Some(policy("migrationInProgress", off(), all(), false, off()));
    let (r, _, source, _) = verdicts(&g, &["--enabled-methods", "email"]);
    assert_eq!(
        r,
        ready(&[
            ("mail@contoso.com", true),
            ("mob@contoso.com", true),
            ("off@contoso.com", false)
        ])
    );
    assert_eq!(source, "both");
}

#[test]
fn group_targets_count_nested_members_minus_exclusions_and_unreadable_groups_are_unknown() {
    let g = policy_tenant();
    {
        let mut s = g.emu.state();
        // sales contains uk (nested), which contains mob; externals holds mail.
        s.groups.insert("g-sales".into(), vec!["g-uk".into()]);
        s.groups.insert("g-uk".into(), vec![MOB.into(), OFF.into()]);
        s.groups.insert("g-externals".into(), vec![MAIL.into()]);
        s.policy = Some(policy(
            "migrationComplete",
            to(&["g-sales"], &[]),
            off(),
            false,
            to(&["all_users"], &["g-externals"]),
        ));
    }
    let (r, c, _, err) = verdicts(&g, &[]);
    // mob through the nested group; mail excluded from email; off has only an office phone.
    assert_eq!(
        r,
        ready(&[
            ("mail@contoso.com", false),
            ("mob@contoso.com", true),
            ("off@contoso.com", false)
        ])
    );
    assert_eq!(c["mail@contoso.com"], ["no_method"]);
    assert!(!err.contains("warning"), "{err}");
    let reads: Vec<String> = g
        .emu
        .graph_requests()
        .into_iter()
        .filter(|p| p.contains("/groups/"))
        .collect();
    // Each targeted group read once (the nested one through its parent's transitive members).
    assert_eq!(
        reads.iter().filter(|p| p.contains("g-sales")).count(),
        1,
        "{reads:?}"
    );
    assert_eq!(reads.len(), 2, "{reads:?}");
    // Without GroupMember.Read.All: said once; the kinds those groups decide are unknown, never
    // counted.
    g.emu.state().groups_forbidden = true;
    let (r, c, _, err) = verdicts(&g, &[]);
    assert_eq!(
        r,
        ready(&[
            ("mail@contoso.com", false),
            ("mob@contoso.com", false),
            ("off@contoso.com", false)
        ])
    );
    assert_eq!(c["mob@contoso.com"], ["policy_unknown", "no_method"]);
    assert_eq!(c["mail@contoso.com"], ["policy_unknown", "no_method"]);
    assert_eq!(c["off@contoso.com"], ["no_method"]);
    assert_eq!(err.matches("GroupMember.Read.All").count(), 1, "{err}");
}

#[test]
fn out_of_scope_users_disabled_accounts_and_guests_are_told_apart() {
    let g = policy_tenant();
    for (id, upn, enabled, kind) in [
        (
            "00000000-0000-4000-b000-000000000004",
            "gone@contoso.com",
            Some(false),
            None,
        ),
        (
            "00000000-0000-4000-b000-000000000005",
            "guest_fabrikam.com#EXT#@contoso.com",
            None,
            Some("Guest"),
        ),
    ] {
        let u = User {
            id: id.into(),
            user_principal_name: upn.into(),
            mobile_phone: Some("07400 123457".into()),
            account_enabled: enabled,
            user_type: kind.map(String::from),
            ..Default::default()
        };
        g.emu.add_user(&u, &AuthDetails::default());
    }
    // SSPR is not enabled for nat, whose phone also needs a fix.
    let nat = User {
        id: "00000000-0000-4000-b000-000000000006".into(),
        user_principal_name: "nat@contoso.com".into(),
        mobile_phone: Some("07400 123458".into()),
        ..Default::default()
    };
    g.emu.add_user(&nat, &AuthDetails::default());
    g.emu
        .state()
        .registrations
        .insert(nat.id.clone(), json!({"isSsprEnabled": false}));
    let dir = tempfile::tempdir().unwrap();
    let fixes = dir.path().join("fixes.csv");
    let (code, out, err) = g.run(&[
        "audit",
        "--all",
        "-o",
        "json",
        "--summary",
        "--default-region",
        "GB",
        "--fix-file",
        fixes.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let users = v["users"].as_array().unwrap();
    let states: BTreeMap<&str, (&str, bool)> = users
        .iter()
        .map(|r| {
            (
                r["userPrincipalName"].as_str().unwrap(),
                (r["state"].as_str().unwrap(), r["ready"].as_bool().unwrap()),
            )
        })
        .collect();
    assert_eq!(
        states,
        BTreeMap::from([
            ("mail@contoso.com", ("ready", true)),
            ("mob@contoso.com", ("ready", true)),
            ("nat@contoso.com", ("outOfScope", false)),
            ("off@contoso.com", ("ready", true)),
        ])
    );
    let s = &v["summary"];
    assert_eq!(
        (
            s["audited"].as_u64(),
            s["ready"].as_u64(),
            s["outOfScope"].as_u64()
        ),
        (Some(4), Some(3), Some(1))
    );
    assert_eq!(s["readyPercent"], 100.0);
    assert_eq!(
        s["leftOut"],
        json!({"disabled": 1, "guests": 1, "builtIn": 0})
    );
    // The out-of-scope user's problem is listed but not counted, and not in the fix file.
    assert_eq!(s["problems"], json!({}));
    assert_eq!(
        std::fs::read_to_string(&fixes).unwrap(),
        "userPrincipalName,mobilePhone,officePhone\n"
    );
    assert!(
        err.contains(
            "audit: 4 users, 3 ready (100.0%), 1 out of SSPR's scope (isSsprEnabled false)"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "left out: 1 disabled account(s), 1 guest(s) (--include-disabled, --include-guests)"
        ),
        "{err}"
    );
    // --not-ready leaves out-of-scope users out too; the flags bring the others in.
    let (_, out, _) = g.run(&[
        "audit",
        "--all",
        "-o",
        "json",
        "--not-ready",
        "--default-region",
        "GB",
    ]);
    assert_eq!(out, "[]\n");
    let (_, out, err) = g.run(&[
        "audit",
        "--all",
        "-o",
        "json",
        "--summary",
        "--include-disabled",
        "--include-guests",
        "--default-region",
        "GB",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["summary"]["audited"], 6);
    assert_eq!(
        v["summary"]["leftOut"],
        json!({"disabled": 0, "guests": 0, "builtIn": 0})
    );
    assert!(!err.contains("left out:"), "{err}");
}
