//! `remove-user`: deletes a user from the local directory.

use super::Ctx;
use crate::cli::RemoveUserArgs;
use crate::directory::Directory;
use crate::error::CliError;
use crate::exit::Exit;

pub async fn run(a: RemoveUserArgs, ctx: &mut Ctx<'_>) -> Result<Exit, CliError> {
    ctx.require_local("remove-user")?;
    let dir = ctx.open_directory().await?;
    let user = dir.remove_user(a.user.value()).await?;
    ctx.printer.note(&format!(
        "removed {} ({})",
        user.user_principal_name, user.id
    ));
    ctx.print_user(&user)?;
    Ok(Exit::Success)
}
