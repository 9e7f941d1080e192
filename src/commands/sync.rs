//! Entra Connect's side of hybrid mode: `sync status`, and `--wait-for-sync` after the AD
//! writes of `set-user` and `import`.

use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Ctx;
use crate::directory::AnyDirectory;
use crate::directory::BulkControl;
use crate::directory::hybrid::{self, Expected};
use crate::error::CliError;
use crate::exit::Exit;
use crate::model::Value;
use crate::output::{Records, Shape};
use crate::plan::FieldChange;
use crate::settings::DirectorySpec;

/// Entra Connect's default synchronisation cycle.
pub const CYCLE: Duration = Duration::from_secs(30 * 60);

/// `--wait-for-sync` applies to a hybrid run that writes.
pub fn check_wait(wait: Option<Duration>, dry_run: bool, ctx: &Ctx<'_>) -> Result<(), CliError> {
    let Some(_) = wait else { return Ok(()) };
    if !matches!(ctx.settings.directory, DirectorySpec::Hybrid(_)) {
        return Err(CliError::usage(
            "wait_needs_hybrid",
            "--wait-for-sync waits for Entra Connect to copy AD writes: it needs hybrid mode",
        )
        .with_hint("add --directory graph --ad ldaps://<your DC> (or set SSPRCTL_AD)"));
    }
    if dry_run {
        return Err(CliError::usage(
            "conflicting_flags",
            "--wait-for-sync with --dry-run: a dry run writes nothing to wait for",
        )
        .with_hint("drop one of them"));
    }
    Ok(())
}

/// What Entra should show for one user once the AD `changes` are synchronised.
pub fn expected(id: &str, changes: &[FieldChange]) -> Option<Expected> {
    let mut e = Expected {
        id: id.to_string(),
        mobile_phone: None,
        office_phone: None,
    };
    for c in changes.iter().filter(|c| c.destination == Some(hybrid::AD)) {
        let new = match &c.new {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        };
        match c.field {
            "mobilePhone" => e.mobile_phone = Some(new),
            "officePhone" => e.office_phone = Some(new),
            _ => {}
        }
    }
    (e.mobile_phone.is_some() || e.office_phone.is_some()).then_some(e)
}

/// Waits up to `total` for Entra to show `expected`, saying how it goes on stderr; true for
/// the users that synced.
pub async fn wait(
    dir: &AnyDirectory,
    expected: &[Expected],
    total: Duration,
    ctx: &Ctx<'_>,
    ctl: &BulkControl,
) -> Result<Vec<bool>, CliError> {
    let AnyDirectory::Hybrid(h) = dir else {
        return Ok(vec![false; expected.len()]);
    };
    if expected.is_empty() {
        return Ok(Vec::new());
    }
    let every = hybrid::poll_interval(total);
    ctx.printer.note(&format!(
        "waiting up to {} for Entra Connect to copy {} users' AD writes (looking every {} s)",
        show_duration(total),
        expected.len(),
        every.as_secs()
    ));
    let printer = ctx.printer;
    let synced = h
        .wait_for_sync(expected, total, ctl, |done, pending| {
            printer.log(1, &format!("sync: {done} synced, {pending} pending"));
        })
        .await?;
    let done = synced.iter().filter(|s| **s).count();
    let pending = synced.len() - done;
    if pending == 0 {
        ctx.printer.note(&format!(
            "sync: all {done} users show the new values in Entra ID"
        ));
    } else {
        ctx.printer.warn(&format!(
            "sync: {pending} of {} users don't show the new values in Entra ID after {} (pending; exit 6). \
             `ssprctl sync status` says when Entra Connect last ran",
            synced.len(),
            show_duration(total)
        ));
    }
    Ok(synced)
}

fn show_duration(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

/// When the next default cycle is due after a sync at `last`, and whether it is overdue
/// (`now` is past it: the scheduler is off, or the server is down). `None` for a time Graph
/// sends at the end of the calendar (no panic on its overflow).
fn next_cycle(last: OffsetDateTime, now: OffsetDateTime) -> Option<(OffsetDateTime, bool)> {
    let next = last.checked_add(time::Duration::try_from(CYCLE).ok()?)?;
    Some((next, now > next))
}

/// `sync status`.
pub async fn status(ctx: &mut Ctx<'_>) -> Result<Exit, CliError> {
    let g = ctx.connect_graph().await?;
    let s = g.sync_status().await?;
    let last = s
        .on_premises_last_sync_date_time
        .as_deref()
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
    let now = OffsetDateTime::now_utc();
    let (next, overdue) = match last.and_then(|l| next_cycle(l, now)) {
        Some((n, o)) => (n.format(&Rfc3339).ok(), Some(o)),
        None => (None, None),
    };
    let minutes = last.map(|l| ((now - l).whole_seconds().max(0) / 60).to_string());
    let fields = [
        "tenantId",
        "displayName",
        "onPremisesSyncEnabled",
        "onPremisesLastSyncDateTime",
        "minutesSinceLastSync",
        "nextSyncDue",
        "overdue",
    ];
    let row = vec![
        Value::Text(s.tenant_id.clone()),
        s.display_name.clone().into(),
        s.on_premises_sync_enabled.map_or(Value::Null, Value::Bool),
        s.on_premises_last_sync_date_time.clone().into(),
        minutes.into(),
        next.into(),
        overdue.map_or(Value::Null, Value::Bool),
    ];
    let records = Records {
        fields: &fields,
        rows: vec![row],
    };
    ctx.printer.records(ctx.out, &records, Shape::Object)?;
    if s.on_premises_sync_enabled != Some(true) {
        ctx.printer.note(
            "directory synchronisation is not enabled for this tenant: every user is cloud-only",
        );
    } else if overdue == Some(true) {
        ctx.printer.warn(
            "the last sync is older than Entra Connect's 30-minute cycle: check the Entra Connect \
             server (Get-ADSyncScheduler: SyncCycleEnabled, NextSyncCycleStartTimeInUTC)",
        );
    }
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_cycle_is_thirty_minutes_after_the_last_sync() {
        let last = OffsetDateTime::parse("2026-12-05T18:40:12Z", &Rfc3339).unwrap();
        let now = OffsetDateTime::parse("2026-12-05T19:00:00Z", &Rfc3339).unwrap();
        let (next, overdue) = next_cycle(last, now).unwrap();
        assert_eq!(next.format(&Rfc3339).unwrap(), "2026-12-05T19:10:12Z");
        assert!(!overdue);
        let later = OffsetDateTime::parse("2026-12-05T20:00:00Z", &Rfc3339).unwrap();
        assert!(next_cycle(last, later).unwrap().1);
        // The end of the calendar: no next cycle, and no panic.
        let end = OffsetDateTime::parse("9999-12-31T23:59:59Z", &Rfc3339).unwrap();
        assert_eq!(next_cycle(end, now), None);
        assert_eq!(show_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(show_duration(Duration::from_secs(90)), "1m30s");
    }
}
