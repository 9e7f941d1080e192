//! Secretless credentials through the binary against the emulator's stand-ins: workload
//! identity, GitHub Actions and Azure Pipelines OIDC, managed identity (App Service, Arc, IMDS),
//! the Azure CLI (a script on PATH), `--credential`, `auth status` and the import's permission
//! check — each with its failures, and no secret in any output at `-vv`.

mod common;
mod emulator;
mod suite;
mod tenant;

use std::path::Path;

use emulator::{Emulator, Federation};
use serde_json::Value;
use tenant::Tenant;

fn tenant() -> Tenant {
    let emu = Emulator::start();
    for (u, a) in suite::users() {
        emu.add_user(&u, &a);
    }
    Tenant::new(emu)
}

const IDS: [(&str, &str); 2] = [
    ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
    ("AZURE_CLIENT_ID", "ci-app"),
];

/// Runs with the tenant/client ids plus `vars`, at `-vv`; checks that no token, assertion or
/// secret in `secrets` appears in the output.
fn run(
    g: &Tenant,
    args: &[&str],
    vars: &[(&str, &str)],
    secrets: &[&str],
) -> (i32, String, String) {
    let mut all: Vec<(&str, &str)> = IDS.to_vec();
    all.extend_from_slice(vars);
    let mut args = args.to_vec();
    args.push("-vv");
    let (code, out, err) = g.run_env(&args, &all);
    for s in secrets {
        assert!(
            !out.contains(s) && !err.contains(s),
            "{s} leaked:\n{out}\n{err}"
        );
    }
    // No access token (a JWT) either.
    assert!(
        !out.contains("eyJ0eXAi") && !err.contains("eyJ0eXAi"),
        "{out}\n{err}"
    );
    (code, out, err)
}

fn clear_cache(g: &Tenant) {
    let _ = std::fs::remove_file(g.env.home.path().join("tokens.json"));
}

fn requests_to(g: &Tenant, path: &str) -> usize {
    g.emu.seen().iter().filter(|r| r.path == path).count()
}

#[test]
fn workload_identity_rereads_the_rotated_file() {
    let g = tenant();
    let file = g.env.home.path().join("federated-token");
    std::fs::write(&file, "assertion-one\n").unwrap();
    g.emu
        .state()
        .federated
        .insert("ci-app".into(), Federation::File(file.clone()));
    let f = file.to_str().unwrap();
    let vars = [("AZURE_FEDERATED_TOKEN_FILE", f)];
    let (code, _, err) = run(
        &g,
        &["get-user", "kim@contoso.com"],
        &vars,
        &["assertion-one"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("credential: workload identity (assertion file"),
        "{err}"
    );
    assert!(err.contains("AZURE_FEDERATED_TOKEN_FILE is set"), "{err}");
    // The platform rotates the file: the next token request sends the new content.
    std::fs::write(&file, "assertion-two").unwrap();
    clear_cache(&g);
    let (code, _, err) = run(
        &g,
        &["get-user", "kim@contoso.com"],
        &vars,
        &["assertion-two"],
    );
    assert_eq!(code, 0, "{err}");
    let last = g
        .emu
        .seen()
        .into_iter()
        .rfind(|r| r.path.ends_with("/token"))
        .unwrap();
    assert!(
        last.body.contains("client_assertion=assertion-two"),
        "{}",
        last.body
    );
    // An assertion Entra doesn't match (a stale copy) is refused with its AADSTS code.
    let stale = g.env.home.path().join("stale-copy");
    std::fs::write(&stale, "assertion-one").unwrap();
    clear_cache(&g);
    let stale_vars = [("AZURE_FEDERATED_TOKEN_FILE", stale.to_str().unwrap())];
    let (code, _, err) = run(&g, &["get-user", "kim@contoso.com"], &stale_vars, &[]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("AADSTS700213"), "{err}");
    assert!(
        err.contains("hint: check the app registration's federated credential"),
        "{err}"
    );
    // Chosen explicitly without its variables: says exactly what is missing.
    let (code, _, err) = g.run_env(
        &[
            "get-user",
            "kim@contoso.com",
            "--credential",
            "workload-identity",
        ],
        &[],
    );
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("the workload-identity credential needs AZURE_FEDERATED_TOKEN_FILE (not set)"),
        "{err}"
    );
    let (code, _, err) = g.run_env(
        &["get-user", "kim@contoso.com"],
        &[("AZURE_FEDERATED_TOKEN_FILE", f)],
    );
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains(
            "AZURE_FEDERATED_TOKEN_FILE is set but AZURE_TENANT_ID and AZURE_CLIENT_ID is not"
        ),
        "{err}"
    );
}

