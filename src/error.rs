//! The one error type the commands return, and the one place that renders it.
//!
//! Rendering: `error: …` then `hint: …` lines on stderr; in JSON output modes a last line
//! `{"error":{"code":…,"message":…,"hint":…}}` follows so scripts can parse it.

use std::io::Write;

use serde::Serialize;

use crate::auth::AuthError;
use crate::directory::{DirectoryError, ServiceKind};
use crate::email::EmailError;
use crate::exit::Exit;
use crate::phone::PhoneError;
use crate::plan::PlanError;

/// The code of the error that stands for "the reader of stdout went away": not an error.
pub const BROKEN_PIPE: &str = "broken_pipe";

/// An error as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    pub exit: Exit,
    /// A stable machine-readable code, e.g. `invalid_phone`.
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
    /// The remote service's own error code, status and request id, when there was one.
    pub service: Option<Box<ServiceDetails>>,
}

/// What a Graph or login-endpoint error adds for scripts and support.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl CliError {
    pub fn new(exit: Exit, code: &'static str, message: impl Into<String>) -> Self {
        CliError {
            exit,
            code,
            message: message.into(),
            hint: None,
            service: None,
        }
    }

    /// Invalid input or usage (exit 2).
    pub fn usage(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Exit::Usage, code, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// A rejected phone number in the named field.
    pub fn phone(field: &str, e: PhoneError) -> Self {
        let hint = e.hint();
        Self::usage("invalid_phone", format!("invalid {field} {e}")).with_hint(hint)
    }

    /// A rejected email address in the named field.
    pub fn email(field: &str, e: EmailError) -> Self {
        Self::usage("invalid_email", format!("invalid {field} {e}"))
            .with_hint("write it as name@domain, e.g. kim@fabrikam.com")
    }

    /// Writes the error to `w` (stderr); `json` adds the machine-readable line.
    pub fn render(&self, w: &mut dyn Write, json: bool) {
        self.render_styled(w, json, false)
    }

    /// As [`CliError::render`], with `error:` in bold red when `color` (a terminal, and
    /// `NO_COLOR` unset).
    pub fn render_styled(&self, w: &mut dyn Write, json: bool, color: bool) {
        let label = if color {
            "\x1b[1;31merror:\x1b[0m"
        } else {
            "error:"
        };
        let _ = writeln!(w, "{label} {}", self.message);
        if let Some(hint) = &self.hint {
            let _ = writeln!(w, "hint: {hint}");
        }
        if json {
            #[derive(Serialize)]
            struct Body<'a> {
                code: &'a str,
                message: &'a str,
                #[serde(skip_serializing_if = "Option::is_none")]
                hint: Option<&'a str>,
                #[serde(flatten, skip_serializing_if = "Option::is_none")]
                service: Option<&'a ServiceDetails>,
            }
            #[derive(Serialize)]
            struct Envelope<'a> {
                error: Body<'a>,
            }
            let env = Envelope {
                error: Body {
                    code: self.code,
                    message: &self.message,
                    hint: self.hint.as_deref(),
                    service: self.service.as_deref(),
                },
            };
            let _ = writeln!(w, "{}", serde_json::to_string(&env).expect("serialisable"));
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return CliError::new(Exit::Success, BROKEN_PIPE, "broken pipe");
        }
        CliError::new(Exit::Failed, "io", format!("can't write output: {e}"))
    }
}

impl From<PlanError> for CliError {
    fn from(e: PlanError) -> Self {
        let hint = e.hint();
        let code = match e {
            PlanError::SyncedUser { .. } => "synced_user",
            _ => "auth_method_rule",
        };
        CliError::new(Exit::Failed, code, e.to_string()).with_hint(hint)
    }
}

impl From<AuthError> for CliError {
    fn from(e: AuthError) -> Self {
        DirectoryError::from(e).into()
    }
}

impl From<DirectoryError> for CliError {
    fn from(e: DirectoryError) -> Self {
        match e {
            DirectoryError::NotFound(u) => CliError::new(
                Exit::NotFound,
                "user_not_found",
                format!("user {u} not found"),
            )
            .with_hint(
                "check the user principal name or object id (ssprctl get-user --all lists users)",
            ),
            DirectoryError::AlreadyExists(u) => CliError::usage(
                "user_exists",
                format!("a user named {u} already exists"),
            )
            .with_hint(
                "pick another user principal name, or change the existing user with set-user",
            ),
            DirectoryError::Refused(p) => p.into(),
            DirectoryError::Unsupported(m) => CliError::usage("unsupported", m),
            DirectoryError::NotAttempted => CliError::new(
                Exit::Interrupted,
                "interrupted",
                "not attempted: the run was interrupted",
            ),
            e @ DirectoryError::TokenExpired { .. } => CliError::new(
                Exit::Auth,
                "token_expired",
                e.to_string(),
            )
            .with_hint(
                "get a new token (e.g. `az account get-access-token --resource https://graph.microsoft.com`) \
                 and run again; rows not attempted are in the report. A client secret, certificate or \
                 `ssprctl login` is renewed automatically during long runs",
            ),
            DirectoryError::Unjoined {
                code,
                message,
                hint,
            } => CliError::new(Exit::Failed, code, message).with_hint(hint),
            DirectoryError::Storage { message, hint } => {
                CliError::new(Exit::Failed, "storage", message).with_hint(hint)
            }
            DirectoryError::Service(s) => {
                let (exit, code) = match s.kind {
                    ServiceKind::Usage => (Exit::Usage, "service_rejected"),
                    ServiceKind::Failed => (Exit::Failed, "service_error"),
                    ServiceKind::Auth => (Exit::Auth, "auth"),
                    ServiceKind::Unavailable => (Exit::Unavailable, "service_unavailable"),
                };
                CliError {
                    exit,
                    code,
                    message: s.message,
                    hint: s.hint,
                    service: Some(Box::new(ServiceDetails {
                        status: s.status,
                        service_code: s.code,
                        request_id: s.request_id,
                    })),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_text_and_json() {
        let e = CliError::usage("bad", "it broke").with_hint("do this");
        let mut out = Vec::new();
        e.render(&mut out, true);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "error: it broke");
        assert_eq!(lines[1], "hint: do this");
        let v: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
        assert_eq!(v["error"]["code"], "bad");
        assert_eq!(v["error"]["message"], "it broke");
    }

    #[test]
    fn not_found_exits_3() {
        let e: CliError = DirectoryError::NotFound("x".into()).into();
        assert_eq!(e.exit, Exit::NotFound);
    }
}
