//! What a hostile or broken server, a long run or careless input must not be able to do: each
//! test is one finding of the security review (issue "Trustworthy on a real tenant…"), run
//! through the binary against the emulator (or the local directory).

mod common;
mod emulator;
mod suite;
mod tenant;

use std::time::{Duration, Instant};

use common::{Env, json_error};
use emulator::{Emulator, FaultKind, Quota, Raw};
use serde_json::{Value, json};
use tenant::Tenant;

fn tenant() -> Tenant {
    let emu = Emulator::start();
    for (u, a) in suite::users() {
        emu.add_user(&u, &a);
    }
    Tenant::new(emu)
}

/// A second server on another port: another origin, which must never be reached.
fn elsewhere() -> Emulator {
    Emulator::start()
}

const SECRET: &str = "s3cr3t-value-never-shown";

fn secret_vars() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
        ("AZURE_CLIENT_ID", "app-1"),
        ("AZURE_CLIENT_SECRET", SECRET),
    ]
}

#[test]
fn a_foreign_next_link_never_receives_a_request() {
    let g = tenant();
    let other = elsewhere();
    let body =
        json!({"value": [], "@odata.nextLink": format!("{}/v1.0/users?$skiptoken=x", other.url)});
    g.emu.raw(
        Some("GET"),
        "/v1.0/users",
        1,
        Raw::new(
            200,
            &[("content-type", "application/json")],
            body.to_string(),
        ),
    );
    let (code, out, err) = g.run(&["get-user", "--all", "-o", "json"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(out, "");
    let host = other.url.trim_start_matches("http://");
    assert!(
        err.contains(&format!("pointing at another host, http://{host}")),
        "{err}"
    );
    assert!(
        other.seen().is_empty(),
        "the foreign host got {:?}",
        other.seen()
    );
}

#[test]
fn a_next_link_loop_is_stopped() {
    let g = tenant();
    let body = json!({"value": [], "@odata.nextLink": format!("{}/v1.0/users?$skiptoken=same", g.emu.url)});
    g.emu.raw(
        Some("GET"),
        "/v1.0/users",
        100,
        Raw::new(
            200,
            &[("content-type", "application/json")],
            body.to_string(),
        ),
    );
    let (code, _, err) = g.run(&["get-user", "--all", "-o", "json"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("repeats a page already read"), "{err}");
    assert_eq!(
        g.emu.graph_requests().len(),
        2,
        "the first page and the repeated one only"
    );
}

#[test]
fn timeout_covers_every_page_of_a_read() {
    let emu = Emulator::start();
    emu.add_many(3000);
    let g = Tenant::new(emu);
    g.emu.fault(
        Some("GET"),
        "/v1.0/users",
        10,
        FaultKind::Delay(Duration::from_millis(700)),
    );
    let t = Instant::now();
    let (code, _, err) = g.run(&["get-user", "--all", "-o", "json", "--timeout", "1"]);
    assert_eq!(code, 5, "{err}");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(
        g.emu.graph_requests().len() <= 2,
        "{:?}",
        g.emu.graph_requests()
    );
}

#[test]
fn a_redirect_from_the_token_endpoint_never_carries_the_secret() {
    let g = tenant();
    let other = elsewhere();
    let target = format!("{}/steal/oauth2/v2.0/token", other.url);
    g.emu.raw(
        Some("POST"),
        "/oauth2/v2.0/token",
        1,
        Raw::new(307, &[("location", &target)], ""),
    );
    let (code, out, err) = g.run_env(&["get-user", "kim@contoso.com", "-vv"], &secret_vars());
    assert_eq!(code, 1, "{err}");
    assert_eq!(out, "");
    assert!(
        err.contains(&format!("redirect (HTTP 307 to {target})")),
        "{err}"
    );
    assert!(other.seen().is_empty());
    assert!(!err.contains(SECRET));
}

#[test]
fn a_redirect_on_a_write_is_not_reported_as_success() {
    let g = tenant();
    let other = elsewhere();
    g.emu
        .state()
        .client_secrets
        .insert("app-1".into(), SECRET.into());
    let target = format!("{}/v1.0/users/kim", other.url);
    g.emu.raw(
        Some("PATCH"),
        "/v1.0/users/",
        1,
        Raw::new(308, &[("location", &target)], ""),
    );
    let (code, _, err) = g.run(&[
        "set-user",
        "kim@contoso.com",
        "--mobile-phone",
        "+1 2065550999",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("HTTP 308"), "{err}");
    assert!(other.seen().is_empty());
    assert_eq!(
        g.emu.user("kim@contoso.com").mobile_phone.as_deref(),
        Some("+1 2065550123")
    );
}

#[test]
fn a_huge_retry_after_exits_cleanly_naming_the_wait() {
    let g = tenant();
    g.emu.raw(
        Some("GET"),
        "/v1.0/users/kim",
        5,
        Raw::new(429, &[("retry-after", "1e20")], "{}"),
    );
    let (code, _, err) = g.run(&["get-user", "kim@contoso.com", "-o", "json"]);
    assert_eq!(code, 5, "{err}");
    assert!(
        err.contains("asked to wait over 24 h before retrying"),
        "{err}"
    );
    assert!(!err.contains("panicked"));
    assert_eq!(g.emu.graph_requests().len(), 1);
}

#[test]
fn a_huge_answer_is_refused() {
    let g = tenant();
    let big = vec![b' '; (64 << 20) + 1];
    g.emu.raw(
        Some("GET"),
        "/v1.0/users/kim",
        1,
        Raw::new(200, &[("content-type", "application/json")], big),
    );
    let (code, _, err) = g.run(&["get-user", "kim@contoso.com"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("larger than 64 MiB"), "{err}");
    // The hint speaks of the size, not of redirects.
    assert!(
        err.contains("hint: Microsoft's endpoints never answer these calls at that size"),
        "{err}"
    );
    assert!(!err.contains("redirect"), "{err}");
}

#[test]
fn broken_answers_name_the_request() {
    let g = tenant();
    g.emu.raw(
        Some("GET"),
        "/v1.0/users/kim",
        1,
        Raw::new(200, &[], "{\"id\": \"trunc"),
    );
    let (code, _, err) = g.run(&["get-user", "kim@contoso.com"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(
            "answer to GET /v1.0/users/kim@contoso.com can't be used: its body is not JSON"
        ),
        "{err}"
    );
    // A 5xx without a JSON body is "unavailable".
    g.emu.raw(
        Some("GET"),
        "/v1.0/users/kim",
        1,
        Raw::new(500, &[], "<html>oops</html>"),
    );
    let (code, _, err) = g.run(&["get-user", "kim@contoso.com", "--max-retries", "0"]);
    assert_eq!(code, 5, "{err}");
    // An id that is not a GUID never goes into a URL.
    let bad = json!({"id": "../../me", "userPrincipalName": "kim@contoso.com"});
    g.emu.raw(
        Some("GET"),
        "/v1.0/users/kim",
        1,
        Raw::new(
            200,
            &[("content-type", "application/json")],
            bad.to_string(),
        ),
    );
    g.emu.clear_seen();
    let (code, _, err) = g.run(&[
        "set-user",
        "kim@contoso.com",
        "--mobile-phone",
        "+1 2065550999",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not a GUID"), "{err}");
    assert_eq!(g.emu.graph_requests().len(), 1);
}

#[test]
fn control_characters_and_dot_segments_are_not_users() {
    let g = tenant();
    g.emu.clear_seen();
    for bad in ["a\tb@x", "a\nb@x", "..", "."] {
        let (code, out, err) = g.run(&["get-user", bad]);
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert_eq!(out, "");
        assert!(err.contains("invalid value"), "{err}");
    }
    assert!(g.emu.seen().is_empty());
    let file = g.file(
        "in.csv",
        "userPrincipalName,mobilePhone\n..,+1 2065550100\n",
    );
    let (code, _, err) = g.run(&["import", &file]);
    assert_eq!(code, 2, "{err}");
    assert!(g.emu.seen().is_empty());
}

#[test]
fn a_404_on_a_method_write_keeps_graphs_code() {
    let g = tenant();
    g.emu.fault(
        Some("PATCH"),
        "/phoneMethods/",
        1,
        FaultKind::Status {
            status: 404,
            retry_after: None,
            code: "itemNotFound".into(),
            message: "The method is gone.".into(),
        },
    );
    let (code, _, err) = g.run(&[
        "set-auth-details",
        "kim@contoso.com",
        "--phone",
        "+1 2065550999",
        "-o",
        "json",
    ]);
    assert_eq!(code, 1, "{err}");
    let e = json_error(&err);
    assert_eq!(e["error"]["serviceCode"], "itemNotFound", "{err}");
    assert!(!err.contains("not found\n"), "{err}");
}

#[test]
fn a_post_that_got_a_503_is_checked_not_repeated() {
    let g = tenant();
    // ann has no authentication phone: the set is a POST, which the server carries out and
    // then answers 503.
    g.emu.fault(
        Some("POST"),
        "/phoneMethods",
        1,
        FaultKind::ActThenStatus(503),
    );
    g.emu.clear_seen();
    let (code, _, err) = g.run(&[
        "set-auth-details",
        "ann@contoso.com",
        "--phone",
        "+1 2065550777",
        "-v",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        g.emu
            .auth("ann@contoso.com")
            .authentication_phone
            .as_deref(),
        Some("+1 2065550777")
    );
    let posts = g
        .emu
        .graph_requests()
        .iter()
        .filter(|r| r.starts_with("POST"))
        .count();
    assert_eq!(posts, 1, "{:?}", g.emu.graph_requests());
    assert!(
        err.contains("got no clear answer; read again: the method exists"),
        "{err}"
    );
}

#[test]
fn masked_phones_are_marked_and_never_compared() {
    let g = tenant();
    g.emu.state().mask_phones = true;
    let (code, out, err) = g.run(&["get-auth-details", "kim@contoso.com", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["authenticationPhone"], "+1 XXXXXXXX23 (masked)");
    assert!(err.contains("masked"), "{err}");
    // The same number is written anyway: the masked value can't be compared.
    g.emu.clear_seen();
    let (code, out, err) = g.run(&[
        "set-auth-details",
        "kim@contoso.com",
        "--phone",
        "+1 2065550123",
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["changes"][0]["old"], "+1 XXXXXXXX23 (masked)");
    assert!(
        g.emu
            .graph_requests()
            .iter()
            .any(|r| r.starts_with("PATCH") && r.contains("phoneMethods"))
    );
}

#[test]
fn a_delegated_admin_changing_their_own_methods_is_told_why() {
    let g = tenant();
    let kim = g.emu.user("kim@contoso.com").id;
    g.emu.state().delegated_user = Some(kim);
    let token = g.emu.issue_token();
    let (code, _, err) = g.run_env(
        &[
            "set-auth-details",
            "kim@contoso.com",
            "--phone",
            "+1 2065550999",
        ],
        &[("SSPRCTL_ACCESS_TOKEN", &token)],
    );
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("hint: self-service operations are not supported"),
        "{err}"
    );
}

#[test]
fn login_in_us_gov_is_used_there_by_later_commands() {
    let g = tenant();
    g.emu.state().resource = "https://graph.microsoft.us".into();
    g.emu.state().device = Some(emulator::DeviceScript {
        pending: 0,
        slow_down_once: false,
        outcome: "success".into(),
        interval: 0,
    });
    let (code, _, err) = g.run_env(
        &[
            "login",
            "--cloud",
            "usgov",
            "--tenant",
            "contoso.onmicrosoft.us",
            "--client-id",
            "public-app",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    // Drop the cached token: the next command must redeem the refresh token, in US Gov.
    std::fs::remove_file(g.env.home.path().join("tokens.json")).unwrap();
    let (code, _, err) = g.run_env(&["get-user", "kim@contoso.com"], &[]);
    assert_eq!(code, 0, "{err}");
    let refresh = g
        .emu
        .seen()
        .into_iter()
        .rfind(|r| r.body.contains("grant_type=refresh_token"))
        .unwrap();
    assert!(
        refresh
            .body
            .contains("scope=https%3A%2F%2Fgraph.microsoft.us%2F.default"),
        "{}",
        refresh.body
    );
    // An explicit other cloud is refused rather than sent the US Gov token.
    g.emu.clear_seen();
    let (code, _, err) = g.run_env(&["get-user", "kim@contoso.com", "--cloud", "global"], &[]);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("differs from the cloud of the saved login (usgov)"),
        "{err}"
    );
    assert!(g.emu.seen().is_empty());
}

/// `n` rows that each set a new mobile phone.
fn rows(n: usize) -> String {
    let mut s = String::from("userPrincipalName,mobilePhone\n");
    for i in 0..n {
        s.push_str(&format!("user{i:05}@contoso.com,+1 206 555 {:04}\n", i));
    }
    s
}

#[test]
fn a_long_import_survives_a_token_that_expires_mid_run() {
    let emu = Emulator::start();
    emu.add_many(300);
    let g = Tenant::new(emu);
    g.emu
        .state()
        .client_secrets
        .insert("app-1".into(), SECRET.into());
    g.emu.state().token_lifetime = Duration::from_secs(2);
    g.emu.set_latency(Duration::from_millis(150));
    let file = g.file("in.csv", &rows(300));
    let (code, out, err) = g.run_env(
        &["import", &file, "-o", "json", "--concurrency", "1", "-v"],
        &secret_vars(),
    );
    assert_eq!(code, 0, "{err}");
    let s: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (s["updated"].as_u64(), s["failed"].as_u64()),
        (Some(300), Some(0)),
        "{err}"
    );
    assert!(g.emu.token_requests() >= 2, "renewed during the run");
    assert!(!err.contains(SECRET));
}

#[test]
fn a_passthrough_token_that_expires_stops_the_run_with_a_report() {
    let emu = Emulator::start();
    emu.add_many(300);
    let g = Tenant::new(emu);
    let token = g.emu.issue_token_for(Duration::from_secs(2));
    g.emu.set_latency(Duration::from_millis(150));
    let file = g.file("in.csv", &rows(300));
    let report = g.env.home.path().join("report.jsonl");
    let (code, _, err) = g.run_env(
        &[
            "import",
            &file,
            "-o",
            "json",
            "--concurrency",
            "1",
            "--report",
            report.to_str().unwrap(),
        ],
        &[("SSPRCTL_ACCESS_TOKEN", &token)],
    );
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("warning: the access token in SSPRCTL_ACCESS_TOKEN expires at"),
        "{err}"
    );
    assert!(
        err.contains("error: the access token in SSPRCTL_ACCESS_TOKEN expired at"),
        "{err}"
    );
    let lines: Vec<Value> = std::fs::read_to_string(&report)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 300);
    let failed = lines.iter().filter(|l| l["status"] == "failed").count();
    let not_attempted = lines
        .iter()
        .filter(|l| l["errorCode"] == "interrupted")
        .count();
    assert_eq!(failed, 0, "no row fails: rows are updated or not attempted");
    assert!(not_attempted > 0);
}

#[test]
fn a_malformed_batch_answer_fails_its_rows_and_the_report_is_written() {
    let emu = Emulator::start();
    emu.add_many(30);
    let g = Tenant::new(emu);
    let file = g.file("in.csv", &rows(30));
    let report = g.env.home.path().join("report.csv");
    std::fs::write(&report, "an old report").unwrap();
    g.emu.raw(
        Some("POST"),
        "/v1.0/$batch",
        // Both envelopes (20 + 10 rows, sent side by side) get the broken answer.
        2,
        Raw::new(
            200,
            &[("content-type", "application/json")],
            r#"{"responses":[{"id":"0","status":"200"}]}"#,
        ),
    );
    let (code, _, err) = g.run(&[
        "import",
        &file,
        "-o",
        "json",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    let rep = std::fs::read_to_string(&report).unwrap();
    assert!(rep.starts_with("line,status,"), "{rep}");
    assert!(rep.contains("status is not a number"), "{rep}");
    assert!(rep.contains("left this request out"), "{rep}");
}

#[test]
fn the_report_may_not_be_the_input() {
    let g = tenant();
    let content = "userPrincipalName,mobilePhone\nkim@contoso.com,+1 2065550999\n";
    let file = g.file("hr.csv", content);
    for dry in [true, false] {
        let mut args = vec!["import", file.as_str(), "--report", file.as_str()];
        if dry {
            args.push("--dry-run");
        }
        let (code, _, err) = g.run(&args);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("is the input file"), "{err}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), content);
    }
    assert!(g.emu.seen().is_empty());
}

#[test]
fn formula_cells_are_neutralised_and_the_export_reimports_unchanged() {
    let env = Env::new();
    let (code, _, err) = env.run(&[
        "new-user",
        "calc@contoso.com",
        "--display-name",
        "=HYPERLINK(\"http://x\")",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = env.run(&[
        "set-user",
        "calc@contoso.com",
        "--alternate-email=-pwn@fabrikam.com",
        "--mobile-phone",
        "+1 2065550100",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, csv, err) = env.run(&["get-user", "--all", "-o", "csv"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        csv.contains(
            "calc@contoso.com,\"'=HYPERLINK(\"\"http://x\"\")\",'-pwn@fabrikam.com,+1 2065550100,"
        ),
        "{csv}"
    );
    let (code, tsv, _) = env.run(&["get-user", "calc@contoso.com", "-o", "tsv"]);
    assert_eq!(code, 0);
    assert!(tsv.contains("\t'=HYPERLINK"), "{tsv}");
    let path = env.home.path().join("export.csv");
    std::fs::write(&path, &csv).unwrap();
    let (code, out, err) = env.run(&["import", path.to_str().unwrap(), "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let s: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(s["updated"], 0, "{out}");
    assert_eq!(s["unchanged"], s["rows"], "{out}");
}

#[test]
fn a_foreign_sqlite_file_is_not_modified() {
    let env = Env::new();
    let path = env.home.path().join("other.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE invoices (id INTEGER); INSERT INTO invoices VALUES (1);")
        .unwrap();
    drop(conn);
    let before = std::fs::read(&path).unwrap();
    let spec = format!("local:{}", path.display());
    let (code, _, err) = env.run(&["--directory", &spec, "get-user", "--all"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("is not an ssprctl directory (it holds other tables: invoices)"),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert!(!env.home.path().join("other.db-wal").exists());
}

#[test]
fn huge_cells_and_many_problems_are_bounded() {
    let env = Env::new();
    let mut cell = String::new();
    for i in 0..100_000 {
        cell.push_str(&format!("a{i}@fabrikam.com;"));
    }
    let path = env.home.path().join("big.csv");
    std::fs::write(
        &path,
        format!("userPrincipalName,alternateEmailAddresses\nkim@contoso.com,{cell}\n"),
    )
    .unwrap();
    let (code, _, err) = env.run(&["import", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("more than 250 addresses"), "{err}");
    assert!(
        err.len() < 10_000,
        "the cell is not echoed whole: {} bytes",
        err.len()
    );
    // 300 bad rows: 100 in full, then counts; every one in the report.
    let mut s = String::from("userPrincipalName,mobilePhone\n");
    for i in 0..300 {
        s.push_str(&format!("u{i}@contoso.com,not a phone\n"));
    }
    std::fs::write(&path, s).unwrap();
    let report = env.home.path().join("r.csv");
    let (code, _, err) = env.run(&[
        "import",
        path.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        err.lines().filter(|l| l.starts_with("line ")).count(),
        100,
        "{err}"
    );
    assert!(
        err.contains("… and 200 more problems: 200 in mobilePhone (every one is in the report)"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&report).unwrap().lines().count(),
        301
    );
}

#[test]
fn writes_are_paced_at_the_quota() {
    let emu = Emulator::start();
    emu.add_many(1800);
    let g = Tenant::new(emu);
    // 600 writes per 2 s: the 1,800 rows need a little over 4 s, with at most 2% answered 429.
    g.emu.state().quota = Some(Quota::new(600, Duration::from_secs(2)));
    let file = g.file("in.csv", &rows(1800));
    let (code, out, err) = g.run(&["import", &file, "-o", "json", "-v"]);
    assert_eq!(code, 0, "{err}");
    let s: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (s["updated"].as_u64(), s["failed"].as_u64()),
        (Some(1800), Some(0))
    );
    let q = g.emu.state().quota.clone().unwrap();
    assert_eq!(q.accepted, 1800);
    assert!(
        q.throttled * 50 <= 1800,
        "{} items answered 429",
        q.throttled
    );
    assert!(err.contains("pacing writes to a quota of about"), "{err}");
}
