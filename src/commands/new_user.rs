//! `new-user`: creates a user in the local directory.

use super::Ctx;
use crate::cli::NewUserArgs;
use crate::directory::Directory;
use crate::error::CliError;
use crate::exit::Exit;

pub async fn run(a: NewUserArgs, ctx: &mut Ctx<'_>) -> Result<Exit, CliError> {
    ctx.require_local("new-user")?;
    let upn = crate::email::normalize(&a.upn).map_err(|e| {
        CliError::usage("invalid_upn", format!("invalid user principal name {e}"))
            .with_hint("a user principal name looks like an email address: kim@contoso.com")
    })?;
    let dir = ctx.open_directory().await?;
    let user = dir
        .create_user(&upn, a.display_name.as_deref(), a.synced)
        .await?;
    ctx.printer.note(&format!(
        "created {} ({})",
        user.user_principal_name, user.id
    ));
    ctx.print_user(&user)?;
    Ok(Exit::Success)
}
