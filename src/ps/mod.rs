//! `ssprctl ps`: the MSOnline and AzureAD lines admins already have, read by PowerShell's own
//! rules (the subset those lines use) and turned into native ssprctl commands. Pure text to
//! text: `commands::ps` runs what this produces through the native commands' own paths.
//!
//! Layers: [`lex`] (tokens), [`parse`] (statements), [`translate`] (native commands). Nothing
//! runs before the whole script has parsed and translated.

pub mod lex;
pub mod parse;
pub mod query;
pub mod translate;

use std::fmt;

pub use translate::{Action, Step};

/// A place in the script (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub line: usize,
    pub col: usize,
}

/// Why a script can't run: what, where, and the native command that does the job when there
/// is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PsError {
    pub at: Span,
    pub message: String,
    pub hint: Option<String>,
}

impl PsError {
    pub fn new(at: Span, message: impl Into<String>) -> Self {
        PsError {
            at,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for PsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.at.line, self.at.col, self.message
        )
    }
}

/// The native steps of a whole script, or its first error.
pub fn compile(src: &str) -> Result<Vec<Step>, PsError> {
    let statements = parse::script(lex::tokens(src)?)?;
    translate::steps(&statements)
}
