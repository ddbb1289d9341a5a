//! Approval policy and managers' decisions.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::payouts::PayoutRow;
use super::schema::{
    approval_thresholds::dsl as t, organizations::dsl as o, payout_approvals::dsl as a, payouts::dsl as p,
};
use super::{DbConnection, DbResult};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::payout_approvals)]
pub struct ApprovalRow {
    pub id: i64,
    pub payout_id: i64,
    pub user_id: i64,
    pub decision: String,
    pub reason: String,
    pub digest: String,
    pub created_at: NaiveDateTime,
}

pub fn set_policy(conn: &mut DbConnection, org_id: i64, required: bool, needed: i32, extra: bool) -> DbResult<()> {
    diesel::update(o::organizations.find(org_id))
        .set((
            o::approval_required.eq(required),
            o::approvals_needed.eq(needed),
            o::extra_approval_for_new_addresses.eq(extra),
        ))
        .execute(conn)
        .map(drop)
}

pub fn thresholds(conn: &mut DbConnection, org_id: i64) -> DbResult<Vec<(String, String)>> {
    t::approval_thresholds.filter(t::org_id.eq(org_id)).select((t::asset, t::threshold)).load(conn)
}

pub fn set_threshold(conn: &mut DbConnection, org_id: i64, asset: &str, threshold: Option<&str>) -> DbResult<()> {
    diesel::delete(t::approval_thresholds.filter(t::org_id.eq(org_id).and(t::asset.eq(asset)))).execute(conn)?;
    if let Some(value) = threshold {
        diesel::insert_into(t::approval_thresholds)
            .values((t::org_id.eq(org_id), t::asset.eq(asset), t::threshold.eq(value)))
            .execute(conn)?;
    }
    Ok(())
}

/// Records a decision unless this manager already decided on this payout; true when recorded.
pub fn record(
    conn: &mut DbConnection,
    payout_id: i64,
    user_id: i64,
    decision: &str,
    reason: &str,
    digest: &str,
    at: NaiveDateTime,
) -> DbResult<bool> {
    let row = (
        a::payout_id.eq(payout_id),
        a::user_id.eq(user_id),
        a::decision.eq(decision),
        a::reason.eq(reason),
        a::digest.eq(digest),
        a::created_at.eq(at),
    );
    let n = super::per_backend!(conn, |c| diesel::insert_into(a::payout_approvals)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(n == 1)
}

pub fn of_payout(conn: &mut DbConnection, payout_id: i64) -> DbResult<Vec<ApprovalRow>> {
    a::payout_approvals.filter(a::payout_id.eq(payout_id)).order(a::id).select(ApprovalRow::as_select()).load(conn)
}

/// The pending queue, oldest first.
pub fn pending(conn: &mut DbConnection, org_id: i64, limit: i64) -> DbResult<Vec<PayoutRow>> {
    p::payouts
        .filter(p::org_id.eq(org_id).and(p::status.eq("pending")))
        .order(p::id)
        .limit(limit)
        .select(PayoutRow::as_select())
        .load(conn)
}

pub fn pending_count(conn: &mut DbConnection, org_id: i64) -> DbResult<i64> {
    Ok(super::payouts::status_counts(conn, org_id)?.into_iter().find(|(s, _)| s == "pending").map_or(0, |(_, n)| n))
}
