//! Everything written for the user: data on stdout in the chosen format, and warnings, notes
//! and logs on stderr. One submodule per format.

mod delimited;
mod json;
mod table;

pub use crate::text::{neutralise, sanitize, unneutralise};

use std::io::{self, Write};

use clap::ValueEnum;
use serde::Serialize;

use crate::diag::{Log, Sink};
use crate::model::{User, Value};
use crate::plan::FieldChange;

/// Output formats (parsed by `--output`/`-o`; clap's `ValueEnum` is derived here, where the
/// type lives).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// An aligned table for people.
    Table,
    /// JSON: an array for lists, an object for one result.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header row (lists joined with `;`).
    Csv,
    /// Tab-separated values with a header row (tab, newline and backslash escaped as \t \n \\).
    Tsv,
}

/// Rows of named values, the shape of `get-user`, `get-auth-details` and `phone` output.
pub struct Records<'a> {
    pub fields: &'a [&'static str],
    pub rows: Vec<Vec<Value>>,
}

/// Whether JSON output is one object or an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Object,
    Array,
}

/// What a `set-*` command did to one user.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeReport {
    pub id: String,
    pub user_principal_name: String,
    pub dry_run: bool,
    pub changed: bool,
    pub changes: Vec<FieldChange>,
    pub warnings: Vec<String>,
    /// Hybrid mode with `--wait-for-sync`: `synced` or `pending`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync: Option<&'static str>,
}

impl ChangeReport {
    /// The report of a `set-*` command on `user`.
    pub fn new(
        user: User,
        dry_run: bool,
        changes: Vec<FieldChange>,
        warnings: Vec<String>,
    ) -> Self {
        ChangeReport {
            user_principal_name: user.name().to_string(),
            id: user.id,
            dry_run,
            changed: !changes.is_empty() && !dry_run,
            changes,
            warnings,
            sync: None,
        }
    }
}

/// Records written one at a time, in constant memory: the same text as
/// [`Printer::records`] with [`Shape::Array`], except that a table (which needs every row for
/// its column widths) is held until [`RecordStream::finish`].
pub struct RecordStream<'w> {
    format: Format,
    fields: &'static [&'static str],
    out: &'w mut dyn Write,
    rows: usize,
    table: Vec<Vec<Value>>,
    width: Option<usize>,
}

impl<'w> RecordStream<'w> {
    pub fn new(
        printer: &Printer,
        fields: &'static [&'static str],
        out: &'w mut dyn Write,
    ) -> io::Result<Self> {
        let format = printer.format;
        let mut s = RecordStream {
            format,
            fields,
            out,
            rows: 0,
            table: Vec::new(),
            width: printer.table_width,
        };
        match format {
            Format::Csv => s.csv_record(fields.iter().map(|f| f.to_string()))?,
            Format::Tsv => writeln!(s.out, "{}", fields.join("\t"))?,
            Format::Json => write!(s.out, "[")?,
            _ => {}
        }
        Ok(s)
    }

    /// One CSV record ([`crate::text::csv_record`]).
    fn csv_record(&mut self, cells: impl Iterator<Item = String>) -> io::Result<()> {
        self.out
            .write_all(crate::text::csv_record(cells).as_bytes())
    }

    pub fn row(&mut self, values: Vec<Value>) -> io::Result<()> {
        let row = json::Row {
            fields: self.fields,
            values: &values,
        };
        match self.format {
            Format::Json => {
                let text = serde_json::to_string_pretty(&row)?;
                let sep = if self.rows == 0 { "\n" } else { ",\n" };
                write!(self.out, "{sep}")?;
                for (i, line) in text.lines().enumerate() {
                    if i > 0 {
                        writeln!(self.out)?;
                    }
                    write!(self.out, "  {line}")?;
                }
            }
            Format::Jsonl => json::line(self.out, &row)?,
            Format::Csv => self.csv_record(values.iter().map(delimited::cell))?,
            Format::Tsv => delimited::tsv_row(self.out, &values)?,
            Format::Table => self.table.push(values),
        }
        self.rows += 1;
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<()> {
        match self.format {
            Format::Json if self.rows == 0 => writeln!(self.out, "]"),
            Format::Json => writeln!(self.out, "\n]"),
            Format::Table => table::records(
                self.out,
                &Records {
                    fields: self.fields,
                    rows: std::mem::take(&mut self.table),
                },
                self.width,
            ),
            _ => Ok(()),
        }
    }
}

