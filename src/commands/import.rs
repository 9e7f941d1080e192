//! `import`: the command-line side of [`crate::import`] — reading the file, printing problems,
//! the plan and the summary, the progress line, Ctrl-C, the report and the exit code.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::Ctx;
use crate::auth::claims::show_time;
use crate::auth::permissions::{self, Operation};
use crate::cli::{Format, ImportArgs, ImportFormat};
use crate::directory::graph::pace::QUOTA_WRITES_PER_SECOND;
use crate::directory::{AnyDirectory, BulkControl, DirectoryError};
use crate::error::CliError;
use crate::exit::Exit;
use crate::import::read::DataField;
use crate::import::report::{self, ReportFormat};
use crate::import::validate::{Problem, Rules};
use crate::import::{self, RowResult, RowState, Status, read};
use crate::model::Value;
use crate::output::{ChangeReport, Records, Shape};
use crate::settings::phone_options;

/// Row warnings printed before the rest are left to the report.
const MAX_WARNINGS: usize = 20;
/// Problems printed in full; the rest are counted by field (all of them are in `--report`).
const MAX_PROBLEMS: usize = 100;

/// The input's format: `--format`, else the extension, else (stdin) the content: a first
/// non-blank character `{` is JSON Lines, anything else CSV.
fn input_format(a: &ImportArgs, bytes: &[u8]) -> Result<ImportFormat, CliError> {
    if let Some(f) = a.format {
        return Ok(f);
    }
    if a.file == "-" {
        let first = String::from_utf8_lossy(&bytes[..bytes.len().min(1024)])
            .trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
            .chars()
            .next();
        return Ok(if first == Some('{') {
            ImportFormat::Jsonl
        } else {
            ImportFormat::Csv
        });
    }
    let ext = Path::new(&a.file)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("csv") => Ok(ImportFormat::Csv),
        Some("jsonl" | "ndjson") => Ok(ImportFormat::Jsonl),
        _ => Err(CliError::usage(
            "unknown_format",
            format!("can't tell the format of \"{}\" from its name", a.file),
        )
        .with_hint("give --format csv or --format jsonl")),
    }
}

fn read_input(file: &str) -> Result<Vec<u8>, CliError> {
    let mut bytes = Vec::new();
    let r = if file == "-" {
        std::io::stdin().lock().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::read(file).map(|b| bytes = b)
    };
    r.map_err(|e| {
        CliError::usage("unreadable_file", format!("can't read \"{file}\": {e}"))
            .with_hint("check the path and permissions")
    })?;
    Ok(bytes)
}

/// True when `a` and `b` name the same file (both exist and are one inode, or the same path).
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

fn report_target(path: &Path, input: &str) -> Result<ReportFormat, CliError> {
    if input != "-" && same_file(path, Path::new(input)) {
        return Err(CliError::usage(
            "report_is_input",
            format!(
                "--report {} is the input file: the report would overwrite it",
                path.display()
            ),
        )
        .with_hint("give the report another name, e.g. --report import-report.csv"));
    }
    let format = report::format_of(path).ok_or_else(|| {
        CliError::usage(
            "unknown_format",
            format!(
                "--report {}: the name must end in .csv or .jsonl",
                path.display()
            ),
        )
        .with_hint("e.g. --report import-report.csv")
    })?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return Err(CliError::usage(
            "unwritable_report",
            format!(
                "--report {}: the folder {} does not exist",
                path.display(),
                parent.display()
            ),
        ));
    }
    Ok(format)
}

/// Prints the first [`MAX_PROBLEMS`] problems, then counts the rest by field; in JSON error
/// mode each printed one is also a JSON line.
fn print_problems(problems: &[&Problem], json: bool, report: bool) {
    let mut err = std::io::stderr().lock();
    for p in problems.iter().take(MAX_PROBLEMS) {
        let _ = writeln!(
            err,
            "line {}: {} \"{}\": {}",
            p.line, p.field, p.input, p.message
        );
        if json {
            let _ = writeln!(err, "{}", serde_json::json!({ "problem": p }));
        }
    }
    if problems.len() > MAX_PROBLEMS {
        let mut by_field: std::collections::BTreeMap<&str, usize> = Default::default();
        for p in &problems[MAX_PROBLEMS..] {
            *by_field.entry(p.field).or_default() += 1;
        }
        let counts: Vec<String> = by_field
            .iter()
            .map(|(f, n)| format!("{n} in {f}"))
            .collect();
        let _ = writeln!(
            err,
            "… and {} more problems: {}{}",
            problems.len() - MAX_PROBLEMS,
            counts.join(", "),
            if report {
                " (every one is in the report)"
            } else {
                " (write them all with --report)"
            }
        );
    }
    let hints: Vec<&str> = problems
        .iter()
        .filter_map(|p| p.hint.as_deref())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for h in hints.iter().take(5) {
        let _ = writeln!(err, "hint: {h}");
    }
}

