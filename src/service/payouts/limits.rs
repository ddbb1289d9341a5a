//! Spend limits: set by admins (Settings → Approvals, with a fresh second factor, audited),
//! checked inside the transaction that creates a payout, and shown on the dashboard.

use chrono::{Datelike, NaiveDateTime};

use crate::db::limits::SpendLimitRow;
use crate::db::{self, DbConnection};
use crate::domain::account::Role;
use crate::domain::asset::{self, ASSETS, Asset};
use crate::domain::spend_limit::{Breach, Limits, OverLimit, Used};
use crate::domain::zone::Zone;
use crate::domain::{Amount, FieldErrors};
use crate::error::{AppError, stored_amount};
use crate::service::access::Actor;
use crate::service::access::audit::{self, Entry};

fn limits_of(row: Option<SpendLimitRow>, asset: &'static Asset) -> Limits {
    let Some(row) = row else { return Limits::none() };
    let read = |v: &Option<String>| v.as_deref().and_then(|s| Amount::parse_non_negative(asset, s).ok());
    Limits {
        per_payout: read(&row.per_payout),
        per_day: read(&row.per_day),
        per_month: read(&row.per_month),
        over_limit: OverLimit::stored(&row.over_limit),
    }
}

pub fn limits(conn: &mut DbConnection, org_id: i64, asset: &'static Asset) -> Result<Limits, AppError> {
    Ok(limits_of(db::limits::of_asset(conn, org_id, asset.code)?, asset))
}

/// Every asset's limits, in the asset list's order (assets without limits included).
pub fn all_limits(conn: &mut DbConnection, org_id: i64) -> Result<Vec<(&'static Asset, Limits)>, AppError> {
    let rows = db::limits::all(conn, org_id)?;
    Ok(ASSETS.iter().map(|a| (a, limits_of(rows.iter().find(|r| r.asset == a.code).cloned(), a))).collect())
}

/// The first instant of `at`'s calendar month in the organization's zone.
fn month_start(zone: Zone, at: NaiveDateTime) -> NaiveDateTime {
    let local = zone.local(at).date().with_day(1).expect("the first of a month exists");
    // Where midnight does not exist (a clock change at 00:00), the month starts an hour later.
    (0..3)
        .find_map(|h| zone.to_utc(local.and_hms_opt(h, 0, 0).expect("an hour of the day")).ok())
        .unwrap_or(local.and_hms_opt(0, 0, 0).expect("midnight"))
}

/// What is reserved or paid (fees aside) in the rolling 24 hours and the month before `at`.
pub fn used(conn: &mut DbConnection, org_id: i64, asset: &'static Asset, at: NaiveDateTime) -> Result<Used, AppError> {
    let zone = super::schedules::org_zone(conn, org_id)?;
    let (day_from, month_from) = (at - chrono::Duration::hours(24), month_start(zone, at));
    let (payouts, released) = db::limits::spent_since(conn, org_id, asset.code, day_from.min(month_from))?;
    let overflow = || AppError::Internal("spent total overflow".into());
    let mut used = Used { day: Amount::zero(asset), month: Amount::zero(asset) };
    for (id, _, total, created_at) in &payouts {
        let mut counted = stored_amount(asset, total)?;
        for (_, amount) in released.iter().filter(|(p, _)| p == id) {
            counted = counted.checked_sub(stored_amount(asset, amount)?).ok_or_else(overflow)?;
        }
        if *created_at >= day_from {
            used.day = used.day.checked_add(counted).ok_or_else(overflow)?;
        }
        if *created_at >= month_from {
            used.month = used.month.checked_add(counted).ok_or_else(overflow)?;
        }
    }
    Ok(used)
}

/// The limits a new payout of `asked` would pass, decided with the asset's balance row held:
/// two processes creating at once on PostgreSQL count each other's payouts. Call inside the
/// create transaction, before the payout is written. Without limits on the asset nothing is
/// counted and the row is not held here: the creation takes it only when it reserves, its last
/// step, so that concurrent creations wait for each other as briefly as they can.
pub fn check_new(
    conn: &mut DbConnection,
    org_id: i64,
    asked: Amount,
    at: NaiveDateTime,
) -> Result<(Vec<Breach>, OverLimit), AppError> {
    let limits = limits(conn, org_id, asked.asset())?;
    if !limits.is_set() {
        return Ok((Vec::new(), limits.over_limit));
    }
    db::ledger::lock(conn, org_id, asked.asset().code)?;
    let used = used(conn, org_id, asked.asset(), at)?;
    Ok((limits.breaches(&used, asked), limits.over_limit))
}

