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
    // The directory's own columns (AD: samAccountName; hybrid: the AD side) may be selected
    // by name too; without --select they follow the user's fields.
    let (extras_asked, rest) = split_select(a.select.as_deref());
    let fields: Vec<UserField> = match (&rest, &extras_asked) {
        (None, Some(_)) => Vec::new(),
        _ => select(rest.as_deref())?,
    };
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
    dir.prepare_view(&users).await?;
    let mut header = names(&fields);
    let all_extras = dir.extra_fields();
    let extras: Vec<usize> = match &extras_asked {
        None => (0..all_extras.len()).collect(),
        Some(asked) => {
            for name in asked {
                if !all_extras.iter().any(|e| e.eq_ignore_ascii_case(name)) {
                    return Err(CliError::usage(
                        "unknown_field",
                        format!("\"{name}\" is not shown by this directory"),
                    )
                    .with_hint("samAccountName is an AD field (--directory ldaps://…); adMatch, adDistinguishedName, adMobilePhone, adOfficePhone and syncPending are hybrid mode's (--ad)"));
                }
            }
            (0..all_extras.len())
                .filter(|i| asked.iter().any(|n| n.eq_ignore_ascii_case(all_extras[*i])))
                .collect()
        }
    };
    header.extend(extras.iter().map(|i| all_extras[*i]));
    // Fields the directory doesn't hold (AD: alternate email, sync state) are null, not empty.
    let absent = dir.unsupported_fields();
    let records = Records {
        fields: &header,
        rows: users
            .iter()
            .map(|u| {
                let mut row: Vec<_> = fields
                    .iter()
                    .map(|f| {
                        if absent.contains(f) {
                            crate::model::Value::Null
                        } else {
                            u.get(*f)
                        }
                    })
                    .collect();
                if !extras.is_empty() {
                    let values = dir.extra_values(u);
                    row.extend(extras.iter().map(|i| values[*i].clone()));
                }
                row
            })
            .collect(),
    };
    ctx.printer.records(ctx.out, &records, Shape::Array)?;
    if missing.is_empty() {
        return Ok(Exit::Success);
    }
    Err(DirectoryError::NotFound(missing.join(", ")).into())
}

/// Whether `name` is a directory's own column (AD's or hybrid mode's).
fn is_extra(name: &str) -> bool {
    crate::directory::ad::EXTRA_FIELDS
        .iter()
        .chain(crate::directory::hybrid::EXTRA_FIELDS)
        .any(|k| k.eq_ignore_ascii_case(name))
}

/// `--select` split into the directory's own columns (`None`: not selected by name, so all
/// of them when there is no `--select`) and the rest (`None`: no `--select`).
fn split_select(spec: Option<&str>) -> (Option<Vec<String>>, Option<String>) {
    let Some(spec) = spec else {
        return (None, None);
    };
    let (extras, rest): (Vec<&str>, Vec<&str>) = spec
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .partition(|n| is_extra(n));
    let extras = Some(extras.into_iter().map(str::to_string).collect());
    let rest = (!rest.is_empty()).then(|| rest.join(","));
    (extras, rest)
}
