//! `Get-MsolUser` / `Get-AzureADUser` pipelines: which users, which properties (by the cmdlet's
//! names, shown so), `Where-Object`, `-First`/`-Top`, and where the result goes (`Format-Table`,
//! `Format-List`, `Export-Csv`, `ConvertTo-Json`). The users are read by the native command;
//! `commands::ps` does the rest.

use super::parse::{Arg, Command, Value};
use super::translate::{select_names, text, unsupported_stage};
use super::{PsError, Span};

/// A property as the cmdlet shows it, and the native field behind it.
pub type Property = (&'static str, &'static str);

/// MSOnline's user properties ssprctl reads.
pub const MSOL: &[Property] = &[
    ("UserPrincipalName", "userPrincipalName"),
    ("DisplayName", "displayName"),
    ("AlternateEmailAddresses", "alternateEmailAddresses"),
    ("MobilePhone", "mobilePhone"),
    ("PhoneNumber", "officePhone"),
    ("ObjectId", "id"),
];

/// AzureAD's.
pub const AZUREAD: &[Property] = &[
    ("ObjectId", "id"),
    ("DisplayName", "displayName"),
    ("UserPrincipalName", "userPrincipalName"),
    ("OtherMails", "alternateEmailAddresses"),
    ("Mobile", "mobilePhone"),
    ("TelephoneNumber", "officePhone"),
];

/// `StrongAuthenticationUserDetails`' (the authentication methods).
pub const STRONG_AUTH: &[Property] = &[
    ("PhoneNumber", "authenticationPhone"),
    ("AlternativePhoneNumber", "alternateAuthenticationPhone"),
    ("Email", "authenticationEmail"),
];

/// Where the users go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// As `-o` says (a table at a terminal).
    Default,
    /// `Format-Table` / `Format-List`.
    Table,
    /// `ConvertTo-Json`.
    Json,
    /// `Export-Csv -Path P`.
    Csv(String),
}

/// `Where-Object` comparisons (case-insensitive, as PowerShell's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Like,
    NotLike,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Eq => "-eq",
            Op::Ne => "-ne",
            Op::Like => "-like",
            Op::NotLike => "-notlike",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub property: Property,
    pub op: Op,
    pub value: String,
}

impl Filter {
    /// Whether a user's value (as text; a list's items one by one) passes.
    pub fn passes(&self, values: &[String]) -> bool {
        let hit = |v: &String| match self.op {
            Op::Eq | Op::Ne => v.eq_ignore_ascii_case(&self.value),
            Op::Like | Op::NotLike => like(&v.to_lowercase(), &self.value.to_lowercase()),
        };
        let any = if values.is_empty() {
            hit(&String::new())
        } else {
            values.iter().any(hit)
        };
        match self.op {
            Op::Eq | Op::Like => any,
            Op::Ne | Op::NotLike => !any,
        }
    }
}

/// PowerShell's `-like`: `*` any run, `?` one character.
fn like(s: &str, pattern: &str) -> bool {
    let (s, p): (Vec<char>, Vec<char>) = (s.chars().collect(), pattern.chars().collect());
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while i < s.len() {
        if j < p.len() && (p[j] == '?' || p[j] == s[i]) {
            i += 1;
            j += 1;
        } else if j < p.len() && p[j] == '*' {
            star = Some(j);
            mark = i;
            j += 1;
        } else if let Some(st) = star {
            j = st + 1;
            mark += 1;
            i = mark;
        } else {
            return false;
        }
    }
    p[j..].iter().all(|c| *c == '*')
}

/// A `Get-*` pipeline, translated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// One user, or all.
    pub user: Option<String>,
    /// The authentication methods (`select -Expand StrongAuthenticationUserDetails`).
    pub auth: bool,
    /// The properties shown, in order.
    pub properties: Vec<Property>,
    pub filter: Option<Filter>,
    /// `-First N`, `-Top N`, `-MaxResults N`.
    pub first: Option<usize>,
    pub output: Output,
}

