//! `import-local` and `validate`: 100,000-row imports into a local directory.

use std::process::Command;
use std::time::Instant;

use super::import_file;

pub(crate) fn bench_import_local() {
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

pub(crate) fn bench_validate() {
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
