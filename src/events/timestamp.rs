//! ISO-8601 timestamps as they appear on the wire (`2026-11-24T00:00:00.000Z`).
//!
//! A [`Timestamp`] keeps the text it was read from (so a line round-trips byte for byte) and the
//! instant it names in milliseconds since the Unix epoch (for stats and JS `Date`s).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An ISO-8601 / RFC 3339 date-time: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Timestamp {
    text: String,
    epoch_ms: i64,
}

/// Why a string is not an ISO-8601 date-time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an ISO-8601 date-time: {0:?}")]
pub struct TimestampError(pub String);

impl Timestamp {
    /// Parses and validates `text`; keeps it verbatim.
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        match parse_iso8601(text.as_bytes()) {
            Some(epoch_ms) => Ok(Self {
                text: text.to_owned(),
                epoch_ms,
            }),
            None => Err(TimestampError(excerpt(text))),
        }
    }

    /// The instant `epoch_ms` written the way JavaScript's `Date#toISOString` writes it
    /// (`2026-11-24T00:00:00.000Z`).
    pub fn from_epoch_ms(epoch_ms: i64) -> Self {
        Self {
            text: format_epoch_ms(epoch_ms),
            epoch_ms,
        }
    }

    /// The current time, to the millisecond.
    pub fn now() -> Self {
        let ms = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
        };
        Self::from_epoch_ms(ms)
    }

    /// `text` with the instant it was validated to name (see [`validate_iso8601`]).
    pub(crate) fn from_validated(text: String, epoch_ms: i64) -> Self {
        Self { text, epoch_ms }
    }

    /// The instant, in milliseconds since 1970-01-01T00:00:00Z.
    pub fn epoch_ms(&self) -> i64 {
        self.epoch_ms
    }

    /// The text as written on the wire.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        let ms = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
        };
        Self::from_epoch_ms(ms)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Timestamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The instant an ISO-8601 date-time names, in epoch ms, without allocating.
pub fn validate_iso8601(text: &str) -> Result<i64, TimestampError> {
    parse_iso8601(text.as_bytes()).ok_or_else(|| TimestampError(excerpt(text)))
}

fn excerpt(s: &str) -> String {
    s.chars().take(40).collect()
}

fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian; H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.f+](Z|z|±HH:MM)` → epoch ms. `t`/space separators are accepted as
/// RFC 3339 allows; a leap second (`:60`) is not.
fn parse_iso8601(b: &[u8]) -> Option<i64> {
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut i = 19;
    let mut millis = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let frac = &b[start..i];
        if frac.is_empty() {
            return None;
        }
        let mut scale = 100;
        for &c in frac.iter().take(3) {
            millis += i64::from(c - b'0') * scale;
            scale /= 10;
        }
    }
    let offset_min = match &b[i..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let h = digits(&[*h1, *h2])?;
            let m = digits(&[*m1, *m2])?;
            if h > 23 || m > 59 {
                return None;
            }
            let off = h * 60 + m;
            if *sign == b'-' {
                -off
            } else {
                off
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_min * 60;
    Some(secs * 1000 + millis)
}

fn format_epoch_ms(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let (h, rem) = (rem / 3_600_000, rem % 3_600_000);
    let (mi, rem) = (rem / 60_000, rem % 60_000);
    let (s, milli) = (rem / 1000, rem % 1000);
    if (0..=9999).contains(&y) {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
    } else {
        // JS writes extended years as ±YYYYYY; they are outside what `parse` accepts, so clamp.
        let y = y.clamp(0, 9999);
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_js_iso_strings() {
        let t = Timestamp::parse("2026-11-24T00:00:00.000Z").unwrap();
        assert_eq!(t.epoch_ms(), 1_795_478_400_000);
        assert_eq!(
            Timestamp::parse("1970-01-01T00:00:00Z").unwrap().epoch_ms(),
            0
        );
        assert_eq!(
            Timestamp::parse("1970-01-01T01:00:00.5+01:00")
                .unwrap()
                .epoch_ms(),
            500
        );
        assert_eq!(
            Timestamp::parse("2024-02-29T23:59:59.123456789Z")
                .unwrap()
                .epoch_ms()
                % 1000,
            123
        );
    }

    #[test]
    fn rejects_bad_strings() {
        for bad in [
            "",
            "2026-11-24",
            "2026-11-24T00:00:00",
            "2026-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2026-11-24T24:00:00Z",
            "2026-11-24T00:00:00.Z",
            "2026-11-24T00:00:00.000Zjunk",
            "2026-11-24T00:00:00+0100",
            "abcd-11-24T00:00:00Z",
            "2026-11-24T00:00:60Z",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_like_js() {
        assert_eq!(
            Timestamp::from_epoch_ms(1_795_478_400_123).as_str(),
            "2026-11-24T00:00:00.123Z"
        );
        assert_eq!(
            Timestamp::from_epoch_ms(-1).as_str(),
            "1969-12-31T23:59:59.999Z"
        );
        for ms in [0_i64, 951_782_400_000, 1_700_000_000_001, 4_102_444_800_000] {
            let t = Timestamp::from_epoch_ms(ms);
            assert_eq!(Timestamp::parse(t.as_str()).unwrap().epoch_ms(), ms);
        }
    }
}
