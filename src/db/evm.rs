//! The EVM rail's record of the transactions it signed.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{evm_batch_rows::dsl as b, evm_transactions::dsl as e};
use super::{DbConnection, DbResult};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::evm_transactions)]
pub struct EvmTxRow {
    pub idempotency_key: String,
    pub chain_id: i64,
    pub from_address: String,
    pub nonce: i64,
    pub tx_hash: String,
    pub raw_tx: String,
    pub created_at: NaiveDateTime,
}

pub fn find(conn: &mut DbConnection, key: &str) -> DbResult<Option<EvmTxRow>> {
    e::evm_transactions.find(key).select(EvmTxRow::as_select()).first(conn).optional()
}

/// The highest nonce this wallet has used on this chain, as far as this database knows.
pub fn max_nonce(conn: &mut DbConnection, chain_id: i64, from: &str) -> DbResult<Option<i64>> {
    e::evm_transactions
        .filter(e::chain_id.eq(chain_id).and(e::from_address.eq(from)))
        .select(diesel::dsl::max(e::nonce))
        .first(conn)
}

/// Fails with a unique violation when the key or the nonce is taken: the caller looks again.
pub fn insert(conn: &mut DbConnection, row: &EvmTxRow) -> DbResult<()> {
    diesel::insert_into(e::evm_transactions).values(row).execute(conn).map(drop)
}

/// Stores a batch transaction and the rows it pays, in the caller's transaction: fails with a
/// unique violation when the batch's key, its nonce or any row is taken.
pub fn insert_batch(conn: &mut DbConnection, row: &EvmTxRow, members: &[String]) -> DbResult<()> {
    insert(conn, row)?;
    let rows: Vec<_> = members
        .iter()
        .enumerate()
        .map(|(n, key)| (b::idempotency_key.eq(key), b::batch_key.eq(&row.idempotency_key), b::row_index.eq(n as i32)))
        .collect();
    for chunk in rows.chunks(500) {
        super::per_backend!(conn, |c| diesel::insert_into(b::evm_batch_rows).values(chunk).execute(c))?;
    }
    Ok(())
}

/// For each of `keys` paid by a batch: (row key, the batch transaction, the row's index in it).
pub fn batches_of(conn: &mut DbConnection, keys: &[&str]) -> DbResult<Vec<(String, EvmTxRow, i32)>> {
    let mut found = Vec::new();
    for chunk in keys.chunks(500) {
        found.extend(
            b::evm_batch_rows
                .inner_join(e::evm_transactions.on(e::idempotency_key.eq(b::batch_key)))
                .filter(b::idempotency_key.eq_any(chunk))
                .select((b::idempotency_key, EvmTxRow::as_select(), b::row_index))
                .load::<(String, EvmTxRow, i32)>(conn)?,
        );
    }
    Ok(found)
}

/// Stored transactions by key, for many keys.
pub fn find_many(conn: &mut DbConnection, keys: &[&str]) -> DbResult<Vec<EvmTxRow>> {
    let mut found = Vec::new();
    for chunk in keys.chunks(500) {
        found.extend(
            e::evm_transactions.filter(e::idempotency_key.eq_any(chunk)).select(EvmTxRow::as_select()).load(conn)?,
        );
    }
    Ok(found)
}
