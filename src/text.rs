//! Text from outside made safe to show: control characters escaped for a terminal, and
//! spreadsheet formulas neutralised for CSV/TSV cells. The bottom layer: every layer that shows
//! a server's or a file's text uses it (errors, logs, tables, reports).
//!
//! A cell that a spreadsheet would run as a formula — starting with `=`, `+`, `-`, `@`, tab or
//! CR — gets a leading `'` as OWASP recommends for CSV injection, except a phone in the
//! canonical `+CC number` form ssprctl writes. `import` removes exactly one such `'`
//! ([`unneutralise`]), so an export re-imports unchanged.

use std::borrow::Cow;

/// Escapes control characters (ESC, BEL, newlines …) so they print as text.
pub fn sanitize(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Characters that make a spreadsheet read a cell as a formula.
fn trigger(c: char) -> bool {
    matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r')
}

/// True for `+CC number` with an optional `xEXT`: what ssprctl's phone engine writes.
fn canonical_phone(s: &str) -> bool {
    let Some((cc, rest)) = s.strip_prefix('+').and_then(|r| r.split_once(' ')) else {
        return false;
    };
    let number = rest.split_once('x').map_or(rest, |(n, _)| n);
    let ext_ok = rest
        .split_once('x')
        .is_none_or(|(_, e)| !e.is_empty() && e.chars().all(|c| c.is_ascii_digit()));
    (1..=3).contains(&cc.len())
        && cc.chars().all(|c| c.is_ascii_digit())
        && !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit())
        && ext_ok
}

/// The cell as written to CSV/TSV: a formula trigger neutralised with a leading `'`.
pub fn neutralise(s: &str) -> Cow<'_, str> {
    let mut chars = s.chars();
    let needs = match (chars.next(), chars.next()) {
        (Some(c), _) if trigger(c) => !canonical_phone(s),
        (Some('\''), Some(c)) => trigger(c) || c == '\'',
        _ => false,
    };
    if needs {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// The inverse of [`neutralise`], for cells read from CSV: drops one leading `'` before a
/// formula trigger or another `'`.
pub fn unneutralise(s: &str) -> &str {
    match s.strip_prefix('\'') {
        Some(rest) if rest.starts_with(|c: char| trigger(c) || c == '\'') => rest,
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(sanitize("Kim\u{1b}[31m"), "Kim\\u{1b}[31m");
        assert_eq!(sanitize("plain"), "plain");
    }
}