impl Query {
    /// As native commands (`--translate`): the read with the cmdlet's property names (which
    /// `--select` takes too), its format, and what the native command has no flag for as a
    /// comment.
    pub fn translation(&self) -> String {
        let mut argv = self.native();
        // get-user's --select takes the cmdlets' names; get-auth-details its own.
        if !self.auth && self.filter.is_none() {
            let shown: Vec<&str> = self.properties.iter().map(|p| p.0).collect();
            if let Some(last) = argv.last_mut() {
                *last = shown.join(",");
            }
        }
        let mut notes = Vec::new();
        if let Some(f) = &self.filter {
            notes.push(format!(
                "keep the users whose {} {} '{}'",
                f.property.0,
                f.op.name(),
                f.value
            ));
        }
        if let Some(n) = self.first {
            notes.push(format!("keep the first {n}"));
        }
        let mut line = super::translate::shell_line(&argv);
        match &self.output {
            Output::Default => {}
            Output::Table => line.push_str(" -o table"),
            Output::Json => line.push_str(" -o json"),
            Output::Csv(p) => {
                let quoted = super::translate::shell_line(std::slice::from_ref(p));
                line.push_str(&format!(
                    " -o csv > {}",
                    quoted.trim_start_matches("ssprctl ")
                ));
            }
        }
        if notes.is_empty() {
            line
        } else {
            format!("{line}  # then {}", notes.join(", "))
        }
    }

    /// The native command that reads the users (JSON, every field the query needs).
    pub fn native(&self) -> Vec<String> {
        let mut argv = vec![
            if self.auth {
                "get-auth-details"
            } else {
                "get-user"
            }
            .to_string(),
        ];
        argv.push(self.user.clone().unwrap_or_else(|| "--all".into()));
        let mut fields: Vec<&str> = self.properties.iter().map(|p| p.1).collect();
        if let Some(f) = &self.filter
            && !fields.contains(&f.property.1)
        {
            fields.push(f.property.1);
        }
        argv.extend(["--select".to_string(), fields.join(",")]);
        argv
    }
}

fn property(table: &[Property], name: &str, at: Span) -> Result<Property, PsError> {
    table
        .iter()
        .find(|p| p.0.eq_ignore_ascii_case(name))
        .copied()
        .ok_or_else(|| {
            PsError::new(at, format!("{name} is not a property ssprctl reads")).with_hint(format!(
                "here: {}",
                table.iter().map(|p| p.0).collect::<Vec<_>>().join(", ")
            ))
        })
}

/// `Where-Object { $_.Prop -op 'v' }` or `Where-Object Prop -op v`.
fn filter(table: &[Property], stage: &Command) -> Result<Filter, PsError> {
    // `{ $_.Prop -op value }` reads as `Prop -op value`.
    let block;
    let args: Vec<&Arg> = match stage.args.as_slice() {
        [
            Arg::Value {
                value: Value::Block(b),
                span,
            },
        ] => {
            let (var, rest) = match b.as_slice() {
                [super::parse::Statement::Pipeline(cmds)] if cmds.len() == 1 => {
                    let c = &cmds[0];
                    let prop = c
                        .name
                        .strip_prefix("$_.")
                        .or_else(|| c.name.strip_prefix("$PSItem."))
                        .filter(|p| !p.contains('.'));
                    (prop.map(str::to_string), &c.args)
                }
                _ => (None, &stage.args),
            };
            let Some(prop) = var else {
                return Err(PsError::new(
                    *span,
                    "Where-Object { … } takes one comparison here: { $_.Prop -eq 'value' }",
                ));
            };
            block = std::iter::once(Arg::Value {
                value: Value::Text(prop),
                span: *span,
            })
            .chain(rest.iter().cloned())
            .collect::<Vec<_>>();
            block.iter().collect()
        }
        a => a.iter().collect(),
    };
    let (prop, op, value) = match args.as_slice() {
        [
            Arg::Value { value: p, span: ps },
            Arg::Param {
                name, value: None, ..
            },
            Arg::Value { value: v, span: vs },
        ] => (text(p, *ps)?, name.to_ascii_lowercase(), text(v, *vs)?),
        _ => {
            return Err(PsError::new(
                stage.span,
                "Where-Object takes Prop -eq|-ne|-like|-notlike value here",
            ));
        }
    };
    let op = match op.as_str() {
        "eq" => Op::Eq,
        "ne" => Op::Ne,
        "like" => Op::Like,
        "notlike" => Op::NotLike,
        other => {
            return Err(PsError::new(
                stage.span,
                format!("Where-Object -{other} is not supported"),
            )
            .with_hint("supported: -eq, -ne, -like, -notlike"));
        }
    };
    Ok(Filter {
        property: property(table, &prop, stage.span)?,
        op,
        value,
    })
}

