//! Phase 1: every row is parsed and normalised before anything is read or written. Phones and
//! emails follow the same rules as `set-user`; duplicates of the same user are an error unless
//! identical. Large files are validated on every core.

use std::borrow::Cow;
use std::collections::HashMap;

use super::read::{Cell, DataField, RawRow};
use crate::email;
use crate::phone::{self, PhoneOptions};
use crate::plan::{AuthUpdate, EmailEdit, UserUpdate};

/// How cells become changes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rules {
    pub phone: PhoneOptions,
    /// Empty cells clear the field instead of leaving it alone.
    pub clear_empty: bool,
}

/// A valid row: which user and what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRow {
    pub key: String,
    pub update: UserUpdate,
    pub auth: AuthUpdate,
    pub warnings: Vec<String>,
}

/// One problem with one field of one row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub line: u64,
    pub field: &'static str,
    pub input: String,
    pub message: String,
    /// What to do; the same few texts for most problems, so not a copy each.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<Cow<'static, str>>,
}

/// What a cell asks for.
enum Action<'a> {
    Leave,
    Clear,
    Set(&'a str),
    SetList(&'a [String]),
}

fn action<'a>(cell: &'a Cell, rules: &Rules) -> Action<'a> {
    match cell {
        Cell::Absent => Action::Leave,
        Cell::Empty if rules.clear_empty => Action::Clear,
        Cell::Empty => Action::Leave,
        Cell::Null => Action::Clear,
        Cell::Text(s) => Action::Set(s),
        Cell::List(l) => Action::SetList(l),
    }
}

fn cell_text(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => s.clone(),
        Cell::List(l) => l.join(";"),
        _ => String::new(),
    }
}

/// Validates one row.
pub fn row(raw: &RawRow, rules: &Rules) -> Result<ValidRow, Vec<Problem>> {
    if let Some(why) = &raw.broken {
        return Err(vec![Problem {
            line: raw.line,
            field: "(row)",
            input: String::new(),
            message: why.clone(),
            hint: Some("each line must be a JSON object such as {\"userPrincipalName\":\"kim@contoso.com\",\"mobilePhone\":\"+1 2065550100\"}".into()),
        }]);
    }
    let mut c = RowCheck {
        raw,
        rules,
        problems: Vec::new(),
        warnings: Vec::new(),
    };
    let key = c.key();
    let row_phone = c.phone_options();
    // In the order of the problems' report: phones, then emails.
    let mobile_phone = c.phone(DataField::MobilePhone, &row_phone);
    let office_phone = c.phone(DataField::OfficePhone, &row_phone);
    let auth_phone = c.phone(DataField::AuthenticationPhone, &row_phone);
    let alternate_phone = c.phone(DataField::AlternateAuthenticationPhone, &row_phone);
    let auth_office = c.phone(DataField::AuthenticationOfficePhone, &row_phone);
    let update = UserUpdate {
        alternate_emails: c.alternate_emails(),
        mobile_phone,
        office_phone,
    };
    let auth = AuthUpdate {
        phone: auth_phone,
        alternate_phone,
        office_phone: auth_office,
        email: c.auth_email(),
    };
    if !c.problems.is_empty() {
        return Err(c.problems);
    }
    Ok(ValidRow {
        key,
        update,
        auth,
        warnings: c.warnings,
    })
}

/// One row being checked: its problems and warnings so far.
struct RowCheck<'a> {
    raw: &'a RawRow,
    rules: &'a Rules,
    problems: Vec<Problem>,
    warnings: Vec<String>,
}

