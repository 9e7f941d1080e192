//! `ps`: MSOnline and AzureAD lines run as written, through the native commands.
//!
//! The whole script is read, parsed and translated first ([`crate::ps::compile`]), and every
//! native command line is parsed as the native command would be: an error anywhere runs
//! nothing. Then every write runs once as a dry run into nothing, so that a value the native
//! command refuses (a phone that can't exist, an unknown user) stops the script before its
//! first write. Then the statements run in order; the first that fails ends the script with its
//! own error and exit code, named by its line.

use std::io::Read;

use super::Ctx;
use crate::cli::{Cli, Command, PhoneCheckArg, PsArgs};
use crate::error::CliError;
use crate::exit::Exit;
use crate::model::Value;
use crate::output::{Format, Records, Shape};
use crate::ps::query::{Output, Query};

use crate::ps::translate::{Bulk, Cell, shell_line};
use crate::ps::{Action, PsError, Step};
use crate::settings::DirectorySpec;

/// Largest script read (1 MiB).
const MAX_SCRIPT: u64 = 1 << 20;

fn script(a: &PsArgs) -> Result<String, CliError> {
    let unreadable = |what: &str, e: String| {
        CliError::usage("unreadable_file", format!("can't read {what}: {e}"))
            .with_hint("give the script as an argument, with --file SCRIPT.ps1, or on stdin with -")
    };
    match (&a.line, &a.file) {
        (_, Some(path)) => crate::file::read_bounded_text(path, MAX_SCRIPT)
            .map_err(|e| unreadable(&path.display().to_string(), e.to_string())),
        (Some(line), None) if line != "-" => Ok(line.clone()),
        _ => {
            let mut s = String::new();
            std::io::stdin()
                .lock()
                .take(MAX_SCRIPT + 1)
                .read_to_string(&mut s)
                .map_err(|e| unreadable("stdin", e.to_string()))?;
            if s.len() as u64 > MAX_SCRIPT {
                return Err(unreadable(
                    "stdin",
                    "the script is larger than 1 MiB".into(),
                ));
            }
            Ok(s)
        }
    }
}

fn ps_error(e: PsError) -> CliError {
    let hint = e.hint.clone().unwrap_or_else(|| {
        "ssprctl ps runs the MSOnline/AzureAD contact-info cmdlets; ssprctl --help lists the native commands".into()
    });
    CliError::usage("ps_unsupported", e.to_string()).with_hint(hint)
}

/// A bulk idiom's rows as an import file: a CSV with the native columns, filled from the
/// script's CSV row by row (same line numbers), in a private temporary file removed on drop.
struct ImportFile {
    path: std::path::PathBuf,
}

impl Drop for ImportFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn import_file(step: &Step, b: &Bulk) -> Result<ImportFile, CliError> {
    let fail = |why: String| {
        CliError::usage(
            "ps_unsupported",
            format!(
                "line {}, column {}: Import-Csv {}: {why}",
                step.at.line, step.at.col, b.path
            ),
        )
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b.delimiter)
        .from_path(&b.path)
        .map_err(|e| fail(e.to_string()))?;
    let headers = reader.headers().map_err(|e| fail(e.to_string()))?.clone();
    // PowerShell's property names ignore case.
    let index = |col: &str| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(col))
    };
    let mut sources = Vec::new();
    for (_, cell) in &b.columns {
        sources.push(match cell {
            Cell::Column(c) => Some(index(c).ok_or_else(|| {
                fail(format!(
                    "the file has no column {c} (its columns: {})",
                    headers.iter().collect::<Vec<_>>().join(", ")
                ))
            })?),
            Cell::Fixed(_) => None,
        });
    }
    let mut text = crate::text::csv_record(b.columns.iter().map(|(c, _)| *c));
    for record in reader.records() {
        let record = record.map_err(|e| fail(e.to_string()))?;
        let cells = b
            .columns
            .iter()
            .zip(&sources)
            .map(|((_, cell), i)| match (cell, i) {
                (Cell::Fixed(v), _) => v.clone(),
                (_, Some(i)) => record.get(*i).unwrap_or("").to_string(),
                _ => String::new(),
            });
        text.push_str(&crate::text::csv_record(cells));
    }
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "ssprctl-ps-{}-{}.csv",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = ImportFile { path };
    let mut f = options
        .open(&file.path)
        .map_err(|e| fail(format!("can't write its import file: {e}")))?;
    std::io::Write::write_all(&mut f, text.as_bytes())
        .map_err(|e| fail(format!("can't write its import file: {e}")))?;
    Ok(file)
}

