//! What `import` reads and writes besides the directory: the input's format and bytes, and
//! the report's target (never the input itself).

use std::io::Read;
use std::path::Path;

use crate::cli::{ImportArgs, ImportFormat};
use crate::error::CliError;
use crate::import::report::{self, ReportFormat};

/// The input's format: `--format`, else the extension, else (stdin) the content: a first
/// non-blank character `{` is JSON Lines, anything else CSV.
pub(super) fn input_format(a: &ImportArgs, bytes: &[u8]) -> Result<ImportFormat, CliError> {
    if let Some(f) = a.format {
        return Ok(f);
    }
    if a.file == "-" {
        let first = String::from_utf8_lossy(&bytes[..bytes.len().min(1024)])
            .trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
            .chars()
            .next();
        return Ok(if first == Some('{') {
            ImportFormat::Jsonl
        } else {
            ImportFormat::Csv
        });
    }
    let ext = Path::new(&a.file)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("csv") => Ok(ImportFormat::Csv),
        Some("jsonl" | "ndjson") => Ok(ImportFormat::Jsonl),
        _ => Err(CliError::usage(
            "unknown_format",
            format!("can't tell the format of \"{}\" from its name", a.file),
        )
        .with_hint("give --format csv or --format jsonl")),
    }
}

pub(super) fn read_input(file: &str) -> Result<Vec<u8>, CliError> {
    let mut bytes = Vec::new();
    let r = if file == "-" {
        std::io::stdin().lock().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::read(file).map(|b| bytes = b)
    };
    r.map_err(|e| {
        CliError::usage("unreadable_file", format!("can't read \"{file}\": {e}"))
            .with_hint("check the path and permissions")
    })?;
    Ok(bytes)
}

/// True when `a` and `b` name the same file (both exist and are one inode, or the same path).
pub(super) fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

pub(super) fn report_target(path: &Path, input: &str) -> Result<ReportFormat, CliError> {
    if input != "-" && same_file(path, Path::new(input)) {
        return Err(CliError::usage(
            "report_is_input",
            format!(
                "--report {} is the input file: the report would overwrite it",
                path.display()
            ),
        )
        .with_hint("give the report another name, e.g. --report import-report.csv"));
    }
    let format = report::format_of(path).ok_or_else(|| {
        CliError::usage(
            "unknown_format",
            format!(
                "--report {}: the name must end in .csv or .jsonl",
                path.display()
            ),
        )
        .with_hint("e.g. --report import-report.csv")
    })?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return Err(CliError::usage(
            "unwritable_report",
            format!(
                "--report {}: the folder {} does not exist",
                path.display(),
                parent.display()
            ),
        ));
    }
    Ok(format)
}