/// Ctrl-C: the first stops new work, a second ends the process at once.
fn watch_ctrl_c(cancelled: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancelled.store(true, Ordering::SeqCst);
                eprintln!("\ninterrupted: finishing the requests in flight, then writing the report (Ctrl-C again to quit now)");
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(i32::from(Exit::Interrupted.code()));
                }
            }
        });
    });
}

/// The progress display, on a terminal only: a spinner naming each phase (reading, validating,
/// opening the directory — which may wait for its lock), then a bar of rows with the counts,
/// rate and ETA. Drawn by indicatif on stderr; stdout stays data only.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    ticker: Option<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>,
}

impl Progress {
    fn new(visible: bool) -> Self {
        let bar = visible.then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                None,
                indicatif::ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                    .expect("a valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress { bar, ticker: None }
    }

    fn phase(&self, msg: impl Into<String>) {
        if let Some(b) = &self.bar {
            b.set_message(msg.into());
        }
    }

    /// Switches to the bar of rows, updated from the run's counters.
    fn rows(&mut self, ctl: &BulkControl, total: usize) {
        let Some(bar) = self.bar.clone() else { return };
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} rows · {msg} · {per_sec} · ETA {eta}",
            )
            .expect("a valid template"),
        );
        bar.set_length(total as u64);
        let stop = Arc::new(AtomicBool::new(false));
        let (ctl, flag) = (ctl.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                bar.set_position(ctl.done.load(Ordering::Relaxed) as u64);
                bar.set_message(format!(
                    "{} changed · {} failed",
                    ctl.changed.load(Ordering::Relaxed),
                    ctl.failed.load(Ordering::Relaxed)
                ));
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        self.ticker = Some((stop, handle));
    }

    fn finish(self) {}
}

/// Cleared on every way out (errors included), so messages never land after a stale line.
impl Drop for Progress {
    fn drop(&mut self) {
        if let Some((stop, handle)) = self.ticker.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = handle.join();
        }
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

/// The process's peak resident memory in MB (Linux; `None` elsewhere).
fn peak_memory_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb.div_ceil(1024))
}

/// What an import did, for scripts.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    rows: usize,
    updated: usize,
    unchanged: usize,
    skipped: usize,
    failed: usize,
    /// Rows an interruption left out.
    not_attempted: usize,
    seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_requests: Option<usize>,
}

impl Summary {
    /// On stdout: numbers in JSON (stable key order), a one-row table or CSV/TSV otherwise.
    fn print(&self, ctx: &mut Ctx<'_>) -> Result<(), CliError> {
        match ctx.printer.format {
            Format::Json => serde_json::to_writer_pretty(&mut *ctx.out, self),
            Format::Jsonl => serde_json::to_writer(&mut *ctx.out, self),
            _ => {
                let mut fields = vec![
                    "rows",
                    "updated",
                    "unchanged",
                    "skipped",
                    "failed",
                    "seconds",
                ];
                let counts = [
                    self.rows,
                    self.updated,
                    self.unchanged,
                    self.skipped,
                    self.failed,
                ];
                let mut row: Vec<Value> =
                    counts.iter().map(|n| Value::Text(n.to_string())).collect();
                row.push(Value::Text(format!("{:.2}", self.seconds)));
                if let Some(n) = self.http_requests {
                    fields.push("httpRequests");
                    row.push(Value::Text(n.to_string()));
                }
                let records = Records {
                    fields: &fields,
                    rows: vec![row],
                };
                return Ok(ctx.printer.records(ctx.out, &records, Shape::Object)?);
            }
        }
        .map_err(std::io::Error::from)?;
        writeln!(ctx.out)?;
        Ok(())
    }
}

