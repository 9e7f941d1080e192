//! `get-user`: one or more users, or all of them.

use super::{Ctx, names, select};
use crate::cli::GetUserArgs;
use crate::directory::{Directory, DirectoryError};
use crate::error::CliError;
use crate::exit::Exit;
use crate::model::UserField;
use crate::output::{Records, Shape};

/// Prints the users found; users not found are reported together afterwards (exit 3).
pub async fn run(a: GetUserArgs, ctx: &mut Ctx<'_>) -> Result<Exit, CliError> {
    let fields: Vec<UserField> = select(a.select.as_deref())?;
    if a.users.is_empty() && !a.all {
        return Err(CliError::usage("no_user", "get-user needs a user")
            .with_hint("name one or more users, or use --all to list every user"));
    }
    let dir = ctx.open_directory().await?;
    let mut missing = Vec::new();
    let users = if a.all {
        dir.list_users().await?
    } else {
        let mut users = Vec::with_capacity(a.users.len());
        for u in &a.users {
            match dir.get_user(u).await {
                Ok(user) => users.push(user),
                Err(DirectoryError::NotFound(name)) => missing.push(name),
                Err(e) => return Err(e.into()),
            }
        }
        users
    };
    let header = names(&fields);
    // Fields the directory doesn't hold (AD: alternate email, sync state) are null, not empty.
    let absent = dir.unsupported_fields();
    let records = Records {
        fields: &header,
        rows: users
            .iter()
            .map(|u| {
                fields
                    .iter()
                    .map(|f| {
                        if absent.contains(f) {
                            crate::model::Value::Null
                        } else {
                            u.get(*f)
                        }
                    })
                    .collect()
            })
            .collect(),
    };
    ctx.printer.records(ctx.out, &records, Shape::Array)?;
    if missing.is_empty() {
        return Ok(Exit::Success);
    }
    Err(DirectoryError::NotFound(missing.join(", ")).into())
}
