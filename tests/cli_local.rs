//! The binary against the local directory: every command, every output format, `--select`,
//! exit codes, the synced-user refusal, and that bad input leaves the directory unchanged.

mod common;

use common::{Env, json_error};
use serde_json::json;

const SAMPLE_NOTE: &str = "note: created the local directory at";

#[test]
fn first_run_seeds_the_default_directory_and_says_so() {
    let env = Env::new();
    let (code, out, err) = env.run(&["get-user", "--all", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.starts_with(SAMPLE_NOTE), "{err}");
    let users: serde_json::Value = serde_json::from_str(&out).unwrap();
    let upns: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userPrincipalName"].as_str().unwrap())
        .collect();
    assert_eq!(
        upns,
        [
            "adele.vance@contoso.com",
            "alex.wilber@contoso.com",
            "lee.gu@contoso.com",
            "megan.bowen@contoso.com",
            "nestor.wilke@contoso.com"
        ]
    );
    assert_eq!(users[3]["onPremisesSyncEnabled"], true);
    // Second run: no note.
    let (code, _, err) = env.run(&["get-user", "--all", "-o", "json"]);
    assert_eq!((code, err.as_str()), (0, ""));
}

#[test]
fn get_user_in_every_format() {
    let env = Env::new();
    let v = env.json(&["get-user", "Lee.Gu@contoso.com", "-o", "json"]);
    assert_eq!(
        v,
        json!([{
            "id": "e3d0513b-449e-4198-ba6f-bd97ae7cae85",
            "userPrincipalName": "lee.gu@contoso.com",
            "displayName": "Lee Gu",
            "alternateEmailAddresses": ["lee.gu@outlook.com"],
            "mobilePhone": "+44 7400123456",
            "officePhone": "+44 2079460958",
            "onPremisesSyncEnabled": false
        }])
    );
    let (code, out, _) = env.run(&[
        "get-user",
        "lee.gu@contoso.com",
        "alex.wilber@contoso.com",
        "-o",
        "jsonl",
    ]);
    assert_eq!(code, 0);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["mobilePhone"], serde_json::Value::Null);
    let (_, out, _) = env.run(&["get-user", "lee.gu@contoso.com", "-o", "csv"]);
    assert_eq!(
        out,
        "id,userPrincipalName,displayName,alternateEmailAddresses,mobilePhone,officePhone,onPremisesSyncEnabled\n\
         e3d0513b-449e-4198-ba6f-bd97ae7cae85,lee.gu@contoso.com,Lee Gu,lee.gu@outlook.com,+44 7400123456,+44 2079460958,false\n"
    );
    let (_, out, _) = env.run(&[
        "get-user",
        "alex.wilber@contoso.com",
        "-o",
        "tsv",
        "--select",
        "upn,mobilePhone"
            .replace("upn", "userPrincipalName")
            .as_str(),
    ]);
    assert_eq!(
        out,
        "userPrincipalName\tmobilePhone\nalex.wilber@contoso.com\t\n"
    );
    let (code, out, _) = env.run(&["get-user", "lee.gu@contoso.com", "-o", "table"]);
    assert_eq!(code, 0);
    let mut lines = out.lines();
    assert!(lines.next().unwrap().contains("userPrincipalName"));
    assert!(lines.next().unwrap().starts_with("---"));
    assert!(lines.next().unwrap().contains("| +44 7400123456 |"));
}

