//! What the services ask of the transactions the rails sent, whatever the family: each family
//! keeps its own signed transactions in its own tables (`db::evm`, `db::utxo`, `db::solana`),
//! and these questions are asked of each family's store in turn. A family whose transactions can
//! be cancelled answers here (not Solana's: a transaction lands or expires within about a minute,
//! and cannot be replaced).

use chrono::NaiveDateTime;

use super::{DbConnection, DbResult};

/// A manager's request to cancel a pending transfer, recorded for the rail to act on at its next
/// round (in whichever server process pays the row).
pub struct CancelAsked {
    /// False when an earlier request was already recorded.
    pub first: bool,
    /// How many rows the transaction pays: a batch is cancelled whole.
    pub rows: i64,
}

/// Records a request to cancel the transaction paying `key`, in the caller's transaction; None
/// when no rail sent a cancellable transaction for it.
pub fn request_cancel(conn: &mut DbConnection, key: &str, at: NaiveDateTime) -> DbResult<Option<CancelAsked>> {
    let asked = match super::evm::request_cancel(conn, key, at)? {
        Some(asked) => Some(asked),
        None => super::utxo::request_cancel(conn, key, at)?,
    };
    Ok(asked.map(|(first, rows)| CancelAsked { first, rows }))
}
