//! Durations as people write them (`500ms`, `30s`, `5m`, `1h30m`), for timeouts in flags,
//! environment variables and messages.

use std::fmt;
use std::time::Duration;

/// A duration as people write it: `500ms`, `30s`, `5m`, `1h30m`; what [`parse_duration`]
/// reads back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisplayDuration(pub Duration);

impl fmt::Display for DisplayDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0.as_millis();
        if millis == 0 || !millis.is_multiple_of(1000) {
            return write!(f, "{millis}ms");
        }
        let seconds = millis / 1000;
        let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if s > 0 {
            write!(f, "{s}s")?;
        }
        Ok(())
    }
}

/// A duration that [`parse_duration`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {text:?}: write a positive number with a unit, ms, s, m or h \
     (e.g. 500ms, 30s, 5m, 1h30m)"
)]
#[non_exhaustive]
pub struct InvalidDuration {
    /// The text as given.
    pub text: String,
}

/// Reads a positive duration: one or more `<number><unit>` parts (`500ms`, `30s`, `1.5m`,
/// `1h30m`), units `ms`, `s`, `m`, `h`, as Go's `time.ParseDuration` writes them. Zero,
/// negative numbers, a missing unit and more than a year are refused.
pub fn parse_duration(text: &str) -> Result<Duration, InvalidDuration> {
    let invalid = || InvalidDuration {
        text: text.to_owned(),
    };
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let (number, tail) = rest.split_at(number_end);
        if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let seconds = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        total += value * seconds;
        rest = tail;
    }
    const YEAR: f64 = 365.0 * 24.0 * 3600.0;
    if !(total > 0.0 && total <= YEAR) {
        return Err(invalid());
    }
    let duration = Duration::from_secs_f64(total);
    // Whole milliseconds, as they are printed.
    Ok(Duration::from_millis(duration.as_millis().max(1) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        let table = [
            ("500ms", 500, "500ms"),
            ("30s", 30_000, "30s"),
            ("5m", 300_000, "5m"),
            ("1h", 3_600_000, "1h"),
            ("1h30m", 5_400_000, "1h30m"),
            ("1.5s", 1500, "1500ms"),
            (" 2m3s ", 123_000, "2m3s"),
            ("90s", 90_000, "1m30s"),
        ];
        for (text, millis, shown) in table {
            let duration = parse_duration(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(duration, Duration::from_millis(millis), "{text}");
            assert_eq!(DisplayDuration(duration).to_string(), shown, "{text}");
            assert_eq!(parse_duration(shown), Ok(duration), "{shown} reads back");
        }
        for bad in [
            "", "30", "s", "0s", "-1s", "1d", "1 s", "1.s", ".5s", "1e3s", "1ss", "9000h", "ten s",
        ] {
            let error = parse_duration(bad).expect_err(bad);
            assert!(error.to_string().contains("e.g. 500ms, 30s"), "{error}");
        }
    }
}
