//! A payee's statement: every row paid to them in a period, on the page and as CSV.

use chrono::NaiveDateTime;

use crate::db::{self, DbConnection};
use crate::domain::FieldErrors;
use crate::domain::asset::{self, Asset};
use crate::domain::fiat::Fiat;
use crate::error::AppError;
use crate::service::access::Actor;

/// A statement's period, as the query string carries it (YYYY-MM-DD, UTC, both days included).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct Period {
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
}

impl Period {
    fn bounds(&self) -> Result<(Option<NaiveDateTime>, Option<NaiveDateTime>), FieldErrors> {
        let mut errors = FieldErrors::new();
        let (from, before) = crate::domain::validation::day_range(&self.from, &self.to, &mut errors);
        errors.into_result((from, before))
    }
}

/// One row paid to a payee.
#[derive(Debug, Clone)]
pub struct StatementRow {
    pub paid_at: NaiveDateTime,
    pub payout_id: i64,
    pub line: i32,
    pub asset: &'static Asset,
    pub amount: crate::domain::Amount,
    pub fee: crate::domain::Amount,
    pub tx_hash: String,
    pub explorer_url: String,
    pub reference: String,
    pub comment: String,
    /// The payout's description ("December salaries").
    pub description: String,
    /// Its value in the reporting currency when it was paid, and the rate then; None when there
    /// was no current rate (or the row was paid before values were kept).
    pub value: Option<Fiat>,
    pub rate: Option<String>,
    /// What the network charged for it, in the chain's coin, and that fee's value then.
    pub network_fee: Option<crate::domain::Amount>,
    pub network_fee_value: Option<Fiat>,
}

/// Stored minor units of a currency.
fn stored_fiat(minor: Option<&str>, code: Option<&str>) -> Option<Fiat> {
    Some(Fiat { minor: minor?.parse().ok()?, currency: crate::domain::fiat::currency(code?)? })
}

/// Rows shown on a payee's page; the CSV has them all.
pub const STATEMENT_PAGE_ROWS: i64 = 200;
const STATEMENT_MAX_ROWS: i64 = 100_000;

