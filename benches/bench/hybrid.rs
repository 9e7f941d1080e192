//! `hybrid`: `--directory graph --ad` against the Graph emulator (20 ms per request) and a
//! Samba DC on loopback: an import of 10,000 rows (5,000 synchronised users whose phones go
//! to AD, 5,000 cloud-only users through Graph) against each half run alone, and an audit of
//! the 10,000 users.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::{ad, emulator, graph::graph_command};

const OU: &str = "OU=HybBench,DC=sspr,DC=test";

/// `sAMAccountName` → base64 objectGUID of the OU's users, from one ldapsearch.
fn guids(dc: &ad::Dc) -> Vec<(String, String)> {
    let out = dc
        .ldap_tool("ldapsearch")
        .args(["-LLL", "-o", "ldif-wrap=no", "-b", OU])
        .args([
            "-E",
            "pr=1000/noprompt",
            "(objectClass=user)",
            "sAMAccountName",
            "objectGUID",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut out = Vec::new();
    let (mut sam, mut guid) = (None, None);
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("sAMAccountName: ") {
            sam = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("objectGUID:: ") {
            guid = Some(v.to_string());
        } else if line.is_empty()
            && let (Some(s), Some(g)) = (sam.take(), guid.take())
        {
            out.push((s, g));
        }
    }
    if let (Some(s), Some(g)) = (sam, guid) {
        out.push((s, g));
    }
    out
}

fn timed(mut c: Command) -> (std::process::Output, Duration) {
    let t = Instant::now();
    let out = c.output().unwrap();
    (out, t.elapsed())
}

fn check(out: &std::process::Output, what: &str) -> serde_json::Value {
    assert!(
        out.status.success() || out.status.code() == Some(1),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

pub(crate) fn bench_hybrid() {
    let n = 5_000;
    let latency = Duration::from_millis(20);
    let dc = ad::dc();
    dc.ldapadd(&format!("dn: {OU}\nobjectClass: organizationalUnit\n\n"));
    dc.add_users("hyb", n, OU);
    let anchors = guids(dc);
    assert_eq!(anchors.len(), n);
    let emu = emulator::Emulator::start();
    for (i, (sam, guid)) in anchors.iter().enumerate() {
        emu.add_user(
            &ssprctl::model::User {
                id: format!("00000000-0000-4000-8000-{i:012}"),
                user_principal_name: format!("{sam}@sspr.test"),
                on_premises_sync_enabled: true,
                on_premises: ssprctl::model::OnPremises {
                    immutable_id: Some(guid.clone()),
                    security_identifier: None,
                    ..Default::default()
                },
                ..Default::default()
            },
            &Default::default(),
        );
    }
    for i in 0..n {
        emu.add_user(
            &ssprctl::model::User {
                id: format!("00000000-0000-4000-9000-{i:012}"),
                user_principal_name: format!("cloud{i:05}@contoso.com"),
                ..Default::default()
            },
            &Default::default(),
        );
    }
    let token = emu.issue_token();
    emu.set_latency(latency);
    let home = std::env::temp_dir().join(format!("ssprctl-bench-hybrid-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let write = |name: &str, rows: &[String]| {
        let p = home.join(name);
        std::fs::write(
            &p,
            format!("userPrincipalName,mobilePhone\n{}\n", rows.join("\n")),
        )
        .unwrap();
        p
    };
    let synced: Vec<String> = (0..n)
        .map(|i| format!("hyb{i:05}@sspr.test,+44 7400{:06}", 500_000 + i))
        .collect();
    let cloud: Vec<String> = (0..n)
        .map(|i| format!("cloud{i:05}@contoso.com,+44 7400{:06}", 600_000 + i))
        .collect();
    let hybrid = |c: &mut Command| {
        c.args([
            "--ad",
            &dc.url,
            "--ldap-ca",
            dc.ca.to_str().unwrap(),
            "--base-dn",
            OU,
        ])
        .env("SSPRCTL_LDAP_BIND_DN", ad::ADMIN)
        .env("SSPRCTL_LDAP_PASSWORD", ad::ADMIN_PASSWORD);
    };
    let ad_alone = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ssprctl"));
        c.env("SSPRCTL_HOME", &home)
            .env("SSPRCTL_LDAP_BIND_DN", ad::ADMIN)
            .env("SSPRCTL_LDAP_PASSWORD", ad::ADMIN_PASSWORD)
            .args(["--directory", &dc.url, "--ldap-ca", dc.ca.to_str().unwrap()])
            .args(["--base-dn", OU])
            .args(args);
        c
    };
    // The halves alone, then both in one hybrid run (other values, so every row writes).
    let f = write("ad.csv", &synced);
    let (out, ad_wall) = timed(ad_alone(&["import", f.to_str().unwrap(), "-o", "json"]));
    let s = check(&out, "AD alone");
    println!(
        "hybrid: AD half alone ({n} rows, --directory ldaps://): {:.2} s, {} updated",
        ad_wall.as_secs_f64(),
        s["updated"]
    );
    let f = write("cloud.csv", &cloud);
    let mut c = graph_command(&emu, &token, &home);
    c.args(["import", f.to_str().unwrap(), "-o", "json"]);
    let (out, graph_wall) = timed(c);
    let s = check(&out, "Graph alone");
    println!(
        "hybrid: Graph half alone ({n} rows, --directory graph, 20 ms latency): {:.2} s, {} updated",
        graph_wall.as_secs_f64(),
        s["updated"]
    );
    let both: Vec<String> = synced
        .iter()
        .chain(&cloud)
        .map(|r| r.replace("+44 7400", "+44 7401"))
        .collect();
    let f = write("both.csv", &both);
    emu.clear_seen();
    let mut c = graph_command(&emu, &token, &home);
    hybrid(&mut c);
    c.args(["import", f.to_str().unwrap(), "-o", "json"]);
    let (out, wall) = timed(c);
    let s = check(&out, "hybrid");
    let slower = ad_wall.max(graph_wall);
    println!(
        "hybrid: import of {} rows ({n} synced → AD, {n} cloud-only → Graph): {:.2} s, {} updated, {} failed; \
         {:.2}× the slower half alone (target ≤ 1.2×); {} Graph requests",
        2 * n,
        wall.as_secs_f64(),
        s["updated"],
        s["failed"],
        wall.as_secs_f64() / slower.as_secs_f64(),
        emu.graph_requests().len()
    );
    audit(&emu, &token, &home, &hybrid);
    let _ = std::fs::remove_dir_all(&home);
}

fn audit(emu: &emulator::Emulator, token: &str, home: &Path, hybrid: &dyn Fn(&mut Command)) {
    emu.clear_seen();
    let mut c = graph_command(emu, token, home);
    hybrid(&mut c);
    c.args(["audit", "--all", "-o", "jsonl"]);
    let (out, wall) = timed(c);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = out.stdout.iter().filter(|b| **b == b'\n').count();
    println!(
        "hybrid: audit --all of {records} users (half synced, judged on AD's values): {:.2} s (target ≤ 5 s); {} Graph requests",
        wall.as_secs_f64(),
        emu.graph_requests().len()
    );
}
