//! Wall-clock helpers: Unix seconds, and dates for pages and messages.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds in one day.
pub const DAY: i64 = 86_400;

/// Now, in whole Unix seconds.
pub fn now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

/// A Unix time as a `SystemTime` (times before 1970 clamp to the epoch).
pub fn to_system_time(unix: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(unix).unwrap_or(0))
}

/// A `SystemTime` as Unix seconds (times before 1970 clamp to 0).
pub fn from_system_time(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)).unwrap_or(0)
}

/// The civil date (year, month, day) of a Unix time, UTC.
fn civil(unix: i64) -> (i64, u32, u32) {
    // Howard Hinnant's days-from-civil inverse.
    let z = unix.div_euclid(DAY) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYY-MM-DD` (UTC), for machine-readable attributes.
pub fn iso_date(unix: i64) -> String {
    let (y, m, d) = civil(unix);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub fn iso_datetime(unix: i64) -> String {
    let secs = unix.rem_euclid(DAY);
    format!("{}T{:02}:{:02}:{:02}Z", iso_date(unix), secs / 3600, (secs / 60) % 60, secs % 60)
}

/// `12 March 2027`, the NHS style for dates in text.
pub fn long_date(unix: i64) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let (y, m, d) = civil(unix);
    let month = MONTHS.get(m as usize - 1).copied().unwrap_or("?");
    format!("{d} {month} {y}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_format_known_instants() {
        assert_eq!(iso_date(0), "1970-01-01");
        assert_eq!(iso_datetime(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(long_date(1_773_273_600), "12 March 2026");
        assert_eq!(iso_date(-DAY), "1969-12-31");
    }
}
