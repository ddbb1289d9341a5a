//! Payouts and their rows as JSON.

use serde::Serialize;

use super::rfc3339;
use super::schema;
use crate::db::payouts::{ItemRow, PayoutRow};
use crate::db::{self, DbConnection};
use crate::domain::asset;
use crate::error::{AppError, stored_amount};

#[derive(Serialize, utoipa::ToSchema)]
pub struct ApprovalJson {
    pub user: String,
    pub decision: String,
    pub reason: String,
    pub at: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ItemJson {
    pub id: i64,
    pub line: i32,
    pub address: String,
    pub amount: String,
    pub fee: String,
    pub comment: String,
    pub reference: String,
    #[schema(schema_with = schema::item_status)]
    pub status: String,
    pub tx_hash: Option<String>,
    /// Where in its block this row's payment was logged, when it shared its transaction with
    /// other rows (an EVM batch): tells this row apart on an explorer.
    pub log_index: Option<i32>,
    pub error: Option<String>,
    /// The payee this row paid, when its address was a payee's approved address.
    pub payee_id: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PayoutJson {
    pub id: i64,
    #[schema(schema_with = schema::kind)]
    pub kind: &'static str,
    #[schema(schema_with = schema::asset)]
    pub asset: &'static str,
    #[schema(schema_with = schema::payout_status)]
    pub status: &'static str,
    pub description: String,
    pub amount_total: String,
    pub fee: String,
    pub total_debit: String,
    pub created_at: String,
    pub created_by: String,
    pub approvals_required: i32,
    pub approvals: Vec<ApprovalJson>,
    /// The pay day (RFC 3339 UTC) before which no item is sent; null to send at once.
    pub scheduled_for: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<ItemJson>>,
}

/// A payout as the API answers it and webhooks tell it; with its items when `with_items`.
pub fn payout_json(conn: &mut DbConnection, row: &PayoutRow, with_items: bool) -> Result<PayoutJson, AppError> {
    let corrupt = |what: &str| AppError::Internal(format!("payout {}: stored {what} unknown", row.id));
    let asset = asset::find(&row.asset).ok_or_else(|| corrupt("asset"))?;
    let (kind, status) = (row.kind, row.status);
    let emails = db::users::emails_in_org(conn, row.org_id)?;
    let email = |id: i64| emails.iter().find(|(u, _)| *u == id).map_or_else(String::new, |(_, e)| e.clone());
    let approvals = db::approvals::of_payout(conn, row.id)?
        .into_iter()
        .map(|a| ApprovalJson {
            user: email(a.user_id),
            decision: a.decision,
            reason: a.reason,
            at: rfc3339(a.created_at),
        })
        .collect();
    let items =
        if with_items { Some(db::payouts::items(conn, row.id)?.into_iter().map(item_json).collect()) } else { None };
    Ok(PayoutJson {
        id: row.id,
        kind: kind.as_str(),
        asset: asset.code,
        status: status.as_str(),
        description: row.description.clone(),
        amount_total: stored_amount(asset, &row.amount_total)?.to_string(),
        fee: stored_amount(asset, &row.fee)?.to_string(),
        total_debit: stored_amount(asset, &row.total_debit)?.to_string(),
        created_at: rfc3339(row.created_at),
        created_by: emails.iter().find(|(id, _)| *id == row.created_by).map_or_else(|| "—".into(), |(_, e)| e.clone()),
        approvals_required: row.approvals_required,
        approvals,
        scheduled_for: row.scheduled_for.map(rfc3339),
        items,
    })
}

pub fn item_json(i: ItemRow) -> ItemJson {
    ItemJson {
        id: i.id,
        line: i.line,
        address: i.address,
        amount: i.amount,
        fee: i.fee,
        comment: i.comment,
        reference: i.reference,
        status: i.status.as_str().to_owned(),
        tx_hash: i.tx_hash,
        log_index: i.log_index,
        error: i.error,
        payee_id: i.payee_id,
    }
}

/// What `payout.item_status_changed` tells of one row: the row as it is now, with its payout's
/// status and asset.
pub fn item_event_json(payout: &PayoutRow, i: &ItemRow) -> serde_json::Value {
    serde_json::json!({
        "payout_id": payout.id,
        "payout_status": payout.status.as_str(),
        "asset": payout.asset,
        "item": { "id": i.id, "line": i.line, "address": i.address, "amount": i.amount, "fee": i.fee,
                  "comment": i.comment, "reference": i.reference, "status": i.status.as_str(), "tx_hash": i.tx_hash,
                  "error": i.error },
    })
}
