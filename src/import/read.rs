//! Reading an import file: CSV (RFC 4180, UTF-8 with or without BOM, CRLF or LF, a header
//! row) or JSONL (one object per line). Columns and keys use the canonical field names or the
//! MSOnline/AzureAD/Graph aliases `--select` accepts.
//!
//! Cells keep what the file said — absent, empty, null, text or a list — so that validation can
//! apply `--clear-empty` and JSON's `null`, and the report can echo the input.

use crate::model::{AuthField, Field, UserField};

/// The fields an import can carry, in report column order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataField {
    UserPrincipalName,
    Id,
    AlternateEmailAddresses,
    MobilePhone,
    OfficePhone,
    AuthenticationPhone,
    AlternateAuthenticationPhone,
    AuthenticationOfficePhone,
    AuthenticationEmail,
}

impl DataField {
    pub const ALL: [DataField; 9] = [
        DataField::UserPrincipalName,
        DataField::Id,
        DataField::AlternateEmailAddresses,
        DataField::MobilePhone,
        DataField::OfficePhone,
        DataField::AuthenticationPhone,
        DataField::AlternateAuthenticationPhone,
        DataField::AuthenticationOfficePhone,
        DataField::AuthenticationEmail,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DataField::UserPrincipalName => UserField::UserPrincipalName.name(),
            DataField::Id => UserField::Id.name(),
            DataField::AlternateEmailAddresses => UserField::AlternateEmailAddresses.name(),
            DataField::MobilePhone => UserField::MobilePhone.name(),
            DataField::OfficePhone => UserField::OfficePhone.name(),
            DataField::AuthenticationPhone => AuthField::AuthenticationPhone.name(),
            DataField::AlternateAuthenticationPhone => {
                AuthField::AlternateAuthenticationPhone.name()
            }
            DataField::AuthenticationOfficePhone => AuthField::AuthenticationOfficePhone.name(),
            DataField::AuthenticationEmail => AuthField::AuthenticationEmail.name(),
        }
    }
}

/// What a column header means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    Data(DataField),
    /// A field ssprctl shows but does not set (`displayName`, `onPremisesSyncEnabled`):
    /// exports carry them, so they are ignored quietly.
    ReadOnly,
    /// A column of an ssprctl report (`line`, `status`, …), ignored so a report re-imports.
    Report,
    /// Anything else: ignored with a warning.
    Unknown(String),
    /// A bare `Email` / `Mail`: in HR exports that is the work mailbox (the sign-in name), not
    /// a recovery address, so it is refused rather than guessed.
    Ambiguous(String),
}

/// The error for an ambiguous column.
fn ambiguous(name: &str) -> FileError {
    file_error(
        format!(
            "column \"{name}\" is ambiguous: it could be the alternate email or the authentication email (and in HR exports it is usually the work mailbox, the sign-in name)"
        ),
        "rename it alternateEmailAddresses or authenticationEmail, or drop it",
    )
}

/// Columns a report adds to the input's.
pub const REPORT_COLUMNS: [&str; 6] = [
    "line",
    "status",
    "changed",
    "errorCode",
    "errorMessage",
    "warnings",
];

/// Maps a header to a column. User-object names win: `PhoneNumber` is the office phone, as in
/// `Set-MsolUser -PhoneNumber`.
pub fn column(name: &str) -> Column {
    let original = name.trim();
    // Headers match ignoring case, spaces, `_` and `-`: `User Principal Name`, `mobile_phone`.
    let squashed: String = original
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '\u{feff}'))
        .collect();
    if matches!(
        squashed.to_ascii_lowercase().as_str(),
        "email" | "mail" | "emailaddress" | "mailaddress"
    ) {
        return Column::Ambiguous(original.to_string());
    }
    let name = squashed.as_str();
    if let Some(f) = UserField::parse(name) {
        return match f {
            UserField::Id => Column::Data(DataField::Id),
            UserField::UserPrincipalName => Column::Data(DataField::UserPrincipalName),
            UserField::AlternateEmailAddresses => Column::Data(DataField::AlternateEmailAddresses),
            UserField::MobilePhone => Column::Data(DataField::MobilePhone),
            UserField::OfficePhone => Column::Data(DataField::OfficePhone),
            UserField::DisplayName | UserField::OnPremisesSyncEnabled => Column::ReadOnly,
        };
    }
    if let Some(f) = AuthField::parse(name) {
        return match f {
            AuthField::UserPrincipalName => Column::Data(DataField::UserPrincipalName),
            AuthField::AuthenticationPhone => Column::Data(DataField::AuthenticationPhone),
            AuthField::AlternateAuthenticationPhone => {
                Column::Data(DataField::AlternateAuthenticationPhone)
            }
            AuthField::AuthenticationOfficePhone => {
                Column::Data(DataField::AuthenticationOfficePhone)
            }
            AuthField::AuthenticationEmail => Column::Data(DataField::AuthenticationEmail),
        };
    }
    if REPORT_COLUMNS.iter().any(|c| c.eq_ignore_ascii_case(name)) {
        return Column::Report;
    }
    Column::Unknown(original.to_string())
}

