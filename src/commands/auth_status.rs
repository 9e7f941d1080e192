//! `auth status` (alias `whoami`): which credential, tenant, app, cloud and user a token is
//! for, when it expires, what it grants, and which ssprctl operations that allows — before a
//! long run finds out with a 403. The token itself is never printed.

use serde::Serialize;

use super::Ctx;
use crate::auth::claims::show_time;
use crate::auth::permissions::{self, ALL};
use crate::cli::Format;
use crate::error::CliError;
use crate::exit::Exit;
use crate::model::Value;
use crate::output::{Records, Shape};

/// The JSON shape (stable, camelCase).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    credential: &'static str,
    description: String,
    tenant: Option<String>,
    client_id: Option<String>,
    app_name: Option<String>,
    cloud: &'static str,
    expires_at: Option<String>,
    user: Option<String>,
    /// `application` (roles), `delegated` (scp), or `unknown` (an opaque token).
    permission_type: &'static str,
    permissions: Vec<String>,
    operations: Vec<OperationStatus>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OperationStatus {
    operation: &'static str,
    needs: Vec<&'static str>,
    /// `null` when the token doesn't say (opaque).
    granted: Option<bool>,
    delegated_role: &'static str,
}

pub async fn run(ctx: &mut Ctx<'_>) -> Result<Exit, CliError> {
    let (tokens, endpoints) = ctx.graph_tokens().await?;
    let claims = tokens.claims().await;
    let credential = tokens.credential();
    let (tenant, client) = credential.tenant_and_client();
    let granted = claims.as_ref().map(permissions::granted);
    let permission_type = match &claims {
        None => "unknown",
        Some(c) if c.delegated() => "delegated",
        Some(_) => "application",
    };
    let status = Status {
        credential: credential.kind().name(),
        description: credential.describe(),
        tenant: claims
            .as_ref()
            .and_then(|c| c.tid.clone())
            .or(tenant.map(str::to_string)),
        client_id: claims
            .as_ref()
            .and_then(|c| c.client_id().map(str::to_string))
            .or(client.map(str::to_string)),
        app_name: claims.as_ref().and_then(|c| c.app_displayname.clone()),
        cloud: endpoints.cloud.name(),
        expires_at: tokens.expires_at().await.map(show_time),
        user: claims.as_ref().and_then(|c| c.user().map(str::to_string)),
        permission_type,
        permissions: granted.clone().unwrap_or_default(),
        operations: ALL
            .iter()
            .map(|op| OperationStatus {
                operation: op.name,
                needs: op.needs.to_vec(),
                granted: granted.as_ref().map(|g| op.allowed_by(g)),
                delegated_role: op.delegated_role,
            })
            .collect(),
    };
    if let Some(c) = claims.as_ref().filter(|c| !c.unreadable.is_empty()) {
        ctx.printer.warn(&format!(
            "some of the token's claims can't be read (the rest are shown): {}",
            crate::text::sanitize(&c.unreadable.join("; "))
        ));
    }
    if let Some(why) = granted.as_deref().and_then(permissions::narrow_read) {
        ctx.printer.warn(&why);
    }
    if permission_type == "unknown" {
        ctx.printer.warn(
            "the token is opaque (not a JWT): its permissions can't be read from it; operations show as unknown",
        );
    }
    print(ctx, &status)?;
    Ok(Exit::Success)
}

fn print(ctx: &mut Ctx<'_>, s: &Status) -> Result<(), CliError> {
    match ctx.printer.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *ctx.out, s).map_err(std::io::Error::from)?;
            writeln!(ctx.out)?;
        }
        Format::Jsonl => {
            serde_json::to_writer(&mut *ctx.out, s).map_err(std::io::Error::from)?;
            writeln!(ctx.out)?;
        }
        // Two tables: the identity as field/value rows, then the operations.
        _ => {
            let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::Text);
            let identity = Records {
                fields: &["field", "value"],
                rows: [
                    ("credential", Value::Text(s.credential.into())),
                    ("description", Value::Text(s.description.clone())),
                    ("tenant", text(&s.tenant)),
                    ("clientId", text(&s.client_id)),
                    ("appName", text(&s.app_name)),
                    ("cloud", Value::Text(s.cloud.into())),
                    ("expiresAt", text(&s.expires_at)),
                    ("user", text(&s.user)),
                    ("permissionType", Value::Text(s.permission_type.into())),
                    ("permissions", Value::List(s.permissions.clone())),
                ]
                .into_iter()
                .map(|(k, v)| vec![Value::Text(k.into()), v])
                .collect(),
            };
            ctx.printer.records(ctx.out, &identity, Shape::Array)?;
            writeln!(ctx.out)?;
            let table = ctx.printer.format == Format::Table;
            let ops = Records {
                fields: &["operation", "needs (any of)", "granted", "delegated role"],
                rows: s
                    .operations
                    .iter()
                    .map(|o| {
                        let granted = match (o.granted, table) {
                            (Some(true), true) => "✔",
                            (Some(false), true) => "✗",
                            (Some(true), false) => "yes",
                            (Some(false), false) => "no",
                            (None, _) => "unknown",
                        };
                        vec![
                            Value::Text(o.operation.into()),
                            Value::Text(o.needs.join(", ")),
                            Value::Text(granted.into()),
                            Value::Text(o.delegated_role.into()),
                        ]
                    })
                    .collect(),
            };
            ctx.printer.records(ctx.out, &ops, Shape::Array)?;
        }
    }
    Ok(())
}
