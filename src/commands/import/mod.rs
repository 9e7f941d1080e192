//! `import`: the command-line side of [`crate::import`], as its phases (see [`run`]). What it
//! reads and writes besides the directory is in `input`; what it shows while it runs (problems,
//! progress, Ctrl-C, summary) in `show`.

mod input;
mod show;

use input::{input_format, read_input, report_target};
use show::{Progress, Summary, peak_memory_mb, print_problems, watch_ctrl_c};

use std::path::Path;
use std::time::{Duration, Instant};

use super::Ctx;
use crate::auth::claims::show_time;
use crate::auth::permissions::{self, Operation};
use crate::cli::{ImportArgs, ImportFormat};
use crate::directory::graph::pace::QUOTA_WRITES_PER_SECOND;
use crate::directory::{AnyDirectory, BulkControl, DirectoryError};
use crate::error::CliError;
use crate::exit::Exit;
use crate::import::read::DataField;
use crate::import::report::{self, ReportFormat};
use crate::import::validate::{Problem, Rules};
use crate::import::{self, RowResult, RowState, Status, read};
use crate::output::ChangeReport;
use crate::settings::phone_options;

const MAX_WARNINGS: usize = 20;

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
    let Some(g) = dir.graph() else { return };
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

fn count_sync(results: &[RowResult], s: &str) -> usize {
    results.iter().filter(|r| r.sync == Some(s)).count()
}

fn count(results: &[RowResult], s: Status) -> usize {
    results.iter().filter(|r| r.status == s).count()
}

/// The import, phase by phase: settle the arguments, read the file, validate every row, prepare
/// the directory, apply, report, and the exit code.
pub async fn run(a: ImportArgs, ctx: &mut Ctx<'_>) -> Result<Exit, CliError> {
    let started = Instant::now();
    let (report_format, rules) = settle(&a)?;
    super::sync::check_wait(a.wait.wait_for_sync, a.dry_run, ctx)?;
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
    let mut results: Vec<RowResult> = outcome.map_err(|e: DirectoryError| CliError::from(e))?;
    let pending = match a.wait.wait_for_sync {
        Some(total) if !ctl.is_cancelled() => {
            wait_for_sync(&dir, &mut results, total, ctx, &ctl).await?
        }
        _ => 0,
    };
    let counts = Counts::of(&results);
    report(&a, ctx, &parsed, &results, report_format, &counts, started)?;
    match exit_code(&results, &counts, &ctl)? {
        Exit::Success if pending > 0 => Ok(Exit::SyncPending),
        exit => Ok(exit),
    }
}

/// Hybrid mode, `--wait-for-sync`: waits for Entra to show the rows' AD writes; each such
/// row ends `synced` or `pending`. Returns how many are pending.
async fn wait_for_sync(
    dir: &AnyDirectory,
    results: &mut [RowResult],
    total: Duration,
    ctx: &Ctx<'_>,
    ctl: &BulkControl,
) -> Result<usize, CliError> {
    let (rows, expected): (Vec<usize>, Vec<_>) = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.status == Status::Updated)
        .filter_map(|(i, r)| Some((i, super::sync::expected(r.id.as_deref()?, &r.changes)?)))
        .unzip();
    let synced = super::sync::wait(dir, &expected, total, ctx, ctl).await?;
    for (i, ok) in rows.into_iter().zip(&synced) {
        results[i].sync = Some(if *ok { "synced" } else { "pending" });
    }
    Ok(synced.iter().filter(|s| !**s).count())
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
    if let Some(g) = dir.graph() {
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
                sync: None,
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
            synced: a.wait.wait_for_sync.map(|_| count_sync(results, "synced")),
            pending: a.wait.wait_for_sync.map(|_| count_sync(results, "pending")),
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
