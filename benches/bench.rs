//! Benchmarks (run with `cargo bench`; pass a name to run one: `cargo bench -- phone`).
//!
//! - `phone`: `phone::normalize` on a generated corpus of 100,000 numbers from 44 countries in
//!   25 input styles (some deliberately broken), shuffled, on one thread.
//! - `process`: a fresh `ssprctl` process per run against a local directory file:
//!   `get-user X` and `set-user X --mobile-phone …` (a real write each time); median and p90.
//! - `graph`: a fresh process per run of `get-user X --directory graph` against the test
//!   emulator on 127.0.0.1 with a cached token, against the emulator's own latency for one
//!   request on a new connection; and the requests each command sends.
//! - `import-local`: a fresh process importing 100,000 CSV rows into a local directory of
//!   100,000 users: wall time and peak memory (twice: with changes, then all unchanged).
//! - `validate`: reading and validating the same 100,000 rows in-process.
//! - `import-graph`: 10,000 users behind the emulator with 20 ms latency per HTTP request,
//!   8,000 of them changing the mobile phone: wall time against the ideal for batches of 20
//!   with 4 in flight, request counts, and the naive baseline (one PATCH per user, one at a
//!   time) in the same run. `SSPRCTL_BENCH_BASELINE=N` measures the baseline on N users.
//! - `quota`: 9,000 changes against the emulator's write quota scaled 10× in time (3,000
//!   writes per 15 s instead of per 150 s) with 50 ms latency per request: achieved writes/s
//!   against the quota's rate, the share of write items answered 429, failed rows, and wall
//!   time against the ideal (the window's first 3,000 at once, then the quota's rate).
//! - `audit`: `audit --all -o jsonl` of 100,000 users in a local directory (wall time and peak
//!   memory), and against the Graph emulator with 100,000 users and 20 ms latency (pages read,
//!   per-user requests, wall time against the sum of the pages' sequential round trips).
//! - `ad`: a Samba AD DC on loopback with 10,000 users: `import` changing all their mobiles
//!   (4 connections), `get-user --all`, and a fresh `get-user X` process against the bare
//!   LDAPS handshake (TCP, TLS and bind) measured in-process.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ssprctl::phone::{self, PhoneCheck, PhoneOptions, RegionCode};

#[path = "../tests/emulator/mod.rs"]
mod emulator;

#[path = "../tests/ad/mod.rs"]
mod ad;

/// (country calling code, a valid national significant number, region, national trunk prefix)
const SEEDS: &[(&str, &str, &str, &str)] = &[
    ("1", "2015550123", "US", "1"),
    ("1", "6135550123", "CA", "1"),
    ("44", "2079460958", "GB", "0"),
    ("44", "7400123456", "GB", "0"),
    ("353", "851234567", "IE", "0"),
    ("33", "612345678", "FR", "0"),
    ("49", "15123456789", "DE", "0"),
    ("49", "30123456", "DE", "0"),
    ("39", "3123456789", "IT", ""),
    ("39", "0212345678", "IT", ""),
    ("34", "612345678", "ES", ""),
    ("351", "912345678", "PT", ""),
    ("31", "612345678", "NL", "0"),
    ("32", "470123456", "BE", "0"),
    ("41", "781234567", "CH", "0"),
    ("43", "6641234567", "AT", "0"),
    ("46", "701234567", "SE", "0"),
    ("47", "40612345", "NO", ""),
    ("45", "32123456", "DK", ""),
    ("358", "412345678", "FI", "0"),
    ("48", "512345678", "PL", ""),
    ("420", "601123456", "CZ", ""),
    ("36", "201234567", "HU", "06"),
    ("30", "6912345678", "GR", ""),
    ("7", "9123456789", "RU", "8"),
    ("7", "8005553535", "RU", "8"),
    ("380", "501234567", "UA", "0"),
    ("90", "5012345678", "TR", "0"),
    ("972", "502345678", "IL", "0"),
    ("971", "501234567", "AE", "0"),
    ("966", "512345678", "SA", "0"),
    ("91", "9876543210", "IN", "0"),
    ("86", "13800138000", "CN", "0"),
    ("81", "9012345678", "JP", "0"),
    ("82", "1023456789", "KR", "0"),
    ("65", "81234567", "SG", ""),
    ("61", "412345678", "AU", "0"),
    ("64", "211234567", "NZ", "0"),
    ("55", "11912345678", "BR", "0"),
    ("52", "5512345678", "MX", ""),
    ("54", "91123456789", "AR", "0"),
    ("56", "961234567", "CL", ""),
    ("57", "3211234567", "CO", ""),
    ("27", "821234567", "ZA", "0"),
    ("234", "8021234567", "NG", "0"),
    ("20", "1001234567", "EG", "0"),
    ("254", "712123456", "KE", "0"),
    ("63", "9051234567", "PH", "0"),
];

