//! The JSON API's use cases: the same services as the dashboard, with JSON shapes, field paths
//! like `items[3].address`, and Idempotency-Key replay.

use chrono::{DateTime, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::db::DbConnection;
use crate::db::payouts::ListFilter;
use crate::domain::account::Scope;
use crate::domain::asset::{self, Asset};
use crate::domain::payout::{PayoutKind, PayoutStatus};
use crate::domain::registry::{Issue, Limits, Row, RowInput, check_text};
use crate::domain::{Address, FieldErrors};
use crate::error::AppError;
use crate::service::access::api_keys::ApiCaller;
use crate::service::access::idempotency::{Answer, once};
use crate::service::access::org_settings;
use crate::service::payouts::approvals;
use crate::service::payouts::ledger;
use crate::service::payouts::{self, Draft};
use crate::service::views::{self, PayoutJson, schema};

#[derive(Serialize, utoipa::ToSchema)]
pub struct AssetJson {
    pub code: &'static str,
    pub name: &'static str,
    pub network: &'static str,
    pub decimals: u32,
    pub min_amount: &'static str,
}

pub fn assets(conn: &mut DbConnection, caller: &ApiCaller) -> Result<Vec<AssetJson>, AppError> {
    caller.require(Scope::Read)?;
    Ok(org_settings::enabled_assets(conn, caller.actor.org_id)?
        .into_iter()
        .map(|a| AssetJson {
            code: a.code,
            name: a.name,
            network: a.network,
            decimals: a.decimals,
            min_amount: a.min_amount,
        })
        .collect())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BalanceJson {
    pub asset: &'static str,
    pub available: String,
    pub reserved: String,
    pub paid: String,
}

pub fn balances(conn: &mut DbConnection, caller: &ApiCaller) -> Result<Vec<BalanceJson>, AppError> {
    caller.require(Scope::Read)?;
    Ok(ledger::balances(conn, caller.actor.org_id)?
        .into_iter()
        .map(|b| BalanceJson {
            asset: b.asset().code,
            available: b.available.to_string(),
            reserved: b.reserved.to_string(),
            paid: b.paid.to_string(),
        })
        .collect())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ValidateRequest {
    #[serde(default)]
    #[schema(schema_with = schema::asset, required = true)]
    pub asset: String,
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 100)]
    pub address: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ValidateResponse {
    pub valid: bool,
    pub address: Option<String>,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

pub fn validate_address(caller: &ApiCaller, req: &ValidateRequest) -> Result<ValidateResponse, AppError> {
    caller.require(Scope::Read)?;
    let asset = asset::find(&req.asset)
        .ok_or_else(|| FieldErrors::single("asset", format!("Unknown asset; use one of {}.", asset::codes())))?;
    Ok(match Address::parse(asset, &req.address) {
        Ok(a) => ValidateResponse { valid: true, address: Some(a.value), errors: vec![], warnings: a.warnings },
        Err(e) => ValidateResponse { valid: false, address: None, errors: vec![e], warnings: vec![] },
    })
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct ItemRequest {
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 100)]
    pub address: String,
    #[serde(default)]
    #[schema(schema_with = schema::amount, required = true)]
    pub amount: String,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub comment: String,
    #[serde(default)]
    #[schema(max_length = 64)]
    pub reference: String,
    /// A payee of the organization: the item pays the payee's approved address on the asset's
    /// network when `address` is empty, and must be that address when both are given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub payee_id: Option<i64>,
    /// A claim: the payee named by `payee_id` gives the address (leave `address` empty). The
    /// payee is emailed a link; the item waits `awaiting_address` with its funds reserved and
    /// is sent once their address is approved and payable, or is cancelled and released after
    /// the organization's claim limit (default 30 days).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub claim: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"asset": "USDT_TRC20", "kind": "single", "description": "Invoice 1042",
    "items": [{"address": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "amount": "25", "reference": "1042"}]}))]
