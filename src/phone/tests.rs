//! Table-driven tests of the phone rules: input styles from many countries and each pitfall.

use super::*;

fn opts(region: Option<&str>, check: PhoneCheck) -> PhoneOptions {
    PhoneOptions {
        default_region: region.map(|r| RegionCode::parse(r).expect("test region")),
        check,
    }
}

/// (input, default region, canonical, removed extension)
const VALID: &[(&str, Option<&str>, &str, Option<&str>)] = &[
    // United States: every input style
    ("+1 2015550123", None, "+1 2015550123", None),
    ("+12015550123", None, "+1 2015550123", None),
    ("+1 (201) 555-0123", None, "+1 2015550123", None),
    ("+1.201.555.0123", None, "+1 2015550123", None),
    ("+1-201-555-0123", None, "+1 2015550123", None),
    ("  +1 201 555 0123  ", None, "+1 2015550123", None),
    (
        "+1\u{a0}201\u{a0}555\u{a0}0123",
        None,
        "+1 2015550123",
        None,
    ),
    ("tel:+1-201-555-0123", None, "+1 2015550123", None),
    ("TEL:+1-201-555-0123", None, "+1 2015550123", None),
    ("201-555-0123", Some("US"), "+1 2015550123", None),
    ("(201) 555-0123", Some("us"), "+1 2015550123", None),
    ("1 201 555 0123", Some("US"), "+1 2015550123", None),
    ("011 44 20 7946 0958", Some("US"), "+44 2079460958", None),
    ("＋１ ２０１ ５５５ ０１２３", None, "+1 2015550123", None),
    // Real HR data, as libphonenumber reads it
    ("(+44) 20 7946 0958", None, "+44 2079460958", None),
    ("\u{feff}+1 2015550123", None, "+1 2015550123", None),
    (
        "tel:030123456;phone-context=+49",
        None,
        "+49 30123456",
        None,
    ),
    ("03ー1234ー5678", Some("JP"), "+81 312345678", None),
    ("+1 201 555 0123 x", None, "+1 2015550123", None),
    ("+1 201 555 0123 ext.", None, "+1 2015550123", None),
    ("0044 20 7946 0958", Some("GB"), "+44 2079460958", None),
    ("0044 20 7946 0958", Some("US"), "+44 2079460958", None),
    ("+0044 20 7946 0958", None, "+44 2079460958", None),
    (
        "+56 2 2123 4567 anexo 12",
        None,
        "+56 221234567",
        Some("12"),
    ),
    (
        "+7 495 123-45-67 доб. 89",
        None,
        "+7 4951234567",
        Some("89"),
    ),
    (
        "+34 912 345 678 extensión 5",
        None,
        "+34 912345678",
        Some("5"),
    ),
    ("+1 201 555 0123 ｘ7", None, "+1 2015550123", Some("7")),
    // Fullwidth digits and plus with an extension word: as libphonenumber reads them.
    (
        "＋３５１ ９１２３４５７９１ ext. 0042",
        None,
        "+351 912345791",
        Some("0042"),
    ),
    (
        "＋００３５１ ９１２３４５７９１",
        None,
        "+351 912345791",
        None,
    ),
    ("+1 201 555 0123 int. 44", None, "+1 2015550123", Some("44")),
    // Extensions are removed and reported
    ("+1 201 555 0123 x123", None, "+1 2015550123", Some("123")),
    ("+1 201 555 0123 X123", None, "+1 2015550123", Some("123")),
    (
        "+1 201 555 0123 ext 123",
        None,
        "+1 2015550123",
        Some("123"),
    ),
    (
        "+1 201 555 0123 ext. 123",
        None,
        "+1 2015550123",
        Some("123"),
    ),
    ("+1 201 555 0123 #123", None, "+1 2015550123", Some("123")),
    (
        "tel:+1-201-555-0123;ext=123",
        None,
        "+1 2015550123",
        Some("123"),
    ),
    ("+1 2015550123X12345", None, "+1 2015550123", Some("12345")),
    // United Kingdom: trunk prefix 0 and the (0) habit
    ("+44 20 7946 0958", None, "+44 2079460958", None),
    ("+442079460958", None, "+44 2079460958", None),
    ("+44 (0)20 7946 0958", None, "+44 2079460958", None),
    ("+44 (0) 20 7946 0958", None, "+44 2079460958", None),
    ("020 7946 0958", Some("GB"), "+44 2079460958", None),
    ("0044 20 7946 0958", Some("GB"), "+44 2079460958", None),
    ("+44 7400 123456", None, "+44 7400123456", None),
    ("07400 123456", Some("gb"), "+44 7400123456", None),
    ("tel:+44-20-7946-0958", None, "+44 2079460958", None),
    (
        "+44 (0)20 7946 0958 ext. 22",
        None,
        "+44 2079460958",
        Some("22"),
    ),
    // Italy: the leading zero belongs to the number
    ("+39 02 1234 5678", None, "+39 0212345678", None),
    ("+390212345678", None, "+39 0212345678", None),
    ("02 1234 5678", Some("IT"), "+39 0212345678", None),
    ("+39 06 6982 0000", None, "+39 0669820000", None),
    ("+39 312 345 6789", None, "+39 3123456789", None),
    // Germany
    ("+49 30 123456", None, "+49 30123456", None),
    ("030 123456", Some("DE"), "+49 30123456", None),
    ("+49 (0)30 123456", None, "+49 30123456", None),
    ("+49 1512 3456789", None, "+49 15123456789", None),
    // France
    ("+33 1 23 45 67 89", None, "+33 123456789", None),
    ("01 23 45 67 89", Some("FR"), "+33 123456789", None),
    ("+33 (0)6 12 34 56 78", None, "+33 612345678", None),
    // Russia: +7 800 is a toll-free range, not a trunk prefix
    ("+7 800 555-35-35", None, "+7 8005553535", None),
    ("8 (800) 555-35-35", Some("RU"), "+7 8005553535", None),
    ("+7 912 345 67 89", None, "+7 9123456789", None),
    // Japan, with fullwidth digits
    ("+81 3-1234-5678", None, "+81 312345678", None),
    ("03-1234-5678", Some("JP"), "+81 312345678", None),
    ("０３-１２３４-５６７８", Some("JP"), "+81 312345678", None),
    // Elsewhere
    ("+91 98765 43210", None, "+91 9876543210", None),
    ("+61 412 345 678", None, "+61 412345678", None),
    ("0412 345 678", Some("AU"), "+61 412345678", None),
    ("+55 11 91234-5678", None, "+55 11912345678", None),
    ("+34 912 34 56 78", None, "+34 912345678", None),
    ("+31 6 12345678", None, "+31 612345678", None),
    ("+86 138 0013 8000", None, "+86 13800138000", None),
    ("+52 55 1234 5678", None, "+52 5512345678", None),
    ("+27 82 123 4567", None, "+27 821234567", None),
    ("+800 1234 5678", None, "+800 12345678", None),
];

