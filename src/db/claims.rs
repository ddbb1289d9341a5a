//! Claims: payout items that name a payee and wait for the payee's address. The open ones (status
//! `awaiting_address`) are read through `payout_items_open_claims`, never the whole history.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::payouts::ItemRow;
use super::schema::{payee_addresses::dsl as a, payout_items::dsl as i, payouts::dsl as p};
use super::{DbConnection, DbResult};
use crate::domain::payout::ItemStatus;

const AWAITING: &str = "awaiting_address";

/// A payout's claims still waiting for its approval (or, at creation, its start).
pub fn waiting(conn: &mut DbConnection, payout_id: i64) -> DbResult<Vec<i64>> {
    i::payout_items
        .filter(i::payout_id.eq(payout_id).and(i::claim.eq(true)).and(i::status.eq(ItemStatus::Waiting.as_str())))
        .select(i::id)
        .order(i::id)
        .load(conn)
}

/// A payout's claims waiting for their payees' addresses.
pub fn open_of_payout(conn: &mut DbConnection, payout_id: i64) -> DbResult<Vec<i64>> {
    i::payout_items
        .filter(i::payout_id.eq(payout_id).and(i::claim.eq(true)).and(i::status.eq(AWAITING)))
        .select(i::id)
        .order(i::id)
        .load(conn)
}

/// Those claims start waiting for their payees' addresses; they lapse at `until`.
pub fn open(conn: &mut DbConnection, ids: &[i64], until: NaiveDateTime, at: NaiveDateTime) -> DbResult<usize> {
    let mut n = 0;
    for chunk in ids.chunks(super::processor::IDS_PER_STATEMENT) {
        n +=
            diesel::update(i::payout_items.filter(i::id.eq_any(chunk).and(i::status.eq(ItemStatus::Waiting.as_str()))))
                .set((i::status.eq(AWAITING), i::claim_until.eq(Some(until)), i::updated_at.eq(at)))
                .execute(conn)?;
    }
    Ok(n)
}

/// Open claims that have lapsed, the oldest first.
pub fn lapsed(conn: &mut DbConnection, at: NaiveDateTime, limit: i64) -> DbResult<Vec<ItemRow>> {
    i::payout_items
        .filter(i::status.eq(AWAITING).and(i::claim_until.le(at)))
        .order(i::claim_until)
        .limit(limit)
        .select(ItemRow::as_select())
        .load(conn)
}

/// Open claims in `assets` (one network's) whose payee has an approved address on `network`
/// that is payable at `at`: the ones that may be sent now.
pub fn answerable(
    conn: &mut DbConnection,
    network: &str,
    assets: &[&str],
    at: NaiveDateTime,
    limit: i64,
) -> DbResult<Vec<ItemRow>> {
    let payable = a::payee_addresses.filter(
        a::payee_id
            .nullable()
            .eq(i::payee_id)
            .and(a::network.eq(network))
            .and(a::status.eq("approved"))
            .and(a::payable_from.is_null().or(a::payable_from.le(at))),
    );
    let in_assets = p::payouts.filter(p::id.eq(i::payout_id).and(p::asset.eq_any(assets)));
    i::payout_items
        .filter(i::status.eq(AWAITING))
        .filter(diesel::dsl::exists(in_assets))
        .filter(diesel::dsl::exists(payable))
        .order(i::claim_until)
        .limit(limit)
        .select(ItemRow::as_select())
        .load(conn)
}

/// Open claims lapsing before `before` whose payee has had fewer than `stage` reminders.
pub fn to_remind(conn: &mut DbConnection, before: NaiveDateTime, stage: i32, limit: i64) -> DbResult<Vec<ItemRow>> {
    i::payout_items
        .filter(i::status.eq(AWAITING).and(i::claim_until.le(before)).and(i::claim_reminders.lt(stage)))
        .order(i::claim_until)
        .limit(limit)
        .select(ItemRow::as_select())
        .load(conn)
}

/// Counts a reminder sent, once: false when another process counted it first.
pub fn mark_reminded(conn: &mut DbConnection, item_id: i64, stage: i32) -> DbResult<bool> {
    let n = diesel::update(
        i::payout_items.filter(i::id.eq(item_id).and(i::status.eq(AWAITING)).and(i::claim_reminders.lt(stage))),
    )
    .set(i::claim_reminders.eq(stage))
    .execute(conn)?;
    Ok(n == 1)
}

/// Gives an open claim its address and queues it to be sent: false when it is no longer open.
pub fn answer(
    conn: &mut DbConnection,
    item_id: i64,
    address: &str,
    screened: &str,
    at: NaiveDateTime,
) -> DbResult<bool> {
    let n =
        diesel::update(i::payout_items.filter(i::id.eq(item_id).and(i::status.eq(AWAITING)).and(i::address.eq(""))))
            .set((
                i::address.eq(address),
                i::status.eq(ItemStatus::Queued.as_str()),
                i::screened_at_confirmation.eq(Some(screened)),
                i::updated_at.eq(at),
            ))
            .execute(conn)?;
    Ok(n == 1)
}

/// Cancels an open claim that has lapsed: false when it is no longer open or not lapsed.
pub fn lapse(conn: &mut DbConnection, item_id: i64, reason: &str, at: NaiveDateTime) -> DbResult<bool> {
    let n = diesel::update(
        i::payout_items.filter(i::id.eq(item_id).and(i::status.eq(AWAITING)).and(i::claim_until.le(at))),
    )
    .set((i::status.eq(ItemStatus::Cancelled.as_str()), i::error.eq(Some(reason)), i::updated_at.eq(at)))
    .execute(conn)?;
    Ok(n == 1)
}

/// An organization's open claims after `after_id` (of one payee, if given), by id, at most
/// `limit`, with each one's asset.
pub fn open_in_org(
    conn: &mut DbConnection,
    org_id: i64,
    payee_id: Option<i64>,
    after_id: i64,
    limit: i64,
) -> DbResult<Vec<(ItemRow, String)>> {
    let mut query = i::payout_items
        .inner_join(p::payouts)
        .filter(i::org_id.eq(org_id).and(i::status.eq(AWAITING)).and(i::id.gt(after_id)))
        .into_boxed();
    if let Some(payee) = payee_id {
        query = query.filter(i::payee_id.eq(payee));
    }
    query.order(i::id).limit(limit).select((ItemRow::as_select(), p::asset)).load(conn)
}

/// A payee's rows not yet ended (claims included), with each one's asset, oldest first, at most
/// 200: read through `payout_items_payee_open`, whose predicate this repeats.
pub fn in_flight_of_payee(conn: &mut DbConnection, org_id: i64, payee_id: i64) -> DbResult<Vec<(ItemRow, String)>> {
    i::payout_items
        .inner_join(p::payouts)
        .filter(i::payee_id.eq(payee_id))
        // Written out, not bound: the planners match the partial index's predicate by its text.
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
            "payout_items.status NOT IN ('completed', 'failed', 'cancelled')",
        ))
        .filter(i::org_id.eq(org_id))
        .order(i::id)
        .limit(200)
        .select((ItemRow::as_select(), p::asset))
        .load(conn)
}
