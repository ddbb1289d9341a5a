//! Rows held for compliance: the processor found their address on a list in force right before
//! sending and sent nothing. A manager may fail such a row (its funds released); an admin may
//! release it to be sent, only once the address is on no list. Neither ever sends it while listed.

use crate::db::{self, DbConnection};
use crate::domain::account::Role;
use crate::domain::payout::ItemStatus;
use crate::error::AppError;
use crate::service::access::Actor;
use crate::service::access::audit::{self, Entry};
use crate::service::payouts::ledger;
use crate::service::payouts::processor::settle_payout;
use crate::service::payouts::{Change, event};

const NOT_HELD: &str = "This row is not held for compliance any more; reload the page.";

/// A manager fails a held row: its amount and fee go back to the available balance.
pub fn fail_held(conn: &mut DbConnection, actor: &Actor, payout_id: i64, item_id: i64) -> Result<(), AppError> {
    actor.require(Role::can_approve)?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        let payout = db::payouts::find_in_org(conn, actor.org_id, payout_id)?.ok_or(AppError::NotFound)?;
        let item = db::payouts::find_item(conn, payout.id, item_id)?.ok_or(AppError::NotFound)?;
        let reason = format!(
            "Failed by {} while held for compliance: {}",
            actor.email,
            item.compliance_hold.as_deref().unwrap_or("its address is listed")
        );
        if !db::processor::fail_held(conn, item.id, &reason, at)? {
            return Err(AppError::Conflict(NOT_HELD.into()));
        }
        let note = "Released: a row held for compliance failed by a manager";
        ledger::release_row(conn, &payout, &item, note, Some(actor.user_id), at)?;
        let text = format!("Line {}: {reason}", item.line);
        event(
            conn,
            payout.id,
            Change::Item(item.id, ItemStatus::Queued, ItemStatus::Failed),
            Some(actor.user_id),
            &text,
            at,
        )?;
        audit::record(conn, Entry::by(actor, "payout_item.held_failed", "payout_item", item.id).detail(text), at)?;
        settle_payout(conn, &payout, at)
    })
}

/// An admin releases a held row to be sent: refused while any list in force holds its address
/// (decided here, in the transaction; the processor screens it again before sending).
pub fn release_held(conn: &mut DbConnection, actor: &Actor, payout_id: i64, item_id: i64) -> Result<(), AppError> {
    actor.require(Role::can_administer)?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        let payout = db::payouts::find_in_org(conn, actor.org_id, payout_id)?.ok_or(AppError::NotFound)?;
        let item = db::payouts::find_item(conn, payout.id, item_id)?.ok_or(AppError::NotFound)?;
        if let Some(hit) = crate::service::compliance::listed(conn, &[item.address.as_str()])?.remove(0) {
            return Err(AppError::Conflict(format!("{} It stays held.", hit.message())));
        }
        if !db::processor::release_hold(conn, item.id, at)? {
            return Err(AppError::Conflict(NOT_HELD.into()));
        }
        let text = format!("Line {} released by {}: its address is on no sanctions list now", item.line, actor.email);
        event(
            conn,
            payout.id,
            Change::Item(item.id, ItemStatus::Queued, ItemStatus::Queued),
            Some(actor.user_id),
            &text,
            at,
        )?;
        audit::record(conn, Entry::by(actor, "payout_item.hold_released", "payout_item", item.id).detail(text), at)?;
        Ok(())
    })
}
