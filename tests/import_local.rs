//! `import` end to end against the local directory: mixed changes, dry run, invalid rows,
//! --skip-invalid, unknown users, idempotence, report round trip, export round trip, and
//! messy real-world files.

mod common;

use common::{Env, json_error};
use serde_json::{Value, json};
use ssprctl::directory::local::LocalDirectory;
use ssprctl::model::{AuthDetails, User};

/// A directory with `n` users `u0000@contoso.com`…; every 10th is synchronised.
fn directory(env: &Env, n: usize) -> String {
    let path = env.home.path().join("bulk.db");
    let (d, _) = LocalDirectory::open(&path, false).unwrap();
    for i in 0..n {
        d.insert(
            &User {
                id: format!("00000000-0000-4000-8000-{i:012}"),
                user_principal_name: format!("u{i:04}@contoso.com"),
                display_name: Some(format!("User {i}")),
                mobile_phone: (i % 3 == 0).then(|| "+1 2065550100".to_string()),
                on_premises_sync_enabled: i % 10 == 9,
                account_enabled: None,
                user_type: None,
                ..Default::default()
            },
            &AuthDetails::default(),
        )
        .unwrap();
    }
    format!("local:{}", path.display())
}

fn write(env: &Env, name: &str, content: &str) -> String {
    let p = env.home.path().join(name);
    std::fs::write(&p, content).unwrap();
    p.to_str().unwrap().to_string()
}

/// 2,000 rows: per user i, a mix of new mobiles, unchanged mobiles, alternate emails,
/// authentication phones and office phones (not for synced users).
fn mixed_file(n: usize) -> String {
    let mut s = String::from(
        "userPrincipalName,mobilePhone,otherMails,authenticationPhone,TelephoneNumber\n",
    );
    for i in 0..n {
        let synced = i % 10 == 9;
        let mobile = match i % 3 {
            0 => "+1 206 555 0100".to_string(), // unchanged (already set)
            _ if synced => String::new(),
            _ => format!("+1 206 555 {:04}", 1000 + i),
        };
        let mails = if i % 5 == 0 {
            format!("u{i}@fabrikam.com;u{i}@outlook.com")
        } else {
            String::new()
        };
        let auth = if i % 7 == 0 {
            format!("+44 7400 {:06}", 100000 + i)
        } else {
            String::new()
        };
        let office = if i % 11 == 0 && !synced {
            "\"+44 (0)20 7946 0958\"".to_string()
        } else {
            String::new()
        };
        s.push_str(&format!(
            "u{i:04}@contoso.com,{mobile},{mails},{auth},{office}\n"
        ));
    }
    s
}

fn all_users(env: &Env, spec: &str) -> Value {
    env.json(&["--directory", spec, "get-user", "--all", "-o", "json"])
}

