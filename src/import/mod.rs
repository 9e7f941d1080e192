//! `import`: make the directory match a file of contact information, safely and fast.
//!
//! Phases: validate every row ([`validate`]); read the users and plan only the fields that
//! change; apply the changes ([`crate::directory::Directory::apply_many`]); report each row
//! ([`report`]). A file applied twice makes no writes the second time.

pub mod read;
pub mod report;
pub mod validate;

use crate::directory::{BulkControl, Current, Directory, DirectoryError, Outcome, Planned};
use crate::error::CliError;
use crate::plan::{FieldChange, plan_auth, plan_user};
use read::Parsed;
use validate::{Duplicate, Problem, Rules, ValidRow};

/// A row's fate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    Updated,
    Unchanged,
    Skipped,
    Failed,
    /// Would be updated (dry run).
    Planned,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Updated => "updated",
            Status::Unchanged => "unchanged",
            Status::Skipped => "skipped",
            Status::Failed => "failed",
            Status::Planned => "planned",
        }
    }
}

/// What happened to one row.
#[derive(Debug, Clone)]
pub struct RowResult {
    pub line: u64,
    pub status: Status,
    /// The user, as resolved (or as given when unresolved).
    pub user: String,
    pub id: Option<String>,
    /// The fields that change (or changed).
    pub changed: Vec<&'static str>,
    /// Old → new for each, kept in a dry run only (it prints them).
    pub changes: Vec<FieldChange>,
    pub error: Option<(&'static str, String)>,
    pub warnings: Vec<String>,
    /// Hybrid mode: where each changed field goes (`ad`, `entraId`), in `changed`'s order.
    pub destinations: Vec<&'static str>,
    /// Hybrid mode with `--wait-for-sync`: `synced` or `pending` for a row with AD writes.
    pub sync: Option<&'static str>,
}

/// A row after validation.
#[derive(Debug, Clone)]
pub enum RowState {
    // Boxed: a state is then 32 bytes, so a file of a million invalid rows doesn't pay a
    // valid row's size for each.
    Valid(Box<ValidRow>),
    Duplicate(Box<ValidRow>, u64),
    Invalid(Vec<Problem>),
}

/// Phase 1: every row's state; an invalid row holds its problems (duplicates included), which
/// [`problems`] lists in line order. Each problem is stored once: a file of a million bad rows
/// holds a million problems, not two copies of them.
pub fn validate(parsed: &Parsed, rules: &Rules) -> Vec<RowState> {
    let results = validate::rows(&parsed.rows, rules);
    let valid: Vec<(u64, &ValidRow)> = parsed
        .rows
        .iter()
        .zip(&results)
        .filter_map(|(raw, r)| r.as_ref().ok().map(|v| (raw.line, &**v)))
        .collect();
    let (marks, dup_problems) = validate::duplicates(&valid);
    drop(valid);
    let mut by_line: std::collections::HashMap<u64, Vec<Problem>> = Default::default();
    for p in dup_problems {
        by_line.entry(p.line).or_default().push(p);
    }
    let mut marks = marks.into_iter();
    let mut states = Vec::with_capacity(results.len());
    for (raw, r) in parsed.rows.iter().zip(results) {
        match r {
            Err(p) => states.push(RowState::Invalid(p)),
            Ok(v) => {
                let mark = marks.next().expect("one mark per valid row");
                if let Some(own) = by_line.remove(&raw.line) {
                    states.push(RowState::Invalid(own));
                } else if let Duplicate::SameAs(line) = mark {
                    states.push(RowState::Duplicate(v, line));
                } else {
                    states.push(RowState::Valid(v));
                }
            }
        }
    }
    states
}

/// Every problem of `states`, in line order.
pub fn problems(states: &[RowState]) -> impl Iterator<Item = &Problem> {
    states.iter().flat_map(|s| match s {
        RowState::Invalid(p) => p.as_slice(),
        _ => &[],
    })
}

fn failure(e: DirectoryError) -> (&'static str, String) {
    let e: CliError = e.into();
    (e.code, e.message)
}

/// Phases 2 and 3: read, plan, and (unless `dry_run`) apply. One result per row, in order.
///
/// Rows go through in the chunks the backend asks for (the local directory: 10,000 at a
/// time), and each row's update moves into its plan rather than being copied, which keeps a
/// 100,000-row import within its memory budget. `on_total` learns how many rows will be
/// processed; `ctl` counts them as they finish.
pub async fn run<D: Directory>(
    dir: &D,
    parsed: &Parsed,
    states: Vec<RowState>,
    dry_run: bool,
    ctl: &BulkControl,
    on_total: impl FnOnce(usize),
) -> Result<Vec<RowResult>, DirectoryError> {
    let valid = states
        .iter()
        .filter(|s| matches!(s, RowState::Valid(_)))
        .count();
    on_total(valid);
    let chunk = dir.bulk_chunk().unwrap_or(usize::MAX).max(1);
    let mut results: Vec<RowResult> = Vec::with_capacity(states.len());
    let mut states = states.into_iter().enumerate().peekable();
    while states.peek().is_some() {
        // Take rows until the chunk holds `chunk` valid ones.
        let mut part = Vec::new();
        let mut n = 0;
        while n < chunk {
            let Some((i, s)) = states.next() else { break };
            n += usize::from(matches!(s, RowState::Valid(_)));
            part.push((i, s));
        }
        if ctl.is_cancelled() {
            results.extend(part.into_iter().map(|(i, s)| interrupted(parsed, i, s)));
            continue;
        }
        results.extend(run_part(dir, parsed, part, dry_run, ctl).await?);
    }
    Ok(results)
}

/// Every row's result when nothing was attempted (the file had problems): invalid rows with
/// their problems, valid ones as not attempted — for the report.
pub fn unattempted(parsed: &Parsed, states: Vec<RowState>) -> Vec<RowResult> {
    states
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let valid = !matches!(s, RowState::Invalid(_));
            let mut r = settled(parsed, i, s);
            if valid {
                r.status = Status::Skipped;
                r.error = Some((
                    "not_attempted",
                    "not attempted: other rows have problems, so nothing was written".into(),
                ));
            }
            r
        })
        .collect()
}

