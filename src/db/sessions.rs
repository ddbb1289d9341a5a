use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::{NewSessionRow, OrgRow, SessionRow, UserRow};
use super::schema::{organizations, security_keys, sessions::dsl as s, users};
use super::{DbConnection, DbResult};

pub fn insert(conn: &mut DbConnection, row: &NewSessionRow) -> DbResult<()> {
    diesel::insert_into(s::sessions).values(row).execute(conn).map(drop)
}

/// The session, its user and organization, and whether the user has a security key.
pub fn find_with_user(
    conn: &mut DbConnection,
    token_hash: &str,
) -> DbResult<Option<(SessionRow, UserRow, OrgRow, bool)>> {
    let has_key = diesel::dsl::exists(
        security_keys::table.filter(security_keys::user_id.eq(users::id)).select(security_keys::id),
    );
    s::sessions
        .inner_join(users::table.inner_join(organizations::table))
        .filter(s::token_hash.eq(token_hash))
        .select((SessionRow::as_select(), UserRow::as_select(), OrgRow::as_select(), has_key))
        .first(conn)
        .optional()
}

pub fn touch(conn: &mut DbConnection, id: i64, at: NaiveDateTime) -> DbResult<()> {
    diesel::update(s::sessions.find(id)).set(s::last_seen_at.eq(at)).execute(conn).map(drop)
}

pub fn delete(conn: &mut DbConnection, id: i64) -> DbResult<()> {
    diesel::delete(s::sessions.find(id)).execute(conn).map(drop)
}

pub fn delete_by_token_hash(conn: &mut DbConnection, token_hash: &str) -> DbResult<usize> {
    diesel::delete(s::sessions.filter(s::token_hash.eq(token_hash))).execute(conn)
}

pub fn delete_for_user(conn: &mut DbConnection, user_id: i64) -> DbResult<usize> {
    diesel::delete(s::sessions.filter(s::user_id.eq(user_id))).execute(conn)
}

/// Sessions idle since before `idle_before` or created before `created_before` are dead.
pub fn delete_expired(
    conn: &mut DbConnection,
    idle_before: NaiveDateTime,
    created_before: NaiveDateTime,
) -> DbResult<usize> {
    diesel::delete(s::sessions.filter(s::last_seen_at.lt(idle_before).or(s::created_at.lt(created_before))))
        .execute(conn)
}

/// For tests and maintenance: move a session's clock back.
pub fn set_times(
    conn: &mut DbConnection,
    token_hash: &str,
    created_at: NaiveDateTime,
    last_seen_at: NaiveDateTime,
) -> DbResult<usize> {
    diesel::update(s::sessions.filter(s::token_hash.eq(token_hash)))
        .set((s::created_at.eq(created_at), s::last_seen_at.eq(last_seen_at)))
        .execute(conn)
}

/// Ends every session of the user but `keep` (a password changed from that session).
pub fn delete_others(conn: &mut DbConnection, user_id: i64, keep: i64) -> DbResult<usize> {
    diesel::delete(s::sessions.filter(s::user_id.eq(user_id).and(s::id.ne(keep)))).execute(conn)
}