pub struct PayoutRequest {
    #[serde(default)]
    #[schema(schema_with = schema::asset, required = true)]
    pub asset: String,
    #[serde(default)]
    #[schema(schema_with = schema::kind, required = true)]
    pub kind: String,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: String,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub purpose: String,
    #[serde(default)]
    #[schema(required = true, min_items = 1)]
    pub items: Vec<ItemRequest>,
    /// The pay day: the payout is approved and reserved as usual and its items are sent at this
    /// time, not before (RFC 3339 with an offset, in the future, at most 366 days ahead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub scheduled_for: Option<String>,
    /// The lines (`items[0]` is line 1) whose lookalike address you checked with the recipient by
    /// another channel. A payout with a lookalike row is refused (422, field
    /// `acknowledge_lookalikes`, one error per row) unless every such line is listed here; it
    /// then needs one approval more. The quote lists the lookalike rows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(max_items = 50000)]
    pub acknowledge_lookalikes: Vec<u64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    /// A stable code for errors a program may act on: `sanctioned` (the address is on a
    /// sanctions list in force; nothing overrides it).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub code: Option<&'static str>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct QuoteItem {
    pub index: usize,
    pub valid: bool,
    pub errors: Vec<FieldError>,
    pub warnings: Vec<FieldError>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct QuoteResponse {
    #[schema(schema_with = schema::asset)]
    pub asset: &'static str,
    #[schema(schema_with = schema::kind)]
    pub kind: &'static str,
    pub count: usize,
    pub amount_total: String,
    pub fee: String,
    pub total_debit: String,
    pub available: String,
    pub sufficient: bool,
    pub valid: bool,
    pub items: Vec<QuoteItem>,
    /// Rows whose address looks like one the organization knows but is another (address
    /// poisoning): creating the payout needs `acknowledge_lookalikes` naming each line.
    pub lookalikes: Vec<crate::service::views::payouts::LookalikeJson>,
    /// What the network itself charges, estimated, when a real chain pays the asset and its node
    /// could estimate it; absent on the simulated network. Paid by the hot wallet, not debited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_fee: Option<NetworkFeeQuote>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct NetworkFeeQuote {
    /// The chain's own coin, e.g. ETH.
    pub asset: &'static str,
    pub amount: String,
}

/// Checks the request's shape and every item; errors named like `items[3].address`.
/// Whether a checked request is priced for a quote to show, or left for the creation's own
/// transaction to price.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pricing {
    Quote,
    /// Inside the creation's transaction, at this time: the rows are screened here, and the
    /// creation takes that screening and this asset check as its own.
    InCreate(NaiveDateTime),
}

