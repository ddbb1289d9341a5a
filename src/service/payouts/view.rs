//! A payout read back: the summary, its rows, its timeline.

use chrono::NaiveDateTime;

use crate::db::payouts::{ItemRow, PayoutRow};
use crate::db::{self, DbConnection};
use crate::domain::Amount;
use crate::domain::asset::Asset;
use crate::domain::payout::{ItemStatus, PayoutKind, PayoutStatus};
use crate::domain::zone::Zone;
use crate::error::{AppError, stored_amount};
use crate::service::access::Actor;

use super::*;

/// A payout as pages and exports show it.
#[derive(Debug, Clone)]
pub struct PayoutView {
    pub id: i64,
    pub kind: PayoutKind,
    pub asset: &'static Asset,
    pub status: PayoutStatus,
    pub description: String,
    pub amount_total: Amount,
    pub fee: Amount,
    pub total_debit: Amount,
    pub item_count: i32,
    pub created_by: i64,
    pub created_by_email: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Its pay day: rows are sent at this time, not before.
    pub scheduled_for: Option<NaiveDateTime>,
}

pub(crate) fn view(row: &PayoutRow, emails: &[(i64, String)]) -> Result<PayoutView, AppError> {
    let asset = payout_asset(row)?;
    Ok(PayoutView {
        id: row.id,
        kind: row.kind,
        asset,
        status: row.status,
        description: row.description.clone(),
        amount_total: stored_amount(asset, &row.amount_total)?,
        fee: stored_amount(asset, &row.fee)?,
        total_debit: stored_amount(asset, &row.total_debit)?,
        item_count: row.item_count,
        created_by: row.created_by,
        created_by_email: emails
            .iter()
            .find(|(id, _)| *id == row.created_by)
            .map_or_else(|| "—".into(), |(_, e)| e.clone()),
        created_at: row.created_at,
        updated_at: row.updated_at,
        scheduled_for: row.scheduled_for,
    })
}

pub(crate) fn org_emails(conn: &mut DbConnection, org_id: i64) -> Result<Vec<(i64, String)>, AppError> {
    Ok(db::users::emails_in_org(conn, org_id)?)
}

pub struct ItemView {
    pub row: ItemRow,
    pub status: ItemStatus,
    pub amount: Amount,
    pub fee: Amount,
    pub explorer_url: Option<String>,
    /// Its fiat values as recorded at confirmation and payment.
    pub value: crate::service::valuation::values::RowValue,
}

pub struct EventView {
    pub at: NaiveDateTime,
    pub actor: String,
    pub from: Option<PayoutStatus>,
    pub to: String,
    pub reason: String,
    pub item_line: Option<i32>,
}

/// Row-level events a payout's timeline shows at most.
pub const MAX_ROW_EVENTS: usize = 20;

pub struct Details {
    pub payout: PayoutView,
    pub items: Vec<ItemView>,
    pub events: Vec<EventView>,
    /// Row events left out of `events` (the oldest ones).
    pub hidden_row_events: usize,
    pub paid: usize,
    pub failed: usize,
    pub can_cancel: bool,
    /// The payout ended with failed rows and the actor may start a new draft of them.
    pub can_retry: bool,
    /// A finished mass payout the actor may start again as a new draft ("Repeat").
    pub can_repeat: bool,
    /// The pay day in the organization's time zone, when there is one.
    pub pay_day: Option<String>,
    /// Fiat values recorded at confirmation and at payment.
    pub values: crate::service::valuation::values::PayoutValues,
}

/// Read from one snapshot: the processor records rows paid while the page is read, and the status,
/// the rows and the timeline must show the same moment.
pub fn details(conn: &mut DbConnection, actor: &Actor, payout_id: i64) -> Result<Details, AppError> {
    db::read_snapshot(conn, |conn| details_now(conn, actor, payout_id))
}

fn details_now(conn: &mut DbConnection, actor: &Actor, payout_id: i64) -> Result<Details, AppError> {
    let row = db::payouts::find_in_org(conn, actor.org_id, payout_id)?.ok_or(AppError::NotFound)?;
    let emails = org_emails(conn, actor.org_id)?;
    let payout = view(&row, &emails)?;
    let values = crate::service::valuation::values::of_payout(conn, row.id)?;
    let items: Vec<ItemView> = db::payouts::items(conn, row.id)?
        .into_iter()
        .map(|r| {
            Ok(ItemView {
                value: values.rows.get(&r.line).cloned().unwrap_or_default(),
                status: r.status,
                amount: stored_amount(payout.asset, &r.amount)?,
                fee: stored_amount(payout.asset, &r.fee)?,
                explorer_url: r.tx_hash.as_deref().map(|h| payout.asset.explorer_url(h)),
                row: r,
            })
        })
        .collect::<Result<_, AppError>>()?;
    let events: Vec<EventView> = db::payouts::events(conn, row.id)?
        .into_iter()
        .map(|e| EventView {
            at: e.created_at,
            actor: e
                .actor_user_id
                .and_then(|id| emails.iter().find(|(uid, _)| *uid == id))
                .map_or_else(|| "system".into(), |(_, email)| email.clone()),
            from: e.from_status.as_deref().and_then(PayoutStatus::parse),
            to: PayoutStatus::parse(&e.to_status)
                .map(|s| s.label().to_string())
                .or_else(|| ItemStatus::parse(&e.to_status).map(|s| s.label().to_string()))
                .unwrap_or(e.to_status),
            reason: e.reason,
            item_line: e.item_id.and_then(|id| items.iter().find(|i| i.row.id == id)).map(|i| i.row.line),
        })
        .collect();
    // A large payout has two events per row; the page keeps the payout's own and the latest rows'.
    let row_events = events.iter().filter(|e: &&EventView| e.item_line.is_some()).count();
    let hidden_row_events = row_events.saturating_sub(MAX_ROW_EVENTS);
    let mut skip = hidden_row_events;
    let events: Vec<EventView> = events
        .into_iter()
        .filter(|e| {
            if e.item_line.is_some() && skip > 0 {
                skip -= 1;
                return false;
            }
            true
        })
        .collect();
    let paid = items.iter().filter(|i| i.status == ItemStatus::Completed).count();
    let failed = items.iter().filter(|i| i.status == ItemStatus::Failed).count();
    let not_started = match payout.status {
        PayoutStatus::Pending => true,
        PayoutStatus::InProgress => {
            items.iter().all(|i| matches!(i.status, ItemStatus::Queued | ItemStatus::AwaitingAddress))
        }
        _ => false,
    };
    let can_cancel = not_started && may_cancel(actor, &row);
    let can_retry = failed > 0 && payout.status.is_terminal() && actor.role.can_create_payouts();
    let can_repeat = payout.kind == PayoutKind::Mass
        && matches!(payout.status, PayoutStatus::Completed | PayoutStatus::PartiallyCompleted)
        && actor.role.can_create_payouts();
    let pay_day = match row.scheduled_for {
        Some(t) => Some(Zone::stored(&db::orgs::find(conn, actor.org_id)?.time_zone).describe(t)),
        None => None,
    };
    Ok(Details {
        payout,
        items,
        events,
        hidden_row_events,
        paid,
        failed,
        can_cancel,
        can_retry,
        can_repeat,
        pay_day,
        values,
    })
}
