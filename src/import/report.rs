//! The `--report` file: one record per input row — its line, status, the row's own values,
//! the fields changed, and the error — as CSV or JSONL by the file's extension. The data
//! columns keep their canonical names, so the failed rows of a report re-import as they are.

use std::io::Write;
use std::path::Path;

use serde_json::{Map, Value, json};

use super::RowResult;
use super::read::{Cell, DataField, Parsed};

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Csv,
    Jsonl,
}

/// The format for `path`, from its extension.
pub fn format_of(path: &Path) -> Option<ReportFormat> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "csv" => Some(ReportFormat::Csv),
        "jsonl" | "ndjson" | "json" => Some(ReportFormat::Jsonl),
        _ => None,
    }
}

fn text(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => s.clone(),
        Cell::List(l) => l.join(";"),
        _ => String::new(),
    }
}

fn json_value(cell: &Cell) -> Option<Value> {
    match cell {
        Cell::Absent => None,
        Cell::Empty => Some(json!("")),
        Cell::Null => Some(Value::Null),
        Cell::Text(s) => Some(json!(s)),
        Cell::List(l) => Some(json!(l)),
    }
}

/// `field:destination` for each changed field.
fn routes(r: &RowResult) -> Vec<String> {
    r.changed
        .iter()
        .zip(&r.destinations)
        .map(|(f, d)| format!("{f}:{d}"))
        .collect()
}

/// Writes the report.
pub fn write(
    out: &mut dyn Write,
    format: ReportFormat,
    parsed: &Parsed,
    results: &[RowResult],
) -> std::io::Result<()> {
    // Hybrid mode: where each field went, and (--wait-for-sync) whether Entra shows it.
    let routed = results.iter().any(|r| !r.destinations.is_empty());
    let waited = results.iter().any(|r| r.sync.is_some());
    let data: Vec<DataField> = DataField::ALL
        .into_iter()
        .filter(|f| parsed.present.contains(f))
        .collect();
    match format {
        ReportFormat::Csv => {
            let mut header = vec!["line", "status"];
            header.extend(data.iter().map(|f| f.name()));
            header.push("changed");
            if routed {
                header.push("destinations");
            }
            if waited {
                header.push("sync");
            }
            header.extend(["errorCode", "errorMessage", "warnings"]);
            out.write_all(crate::text::csv_record(&header).as_bytes())?;
            for (raw, r) in parsed.rows.iter().zip(results) {
                let mut rec = vec![r.line.to_string(), r.status.name().to_string()];
                rec.extend(data.iter().map(|f| text(raw.get(*f))));
                rec.push(r.changed.join(";"));
                if routed {
                    rec.push(routes(r).join(";"));
                }
                if waited {
                    rec.push(r.sync.unwrap_or_default().to_string());
                }
                rec.push(r.error.as_ref().map_or("", |e| e.0).to_string());
                rec.push(r.error.as_ref().map_or(String::new(), |e| e.1.clone()));
                rec.push(r.warnings.join("; "));
                let cells = rec
                    .iter()
                    .map(|c| crate::text::neutralise(&crate::text::sanitize(c)).into_owned());
                out.write_all(crate::text::csv_record(cells).as_bytes())?;
            }
            out.flush()
        }
        ReportFormat::Jsonl => {
            for (raw, r) in parsed.rows.iter().zip(results) {
                let mut obj = Map::new();
                obj.insert("line".into(), json!(r.line));
                obj.insert("status".into(), json!(r.status.name()));
                for f in &data {
                    if let Some(v) = json_value(raw.get(*f)) {
                        obj.insert(f.name().into(), v);
                    }
                }
                obj.insert("changed".into(), json!(r.changed));
                if routed {
                    let d: Map<String, Value> = r
                        .changed
                        .iter()
                        .zip(&r.destinations)
                        .map(|(f, d)| (f.to_string(), json!(d)))
                        .collect();
                    obj.insert("destinations".into(), Value::Object(d));
                }
                if waited {
                    obj.insert("sync".into(), json!(r.sync));
                }
                obj.insert("errorCode".into(), json!(r.error.as_ref().map(|e| e.0)));
                obj.insert("errorMessage".into(), json!(r.error.as_ref().map(|e| &e.1)));
                obj.insert("warnings".into(), json!(r.warnings));
                serde_json::to_writer(&mut *out, &Value::Object(obj))?;
                writeln!(out)?;
            }
            Ok(())
        }
    }
}
