//! Phone numbers in the form Entra ID and SSPR accept: `+{country code} {national number}`.
//!
//! This module is the only one that talks to the phone metadata engine (`rlibphonenumber`);
//! its API uses plain strings so the engine could be swapped. Rules (see the seed document and
//! `shared/docs/phone-notes.md`):
//! - canonical form is `+CC NSN` with exactly one space, built from the national *significant*
//!   number so Italy's leading zero survives and trunk prefixes (`0`, `(0)`) are dropped;
//! - extensions are removed (SSPR does not dial them) and reported so the caller can warn;
//! - letters are rejected (no keypad mapping), as is input over [`MAX_INPUT_CHARS`];
//! - a number without `+` is accepted only with a default region;
//! - [`PhoneCheck::Strict`] wants a number valid for its country, [`PhoneCheck::Length`] only a
//!   possible length.

use std::fmt;

use rlibphonenumber::{ParseError, PhoneNumber, Region, ValidationError};

/// Longest input we hand to the engine; the engine itself has no cap.
pub const MAX_INPUT_CHARS: usize = 64;

/// How strictly a number is checked against the country's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PhoneCheck {
    /// The number must be a valid number for its country (number ranges, not just length).
    #[default]
    Strict,
    /// The number only needs a possible length for its country.
    Length,
}

/// An ISO 3166-1 alpha-2 region the metadata knows, e.g. `US`, `GB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionCode(Region);

impl RegionCode {
    /// Parses a two-letter region code case-insensitively (`us`, `GB`).
    pub fn parse(code: &str) -> Option<Self> {
        let upper = code.trim().to_ascii_uppercase();
        if upper.len() != 2 {
            return None;
        }
        let region = Region::from_code(&upper).ok()?;
        // `from_code` takes any two letters; only regions with metadata are usable.
        rlibphonenumber::PHONE_NUMBER_UTIL
            .get_country_code_for_region(region)
            .map(|_| RegionCode(region))
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What the caller knows beyond the number itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct PhoneOptions {
    /// Region used for numbers written without `+` (national format).
    pub default_region: Option<RegionCode>,
    /// How strictly to check.
    pub check: PhoneCheck,
}

/// A number in canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone {
    /// `+CC NSN`, e.g. `+44 2079460958`.
    pub canonical: String,
    /// The region the number belongs to (`GB`), `001` for non-geographic codes, if known.
    pub region: Option<String>,
    /// The extension that was removed, if the input had one.
    pub extension: Option<String>,
}

/// Why a number was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneReason {
    Empty,
    InputTooLong,
    /// `00CC…` without a region to say 00 is the international prefix.
    InternationalPrefix,
    Letters(char),
    NoCountryCode,
    UnknownCountryCode,
    NotANumber,
    TooShort {
        region: Option<String>,
    },
    TooLong {
        region: Option<String>,
    },
    InvalidLength {
        region: Option<String>,
    },
    NotValidIn {
        region: Option<String>,
    },
}

impl PhoneReason {
    /// True when the number would pass with `--phone-check length`.
    pub fn only_strict_failed(&self) -> bool {
        matches!(self, PhoneReason::NotValidIn { .. })
    }
}

fn for_region(region: &Option<String>) -> String {
    match region {
        Some(r) => format!(" for {r}"),
        None => String::new(),
    }
}

impl fmt::Display for PhoneReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PhoneReason::Empty => write!(f, "empty"),
            PhoneReason::InputTooLong => write!(f, "longer than {MAX_INPUT_CHARS} characters"),
            PhoneReason::InternationalPrefix => {
                write!(
                    f,
                    "starts with 00, which looks like an international prefix"
                )
            }
            PhoneReason::Letters(c) => write!(f, "contains the letter '{c}'"),
            PhoneReason::NoCountryCode => write!(f, "no country code (it does not start with +)"),
            PhoneReason::UnknownCountryCode => write!(f, "unknown country code"),
            PhoneReason::NotANumber => write!(f, "not a phone number"),
            PhoneReason::TooShort { region } => write!(f, "too short{}", for_region(region)),
            PhoneReason::TooLong { region } => write!(f, "too long{}", for_region(region)),
            PhoneReason::InvalidLength { region } => {
                write!(f, "not a possible length{}", for_region(region))
            }
            PhoneReason::NotValidIn { region } => match region {
                Some(r) => write!(f, "not a valid number in {r}"),
                None => write!(f, "not a valid number"),
            },
        }
    }
}

/// A rejected number with the input that caused it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{input}\": {reason}")]
pub struct PhoneError {
    pub input: String,
    pub reason: PhoneReason,
}

