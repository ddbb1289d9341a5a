//! Cancelling a payout that has not started paying, by its creator or a manager: its reservation
//! released, in one transaction with the status change and its event.

use crate::db::payouts::PayoutRow;
use crate::db::{self, DbConnection};
use crate::domain::FieldErrors;
use crate::domain::ledger::Movement;
use crate::domain::payout::{ItemStatus, PayoutStatus};
use crate::domain::registry::check_text;
use crate::error::{AppError, stored_amount};
use crate::service::access::Actor;
use crate::service::access::audit::{self, Entry};
use crate::service::payouts::ledger::{self, MoveContext};

use super::create::{Change, MAX_DESCRIPTION_CHARS, event, payout_asset};

/// A manager, or the creator while their role still creates payouts (a creator demoted to
/// viewer has lost the right).
pub(super) fn may_cancel(actor: &Actor, payout: &PayoutRow) -> bool {
    actor.role.can_approve() || (payout.created_by == actor.user_id && actor.role.can_create_payouts())
}

/// Cancels a payout that has not started paying: Pending, or In progress with every item
/// still queued or awaiting its payee's address (a claim). Its reservation is released. The creator or a manager may cancel.
pub fn cancel(conn: &mut DbConnection, actor: &Actor, payout_id: i64, reason: &str) -> Result<PayoutRow, AppError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(FieldErrors::single("reason", "Say why the payout is cancelled.").into());
    }
    check_text(reason, MAX_DESCRIPTION_CHARS).map_err(|e| FieldErrors::single("reason", e))?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        let payout = db::payouts::lock_in_org(conn, actor.org_id, payout_id)?.ok_or(AppError::NotFound)?;
        if !may_cancel(actor, &payout) {
            return Err(AppError::NotAllowed(
                "Only a manager, or the accountant who created it, can cancel this payout.".into(),
            ));
        }
        let status = payout.status;
        if !status.can_become(PayoutStatus::Cancelled) {
            return Err(AppError::Conflict(format!(
                "This payout is {} and can no longer be cancelled.",
                status.label()
            )));
        }
        // Every transition locks the payout row before its items: one order, no deadlock.
        if !db::payouts::cas_status(conn, payout.id, status, PayoutStatus::Cancelled, at)? {
            return Err(AppError::Conflict("The payout changed meanwhile; reload the page.".into()));
        }
        let waiting = if status == PayoutStatus::Pending { ItemStatus::Waiting } else { ItemStatus::Queued };
        let mut moved = db::payouts::set_items_status(conn, payout.id, waiting, ItemStatus::Cancelled, at)?;
        if status == PayoutStatus::InProgress {
            // Claims still waiting for their payees' addresses have not started paying either.
            moved +=
                db::payouts::set_items_status(conn, payout.id, ItemStatus::AwaitingAddress, ItemStatus::Cancelled, at)?;
        }
        if moved != payout.item_count as usize {
            // Rolled back with the status change above.
            return Err(AppError::Conflict(
                "Sending has already started, so this payout can no longer be cancelled.".into(),
            ));
        }
        let asset = payout_asset(&payout)?;
        let ctx = MoveContext {
            org_id: actor.org_id,
            payout_id: Some(payout.id),
            note: "Released: payout cancelled",
            actor_user_id: Some(actor.user_id),
            at,
        };
        ledger::move_funds(conn, Movement::Release, stored_amount(asset, &payout.total_debit)?, &ctx)?;
        let change = Change::Payout(status, PayoutStatus::Cancelled);
        event(conn, payout.id, change, Some(actor.user_id), &format!("Cancelled: {reason}"), at)?;
        audit::record(conn, Entry::by(actor, "payout.cancelled", "payout", payout.id).detail(reason.to_owned()), at)?;
        Ok(db::payouts::find(conn, payout.id)?)
    })
}