fn github(g: &Tenant) -> String {
    g.emu.state().github_request_token = Some("gh-request-token-123".into());
    g.emu
        .state()
        .federated
        .insert("ci-app".into(), Federation::Issued);
    format!("{}/github/token?api-version=2.0", g.emu.url)
}

#[test]
fn github_actions_fetches_a_fresh_oidc_token_for_every_entra_token() {
    let g = tenant();
    let url = github(&g);
    let vars = [
        ("ACTIONS_ID_TOKEN_REQUEST_URL", url.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "gh-request-token-123"),
    ];
    let secrets = ["gh-request-token-123"];
    let (code, _, err) = run(&g, &["get-user", "kim@contoso.com"], &vars, &secrets);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("credential: GitHub Actions OIDC token for app ci-app"),
        "{err}"
    );
    clear_cache(&g);
    let (code, _, err) = run(&g, &["get-user", "kim@contoso.com"], &vars, &secrets);
    assert_eq!(code, 0, "{err}");
    assert_eq!(requests_to(&g, "/github/token"), 2);
    assert_eq!(g.emu.token_requests(), 2);
    // An expired GitHub token is refused by Entra: the message says so.
    g.emu.state().github_lifetime = std::time::Duration::ZERO;
    clear_cache(&g);
    let (code, _, err) = run(&g, &["get-user", "kim@contoso.com"], &vars, &secrets);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("AADSTS700024: Client assertion is not within its valid time range"),
        "{err}"
    );
    // A wrong request token: GitHub refuses, nothing goes to Entra.
    let before = g.emu.token_requests();
    let bad = [
        ("ACTIONS_ID_TOKEN_REQUEST_URL", url.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "wrong"),
    ];
    let (code, _, err) = run(&g, &["get-user", "kim@contoso.com"], &bad, &["wrong"]);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("GitHub's OIDC token endpoint refused the request with HTTP 401"),
        "{err}"
    );
    assert!(err.contains("permissions: id-token: write"), "{err}");
    assert_eq!(g.emu.token_requests(), before);
    // Missing variables, chosen explicitly.
    let (code, _, err) = g.run_env(&["whoami", "--credential", "github-actions"], &IDS);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains(
            "needs ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN (not set)"
        ),
        "{err}"
    );
}

#[test]
fn a_long_import_renews_with_a_new_github_token() {
    let emu = Emulator::start();
    emu.add_many(200);
    let g = Tenant::new(emu);
    let url = github(&g);
    g.emu.state().token_lifetime = std::time::Duration::from_secs(2);
    g.emu.set_latency(std::time::Duration::from_millis(150));
    let mut csv = String::from("userPrincipalName,mobilePhone\n");
    for i in 0..200 {
        csv.push_str(&format!("user{i:05}@contoso.com,+1 206 555 {i:04}\n"));
    }
    let file = g.file("in.csv", &csv);
    let vars = [
        ("ACTIONS_ID_TOKEN_REQUEST_URL", url.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "gh-request-token-123"),
    ];
    let (code, out, err) = run(
        &g,
        &["import", &file, "-o", "json", "--concurrency", "1"],
        &vars,
        &["gh-request-token-123"],
    );
    assert_eq!(code, 0, "{err}");
    let s: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (s["updated"].as_u64(), s["failed"].as_u64()),
        (Some(200), Some(0))
    );
    let entra = g.emu.token_requests();
    assert!(entra >= 2, "renewed during the run");
    assert_eq!(
        requests_to(&g, "/github/token"),
        entra,
        "one GitHub token per Entra token"
    );
}

