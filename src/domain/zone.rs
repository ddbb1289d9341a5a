//! An organization's time zone (IANA names, from chrono-tz's copy of the tz database): pay days
//! and recurring schedules are typed and shown in it, and stored in UTC.

use chrono::{LocalResult, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone(Tz);

impl Default for Zone {
    fn default() -> Self {
        Zone(Tz::UTC)
    }
}

impl Zone {
    pub const UTC: Zone = Zone(Tz::UTC);

    /// A zone by its IANA name, such as `Europe/Berlin`; names are matched exactly.
    pub fn parse(name: &str) -> Result<Zone, String> {
        let name = name.trim();
        if name.is_empty() || name.len() > 64 {
            return Err("Enter a time zone name such as Europe/Berlin or UTC.".into());
        }
        name.parse::<Tz>().map(Zone).map_err(|_| {
            format!("{name:?} is not a time zone name; use one such as Europe/Berlin, America/New_York or UTC.")
        })
    }

    /// A stored name; an unknown one (never written by [`Zone::parse`]) reads as UTC.
    pub fn stored(name: &str) -> Zone {
        name.parse::<Tz>().map(Zone).unwrap_or_default()
    }

    pub fn name(self) -> &'static str {
        self.0.name()
    }

    pub fn is_utc(self) -> bool {
        matches!(self.0, Tz::UTC | Tz::Etc__UTC)
    }

    /// The UTC instant of a wall-clock time here. A time the clocks skip (spring forward) is
    /// refused; a time they pass twice (fall back) is the first of the two.
    pub fn to_utc(self, local: NaiveDateTime) -> Result<NaiveDateTime, String> {
        match self.0.from_local_datetime(&local) {
            LocalResult::Single(t) => Ok(t.naive_utc()),
            LocalResult::Ambiguous(first, _) => Ok(first.naive_utc()),
            LocalResult::None => Err(format!(
                "{} does not exist in {} (the clocks move forward then); choose another time.",
                local.format("%Y-%m-%d %H:%M"),
                self.name()
            )),
        }
    }

    /// The wall-clock time here of a UTC instant.
    pub fn local(self, utc: NaiveDateTime) -> NaiveDateTime {
        self.0.from_utc_datetime(&utc).naive_local()
    }

    /// A UTC instant as people here read it: `2026-12-25 09:00 Europe/Berlin (08:00 UTC)`, or
    /// `2026-12-25 08:00 UTC` when the zone is UTC.
    pub fn describe(self, utc: NaiveDateTime) -> String {
        if self.is_utc() {
            return format!("{} UTC", utc.format("%Y-%m-%d %H:%M"));
        }
        let local = self.local(utc);
        let same_day = local.date() == utc.date();
        let utc_part =
            if same_day { utc.format("%H:%M").to_string() } else { utc.format("%Y-%m-%d %H:%M").to_string() };
        format!("{} {} ({utc_part} UTC)", local.format("%Y-%m-%d %H:%M"), self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::Zone;
    use chrono::NaiveDate;

    fn at(y: i32, m: u32, d: u32, h: u32, mi: u32) -> chrono::NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d).unwrap().and_hms_opt(h, mi, 0).unwrap()
    }

    #[test]
    fn wall_clock_times_become_utc_across_daylight_saving() {
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        assert_eq!(berlin.to_utc(at(2026, 12, 25, 9, 0)).unwrap(), at(2026, 12, 25, 8, 0), "winter: UTC+1");
        assert_eq!(berlin.to_utc(at(2026, 6, 25, 9, 0)).unwrap(), at(2026, 6, 25, 7, 0), "summer: UTC+2");
        assert!(berlin.to_utc(at(2026, 3, 29, 2, 30)).unwrap_err().contains("does not exist"));
        assert_eq!(berlin.to_utc(at(2026, 10, 25, 2, 30)).unwrap(), at(2026, 10, 25, 0, 30), "first of the two");
        assert_eq!(berlin.local(at(2026, 12, 25, 8, 0)), at(2026, 12, 25, 9, 0));
        assert_eq!(berlin.describe(at(2026, 12, 25, 8, 0)), "2026-12-25 09:00 Europe/Berlin (08:00 UTC)");
        assert_eq!(Zone::UTC.describe(at(2026, 12, 25, 8, 0)), "2026-12-25 08:00 UTC");
        let tokyo = Zone::parse("Asia/Tokyo").unwrap();
        assert_eq!(tokyo.describe(at(2026, 12, 24, 23, 0)), "2026-12-25 08:00 Asia/Tokyo (2026-12-24 23:00 UTC)");
    }

    #[test]
    fn names_are_checked() {
        assert!(Zone::parse("Mars/Olympus").unwrap_err().contains("not a time zone"));
        assert!(Zone::parse("").is_err());
        assert!(Zone::parse(&"A".repeat(300)).is_err());
        assert_eq!(Zone::stored("garbage"), Zone::UTC);
        assert_eq!(Zone::parse(" UTC ").unwrap().name(), "UTC");
    }
}
