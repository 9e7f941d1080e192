//! Hybrid mode: the Graph emulator and the real Samba DC, joined. Each test has an OU of its
//! own and a tenant whose synchronised users carry the anchors of those AD objects — one by
//! mS-DS-ConsistencyGuid, one by objectGUID, one only by SID (under another name), one with
//! no AD object, two claiming one object — and a cloud-only user. `entra_connect` plays Entra
//! Connect: it copies AD's `mobile`/`telephoneNumber` (read with ldapsearch) into the tenant.
//! Ground truth: ldapsearch and Samba's audit log for AD, the emulator's state and PATCH log
//! for Graph.

use base64::Engine;
use serde_json::Value;
use ssprctl::model::{OnPremises, User};

use super::emulator::Emulator;
use super::tenant::Tenant;
use super::{ad, dc};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A tenant and an OU of the DC, joined.
struct Hybrid {
    dc: &'static ad::Dc,
    t: Tenant,
    ou: String,
    p: &'static str,
    /// Entra UPN → AD sAMAccountName, for the users Entra Connect syncs.
    synced: Vec<(String, String)>,
}

fn entra(id: u8, upn: &str, mobile: Option<&str>, on_prem: Option<OnPremises>) -> User {
    User {
        id: format!("00000000-0000-4000-8000-0000000000{id:02}"),
        user_principal_name: upn.into(),
        display_name: Some(upn.split('@').next().unwrap().into()),
        mobile_phone: mobile.map(Into::into),
        on_premises_sync_enabled: on_prem.is_some(),
        on_premises: on_prem.unwrap_or_default(),
        ..Default::default()
    }
}

fn anchors(immutable: Option<String>, sid: Option<String>) -> Option<OnPremises> {
    Some(OnPremises {
        immutable_id: immutable,
        security_identifier: sid,
        ..Default::default()
    })
}

impl Hybrid {
    /// The OU `OU=Hyb{p}` with `{p}cg` (a ConsistencyGuid), `{p}og`, `{p}sid` and `{p}twin`,
    /// and the tenant: `{p}cg` in sync, `{p}og` stale (mobile and office), `{p}renamed`
    /// joined to `{p}sid` by SID only, `{p}lost` with no AD object, `{p}twin1`/`{p}twin2`
    /// both matching `{p}twin`, and `{p}cloud`, cloud-only. `cg_mobile` is `{p}cg`'s mobile in
    /// both places.
    fn new(p: &'static str, cg_mobile: &str) -> Option<Hybrid> {
        let dc = dc()?;
        let ou = format!("OU=Hyb{p},DC=sspr,DC=test");
        let cg: Vec<u8> = format!("{p:-<12}cgid").into_bytes()[..16].to_vec();
        let user = |sam: &str, extra: &str| {
            format!(
                "dn: CN={p}{sam},{ou}\nobjectClass: user\nsAMAccountName: {p}{sam}\n\
                 userPrincipalName: {p}{sam}@sspr.test\nuserAccountControl: 544\n{extra}\n"
            )
        };
        dc.ldapadd(&format!(
            "dn: {ou}\nobjectClass: organizationalUnit\n\n{}{}{}{}",
            user(
                "cg",
                &format!(
                    "mobile: {cg_mobile}\nmS-DS-ConsistencyGuid:: {}\n",
                    B64.encode(&cg)
                )
            ),
            user(
                "og",
                "mobile: +44 7400100002\ntelephoneNumber: +44 2079460002\n"
            ),
            user("sid", ""),
            user("twin", "mobile: +44 7400100009\n"),
        ));
        let guid = |sam: &str| dc.attr(&format!("{p}{sam}"), "objectGUID:")[0].clone();
        let sid = |sam: &str| {
            let b = B64
                .decode(&dc.attr(&format!("{p}{sam}"), "objectSid:")[0])
                .unwrap();
            ssprctl::directory::ad::conn::sid_string(&b)
        };
        let emu = Emulator::start();
        let upn = |n: &str| format!("{p}{n}@sspr.test");
        let none = Default::default();
        for u in [
            entra(
                1,
                &upn("cg"),
                Some(cg_mobile),
                anchors(Some(B64.encode(&cg)), None),
            ),
            entra(
                2,
                &upn("og"),
                Some("+44 7400999999"),
                anchors(Some(guid("og")), None),
            ),
            // Another name than AD's, and an immutable id no object has: joined by SID alone.
            entra(
                3,
                &upn("renamed"),
                None,
                anchors(Some(B64.encode(b"not-an-ad-object")), sid("sid")),
            ),
            entra(
                4,
                &upn("lost"),
                Some("+44 7400100004"),
                anchors(
                    Some(B64.encode(b"lost-lost-lost!!")),
                    Some("S-1-5-21-1-2-3-999999".into()),
                ),
            ),
            entra(5, &upn("twin1"), None, anchors(Some(guid("twin")), None)),
            entra(6, &upn("twin2"), None, anchors(None, sid("twin"))),
            entra(7, &upn("cloud"), None, None),
        ] {
            emu.add_user(&u, &none);
        }
        let synced = [("cg", "cg"), ("og", "og"), ("renamed", "sid")]
            .iter()
            .map(|(e, a)| (upn(e), format!("{p}{a}")))
            .collect();
        Some(Hybrid {
            dc,
            t: Tenant::new(emu),
            ou,
            p,
            synced,
        })
    }

