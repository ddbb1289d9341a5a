//! The Solana rail's record of the transactions it signed: each with the rows it pays, stored
//! before it is sent, and signed anew in its own place only once its blockhash expired unsent.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{solana_rows::dsl as w, solana_transactions::dsl as t};
use super::{DbConnection, DbResult};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::solana_transactions)]
pub struct SolanaTxRow {
    /// The first row's idempotency key.
    pub tx_key: String,
    pub asset: String,
    pub signature: String,
    /// The signed bytes, base64.
    pub raw_tx: String,
    pub last_valid_height: i64,
    pub version: i32,
    pub created_at: NaiveDateTime,
}

/// A row paid by a stored transaction.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::solana_rows)]
pub struct SolanaRowRow {
    pub idempotency_key: String,
    pub tx_key: String,
    pub row_index: i32,
    pub address: String,
    /// In the asset's smallest unit (lamports, or the mint's).
    pub amount: i64,
    pub creates_account: bool,
    /// None for a row left out of the stored version (`failed` says why).
    pub instruction_index: Option<i32>,
    pub failed: Option<String>,
}

/// Stores a signed transaction and its rows, in one database transaction, before it is sent:
/// fails with a unique violation when any row is already in another transaction.
pub fn insert(conn: &mut DbConnection, tx: &SolanaTxRow, rows: &[SolanaRowRow]) -> DbResult<()> {
    super::write_tx(conn, |conn| {
        diesel::insert_into(t::solana_transactions).values(tx).execute(conn)?;
        for chunk in rows.chunks(500) {
            super::per_backend!(conn, |c| diesel::insert_into(w::solana_rows).values(chunk).execute(c))?;
        }
        Ok(())
    })
}

/// For each of `keys` that a stored transaction pays: the row. Keys not stored are left out.
pub fn rows_of(conn: &mut DbConnection, keys: &[&str]) -> DbResult<Vec<SolanaRowRow>> {
    let mut found = Vec::new();
    for chunk in keys.chunks(500) {
        found.extend(
            w::solana_rows.filter(w::idempotency_key.eq_any(chunk)).select(SolanaRowRow::as_select()).load(conn)?,
        );
    }
    Ok(found)
}

/// Every row of one transaction, in row order.
pub fn rows_in(conn: &mut DbConnection, tx_key: &str) -> DbResult<Vec<SolanaRowRow>> {
    w::solana_rows.filter(w::tx_key.eq(tx_key)).order(w::row_index.asc()).select(SolanaRowRow::as_select()).load(conn)
}

pub fn find_many(conn: &mut DbConnection, tx_keys: &[&str]) -> DbResult<Vec<SolanaTxRow>> {
    let mut found = Vec::new();
    for chunk in tx_keys.chunks(500) {
        found.extend(
            t::solana_transactions.filter(t::tx_key.eq_any(chunk)).select(SolanaTxRow::as_select()).load(conn)?,
        );
    }
    Ok(found)
}

/// What a chunk signed anew says of each of its rows: the instruction paying it, or why it was
/// left out.
pub struct RowPlace {
    pub key: String,
    pub instruction_index: Option<i32>,
    pub failed: Option<String>,
}

/// The chunk signed anew in the place of `old`, whose blockhash expired unsent (None: every row
/// was refused this time), and each row's place in it: false when the stored version is no
/// longer `old` (another processor signed it anew first).
pub fn resign(
    conn: &mut DbConnection,
    old: &SolanaTxRow,
    new: Option<&SolanaTxRow>,
    rows: &[RowPlace],
    at: NaiveDateTime,
) -> DbResult<bool> {
    super::write_tx(conn, |conn| {
        let stored = t::solana_transactions.filter(t::tx_key.eq(&old.tx_key).and(t::signature.eq(&old.signature)));
        // With no row left to pay, the version still moves on: the refusals are recorded once.
        let new = new.unwrap_or(old);
        let swapped = diesel::update(stored)
            .set((
                t::signature.eq(&new.signature),
                t::raw_tx.eq(&new.raw_tx),
                t::last_valid_height.eq(new.last_valid_height),
                t::version.eq(old.version + 1),
                t::created_at.eq(at),
            ))
            .execute(conn)?;
        if swapped != 1 {
            return Ok(false);
        }
        for row in rows {
            diesel::update(w::solana_rows.find(&row.key))
                .set((w::instruction_index.eq(row.instruction_index), w::failed.eq(&row.failed)))
                .execute(conn)?;
        }
        Ok(true)
    })
}
