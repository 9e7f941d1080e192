//! `set-user`: sets a user's alternate email, mobile phone and office phone.
//!
//! All input is validated before the directory is opened; the directory then plans against
//! the current values and writes only what changes.

use super::Ctx;
use crate::cli::{SetUserArgs, UserClear};
use crate::directory::Directory;
use crate::email;
use crate::error::CliError;
use crate::exit::Exit;
use crate::output::ChangeReport;
use crate::phone::PhoneOptions;
use crate::plan::{EmailEdit, UserUpdate, plan_user};
use crate::settings::phone_options;

/// Validates one phone flag; `clear` is the `--clear` value for the same field.
pub(crate) fn phone_input(
    field: &str,
    flag: &str,
    raw: Option<&str>,
    cleared: bool,
    opts: &PhoneOptions,
    warnings: &mut Vec<String>,
) -> Result<Option<Option<String>>, CliError> {
    match (raw, cleared) {
        (Some(_), true) => Err(CliError::usage(
            "conflicting_flags",
            format!("{field} is both set and cleared"),
        )
        .with_hint(format!("give either --{flag} or --clear {flag}"))),
        (None, true) => Ok(Some(None)),
        (None, false) => Ok(None),
        (Some(raw), false) if raw.trim().is_empty() => Err(CliError::usage(
            "invalid_phone",
            format!("invalid {field} \"{raw}\": empty"),
        )
        .with_hint(format!("to remove the number use --clear {flag}"))),
        (Some(raw), false) => {
            let phone =
                crate::phone::normalize(raw, opts).map_err(|e| CliError::phone(field, e))?;
            if let Some(ext) = &phone.extension {
                warnings.push(format!(
                    "{field}: extension {ext} removed from \"{raw}\" (SSPR does not dial extensions)"
                ));
            }
            Ok(Some(Some(phone.canonical)))
        }
    }
}

fn email_edit(a: &SetUserArgs, warnings: &mut Vec<String>) -> Result<Option<EmailEdit>, CliError> {
    let field = "alternateEmailAddresses";
    let list = |inputs: &[String], warnings: &mut Vec<String>| {
        // `;` separates addresses too (it is the separator of imports and CSV output).
        let split = inputs
            .iter()
            .flat_map(|i| i.split(';'))
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let (list, w) =
            email::normalize_list(split, None).map_err(|e| CliError::email(field, e))?;
        warnings.extend(w);
        Ok::<_, CliError>(list)
    };
    let cleared = a.clear.contains(&UserClear::AlternateEmail);
    let given = !a.alternate_email.is_empty()
        || !a.add_alternate_email.is_empty()
        || !a.remove_alternate_email.is_empty();
    if cleared && given {
        return Err(CliError::usage(
            "conflicting_flags",
            "alternate email is both set and cleared",
        )
        .with_hint("give either --alternate-email/--add-alternate-email/--remove-alternate-email or --clear alternate-email"));
    }
    Ok(if cleared {
        Some(EmailEdit::Replace(Vec::new()))
    } else if !a.alternate_email.is_empty() {
        Some(EmailEdit::Replace(list(&a.alternate_email, warnings)?))
    } else if !a.add_alternate_email.is_empty() {
        Some(EmailEdit::Add(list(&a.add_alternate_email, warnings)?))
    } else if !a.remove_alternate_email.is_empty() {
        Some(EmailEdit::Remove(list(
            &a.remove_alternate_email,
            warnings,
        )?))
    } else {
        None
    })
}

/// Turns the flags into a validated update, with warnings.
fn update(a: &SetUserArgs) -> Result<(UserUpdate, Vec<String>), CliError> {
    let opts = phone_options(&a.phone)?;
    let mut warnings = Vec::new();
    let update = UserUpdate {
        alternate_emails: email_edit(a, &mut warnings)?,
        mobile_phone: phone_input(
            "mobilePhone",
            "mobile-phone",
            a.mobile_phone.as_deref(),
            a.clear.contains(&UserClear::MobilePhone),
            &opts,
            &mut warnings,
        )?,
        office_phone: phone_input(
            "officePhone",
            "office-phone",
            a.office_phone.as_deref(),
            a.clear.contains(&UserClear::OfficePhone),
            &opts,
            &mut warnings,
        )?,
    };
    if update.is_empty() {
        return Err(
            CliError::usage("nothing_to_change", "nothing to change").with_hint(
                "give --alternate-email, --add-alternate-email, --remove-alternate-email, \
             --mobile-phone, --office-phone or --clear FIELD",
            ),
        );
    }
    Ok((update, warnings))
}

pub async fn run(a: SetUserArgs, ctx: &mut Ctx<'_>) -> Result<Exit, CliError> {
    let (update, mut warnings) = update(&a)?;
    super::sync::check_wait(a.wait.wait_for_sync, a.dry_run, ctx)?;
    let dir = ctx.open_directory().await?;
    let (user, plan) = dir
        .update_user(a.user.value(), a.dry_run, |u| plan_user(u, &update))
        .await?;
    warnings.extend(plan.warnings);
    // Hybrid mode: wait for Entra Connect to copy the AD writes, when asked.
    let expected = a
        .wait
        .wait_for_sync
        .and_then(|total| Some((total, super::sync::expected(&user.id, &plan.changes)?)));
    if a.wait.wait_for_sync.is_some() && expected.is_none() {
        ctx.printer
            .note("sync: nothing was written in AD, so there is nothing to wait for");
    }
    let mut report = ChangeReport::new(user, a.dry_run, plan.changes, warnings);
    let mut exit = Exit::Success;
    if let Some((total, expected)) = expected {
        let ctl = crate::directory::BulkControl::default();
        let synced = super::sync::wait(&dir, &[expected], total, ctx, &ctl).await?;
        let ok = synced.first().copied().unwrap_or(false);
        report.sync = Some(if ok { "synced" } else { "pending" });
        if !ok {
            exit = Exit::SyncPending;
        }
    }
    ctx.printer.changes(ctx.out, &report)?;
    Ok(exit)
}
