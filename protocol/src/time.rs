//! RFC 3339 timestamps for JSON, to and from the core's microseconds since the epoch.
//!
//! Output is always UTC with microseconds (`2026-11-25T22:33:12.000123Z`); input accepts a
//! `Z` or `±HH:MM` offset and up to six fractional digits. Civil-date arithmetic follows
//! Howard Hinnant's `days_from_civil` / `civil_from_days`. The gateway's JSON uses it, and so
//! does the load generator to read the server's times back.

use crate::types::Timestamp;

fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

pub fn format(at: Timestamp) -> String {
    let micros = at.0.rem_euclid(1_000_000);
    let secs = at.0.div_euclid(1_000_000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

fn number(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.ffffff](Z|±HH:MM)`. Total: any text gives a time or
/// `None`, never a panic.
pub fn parse(text: &str) -> Option<Timestamp> {
    // RFC 3339 is ASCII; checking first makes every slice below fall on a character
    // boundary (a multi-byte character where a digit belongs used to panic here).
    if !text.is_ascii() {
        return None;
    }
    let bytes = text.as_bytes();
    if bytes.len() < 20
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b't')
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        return None;
    }
    let year = number(&text[0..4])?;
    let month = number(&text[5..7])?;
    let day = number(&text[8..10])?;
    let hour = number(&text[11..13])?;
    let minute = number(&text[14..16])?;
    let second = number(&text[17..19])?;
    let mut rest = &text[19..];
    let mut micros = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 6 {
            return None;
        }
        micros = number(&fraction[..digits])? * 10i64.pow(6 - digits as u32);
        rest = &fraction[digits..];
    }
    let offset_seconds = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && rest.as_bytes()[3] == b':' => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (hours, minutes) = (number(&rest[1..3])?, number(&rest[4..6])?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            sign * (hours * 3_600 + minutes * 60)
        }
        _ => return None,
    };
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=days_in_month).contains(&day) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second
        - offset_seconds;
    // The instant must itself be writable as YYYY in UTC (an offset can push year 0000 or
    // 9999 over the edge), so that what is parsed always formats and parses back.
    let first = days_from_civil(0, 1, 1) * 86_400;
    let last = days_from_civil(9999, 12, 31) * 86_400 + 86_399;
    if !(first..=last).contains(&seconds) {
        return None;
    }
    Some(Timestamp(
        seconds.checked_mul(1_000_000)?.checked_add(micros)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_offsets() {
        let cases = [
            ("1970-01-01T00:00:00Z", 0),
            ("2026-11-25T22:33:12.000123Z", 1_795_645_992_000_123),
            ("2000-02-29T12:00:00+02:00", 951_818_400_000_000),
            ("1969-12-31T23:59:59.5Z", -500_000),
            ("2000-02-29T00:00:01.5Z", 951_782_401_500_000),
            ("2025-12-31T23:59:59.000007Z", 1_767_225_599_000_007),
        ];
        for (text, micros) in cases {
            assert_eq!(parse(text), Some(Timestamp(micros)), "{text}");
            assert_eq!(parse(&format(Timestamp(micros))), Some(Timestamp(micros)));
        }
        assert_eq!(format(Timestamp(0)), "1970-01-01T00:00:00.000000Z");
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-01-01 00:00:00Z",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00.1234567Z",
            "2025-12-31T23:59:59.Z",
            "2025-1x-31T23:59:59Z",
            "",
            "tomorrow",
            // Multi-byte characters where digits or separators belong (these panicked).
            "2026-01-01T00:00:0\u{e9}",
            "2026-01-01T00:00:00.\u{e9}Z",
            "2026-01-01T00:00:00+0\u{e9}:00",
            "\u{e9}026-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z\u{1F600}",
            // Offsets past 23:59, and instants outside years 0000–9999 in UTC.
            "2026-01-01T00:00:00+24:00",
            "2026-01-01T00:00:00+01:60",
            "0000-01-01T00:00:00+00:01",
            "9999-12-31T23:59:59-00:01",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