/// The Graph operations a file with these columns needs (reads only for a dry run).
fn needed(present: &[DataField], dry_run: bool) -> Vec<Operation> {
    use DataField as F;
    let has = |fs: &[F]| fs.iter().any(|f| present.contains(f));
    let mut ops = vec![permissions::READ_USERS];
    let phones = [
        F::AuthenticationPhone,
        F::AlternateAuthenticationPhone,
        F::AuthenticationOfficePhone,
    ];
    if has(&phones) {
        ops.push(permissions::READ_AUTH_PHONES);
    }
    if has(&[F::AuthenticationEmail]) {
        ops.push(permissions::READ_AUTH_EMAIL);
    }
    if !dry_run {
        for (fields, op) in [
            (
                &[F::MobilePhone, F::OfficePhone][..],
                permissions::SET_PHONES,
            ),
            (
                &[F::AlternateEmailAddresses][..],
                permissions::SET_ALTERNATE_EMAIL,
            ),
            (&phones[..], permissions::SET_AUTH_PHONES),
            (&[F::AuthenticationEmail][..], permissions::SET_AUTH_EMAIL),
        ] {
            if has(fields) {
                ops.push(op);
            }
        }
    }
    ops
}

/// Writes the report atomically (see [`super::write_atomically`]).
fn write_report(
    path: &Path,
    format: ReportFormat,
    parsed: &read::Parsed,
    results: &[RowResult],
) -> Result<(), CliError> {
    super::write_atomically(path, |w| report::write(w, format, parsed, results)).map_err(|e| {
        CliError::new(
            Exit::Failed,
            "unwritable_report",
            format!("can't write the report {}: {e}", path.display()),
        )
    })
}

/// Warns before a bulk run when a passthrough token expires before the run can end (estimated
/// at the documented write quota, every valid row one write).
fn warn_short_token(dir: &AnyDirectory, states: &[RowState], ctx: &Ctx<'_>) {
    let AnyDirectory::Graph(g) = dir else { return };
    let Some(at) = g.passthrough_expiry() else {
        return;
    };
    let rows = states
        .iter()
        .filter(|s| matches!(s, RowState::Valid(_)))
        .count();
    let needed = Duration::from_secs_f64(rows as f64 / QUOTA_WRITES_PER_SECOND);
    let left = at
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    if left < needed {
        ctx.printer.warn(&format!(
            "the access token in SSPRCTL_ACCESS_TOKEN expires at {} ({:.0} s from now), but {rows} rows \
             may take about {:.0} s at Graph's write quota; rows not reached by then are reported \
             as not attempted (a client secret, certificate or `ssprctl login` is renewed automatically)",
            show_time(at),
            left.as_secs_f64(),
            needed.as_secs_f64()
        ));
    }
}

fn count(results: &[RowResult], s: Status) -> usize {
    results.iter().filter(|r| r.status == s).count()
}

/// The import, phase by phase: settle the arguments, read the file, validate every row, prepare
/// the directory, apply, report, and the exit code.
pub async fn run(a: ImportArgs, ctx: &mut Ctx<'_>) -> Result<Exit, CliError> {
    let started = Instant::now();
    let (report_format, rules) = settle(&a)?;
    let mut progress = Progress::new(ctx.settings.stderr_tty && !ctx.printer.quiet);
    let parsed = read_file(&a, ctx, &progress)?;
    let states = check(&a, ctx, &parsed, &rules, report_format, &progress, started)?;
    let (dir, ctl) = prepare(&a, ctx, &parsed, &states, &progress).await?;
    progress.phase("reading the users");
    let outcome = import::run(&dir, &parsed, states, a.dry_run, &ctl, |n| {
        progress.rows(&ctl, n)
    })
    .await;
    progress.finish();
    let results: Vec<RowResult> = outcome.map_err(|e: DirectoryError| CliError::from(e))?;
    let counts = Counts::of(&results);
    report(&a, ctx, &parsed, &results, report_format, &counts, started)?;
    exit_code(&results, &counts, &ctl)
}

/// Phase 0: everything about the arguments, settled before a byte is read.
fn settle(a: &ImportArgs) -> Result<(Option<ReportFormat>, Rules), CliError> {
    if a.file != "-" {
        input_format(a, &[])?;
    }
    let report_format = a
        .report
        .as_deref()
        .map(|p| report_target(p, &a.file))
        .transpose()?;
    let rules = Rules {
        phone: phone_options(&a.phone)?,
        clear_empty: a.clear_empty,
    };
    Ok((report_format, rules))
}

