//! `phone`: validates and normalises numbers, one result per input, in order.

use std::io::BufRead;

use super::Ctx;
use crate::cli::PhoneCmdArgs;
use crate::error::CliError;
use crate::exit::Exit;
use crate::model::Value;
use crate::output::{Records, Shape};
use crate::settings::phone_options;

const FIELDS: &[&str] = &[
    "input",
    "valid",
    "canonical",
    "region",
    "extension",
    "reason",
];

pub fn run(a: PhoneCmdArgs, ctx: &mut Ctx<'_>) -> Result<Exit, CliError> {
    let opts = phone_options(&a.phone)?;
    let inputs: Vec<String> = if a.numbers.is_empty() {
        std::io::stdin()
            .lock()
            .lines()
            .collect::<Result<_, _>>()
            .map_err(|e| {
                CliError::usage("invalid_input", format!("can't read stdin: {e}"))
                    .with_hint("give UTF-8 text, one number per line")
            })?
    } else {
        a.numbers
    };
    let mut invalid = 0usize;
    let rows = inputs
        .iter()
        .map(|input| match crate::phone::normalize(input, &opts) {
            Ok(p) => vec![
                Value::Text(input.clone()),
                Value::Bool(true),
                Value::Text(p.canonical),
                p.region.into(),
                p.extension.into(),
                Value::Null,
            ],
            Err(e) => {
                invalid += 1;
                let region = match &e.reason {
                    crate::phone::PhoneReason::TooShort { region }
                    | crate::phone::PhoneReason::TooLong { region }
                    | crate::phone::PhoneReason::InvalidLength { region }
                    | crate::phone::PhoneReason::NotValidIn { region } => region.clone(),
                    _ => None,
                };
                vec![
                    Value::Text(input.clone()),
                    Value::Bool(false),
                    Value::Null,
                    region.into(),
                    Value::Null,
                    Value::Text(e.reason.to_string()),
                ]
            }
        })
        .collect();
    ctx.printer.records(
        ctx.out,
        &Records {
            fields: FIELDS,
            rows,
        },
        Shape::Array,
    )?;
    if invalid == 0 {
        return Ok(Exit::Success);
    }
    ctx.out.flush()?;
    ctx.printer.note(&format!(
        "{invalid} of {} numbers are invalid",
        inputs.len()
    ));
    Ok(Exit::Failed)
}
