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
#[diesel(table_name = super::schema::sim_transfers)]
pub struct NewSimTransfer<'a> {
    pub key: &'a str,
    pub tx_hash: &'a str,
    pub asset: &'a str,
    pub address: &'a str,
    pub amount: &'a str,
    pub fail_reason: Option<String>,
    pub submitted_at: NaiveDateTime,
}

/// Inserts unless the key was sent before; returns what is stored for the key.
pub fn insert_once(conn: &mut DbConnection, row: &NewSimTransfer) -> DbResult<SimTransferRow> {
    super::per_backend!(conn, |c| diesel::insert_into(s::sim_transfers)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    s::sim_transfers.find(row.key).select(SimTransferRow::as_select()).first(conn)
}

pub fn find(conn: &mut DbConnection, key: &str) -> DbResult<Option<SimTransferRow>> {
    s::sim_transfers.find(key).select(SimTransferRow::as_select()).first(conn).optional()
}

pub fn all(conn: &mut DbConnection) -> DbResult<Vec<SimTransferRow>> {
    s::sim_transfers.order(s::submitted_at).select(SimTransferRow::as_select()).load(conn)
}