    fn upn(&self, n: &str) -> String {
        format!("{}{n}@sspr.test", self.p)
    }

    fn cmd(&self, ad_url: &str, args: &[&str]) -> std::process::Command {
        let mut c = self.t.std_cmd(&[]);
        c.args([
            "--ad",
            ad_url,
            "--ldap-ca",
            self.dc.ca.to_str().unwrap(),
            "--base-dn",
            &self.ou,
        ])
        .args(args)
        .env("SSPRCTL_ACCESS_TOKEN", &self.t.token)
        .env("SSPRCTL_LDAP_BIND_DN", ad::ADMIN)
        .env("SSPRCTL_LDAP_PASSWORD", ad::ADMIN_PASSWORD);
        c
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        output(self.cmd(&self.dc.url, args).output().unwrap())
    }

    /// Entra Connect's sync: AD's mobile and telephoneNumber into the tenant.
    fn entra_connect(&self) {
        for (upn, sam) in &self.synced {
            let mobile = self.dc.attr(sam, "mobile").into_iter().next();
            let office = self.dc.attr(sam, "telephoneNumber").into_iter().next();
            let id = self.t.emu.user(upn).id;
            self.t.emu.with_user(&id, |u| {
                u.mobile_phone = mobile;
                u.office_phone = office;
            });
        }
    }

    /// The PATCH bodies the tenant received for `upn`.
    fn patches(&self, upn: &str) -> Vec<Value> {
        let id = self.t.emu.user(upn).id;
        self.t
            .emu
            .state()
            .patches
            .iter()
            .filter(|(u, _)| *u == id)
            .map(|(_, b)| serde_json::from_str(b).unwrap())
            .collect()
    }

    fn mobile(&self, sam: &str) -> Vec<String> {
        self.dc.attr(&format!("{}{sam}", self.p), "mobile")
    }

    fn ad_writes(&self) -> usize {
        self.dc.modify_requests(&self.ou)
    }
}

fn output(out: std::process::Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn read_jsonl(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn by_upn<'a>(records: &'a Value, upn: &str) -> &'a Value {
    records
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["userPrincipalName"] == upn)
        .unwrap_or_else(|| panic!("no {upn} in {records}"))
}

