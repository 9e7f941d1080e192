//! `process`: fresh ssprctl processes against a local directory file.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) fn time_runs(label: &str, runs: usize, mut make: impl FnMut(usize) -> Command) {
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

pub(crate) fn bench_process() {
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