/// One cell as the file had it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Cell {
    /// No such column or key: leave the field alone.
    #[default]
    Absent,
    /// An empty cell or `""`: leave alone, or clear with `--clear-empty`.
    Empty,
    /// JSON `null`: clear.
    Null,
    Text(String),
    /// A JSON array (alternate emails).
    List(Vec<String>),
}

/// One input row.
#[derive(Debug, Clone, Default)]
pub struct RawRow {
    /// Line in the file where the row starts (1-based; the CSV header is line 1).
    pub line: u64,
    /// Only the cells the row has: a 100,000-row file should not carry nine slots a row.
    pub cells: Vec<(DataField, Cell)>,
    /// A problem with the row as a whole (e.g. a JSONL line that is not an object).
    pub broken: Option<String>,
    /// The row's own region (`--region-column`), for its national numbers.
    pub region: Option<String>,
}

static ABSENT: Cell = Cell::Absent;

impl RawRow {
    pub fn get(&self, f: DataField) -> &Cell {
        self.cells
            .iter()
            .find(|(g, _)| *g == f)
            .map_or(&ABSENT, |(_, c)| c)
    }

    pub fn set(&mut self, f: DataField, cell: Cell) {
        match self.cells.iter_mut().find(|(g, _)| *g == f) {
            Some((_, c)) => *c = cell,
            None => self.cells.push((f, cell)),
        }
    }
}

/// A parsed file.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Data fields the file has, in column order.
    pub present: Vec<DataField>,
    pub rows: Vec<RawRow>,
    /// Ignored columns and the like.
    pub warnings: Vec<String>,
}

/// Why a file could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FileError {
    pub message: String,
    pub hint: String,
}

fn file_error(message: String, hint: &str) -> FileError {
    FileError {
        message,
        hint: hint.to_string(),
    }
}

/// Refuses anything but UTF-8, naming the line of the first bad byte.
fn utf8(bytes: &[u8]) -> Result<&str, FileError> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(file_error(
            "the file is UTF-16, not UTF-8".into(),
            "save it as UTF-8 (in Excel: Save As → CSV UTF-8)",
        ));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        file_error(
            format!("line {line}: the file is not UTF-8 (a byte sequence that isn't UTF-8 text)"),
            "save it as UTF-8 (in Excel: Save As → CSV UTF-8; iconv -f WINDOWS-1252 -t UTF-8 converts)",
        )
    })
}

