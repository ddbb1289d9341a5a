//! The EVM rail's record of the transactions it signed.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{evm_batch_rows::dsl as b, evm_replaced::dsl as r, evm_transactions::dsl as e};
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
    /// A manager asked to cancel it while it was pending.
    pub cancel_requested_at: Option<NaiveDateTime>,
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

/// Puts a replacement (same nonce, higher fee) in the place of the stored version `old_hash`,
/// keeping the old one: false when the stored version is no longer `old_hash` (another
/// processor replaced it first). Runs inside the caller's transaction.
pub fn replace(
    conn: &mut DbConnection,
    old: &EvmTxRow,
    new_hash: &str,
    new_raw: &str,
    at: NaiveDateTime,
) -> DbResult<bool> {
    let swapped = diesel::update(
        e::evm_transactions.filter(e::idempotency_key.eq(&old.idempotency_key).and(e::tx_hash.eq(&old.tx_hash))),
    )
    .set((e::tx_hash.eq(new_hash), e::raw_tx.eq(new_raw), e::created_at.eq(at)))
    .execute(conn)?;
    if swapped == 1 {
        diesel::insert_into(r::evm_replaced)
            .values((
                r::tx_hash.eq(&old.tx_hash),
                r::idempotency_key.eq(&old.idempotency_key),
                r::raw_tx.eq(&old.raw_tx),
                r::replaced_at.eq(at),
            ))
            .execute(conn)?;
    }
    Ok(swapped == 1)
}

/// (hash, signed bytes) of the versions a stored transaction's replacements took the place of,
/// oldest first.
pub fn replaced_of(conn: &mut DbConnection, key: &str) -> DbResult<Vec<(String, String)>> {
    r::evm_replaced
        .filter(r::idempotency_key.eq(key))
        .order(r::replaced_at.asc())
        .select((r::tx_hash, r::raw_tx))
        .load(conn)
}

/// Asks the rail to cancel the transaction that pays the row `key` (its batch's, for a batch
/// row). None when no transaction is stored for the row; else whether this call asked it (false:
/// asked before) and how many rows that transaction pays.
pub fn request_cancel(conn: &mut DbConnection, key: &str, at: NaiveDateTime) -> DbResult<Option<(bool, i64)>> {
    let (tx_key, rows) = match find(conn, key)? {
        Some(row) => (row.idempotency_key, 1),
        None => {
            let Some(batch) = b::evm_batch_rows.find(key).select(b::batch_key).first::<String>(conn).optional()? else {
                return Ok(None);
            };
            let rows = b::evm_batch_rows.filter(b::batch_key.eq(&batch)).count().get_result(conn)?;
            (batch, rows)
        }
    };
    let asked = diesel::update(e::evm_transactions.find(&tx_key).filter(e::cancel_requested_at.is_null()))
        .set(e::cancel_requested_at.eq(Some(at)))
        .execute(conn)?;
    Ok(Some((asked == 1, rows)))
}
