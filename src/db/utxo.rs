//! The UTXO rail's record of the transactions it signed: each with the rows it pays (one output
//! each) and every earlier version a replacement took the place of.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{utxo_replaced::dsl as r, utxo_rows::dsl as w, utxo_transactions::dsl as t};
use super::{DbConnection, DbResult};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::utxo_transactions)]
pub struct UtxoTxRow {
    /// The first row's idempotency key.
    pub tx_key: String,
    pub coin: String,
    pub txid: String,
    pub raw_tx: String,
    pub fee_sat: i64,
    pub vsize: i64,
    pub signed_height: i64,
    pub created_at: NaiveDateTime,
    pub cancel_requested_at: Option<NaiveDateTime>,
    /// The stored version is a manager's cancellation: the inputs paid back to the wallet.
    pub cancels: bool,
}

/// A row paid by a stored transaction.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::utxo_rows)]
pub struct UtxoRowRow {
    pub idempotency_key: String,
    pub tx_key: String,
    pub row_index: i32,
    pub address: String,
    pub amount_sat: i64,
    pub vout: i32,
}

/// Stores a signed transaction and its rows, in one database transaction, before it is
/// broadcast: fails with a unique violation when any row is already in another transaction.
pub fn insert(conn: &mut DbConnection, tx: &UtxoTxRow, rows: &[UtxoRowRow]) -> DbResult<()> {
    super::write_tx(conn, |conn| {
        diesel::insert_into(t::utxo_transactions).values(tx).execute(conn)?;
        for chunk in rows.chunks(500) {
            super::per_backend!(conn, |c| diesel::insert_into(w::utxo_rows).values(chunk).execute(c))?;
        }
        Ok(())
    })
}

/// For each of `keys` that a stored transaction pays: the row. Keys not stored are left out.
pub fn rows_of(conn: &mut DbConnection, keys: &[&str]) -> DbResult<Vec<UtxoRowRow>> {
    let mut found = Vec::new();
    for chunk in keys.chunks(500) {
        found.extend(w::utxo_rows.filter(w::idempotency_key.eq_any(chunk)).select(UtxoRowRow::as_select()).load(conn)?);
    }
    Ok(found)
}

/// Every row of one transaction, in row order.
pub fn rows_in(conn: &mut DbConnection, tx_key: &str) -> DbResult<Vec<UtxoRowRow>> {
    w::utxo_rows.filter(w::tx_key.eq(tx_key)).order(w::row_index.asc()).select(UtxoRowRow::as_select()).load(conn)
}

pub fn find_many(conn: &mut DbConnection, tx_keys: &[&str]) -> DbResult<Vec<UtxoTxRow>> {
    let mut found = Vec::new();
    for chunk in tx_keys.chunks(500) {
        found.extend(t::utxo_transactions.filter(t::tx_key.eq_any(chunk)).select(UtxoTxRow::as_select()).load(conn)?);
    }
    Ok(found)
}

/// Transactions of `coin` not yet known to have settled, oldest first: their inputs are locked
/// again in the wallet at start (a node forgets its locks when it restarts).
pub fn unsettled(conn: &mut DbConnection, coin: &str, limit: i64) -> DbResult<Vec<UtxoTxRow>> {
    use super::schema::payout_items::dsl as i;
    let open = i::payout_items.filter(i::status.eq_any(["submitting", "submitted"])).select(i::idempotency_key);
    let keys: Vec<String> =
        w::utxo_rows.filter(w::idempotency_key.eq_any(open)).select(w::tx_key).distinct().load(conn)?;
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let mut rows: Vec<UtxoTxRow> = find_many(conn, &refs)?.into_iter().filter(|r| r.coin == coin).collect();
    rows.sort_by_key(|r| r.created_at);
    rows.truncate(limit.max(0) as usize);
    Ok(rows)
}

/// A new version of a stored transaction (a replacement or a cancellation) in the place of the
/// stored `old`, which is kept, and the rows' outputs in it: false when the stored version is no
/// longer `old` (another processor replaced it first).
pub fn replace(
    conn: &mut DbConnection,
    old: &UtxoTxRow,
    new: &UtxoTxRow,
    vouts: &[(String, i32)],
    at: NaiveDateTime,
) -> DbResult<bool> {
    super::write_tx(conn, |conn| {
        let swapped = diesel::update(t::utxo_transactions.filter(t::tx_key.eq(&old.tx_key).and(t::txid.eq(&old.txid))))
            .set((
                t::txid.eq(&new.txid),
                t::raw_tx.eq(&new.raw_tx),
                t::fee_sat.eq(new.fee_sat),
                t::vsize.eq(new.vsize),
                t::signed_height.eq(new.signed_height),
                t::cancels.eq(new.cancels),
                t::created_at.eq(at),
            ))
            .execute(conn)?;
        if swapped != 1 {
            return Ok(false);
        }
        diesel::insert_into(r::utxo_replaced)
            .values((
                r::txid.eq(&old.txid),
                r::tx_key.eq(&old.tx_key),
                r::raw_tx.eq(&old.raw_tx),
                r::fee_sat.eq(old.fee_sat),
                r::replaced_at.eq(at),
            ))
            .execute(conn)?;
        for (key, vout) in vouts {
            diesel::update(w::utxo_rows.find(key)).set(w::vout.eq(vout)).execute(conn)?;
        }
        Ok(true)
    })
}

/// (txid, signed bytes, fee) of the versions replacements took the place of, oldest first.
pub fn replaced_of(conn: &mut DbConnection, tx_key: &str) -> DbResult<Vec<(String, String, i64)>> {
    r::utxo_replaced
        .filter(r::tx_key.eq(tx_key))
        .order(r::replaced_at.asc())
        .select((r::txid, r::raw_tx, r::fee_sat))
        .load(conn)
}

/// Asks the rail to cancel the transaction paying the row `key`. None when no transaction is
/// stored for the row; else whether this call asked it (false: asked before) and how many rows
/// that transaction pays.
pub fn request_cancel(conn: &mut DbConnection, key: &str, at: NaiveDateTime) -> DbResult<Option<(bool, i64)>> {
    let Some(tx_key) = w::utxo_rows.find(key).select(w::tx_key).first::<String>(conn).optional()? else {
        return Ok(None);
    };
    let rows = w::utxo_rows.filter(w::tx_key.eq(&tx_key)).count().get_result(conn)?;
    let asked = diesel::update(t::utxo_transactions.find(&tx_key).filter(t::cancel_requested_at.is_null()))
        .set(t::cancel_requested_at.eq(Some(at)))
        .execute(conn)?;
    Ok(Some((asked == 1, rows)))
}
