//! Calendar arithmetic for log timestamps and the image times DISM prints.

use std::time::{SystemTime, UNIX_EPOCH};

/// A UTC date and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl DateTime {
    pub fn from_unix(secs: i64) -> Self {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400) as u32;
        // Days to civil date (proleptic Gregorian), counting from 0000-03-01.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Self {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
        }
    }

    /// A Windows FILETIME (100 ns ticks since 1601-01-01).
    pub fn from_filetime(ticks: u64) -> Self {
        Self::from_unix((ticks / 10_000_000) as i64 - 11_644_473_600)
    }

    pub fn now() -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        Self::from_unix(secs)
    }

    /// `2022-02-15 12:41:13`, as in DISM's log.
    pub fn log_format(&self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `4/1/2019 - 8:09:02 PM`, as in DISM's image details.
    pub fn dism_format(&self) -> String {
        let (hour12, meridiem) = match self.hour {
            0 => (12, "AM"),
            h @ 1..=11 => (h, "AM"),
            12 => (12, "PM"),
            h => (h - 12, "PM"),
        };
        format!(
            "{}/{}/{} - {}:{:02}:{:02} {}",
            self.month, self.day, self.year, hour12, self.minute, self.second, meridiem
        )
    }
}

#[cfg(test)]
mod tests {
    use super::DateTime;

    #[test]
    fn known_dates() {
        assert_eq!(DateTime::from_unix(0).log_format(), "1970-01-01 00:00:00");
        assert_eq!(
            DateTime::from_unix(1_554_149_342).dism_format(),
            "4/1/2019 - 8:09:02 PM"
        );
        assert_eq!(
            DateTime::from_unix(951_782_400).log_format(),
            "2000-02-29 00:00:00"
        );
        assert_eq!(
            DateTime::from_filetime(116_444_736_000_000_000).log_format(),
            "1970-01-01 00:00:00"
        );
        assert_eq!(
            DateTime::from_unix(43_200 + 5).dism_format(),
            "1/1/1970 - 12:00:05 PM"
        );
        assert_eq!(
            DateTime::from_unix(5).dism_format(),
            "1/1/1970 - 12:00:05 AM"
        );
    }
}