/// The error of a row that was not attempted.
fn not_attempted() -> (&'static str, String) {
    (
        "interrupted",
        "not attempted: the import was interrupted".into(),
    )
}

/// A row never reached because the run was interrupted.
fn interrupted(parsed: &Parsed, i: usize, state: RowState) -> RowResult {
    let mut r = settled(parsed, i, state);
    if r.error.is_none() {
        r.status = Status::Skipped;
        r.error = Some((
            "interrupted",
            "not attempted: the import was interrupted".into(),
        ));
    }
    r
}

/// The result of a row that needs no directory: invalid, a duplicate, or (as a placeholder)
/// a valid one.
fn settled(parsed: &Parsed, i: usize, state: RowState) -> RowResult {
    let line = parsed.rows[i].line;
    let mut r = RowResult {
        line,
        status: Status::Unchanged,
        user: key_of(&parsed.rows[i]),
        id: None,
        changed: Vec::new(),
        changes: Vec::new(),
        error: None,
        warnings: Vec::new(),
        destinations: Vec::new(),
        sync: None,
    };
    match state {
        RowState::Invalid(problems) => {
            r.status = Status::Skipped;
            r.error = Some((
                "invalid_row",
                problems
                    .iter()
                    .map(|p| format!("{} \"{}\": {}", p.field, p.input, p.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            ));
        }
        RowState::Duplicate(v, first) => {
            r.user = v.key;
            r.warnings = vec![format!("same user and values as line {first}")];
        }
        RowState::Valid(v) => r.user = v.key,
    }
    r
}

async fn run_part<D: Directory>(
    dir: &D,
    parsed: &Parsed,
    part: Vec<(usize, RowState)>,
    dry_run: bool,
    ctl: &BulkControl,
) -> Result<Vec<RowResult>, DirectoryError> {
    let mut current = read_part(dir, &part, ctl).await.into_iter();
    let mut results: Vec<RowResult> = Vec::with_capacity(part.len());
    let mut planned: Vec<Planned> = Vec::new();
    let mut planned_rows: Vec<usize> = Vec::new();
    for (i, state) in part {
        let RowState::Valid(v) = state else {
            results.push(settled(parsed, i, state));
            continue;
        };
        let cur = current.next().expect("one read per valid row");
        let (r, plan) = plan_row(parsed.rows[i].line, *v, cur, ctl);
        if let Some(p) = plan {
            planned_rows.push(results.len());
            planned.push(p);
        }
        results.push(r);
    }
    route(dir, &mut planned, &planned_rows, &mut results, dry_run);
    if dry_run {
        for (k, p) in planned_rows.into_iter().zip(planned) {
            ctl.record(&Outcome::Unchanged);
            results[k].changes = p
                .user_plan
                .changes
                .into_iter()
                .chain(p.auth_plan.changes)
                .collect();
        }
        return Ok(results);
    }
    let outcomes = dir.apply_many(&planned, ctl).await;
    drop(planned);
    for (k, outcome) in planned_rows.into_iter().zip(outcomes) {
        applied(&mut results[k], outcome, ctl);
    }
    Ok(results)
}

/// Where each planned change goes, where the directory writes to more than one place
/// (hybrid mode). A run that writes keeps the AD changes (old → new) of each row, for
/// `--wait-for-sync` to look for.
fn route<D: Directory>(
    dir: &D,
    planned: &mut [Planned],
    rows: &[usize],
    results: &mut [RowResult],
    dry_run: bool,
) {
    for (p, &k) in planned.iter_mut().zip(rows) {
        let user = &p.current.user;
        for c in p
            .user_plan
            .changes
            .iter_mut()
            .chain(p.auth_plan.changes.iter_mut())
        {
            c.destination = dir.destination(user, c.field);
        }
        let changes = p.user_plan.changes.iter().chain(&p.auth_plan.changes);
        let r = &mut results[k];
        r.destinations = changes.clone().filter_map(|c| c.destination).collect();
        if !dry_run {
            r.changes = changes
                .filter(|c| c.destination == Some(crate::directory::hybrid::AD))
                .cloned()
                .collect();
        }
    }
}

/// The current state of the part's valid rows' users, one read per valid row. A read that
/// fails as a whole fails each of its rows (the report is still written); an expired token
/// stops the run.
async fn read_part<D: Directory>(
    dir: &D,
    part: &[(usize, RowState)],
    ctl: &BulkControl,
) -> Vec<crate::directory::Read> {
    let (keys, auth): (Vec<String>, Vec<bool>) = part
        .iter()
        .filter_map(|(_, s)| match s {
            RowState::Valid(v) => Some((v.key.clone(), !v.auth.is_empty())),
            _ => None,
        })
        .unzip();
    match dir.read_many(&keys, &auth, ctl).await {
        Ok(reads) => reads,
        Err(e) => {
            ctl.stops_run(&e);
            keys.iter().map(|_| Err(e.duplicate())).collect()
        }
    }
}

/// One valid row's result so far, and its planned change when there is one to write.
fn plan_row(
    line: u64,
    v: ValidRow,
    cur: crate::directory::Read,
    ctl: &BulkControl,
) -> (RowResult, Option<Planned>) {
    let mut r = RowResult {
        line,
        status: Status::Unchanged,
        user: v.key.clone(),
        id: None,
        changed: Vec::new(),
        changes: Vec::new(),
        error: None,
        warnings: v.warnings,
        destinations: Vec::new(),
        sync: None,
    };
    let plans = match cur {
        Err(e) if matches!(e, DirectoryError::NotAttempted) || ctl.stops_run(&e) => {
            r.status = Status::Skipped;
            r.error = Some(not_attempted());
            return (r, None);
        }
        Err(e) => Err(e),
        Ok(None) => Err(DirectoryError::NotFound(v.key)),
        Ok(Some(Current { user, auth })) => {
            r.user = user.user_principal_name.clone();
            let email = v.auth.email.as_ref().and_then(|e| e.as_deref());
            r.warnings.extend(crate::email::auth_upn_warning(
                email,
                &user.user_principal_name,
            ));
            r.id = Some(user.id.clone());
            let auth = auth.unwrap_or_default();
            plan_user(&user, &v.update)
                .and_then(|u| plan_auth(&user.user_principal_name, &auth, &v.auth).map(|a| (u, a)))
                .map_err(DirectoryError::from)
                .map(|(u, a)| (user, auth, u, a))
        }
    };
    match plans {
        Err(e) => {
            let outcome = Outcome::Failed(e);
            ctl.record(&outcome);
            if let Outcome::Failed(e) = outcome {
                r.status = Status::Failed;
                r.error = Some(failure(e));
            }
            (r, None)
        }
        Ok((_, _, mut u, a)) if u.patch.is_empty() && a.patch.is_empty() => {
            r.warnings.append(&mut u.warnings);
            ctl.record(&Outcome::Unchanged);
            (r, None)
        }
        Ok((user, auth, mut u, a)) => {
            r.warnings.append(&mut u.warnings);
            r.status = Status::Planned;
            r.changed = u
                .changes
                .iter()
                .chain(&a.changes)
                .map(|c| c.field)
                .collect();
            let planned = Planned {
                current: Current {
                    user,
                    auth: Some(auth),
                },
                update: v.update,
                auth_update: v.auth,
                user_plan: u,
                auth_plan: a,
            };
            (r, Some(planned))
        }
    }
}

/// A planned row's result once its write is done.
fn applied(r: &mut RowResult, outcome: Outcome, ctl: &BulkControl) {
    match outcome {
        Outcome::Updated(_) => r.status = Status::Updated,
        Outcome::Unchanged => {
            r.status = Status::Unchanged;
            r.changed.clear();
            r.destinations.clear();
        }
        Outcome::Failed(e) if !ctl.stops_run(&e) => {
            r.status = Status::Failed;
            r.changed.clear();
            r.destinations.clear();
            r.error = Some(failure(e));
        }
        Outcome::Failed(_) | Outcome::NotAttempted => {
            r.status = Status::Skipped;
            r.changed.clear();
            r.destinations.clear();
            r.error = Some((
                "interrupted",
                "not attempted: the import was interrupted".into(),
            ));
        }
    }
}

fn key_of(raw: &read::RawRow) -> String {
    [read::DataField::UserPrincipalName, read::DataField::Id]
        .iter()
        .find_map(|f| match raw.get(*f) {
            read::Cell::Text(s) => Some(s.trim().to_string()),
            _ => None,
        })
        .unwrap_or_default()
}
