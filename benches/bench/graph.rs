//! `graph`, `import-graph` and `quota`: the binary against the Graph emulator.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{emulator, import_file, median};

/// A fresh `ssprctl import FILE -o json` against the emulator with a passthrough token: its
/// output and wall time.
pub(crate) fn graph_import(
    emu: &emulator::Emulator,
    token: &str,
    home: &Path,
    file: &Path,
) -> (std::process::Output, Duration) {
    let t = Instant::now();
    let out = graph_command(emu, token, home)
        .args(["import", file.to_str().unwrap(), "-o", "json"])
        .output()
        .unwrap();
    (out, t.elapsed())
}

/// The binary pointed at the emulator with `token`, in `home`.
pub(crate) fn graph_command(emu: &emulator::Emulator, token: &str, home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ssprctl"));
    c.env("SSPRCTL_HOME", home)
        .env("SSPRCTL_ACCESS_TOKEN", token)
        .args([
            "--directory",
            "graph",
            "--graph-url",
            &emu.url,
            "--authority-host",
            &emu.url,
        ]);
    c
}

pub(crate) fn bench_import_graph() {
    let (users, changed, latency) = (10_000usize, 8_000usize, Duration::from_millis(20));
    let emu = emulator::Emulator::start();
    emu.add_many(users);
    let token = emu.issue_token();
    emu.set_latency(latency);
    let home = std::env::temp_dir().join(format!("ssprctl-bench-igraph-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let file = home.join("hr.csv");
    std::fs::write(
        &file,
        import_file(users, changed, |i| format!("user{i:05}@contoso.com")),
    )
    .unwrap();
    emu.clear_seen();
    let (out, wall) = graph_import(&emu, &token, &home, &file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reqs = emu.graph_requests();
    let writes = emu
        .seen()
        .iter()
        .filter(|r| r.path.ends_with("/$batch") && r.body.contains("\"PATCH\""))
        .count();
    let reads = reqs.len() - writes;
    let ideal_writes = (changed as f64 / 20.0 / 4.0).ceil() * latency.as_secs_f64();
    let ideal = ideal_writes + reads as f64 * latency.as_secs_f64();
    println!(
        "import-graph: {users} users, {changed} changes, {} ms latency: {:.2} s wall; ideal {:.2} s \
         (writes {ideal_writes:.2} s + {reads} sequential reads); ratio {:.2}; {} HTTP requests: {reads} reads, \
         {writes} write batches (target ≤ {})",
        latency.as_millis(),
        wall.as_secs_f64(),
        ideal,
        wall.as_secs_f64() / ideal,
        reqs.len(),
        changed.div_ceil(20)
    );
    // The naive baseline: one PATCH per user, one at a time.
    let baseline: usize = std::env::var("SSPRCTL_BENCH_BASELINE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(changed);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let t = Instant::now();
    rt.block_on(async {
        for i in 0..baseline {
            let url = format!("{}/v1.0/users/00000000-0000-4000-9000-{i:012}", emu.url);
            let r = client
                .patch(&url)
                .bearer_auth(&token)
                .json(&serde_json::json!({"mobilePhone": "+1 2065550100"}))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
        }
    });
    let base = t.elapsed();
    let per = base.as_secs_f64() / baseline as f64;
    println!(
        "import-graph: naive baseline, {baseline} PATCHes one at a time: {:.2} s ({:.1} ms each; {:.1} s for {changed}); \
         ssprctl is {:.0}x faster",
        base.as_secs_f64(),
        per * 1000.0,
        per * changed as f64,
        per * changed as f64 / wall.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&home);
}

/// `ps`: a 10,000-row `Import-Csv | ForEach-Object { Set-MsolUser … }` script against the same
/// `import` of that file, each on its own emulator (20 ms latency).
pub(crate) fn bench_ps() {
    let (users, changed, latency) = (10_000usize, 8_000usize, Duration::from_millis(20));
    let home = std::env::temp_dir().join(format!("ssprctl-bench-ps-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let file = home.join("hr.csv");
    let text = import_file(users, changed, |i| format!("user{i:05}@contoso.com"));
    std::fs::write(&file, &text).unwrap();
    // The script's own column names.
    let script_csv = home.join("script.csv");
    std::fs::write(
        &script_csv,
        text.replacen(
            "userPrincipalName,mobilePhone,alternateEmailAddresses",
            "UPN,Mobile,Mail",
            1,
        ),
    )
    .unwrap();
    let emulator = || {
        let emu = emulator::Emulator::start();
        emu.add_many(users);
        let token = emu.issue_token();
        emu.set_latency(latency);
        (emu, token)
    };
    let (emu, token) = emulator();
    let (out, import_wall) = graph_import(&emu, &token, &home, &file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (emu, token) = emulator();
    let script = format!(
        "Import-Csv {} | ForEach-Object {{ Set-MsolUser -UserPrincipalName $_.UPN -MobilePhone $_.Mobile -AlternateEmailAddresses $_.Mail }}",
        script_csv.display()
    );
    let t = Instant::now();
    let out = graph_command(&emu, &token, &home)
        .args(["ps", &script, "-o", "json"])
        .output()
        .unwrap();
    let ps_wall = t.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let changes = emu
        .seen()
        .iter()
        .filter(|r| r.path.ends_with("/$batch") && r.body.contains("\"PATCH\""))
        .count();
    println!(
        "ps: {users}-row Import-Csv | ForEach-Object {{ Set-MsolUser … }} on Graph, {} ms latency: {:.2} s wall vs {:.2} s \
         for import of the same file (ratio {:.2}, target ≤ 1.2; {changes} write batches: one import)",
        latency.as_millis(),
        ps_wall.as_secs_f64(),
        import_wall.as_secs_f64(),
        ps_wall.as_secs_f64() / import_wall.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&home);
}

pub(crate) fn bench_graph() {
    let bin = env!("CARGO_BIN_EXE_ssprctl");
    let emu = emulator::Emulator::start();
    emu.add_many(2500);
    emu.state()
        .client_secrets
        .insert("bench-app".into(), "bench-secret".into());
    let home = std::env::temp_dir().join(format!("ssprctl-bench-graph-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let run = |args: &[&str]| {
        let mut c = Command::new(bin);
        c.env("SSPRCTL_HOME", &home)
            .env("AZURE_TENANT_ID", "contoso.onmicrosoft.com")
            .env("AZURE_CLIENT_ID", "bench-app")
            .env("AZURE_CLIENT_SECRET", "bench-secret")
            .env_remove("SSPRCTL_ACCESS_TOKEN")
            .args([
                "--directory",
                "graph",
                "--graph-url",
                &emu.url,
                "--authority-host",
                &emu.url,
                "-o",
                "json",
            ])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let t = Instant::now();
        assert!(c.status().unwrap().success(), "{args:?}");
        t.elapsed()
    };
    // Requests per command.
    let count = |label: &str, args: &[&str]| {
        emu.clear_seen();
        run(args);
        let reqs = emu.graph_requests();
        println!(
            "graph: {label}: {} Graph requests {:?}, {} token requests",
            reqs.len(),
            reqs.iter()
                .map(|r| r.split(' ').next().unwrap())
                .collect::<Vec<_>>(),
            emu.token_requests()
        );
    };
    run(&["get-user", "user00001@contoso.com"]); // fills the token cache
    let tokens = emu.token_requests();
    count(
        "set-user, a change",
        &[
            "set-user",
            "user00001@contoso.com",
            "--mobile-phone",
            "+1 206 555 0100",
        ],
    );
    count(
        "set-user, unchanged value",
        &[
            "set-user",
            "user00001@contoso.com",
            "--mobile-phone",
            "+1 206 555 0100",
        ],
    );
    count("get-user --all on 2,500 users", &["get-user", "--all"]);
    println!("graph: token requests of the first run (no cache yet): {tokens}");
    // The emulator's own latency: one GET on a new connection from a warm client process.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let token = emu.issue_token();
    let url = format!(
        "{}/v1.0/users/user00500@contoso.com?$select=id,displayName,userPrincipalName,mobilePhone,businessPhones,otherMails,onPremisesSyncEnabled",
        emu.url
    );
    let own: Vec<Duration> = (0..200)
        .map(|_| {
            rt.block_on(async {
                let client = reqwest::Client::builder().no_proxy().build().unwrap();
                let t = Instant::now();
                let r = client.get(&url).bearer_auth(&token).send().await.unwrap();
                assert!(r.status().is_success());
                r.bytes().await.unwrap();
                t.elapsed()
            })
        })
        .collect();
    let own = median(own);
    let runs: Vec<Duration> = (0..200)
        .map(|_| run(&["get-user", "user00500@contoso.com"]))
        .collect();
    let total = median(runs);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "graph: get-user X --directory graph, cached token: process median {:.2} ms; emulator alone {:.2} ms; above the emulator {:.2} ms (200 runs each)",
        ms(total),
        ms(own),
        ms(total.saturating_sub(own))
    );
    let _ = std::fs::remove_dir_all(&home);
}

pub(crate) fn bench_quota() {
    let (changes, limit, window) = (9_000usize, 3_000usize, Duration::from_secs(15));
    let latency = Duration::from_millis(50);
    let emu = emulator::Emulator::start();
    emu.add_many(changes);
    let token = emu.issue_token();
    emu.set_latency(latency);
    emu.state().quota = Some(emulator::Quota::new(limit, window));
    let home = std::env::temp_dir().join(format!("ssprctl-bench-quota-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let file = home.join("hr.csv");
    std::fs::write(
        &file,
        import_file(changes, changes, |i| format!("user{i:05}@contoso.com")),
    )
    .unwrap();
    let (out, wall) = graph_import(&emu, &token, &home, &file);
    let wall = wall.as_secs_f64();
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let q = emu.state().quota.clone().unwrap();
    let rate = limit as f64 / window.as_secs_f64();
    let ideal = (changes - limit) as f64 / rate;
    let items = q.accepted + q.throttled;
    println!(
        "quota: {changes} changes, quota {limit} writes / {} s ({rate:.0}/s), {} ms latency: {wall:.1} s wall, \
         ideal {ideal:.1} s (ratio {:.2}); {:.0} writes/s = {:.2}× the quota rate ({:.2}× after the window's \
         first {limit}); {} of {items} write items answered 429 ({:.2}%); {} failed rows; exit {}",
        window.as_secs(),
        latency.as_millis(),
        wall / ideal,
        q.accepted as f64 / wall,
        q.accepted as f64 / wall / rate,
        (q.accepted.saturating_sub(limit)) as f64 / wall / rate,
        q.throttled,
        100.0 * q.throttled as f64 / items.max(1) as f64,
        summary["failed"],
        out.status.code().unwrap_or(-1),
    );
    let _ = std::fs::remove_dir_all(&home);
}