#[test]
fn azure_pipelines_oidc() {
    let g = tenant();
    g.emu.state().pipelines = Some(("ado-system-token".into(), "conn-42".into()));
    g.emu
        .state()
        .federated
        .insert("ci-app".into(), Federation::Issued);
    let uri = format!("{}/pipelines/oidc", g.emu.url);
    let vars = [
        ("SYSTEM_OIDCREQUESTURI", uri.as_str()),
        ("SYSTEM_ACCESSTOKEN", "ado-system-token"),
        ("AZURESUBSCRIPTION_SERVICE_CONNECTION_ID", "conn-42"),
    ];
    let (code, _, err) = run(
        &g,
        &["get-user", "kim@contoso.com"],
        &vars,
        &["ado-system-token"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("Azure Pipelines OIDC token (service connection conn-42)"),
        "{err}"
    );
    let (code, _, err) = run(
        &g,
        &[
            "get-user",
            "kim@contoso.com",
            "--credential",
            "azure-pipelines",
        ],
        &vars[..2],
        &[],
    );
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("needs AZURESUBSCRIPTION_SERVICE_CONNECTION_ID (not set)"),
        "{err}"
    );
    // A wrong SYSTEM_ACCESSTOKEN: Azure DevOps answers 401 (not a sign-in redirect) because the
    // request asks it to, and the 401 is explained.
    let wrong = [
        ("SYSTEM_OIDCREQUESTURI", uri.as_str()),
        ("SYSTEM_ACCESSTOKEN", "stale-token"),
        ("AZURESUBSCRIPTION_SERVICE_CONNECTION_ID", "conn-42"),
    ];
    clear_cache(&g);
    let (code, _, err) = run(
        &g,
        &["get-user", "kim@contoso.com"],
        &wrong,
        &["stale-token"],
    );
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("Azure Pipelines' OIDC endpoint refused the request with HTTP 401"),
        "{err}"
    );
    assert!(!err.contains("redirect"), "{err}");
}

#[test]
fn managed_identity_on_app_service() {
    let g = tenant();
    g.emu.state().identity_header = Some("app-service-header-secret".into());
    let endpoint = format!("{}/msi/token", g.emu.url);
    let vars = [
        ("IDENTITY_ENDPOINT", endpoint.as_str()),
        ("IDENTITY_HEADER", "app-service-header-secret"),
    ];
    let secrets = ["app-service-header-secret"];
    // System-assigned: no client id.
    let (code, _, err) = g.run_env(&["get-user", "kim@contoso.com", "-vv"], &vars);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("managed identity (App Service / Functions, system-assigned) — the first that applies: IDENTITY_ENDPOINT is set"), "{err}");
    assert!(!err.contains(secrets[0]));
    let (path, query) = g.emu.state().identity_requests.last().cloned().unwrap();
    assert_eq!(path, "/msi/token");
    assert_eq!(
        query,
        "api-version=2019-08-01&resource=https%3A%2F%2Fgraph.microsoft.com"
    );
    // User-assigned, by AZURE_CLIENT_ID.
    clear_cache(&g);
    let (code, _, err) = run(&g, &["get-user", "kim@contoso.com"], &vars, &secrets);
    assert_eq!(code, 0, "{err}");
    let (_, query) = g.emu.state().identity_requests.last().cloned().unwrap();
    assert!(query.ends_with("&client_id=ci-app"), "{query}");
    // A wrong header is refused.
    clear_cache(&g);
    let wrong = [
        ("IDENTITY_ENDPOINT", endpoint.as_str()),
        ("IDENTITY_HEADER", "nope"),
    ];
    let (code, _, err) = run(&g, &["get-user", "kim@contoso.com"], &wrong, &["nope"]);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("refused with HTTP 401: X-IDENTITY-HEADER is missing or wrong"),
        "{err}"
    );
}

