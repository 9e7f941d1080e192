//! CSV (RFC 4180, via the csv crate) and TSV output. Lists are joined with `;`; absent values
//! are empty. TSV escapes tab, newline, carriage return and backslash as `\t \n \r \\`.
//!
//! Both are safe to open in a spreadsheet: control characters from the directory are escaped
//! as in tables, and a cell that a spreadsheet would run as a formula — starting with `=`, `+`,
//! `-`, `@`, tab or CR — gets a leading `'` as OWASP recommends for CSV injection, except a
//! phone in the canonical `+CC number` form ssprctl writes (a number, never a formula: kept as
//! is so exports stay importable). A cell that already starts with `'` followed by one of those
//! characters or another `'` gets one more `'`. `import` removes exactly one such `'`
//! ([`unneutralise`]), so an export re-imports unchanged.

use std::io::{self, Write};

use crate::model::Value;
use crate::text::{csv_record, neutralise, sanitize};

/// A value as a safe CSV/TSV cell: control characters escaped, formulas neutralised — in each
/// element of a list too, since a spreadsheet that splits on `;` makes each one a cell.
pub(crate) fn cell(v: &Value) -> String {
    cell_with(v, |s| s.to_string())
}

/// As [`cell`], with `escape` applied to each piece of text first (TSV's escapes).
fn cell_with(v: &Value, escape: impl Fn(&str) -> String) -> String {
    let safe = |s: &str| neutralise(&sanitize(&escape(s))).into_owned();
    match v {
        Value::List(l) => l.iter().map(|e| safe(e)).collect::<Vec<_>>().join(";"),
        v => safe(&v.to_text()),
    }
}

pub fn csv(w: &mut dyn Write, fields: &[&str], rows: &[Vec<Value>]) -> io::Result<()> {
    w.write_all(csv_record(fields).as_bytes())?;
    for row in rows {
        w.write_all(csv_record(row.iter().map(cell)).as_bytes())?;
    }
    Ok(())
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out
}

pub fn tsv(w: &mut dyn Write, fields: &[&str], rows: &[Vec<Value>]) -> io::Result<()> {
    writeln!(w, "{}", fields.join("\t"))?;
    for row in rows {
        tsv_row(w, row)?;
    }
    Ok(())
}

/// One TSV line.
pub(crate) fn tsv_row(w: &mut dyn Write, row: &[Value]) -> io::Result<()> {
    let cells: Vec<String> = row.iter().map(|v| cell_with(v, escape)).collect();
    writeln!(w, "{}", cells.join("\t"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::unneutralise;

    #[test]
    fn csv_quotes_and_joins() {
        let mut out = Vec::new();
        let rows = vec![vec![
            Value::Text("a,b".into()),
            Value::List(vec!["x@y.com".into(), "z@y.com".into()]),
            Value::Null,
        ]];
        csv(&mut out, &["f1", "f2", "f3"], &rows).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "f1,f2,f3\n\"a,b\",\"x@y.com;z@y.com\",\n"
        );
    }

    #[test]
    fn formulas_are_neutralised_and_come_back_unchanged() {
        for (raw, shown) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1 (206) 555", "'+1 (206) 555"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("'=x", "''=x"),
            ("''", "'''"),
            ("'a", "'a"),
            ("'", "'"),
            ("+1 2065550123", "+1 2065550123"),
            ("+44 2079460958x12", "+44 2079460958x12"),
            ("kim@contoso.com", "kim@contoso.com"),
        ] {
            assert_eq!(neutralise(raw), shown, "{raw}");
            assert_eq!(unneutralise(shown), raw, "{shown}");
        }
        let mut out = Vec::new();
        csv(
            &mut out,
            &["f"],
            &[vec![Value::Text("=1+1\u{1b}[2J".into())]],
        )
        .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "f\n'=1+1\\u{1b}[2J\n");
    }

    #[test]
    fn tsv_escapes() {
        let mut out = Vec::new();
        tsv(&mut out, &["f"], &[vec![Value::Text("a\tb\\c\nd".into())]]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "f\na\\tb\\\\c\\nd\n");
    }
}
