//! Balances and the append-only ledger. A balance row changes only by compare-and-swap on its
//! version, in the transaction that appends the entries explaining the change.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{balances::dsl as b, ledger_entries::dsl as l};
use super::{DbConnection, DbResult};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::balances)]
pub struct BalanceRow {
    pub org_id: i64,
    pub asset: String,
    pub available: String,
    pub reserved: String,
    pub paid: String,
    pub version: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::ledger_entries)]
pub struct EntryRow {
    pub id: i64,
    pub org_id: i64,
    pub asset: String,
    pub kind: String,
    pub from_bucket: String,
    pub to_bucket: String,
    pub amount: String,
    pub payout_id: Option<i64>,
    pub note: String,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = super::schema::ledger_entries)]
pub struct NewEntryRow<'a> {
    pub org_id: i64,
    pub asset: &'a str,
    pub kind: &'a str,
    pub from_bucket: &'a str,
    pub to_bucket: &'a str,
    pub amount: &'a str,
    pub payout_id: Option<i64>,
    pub note: &'a str,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
}

pub fn balances(conn: &mut DbConnection, org_id: i64) -> DbResult<Vec<BalanceRow>> {
    b::balances.filter(b::org_id.eq(org_id)).order(b::asset).select(BalanceRow::as_select()).load(conn)
}

pub fn balance(conn: &mut DbConnection, org_id: i64, asset: &str) -> DbResult<Option<BalanceRow>> {
    b::balances
        .filter(b::org_id.eq(org_id).and(b::asset.eq(asset)))
        .select(BalanceRow::as_select())
        .first(conn)
        .optional()
}

/// The balance row, held until the transaction ends (PostgreSQL; SQLite's write transaction
/// holds the whole database): the movement that reads it is the one that writes it next.
pub fn balance_for_update(conn: &mut DbConnection, org_id: i64, asset: &str) -> DbResult<Option<BalanceRow>> {
    match conn {
        DbConnection::Postgres(c) => b::balances
            .filter(b::org_id.eq(org_id).and(b::asset.eq(asset)))
            .select(BalanceRow::as_select())
            .for_update()
            .first(c)
            .optional(),
        DbConnection::Sqlite(_) => balance(conn, org_id, asset),
    }
}

/// Creates the zero balance row of an asset if there is none yet. `ON CONFLICT DO NOTHING`
/// because on PostgreSQL a failed insert would abort the caller's transaction.
pub fn ensure_balance(conn: &mut DbConnection, org_id: i64, asset: &str) -> DbResult<()> {
    let values = (
        b::org_id.eq(org_id),
        b::asset.eq(asset),
        b::available.eq("0"),
        b::reserved.eq("0"),
        b::paid.eq("0"),
        b::version.eq(0i64),
    );
    super::per_backend!(conn, |c| diesel::insert_into(b::balances).values(values).on_conflict_do_nothing().execute(c))
        .map(drop)
}

/// Writes new bucket values if the row is still at `version`; false when another transaction
/// changed it first (the caller re-reads and tries again, or gives up with a conflict).
pub fn compare_and_swap(
    conn: &mut DbConnection,
    row: &BalanceRow,
    available: &str,
    reserved: &str,
    paid: &str,
) -> DbResult<bool> {
    let updated = diesel::update(
        b::balances.filter(b::org_id.eq(row.org_id).and(b::asset.eq(&row.asset)).and(b::version.eq(row.version))),
    )
    .set((b::available.eq(available), b::reserved.eq(reserved), b::paid.eq(paid), b::version.eq(row.version + 1)))
    .execute(conn)?;
    Ok(updated == 1)
}

pub fn append(conn: &mut DbConnection, entry: &NewEntryRow) -> DbResult<()> {
    diesel::insert_into(l::ledger_entries).values(entry).execute(conn).map(drop)
}

/// Newest first.
pub fn entries(conn: &mut DbConnection, org_id: i64, limit: i64) -> DbResult<Vec<EntryRow>> {
    l::ledger_entries
        .filter(l::org_id.eq(org_id))
        .order(l::id.desc())
        .limit(limit)
        .select(EntryRow::as_select())
        .load(conn)
}

/// Every entry of one asset, for checking that the balance row agrees with its history.
pub fn entries_for_asset(conn: &mut DbConnection, org_id: i64, asset: &str) -> DbResult<Vec<EntryRow>> {
    l::ledger_entries
        .filter(l::org_id.eq(org_id).and(l::asset.eq(asset)))
        .order(l::id)
        .select(EntryRow::as_select())
        .load(conn)
}

/// Holds the balance row of an asset until the transaction ends, so that two processes deciding
/// on the same balance (a spend limit) decide one after the other. SQLite's write transaction
/// already holds the whole database.
pub fn lock(conn: &mut DbConnection, org_id: i64, asset: &str) -> DbResult<()> {
    // One statement in the usual case; an asset's first movement makes its zero row first.
    if !lock_row(conn, org_id, asset)? {
        ensure_balance(conn, org_id, asset)?;
        lock_row(conn, org_id, asset)?;
    }
    Ok(())
}

/// Locks the balance row (PostgreSQL); false when there is none yet. On SQLite the row is only
/// made sure of.
fn lock_row(conn: &mut DbConnection, org_id: i64, asset: &str) -> DbResult<bool> {
    match conn {
        DbConnection::Postgres(c) => Ok(b::balances
            .filter(b::org_id.eq(org_id).and(b::asset.eq(asset)))
            .select(b::version)
            .for_update()
            .first::<i64>(c)
            .optional()?
            .is_some()),
        DbConnection::Sqlite(_) => ensure_balance(conn, org_id, asset).map(|()| true),
    }
}