impl PhoneError {
    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match &self.reason {
            PhoneReason::NoCountryCode => {
                "write it as +CountryCode Number (e.g. +1 4255550100), \
                 or give --default-region CC (e.g. --default-region US) for national numbers"
            }
            PhoneReason::NotValidIn { .. } => {
                "check the digits; if the number is right but newer \
                 than the phone metadata, use --phone-check length to accept any number of a possible length"
            }
            PhoneReason::Letters(_) => {
                "use digits only; vanity numbers (1-800-FLOWERS) are not converted"
            }
            PhoneReason::InternationalPrefix => {
                "looks like an international prefix: write +CountryCode (e.g. +44 instead of 0044), or give --default-region"
            }
            PhoneReason::TooLong { .. } if !self.input.trim_start().starts_with(['+', '＋']) => {
                "too long for the default region's numbers: is --default-region right? (or write +CountryCode Number)"
            }
            _ => "write it as +CountryCode Number, e.g. +1 4255550100 or +44 20 7946 0958",
        }
    }
}

/// Validates `input` and returns it in canonical form.
pub fn normalize(input: &str, opts: &PhoneOptions) -> Result<Phone, PhoneError> {
    let err = |reason| PhoneError {
        input: input.to_string(),
        reason,
    };
    // A byte-order mark (a file saved with one) is not part of the number.
    let trimmed = input.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if trimmed.is_empty() {
        return Err(err(PhoneReason::Empty));
    }
    if trimmed.chars().count() > MAX_INPUT_CHARS {
        return Err(err(PhoneReason::InputTooLong));
    }
    // Fullwidth digits and plus (East Asian input methods) are the ASCII ones, as
    // libphonenumber reads them: the checks below look at ASCII.
    let ascii;
    let trimmed =
        if trimmed.contains(|c: char| ('\u{ff10}'..='\u{ff19}').contains(&c) || c == '\u{ff0b}') {
            ascii = trimmed
                .chars()
                .map(|c| match c {
                    '\u{ff10}'..='\u{ff19}' => char::from(b'0' + (c as u32 - 0xff10) as u8),
                    '\u{ff0b}' => '+',
                    c => c,
                })
                .collect::<String>();
            ascii.as_str()
        } else {
            trimmed
        };
    // Japanese text uses the long vowel mark (ー) as a dash.
    let dashed;
    let trimmed = if trimmed.contains('\u{30fc}') {
        dashed = trimmed.replace('\u{30fc}', "-");
        dashed.as_str()
    } else {
        trimmed
    };
    // A trailing extension marker with no digits ("… x") marks no extension.
    let trimmed = strip_empty_extension(trimmed);
    let body = strip_tel_prefix(trimmed);
    if let Some(c) = stray_letter(body) {
        return Err(err(PhoneReason::Letters(c)));
    }
    // Known engine panic: `tel:` after `;phone-context=` (phone-notes.md). Such input is
    // never a number an admin means, so it is rejected before parsing.
    if let Some(pos) = body.find(";phone-context=")
        && body[pos..].contains("tel:")
    {
        return Err(err(PhoneReason::NotANumber));
    }
    // `00CC …` (or `+00CC`): the international prefix most of the world dials.
    let digits_start = body.trim_start_matches(|c: char| !c.is_ascii_digit());
    let plus_idd = body.trim_start().starts_with("+00");
    if digits_start.starts_with("00") && (plus_idd || !body.trim_start().starts_with('+')) {
        if opts.default_region.is_none() && !plus_idd {
            return Err(err(PhoneReason::InternationalPrefix));
        }
        let rest = &digits_start[2..];
        return normalize_inner(input, &format!("+{rest}"), opts);
    }
    normalize_inner(input, trimmed, opts)
}

