//! `import --directory graph` against the emulator: batched reads and writes, throttled batch
//! items, idempotence, dry run, unknown users, report and export round trips, and Ctrl-C.

mod common;
mod emulator;
mod tenant;

use std::time::Duration;

use emulator::Emulator;
use serde_json::{Value, json};
use tenant::Tenant;

/// An emulator with `users` users `user00000@contoso.com`….
fn tenant(users: usize) -> Tenant {
    let emu = Emulator::start();
    emu.add_many(users);
    Tenant::new(emu)
}

/// 2,000 rows: rows 0..1600 change the mobile phone, every 4th of those also the alternate
/// emails, the rest restate nothing new.
fn mixed(n: usize, changed: usize) -> String {
    let mut s = String::from("userPrincipalName,mobilePhone,alternateEmailAddresses\n");
    for i in 0..n {
        if i < changed {
            let mails = if i % 4 == 0 {
                format!("u{i}@fabrikam.com")
            } else {
                String::new()
            };
            s.push_str(&format!(
                "user{i:05}@contoso.com,+1 206 555 {:04},{mails}\n",
                i % 10000
            ));
        } else {
            s.push_str(&format!("user{i:05}@contoso.com,,\n"));
        }
    }
    s
}

fn summary(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn a_2000_row_file_takes_few_requests_and_twice_writes_nothing() {
    let g = tenant(2000);
    let file = g.file("hr.csv", &mixed(2000, 1600));
    g.emu.clear_seen();
    let (code, out, err) = g.run(&["import", &file, "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let s = summary(&out);
    assert_eq!(
        (
            s["updated"].as_u64(),
            s["unchanged"].as_u64(),
            s["failed"].as_u64()
        ),
        (Some(1600), Some(400), Some(0))
    );
    let reqs = g.emu.graph_requests();
    // $count, 3 pages of 999 (fewer than 100 batches of 20 GETs), 1600/20 = 80 write batches.
    assert_eq!(
        reqs.iter().filter(|r| r.ends_with("/users/$count")).count(),
        1
    );
    assert_eq!(reqs.iter().filter(|r| *r == "GET /v1.0/users").count(), 3);
    assert_eq!(reqs.iter().filter(|r| r.ends_with("/$batch")).count(), 80);
    assert_eq!(reqs.len(), 84, "{reqs:?}");
    assert_eq!(s["httpRequests"], 84);
    assert_eq!(g.emu.state().batch_item_counts.get("PATCH"), Some(&1600));
    assert_eq!(
        g.emu.user("user00005@contoso.com").mobile_phone.as_deref(),
        Some("+1 2065550005")
    );
    assert_eq!(
        g.emu
            .user("user00004@contoso.com")
            .alternate_email_addresses,
        ["u4@fabrikam.com"]
    );
    // Again: reads only.
    g.emu.clear_seen();
    let (code, out, _) = g.run(&["import", &file, "-o", "json"]);
    assert_eq!(code, 0);
    assert_eq!(summary(&out)["unchanged"], 2000);
    assert!(
        g.emu
            .graph_requests()
            .iter()
            .all(|r| !r.ends_with("/$batch")),
        "{:?}",
        g.emu.graph_requests()
    );
}

#[test]
fn throttled_batch_items_are_retried_until_every_row_is_updated() {
    let g = tenant(300);
    g.emu.state().batch_throttle_every = Some(10);
    let file = g.file("hr.csv", &mixed(300, 300));
    let report = g.env.home.path().join("r.jsonl");
    let (code, out, err) = g.run(&[
        "import",
        &file,
        "--report",
        report.to_str().unwrap(),
        "-o",
        "json",
        "-v",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(summary(&out)["updated"], 300);
    // The run slowed down when throttled.
    assert!(
        err.contains("throttled: down to 2 batches in flight, nothing sent for 0.05 s"),
        "{err}"
    );
    let rows: Vec<Value> = std::fs::read_to_string(&report)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(rows.iter().all(|r| r["status"] == "updated"));
    // Every item was answered: the throttled ones were sent again.
    let patches = g
        .emu
        .state()
        .batch_item_counts
        .get("PATCH")
        .copied()
        .unwrap();
    assert!(patches > 300, "{patches}");
    for i in [0, 9, 19, 299] {
        assert_eq!(
            g.emu
                .user(&format!("user{i:05}@contoso.com"))
                .mobile_phone
                .as_deref(),
            Some(format!("+1 206555{:04}", i).as_str())
        );
    }
}

#[test]
fn small_files_read_users_in_batches_and_unknown_users_fail() {
    let g = tenant(2000);
    let file = g.file("f.jsonl", "{\"userPrincipalName\":\"user00001@contoso.com\",\"mobilePhone\":\"+44 7400 123456\"}\n{\"userPrincipalName\":\"ghost@contoso.com\",\"mobilePhone\":\"+44 7400 123457\"}\n");
    g.emu.clear_seen();
    let (code, out, err) = g.run(&["import", &file, "-o", "json"]);
    assert_eq!(code, 3, "{err}");
    let s = summary(&out);
    assert_eq!(
        (s["updated"].as_u64(), s["failed"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(
        err.contains("line 2: ghost@contoso.com failed (user_not_found)"),
        "{err}"
    );
    // $count, one batch of 2 GETs, one batch with the PATCH.
    let reqs = g.emu.graph_requests();
    assert_eq!(
        reqs,
        [
            "GET /v1.0/users/$count",
            "POST /v1.0/$batch",
            "POST /v1.0/$batch"
        ],
        "{reqs:?}"
    );
}

#[test]
fn dry_run_reads_and_writes_nothing() {
    let g = tenant(50);
    let file = g.file("hr.csv", &mixed(50, 10));
    g.emu.clear_seen();
    let (code, out, err) = g.run(&["import", &file, "--dry-run", "-o", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    let plans: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(plans.len(), 10);
    assert_eq!(plans[0]["dryRun"], true);
    assert_eq!(
        plans[1]["changes"],
        json!([{"field": "mobilePhone", "old": null, "new": "+1 2065550001"}])
    );
    assert_eq!(g.emu.state().batch_item_counts.get("PATCH"), None);
    assert_eq!(g.emu.user("user00001@contoso.com").mobile_phone, None);
}

#[test]
fn authentication_methods_are_imported_in_order() {
    let g = tenant(5);
    let file = g.file("auth.csv", "userPrincipalName,AlternativePhoneNumber,authenticationPhone,authenticationEmail\nuser00001@contoso.com,+44 20 7946 0958,+44 7400 123456,u1@fabrikam.com\n");
    g.emu.clear_seen();
    let (code, _, err) = g.run(&["import", &file]);
    assert_eq!(code, 0, "{err}");
    let a = g.emu.auth("user00001@contoso.com");
    assert_eq!(a.authentication_phone.as_deref(), Some("+44 7400123456"));
    assert_eq!(
        a.alternate_authentication_phone.as_deref(),
        Some("+44 2079460958")
    );
    assert_eq!(a.authentication_email.as_deref(), Some("u1@fabrikam.com"));
    let posts: Vec<String> = g
        .emu
        .seen()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.contains("phoneMethods"))
        .map(|r| r.body)
        .collect();
    assert_eq!(posts.len(), 2);
    assert!(posts[0].contains("\"mobile\""), "{posts:?}");
    let (code, out, _) = g.run(&["import", &file, "-o", "json"]);
    assert_eq!(code, 0);
    assert_eq!(summary(&out)["unchanged"], 1);
}

#[test]
fn an_export_from_graph_re_imports_as_unchanged() {
    let g = tenant(40);
    let (code, out, err) = g.run(&["get-user", "--all", "-o", "csv"]);
    assert_eq!(code, 0, "{err}");
    let file = g.file("export.csv", &out);
    let (code, out, err) = g.run(&["import", &file, "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(summary(&out)["unchanged"], 40);
}

#[test]
fn ctrl_c_stops_sending_writes_the_report_and_exits_130() {
    let g = tenant(400);
    g.emu.set_latency(Duration::from_millis(150));
    let file = g.file("hr.csv", &mixed(400, 400));
    let report = g.env.home.path().join("r.csv");
    let mut c = g.env.std_cmd();
    c.args([
        "--directory",
        "graph",
        "--graph-url",
        &g.emu.url,
        "--authority-host",
        &g.emu.url,
        "import",
        &file,
        "--concurrency",
        "1",
        "--report",
        report.to_str().unwrap(),
        "-o",
        "json",
    ]);
    c.env("SSPRCTL_ACCESS_TOKEN", &g.token);
    let child = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until writes have started, then interrupt.
    let started = std::time::Instant::now();
    while !g.emu.state().batch_item_counts.contains_key("PATCH")
        && started.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted: finishing the requests in flight"),
        "{err}"
    );
    let s = summary(&String::from_utf8_lossy(&out.stdout));
    let updated = s["updated"].as_u64().unwrap();
    assert!(updated > 0 && updated < 400, "{s}");
    // Rows the interruption left out are counted as not attempted, not as skipped.
    assert_eq!(s["skipped"], 0, "{s}");
    assert_eq!(s["notAttempted"].as_u64().unwrap() + updated, 400);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("interrupted: "),
        "{err}"
    );
    let rep = std::fs::read_to_string(&report).unwrap();
    assert_eq!(rep.lines().count(), 401);
    assert!(
        rep.contains(",skipped,") && rep.contains(",interrupted,"),
        "{rep}"
    );
    // What the report says was updated is what the tenant holds.
    let patched = g
        .emu
        .state()
        .batch_item_counts
        .get("PATCH")
        .copied()
        .unwrap_or(0) as u64;
    assert_eq!(patched, updated);
}

#[test]
fn an_invalid_row_sends_no_request_at_all() {
    let g = tenant(20);
    let file = g.file("bad.csv", "userPrincipalName,mobilePhone\nuser00001@contoso.com,+1 206 555 0100\nuser00002@contoso.com,0100\n");
    g.emu.clear_seen();
    let vars = [
        ("AZURE_TENANT_ID", "t"),
        ("AZURE_CLIENT_ID", "c"),
        ("AZURE_CLIENT_SECRET", "s"),
    ];
    let (code, out, err) = g.run_env(&["import", &file], &vars);
    assert_eq!(code, 2, "{err}");
    assert_eq!(out, "");
    assert!(
        err.contains("line 3: mobilePhone \"0100\": no country code"),
        "{err}"
    );
    assert!(
        g.emu.seen().is_empty(),
        "not even a token request: {:?}",
        g.emu.seen()
    );
}

#[test]
fn skip_invalid_imports_the_valid_rows() {
    let g = tenant(20);
    let file = g.file("bad.csv", "userPrincipalName,mobilePhone\nuser00001@contoso.com,+1 206 555 0100\nuser00002@contoso.com,0100\n");
    let report = g.env.home.path().join("r.jsonl");
    let (code, out, err) = g.run(&[
        "import",
        &file,
        "--skip-invalid",
        "--report",
        report.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(code, 1, "{err}");
    let s = summary(&out);
    assert_eq!(
        (s["updated"].as_u64(), s["skipped"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        g.emu.user("user00001@contoso.com").mobile_phone.as_deref(),
        Some("+1 2065550100")
    );
    assert_eq!(g.emu.user("user00002@contoso.com").mobile_phone, None);
    let rows: Vec<Value> = std::fs::read_to_string(&report)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows[1]["status"], "skipped");
    assert_eq!(rows[1]["errorCode"], "invalid_row");
    assert_eq!(rows[1]["mobilePhone"], "0100");
}

#[test]
fn only_rows_that_touch_authentication_methods_read_them() {
    let g = tenant(30);
    let mut file = String::from("userPrincipalName,mobilePhone,authenticationPhone\n");
    for i in 0..30 {
        let auth = if i == 7 { "+44 7400 123456" } else { "" };
        file.push_str(&format!(
            "user{i:05}@contoso.com,+1 206 555 {:04},{auth}\n",
            100 + i
        ));
    }
    let file = g.file("f.csv", &file);
    let (code, out, err) = g.run(&["import", &file, "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(summary(&out)["updated"], 30);
    let method_reads: Vec<String> = g
        .emu
        .state()
        .batch_item_paths
        .iter()
        .filter(|p| p.starts_with("GET") && p.contains("/authentication/"))
        .cloned()
        .collect();
    assert_eq!(
        method_reads,
        [
            "GET /v1.0/users/00000000-0000-4000-9000-000000000007/authentication/phoneMethods",
            "GET /v1.0/users/00000000-0000-4000-9000-000000000007/authentication/emailMethods"
        ]
    );
    assert_eq!(
        g.emu
            .auth("user00007@contoso.com")
            .authentication_phone
            .as_deref(),
        Some("+44 7400123456")
    );
}

#[test]
fn the_run_speeds_up_again_after_a_quiet_period() {
    let g = tenant(2000);
    {
        let mut s = g.emu.state();
        s.batch_throttle_every = Some(5);
        s.batch_throttle_max = Some(8);
    }
    g.emu.set_latency(Duration::from_millis(40));
    let file = g.file("hr.csv", &mixed(2000, 2000));
    let (code, out, err) = g.run(&["import", &file, "-o", "json", "-v"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(summary(&out)["updated"], 2000);
    let down = err
        .find("throttled: down to 1 batches in flight")
        .expect(&err);
    let up = err
        .find("no throttling for 2 s: up to 2 batches in flight")
        .expect(&err);
    assert!(up > down, "{err}");
}