#[test]
fn piped_output_defaults_to_json_and_env_picks_format() {
    let env = Env::new();
    let (_, out, _) = env.run(&["get-user", "lee.gu@contoso.com"]);
    assert!(
        serde_json::from_str::<serde_json::Value>(&out)
            .unwrap()
            .is_array()
    );
    let out = env
        .cmd()
        .env("SSPRCTL_OUTPUT", "csv")
        .args(["get-user", "lee.gu@contoso.com", "--select", "id"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "id\ne3d0513b-449e-4198-ba6f-bd97ae7cae85\n"
    );
}

#[test]
fn select_takes_the_msonline_names_verbatim() {
    let env = Env::new();
    let (code, out, _) = env.run(&[
        "get-user",
        "adele.vance@contoso.com",
        "-o",
        "jsonl",
        "--select",
        "DisplayName,UserPrincipalName,AlternateEmailAddresses,MobilePhone,PhoneNumber",
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "{\"displayName\":\"Adele Vance\",\"userPrincipalName\":\"adele.vance@contoso.com\",\
         \"alternateEmailAddresses\":[\"adele.vance@fabrikam.com\"],\"mobilePhone\":\"+1 2065550123\",\
         \"officePhone\":\"+1 4255550100\"}\n"
    );
    let (_, out, _) = env.run(&[
        "get-user",
        "--all",
        "-o",
        "csv",
        "--select",
        "otherMails,Mobile,TelephoneNumber,ObjectId,businessPhones",
    ]);
    assert_eq!(
        out.lines().next().unwrap(),
        "alternateEmailAddresses,mobilePhone,officePhone,id"
    );
}

#[test]
fn unknown_select_field_lists_the_valid_ones() {
    let env = Env::new();
    let (code, out, err) = env.run(&["get-user", "--all", "--select", "DisplayName,Fax"]);
    assert_eq!(code, 2);
    assert_eq!(out, "");
    assert!(
        err.contains("error: unknown field \"Fax\" in --select"),
        "{err}"
    );
    assert!(
        err.contains("hint: valid fields: id, userPrincipalName, displayName"),
        "{err}"
    );
    assert_eq!(json_error(&err)["error"]["code"], "unknown_field");
}

#[test]
fn missing_users_exit_3_after_printing_the_found_ones() {
    let env = Env::new();
    let (code, out, err) = env.run(&[
        "get-user",
        "lee.gu@contoso.com",
        "nobody@contoso.com",
        "-o",
        "json",
    ]);
    assert_eq!(code, 3);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert!(
        err.contains("error: user nobody@contoso.com not found"),
        "{err}"
    );
    assert_eq!(json_error(&err)["error"]["code"], "user_not_found");
}

#[test]
fn set_user_reports_old_and_new_and_writes() {
    let env = Env::new();
    let v = env.json(&[
        "set-user",
        "adele.vance@contoso.com",
        "--mobile-phone",
        "+1 (206) 555-0199",
        "--office-phone",
        "+1 425 555 0100",
        "-o",
        "json",
    ]);
    assert_eq!(
        v,
        json!({
            "id": "6e7b768e-07e2-4810-8459-485f84f8f204",
            "userPrincipalName": "adele.vance@contoso.com",
            "dryRun": false,
            "changed": true,
            "changes": [{"field": "mobilePhone", "old": "+1 2065550123", "new": "+1 2065550199"}],
            "warnings": []
        })
    );
    let u = env.json(&["get-user", "adele.vance@contoso.com"]);
    assert_eq!(u[0]["mobilePhone"], "+1 2065550199");
    // The same again is no change.
    let (code, out, err) = env.run(&[
        "set-user",
        "adele.vance@contoso.com",
        "--mobile",
        "+1 206 555 0199",
        "-o",
        "table",
    ]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "adele.vance@contoso.com: no change\n", "")
    );
}

#[test]
fn set_user_table_and_csv_output() {
    let env = Env::new();
    env.run(&["get-user", "--all"]);
    let (code, out, _) = env.run(&[
        "set-user",
        "alex.wilber@contoso.com",
        "--mobile",
        "+44 7400 123456",
        "--other-mails",
        "alex@fabrikam.com,alex@outlook.com",
        "-o",
        "table",
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "alex.wilber@contoso.com: 2 changes\n  \
         alternateEmailAddresses  (none) → alex@fabrikam.com;alex@outlook.com\n  \
         mobilePhone              (none) → +44 7400123456\n"
    );
    let (code, out, _) = env.run(&[
        "set-user",
        "alex.wilber@contoso.com",
        "--clear",
        "mobile-phone",
        "-o",
        "csv",
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "userPrincipalName,field,old,new\nalex.wilber@contoso.com,mobilePhone,+44 7400123456,\n"
    );
}

#[test]
fn dry_run_shows_the_diff_and_writes_nothing() {
    let env = Env::new();
    let before = env.state();
    let v = env.json(&[
        "set-user",
        "lee.gu@contoso.com",
        "--clear",
        "office-phone",
        "--add-alternate-email",
        "lee@fabrikam.com",
        "--dry-run",
    ]);
    assert_eq!(v["dryRun"], true);
    assert_eq!(v["changed"], false);
    assert_eq!(v["changes"].as_array().unwrap().len(), 2);
    assert_eq!(
        v["changes"][1],
        json!({"field": "officePhone", "old": "+44 2079460958", "new": null})
    );
    let (_, out, _) = env.run(&[
        "set-user",
        "lee.gu@contoso.com",
        "--clear",
        "office-phone",
        "--dry-run",
        "-o",
        "table",
    ]);
    assert!(
        out.starts_with("lee.gu@contoso.com: 1 change (dry run: nothing written)\n"),
        "{out}"
    );
    assert_eq!(env.state(), before);
}

#[test]
fn extensions_are_removed_with_a_warning() {
    let env = Env::new();
    env.run(&["get-user", "--all"]);
    let (code, out, err) = env.run(&[
        "set-user",
        "alex.wilber@contoso.com",
        "--office-phone",
        "+1 2015550123X12345",
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["changes"][0]["new"], "+1 2015550123");
    let expected = "officePhone: extension 12345 removed from \"+1 2015550123X12345\" (SSPR does not dial extensions)";
    assert_eq!(err, format!("warning: {expected}\n"));
    assert_eq!(v["warnings"], json!([expected]));
}

#[test]
fn synced_user_phones_are_refused_naming_the_ad_attributes() {
    let env = Env::new();
    let before = env.state();
    let (code, out, err) = env.run(&[
        "set-user",
        "megan.bowen@contoso.com",
        "--mobile-phone",
        "+1 206 555 0100",
        "--office-phone",
        "+1 206 555 0101",
        "--alternate-email",
        "megan@fabrikam.com",
        "-o",
        "json",
    ]);
    assert_eq!(code, 1);
    assert_eq!(out, "");
    assert!(err.contains("error: megan.bowen@contoso.com is synchronised from on-premises Active Directory: its mobile phone and office phone can't be changed here"), "{err}");
    assert!(
        err.contains("hint: change the on-premises AD attribute(s) mobile, telephoneNumber"),
        "{err}"
    );
    assert_eq!(json_error(&err)["error"]["code"], "synced_user");
    assert_eq!(env.state(), before);
    // Its alternate email can be changed.
    let v = env.json(&[
        "set-user",
        "megan.bowen@contoso.com",
        "--alternate-email",
        "megan@fabrikam.com",
    ]);
    assert_eq!(v["changed"], true);
}

#[test]
fn invalid_input_exits_2_and_leaves_the_directory_unchanged() {
    let env = Env::new();
    let before = env.state();
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "set-user",
                "lee.gu@contoso.com",
                "--mobile-phone",
                "+1 201 555 012",
            ],
            "invalid mobilePhone \"+1 201 555 012\": too short for US",
        ),
        (
            &[
                "set-user",
                "lee.gu@contoso.com",
                "--office-phone",
                "2015550123",
            ],
            "no country code",
        ),
        (
            &[
                "set-user",
                "lee.gu@contoso.com",
                "--mobile-phone",
                "+1 800 FLOWERS",
            ],
            "contains the letter 'F'",
        ),
        (
            &[
                "set-user",
                "lee.gu@contoso.com",
                "--alternate-email",
                "ok@x.com,jöran@x.com",
            ],
            "invalid alternateEmailAddresses \"jöran@x.com\"",
        ),
        (
            &[
                "set-user",
                "lee.gu@contoso.com",
                "--mobile-phone",
                "+1 2015550123",
                "--clear",
                "mobile-phone",
            ],
            "mobilePhone is both set and cleared",
        ),
        (
            &["set-user", "lee.gu@contoso.com", "--mobile-phone", ""],
            "invalid mobilePhone \"\": empty",
        ),
        (&["set-user", "lee.gu@contoso.com"], "nothing to change"),
        (
            &[
                "set-user",
                "lee.gu@contoso.com",
                "--mobile-phone",
                "2015550123",
                "--default-region",
                "XX",
            ],
            "invalid --default-region \"XX\"",
        ),
        (
            &["set-auth-details", "lee.gu@contoso.com", "--email", "nope"],
            "invalid authenticationEmail \"nope\": has no @",
        ),
    ];
    for (args, message) in cases {
        let (code, out, err) = env.run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(out, "", "{args:?}");
        assert!(
            err.starts_with("error: ") && err.contains(message),
            "{args:?}: {err}"
        );
        assert!(err.contains("\nhint: "), "{args:?}: {err}");
    }
    // --select exists only where it applies (it is not offered by set-user's --help either).
    let (code, out, err) = env.run(&[
        "set-user",
        "lee.gu@contoso.com",
        "--mobile-phone",
        "+1 2015550123",
        "--select",
        "id",
    ]);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(err.contains("unexpected argument '--select'"), "{err}");
    assert_eq!(env.state(), before);
}

#[test]
fn invalid_input_does_not_even_create_the_directory() {
    let env = Env::new();
    let (code, _, err) = env.run(&["set-user", "kim@contoso.com", "--mobile-phone", "12"]);
    assert_eq!(code, 2, "{err}");
    assert!(!env.db().exists());
}

#[test]
fn strict_failure_hints_at_length_check() {
    let env = Env::new();
    let (code, _, err) = env.run(&[
        "set-user",
        "lee.gu@contoso.com",
        "--mobile-phone",
        "+1 101 555 0123",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("not a valid number in US"), "{err}");
    assert!(err.contains("--phone-check length"), "{err}");
    let v = env.json(&[
        "set-user",
        "lee.gu@contoso.com",
        "--mobile-phone",
        "+1 101 555 0123",
        "--phone-check",
        "length",
    ]);
    assert_eq!(v["changes"][0]["new"], "+1 1015550123");
}

#[test]
fn national_numbers_with_a_default_region() {
    let env = Env::new();
    let v = env.json(&[
        "set-user",
        "nestor.wilke@contoso.com",
        "--office-phone",
        "02 9876 5432",
        "--default-region",
        "it",
    ]);
    assert_eq!(
        v["changes"][0],
        json!({"field": "officePhone", "old": "+39 0212345678", "new": "+39 0298765432"})
    );
}

#[test]
fn alternate_emails_replace_add_remove_and_warn() {
    let env = Env::new();
    let v = env.json(&[
        "set-user",
        "--user-principal-name",
        "alex.wilber@contoso.com",
        "--alternate-email",
        "a@x.com",
        "--alternate-email",
        "A@X.com,alex.wilber@contoso.com",
    ]);
    assert_eq!(
        v["changes"][0]["new"],
        json!(["a@x.com", "alex.wilber@contoso.com"])
    );
    let warnings = v["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    let v = env.json(&[
        "set-user",
        "alex.wilber@contoso.com",
        "--add-alternate-email",
        "b@x.com",
    ]);
    assert_eq!(
        v["changes"][0]["new"],
        json!(["a@x.com", "alex.wilber@contoso.com", "b@x.com"])
    );
    let v = env.json(&[
        "set-user",
        "--object-id",
        "87d349ed-44d7-43e1-9a83-5f2406dee5bd",
        "--remove-alternate-email",
        "ALEX.WILBER@contoso.com",
    ]);
    assert_eq!(v["changes"][0]["new"], json!(["a@x.com", "b@x.com"]));
    let v = env.json(&[
        "set-user",
        "alex.wilber@contoso.com",
        "--clear",
        "alternate-email",
    ]);
    assert_eq!(v["changes"][0]["new"], json!([]));
}

#[test]
fn unknown_user_exits_3() {
    let env = Env::new();
    env.run(&["get-user", "--all"]);
    for args in [
        &[
            "set-user",
            "nobody@contoso.com",
            "--mobile-phone",
            "+1 2015550123",
        ][..],
        &["get-auth-details", "nobody@contoso.com"],
        &[
            "set-auth-details",
            "nobody@contoso.com",
            "--phone",
            "+1 2015550123",
        ],
        &["remove-user", "nobody@contoso.com"],
    ] {
        let (code, out, err) = env.run(args);
        assert_eq!(code, 3, "{args:?}");
        assert_eq!(out, "");
        assert!(
            err.starts_with("error: user nobody@contoso.com not found\nhint: "),
            "{err}"
        );
    }
}

#[test]
fn auth_details_round_trip_and_rules() {
    let env = Env::new();
    let v = env.json(&["get-auth-details", "alex.wilber@contoso.com"]);
    assert_eq!(
        v,
        json!({"userPrincipalName": "alex.wilber@contoso.com", "authenticationPhone": null,
               "alternateAuthenticationPhone": null, "authenticationOfficePhone": null, "authenticationEmail": null})
    );
    // An alternate phone alone is refused, and nothing is written.
    let (code, _, err) = env.run(&[
        "set-auth-details",
        "alex.wilber@contoso.com",
        "--alternate-phone",
        "+44 2079460958",
        "--email",
        "alex@fabrikam.com",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("needs an authentication phone"), "{err}");
    assert!(err.contains("hint: set --phone as well"), "{err}");
    assert_eq!(
        env.json(&["get-auth-details", "alex.wilber@contoso.com"])["authenticationEmail"],
        serde_json::Value::Null
    );
    let v = env.json(&[
        "set-auth-details",
        "alex.wilber@contoso.com",
        "--alternate-phone",
        "+44 2079460958",
        "--phone",
        "+44 7400 123456",
        "--email",
        "alex@fabrikam.com",
    ]);
    let fields: Vec<&str> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "authenticationPhone",
            "alternateAuthenticationPhone",
            "authenticationEmail"
        ]
    );
    let v = env.json(&[
        "get-auth-details",
        "alex.wilber@contoso.com",
        "--select",
        "PhoneNumber,AlternativePhoneNumber,Email",
    ]);
    assert_eq!(
        v,
        json!({"authenticationPhone": "+44 7400123456", "alternateAuthenticationPhone": "+44 2079460958", "authenticationEmail": "alex@fabrikam.com"})
    );
    // The phone can't go while the alternate stays.
    let (code, _, err) = env.run(&[
        "set-auth-details",
        "alex.wilber@contoso.com",
        "--clear",
        "phone",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("hint: clear the alternate phone too"), "{err}");
    let v = env.json(&[
        "set-auth-details",
        "alex.wilber@contoso.com",
        "--clear",
        "phone",
        "--clear",
        "alternate-phone",
    ]);
    let fields: Vec<&str> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["alternateAuthenticationPhone", "authenticationPhone"]
    );
    // The user object's phones are not touched by authentication methods.
    assert_eq!(
        env.json(&["get-user", "alex.wilber@contoso.com"])[0]["mobilePhone"],
        serde_json::Value::Null
    );
}