#[test]
fn managed_identity_on_arc_answers_the_challenge_from_the_key_folder_only() {
    let g = tenant();
    let dir = g.env.home.path().join("azcmagent-tokens");
    std::fs::create_dir(&dir).unwrap();
    let key = dir.join("0123.key");
    std::fs::write(&key, "arc-key-secret").unwrap();
    g.emu.state().arc_key_file = Some(key);
    let endpoint = format!("{}/arc/token", g.emu.url);
    let d = dir.to_str().unwrap();
    let vars = [
        ("IDENTITY_ENDPOINT", endpoint.as_str()),
        ("IMDS_ENDPOINT", "http://localhost:40342"),
        ("SSPRCTL_ARC_KEY_DIR", d),
    ];
    let (code, _, err) = g.run_env(&["get-user", "kim@contoso.com", "-vv"], &vars);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("arc-key-secret"));
    assert_eq!(
        requests_to(&g, "/arc/token"),
        2,
        "the challenge, then the answer"
    );
    // A key file outside the documented folder is never read.
    let outside = g.env.home.path().join("elsewhere.key");
    std::fs::write(&outside, "not-to-be-read").unwrap();
    g.emu.state().arc_key_file = Some(outside);
    clear_cache(&g);
    let (code, _, err) = g.run_env(&["get-user", "kim@contoso.com", "-vv"], &vars);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("is not a .key file in"), "{err}");
    assert!(!err.contains("not-to-be-read"));
}

#[test]
fn imds_only_when_chosen() {
    let g = tenant();
    let host = g.emu.url.clone();
    let vars = [("AZURE_POD_IDENTITY_AUTHORITY_HOST", host.as_str())];
    // auto never probes IMDS.
    let (code, _, err) = g.run_env(&["get-user", "kim@contoso.com"], &vars);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("no Microsoft Graph credential found"), "{err}");
    assert!(g.emu.state().identity_requests.is_empty());
    let (code, _, err) = g.run_env(
        &[
            "get-user",
            "kim@contoso.com",
            "--credential",
            "managed-identity",
            "-v",
        ],
        &vars,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(
            "managed identity (Azure IMDS, system-assigned) — --credential managed-identity"
        ),
        "{err}"
    );
    let (path, query) = g.emu.state().identity_requests.last().cloned().unwrap();
    assert_eq!(path, "/metadata/identity/oauth2/token");
    assert!(
        query.starts_with("api-version=2018-02-01&resource="),
        "{query}"
    );
}

/// A stand-in `az` in its own folder, printing `stdout` and exiting `code`.
fn fake_az(dir: &Path, stdout: &str, stderr: &str, code: i32) -> String {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).unwrap();
    let script = dir.join("az");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nPATH=/usr/bin:/bin\necho \"$@\" > \"{}/args\"\ncat <<'EOF'\n{stdout}\nEOF\ncat >&2 <<'EOF'\n{stderr}\nEOF\nexit {code}\n",
            dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir.to_str().unwrap().to_string()
}

#[test]
fn azure_cli_is_the_last_automatic_option() {
    let g = tenant();
    let token = g.emu.issue_token();
    let on = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3000;
    let json = format!(
        r#"{{"accessToken": "{token}", "expiresOn": "2026-11-25 10:00:00.000000", "expires_on": {on}, "tokenType": "Bearer"}}"#
    );
    let dir = g.env.home.path().join("bin");
    let path = fake_az(&dir, &json, "", 0);
    let (code, out, err) = g.run_env(
        &["get-user", "kim@contoso.com", "-vv", "-o", "json"],
        &[("PATH", &path)],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(
            "the Azure CLI's signed-in account — the first that applies: az on PATH is set"
        ),
        "{err}"
    );
    assert!(!out.contains(&token) && !err.contains(&token));
    let args = std::fs::read_to_string(dir.join("args")).unwrap();
    assert_eq!(
        args.trim(),
        "account get-access-token --resource https://graph.microsoft.com --output json"
    );
    // Not signed in: az's own message and the next step.
    fake_az(
        &dir,
        "",
        "ERROR: Please run 'az login' to setup account.",
        1,
    );
    let (code, _, err) = g.run_env(&["get-user", "kim@contoso.com"], &[("PATH", &path)]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("error: the Azure CLI could not get a token: ERROR: Please run 'az login' to setup account."), "{err}");
    assert!(err.contains("hint: run `az login`"), "{err}");
    // Chosen explicitly without az on PATH.
    let (code, _, err) = g.run_env(
        &["get-user", "kim@contoso.com", "--credential", "azure-cli"],
        &[],
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("`az` is not on PATH"), "{err}");
}

