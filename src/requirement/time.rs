//! Requirement dates: seconds since 2001-01-01 00:00:00 UTC (Core Foundation's absolute time).

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};

/// Seconds between the Unix epoch and 2001-01-01 00:00:00 UTC.
pub const CF_EPOCH_UNIX: i64 = 978_307_200;

/// Absolute time → UTC date, `None` when out of chrono's range.
pub fn to_datetime(secs: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(secs.checked_add(CF_EPOCH_UNIX)?, 0)
        .single()
}

/// UTC date → absolute time.
pub fn from_datetime(dt: DateTime<Utc>) -> Option<i64> {
    dt.timestamp().checked_sub(CF_EPOCH_UNIX)
}

/// The dumper's form, `2019-01-01 00:00:00 +0000` (NSDate's description).
pub fn dumper_date(secs: i64) -> String {
    match to_datetime(secs) {
        Some(dt) => dt.format("%Y-%m-%d %H:%M:%S +0000").to_string(),
        None => format!("{secs} seconds after 2001-01-01"),
    }
}

/// Parse the dumper's form back.
pub fn parse_dumper_date(text: &str) -> Option<i64> {
    let dt = DateTime::<FixedOffset>::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S %z").ok()?;
    from_datetime(dt.with_timezone(&Utc))
}

/// Parse ASN.1 GeneralizedTime content (`20190101000000Z`, optional fraction, `Z` or `±hhmm`),
/// as the grammar's `timestamp "…"` and certificate date extensions carry it.
pub fn parse_generalized(text: &str) -> Option<i64> {
    let t = text.trim();
    let digits = t.get(..14)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let naive = NaiveDateTime::parse_from_str(digits, "%Y%m%d%H%M%S").ok()?;
    let mut rest = t.get(14..)?;
    if let Some(frac) = rest.strip_prefix('.').or_else(|| rest.strip_prefix(',')) {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = frac.get(n..)?;
    }
    let offset_secs: i64 = match rest {
        "" | "Z" => 0,
        o if o.len() == 5 && (o.starts_with('+') || o.starts_with('-')) => {
            let h: i64 = o.get(1..3)?.parse().ok()?;
            let m: i64 = o.get(3..5)?.parse().ok()?;
            let v = h * 3600 + m * 60;
            if o.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    naive
        .and_utc()
        .timestamp()
        .checked_sub(offset_secs)?
        .checked_sub(CF_EPOCH_UNIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_is_2001() {
        assert_eq!(parse_generalized("20010101000000Z"), Some(0));
        assert_eq!(dumper_date(0), "2001-01-01 00:00:00 +0000");
        assert_eq!(parse_dumper_date("2001-01-01 01:00:00 +0100"), Some(0));
        assert_eq!(parse_generalized("20190101000000Z"), Some(567_993_600));
        assert_eq!(parse_generalized("2019010100000"), None);
    }
}
