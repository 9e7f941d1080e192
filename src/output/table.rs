//! Tables and change lists for people at a terminal. Text from the directory is sanitised:
//! control characters are shown escaped so a crafted display name can't drive the terminal.

use std::io::{self, Write};

use tabled::builder::Builder;
use tabled::settings::Style;

use super::{ChangeReport, Records};
use crate::model::Value;
use crate::text::sanitize;

/// Rows as a table; with `width` (a terminal's), the widest columns wrap so the table fits.
pub fn records(w: &mut dyn Write, r: &Records<'_>, width: Option<usize>) -> io::Result<()> {
    let mut b = Builder::default();
    b.push_record(r.fields.iter().map(|f| f.to_string()));
    for row in &r.rows {
        b.push_record(row.iter().map(|v| sanitize(&v.to_text())));
    }
    let mut table = b.build();
    table.with(Style::psql());
    if let Some(width) = width.filter(|w| *w >= 20) {
        table.with(
            tabled::settings::Width::wrap(width)
                .priority(tabled::settings::peaker::Priority::max(true))
                .keep_words(true),
        );
    }
    writeln!(w, "{table}")
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "(none)".into(),
        Value::List(l) if l.is_empty() => "(none)".into(),
        v => sanitize(&v.to_text()),
    }
}

pub fn changes(w: &mut dyn Write, r: &ChangeReport) -> io::Result<()> {
    let upn = sanitize(&r.user_principal_name);
    if r.changes.is_empty() {
        return writeln!(w, "{upn}: no change");
    }
    let n = r.changes.len();
    let what = if n == 1 { "change" } else { "changes" };
    let suffix = if r.dry_run {
        " (dry run: nothing written)"
    } else {
        ""
    };
    writeln!(w, "{upn}: {n} {what}{suffix}")?;
    let width = r.changes.iter().map(|c| c.field.len()).max().unwrap_or(0);
    for c in &r.changes {
        let to = match c.destination {
            Some("ad") => "  (in AD)",
            Some(_) => "  (in Entra ID)",
            None => "",
        };
        writeln!(
            w,
            "  {:width$}  {} → {}{to}",
            c.field,
            show(&c.old),
            show(&c.new)
        )?;
    }
    Ok(())
}