/// Phase 1: read and parse the file.
fn read_file(a: &ImportArgs, ctx: &Ctx<'_>, progress: &Progress) -> Result<read::Parsed, CliError> {
    progress.phase(format!(
        "reading {}",
        if a.file == "-" {
            "stdin"
        } else {
            a.file.as_str()
        }
    ));
    let bytes = read_input(&a.file)?;
    let format = input_format(a, &bytes)?;
    let parsed = match format {
        ImportFormat::Csv => read::csv(
            &bytes,
            a.delimiter.map(|d| d.byte()),
            a.region_column.as_deref(),
        ),
        ImportFormat::Jsonl => read::jsonl(&bytes, a.region_column.as_deref()),
    }
    .map_err(|e| CliError::usage("invalid_file", e.message).with_hint(e.hint))?;
    for w in &parsed.warnings {
        ctx.printer.warn(w);
    }
    Ok(parsed)
}

/// Phase 2: validate every row. Any problem stops here (nothing written; the report still
/// written) unless `--skip-invalid`.
fn check(
    a: &ImportArgs,
    ctx: &Ctx<'_>,
    parsed: &read::Parsed,
    rules: &Rules,
    report_format: Option<ReportFormat>,
    progress: &Progress,
    started: Instant,
) -> Result<Vec<RowState>, CliError> {
    progress.phase(format!("validating {} rows", parsed.rows.len()));
    let states = import::validate(parsed, rules);
    ctx.printer.log(
        1,
        &format!(
            "validated {} rows in {} ms",
            parsed.rows.len(),
            started.elapsed().as_millis()
        ),
    );
    let bad_rows = states
        .iter()
        .filter(|s| matches!(s, RowState::Invalid(_)))
        .count();
    if bad_rows == 0 {
        return Ok(states);
    }
    let problems: Vec<&Problem> = import::problems(&states).collect();
    if !a.skip_invalid {
        print_problems(&problems, ctx.settings.json_errors(), a.report.is_some());
        drop(problems);
        if let (Some(path), Some(format)) = (&a.report, report_format) {
            let results = import::unattempted(parsed, states);
            write_report(path, format, parsed, &results)?;
        }
        return Err(CliError::usage(
            "invalid_rows",
            format!(
                "{bad_rows} of {} rows have problems; nothing was written",
                parsed.rows.len()
            ),
        )
        .with_hint(
            "fix them, or use --skip-invalid to import the valid rows and report these as skipped",
        ));
    }
    if !ctx.printer.quiet {
        print_problems(&problems, false, a.report.is_some());
    }
    drop(problems);
    ctx.printer.warn(&format!(
        "{bad_rows} invalid rows will be skipped (--skip-invalid)"
    ));
    Ok(states)
}

/// Phase 3: open the directory (waiting for its lock, or getting a token), create missing
/// users (local), check the token's permissions (Graph) and its lifetime, watch for Ctrl-C.
async fn prepare(
    a: &ImportArgs,
    ctx: &Ctx<'_>,
    parsed: &read::Parsed,
    states: &[RowState],
    progress: &Progress,
) -> Result<(AnyDirectory, BulkControl), CliError> {
    if a.create_missing {
        ctx.require_local("import --create-missing")?;
    }
    progress.phase("opening the directory (and waiting for its lock, or a token)");
    let dir = ctx.open_directory().await?;
    if let (true, AnyDirectory::Local(d)) = (a.create_missing, &dir) {
        if a.dry_run {
            ctx.printer.note(
                "dry run: --create-missing creates nothing; rows of missing users show as not found",
            );
        } else {
            let upns: Vec<String> = states
                .iter()
                .filter_map(|s| match s {
                    RowState::Valid(v) if v.key.contains('@') => Some(v.key.clone()),
                    _ => None,
                })
                .collect();
            let created = d.create_missing(&upns)?;
            ctx.printer.note(&format!(
                "created {created} missing users (--create-missing)"
            ));
        }
    }
    if let AnyDirectory::Graph(g) = &dir {
        g.check_permissions(&needed(&parsed.present, a.dry_run))
            .await?;
    }
    warn_short_token(&dir, states, ctx);
    let ctl = BulkControl {
        concurrency: usize::from(a.concurrency),
        auth_concurrency: usize::from(a.auth_concurrency),
        ..Default::default()
    };
    watch_ctrl_c(ctl.cancelled.clone());
    Ok((dir, ctl))
}

/// What the rows came to.
struct Counts {
    updated: usize,
    unchanged: usize,
    skipped: usize,
    failed: usize,
    planned: usize,
    /// Rows an interruption (Ctrl-C, an expired token, a DC gone) left out: not "skipped".
    not_attempted: usize,
}

