//! `phone`: phone::normalize on a generated corpus of numbers from 44 countries.

use std::time::{Duration, Instant};

use ssprctl::phone::{self, PhoneCheck, PhoneOptions, RegionCode};

/// (country calling code, a valid national significant number, region, national trunk prefix)
pub(crate) const SEEDS: &[(&str, &str, &str, &str)] = &[
    ("1", "2015550123", "US", "1"),
    ("1", "6135550123", "CA", "1"),
    ("44", "2079460958", "GB", "0"),
    ("44", "7400123456", "GB", "0"),
    ("353", "851234567", "IE", "0"),
    ("33", "612345678", "FR", "0"),
    ("49", "15123456789", "DE", "0"),
    ("49", "30123456", "DE", "0"),
    ("39", "3123456789", "IT", ""),
    ("39", "0212345678", "IT", ""),
    ("34", "612345678", "ES", ""),
    ("351", "912345678", "PT", ""),
    ("31", "612345678", "NL", "0"),
    ("32", "470123456", "BE", "0"),
    ("41", "781234567", "CH", "0"),
    ("43", "6641234567", "AT", "0"),
    ("46", "701234567", "SE", "0"),
    ("47", "40612345", "NO", ""),
    ("45", "32123456", "DK", ""),
    ("358", "412345678", "FI", "0"),
    ("48", "512345678", "PL", ""),
    ("420", "601123456", "CZ", ""),
    ("36", "201234567", "HU", "06"),
    ("30", "6912345678", "GR", ""),
    ("7", "9123456789", "RU", "8"),
    ("7", "8005553535", "RU", "8"),
    ("380", "501234567", "UA", "0"),
    ("90", "5012345678", "TR", "0"),
    ("972", "502345678", "IL", "0"),
    ("971", "501234567", "AE", "0"),
    ("966", "512345678", "SA", "0"),
    ("91", "9876543210", "IN", "0"),
    ("86", "13800138000", "CN", "0"),
    ("81", "9012345678", "JP", "0"),
    ("82", "1023456789", "KR", "0"),
    ("65", "81234567", "SG", ""),
    ("61", "412345678", "AU", "0"),
    ("64", "211234567", "NZ", "0"),
    ("55", "11912345678", "BR", "0"),
    ("52", "5512345678", "MX", ""),
    ("54", "91123456789", "AR", "0"),
    ("56", "961234567", "CL", ""),
    ("57", "3211234567", "CO", ""),
    ("27", "821234567", "ZA", "0"),
    ("234", "8021234567", "NG", "0"),
    ("20", "1001234567", "EG", "0"),
    ("254", "712123456", "KE", "0"),
    ("63", "9051234567", "PH", "0"),
];

/// A small deterministic generator, so every run measures the same corpus.
pub(crate) struct Lcg(pub(crate) u64);

impl Lcg {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn grouped(s: &str, sep: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    chars
        .chunks(3)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(sep)
}

fn fullwidth(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap(),
            '+' => '＋',
            c => c,
        })
        .collect()
}

/// One input in a random style; returns the text and the default region to use.
fn render(
    rng: &mut Lcg,
    cc: &str,
    nsn: &str,
    region: &str,
    trunk: &str,
) -> (String, Option<&'static str>) {
    // Vary the last two digits so the corpus is not a handful of repeated strings.
    let mut nsn = nsn.to_string();
    let tail = format!("{:02}", rng.below(100));
    nsn.replace_range(nsn.len() - 2.., &tail);
    let region: &'static str = Box::leak(region.to_string().into_boxed_str());
    let style = rng.below(25);
    let text = match style {
        0 => format!("+{cc}{nsn}"),
        1 | 2 => format!("+{cc} {nsn}"),
        3 => format!("+{cc} {}", grouped(&nsn, " ")),
        4 => format!("+{cc}-{}", grouped(&nsn, "-")),
        5 => format!("+{cc}.{}", grouped(&nsn, ".")),
        6 => format!("tel:+{cc}-{}", grouped(&nsn, "-")),
        7 => format!("+{cc} ({}) {}", &nsn[..3], &nsn[3..]),
        8 if trunk == "0" => format!("+{cc} (0){nsn}"),
        8 => format!("+{cc} {nsn}"),
        9 => format!("+{cc} {nsn} x{}", rng.below(9999)),
        10 => format!("+{cc} {nsn} ext. {}", rng.below(999)),
        11 => format!("tel:+{cc}{nsn};ext={}", rng.below(99)),
        12 => fullwidth(&format!("+{cc} {nsn}")),
        13..=15 if !trunk.is_empty() => return (format!("{trunk}{nsn}"), Some(region)),
        13..=15 => return (nsn, Some(region)),
        16 => format!("00{cc} {nsn}"),
        17 => format!("+{cc} {}", &nsn[..nsn.len() - 4]),
        18 => format!("+{cc} {nsn}12345"),
        19 => format!("+{cc} {}O{}", &nsn[..2], &nsn[3..]),
        20 => nsn.clone(),
        21 => format!("  +{cc}   {}  ", grouped(&nsn, "  ")),
        22 => format!("+{cc}\u{a0}{nsn}"),
        23 => format!("+{cc} {nsn} #{}", rng.below(99)),
        _ => format!("+{cc} {}", grouped(&nsn, " ")),
    };
    (text, None)
}

fn corpus(n: usize) -> Vec<(String, Option<RegionCode>)> {
    let mut rng = Lcg(0x5eed);
    let mut out: Vec<(String, Option<RegionCode>)> = (0..n)
        .map(|i| {
            let (cc, nsn, region, trunk) = SEEDS[i % SEEDS.len()];
            let (text, r) = render(&mut rng, cc, nsn, region, trunk);
            (text, r.map(|r| RegionCode::parse(r).expect("seed region")))
        })
        .collect();
    for i in (1..out.len()).rev() {
        let j = rng.below(i + 1);
        out.swap(i, j);
    }
    out
}

pub(crate) fn bench_phone() {
    let n = 100_000;
    let corpus = corpus(n);
    let countries: std::collections::BTreeSet<&str> = SEEDS.iter().map(|s| s.2).collect();
    let run = || {
        let t = Instant::now();
        let mut valid = 0usize;
        for (text, region) in &corpus {
            let opts = PhoneOptions {
                default_region: *region,
                check: PhoneCheck::Strict,
            };
            valid += phone::normalize(text, &opts).is_ok() as usize;
        }
        (t.elapsed(), valid)
    };
    let (cold, valid) = run();
    let mut times: Vec<Duration> = (0..5).map(|_| run().0).collect();
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "phone: {n} numbers, {} countries, shuffled, 1 thread: first pass {:.0}/s (includes metadata start-up), \
         warm median of 5 {:.0}/s; {valid} valid ({:.1}%)",
        countries.len(),
        n as f64 / cold.as_secs_f64(),
        n as f64 / median.as_secs_f64(),
        100.0 * valid as f64 / n as f64
    );
}