/// The pipeline after `Get-MsolUser` / `Get-AzureADUser` (their own parameters are bound by
/// the caller).
pub fn build(table: &'static [Property], cmds: &[Command]) -> Result<Query, PsError> {
    let mut q = Query {
        user: None,
        auth: false,
        properties: Vec::new(),
        filter: None,
        first: None,
        output: Output::Default,
    };
    let mut table = table;
    for stage in &cmds[1..] {
        let n = stage.name.to_ascii_lowercase();
        match n.as_str() {
            "select" | "select-object" => {
                let (names, expand, first) = select_parts(stage)?;
                if let Some(e) = expand {
                    if !e.eq_ignore_ascii_case("StrongAuthenticationUserDetails") {
                        return Err(PsError::new(
                            stage.span,
                            format!("-ExpandProperty {e} is not supported"),
                        )
                        .with_hint("supported: -ExpandProperty StrongAuthenticationUserDetails"));
                    }
                    q.auth = true;
                    table = STRONG_AUTH;
                    q.properties = STRONG_AUTH.to_vec();
                }
                if !names.is_empty() {
                    q.properties = names
                        .iter()
                        .map(|n| property(table, n, stage.span))
                        .collect::<Result<_, _>>()?;
                }
                if first.is_some() {
                    q.first = first;
                }
            }
            "where-object" | "where" | "?" => q.filter = Some(filter(table, stage)?),
            "format-table" | "ft" | "format-list" | "fl" => q.output = Output::Table,
            "convertto-json" => q.output = Output::Json,
            "export-csv" => q.output = Output::Csv(export_path(stage)?),
            _ => return Err(unsupported_stage(stage)),
        }
    }
    if q.properties.is_empty() {
        // The cmdlet's default view, as far as ssprctl reads it.
        q.properties = table.iter().take(3).copied().collect();
    }
    Ok(q)
}

/// `select`'s names, `-ExpandProperty`, and `-First N`.
type Selection = (Vec<String>, Option<String>, Option<usize>);

fn select_parts(stage: &Command) -> Result<Selection, PsError> {
    let mut first = None;
    let mut rest = stage.clone();
    let mut args = Vec::new();
    let mut it = stage.args.iter();
    while let Some(a) = it.next() {
        match a {
            Arg::Param { name, value, span }
                if "first".starts_with(&name.to_ascii_lowercase()) && name.len() > 1 =>
            {
                let v = match value {
                    Some(v) => v.clone(),
                    None => match it.next() {
                        Some(Arg::Value { value, .. }) => value.clone(),
                        _ => return Err(PsError::new(*span, "-First needs a number")),
                    },
                };
                let v = text(&v, *span)?;
                first =
                    Some(v.parse().map_err(|_| {
                        PsError::new(*span, format!("-First takes a number, not {v}"))
                    })?);
            }
            other => args.push(other.clone()),
        }
    }
    rest.args = args;
    let (names, expand) = select_names(&rest)?;
    Ok((names, expand, first))
}

/// `Export-Csv -Path P` (or `Export-Csv P`), with `-NoTypeInformation` (the default in
/// PowerShell 6 and later).
fn export_path(stage: &Command) -> Result<String, PsError> {
    let mut path = None;
    let mut it = stage.args.iter();
    while let Some(a) = it.next() {
        match a {
            Arg::Value { value, span } if path.is_none() => path = Some(text(value, *span)?),
            Arg::Param { name, span, .. }
                if "notypeinformation".starts_with(&name.to_ascii_lowercase()) =>
            {
                let _ = span;
            }
            Arg::Param { name, value, span } if "path".starts_with(&name.to_ascii_lowercase()) => {
                path = Some(match value {
                    Some(v) => text(v, *span)?,
                    None => match it.next() {
                        Some(Arg::Value { value, span }) => text(value, *span)?,
                        _ => return Err(PsError::new(*span, "-Path needs a file")),
                    },
                });
            }
            Arg::Param { name, span, .. } => {
                return Err(
                    PsError::new(*span, format!("Export-Csv -{name} is not supported"))
                        .with_hint("supported: -Path and -NoTypeInformation"),
                );
            }
            Arg::Value { span, .. } => {
                return Err(PsError::new(*span, "Export-Csv takes one file"));
            }
        }
    }
    path.ok_or_else(|| PsError::new(stage.span, "Export-Csv needs the file: -Path FILE"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_is_powershells_wildcard_match() {
        assert!(like("kim@contoso.com", "*@contoso.com"));
        assert!(like("kim", "k?m"));
        assert!(!like("kim", "k?"));
        assert!(like("", "*"));
        let f = Filter {
            property: ("MobilePhone", "mobilePhone"),
            op: Op::NotLike,
            value: "+1 *".into(),
        };
        assert!(f.passes(&["+44 7400123456".into()]));
        assert!(!f.passes(&["+1 2065550100".into()]));
    }
}
