//! Text from outside made safe to show: control characters escaped for a terminal, and
//! spreadsheet formulas neutralised for CSV/TSV cells. The bottom layer: every layer that shows
//! a server's or a file's text uses it (errors, logs, tables, reports).
//!
//! A cell that a spreadsheet would run as a formula — starting with `=`, `+`, `-`, `@`, tab or
//! CR — gets a leading `'` as OWASP recommends for CSV injection, except a phone in the
//! canonical `+CC number` form ssprctl writes. `import` removes exactly one such `'`
//! ([`unneutralise`]), so an export re-imports unchanged.

use std::borrow::Cow;

/// Escapes control characters (ESC, BEL, newlines …) and the bidirectional controls
/// (U+202A–U+202E, U+2066–U+2069, which reorder what follows them on screen: "Trojan Source")
/// so they print as text, e.g. `\u{202e}`.
pub fn sanitize(s: &str) -> String {
    if !s.chars().any(escaped) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if escaped(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Characters shown escaped.
fn escaped(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
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

/// One CSV record as RFC 4180 writes it, ended by `\n`: a field is quoted (its `"` doubled)
/// when it holds `,`, `"`, CR or LF — and also `;`, the separator of ssprctl's lists and of CSV
/// in spreadsheets set to European locales, so no part of a cell can become a cell of its own
/// there. A record of one empty field is `""` (not an empty line).
pub fn csv_record<S: AsRef<str>>(fields: impl IntoIterator<Item = S>) -> String {
    let fields: Vec<S> = fields.into_iter().collect();
    let mut line = String::new();
    for (i, f) in fields.iter().enumerate() {
        let f = f.as_ref();
        if i > 0 {
            line.push(',');
        }
        if f.contains([',', '"', '\r', '\n', ';']) || (fields.len() == 1 && f.is_empty()) {
            line.push('"');
            line.push_str(&f.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(f);
        }
    }
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(sanitize("Kim\u{1b}[31m"), "Kim\\u{1b}[31m");
        assert_eq!(sanitize("plain"), "plain");
    }

    #[test]
    fn csv_records_quote_separators_of_every_dialect() {
        assert_eq!(
            csv_record(["a", "b,c", "d;e", "say \"hi\"", "x\ny"]),
            "a,\"b,c\",\"d;e\",\"say \"\"hi\"\"\",\"x\ny\"\n"
        );
        assert_eq!(csv_record([""]), "\"\"\n");
        assert_eq!(csv_record(["", ""]), ",\n");
        // What the csv crate reads back is what was written.
        let line = csv_record(["Bob;=cmd|' /C calc'!A0", "+1 2065550100"]);
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(line.as_bytes());
        let rec = r.records().next().unwrap().unwrap();
        assert_eq!(&rec[0], "Bob;=cmd|' /C calc'!A0");
        assert_eq!(&rec[1], "+1 2065550100");
    }

    #[test]
    fn bidirectional_controls_are_escaped() {
        assert_eq!(sanitize("admin\u{202E}gpj.exe"), "admin\\u{202e}gpj.exe");
        for c in [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{2066}', '\u{2067}', '\u{2068}',
            '\u{2069}',
        ] {
            let shown = sanitize(&format!("a{c}b"));
            assert_eq!(shown, format!("a\\u{{{:x}}}b", c as u32), "{c:?}");
        }
        // Letters of right-to-left scripts are text, not controls.
        assert_eq!(sanitize("שלום"), "שלום");
    }
}
