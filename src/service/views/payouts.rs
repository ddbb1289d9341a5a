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
    /// Which output of its transaction paid this row, on a UTXO chain (Bitcoin, Litecoin): a
    /// mass payout's rows share one transaction, and `tx_hash:vout` names this row's payment.
    pub vout: Option<i32>,
    /// Which instruction of its transaction paid this row, on Solana: a mass payout's rows share
    /// a transaction, and the signature with the instruction names this row's payment.
    pub instruction_index: Option<i32>,
    pub error: Option<String>,
    /// The payee this row paid, when its address was a payee's approved address (for a claim:
    /// the payee who gives the address).
    pub payee_id: Option<i64>,
    /// A claim: the payee gives the address (`address` is empty while `awaiting_address`).
    pub claim: bool,
    /// When an unanswered claim is cancelled and released (RFC 3339 UTC); null for other rows
    /// and for claims not yet open (their payout awaits approval).
    pub claim_until: Option<String>,
    /// Its values in the reporting currency as recorded; null for rows confirmed before values were kept.
    pub fiat: Option<ItemFiatJson>,
}

/// A row's fiat values, recorded when they happened and never recomputed. Money as decimal
/// strings in `currency` (`paid_currency` for the values at payment); null where no current rate
/// existed at that moment.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ItemFiatJson {
    pub currency: String,
    /// The amount's value at the rate the payout was confirmed at.
    pub value_at_confirmation: Option<String>,
    /// The amount as typed in fiat, when the row was entered in fiat.
    pub entered_amount: Option<String>,
    /// When the row was recorded paid (RFC 3339 UTC).
    pub paid_at: Option<String>,
    pub paid_currency: Option<String>,
    /// The rate when the row was paid, its source and when it was observed.
    pub rate_at_payment: Option<String>,
    pub rate_source: Option<String>,
    pub rate_observed_at: Option<String>,
    pub value_at_payment: Option<String>,
    /// The service fee's value at payment.
    pub fee_value: Option<String>,
    /// What the network charged for the row, in `network_fee_asset` (the chain's coin).
    pub network_fee: Option<String>,
    pub network_fee_asset: Option<String>,
    pub network_fee_value: Option<String>,
}

/// The rate a payout was confirmed at and its totals' values then.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PayoutFiatJson {
    pub currency: String,
    pub rate: String,
    pub rate_source: String,
    pub rate_observed_at: String,
    pub amount_total: String,
    pub fee: String,
    /// The rows' amounts were typed in `currency` and converted at `rate`.
    pub entered_in_fiat: bool,
}

/// Stored minor units of a currency as a decimal string (`115046` EUR → `1150.46`).
fn fiat_text(minor: Option<&str>, code: &str) -> Option<String> {
    let currency = crate::domain::fiat::currency(code)?;
    Some(crate::domain::fiat::Fiat { minor: minor?.parse().ok()?, currency }.plain())
}

fn item_fiat(v: &crate::db::values::ItemValueRow) -> ItemFiatJson {
    let paid_code = v.paid_currency.as_deref().unwrap_or(&v.currency);
    ItemFiatJson {
        currency: v.currency.clone(),
        value_at_confirmation: fiat_text(v.confirmed_fiat.as_deref(), &v.currency),
        entered_amount: fiat_text(v.entered_fiat.as_deref(), &v.currency),
        paid_at: v.paid_at.map(rfc3339),
        paid_currency: v.paid_currency.clone(),
        rate_at_payment: v.paid_rate.clone(),
        rate_source: v.paid_source.clone(),
        rate_observed_at: v.paid_observed_at.map(rfc3339),
        value_at_payment: fiat_text(v.paid_fiat.as_deref(), paid_code),
        fee_value: fiat_text(v.fee_fiat.as_deref(), paid_code),
        network_fee: v.network_fee.clone(),
        network_fee_asset: v.network_asset.clone(),
        network_fee_value: fiat_text(v.network_fee_fiat.as_deref(), paid_code),
    }
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
    /// The rate it was confirmed at and its values then; null when there was no current rate.
    pub fiat: Option<PayoutFiatJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<ItemJson>>,
}

