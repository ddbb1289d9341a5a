//! Second factors: TOTP columns of users, recovery codes, security keys (counted and removed
//! here; WebAuthn registration is still to come), the session's proof and the organization's policy.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{
    organizations::dsl as o, recovery_codes::dsl as r, security_keys::dsl as k, sessions::dsl as s,
    step_up_thresholds::dsl as t, users::dsl as u,
};
use super::{DbConnection, DbResult};

/// A new TOTP secret awaiting its first code; an authenticator in use is never overwritten.
pub fn start_totp(conn: &mut DbConnection, user_id: i64, sealed: &str) -> DbResult<bool> {
    diesel::update(u::users.find(user_id).filter(u::totp_enabled_at.is_null()))
        .set((u::totp_secret.eq(Some(sealed)), u::totp_last_step.eq(None::<i64>)))
        .execute(conn)
        .map(|n| n == 1)
}

/// Puts the pending secret in use, `step` being the step of the code that confirmed it.
pub fn enable_totp(conn: &mut DbConnection, user_id: i64, at: NaiveDateTime, step: i64) -> DbResult<bool> {
    diesel::update(u::users.find(user_id).filter(u::totp_enabled_at.is_null().and(u::totp_secret.is_not_null())))
        .set((u::totp_enabled_at.eq(Some(at)), u::totp_last_step.eq(Some(step))))
        .execute(conn)
        .map(|n| n == 1)
}

/// Accepts the time step `step` once: true when no code of this step or a later one was
/// accepted before. One statement, so two requests with the same code cannot both pass.
pub fn claim_totp_step(conn: &mut DbConnection, user_id: i64, step: i64) -> DbResult<bool> {
    diesel::update(u::users.find(user_id).filter(u::totp_last_step.is_null().or(u::totp_last_step.lt(step))))
        .set(u::totp_last_step.eq(Some(step)))
        .execute(conn)
        .map(|n| n == 1)
}

pub fn clear_totp(conn: &mut DbConnection, user_id: i64) -> DbResult<()> {
    diesel::update(u::users.find(user_id))
        .set((
            u::totp_secret.eq(None::<String>),
            u::totp_enabled_at.eq(None::<NaiveDateTime>),
            u::totp_last_step.eq(None::<i64>),
        ))
        .execute(conn)
        .map(drop)
}

pub fn replace_recovery_codes(conn: &mut DbConnection, user_id: i64, hashes: &[String]) -> DbResult<()> {
    diesel::delete(r::recovery_codes.filter(r::user_id.eq(user_id))).execute(conn)?;
    for hash in hashes {
        diesel::insert_into(r::recovery_codes)
            .values((r::user_id.eq(user_id), r::code_hash.eq(hash), r::used_at.eq(None::<NaiveDateTime>)))
            .execute(conn)?;
    }
    Ok(())
}

/// Spends the unused recovery code with this digest: false when there is none.
pub fn use_recovery_code(conn: &mut DbConnection, user_id: i64, hash: &str, at: NaiveDateTime) -> DbResult<bool> {
    diesel::update(
        r::recovery_codes.filter(r::user_id.eq(user_id).and(r::code_hash.eq(hash)).and(r::used_at.is_null())),
    )
    .set(r::used_at.eq(Some(at)))
    .execute(conn)
    .map(|n| n == 1)
}

pub fn unused_recovery_codes(conn: &mut DbConnection, user_id: i64) -> DbResult<i64> {
    r::recovery_codes.filter(r::user_id.eq(user_id).and(r::used_at.is_null())).count().get_result(conn)
}

pub fn delete_recovery_codes(conn: &mut DbConnection, user_id: i64) -> DbResult<()> {
    diesel::delete(r::recovery_codes.filter(r::user_id.eq(user_id))).execute(conn).map(drop)
}

pub fn key_count(conn: &mut DbConnection, user_id: i64) -> DbResult<i64> {
    k::security_keys.filter(k::user_id.eq(user_id)).count().get_result(conn)
}

/// (user id, number of keys) for every user of the organization that has one.
pub fn key_counts_in_org(conn: &mut DbConnection, org_id: i64) -> DbResult<Vec<(i64, i64)>> {
    k::security_keys
        .inner_join(u::users)
        .filter(u::org_id.eq(org_id))
        .group_by(k::user_id)
        .select((k::user_id, diesel::dsl::count_star()))
        .load(conn)
}

pub fn delete_keys(conn: &mut DbConnection, user_id: i64) -> DbResult<()> {
    diesel::delete(k::security_keys.filter(k::user_id.eq(user_id))).execute(conn).map(drop)
}

/// The session has passed its second factor; that proof is fresh for a step-up too.
pub fn session_second_factor(conn: &mut DbConnection, session_id: i64, at: NaiveDateTime) -> DbResult<()> {
    diesel::update(s::sessions.find(session_id))
        .set((s::second_factor_at.eq(Some(at)), s::step_up_at.eq(Some(at))))
        .execute(conn)
        .map(drop)
}

pub fn session_step_up(conn: &mut DbConnection, session_id: i64, at: NaiveDateTime) -> DbResult<()> {
    diesel::update(s::sessions.find(session_id)).set(s::step_up_at.eq(Some(at))).execute(conn).map(drop)
}

pub fn set_org_policy(
    conn: &mut DbConnection,
    org_id: i64,
    staff: bool,
    accountants: bool,
    every_approval: bool,
) -> DbResult<()> {
    diesel::update(o::organizations.find(org_id))
        .set((
            o::second_factor_staff.eq(staff),
            o::second_factor_accountants.eq(accountants),
            o::step_up_every_approval.eq(every_approval),
        ))
        .execute(conn)
        .map(drop)
}

pub fn thresholds(conn: &mut DbConnection, org_id: i64) -> DbResult<Vec<(String, String)>> {
    t::step_up_thresholds.filter(t::org_id.eq(org_id)).select((t::asset, t::threshold)).load(conn)
}

pub fn set_threshold(conn: &mut DbConnection, org_id: i64, asset: &str, threshold: Option<&str>) -> DbResult<()> {
    diesel::delete(t::step_up_thresholds.filter(t::org_id.eq(org_id).and(t::asset.eq(asset)))).execute(conn)?;
    if let Some(value) = threshold {
        diesel::insert_into(t::step_up_thresholds)
            .values((t::org_id.eq(org_id), t::asset.eq(asset), t::threshold.eq(value)))
            .execute(conn)?;
    }
    Ok(())
}
