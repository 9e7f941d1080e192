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
use crate::ps::{Action, PsError, Step, translate::shell_line};
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

/// The native command of a step, with the `ps` options that apply to it, parsed as the
/// native command line would be.
fn native(step: &Step, argv: &[String], a: &PsArgs, dry_run: bool) -> Result<Cli, CliError> {
    let mut full = argv.to_vec();
    if argv.first().is_some_and(|c| c == "set-user") {
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

/// Runs one native command with this invocation's settings (and its own `-o`, from a
/// `Format-Table`).
async fn run_native(cli: Cli, ctx: &mut Ctx<'_>, quiet: bool) -> Result<Exit, CliError> {
    let mut settings = ctx.settings.clone();
    if let Some(f) = cli.global.output {
        settings.format = f;
    }
    settings.quiet |= quiet;
    if quiet {
        let mut sink = std::io::sink();
        Box::pin(super::run(cli, &settings, &mut sink)).await
    } else {
        Box::pin(super::run(cli, &settings, &mut *ctx.out)).await
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

pub async fn run(a: PsArgs, ctx: &mut Ctx<'_>) -> Result<Exit, CliError> {
    let src = script(&a)?;
    let steps = crate::ps::compile(&src).map_err(ps_error)?;
    let mut natives = Vec::with_capacity(steps.len());
    for step in &steps {
        natives.push(match &step.action {
            Action::Run(argv) => Some(native(step, argv, &a, a.dry_run)?),
            _ => None,
        });
    }
    if a.translate {
        for step in &steps {
            let line = match &step.action {
                Action::Run(argv) => shell_line(argv),
                Action::Connect => format!(
                    "# {}: nothing to run; each ssprctl command connects with --directory and the credential \
                     in the environment (ssprctl auth status checks a Graph credential)",
                    step.cmdlet
                ),
                Action::Note(n) => format!("# {n}"),
            };
            writeln!(ctx.out, "{line}")?;
        }
        return Ok(Exit::Success);
    }
    // Every write first as a dry run into nothing: a refused value stops the script whole.
    if !a.dry_run {
        for (step, cli) in steps.iter().zip(&natives) {
            if let (Action::Run(argv), Some(cli)) = (&step.action, cli)
                && matches!(cli.command, Command::SetUser(_))
            {
                let check = native(step, argv, &a, true)?;
                run_native(check, ctx, true)
                    .await
                    .map_err(|e| at_line(step, e))?;
            }
        }
    }
    let mut exit = Exit::Success;
    for (step, cli) in steps.iter().zip(natives) {
        match (&step.action, cli) {
            (Action::Note(n), _) => ctx.printer.note(n),
            (Action::Connect, _) => connect(step, ctx).await.map_err(|e| at_line(step, e))?,
            (Action::Run(_), Some(cli)) => {
                ctx.out.flush()?;
                exit = run_native(cli, ctx, false)
                    .await
                    .map_err(|e| at_line(step, e))?;
                if exit != Exit::Success {
                    return Ok(exit);
                }
            }
            (Action::Run(_), None) => unreachable!("every run step was parsed"),
        }
    }
    Ok(exit)
}