#[test]
fn a_2000_row_file_applies_exactly_its_changes_and_twice_changes_nothing() {
    let env = Env::new();
    let spec = directory(&env, 2000);
    let file = write(&env, "hr.csv", &mixed_file(2000));
    let report = env.home.path().join("report.jsonl");
    let (code, out, err) = env.run(&[
        "--directory",
        &spec,
        "import",
        &file,
        "--report",
        report.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let summary: Value = serde_json::from_str(&out).unwrap();
    // Rows that change: a new mobile (i%3 != 0, not synced), mails (i%5==0), auth (i%7==0), office (i%11==0, not synced).
    let expected_changed = (0..2000)
        .filter(|i| {
            let synced = i % 10 == 9;
            (i % 3 != 0 && !synced) || i % 5 == 0 || i % 7 == 0 || (i % 11 == 0 && !synced)
        })
        .count();
    assert_eq!(summary["rows"], 2000);
    assert_eq!(summary["updated"], expected_changed);
    assert_eq!(summary["unchanged"], 2000 - expected_changed);
    assert_eq!(summary["failed"], 0);
    assert!(summary.get("httpRequests").is_none());
    assert!(
        err.contains(&format!("import: 2000 rows: {expected_changed} updated")),
        "{err}"
    );
    // The directory holds the file's values.
    let users = all_users(&env, &spec);
    assert_eq!(users[1]["mobilePhone"], "+1 2065551001");
    assert_eq!(
        users[19]["mobilePhone"],
        Value::Null,
        "synced user with an empty cell left alone"
    );
    assert_eq!(
        users[0]["alternateEmailAddresses"],
        json!(["u0@fabrikam.com", "u0@outlook.com"])
    );
    assert_eq!(users[11]["officePhone"], "+44 2079460958");
    let auth = env.json(&[
        "--directory",
        &spec,
        "get-auth-details",
        "u0007@contoso.com",
    ]);
    assert_eq!(auth["authenticationPhone"], "+44 7400100007");
    // The report has a record per row.
    let lines: Vec<Value> = std::fs::read_to_string(&report)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2000);
    assert_eq!(lines[1]["line"], 3);
    assert_eq!(lines[1]["status"], "updated");
    assert_eq!(lines[1]["changed"], json!(["mobilePhone"]));
    assert_eq!(lines[1]["mobilePhone"], "+1 206 555 1001");
    assert_eq!(lines[3]["status"], "unchanged");
    // Running the same file again makes no writes.
    let before = std::fs::read(env.home.path().join("bulk.db")).unwrap();
    let (code, out, _) = env.run(&["--directory", &spec, "import", &file, "-o", "json"]);
    assert_eq!(code, 0);
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (summary["updated"].as_u64(), summary["unchanged"].as_u64()),
        (Some(0), Some(2000))
    );
    assert_eq!(all_users(&env, &spec), users);
    let _ = before;
}