/// The engine's part: `trimmed` is the cleaned-up input, `input` what the user typed.
fn normalize_inner(input: &str, trimmed: &str, opts: &PhoneOptions) -> Result<Phone, PhoneError> {
    let err = |reason| PhoneError {
        input: input.to_string(),
        reason,
    };
    let body = strip_tel_prefix(trimmed);
    // A `+` may follow an opening bracket or other punctuation: `(+44) 20 7946 0958`; a tel:
    // URI's `phone-context=+49` gives the country too.
    let has_plus = body
        .trim_start_matches(|c: char| c.is_whitespace() || "([{-.".contains(c))
        .starts_with(['+', '＋'])
        || body.contains(";phone-context=+");
    let region = if has_plus {
        None
    } else {
        match opts.default_region {
            Some(r) => Some(r.0),
            None => return Err(err(PhoneReason::NoCountryCode)),
        }
    };
    let parsed = std::panic::catch_unwind(|| PhoneNumber::parse(trimmed, region))
        .map_err(|_| err(PhoneReason::NotANumber))?;
    let number = match parsed {
        Ok(n) => n,
        Err(e) => {
            let reason = match e {
                ParseError::InvalidCountryCode => PhoneReason::UnknownCountryCode,
                ParseError::TooShortNsn | ParseError::TooShortAfterIdd => {
                    PhoneReason::TooShort { region: None }
                }
                ParseError::TooLongNsn => PhoneReason::TooLong { region: None },
                ParseError::NotANumber(_) => PhoneReason::NotANumber,
            };
            return Err(err(reason));
        }
    };
    let region = region_of(&number);
    match number.is_possible_with_reason() {
        Ok(rlibphonenumber::NumberLengthType::IsPossible) => {}
        Ok(rlibphonenumber::NumberLengthType::IsPossibleLocalOnly) => {
            return Err(err(PhoneReason::TooShort { region }));
        }
        Err(ValidationError::InvalidCountryCode) => {
            return Err(err(PhoneReason::UnknownCountryCode));
        }
        Err(ValidationError::TooShort) => return Err(err(PhoneReason::TooShort { region })),
        Err(ValidationError::TooLong) => return Err(err(PhoneReason::TooLong { region })),
        Err(_) => return Err(err(PhoneReason::InvalidLength { region })),
    }
    if opts.check == PhoneCheck::Strict && !number.is_valid() {
        return Err(err(PhoneReason::NotValidIn { region }));
    }
    Ok(Phone {
        canonical: format!(
            "+{} {}",
            number.country_code,
            number.get_national_significant_number()
        ),
        region,
        extension: number.extension.clone().filter(|e| !e.is_empty()),
    })
}

/// True for a number Graph shows masked (an Authentication Administrator reading another
/// user's phone methods sees e.g. `+1 XXXXXXXX67`): it holds a run of `X`, or `*` or `•`.
/// Such a value is never compared as a number.
pub fn is_masked(s: &str) -> bool {
    s.contains('*') || s.contains('\u{2022}') || s.to_ascii_uppercase().contains("XX")
}

/// How a masked value is shown.
pub fn show_masked(s: &str) -> String {
    format!("{s} (masked)")
}

/// The region of a number, or the main region of its country code when the number itself
/// matches no region's ranges (so errors can still say "for US").
fn region_of(number: &PhoneNumber) -> Option<String> {
    number
        .get_region_code()
        .or_else(|| {
            rlibphonenumber::PHONE_NUMBER_UTIL.get_region_for_country_code(number.country_code)
        })
        .map(|r| r.to_string())
        .filter(|r| r != "ZZ")
}

/// Words that introduce an extension (libphonenumber's): `x`, `ext`, `extension`, `anexo`,
/// `доб`, `int`, fullwidth `ｘ`…
fn extension_marker(word: &str) -> bool {
    matches!(
        word,
        "x" | "ｘ"
            | "ext"
            | "extn"
            | "extension"
            | "extensión"
            | "extensio"
            | "anexo"
            | "доб"
            | "int"
            | "ｅｘｔ"
    )
}

/// `… x` or `… ext.` at the end, with no digits after: the marker is dropped.
fn strip_empty_extension(s: &str) -> &str {
    let t = s.trim_end_matches(['.', ':', ' ', '#']);
    let start = t
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphabetic())
        .last()
        .map(|(i, _)| i);
    match start {
        Some(i) if i > 0 && extension_marker(&t[i..].to_lowercase()) => t[..i].trim_end(),
        _ => s,
    }
}

fn strip_tel_prefix(s: &str) -> &str {
    match s.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("tel:") => &s[4..],
        _ => s,
    }
}

/// Finds a letter that is not part of an extension marker (`x`, `ext`, `ext.`, `extn`,
/// `extension`) followed by digits, nor of a `;param=` of a tel URI.
fn stray_letter(s: &str) -> Option<char> {
    let main = s.split(';').next().unwrap_or(s);
    let start = main.find(|c: char| c.is_alphabetic())?;
    let rest = &main[start..];
    let word_end = rest
        .find(|c: char| !c.is_alphabetic())
        .unwrap_or(rest.len());
    let word = rest[..word_end].to_ascii_lowercase();
    let after = rest[word_end..].trim_start_matches(['.', ':', ' ', '\u{a0}', '=']);
    let word = word.to_lowercase();
    let is_marker = extension_marker(&word);
    let digits_follow =
        !after.trim().is_empty() && after.trim().chars().all(|c| c.is_numeric() || c == ' ');
    if is_marker && digits_follow {
        None
    } else {
        rest.chars().next()
    }
}

#[cfg(test)]
mod tests;
