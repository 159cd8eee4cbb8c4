//! Sizes and times the way people read and type them: `512MiB`, `1.2 KiB`, `2 hours ago`,
//! `2024-05-01T12:00:00Z`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const UNITS: &[(&str, u64)] = &[
    ("", 1),
    ("b", 1),
    // One letter: powers of 1024, as du, sort -h and docker read them.
    ("k", 1 << 10),
    ("m", 1 << 20),
    ("g", 1 << 30),
    ("t", 1 << 40),
    // IEC: powers of 1024.
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
    // SI: powers of 1000, as cargo reads them.
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("tb", 1_000_000_000_000),
];

/// A size: a number of bytes (`1048576`), or a number (with an optional fraction) and a unit
/// from [`UNITS`], any case, with or without a space (`10M`, `1.5 GiB`, `100mb`).
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let invalid = || {
        format!(
            "{text:?} is not a size: use bytes or a number with a unit, such as 100MiB, 1GiB \
             (powers of 1024; also K, M, G) or 100MB (powers of 1000)"
        )
    };
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let &(_, factor) = UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .ok_or_else(invalid)?;
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let too_large = || format!("{text:?} is too large");
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_large())?
    };
    let mut bytes = whole.checked_mul(factor).ok_or_else(too_large)?;
    // The fraction, exactly (to 18 digits), rounded down: factor * 0.d1d2...
    let (mut part, mut denominator) = (0u128, 1u128);
    for digit in fraction.bytes().take(18) {
        part = part * 10 + u128::from(digit - b'0');
        denominator *= 10;
    }
    let extra = part * u128::from(factor) / denominator;
    bytes = bytes
        .checked_add(u64::try_from(extra).map_err(|_| too_large())?)
        .ok_or_else(too_large)?;
    Ok(bytes)
}

/// `1023 B`, `1.0 KiB`, `12.3 MiB`: powers of 1024, one decimal, as `du -h` and `ls -lh` show
/// sizes (with the IEC unit names, so nobody wonders which unit it is).
pub(crate) fn format_size(bytes: u64) -> String {
    const NAMES: &[&str] = &["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < NAMES.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", NAMES[unit])
}

/// RFC 3339 in UTC with seconds: `2024-05-01T12:34:56Z`.
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let seconds = match time.duration_since(UNIX_EPOCH) {
        Ok(since) => since.as_secs() as i64,
        Err(before) => -(before.duration().as_secs() as i64),
    };
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// How long before `now` `time` was: `just now`, `5 minutes ago`, `2 hours ago`, `3 days ago`;
/// past 30 days (or in the future, a clock skew) the date, `2024-05-01`.
pub(crate) fn ago(time: SystemTime, now: SystemTime) -> String {
    let Ok(elapsed) = now.duration_since(time) else {
        return rfc3339(time)[..10].to_owned();
    };
    let plural = |n: u64, unit: &str| {
        if n == 1 {
            format!("1 {unit} ago")
        } else {
            format!("{n} {unit}s ago")
        }
    };
    let seconds = elapsed.as_secs();
    match seconds {
        0..60 => "just now".to_owned(),
        60..3_600 => plural(seconds / 60, "minute"),
        3_600..86_400 => plural(seconds / 3_600, "hour"),
        _ if elapsed <= Duration::from_secs(30 * 86_400) => plural(seconds / 86_400, "day"),
        _ => rfc3339(time)[..10].to_owned(),
    }
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("1048576", 1_048_576),
            ("512B", 512),
            ("10K", 10 * 1024),
            ("10M", 10 * 1024 * 1024),
            ("10m", 10 * 1024 * 1024),
            ("1G", 1 << 30),
            ("512MiB", 512 << 20),
            ("1GiB", 1 << 30),
            ("1 GiB", 1 << 30),
            ("2TiB", 2 << 40),
            ("10MB", 10_000_000),
            ("1gb", 1_000_000_000),
            ("1.5GiB", 3 << 29),
            ("0.5K", 512),
            (".5KiB", 512),
            ("1.5", 1),
        ];
        for (text, bytes) in cases {
            assert_eq!(parse_size(text), Ok(*bytes), "{text}");
        }
        for bad in [
            "",
            "M",
            "-1",
            "1.2.3",
            "10 apples",
            "1e6",
            "1..5G",
            "99999999999999999999",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?} parsed");
        }
        assert!(parse_size("20000000TiB").unwrap_err().contains("too large"));
    }

    #[test]
    fn sizes_format_in_binary_units() {
        assert_eq!(format_size(0), "0 B");
        assert_eq!(format_size(1023), "1023 B");
        assert_eq!(format_size(1024), "1.0 KiB");
        assert_eq!(format_size(1536), "1.5 KiB");
        assert_eq!(format_size(5 << 20), "5.0 MiB");
        assert_eq!(format_size(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn times_print_as_rfc3339_and_relative() {
        let at = |s: u64| UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(rfc3339(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(at(1_714_566_896)), "2024-05-01T12:34:56Z");
        assert_eq!(rfc3339(at(4_107_542_399)), "2100-02-28T23:59:59Z");
        let now = at(1_714_566_896);
        let before = |s: u64| at(1_714_566_896 - s);
        assert_eq!(ago(before(5), now), "just now");
        assert_eq!(ago(before(60), now), "1 minute ago");
        assert_eq!(ago(before(7_200), now), "2 hours ago");
        assert_eq!(ago(before(3 * 86_400), now), "3 days ago");
        assert_eq!(ago(before(40 * 86_400), now), "2024-03-22");
        assert_eq!(ago(at(1_714_566_896 + 86_400), now), "2024-05-02");
    }
}
