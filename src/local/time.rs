//! Calendar arithmetic and the date formats used by SigV4 and HTTP.
//!
//! The SigV4 basic format is written by hand (Howard Hinnant's
//! `civil_from_days` / `days_from_civil` algorithms, shared with the signer)
//! so it works for any time; the HTTP `Date` comes from `httpdate`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SECS_PER_DAY: i64 = 86_400;

/// Seconds since the Unix epoch (negative before it), truncated.
pub(crate) fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => {
            let d = e.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            // Round towards negative infinity.
            if d.subsec_nanos() > 0 {
                -secs - 1
            } else {
                -secs
            }
        }
    }
}

/// Seconds since the Unix epoch as a float with millisecond precision, the
/// way AWS JSON protocols encode timestamps.
pub(crate) fn epoch_seconds_f64(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_millis() as f64) / 1000.0,
        Err(e) => -((e.duration().as_millis() as f64) / 1000.0),
    }
}

/// `SystemTime` from seconds since the epoch.
pub(crate) fn from_unix_seconds(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

pub(crate) use crate::civil::civil_from_days;

/// Seconds since the epoch (rounded towards negative infinity) and the
/// nanoseconds after them: every `SystemTime` of a Unix platform, exactly.
pub(crate) fn to_parts(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        ),
        Err(e) => {
            let d = e.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            match d.subsec_nanos() {
                0 => (-secs, 0),
                n => (-secs - 1, 1_000_000_000 - n),
            }
        }
    }
}

/// The inverse of [`to_parts`]; `None` when the platform cannot represent
/// the time or `nanos` is not below one second.
pub(crate) fn from_parts(secs: i64, nanos: u32) -> Option<SystemTime> {
    if nanos >= 1_000_000_000 {
        return None;
    }
    let whole = if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(secs.unsigned_abs()))
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))
    };
    whole?.checked_add(Duration::from_nanos(u64::from(nanos)))
}

