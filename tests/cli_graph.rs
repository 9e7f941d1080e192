//! The binary with `--directory graph` against the emulator: every command, every credential
//! flow and every failure mapping; exit code, stdout, stderr and the emulator's state each time,
//! and that no token or secret ever appears in the output, even with `-vv`.

mod common;
mod emulator;
mod suite;
mod tenant;

use std::time::Duration;

use common::{Env, json_error};
use emulator::{Emulator, FaultKind};
use serde_json::json;
use tenant::Tenant;

type G = Tenant;

/// An emulator holding the suite's users.
fn tenant() -> G {
    let emu = Emulator::start();
    for (u, a) in suite::users() {
        emu.add_user(&u, &a);
    }
    Tenant::new(emu)
}

fn status(status: u16, code: &str, message: &str, retry_after: Option<&str>) -> FaultKind {
    FaultKind::Status {
        status,
        retry_after: retry_after.map(str::to_string),
        code: code.into(),
        message: message.into(),
    }
}

#[test]
fn get_user_and_get_auth_details_read_the_tenant() {
    let g = tenant();
    let v = g.json(&["get-user", "KIM@contoso.com", "-o", "json"]);
    assert_eq!(
        v,
        json!([{"id": "00000000-0000-4000-8000-000000000001", "userPrincipalName": "Kim@contoso.com",
            "displayName": "Kim Akers", "alternateEmailAddresses": ["kim@fabrikam.com"],
            "mobilePhone": "+1 2065550123", "officePhone": "+1 4255550100", "onPremisesSyncEnabled": false}])
    );
    let v = g.json(&[
        "get-auth-details",
        "kim@contoso.com",
        "-o",
        "json",
        "--select",
        "PhoneNumber,Email",
    ]);
    assert_eq!(
        v,
        json!({"authenticationPhone": "+1 2065550123", "authenticationEmail": "kim@fabrikam.com"})
    );
    let (code, out, err) = g.run(&[
        "get-user",
        "--all",
        "-o",
        "csv",
        "--select",
        "upn,mobilePhone"
            .replace("upn", "userPrincipalName")
            .as_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "userPrincipalName,mobilePhone\nann@contoso.com,\nKim@contoso.com,+1 2065550123\nlee@contoso.com,+44 7400123456\n"
    );
}

#[test]
fn set_user_round_trip_sends_only_what_changes() {
    let g = tenant();
    g.emu.clear_seen();
    let v = g.json(&[
        "set-user",
        "kim@contoso.com",
        "--office-phone",
        "+44 20 7946 0958",
        "--mobile-phone",
        "+1 206 555 0123",
        "-o",
        "json",
    ]);
    assert_eq!(
        v["changes"],
        json!([{"field": "officePhone", "old": "+1 4255550100", "new": "+44 2079460958"}])
    );
    assert_eq!(
        g.emu.graph_requests(),
        [
            "GET /v1.0/users/kim@contoso.com",
            "PATCH /v1.0/users/00000000-0000-4000-8000-000000000001"
        ]
    );
    assert_eq!(
        g.emu.seen().last().unwrap().body,
        r#"{"businessPhones":["+44 2079460958"]}"#
    );
    assert_eq!(
        g.emu.user("kim@contoso.com").office_phone.as_deref(),
        Some("+44 2079460958")
    );
    // Clearing sends [] and null, never "".
    g.json(&[
        "set-user",
        "kim@contoso.com",
        "--clear",
        "office-phone",
        "--clear",
        "mobile-phone",
        "--clear",
        "alternate-email",
    ]);
    let body: serde_json::Value = serde_json::from_str(&g.emu.seen().last().unwrap().body).unwrap();
    assert_eq!(
        body,
        json!({"otherMails": [], "mobilePhone": null, "businessPhones": []})
    );
    let u = g.emu.user("kim@contoso.com");
    assert_eq!(
        (
            u.mobile_phone,
            u.office_phone,
            u.alternate_email_addresses.len()
        ),
        (None, None, 0)
    );
    // Same again: one GET, no write, "no change".
    g.emu.clear_seen();
    let (code, out, _) = g.run(&[
        "set-user",
        "kim@contoso.com",
        "--clear",
        "mobile-phone",
        "-o",
        "table",
    ]);
    assert_eq!((code, out.as_str()), (0, "Kim@contoso.com: no change\n"));
    assert_eq!(g.emu.graph_requests().len(), 1);
}

#[test]
fn dry_run_sends_no_write() {
    let g = tenant();
    g.emu.clear_seen();
    let v = g.json(&[
        "set-user",
        "kim@contoso.com",
        "--mobile-phone",
        "+44 7400 123456",
        "--dry-run",
    ]);
    assert_eq!(v["dryRun"], true);
    assert_eq!(v["changes"][0]["new"], "+44 7400123456");
    assert_eq!(g.emu.graph_requests(), ["GET /v1.0/users/kim@contoso.com"]);
}

#[test]
fn synced_users_are_refused_before_sending() {
    let g = tenant();
    g.emu.clear_seen();
    let (code, out, err) = g.run(&[
        "set-user",
        "lee@contoso.com",
        "--mobile-phone",
        "+1 206 555 0100",
    ]);
    assert_eq!(code, 1);
    assert_eq!(out, "");
    assert!(err.contains("lee@contoso.com is synchronised from on-premises Active Directory: its mobile phone can't be changed here"), "{err}");
    assert!(err.contains("attribute(s) mobile"), "{err}");
    // The hint shows the command that fixes it at the source.
    assert!(
        err.contains("ssprctl --directory ldaps://<your DC> set-user lee@contoso.com --mobile-phone \"+1 2065550100\""),
        "{err}"
    );
    assert_eq!(g.emu.graph_requests(), ["GET /v1.0/users/lee@contoso.com"]);
}

#[test]
fn server_side_on_premises_refusal_gets_the_same_message() {
    let g = tenant();
    g.emu.fault(Some("PATCH"), "/v1.0/users/", 1, status(400, "Request_BadRequest",
        "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.", None));
    let (code, _, err) = g.run(&[
        "set-user",
        "kim@contoso.com",
        "--office-phone",
        "+44 20 7946 0958",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("error: Kim@contoso.com is synchronised from on-premises Active Directory: its office phone can't be changed here"), "{err}");
    assert!(err.contains("telephoneNumber"), "{err}");
}

#[test]
fn auth_methods_upsert_in_the_right_order() {
    let g = tenant();
    g.emu.clear_seen();
    g.json(&[
        "set-auth-details",
        "ann@contoso.com",
        "--alternate-phone",
        "+44 20 7946 0958",
        "--phone",
        "+44 7400 123456",
        "--email",
        "ann@fabrikam.com",
    ]);
    let writes: Vec<String> = g
        .emu
        .graph_requests()
        .into_iter()
        .filter(|r| !r.starts_with("GET"))
        .collect();
    let base = "/v1.0/users/00000000-0000-4000-8000-000000000003/authentication";
    assert_eq!(
        writes,
        [
            format!("POST {base}/phoneMethods"),
            format!("POST {base}/phoneMethods"),
            format!("POST {base}/emailMethods")
        ]
    );
    let posts: Vec<String> = g
        .emu
        .seen()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.body.clone())
        .collect();
    assert_eq!(
        posts[0],
        r#"{"phoneNumber":"+44 7400123456","phoneType":"mobile"}"#
    );
    assert_eq!(
        posts[1],
        r#"{"phoneNumber":"+44 2079460958","phoneType":"alternateMobile"}"#
    );
    // An existing type is updated with PATCH on its fixed id.
    g.emu.clear_seen();
    g.json(&[
        "set-auth-details",
        "ann@contoso.com",
        "--phone",
        "+1 206 555 0199",
        "--email",
        "ann@fabrikam.com",
    ]);
    let writes: Vec<String> = g
        .emu
        .graph_requests()
        .into_iter()
        .filter(|r| !r.starts_with("GET"))
        .collect();
    assert_eq!(
        writes,
        [format!("PATCH {base}/phoneMethods/{}", emulator::MOBILE_ID)]
    );
    // Removing both removes the alternate first.
    g.emu.clear_seen();
    g.json(&[
        "set-auth-details",
        "ann@contoso.com",
        "--clear",
        "phone",
        "--clear",
        "alternate-phone",
    ]);
    let writes: Vec<String> = g
        .emu
        .graph_requests()
        .into_iter()
        .filter(|r| !r.starts_with("GET"))
        .collect();
    assert_eq!(
        writes,
        [
            format!(
                "DELETE {base}/phoneMethods/{}",
                emulator::ALTERNATE_MOBILE_ID
            ),
            format!("DELETE {base}/phoneMethods/{}", emulator::MOBILE_ID)
        ]
    );
    let a = g.emu.auth("ann@contoso.com");
    assert_eq!(
        (
            a.authentication_phone,
            a.alternate_authentication_phone,
            a.authentication_email.as_deref()
        ),
        (None, None, Some("ann@fabrikam.com"))
    );
    // Synced users' authentication methods are the cloud-side path and work.
    g.json(&[
        "set-auth-details",
        "lee@contoso.com",
        "--phone",
        "+44 7400 123456",
    ]);
    assert_eq!(
        g.emu
            .auth("lee@contoso.com")
            .authentication_phone
            .as_deref(),
        Some("+44 7400123456")
    );
}

#[test]
fn invalid_input_sends_no_request_at_all() {
    let g = tenant();
    g.emu.clear_seen();
    let vars = [
        ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
        ("AZURE_CLIENT_ID", "app"),
        ("AZURE_CLIENT_SECRET", "s3cr3t-value"),
    ];
    for args in [
        &["set-user", "kim@contoso.com", "--mobile-phone", "555-0100"][..],
        &[
            "set-auth-details",
            "kim@contoso.com",
            "--email",
            "not-an-email",
        ],
        &[
            "set-user",
            "kim@contoso.com",
            "--alternate-email",
            "jöran@x.com",
        ],
    ] {
        let (code, out, err) = g.run_env(args, &vars);
        assert_eq!(code, 2, "{args:?} {err}");
        assert_eq!(out, "");
    }
    assert!(g.emu.seen().is_empty(), "{:?}", g.emu.seen());
}

#[test]
fn no_credential_exits_4_listing_the_options() {
    let g = tenant();
    let (code, out, err) = g.run_env(&["get-user", "kim@contoso.com", "-o", "json"], &[]);
    assert_eq!(code, 4);
    assert_eq!(out, "");
    assert!(
        err.starts_with("error: no Microsoft Graph credential found\nhint: "),
        "{err}"
    );
    for name in [
        "SSPRCTL_ACCESS_TOKEN",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "ssprctl login",
    ] {
        assert!(err.contains(name), "{name}: {err}");
    }
    assert_eq!(json_error(&err)["error"]["code"], "auth");
    assert!(g.emu.seen().is_empty());
    let (code, _, err) = g.run_env(
        &["get-user", "kim@contoso.com"],
        &[("AZURE_CLIENT_SECRET", "x")],
    );
    assert_eq!(code, 4);
    assert!(
        err.contains("AZURE_CLIENT_SECRET is set but AZURE_TENANT_ID and AZURE_CLIENT_ID is not"),
        "{err}"
    );
}

#[test]
fn graph_errors_map_to_exit_codes_with_code_and_request_id() {
    let g = tenant();
    // 404
    let (code, _, err) = g.run(&["get-user", "nobody@contoso.com", "-o", "json"]);
    assert_eq!(code, 3);
    assert!(
        err.contains("error: user nobody@contoso.com not found"),
        "{err}"
    );
    // 403 names the permission and the role
    g.emu.fault(
        Some("PATCH"),
        "/v1.0/users/",
        1,
        status(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
            None,
        ),
    );
    let (code, _, err) = g.run(&[
        "set-user",
        "kim@contoso.com",
        "--mobile-phone",
        "+44 7400 123456",
        "-o",
        "json",
    ]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("Authorization_RequestDenied: Insufficient privileges to complete the operation. (request-id req-"), "{err}");
    assert!(err.contains("User-Phone.ReadWrite.All"), "{err}");
    assert!(
        err.contains("Privileged Authentication Administrator"),
        "{err}"
    );
    let j = json_error(&err);
    assert_eq!(j["error"]["serviceCode"], "Authorization_RequestDenied");
    assert_eq!(j["error"]["status"], 403);
    assert!(
        j["error"]["requestId"]
            .as_str()
            .unwrap()
            .starts_with("req-")
    );
    g.emu.fault(
        Some("POST"),
        "emailMethods",
        1,
        status(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
            None,
        ),
    );
    let (code, _, err) = g.run(&[
        "set-auth-details",
        "ann@contoso.com",
        "--email",
        "ann@fabrikam.com",
    ]);
    assert_eq!(code, 4);
    assert!(
        err.contains("UserAuthenticationMethod.ReadWrite.All"),
        "{err}"
    );
    // 401 → exit 4 with the next step
    g.emu.revoke_tokens();
    let (code, _, err) = g.run(&["get-user", "kim@contoso.com"]);
    assert_eq!(code, 4);
    assert!(err.contains("InvalidAuthenticationToken"), "{err}");
    assert!(
        err.contains("hint: the access token was rejected or has expired"),
        "{err}"
    );
}

#[test]
fn throttling_is_retried_honouring_retry_after() {
    let g = tenant();
    g.emu.fault(
        Some("GET"),
        "/v1.0/users/kim",
        2,
        status(429, "TooManyRequests", "Too many requests", Some("0.05")),
    );
    g.emu.clear_seen();
    let (code, out, err) = g.run(&["get-user", "kim@contoso.com", "-v"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Kim Akers"));
    assert_eq!(g.emu.graph_requests().len(), 3);
    assert!(err.contains("→ 429 in"), "{err}");
    assert!(err.contains("retrying in 0.05 s (attempt 2 of 4)"), "{err}");
    // A write throttled with 429 was not acted on: it is retried too.
    g.emu.fault(
        Some("PATCH"),
        "/v1.0/users/",
        1,
        status(429, "TooManyRequests", "Too many requests", Some("0.01")),
    );
    let v = g.json(&[
        "set-user",
        "kim@contoso.com",
        "--mobile-phone",
        "+44 7400 123456",
    ]);
    assert_eq!(v["changed"], true);
    assert_eq!(
        g.emu.user("kim@contoso.com").mobile_phone.as_deref(),
        Some("+44 7400123456")
    );
}

#[test]
fn exhausted_retries_exit_5_with_the_last_error() {
    let g = tenant();
    g.emu.fault(
        Some("GET"),
        "/v1.0/users/kim",
        10,
        status(
            503,
            "serviceNotAvailable",
            "Service unavailable",
            Some("0.01"),
        ),
    );
    g.emu.clear_seen();
    let (code, out, err) = g.run(&[
        "get-user",
        "kim@contoso.com",
        "--max-retries",
        "2",
        "-o",
        "json",
    ]);
    assert_eq!(code, 5, "{err}");
    assert_eq!(out, "");
    assert!(err.contains("error: Microsoft Graph still answered GET /v1.0/users/kim@contoso.com with HTTP 503 after 3 attempts: serviceNotAvailable: Service unavailable (request-id req-"), "{err}");
    assert_eq!(json_error(&err)["error"]["code"], "service_unavailable");
    assert_eq!(g.emu.graph_requests().len(), 3);
}

#[test]
fn backoff_without_retry_after() {
    let g = tenant();
    g.emu.fault(
        Some("GET"),
        "/v1.0/users/kim",
        1,
        status(504, "GatewayTimeout", "Gateway timeout", None),
    );
    let t = std::time::Instant::now();
    let (code, _, err) = g.run(&["get-user", "kim@contoso.com", "--max-retries", "1", "-v"]);
    assert_eq!(code, 0, "{err}");
    // Microsoft's base delay is 3 s; jitter takes it to between 1.5 and 3 s.
    assert!(
        t.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
    assert!(err.contains("retrying in "), "{err}");
}

#[test]
fn dropped_connections_are_retried_for_reads_only() {
    let g = tenant();
    g.emu
        .fault(Some("GET"), "/v1.0/users/kim", 1, FaultKind::Drop);
    let (code, _, err) = g.run(&["get-user", "kim@contoso.com"]);
    assert_eq!(code, 0, "{err}");
    g.emu
        .fault(Some("PATCH"), "/v1.0/users/", 1, FaultKind::Drop);
    g.emu.clear_seen();
    let (code, _, err) = g.run(&[
        "set-user",
        "kim@contoso.com",
        "--mobile-phone",
        "+44 7400 123456",
    ]);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("may or may not have been made"), "{err}");
    let patches = g
        .emu
        .graph_requests()
        .iter()
        .filter(|r| r.starts_with("PATCH"))
        .count();
    assert_eq!(
        patches, 1,
        "a write the server may have acted on is not retried"
    );
}

#[test]
fn slow_answers_hit_the_time_limit() {
    let g = tenant();
    g.emu.fault(
        Some("GET"),
        "/v1.0/users/kim",
        5,
        FaultKind::Delay(Duration::from_secs(3)),
    );
    let (code, _, err) = g.run(&["get-user", "kim@contoso.com", "--timeout", "1"]);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("timed out"), "{err}");
}

#[test]
fn local_only_commands_are_refused_without_credentials() {
    let g = tenant();
    for args in [
        &["new-user", "x@contoso.com"][..],
        &["remove-user", "kim@contoso.com"],
    ] {
        let (code, _, err) = g.run_env(args, &[]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("works on the local directory only"), "{err}");
    }
    assert!(g.emu.seen().is_empty());
}

#[test]
fn plain_http_is_refused_except_to_loopback() {
    let env = Env::new();
    let (code, _, err) = env.run(&[
        "--directory",
        "graph",
        "--graph-url",
        "http://graph.example.com",
        "get-user",
        "x",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("plain http:// is refused except to a loopback address"),
        "{err}"
    );
}

#[test]
fn listing_2500_users_sends_3_page_requests() {
    let g = tenant();
    g.emu.add_many(2497);
    g.emu.clear_seen();
    let v = g.json(&["get-user", "--all", "--select", "userPrincipalName"]);
    assert_eq!(v.as_array().unwrap().len(), 2500);
    assert_eq!(g.emu.graph_requests().len(), 3);
}

#[test]
fn client_secret_token_is_cached_between_invocations() {
    let g = tenant();
    g.emu
        .state()
        .client_secrets
        .insert("app-1".into(), "s3cr3t-value".into());
    let vars = [
        ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
        ("AZURE_CLIENT_ID", "app-1"),
        ("AZURE_CLIENT_SECRET", "s3cr3t-value"),
    ];
    for _ in 0..3 {
        let (code, _, err) = g.run_env(&["get-user", "kim@contoso.com", "-v"], &vars);
        assert_eq!(code, 0, "{err}");
        assert!(
            err.contains(
                "credential: client secret for app app-1 in tenant contoso.onmicrosoft.com"
            ),
            "{err}"
        );
    }
    assert_eq!(g.emu.token_requests(), 1);
    let token_req = g
        .emu
        .seen()
        .into_iter()
        .find(|r| r.path.ends_with("/token"))
        .unwrap();
    assert_eq!(token_req.path, "/contoso.onmicrosoft.com/oauth2/v2.0/token");
    assert!(
        token_req
            .body
            .contains("scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"),
        "{}",
        token_req.body
    );
    let cache = g.env.home.path().join("tokens.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // A rejected cached token is forgotten and renewed at once: the same run asks for a new
    // one and sends the request again; the next run uses the new one from the cache.
    g.emu.revoke_tokens();
    let (code, _, err) = g.run_env(&["get-user", "kim@contoso.com"], &vars);
    assert_eq!(code, 0, "{err}");
    assert_eq!(g.emu.token_requests(), 2);
    let (code, _, err) = g.run_env(&["get-user", "kim@contoso.com"], &vars);
    assert_eq!(code, 0, "{err}");
    assert_eq!(g.emu.token_requests(), 2);
}

#[test]
fn wrong_client_secret_shows_the_aadsts_error() {
    let g = tenant();
    g.emu
        .state()
        .client_secrets
        .insert("app-1".into(), "right".into());
    let (code, out, err) = g.run_env(
        &["get-user", "kim@contoso.com", "-o", "json"],
        &[
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "app-1"),
            ("AZURE_CLIENT_SECRET", "wrong-secret-value"),
        ],
    );
    assert_eq!(code, 4);
    assert_eq!(out, "");
    assert!(err.contains("error: token request failed: invalid_client: AADSTS7000215: Invalid client secret provided."), "{err}");
    assert!(!err.contains("Trace ID"), "{err}");
    assert_eq!(json_error(&err)["error"]["serviceCode"], "AADSTS7000215");
}

struct TestCert {
    dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

/// A fresh RSA key and a self-signed certificate, registered with the emulator for `client_id`.
fn new_key(g: &G, client_id: &str) -> (rsa::PrivateKey, rcgen::Certificate) {
    use base64::Engine;
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    use sha2::Digest;
    let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).unwrap();
    let pkcs8 = key.to_pkcs8_pem(LineEnding::LF).unwrap();
    let pair = rcgen::KeyPair::from_pem_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["ssprctl-test".into()])
        .unwrap()
        .self_signed(&pair)
        .unwrap();
    let thumb =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(cert.der()));
    g.emu
        .state()
        .certificates
        .insert(client_id.into(), (thumb, key.to_public_key()));
    (key, cert)
}

/// Generates an RSA key and a self-signed certificate, registers them with the emulator and
/// writes the PEM (encrypted with `password` if given).
fn certificate(g: &G, client_id: &str, password: Option<&str>) -> TestCert {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let (key, cert) = new_key(g, client_id);
    let key_pem = match password {
        None => key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
        Some(p) => key
            .to_pkcs8_encrypted_pem(p, LineEnding::LF)
            .unwrap()
            .to_string(),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.pem");
    std::fs::write(&path, format!("{}{}", cert.pem(), key_pem)).unwrap();
    TestCert { dir, path }
}

/// As [`certificate`], as a PKCS#12 file: with `password` ("" for none, as Windows writes a
/// file exported without one), modern (PBES2/AES-256, HMAC-SHA-256) or `legacy` (3DES, SHA-1).
fn pfx(g: &G, client_id: &str, password: &str, legacy: bool) -> TestCert {
    use p12_keystore::{
        Certificate, EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, PrivateKey,
        PrivateKeyChain,
    };
    use rsa::pkcs8::EncodePrivateKey;
    let (key, cert) = new_key(g, client_id);
    let der = key.to_pkcs8_der().unwrap();
    let chain = PrivateKeyChain::new(
        "key-1",
        PrivateKey::from_der(der.as_bytes()).unwrap(),
        [Certificate::from_der(cert.der()).unwrap()],
    );
    let mut store = KeyStore::new();
    store.add_entry("ssprctl", KeyStoreEntry::PrivateKeyChain(chain));
    let mut writer = store.writer(password);
    if legacy {
        writer = writer
            .encryption_algorithm(EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc)
            .mac_algorithm(MacAlgorithm::HmacSha1);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.pfx");
    std::fs::write(&path, writer.write().unwrap()).unwrap();
    TestCert { dir, path }
}

#[test]
fn certificate_credential_signs_a_ps256_assertion() {
    let g = tenant();
    let cert = certificate(&g, "app-cert", None);
    let path = cert.path.to_str().unwrap();
    let vars = [
        ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
        ("AZURE_CLIENT_ID", "app-cert"),
        ("AZURE_CLIENT_CERTIFICATE_PATH", path),
    ];
    let (code, out, err) = g.run_env(&["get-user", "kim@contoso.com", "-vv"], &vars);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Kim Akers"));
    assert!(err.contains("credential: certificate"), "{err}");
    let assertion = g
        .emu
        .seen()
        .into_iter()
        .find(|r| r.path.ends_with("/token"))
        .unwrap()
        .body;
    let jwt = assertion
        .split("client_assertion=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    assert!(!err.contains(&jwt[..40]) && !out.contains(&jwt[..40]));
    // Once the app's registered certificate is another one, this one is refused (a new tenant
    // name so no cached token is used).
    let _replaced = certificate(&g, "app-cert", None);
    let (code, _, err) = g.run_env(
        &["get-user", "kim@contoso.com"],
        &[
            ("AZURE_TENANT_ID", "t2"),
            ("AZURE_CLIENT_ID", "app-cert"),
            ("AZURE_CLIENT_CERTIFICATE_PATH", path),
        ],
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("invalid_client: AADSTS700027"), "{err}");
    drop(cert.dir);
}

#[test]
fn encrypted_certificate_key_needs_its_password() {
    let g = tenant();
    let cert = certificate(&g, "app-enc", Some("pa55word"));
    let path = cert.path.to_str().unwrap();
    let base = [
        ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
        ("AZURE_CLIENT_ID", "app-enc"),
        ("AZURE_CLIENT_CERTIFICATE_PATH", path),
    ];
    let (code, _, err) = g.run_env(&["get-user", "kim@contoso.com"], &base);
    assert_eq!(code, 4);
    assert!(
        err.contains("the key is encrypted and AZURE_CLIENT_CERTIFICATE_PASSWORD is not set"),
        "{err}"
    );
    let mut wrong = base.to_vec();
    wrong.push(("AZURE_CLIENT_CERTIFICATE_PASSWORD", "nope"));
    let (code, _, err) = g.run_env(&["get-user", "kim@contoso.com"], &wrong);
    assert_eq!(code, 4);
    assert!(err.contains("wrong password"), "{err}");
    let mut right = base.to_vec();
    right.push(("AZURE_CLIENT_CERTIFICATE_PASSWORD", "pa55word"));
    let (code, _, err) = g.run_env(&["get-user", "kim@contoso.com", "-vv"], &right);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("pa55word"));
}

#[test]
fn pkcs12_certificates_sign_in_with_and_without_a_password() {
    let g = tenant();
    let run = |client: &str, tenant: &str, path: &std::path::Path, password: Option<&str>| {
        let mut vars = vec![
            ("AZURE_TENANT_ID", tenant.to_string()),
            ("AZURE_CLIENT_ID", client.to_string()),
            ("AZURE_CLIENT_CERTIFICATE_PATH", path.display().to_string()),
        ];
        if let Some(p) = password {
            vars.push(("AZURE_CLIENT_CERTIFICATE_PASSWORD", p.to_string()));
        }
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        g.run_env(&["get-user", "kim@contoso.com", "-vv"], &vars)
    };
    // Modern PBES2/AES-256 with a password: the emulator checks the PS256 signature and that
    // x5t#S256 is the certificate's.
    let modern = pfx(&g, "app-pfx", "pfx-Pa55", false);
    let (code, out, err) = run("app-pfx", "t1", &modern.path, Some("pfx-Pa55"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Kim Akers"), "{out}");
    assert!(!err.contains("pfx-Pa55"), "{err}");
    let jwt = g
        .emu
        .seen()
        .into_iter()
        .rfind(|r| r.path.ends_with("/token"))
        .unwrap()
        .body;
    let claims = jwt
        .split("client_assertion=")
        .nth(1)
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap()
        .to_string();
    use base64::Engine;
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims)
            .unwrap(),
    )
    .unwrap();
    let jti = claims["jti"].as_str().unwrap();
    let shape: Vec<usize> = jti.split('-').map(str::len).collect();
    assert_eq!(shape, [8, 4, 4, 4, 12], "jti {jti} is not a GUID");
    assert_eq!(&jti[14..15], "4", "jti {jti}: a version 4 GUID");
    // No password given, wrong password: said, exit 4, nothing sent.
    let (code, _, err) = run("app-pfx", "t2", &modern.path, None);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains(
            "a PKCS#12 file protected by a password: set AZURE_CLIENT_CERTIFICATE_PASSWORD"
        ),
        "{err}"
    );
    let (code, _, err) = run("app-pfx", "t3", &modern.path, Some("wrong"));
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("a PKCS#12 file, but AZURE_CLIENT_CERTIFICATE_PASSWORD is not its password"),
        "{err}"
    );
    assert!(!err.contains("wrong".repeat(2).as_str()));
    // Exported without a password (the empty one), and the legacy 3DES/SHA-1 kind.
    let open = pfx(&g, "app-open", "", false);
    let (code, _, err) = run("app-open", "t4", &open.path, None);
    assert_eq!(code, 0, "{err}");
    let legacy = pfx(&g, "app-legacy", "old-Pa55", true);
    let (code, _, err) = run("app-legacy", "t5", &legacy.path, Some("old-Pa55"));
    assert_eq!(code, 0, "{err}");
    // Neither PEM nor PKCS#12: what was found is named.
    let junk = legacy.dir.path().join("junk.pfx");
    std::fs::write(&junk, b"PK\x03\x04zip").unwrap();
    let (code, _, err) = run("app-legacy", "t6", &junk, None);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("neither PEM nor PKCS#12 (it starts with the bytes 50 4b 03 04)"),
        "{err}"
    );
    let (_, cert) = new_key(&g, "app-bare");
    let bare = legacy.dir.path().join("bare.cer");
    std::fs::write(&bare, cert.der()).unwrap();
    let (code, _, err) = run("app-bare", "t7", &bare, None);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("DER, but not a PKCS#12 file"), "{err}");
}

