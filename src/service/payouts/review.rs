//! Stuck work made visible: payouts in progress too long, and items whose outcome the rail
//! cannot confirm, which a manager marks paid (with its transaction) or failed.

use crate::db::payouts::ItemRow;
use crate::db::{self, DbConnection};
use crate::domain::FieldErrors;
use crate::domain::account::Role;
use crate::domain::ledger::Movement;
use crate::domain::payout::ItemStatus;
use crate::error::AppError;
use crate::error::stored_amount;
use crate::service::access::Actor;
use crate::service::access::audit::{self, Entry};
use crate::service::payouts::ledger::{self, MoveContext};
use crate::service::payouts::processor::settle_payout;
use crate::service::payouts::{Change, PayoutView, event, org_emails, payout_asset, view};

pub struct Problems {
    pub stuck: Vec<PayoutView>,
    pub review: Vec<ItemRow>,
}

pub fn problems(conn: &mut DbConnection, actor: &Actor, stuck_after: chrono::Duration) -> Result<Problems, AppError> {
    let emails = org_emails(conn, actor.org_id)?;
    let stuck = db::payouts::in_progress_since_before(conn, actor.org_id, actor.now() - stuck_after)?
        .iter()
        .map(|p| view(p, &emails))
        .collect::<Result<_, _>>()?;
    Ok(Problems { stuck, review: db::processor::needing_review(conn, actor.org_id)? })
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ResolveForm {
    /// "paid" or "failed".
    #[serde(default)]
    pub outcome: String,
    #[serde(default)]
    pub tx_hash: String,
    #[serde(default)]
    pub reason: String,
}

/// A manager's decision on an item that needs review. Paid settles its reservation, failed
/// releases it; it never goes back to be sent again.
pub fn resolve(
    conn: &mut DbConnection,
    actor: &Actor,
    payout_id: i64,
    item_id: i64,
    form: &ResolveForm,
) -> Result<(), AppError> {
    actor.require(Role::can_approve)?;
    let payout = db::payouts::find_in_org(conn, actor.org_id, payout_id)?.ok_or(AppError::NotFound)?;
    let asset = payout_asset(&payout)?;
    let (paid, tx_hash, reason) = match form.outcome.as_str() {
        "paid" => {
            let hash = asset.parse_tx_hash(&form.tx_hash).map_err(|e| FieldErrors::single("tx_hash", e))?;
            (true, Some(hash), None)
        }
        "failed" => {
            let reason = form.reason.trim();
            if reason.is_empty() {
                return Err(FieldErrors::single("reason", "Say why the row failed.").into());
            }
            crate::domain::registry::check_text(reason, 500).map_err(|e| FieldErrors::single("reason", e))?;
            (false, None, Some(reason.to_owned()))
        }
        _ => return Err(FieldErrors::single("outcome", "Choose paid or failed.").into()),
    };
    let at = actor.now();
    db::write_tx(conn, |conn| {
        let item = db::payouts::find_item(conn, payout.id, item_id)?.ok_or(AppError::NotFound)?;
        let to = if paid { ItemStatus::Completed } else { ItemStatus::Failed };
        if !db::processor::resolve(
            conn,
            item.id,
            to.as_str(),
            tx_hash.as_deref().or(item.tx_hash.as_deref()),
            reason.as_deref(),
            at,
        )? {
            return Err(AppError::Conflict("This row no longer needs review; reload the page.".into()));
        }
        let (amount, fee) = (stored_amount(asset, &item.amount)?, stored_amount(asset, &item.fee)?);
        let held = amount.checked_add(fee).ok_or_else(|| AppError::Internal("item total overflow".into()))?;
        if paid {
            // The network fee of a row a person marks paid is not known here.
            let row = crate::service::valuation::values::PaidRow { line: item.line, amount, fee, network_fee: None };
            crate::service::valuation::values::record_payment(conn, payout.org_id, payout.id, asset, &[row], at)?;
            super::paid_totals::record(conn, payout.org_id, asset, &[(amount, fee)], at)?;
            let known = crate::service::payees::known::PaidRow {
                item_id: item.id,
                line: item.line,
                address: item.address.as_str(),
                payee_id: item.payee_id,
            };
            crate::service::payees::known::record_paid(conn, payout.org_id, payout.id, &[known], at)?;
        }
        let (movement, note) = if paid {
            (Movement::Settle, "Paid (confirmed by a manager)")
        } else {
            (Movement::Release, "Released: marked failed by a manager")
        };
        let ctx = MoveContext {
            org_id: payout.org_id,
            payout_id: Some(payout.id),
            note,
            actor_user_id: Some(actor.user_id),
            at,
        };
        ledger::move_funds(conn, movement, held, &ctx)?;
        let text = match (&tx_hash, &reason) {
            (Some(h), _) => format!("Line {} marked paid by {} with transaction {h}", item.line, actor.email),
            (_, Some(r)) => format!("Line {} marked failed by {}: {r}", item.line, actor.email),
            _ => unreachable!("one of them is set"),
        };
        event(conn, payout.id, Change::Item(item.id, ItemStatus::NeedsReview, to), Some(actor.user_id), &text, at)?;
        audit::record(conn, Entry::by(actor, "payout_item.resolved", "payout_item", item.id).detail(text), at)?;
        settle_payout(conn, &payout, at)
    })
}

/// A manager cancels a row whose transaction is pending on a real chain: the rail replaces that
/// transaction with one paying nothing (on EVM an empty one of the same nonce; on a UTXO chain the
/// same inputs paid back to the wallet), and whichever is
/// mined decides (a row already
/// mined stays paid). For a row sent in a batch, the whole batch transaction is cancelled. Returns
/// how many rows that transaction pays.
pub fn cancel_transfer(conn: &mut DbConnection, actor: &Actor, payout_id: i64, item_id: i64) -> Result<i64, AppError> {
    actor.require(Role::can_approve)?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        let payout = db::payouts::find_in_org(conn, actor.org_id, payout_id)?.ok_or(AppError::NotFound)?;
        let item = db::payouts::find_item(conn, payout.id, item_id)?.ok_or(AppError::NotFound)?;
        if item.status != ItemStatus::Submitted {
            return Err(AppError::Conflict(format!(
                "Line {} is not waiting on the network, so there is nothing to cancel.",
                item.line
            )));
        }
        let Some(db::sent::CancelAsked { first, rows }) = db::sent::request_cancel(conn, &item.idempotency_key, at)?
        else {
            return Err(AppError::Conflict(
                "Only a transfer sent on an EVM or UTXO chain and not yet mined can be cancelled (a Solana \
                 transaction lands or expires within about a minute, and cannot be replaced)."
                    .into(),
            ));
        };
        if first {
            let shared = if rows > 1 {
                format!(" (its transaction pays {rows} rows, all cancelled with it)")
            } else {
                String::new()
            };
            let text = format!(
                "Line {}: cancellation requested{shared}; whichever of the two transactions the chain mines decides",
                item.line
            );
            event(
                conn,
                payout.id,
                Change::Item(item.id, ItemStatus::Submitted, ItemStatus::Submitted),
                Some(actor.user_id),
                &text,
                at,
            )?;
            audit::record(
                conn,
                Entry::by(actor, "payout.transfer_cancel_requested", "payout", payout.id).detail(text),
                at,
            )?;
        }
        Ok(rows)
    })
}
