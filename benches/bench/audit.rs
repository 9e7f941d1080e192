//! `audit`: readiness of 100,000 users, locally and on the Graph emulator.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::emulator;

/// Peak resident memory of the largest child process waited for so far, in MB.
pub(crate) fn children_peak_mb() -> f64 {
    // SAFETY: getrusage writes into the struct we pass.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut r) };
    r.ru_maxrss as f64 / 1024.0
}

pub(crate) fn bench_audit() {
    use ssprctl::directory::local::LocalDirectory;
    use ssprctl::model::{AuthDetails, User};
    let bin = env!("CARGO_BIN_EXE_ssprctl");
    let n = 100_000;
    let dir = std::env::temp_dir().join(format!("ssprctl-bench-audit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("d.db");
    let (d, _) = LocalDirectory::open(&db, false).unwrap();
    // A realistic mix: canonical, national, extension, shared placeholder and missing phones.
    let user = |i: usize| User {
        id: format!("00000000-0000-4000-8000-{i:012}"),
        user_principal_name: format!("user{i:06}@contoso.com"),
        display_name: Some(format!("User {i}")),
        mobile_phone: match i % 5 {
            0 => Some(format!("+1 206555{:04}", i % 10000)),
            1 => Some(format!("(206) 555-{:04}", i % 10000)),
            2 => Some(format!("+44 7400{:06}x12", i % 1_000_000)),
            3 => Some("+1 5555555555".into()),
            _ => None,
        },
        office_phone: i
            .is_multiple_of(3)
            .then(|| format!("+1 425555{:04}", i % 10000)),
        alternate_email_addresses: if i.is_multiple_of(4) {
            vec![format!("u{i}@fabrikam.com")]
        } else {
            vec![]
        },
        on_premises_sync_enabled: i.is_multiple_of(7),
        account_enabled: None,
        user_type: None,
        on_premises: Default::default(),
    };
    let users: Vec<(User, AuthDetails)> =
        (0..n).map(|i| (user(i), AuthDetails::default())).collect();
    d.insert_many(&users).unwrap();
    drop((d, users));
    let t = Instant::now();
    let out = Command::new(bin)
        .env("SSPRCTL_HOME", &dir)
        .args([
            "--directory",
            &format!("local:{}", db.display()),
            "audit",
            "--all",
            "-o",
            "jsonl",
            "--default-region",
            "US",
        ])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let wall = t.elapsed();
    assert!(out.status.success());
    println!(
        "audit: local directory, {} users, audit --all -o jsonl: {:.2} s (target ≤ 2 s), peak memory {:.0} MB (target ≤ 300 MB)",
        out.stdout.iter().filter(|b| **b == b'\n').count(),
        wall.as_secs_f64(),
        children_peak_mb()
    );
    let _ = std::fs::remove_dir_all(&dir);

    let latency = Duration::from_millis(20);
    let emu = emulator::Emulator::start();
    emu.add_many(n);
    let token = emu.issue_token();
    emu.set_latency(latency);
    emu.clear_seen();
    let home = std::env::temp_dir().join(format!("ssprctl-bench-audit-g-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let audit = || {
        super::graph::graph_command(&emu, &token, &home)
            .args(["audit", "--all", "-o", "jsonl"])
            .stderr(Stdio::null())
            .output()
            .unwrap()
    };
    let t = Instant::now();
    let out = audit();
    let wall = t.elapsed().as_secs_f64();
    assert!(out.status.success());
    let reqs = emu.graph_requests();
    let pages = reqs
        .iter()
        .filter(|r| r.as_str() == "GET /v1.0/users")
        .count();
    let report = reqs
        .iter()
        .filter(|r| r.ends_with("userRegistrationDetails"))
        .count();
    let per_user = reqs
        .iter()
        .filter(|r| r.starts_with("GET /v1.0/users/"))
        .count();
    let others = reqs.len() - pages - report - per_user;
    let sequential = (pages + report + others) as f64 * latency.as_secs_f64();
    println!(
        "audit: Graph emulator, {n} users, {} ms latency: {pages} user pages (target ≤ 101) + {report} report pages + {others} other, {per_user} per-user requests; {wall:.2} s wall vs {sequential:.2} s of sequential round trips (ratio {:.2}, target ≤ 1.3)",
        latency.as_millis(),
        wall / sequential
    );
    // The methods policy with group targets: Sms and Email for 5 groups of 20,000 members each,
    // against the same audit with every configuration targeting all users.
    let run = |policy: serde_json::Value| {
        emu.state().policy = Some(policy);
        let t = Instant::now();
        let out = audit();
        assert!(out.status.success());
        t.elapsed().as_secs_f64()
    };
    let targets = |ids: &[String]| -> Vec<serde_json::Value> {
        ids.iter()
            .map(|id| serde_json::json!({"targetType": "group", "id": id}))
            .collect()
    };
    let policy = |include: Vec<serde_json::Value>| {
        serde_json::json!({"policyMigrationState": "migrationComplete", "authenticationMethodConfigurations": [
            {"id": "Sms", "state": "enabled", "includeTargets": include},
            {"id": "Voice", "state": "disabled", "includeTargets": targets(&["all_users".into()])},
            {"id": "Email", "state": "enabled", "includeTargets": include}]})
    };
    let groups: Vec<String> = (0..5).map(|g| format!("group-{g}")).collect();
    for (g, name) in groups.iter().enumerate() {
        let members = (g * 20_000..(g + 1) * 20_000)
            .map(|i| format!("00000000-0000-4000-9000-{i:012}"))
            .collect();
        emu.state().groups.insert(name.clone(), members);
    }
    let all_users = run(policy(targets(&["all_users".into()])));
    emu.clear_seen();
    let grouped = run(policy(targets(&groups)));
    let member_pages = emu
        .graph_requests()
        .iter()
        .filter(|r| r.contains("/transitiveMembers/"))
        .count();
    println!(
        "audit: Graph emulator, {n} users, Sms and Email targeted to 5 groups of 20,000: {grouped:.2} s wall vs {all_users:.2} s \
         targeting all users (ratio {:.2}, target ≤ 1.5); {member_pages} member pages, read once per group",
        grouped / all_users
    );
    let _ = std::fs::remove_dir_all(&home);
}