/// A small deterministic generator, so every run measures the same corpus.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn grouped(s: &str, sep: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    chars
        .chunks(3)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(sep)
}

fn fullwidth(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap(),
            '+' => '＋',
            c => c,
        })
        .collect()
}

/// One input in a random style; returns the text and the default region to use.
fn render(
    rng: &mut Lcg,
    cc: &str,
    nsn: &str,
    region: &str,
    trunk: &str,
) -> (String, Option<&'static str>) {
    // Vary the last two digits so the corpus is not a handful of repeated strings.
    let mut nsn = nsn.to_string();
    let tail = format!("{:02}", rng.below(100));
    nsn.replace_range(nsn.len() - 2.., &tail);
    let region: &'static str = Box::leak(region.to_string().into_boxed_str());
    let style = rng.below(25);
    let text = match style {
        0 => format!("+{cc}{nsn}"),
        1 | 2 => format!("+{cc} {nsn}"),
        3 => format!("+{cc} {}", grouped(&nsn, " ")),
        4 => format!("+{cc}-{}", grouped(&nsn, "-")),
        5 => format!("+{cc}.{}", grouped(&nsn, ".")),
        6 => format!("tel:+{cc}-{}", grouped(&nsn, "-")),
        7 => format!("+{cc} ({}) {}", &nsn[..3], &nsn[3..]),
        8 if trunk == "0" => format!("+{cc} (0){nsn}"),
        8 => format!("+{cc} {nsn}"),
        9 => format!("+{cc} {nsn} x{}", rng.below(9999)),
        10 => format!("+{cc} {nsn} ext. {}", rng.below(999)),
        11 => format!("tel:+{cc}{nsn};ext={}", rng.below(99)),
        12 => fullwidth(&format!("+{cc} {nsn}")),
        13..=15 if !trunk.is_empty() => return (format!("{trunk}{nsn}"), Some(region)),
        13..=15 => return (nsn, Some(region)),
        16 => format!("00{cc} {nsn}"),
        17 => format!("+{cc} {}", &nsn[..nsn.len() - 4]),
        18 => format!("+{cc} {nsn}12345"),
        19 => format!("+{cc} {}O{}", &nsn[..2], &nsn[3..]),
        20 => nsn.clone(),
        21 => format!("  +{cc}   {}  ", grouped(&nsn, "  ")),
        22 => format!("+{cc}\u{a0}{nsn}"),
        23 => format!("+{cc} {nsn} #{}", rng.below(99)),
        _ => format!("+{cc} {}", grouped(&nsn, " ")),
    };
    (text, None)
}

fn corpus(n: usize) -> Vec<(String, Option<RegionCode>)> {
    let mut rng = Lcg(0x5eed);
    let mut out: Vec<(String, Option<RegionCode>)> = (0..n)
        .map(|i| {
            let (cc, nsn, region, trunk) = SEEDS[i % SEEDS.len()];
            let (text, r) = render(&mut rng, cc, nsn, region, trunk);
            (text, r.map(|r| RegionCode::parse(r).expect("seed region")))
        })
        .collect();
    for i in (1..out.len()).rev() {
        let j = rng.below(i + 1);
        out.swap(i, j);
    }
    out
}

