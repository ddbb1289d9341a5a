use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::{NewUserRow, UserRow};
use super::schema::users::dsl as u;
use super::{DbConnection, DbResult};

pub fn insert(conn: &mut DbConnection, row: &NewUserRow) -> DbResult<UserRow> {
    diesel::insert_into(u::users).values(row).returning(super::schema::users::all_columns).get_result(conn)
}

pub fn find_by_email(conn: &mut DbConnection, email: &str) -> DbResult<Option<UserRow>> {
    u::users.filter(u::email.eq(email)).select(UserRow::as_select()).first(conn).optional()
}

/// A user of `org_id` only: another organization's user is not found.
pub fn find_in_org(conn: &mut DbConnection, org_id: i64, id: i64) -> DbResult<Option<UserRow>> {
    u::users.filter(u::id.eq(id).and(u::org_id.eq(org_id))).select(UserRow::as_select()).first(conn).optional()
}

pub fn list_in_org(conn: &mut DbConnection, org_id: i64) -> DbResult<Vec<UserRow>> {
    u::users.filter(u::org_id.eq(org_id)).order(u::email).select(UserRow::as_select()).load(conn)
}

/// (id, email) of every user of the organization, for showing who created what.
pub fn emails_in_org(conn: &mut DbConnection, org_id: i64) -> DbResult<Vec<(i64, String)>> {
    u::users.filter(u::org_id.eq(org_id)).select((u::id, u::email)).load(conn)
}

/// Counts one more failed sign-in in the database itself, so parallel failures all count;
/// returns the new count.
pub fn increment_failed_logins(conn: &mut DbConnection, id: i64) -> DbResult<i32> {
    diesel::update(u::users.find(id))
        .set(u::failed_logins.eq(u::failed_logins + 1))
        .returning(u::failed_logins)
        .get_result(conn)
}

/// Counts a sign-in attempt as a failure before its password is checked, unless the account is
/// locked at `now`: the new count, or None when locked. One statement, so parallel guesses are
/// counted one by one and none slips past the lock.
pub fn claim_login_attempt(conn: &mut DbConnection, id: i64, now: NaiveDateTime) -> DbResult<Option<i32>> {
    diesel::update(u::users.find(id).filter(u::locked_until.is_null().or(u::locked_until.le(now))))
        .set(u::failed_logins.eq(u::failed_logins + 1))
        .returning(u::failed_logins)
        .get_result(conn)
        .optional()
}

pub fn set_locked_until(conn: &mut DbConnection, id: i64, until: Option<NaiveDateTime>) -> DbResult<()> {
    diesel::update(u::users.find(id)).set(u::locked_until.eq(until)).execute(conn).map(drop)
}

pub fn record_successful_login(conn: &mut DbConnection, id: i64, at: NaiveDateTime) -> DbResult<()> {
    diesel::update(u::users.find(id))
        .set((u::failed_logins.eq(0), u::locked_until.eq(None::<NaiveDateTime>), u::last_login_at.eq(Some(at))))
        .execute(conn)
        .map(drop)
}

pub fn set_role(conn: &mut DbConnection, id: i64, role: &str) -> DbResult<()> {
    diesel::update(u::users.find(id)).set(u::role.eq(role)).execute(conn).map(drop)
}

pub fn set_disabled(conn: &mut DbConnection, id: i64, disabled: bool) -> DbResult<()> {
    diesel::update(u::users.find(id)).set(u::disabled.eq(disabled)).execute(conn).map(drop)
}

/// A right second-factor code ends the run of failures, as a right password does.
pub fn clear_failures(conn: &mut DbConnection, id: i64) -> DbResult<()> {
    diesel::update(u::users.find(id))
        .set((u::failed_logins.eq(0), u::locked_until.eq(None::<NaiveDateTime>)))
        .execute(conn)
        .map(drop)
}

pub fn find(conn: &mut DbConnection, id: i64) -> DbResult<UserRow> {
    u::users.find(id).select(UserRow::as_select()).first(conn)
}

/// A new password; a reset also ends the run of failed sign-ins.
pub fn set_password(conn: &mut DbConnection, id: i64, hash: &str) -> DbResult<()> {
    diesel::update(u::users.find(id))
        .set((u::password_hash.eq(hash), u::failed_logins.eq(0), u::locked_until.eq(None::<NaiveDateTime>)))
        .execute(conn)
        .map(drop)
}