fn map_header<'a>(
    names: impl Iterator<Item = &'a str>,
    parsed: &mut Parsed,
) -> Result<Vec<Option<DataField>>, FileError> {
    let mut map = Vec::new();
    let mut found: Vec<String> = Vec::new();
    let mut seen: Vec<(DataField, String)> = Vec::new();
    for name in names {
        // The region column (given as "") is read apart.
        if name.is_empty() {
            map.push(None);
            continue;
        }
        match column(name) {
            Column::Data(f) => {
                if let Some((_, first)) = seen.iter().find(|(g, _)| *g == f) {
                    return Err(file_error(
                        format!("columns \"{first}\" and \"{name}\" both mean {}", f.name()),
                        "keep one of them",
                    ));
                }
                seen.push((f, name.to_string()));
                parsed.present.push(f);
                map.push(Some(f));
            }
            Column::Unknown(n) => {
                parsed.warnings.push(format!(
                    "column \"{n}\" is not an ssprctl field and is ignored"
                ));
                map.push(None);
            }
            Column::ReadOnly | Column::Report => map.push(None),
            Column::Ambiguous(n) => return Err(ambiguous(&n)),
        }
        found.push(name.trim().to_string());
    }
    if !parsed
        .present
        .iter()
        .any(|f| matches!(f, DataField::UserPrincipalName | DataField::Id))
    {
        return Err(file_error(
            format!(
                "the file has no userPrincipalName or id column to say which user a row is for (its columns: {})",
                found
                    .iter()
                    .map(|c| format!("\"{c}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "add a userPrincipalName (or UserPrincipalName, User Principal Name, ObjectId, id) column",
        ));
    }
    Ok(map)
}

/// Reads CSV.
/// The field separator of a CSV file, from its header line: `;` (European Excel), tab or `,`,
/// whichever occurs most outside quotes (`,` on a tie).
pub fn sniff_delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or("");
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for b in header.bytes() {
        match b {
            b'"' => quoted = !quoted,
            _ if quoted => {}
            _ => {
                for (d, n) in counts.iter_mut() {
                    if *d == b {
                        *n += 1;
                    }
                }
            }
        }
    }
    counts
        .iter()
        .fold(
            (b',', 0),
            |best, &(d, n)| if n > best.1 { (d, n) } else { best },
        )
        .0
}

/// A header name as it is matched: no case, spaces, `_` or `-`.
fn squash(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '\u{feff}'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Reads a CSV file with `delimiter`, or the one its header uses; `region_column` names the
/// column holding each row's region.
pub fn csv(
    bytes: &[u8],
    delimiter: Option<u8>,
    region_column: Option<&str>,
) -> Result<Parsed, FileError> {
    let text = utf8(bytes)?;
    let delimiter = delimiter.unwrap_or_else(|| sniff_delimiter(text));
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let mut parsed = Parsed::default();
    let headers = reader
        .headers()
        .map_err(|e| file_error(format!("can't read the header row: {e}"), "check the CSV"))?
        .clone();
    if headers.iter().all(|h| h.trim().is_empty()) {
        return Err(file_error(
            "the file is empty or has no header row".into(),
            "the first line names the columns, e.g. userPrincipalName,mobilePhone",
        ));
    }
    let region_at = match region_column {
        None => None,
        Some(c) => Some(headers.iter().position(|h| squash(h) == squash(c)).ok_or_else(|| {
            file_error(
                format!(
                    "--region-column {c}: the file has no such column (its columns: {})",
                    headers.iter().map(|h| format!("\"{h}\"")).collect::<Vec<_>>().join(", ")
                ),
                "give the name of the column that holds each row's country, e.g. --region-column Country",
            )
        })?),
    };
    let names = headers
        .iter()
        .enumerate()
        .map(|(i, h)| if Some(i) == region_at { "" } else { h });
    let map = map_header(names, &mut parsed)?;
    // Line numbers from byte offsets: the csv crate's own line count is off with CRLF.
    let mut counted = (0usize, 1u64);
    let mut line_at = |byte: u64| {
        // A record after CRLF is said to start at the LF: skip line ends to its first byte.
        let mut byte = (byte as usize).min(text.len());
        while matches!(text.as_bytes().get(byte), Some(b'\r' | b'\n')) {
            byte += 1;
        }
        if byte >= counted.0 {
            counted.1 += text.as_bytes()[counted.0..byte]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64;
            counted.0 = byte;
        }
        counted.1
    };
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| line_at(p.byte()));
            file_error(
                format!("line {line}: {}", csv_message(&e)),
                "every row needs as many fields as the header; quote fields that contain commas or line breaks",
            )
        })?;
        let mut row = RawRow {
            line: record.position().map_or(0, |p| line_at(p.byte())),
            cells: Vec::with_capacity(parsed.present.len()),
            broken: None,
            region: None,
        };
        if let Some(i) = region_at {
            row.region = record
                .get(i)
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_string);
        }
        for (value, field) in record.iter().zip(&map) {
            if let Some(f) = field {
                row.cells.push((
                    *f,
                    if value.trim().is_empty() {
                        Cell::Empty
                    } else {
                        Cell::Text(csv_cell(*f, value))
                    },
                ));
            }
        }
        parsed.rows.push(row);
    }
    Ok(parsed)
}