/// What the review shows: the limits `asked` would pass now, read without locking (Confirm
/// decides again with the balance row held).
pub fn preview(
    conn: &mut DbConnection,
    org_id: i64,
    asked: Amount,
    at: NaiveDateTime,
) -> Result<(Vec<Breach>, OverLimit), AppError> {
    let limits = limits(conn, org_id, asked.asset())?;
    if !limits.is_set() {
        return Ok((Vec::new(), limits.over_limit));
    }
    let used = used(conn, org_id, asked.asset(), at)?;
    Ok((limits.breaches(&used, asked), limits.over_limit))
}

/// The message of a refusal: every limit passed, with its figures.
pub fn refusal(breaches: &[Breach]) -> String {
    let list: Vec<String> = breaches.iter().map(|b| b.to_string()).collect();
    format!(
        "This payout is over the organization's spend limit ({}). Pay less, wait until the period frees up, or ask an admin to change the limit in Settings → Approvals.",
        list.join("; ")
    )
}

/// One asset's limits with what is used and left, for the dashboard.
pub struct Standing {
    pub asset: &'static Asset,
    pub limits: Limits,
    pub used: Used,
}

impl Standing {
    pub fn day_left(&self) -> Option<Amount> {
        self.limits
            .per_day
            .map(|l| l.checked_sub(self.used.day).filter(|a| !a.is_negative()).unwrap_or(Amount::zero(self.asset)))
    }

    pub fn month_left(&self) -> Option<Amount> {
        self.limits
            .per_month
            .map(|l| l.checked_sub(self.used.month).filter(|a| !a.is_negative()).unwrap_or(Amount::zero(self.asset)))
    }
}

pub fn standings(conn: &mut DbConnection, org_id: i64, at: NaiveDateTime) -> Result<Vec<Standing>, AppError> {
    let mut list = Vec::new();
    for (asset, limits) in all_limits(conn, org_id)? {
        if limits.is_set() {
            let used = used(conn, org_id, asset, at)?;
            list.push(Standing { asset, limits, used });
        }
    }
    Ok(list)
}

/// What the settings form sends per asset: `limit_payout_<ASSET>`, `limit_day_<ASSET>`,
/// `limit_month_<ASSET>` (empty: no limit) and `over_limit_<ASSET>` (`refuse` or `approve`).
pub fn set_limits(conn: &mut DbConnection, actor: &Actor, fields: &[(String, String)]) -> Result<(), AppError> {
    actor.require(Role::can_administer)?;
    let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).unwrap_or("");
    let mut errors = FieldErrors::new();
    let mut rows = Vec::new();
    for a in ASSETS.iter() {
        let mut read = |kind: &str| {
            let name = format!("limit_{kind}_{}", a.code);
            let value = get(&name);
            if value.is_empty() {
                return None;
            }
            match Amount::parse(a, value) {
                Ok(v) => Some(v.to_string()),
                Err(e) => {
                    errors.add(name, e);
                    None
                }
            }
        };
        let (per_payout, per_day, per_month) = (read("payout"), read("day"), read("month"));
        let over = match get(&format!("over_limit_{}", a.code)) {
            "approve" => OverLimit::Approve,
            _ => OverLimit::Refuse,
        };
        rows.push(SpendLimitRow {
            org_id: actor.org_id,
            asset: a.code.to_owned(),
            per_payout,
            per_day,
            per_month,
            over_limit: over.as_str().to_owned(),
        });
    }
    errors.into_result(())?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        crate::service::access::second_factor::require_fresh(conn, actor, "Changing the spend limits")?;
        for row in &rows {
            let a = asset::find(&row.asset).expect("from the asset list");
            let before = limits(conn, actor.org_id, a)?;
            db::limits::save(conn, row)?;
            let after = limits(conn, actor.org_id, a)?;
            if before != after {
                audit::record(
                    conn,
                    Entry::by(actor, "spend_limits.changed", "asset", a.code).detail(format!(
                        "{} → {}",
                        describe(&before),
                        describe(&after)
                    )),
                    at,
                )?;
            }
        }
        Ok(())
    })
}

fn describe(l: &Limits) -> String {
    if !l.is_set() {
        return "no limits".into();
    }
    let show = |v: Option<Amount>| v.map_or_else(|| "none".to_owned(), |a| a.money());
    format!(
        "per payout {}, 24 hours {}, month {}, over a limit: {}",
        show(l.per_payout),
        show(l.per_day),
        show(l.per_month),
        match l.over_limit {
            OverLimit::Refuse => "refused",
            OverLimit::Approve => "one approval more",
        }
    )
}
