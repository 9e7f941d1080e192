//! Statements → native ssprctl commands. Cmdlet and parameter names are case-insensitive and a
//! parameter may be shortened to an unambiguous prefix, as PowerShell allows. A parameter the
//! cmdlet had but ssprctl does not set (`Set-MsolUser -City`) is refused by name, as is anything
//! else outside the subset, with the native command that does the job when there is one.

use std::collections::HashMap;

use super::lex::Part;
use super::parse::{Arg, Command, Source, Statement, Value};
use super::{PsError, Span};

/// What one statement does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run the native command with these arguments (after `ssprctl`).
    Run(Vec<String>),
    /// `Connect-*`: check that the directory can be reached with the configured credential.
    Connect,
    /// Nothing to run; say this.
    Note(String),
    /// `Get-MsolUser` / `Get-AzureADUser` and what the pipeline does with the users.
    Query(super::query::Query),
    /// A bulk idiom (`Import-Csv P | ForEach-Object { Set-MsolUser … }`, `foreach ($u in …)`):
    /// one batched import of the CSV's rows, each native column taken from `columns`.
    Import(Bulk),
}

/// A bulk idiom compiled: the CSV read and how each native import column is filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bulk {
    pub path: String,
    pub delimiter: u8,
    /// (native import column, where its value comes from), the user's column first.
    pub columns: Vec<(&'static str, Cell)>,
}

/// Where a bulk column's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// The row's value of this CSV column (`$_.UPN`, `$u.Mobile`).
    Column(String),
    /// The same text for every row.
    Fixed(String),
}

/// One statement of the script, translated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub at: Span,
    /// The cmdlet (the pipeline's first), as written.
    pub cmdlet: String,
    pub action: Action,
}

/// How a parameter takes its value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Switch,
    Value,
}

/// A cmdlet's parameters: what ssprctl maps (`name`, kind, native flag; `None` for the user
/// argument) and what it had but ssprctl does not set.
struct Cmdlet {
    name: &'static str,
    params: &'static [(&'static str, Kind, Option<&'static str>)],
    unsupported: &'static [&'static str],
}

const SET_MSOL_USER: Cmdlet = Cmdlet {
    name: "Set-MsolUser",
    params: &[
        ("UserPrincipalName", Kind::Value, None),
        ("ObjectId", Kind::Value, None),
        (
            "AlternateEmailAddresses",
            Kind::Value,
            Some("--alternate-email"),
        ),
        ("MobilePhone", Kind::Value, Some("--mobile-phone")),
        ("PhoneNumber", Kind::Value, Some("--office-phone")),
    ],
    unsupported: &[
        "AlternateMobilePhones",
        "BlockCredential",
        "City",
        "Country",
        "Department",
        "DisplayName",
        "Fax",
        "FirstName",
        "ImmutableId",
        "LastName",
        "LastPasswordChangeTimestamp",
        "Office",
        "PasswordNeverExpires",
        "PostalCode",
        "PreferredDataLocation",
        "PreferredLanguage",
        "SoftDeletionTimestamp",
        "State",
        "StreetAddress",
        "StrongAuthenticationMethods",
        "StrongAuthenticationRequirements",
        "StrongPasswordRequired",
        "TenantId",
        "Title",
        "UsageLocation",
        "UserType",
    ],
};

const SET_AZUREAD_USER: Cmdlet = Cmdlet {
    name: "Set-AzureADUser",
    params: &[
        ("ObjectId", Kind::Value, None),
        ("OtherMails", Kind::Value, Some("--alternate-email")),
        ("Mobile", Kind::Value, Some("--mobile-phone")),
        ("TelephoneNumber", Kind::Value, Some("--office-phone")),
    ],
    unsupported: &[
        "AccountEnabled",
        "AgeGroup",
        "City",
        "CompanyName",
        "ConsentProvidedForMinor",
        "Country",
        "CreationType",
        "Department",
        "DisplayName",
        "ExtensionProperty",
        "FacsimileTelephoneNumber",
        "GivenName",
        "ImmutableId",
        "IsCompromised",
        "JobTitle",
        "MailNickName",
        "PasswordPolicies",
        "PasswordProfile",
        "PhysicalDeliveryOfficeName",
        "PostalCode",
        "PreferredLanguage",
        "ShowInAddressList",
        "SignInNames",
        "State",
        "StreetAddress",
        "Surname",
        "UsageLocation",
        "UserPrincipalName",
        "UserState",
        "UserStateChangedOn",
        "UserType",
    ],
};

