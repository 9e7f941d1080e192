//! `audit`: SSPR readiness per user ([`crate::audit`] holds the rules), the summary, and the
//! fix file that `import` applies. Reads only: nothing is written to the directory.
//!
//! Reads: the users (one paged list for `--all`), on Graph the registration report side by
//! side with the users and the authentication methods policy, and the authentication methods —
//! always on the local directory (one query), on Graph only with `--with-methods` (`$batch`).

use std::path::Path;

use serde::Serialize;

use super::Ctx;
use crate::audit::policy::Migration;
use crate::audit::{
    self, AdSide, Enabled, LeftOut, Options, Policy, PolicySource, Record, Report, Subject, Summary,
};
use crate::cli::{AuditArgs, Format, MethodKind};
use crate::directory::hybrid::{HybridDirectory, Link};
use crate::directory::{AnyDirectory, BulkControl, Directory, DirectoryError};
use crate::error::CliError;
use crate::exit::Exit;
use crate::model::{User, Value};
use crate::output::{Records, Shape};

/// Fix file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FixFormat {
    Csv,
    Jsonl,
}

fn fix_format(path: &Path) -> Result<FixFormat, CliError> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("csv") => Ok(FixFormat::Csv),
        Some("jsonl" | "ndjson") => Ok(FixFormat::Jsonl),
        _ => Err(CliError::usage(
            "unknown_format",
            format!(
                "--fix-file {}: the name must end in .csv or .jsonl",
                path.display()
            ),
        )
        .with_hint("e.g. --fix-file fixes.csv")),
    }
}

pub async fn run(a: AuditArgs, ctx: &mut Ctx<'_>) -> Result<Exit, CliError> {
    // Everything about the input is settled before the directory is touched.
    let fix = a.fix_file.as_deref().map(fix_format).transpose()?;
    if let Some(parent) = a.fix_file.as_deref().and_then(Path::parent)
        && !parent.as_os_str().is_empty()
        && !parent.is_dir()
    {
        return Err(CliError::usage(
            "unwritable_fix_file",
            format!("--fix-file: the folder {} does not exist", parent.display()),
        ));
    }
    let default_region = a
        .default_region
        .as_deref()
        .map(crate::settings::region_arg)
        .transpose()?;
    let dir = ctx.open_directory().await?;
    // Reading users is required; the report, the policy and group targets degrade with a word.
    if let Some(g) = dir.graph() {
        g.check_permissions(&[crate::auth::permissions::READ_USERS])
            .await?;
    }
    let ctl = BulkControl {
        auth_concurrency: usize::from(a.auth_concurrency),
        ..Default::default()
    };

    // Users (and, side by side, the registration report).
    let (users, missing, report) = read_users(&dir, &a).await?;
    dir.prepare_view(&users).await?;
    let (users, left_out) = leave_out(users, &a);
    let report = match report {
        Report::Unavailable(why) => {
            ctx.printer.warn(&why);
            None
        }
        Report::Available(map) => Some(map),
        Report::NotApplicable => None,
    };
    let tenant = matches!(dir, AnyDirectory::Graph(_) | AnyDirectory::Hybrid(_));
    // Methods: on the local directory always (cheap), on Graph with --with-methods, never on AD.
    let methods = if matches!(dir, AnyDirectory::Local(_)) || (tenant && a.with_methods) {
        dir.read_methods(&users, &ctl).await?
    } else {
        users.iter().map(|_| None).collect()
    };
    let opts = Options {
        required: usize::from(a.methods_required),
        policy: policy(&a, &dir, ctx).await?,
        default_region,
        shared_threshold: a.shared_threshold,
        on_premises: matches!(dir, AnyDirectory::Ad(_)),
    };
    let subjects: Vec<Subject> = users
        .into_iter()
        .zip(methods)
        .map(|(user, auth)| {
            let (user, ad) = ad_side(&dir, user);
            Subject {
                registration: report
                    .as_ref()
                    .and_then(|r| r.get(&user.id.to_lowercase()).cloned()),
                user,
                auth,
                ad,
            }
        })
        .collect();
    let mut records = audit::audit(&subjects, &opts);
    drop(subjects);
    if tenant && report.is_none() {
        for r in &mut records {
            r.registration_note = Some("unavailable");
        }
    }

    // Fix file (every audited user with a derivable fix), then the output.
    let fixed = match (&a.fix_file, fix) {
        (Some(path), Some(format)) => Some(write_fixes(path, format, &records)?),
        _ => None,
    };
    let summary = audit::summary(
        &records,
        next_steps(&dir, &a, fixed),
        opts.policy.source(),
        left_out,
    );
    if a.not_ready {
        records.retain(|r| !r.ready && r.in_scope());
    }
    print(ctx, &records, a.summary.then_some(&summary))?;
    ctx.out.flush()?;
    print_summary(ctx, &summary);
    if !missing.is_empty() {
        return Err(DirectoryError::NotFound(missing.join(", ")).into());
    }
    Ok(Exit::Success)
}

