//! How old the lists are. Each organization sets how old a list it accepts (default 7 days); a
//! list imported longer ago than that is named to its admins on the dashboard, on Settings →
//! Compliance and by a notice (once per list version), because screening against it misses
//! whoever was listed since.

use chrono::{Duration, NaiveDateTime};
use serde_json::json;

use crate::db::sanctions::ListRow;
use crate::db::{self, DbConnection};
use crate::domain::FieldErrors;
use crate::domain::account::Role;
use crate::domain::event::SANCTIONS_LIST_STALE;
use crate::error::AppError;
use crate::service::access::Actor;
use crate::service::access::audit::{self, Entry};

pub const DEFAULT_MAX_AGE_DAYS: i32 = 7;
/// The longest an organization may let a list age.
pub const MAX_AGE_DAYS_LIMIT: i32 = 90;

/// A list in force and how old it is for one organization.
#[derive(Debug, Clone)]
pub struct ListAge {
    pub list: ListRow,
    /// Whole days since it was last imported.
    pub age_days: i64,
    pub stale: bool,
    /// The organization's limit, in days.
    pub max_days: i32,
}

/// Every list (in force or not yet) and its age against `org_id`'s limit, with the limit.
pub fn ages(conn: &mut DbConnection, org_id: i64, now: NaiveDateTime) -> Result<(Vec<ListAge>, i32), AppError> {
    let max = db::orgs::find(conn, org_id)?.sanctions_max_age_days;
    let lists = db::sanctions::lists(conn)?;
    Ok((lists.into_iter().map(|list| age_of(list, max, now)).collect(), max))
}

fn age_of(list: ListRow, max_days: i32, now: NaiveDateTime) -> ListAge {
    let age = now - list.imported_at;
    let stale = list.version > 0 && age > Duration::days(max_days.into());
    ListAge { age_days: age.num_days().max(0), stale, list, max_days }
}

/// The lists in force that are older than `org_id` allows.
pub fn stale(conn: &mut DbConnection, org_id: i64, now: NaiveDateTime) -> Result<Vec<ListAge>, AppError> {
    Ok(ages(conn, org_id, now)?.0.into_iter().filter(|a| a.stale).collect())
}

/// Sets how old a list the organization accepts, in whole days (admins, fresh second factor,
/// audited).
pub fn set_max_age(conn: &mut DbConnection, actor: &Actor, days: &str) -> Result<i32, AppError> {
    actor.require(Role::can_administer)?;
    let days: i32 = days.trim().parse().ok().filter(|d| (1..=MAX_AGE_DAYS_LIMIT).contains(d)).ok_or_else(|| {
        FieldErrors::single("max_age_days", format!("Type a whole number of days from 1 to {MAX_AGE_DAYS_LIMIT}."))
    })?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        crate::service::access::second_factor::require_fresh(conn, actor, "Changing how old a sanctions list may be")?;
        let before = db::orgs::find(conn, actor.org_id)?.sanctions_max_age_days;
        if before != days {
            db::orgs::set_sanctions_max_age_days(conn, actor.org_id, days)?;
            let entry = Entry::by(actor, "compliance.max_age_changed", "organization", actor.org_id)
                .detail(format!("{before} → {days} days"));
            audit::record(conn, entry, at)?;
        }
        Ok(days)
    })
}

/// Tells each organization's admins of each list in force that grew older than it allows: once
/// per list version, across every server process. Returns how many were told.
pub fn announce_stale(conn: &mut DbConnection, at: NaiveDateTime) -> Result<usize, AppError> {
    let lists = db::sanctions::lists(conn)?;
    if lists.iter().all(|l| l.version == 0) {
        return Ok(0);
    }
    let mut told = 0;
    for (org, max) in db::orgs::sanctions_max_ages(conn)? {
        for a in lists.iter().cloned().map(|l| age_of(l, max, at)).filter(|a| a.stale) {
            let key = format!("sanctions_stale_told:{org}:{}", a.list.name);
            let version = a.list.version.to_string();
            let data = json!({
                "list": a.list.name,
                "version": a.list.version,
                "imported_at": a.list.imported_at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "age_days": a.age_days,
                "max_age_days": max,
            });
            let first = db::write_tx(conn, |conn| -> Result<bool, AppError> {
                let before = db::settings::get(conn, &key)?;
                if before.as_deref() == Some(version.as_str())
                    || !db::settings::compare_and_set(conn, &key, before.as_deref(), &version)?
                {
                    return Ok(false);
                }
                db::events::append(conn, &[db::events::NewEvent::json(org, SANCTIONS_LIST_STALE, &data, at)])?;
                Ok(true)
            })?;
            told += usize::from(first);
        }
    }
    Ok(told)
}