#[test]
fn get_user_joins_by_consistency_guid_object_guid_then_sid_never_by_name() {
    let Some(h) = Hybrid::new("hg", "+44 7400100001") else {
        return;
    };
    let (code, out, err) = h.run(&["get-user", "--all", "-o", "json", "-v"]);
    assert_eq!(code, 0, "{err}");
    let all: Value = serde_json::from_str(&out).unwrap();
    let dn = |sam: &str| format!("CN=hg{sam},{}", h.ou);
    let cg = by_upn(&all, &h.upn("cg"));
    assert_eq!(cg["adMatch"], "consistencyGuid");
    assert_eq!(cg["adDistinguishedName"], dn("cg"));
    assert_eq!(cg["adMobilePhone"], "+44 7400100001");
    assert_eq!(cg["syncPending"], serde_json::json!([]));
    let og = by_upn(&all, &h.upn("og"));
    assert_eq!(og["adMatch"], "objectGuid");
    assert_eq!(og["mobilePhone"], "+44 7400999999", "Entra's copy");
    assert_eq!(og["adMobilePhone"], "+44 7400100002", "what will sync");
    assert_eq!(og["adOfficePhone"], "+44 2079460002");
    assert_eq!(
        og["syncPending"],
        serde_json::json!(["mobilePhone", "officePhone"])
    );
    let renamed = by_upn(&all, &h.upn("renamed"));
    assert_eq!(renamed["adMatch"], "securityIdentifier");
    assert_eq!(renamed["adDistinguishedName"], dn("sid"));
    assert_eq!(by_upn(&all, &h.upn("lost"))["adMatch"], "notFound");
    for twin in ["twin1", "twin2"] {
        let t = by_upn(&all, &h.upn(twin));
        assert_eq!(t["adMatch"], "claimedTwice");
        assert_eq!(t["adDistinguishedName"], dn("twin"));
    }
    let cloud = by_upn(&all, &h.upn("cloud"));
    assert_eq!(cloud["adMatch"], Value::Null);
    assert_eq!(cloud["syncPending"], Value::Null);
    // AD read once, paged: the OU's four objects.
    assert!(
        err.contains(
            "joined 6 synchronised users to AD (4 objects read); 3 without a usable AD object"
        ),
        "{err}"
    );

    // One user: one search by its anchors.
    let (code, out, err) = h.run(&["get-user", &h.upn("og"), "-o", "json", "-v"]);
    assert_eq!(code, 0, "{err}");
    let one: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        one[0]["syncPending"],
        serde_json::json!(["mobilePhone", "officePhone"])
    );
    assert!(err.contains("(1 objects read)"), "{err}");
    // Several users: one search for all of them.
    let (code, _, err) = h.run(&[
        "get-user",
        &h.upn("og"),
        &h.upn("cg"),
        &h.upn("renamed"),
        &h.upn("cloud"),
        "-o",
        "json",
        "-v",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(err.matches("joined ").count(), 1, "{err}");
    assert!(
        err.contains("joined 3 synchronised users to AD (3 objects read)"),
        "{err}"
    );
    // --select takes the AD columns by name.
    let (code, out, _) = h.run(&[
        "get-user",
        &h.upn("og"),
        "-o",
        "csv",
        "--select",
        "userPrincipalName,adMobilePhone,syncPending",
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "userPrincipalName,adMobilePhone,syncPending\nhgog@sspr.test,+44 7400100002,\"mobilePhone;officePhone\"\n"
    );
    assert!(h.t.emu.state().patches.is_empty(), "reads write nothing");
}

#[test]
fn set_user_writes_a_synced_users_phones_in_ad_and_the_rest_in_entra() {
    let Some(h) = Hybrid::new("hs", "+44 7400100001") else {
        return;
    };
    let writes = h.ad_writes();
    // Dry run: the plan per destination, nothing written anywhere.
    let (code, out, err) = h.run(&[
        "set-user",
        &h.upn("og"),
        "--mobile-phone",
        "+44 7400100222",
        "--add-alternate-email",
        "og@fabrikam.com",
        "--dry-run",
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let plan: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        plan["changes"],
        serde_json::json!([
            {"field": "alternateEmailAddresses", "old": [], "new": ["og@fabrikam.com"], "destination": "entraId"},
            {"field": "mobilePhone", "old": "+44 7400100002", "new": "+44 7400100222", "destination": "ad"},
        ])
    );
    assert_eq!(h.ad_writes(), writes);
    assert!(h.t.emu.state().patches.is_empty());

    // For real: one LDAP modify, one PATCH without the phones.
    let (code, out, err) = h.run(&[
        "set-user",
        &h.upn("og"),
        "--mobile-phone",
        "+44 7400100222",
        "--add-alternate-email",
        "og@fabrikam.com",
        "-o",
        "table",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "hsog@sspr.test: 2 changes\n  alternateEmailAddresses  (none) → og@fabrikam.com  (in Entra ID)\n  \
         mobilePhone              +44 7400100002 → +44 7400100222  (in AD)\n"
    );
    assert_eq!(h.mobile("og"), ["+44 7400100222"]);
    assert_eq!(h.ad_writes(), writes + 1);
    assert_eq!(
        h.patches(&h.upn("og")),
        [serde_json::json!({"otherMails": ["og@fabrikam.com"]})]
    );
    assert_eq!(
        h.t.emu.user(&h.upn("og")).mobile_phone.as_deref(),
        Some("+44 7400999999"),
        "Entra's copy waits for the sync"
    );

    // No AD object, or one claimed twice: refused, nothing written.
    for (who, code_name) in [
        ("lost", "not_found_in_ad"),
        ("twin2", "ad_object_claimed_twice"),
    ] {
        let (code, _, err) = h.run(&[
            "set-user",
            &h.upn(who),
            "--mobile-phone",
            "+44 7400100333",
            "-o",
            "json",
        ]);
        assert_eq!(code, 1, "{who}: {err}");
        assert_eq!(super::json_error(&err)["error"]["code"], code_name, "{err}");
    }
    assert_eq!(h.ad_writes(), writes + 1);
    assert!(h.patches(&h.upn("lost")).is_empty());

    // A cloud-only user: Graph, as ever.
    let (code, out, err) = h.run(&[
        "set-user",
        &h.upn("cloud"),
        "--mobile-phone",
        "+44 7400100555",
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["changes"][0]["destination"],
        "entraId"
    );
    assert_eq!(
        h.patches(&h.upn("cloud")),
        [serde_json::json!({"mobilePhone": "+44 7400100555"})]
    );

    // Validation doesn't bend: the guide's impossible number, as set-user refuses it anywhere.
    let (code, _, err) = h.run(&["set-user", &h.upn("cg"), "--mobile-phone", "+1 4251234567"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--phone-check length"), "{err}");
    assert_eq!(h.ad_writes(), writes + 1);
}

#[test]
fn import_routes_each_row_and_the_report_says_where_each_field_went() {
    let Some(h) = Hybrid::new("hi", "+44 7400100001") else {
        return;
    };
    let file = h.t.file(
        "hr.csv",
        &format!(
            "userPrincipalName,mobilePhone,alternateEmailAddresses\n\
             {},+44 7400200001,\n{},,og@fabrikam.com\n{},+44 7400200003,sid@fabrikam.com\n\
             {},+44 7400200004,\n{},+44 7400200005,\n{},+44 7400200006,\n",
            h.upn("cg"),
            h.upn("og"),
            h.upn("renamed"),
            h.upn("lost"),
            h.upn("cloud"),
            // twin1, not in the file, claims twin2's AD object too.
            h.upn("twin2"),
        ),
    );
    // The plan first: old → new per destination, nothing written anywhere.
    let writes = h.ad_writes();
    let (code, out, err) = h.run(&["import", &file, "--dry-run", "-o", "csv"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        out,
        format!(
            "userPrincipalName,field,old,new,destination\n\
             {cg},mobilePhone,+44 7400100001,+44 7400200001,ad\n\
             {og},alternateEmailAddresses,,og@fabrikam.com,entraId\n\
             {r},alternateEmailAddresses,,sid@fabrikam.com,entraId\n\
             {r},mobilePhone,,+44 7400200003,ad\n\
             {c},mobilePhone,,+44 7400200005,entraId\n",
            cg = h.upn("cg"),
            og = h.upn("og"),
            r = h.upn("renamed"),
            c = h.upn("cloud"),
        )
    );
    assert_eq!(h.ad_writes(), writes);
    assert!(h.t.emu.state().patches.is_empty());
    let report = h.t.env.home.path().join("report.csv");
    let (code, out, err) = h.run(&[
        "import",
        &file,
        "--report",
        report.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(code, 1, "{err}");
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (summary["updated"].as_u64(), summary["failed"].as_u64()),
        (Some(4), Some(2))
    );
    let rows: Vec<Vec<String>> = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(&report)
        .unwrap()
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    assert_eq!(
        rows[0],
        [
            "line",
            "status",
            "userPrincipalName",
            "alternateEmailAddresses",
            "mobilePhone",
            "changed",
            "destinations",
            "errorCode",
            "errorMessage",
            "warnings"
        ]
    );
    let col = |line: &str, i: usize| rows.iter().find(|r| r[0] == line).unwrap()[i].to_string();
    assert_eq!(col("2", 6), "mobilePhone:ad");
    assert_eq!(col("3", 6), "alternateEmailAddresses:entraId");
    assert_eq!(
        col("4", 6),
        "alternateEmailAddresses:entraId;mobilePhone:ad"
    );
    assert_eq!(
        (col("5", 1), col("5", 7)),
        ("failed".into(), "not_found_in_ad".into())
    );
    assert_eq!(col("6", 6), "mobilePhone:entraId");
    assert_eq!(
        (col("7", 1), col("7", 7)),
        ("failed".into(), "ad_object_claimed_twice".into())
    );
    assert_eq!(h.mobile("twin"), ["+44 7400100009"]);
    // AD has the synced users' phones; Graph was never sent one of them.
    assert_eq!(h.mobile("cg"), ["+44 7400200001"]);
    assert_eq!(h.mobile("sid"), ["+44 7400200003"]);
    assert!(h.patches(&h.upn("cg")).is_empty());
    assert_eq!(
        h.patches(&h.upn("renamed")),
        [serde_json::json!({"otherMails": ["sid@fabrikam.com"]})]
    );
    assert_eq!(
        h.patches(&h.upn("cloud")),
        [serde_json::json!({"mobilePhone": "+44 7400200005"})]
    );
    assert!(h.patches(&h.upn("lost")).is_empty());
    assert!(h.mobile("og") == ["+44 7400100002"], "untouched");
}

#[test]
fn wait_for_sync_ends_synced_when_entra_connect_copies_the_values() {
    let Some(h) = Hybrid::new("hw", "+44 7400100001") else {
        return;
    };
    let child = h
        .cmd(
            &h.dc.url,
            &[
                "set-user",
                &h.upn("cg"),
                "--mobile-phone",
                "+44 7400300001",
                "--wait-for-sync",
                "60s",
                "-o",
                "json",
            ],
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Entra Connect runs a little after the AD write lands.
    let t = std::time::Instant::now();
    while h.mobile("cg") != ["+44 7400300001"] && t.elapsed().as_secs() < 30 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    h.entra_connect();
    let (code, out, err) = output(child.wait_with_output().unwrap());
    assert_eq!(code, 0, "{err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["sync"], "synced");
    assert!(
        err.contains("sync: all 1 users show the new values in Entra ID"),
        "{err}"
    );
    assert!(t.elapsed().as_secs() < 30, "it stopped looking once synced");
    // Polled no faster than every 2 s (60 s / 30): with 7 users, a poll is one page of the
    // tenant (fewer requests than $batch reads of the user).
    let seen = h.t.emu.seen();
    let polls = seen
        .iter()
        .filter(|r| r.path == "/v1.0/users" && !r.query.contains("filter"))
        .count();
    assert!(
        (1..=4).contains(&polls),
        "{polls} polls: {:?}",
        h.t.emu.graph_requests()
    );
}

#[test]
fn wait_for_sync_ends_pending_with_exit_6_when_the_sync_does_not_come() {
    let Some(h) = Hybrid::new("hp", "+44 7400100001") else {
        return;
    };
    let file = h.t.file(
        "hr.csv",
        &format!(
            "userPrincipalName,mobilePhone\n{},+44 7400400001\n{},+44 7400400005\n",
            h.upn("og"),
            h.upn("cloud")
        ),
    );
    let report = h.t.env.home.path().join("report.jsonl");
    let (code, out, err) = h.run(&[
        "import",
        &file,
        "--wait-for-sync",
        "3s",
        "--report",
        report.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(code, 6, "{err}");
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (summary["synced"].as_u64(), summary["pending"].as_u64()),
        (Some(0), Some(1))
    );
    assert!(
        err.contains(
            "sync: 1 of 1 users don't show the new values in Entra ID after 3s (pending; exit 6)"
        ),
        "{err}"
    );
    let lines = read_jsonl(&report);
    assert_eq!(lines[0]["sync"], "pending");
    assert_eq!(
        lines[0]["destinations"],
        serde_json::json!({"mobilePhone": "ad"})
    );
    assert_eq!(
        lines[1]["sync"],
        Value::Null,
        "a cloud-only row has nothing to wait for"
    );
    assert_eq!(h.mobile("og"), ["+44 7400400001"]);
}

#[test]
fn a_domain_controller_that_is_down_fails_only_the_rows_that_write_ad() {
    let Some(h) = Hybrid::new("hd", "+44 7400100001") else {
        return;
    };
    let file = h.t.file(
        "hr.csv",
        &format!(
            "userPrincipalName,mobilePhone,alternateEmailAddresses\n\
             {},+44 7400500001,\n{},,og@fabrikam.com\n{},+44 7400500005,\n",
            h.upn("cg"),
            h.upn("og"),
            h.upn("cloud")
        ),
    );
    let report = h.t.env.home.path().join("report.jsonl");
    // Nothing listens on port 1.
    let (code, _, err) = output(
        h.cmd(
            "ldaps://localhost:1",
            &["import", &file, "--report", report.to_str().unwrap()],
        )
        .output()
        .unwrap(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("(they fail), everything Entra ID holds goes ahead"),
        "{err}"
    );
    let lines = read_jsonl(&report);
    let status: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["status"].as_str().unwrap(),
                l["errorCode"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        status,
        [
            ("failed", "service_unavailable"),
            ("updated", ""),
            ("updated", "")
        ]
    );
    assert_eq!(h.mobile("cg"), ["+44 7400100001"]);
    assert!(h.patches(&h.upn("cg")).is_empty());
    assert_eq!(
        h.patches(&h.upn("og")),
        [serde_json::json!({"otherMails": ["og@fabrikam.com"]})]
    );
}

#[test]
fn audit_judges_synced_phones_on_ad_and_its_fix_file_imports_in_one_run() {
    // cg's AD mobile is national: the fix is derived from AD's value and written to AD.
    let Some(h) = Hybrid::new("ha", "07400 100001") else {
        return;
    };
    let fixes = h.t.env.home.path().join("fixes.csv");
    let audit = |args: &[&str]| {
        let mut a = vec!["audit", "--all", "--default-region", "GB", "-o", "json"];
        a.extend_from_slice(args);
        let (code, out, err) = h.run(&a);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<Value>(&out).unwrap()
    };
    let records = audit(&["--fix-file", fixes.to_str().unwrap()]);
    let codes = |r: &Value| -> Vec<String> {
        r["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["code"].as_str().unwrap().to_string())
            .collect()
    };
    let cg = by_upn(&records, &h.upn("cg"));
    assert_eq!(cg["source"], "synced");
    assert!(codes(cg).contains(&"phone_format".to_string()), "{cg}");
    assert!(!codes(cg).contains(&"synced_fix_in_ad".to_string()), "{cg}");
    let og = by_upn(&records, &h.upn("og"));
    assert!(codes(og).contains(&"sync_pending".to_string()), "{og}");
    assert!(codes(by_upn(&records, &h.upn("lost"))).contains(&"not_found_in_ad".to_string()));
    assert!(
        codes(by_upn(&records, &h.upn("twin1"))).contains(&"ad_object_claimed_twice".to_string())
    );
    let file = std::fs::read_to_string(&fixes).unwrap();
    assert_eq!(
        file,
        format!(
            "userPrincipalName,mobilePhone,officePhone\n{},+44 7400100001,\n",
            h.upn("cg")
        )
    );
    // The fix file in one hybrid run: the synced user's phone goes to AD.
    let (code, _, err) = h.run(&["import", fixes.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(h.mobile("cg"), ["+44 7400100001"]);
    assert!(h.patches(&h.upn("cg")).is_empty());
    // After the sync, the audit finds nothing left to fix for cg.
    h.entra_connect();
    let records = audit(&[]);
    let cg = by_upn(&records, &h.upn("cg"));
    assert!(!codes(cg).contains(&"phone_format".to_string()), "{cg}");
    assert!(!codes(cg).contains(&"sync_pending".to_string()), "{cg}");
}

/// A TCP relay to the DC that goes down for good at the first client data after its second
/// pause of 300 ms or more, across all its connections: a hybrid run binds, pauses for the
/// Graph read, searches AD, pauses for the claims check, then writes — so the DC goes down
/// exactly when the writes start.
fn relay_down_at_writes() -> u16 {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};
    let gaps = AtomicUsize::new(0);
    let last: Mutex<Option<Instant>> = Mutex::default();
    super::relay_watching(Arc::new(AtomicBool::new(false)), move |down| {
        let mut l = last.lock().unwrap();
        if l.is_some_and(|l| l.elapsed() >= Duration::from_millis(300))
            && gaps.fetch_add(1, Ordering::SeqCst) >= 1
        {
            down.store(true, Ordering::SeqCst);
        }
        *l = Some(Instant::now());
    })
}

#[test]
fn a_domain_controller_that_goes_down_mid_run_fails_only_the_ad_half() {
    let Some(h) = Hybrid::new("hm", "+44 7400100001") else {
        return;
    };
    // Graph's answers take 600 ms: the AD connection's pauses are the relay's cue.
    h.t.emu.set_latency(std::time::Duration::from_millis(600));
    let file = h.t.file(
        "hr.csv",
        &format!(
            "userPrincipalName,mobilePhone,alternateEmailAddresses\n\
             {},+44 7400700001,\n{},+44 7400700003,sid@fabrikam.com\n{},,og@fabrikam.com\n{},+44 7400700005,\n",
            h.upn("cg"),
            h.upn("renamed"),
            h.upn("og"),
            h.upn("cloud")
        ),
    );
    let report = h.t.env.home.path().join("report.jsonl");
    let url = format!("ldaps://localhost:{}", relay_down_at_writes());
    let t = std::time::Instant::now();
    let (code, _, err) = output(
        h.cmd(
            &url,
            &["import", &file, "--report", report.to_str().unwrap()],
        )
        .output()
        .unwrap(),
    );
    // Rows failed (exit 1), not a stopped run (5): the Graph half went on.
    assert_eq!(code, 1, "{err}");
    assert!(t.elapsed().as_secs() < 60, "{:?}", t.elapsed());
    let lines = read_jsonl(&report);
    let at = |i: usize| {
        (
            lines[i]["status"].as_str().unwrap().to_string(),
            lines[i]["errorCode"].as_str().unwrap_or("").to_string(),
        )
    };
    assert_eq!(
        at(0),
        ("failed".into(), "service_unavailable".into()),
        "{lines:?}"
    );
    assert_eq!(
        at(1),
        ("failed".into(), "service_unavailable".into()),
        "{lines:?}"
    );
    assert!(
        lines[1]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("the rest of the row was written to Entra ID"),
        "{lines:?}"
    );
    assert_eq!(at(2), ("updated".into(), String::new()));
    assert_eq!(at(3), ("updated".into(), String::new()));
    assert_eq!(h.mobile("cg"), ["+44 7400100001"]);
    assert!(h.mobile("sid").is_empty());
    assert_eq!(
        h.patches(&h.upn("renamed")),
        [serde_json::json!({"otherMails": ["sid@fabrikam.com"]})]
    );
    assert_eq!(
        h.patches(&h.upn("cloud")),
        [serde_json::json!({"mobilePhone": "+44 7400700005"})]
    );
}

#[test]
fn msonline_lines_run_verbatim_in_hybrid_mode() {
    let Some(h) = Hybrid::new("hq", "+44 7400100001") else {
        return;
    };
    let script = format!(
        "Connect-MsolService\nSet-MsolUser -UserPrincipalName {} -MobilePhone \"+44 7400100888\" \
         -AlternateEmailAddresses @(\"og@fabrikam.com\")\n",
        h.upn("og")
    );
    let (code, _, err) = h.run(&["ps", &script]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("(hybrid)"), "{err}");
    assert_eq!(h.mobile("og"), ["+44 7400100888"]);
    assert_eq!(
        h.patches(&h.upn("og")),
        [serde_json::json!({"otherMails": ["og@fabrikam.com"]})]
    );
    // The guide's impossible number stops the line, as set-user does, before any write.
    let writes = h.ad_writes();
    let bad = format!(
        "Set-MsolUser -UserPrincipalName {} -MobilePhone \"+1 4251234567\"",
        h.upn("cg")
    );
    let (code, _, err) = h.run(&["ps", &bad]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--phone-check length"), "{err}");
    assert_eq!(h.ad_writes(), writes);
}
