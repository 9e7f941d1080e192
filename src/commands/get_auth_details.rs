//! `get-auth-details`: a user's authentication phones and email. Security questions are never
//! shown: administrators can't see them.

use super::{Ctx, names, select};
use crate::cli::UserArg;
use crate::directory::Directory;
use crate::error::CliError;
use crate::exit::Exit;
use crate::model::AuthField;
use crate::output::{Records, Shape};

pub async fn run(a: UserArg, ctx: &mut Ctx<'_>) -> Result<Exit, CliError> {
    let fields: Vec<AuthField> = select(ctx.settings.select.as_deref())?;
    let dir = ctx.open_directory().await?;
    let (user, auth) = dir.get_auth(a.value()).await?;
    if auth.any_masked() {
        ctx.printer.warn(
            "Microsoft Graph showed phone numbers masked (the caller is an Authentication \
             Administrator); a Privileged Authentication Administrator or Global Reader sees them whole",
        );
    }
    let header = names(&fields);
    let records = Records {
        fields: &header,
        rows: vec![
            fields
                .iter()
                .map(|f| auth.get(*f, &user.user_principal_name))
                .collect(),
        ],
    };
    ctx.printer.records(ctx.out, &records, Shape::Object)?;
    Ok(Exit::Success)
}
