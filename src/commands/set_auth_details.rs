//! `set-auth-details`: sets the authentication contact methods an administrator may set.
//! The service's rules (alternate phone needs a phone; the phone can't go while an alternate
//! exists) are enforced while planning, before anything is written.

use super::Ctx;
use super::set_user::phone_input;
use crate::cli::{AuthClear, SetAuthArgs};
use crate::directory::Directory;
use crate::error::CliError;
use crate::exit::Exit;
use crate::output::ChangeReport;
use crate::plan::{AuthUpdate, plan_auth};
use crate::settings::phone_options;

fn update(a: &SetAuthArgs) -> Result<(AuthUpdate, Vec<String>), CliError> {
    let opts = phone_options(&a.phone_args)?;
    let mut warnings = Vec::new();
    let mut phone = |field, flag, raw: &Option<String>, clear| {
        phone_input(
            field,
            flag,
            raw.as_deref(),
            a.clear.contains(&clear),
            &opts,
            &mut warnings,
        )
    };
    let phone_v = phone("authenticationPhone", "phone", &a.phone, AuthClear::Phone)?;
    let alternate = phone(
        "alternateAuthenticationPhone",
        "alternate-phone",
        &a.alternate_phone,
        AuthClear::AlternatePhone,
    )?;
    let office = phone(
        "authenticationOfficePhone",
        "office-phone",
        &a.office_phone,
        AuthClear::OfficePhone,
    )?;
    let email = match (&a.email, a.clear.contains(&AuthClear::Email)) {
        (Some(_), true) => {
            return Err(CliError::usage(
                "conflicting_flags",
                "authenticationEmail is both set and cleared",
            )
            .with_hint("give either --email or --clear email"));
        }
        (Some(e), false) => Some(Some(
            crate::email::normalize(e).map_err(|e| CliError::email("authenticationEmail", e))?,
        )),
        (None, true) => Some(None),
        (None, false) => None,
    };
    let update = AuthUpdate {
        phone: phone_v,
        alternate_phone: alternate,
        office_phone: office,
        email,
    };
    if update.is_empty() {
        return Err(
            CliError::usage("nothing_to_change", "nothing to change").with_hint(
                "give --phone, --alternate-phone, --office-phone, --email or --clear METHOD",
            ),
        );
    }
    Ok((update, warnings))
}

pub async fn run(a: SetAuthArgs, ctx: &mut Ctx<'_>) -> Result<Exit, CliError> {
    let (update, mut warnings) = update(&a)?;
    let dir = ctx.open_directory().await?;
    let (user, plan) = dir
        .update_auth(a.user.value(), a.dry_run, |u, current| {
            plan_auth(&u.user_principal_name, current, &update)
        })
        .await?;
    let email = update.email.as_ref().and_then(|e| e.as_deref());
    warnings.extend(crate::email::auth_upn_warning(
        email,
        &user.user_principal_name,
    ));
    let report = ChangeReport::new(user, a.dry_run, plan.changes, warnings);
    ctx.printer.changes(ctx.out, &report)?;
    Ok(Exit::Success)
}
