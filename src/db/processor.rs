//! The processor's queries: claiming items under a lease stored in the database (so several
//! server processes never take the same item), and recording what the rail said.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::payouts::ItemRow;
use super::schema::payout_items::dsl as i;
use super::schema::payouts::dsl as p;
use super::{DbConnection, DbResult, MultiBackend};

type ItemQuery<'a> = super::schema::payout_items::BoxedQuery<'a, MultiBackend>;

/// Only the items of payouts in these assets, when a processor serves some assets only (each
/// rail has its own processor).
fn of_assets<'a>(q: ItemQuery<'a>, assets: Option<&'a [String]>) -> ItemQuery<'a> {
    match assets {
        Some(codes) => q.filter(i::payout_id.eq_any(p::payouts.filter(p::asset.eq_any(codes)).select(p::id))),
        None => q,
    }
}

/// Items ready to send, and items whose processor's lease ran out (it crashed or stalled).
pub fn claimable(conn: &mut DbConnection, now: NaiveDateTime, limit: i64) -> DbResult<Vec<ItemRow>> {
    i::payout_items
        .filter(
            i::status
                .eq("queued")
                .and(i::compliance_hold.is_null())
                .or(i::status.eq("submitting").and(i::lease_until.lt(now))),
        )
        .order(i::id)
        .limit(limit)
        .select(ItemRow::as_select())
        .load(conn)
}

/// Payouts that have items waiting to be sent, oldest first, leaving out those whose pay day
/// is still ahead.
pub fn payouts_with_queued_items(
    conn: &mut DbConnection,
    assets: Option<&[String]>,
    now: NaiveDateTime,
    limit: i64,
) -> DbResult<Vec<i64>> {
    let waiting = p::payouts.filter(p::scheduled_for.gt(now)).select(p::id);
    of_assets(i::payout_items.into_boxed(), assets)
        .filter(i::status.eq("queued").and(i::compliance_hold.is_null()))
        .filter(i::payout_id.ne_all(waiting))
        .select(i::payout_id)
        .distinct()
        .order(i::payout_id)
        .limit(limit)
        .load(conn)
}