/// A client-secret credential whose tokens grant `roles`.
fn secret_with(g: &Tenant, roles: &[&str]) -> [(&'static str, &'static str); 3] {
    g.emu
        .state()
        .client_secrets
        .insert("ci-app".into(), "the-secret".into());
    g.emu.state().roles = roles.iter().map(|r| r.to_string()).collect();
    [IDS[0], IDS[1], ("AZURE_CLIENT_SECRET", "the-secret")]
}

/// Whether `auth status -o json` says the token allows operation `op`.
fn granted_in(v: &Value, op: &str) -> Value {
    v["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["operation"] == op)
        .unwrap_or_else(|| panic!("{op}"))["granted"]
        .clone()
}

#[test]
fn auth_status_shows_what_the_token_allows() {
    let g = tenant();
    let vars = secret_with(
        &g,
        &[
            "User.Read.All",
            "User-Mail.ReadWrite.All",
            "UserAuthMethod-Phone.ReadWrite.All",
        ],
    );
    let (code, out, err) = g.run_env(&["auth", "status", "-o", "json", "-vv"], &vars);
    assert_eq!(code, 0, "{err}");
    assert!(
        !out.contains("the-secret") && !err.contains("the-secret") && !out.contains("eyJ0eXAi")
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["credential"], "secret");
    assert_eq!(v["tenant"], "tenant-id");
    assert_eq!(v["clientId"], "app-1");
    assert_eq!(v["appName"], "ssprctl-ci");
    assert_eq!(v["cloud"], "global");
    assert_eq!(v["permissionType"], "application");
    assert!(v["expiresAt"].as_str().unwrap().ends_with("GMT"));
    let granted = |op: &str| granted_in(&v, op);
    assert_eq!(granted("read users' contact info"), true);
    assert_eq!(granted("set mobile / office phone"), false);
    assert_eq!(granted("set alternate email"), true);
    assert_eq!(granted("set authentication phones"), true);
    assert_eq!(granted("set authentication email"), false);
    assert_eq!(granted("audit: registration report"), false);
    // The table and the alias.
    let (code, out, err) = g.run_env(&["whoami", "-o", "table"], &vars);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(" set mobile / office phone "), "{out}");
    assert!(out.contains("✗") && out.contains("✔"), "{out}");
    // A token that can't be had: exit 4 with the next step.
    std::fs::remove_file(g.env.home.path().join("tokens.json")).unwrap();
    let (code, _, err) = g.run_env(
        &["auth", "status"],
        &[IDS[0], IDS[1], ("AZURE_CLIENT_SECRET", "wrong")],
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("AADSTS7000215"), "{err}");
}

#[test]
fn import_checks_permissions_before_its_first_write() {
    let g = tenant();
    let vars = secret_with(&g, &["User.Read.All", "User-Mail.ReadWrite.All"]);
    let file = g.file(
        "in.csv",
        "userPrincipalName,mobilePhone\nkim@contoso.com,+1 2065550999\n",
    );
    g.emu.clear_seen();
    let (code, _, err) = g.run_env(&["import", &file], &vars);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("error: the token can't set mobile / office phone: it needs one of User-Phone.ReadWrite.All"), "{err}");
    assert!(
        err.contains("hint: grant User-Phone.ReadWrite.All"),
        "{err}"
    );
    assert!(
        !g.emu.graph_requests().iter().any(|r| r.contains("$batch")),
        "{:?}",
        g.emu.graph_requests()
    );
    // A dry run only reads: it goes ahead.
    let (code, _, err) = g.run_env(&["import", &file, "--dry-run"], &vars);
    assert_eq!(code, 0, "{err}");
    // Alternate emails are allowed by this token.
    let file = g.file(
        "mails.csv",
        "userPrincipalName,alternateEmailAddresses\nkim@contoso.com,k@fabrikam.com\n",
    );
    let (code, _, err) = g.run_env(&["import", &file], &vars);
    assert_eq!(code, 0, "{err}");
}