const GET_MSOL_USER: Cmdlet = Cmdlet {
    name: "Get-MsolUser",
    params: &[
        ("UserPrincipalName", Kind::Value, None),
        ("ObjectId", Kind::Value, None),
        ("All", Kind::Switch, Some("--all")),
        ("MaxResults", Kind::Value, Some("--first")),
    ],
    unsupported: &[
        "City",
        "Country",
        "Department",
        "DomainName",
        "EnabledFilter",
        "HasErrorsOnly",
        "LicenseReconciliationNeededOnly",
        "ReturnDeletedUsers",
        "SearchString",
        "State",
        "Synchronized",
        "TenantId",
        "Title",
        "UnlicensedUsersOnly",
        "UsageLocation",
    ],
};

const GET_AZUREAD_USER: Cmdlet = Cmdlet {
    name: "Get-AzureADUser",
    params: &[
        ("ObjectId", Kind::Value, None),
        ("All", Kind::Value, Some("--all")),
        ("Top", Kind::Value, Some("--first")),
    ],
    unsupported: &["Filter", "SearchString"],
};

const MODULE_CMDLETS: &[&str] = &["Get-Module", "Install-Module", "Import-Module"];
const CONNECT_CMDLETS: &[&str] = &["Connect-MsolService", "Connect-AzureAD"];

fn is(name: &str, cmdlet: &str) -> bool {
    name.eq_ignore_ascii_case(cmdlet)
}

/// A value as the text a native argument takes; lists as `,`-joined text.
pub(super) fn text(v: &Value, at: Span) -> Result<String, PsError> {
    match v {
        Value::Text(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Expand(parts) => parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => Ok(t.clone()),
                Part::Var { name, .. } => Err(PsError::new(
                    at,
                    format!("the variable ${name} is only supported in the bulk idioms (Import-Csv … | ForEach-Object {{ … }})"),
                )),
            })
            .collect(),
        Value::List(items) => Ok(items
            .iter()
            .map(|i| text(i, at))
            .collect::<Result<Vec<_>, _>>()?
            .join(",")),
        Value::Var { name, .. } => Err(PsError::new(
            at,
            format!("the variable ${name} is only supported in the bulk idioms (Import-Csv … | ForEach-Object {{ … }})"),
        )),
        Value::Block(_) => Err(PsError::new(at, "a script block { … } is not a value here")),
    }
}

