//! `phone`: validates and normalises numbers, one result per input, in order. Numbers from
//! stdin are read and written one line at a time (constant memory for a million lines).

use std::io::BufRead;

use super::Ctx;
use crate::cli::PhoneCmdArgs;
use crate::error::CliError;
use crate::exit::Exit;
use crate::model::Value;
use crate::output::RecordStream;
use crate::phone::{PhoneOptions, PhoneReason};
use crate::settings::phone_options;

const FIELDS: &[&str] = &[
    "input",
    "valid",
    "canonical",
    "region",
    "extension",
    "reason",
    "hint",
];

/// One result row; `None` for valid.
fn check(input: &str, opts: &PhoneOptions) -> (Vec<Value>, bool) {
    match crate::phone::normalize(input, opts) {
        Ok(p) => (
            vec![
                Value::Text(input.to_string()),
                Value::Bool(true),
                Value::Text(p.canonical),
                p.region.into(),
                p.extension.into(),
                Value::Null,
                Value::Null,
            ],
            true,
        ),
        Err(e) => {
            let region = match &e.reason {
                PhoneReason::TooShort { region }
                | PhoneReason::TooLong { region }
                | PhoneReason::InvalidLength { region }
                | PhoneReason::NotValidIn { region } => region.clone(),
                _ => None,
            };
            // The same hint set-user and import give for this number.
            let hint = e.hint().to_string();
            (
                invalid(input, region, e.reason.to_string(), Some(hint)),
                false,
            )
        }
    }
}

fn invalid(
    input: &str,
    region: Option<String>,
    reason: String,
    hint: Option<String>,
) -> Vec<Value> {
    vec![
        Value::Text(input.to_string()),
        Value::Bool(false),
        Value::Null,
        region.into(),
        Value::Null,
        Value::Text(reason),
        hint.into(),
    ]
}

pub fn run(a: PhoneCmdArgs, ctx: &mut Ctx<'_>) -> Result<Exit, CliError> {
    let opts = phone_options(&a.phone)?;
    let (mut total, mut bad) = (0usize, 0usize);
    let mut out = RecordStream::new(&ctx.printer, FIELDS, &mut *ctx.out)?;
    let from_stdin = a.numbers.is_empty() || a.numbers == ["-"];
    if from_stdin {
        let mut stdin = std::io::stdin().lock();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = stdin
                .read_until(b'\n', &mut buf)
                .map_err(|e| CliError::usage("invalid_input", format!("can't read stdin: {e}")))?;
            if n == 0 {
                break;
            }
            let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            // Old Mac files end lines with CR alone.
            for part in line.split(|b| *b == b'\r') {
                let (row, ok) = match std::str::from_utf8(part) {
                    Ok(s) if s.trim().is_empty() && a.skip_blank => continue,
                    Ok(s) => check(s, &opts),
                    Err(_) => (
                        invalid(
                            &String::from_utf8_lossy(part),
                            None,
                            "not valid UTF-8 text".into(),
                            Some("save the file as UTF-8".into()),
                        ),
                        false,
                    ),
                };
                total += 1;
                bad += usize::from(!ok);
                out.row(row)?;
            }
        }
    } else {
        for input in &a.numbers {
            let (row, ok) = check(input, &opts);
            total += 1;
            bad += usize::from(!ok);
            out.row(row)?;
        }
    }
    out.finish()?;
    if bad == 0 {
        return Ok(Exit::Success);
    }
    ctx.out.flush()?;
    ctx.printer
        .note(&format!("{bad} of {total} numbers are invalid"));
    Ok(Exit::Failed)
}
