//! `login` (device code flow) and `logout` (forget every saved credential).

use super::Ctx;
use crate::auth::device;
use crate::cli::LoginArgs;
use crate::error::CliError;
use crate::exit::Exit;
use crate::model::Value;
use crate::output::{Records, Shape};

pub async fn login(a: LoginArgs, ctx: &mut Ctx<'_>) -> Result<Exit, CliError> {
    let g = &ctx.settings.graph;
    device::login(
        &a.tenant,
        &a.client_id,
        &g.endpoints,
        &g.store,
        &ctx.http(),
        &ctx.printer.into(),
    )
    .await?;
    ctx.printer.note(&format!(
        "signed in; later commands with --directory graph use this login (saved in {})",
        g.store.login.display()
    ));
    let record = Records {
        fields: &["tenant", "clientId", "cloud"],
        rows: vec![vec![
            Value::Text(a.tenant),
            Value::Text(a.client_id),
            Value::Text(g.endpoints.cloud.name().into()),
        ]],
    };
    ctx.printer.records(ctx.out, &record, Shape::Object)?;
    Ok(Exit::Success)
}

pub fn logout(ctx: &mut Ctx<'_>) -> Result<Exit, CliError> {
    let removed = ctx.settings.graph.store.clear().map_err(|e| {
        CliError::new(
            Exit::Failed,
            "storage",
            format!("can't delete saved credentials: {e}"),
        )
    })?;
    if removed.is_empty() {
        ctx.printer.note("no saved login or cached token to delete");
    }
    for p in &removed {
        ctx.printer.note(&format!("deleted {}", p.display()));
    }
    Ok(Exit::Success)
}
