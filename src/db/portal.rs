//! The payee's own side: one-time links emailed to payees, their sessions, and the challenges
//! their wallets sign. Tokens are kept only as their SHA-256.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{payee_challenges::dsl as c, payee_links::dsl as l, payee_sessions::dsl as s};
use super::{DbConnection, DbResult};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::payee_links)]
pub struct PayeeLinkRow {
    pub id: i64,
    pub org_id: i64,
    pub payee_id: i64,
    pub purpose: String,
    pub token_hash: String,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = super::schema::payee_links)]
pub struct NewPayeeLink<'a> {
    pub org_id: i64,
    pub payee_id: i64,
    pub purpose: &'a str,
    pub token_hash: &'a str,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

pub fn insert_link(conn: &mut DbConnection, row: &NewPayeeLink) -> DbResult<()> {
    diesel::insert_into(l::payee_links).values(row.clone()).execute(conn).map(drop)
}

/// Links sent to a payee since `since` (the sign-in form's limit; the caller holds the payee's lock).
pub fn links_since(conn: &mut DbConnection, payee_id: i64, since: NaiveDateTime) -> DbResult<i64> {
    l::payee_links.filter(l::payee_id.eq(payee_id).and(l::created_at.ge(since))).count().get_result(conn)
}

pub fn find_link(conn: &mut DbConnection, token_hash: &str) -> DbResult<Option<PayeeLinkRow>> {
    l::payee_links.filter(l::token_hash.eq(token_hash)).select(PayeeLinkRow::as_select()).first(conn).optional()
}

/// Uses a link once, while it is valid: a compare-and-swap, so two tabs opening it at the same
/// instant make one session.
pub fn use_link(conn: &mut DbConnection, id: i64, at: NaiveDateTime) -> DbResult<bool> {
    let open = l::id.eq(id).and(l::used_at.is_null()).and(l::expires_at.gt(at));
    Ok(diesel::update(l::payee_links.filter(open)).set(l::used_at.eq(Some(at))).execute(conn)? == 1)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::payee_sessions)]
pub struct PayeeSessionRow {
    pub id: i64,
    pub token_hash: String,
    pub org_id: i64,
    pub payee_id: i64,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

pub fn insert_session(
    conn: &mut DbConnection,
    token_hash: &str,
    org_id: i64,
    payee_id: i64,
    at: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> DbResult<()> {
    diesel::insert_into(s::payee_sessions)
        .values((
            s::token_hash.eq(token_hash),
            s::org_id.eq(org_id),
            s::payee_id.eq(payee_id),
            s::created_at.eq(at),
            s::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .map(drop)
}

pub fn live_session(conn: &mut DbConnection, token_hash: &str, at: NaiveDateTime) -> DbResult<Option<PayeeSessionRow>> {
    s::payee_sessions
        .filter(s::token_hash.eq(token_hash).and(s::expires_at.gt(at)))
        .select(PayeeSessionRow::as_select())
        .first(conn)
        .optional()
}

pub fn end_session(conn: &mut DbConnection, token_hash: &str) -> DbResult<()> {
    diesel::delete(s::payee_sessions.filter(s::token_hash.eq(token_hash))).execute(conn).map(drop)
}

/// Ends every session of a payee (archived, or their email changed).
pub fn end_sessions_of(conn: &mut DbConnection, payee_id: i64) -> DbResult<usize> {
    diesel::delete(s::payee_sessions.filter(s::payee_id.eq(payee_id))).execute(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::payee_challenges)]
pub struct ChallengeRow {
    pub id: i64,
    pub org_id: i64,
    pub payee_id: i64,
    pub asset: String,
    pub address: String,
    pub nonce: String,
    pub message: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = super::schema::payee_challenges)]
pub struct NewChallenge<'a> {
    pub org_id: i64,
    pub payee_id: i64,
    pub asset: &'a str,
    pub address: &'a str,
    pub nonce: &'a str,
    pub message: &'a str,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

pub fn insert_challenge(conn: &mut DbConnection, row: &NewChallenge) -> DbResult<ChallengeRow> {
    diesel::insert_into(c::payee_challenges).values(row.clone()).execute(conn)?;
    c::payee_challenges.filter(c::nonce.eq(row.nonce)).select(ChallengeRow::as_select()).first(conn)
}

/// Challenges a payee was given since `since` (bounded per hour; the caller holds the payee's lock).
pub fn challenges_since(conn: &mut DbConnection, payee_id: i64, since: NaiveDateTime) -> DbResult<i64> {
    c::payee_challenges.filter(c::payee_id.eq(payee_id).and(c::created_at.ge(since))).count().get_result(conn)
}

/// One of a payee's challenges, by id.
pub fn challenge_of(conn: &mut DbConnection, payee_id: i64, id: i64) -> DbResult<Option<ChallengeRow>> {
    c::payee_challenges
        .filter(c::id.eq(id).and(c::payee_id.eq(payee_id)))
        .select(ChallengeRow::as_select())
        .first(conn)
        .optional()
}

/// Uses a challenge once, before it expires (compare-and-swap).
pub fn use_challenge(conn: &mut DbConnection, id: i64, at: NaiveDateTime) -> DbResult<bool> {
    let open = c::id.eq(id).and(c::used_at.is_null()).and(c::expires_at.gt(at));
    Ok(diesel::update(c::payee_challenges.filter(open)).set(c::used_at.eq(Some(at))).execute(conn)? == 1)
}
