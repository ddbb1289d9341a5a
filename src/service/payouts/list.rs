//! The payouts list with its filters, and the CSV exports.

use crate::db::{self, DbConnection};
use crate::domain::FieldErrors;
use crate::domain::asset::{self};
use crate::domain::payout::{PayoutKind, PayoutStatus};
use crate::error::AppError;
use crate::service::access::Actor;

use super::*;

/// The payouts list's filters, as the query string carries them.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct ListQuery {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub asset: String,
    /// First day, YYYY-MM-DD (UTC).
    #[serde(default)]
    pub from: String,
    /// Last day, YYYY-MM-DD (UTC), included.
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub q: String,
    pub before: Option<i64>,
}

/// Longest search term: more than any address, reference or description holds, and a bound on
/// what the trigram indexes are asked for.
pub const MAX_SEARCH_CHARS: usize = 200;

impl ListQuery {
    pub fn filter(&self) -> Result<db::payouts::ListFilter, FieldErrors> {
        let mut errors = FieldErrors::new();
        let (from, before) = crate::domain::validation::day_range(&self.from, &self.to, &mut errors);
        if self.q.trim().chars().count() > MAX_SEARCH_CHARS {
            errors.add(
                "q",
                format!(
                    "Search for at most {MAX_SEARCH_CHARS} characters: an address, a reference or part of a description."
                ),
            );
        }
        let filter = db::payouts::ListFilter {
            status: PayoutStatus::parse(&self.status).map(|s| s.as_str().to_owned()),
            kind: PayoutKind::parse(&self.kind).map(|k| k.as_str().to_owned()),
            asset: asset::find(&self.asset).map(|a| a.code.to_owned()),
            created_from: from,
            created_before: before,
            search: Some(self.q.trim().to_owned()).filter(|q| !q.is_empty()),
        };
        errors.into_result(filter)
    }
}

pub struct ListPage {
    pub payouts: Vec<PayoutView>,
    /// Where the next page starts; None on the last page.
    pub next_before: Option<i64>,
    /// The count of every status under the other filters: (None = all, count) first.
    pub counts: Vec<(Option<PayoutStatus>, i64)>,
}

pub const PAGE_SIZE: i64 = 50;

