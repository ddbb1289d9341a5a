use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::{NewSessionRow, OrgRow, SessionRow, UserRow};
use super::schema::{organizations, security_keys, sessions::dsl as s, users};
use super::{DbConnection, DbResult};

pub fn insert(conn: &mut DbConnection, row: &NewSessionRow) -> DbResult<()> {
    diesel::insert_into(s::sessions).values(row).execute(conn).map(drop)
}

/// The session, its user and organization, and whether the user has a security key.
/// What a page's header shows beside the person, read in the session's own statement (one
/// round trip fewer on every page): unread notices, and the organization's payouts awaiting
/// approval (its kept counter).
#[derive(Debug, Clone, Copy, Default)]
pub struct Badges {
    pub unread: i64,
    pub pending: i64,
}

/// A live session's row, its user, their organization, whether they have a security key, and
/// the header's badges.
pub type Resolved = (SessionRow, UserRow, OrgRow, bool, Badges);

pub fn find_with_user(conn: &mut DbConnection, token_hash: &str) -> DbResult<Option<Resolved>> {
    use super::schema::{notifications as n, payout_status_counts as c};
    let has_key = diesel::dsl::exists(
        security_keys::table.filter(security_keys::user_id.eq(users::id)).select(security_keys::id),
    );
    let unread = n::table
        .filter(n::user_id.eq(users::id).and(n::read_at.is_null()))
        .select(diesel::dsl::count_star())
        .single_value();
    let pending =
        c::table.filter(c::org_id.eq(users::org_id).and(c::status.eq("pending"))).select(c::count).single_value();
    type Row = (SessionRow, UserRow, OrgRow, bool, Option<i64>, Option<i64>);
    let found: Option<Row> = s::sessions
        .inner_join(users::table.inner_join(organizations::table))
        .filter(s::token_hash.eq(token_hash))
        .select((SessionRow::as_select(), UserRow::as_select(), OrgRow::as_select(), has_key, unread, pending))
        .first(conn)
        .optional()?;
    Ok(found.map(|(session, user, org, keys, unread, pending)| {
        (session, user, org, keys, Badges { unread: unread.unwrap_or(0), pending: pending.unwrap_or(0) })
    }))
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
