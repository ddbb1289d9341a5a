//! What was paid, summed as rows are recorded paid: per organization, asset and UTC day
//! (`paid_days`) and the service fees of all time per asset (`paid_fees`). Amounts are canonical
//! text; the callers add them in Rust while they hold the asset's balance row.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::upsert::excluded;

use super::schema::paid_days::dsl as d;
use super::schema::paid_fees::dsl as f;
use super::schema::pending_backfills::dsl as b;
use super::{DbConnection, DbResult};
use crate::domain::{Amount, asset};

/// A day's paid amount and service fees, as stored.
pub fn day(conn: &mut DbConnection, org_id: i64, asset: &str, day: NaiveDate) -> DbResult<Option<(String, String)>> {
    d::paid_days
        .filter(d::org_id.eq(org_id).and(d::asset.eq(asset)).and(d::day.eq(day)))
        .select((d::amount, d::fees))
        .first(conn)
        .optional()
}

pub fn put_day(
    conn: &mut DbConnection,
    org_id: i64,
    asset: &str,
    day: NaiveDate,
    amount: &str,
    fees: &str,
) -> DbResult<()> {
    let row = (d::org_id.eq(org_id), d::asset.eq(asset), d::day.eq(day), d::amount.eq(amount), d::fees.eq(fees));
    super::per_backend!(conn, |c| diesel::insert_into(d::paid_days)
        .values(row)
        .on_conflict((d::org_id, d::asset, d::day))
        .do_update()
        .set((d::amount.eq(excluded(d::amount)), d::fees.eq(excluded(d::fees))))
        .execute(c))
    .map(drop)
}

/// An asset's service fees of all time, as stored.
pub fn fees(conn: &mut DbConnection, org_id: i64, asset: &str) -> DbResult<Option<String>> {
    f::paid_fees.filter(f::org_id.eq(org_id).and(f::asset.eq(asset))).select(f::fees).first(conn).optional()
}

pub fn put_fees(conn: &mut DbConnection, org_id: i64, asset: &str, fees: &str) -> DbResult<()> {
    let row = (f::org_id.eq(org_id), f::asset.eq(asset), f::fees.eq(fees));
    super::per_backend!(conn, |c| diesel::insert_into(f::paid_fees)
        .values(row)
        .on_conflict((f::org_id, f::asset))
        .do_update()
        .set(f::fees.eq(excluded(f::fees)))
        .execute(c))
    .map(drop)
}

/// The organization's paid days from `since` on: (asset, day, amount, fees).
pub fn days_since(
    conn: &mut DbConnection,
    org_id: i64,
    since: NaiveDate,
) -> DbResult<Vec<(String, NaiveDate, String, String)>> {
    d::paid_days
        .filter(d::org_id.eq(org_id).and(d::day.ge(since)))
        .select((d::asset, d::day, d::amount, d::fees))
        .load(conn)
}

/// The organization's service fees of all time, per asset.
pub fn fees_of_org(conn: &mut DbConnection, org_id: i64) -> DbResult<Vec<(String, String)>> {
    f::paid_fees.filter(f::org_id.eq(org_id)).select((f::asset, f::fees)).load(conn)
}

/// Builds both tables once from the rows already paid, after the migration that made them (the
/// sums are exact in Rust, which SQL on text amounts would not be).
pub fn backfill(conn: &mut DbConnection) -> DbResult<()> {
    use super::schema::payout_items::dsl as i;
    use super::schema::payouts::dsl as p;
    let pending = b::pending_backfills.filter(b::name.eq("paid_totals")).count().get_result::<i64>(conn)?;
    if pending == 0 {
        return Ok(());
    }
    let rows: Vec<(i64, String, String, String, NaiveDateTime)> = i::payout_items
        .inner_join(p::payouts)
        .filter(i::status.eq("completed"))
        .select((i::org_id, p::asset, i::amount, i::fee, i::updated_at))
        .load(conn)?;
    let mut days: BTreeMap<(i64, &'static str, NaiveDate), (Amount, Amount)> = BTreeMap::new();
    let mut fees: BTreeMap<(i64, &'static str), Amount> = BTreeMap::new();
    for (org, code, amount, fee, at) in &rows {
        let Some(a) = asset::find(code) else { continue };
        let (Ok(amount), Ok(fee)) = (Amount::parse_non_negative(a, amount), Amount::parse_non_negative(a, fee)) else {
            continue;
        };
        let day = days.entry((*org, a.code, at.date())).or_insert((Amount::zero(a), Amount::zero(a)));
        day.0 = day.0.checked_add(amount).unwrap_or(day.0);
        day.1 = day.1.checked_add(fee).unwrap_or(day.1);
        let total = fees.entry((*org, a.code)).or_insert(Amount::zero(a));
        *total = total.checked_add(fee).unwrap_or(*total);
    }
    for ((org, code, day), (amount, fee)) in days {
        put_day(conn, org, code, day, &amount.to_string(), &fee.to_string())?;
    }
    for ((org, code), fee) in fees {
        put_fees(conn, org, code, &fee.to_string())?;
    }
    diesel::delete(b::pending_backfills.filter(b::name.eq("paid_totals"))).execute(conn)?;
    Ok(())
}