/// A passthrough JWT with these claims (unsigned: ssprctl reads, Graph verifies).
fn jwt(claims: &str) -> String {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    format!(
        "{}.{}.c2ln",
        b64(r#"{"typ":"JWT","alg":"RS256"}"#),
        b64(claims)
    )
}

#[test]
fn auth_status_decodes_odd_expiry_claims_and_names_what_it_cannot() {
    let g = tenant();
    // A fractional exp (RFC 7519 allows it): decoded, the permissions still read.
    let t = jwt(r#"{"exp":4102444800.5,"tid":"t1","appid":"a1","roles":["User.Read.All"]}"#);
    let (code, out, err) = g.run_env(
        &["auth", "status", "-o", "json"],
        &[("SSPRCTL_ACCESS_TOKEN", &t)],
    );
    assert_eq!((code, err.as_str()), (0, ""), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["permissionType"], "application");
    assert_eq!(v["permissions"], serde_json::json!(["User.Read.All"]));
    assert_eq!(v["expiresAt"], "Fri, 01 Jan 2100 00:00:00 GMT");
    // Beyond any clock: named once, the rest still read.
    let t = jwt(r#"{"exp":1e20,"tid":"t1","appid":"a1","roles":["User.Read.All"]}"#);
    let (code, out, err) = g.run_env(
        &["auth", "status", "-o", "json"],
        &[("SSPRCTL_ACCESS_TOKEN", &t)],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        err,
        "warning: some of the token's claims can't be read (the rest are shown): exp 1e+20 is beyond any date this clock can hold\n"
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["permissionType"], "application");
    // Negative: a date before 1970, so the token has expired — said, not sent.
    let t = jwt(r#"{"exp":-1,"tid":"t1","appid":"a1","roles":["User.Read.All"]}"#);
    let (code, _, err) = g.run_env(
        &["get-user", "kim@contoso.com"],
        &[("SSPRCTL_ACCESS_TOKEN", &t)],
    );
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains(
            "the access token in SSPRCTL_ACCESS_TOKEN expired at 1 s before Thu, 01 Jan 1970 00:00:00 GMT"
        ),
        "{err}"
    );
    assert!(g.emu.graph_requests().is_empty());
}

#[test]
fn narrow_write_permissions_are_not_a_read_and_the_audit_permissions_are_least_privileged() {
    let g = tenant();
    let vars = secret_with(
        &g,
        &[
            "User-Phone.ReadWrite.All",
            "Policy.Read.AuthenticationMethod",
            "UserAuthenticationMethod.Read.All",
            "GroupMember.Read.All",
        ],
    );
    let (code, out, err) = g.run_env(&["auth", "status", "-o", "json"], &vars);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        err,
        "warning: User-Phone.ReadWrite.All cover(s) only the phone or mail properties and ids: reading \
         displayName, otherMails and onPremisesSyncEnabled needs User.Read.All (or wider)\n"
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    let granted = |op: &str| granted_in(&v, op);
    assert_eq!(granted("read users' contact info"), false);
    assert_eq!(granted("set mobile / office phone"), true);
    assert_eq!(granted("audit: registration report"), true);
    assert_eq!(granted("audit: authentication methods policy"), true);
    assert_eq!(granted("audit: the policy's group targets"), true);
    // The audit's pre-flight: the read it can't do is named before anything is read.
    clear_cache(&g);
    g.emu.clear_seen();
    let (code, _, err) = g.run_env(&["audit", "--all"], &vars);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("the token can't read users' contact info: it needs one of User.Read.All"),
        "{err}"
    );
    assert!(
        g.emu.graph_requests().is_empty(),
        "{:?}",
        g.emu.graph_requests()
    );
}
