//! The simulated network's own record of what it sent.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::sim_transfers::dsl as s;
use super::{DbConnection, DbResult};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::sim_transfers)]
pub struct SimTransferRow {
    pub key: String,
    pub tx_hash: String,
    pub asset: String,
    pub address: String,
    pub amount: String,
    pub fail_reason: Option<String>,
    pub submitted_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = super::schema::sim_transfers, treat_none_as_default_value = false)]
pub struct NewSimTransfer<'a> {
    pub key: &'a str,
    pub tx_hash: &'a str,
    pub asset: &'a str,
    pub address: &'a str,
    pub amount: String,
    pub fail_reason: Option<String>,
    pub submitted_at: NaiveDateTime,
}

/// Rows per insert and keys per lookup: well under both databases' bound-parameter limits.
const ROWS_PER_STATEMENT: usize = 1000;

/// Inserts each row unless its key was sent before; returns what is stored for the keys (the
/// first transfer of a key stands), in no particular order.
pub fn insert_once(conn: &mut DbConnection, rows: &[NewSimTransfer]) -> DbResult<Vec<SimTransferRow>> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        super::per_backend!(conn, |c| diesel::insert_into(s::sim_transfers)
            .values(chunk)
            .on_conflict_do_nothing()
            .execute(c))?;
    }
    find_many(conn, &rows.iter().map(|r| r.key).collect::<Vec<_>>())
}

/// The stored transfers of these keys, in no particular order; unknown keys are left out.
pub fn find_many(conn: &mut DbConnection, keys: &[&str]) -> DbResult<Vec<SimTransferRow>> {
    let mut found = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(ROWS_PER_STATEMENT) {
        found.extend(
            s::sim_transfers
                .filter(s::key.eq_any(chunk).and(super::planned_each_time()))
                .select(SimTransferRow::as_select())
                .load(conn)?,
        );
    }
    Ok(found)
}

pub fn all(conn: &mut DbConnection) -> DbResult<Vec<SimTransferRow>> {
    s::sim_transfers.order(s::submitted_at).select(SimTransferRow::as_select()).load(conn)
}