impl Counts {
    fn of(results: &[RowResult]) -> Counts {
        let not_attempted = results
            .iter()
            .filter(|r| r.error.as_ref().is_some_and(|e| e.0 == "interrupted"))
            .count();
        Counts {
            updated: count(results, Status::Updated),
            unchanged: count(results, Status::Unchanged),
            skipped: count(results, Status::Skipped) - not_attempted,
            failed: count(results, Status::Failed),
            planned: count(results, Status::Planned),
            not_attempted,
        }
    }
}

/// Phase 5: warnings, the report file, the failed rows, the plan or the summary.
fn report(
    a: &ImportArgs,
    ctx: &mut Ctx<'_>,
    parsed: &read::Parsed,
    results: &[RowResult],
    report_format: Option<ReportFormat>,
    c: &Counts,
    started: Instant,
) -> Result<(), CliError> {
    let warnings: Vec<String> = results
        .iter()
        .flat_map(|r| {
            r.warnings
                .iter()
                .map(move |w| format!("line {}: {w}", r.line))
        })
        .collect();
    for w in warnings.iter().take(MAX_WARNINGS) {
        ctx.printer.warn(w);
    }
    if warnings.len() > MAX_WARNINGS {
        ctx.printer.warn(&format!(
            "{} more warnings{}",
            warnings.len() - MAX_WARNINGS,
            if a.report.is_some() {
                " (see the report)"
            } else {
                " (write them with --report)"
            }
        ));
    }
    if let (Some(path), Some(format)) = (&a.report, report_format) {
        write_report(path, format, parsed, results)?;
    }
    for r in results.iter().filter(|r| r.status == Status::Failed) {
        if let Some((code, message)) = &r.error
            && !ctx.printer.quiet
        {
            eprintln!("line {}: {} failed ({code}): {message}", r.line, r.user);
        }
    }
    let interrupted = if c.not_attempted > 0 {
        format!("; interrupted: {} not attempted", c.not_attempted)
    } else {
        String::new()
    };
    let requests = ctx.http_requests();
    let secs = started.elapsed().as_secs_f64();
    if a.dry_run {
        let reports: Vec<ChangeReport> = results
            .iter()
            .filter(|r| r.status == Status::Planned)
            .map(|r| ChangeReport {
                id: r.id.clone().unwrap_or_default(),
                user_principal_name: r.user.clone(),
                dry_run: true,
                changed: false,
                changes: r.changes.clone(),
                warnings: r.warnings.clone(),
            })
            .collect();
        ctx.printer.change_list(ctx.out, &reports)?;
        // The summary after the data it summarises.
        ctx.out.flush()?;
        ctx.printer.note(&format!(
            "dry run: {} rows: {} users to change, {} unchanged, {} skipped, {} failed{interrupted}; nothing was written",
            results.len(),
            c.planned,
            c.unchanged,
            c.skipped,
            c.failed
        ));
    } else {
        Summary {
            rows: results.len(),
            updated: c.updated,
            unchanged: c.unchanged,
            skipped: c.skipped,
            failed: c.failed,
            not_attempted: c.not_attempted,
            seconds: (secs * 100.0).round() / 100.0,
            http_requests: requests,
        }
        .print(ctx)?;
        ctx.out.flush()?;
        ctx.printer.note(&format!(
            "import: {} rows: {} updated, {} unchanged, {} skipped, {} failed{interrupted} in {secs:.1} s{}",
            results.len(),
            c.updated,
            c.unchanged,
            c.skipped,
            c.failed,
            requests.map_or(String::new(), |n| format!(" ({n} HTTP requests)"))
        ));
    }
    if let Some(peak) = peak_memory_mb() {
        ctx.printer.log(1, &format!("peak memory {peak} MB"));
    }
    Ok(())
}

/// Phase 6: the exit code (a stopped run ends with its reason, after its report).
fn exit_code(results: &[RowResult], c: &Counts, ctl: &BulkControl) -> Result<Exit, CliError> {
    if let Some(reason) = ctl.stop_reason() {
        return Err(reason.into());
    }
    if ctl.is_cancelled() {
        return Ok(Exit::Interrupted);
    }
    let not_found = results
        .iter()
        .filter(|r| {
            r.status == Status::Failed && r.error.as_ref().is_some_and(|e| e.0 == "user_not_found")
        })
        .count();
    Ok(if c.failed > not_found {
        Exit::Failed
    } else if c.failed > 0 {
        Exit::NotFound
    } else if c.skipped > 0 {
        Exit::Failed
    } else {
        Exit::Success
    })
}