/// (input, default region, reason)
const INVALID: &[(&str, Option<&str>, PhoneReason)] = &[
    ("", None, PhoneReason::Empty),
    ("   ", None, PhoneReason::Empty),
    ("201 555 0123", None, PhoneReason::NoCountryCode),
    ("0044 20 7946 0958", None, PhoneReason::InternationalPrefix),
    ("+1 800 FLOWERS", None, PhoneReason::Letters('F')),
    ("+1 201 555 O123", None, PhoneReason::Letters('O')),
    ("abc", Some("US"), PhoneReason::Letters('a')),
    ("+1 201 555 0123 xy", None, PhoneReason::Letters('x')),
    ("+999 123456", None, PhoneReason::UnknownCountryCode),
    ("+", None, PhoneReason::NotANumber),
    ("--", Some("US"), PhoneReason::NotANumber),
    (
        ";phone-context=a;tel:1",
        Some("US"),
        PhoneReason::NotANumber,
    ),
    (
        "+1 201 555 012",
        None,
        PhoneReason::TooShort {
            region: Some(String::new()),
        },
    ),
    (
        "+1 201 555 01234",
        None,
        PhoneReason::TooLong {
            region: Some(String::new()),
        },
    ),
    (
        "+1 101 555 0123",
        None,
        PhoneReason::NotValidIn {
            region: Some(String::new()),
        },
    ),
    (
        "+44 20 7946 095",
        None,
        PhoneReason::NotValidIn {
            region: Some(String::new()),
        },
    ),
    (
        "+44 7700 900123",
        None,
        PhoneReason::NotValidIn {
            region: Some(String::new()),
        },
    ),
    (
        "+39 02 1",
        None,
        PhoneReason::TooShort {
            region: Some(String::new()),
        },
    ),
    (
        "+49 30 1234567890123456",
        None,
        PhoneReason::TooLong {
            region: Some(String::new()),
        },
    ),
];