/// The native command of a step, with the `ps` options that apply to it, parsed as the
/// native command line would be.
fn native(step: &Step, argv: &[String], a: &PsArgs, dry_run: bool) -> Result<Cli, CliError> {
    let mut full = argv.to_vec();
    if argv
        .first()
        .is_some_and(|c| c == "set-user" || c == "import")
    {
        if let Some(r) = &a.phone.default_region {
            full.extend(["--default-region".into(), r.clone()]);
        }
        if a.phone.phone_check == PhoneCheckArg::Length {
            full.extend(["--phone-check".into(), "length".into()]);
        }
        if dry_run {
            full.push("--dry-run".into());
        }
    }
    Cli::try_parse_args(std::iter::once("ssprctl".to_string()).chain(full)).map_err(|e| {
        let first = e.to_string().lines().next().unwrap_or_default().to_string();
        CliError::usage(
            "ps_unsupported",
            format!(
                "line {}, column {}: {} → {}: {}",
                step.at.line,
                step.at.col,
                step.cmdlet,
                shell_line(argv),
                first.trim_start_matches("error: ")
            ),
        )
    })
}

/// Where a native command's stdout goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum To {
    /// Nowhere (the validating dry run).
    Nothing,
    Stdout,
    /// Stderr: what a write reports, since Set-MsolUser and Set-AzureADUser print nothing.
    Stderr,
}

/// Runs one native command with this invocation's settings (and its own `-o`).
async fn run_native(cli: Cli, ctx: &mut Ctx<'_>, to: To) -> Result<Exit, CliError> {
    let mut settings = ctx.settings.clone();
    if let Some(f) = cli.global.output {
        settings.format = f;
    }
    match to {
        To::Nothing => {
            settings.quiet = true;
            Box::pin(super::run(cli, &settings, &mut std::io::sink())).await
        }
        To::Stdout => Box::pin(super::run(cli, &settings, &mut *ctx.out)).await,
        To::Stderr => {
            let mut buf = Vec::new();
            let exit = Box::pin(super::run(cli, &settings, &mut buf)).await;
            if !settings.quiet {
                use std::io::Write;
                let _ = std::io::stderr().lock().write_all(&buf);
            }
            exit
        }
    }
}

/// `Connect-*`: the directory can be reached with the configured credential.
async fn connect(step: &Step, ctx: &mut Ctx<'_>) -> Result<(), CliError> {
    let what = match &ctx.settings.directory {
        DirectorySpec::Graph => {
            let (tokens, endpoints) = ctx.graph_tokens().await?;
            format!(
                "Microsoft Graph ({} cloud) with {}",
                endpoints.cloud.name(),
                tokens.credential().describe()
            )
        }
        DirectorySpec::Ldap(l) => {
            ctx.open_directory().await?;
            format!("the domain controller {}", l.url)
        }
        DirectorySpec::Hybrid(l) => {
            ctx.open_directory().await?;
            format!(
                "Microsoft Graph and the domain controller {} (hybrid)",
                l.url
            )
        }
        DirectorySpec::LocalDefault(p) | DirectorySpec::LocalPath(p) => {
            ctx.open_directory().await?;
            format!("the local directory {}", p.display())
        }
    };
    ctx.printer
        .note(&format!("{}: connected to {what}", step.cmdlet));
    Ok(())
}

fn at_line(step: &Step, mut e: CliError) -> CliError {
    e.message = format!("line {} ({}): {}", step.at.line, step.cmdlet, e.message);
    e
}

/// A JSON value of a native record as a field value.
fn field_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::String(s) => Value::Text(s.clone()),
        serde_json::Value::Array(a) => Value::List(
            a.iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                .collect(),
        ),
        other => Value::Text(other.to_string()),
    }
}

/// Runs a query: the native read (as JSON, into memory), then the filter, `-First`, and the
/// output, with the cmdlet's property names.
async fn run_query(step: &Step, q: &Query, ctx: &mut Ctx<'_>) -> Result<Exit, CliError> {
    let mut argv = q.native();
    argv.extend(["-o".into(), "json".into()]);
    let cli = Cli::try_parse_args(std::iter::once("ssprctl".to_string()).chain(argv))
        .map_err(|e| CliError::usage("ps_unsupported", e.to_string()))?;
    let mut settings = ctx.settings.clone();
    settings.format = Format::Json;
    let mut buf = Vec::new();
    let exit = Box::pin(super::run(cli, &settings, &mut buf)).await?;
    let parsed: serde_json::Value = serde_json::from_slice(&buf).unwrap_or(serde_json::Value::Null);
    let records = match parsed {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Null => Vec::new(),
        one => vec![one],
    };
    let mut rows = Vec::new();
    for r in &records {
        if let Some(f) = &q.filter {
            let texts = match field_value(&r[f.property.1]) {
                Value::List(l) => l,
                Value::Null => Vec::new(),
                v => vec![v.to_text()],
            };
            if !f.passes(&texts) {
                continue;
            }
        }
        rows.push(
            q.properties
                .iter()
                .map(|p| field_value(&r[p.1]))
                .collect::<Vec<_>>(),
        );
        if q.first.is_some_and(|n| rows.len() >= n) {
            break;
        }
    }
    let fields: Vec<&'static str> = q.properties.iter().map(|p| p.0).collect();
    let records = Records {
        fields: &fields,
        rows,
    };
    let mut printer = ctx.printer;
    match &q.output {
        Output::Csv(path) => {
            printer.format = Format::Csv;
            super::write_atomically(std::path::Path::new(path), |w| {
                printer.records(w, &records, Shape::Array)
            })
            .map_err(|e| {
                at_line(
                    step,
                    CliError::new(Exit::Failed, "io", format!("Export-Csv {path}: {e}")),
                )
            })?;
            return Ok(exit);
        }
        Output::Json => printer.format = Format::Json,
        Output::Table => printer.format = Format::Table,
        Output::Default => {}
    }
    printer.records(&mut *ctx.out, &records, Shape::Array)?;
    Ok(exit)
}

