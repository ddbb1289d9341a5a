//! Decisions that count rows and then write one (rate limits) take a lock per key first, so two
//! requests for the same key decide one after the other instead of both counting the same rows.

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use sha2::{Digest, Sha256};

use super::{DbConnection, DbResult};

/// Holds a lock on each of `keys` until the caller's write transaction ends. PostgreSQL: one
/// transaction-scoped advisory lock per key, taken in one order by every caller, so two callers
/// with overlapping keys never wait for each other in a circle. SQLite: the write transaction
/// (`BEGIN IMMEDIATE`) already holds the database's only write lock.
pub fn serialize_on(conn: &mut DbConnection, keys: &[String]) -> DbResult<()> {
    let DbConnection::Postgres(c) = conn else { return Ok(()) };
    let mut ids: Vec<i64> = keys.iter().map(|k| lock_id(k)).collect();
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)").bind::<BigInt, _>(id).execute(c)?;
    }
    Ok(())
}

/// A key's 64-bit lock number: the first eight bytes of its SHA-256 (two keys sharing one only
/// make their callers wait for each other).
fn lock_id(key: &str) -> i64 {
    let digest = Sha256::digest(key.as_bytes());
    i64::from_be_bytes(digest[..8].try_into().expect("eight bytes"))
}