impl RowCheck<'_> {
    fn problem(&mut self, field: DataField, message: String, hint: Option<Cow<'static, str>>) {
        self.problems.push(Problem {
            line: self.raw.line,
            field: field.name(),
            input: shorten(cell_text(self.raw.get(field))),
            message,
            hint,
        });
    }

    /// The user: the principal name, else the object id.
    fn key(&mut self) -> String {
        let key = [DataField::UserPrincipalName, DataField::Id]
            .iter()
            .find_map(|f| match self.raw.get(*f) {
                Cell::Text(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
                _ => None,
            });
        match key {
            Some(k) => {
                if let Err(why) = crate::model::check_user_key(&k) {
                    self.problem(DataField::UserPrincipalName, why, None);
                }
                k
            }
            None => {
                self.problem(
                    DataField::UserPrincipalName,
                    "no user: userPrincipalName and id are both empty".into(),
                    Some("give the user's principal name or object id".into()),
                );
                String::new()
            }
        }
    }

    /// The phone rules for this row: its own region (--region-column) reads its national
    /// numbers.
    fn phone_options(&mut self) -> crate::phone::PhoneOptions {
        let mut row_phone = self.rules.phone;
        if let Some(r) = &self.raw.region {
            match crate::phone::RegionCode::parse(r) {
                Some(code) => row_phone.default_region = Some(code),
                None => self.problems.push(Problem {
                    line: self.raw.line,
                    field: "(region column)",
                    input: r.clone(),
                    message: "not a two-letter ISO 3166 region code".into(),
                    hint: Some("write the country as a code such as US, GB, DE or IT".into()),
                }),
            }
        }
        row_phone
    }

    /// A phone cell: `None` leaves the field, `Some(None)` clears it.
    fn phone(
        &mut self,
        field: DataField,
        opts: &crate::phone::PhoneOptions,
    ) -> Option<Option<String>> {
        match action(self.raw.get(field), self.rules) {
            Action::Leave => None,
            Action::Clear => Some(None),
            Action::SetList(_) => {
                self.problem(field, "a phone number is a string, not a list".into(), None);
                None
            }
            Action::Set(s) => match phone::normalize(s, opts) {
                Ok(p) => {
                    if let Some(ext) = &p.extension {
                        self.warnings.push(format!(
                            "{}: extension {ext} removed from \"{s}\" (SSPR does not dial extensions)",
                            field.name()
                        ));
                    }
                    Some(Some(p.canonical))
                }
                Err(e) => {
                    self.problem(field, e.reason.to_string(), Some(e.hint().into()));
                    None
                }
            },
        }
    }

    fn alternate_emails(&mut self) -> Option<EmailEdit> {
        match action(self.raw.get(DataField::AlternateEmailAddresses), self.rules) {
            Action::Leave => None,
            Action::Clear => Some(EmailEdit::Replace(Vec::new())),
            // Each address after the first was neutralised on its own when written
            // ([`crate::text::neutralise`]); the cell's start was un-neutralised on reading.
            Action::Set(s) => self.email_list(
                &mut s
                    .split(';')
                    .enumerate()
                    .map(|(i, x)| {
                        if i == 0 {
                            x
                        } else {
                            crate::text::unneutralise(x)
                        }
                    })
                    .map(str::trim)
                    .filter(|x| !x.is_empty()),
            ),
            Action::SetList(l) => self.email_list(&mut l.iter().map(String::as_str)),
        }
    }

    fn email_list(&mut self, items: &mut dyn Iterator<Item = &str>) -> Option<EmailEdit> {
        let field = DataField::AlternateEmailAddresses;
        match email::normalize_list(items, None) {
            Ok((l, w)) => {
                self.warnings.extend(w);
                Some(EmailEdit::Replace(l))
            }
            Err(e) => {
                // The cell is quoted already; name the address only when the cell holds more.
                let cell = cell_text(self.raw.get(field));
                let message = if cell.trim() == e.input.trim() {
                    e.reason.to_string()
                } else {
                    format!("address \"{}\": {}", e.input, e.reason)
                };
                self.problem(
                    field,
                    message,
                    Some("separate addresses with ; and write each as name@domain".into()),
                );
                None
            }
        }
    }

    fn auth_email(&mut self) -> Option<Option<String>> {
        let field = DataField::AuthenticationEmail;
        match action(self.raw.get(field), self.rules) {
            Action::Leave => None,
            Action::Clear => Some(None),
            Action::SetList(_) => {
                self.problem(field, "one address, not a list".into(), None);
                None
            }
            Action::Set(s) => match email::normalize(s) {
                Ok(e) => Some(Some(e)),
                Err(e) => {
                    self.problem(
                        field,
                        e.reason.to_string(),
                        Some("write it as name@domain".into()),
                    );
                    None
                }
            },
        }
    }
}

/// Validates every row, on every core for large files. One result per row, in order.
pub fn rows(raw: &[RawRow], rules: &Rules) -> Vec<Result<Box<ValidRow>, Vec<Problem>>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if raw.len() < 5_000 || threads < 2 {
        return raw.iter().map(|r| row(r, rules).map(Box::new)).collect();
    }
    // The calling thread takes the last chunk: one malloc arena fewer holding results.
    let chunk = raw.len().div_ceil(threads);
    let mut parts: Vec<&[RawRow]> = raw.chunks(chunk).collect();
    let last = parts.pop().expect("at least one chunk");
    std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|r| row(r, rules).map(Box::new))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mine: Vec<_> = last.iter().map(|r| row(r, rules).map(Box::new)).collect();
        let mut all: Vec<_> = handles
            .into_iter()
            .flat_map(|h| h.join().expect("validation threads don't panic"))
            .collect();
        all.extend(mine);
        all
    })
}

/// What the duplicate check decided for a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Duplicate {
    /// The first row for its user.
    First,
    /// Same user and same values as the row on `line`: nothing more to do.
    SameAs(u64),
}