/// RFC 3339 in UTC with nanoseconds, e.g. `2023-11-14T22:13:20.000000000Z`:
/// how the local KMS's state file writes times. Years outside 0000..=9999
/// (only an injected clock makes them) take ISO 8601's expanded form, a sign
/// and more digits (`+10000-01-01T00:00:00.000000000Z`), so every time is
/// written exactly.
pub(crate) fn format_rfc3339(t: SystemTime) -> String {
    let (secs, nanos) = to_parts(t);
    let days = secs.div_euclid(SECS_PER_DAY);
    let sod = secs.rem_euclid(SECS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let year = match year {
        0..=9999 => format!("{year:04}"),
        y if y < 0 => format!("-{:04}", y.unsigned_abs()),
        y => format!("+{y}"),
    };
    format!(
        "{year}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// Parses what [`format_rfc3339`] writes, and RFC 3339 UTC times with zero to
/// nine fraction digits (`2023-11-14T22:13:20Z`).
pub(crate) fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1i64, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => (1, s),
    };
    let (date, time) = rest.split_once('T')?;
    let mut date_parts = date.rsplitn(3, '-');
    let (day, month, year) = (date_parts.next()?, date_parts.next()?, date_parts.next()?);
    let digits = |t: &str, min: usize, max: usize| -> Option<i64> {
        if t.len() < min || t.len() > max || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    // Four digits without a sign, more only with one (ISO 8601 expanded).
    let year = if sign == 1 && !s.starts_with('+') {
        digits(year, 4, 4)?
    } else {
        sign * digits(year, 4, 15)?
    };
    let month = u32::try_from(digits(month, 2, 2)?).ok()?;
    let day = u32::try_from(digits(day, 2, 2)?).ok()?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let time = time.strip_suffix('Z')?;
    let (hms, fraction) = match time.split_once('.') {
        Some((hms, f)) => (hms, Some(f)),
        None => (time, None),
    };
    let mut hms_parts = hms.split(':');
    let hour = digits(hms_parts.next()?, 2, 2)?;
    let minute = digits(hms_parts.next()?, 2, 2)?;
    let second = digits(hms_parts.next()?, 2, 2)?;
    if hms_parts.next().is_some() || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let nanos = match fraction {
        None => 0,
        Some(f) => {
            let n = digits(f, 1, 9)?;
            u32::try_from(n * 10i64.pow(9 - f.len() as u32)).ok()?
        }
    };
    let secs = days_from_civil(year, month, day)
        .checked_mul(SECS_PER_DAY)?
        .checked_add(hour * 3600 + minute * 60 + second)?;
    from_parts(secs, nanos)
}

/// Proleptic Gregorian (year, month, day) to days since 1970-01-01.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 }; // [0, 11]
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Broken-down UTC time.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

fn civil(t: SystemTime) -> Civil {
    let secs = unix_seconds(t);
    let days = secs.div_euclid(SECS_PER_DAY);
    let sod = secs.rem_euclid(SECS_PER_DAY) as u32;
    let (year, month, day) = civil_from_days(days);
    Civil {
        year,
        month,
        day,
        hour: sod / 3600,
        minute: (sod / 60) % 60,
        second: sod % 60,
    }
}

/// `YYYYMMDDTHHMMSSZ`, the SigV4 `X-Amz-Date` format.
pub(crate) fn format_amz_date(t: SystemTime) -> String {
    let c = civil(t);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// Parses a strict `YYYYMMDDTHHMMSSZ` timestamp.
pub(crate) fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = b.get(range)?;
        let mut v = 0u32;
        for &d in digits {
            if !d.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(d - b'0');
        }
        Some(v)
    };
    let year = i64::from(num(0..4)?);
    let month = num(4..6)?;
    let day = num(6..8)?;
    let hour = num(9..11)?;
    let minute = num(11..13)?;
    let second = num(13..15)?;
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs =
        days * SECS_PER_DAY + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
    Some(from_unix_seconds(secs))
}

/// The last second IMF-fixdate has a four-digit year for, and the last one
/// `httpdate` accepts (it panics after it, and before the epoch):
/// 9999-12-31T23:59:59Z.
const LAST_HTTP_DATE: Duration = Duration::from_secs(253_402_300_799);

/// RFC 7231 IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`, by `httpdate`.
///
/// The local KMS takes any injected clock; a time outside 1970..=9999 is
/// clamped to the nearest one the format can say rather than panicking.
pub(crate) fn format_http_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t.clamp(UNIX_EPOCH, UNIX_EPOCH + LAST_HTTP_DATE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips() {
        for days in (-800_000i64..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(days_from_civil(2015, 8, 30), 16_677);
    }

    #[test]
    fn amz_date_format_and_parse() {
        let t = parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(unix_seconds(t), 1_440_938_160);
        assert_eq!(format_amz_date(t), "20150830T123600Z");
        assert_eq!(format_amz_date(UNIX_EPOCH), "19700101T000000Z");
        for bad in [
            "",
            "20150830T123600",
            "20150830 123600Z",
            "2015083OT123600Z",
            "20151330T123600Z",
            "20150230T123600Z",
            "20150830T243600Z",
            "20150830T126000Z",
            "+0150830T123600Z",
            "20150830T123600Zx",
        ] {
            assert!(parse_amz_date(bad).is_none(), "{bad}");
        }
        assert!(parse_amz_date("20160229T000000Z").is_some());
        assert!(parse_amz_date("21000229T000000Z").is_none());
    }

    #[test]
    fn http_date() {
        // RFC 7231's own example.
        assert_eq!(
            format_http_date(from_unix_seconds(784_111_777)),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            format_http_date(UNIX_EPOCH),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
        assert_eq!(
            format_http_date(parse_amz_date("20150830T123600Z").unwrap()),
            "Sun, 30 Aug 2015 12:36:00 GMT"
        );
        // The edges of the format, and clamping beyond them.
        let last = from_unix_seconds(253_402_300_799);
        assert_eq!(format_amz_date(last), "99991231T235959Z");
        assert_eq!(format_http_date(last), "Fri, 31 Dec 9999 23:59:59 GMT");
        for later in [
            last + Duration::from_millis(999),
            last + Duration::from_secs(1),
            from_unix_seconds(i64::from(u32::MAX) * 1_000),
        ] {
            assert_eq!(format_http_date(later), "Fri, 31 Dec 9999 23:59:59 GMT");
        }
        for earlier in [
            UNIX_EPOCH - Duration::from_nanos(1),
            from_unix_seconds(-1),
            from_unix_seconds(-(i64::from(u32::MAX) * 1_000)),
        ] {
            assert_eq!(format_http_date(earlier), "Thu, 01 Jan 1970 00:00:00 GMT");
        }
    }

    #[test]
    fn rfc3339_round_trips_every_time() {
        let t = parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(format_rfc3339(t), "2015-08-30T12:36:00.000000000Z");
        assert_eq!(parse_rfc3339("2015-08-30T12:36:00Z"), Some(t));
        assert_eq!(
            parse_rfc3339("2015-08-30T12:36:00.5Z"),
            Some(t + Duration::from_millis(500))
        );
        let samples = [
            UNIX_EPOCH,
            UNIX_EPOCH + Duration::from_nanos(1),
            UNIX_EPOCH - Duration::from_nanos(1),
            UNIX_EPOCH - Duration::from_secs(86_400 * 800_000) - Duration::from_nanos(7),
            t + Duration::from_nanos(123_456_789),
            from_unix_seconds(253_402_300_799) + Duration::from_nanos(999_999_999),
            from_unix_seconds(253_402_300_800),
            from_unix_seconds(i64::MAX / 4),
            from_unix_seconds(-(i64::MAX / 4)),
        ];
        for s in samples {
            let text = format_rfc3339(s);
            assert_eq!(parse_rfc3339(&text), Some(s), "{text}");
        }
        assert_eq!(
            format_rfc3339(from_unix_seconds(253_402_300_800)),
            "+10000-01-01T00:00:00.000000000Z"
        );
        assert_eq!(
            format_rfc3339(UNIX_EPOCH - Duration::from_nanos(1)),
            "1969-12-31T23:59:59.999999999Z"
        );
        assert!(format_rfc3339(from_unix_seconds(-(i64::MAX / 4))).starts_with('-'));
        for bad in [
            "",
            "2015-08-30",
            "2015-08-30T12:36:00",
            "2015-08-30T12:36:00+00:00",
            "2015-8-30T12:36:00Z",
            "2015-02-30T12:36:00Z",
            "2015-08-30T24:00:00Z",
            "2015-08-30T12:60:00Z",
            "2015-08-30T12:36:00.Z",
            "2015-08-30T12:36:00.1234567890Z",
            "12015-08-30T12:36:00Z",
            "+2015-08-30T12:36:00Zx",
            "2015-08-30T12:36:00:00Z",
            "\u{e9}",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        for (secs, nanos) in [(0, 0), (-1, 999_999_999), (5, 1), (i64::MIN / 2, 3)] {
            let t = from_parts(secs, nanos).unwrap();
            assert_eq!(to_parts(t), (secs, nanos));
        }
        assert_eq!(from_parts(0, 1_000_000_000), None);
    }

    #[test]
    fn epoch_float() {
        let t = UNIX_EPOCH + Duration::from_millis(1_500);
        assert_eq!(epoch_seconds_f64(t), 1.5);
    }
}