/// Writes data to stdout and messages to stderr according to the settings.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub format: Format,
    pub quiet: bool,
    pub verbose: u8,
    /// The terminal's width, when stdout is one: tables wrap their widest columns to fit.
    pub table_width: Option<usize>,
}

impl Printer {
    /// Writes records; `Shape::Object` prints a single JSON object for the first row.
    pub fn records(&self, w: &mut dyn Write, r: &Records<'_>, shape: Shape) -> io::Result<()> {
        match self.format {
            Format::Json => json::records(w, r, shape),
            Format::Jsonl => json::records_lines(w, r),
            Format::Csv => delimited::csv(w, r.fields, &r.rows),
            Format::Tsv => delimited::tsv(w, r.fields, &r.rows),
            Format::Table => table::records(w, r, self.table_width),
        }
    }

    /// Writes a change report (one JSON object in JSON mode); warnings also go to stderr.
    pub fn changes(&self, w: &mut dyn Write, report: &ChangeReport) -> io::Result<()> {
        for warning in &report.warnings {
            self.warn(warning);
        }
        match self.format {
            Format::Json => json::pretty(w, report),
            _ => self.change_list(w, std::slice::from_ref(report)),
        }
    }

    /// Writes many change reports: a JSON array, JSON lines, one CSV/TSV table, or text blocks.
    pub fn change_list(&self, w: &mut dyn Write, reports: &[ChangeReport]) -> io::Result<()> {
        // Hybrid mode adds where each change goes.
        let routed = reports
            .iter()
            .any(|r| r.changes.iter().any(|c| c.destination.is_some()));
        const PLAIN: &[&str] = &["userPrincipalName", "field", "old", "new"];
        const ROUTED: &[&str] = &["userPrincipalName", "field", "old", "new", "destination"];
        let fields = if routed { ROUTED } else { PLAIN };
        let rows = || {
            reports
                .iter()
                .flat_map(|r| {
                    r.changes.iter().map(|c| {
                        let mut row = vec![
                            Value::Text(r.user_principal_name.clone()),
                            Value::Text(c.field.to_string()),
                            c.old.clone(),
                            c.new.clone(),
                        ];
                        if routed {
                            row.push(c.destination.map(str::to_string).into());
                        }
                        row
                    })
                })
                .collect::<Vec<_>>()
        };
        match self.format {
            Format::Json => json::pretty(w, reports),
            Format::Jsonl => reports.iter().try_for_each(|r| json::line(w, r)),
            Format::Csv => delimited::csv(w, fields, &rows()),
            Format::Tsv => delimited::tsv(w, fields, &rows()),
            Format::Table => reports.iter().try_for_each(|r| table::changes(w, r)),
        }
    }

    /// A warning on stderr (not with `--quiet`).
    pub fn warn(&self, msg: &str) {
        if !self.quiet {
            eprintln!("warning: {msg}");
        }
    }

    /// A note on stderr (not with `--quiet`).
    pub fn note(&self, msg: &str) {
        if !self.quiet {
            eprintln!("{msg}");
        }
    }

    /// A log line on stderr at `-v` (level 1) or `-vv` (level 2).
    pub fn log(&self, level: u8, msg: &str) {
        if self.verbose >= level {
            eprintln!("debug: {msg}");
        }
    }
}

/// The printer is the sink the commands hand down to the layers below.
impl Sink for Printer {
    fn warn(&self, msg: &str) {
        Printer::warn(self, msg);
    }
    fn note(&self, msg: &str) {
        Printer::note(self, msg);
    }
    fn log(&self, level: u8, msg: &str) {
        Printer::log(self, level, msg);
    }
    fn prompt(&self, msg: &str) {
        eprintln!("{msg}");
    }
}

impl From<Printer> for Log {
    fn from(p: Printer) -> Log {
        Log::new(p)
    }
}
