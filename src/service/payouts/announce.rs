//! What the payouts room tells the event stream, in the transaction of each change: the payout
//! or its rows as the API shows them at that moment.

use chrono::NaiveDateTime;

use crate::db::events::NewEvent;
use crate::db::{self, DbConnection};
use crate::domain::event::ITEM_STATUS_CHANGED;
use crate::error::AppError;
use crate::service::views;

/// Payouts with more items than this are told without their items.
pub(crate) const MAX_ITEMS_TOLD: i32 = 100;

/// The payout as it is now, under `topic` (created, or its status changed).
pub(crate) fn payout(conn: &mut DbConnection, payout_id: i64, topic: &str, at: NaiveDateTime) -> Result<(), AppError> {
    let row = db::payouts::find(conn, payout_id)?;
    let data = views::payout_json(conn, &row, row.item_count <= MAX_ITEMS_TOLD)?;
    Ok(db::events::append(conn, &[NewEvent::json(row.org_id, topic, &data, at)])?)
}

/// A payout just created, told as `payout.created`: the view told, for the caller to answer with.
pub(crate) fn created(
    conn: &mut DbConnection,
    row: &crate::db::payouts::PayoutRow,
    written: views::payouts::Stored,
    creator_email: &str,
    at: NaiveDateTime,
) -> Result<views::payouts::PayoutJson, AppError> {
    let data = views::payouts::created_json(row, written, creator_email)?;
    db::events::append(conn, &[NewEvent::json(row.org_id, crate::domain::event::PAYOUT_CREATED, &data, at)])?;
    Ok(data)
}

/// One item event per row, each row as it is now.
pub(crate) fn items(
    conn: &mut DbConnection,
    payout_id: i64,
    item_ids: &[i64],
    at: NaiveDateTime,
) -> Result<(), AppError> {
    if item_ids.is_empty() {
        return Ok(());
    }
    let payout = db::payouts::find(conn, payout_id)?;
    let events: Vec<NewEvent> = db::payouts::items_with_ids(conn, payout_id, item_ids)?
        .iter()
        .map(|i| NewEvent::json(payout.org_id, ITEM_STATUS_CHANGED, &views::item_event_json(&payout, i), at))
        .collect();
    Ok(db::events::append(conn, &events)?)
}

/// Rows confirmed although their address looks like a known one: who acknowledged which lines,
/// and what each resembles.
pub(crate) fn lookalikes_acknowledged(
    conn: &mut DbConnection,
    payout: &crate::db::payouts::PayoutRow,
    actor: &crate::service::access::Actor,
    rows: &[crate::service::payees::Lookalike],
    at: NaiveDateTime,
) -> Result<(), AppError> {
    let data = serde_json::json!({
        "payout_id": payout.id,
        "asset": payout.asset,
        "acknowledged_by": { "id": actor.user_id, "email": actor.email },
        "acknowledged_at": views::rfc3339(at),
        "via_api": actor.via_api,
        "lines": rows.iter().map(|l| l.json()).collect::<Vec<_>>(),
    });
    Ok(db::events::append(
        conn,
        &[NewEvent::json(payout.org_id, crate::domain::event::LOOKALIKE_ACKNOWLEDGED, &data, at)],
    )?)
}

/// A row held for compliance at sending: the row as it is now, and the list that holds it.
pub(crate) fn held(
    conn: &mut DbConnection,
    payout_id: i64,
    item_id: i64,
    hit: &crate::service::compliance::Listed,
    at: NaiveDateTime,
) -> Result<(), AppError> {
    let payout = db::payouts::find(conn, payout_id)?;
    let events: Vec<NewEvent> = db::payouts::items_with_ids(conn, payout_id, &[item_id])?
        .iter()
        .map(|i| {
            let mut data = views::item_event_json(&payout, i);
            data["hold"] = serde_json::json!({ "list": hit.list, "entity": hit.entity, "reason": hit.message() });
            NewEvent::json(payout.org_id, crate::domain::event::ITEM_HELD, &data, at)
        })
        .collect();
    Ok(db::events::append(conn, &events)?)
}

/// A claim answered: the row as it is now (queued, with its address), and the payee's address
/// it is paid at with its proof of control, if any.
pub(crate) fn claimed(
    conn: &mut DbConnection,
    payout: &crate::db::payouts::PayoutRow,
    item_id: i64,
    address: &crate::db::payees::PayeeAddressRow,
    at: NaiveDateTime,
) -> Result<(), AppError> {
    let events: Vec<NewEvent> = db::payouts::items_with_ids(conn, payout.id, &[item_id])?
        .iter()
        .map(|i| {
            let mut data = views::item_event_json(payout, i);
            data["payee_address"] = serde_json::json!({
                "id": address.id,
                "address": address.address,
                "network": address.network,
                "submitted_by_payee": address.submitted_by_payee,
                "ownership_proven": address.proof.is_some(),
            });
            NewEvent::json(payout.org_id, crate::domain::event::ITEM_CLAIMED, &data, at)
        })
        .collect();
    Ok(db::events::append(conn, &events)?)
}
