//! The EVM rail's record of the transactions it signed.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::evm_transactions::dsl as e;
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
