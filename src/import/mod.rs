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
    pub changes: Vec<FieldChange>,
    pub error: Option<(&'static str, String)>,
    pub warnings: Vec<String>,
}

/// A row after validation.
#[derive(Debug, Clone)]
pub enum RowState {
    Valid(ValidRow),
    Duplicate(ValidRow, u64),
    Invalid(Vec<Problem>),
}

/// Phase 1: every row's state, and every problem (duplicates included).
pub fn validate(parsed: &Parsed, rules: &Rules) -> (Vec<RowState>, Vec<Problem>) {
    let results = validate::rows(&parsed.rows, rules);
    let valid: Vec<(u64, &ValidRow)> = parsed
        .rows
        .iter()
        .zip(&results)
        .filter_map(|(raw, r)| r.as_ref().ok().map(|v| (raw.line, v)))
        .collect();
    let (marks, dup_problems) = validate::duplicates(&valid);
    let mut marks = marks.into_iter();
    let mut problems: Vec<Problem> = Vec::new();
    let mut states = Vec::with_capacity(results.len());
    for (raw, r) in parsed.rows.iter().zip(results) {
        match r {
            Err(p) => {
                problems.extend(p.iter().cloned());
                states.push(RowState::Invalid(p));
            }
            Ok(v) => {
                let mark = marks.next().expect("one mark per valid row");
                let own: Vec<Problem> = dup_problems
                    .iter()
                    .filter(|p| p.line == raw.line)
                    .cloned()
                    .collect();
                if !own.is_empty() {
                    problems.extend(own.iter().cloned());
                    states.push(RowState::Invalid(own));
                } else if let Duplicate::SameAs(line) = mark {
                    states.push(RowState::Duplicate(v, line));
                } else {
                    states.push(RowState::Valid(v));
                }
            }
        }
    }
    problems.sort_by_key(|p| p.line);
    (states, problems)
}

fn failure(e: DirectoryError) -> (&'static str, String) {
    let e: CliError = e.into();
    (e.code, e.message)
}

/// Phases 2 and 3: read, plan, and (unless `dry_run`) apply. One result per row, in order.
pub async fn run<D: Directory>(
    dir: &D,
    parsed: &Parsed,
    states: &[RowState],
    dry_run: bool,
    ctl: &BulkControl,
    on_planned: impl FnOnce(usize),
) -> Result<Vec<RowResult>, DirectoryError> {
    let valid: Vec<(usize, &ValidRow)> = states
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match s {
            RowState::Valid(v) => Some((i, v)),
            _ => None,
        })
        .collect();
    let keys: Vec<String> = valid.iter().map(|(_, v)| v.key.clone()).collect();
    let auth = valid.iter().any(|(_, v)| !v.auth.is_empty());
    let current = dir.read_many(&keys, auth, ctl).await?;

    let mut results: Vec<Option<RowResult>> = states.iter().map(|_| None).collect();
    let mut planned: Vec<(usize, Planned)> = Vec::new();
    for ((i, v), cur) in valid.iter().zip(current) {
        let line = parsed.rows[*i].line;
        let base = RowResult {
            line,
            status: Status::Unchanged,
            user: v.key.clone(),
            id: None,
            changes: Vec::new(),
            error: None,
            warnings: v.warnings.clone(),
        };
        let Some(Current { user, auth }) = cur else {
            results[*i] = Some(RowResult {
                status: Status::Failed,
                error: Some(failure(DirectoryError::NotFound(v.key.clone()))),
                ..base
            });
            continue;
        };
        let auth = auth.unwrap_or_default();
        let plans = plan_user(&user, &v.update)
            .and_then(|u| plan_auth(&user.user_principal_name, &auth, &v.auth).map(|a| (u, a)));
        let base = RowResult {
            user: user.user_principal_name.clone(),
            id: Some(user.id.clone()),
            ..base
        };
        match plans {
            Err(e) => {
                results[*i] = Some(RowResult {
                    status: Status::Failed,
                    error: Some(failure(e.into())),
                    ..base
                });
            }
            Ok((u, a)) if u.patch.is_empty() && a.patch.is_empty() => {
                results[*i] = Some(RowResult {
                    warnings: [base.warnings.clone(), u.warnings].concat(),
                    ..base
                });
            }
            Ok((u, a)) => {
                let changes = u.changes.iter().chain(&a.changes).cloned().collect();
                results[*i] = Some(RowResult {
                    status: Status::Planned,
                    changes,
                    warnings: [base.warnings.clone(), u.warnings.clone()].concat(),
                    ..base
                });
                planned.push((
                    *i,
                    Planned {
                        current: Current {
                            user,
                            auth: Some(auth),
                        },
                        update: v.update.clone(),
                        auth_update: v.auth.clone(),
                        user_plan: u,
                        auth_plan: a,
                    },
                ));
            }
        }
    }
    on_planned(planned.len());
    if !dry_run {
        let items: Vec<Planned> = planned.iter().map(|(_, p)| p.clone()).collect();
        let outcomes = dir.apply_many(&items, ctl).await;
        for ((i, _), outcome) in planned.iter().zip(outcomes) {
            let r = results[*i].as_mut().expect("planned rows have results");
            match outcome {
                Outcome::Updated(_) => r.status = Status::Updated,
                Outcome::Unchanged => {
                    r.status = Status::Unchanged;
                    r.changes.clear();
                }
                Outcome::Failed(e) => {
                    r.status = Status::Failed;
                    r.error = Some(failure(e));
                }
                Outcome::NotAttempted => {
                    r.status = Status::Skipped;
                    r.error = Some((
                        "interrupted",
                        "not attempted: the import was interrupted".into(),
                    ));
                }
            }
        }
    }
    Ok(states
        .iter()
        .zip(results)
        .enumerate()
        .map(|(i, (state, r))| {
            let line = parsed.rows[i].line;
            r.unwrap_or_else(|| match state {
                RowState::Invalid(problems) => RowResult {
                    line,
                    status: Status::Skipped,
                    user: key_of(&parsed.rows[i]),
                    id: None,
                    changes: Vec::new(),
                    error: Some((
                        "invalid_row",
                        problems
                            .iter()
                            .map(|p| format!("{} \"{}\": {}", p.field, p.input, p.message))
                            .collect::<Vec<_>>()
                            .join("; "),
                    )),
                    warnings: Vec::new(),
                },
                RowState::Duplicate(v, first) => RowResult {
                    line,
                    status: Status::Unchanged,
                    user: v.key.clone(),
                    id: None,
                    changes: Vec::new(),
                    error: None,
                    warnings: vec![format!("same user and values as line {first}")],
                },
                RowState::Valid(_) => unreachable!("valid rows have results"),
            })
        })
        .collect())
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
