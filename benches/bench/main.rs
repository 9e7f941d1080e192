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
//! - `ps`: a 10,000-row `Import-Csv | ForEach-Object { Set-MsolUser … }` script on the Graph
//!   emulator (20 ms latency) against `import` of the same file.
//! - `ad`: a Samba AD DC on loopback with 10,000 users: `import` changing all their mobiles
//!   (4 connections), `get-user --all`, and a fresh `get-user X` process against the bare
//!   LDAPS handshake (TCP, TLS and bind) measured in-process, and against `ldapsearch`
//!   doing handshake, bind and the same search.
//! - `hybrid`: `--directory graph --ad` with the emulator (20 ms latency) and the Samba DC:
//!   an import of 10,000 rows (5,000 synchronised users → AD, 5,000 cloud-only → Graph)
//!   against each half run alone, and `audit --all` of the 10,000 users.

use std::time::Duration;

#[path = "../../tests/emulator/mod.rs"]
mod emulator;

#[path = "../../tests/ad/mod.rs"]
mod ad;

mod active_directory;
mod audit;
mod graph;
mod hybrid;
mod local;
mod phone;
mod process;

use phone::{Lcg, SEEDS};

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
        if ssprctl::phone::normalize(&text, &ssprctl::phone::PhoneOptions::default()).is_ok() {
            out.push(text);
        }
    }
    out
}

pub(crate) fn import_file(n: usize, changed: usize, upn: impl Fn(usize) -> String) -> String {
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

pub(crate) fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    if wanted("phone") {
        phone::bench_phone();
    }
    if wanted("process") {
        process::bench_process();
    }
    if wanted("graph") && !filter.iter().any(|f| f == "import-graph") {
        graph::bench_graph();
    }
    if wanted("validate") {
        local::bench_validate();
    }
    if wanted("import-local") {
        local::bench_import_local();
    }
    if wanted("import-graph") {
        graph::bench_import_graph();
    }
    if wanted("quota") {
        graph::bench_quota();
    }
    if filter.iter().any(|f| f == "ps") || filter.is_empty() {
        graph::bench_ps();
    }
    if wanted("audit") {
        audit::bench_audit();
    }
    if filter.iter().any(|f| f == "ad") {
        active_directory::bench_ad();
    }
    if filter.iter().any(|f| f == "hybrid") {
        hybrid::bench_hybrid();
    }
}