fn bench_phone() {
    let n = 100_000;
    let corpus = corpus(n);
    let countries: std::collections::BTreeSet<&str> = SEEDS.iter().map(|s| s.2).collect();
    let run = || {
        let t = Instant::now();
        let mut valid = 0usize;
        for (text, region) in &corpus {
            let opts = PhoneOptions {
                default_region: *region,
                check: PhoneCheck::Strict,
            };
            valid += phone::normalize(text, &opts).is_ok() as usize;
        }
        (t.elapsed(), valid)
    };
    let (cold, valid) = run();
    let mut times: Vec<Duration> = (0..5).map(|_| run().0).collect();
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "phone: {n} numbers, {} countries, shuffled, 1 thread: first pass {:.0}/s (includes metadata start-up), \
         warm median of 5 {:.0}/s; {valid} valid ({:.1}%)",
        countries.len(),
        n as f64 / cold.as_secs_f64(),
        n as f64 / median.as_secs_f64(),
        100.0 * valid as f64 / n as f64
    );
}

fn time_runs(label: &str, runs: usize, mut make: impl FnMut(usize) -> Command) {
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        let mut c = make(i);
        c.stdout(Stdio::null()).stderr(Stdio::null());
        let t = Instant::now();
        let status = c.status().expect("run ssprctl");
        times.push(t.elapsed());
        assert!(status.success(), "{label} failed");
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "process: {label}: median {:.2} ms, p90 {:.2} ms, min {:.2} ms ({runs} runs)",
        ms(times[runs / 2]),
        ms(times[runs * 9 / 10]),
        ms(times[0])
    );
}