pub fn list(conn: &mut DbConnection, actor: &Actor, query: &ListQuery) -> Result<ListPage, AppError> {
    let filter = query.filter()?;
    let mut rows = db::payouts::list(conn, actor.org_id, &filter, query.before, PAGE_SIZE + 1)?;
    let next_before = if rows.len() as i64 > PAGE_SIZE {
        rows.truncate(PAGE_SIZE as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    let emails = org_emails(conn, actor.org_id)?;
    let payouts = rows.iter().map(|r| view(r, &emails)).collect::<Result<_, _>>()?;
    let unfiltered = db::payouts::ListFilter { status: None, ..filter.clone() };
    let stored = if unfiltered.search.is_some() && conn.backend() == db::Backend::Sqlite {
        // A search finds few payouts by its indexes; SQLite, without statistics, starts a
        // grouped count from the (org, status) index instead, so each status is counted on its
        // own from what the search found. PostgreSQL groups what it found in one statement.
        let mut counts = Vec::with_capacity(PayoutStatus::ALL.len());
        for status in PayoutStatus::ALL {
            let f = db::payouts::ListFilter { status: Some(status.as_str().into()), ..filter.clone() };
            counts.push((status.as_str().to_owned(), db::payouts::count(conn, actor.org_id, &f)?));
        }
        counts
    } else if unfiltered.search.is_none()
        && unfiltered.kind.is_none()
        && unfiltered.asset.is_none()
        && unfiltered.created_from.is_none()
        && unfiltered.created_before.is_none()
    {
        // No filter but the tab: the maintained counters answer without counting the table.
        db::payouts::status_counts(conn, actor.org_id)?
    } else {
        db::payouts::count_by_status(conn, actor.org_id, &unfiltered)?
    };
    let of = |s: PayoutStatus| stored.iter().find(|(k, _)| k == s.as_str()).map_or(0, |(_, n)| *n);
    let mut counts = Vec::with_capacity(PayoutStatus::ALL.len() + 1);
    counts.push((None, PayoutStatus::ALL.iter().map(|s| of(*s)).sum()));
    counts.extend(PayoutStatus::ALL.iter().map(|s| (Some(*s), of(*s))));
    Ok(ListPage { payouts, next_before, counts })
}

/// One of the organization's payouts, as stored.
pub fn find(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<db::payouts::PayoutRow, AppError> {
    db::payouts::find_in_org(conn, actor.org_id, id)?.ok_or(AppError::NotFound)
}

/// Up to `limit` of the organization's payouts that pass `filter`, newest first, older than the
/// payout `before` when given (the API's cursor).
pub fn page(
    conn: &mut DbConnection,
    actor: &Actor,
    filter: &db::payouts::ListFilter,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<db::payouts::PayoutRow>, AppError> {
    Ok(db::payouts::list(conn, actor.org_id, filter, before, limit)?)
}

/// Most rows one export may hold.
pub const EXPORT_LIMIT: i64 = 100_000;

/// The filtered list as CSV, every text cell safe from spreadsheet formula injection.
pub fn export_csv(conn: &mut DbConnection, actor: &Actor, query: &ListQuery) -> Result<Vec<u8>, AppError> {
    use crate::domain::spreadsheet::safe_cell;
    let filter = query.filter()?;
    let emails = org_emails(conn, actor.org_id)?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let header = [
        "id",
        "created_at_utc",
        "type",
        "asset",
        "status",
        "description",
        "amount",
        "fee",
        "total_debit",
        "rows",
        "created_by",
    ];
    let csv_err = |e: csv::Error| AppError::Internal(e.to_string());
    out.write_record(header).map_err(csv_err)?;
    let mut before = None;
    let mut written = 0;
    loop {
        let rows = db::payouts::list(conn, actor.org_id, &filter, before, 1000)?;
        for row in &rows {
            let v = view(row, &emails)?;
            out.write_record([
                v.id.to_string().as_str(),
                &v.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                v.kind.as_str(),
                v.asset.code,
                v.status.as_str(),
                &safe_cell(&v.description),
                &v.amount_total.to_string(),
                &v.fee.to_string(),
                &v.total_debit.to_string(),
                &v.item_count.to_string(),
                &safe_cell(&v.created_by_email),
            ])
            .map_err(csv_err)?;
            written += 1;
        }
        match rows.last() {
            Some(last) if rows.len() == 1000 && written < EXPORT_LIMIT => before = Some(last.id),
            _ => break,
        }
    }
    out.into_inner().map_err(|e| AppError::Internal(e.to_string()))
}

/// Per-row results of a payout as CSV: line, address, amount, comment, reference, status,
/// transaction hash, fee, error, and the log index of a row paid in a shared (batch)
/// transaction, then the fiat values recorded at confirmation and payment (rate, source, value,
/// fee value, network fee) — every text cell safe to open in a spreadsheet.
///
/// Read from one snapshot, so that a row paid while the file is written has its value too.
pub fn results_csv(conn: &mut DbConnection, actor: &Actor, payout_id: i64) -> Result<Vec<u8>, AppError> {
    db::read_snapshot(conn, |conn| results_csv_now(conn, actor, payout_id))
}

fn results_csv_now(conn: &mut DbConnection, actor: &Actor, payout_id: i64) -> Result<Vec<u8>, AppError> {
    use crate::domain::spreadsheet::safe_cell;
    let payout = db::payouts::find_in_org(conn, actor.org_id, payout_id)?.ok_or(AppError::NotFound)?;
    let csv_err = |e: csv::Error| AppError::Internal(e.to_string());
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "line",
        "address",
        "amount",
        "comment",
        "reference",
        "status",
        "tx_hash",
        "fee",
        "error",
        "log_index",
        "fiat_currency",
        "value_at_confirmation",
        "rate_at_payment",
        "rate_source",
        "rate_observed_at",
        "value_at_payment",
        "fee_value",
        "network_fee",
        "network_fee_asset",
        "network_fee_value",
        "vout",
        "instruction_index",
    ])
    .map_err(csv_err)?;
    let values = crate::service::valuation::values::of_payout(conn, payout.id)?;
    let plain = |f: Option<crate::domain::fiat::Fiat>| f.map(|f| f.plain()).unwrap_or_default();
    for item in db::payouts::items(conn, payout.id)? {
        let value = values.rows.get(&item.line).cloned().unwrap_or_default();
        let paid = value.paid.as_ref();
        let rate = paid.and_then(|p| p.rate.as_ref());
        let currency = paid
            .and_then(|p| p.value.or(p.fee).map(|f| f.currency.code))
            .or(value.confirmed.map(|f| f.currency.code))
            .unwrap_or_default();
        out.write_record([
            item.line.to_string().as_str(),
            &safe_cell(&item.address),
            &item.amount,
            &safe_cell(&item.comment),
            &safe_cell(&item.reference),
            item.status.as_str(),
            item.tx_hash.as_deref().unwrap_or(""),
            &item.fee,
            &safe_cell(item.error.as_deref().unwrap_or("")),
            &item.log_index.map(|n| n.to_string()).unwrap_or_default(),
            currency,
            &plain(value.confirmed),
            &rate.map(|q| q.rate.to_string()).unwrap_or_default(),
            &safe_cell(rate.map(|q| q.source.as_str()).unwrap_or_default()),
            &rate.map(|q| q.observed_at.format("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_default(),
            &plain(paid.and_then(|p| p.value)),
            &plain(paid.and_then(|p| p.fee)),
            &paid.and_then(|p| p.network_fee).map(|n| n.to_string()).unwrap_or_default(),
            paid.and_then(|p| p.network_fee).map(|n| n.asset().code).unwrap_or_default(),
            &plain(paid.and_then(|p| p.network_fee_value)),
            &item.vout.map(|n| n.to_string()).unwrap_or_default(),
            &item.instruction_index.map(|n| n.to_string()).unwrap_or_default(),
        ])
        .map_err(csv_err)?;
    }
    out.into_inner().map_err(|e| AppError::Internal(e.to_string()))
}
