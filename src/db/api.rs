//! API keys and stored idempotent answers.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{api_idempotency::dsl as i, api_keys::dsl as k};
use super::{DbConnection, DbResult};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::api_keys)]
pub struct ApiKeyRow {
    pub id: i64,
    pub org_id: i64,
    pub user_id: i64,
    pub name: String,
    pub prefix: String,
    pub key_hash: String,
    pub scopes: String,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = super::schema::api_keys)]
pub struct NewApiKey<'a> {
    pub org_id: i64,
    pub user_id: i64,
    pub name: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a str,
    pub scopes: &'a str,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
}

pub fn insert_key(conn: &mut DbConnection, row: &NewApiKey) -> DbResult<ApiKeyRow> {
    diesel::insert_into(k::api_keys).values(row).returning(super::schema::api_keys::all_columns).get_result(conn)
}

pub fn find_by_hash(conn: &mut DbConnection, hash: &str) -> DbResult<Option<ApiKeyRow>> {
    k::api_keys.filter(k::key_hash.eq(hash)).select(ApiKeyRow::as_select()).first(conn).optional()
}

/// A key by its hash with the user it acts for, in one statement (every API request asks).
pub fn find_with_user(conn: &mut DbConnection, hash: &str) -> DbResult<Option<(ApiKeyRow, super::models::UserRow)>> {
    use super::schema::users::dsl as u;
    k::api_keys
        .inner_join(u::users)
        .filter(k::key_hash.eq(hash).and(u::org_id.eq(k::org_id)))
        .select((ApiKeyRow::as_select(), super::models::UserRow::as_select()))
        .first(conn)
        .optional()
}

pub fn list(conn: &mut DbConnection, org_id: i64) -> DbResult<Vec<ApiKeyRow>> {
    k::api_keys.filter(k::org_id.eq(org_id)).order(k::id.desc()).select(ApiKeyRow::as_select()).load(conn)
}

pub fn touch(conn: &mut DbConnection, id: i64, at: NaiveDateTime) -> DbResult<()> {
    diesel::update(k::api_keys.find(id)).set(k::last_used_at.eq(Some(at))).execute(conn).map(drop)
}

pub fn revoke(conn: &mut DbConnection, org_id: i64, id: i64, at: NaiveDateTime) -> DbResult<bool> {
    let n = diesel::update(k::api_keys.filter(k::id.eq(id).and(k::org_id.eq(org_id)).and(k::revoked_at.is_null())))
        .set(k::revoked_at.eq(Some(at)))
        .execute(conn)?;
    Ok(n == 1)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::api_idempotency)]
pub struct StoredAnswer {
    pub org_id: i64,
    pub idempotency_key: String,
    pub request_hash: String,
    pub status: i32,
    pub response_body: String,
    pub created_at: NaiveDateTime,
}

pub fn find_answer(conn: &mut DbConnection, org_id: i64, key: &str) -> DbResult<Option<StoredAnswer>> {
    i::api_idempotency
        .filter(i::org_id.eq(org_id).and(i::idempotency_key.eq(key)))
        .select(StoredAnswer::as_select())
        .first(conn)
        .optional()
}

/// Claims `key` for a request with `request_hash`, inside the caller's transaction; false when
/// another request holds it. On PostgreSQL a concurrent claim of the same key waits here until
/// the holder's transaction ends (the unique index), then finds its row.
pub fn claim_key(
    conn: &mut DbConnection,
    org_id: i64,
    key: &str,
    request_hash: &str,
    at: NaiveDateTime,
) -> DbResult<bool> {
    let row = (
        i::org_id.eq(org_id),
        i::idempotency_key.eq(key),
        i::request_hash.eq(request_hash),
        i::status.eq(0),
        i::response_body.eq(""),
        i::created_at.eq(at),
    );
    let inserted = super::per_backend!(conn, |c| diesel::insert_into(i::api_idempotency)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}

/// The answer to a claimed key, written in the claim's transaction.
pub fn set_answer(conn: &mut DbConnection, org_id: i64, key: &str, status: i32, body: &str) -> DbResult<()> {
    diesel::update(i::api_idempotency.filter(i::org_id.eq(org_id).and(i::idempotency_key.eq(key))))
        .set((i::status.eq(status), i::response_body.eq(body)))
        .execute(conn)
        .map(drop)
}

/// Answers older than `before` are forgotten (kept at least 24 hours).
pub fn purge_answers(conn: &mut DbConnection, before: NaiveDateTime) -> DbResult<usize> {
    diesel::delete(i::api_idempotency.filter(i::created_at.lt(before))).execute(conn)
}
