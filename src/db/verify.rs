//! What the ledger verifier reads: every balance row, entry, payout and row, one organization
//! and asset at a time, inside one read snapshot.

use diesel::prelude::*;

use super::schema::{balances::dsl as b, ledger_entries::dsl as l, payout_items::dsl as i, payouts::dsl as p};
use super::{DbConnection, DbResult};
use crate::domain::payout::{ItemStatus, PayoutStatus};
use crate::domain::stored::Checked;

/// Every (organization, asset) that has a balance row or a ledger entry.
pub fn org_assets(conn: &mut DbConnection) -> DbResult<Vec<(i64, String)>> {
    let mut pairs: Vec<(i64, String)> = b::balances.select((b::org_id, b::asset)).load(conn)?;
    pairs.extend(l::ledger_entries.select((l::org_id, l::asset)).distinct().load::<(i64, String)>(conn)?);
    pairs.extend(p::payouts.select((p::org_id, p::asset)).distinct().load::<(i64, String)>(conn)?);
    pairs.sort();
    pairs.dedup();
    Ok(pairs)
}

#[derive(Debug, Clone, Queryable)]
pub struct PayoutTotals {
    pub id: i64,
    /// Read for checking: an unknown name is a problem to report, not a failure to read.
    #[diesel(deserialize_as = String)]
    pub status: Checked<PayoutStatus>,
    pub amount_total: String,
    pub fee: String,
    pub total_debit: String,
    pub item_count: i32,
}

pub fn payouts(conn: &mut DbConnection, org_id: i64, asset: &str) -> DbResult<Vec<PayoutTotals>> {
    p::payouts
        .filter(p::org_id.eq(org_id).and(p::asset.eq(asset)))
        .order(p::id)
        .select((p::id, p::status, p::amount_total, p::fee, p::total_debit, p::item_count))
        .load(conn)
}

#[derive(Debug, Clone, Queryable)]
pub struct ItemMoney {
    pub id: i64,
    pub payout_id: i64,
    pub line: i32,
    #[diesel(deserialize_as = String)]
    pub status: Checked<ItemStatus>,
    pub amount: String,
    pub fee: String,
    pub idempotency_key: String,
    pub tx_hash: Option<String>,
    pub log_index: Option<i32>,
}

pub fn items(conn: &mut DbConnection, org_id: i64, asset: &str) -> DbResult<Vec<ItemMoney>> {
    i::payout_items
        .inner_join(p::payouts)
        .filter(p::org_id.eq(org_id).and(p::asset.eq(asset)))
        .order(i::id)
        .select((
            i::id,
            i::payout_id,
            i::line,
            i::status,
            i::amount,
            i::fee,
            i::idempotency_key,
            i::tx_hash,
            i::log_index,
        ))
        .load(conn)
}

/// Payouts per status, counted from the table (the kept counters are checked against it).
pub fn counted_statuses(conn: &mut DbConnection, org_id: i64) -> DbResult<Vec<(String, i64)>> {
    p::payouts
        .filter(p::org_id.eq(org_id))
        .group_by(p::status)
        .select((p::status, diesel::dsl::count_star()))
        .load(conn)
}

/// Organizations with kept status counters, beside those with payouts.
pub fn counter_orgs(conn: &mut DbConnection) -> DbResult<Vec<i64>> {
    use super::schema::payout_status_counts::dsl as c;
    let mut ids: Vec<i64> = c::payout_status_counts.select(c::org_id).distinct().load(conn)?;
    ids.extend(p::payouts.select(p::org_id).distinct().load::<i64>(conn)?);
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// How many paid rows paid each address of the organization, counted from the rows.
pub fn paid_address_counts(conn: &mut DbConnection, org_id: i64) -> DbResult<Vec<(String, i64)>> {
    i::payout_items
        .filter(i::org_id.eq(org_id).and(i::status.eq("completed")))
        .group_by(i::address)
        .select((i::address, diesel::dsl::count_star()))
        .load(conn)
}

/// The kept summaries: (address, times paid, last payout, last line).
pub fn paid_address_summaries(conn: &mut DbConnection, org_id: i64) -> DbResult<Vec<(String, i64, i64, i32)>> {
    use super::schema::paid_addresses::dsl as pa;
    pa::paid_addresses
        .filter(pa::org_id.eq(org_id))
        .select((pa::address, pa::times_paid, pa::last_payout_id, pa::last_line))
        .load(conn)
}

/// The rows at (payout, line): (payout, line, address, status).
pub fn rows_at(conn: &mut DbConnection, org_id: i64, at: &[(i64, i32)]) -> DbResult<Vec<(i64, i32, String, String)>> {
    let mut payouts: Vec<i64> = at.iter().map(|(p, _)| *p).collect();
    payouts.sort_unstable();
    payouts.dedup();
    let mut out = Vec::new();
    for chunk in payouts.chunks(super::processor::IDS_PER_STATEMENT) {
        out.extend(
            i::payout_items
                .filter(i::org_id.eq(org_id).and(i::payout_id.eq_any(chunk)))
                .select((i::payout_id, i::line, i::address, i::status))
                .load::<(i64, i32, String, String)>(conn)?,
        );
    }
    Ok(out)
}

/// A payee's kept last payment: (payee, row, address), and the address that row paid, if it is
/// a paid row of that payee.
pub type KeptLastPaid = (i64, i64, String, Option<String>);

/// Each kept last payment of a payee, beside what its row says.
pub fn payee_last_paid(conn: &mut DbConnection, org_id: i64) -> DbResult<Vec<KeptLastPaid>> {
    use super::schema::payee_last_paid::dsl as pl;
    let kept: Vec<(i64, i64, String)> = pl::payee_last_paid
        .filter(pl::org_id.eq(org_id))
        .select((pl::payee_id, pl::item_id, pl::address))
        .load(conn)?;
    let mut out = Vec::with_capacity(kept.len());
    for (payee, item, address) in kept {
        let paid: Option<String> = i::payout_items
            .filter(i::id.eq(item).and(i::payee_id.eq(payee)).and(i::status.eq("completed")))
            .select(i::address)
            .first(conn)
            .optional()?;
        out.push((payee, item, address, paid));
    }
    Ok(out)
}
