//! Parallel invocations on one local directory never lose an update.

mod common;

use common::Env;

#[test]
fn eight_processes_updating_different_users_all_land() {
    let env = Env::new();
    let path = env.home.path().join("shared.db");
    let spec = format!("local:{}", path.display());
    for i in 0..8 {
        let upn = format!("user{i}@contoso.com");
        let (code, _, err) = env.run(&["--directory", &spec, "new-user", &upn]);
        assert_eq!(code, 0, "{err}");
    }
    // Each process changes one user's mobile phone, alternate email and authentication phone,
    // all at once: three separate transactions per process, racing the other seven.
    let children: Vec<_> = (0..8)
        .map(|i| {
            let upn = format!("user{i}@contoso.com");
            let phone = format!("+1 20655501{i:02}");
            let mut c = env.std_cmd();
            c.args([
                "--directory",
                &spec,
                "-q",
                "set-user",
                &upn,
                "--mobile-phone",
                &phone,
                "--add-alternate-email",
                &format!("u{i}@fabrikam.com"),
            ]);
            c.stdout(std::process::Stdio::null());
            c.spawn().unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let users = env.json(&["--directory", &spec, "get-user", "--all"]);
    let users = users.as_array().unwrap();
    assert_eq!(users.len(), 8);
    for (i, u) in users.iter().enumerate() {
        assert_eq!(u["mobilePhone"], format!("+1 20655501{i:02}"));
        assert_eq!(
            u["alternateEmailAddresses"],
            serde_json::json!([format!("u{i}@fabrikam.com")])
        );
    }
}

#[test]
fn eight_processes_adding_to_one_user_lose_nothing() {
    // The harder case: read-modify-write of the same list, which needs one transaction per
    // command to be safe.
    let env = Env::new();
    let path = env.home.path().join("shared.db");
    let spec = format!("local:{}", path.display());
    env.run(&["--directory", &spec, "new-user", "kim@contoso.com"]);
    let children: Vec<_> = (0..8)
        .map(|i| {
            let mut c = env.std_cmd();
            c.args([
                "--directory",
                &spec,
                "-q",
                "set-user",
                "kim@contoso.com",
                "--add-alternate-email",
                &format!("a{i}@fabrikam.com"),
            ]);
            c.stdout(std::process::Stdio::null());
            c.spawn().unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let u = env.json(&["--directory", &spec, "get-user", "kim@contoso.com"]);
    let mut list: Vec<String> = u[0]["alternateEmailAddresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    list.sort();
    let expected: Vec<String> = (0..8).map(|i| format!("a{i}@fabrikam.com")).collect();
    assert_eq!(list, expected);
}
