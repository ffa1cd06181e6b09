//! The `[MCP_CONNECTION]` stdout event protocol (parser and hub land separately).

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for epoch milliseconds (UTC), without a date crate.
pub fn iso8601_from_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let millis = ms % 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if mo <= 2 { y + 1 } else { y };
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}.{millis:03}Z")
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_known_instants() {
        assert_eq!(super::iso8601_from_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            super::iso8601_from_ms(1_795_996_800_123),
            "2026-11-30T00:00:00.123Z"
        );
        assert_eq!(
            super::iso8601_from_ms(951_782_400_000),
            "2000-02-29T00:00:00.000Z"
        );
    }
}