fn check(
    conn: &mut DbConnection,
    caller: &ApiCaller,
    req: &PayoutRequest,
    limits: &Limits,
    pricing: Pricing,
) -> Result<(Draft, Option<crate::service::compliance::Screening>), AppError> {
    let mut errors = FieldErrors::new();
    let enabled = org_settings::enabled_assets(conn, caller.actor.org_id)?;
    let asset: Option<&'static Asset> = asset::find(&req.asset).filter(|a| enabled.iter().any(|e| e.code == a.code));
    if asset.is_none() {
        errors.add("asset", "Use one of your organization's enabled assets (GET /api/v1/assets).");
    }
    let kind = PayoutKind::parse(&req.kind);
    let text = match kind {
        Some(PayoutKind::Single) => {
            if req.items.len() != 1 {
                errors.add("items", "A single payout has exactly one item.");
            }
            if let Err(e) = check_text(&req.description, payouts::MAX_DESCRIPTION_CHARS) {
                errors.add("description", e);
            }
            req.description.trim()
        }
        Some(PayoutKind::Mass) => {
            if req.items.is_empty() || req.items.len() > limits.max_rows {
                errors.add("items", format!("A mass payout has from 1 to {} items.", limits.max_rows));
            }
            if req.purpose.trim().is_empty() {
                errors.add("purpose", "Say what the payout is for.");
            } else if let Err(e) = check_text(&req.purpose, payouts::MAX_DESCRIPTION_CHARS) {
                errors.add("purpose", e);
            }
            req.purpose.trim()
        }
        None => {
            errors.add("kind", "Use \"single\" or \"mass\".");
            ""
        }
    };
    let scheduled_for = match req.scheduled_for.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) => payouts::check_schedule(t.naive_utc(), caller.actor.now())
                .map_err(|m| errors.add("scheduled_for", m))
                .ok(),
            Err(_) => {
                errors.add("scheduled_for", "Use an RFC 3339 time with an offset, like 2026-12-25T09:00:00+01:00.");
                None
            }
        },
    };
    errors.clone().into_result(())?;
    let (asset, kind) = (asset.expect("checked"), kind.expect("checked"));
    // Claims' addresses come later, from their payees: only the payee is checked now.
    let addresses = crate::service::payees::addresses_for_items(
        conn,
        caller.actor.org_id,
        asset,
        &req.items
            .iter()
            .map(|i| if i.claim { (None, "") } else { (i.payee_id, i.address.as_str()) })
            .collect::<Vec<_>>(),
    )?;
    let claimed: Vec<i64> = req.items.iter().filter(|i| i.claim).filter_map(|i| i.payee_id).collect();
    let mut claim_problems =
        crate::service::payees::claim_problems(conn, caller.actor.org_id, asset, &claimed)?.into_iter();
    let rows: Vec<Row> = req
        .items
        .iter()
        .zip(&addresses)
        .enumerate()
        .map(|(n, (i, address))| {
            let address = match address {
                Ok(a) => a.as_str(),
                Err(_) => i.address.as_str(),
            };
            let input = RowInput { address, amount: &i.amount, comment: &i.comment, reference: &i.reference };
            // Lines count from 1, as a registry's and a stored payout's do: items[0] is line 1.
            let line = n as u64 + 1;
            if i.claim {
                let input = RowInput { address: &i.address, ..input };
                let Some(payee_id) = i.payee_id else {
                    let mut row = Row::claim(asset, line, 0, &input);
                    row.errors.push(Issue::new("payee_id", "A claim names the payee who gives the address."));
                    return row;
                };
                let mut row = Row::claim(asset, line, payee_id, &input);
                if let Some(problem) = claim_problems.next().flatten() {
                    row.errors.push(Issue::new("payee_id", problem));
                }
                return row;
            }
            let mut row = Row::check(asset, line, &input);
            if let Err(message) = &addresses[n] {
                row.errors.push(Issue::new("payee_id", message.clone()));
            }
            row
        })
        .collect();
    let (draft, screened) = match pricing {
        Pricing::Quote => (payouts::price(conn, &caller.actor, kind, asset, text, rows)?, None),
        Pricing::InCreate(at) => {
            let mut rows = rows;
            let screened = crate::service::compliance::mark_rows_at(conn, &mut rows, at)?;
            (payouts::unpriced(kind, asset, text, rows)?, Some(screened))
        }
    };
    let acknowledged_lookalikes = req.acknowledge_lookalikes.clone();
    Ok((Draft { scheduled_for, acknowledged_lookalikes, ..draft }, screened))
}

fn item_errors(draft: &Draft) -> FieldErrors {
    let mut errors = FieldErrors::new();
    for (n, row) in draft.rows.iter().enumerate() {
        for e in &row.errors {
            let field = if e.column.is_empty() { format!("items[{n}]") } else { format!("items[{n}].{}", e.column) };
            match e.code {
                Some(code) => errors.add_coded(field, code, e.message.clone()),
                None => errors.add(field, e.message.clone()),
            }
        }
    }
    errors
}

