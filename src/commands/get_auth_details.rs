//! `get-auth-details`: users' authentication phones and email. Security questions are never
//! shown: administrators can't see them. One user prints one object (as MSOnline's
//! `StrongAuthenticationUserDetails`); several or `--all` print a list, read in bulk.

use super::{Ctx, names, select};
use crate::cli::GetAuthArgs;
use crate::directory::{BulkControl, Directory, DirectoryError};
use crate::error::CliError;
use crate::exit::Exit;
use crate::model::{AuthDetails, AuthField, User};
use crate::output::{Records, Shape};

pub async fn run(a: GetAuthArgs, ctx: &mut Ctx<'_>) -> Result<Exit, CliError> {
    let fields: Vec<AuthField> = select(a.select.as_deref())?;
    let mut keys: Vec<String> = a.users.clone();
    keys.extend(a.upn.iter().cloned());
    keys.extend(a.object_id.iter().cloned());
    if keys.is_empty() && !a.all {
        return Err(CliError::usage("no_user", "get-auth-details needs a user")
            .with_hint("name one or more users, or use --all"));
    }
    let dir = ctx.open_directory().await?;
    let mut missing = Vec::new();
    let (rows, shape): (Vec<(User, AuthDetails)>, Shape) = if keys.len() == 1 {
        let (u, d) = dir.get_auth(&keys[0]).await?;
        (vec![(u, d)], Shape::Object)
    } else {
        let users = if a.all {
            dir.list_users().await?
        } else {
            let mut users = Vec::with_capacity(keys.len());
            for k in &keys {
                match dir.get_user(k).await {
                    Ok(u) => users.push(u),
                    Err(DirectoryError::NotFound(name)) => missing.push(name),
                    Err(e) => return Err(e.into()),
                }
            }
            users
        };
        let ctl = BulkControl {
            auth_concurrency: usize::from(a.auth_concurrency),
            ..Default::default()
        };
        let methods = dir.read_methods(&users, &ctl).await?;
        let rows = users
            .into_iter()
            .zip(methods)
            .map(|(u, d)| (u, d.unwrap_or_default()))
            .collect();
        (rows, Shape::Array)
    };
    if rows.iter().any(|(_, d)| d.any_masked()) {
        ctx.printer.warn(
            "Microsoft Graph showed phone numbers masked (the caller is an Authentication \
             Administrator); a Privileged Authentication Administrator or Global Reader sees them whole",
        );
    }
    let header = names(&fields);
    let records = Records {
        fields: &header,
        rows: rows
            .iter()
            .map(|(u, d)| {
                fields
                    .iter()
                    .map(|f| d.get(*f, &u.user_principal_name))
                    .collect()
            })
            .collect(),
    };
    ctx.printer.records(ctx.out, &records, shape)?;
    if missing.is_empty() {
        return Ok(Exit::Success);
    }
    Err(DirectoryError::NotFound(missing.join(", ")).into())
}
