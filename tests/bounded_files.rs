//! Files read for credentials or trust are bounded: a huge file is refused (never cut and
//! sent), and a FIFO or a device is refused at once (never read until memory runs out, never
//! waited on forever). Each run has a timeout, so a regression fails instead of hanging.

mod common;
mod emulator;
mod tenant;

use std::path::Path;
use std::time::Duration;

use common::Env;
use emulator::{Emulator, Federation};
use tenant::Tenant;

const LIMIT: Duration = Duration::from_secs(30);

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// Runs with a timeout; (exit code, stdout, stderr).
fn run(cmd: std::process::Command) -> (i32, String, String) {
    let out = assert_cmd::Command::from_std(cmd)
        .timeout(LIMIT)
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some(),
        "still running after {LIMIT:?} (killed)"
    );
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn federated(g: &Tenant, file: &Path) -> (i32, String, String) {
    let mut c = g.std_cmd(&["get-user", "kim@contoso.com"]);
    c.env("AZURE_TENANT_ID", "contoso.onmicrosoft.com")
        .env("AZURE_CLIENT_ID", "ci-app")
        .env("AZURE_FEDERATED_TOKEN_FILE", file);
    run(c)
}

#[test]
fn a_federated_token_file_that_is_huge_or_a_fifo_is_refused_and_nothing_is_sent() {
    let g = Tenant::new(Emulator::start());
    g.emu
        .state()
        .federated
        .insert("ci-app".into(), Federation::Issued);
    // 100 MB (sparse): refused whole, not cut at 64 KiB and sent.
    let huge = g.env.home.path().join("huge-token");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(100 << 20)
        .unwrap();
    let (code, out, err) = federated(&g, &huge);
    assert_eq!(code, 4, "{err}");
    assert_eq!(out, "");
    assert!(
        err.starts_with(&format!(
            "error: AZURE_FEDERATED_TOKEN_FILE {}: it is larger than 64 KiB; refused\n",
            huge.display()
        )),
        "{err}"
    );
    let fifo = g.env.home.path().join("token-fifo");
    mkfifo(&fifo);
    let (code, _, err) = federated(&g, &fifo);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("it is a FIFO (named pipe), not a regular file; refused"),
        "{err}"
    );
    assert!(
        !g.emu.seen().iter().any(|r| r.path.ends_with("/token")),
        "a token request was sent"
    );
}

fn ldap(env: &Env, vars: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let mut c = env.std_cmd();
    c.args(["--directory", "ldaps://127.0.0.1:1"])
        .args(args)
        .env("SSPRCTL_LDAP_BIND_DN", "CN=Administrator,CN=Users,DC=x");
    for (k, v) in vars {
        c.env(k, v);
    }
    run(c)
}

#[test]
fn an_ldap_password_file_or_ca_that_is_a_device_or_fifo_is_refused_at_once() {
    let env = Env::new();
    let (code, out, err) = ldap(
        &env,
        &[("SSPRCTL_LDAP_PASSWORD_FILE", "/dev/zero")],
        &["get-user", "--all"],
    );
    assert_eq!(code, 2, "{err}");
    assert_eq!(out, "");
    assert_eq!(
        err,
        "error: SSPRCTL_LDAP_PASSWORD_FILE /dev/zero: it is a character device, not a regular file; refused\n\
         hint: point it at a regular file holding the bind password\n\
         {\"error\":{\"code\":\"unreadable_file\",\"message\":\"SSPRCTL_LDAP_PASSWORD_FILE /dev/zero: \
         it is a character device, not a regular file; refused\",\"hint\":\"point it at a regular file \
         holding the bind password\"}}\n"
    );
    let fifo = env.home.path().join("password-fifo");
    mkfifo(&fifo);
    let (code, _, err) = ldap(
        &env,
        &[("SSPRCTL_LDAP_PASSWORD_FILE", fifo.to_str().unwrap())],
        &["get-user", "--all"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("it is a FIFO (named pipe), not a regular file; refused"),
        "{err}"
    );
    // A password file over 64 KiB is no password file.
    let big = env.home.path().join("big-password");
    std::fs::write(&big, vec![b'p'; 65 << 10]).unwrap();
    let (code, _, err) = ldap(
        &env,
        &[("SSPRCTL_LDAP_PASSWORD_FILE", big.to_str().unwrap())],
        &["get-user", "--all"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("it is larger than 64 KiB; refused"), "{err}");
    // --ldap-ca: refused before any connection is tried.
    let (code, out, err) = ldap(
        &env,
        &[("SSPRCTL_LDAP_PASSWORD", "pw")],
        &["get-user", "--all", "--ldap-ca", "/dev/zero"],
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(out, "");
    assert!(
        err.starts_with(
            "error: --ldap-ca /dev/zero: it is a character device, not a regular file; refused\n"
        ),
        "{err}"
    );
}
