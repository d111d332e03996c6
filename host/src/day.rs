//! Calendar days, `YYYY-MM-DD` in UTC, as packs and keys state them: such days compare as
//! strings in time order.

/// The day of `secs` seconds since the epoch (UTC; the civil-from-days algorithm).
pub fn of(secs: u64) -> String {
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Today, by this machine's clock.
pub fn today() -> String {
    of(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_written_in_the_calendar() {
        assert_eq!(of(0), "1970-01-01");
        assert_eq!(of(1_577_923_200), "2020-01-02");
        assert_eq!(of(1_709_164_800), "2024-02-29");
    }
}