/// A CSV cell as it was before export neutralised it: a list's elements were neutralised one
/// by one (each can be a cell of its own in a spreadsheet that splits on `;`).
fn csv_cell(field: DataField, value: &str) -> String {
    if field == DataField::AlternateEmailAddresses && value.contains(';') {
        value
            .split(';')
            .map(crate::text::unneutralise)
            .collect::<Vec<_>>()
            .join(";")
    } else {
        crate::text::unneutralise(value).to_string()
    }
}

fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields where the header has {expected_len}"),
        _ => e.to_string(),
    }
}

/// Reads JSONL. A line that isn't a JSON object becomes a broken row, so every problem can be
/// listed together.
pub fn jsonl(bytes: &[u8], region_column: Option<&str>) -> Result<Parsed, FileError> {
    let text = utf8(bytes)?;
    let mut parsed = Parsed::default();
    let mut present = std::collections::BTreeSet::new();
    let mut unknown = std::collections::BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut row = RawRow {
            line: i as u64 + 1,
            ..Default::default()
        };
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(serde_json::Value::Object(obj)) => {
                for (k, v) in obj {
                    if region_column.is_some_and(|c| squash(c) == squash(&k)) {
                        row.region = v
                            .as_str()
                            .map(str::trim)
                            .filter(|r| !r.is_empty())
                            .map(str::to_string);
                        continue;
                    }
                    match column(&k) {
                        Column::Data(f) => {
                            present.insert(f);
                            let cell = match v {
                                serde_json::Value::Null => Cell::Null,
                                serde_json::Value::String(s) if s.trim().is_empty() => Cell::Empty,
                                serde_json::Value::String(s) => Cell::Text(s),
                                serde_json::Value::Array(a)
                                    if f == DataField::AlternateEmailAddresses
                                        && a.iter().all(|x| x.is_string()) =>
                                {
                                    Cell::List(
                                        a.into_iter()
                                            .filter_map(|x| x.as_str().map(str::to_string))
                                            .collect(),
                                    )
                                }
                                other => {
                                    row.broken = Some(format!(
                                        "\"{k}\" is {other}; it must be a string{}, or null",
                                        if f == DataField::AlternateEmailAddresses {
                                            " or an array of strings"
                                        } else {
                                            ""
                                        }
                                    ));
                                    Cell::Absent
                                }
                            };
                            row.set(f, cell);
                        }
                        Column::Unknown(n) => {
                            unknown.insert(n);
                        }
                        Column::Ambiguous(n) => return Err(ambiguous(&n)),
                        Column::ReadOnly | Column::Report => {}
                    }
                }
            }
            Ok(_) => row.broken = Some("not a JSON object".into()),
            Err(e) => row.broken = Some(format!("not valid JSON ({e})")),
        }
        parsed.rows.push(row);
    }
    parsed.present = present.into_iter().collect();
    parsed.warnings = unknown
        .into_iter()
        .map(|n| format!("key \"{n}\" is not an ssprctl field and is ignored"))
        .collect();
    Ok(parsed)
}

#[cfg(test)]
mod sniff_tests {
    use super::*;

