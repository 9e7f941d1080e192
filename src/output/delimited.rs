//! CSV (RFC 4180, via the csv crate) and TSV output. Lists are joined with `;`; absent values
//! are empty. TSV escapes tab, newline, carriage return and backslash as `\t \n \r \\`.

use std::io::{self, Write};

use crate::model::Value;

pub fn csv(w: &mut dyn Write, fields: &[&str], rows: &[Vec<Value>]) -> io::Result<()> {
    let mut out = csv::Writer::from_writer(w);
    out.write_record(fields)?;
    for row in rows {
        out.write_record(row.iter().map(Value::to_text))?;
    }
    out.flush()
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
        let cells: Vec<String> = row.iter().map(|v| escape(&v.to_text())).collect();
        writeln!(w, "{}", cells.join("\t"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
            "f1,f2,f3\n\"a,b\",x@y.com;z@y.com,\n"
        );
    }

    #[test]
    fn tsv_escapes() {
        let mut out = Vec::new();
        tsv(&mut out, &["f"], &[vec![Value::Text("a\tb\\c\nd".into())]]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "f\na\\tb\\\\c\\nd\n");
    }
}