pub fn quote(
    conn: &mut DbConnection,
    caller: &ApiCaller,
    req: &PayoutRequest,
    limits: &Limits,
) -> Result<QuoteResponse, AppError> {
    caller.require(Scope::Read)?;
    let (draft, _) = check(conn, caller, req, limits, Pricing::Quote)?;
    let q = &draft.quote;
    let valid: Vec<(u64, &str)> =
        draft.rows.iter().filter(|r| r.is_valid()).map(|r| (r.line, r.address.as_str())).collect();
    let lookalikes: Vec<_> =
        crate::service::payees::lookalike::find(conn, caller.actor.org_id, &valid)?.iter().map(|l| l.json()).collect();
    let items = draft
        .rows
        .iter()
        .enumerate()
        .map(|(n, r)| QuoteItem {
            index: n,
            valid: r.is_valid(),
            errors: r
                .errors
                .iter()
                .map(|e| FieldError {
                    field: format!("items[{n}].{}", e.column).trim_end_matches('.').into(),
                    message: e.message.clone(),
                    code: e.code,
                })
                .collect(),
            warnings: r
                .warnings
                .iter()
                .map(|e| FieldError {
                    field: format!("items[{n}].{}", e.column).trim_end_matches('.').into(),
                    message: e.message.clone(),
                    code: e.code,
                })
                .chain(lookalikes.iter().filter(|l| l.line == r.line).map(|l| FieldError {
                    field: format!("items[{n}].address"),
                    message: l.message.clone(),
                    code: None,
                }))
                .collect(),
        })
        .collect();
    Ok(QuoteResponse {
        asset: draft.asset.code,
        kind: draft.kind.as_str(),
        count: q.count,
        amount_total: q.amount_total.to_string(),
        fee: q.fee.to_string(),
        total_debit: q.total_debit.to_string(),
        available: q.available.map(|a| a.to_string()).unwrap_or_default(),
        sufficient: q.sufficient.unwrap_or(false),
        valid: draft.rows.iter().all(Row::is_valid),
        items,
        lookalikes,
        network_fee: None,
    })
}

pub fn get(conn: &mut DbConnection, caller: &ApiCaller, id: i64) -> Result<PayoutJson, AppError> {
    caller.require(Scope::Read)?;
    let row = payouts::find(conn, &caller.actor, id)?;
    views::payout_json(conn, &row, true)
}

/// Creates a payout once per Idempotency-Key ([`once`]).
pub fn create(
    conn: &mut DbConnection,
    caller: &ApiCaller,
    key: &str,
    req: &PayoutRequest,
    limits: &Limits,
) -> Result<Answer, AppError> {
    caller.require(Scope::Create)?;
    let org_id = caller.actor.org_id;
    once(conn, org_id, "", key, req, caller.actor.now(), |conn, at| {
        let (draft, screened) = check(conn, caller, req, limits, Pricing::InCreate(at))?;
        item_errors(&draft).into_result(())?;
        let checked = payouts::Checked { screened, reviewed_digest: None };
        let (payout, told) =
            payouts::create_in_tx(conn, &caller.actor, &draft, &format!("api:{}", key.trim()), checked, at)?;
        // The payout as the event stream was just told it, when that carried its items.
        let view = if told.items.is_some() { told } else { views::payout_json(conn, &payout, true)? };
        let body = serde_json::to_string(&view).map_err(|e| AppError::Internal(e.to_string()))?;
        Ok((201, body))
    })
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    #[serde(default)]
    #[param(schema_with = schema::payout_status)]
    pub status: String,
    #[serde(default)]
    #[param(schema_with = schema::asset)]
    pub asset: String,
    #[serde(default)]
    #[param(schema_with = schema::kind)]
    pub kind: String,
    #[serde(default)]
    #[param(format = DateTime)]
    pub created_from: String,
    #[serde(default)]
    #[param(format = DateTime)]
    pub created_to: String,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ListResponse {
    pub data: Vec<PayoutJson>,
    pub next_cursor: Option<String>,
}

pub fn list(conn: &mut DbConnection, caller: &ApiCaller, p: &ListParams) -> Result<ListResponse, AppError> {
    caller.require(Scope::Read)?;
    let mut errors = FieldErrors::new();
    if !p.status.is_empty() && PayoutStatus::parse(&p.status).is_none() {
        errors.add("status", "Unknown status.");
    }
    if !p.kind.is_empty() && PayoutKind::parse(&p.kind).is_none() {
        errors.add("kind", "Use single or mass.");
    }
    if !p.asset.is_empty() && asset::find(&p.asset).is_none() {
        errors.add("asset", "Unknown asset.");
    }
    let parse_time = |field: &str, s: &str, errors: &mut FieldErrors| -> Option<NaiveDateTime> {
        if s.is_empty() {
            return None;
        }
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.naive_utc())
            .map_err(|_| errors.add(field, "Use an RFC 3339 time, like 2026-11-24T00:00:00Z."))
            .ok()
    };
    let from = parse_time("created_from", &p.created_from, &mut errors);
    let to = parse_time("created_to", &p.created_to, &mut errors);
    let before = match &p.cursor {
        Some(c) => match c.parse::<i64>() {
            Ok(v) => Some(v),
            Err(_) => {
                errors.add("cursor", "Use the next_cursor of a previous page.");
                None
            }
        },
        None => None,
    };
    let limit = p.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        errors.add("limit", "Use a limit from 1 to 200.");
    }
    errors.into_result(())?;
    let filter = ListFilter {
        status: Some(p.status.clone()).filter(|s| !s.is_empty()),
        kind: Some(p.kind.clone()).filter(|s| !s.is_empty()),
        asset: asset::find(&p.asset).map(|a| a.code.to_owned()),
        created_from: from,
        created_before: to,
        search: None,
    };
    let mut rows = payouts::page(conn, &caller.actor, &filter, before, limit + 1)?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id.to_string())
    } else {
        None
    };
    let data = rows.iter().map(|r| views::payout_json(conn, r, false)).collect::<Result<_, _>>()?;
    Ok(ListResponse { data, next_cursor })
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct ReasonRequest {
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 500)]
    pub reason: String,
}