fn device(g: &G, pending: u32, outcome: &str, slow_down_once: bool) {
    g.emu.state().device = Some(emulator::DeviceScript {
        pending,
        slow_down_once,
        outcome: outcome.into(),
        interval: 0,
    });
}

#[test]
fn device_code_login_then_silent_use_then_logout() {
    let g = tenant();
    device(&g, 2, "success", false);
    let (code, out, err) = g.run_env(
        &[
            "login",
            "--tenant",
            "contoso.onmicrosoft.com",
            "--client-id",
            "public-app",
            "-o",
            "json",
            "-vv",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("\nTo sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code ABCD-EFGH"), "{err}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap(),
        json!({"tenant": "contoso.onmicrosoft.com", "clientId": "public-app", "cloud": "global"})
    );
    assert_eq!(
        g.emu.token_requests(),
        3,
        "two pending polls and the success"
    );
    let login = g.env.home.path().join("login.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&login).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // Later commands use the login silently: tenant and client remembered, token cached.
    let (code, _, err) = g.run_env(&["get-user", "kim@contoso.com", "-v"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("credential: saved login (ssprctl login) for app public-app in tenant contoso.onmicrosoft.com"), "{err}");
    assert_eq!(g.emu.token_requests(), 3);
    // With the cache gone, the refresh token gets a new access token.
    std::fs::remove_file(g.env.home.path().join("tokens.json")).unwrap();
    let (code, _, err) = g.run_env(&["get-user", "kim@contoso.com"], &[]);
    assert_eq!(code, 0, "{err}");
    let last_token = g
        .emu
        .seen()
        .into_iter()
        .rev()
        .find(|r| r.path.ends_with("/token"))
        .unwrap();
    assert!(
        last_token.body.contains("grant_type=refresh_token"),
        "{}",
        last_token.body
    );
    // Logout deletes every cached credential.
    let (code, _, err) = g.run_env(&["logout"], &[]);
    assert_eq!(code, 0);
    assert!(err.contains("deleted"), "{err}");
    assert!(!login.exists() && !g.env.home.path().join("tokens.json").exists());
    let (code, _, _) = g.run_env(&["get-user", "kim@contoso.com"], &[]);
    assert_eq!(code, 4);
}

#[test]
fn device_code_expiry_and_decline_stop_polling() {
    for (outcome, text) in [
        ("expired_token", "expired_token: AADSTS70020"),
        ("authorization_declined", "authorization_declined"),
    ] {
        let g = tenant();
        device(&g, 1, outcome, false);
        let (code, _, err) = g.run_env(&["login", "--tenant", "t", "--client-id", "c"], &[]);
        assert_eq!(code, 4, "{err}");
        assert!(
            err.contains(&format!("error: token request failed: {text}")),
            "{err}"
        );
        assert_eq!(g.emu.token_requests(), 2);
        assert!(!g.env.home.path().join("login.json").exists());
    }
}

#[test]
fn device_code_slow_down_adds_five_seconds() {
    let g = tenant();
    device(&g, 0, "success", true);
    let t = std::time::Instant::now();
    let (code, _, err) = g.run_env(&["login", "--tenant", "t", "--client-id", "c", "-v"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(t.elapsed() >= Duration::from_secs(5));
    assert!(err.contains("slow down"), "{err}");
}

#[test]
fn no_token_or_secret_in_any_output_even_with_vv() {
    let g = tenant();
    g.emu
        .state()
        .client_secrets
        .insert("app-1".into(), "s3cr3t-value-XYZ".into());
    let vars = [
        ("AZURE_TENANT_ID", "t"),
        ("AZURE_CLIENT_ID", "app-1"),
        ("AZURE_CLIENT_SECRET", "s3cr3t-value-XYZ"),
    ];
    let mut all = String::new();
    for args in [
        &["get-user", "kim@contoso.com", "-vv"][..],
        &[
            "set-user",
            "kim@contoso.com",
            "--mobile-phone",
            "+44 7400 123456",
            "-vv",
        ],
        &[
            "set-auth-details",
            "ann@contoso.com",
            "--phone",
            "+44 7400 123456",
            "-vv",
        ],
        &["get-auth-details", "ann@contoso.com", "-vv", "-o", "table"],
    ] {
        let (code, out, err) = g.run_env(args, &vars);
        assert_eq!(code, 0, "{args:?} {err}");
        all.push_str(&out);
        all.push_str(&err);
    }
    g.emu.revoke_tokens();
    let (_, out, err) = g.run_env(&["get-user", "kim@contoso.com", "-vv"], &vars);
    all.push_str(&out);
    all.push_str(&err);
    let (_, out, err) = g.run_env(
        &["get-user", "kim@contoso.com", "-vv"],
        &[("SSPRCTL_ACCESS_TOKEN", &g.token)],
    );
    all.push_str(&out);
    all.push_str(&err);
    let issued: Vec<String> = g
        .emu
        .seen()
        .iter()
        .filter_map(|r| r.authorization.clone())
        .collect();
    assert!(!issued.is_empty());
    for auth in issued {
        let token = auth.trim_start_matches("Bearer ");
        assert!(!all.contains(token), "token leaked");
        assert!(
            !all.contains("emulated-token") && !all.contains("issued-token"),
            "token leaked"
        );
    }
    assert!(!all.contains("s3cr3t-value-XYZ"), "secret leaked");
    assert!(all.contains("debug: GET "), "the log ran: {all}");
}

#[test]
fn the_china_cloud_has_no_email_methods() {
    let g = tenant();
    g.emu.clear_seen();
    let v = g.json(&["--cloud", "china", "get-auth-details", "kim@contoso.com"]);
    assert_eq!(v["authenticationPhone"], "+1 2065550123");
    assert_eq!(v["authenticationEmail"], serde_json::Value::Null);
    assert!(
        g.emu
            .graph_requests()
            .iter()
            .all(|r| !r.contains("emailMethods")),
        "{:?}",
        g.emu.graph_requests()
    );
    // A change that includes the email is refused whole, before any write.
    g.emu.clear_seen();
    let (code, out, err) = g.run(&[
        "--cloud",
        "china",
        "set-auth-details",
        "ann@contoso.com",
        "--phone",
        "+44 7400 123456",
        "--email",
        "ann@fabrikam.com",
    ]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(out, "");
    assert!(err.contains("email authentication methods are not available in the China cloud (21Vianet); nothing was written"), "{err}");
    assert!(
        g.emu.graph_requests().iter().all(|r| r.starts_with("GET")),
        "{:?}",
        g.emu.graph_requests()
    );
    assert_eq!(g.emu.auth("ann@contoso.com").authentication_phone, None);
    // In an import, such a row fails and the others go through.
    let file = g.file("f.csv", "userPrincipalName,authenticationPhone,authenticationEmail\nann@contoso.com,+44 7400 123456,ann@fabrikam.com\nlee@contoso.com,+44 7400 123457,\n");
    let (code, _, err) = g.run(&["--cloud", "china", "import", &file]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("line 2: ann@contoso.com failed (unsupported)"),
        "{err}"
    );
    assert_eq!(g.emu.auth("ann@contoso.com").authentication_phone, None);
    assert_eq!(
        g.emu
            .auth("lee@contoso.com")
            .authentication_phone
            .as_deref(),
        Some("+44 7400123457")
    );
}

#[test]
fn proxies_are_not_used_for_loopback_endpoints() {
    let g = tenant();
    let dead = "http://127.0.0.1:9";
    let token = g.token.clone();
    let (code, out, err) = g.run_env(
        &["get-user", "kim@contoso.com"],
        &[
            ("HTTP_PROXY", dead),
            ("http_proxy", dead),
            ("ALL_PROXY", dead),
            ("SSPRCTL_ACCESS_TOKEN", &token),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Kim Akers"));
}

#[test]
fn get_auth_details_of_many_users_reads_in_batches() {
    let g = tenant();
    g.emu.clear_seen();
    let v = g.json(&["get-auth-details", "--all", "-o", "json"]);
    assert_eq!(v.as_array().unwrap().len(), 3);
    let kim = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["userPrincipalName"] == "Kim@contoso.com")
        .unwrap();
    assert_eq!(kim["authenticationPhone"], "+1 2065550123");
    assert!(
        g.emu
            .graph_requests()
            .iter()
            .all(|r| !r.contains("/authentication/")),
        "per-user reads go in $batch"
    );
    assert!(
        g.emu
            .graph_requests()
            .contains(&"POST /v1.0/$batch".to_string())
    );
}

/// `ps -` with `script` on stdin against the emulator, with --phone-check length and JSON lines.
fn ps_on_graph(g: &G, script: &str) -> (i32, String, String) {
    let mut c = g.std_cmd(&["ps", "-", "--phone-check", "length", "-o", "jsonl"]);
    c.env("SSPRCTL_ACCESS_TOKEN", &g.token);
    let out = assert_cmd::Command::from_std(c)
        .write_stdin(script.to_string())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn ps_runs_the_whole_guide_against_graph() {
    let g = tenant();
    let script = common::GUIDE.replace("user@domain.com", "kim@contoso.com");
    let (code, stdout, stderr) = ps_on_graph(&g, &script);
    assert_eq!(code, 0, "{stderr}");
    let u = g.emu.user("kim@contoso.com");
    assert_eq!(u.mobile_phone.as_deref(), Some("+1 4251234567"));
    assert_eq!(u.office_phone.as_deref(), Some("+1 4252345678"));
    assert_eq!(u.alternate_email_addresses, ["emails@domain.com"]);
    let lines: Vec<&str> = stdout.lines().collect();
    for want in [
        r#"{"AlternateEmailAddresses":["email@domain.com"]}"#,
        r#"{"MobilePhone":"+1 4251234567"}"#,
        r#"{"PhoneNumber":"+1 4252345678"}"#,
        r#"{"OtherMails":["emails@domain.com"]}"#,
        r#"{"Mobile":"+1 4251234567"}"#,
        r#"{"TelephoneNumber":"+1 4252345678"}"#,
    ] {
        assert!(lines.contains(&want), "{want}\n{stdout}");
    }
    assert_eq!(
        stderr.matches("connected to Microsoft Graph").count(),
        2,
        "{stderr}"
    );
}

#[test]
fn ps_runs_msonline_and_azuread_lines_against_graph() {
    let g = tenant();
    let script = r#"Connect-AzureAD
Set-AzureADUser -ObjectId kim@contoso.com -OtherMails @("emails@domain.com") -Mobile "+1 4251234567" -TelephoneNumber "+1 4252345678"
Get-AzureADUser -ObjectID kim@contoso.com | select Mobile
Get-MsolUser -UserPrincipalName kim@contoso.com | select -Expand StrongAuthenticationUserDetails | select Email
"#;
    let (code, stdout, stderr) = ps_on_graph(&g, script);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("Connect-AzureAD: connected to Microsoft Graph (global cloud) with"),
        "{stderr}"
    );
    let u = g.emu.user("kim@contoso.com");
    assert_eq!(u.mobile_phone.as_deref(), Some("+1 4251234567"));
    assert_eq!(u.office_phone.as_deref(), Some("+1 4252345678"));
    assert_eq!(u.alternate_email_addresses, ["emails@domain.com"]);
    let lines: Vec<&str> = stdout.lines().collect();
    // The cmdlets' own property names.
    assert!(lines.contains(&r#"{"Mobile":"+1 4251234567"}"#), "{stdout}");
    assert!(
        lines.contains(&r#"{"Email":"kim@fabrikam.com"}"#),
        "{stdout}"
    );
}

#[test]
fn sync_status_reads_the_organization_and_says_when_the_next_cycle_is_due() {
    let g = tenant();
    let last = time::OffsetDateTime::now_utc() - time::Duration::minutes(10);
    let last = last
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    {
        let mut s = g.emu.state();
        s.sync_enabled = Some(true);
        s.last_sync = Some(last.clone());
    }
    let v = g.json(&["sync", "status", "-o", "json"]);
    assert_eq!(v["onPremisesSyncEnabled"], true);
    assert_eq!(v["onPremisesLastSyncDateTime"], last.as_str());
    assert_eq!(v["minutesSinceLastSync"], "10");
    assert_eq!(v["overdue"], false);
    let next = time::OffsetDateTime::parse(
        v["nextSyncDue"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let last_t =
        time::OffsetDateTime::parse(&last, &time::format_description::well_known::Rfc3339).unwrap();
    assert_eq!(next - last_t, time::Duration::minutes(30));
    assert_eq!(
        g.emu.graph_requests(),
        ["GET /v1.0/organization".to_string()]
    );

    // Two hours ago: overdue, with the place to look.
    g.emu.state().last_sync = Some("2026-01-01T00:00:00Z".into());
    let (code, out, err) = g.run(&["sync", "status", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["overdue"],
        true
    );
    assert!(err.contains("Get-ADSyncScheduler"), "{err}");

    // A cloud-only tenant.
    g.emu.state().sync_enabled = None;
    g.emu.state().last_sync = None;
    let (code, out, err) = g.run(&["sync", "status", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["nextSyncDue"], serde_json::Value::Null);
    assert!(err.contains("not enabled for this tenant"), "{err}");
}

#[test]
fn hybrid_flags_are_checked_before_anything_is_read() {
    let g = tenant();
    let env = Env::new();
    // --ad needs --directory graph.
    let (code, _, err) = env.run(&["--ad", "ldaps://dc1", "get-user", "--all", "-o", "json"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(json_error(&err)["error"]["code"], "conflicting_flags");
    assert!(err.contains("--directory graph"), "{err}");
    // A malformed --ad names the flag.
    let (code, _, err) = g.run(&["--ad", "ldapx://dc1", "get-user", "--all"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--ad"), "{err}");
    // --wait-for-sync needs hybrid mode, and something written.
    let (code, _, err) = g.run(&[
        "set-user",
        "kim@contoso.com",
        "--mobile-phone",
        "+1 2065550100",
        "--wait-for-sync",
        "5m",
        "-o",
        "json",
    ]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(json_error(&err)["error"]["code"], "wait_needs_hybrid");
    for bad in ["0s", "5x", "25h", "m"] {
        let (code, _, err) = env.run(&["import", "x.csv", "--wait-for-sync", bad]);
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(err.contains("90s, 45m, 2h or 1h30m"), "{err}");
    }
    assert!(g.emu.graph_requests().is_empty());
}
