//! One-time links: invitations to join an organization, password resets and the requests for
//! them. Only a link's SHA-256 is kept.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{invitations::dsl as i, password_resets::dsl as pr, reset_requests::dsl as rq};
use super::{DbConnection, DbResult};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::invitations)]
pub struct InvitationRow {
    pub id: i64,
    pub org_id: i64,
    pub email: String,
    pub role: String,
    pub token_hash: String,
    pub invited_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub accepted_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = super::schema::invitations)]
pub struct NewInvitation<'a> {
    pub org_id: i64,
    pub email: &'a str,
    pub role: &'a str,
    pub token_hash: &'a str,
    pub invited_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConnection, row: &NewInvitation) -> DbResult<InvitationRow> {
    diesel::insert_into(i::invitations).values(row).returning(super::schema::invitations::all_columns).get_result(conn)
}

/// Invitations not accepted, revoked or expired, newest first.
pub fn open_in_org(conn: &mut DbConnection, org_id: i64, at: NaiveDateTime) -> DbResult<Vec<InvitationRow>> {
    i::invitations
        .filter(i::org_id.eq(org_id).and(i::accepted_at.is_null()).and(i::revoked_at.is_null()))
        .filter(i::expires_at.gt(at))
        .order(i::id.desc())
        .select(InvitationRow::as_select())
        .load(conn)
}

pub fn find_in_org(conn: &mut DbConnection, org_id: i64, id: i64) -> DbResult<Option<InvitationRow>> {
    i::invitations
        .filter(i::id.eq(id).and(i::org_id.eq(org_id)))
        .select(InvitationRow::as_select())
        .first(conn)
        .optional()
}

pub fn by_token_hash(conn: &mut DbConnection, hash: &str) -> DbResult<Option<InvitationRow>> {
    i::invitations.filter(i::token_hash.eq(hash)).select(InvitationRow::as_select()).first(conn).optional()
}

/// Uses an invitation: true for exactly one caller, and only while it is open.
pub fn accept(conn: &mut DbConnection, id: i64, at: NaiveDateTime) -> DbResult<bool> {
    let n = diesel::update(
        i::invitations
            .filter(i::id.eq(id).and(i::accepted_at.is_null()).and(i::revoked_at.is_null()))
            .filter(i::expires_at.gt(at)),
    )
    .set(i::accepted_at.eq(Some(at)))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn revoke(conn: &mut DbConnection, org_id: i64, id: i64, at: NaiveDateTime) -> DbResult<bool> {
    let n = diesel::update(
        i::invitations
            .filter(i::id.eq(id).and(i::org_id.eq(org_id)).and(i::accepted_at.is_null()).and(i::revoked_at.is_null())),
    )
    .set(i::revoked_at.eq(Some(at)))
    .execute(conn)?;
    Ok(n == 1)
}

/// Every open invitation for `email` ends (a new one, or the account now exists).
pub fn revoke_for_email(conn: &mut DbConnection, email: &str, at: NaiveDateTime) -> DbResult<usize> {
    diesel::update(i::invitations.filter(i::email.eq(email).and(i::accepted_at.is_null()).and(i::revoked_at.is_null())))
        .set(i::revoked_at.eq(Some(at)))
        .execute(conn)
}

/// Records a "forgot my password" request, the same way for every address.
pub fn insert_reset_request(conn: &mut DbConnection, email: &str, ip: Option<&str>, at: NaiveDateTime) -> DbResult<()> {
    diesel::insert_into(rq::reset_requests)
        .values((rq::email.eq(email), rq::ip.eq(ip), rq::created_at.eq(at)))
        .execute(conn)
        .map(drop)
}

/// Requests for `email` and from `ip` since `since`.
pub fn reset_requests_since(
    conn: &mut DbConnection,
    email: &str,
    ip: Option<&str>,
    since: NaiveDateTime,
) -> DbResult<(i64, i64)> {
    let by_email =
        rq::reset_requests.filter(rq::email.eq(email).and(rq::created_at.ge(since))).count().get_result(conn)?;
    let by_ip = match ip {
        Some(ip) => rq::reset_requests.filter(rq::ip.eq(ip).and(rq::created_at.ge(since))).count().get_result(conn)?,
        None => 0,
    };
    Ok((by_email, by_ip))
}

/// Requests no notifier has handled yet: (id, email).
pub fn open_reset_requests(conn: &mut DbConnection, limit: i64) -> DbResult<Vec<(i64, String)>> {
    rq::reset_requests
        .filter(rq::handled_at.is_null())
        .order(rq::id)
        .limit(limit)
        .select((rq::id, rq::email))
        .load(conn)
}

/// Takes a request: true for exactly one notifier.
pub fn take_reset_request(conn: &mut DbConnection, id: i64, at: NaiveDateTime) -> DbResult<bool> {
    let n = diesel::update(rq::reset_requests.filter(rq::id.eq(id).and(rq::handled_at.is_null())))
        .set(rq::handled_at.eq(Some(at)))
        .execute(conn)?;
    Ok(n == 1)
}

/// After a password change or disabling the account: every open reset link of the person ends,
/// and every request for their address not yet answered is answered with nothing, so no link
/// asked for before the change can set a password after it. Requests first: a notifier issuing
/// a link at this moment holds its request's row, and the links are read after it commits.
pub fn void_resets(conn: &mut DbConnection, user_id: i64, email: &str, at: NaiveDateTime) -> DbResult<()> {
    diesel::update(rq::reset_requests.filter(rq::email.eq(email).and(rq::handled_at.is_null())))
        .set(rq::handled_at.eq(Some(at)))
        .execute(conn)?;
    diesel::update(pr::password_resets.filter(pr::user_id.eq(user_id).and(pr::used_at.is_null())))
        .set(pr::used_at.eq(Some(at)))
        .execute(conn)?;
    Ok(())
}

pub fn purge_reset_requests(conn: &mut DbConnection, before: NaiveDateTime) -> DbResult<usize> {
    diesel::delete(rq::reset_requests.filter(rq::created_at.lt(before))).execute(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::password_resets)]
pub struct ResetRow {
    pub id: i64,
    pub user_id: i64,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

pub fn insert_reset(
    conn: &mut DbConnection,
    user_id: i64,
    token_hash: &str,
    at: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> DbResult<()> {
    diesel::insert_into(pr::password_resets)
        .values((
            pr::user_id.eq(user_id),
            pr::token_hash.eq(token_hash),
            pr::created_at.eq(at),
            pr::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .map(drop)
}

pub fn reset_by_token_hash(conn: &mut DbConnection, hash: &str) -> DbResult<Option<ResetRow>> {
    pr::password_resets.filter(pr::token_hash.eq(hash)).select(ResetRow::as_select()).first(conn).optional()
}

/// Uses a reset link: true for exactly one caller, only before it expires. Every other link of
/// the same person ends with it.
pub fn use_reset(conn: &mut DbConnection, row: &ResetRow, at: NaiveDateTime) -> DbResult<bool> {
    let n = diesel::update(
        pr::password_resets.filter(pr::id.eq(row.id).and(pr::used_at.is_null()).and(pr::expires_at.gt(at))),
    )
    .set(pr::used_at.eq(Some(at)))
    .execute(conn)?;
    if n == 1 {
        diesel::update(pr::password_resets.filter(pr::user_id.eq(row.user_id).and(pr::used_at.is_null())))
            .set(pr::used_at.eq(Some(at)))
            .execute(conn)?;
    }
    Ok(n == 1)
}
