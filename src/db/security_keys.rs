//! WebAuthn security keys and passkeys, and the key ceremony a session has under way.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{security_keys::dsl as k, sessions::dsl as s};
use super::{DbConnection, DbResult};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::security_keys)]
pub struct KeyRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub credential_id: String,
    /// The credential as webauthn-rs serializes it (public key, counter).
    pub credential: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
}

pub fn list(conn: &mut DbConnection, user_id: i64) -> DbResult<Vec<KeyRow>> {
    k::security_keys.filter(k::user_id.eq(user_id)).order(k::id.asc()).select(KeyRow::as_select()).load(conn)
}

/// False when this credential is registered already (to anyone): the column is unique.
pub fn insert(
    conn: &mut DbConnection,
    user_id: i64,
    name: &str,
    credential_id: &str,
    credential: &str,
    at: NaiveDateTime,
) -> DbResult<bool> {
    let taken: i64 = k::security_keys.filter(k::credential_id.eq(credential_id)).count().get_result(conn)?;
    if taken > 0 {
        return Ok(false);
    }
    diesel::insert_into(k::security_keys)
        .values((
            k::user_id.eq(user_id),
            k::name.eq(name),
            k::credential_id.eq(credential_id),
            k::credential.eq(credential),
            k::created_at.eq(at),
        ))
        .execute(conn)
        .map(|n| n == 1)
}

/// After a key was used: its new signature counter, and when.
pub fn used(conn: &mut DbConnection, id: i64, credential: Option<&str>, at: NaiveDateTime) -> DbResult<()> {
    match credential {
        Some(c) => diesel::update(k::security_keys.find(id))
            .set((k::credential.eq(c), k::last_used_at.eq(Some(at))))
            .execute(conn),
        None => diesel::update(k::security_keys.find(id)).set(k::last_used_at.eq(Some(at))).execute(conn),
    }
    .map(drop)
}

/// Removes one of the user's keys: false when the user has no key with this id.
pub fn delete(conn: &mut DbConnection, user_id: i64, id: i64) -> DbResult<bool> {
    diesel::delete(k::security_keys.filter(k::id.eq(id).and(k::user_id.eq(user_id)))).execute(conn).map(|n| n == 1)
}

/// Keeps a ceremony's state with the session, so that whichever server process gets the
/// browser's answer can finish it.
pub fn put_ceremony(conn: &mut DbConnection, session_id: i64, state: &str) -> DbResult<()> {
    diesel::update(s::sessions.find(session_id)).set(s::webauthn_state.eq(Some(state))).execute(conn).map(drop)
}

/// Takes the session's ceremony state, once: of two requests answering the same challenge only
/// one gets it.
pub fn take_ceremony(conn: &mut DbConnection, session_id: i64) -> DbResult<Option<String>> {
    let Some(state) = s::sessions.find(session_id).select(s::webauthn_state).first::<Option<String>>(conn)? else {
        return Ok(None);
    };
    let taken = diesel::update(s::sessions.find(session_id).filter(s::webauthn_state.eq(&state)))
        .set(s::webauthn_state.eq(None::<String>))
        .execute(conn)?;
    Ok((taken == 1).then_some(state))
}