    #[test]
    fn the_header_says_the_separator() {
        assert_eq!(sniff_delimiter("userPrincipalName;mobilePhone\nx;y"), b';');
        assert_eq!(sniff_delimiter("upn\tmobile\n"), b'\t');
        assert_eq!(sniff_delimiter("upn,mobile"), b',');
        assert_eq!(sniff_delimiter("\"a;b\",mobile"), b',');
        assert_eq!(sniff_delimiter("upn"), b',');
        let p = csv(
            "User Principal Name;Mobile Phone\nkim@c.com;+1 2065550100\n".as_bytes(),
            None,
            None,
        )
        .unwrap();
        assert_eq!(p.rows.len(), 1);
        assert_eq!(
            p.rows[0].get(DataField::MobilePhone),
            &Cell::Text("+1 2065550100".into())
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_take_aliases_and_phone_number_is_the_office_phone() {
        assert_eq!(column("PhoneNumber"), Column::Data(DataField::OfficePhone));
        assert_eq!(
            column("otherMails"),
            Column::Data(DataField::AlternateEmailAddresses)
        );
        assert_eq!(
            column("AlternativePhoneNumber"),
            Column::Data(DataField::AlternateAuthenticationPhone)
        );
        assert_eq!(column("Email"), Column::Ambiguous("Email".into()));
        assert_eq!(column("e-mail"), Column::Ambiguous("e-mail".into()));
        assert_eq!(
            column("Authentication Email"),
            Column::Data(DataField::AuthenticationEmail)
        );
        assert_eq!(
            column("User Principal Name"),
            Column::Data(DataField::UserPrincipalName)
        );
        assert_eq!(column("mobile_phone"), Column::Data(DataField::MobilePhone));
        assert_eq!(column("ObjectId"), Column::Data(DataField::Id));
        assert_eq!(column("displayName"), Column::ReadOnly);
        assert_eq!(column("status"), Column::Report);
        assert_eq!(column("Department"), Column::Unknown("Department".into()));
    }

    #[test]
    fn csv_with_bom_crlf_quotes_and_extra_columns() {
        let data = "\u{feff}UserPrincipalName,Department,MobilePhone,otherMails\r\n\
                    kim@contoso.com,\"Sales, EMEA\",\"+44 20 7946 0958\",\"a@x.com;b@x.com\"\r\n\
                    lee@contoso.com,\"two\nlines\",,\r\n";
        let p = csv(data.as_bytes(), None, None).unwrap();
        assert_eq!(
            p.present,
            [
                DataField::UserPrincipalName,
                DataField::MobilePhone,
                DataField::AlternateEmailAddresses
            ]
        );
        assert_eq!(p.rows.len(), 2);
        assert_eq!(p.rows[0].line, 2);
        assert_eq!(p.rows[1].line, 3);
        assert_eq!(p.rows[1].get(DataField::MobilePhone), &Cell::Empty);
        let lf = csv(
            b"userPrincipalName\na@b.com\n\"x\ny@b.com\"\nc@b.com\n",
            None,
            None,
        )
        .unwrap();
        let lines: Vec<u64> = lf.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 3, 5]);
        assert_eq!(
            p.rows[0].get(DataField::MobilePhone),
            &Cell::Text("+44 20 7946 0958".into())
        );
        assert_eq!(p.rows[1].get(DataField::MobilePhone), &Cell::Empty);
        assert_eq!(p.rows[1].get(DataField::OfficePhone), &Cell::Absent);
        assert_eq!(
            p.warnings,
            ["column \"Department\" is not an ssprctl field and is ignored"]
        );
    }

    #[test]
    fn csv_errors_name_the_line() {
        let e = csv(b"mobilePhone\n+1 2015550123\n", None, None).unwrap_err();
        assert!(
            e.message.contains("no userPrincipalName or id column"),
            "{e:?}"
        );
        let e = csv(
            b"userPrincipalName,mobilePhone\nkim@contoso.com\n",
            None,
            None,
        )
        .unwrap_err();
        assert_eq!(e.message, "line 2: 1 fields where the header has 2");
        let e = csv(b"userPrincipalName\nk\xe9@contoso.com\n", None, None).unwrap_err();
        assert!(
            e.message.starts_with("line 2: the file is not UTF-8"),
            "{e:?}"
        );
        let e = csv(b"\xff\xfeu\x00", None, None).unwrap_err();
        assert!(e.message.contains("UTF-16"));
        let e = csv(
            b"userPrincipalName,mobilePhone,UserPrincipalName\n",
            None,
            None,
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "columns \"userPrincipalName\" and \"UserPrincipalName\" both mean userPrincipalName"
        );
    }

    #[test]
    fn jsonl_keeps_null_absent_and_lists() {
        let data = "{\"userPrincipalName\":\"kim@contoso.com\",\"mobilePhone\":null,\"otherMails\":[\"a@x.com\"]}\n\n[1]\n{\"id\":\"x\",\"mobilePhone\":5}\n";
        let p = jsonl(data.as_bytes(), None).unwrap();
        assert_eq!(p.rows.len(), 3);
        assert_eq!(p.rows[0].get(DataField::MobilePhone), &Cell::Null);
        assert_eq!(p.rows[0].get(DataField::OfficePhone), &Cell::Absent);
        assert_eq!(
            p.rows[0].get(DataField::AlternateEmailAddresses),
            &Cell::List(vec!["a@x.com".into()])
        );
        assert_eq!(p.rows[1].line, 3);
        assert_eq!(p.rows[1].broken.as_deref(), Some("not a JSON object"));
        assert!(
            p.rows[2]
                .broken
                .as_deref()
                .unwrap()
                .contains("must be a string")
        );
    }
}