/// Finds rows for the same user (case-insensitively): identical ones are marked, different
/// ones are problems.
pub fn duplicates(rows: &[(u64, &ValidRow)]) -> (Vec<Duplicate>, Vec<Problem>) {
    let mut first: HashMap<String, usize> = HashMap::with_capacity(rows.len());
    let mut marks = Vec::with_capacity(rows.len());
    let mut problems = Vec::new();
    // The first row of a conflict gets a problem too (once): with --skip-invalid both rows are
    // skipped, rather than one side of the conflict written.
    let mut flagged_first = std::collections::HashSet::new();
    for (i, (line, r)) in rows.iter().enumerate() {
        match first.get(&r.key.to_lowercase()) {
            None => {
                first.insert(r.key.to_lowercase(), i);
                marks.push(Duplicate::First);
            }
            Some(&j) => {
                let (first_line, other) = rows[j];
                if other.update == r.update && other.auth == r.auth {
                    marks.push(Duplicate::SameAs(first_line));
                } else {
                    marks.push(Duplicate::First);
                    if flagged_first.insert(j) {
                        problems.push(Problem {
                            line: first_line,
                            field: "userPrincipalName",
                            input: other.key.clone(),
                            message: format!(
                                "{} is also on line {line}, with different values",
                                other.key
                            ),
                            hint: Some("keep one row per user".into()),
                        });
                    }
                    problems.push(Problem {
                        line: *line,
                        field: "userPrincipalName",
                        input: r.key.clone(),
                        message: format!(
                            "{} is also on line {first_line}, with different values",
                            r.key
                        ),
                        hint: Some("keep one row per user".into()),
                    });
                }
            }
        }
    }
    (marks, problems)
}

/// Longest input quoted in a problem; longer cells are cut (the report has the row's line).
const MAX_QUOTED: usize = 200;

fn shorten(s: String) -> String {
    if s.chars().count() <= MAX_QUOTED {
        return s;
    }
    let mut cut: String = s.chars().take(MAX_QUOTED).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(line: u64, cells: &[(DataField, Cell)]) -> RawRow {
        let mut r = RawRow {
            line,
            ..Default::default()
        };
        for (f, c) in cells {
            r.set(*f, c.clone());
        }
        r
    }

    fn t(s: &str) -> Cell {
        Cell::Text(s.into())
    }

    #[test]
    fn valid_row_normalises_and_warns() {
        let r = raw(
            2,
            &[
                (DataField::UserPrincipalName, t("kim@contoso.com")),
                (DataField::MobilePhone, t("+1 (201) 555-0123 x9")),
                (
                    DataField::AlternateEmailAddresses,
                    t("a@x.com; A@X.com ;b@x.com"),
                ),
                (DataField::OfficePhone, Cell::Empty),
                (DataField::AuthenticationEmail, Cell::Null),
            ],
        );
        let v = row(&r, &Rules::default()).unwrap();
        assert_eq!(v.key, "kim@contoso.com");
        assert_eq!(v.update.mobile_phone, Some(Some("+1 2015550123".into())));
        assert_eq!(v.update.office_phone, None, "empty leaves alone");
        assert_eq!(
            v.update.alternate_emails,
            Some(EmailEdit::Replace(vec!["a@x.com".into(), "b@x.com".into()]))
        );
        assert_eq!(v.auth.email, Some(None), "null clears");
        assert_eq!(v.warnings.len(), 2);
        let v = row(
            &r,
            &Rules {
                clear_empty: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(v.update.office_phone, Some(None), "--clear-empty clears");
    }

    #[test]
    fn every_problem_of_a_row_is_reported() {
        let r = raw(
            7,
            &[
                (DataField::UserPrincipalName, Cell::Empty),
                (DataField::MobilePhone, t("555-0100")),
                (DataField::AuthenticationEmail, t("nope")),
            ],
        );
        let p = row(&r, &Rules::default()).unwrap_err();
        let fields: Vec<&str> = p.iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            ["userPrincipalName", "mobilePhone", "authenticationEmail"]
        );
        assert!(p.iter().all(|p| p.line == 7));
        assert_eq!(p[1].input, "555-0100");
        assert!(p[1].message.contains("no country code"));
    }

    #[test]
    fn duplicates_must_be_identical() {
        let a = row(
            &raw(
                2,
                &[
                    (DataField::UserPrincipalName, t("kim@contoso.com")),
                    (DataField::MobilePhone, t("+1 2015550123")),
                ],
            ),
            &Rules::default(),
        )
        .unwrap();
        let b = row(
            &raw(
                3,
                &[
                    (DataField::UserPrincipalName, t("KIM@contoso.com")),
                    (DataField::MobilePhone, t("+1 201 555 0123")),
                ],
            ),
            &Rules::default(),
        )
        .unwrap();
        let c = row(
            &raw(
                4,
                &[
                    (DataField::UserPrincipalName, t("kim@contoso.com")),
                    (DataField::MobilePhone, t("+1 2015550124")),
                ],
            ),
            &Rules::default(),
        )
        .unwrap();
        let (marks, problems) = duplicates(&[(2, &a), (3, &b), (4, &c)]);
        assert_eq!(
            marks,
            [Duplicate::First, Duplicate::SameAs(2), Duplicate::First]
        );
        // Both sides of the conflict have a problem (so --skip-invalid skips both).
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[0].line, 2);
        assert!(problems[0].message.contains("also on line 4"));
        assert_eq!(problems[1].line, 4);
        assert!(problems[1].message.contains("also on line 2"));
    }
}