/// What the method kinds are judged by (said once): the tenant's authentication methods
/// policy per user once migrated; `--enabled-methods` (default: every kind) for what only the
/// legacy SSPR policy decides; `--enabled-methods` alone where there is no readable policy.
async fn policy(a: &AuditArgs, dir: &AnyDirectory, ctx: &Ctx<'_>) -> Result<Policy, CliError> {
    let flags = (!a.enabled_methods.is_empty()).then(|| Enabled {
        mobile: a.enabled_methods.contains(&MethodKind::Mobile),
        office: a.enabled_methods.contains(&MethodKind::Office),
        email: a.enabled_methods.contains(&MethodKind::Email),
    });
    let legacy = flags.unwrap_or_default();
    let legacy_words = match flags {
        Some(e) => format!(
            "--enabled-methods: mobile {}, office {}, email {}",
            on_off(e.mobile),
            on_off(e.office),
            on_off(e.email)
        ),
        None => "every kind (say which with --enabled-methods)".into(),
    };
    let Some(p) = dir.methods_policy().await? else {
        return Ok(Policy::Fixed {
            enabled: legacy,
            source: if flags.is_some() {
                PolicySource::EnabledMethodsOption
            } else {
                PolicySource::None
            },
        });
    };
    match p.migration {
        Migration::PreMigration => {
            ctx.printer.note(&format!(
                "the tenant's SSPR methods come from the legacy SSPR policy (policyMigrationState preMigration), \
                 which Microsoft Graph does not expose: verdicts assume {legacy_words}"
            ));
            return Ok(Policy::Fixed {
                enabled: legacy,
                source: PolicySource::LegacySsprPolicy,
            });
        }
        Migration::Complete if flags.is_some() => {
            return Ok(Policy::Fixed {
                enabled: legacy,
                source: PolicySource::EnabledMethodsOption,
            });
        }
        _ => {}
    }
    let in_progress = p.migration == Migration::InProgress;
    ctx.printer.note(&format!(
        "verdicts rest on the tenant's authentication methods policy ({}): {}{}",
        p.migration.name(),
        p.describe(),
        if in_progress {
            format!("; and, while migrating, the legacy SSPR policy, assumed as {legacy_words}")
        } else {
            String::new()
        }
    ));
    let groups = p.groups();
    let members = dir.group_members(&groups).await?;
    let unknown = members.values().filter(|m| m.is_none()).count();
    if unknown > 0 {
        ctx.printer.warn(&format!(
            "the members of {unknown} group(s) the policy targets can't be read (GroupMember.Read.All or \
             Group.Read.All): the methods they decide are unknown for users they could include or exclude \
             (problem policy_unknown), never counted"
        ));
    }
    Ok(Policy::Methods {
        policy: Box::new(p),
        members,
        legacy: in_progress.then_some(legacy),
    })
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

/// Disabled accounts and guests are not audited unless asked for (they can't reset here);
/// the users left, and how many were left out.
fn leave_out(users: Vec<User>, a: &AuditArgs) -> (Vec<User>, LeftOut) {
    let mut left_out = LeftOut::default();
    let users = users
        .into_iter()
        .filter(|u| {
            if !a.include_disabled && u.user_type.as_deref() == Some(crate::directory::ad::BUILT_IN)
            {
                left_out.built_in += 1;
                return false;
            }
            if !a.include_disabled && u.account_enabled == Some(false) {
                left_out.disabled += 1;
                return false;
            }
            if !a.include_guests
                && u.user_type
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case("guest"))
            {
                left_out.guests += 1;
                return false;
            }
            true
        })
        .collect();
    (users, left_out)
}