fn bench_process() {
    let bin = env!("CARGO_BIN_EXE_ssprctl");
    let dir = std::env::temp_dir().join(format!("ssprctl-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("bench.db");
    let _ = std::fs::remove_file(&db);
    let spec = format!("local:{}", db.display());
    let base = |args: &[&str]| {
        let mut c = Command::new(bin);
        c.env_remove("SSPRCTL_DIRECTORY")
            .env_remove("SSPRCTL_OUTPUT");
        c.env("SSPRCTL_HOME", &dir)
            .arg("--directory")
            .arg(&spec)
            .args(args);
        c
    };
    // 1,000 users so lookups are not in a toy table.
    for i in 0..1000 {
        let s = base(&["new-user", &format!("user{i:04}@contoso.com"), "-q"])
            .output()
            .unwrap();
        assert!(s.status.success());
    }
    let runs = 200;
    time_runs("get-user user0500@contoso.com", runs, |_| {
        base(&["get-user", "user0500@contoso.com", "-o", "json"])
    });
    time_runs(
        "set-user user0500@contoso.com --mobile-phone … (a write each run)",
        runs,
        |i| {
            let phone = if i % 2 == 0 {
                "+1 206 555 0100"
            } else {
                "+44 20 7946 0958"
            };
            base(&[
                "set-user",
                "user0500@contoso.com",
                "--mobile-phone",
                phone,
                "-o",
                "json",
            ])
        },
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = Path::new(&dir);
}

/// Valid `+CC NSN` numbers from the seeds, varied, for files that must import cleanly.
fn valid_phones(n: usize) -> Vec<String> {
    let mut rng = Lcg(0xbeef);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let (cc, nsn, _, _) = SEEDS[rng.below(SEEDS.len())];
        let mut nsn = nsn.to_string();
        let tail = format!("{:02}", rng.below(100));
        nsn.replace_range(nsn.len() - 2.., &tail);
        let text = format!("+{cc} {nsn}");
        if phone::normalize(&text, &PhoneOptions::default()).is_ok() {
            out.push(text);
        }
    }
    out
}

fn import_file(n: usize, changed: usize, upn: impl Fn(usize) -> String) -> String {
    let phones = valid_phones(changed);
    let mut s = String::from("userPrincipalName,mobilePhone,alternateEmailAddresses\n");
    for i in 0..n {
        match phones.get(i) {
            Some(phone) => s.push_str(&format!("{},{phone},u{i}@fabrikam.com\n", upn(i))),
            None => s.push_str(&format!("{},,\n", upn(i))),
        }
    }
    s
}

fn bench_import_local() {
    use ssprctl::directory::local::LocalDirectory;
    use ssprctl::model::{AuthDetails, User};
    let bin = env!("CARGO_BIN_EXE_ssprctl");
    let dir = std::env::temp_dir().join(format!("ssprctl-bench-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("d.db");
    let n = 100_000;
    let (d, _) = LocalDirectory::open(&db, false).unwrap();
    let users: Vec<(User, AuthDetails)> = (0..n)
        .map(|i| {
            (
                User {
                    id: format!("00000000-0000-4000-8000-{i:012}"),
                    user_principal_name: format!("user{i:06}@contoso.com"),
                    ..Default::default()
                },
                AuthDetails::default(),
            )
        })
        .collect();
    d.insert_many(&users).unwrap();
    drop(d);
    let file = dir.join("hr.csv");
    std::fs::write(
        &file,
        import_file(n, n, |i| format!("user{i:06}@contoso.com")),
    )
    .unwrap();
    for label in [
        "100,000 rows, all changing",
        "the same file again, all unchanged",
    ] {
        let t = Instant::now();
        let out = Command::new(bin)
            .env("SSPRCTL_HOME", &dir)
            .args([
                "--directory",
                &format!("local:{}", db.display()),
                "import",
                file.to_str().unwrap(),
                "-o",
                "json",
                "-v",
            ])
            .output()
            .unwrap();
        let elapsed = t.elapsed();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        let peak = err
            .lines()
            .find_map(|l| l.strip_prefix("debug: peak memory "))
            .unwrap_or("?");
        println!(
            "import-local: {label}: {:.2} s wall, peak memory {peak}; {}",
            elapsed.as_secs_f64(),
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn bench_validate() {
    use ssprctl::import::{self, read, validate::Rules};
    let n = 100_000;
    let text = import_file(n, n, |i| format!("user{i:06}@contoso.com"));
    for pass in ["first pass (cold phone metadata)", "second pass"] {
        let t = Instant::now();
        let parsed = read::csv(text.as_bytes(), None, None).unwrap();
        let states = import::validate(&parsed, &Rules::default());
        let elapsed = t.elapsed();
        let first = import::problems(&states).next();
        assert!(first.is_none(), "{first:?}");
        println!(
            "validate: {} rows read and validated, {pass}: {:.3} s ({:.0} rows/s)",
            states.len(),
            elapsed.as_secs_f64(),
            n as f64 / elapsed.as_secs_f64()
        );
    }
}

/// A fresh `ssprctl import FILE -o json` against the emulator with a passthrough token: its
/// output and wall time.
fn graph_import(
    emu: &emulator::Emulator,
    token: &str,
    home: &Path,
    file: &Path,
) -> (std::process::Output, Duration) {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_ssprctl"))
        .env("SSPRCTL_HOME", home)
        .env("SSPRCTL_ACCESS_TOKEN", token)
        .args([
            "--directory",
            "graph",
            "--graph-url",
            &emu.url,
            "--authority-host",
            &emu.url,
            "import",
            file.to_str().unwrap(),
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    (out, t.elapsed())
}

fn bench_import_graph() {
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

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn bench_graph() {
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

fn bench_quota() {
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

/// Peak resident memory of the largest child process waited for so far, in MB.
fn children_peak_mb() -> f64 {
    // SAFETY: getrusage writes into the struct we pass.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut r) };
    r.ru_maxrss as f64 / 1024.0
}

fn bench_audit() {
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
    let t = Instant::now();
    let out = Command::new(bin)
        .env("SSPRCTL_HOME", &home)
        .env("SSPRCTL_ACCESS_TOKEN", &token)
        .args([
            "--directory",
            "graph",
            "--graph-url",
            &emu.url,
            "--authority-host",
            &emu.url,
            "audit",
            "--all",
            "-o",
            "jsonl",
        ])
        .stderr(Stdio::null())
        .output()
        .unwrap();
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
    let _ = std::fs::remove_dir_all(&home);
}

fn bench_ad() {
    let bin = env!("CARGO_BIN_EXE_ssprctl");
    let n = 10_000;
    let dc = ad::dc();
    let ou = "OU=Bench,DC=sspr,DC=test";
    dc.ldapadd(&format!("dn: {ou}\nobjectClass: organizationalUnit\n\n"));
    let t = Instant::now();
    dc.add_users("bench", n, ou);
    println!(
        "ad: {n} users added with ldapadd in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let home = std::env::temp_dir().join(format!("ssprctl-bench-ad-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let ssprctl = |args: &[&str]| {
        let mut c = Command::new(bin);
        c.env("SSPRCTL_HOME", &home)
            .env("SSPRCTL_LDAP_BIND_DN", ad::ADMIN)
            .env("SSPRCTL_LDAP_PASSWORD", ad::ADMIN_PASSWORD)
            .args([
                "--directory",
                &dc.url,
                "--ldap-ca",
                dc.ca.to_str().unwrap(),
                "--base-dn",
                ou,
            ])
            .args(args);
        c
    };
    let file = home.join("hr.csv");
    let mut csv = String::from("userPrincipalName,mobilePhone\n");
    for i in 0..n {
        csv.push_str(&format!("bench{i:05}@sspr.test,+44 7400 {:06}\n", i));
    }
    std::fs::write(&file, csv).unwrap();
    let t = Instant::now();
    let out = ssprctl(&["import", file.to_str().unwrap(), "-o", "json"])
        .output()
        .unwrap();
    let wall = t.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    println!(
        "ad: import of {n} changed users over 4 connections: {:.2} s (target ≤ 10 s), {} updated, {} failed",
        wall.as_secs_f64(),
        s["updated"],
        s["failed"]
    );
    let t = Instant::now();
    let out = ssprctl(&["get-user", "--all", "-o", "jsonl"])
        .output()
        .unwrap();
    let wall = t.elapsed();
    assert!(out.status.success());
    println!(
        "ad: get-user --all of {} users: {:.2} s (target ≤ 2 s)",
        out.stdout.iter().filter(|b| **b == b'\n').count(),
        wall.as_secs_f64()
    );
    // The bare handshake: TCP + TLS + bind, in-process, on a warm machine.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let settings = ssprctl::settings::LdapSettings {
        url: dc.url.clone(),
        host: "localhost".into(),
        starttls: false,
        bind_dn: None,
        password: None,
        ca: Some(dc.ca.clone()),
        insecure_skip_verify: false,
        base_dn: None,
        filter: ssprctl::settings::DEFAULT_LDAP_FILTER.into(),
        stdin_tty: false,
    };
    let tls = ssprctl::directory::ad::conn::tls_config(&settings).unwrap();
    let password = ssprctl::secret::Secret::new(ad::ADMIN_PASSWORD);
    let mut hs = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        rt.block_on(async {
            let mut l =
                ssprctl::directory::ad::conn::connect(&settings, &tls, ad::ADMIN, &password)
                    .await
                    .unwrap();
            let _ = l.unbind().await;
        });
        hs.push(t.elapsed());
    }
    let handshake = median(hs);
    let mut runs = Vec::new();
    for i in 0..50 {
        let user = format!("bench{:05}@sspr.test", i * 97 % n);
        let t = Instant::now();
        let status = ssprctl(&["get-user", &user, "-o", "json"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        runs.push(t.elapsed());
        assert!(status.success());
    }
    let process = median(runs);
    println!(
        "ad: fresh get-user X: median {:.1} ms; LDAPS handshake (TCP+TLS+bind) alone {:.1} ms; above the handshake {:.1} ms (target ≤ 30 ms; 50 runs each)",
        process.as_secs_f64() * 1000.0,
        handshake.as_secs_f64() * 1000.0,
        (process.saturating_sub(handshake)).as_secs_f64() * 1000.0
    );
    let _ = std::fs::remove_dir_all(&home);
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    if wanted("phone") {
        bench_phone();
    }
    if wanted("process") {
        bench_process();
    }
    if wanted("graph") && !filter.iter().any(|f| f == "import-graph") {
        bench_graph();
    }
    if wanted("validate") {
        bench_validate();
    }
    if wanted("import-local") {
        bench_import_local();
    }
    if wanted("import-graph") {
        bench_import_graph();
    }
    if wanted("quota") {
        bench_quota();
    }
    if wanted("audit") {
        bench_audit();
    }
    if filter.iter().any(|f| f == "ad") {
        bench_ad();
    }
}
