//! Payee sessions: found by the SHA-256 of the cookie's token, ended by signing out, by expiry,
//! or when the payee is archived.

use chrono::NaiveDateTime;

use super::PayeeActor;
use crate::clock::Clock;
use crate::crypto;
use crate::db::{self, DbConnection};
use crate::error::AppError;

/// The payee a session token speaks for, while it is live and the payee is not archived.
pub fn resolve(
    conn: &mut DbConnection,
    token: &str,
    clock: &Clock,
    at: NaiveDateTime,
) -> Result<Option<PayeeActor>, AppError> {
    if token.len() != 64 {
        return Ok(None);
    }
    let Some(session) = db::portal::live_session(conn, &crypto::sha256_hex(token.as_bytes()), at)? else {
        return Ok(None);
    };
    let Some(payee) = db::payees::find_in_org(conn, session.org_id, session.payee_id)? else { return Ok(None) };
    if payee.archived {
        return Ok(None);
    }
    let org_name = db::orgs::find(conn, session.org_id)?.name;
    Ok(Some(PayeeActor {
        org_id: session.org_id,
        payee_id: session.payee_id,
        payee_name: payee.name,
        org_name,
        clock: clock.clone(),
    }))
}

pub fn sign_out(conn: &mut DbConnection, token: &str) -> Result<(), AppError> {
    Ok(db::portal::end_session(conn, &crypto::sha256_hex(token.as_bytes()))?)
}