/// Hybrid mode: a synchronised user as the next sync leaves it (AD's phones), and its AD
/// side; any other user as it is.
fn ad_side(dir: &AnyDirectory, user: User) -> (User, Option<AdSide>) {
    let AnyDirectory::Hybrid(h) = dir else {
        return (user, None);
    };
    if !user.on_premises_sync_enabled {
        return (user, None);
    }
    match h.link_of(&user) {
        Some(Link::Linked { ad, .. }) => {
            let pending = HybridDirectory::pending(&user, &ad);
            let user = User {
                mobile_phone: ad.mobile_phone,
                office_phone: ad.office_phone,
                ..user
            };
            (user, Some(AdSide::Joined { pending }))
        }
        other => {
            let e: CliError = h.unjoined(&user, other.as_ref()).into();
            (
                user,
                Some(AdSide::Unjoined {
                    code: e.code,
                    message: e.message,
                }),
            )
        }
    }
}

/// The users asked for (missing ones apart), and the registration report.
async fn read_users(
    dir: &AnyDirectory,
    a: &AuditArgs,
) -> Result<(Vec<User>, Vec<String>, Report), CliError> {
    if a.all {
        let (users, report) = tokio::join!(dir.list_users(), dir.registrations());
        return Ok((users?, Vec::new(), report?));
    }
    let mut users = Vec::with_capacity(a.users.len());
    let mut missing = Vec::new();
    for u in &a.users {
        match dir.get_user(u).await {
            Ok(user) => users.push(user),
            Err(DirectoryError::NotFound(name)) => missing.push(name),
            Err(e) => return Err(e.into()),
        }
    }
    Ok((users, missing, dir.registrations().await?))
}

/// Writes one row per user with a derivable fix, in import's column names; returns how many.
fn write_fixes(path: &Path, format: FixFormat, records: &[Record]) -> Result<usize, CliError> {
    let rows: Vec<(&str, Vec<(&str, &str)>)> = records
        .iter()
        .map(|r| (r.user_principal_name.as_str(), r.fixes()))
        .filter(|(_, f)| !f.is_empty())
        .collect();
    super::write_atomically(path, |w| match format {
        FixFormat::Csv => {
            let header = ["userPrincipalName", "mobilePhone", "officePhone"];
            w.write_all(crate::text::csv_record(header).as_bytes())?;
            for (upn, fixes) in &rows {
                let get = |f: &str| fixes.iter().find(|(k, _)| *k == f).map_or("", |(_, v)| v);
                let cells = [*upn, get("mobilePhone"), get("officePhone")];
                let cells = cells
                    .iter()
                    .map(|c| crate::output::neutralise(c).into_owned());
                w.write_all(crate::text::csv_record(cells).as_bytes())?;
            }
            Ok(())
        }
        FixFormat::Jsonl => {
            for (upn, fixes) in &rows {
                let mut obj = serde_json::Map::new();
                obj.insert("userPrincipalName".into(), (*upn).into());
                for (k, v) in fixes {
                    obj.insert((*k).into(), (*v).into());
                }
                serde_json::to_writer(&mut *w, &obj)?;
                writeln!(w)?;
            }
            Ok(())
        }
    })
    .map_err(|e| {
        CliError::new(
            Exit::Failed,
            "unwritable_fix_file",
            format!("can't write the fix file {}: {e}", path.display()),
        )
    })?;
    Ok(rows.len())
}

/// The three commands to run next.
fn next_steps(dir: &AnyDirectory, a: &AuditArgs, fixed: Option<usize>) -> Vec<String> {
    let dir_flag = match dir {
        AnyDirectory::Graph(_) => "--directory graph ",
        AnyDirectory::Ad(_) => "--directory ldaps://<your DC> ",
        AnyDirectory::Hybrid(_) => "--directory graph --ad ldaps://<your DC> ",
        AnyDirectory::Local(_) => "",
    };
    let region = a
        .default_region
        .as_deref()
        .map_or(String::new(), |r| format!(" --default-region {r}"));
    let file = a
        .fix_file
        .as_deref()
        .map_or("fixes.csv".to_string(), |p| p.display().to_string());
    let mut next = Vec::new();
    if fixed.is_none() {
        next.push(format!(
            "ssprctl {dir_flag}audit --all{region} --fix-file {file}"
        ));
    }
    next.push(format!("ssprctl {dir_flag}import {file} --dry-run"));
    next.push(format!(
        "ssprctl {dir_flag}import {file} --report import-report.csv"
    ));
    if fixed.is_some() {
        next.push(format!("ssprctl {dir_flag}audit --all --not-ready{region}"));
    }
    next
}