/// A payout as the API answers it and webhooks tell it; with its items when `with_items`.
pub fn payout_json(conn: &mut DbConnection, row: &PayoutRow, with_items: bool) -> Result<PayoutJson, AppError> {
    let emails = db::users::emails_in_org(conn, row.org_id)?;
    let approvals = db::approvals::of_payout(conn, row.id)?;
    let (items, values) = match with_items {
        true => (Some(db::payouts::items(conn, row.id)?), db::values::items_of(conn, row.id)?),
        false => (None, Vec::new()),
    };
    let stored = Stored { items, values, rate: db::values::rate_of(conn, row.id)? };
    payout_json_of(row, stored, &emails, approvals)
}

/// A payout's rows, their values and its rate, as stored.
pub struct Stored {
    /// None: the payout is told without its items.
    pub items: Option<Vec<ItemRow>>,
    pub values: Vec<crate::db::values::ItemValueRow>,
    pub rate: Option<crate::db::values::PayoutRateRow>,
}

/// [`payout_json`] of a payout this transaction just created, from what it wrote: by
/// `creator_email`'s user, and approved by no one yet (no one else can see it before the
/// commit).
pub fn created_json(row: &PayoutRow, written: Stored, creator_email: &str) -> Result<PayoutJson, AppError> {
    payout_json_of(row, written, &[(row.created_by, creator_email.to_owned())], Vec::new())
}

fn payout_json_of(
    row: &PayoutRow,
    stored: Stored,
    emails: &[(i64, String)],
    approvals: Vec<db::approvals::ApprovalRow>,
) -> Result<PayoutJson, AppError> {
    let corrupt = |what: &str| AppError::Internal(format!("payout {}: stored {what} unknown", row.id));
    let asset = asset::find(&row.asset).ok_or_else(|| corrupt("asset"))?;
    let (kind, status) = (row.kind, row.status);
    let email = |id: i64| emails.iter().find(|(u, _)| *u == id).map_or_else(String::new, |(_, e)| e.clone());
    let approvals = approvals
        .into_iter()
        .map(|a| ApprovalJson {
            user: email(a.user_id),
            decision: a.decision,
            reason: a.reason,
            at: rfc3339(a.created_at),
        })
        .collect();
    let mut values: std::collections::HashMap<i32, ItemFiatJson> =
        stored.values.iter().map(|v| (v.line, item_fiat(v))).collect();
    let items = stored.items.map(|items| {
        items
            .into_iter()
            .map(|i| {
                let fiat = values.remove(&i.line);
                ItemJson { fiat, ..item_json(i) }
            })
            .collect()
    });
    let fiat = stored.rate.map(|r| PayoutFiatJson {
        amount_total: fiat_text(Some(&r.amount_fiat), &r.currency).unwrap_or_default(),
        fee: fiat_text(Some(&r.fee_fiat), &r.currency).unwrap_or_default(),
        currency: r.currency,
        rate: r.rate,
        rate_source: r.source,
        rate_observed_at: rfc3339(r.observed_at),
        entered_in_fiat: r.entered_in_fiat,
    });
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
        fiat,
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
        vout: i.vout,
        instruction_index: i.instruction_index,
        error: i.error,
        payee_id: i.payee_id,
        claim: i.claim,
        claim_until: i.claim_until.map(rfc3339),
        fiat: None,
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
                  "error": i.error, "payee_id": i.payee_id, "claim": i.claim,
                  "claim_until": i.claim_until.map(rfc3339) },
    })
}

/// A row whose address looks like one the organization knows (address poisoning).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LookalikeJson {
    /// The row's line: `items[0]` is line 1.
    pub line: u64,
    pub address: String,
    /// The known address it looks like.
    pub resembles: String,
    /// `same_ends`: the first and last 4 characters after the network prefix match;
    /// `near_copy`: the same length with one or two characters different.
    pub how: &'static str,
    /// The payee whose address it resembles, when the address is in the payee book.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payee: Option<String>,
    /// The payout and line that last paid the resembled address, when it is not a payee's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paid_by_payout: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paid_by_line: Option<i32>,
    /// When the resembled address was last paid (RFC 3339), absent if never.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub last_paid_at: Option<String>,
    /// The same in one sentence.
    pub message: String,
}
