//! Spend limits per organization and asset, and the payouts that count against them.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{payout_items::dsl as i, payouts::dsl as p, spend_limits::dsl as s};
use super::{DbConnection, DbResult};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::spend_limits)]
pub struct SpendLimitRow {
    pub org_id: i64,
    pub asset: String,
    pub per_payout: Option<String>,
    pub per_day: Option<String>,
    pub per_month: Option<String>,
    pub over_limit: String,
}

pub fn all(conn: &mut DbConnection, org_id: i64) -> DbResult<Vec<SpendLimitRow>> {
    s::spend_limits.filter(s::org_id.eq(org_id)).select(SpendLimitRow::as_select()).load(conn)
}

pub fn of_asset(conn: &mut DbConnection, org_id: i64, asset: &str) -> DbResult<Option<SpendLimitRow>> {
    s::spend_limits
        .filter(s::org_id.eq(org_id).and(s::asset.eq(asset)))
        .select(SpendLimitRow::as_select())
        .first(conn)
        .optional()
}

/// Replaces one asset's limits; a row with no limit and the default choice is removed.
pub fn save(conn: &mut DbConnection, row: &SpendLimitRow) -> DbResult<()> {
    diesel::delete(s::spend_limits.filter(s::org_id.eq(row.org_id).and(s::asset.eq(&row.asset)))).execute(conn)?;
    let empty = row.per_payout.is_none() && row.per_day.is_none() && row.per_month.is_none();
    if !empty || row.over_limit != "refuse" {
        diesel::insert_into(s::spend_limits).values(row).execute(conn)?;
    }
    Ok(())
}

/// A payout that counts against the limits: id, status, amount total, created at.
pub type Spent = (i64, String, String, NaiveDateTime);
/// A row given back: its payout's id and its amount.
pub type Released = (i64, String);

/// The payouts of one asset created since `since` that still hold or spent money, and the
/// amounts (payout id, amount) of their rows that were given back.
pub fn spent_since(
    conn: &mut DbConnection,
    org_id: i64,
    asset: &str,
    since: NaiveDateTime,
) -> DbResult<(Vec<Spent>, Vec<Released>)> {
    let payouts: Vec<Spent> = p::payouts
        .filter(p::org_id.eq(org_id).and(p::asset.eq(asset)).and(p::created_at.ge(since)))
        .filter(p::status.ne_all(["cancelled", "failed"]))
        .select((p::id, p::status, p::amount_total, p::created_at))
        .load(conn)?;
    // Only payouts that paid or are paying may have rows released while the payout counts.
    let partly: Vec<i64> = payouts
        .iter()
        .filter(|(_, st, _, _)| st == "in_progress" || st == "partially_completed")
        .map(|r| r.0)
        .collect();
    let mut released = Vec::new();
    for chunk in partly.chunks(500) {
        released.extend(
            i::payout_items
                .filter(i::payout_id.eq_any(chunk).and(i::status.eq_any(["failed", "cancelled"])))
                .select((i::payout_id, i::amount))
                .load::<(i64, String)>(conn)?,
        );
    }
    Ok((payouts, released))
}