/// `$true` / `$false`, or `None` for anything else.
fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Var { name, props } if props.is_empty() => {
            match name.to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A bound parameter: its canonical name, kind, native flag and value.
type Bound = (&'static str, Kind, Option<&'static str>, Option<Value>);

/// The cmdlet's arguments bound to its parameters.
fn bind(c: &Cmdlet, cmd: &Command) -> Result<Vec<Bound>, PsError> {
    let mut out = Vec::new();
    let mut args = cmd.args.iter().peekable();
    while let Some(arg) = args.next() {
        let (name, glued, at) = match arg {
            Arg::Param { name, value, span } => (name, value.clone(), *span),
            Arg::Value { value, span } => {
                return Err(PsError::new(
                    *span,
                    format!(
                        "{} takes no positional argument here ({}); name the parameter",
                        c.name,
                        text(value, *span).unwrap_or_else(|_| "a value".into())
                    ),
                ));
            }
        };
        let lower = name.to_ascii_lowercase();
        let matches: Vec<&str> = c
            .params
            .iter()
            .map(|p| p.0)
            .chain(c.unsupported.iter().copied())
            .filter(|p| p.to_ascii_lowercase().starts_with(&lower))
            .collect();
        let exact = matches
            .iter()
            .find(|p| p.eq_ignore_ascii_case(name))
            .copied();
        let full = match (exact, matches.as_slice()) {
            (Some(e), _) => e,
            (None, [one]) => one,
            (None, []) => {
                return Err(
                    PsError::new(at, format!("{} has no parameter -{name}", c.name)).with_hint(
                        format!(
                            "its parameters here: {}",
                            c.params
                                .iter()
                                .map(|p| format!("-{}", p.0))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ),
                );
            }
            (None, many) => {
                return Err(PsError::new(
                    at,
                    format!(
                        "-{name} is ambiguous for {}: it could be {}",
                        c.name,
                        many.iter()
                            .map(|p| format!("-{p}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        };
        let Some(&(canonical, kind, flag)) = c.params.iter().find(|p| p.0 == full) else {
            return Err(PsError::new(
                at,
                format!("{} -{full} is not something ssprctl sets: it sets the SSPR contact fields only", c.name),
            )
            .with_hint("set other attributes with Microsoft Graph (e.g. Update-MgUser in Microsoft Graph PowerShell)"));
        };
        let value = match (kind, glued) {
            (_, Some(v)) => Some(v),
            (Kind::Switch, None) => None,
            (Kind::Value, None) => match args.next() {
                Some(Arg::Value { value, .. }) => Some(value.clone()),
                _ => return Err(PsError::new(at, format!("-{canonical} needs a value"))),
            },
        };
        out.push((canonical, kind, flag, value));
    }
    Ok(out)
}

/// `Set-MsolUser` / `Set-AzureADUser` → `set-user USER --mobile-phone … …`.
fn set_user(c: &Cmdlet, cmd: &Command) -> Result<Vec<String>, PsError> {
    let mut user = None;
    let mut flags = Vec::new();
    for (_, _, flag, value) in bind(c, cmd)? {
        let value = value.expect("a value parameter");
        // `$null`, `""` or `@()` clears the field, as the cmdlets do.
        let clears = match &value {
            Value::Var { name, props } => props.is_empty() && name.eq_ignore_ascii_case("null"),
            Value::List(items) => items.is_empty(),
            v => text(v, cmd.span).is_ok_and(|t| t.is_empty()),
        };
        match flag {
            None => user = Some(text(&value, cmd.span)?),
            Some(f) if clears => {
                let field = match f {
                    "--alternate-email" => "alternate-email",
                    "--mobile-phone" => "mobile-phone",
                    _ => "office-phone",
                };
                flags.extend(["--clear".to_string(), field.to_string()]);
            }
            Some(f) => {
                flags.push(f.to_string());
                flags.push(text(&value, cmd.span)?);
            }
        }
    }
    let user = user.ok_or_else(|| {
        PsError::new(
            cmd.span,
            format!("{} needs the user: -{}", c.name, c.params[0].0),
        )
    })?;
    if flags.is_empty() {
        return Err(PsError::new(
            cmd.span,
            format!("{} changes nothing here: give a contact field", c.name),
        ));
    }
    let mut argv = vec!["set-user".to_string(), user];
    argv.extend(flags);
    Ok(argv)
}

/// The names `select` takes, as native `--select` fields (which accept the cmdlets' names).
pub(super) fn select_names(cmd: &Command) -> Result<(Vec<String>, Option<String>), PsError> {
    let mut names = Vec::new();
    let mut expand = None;
    let mut args = cmd.args.iter();
    while let Some(arg) = args.next() {
        match arg {
            Arg::Value { value, span } => {
                names.extend(text(value, *span)?.split(',').map(str::to_string))
            }
            Arg::Param { name, value, span } => {
                let lower = name.to_ascii_lowercase();
                let value = match value {
                    Some(v) => v.clone(),
                    None => match args.next() {
                        Some(Arg::Value { value, .. }) => value.clone(),
                        _ => return Err(PsError::new(*span, format!("-{name} needs a value"))),
                    },
                };
                if "property".starts_with(&lower) {
                    names.extend(text(&value, *span)?.split(',').map(str::to_string));
                } else if "expandproperty".starts_with(&lower) || lower == "expand" {
                    expand = Some(text(&value, *span)?);
                } else {
                    return Err(PsError::new(
                        *span,
                        format!("Select-Object -{name} is not supported"),
                    )
                    .with_hint(
                        "supported: -Property and -ExpandProperty StrongAuthenticationUserDetails",
                    ));
                }
            }
        }
    }
    Ok((names, expand))
}

/// `Get-MsolUser` / `Get-AzureADUser` with their parameters, and the pipeline after them.
fn get_users(cmds: &[Command]) -> Result<super::query::Query, PsError> {
    let first = &cmds[0];
    let (c, props) = if is(&first.name, "Get-MsolUser") {
        (&GET_MSOL_USER, super::query::MSOL)
    } else {
        (&GET_AZUREAD_USER, super::query::AZUREAD)
    };
    let mut q = super::query::build(props, cmds)?;
    for (canonical, _, flag, value) in bind(c, first)? {
        match (flag, &value) {
            (None, Some(v)) => q.user = Some(text(v, first.span)?),
            (Some("--first"), Some(v)) => {
                let v = text(v, first.span)?;
                q.first = Some(v.parse().map_err(|_| {
                    PsError::new(first.span, format!("-{canonical} takes a number, not {v}"))
                })?);
            }
            (_, Some(v)) if boolean(v).is_none() => {
                return Err(PsError::new(
                    first.span,
                    format!("-{canonical} takes $true or $false"),
                ));
            }
            _ => {}
        }
    }
    Ok(q)
}

pub(super) fn unsupported_stage(stage: &Command) -> PsError {
    let n = stage.name.to_ascii_lowercase();
    let hint = match n.as_str() {
        "where-object" | "where" | "?" => {
            "filter natively: ssprctl audit --not-ready, or get-user … -o jsonl | jq"
        }
        _ => {
            "supported after Get-MsolUser / Get-AzureADUser: Where-Object, select (-Property, -ExpandProperty \
             StrongAuthenticationUserDetails, -First), Format-Table, Format-List, Export-Csv, ConvertTo-Json"
        }
    };
    PsError::new(
        stage.span,
        format!("{} is not supported in this pipeline", stage.name),
    )
    .with_hint(hint)
}

fn step(statement: &Statement) -> Result<Step, PsError> {
    let cmds = match statement {
        Statement::Pipeline(cmds) => cmds,
        Statement::Assign { span, .. } | Statement::Foreach { span, .. } => {
            return Err(PsError::new(
                *span,
                "only the bulk idioms assign or loop here",
            ));
        }
    };
    let first = &cmds[0];
    let n = first.name.as_str();
    let single = |action: Action| -> Result<Step, PsError> {
        if let Some(extra) = cmds.get(1) {
            return Err(unsupported_stage(extra));
        }
        Ok(Step {
            at: first.span,
            cmdlet: first.name.clone(),
            action,
        })
    };
    if CONNECT_CMDLETS.iter().any(|c| is(n, c)) {
        return single(Action::Connect);
    }
    if MODULE_CMDLETS.iter().any(|c| is(n, c)) {
        let module = first
            .args
            .iter()
            .find_map(|a| match a {
                Arg::Value { value, span } => text(value, *span).ok(),
                _ => None,
            })
            .unwrap_or_else(|| "the module".into());
        return single(Action::Note(format!(
            "{n} {module}: nothing to install; ssprctl itself does what {module} did"
        )));
    }
    if is(n, "Set-MsolUser") {
        return single(Action::Run(set_user(&SET_MSOL_USER, first)?));
    }
    if is(n, "Set-AzureADUser") {
        return single(Action::Run(set_user(&SET_AZUREAD_USER, first)?));
    }
    if is(n, "Get-MsolUser") || is(n, "Get-AzureADUser") {
        return Ok(Step {
            at: first.span,
            cmdlet: first.name.clone(),
            action: Action::Query(get_users(cmds)?),
        });
    }
    let hint = match n.to_ascii_lowercase().as_str() {
        "import-csv" | "foreach-object" | "%" => {
            "for a file of users: ssprctl import FILE (--dry-run first)"
        }
        "invoke-expression" | "iex" => "nothing is evaluated from text here",
        "get-msoluserrole" | "get-azureaddirectoryrole" => {
            "ssprctl auth status shows what the credential may do"
        }
        _ => {
            "ssprctl ps runs Connect-MsolService, Connect-AzureAD, Get-/Set-MsolUser, Get-/Set-AzureADUser and the module cmdlets"
        }
    };
    Err(PsError::new(first.span, format!("{n} is not a cmdlet ssprctl runs")).with_hint(hint))
}

/// `Import-Csv P` (`-Path P`, `-Delimiter C`): the file it reads.
fn import_csv(cmds: &[Command], at: Span) -> Result<(String, u8), PsError> {
    let [cmd] = cmds else {
        return Err(PsError::new(
            at,
            "foreach loops over Import-Csv FILE here (one cmdlet)",
        ));
    };
    if !is(&cmd.name, "Import-Csv") {
        return Err(PsError::new(
            cmd.span,
            format!("foreach loops over Import-Csv FILE here, not {}", cmd.name),
        )
        .with_hint("for a file of users: ssprctl import FILE (--dry-run first)"));
    }
    let mut path = None;
    let mut delimiter = b',';
    let mut args = cmd.args.iter();
    while let Some(arg) = args.next() {
        match arg {
            Arg::Value { value, span } if path.is_none() => path = Some(text(value, *span)?),
            Arg::Param { name, value, span } => {
                let value = match value {
                    Some(v) => v.clone(),
                    None => match args.next() {
                        Some(Arg::Value { value, .. }) => value.clone(),
                        _ => return Err(PsError::new(*span, format!("-{name} needs a value"))),
                    },
                };
                let lower = name.to_ascii_lowercase();
                if "path".starts_with(&lower) || "literalpath".starts_with(&lower) {
                    path = Some(text(&value, *span)?);
                } else if "delimiter".starts_with(&lower) {
                    let d = text(&value, *span)?;
                    match d.as_bytes() {
                        [b] if b.is_ascii() => delimiter = *b,
                        _ => return Err(PsError::new(*span, "-Delimiter takes one character")),
                    }
                } else {
                    return Err(PsError::new(
                        *span,
                        format!("Import-Csv -{name} is not supported"),
                    )
                    .with_hint("supported: -Path and -Delimiter"));
                }
            }
            Arg::Value { span, .. } => {
                return Err(PsError::new(*span, "Import-Csv takes one file"));
            }
        }
    }
    let path =
        path.ok_or_else(|| PsError::new(cmd.span, "Import-Csv needs the file: -Path FILE"))?;
    Ok((path, delimiter))
}

/// The loop body of a bulk idiom, one `Set-MsolUser` / `Set-AzureADUser` whose values are the
/// row's columns (`$var.Column`) or fixed text: the import's columns.
fn bulk(
    path: String,
    delimiter: u8,
    var: &str,
    body: &[Statement],
    at: Span,
) -> Result<Bulk, PsError> {
    let cmd = match body {
        [Statement::Pipeline(cmds)] if cmds.len() == 1 => &cmds[0],
        _ => {
            return Err(PsError::new(
                at,
                "the loop body must be one Set-MsolUser or Set-AzureADUser",
            )
            .with_hint("for a file of users: ssprctl import FILE (--dry-run first)"));
        }
    };
    let cmdlet = if is(&cmd.name, "Set-MsolUser") {
        &SET_MSOL_USER
    } else if is(&cmd.name, "Set-AzureADUser") {
        &SET_AZUREAD_USER
    } else {
        return Err(
            PsError::new(cmd.span, format!("{} in a loop is not supported", cmd.name))
                .with_hint("the loop body must be one Set-MsolUser or Set-AzureADUser"),
        );
    };
    let mut columns = Vec::new();
    for (canonical, _, flag, value) in bind(cmdlet, cmd)? {
        let value = value.expect("a value parameter");
        let cell = match &value {
            Value::Var { name, props } if name.eq_ignore_ascii_case(var) && props.len() == 1 => {
                Cell::Column(props[0].clone())
            }
            Value::Var { name, .. } => {
                return Err(PsError::new(
                    cmd.span,
                    format!(
                        "-{canonical} ${name}: in the loop, values are ${var}.Column or fixed text"
                    ),
                ));
            }
            other => Cell::Fixed(text(other, cmd.span)?),
        };
        let column = match flag {
            None => "userPrincipalName",
            Some("--alternate-email") => "alternateEmailAddresses",
            Some("--mobile-phone") => "mobilePhone",
            Some(_) => "officePhone",
        };
        columns.push((column, cell));
    }
    columns.sort_by_key(|(c, _)| *c != "userPrincipalName");
    if columns
        .first()
        .is_none_or(|(c, _)| *c != "userPrincipalName")
    {
        return Err(PsError::new(
            cmd.span,
            format!("{} needs the user: -{}", cmdlet.name, cmdlet.params[0].0),
        ));
    }
    if columns.len() < 2 {
        return Err(PsError::new(
            cmd.span,
            format!("{} changes nothing here: give a contact field", cmdlet.name),
        ));
    }
    Ok(Bulk {
        path,
        delimiter,
        columns,
    })
}

/// Every statement's step, or the first error (nothing runs before all are translated).
/// `$rows = Import-Csv P` is remembered for a later `foreach ($u in $rows)`.
pub fn steps(statements: &[Statement]) -> Result<Vec<Step>, PsError> {
    let mut csv_vars: HashMap<String, (String, u8)> = HashMap::new();
    let mut out = Vec::new();
    for st in statements {
        match st {
            Statement::Assign {
                name,
                span,
                pipeline,
            } => {
                csv_vars.insert(name.to_ascii_lowercase(), import_csv(pipeline, *span)?);
            }
            Statement::Foreach {
                var,
                span,
                source,
                body,
            } => {
                let (path, delimiter) =
                    match source {
                        Source::Var(v) => csv_vars
                            .get(&v.to_ascii_lowercase())
                            .cloned()
                            .ok_or_else(|| {
                                PsError::new(
                                    *span,
                                    format!(
                                        "${v} is not an Import-Csv result assigned before the loop"
                                    ),
                                )
                            })?,
                        Source::Pipeline(p) => import_csv(p, *span)?,
                    };
                out.push(Step {
                    at: *span,
                    cmdlet: "foreach".into(),
                    action: Action::Import(bulk(path, delimiter, var, body, *span)?),
                });
            }
            Statement::Pipeline(cmds)
                if cmds.len() == 2
                    && is(&cmds[0].name, "Import-Csv")
                    && (is(&cmds[1].name, "ForEach-Object")
                        || cmds[1].name == "%"
                        || is(&cmds[1].name, "foreach")) =>
            {
                let (path, delimiter) = import_csv(&cmds[..1], cmds[0].span)?;
                let body = match cmds[1].args.as_slice() {
                    [
                        Arg::Value {
                            value: Value::Block(b),
                            ..
                        },
                    ] => b,
                    [
                        Arg::Param {
                            name,
                            value: Some(Value::Block(b)),
                            ..
                        },
                    ] if "process".starts_with(&name.to_ascii_lowercase()) => b,
                    _ => {
                        return Err(PsError::new(
                            cmds[1].span,
                            "ForEach-Object takes one { … } block here",
                        ));
                    }
                };
                out.push(Step {
                    at: cmds[0].span,
                    cmdlet: "Import-Csv".into(),
                    action: Action::Import(bulk(path, delimiter, "_", body, cmds[1].span)?),
                });
            }
            _ => out.push(step(st)?),
        }
    }
    Ok(out)
}

/// A native command line as a POSIX shell reads it (`--translate`).
pub fn shell_line(argv: &[String]) -> String {
    let quote = |a: &String| {
        if !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c))
        {
            a.clone()
        } else {
            format!("'{}'", a.replace('\'', "'\\''"))
        }
    };
    std::iter::once("ssprctl".to_string())
        .chain(argv.iter().map(quote))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ps::compile;

    fn native(line: &str) -> String {
        match &compile(line).unwrap()[0].action {
            Action::Run(argv) => shell_line(argv),
            Action::Query(q) => q.translation(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn the_guide_lines_become_native_commands() {
        let u = "user@domain.com";
        for (line, want) in [
            (format!("Set-MsolUser -UserPrincipalName {u} -AlternateEmailAddresses @(\"email@domain.com\")"),
             format!("ssprctl set-user {u} --alternate-email email@domain.com")),
            (format!("Set-MsolUser -UserPrincipalName {u} -MobilePhone \"+1 4251234567\""),
             format!("ssprctl set-user {u} --mobile-phone '+1 4251234567'")),
            (format!("Set-MsolUser -UserPrincipalName {u} -AlternateEmailAddresses @(\"email@domain.com\") -MobilePhone \"+1 4251234567\" -PhoneNumber \"+1 4252345678\""),
             format!("ssprctl set-user {u} --alternate-email email@domain.com --mobile-phone '+1 4251234567' --office-phone '+1 4252345678'")),
            (format!("Get-MsolUser -UserPrincipalName {u} | select AlternateEmailAddresses"),
             format!("ssprctl get-user {u} --select AlternateEmailAddresses")),
            ("Get-MsolUser | select DisplayName,UserPrincipalName,AlternateEmailAddresses,MobilePhone,PhoneNumber | Format-Table".into(),
             "ssprctl get-user --all --select DisplayName,UserPrincipalName,AlternateEmailAddresses,MobilePhone,PhoneNumber -o table".into()),
            (format!("Get-MsolUser -UserPrincipalName {u} | select -Expand StrongAuthenticationUserDetails | select PhoneNumber"),
             format!("ssprctl get-auth-details {u} --select authenticationPhone")),
            (format!("Set-AzureADUser -ObjectId {u} -OtherMails @(\"emails@domain.com\") -Mobile \"+1 4251234567\" -TelephoneNumber \"+1 4252345678\""),
             format!("ssprctl set-user {u} --alternate-email emails@domain.com --mobile-phone '+1 4251234567' --office-phone '+1 4252345678'")),
            (format!("Get-AzureADUser -ObjectID {u} | select TelephoneNumber"),
             format!("ssprctl get-user {u} --select TelephoneNumber")),
            ("Get-AzureADUser | select DisplayName,UserPrincipalName,otherMails,Mobile,TelephoneNumber | Format-Table".into(),
             "ssprctl get-user --all --select DisplayName,UserPrincipalName,OtherMails,Mobile,TelephoneNumber -o table".into()),
            // $null, "" or @() clears, as the cmdlets do.
            (format!("Set-AzureADUser -ObjectId {u} -Mobile $null -OtherMails @()"),
             format!("ssprctl set-user {u} --clear mobile-phone --clear alternate-email")),
            // PowerShell's rules: any case, unambiguous prefixes, -Param:value.
            (format!("set-msoluser -userprinc:{u} -Mobile '+1 4251234567'"),
             format!("ssprctl set-user {u} --mobile-phone '+1 4251234567'")),
        ] {
            assert_eq!(native(&line), want, "{line}");
        }
        assert_eq!(
            compile("Connect-MsolService").unwrap()[0].action,
            Action::Connect
        );
        assert!(
            matches!(&compile("Install-Module AzureADPreview").unwrap()[0].action, Action::Note(n)
            if n == "Install-Module AzureADPreview: nothing to install; ssprctl itself does what AzureADPreview did")
        );
    }

    #[test]
    fn the_bulk_idioms_compile_into_one_import() {
        let want = Action::Import(Bulk {
            path: "users.csv".into(),
            delimiter: b',',
            columns: vec![
                ("userPrincipalName", Cell::Column("UPN".into())),
                ("mobilePhone", Cell::Column("Mobile".into())),
                (
                    "alternateEmailAddresses",
                    Cell::Fixed("help@contoso.com".into()),
                ),
            ],
        });
        for script in [
            "Import-Csv users.csv | ForEach-Object { Set-MsolUser -UserPrincipalName $_.UPN -MobilePhone $_.Mobile -AlternateEmailAddresses help@contoso.com }",
            "Import-Csv -Path users.csv | % { Set-MsolUser -MobilePhone $_.Mobile -UserPrincipalName $_.UPN -AlternateEmailAddresses 'help@contoso.com' }",
            "foreach ($u in Import-Csv users.csv) {\n  Set-AzureADUser -ObjectId $u.UPN -Mobile $u.Mobile -OtherMails \"help@contoso.com\"\n}",
            "$users = Import-Csv users.csv\nforeach ($u in $users) { Set-MsolUser -UserPrincipalName $u.UPN -MobilePhone $u.Mobile -AlternateEmailAddresses help@contoso.com }",
        ] {
            let steps = compile(script).unwrap();
            assert_eq!(steps.len(), 1, "{script}");
            assert_eq!(steps[0].action, want, "{script}");
        }
        let e = compile(
            "foreach ($u in $nothing) { Set-MsolUser -UserPrincipalName $u.UPN -MobilePhone $u.M }",
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "$nothing is not an Import-Csv result assigned before the loop"
        );
        let e = compile("Import-Csv u.csv | ForEach-Object { Set-MsolUser -UserPrincipalName $x.UPN -MobilePhone 1 }").unwrap_err();
        assert_eq!(
            e.message,
            "-UserPrincipalName $x: in the loop, values are $_.Column or fixed text"
        );
    }

    #[test]
    fn what_ssprctl_does_not_set_is_refused_by_name() {
        let e =
            compile("Connect-MsolService\nSet-MsolUser -UserPrincipalName a@b.com -City Seattle")
                .unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2, column 41: Set-MsolUser -City is not something ssprctl sets: it sets the SSPR contact fields only"
        );
        let e = compile("Set-MsolUser -UserPrincipalName a@b.com -Mob 1 -Foo 2").unwrap_err();
        assert_eq!(e.message, "Set-MsolUser has no parameter -Foo");
        let e = compile("Set-AzureADUser -ObjectId a@b.com -M 1").unwrap_err();
        assert_eq!(
            e.message,
            "-M is ambiguous for Set-AzureADUser: it could be -Mobile, -MailNickName"
        );
        let e =
            compile("Import-Csv u.csv | ForEach-Object { Set-MsolUser -UserPrincipalName $_.UPN }")
                .unwrap_err();
        assert_eq!(
            e.message,
            "Set-MsolUser changes nothing here: give a contact field"
        );
        let e =
            compile("Import-Csv u.csv | ForEach-Object { Get-MsolUser -UserPrincipalName $_.UPN }")
                .unwrap_err();
        assert_eq!(e.message, "Get-MsolUser in a loop is not supported");
        let e = compile("Get-MsolUser | Sort-Object DisplayName").unwrap_err();
        assert_eq!(e.message, "Sort-Object is not supported in this pipeline");
    }
}