#[test]
fn valid_numbers_are_canonicalised() {
    let mut failures = Vec::new();
    for (input, region, canonical, ext) in VALID {
        match normalize(input, &opts(*region, PhoneCheck::Strict)) {
            Ok(p) if p.canonical == *canonical && p.extension.as_deref() == *ext => {}
            other => failures.push(format!("{input:?} ({region:?}): got {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Compares reasons by kind; the region inside a reason is checked by its own test.
fn same_kind(a: &PhoneReason, b: &PhoneReason) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
        && match (a, b) {
            (PhoneReason::Letters(x), PhoneReason::Letters(y)) => x == y,
            _ => true,
        }
}

#[test]
fn invalid_numbers_are_rejected_with_a_reason() {
    let mut failures = Vec::new();
    for (input, region, reason) in INVALID {
        match normalize(input, &opts(*region, PhoneCheck::Strict)) {
            Err(e) if same_kind(&e.reason, reason) && e.input == *input => {}
            other => failures.push(format!("{input:?} ({region:?}): got {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn hints_for_a_wrong_region_and_an_international_prefix() {
    let e = normalize("0044 20 7946 0958", &opts(None, PhoneCheck::Strict)).unwrap_err();
    assert!(
        e.hint()
            .contains("looks like an international prefix: write +CountryCode")
    );
    let e = normalize("020 7946 0958 1234", &opts(Some("GB"), PhoneCheck::Strict)).unwrap_err();
    assert!(matches!(e.reason, PhoneReason::TooLong { .. }), "{e:?}");
    assert!(
        e.hint().contains("is --default-region right?"),
        "{}",
        e.hint()
    );
}

#[test]
fn enough_cases() {
    assert!(VALID.len() + INVALID.len() >= 60);
}

#[test]
fn input_over_64_characters_is_rejected() {
    let long = format!("+1 201 555 0123{}", " ".repeat(40) + "x12345678901");
    assert!(long.chars().count() > MAX_INPUT_CHARS);
    let e = normalize(&long, &PhoneOptions::default()).unwrap_err();
    assert_eq!(e.reason, PhoneReason::InputTooLong);
}

#[test]
fn length_check_accepts_what_strict_rejects() {
    let input = "+1 101 555 0123";
    let strict = normalize(input, &opts(None, PhoneCheck::Strict)).unwrap_err();
    assert_eq!(
        strict.reason,
        PhoneReason::NotValidIn {
            region: Some("US".into())
        }
    );
    assert!(strict.reason.only_strict_failed());
    assert!(strict.hint().contains("--phone-check length"));
    let length = normalize(input, &opts(None, PhoneCheck::Length)).unwrap();
    assert_eq!(length.canonical, "+1 1015550123");
}

#[test]
fn reasons_name_the_country() {
    let e = normalize("+1 201 555 012", &PhoneOptions::default()).unwrap_err();
    assert_eq!(e.to_string(), "\"+1 201 555 012\": too short for US");
    let e = normalize("+44 20 7946 095", &PhoneOptions::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "\"+44 20 7946 095\": not a valid number in GB"
    );
}

#[test]
fn no_plus_hint_names_the_flag() {
    let e = normalize("201 555 0123", &PhoneOptions::default()).unwrap_err();
    assert!(e.hint().contains("--default-region"), "{}", e.hint());
}

#[test]
fn region_is_reported() {
    let p = normalize("+44 20 7946 0958", &PhoneOptions::default()).unwrap();
    assert_eq!(p.region.as_deref(), Some("GB"));
    let p = normalize("+800 1234 5678", &PhoneOptions::default()).unwrap();
    assert_eq!(p.region.as_deref(), Some("001"));
}

#[test]
fn region_codes_parse_case_insensitively() {
    assert_eq!(RegionCode::parse("gb").unwrap().to_string(), "GB");
    assert!(RegionCode::parse("XX").is_none());
    assert!(RegionCode::parse("USA").is_none());
}