/// The records: JSON as they are; table, CSV and TSV flattened to one row each.
fn print(ctx: &mut Ctx<'_>, records: &[Record], summary: Option<&Summary>) -> Result<(), CliError> {
    #[derive(Serialize)]
    struct WithSummary<'a> {
        users: &'a [Record],
        summary: &'a Summary,
    }
    match ctx.printer.format {
        Format::Json => {
            let r = match summary {
                Some(summary) => serde_json::to_writer_pretty(
                    &mut *ctx.out,
                    &WithSummary {
                        users: records,
                        summary,
                    },
                ),
                None => serde_json::to_writer_pretty(&mut *ctx.out, records),
            };
            r.map_err(std::io::Error::from)?;
            writeln!(ctx.out)?;
        }
        Format::Jsonl => {
            for r in records {
                serde_json::to_writer(&mut *ctx.out, r).map_err(std::io::Error::from)?;
                writeln!(ctx.out)?;
            }
            if let Some(s) = summary {
                serde_json::to_writer(&mut *ctx.out, &serde_json::json!({ "summary": s }))
                    .map_err(std::io::Error::from)?;
                writeln!(ctx.out)?;
            }
        }
        _ => {
            let rows = records
                .iter()
                .map(|r| {
                    vec![
                        Value::Text(r.user_principal_name.clone()),
                        Value::Text(r.id.clone()),
                        Value::Text(r.source.into()),
                        Value::Bool(r.ready),
                        Value::Text(r.state.into()),
                        Value::List(r.usable_methods.iter().map(|m| m.to_string()).collect()),
                        Value::List(r.problems.iter().map(|p| p.code.to_string()).collect()),
                        Value::List(
                            r.problems
                                .iter()
                                .map(|p| match &p.fix {
                                    Some(f) => format!("{}: {} (fix: {f})", p.code, p.message),
                                    None => format!("{}: {}", p.code, p.message),
                                })
                                .collect(),
                        ),
                    ]
                })
                .collect();
            let table = Records {
                fields: &[
                    "userPrincipalName",
                    "id",
                    "source",
                    "ready",
                    "state",
                    "usableMethods",
                    "problems",
                    "details",
                ],
                rows,
            };
            ctx.printer.records(ctx.out, &table, Shape::Array)?;
        }
    }
    Ok(())
}

/// The summary on stderr, after the data it summarises.
fn print_summary(ctx: &Ctx<'_>, s: &Summary) {
    let counts: Vec<String> = s.problems.iter().map(|(k, n)| format!("{k} {n}")).collect();
    ctx.printer.note(&format!(
        "audit: {} users, {} ready ({:.1}%){}{}",
        s.audited,
        s.ready,
        s.ready_percent,
        if s.out_of_scope > 0 {
            format!(
                ", {} out of SSPR's scope (isSsprEnabled false)",
                s.out_of_scope
            )
        } else {
            String::new()
        },
        if counts.is_empty() {
            String::new()
        } else {
            format!("; problems: {}", counts.join(", "))
        }
    ));
    if s.policy_source != PolicySource::None {
        let source = serde_json::to_value(s.policy_source).unwrap_or_default();
        ctx.printer.note(&format!(
            "verdicts rest on: {} (policySource)",
            source.as_str().unwrap_or_default()
        ));
    }
    let LeftOut {
        disabled,
        guests,
        built_in,
    } = s.left_out;
    if disabled + guests + built_in > 0 {
        let built_in = if built_in > 0 {
            format!(", {built_in} built-in account(s)")
        } else {
            String::new()
        };
        ctx.printer.note(&format!(
            "left out: {disabled} disabled account(s), {guests} guest(s){built_in} (--include-disabled, --include-guests)"
        ));
    }
    for (i, n) in s.next.iter().enumerate() {
        ctx.printer.note(&format!("next {}: {n}", i + 1));
    }
}