#[test]
fn synced_users_authentication_methods_can_be_set() {
    let env = Env::new();
    let v = env.json(&[
        "set-auth-details",
        "megan.bowen@contoso.com",
        "--phone",
        "+1 425 555 0102",
    ]);
    assert_eq!(v["changed"], true);
}

#[test]
fn new_and_remove_user() {
    let env = Env::new();
    let path = env.home.path().join("t.db");
    let spec = format!("local:{}", path.display());
    let (code, out, err) = env.run(&[
        "--directory",
        &spec,
        "new-user",
        "kim@contoso.com",
        "--display-name",
        "Kim Akers",
        "--synced",
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.starts_with(&format!(
            "note: created an empty local directory at {}\ncreated kim@contoso.com (",
            path.display()
        )),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["userPrincipalName"], "kim@contoso.com");
    assert_eq!(v["onPremisesSyncEnabled"], true);
    let (code, _, err) = env.run(&["--directory", &spec, "new-user", "KIM@contoso.com"]);
    assert_eq!(code, 2);
    assert!(err.contains("already exists"), "{err}");
    let (code, _, err) = env.run(&["--directory", &spec, "new-user", "not-an-upn"]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid user principal name"), "{err}");
    let all = env.json(&["--directory", &spec, "get-user", "--all"]);
    assert_eq!(all.as_array().unwrap().len(), 1);
    let (code, _, _) = env.run(&["--directory", &spec, "remove-user", "kim@contoso.com"]);
    assert_eq!(code, 0);
    assert_eq!(
        env.json(&["--directory", &spec, "get-user", "--all"]),
        json!([])
    );
    assert!(!env.db().exists(), "the default directory was not used");
}

#[test]
fn unknown_directory_scheme_lists_the_supported_ones() {
    let env = Env::new();
    let (code, _, err) = env.run(&["--directory", "sql://x", "get-user", "--all"]);
    assert_eq!(code, 2);
    let schemes = "local, local:PATH, graph, ldaps://HOST[:PORT], ldap://HOST[:PORT]";
    assert_eq!(
        err,
        format!(
            "error: unknown directory \"sql://x\"\nhint: --directory takes one of: {schemes}\n{{\"error\":{{\"code\":\"unknown_directory\",\"message\":\"unknown directory \\\"sql://x\\\"\",\"hint\":\"--directory takes one of: {schemes}\"}}}}\n"
        )
    );
}

#[test]
fn phone_command_validates_arguments_and_stdin() {
    let env = Env::new();
    let (code, out, err) = env.run(&[
        "phone",
        "+44 (0)20 7946 0958",
        "+1 201 555 0123 ext. 7",
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v,
        json!([
            {"input": "+44 (0)20 7946 0958", "valid": true, "canonical": "+44 2079460958", "region": "GB", "extension": null, "reason": null, "hint": null},
            {"input": "+1 201 555 0123 ext. 7", "valid": true, "canonical": "+1 2015550123", "region": "US", "extension": "7", "reason": null, "hint": null}
        ])
    );
    let (code, out, err) = env.run_stdin(
        &["phone", "-o", "jsonl", "--default-region", "GB"],
        "020 7946 0958\nabc\n\n+1 201 555 012\n",
    );
    assert_eq!(code, 1);
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0]["canonical"], "+44 2079460958");
    assert_eq!(rows[1]["reason"], "contains the letter 'a'");
    assert_eq!(rows[2]["reason"], "empty");
    assert_eq!(
        rows[3],
        json!({"input": "+1 201 555 012", "valid": false, "canonical": null, "region": "US", "extension": null, "reason": "too short for US",
            "hint": "write it as +CountryCode Number, e.g. +1 4255550100 or +44 20 7946 0958"})
    );
    assert_eq!(err, "3 of 4 numbers are invalid\n");
    assert!(!env.db().exists(), "phone never opens the directory");
    // The same hint as set-user gives for a national number too long for the region.
    let (code, out, _) = env.run(&[
        "phone",
        "206555010012345",
        "--default-region",
        "US",
        "-o",
        "json",
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["reason"], "too long for US");
    assert_eq!(
        v[0]["hint"],
        "too long for the default region's numbers: is --default-region right? (or write +CountryCode Number)"
    );
    let (code, _, err) = env.run(&[
        "set-user",
        "kim@contoso.com",
        "--mobile-phone",
        "206555010012345",
        "--default-region",
        "US",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("hint: too long for the default region's numbers: is --default-region right? (or write +CountryCode Number)"),
        "{err}"
    );
}

#[test]
fn help_documents_exit_codes_and_security_questions() {
    let env = Env::new();
    let (code, out, _) = env.run(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("3  user not found"), "{out}");
    let (_, out, _) = env.run(&["get-auth-details", "--help"]);
    assert!(
        out.contains("Security questions and answers are never shown"),
        "{out}"
    );
}

#[test]
fn help_lists_directory_options_only_where_they_apply() {
    let env = Env::new();
    let help = |args: &[&str]| {
        let (code, out, err) = env.run(args);
        assert_eq!((code, err.as_str()), (0, ""), "{args:?}");
        out
    };
    let graph = [
        "--credential",
        "--cloud",
        "--graph-url",
        "--authority-host",
        "--max-retries",
        "--timeout",
    ];
    let ad = [
        "--ldap-ca",
        "--ldap-insecure-skip-verify",
        "--base-dn",
        "--ldap-filter",
        "--ldap-auth",
    ];
    for (args, directory, with_graph, with_ad) in [
        (&["--help"][..], true, true, true),
        (&["get-user", "--help"], true, true, true),
        (&["set-user", "--help"], true, true, true),
        (&["import", "--help"], true, true, true),
        (&["audit", "--help"], true, true, true),
        (&["get-auth-details", "--help"], true, true, false),
        (&["set-auth-details", "--help"], true, true, false),
        (&["auth", "status", "--help"], false, true, false),
        (&["whoami", "--help"], false, true, false),
        (&["new-user", "--help"], true, false, false),
        (&["remove-user", "--help"], true, false, false),
        (&["phone", "--help"], false, false, false),
        (&["completions", "--help"], false, false, false),
        (&["man", "--help"], false, false, false),
        (&["logout", "--help"], false, false, false),
    ] {
        let out = help(args);
        assert_eq!(
            out.contains("--directory <SPEC>"),
            directory,
            "{args:?}\n{out}"
        );
        for flag in graph {
            assert_eq!(
                out.contains(&format!("  {flag}")),
                with_graph,
                "{args:?} {flag}\n{out}"
            );
        }
        for flag in ad {
            assert_eq!(
                out.contains(&format!("  {flag}")),
                with_ad,
                "{args:?} {flag}\n{out}"
            );
        }
        assert!(out.contains("  -o, --output <OUTPUT>"), "{args:?}");
    }
    // login takes the Graph hosts but no credential (it is the credential).
    let out = help(&["login", "--help"]);
    assert!(
        out.contains("  --cloud") && !out.contains("  --credential"),
        "{out}"
    );
    // Where it is not listed, it is refused after the command (and fine before it).
    let (code, out, err) = env.run(&["phone", "+1 2015550123", "--graph-url", "https://x"]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.contains("unexpected argument '--graph-url'"), "{err}");
    let (code, out, _) = env.run(&[
        "--graph-url",
        "https://graph.example",
        "phone",
        "+1 2015550123",
        "-o",
        "csv",
    ]);
    assert_eq!(
        (code, out.as_str()),
        (
            0,
            "input,valid,canonical,region,extension,reason,hint\n+1 2015550123,true,+1 2015550123,US,,,\n"
        )
    );
}

#[test]
fn a_directory_flag_wins_over_its_environment_variable() {
    let env = Env::new();
    let a = env.home.path().join("a.db");
    let b = env.home.path().join("b.db");
    let spec = |p: &std::path::Path| format!("local:{}", p.display());
    let run = |vars: &[(&str, String)], args: &[&str]| {
        let out = env
            .cmd()
            .envs(vars.iter().map(|(k, v)| (k, v)))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let var = [("SSPRCTL_DIRECTORY", spec(&a))];
    // The variable alone picks a.db; --directory before or after the command picks b.db.
    let (code, _, err) = run(&var, &["new-user", "kim@contoso.com"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(
        &var,
        &["new-user", "lee@contoso.com", "--directory", &spec(&b)],
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(
        &var,
        &["--directory", &spec(&b), "new-user", "ana@contoso.com"],
    );
    assert_eq!(code, 0, "{err}");
    let upns = |db: &std::path::Path| {
        let (code, out, err) = run(
            &[],
            &[
                "--directory",
                &spec(db),
                "get-user",
                "--all",
                "-o",
                "csv",
                "--select",
                "UserPrincipalName",
            ],
        );
        assert_eq!(code, 0, "{err}");
        out
    };
    assert_eq!(upns(&a), "userPrincipalName\nkim@contoso.com\n");
    assert_eq!(
        upns(&b),
        "userPrincipalName\nana@contoso.com\nlee@contoso.com\n"
    );
    // Before and after the command: the command's own wins.
    let (code, out, err) = run(
        &[],
        &[
            "--directory",
            &spec(&b),
            "get-user",
            "--all",
            "-o",
            "csv",
            "--select",
            "UserPrincipalName",
            "--directory",
            &spec(&a),
        ],
    );
    assert_eq!(
        (code, out.as_str()),
        (0, "userPrincipalName\nkim@contoso.com\n"),
        "{err}"
    );
    // A variable's value is checked like its flag's, and the message names the variable.
    for (name, value, flag) in [
        ("SSPRCTL_CLOUD", "mooncake", "--cloud"),
        ("SSPRCTL_CREDENTIAL", "password", "--credential"),
    ] {
        let (code, out, err) = run(
            &[(name, value.to_string())],
            &["get-user", "--all", "-o", "table"],
        );
        assert_eq!((code, out.as_str()), (2, ""), "{name}");
        assert!(err.starts_with(&format!("error: {name}=\"{value}\" is not a value {flag} takes\nhint: set {name} to one of: ")), "{err}");
    }
    // ...and case is ignored, as for the flag; the flag still wins.
    let (code, _, err) = run(
        &[("SSPRCTL_CLOUD", "USGOV".into())],
        &["get-user", "--all", "--cloud", "global"],
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let env = Env::new();
    let (code, _, err) = env.run(&["get-user"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("hint: name one or more users, or use --all"),
        "{err}"
    );
    let (code, _, _) = env.run(&["set-user", "x", "--clear", "fax"]);
    assert_eq!(code, 2);
}

#[test]
fn a_closed_pipe_is_not_an_error_in_any_format() {
    use std::io::{BufRead, BufReader};
    let env = Env::new();
    let db = env.home.path().join("big.db");
    let spec = format!("local:{}", db.display());
    let (code, _, _) = env.run(&["--directory", &spec, "get-user", "--all"]);
    assert_eq!(code, 0);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
         INSERT INTO users (id, user_principal_name, display_name) SELECT printf('00000000-0000-4000-8000-%012d', i), printf('u%05d@contoso.com', i), printf('User %d', i) FROM n;",
    )
    .unwrap();
    for format in ["csv", "tsv", "json", "jsonl", "table"] {
        let mut child = env
            .std_cmd()
            .args(["--directory", &spec, "get-user", "--all", "-o", format])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        // The reader is gone (like `| head -1`).
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("error"),
            "{format}"
        );
    }
}

#[test]
fn errors_are_red_on_a_terminal_unless_no_color_and_formats_ignore_case() {
    let env = Env::new();
    let bin = assert_cmd::cargo::cargo_bin("ssprctl");
    let home = env.home.path().to_str().unwrap().to_string();
    let on_tty = |no_color: bool| {
        // `script` gives the command a pseudo-terminal for stdout and stderr.
        let mut c = std::process::Command::new("script");
        c.args([
            "-q",
            "-e",
            "-c",
            &format!("{} get-user nobody@contoso.com", bin.display()),
            "/dev/null",
        ])
        .env("SSPRCTL_HOME", &home)
        .env_remove("NO_COLOR");
        if no_color {
            c.env("NO_COLOR", "1");
        }
        let out = c.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = on_tty(false);
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("\u{1b}[1;31merror:\u{1b}[0m user nobody@contoso.com not found"),
        "{out:?}"
    );
    let (_, out) = on_tty(true);
    assert!(
        out.contains("error: user nobody@contoso.com not found") && !out.contains("\u{1b}[1;31m"),
        "{out:?}"
    );
    // Piped: never colored.
    let (code, _, err) = env.run(&["get-user", "nobody@contoso.com"]);
    assert_eq!(code, 3);
    assert!(
        err.starts_with("error: user nobody@contoso.com not found"),
        "{err}"
    );
    // Format names ignore case.
    let (code, out, _) = env.run(&["get-user", "--all", "-o", "JSON"]);
    assert_eq!(code, 0);
    assert!(serde_json::from_str::<serde_json::Value>(&out).is_ok());
}

#[test]
fn bash_completes_commands_and_the_man_page_renders() {
    let env = Env::new();
    let (code, script, _) = env.run(&["completions", "bash"]);
    assert_eq!(code, 0);
    let path = env.home.path().join("ssprctl.bash");
    std::fs::write(&path, script).unwrap();
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; COMP_WORDS=(ssprctl se); COMP_CWORD=1; _ssprctl ssprctl se ssprctl; echo \"${{COMPREPLY[@]}}\"",
            path.display()
        ))
        .output()
        .unwrap();
    let words = String::from_utf8_lossy(&out.stdout);
    let mut got: Vec<&str> = words.split_whitespace().collect();
    got.sort_unstable();
    assert_eq!(
        got,
        ["set-auth-details", "set-user"],
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for shell in ["zsh", "fish", "powershell", "ELVISH"] {
        let (code, out, err) = env.run(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(out.contains("ssprctl"), "{shell}");
    }
    let (code, man, _) = env.run(&["man"]);
    assert_eq!(code, 0);
    assert!(
        man.starts_with(".ie") && man.contains(".TH ssprctl 1"),
        "{man}"
    );
    assert!(man.contains("set\\-user"), "subcommands are listed");
}

#[test]
fn get_auth_details_for_many_users() {
    let env = Env::new();
    let v = env.json(&["get-auth-details", "--all", "-o", "json"]);
    assert_eq!(v.as_array().unwrap().len(), 5);
    assert_eq!(v[0]["userPrincipalName"], "adele.vance@contoso.com");
    let v = env.json(&[
        "get-auth-details",
        "lee.gu@contoso.com",
        "adele.vance@contoso.com",
        "-o",
        "json",
        "--select",
        "upn,authenticationPhone"
            .replace("upn", "userPrincipalName")
            .as_str(),
    ]);
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[0]["userPrincipalName"], "lee.gu@contoso.com");
    let (code, out, _) = env.run(&[
        "get-auth-details",
        "lee.gu@contoso.com",
        "ghost@contoso.com",
        "-o",
        "csv",
    ]);
    assert_eq!(code, 3);
    assert_eq!(out.lines().count(), 2, "{out}");
    // One user: one object, as before.
    let v = env.json(&["get-auth-details", "lee.gu@contoso.com", "-o", "json"]);
    assert!(v.is_object());
    let (code, _, err) = env.run(&["get-auth-details"]);
    assert_eq!(code, 2);
    assert!(err.contains("use --all"), "{err}");
}

#[test]
fn phone_streams_stdin_lines_of_any_ending_and_reports_bad_ones() {
    let env = Env::new();
    let input: &[u8] = b"+1 2015550123\r+44 20 7946 0958\r\n\n\xff\xfe\n(+44) 20 7946 0958\n";
    let out = env
        .cmd()
        .args(["phone", "-", "-o", "jsonl"])
        .write_stdin(input)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let rows: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let reasons: Vec<&str> = rows
        .iter()
        .map(|r| r["reason"].as_str().unwrap_or("ok"))
        .collect();
    assert_eq!(reasons, ["ok", "ok", "empty", "not valid UTF-8 text", "ok"]);
    assert_eq!(rows[4]["canonical"], "+44 2079460958");
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 of 5 numbers are invalid"));
    // --skip-blank leaves blank lines out; JSON is one array, as for arguments.
    let out = env
        .cmd()
        .args(["phone", "--skip-blank", "-o", "json"])
        .write_stdin(&b"+1 2015550123\n\n   \n+1 2015550124\n"[..])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
}

#[test]
fn tables_fit_an_80_column_terminal_and_piped_output_is_unchanged() {
    let env = Env::new();
    let (code, _, _) = env.run(&["get-user", "--all"]);
    assert_eq!(code, 0);
    let bin = assert_cmd::cargo::cargo_bin("ssprctl");
    let out = std::process::Command::new("script")
        .args([
            "-q",
            "-e",
            "-c",
            &format!("{} get-user --all -o table 2>/dev/null", bin.display()),
            "/dev/null",
        ])
        .env("SSPRCTL_HOME", env.home.path())
        .env("COLUMNS", "80")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    assert!(text.lines().count() > 6, "{text}");
    for line in text.lines() {
        assert!(
            line.chars().count() <= 80,
            "{} columns: {line}",
            line.chars().count()
        );
    }
    // Piped: one line per user, not wrapped.
    let (_, out, _) = env.run(&["get-user", "--all", "-o", "table"]);
    assert_eq!(out.lines().count(), 2 + 5, "{out}");
    assert!(out.lines().next().unwrap().chars().count() > 80);
}

#[test]
fn a_semicolon_cannot_start_a_formula_in_csv_and_bidi_controls_are_escaped() {
    let env = Env::new();
    env.run(&["get-user", "--all"]);
    let name = "Bob;=cmd|' /C calc'!A0\u{202E}x";
    let (code, _, err) = env.run(&["new-user", "bob@contoso.com", "--display-name", name]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = env.run(&[
        "set-user",
        "bob@contoso.com",
        "--alternate-email",
        "a@fabrikam.com;=cmd@fabrikam.com",
    ]);
    assert_eq!(code, 0, "{err}");
    let select = "userPrincipalName,displayName,alternateEmailAddresses";
    // CSV: a cell with `;` is quoted, each list element is neutralised on its own.
    let (code, out, err) = env.run(&[
        "get-user",
        "bob@contoso.com",
        "-o",
        "csv",
        "--select",
        select,
    ]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out,
        "userPrincipalName,displayName,alternateEmailAddresses\n\
         bob@contoso.com,\"Bob;=cmd|' /C calc'!A0\\u{202e}x\",\"a@fabrikam.com;'=cmd@fabrikam.com\"\n"
    );
    let (code, out, _) = env.run(&[
        "get-user",
        "bob@contoso.com",
        "-o",
        "tsv",
        "--select",
        select,
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "userPrincipalName\tdisplayName\talternateEmailAddresses\n\
         bob@contoso.com\tBob;=cmd|' /C calc'!A0\\u{202e}x\ta@fabrikam.com;'=cmd@fabrikam.com\n"
    );
    let (code, out, _) = env.run(&[
        "get-user",
        "bob@contoso.com",
        "-o",
        "table",
        "--select",
        select,
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("Bob;=cmd|' /C calc'!A0\\u{202e}x"), "{out}");
    assert!(!out.contains('\u{202E}'), "{out}");
    // The export imports back unchanged.
    let file = env.home.path().join("export.csv");
    let (_, csv, _) = env.run(&[
        "get-user",
        "bob@contoso.com",
        "-o",
        "csv",
        "--select",
        "userPrincipalName,alternateEmailAddresses",
    ]);
    std::fs::write(&file, csv).unwrap();
    let (code, out, err) = env.run(&["import", file.to_str().unwrap(), "-o", "json"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let v = &env.json(&["get-user", "bob@contoso.com", "-o", "json"])[0];
    assert_eq!(
        v["alternateEmailAddresses"],
        serde_json::json!(["a@fabrikam.com", "=cmd@fabrikam.com"])
    );
    assert_eq!(v["displayName"], name);
}

#[test]
fn ldap_auth_takes_its_values_from_the_flag_or_the_environment() {
    let env = Env::new();
    let (code, out, err) = env.run(&[
        "--directory",
        "ldaps://dc1.contoso.com",
        "get-user",
        "kim",
        "--ldap-auth",
        "ntlm",
    ]);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(
        err.contains("invalid value 'ntlm' for '--ldap-auth <HOW>'"),
        "{err}"
    );
    let out = env
        .cmd()
        .args(["--directory", "ldaps://dc1.contoso.com", "get-user", "kim"])
        .env("SSPRCTL_LDAP_AUTH", "ntlm")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with(
            "error: SSPRCTL_LDAP_AUTH=\"ntlm\" is not a value --ldap-auth takes\n\
             hint: set SSPRCTL_LDAP_AUTH to one of: auto, simple, kerberos (or unset it)\n"
        ),
        "{err}"
    );
}

#[test]
fn ps_runs_the_guide_verbatim_and_refuses_its_impossible_number_like_set_user() {
    let env = Env::new();
    env.run(&["get-user", "--all"]);
    let script = common::GUIDE.replace("user@domain.com", "alex.wilber@contoso.com");
    let file = env.home.path().join("guide.ps1");
    std::fs::write(&file, &script).unwrap();
    let f = file.to_str().unwrap();
    // The guide's +1 4251234567 can't exist (NANP exchange 123): refused on line 3 before any
    // write, with set-user's hint.
    let (code, out, err) = env.run(&["ps", "--file", f, "-o", "json"]);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(
        err.starts_with("error: line 3 (Set-MsolUser): invalid mobilePhone \"+1 4251234567\""),
        "{err}"
    );
    assert!(err.contains("use --phone-check length"), "{err}");
    let before = &env.json(&["get-user", "alex.wilber@contoso.com", "-o", "json"])[0];
    assert_eq!(before["alternateEmailAddresses"], serde_json::json!([]));
    // With --phone-check length, as for set-user: every line runs.
    let (code, out, err) = env.run(&["ps", "--file", f, "--phone-check", "length", "-o", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    let after = &env.json(&["get-user", "alex.wilber@contoso.com", "-o", "json"])[0];
    assert_eq!(
        after["alternateEmailAddresses"],
        serde_json::json!(["emails@domain.com"])
    );
    assert_eq!(after["mobilePhone"], "+1 4251234567");
    assert_eq!(after["officePhone"], "+1 4252345678");
    assert!(
        out.lines()
            .any(|l| l == r#"{"MobilePhone":"+1 4251234567"}"#),
        "{out}"
    );
    assert!(out.contains(r#"{"PhoneNumber":null}"#), "{out}");
    assert!(
        err.contains("Connect-MsolService: connected to the local directory"),
        "{err}"
    );
    assert!(
        err.contains("Install-Module AzureADPreview: nothing to install; ssprctl itself does what AzureADPreview did"),
        "{err}"
    );
    // --translate: the native commands, one per statement.
    let (code, out, _) = env.run(&["ps", "--file", f, "--translate"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 22);
    assert_eq!(
        lines[4],
        "ssprctl set-user alex.wilber@contoso.com --alternate-email email@domain.com --mobile-phone '+1 4251234567' --office-phone '+1 4252345678'"
    );
    assert_eq!(
        lines[9],
        "ssprctl get-auth-details alex.wilber@contoso.com --select authenticationPhone"
    );
    assert_eq!(
        lines[21],
        "ssprctl get-user --all --select DisplayName,UserPrincipalName,OtherMails,Mobile,TelephoneNumber -o table"
    );
}

#[test]
fn ps_refuses_what_it_does_not_run_by_line_and_column_and_writes_nothing() {
    let env = Env::new();
    env.run(&["get-user", "--all"]);
    let before = env.json(&["get-user", "--all", "-o", "json"]);
    for (script, message, hint) in [
        (
            "Set-MsolUser -UserPrincipalName alex.wilber@contoso.com -MobilePhone '+44 7400123456'\nSet-MsolUser -UserPrincipalName alex.wilber@contoso.com -City Seattle",
            "error: line 2, column 57: Set-MsolUser -City is not something ssprctl sets: it sets the SSPR contact fields only",
            "hint: set other attributes with Microsoft Graph (e.g. Update-MgUser in Microsoft Graph PowerShell)",
        ),
        (
            "Get-MsolUser | Sort-Object DisplayName",
            "error: line 1, column 16: Sort-Object is not supported in this pipeline",
            "hint: supported after Get-MsolUser / Get-AzureADUser: Where-Object, select (-Property, -ExpandProperty \
             StrongAuthenticationUserDetails, -First), Format-Table, Format-List, Export-Csv, ConvertTo-Json",
        ),
        (
            "Set-MsolUser -UserPrincipalName alex.wilber@contoso.com -MobilePhone '+44 7400123456'; Invoke-Expression 'x'",
            "error: line 1, column 88: Invoke-Expression is not a cmdlet ssprctl runs",
            "hint: nothing is evaluated from text here",
        ),
    ] {
        let (code, out, err) = env.run_stdin(&["ps", "-", "-o", "table"], script);
        assert_eq!((code, out.as_str()), (2, ""), "{script}: {err}");
        assert_eq!(err, format!("{message}\n{hint}\n"), "{script}");
    }
    assert_eq!(env.json(&["get-user", "--all", "-o", "json"]), before);
}

#[test]
fn ps_runs_the_bulk_idioms_as_one_import_with_the_csv_line_numbers() {
    let env = Env::new();
    env.run(&["get-user", "--all"]);
    let csv = env.home.path().join("users.csv");
    std::fs::write(
        &csv,
        "UPN,Mobile,Desk\nadele.vance@contoso.com,+44 7400 123456,+44 20 7946 0958\nlee.gu@contoso.com,020 7946 0959,\n",
    )
    .unwrap();
    let c = csv.to_str().unwrap();
    let before = env.json(&["get-user", "--all", "-o", "json"]);
    // A national number without --default-region: the whole script stops on the CSV's own line,
    // before the first statement's write.
    let script = format!(
        "Set-MsolUser -UserPrincipalName alex.wilber@contoso.com -MobilePhone '+44 7400 123457'\n\
         Import-Csv {c} | ForEach-Object {{ Set-MsolUser -UserPrincipalName $_.UPN -MobilePhone $_.Mobile }}"
    );
    let (code, out, err) = env.run_stdin(&["ps", "-", "-o", "json"], &script);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(
        err.contains("line 3: mobilePhone \"020 7946 0959\": no country code"),
        "{err}"
    );
    assert!(
        err.contains("error: line 2 (Import-Csv): 1 of 2 rows have problems; nothing was written"),
        "{err}"
    );
    assert_eq!(env.json(&["get-user", "--all", "-o", "json"]), before);
    // foreach over an assigned Import-Csv, AzureAD names, a fixed value: one import.
    let script = format!(
        "$rows = Import-Csv -Path {c}\nforeach ($u in $rows) {{\n  Set-AzureADUser -ObjectId $u.UPN -Mobile $u.Mobile `\n    -OtherMails 'help@contoso.com'\n}}"
    );
    let (code, out, err) = env.run_stdin(
        &["ps", "-", "--default-region", "GB", "-o", "json"],
        &script,
    );
    assert_eq!(code, 0, "{err}");
    // Like Set-MsolUser, nothing on stdout; what the import did is on stderr.
    assert_eq!(out, "");
    assert!(err.contains("\"updated\": 2"), "{err}");
    let lee = &env.json(&["get-user", "lee.gu@contoso.com", "-o", "json"])[0];
    assert_eq!(lee["mobilePhone"], "+44 2079460959");
    assert_eq!(
        lee["alternateEmailAddresses"],
        serde_json::json!(["help@contoso.com"])
    );
    // A column the file does not have is named before anything runs.
    let (code, _, err) = env.run_stdin(
        &["ps", "-"],
        &format!(
            "Import-Csv {c} | % {{ Set-MsolUser -UserPrincipalName $_.UPN -PhoneNumber $_.Office }}"
        ),
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("the file has no column Office (its columns: UPN, Mobile, Desk)"),
        "{err}"
    );
}

#[test]
fn ps_pipelines_filter_limit_and_write_with_the_cmdlets_property_names() {
    let env = Env::new();
    env.run(&["get-user", "--all"]);
    let (code, out, err) = env.run(&[
        "ps",
        "Get-MsolUser | Where-Object { $_.MobilePhone -like '+1 *' } | select UserPrincipalName,MobilePhone | ConvertTo-Json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v,
        serde_json::json!([
            {"UserPrincipalName": "adele.vance@contoso.com", "MobilePhone": "+1 2065550123"},
            {"UserPrincipalName": "megan.bowen@contoso.com", "MobilePhone": "+1 4255550102"}
        ])
    );
    let (code, out, _) = env.run(&[
        "ps",
        "Get-AzureADUser -Top 2 | select UserPrincipalName",
        "-o",
        "jsonl",
    ]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 2, "{out}");
    let (code, out, _) = env.run(&[
        "ps",
        "Get-MsolUser | select -First 1 DisplayName",
        "-o",
        "csv",
    ]);
    assert_eq!((code, out.as_str()), (0, "DisplayName\nAdele Vance\n"));
    let file = env.home.path().join("not-us.csv");
    let script = format!(
        "Get-MsolUser | Where-Object MobilePhone -notlike '+1 *' | select UserPrincipalName,MobilePhone | Export-Csv -Path {} -NoTypeInformation",
        file.display()
    );
    let (code, out, err) = env.run(&["ps", &script]);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "UserPrincipalName,MobilePhone\nalex.wilber@contoso.com,\nlee.gu@contoso.com,+44 7400123456\nnestor.wilke@contoso.com,+39 3123456789\n"
    );
    let (_, out, _) = env.run(&["ps", &script, "--translate"]);
    assert_eq!(
        out.trim_end(),
        format!(
            "ssprctl get-user --all --select userPrincipalName,mobilePhone -o csv > {}  # then keep the users whose MobilePhone -notlike '+1 *'",
            file.display()
        )
    );
}

#[test]
fn a_malformed_ldap_filter_is_refused_before_connecting() {
    let env = Env::new();
    for filter in [
        "(&(objectClass=user)",
        "(objectClass=user))",
        "objectClass=user",
    ] {
        let out = env
            .cmd()
            .args([
                "--directory",
                "ldaps://127.0.0.1:1",
                "get-user",
                "--all",
                "--ldap-filter",
                filter,
            ])
            .env("SSPRCTL_LDAP_BIND_DN", "CN=x")
            .env("SSPRCTL_LDAP_PASSWORD", "pw")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{filter}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(
            err.starts_with(&format!(
                "error: --ldap-filter \"{filter}\" is not an LDAP filter\nhint: write it in balanced parentheses"
            )),
            "{err}"
        );
    }
}
