//! Operational figures for metrics: open rows, the oldest waiting work, backlogs. Each reads an
//! index (statuses), never a whole table of finished work.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{outbox::dsl as ob, payout_items::dsl as i, payouts::dsl as p, webhook_deliveries::dsl as w};
use super::{DbConnection, DbResult};

pub const OPEN_ROWS: [&str; 5] = ["waiting", "queued", "submitting", "submitted", "needs_review"];
const MOVING_ROWS: [&str; 3] = ["queued", "submitting", "submitted"];

pub fn open_rows(conn: &mut DbConnection) -> DbResult<Vec<(String, i64)>> {
    i::payout_items
        .filter(i::status.eq_any(OPEN_ROWS))
        .group_by(i::status)
        .select((i::status, diesel::dsl::count_star()))
        .load(conn)
}

pub fn oldest_pending_payout(conn: &mut DbConnection) -> DbResult<Option<NaiveDateTime>> {
    p::payouts.filter(p::status.eq("pending")).select(diesel::dsl::min(p::created_at)).first(conn)
}

pub fn oldest_moving_row(conn: &mut DbConnection) -> DbResult<Option<NaiveDateTime>> {
    i::payout_items.filter(i::status.eq_any(MOVING_ROWS)).select(diesel::dsl::min(i::updated_at)).first(conn)
}

pub fn rows_unmoved_since(conn: &mut DbConnection, before: NaiveDateTime) -> DbResult<i64> {
    i::payout_items.filter(i::status.eq_any(MOVING_ROWS).and(i::updated_at.lt(before))).count().get_result(conn)
}

/// Rows held for compliance, waiting for a person.
pub fn rows_held(conn: &mut DbConnection) -> DbResult<i64> {
    i::payout_items.filter(i::status.eq("queued").and(i::compliance_hold.is_not_null())).count().get_result(conn)
}

pub fn webhook_backlog(conn: &mut DbConnection) -> DbResult<Vec<(String, i64)>> {
    w::webhook_deliveries
        .filter(w::status.eq_any(["pending", "failed"]))
        .group_by(w::status)
        .select((w::status, diesel::dsl::count_star()))
        .load(conn)
}

pub fn outbox_backlog(conn: &mut DbConnection) -> DbResult<Vec<(String, i64)>> {
    ob::outbox
        .filter(ob::status.eq_any(["queued", "failed"]))
        .group_by(ob::status)
        .select((ob::status, diesel::dsl::count_star()))
        .load(conn)
}
