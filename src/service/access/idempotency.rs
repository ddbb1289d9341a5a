//! Idempotency-Key: an API create answered once, its answer replayed to every repeat.

use chrono::NaiveDateTime;
use serde::Serialize;

use crate::crypto;
use crate::db::{self, DbConnection};
use crate::domain::FieldErrors;
use crate::error::AppError;

/// The stored or fresh answer to a create: (HTTP status, JSON body).
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// Runs a create once per Idempotency-Key, with Stripe's semantics: the first request to claim
/// the key decides. The claim, what `make` writes and the stored answer are one transaction, so
/// a concurrent request with the same key waits for the first to end, then gets its answer when
/// its body is the same and a 422 when it is not. A request that fails validation claims nothing
/// and stores nothing. Keys of payouts and of other resources live in separate namespaces.
pub fn once(
    conn: &mut DbConnection,
    org_id: i64,
    namespace: &str,
    key: &str,
    req: &impl Serialize,
    at: NaiveDateTime,
    make: impl FnOnce(&mut DbConnection, NaiveDateTime) -> Result<(u16, String), AppError>,
) -> Result<Answer, AppError> {
    let key = key.trim();
    if key.is_empty() || key.len() > 200 {
        return Err(FieldErrors::single(
            "Idempotency-Key",
            "Send an Idempotency-Key header (1 to 200 characters) with every create.",
        )
        .into());
    }
    let key = format!("{namespace}{key}");
    let key = key.as_str();
    let canonical = serde_json::to_string(req).map_err(|e| AppError::Internal(e.to_string()))?;
    let request_hash = crypto::sha256_hex(canonical.as_bytes());
    let replay = |stored: db::api::StoredAnswer| -> Result<Answer, AppError> {
        if stored.request_hash != request_hash {
            return Err(FieldErrors::single(
                "Idempotency-Key",
                "This key was already used with a different request body.",
            )
            .into());
        }
        Ok(Answer { status: stored.status as u16, body: stored.response_body })
    };
    if let Some(stored) = db::api::find_answer(conn, org_id, key)? {
        return replay(stored);
    }
    db::write_tx(conn, |conn| {
        if !db::api::claim_key(conn, org_id, key, &request_hash, at)? {
            // Another request held the key; its transaction has ended by now.
            let stored = db::api::find_answer(conn, org_id, key)?
                .ok_or_else(|| AppError::Conflict("A request with this Idempotency-Key is in progress.".into()))?;
            return replay(stored);
        }
        let (status, body) = make(conn, at)?;
        db::api::set_answer(conn, org_id, key, status as i32, &body)?;
        Ok(Answer { status, body })
    })
}

/// Idempotency-Key answers are kept 48 hours (the contract promises at least 24).
pub const ANSWERS_KEPT_HOURS: i64 = 48;

pub fn purge_old_answers(conn: &mut DbConnection, at: NaiveDateTime) -> Result<usize, AppError> {
    Ok(db::api::purge_answers(conn, at - chrono::Duration::hours(ANSWERS_KEPT_HOURS))?)
}