pub struct Statement {
    pub rows: Vec<StatementRow>,
    /// Per asset: (asset, amount paid, fees), in the order assets first appear.
    pub totals: Vec<(&'static Asset, crate::domain::Amount, crate::domain::Amount)>,
    /// The rows' values at payment, per reporting currency: the sum of the rows' values.
    pub values: Vec<Fiat>,
    /// Rows that have no value at payment (no current rate then).
    pub unvalued: usize,
    /// More rows than shown.
    pub truncated: bool,
}

/// Every completed row paid to the payee in the period (paid = the time the row completed).
pub fn statement(
    conn: &mut DbConnection,
    actor: &Actor,
    payee_id: i64,
    period: &Period,
    limit: i64,
) -> Result<Statement, AppError> {
    statement_of(conn, actor.org_id, payee_id, period, limit)
}

/// [`statement`] for a payee of `org_id`, as the payee's own page reads it.
pub(crate) fn statement_of(
    conn: &mut DbConnection,
    org_id: i64,
    payee_id: i64,
    period: &Period,
    limit: i64,
) -> Result<Statement, AppError> {
    db::payees::find_in_org(conn, org_id, payee_id)?.ok_or(AppError::NotFound)?;
    let (from, before) = period.bounds()?;
    let limit = limit.clamp(1, STATEMENT_MAX_ROWS);
    let mut found = db::payees::paid_rows(conn, org_id, payee_id, from, before, limit + 1)?;
    let truncated = found.len() as i64 > limit;
    found.truncate(limit as usize);
    let mut payout_ids: Vec<i64> = found.iter().map(|(i, _, _)| i.payout_id).collect();
    payout_ids.sort_unstable();
    payout_ids.dedup();
    let recorded: std::collections::HashMap<(i64, i32), crate::db::values::ItemValueRow> =
        db::values::items_of_payouts(conn, &payout_ids)?.into_iter().map(|v| ((v.payout_id, v.line), v)).collect();
    let (mut values, mut unvalued): (Vec<Fiat>, usize) = (Vec::new(), 0);
    let mut rows = Vec::with_capacity(found.len());
    let mut totals: Vec<(&'static Asset, crate::domain::Amount, crate::domain::Amount)> = Vec::new();
    for (item, code, description) in found {
        let asset = asset::find(&code).ok_or_else(|| AppError::Internal(format!("unknown asset {code}")))?;
        let amount = crate::error::stored_amount(asset, &item.amount)?;
        let fee = crate::error::stored_amount(asset, &item.fee)?;
        let overflow = || AppError::Internal("statement total overflow".into());
        match totals.iter_mut().find(|(a, _, _)| a.code == asset.code) {
            Some((_, sum, fees)) => {
                *sum = sum.checked_add(amount).ok_or_else(overflow)?;
                *fees = fees.checked_add(fee).ok_or_else(overflow)?;
            }
            None => totals.push((asset, amount, fee)),
        }
        let v = recorded.get(&(item.payout_id, item.line));
        let code = v.and_then(|v| v.paid_currency.as_deref());
        let value = v.and_then(|v| stored_fiat(v.paid_fiat.as_deref(), code));
        match value {
            Some(f) => match values.iter_mut().find(|t| t.currency.code == f.currency.code) {
                Some(t) => t.minor = t.minor.checked_add(f.minor).ok_or_else(overflow)?,
                None => values.push(f),
            },
            None => unvalued += 1,
        }
        let network_fee = v.and_then(|v| {
            let coin = asset::find(v.network_asset.as_deref()?)?;
            crate::domain::Amount::parse_non_negative(coin, v.network_fee.as_deref()?).ok()
        });
        let tx_hash = item.tx_hash.unwrap_or_default();
        rows.push(StatementRow {
            value,
            rate: v.and_then(|v| v.paid_rate.clone()),
            network_fee,
            network_fee_value: v.and_then(|v| stored_fiat(v.network_fee_fiat.as_deref(), code)),
            paid_at: item.updated_at,
            payout_id: item.payout_id,
            line: item.line,
            asset,
            amount,
            fee,
            explorer_url: if tx_hash.is_empty() { String::new() } else { asset.explorer_url(&tx_hash) },
            tx_hash,
            reference: item.reference,
            comment: item.comment,
            description,
        });
    }
    Ok(Statement { rows, totals, values, unvalued, truncated })
}

/// The statement as CSV for tax and accounting: one line per row paid, formulas neutralized.
pub fn statement_csv(
    conn: &mut DbConnection,
    actor: &Actor,
    payee_id: i64,
    period: &Period,
) -> Result<String, AppError> {
    let payee = db::payees::find_in_org(conn, actor.org_id, payee_id)?.ok_or(AppError::NotFound)?;
    let s = statement(conn, actor, payee_id, period, STATEMENT_MAX_ROWS)?;
    let mut out = ::csv::Writer::from_writer(Vec::new());
    let header = [
        "paid_at_utc",
        "payee",
        "external_id",
        "payout_id",
        "line",
        "asset",
        "amount",
        "fee",
        "tx_hash",
        "explorer_url",
        "reference",
        "comment",
        "currency",
        "rate_at_payment",
        "value_at_payment",
        "network_fee",
        "network_fee_asset",
        "network_fee_value",
    ];
    let fail = |e: ::csv::Error| AppError::Internal(e.to_string());
    out.write_record(header).map_err(fail)?;
    for r in &s.rows {
        let cells = [
            r.paid_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            payee.name.clone(),
            payee.external_id.clone(),
            r.payout_id.to_string(),
            r.line.to_string(),
            r.asset.code.to_owned(),
            r.amount.to_string(),
            r.fee.to_string(),
            r.tx_hash.clone(),
            r.explorer_url.clone(),
            r.reference.clone(),
            r.comment.clone(),
            r.value.map(|v| v.currency.code.to_owned()).unwrap_or_default(),
            r.rate.clone().unwrap_or_default(),
            r.value.map(|v| v.plain()).unwrap_or_default(),
            r.network_fee.map(|n| n.to_string()).unwrap_or_default(),
            r.network_fee.map(|n| n.asset().code.to_owned()).unwrap_or_default(),
            r.network_fee_value.map(|v| v.plain()).unwrap_or_default(),
        ];
        out.write_record(cells.iter().map(|c| crate::domain::spreadsheet::safe_cell(c).into_owned())).map_err(fail)?;
    }
    let bytes = out.into_inner().map_err(|e| AppError::Internal(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| AppError::Internal(e.to_string()))
}