pub fn approve(conn: &mut DbConnection, caller: &ApiCaller, id: i64) -> Result<PayoutJson, AppError> {
    caller.require(Scope::Approve)?;
    approvals::approve(conn, &caller.actor, id, "")?;
    get_after(conn, caller, id)
}

pub fn reject(conn: &mut DbConnection, caller: &ApiCaller, id: i64, reason: &str) -> Result<PayoutJson, AppError> {
    caller.require(Scope::Approve)?;
    approvals::reject(conn, &caller.actor, id, reason)?;
    get_after(conn, caller, id)
}

pub fn cancel(conn: &mut DbConnection, caller: &ApiCaller, id: i64, reason: &str) -> Result<PayoutJson, AppError> {
    if caller.require(Scope::Create).is_err() {
        caller.require(Scope::Approve)?;
    }
    payouts::cancel(conn, &caller.actor, id, reason)?;
    get_after(conn, caller, id)
}

fn get_after(conn: &mut DbConnection, caller: &ApiCaller, id: i64) -> Result<PayoutJson, AppError> {
    let row = payouts::find(conn, &caller.actor, id)?;
    views::payout_json(conn, &row, true)
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClaimParams {
    /// Only this payee's claims.
    #[param(minimum = 1)]
    pub payee_id: Option<i64>,
    /// The last `item_id` of the previous page.
    #[param(minimum = 0)]
    pub after: Option<i64>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// A claim waiting for its payee's address.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ClaimJson {
    pub item_id: i64,
    pub payout_id: i64,
    pub line: i32,
    pub payee_id: Option<i64>,
    pub asset: &'static str,
    pub network: &'static str,
    pub amount: String,
    pub fee: String,
    pub reference: String,
    pub comment: String,
    /// When it is cancelled and its funds released if still unanswered (RFC 3339 UTC).
    pub claim_until: Option<String>,
    /// Reminder stages passed (1: a week before it lapses, 2: the day before); a claim opened
    /// within a day of a stage skips its reminder.
    pub reminders: i32,
}

pub fn claims(conn: &mut DbConnection, caller: &ApiCaller, params: &ClaimParams) -> Result<Vec<ClaimJson>, AppError> {
    caller.require(Scope::Read)?;
    let limit = params.limit.unwrap_or(100);
    if !(1..=200).contains(&limit) {
        return Err(FieldErrors::single("limit", "Use a limit from 1 to 200.").into());
    }
    let after = params.after.unwrap_or(0).max(0);
    Ok(payouts::claims::open(conn, &caller.actor, params.payee_id, after, limit)?
        .into_iter()
        .map(|c| ClaimJson {
            item_id: c.item.id,
            payout_id: c.item.payout_id,
            line: c.item.line,
            payee_id: c.item.payee_id,
            asset: c.asset.code,
            network: c.asset.network,
            amount: c.item.amount,
            fee: c.item.fee,
            reference: c.item.reference,
            comment: c.item.comment,
            claim_until: c.item.claim_until.map(views::rfc3339),
            reminders: c.item.claim_reminders,
        })
        .collect())
}
