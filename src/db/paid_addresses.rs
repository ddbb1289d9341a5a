//! What each organization paid, one row per address (`paid_addresses`) and per payee
//! (`payee_last_paid`), kept up to date when rows are recorded paid. Every lookup is by key: a
//! request's cost follows the addresses it names, not how often they were paid before.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::upsert::excluded;

use super::schema::paid_addresses::dsl as pa;
use super::schema::payee_last_paid::dsl as pl;
use super::{DbConnection, DbResult};

/// One address paid now, with how many of the rows being recorded paid it and the last of them.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = super::schema::paid_addresses)]
#[diesel(treat_none_as_default_value = false)]
pub struct PaidNow {
    pub org_id: i64,
    pub address: String,
    pub first_paid_at: NaiveDateTime,
    pub last_paid_at: NaiveDateTime,
    pub last_payout_id: i64,
    pub last_line: i32,
    pub times_paid: i64,
}

/// A payee paid now, at this address, by this row.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = super::schema::payee_last_paid)]
#[diesel(treat_none_as_default_value = false)]
pub struct PayeePaidNow {
    pub payee_id: i64,
    pub org_id: i64,
    pub item_id: i64,
    pub address: String,
}

/// Rows per statement: 7 parameters a row, within SQLite's 32,766 and PostgreSQL's 65,535.
const PER_STATEMENT: usize = 1000;

/// Adds what was paid now to the summaries. One row per address and per payee (the caller
/// aggregates), in key order: two transactions recording the same addresses at once take the
/// rows' locks in the same order and wait for each other instead of deadlocking. The latest
/// recording is the last payment, of an address and of a payee.
pub fn record(conn: &mut DbConnection, mut addresses: Vec<PaidNow>, mut payees: Vec<PayeePaidNow>) -> DbResult<()> {
    addresses.sort_by(|a, b| (a.org_id, &a.address).cmp(&(b.org_id, &b.address)));
    payees.sort_by_key(|p| p.payee_id);
    for chunk in addresses.chunks(PER_STATEMENT) {
        super::per_backend!(conn, |c| diesel::insert_into(pa::paid_addresses)
            .values(chunk.to_vec())
            .on_conflict((pa::org_id, pa::address))
            .do_update()
            .set((
                pa::last_paid_at.eq(excluded(pa::last_paid_at)),
                pa::last_payout_id.eq(excluded(pa::last_payout_id)),
                pa::last_line.eq(excluded(pa::last_line)),
                pa::times_paid.eq(pa::times_paid + excluded(pa::times_paid)),
            ))
            .execute(c))?;
    }
    for chunk in payees.chunks(PER_STATEMENT) {
        super::per_backend!(conn, |c| diesel::insert_into(pl::payee_last_paid)
            .values(chunk.to_vec())
            .on_conflict(pl::payee_id)
            .do_update()
            .set((pl::item_id.eq(excluded(pl::item_id)), pl::address.eq(excluded(pl::address))))
            .execute(c))?;
    }
    Ok(())
}

/// Which of `addresses` the organization has paid.
pub fn paid_among(conn: &mut DbConnection, org_id: i64, addresses: &[&str]) -> DbResult<Vec<String>> {
    let mut found = Vec::new();
    for chunk in addresses.chunks(super::processor::IDS_PER_STATEMENT) {
        found.extend(
            pa::paid_addresses
                .filter(pa::org_id.eq(org_id).and(pa::address.eq_any(chunk)))
                .filter(super::planned_each_time())
                .select(pa::address)
                .load::<String>(conn)?,
        );
    }
    Ok(found)
}

/// Which of `addresses` the organization knows: approved in its payee book at some time
/// (approved now, or replaced after approval) or paid. One statement for both.
pub fn known_among(conn: &mut DbConnection, org_id: i64, addresses: &[&str]) -> DbResult<Vec<String>> {
    use super::schema::payee_addresses::dsl as a;
    let mut found = Vec::new();
    for chunk in addresses.chunks(super::processor::IDS_PER_STATEMENT) {
        // UNION is written per backend: the multi-connection backend cannot express it.
        found.extend(super::per_backend!(conn, |c| a::payee_addresses
            .filter(a::org_id.eq(org_id).and(a::address.eq_any(chunk)))
            .filter(a::status.eq_any(["approved", "replaced"]).and(a::payable_from.is_not_null()))
            .select(a::address)
            .union(pa::paid_addresses.filter(pa::org_id.eq(org_id).and(pa::address.eq_any(chunk))).select(pa::address))
            .load::<String>(c))?);
    }
    Ok(found)
}

/// The last payment to each of `addresses` that was paid: (address, payout id, line, when).
pub fn last_paid(
    conn: &mut DbConnection,
    org_id: i64,
    addresses: &[&str],
) -> DbResult<Vec<(String, i64, i32, NaiveDateTime)>> {
    let mut found = Vec::new();
    for chunk in addresses.chunks(super::processor::IDS_PER_STATEMENT) {
        found.extend(
            pa::paid_addresses
                .filter(pa::org_id.eq(org_id).and(pa::address.eq_any(chunk)))
                .filter(super::planned_each_time())
                .select((pa::address, pa::last_payout_id, pa::last_line, pa::last_paid_at))
                .load::<(String, i64, i32, NaiveDateTime)>(conn)?,
        );
    }
    Ok(found)
}

/// The address each of `payee_ids` was paid at last, for those ever paid.
pub fn last_paid_by_payee(conn: &mut DbConnection, org_id: i64, payee_ids: &[i64]) -> DbResult<Vec<(i64, String)>> {
    let mut found = Vec::new();
    for chunk in payee_ids.chunks(super::processor::IDS_PER_STATEMENT) {
        found.extend(
            pl::payee_last_paid
                .filter(pl::org_id.eq(org_id).and(pl::payee_id.eq_any(chunk)))
                .select((pl::payee_id, pl::address))
                .load::<(i64, String)>(conn)?,
        );
    }
    Ok(found)
}
