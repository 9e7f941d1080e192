//! Email addresses as Entra ID accepts them in `otherMails` and email authentication methods.
//!
//! Rules: trimmed; one `@`; a non-empty local part; a dotted domain; ASCII only (Graph rejects
//! accented characters); at most [`MAX_LEN`] characters. Lists hold at most [`MAX_ADDRESSES`]
//! addresses; duplicates (case-insensitive) are folded with a warning.

use std::fmt;

/// Longest address Graph stores in `otherMails`.
pub const MAX_LEN: usize = 250;
/// Most addresses `otherMails` holds.
pub const MAX_ADDRESSES: usize = 250;

/// Why an address was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailReason {
    Empty,
    TooLong,
    NotAscii(char),
    Whitespace,
    AtSigns(usize),
    EmptyLocalPart,
    BadDomain,
    BadCharacter(char),
    TooMany(usize),
}

impl fmt::Display for EmailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmailReason::Empty => write!(f, "empty"),
            EmailReason::TooLong => write!(f, "longer than {MAX_LEN} characters"),
            EmailReason::NotAscii(c) => {
                write!(f, "contains '{c}'; Entra ID accepts ASCII characters only")
            }
            EmailReason::Whitespace => write!(f, "contains white space"),
            EmailReason::AtSigns(0) => write!(f, "has no @"),
            EmailReason::AtSigns(n) => write!(f, "has {n} @ signs; exactly one is allowed"),
            EmailReason::EmptyLocalPart => write!(f, "nothing before the @"),
            EmailReason::BadDomain => write!(f, "the domain is not a dotted name like contoso.com"),
            EmailReason::BadCharacter(c) => write!(f, "contains '{c}'"),
            EmailReason::TooMany(n) => {
                write!(f, "{n} addresses; at most {MAX_ADDRESSES} are allowed")
            }
        }
    }
}

/// A rejected address with the input that caused it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{input}\": {reason}")]
pub struct EmailError {
    pub input: String,
    pub reason: EmailReason,
}

/// Validates one address and returns it trimmed.
pub fn normalize(input: &str) -> Result<String, EmailError> {
    let err = |reason| EmailError {
        input: input.to_string(),
        reason,
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(err(EmailReason::Empty));
    }
    if s.chars().count() > MAX_LEN {
        return Err(err(EmailReason::TooLong));
    }
    if let Some(c) = s.chars().find(|c| !c.is_ascii()) {
        return Err(err(EmailReason::NotAscii(c)));
    }
    if s.chars().any(|c| c.is_ascii_whitespace()) {
        return Err(err(EmailReason::Whitespace));
    }
    if let Some(c) = s
        .chars()
        .find(|c| c.is_ascii_control() || "()<>[]:;,\\\"".contains(*c))
    {
        return Err(err(EmailReason::BadCharacter(c)));
    }
    let ats = s.matches('@').count();
    if ats != 1 {
        return Err(err(EmailReason::AtSigns(ats)));
    }
    let (local, domain) = s.split_once('@').expect("one @");
    if local.is_empty() {
        return Err(err(EmailReason::EmptyLocalPart));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let good_label = |l: &&str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if labels.len() < 2 || !labels.iter().all(good_label) {
        return Err(err(EmailReason::BadDomain));
    }
    Ok(s.to_string())
}

/// Validates a list of alternate addresses for the user `upn`.
///
/// Returns the addresses in order with case-insensitive duplicates folded, plus warnings.
/// Linear, and stops at the first address past [`MAX_ADDRESSES`]: a cell of ten million
/// addresses is refused as fast as one of 251.
pub fn normalize_list<S: AsRef<str>>(
    inputs: impl IntoIterator<Item = S>,
    upn: Option<&str>,
) -> Result<(Vec<String>, Vec<String>), EmailError> {
    let mut out: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut warnings = Vec::new();
    for input in inputs {
        let addr = normalize(input.as_ref())?;
        if !seen.insert(addr.to_ascii_lowercase()) {
            warnings.push(format!("duplicate alternate email {addr} folded into one"));
            continue;
        }
        out.push(addr);
        if out.len() > MAX_ADDRESSES {
            return Err(EmailError {
                input: format!("more than {MAX_ADDRESSES} addresses"),
                reason: EmailReason::TooMany(out.len()),
            });
        }
    }
    if let Some(upn) = upn {
        warnings.extend(upn_warning(&out, upn));
    }
    Ok((out, warnings))
}

/// The warning for an authentication email equal to the user's own sign-in name, if it is.
pub fn auth_upn_warning(address: Option<&str>, upn: &str) -> Option<String> {
    address.filter(|a| a.eq_ignore_ascii_case(upn)).map(|a| {
        format!(
            "authentication email {a} is the user's own sign-in name; it cannot help a user who is locked out"
        )
    })
}

/// The warning for an alternate address equal to the user's own sign-in name, if any.
pub fn upn_warning(addresses: &[String], upn: &str) -> Option<String> {
    addresses
        .iter()
        .find(|a| a.eq_ignore_ascii_case(upn))
        .map(|a| {
            format!(
                "alternate email {a} is the user's own sign-in name; \
             it cannot help a user who is locked out"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_trims() {
        assert_eq!(normalize("  kim@contoso.com ").unwrap(), "kim@contoso.com");
        assert_eq!(normalize("a.b+c@mail.co.uk").unwrap(), "a.b+c@mail.co.uk");
    }

    #[test]
    fn rejects_with_reason() {
        let cases = [
            ("", EmailReason::Empty),
            ("kim", EmailReason::AtSigns(0)),
            ("a@b@c.com", EmailReason::AtSigns(2)),
            ("@contoso.com", EmailReason::EmptyLocalPart),
            ("kim@contoso", EmailReason::BadDomain),
            ("kim@contoso..com", EmailReason::BadDomain),
            ("kim@.com", EmailReason::BadDomain),
            ("jöran@contoso.com", EmailReason::NotAscii('ö')),
            ("kim lee@contoso.com", EmailReason::Whitespace),
            ("kim,lee@contoso.com", EmailReason::BadCharacter(',')),
        ];
        for (input, reason) in cases {
            assert_eq!(normalize(input).unwrap_err().reason, reason, "{input}");
        }
        let long = format!("{}@contoso.com", "a".repeat(250));
        assert_eq!(normalize(&long).unwrap_err().reason, EmailReason::TooLong);
    }

    #[test]
    fn list_folds_duplicates_and_warns_about_upn() {
        let (list, warnings) = normalize_list(
            ["a@x.com", "A@X.com", "kim@contoso.com"],
            Some("Kim@Contoso.com"),
        )
        .unwrap();
        assert_eq!(list, ["a@x.com", "kim@contoso.com"]);
        assert_eq!(warnings.len(), 2);
        assert!(warnings[0].contains("duplicate"));
        assert!(warnings[1].contains("sign-in name"));
    }

    #[test]
    fn list_is_capped() {
        let many: Vec<String> = (0..251).map(|i| format!("u{i}@x.com")).collect();
        let e = normalize_list(&many, None).unwrap_err();
        assert_eq!(e.input, "more than 250 addresses");
        assert_eq!(e.reason, EmailReason::TooMany(251));
    }
}