/// Claims every queued item of a payout in one statement, so that a mass payout goes to the rail
/// as one batch; returns what this claim took (owner and lease end together name the claim).
pub fn claim_payout(
    conn: &mut DbConnection,
    payout_id: i64,
    owner: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> DbResult<Vec<ItemRow>> {
    let ready = i::status.eq("queued").and(i::compliance_hold.is_null());
    diesel::update(i::payout_items.filter(i::payout_id.eq(payout_id).and(ready)))
        .set((
            i::status.eq("submitting"),
            i::lease_owner.eq(owner),
            i::lease_until.eq(until),
            i::attempts.eq(i::attempts + 1),
            i::updated_at.eq(now),
        ))
        .execute(conn)?;
    i::payout_items
        .filter(
            i::payout_id
                .eq(payout_id)
                .and(i::status.eq("submitting"))
                .and(i::lease_owner.eq(owner))
                .and(i::lease_until.eq(until)),
        )
        .order(i::id)
        .select(ItemRow::as_select())
        .load(conn)
}

/// Items whose processor's lease ran out while sending (it crashed or stalled).
pub fn expired(
    conn: &mut DbConnection,
    assets: Option<&[String]>,
    now: NaiveDateTime,
    limit: i64,
) -> DbResult<Vec<ItemRow>> {
    of_assets(i::payout_items.into_boxed(), assets)
        .filter(i::status.eq("submitting").and(i::lease_until.lt(now)))
        .order(i::id)
        .limit(limit)
        .select(ItemRow::as_select())
        .load(conn)
}

/// Takes the item for `owner` until `until` unless another processor took it first.
pub fn try_claim(
    conn: &mut DbConnection,
    item: &ItemRow,
    owner: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> DbResult<bool> {
    let still_claimable = i::status
        .eq("queued")
        .and(i::compliance_hold.is_null())
        .or(i::status.eq("submitting").and(i::lease_until.lt(now)));
    let n = diesel::update(i::payout_items.filter(i::id.eq(item.id).and(still_claimable)))
        .set((
            i::status.eq("submitting"),
            i::lease_owner.eq(owner),
            i::lease_until.eq(until),
            i::attempts.eq(i::attempts + 1),
            i::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// Ids per statement when many items change at once: well under SQLite's and PostgreSQL's
/// limits on bound parameters.
pub const IDS_PER_STATEMENT: usize = 1000;

/// Records one transaction for the items this owner still holds; returns the ids recorded
/// (an item whose lease was lost is left out).
pub fn mark_submitted(
    conn: &mut DbConnection,
    item_ids: &[i64],
    owner: &str,
    tx_hash: &str,
    now: NaiveDateTime,
) -> DbResult<Vec<i64>> {
    let mut recorded = Vec::with_capacity(item_ids.len());
    for chunk in item_ids.chunks(IDS_PER_STATEMENT) {
        recorded.extend(
            diesel::update(
                i::payout_items
                    .filter(i::id.eq_any(chunk).and(i::status.eq("submitting")).and(i::lease_owner.eq(owner))),
            )
            .set((
                i::status.eq("submitted"),
                i::tx_hash.eq(tx_hash),
                i::lease_owner.eq(None::<String>),
                i::lease_until.eq(None::<NaiveDateTime>),
                i::updated_at.eq(now),
            ))
            .returning(i::id)
            .get_results::<i64>(conn)?,
        );
    }
    Ok(recorded)
}

pub fn submitted(conn: &mut DbConnection, assets: Option<&[String]>, limit: i64) -> DbResult<Vec<ItemRow>> {
    of_assets(i::payout_items.into_boxed(), assets)
        .filter(i::status.eq("submitted"))
        .order(i::id)
        .limit(limit)
        .select(ItemRow::as_select())
        .load(conn)
}

pub fn set_confirmations(conn: &mut DbConnection, item_id: i64, confirmations: i32) -> DbResult<()> {
    diesel::update(i::payout_items.filter(i::id.eq(item_id).and(i::status.eq("submitted"))))
        .set(i::confirmations.eq(confirmations))
        .execute(conn)
        .map(drop)
}

/// submitted → completed or failed, once; returns the ids this call ended (another processor
/// may have ended some first).
pub fn finish(
    conn: &mut DbConnection,
    item_ids: &[i64],
    to: &str,
    confirmations: i32,
    error: Option<&str>,
    now: NaiveDateTime,
) -> DbResult<Vec<i64>> {
    let mut ended = Vec::with_capacity(item_ids.len());
    for chunk in item_ids.chunks(IDS_PER_STATEMENT) {
        ended.extend(
            diesel::update(i::payout_items.filter(i::id.eq_any(chunk).and(i::status.eq("submitted"))))
                .set((i::status.eq(to), i::confirmations.eq(confirmations), i::error.eq(error), i::updated_at.eq(now)))
                .returning(i::id)
                .get_results::<i64>(conn)?,
        );
    }
    Ok(ended)
}

/// The hash of the version of a row's transaction that stands now (a replacement's, or the
/// earlier version that was mined).
pub fn set_tx_hash(conn: &mut DbConnection, item_id: i64, tx_hash: &str) -> DbResult<()> {
    diesel::update(i::payout_items.find(item_id)).set(i::tx_hash.eq(Some(tx_hash))).execute(conn).map(drop)
}

/// Where a completed row's payment is within its transaction: the event a batch logged, the
/// output that pays it on a UTXO chain, or the instruction on Solana.
pub fn set_place(conn: &mut DbConnection, item: &ItemRow) -> DbResult<()> {
    diesel::update(i::payout_items.find(item.id))
        .set((i::log_index.eq(item.log_index), i::vout.eq(item.vout), i::instruction_index.eq(item.instruction_index)))
        .execute(conn)
        .map(drop)
}

/// submitting → completed or failed for items the network settled as they were sent: only
/// those `owner` still holds; records their transaction and releases the lease. Returns the
/// ids this call ended.
#[allow(clippy::too_many_arguments)]
pub fn finish_sent(
    conn: &mut DbConnection,
    item_ids: &[i64],
    owner: &str,
    tx_hash: Option<&str>,
    to: &str,
    confirmations: i32,
    error: Option<&str>,
    now: NaiveDateTime,
) -> DbResult<Vec<i64>> {
    let mut ended = Vec::with_capacity(item_ids.len());
    for chunk in item_ids.chunks(IDS_PER_STATEMENT) {
        ended.extend(
            diesel::update(
                i::payout_items
                    .filter(i::id.eq_any(chunk).and(i::status.eq("submitting")).and(i::lease_owner.eq(owner))),
            )
            .set((
                i::status.eq(to),
                i::tx_hash.eq(tx_hash),
                i::confirmations.eq(confirmations),
                i::error.eq(error),
                i::lease_owner.eq(None::<String>),
                i::lease_until.eq(None::<NaiveDateTime>),
                i::updated_at.eq(now),
            ))
            .returning(i::id)
            .get_results::<i64>(conn)?,
        );
    }
    Ok(ended)
}

/// submitted → needs review, with the reason a person needs.
pub fn to_review(conn: &mut DbConnection, item_id: i64, reason: &str, now: NaiveDateTime) -> DbResult<bool> {
    let n = diesel::update(i::payout_items.filter(i::id.eq(item_id).and(i::status.eq("submitted"))))
        .set((i::status.eq("needs_review"), i::error.eq(reason), i::updated_at.eq(now)))
        .execute(conn)?;
    Ok(n == 1)
}

/// needs review → completed (with the transaction a manager found) or failed, once.
pub fn resolve(
    conn: &mut DbConnection,
    item_id: i64,
    to: &str,
    tx_hash: Option<&str>,
    error: Option<&str>,
    now: NaiveDateTime,
) -> DbResult<bool> {
    let n = diesel::update(i::payout_items.filter(i::id.eq(item_id).and(i::status.eq("needs_review"))))
        .set((i::status.eq(to), i::tx_hash.eq(tx_hash), i::error.eq(error), i::updated_at.eq(now)))
        .execute(conn)?;
    Ok(n == 1)
}

/// Items waiting for a manager's review in an organization.
pub fn needing_review(conn: &mut DbConnection, org_id: i64) -> DbResult<Vec<ItemRow>> {
    i::payout_items
        .filter(i::org_id.eq(org_id).and(i::status.eq("needs_review")))
        .order(i::id)
        .limit(200)
        .select(ItemRow::as_select())
        .load(conn)
}

/// Every unsettled row of payouts in progress (queued, being sent, sent): (organization, asset,
/// amount), for what the hot wallets still have to pay.
pub fn open_rows(conn: &mut DbConnection) -> DbResult<Vec<(i64, String, String)>> {
    i::payout_items
        .inner_join(p::payouts)
        .filter(p::status.eq("in_progress"))
        .filter(i::status.eq_any(["queued", "submitting", "submitted"]))
        .select((i::org_id, p::asset, i::amount))
        .load(conn)
}

/// Ends every lease `owner` still holds (a processor stopping): the items it was sending become
/// claimable at once, and whoever claims them next asks the rail what became of them first.
pub fn release_leases(conn: &mut DbConnection, owner: &str, now: NaiveDateTime) -> DbResult<usize> {
    diesel::update(i::payout_items.filter(i::lease_owner.eq(owner).and(i::status.eq("submitting"))))
        .set(i::lease_until.eq(now - chrono::Duration::seconds(1)))
        .execute(conn)
}

/// submitting → queued and held, for an item `owner` claimed and did not send: its address is
/// listed. False when the claim is no longer `owner`'s.
pub fn hold(
    conn: &mut DbConnection,
    item_id: i64,
    owner: &str,
    reason: &str,
    evidence: &str,
    now: NaiveDateTime,
) -> DbResult<bool> {
    let claimed = i::id.eq(item_id).and(i::status.eq("submitting")).and(i::lease_owner.eq(owner));
    let n = diesel::update(i::payout_items.filter(claimed))
        .set((
            i::status.eq("queued"),
            i::compliance_hold.eq(reason),
            i::screened_at_sending.eq(evidence),
            i::lease_owner.eq(None::<String>),
            i::lease_until.eq(None::<NaiveDateTime>),
            i::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// Records that `ids` were screened right before sending (the evidence of that screening).
pub fn set_screened(conn: &mut DbConnection, ids: &[i64], evidence: &str) -> DbResult<()> {
    for chunk in ids.chunks(1_000) {
        diesel::update(i::payout_items.filter(i::id.eq_any(chunk)))
            .set(i::screened_at_sending.eq(evidence))
            .execute(conn)?;
    }
    Ok(())
}

/// A held item released to be sent (false: it is not held any more).
pub fn release_hold(conn: &mut DbConnection, item_id: i64, now: NaiveDateTime) -> DbResult<bool> {
    let held = i::id.eq(item_id).and(i::status.eq("queued")).and(i::compliance_hold.is_not_null());
    let n = diesel::update(i::payout_items.filter(held))
        .set((i::compliance_hold.eq(None::<String>), i::updated_at.eq(now)))
        .execute(conn)?;
    Ok(n == 1)
}

/// A held item failed by a person (false: it is not held any more); the hold stays as evidence.
pub fn fail_held(conn: &mut DbConnection, item_id: i64, reason: &str, now: NaiveDateTime) -> DbResult<bool> {
    let held = i::id.eq(item_id).and(i::status.eq("queued")).and(i::compliance_hold.is_not_null());
    let n = diesel::update(i::payout_items.filter(held))
        .set((i::status.eq("failed"), i::error.eq(reason), i::updated_at.eq(now)))
        .execute(conn)?;
    Ok(n == 1)
}
