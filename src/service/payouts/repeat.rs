//! A mass payout made again: its failed rows as a new draft, or the whole run repeated with each
//! payee's current address, and what changed since the run it repeats.

use chrono::NaiveDateTime;

use crate::db::drafts::{DraftLineRow, DraftRow, NewDraftLine};
use crate::db::{self, DbConnection};
use crate::domain::account::Role;
use crate::domain::payout::{ItemStatus, PayoutKind};
use crate::error::AppError;
use crate::service::access::Actor;
use crate::service::payouts::MAX_DESCRIPTION_CHARS;

use super::drafts::*;

/// "Pay failed rows again": a new draft holding just the failed rows of a payout.
pub fn from_failed_rows(conn: &mut DbConnection, actor: &Actor, payout_id: i64) -> Result<DraftRow, AppError> {
    actor.require(Role::can_create_payouts)?;
    let payout = db::payouts::find_in_org(conn, actor.org_id, payout_id)?.ok_or(AppError::NotFound)?;
    let failed: Vec<_> =
        db::payouts::items(conn, payout.id)?.into_iter().filter(|i| i.status == ItemStatus::Failed).collect();
    if failed.is_empty() {
        return Err(AppError::Conflict("No row of this payout failed.".into()));
    }
    let asset = crate::service::payouts::payout_asset(&payout)?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        let purpose = format!("{} (failed rows of payout #{})", payout.description, payout.id);
        let purpose: String = purpose.chars().take(MAX_DESCRIPTION_CHARS).collect();
        let draft = db::drafts::insert(conn, actor.org_id, actor.user_id, &payout.asset, &purpose, at)?;
        let lines: Vec<NewDraftLine> = failed
            .iter()
            .enumerate()
            .map(|(n, i)| {
                let form = RowForm {
                    address: i.address.clone(),
                    amount: i.amount.clone(),
                    comment: i.comment.clone(),
                    reference: i.reference.clone(),
                };
                line_of(asset, draft.id, n as i64 + 1, Some(i.line.into()), &form)
            })
            .collect();
        db::drafts::insert_lines(conn, &lines)?;
        Ok(draft)
    })
}

/// "Repeat": a new draft with the rows of a finished mass payout, each paying the payee's
/// current payable address where the row was a payee's; the editor marks what differs.
pub fn repeat(conn: &mut DbConnection, actor: &Actor, payout_id: i64) -> Result<DraftRow, AppError> {
    actor.require(Role::can_create_payouts)?;
    let payout = db::payouts::find_in_org(conn, actor.org_id, payout_id)?.ok_or(AppError::NotFound)?;
    if payout.kind != PayoutKind::Mass || !matches!(payout.status.as_str(), "completed" | "partially_completed") {
        return Err(AppError::Conflict("Only a completed or partially completed mass payout can be repeated.".into()));
    }
    let purpose: String = format!("{} (repeat of payout #{})", payout.description, payout.id)
        .chars()
        .take(MAX_DESCRIPTION_CHARS)
        .collect();
    let at = actor.now();
    db::write_tx(conn, |conn| repeat_in_tx(conn, actor.user_id, &payout, &purpose, at))
}

/// A new draft of `payout`'s rows, each payee's row at the payee's current approved address,
/// inside the caller's transaction (a person's Repeat, or a schedule's run).
pub(crate) fn repeat_in_tx(
    conn: &mut DbConnection,
    user_id: i64,
    payout: &db::payouts::PayoutRow,
    purpose: &str,
    at: NaiveDateTime,
) -> Result<DraftRow, AppError> {
    let asset = crate::service::payouts::payout_asset(payout)?;
    let items = db::payouts::items(conn, payout.id)?;
    let current = crate::service::payees::current_addresses(conn, payout.org_id, asset, &items)?;
    let purpose: String = purpose.chars().take(MAX_DESCRIPTION_CHARS).collect();
    let draft = db::drafts::insert(conn, payout.org_id, user_id, &payout.asset, &purpose, at)?;
    db::drafts::set_repeat_of(conn, draft.id, payout.id)?;
    let lines: Vec<NewDraftLine> = items
        .iter()
        .enumerate()
        .map(|(n, i)| {
            let address = i.payee_id.and_then(|p| current.get(&p)).cloned().unwrap_or_else(|| i.address.clone());
            let form = RowForm {
                address,
                amount: i.amount.clone(),
                comment: i.comment.clone(),
                reference: i.reference.clone(),
            };
            line_of(asset, draft.id, n as i64 + 1, None, &form)
        })
        .collect();
    db::drafts::insert_lines(conn, &lines)?;
    Ok(DraftRow { repeat_of: Some(payout.id), ..draft })
}

/// What a repeated draft's row changes against the run it repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    New,
    Amount { before: String },
    Address { before: String },
}

/// A repeated draft against its run: the differences of its rows (by stored row id), and the
/// earlier rows it no longer has. Rows are matched by reference, or by address without one.
pub struct Comparison {
    pub payout_id: i64,
    pub rows: std::collections::HashMap<i64, Vec<Difference>>,
    /// (reference or address, amount) of earlier rows left out.
    pub removed: Vec<(String, String)>,
}

pub fn compare(
    conn: &mut DbConnection,
    draft: &DraftRow,
    lines: &[DraftLineRow],
) -> Result<Option<Comparison>, AppError> {
    let Some(payout_id) = draft.repeat_of else { return Ok(None) };
    let before = db::payouts::items(conn, payout_id)?;
    let key = |reference: &str, address: &str| {
        if reference.trim().is_empty() { format!("a:{}", address.trim()) } else { format!("r:{}", reference.trim()) }
    };
    let mut earlier: std::collections::HashMap<String, &crate::db::payouts::ItemRow> =
        before.iter().map(|i| (key(&i.reference, &i.address), i)).collect();
    let mut rows = std::collections::HashMap::new();
    for l in lines {
        let k = key(&l.reference, &l.address);
        let diffs = match earlier.remove(&k) {
            None => vec![Difference::New],
            Some(i) => {
                let mut d = Vec::new();
                if i.amount != l.amount {
                    d.push(Difference::Amount { before: i.amount.clone() });
                }
                if i.address != l.address {
                    d.push(Difference::Address { before: i.address.clone() });
                }
                d
            }
        };
        if !diffs.is_empty() {
            rows.insert(l.id, diffs);
        }
    }
    let mut removed: Vec<(i32, String, String)> = earlier
        .into_values()
        .map(|i| {
            (i.line, if i.reference.is_empty() { i.address.clone() } else { i.reference.clone() }, i.amount.clone())
        })
        .collect();
    removed.sort();
    Ok(Some(Comparison { payout_id, rows, removed: removed.into_iter().map(|(_, k, a)| (k, a)).collect() }))
}
