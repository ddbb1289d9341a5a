//! Timestamps as the pages show them, always UTC. chrono's `format` parses its pattern on every
//! call, which was a tenth of the payouts list's CPU time (BENCHMARKS.md); these write the fields
//! directly.

use std::fmt;

use chrono::{Datelike, NaiveDateTime, Timelike};

/// In templates: `{{ at.iso() }}` for `<time datetime>`, `{{ at.minutes_utc() }}` and
/// `{{ at.seconds_utc() }}` for the text a reader sees.
pub trait Stamp {
    fn iso(&self) -> Shown;
    fn minutes_utc(&self) -> Shown;
    fn seconds_utc(&self) -> Shown;
}

#[derive(Clone, Copy)]
enum Style {
    Iso,
    Minutes,
    Seconds,
}

pub struct Shown(NaiveDateTime, Style);

impl Stamp for NaiveDateTime {
    fn iso(&self) -> Shown {
        Shown(*self, Style::Iso)
    }
    fn minutes_utc(&self) -> Shown {
        Shown(*self, Style::Minutes)
    }
    fn seconds_utc(&self) -> Shown {
        Shown(*self, Style::Seconds)
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        let (y, mo, d, h, mi, s) = (t.year(), t.month(), t.day(), t.hour(), t.minute(), t.second());
        match self.1 {
            Style::Iso => write!(f, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
            Style::Minutes => write!(f, "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02} UTC"),
            Style::Seconds => write!(f, "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC"),
        }
    }
}

/// How old something observed at `at` is at `now`: "just now", "3 min ago", "5 h ago".
pub fn age(at: &NaiveDateTime, now: &NaiveDateTime) -> String {
    match (*now - *at).num_minutes() {
        m if m < 1 => "just now".into(),
        m if m < 120 => format!("{m} min ago"),
        m if m < 48 * 60 => format!("{} h ago", m / 60),
        m => format!("{} days ago", m / (24 * 60)),
    }
}

#[cfg(test)]
mod tests {
    use super::Stamp;
    use chrono::NaiveDate;

    #[test]
    fn matches_the_chrono_patterns_it_replaces() {
        for (date, time) in [((2026, 1, 2), (3, 4, 5)), ((999, 12, 31), (23, 59, 59)), ((2026, 11, 24), (0, 0, 0))] {
            let t =
                NaiveDate::from_ymd_opt(date.0, date.1, date.2).unwrap().and_hms_opt(time.0, time.1, time.2).unwrap();
            assert_eq!(t.iso().to_string(), t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
            assert_eq!(t.minutes_utc().to_string(), t.format("%Y-%m-%d %H:%M UTC").to_string());
            assert_eq!(t.seconds_utc().to_string(), t.format("%Y-%m-%d %H:%M:%S UTC").to_string());
        }
    }
}
