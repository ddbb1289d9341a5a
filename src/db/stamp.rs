//! Reading SQLite's timestamps without chrono's pattern parser: diesel tries `strftime`-style
//! patterns in turn for every timestamp cell, the largest single cost of a 50-row list page
//! (BENCHMARKS.md). The text this product writes has one fixed layout, read here digit by digit;
//! anything else falls back to diesel's own reading. PostgreSQL sends binary timestamps and is
//! read as before.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::sql_types::Timestamp;
use diesel::sqlite::Sqlite;

use super::{MultiBackend, MultiRawValue};

/// A timestamp column read into a `NaiveDateTime`: `#[diesel(deserialize_as = Stamp)]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::deserialize::FromSqlRow)]
pub struct Stamp(pub NaiveDateTime);

impl From<Stamp> for NaiveDateTime {
    fn from(s: Stamp) -> Self {
        s.0
    }
}

/// `YYYY-MM-DD HH:MM:SS` (or with `T`), then an optional fraction of up to nine digits.
pub fn parse_fixed(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b' ' | b'T') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, d| d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0')))
    };
    let mut nanos = 0;
    if b.len() > 19 {
        let digits = &b[20..];
        if b[19] != b'.' || digits.is_empty() || digits.len() > 9 {
            return None;
        }
        nanos = num(20, b.len())? * 10u32.pow(9 - digits.len() as u32);
    }
    NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 7)?, num(8, 10)?)?.and_hms_nano_opt(
        num(11, 13)?,
        num(14, 16)?,
        num(17, 19)?,
        nanos,
    )
}

impl FromSql<Timestamp, Sqlite> for Stamp {
    fn from_sql(mut value: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        if let Some(t) = parse_fixed(value.read_text()) {
            return Ok(Stamp(t));
        }
        <NaiveDateTime as FromSql<Timestamp, Sqlite>>::from_sql(value).map(Stamp)
    }
}

impl FromSql<Timestamp, Pg> for Stamp {
    fn from_sql(value: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        <NaiveDateTime as FromSql<Timestamp, Pg>>::from_sql(value).map(Stamp)
    }
}

impl FromSql<Timestamp, MultiBackend> for Stamp {
    fn from_sql(value: MultiRawValue<'_>) -> deserialize::Result<Self> {
        value.from_sql::<Self, Timestamp>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_diesel_writes_as_chrono_does() {
        for text in [
            "2026-11-25 08:29:55",
            "2026-11-25 08:29:55.1",
            "2026-11-25 08:29:55.123456",
            "2026-11-25T08:29:55.123456789",
            "1999-12-31 23:59:59.000001",
            "2024-02-29 00:00:00",
        ] {
            let chrono = NaiveDateTime::parse_from_str(&text.replace('T', " "), "%Y-%m-%d %H:%M:%S%.f").unwrap();
            assert_eq!(parse_fixed(text), Some(chrono), "{text}");
        }
    }

    #[test]
    fn leaves_other_layouts_to_the_fallback() {
        for text in [
            "2026-11-25",
            "2026-13-01 00:00:00",
            "2023-02-29 00:00:00",
            "2026-11-25 08:29:55.",
            "2026-11-25 08:29:5x",
            "2459000.5",
        ] {
            assert_eq!(parse_fixed(text), None, "{text}");
        }
    }
}