#[test]
fn dry_run_prints_the_plan_and_writes_nothing() {
    let env = Env::new();
    let spec = directory(&env, 30);
    let file = write(&env, "hr.csv", &mixed_file(30));
    let before = all_users(&env, &spec);
    let (code, out, err) = env.run(&[
        "--directory",
        &spec,
        "import",
        &file,
        "--dry-run",
        "-o",
        "table",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with(
        "u0000@contoso.com: 3 changes (dry run: nothing written)\n  \
         alternateEmailAddresses  (none) → u0@fabrikam.com;u0@outlook.com\n  \
         officePhone              (none) → +44 2079460958\n  \
         authenticationPhone      (none) → +44 7400100000\n\
         u0001@contoso.com: 1 change (dry run: nothing written)\n  mobilePhone  (none) → +1 2065551001\n"), "{out}");
    assert!(err.contains("dry run: 30 rows: "), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(all_users(&env, &spec), before);
    let (_, out, _) = env.run(&[
        "--directory",
        &spec,
        "import",
        &file,
        "--dry-run",
        "-o",
        "csv",
    ]);
    assert!(out.starts_with("userPrincipalName,field,old,new\nu0000@contoso.com,alternateEmailAddresses,,\"u0@fabrikam.com;u0@outlook.com\"\n"), "{out}");
}

#[test]
fn an_invalid_row_writes_nothing_and_every_problem_is_listed() {
    let env = Env::new();
    let spec = directory(&env, 10);
    let before = all_users(&env, &spec);
    let file = write(
        &env,
        "bad.csv",
        "userPrincipalName,mobilePhone,alternateEmailAddresses\nu0001@contoso.com,+1 206 555 0199,\nu0002@contoso.com,555-0100,\nu0003@contoso.com,,jöran@x.com\n,+1 206 555 0111,\n",
    );
    let (code, out, err) = env.run(&["--directory", &spec, "import", &file, "-o", "json"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(out, "");
    assert!(
        err.contains(
            "line 3: mobilePhone \"555-0100\": no country code (it does not start with +)\n"
        ),
        "{err}"
    );
    assert!(err.contains("line 4: alternateEmailAddresses \"jöran@x.com\": contains 'ö'; Entra ID accepts ASCII characters only\n"), "{err}");
    assert!(
        err.contains(
            "line 5: userPrincipalName \"\": no user: userPrincipalName and id are both empty\n"
        ),
        "{err}"
    );
    assert!(
        err.contains("error: 3 of 4 rows have problems; nothing was written\n"),
        "{err}"
    );
    let problems: Vec<Value> = err
        .lines()
        .filter(|l| l.starts_with("{\"problem\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(problems.len(), 3);
    assert_eq!(
        problems[0]["problem"],
        json!({"line": 3, "field": "mobilePhone", "input": "555-0100", "message": "no country code (it does not start with +)", "hint": "write it as +CountryCode Number (e.g. +1 4255550100), or give --default-region CC (e.g. --default-region US) for national numbers"})
    );
    assert_eq!(json_error(&err)["error"]["code"], "invalid_rows");
    assert_eq!(all_users(&env, &spec), before);
}

#[test]
fn skip_invalid_applies_the_rest_and_reports_the_skipped() {
    let env = Env::new();
    let spec = directory(&env, 10);
    let file = write(
        &env,
        "bad.csv",
        "userPrincipalName,mobilePhone\nu0001@contoso.com,+1 206 555 0199\nu0002@contoso.com,555-0100\n",
    );
    let report = env.home.path().join("r.csv");
    let (code, out, err) = env.run(&[
        "--directory",
        &spec,
        "import",
        &file,
        "--skip-invalid",
        "--report",
        report.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(code, 1, "{err}");
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (summary["updated"].as_u64(), summary["skipped"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(
        err.contains("warning: 1 invalid rows will be skipped (--skip-invalid)"),
        "{err}"
    );
    let rep = std::fs::read_to_string(&report).unwrap();
    assert_eq!(
        rep,
        "line,status,userPrincipalName,mobilePhone,changed,errorCode,errorMessage,warnings\n\
         2,updated,u0001@contoso.com,'+1 206 555 0199,mobilePhone,,,\n\
         3,skipped,u0002@contoso.com,555-0100,,invalid_row,\"mobilePhone \"\"555-0100\"\": no country code (it does not start with +)\",\n"
    );
    assert_eq!(all_users(&env, &spec)[1]["mobilePhone"], "+1 2065550199");
}

#[test]
fn unknown_users_fail_their_rows_and_exit_3_then_the_report_retries_them() {
    let env = Env::new();
    let spec = directory(&env, 3);
    let file = write(
        &env,
        "f.csv",
        "userPrincipalName,mobilePhone\nu0001@contoso.com,+1 206 555 0199\nnew.hire@contoso.com,+1 206 555 0198\n",
    );
    let report = env.home.path().join("r.csv");
    let (code, _, err) = env.run(&[
        "--directory",
        &spec,
        "import",
        &file,
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("line 3: new.hire@contoso.com failed (user_not_found): user new.hire@contoso.com not found"), "{err}");
    // Feed the failed rows back once the user exists.
    let rep = std::fs::read_to_string(&report).unwrap();
    let mut lines = rep.lines();
    let mut failed = format!("{}\n", lines.next().unwrap());
    for l in lines.filter(|l| l.contains(",failed,")) {
        failed.push_str(l);
        failed.push('\n');
    }
    let retry = write(&env, "retry.csv", &failed);
    env.run(&["--directory", &spec, "new-user", "new.hire@contoso.com"]);
    let (code, out, err) = env.run(&["--directory", &spec, "import", &retry, "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (summary["rows"].as_u64(), summary["updated"].as_u64()),
        (Some(1), Some(1))
    );
}

#[test]
fn synced_user_rows_fail_with_the_refusal() {
    let env = Env::new();
    let spec = directory(&env, 10);
    let file = write(
        &env,
        "f.jsonl",
        "{\"userPrincipalName\":\"u0009@contoso.com\",\"mobilePhone\":\"+1 206 555 0199\"}\n{\"userPrincipalName\":\"u0009@contoso.com\",\"authenticationPhone\":\"+1 206 555 0199\"}\n",
    );
    let (code, _, err) = env.run(&["--directory", &spec, "import", &file]);
    assert_eq!(code, 2, "two different rows for one user: {err}");
    assert!(
        err.contains("u0009@contoso.com is also on line 1, with different values"),
        "{err}"
    );
    let file = write(
        &env,
        "g.jsonl",
        "{\"userPrincipalName\":\"u0009@contoso.com\",\"mobilePhone\":\"+1 206 555 0199\"}\n",
    );
    let (code, _, err) = env.run(&["--directory", &spec, "import", &file]);
    assert_eq!(code, 1);
    assert!(err.contains("failed (synced_user)"), "{err}");
}

#[test]
fn jsonl_null_clears_and_absent_leaves_alone_and_clear_empty() {
    let env = Env::new();
    let spec = directory(&env, 4);
    let file = write(
        &env,
        "f.jsonl",
        "{\"userPrincipalName\":\"u0000@contoso.com\",\"mobilePhone\":null}\n{\"id\":\"00000000-0000-4000-8000-000000000003\",\"otherMails\":[\"x@y.com\"],\"mobilePhone\":\"\"}\n",
    );
    let (code, _, err) = env.run(&["--directory", &spec, "import", &file]);
    assert_eq!(code, 0, "{err}");
    let users = all_users(&env, &spec);
    assert_eq!(users[0]["mobilePhone"], Value::Null);
    assert_eq!(
        users[3]["mobilePhone"], "+1 2065550100",
        "\"\" leaves alone without --clear-empty"
    );
    assert_eq!(users[3]["alternateEmailAddresses"], json!(["x@y.com"]));
    let (code, _, _) = env.run(&["--directory", &spec, "import", &file, "--clear-empty"]);
    assert_eq!(code, 0);
    assert_eq!(all_users(&env, &spec)[3]["mobilePhone"], Value::Null);
}

#[test]
fn an_export_re_imports_as_all_unchanged() {
    let env = Env::new();
    for format in ["csv", "jsonl"] {
        let (code, out, _) = env.run(&["get-user", "--all", "-o", format]);
        assert_eq!(code, 0);
        let file = write(&env, &format!("export.{format}"), &out);
        let (code, out, err) = env.run(&["import", &file, "-o", "json"]);
        assert_eq!(code, 0, "{format}: {err}");
        let summary: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(summary["unchanged"], 5, "{format}");
        assert_eq!(summary["updated"], 0, "{format}");
        assert!(!err.contains("warning"), "{format}: {err}");
    }
}

#[test]
fn messy_csv_files() {
    let env = Env::new();
    let spec = directory(&env, 3);
    // BOM, CRLF, quoted commas and newlines, an extra column.
    let file = write(
        &env,
        "messy.csv",
        "\u{feff}UserPrincipalName,Notes,PhoneNumber\r\nu0001@contoso.com,\"has, a comma\r\nand a line\",\"+44 (0)20 7946 0958\"\r\n",
    );
    let (code, _, err) = env.run(&["--directory", &spec, "import", &file]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: column \"Notes\" is not an ssprctl field and is ignored"),
        "{err}"
    );
    assert_eq!(all_users(&env, &spec)[1]["officePhone"], "+44 2079460958");
    // No identity column.
    let file = write(
        &env,
        "noid.csv",
        "DisplayName,MobilePhone\nKim,+1 206 555 0100\n",
    );
    let (code, _, err) = env.run(&["--directory", &spec, "import", &file]);
    assert_eq!(code, 2);
    assert!(
        err.contains("error: the file has no userPrincipalName or id column"),
        "{err}"
    );
    // Windows-1252 bytes.
    let p = env.home.path().join("latin1.csv");
    std::fs::write(
        &p,
        b"userPrincipalName,displayName\nu0001@contoso.com,J\xf6ran\n",
    )
    .unwrap();
    let (code, _, err) = env.run(&["--directory", &spec, "import", p.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("error: line 2: the file is not UTF-8"),
        "{err}"
    );
    assert!(err.contains("hint: save it as UTF-8"), "{err}");
    // A short row.
    let file = write(
        &env,
        "short.csv",
        "userPrincipalName,mobilePhone\nu0001@contoso.com\n",
    );
    let (code, _, err) = env.run(&["--directory", &spec, "import", &file]);
    assert_eq!(code, 2);
    assert!(
        err.contains("line 2: 1 fields where the header has 2"),
        "{err}"
    );
}

#[test]
fn format_comes_from_the_extension_or_the_flag_and_stdin_works() {
    let env = Env::new();
    let spec = directory(&env, 3);
    let file = write(
        &env,
        "data.txt",
        "userPrincipalName,mobilePhone\nu0001@contoso.com,+1 206 555 0199\n",
    );
    let (code, _, err) = env.run(&["--directory", &spec, "import", &file]);
    assert_eq!(code, 2);
    assert!(err.contains("give --format csv or --format jsonl"), "{err}");
    let (code, _, err) = env.run(&["--directory", &spec, "import", &file, "--format", "csv"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = env.run_stdin(
        &["--directory", &spec, "import", "-", "--format", "jsonl"],
        "{\"userPrincipalName\":\"u0002@contoso.com\",\"mobilePhone\":\"+1 206 555 0198\"}\n",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(all_users(&env, &spec)[2]["mobilePhone"], "+1 2065550198");
    let (code, _, err) = env.run(&[
        "--directory",
        &spec,
        "import",
        &file,
        "--format",
        "csv",
        "--report",
        "r.txt",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("must end in .csv or .jsonl"), "{err}");
}

#[test]
fn european_excel_files_tabs_and_stdin_without_a_format() {
    let env = Env::new();
    // `;` from European Excel, headers with spaces, a BOM.
    let (code, out, err) = env.run_stdin(
        &["import", "-", "--dry-run", "-o", "json"],
        "\u{feff}User Principal Name;Mobile Phone\nlee.gu@contoso.com;+44 7400 123457\n",
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["changes"][0]["new"], "+44 7400123457");
    // JSON Lines on stdin, told by its content.
    let (code, out, err) = env.run_stdin(
        &["import", "-", "--dry-run", "-o", "json"],
        "{\"userPrincipalName\":\"lee.gu@contoso.com\",\"mobilePhone\":\"+44 7400 123458\"}\n",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()[0]["changes"][0]["new"],
        "+44 7400123458"
    );
    // An explicit separator.
    let (code, out, err) = env.run_stdin(
        &[
            "import",
            "-",
            "--delimiter",
            "tab",
            "--dry-run",
            "-o",
            "json",
        ],
        "userPrincipalName\tofficePhone\nlee.gu@contoso.com\t+44 20 7946 0000\n",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()[0]["changes"][0]["field"],
        "officePhone"
    );
    // No identity column: the columns found are listed.
    let (code, _, err) = env.run_stdin(&["import", "-"], "upn|mobile\nx|y\n");
    assert_eq!(code, 2);
    assert!(err.contains("(its columns: \"upn|mobile\")"), "{err}");
    // A bare Email column is refused, naming both meanings.
    let (code, _, err) = env.run_stdin(
        &["import", "-"],
        "userPrincipalName,Email\nlee.gu@contoso.com,lee.gu@contoso.com\n",
    );
    assert_eq!(code, 2);
    assert!(err.contains("column \"Email\" is ambiguous"), "{err}");
    assert!(
        err.contains("alternateEmailAddresses or authenticationEmail"),
        "{err}"
    );
}

#[test]
fn an_authentication_email_equal_to_the_upn_is_warned_about() {
    let env = Env::new();
    let (code, _, err) = env.run_stdin(
        &["import", "-", "--dry-run"],
        "userPrincipalName,authenticationEmail\nlee.gu@contoso.com,Lee.Gu@contoso.com\n",
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("authentication email Lee.Gu@contoso.com is the user's own sign-in name"),
        "{err}"
    );
    let (code, _, err) = env.run(&[
        "set-auth-details",
        "lee.gu@contoso.com",
        "--email",
        "lee.gu@contoso.com",
        "--dry-run",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("is the user's own sign-in name"), "{err}");
}

#[test]
fn conflicting_duplicates_are_both_skipped() {
    let env = Env::new();
    let (code, out, err) = env.run_stdin(
        &["import", "-", "--skip-invalid", "-o", "json"],
        "userPrincipalName,mobilePhone\nlee.gu@contoso.com,+44 7400 111111\nadele.vance@contoso.com,+1 206 555 0199\nLEE.GU@contoso.com,+44 7400 222222\n",
    );
    assert_eq!(code, 1, "{err}");
    let s: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (s["updated"].as_u64(), s["skipped"].as_u64()),
        (Some(1), Some(2))
    );
    let lee = env.json(&["get-user", "lee.gu@contoso.com", "-o", "json"]);
    assert_eq!(
        lee[0]["mobilePhone"], "+44 7400123456",
        "neither side was written"
    );
}

#[test]
fn a_region_column_reads_each_rows_national_numbers() {
    let env = Env::new();
    let (code, out, err) = env.run_stdin(
        &["import", "-", "--region-column", "Country", "--default-region", "US", "--dry-run", "-o", "json"],
        "userPrincipalName,mobilePhone,Country\nlee.gu@contoso.com,07400 123999,GB\nadele.vance@contoso.com,(206) 555-0999,\n",
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let new: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["changes"][0]["new"].as_str().unwrap())
        .collect();
    assert_eq!(
        new,
        ["+44 7400123999", "+1 2065550999"],
        "GB for Lee's row; the default for an empty cell"
    );
    assert!(
        !err.contains("Country"),
        "the region column is not an unknown column: {err}"
    );
    // A bad region is that row's problem; a missing column is the file's.
    let (code, _, err) = env.run_stdin(
        &["import", "-", "--region-column", "Country"],
        "userPrincipalName,mobilePhone,Country\nlee.gu@contoso.com,07400 123999,UK\n",
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("line 2: (region column) \"UK\": not a two-letter ISO 3166 region code"),
        "{err}"
    );
    let (code, _, err) = env.run_stdin(
        &["import", "-", "--region-column", "Land"],
        "userPrincipalName,mobilePhone\nx@y.com,+1 2065550100\n",
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("--region-column Land: the file has no such column"),
        "{err}"
    );
}

#[test]
fn create_missing_makes_a_sandbox_in_one_run() {
    let env = Env::new();
    let spec = format!("local:{}", env.home.path().join("sandbox.db").display());
    let mut csv = String::from("userPrincipalName,mobilePhone\n");
    for i in 0..300 {
        csv.push_str(&format!("new{i:04}@sandbox.com,+1 206 555 {i:04}\n"));
    }
    let (code, out, err) = env.run_stdin(
        &[
            "--directory",
            &spec,
            "import",
            "-",
            "--create-missing",
            "-o",
            "json",
        ],
        &csv,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("created 300 missing users (--create-missing)"),
        "{err}"
    );
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["updated"], 300);
    let v = env.json(&[
        "--directory",
        &spec,
        "get-user",
        "new0042@sandbox.com",
        "-o",
        "json",
    ]);
    assert_eq!(v[0]["mobilePhone"], "+1 2065550042");
    // Not on a tenant: refused before anything.
    let (code, _, err) = env.run_stdin(
        &["--directory", "graph", "import", "-", "--create-missing"],
        &csv,
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("works on the local directory only"), "{err}");
}

#[test]
fn progress_shows_on_a_terminal_and_never_in_a_pipe() {
    let env = Env::new();
    let mut csv = String::from("userPrincipalName,mobilePhone\n");
    for i in 0..5 {
        csv.push_str(
            &format!("lee.gu@contoso.com,+44 7400 12345{i}\n").replace("lee.gu", &format!("u{i}")),
        );
    }
    let file = write(&env, "p.csv", &csv);
    // Piped: no progress at all on stderr.
    let (_, _, err) = env.run(&["import", &file, "-o", "json"]);
    assert!(
        !err.contains("validating") && !err.contains('\u{1b}'),
        "{err:?}"
    );
    // On a terminal (script gives one): the phases are drawn, then cleared.
    let bin = assert_cmd::cargo::cargo_bin("ssprctl");
    let out = std::process::Command::new("script")
        .args([
            "-q",
            "-e",
            "-c",
            &format!("{} import {file} -o json > /dev/null", bin.display()),
            "/dev/null",
        ])
        .env("SSPRCTL_HOME", env.home.path())
        .output()
        .unwrap();
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(
        tty.contains("reading ") || tty.contains("validating 5 rows") || tty.contains("rows ·"),
        "{tty:?}"
    );
}