/// `--translate`'s line(s) for a step.
fn translation(step: &Step) -> String {
    match &step.action {
        Action::Run(argv) => shell_line(argv),
        Action::Connect => format!(
            "# {}: nothing to run; each ssprctl command connects with --directory and the credential \
             in the environment (ssprctl auth status checks a Graph credential)",
            step.cmdlet
        ),
        Action::Note(n) => format!("# {n}"),
        Action::Query(q) => q.translation(),
        Action::Import(b) => {
            let renames: Vec<String> = b
                .columns
                .iter()
                .map(|(native, cell)| match cell {
                    Cell::Column(c) => format!("{c} → {native}"),
                    Cell::Fixed(v) => format!("{native} = {v}"),
                })
                .collect();
            format!(
                "# one batched import of {}'s rows ({}): give the file those columns, then\n{}",
                b.path,
                renames.join(", "),
                shell_line(&["import".into(), b.path.clone()])
            )
        }
    }
}

pub async fn run(a: PsArgs, ctx: &mut Ctx<'_>) -> Result<Exit, CliError> {
    let src = script(&a)?;
    let steps = crate::ps::compile(&src).map_err(ps_error)?;
    if a.translate {
        for step in &steps {
            writeln!(ctx.out, "{}", translation(step))?;
        }
        return Ok(Exit::Success);
    }
    // Every native command line parses, and every bulk idiom's file is read, before anything
    // runs.
    let mut natives = Vec::with_capacity(steps.len());
    let mut files = Vec::new();
    for step in &steps {
        natives.push(match &step.action {
            Action::Run(argv) => Some((argv.clone(), native(step, argv, &a, a.dry_run)?)),
            Action::Import(b) => {
                let file = import_file(step, b)?;
                let argv = vec!["import".to_string(), file.path.display().to_string()];
                files.push(file);
                Some((argv.clone(), native(step, &argv, &a, a.dry_run)?))
            }
            _ => None,
        });
    }
    // With more than one write, every write first runs as a dry run into nothing, so a
    // refused value stops the script before its first write (one write validates all its
    // rows before writing anything by itself).
    let writes = natives
        .iter()
        .flatten()
        .filter(|(_, cli)| matches!(cli.command, Command::SetUser(_) | Command::Import(_)))
        .count();
    if !a.dry_run && writes > 1 {
        for (step, n) in steps.iter().zip(&natives) {
            if let Some((argv, cli)) = n
                && matches!(cli.command, Command::SetUser(_) | Command::Import(_))
            {
                let check = native(step, argv, &a, true)?;
                run_native(check, ctx, To::Nothing)
                    .await
                    .map_err(|e| at_line(step, e))?;
            }
        }
    }
    let mut exit = Exit::Success;
    for (step, n) in steps.iter().zip(natives) {
        match (&step.action, n) {
            (Action::Note(n), _) => ctx.printer.note(n),
            (Action::Query(q), _) => {
                ctx.out.flush()?;
                exit = run_query(step, q, ctx)
                    .await
                    .map_err(|e| at_line(step, e))?;
                if exit != Exit::Success {
                    return Ok(exit);
                }
            }
            (Action::Connect, _) => connect(step, ctx).await.map_err(|e| at_line(step, e))?,
            (Action::Run(_) | Action::Import(_), Some((_, cli))) => {
                ctx.out.flush()?;
                // A write reports on stderr (the cmdlets print nothing), or, for --dry-run,
                // its plan on stdout.
                let to = if a.dry_run { To::Stdout } else { To::Stderr };
                exit = run_native(cli, ctx, to)
                    .await
                    .map_err(|e| at_line(step, e))?;
                if exit != Exit::Success {
                    return Ok(exit);
                }
            }
            (Action::Run(_) | Action::Import(_), None) => {
                unreachable!("every run step was parsed")
            }
        }
    }
    drop(files);
    Ok(exit)
}
