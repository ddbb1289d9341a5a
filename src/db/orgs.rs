use diesel::prelude::*;

use super::models::{NewOrgRow, OrgRow};
use super::schema::organizations::dsl as o;
use super::{DbConnection, DbResult};

pub fn insert(conn: &mut DbConnection, row: &NewOrgRow) -> DbResult<OrgRow> {
    diesel::insert_into(o::organizations)
        .values(row)
        .returning(super::schema::organizations::all_columns)
        .get_result(conn)
}

pub fn find(conn: &mut DbConnection, id: i64) -> DbResult<OrgRow> {
    o::organizations.find(id).select(OrgRow::as_select()).first(conn)
}

/// The organization and its approval thresholds (asset, amount), in one statement.
pub fn find_with_thresholds(conn: &mut DbConnection, id: i64) -> DbResult<(OrgRow, Vec<(String, String)>)> {
    use super::schema::approval_thresholds::dsl as t;
    let rows: Vec<(OrgRow, Option<(String, String)>)> = o::organizations
        .left_join(t::approval_thresholds.on(t::org_id.eq(o::id)))
        .filter(o::id.eq(id))
        .select((OrgRow::as_select(), (t::asset, t::threshold).nullable()))
        .load(conn)?;
    let org = rows.first().map(|(org, _)| org.clone()).ok_or(diesel::result::Error::NotFound)?;
    Ok((org, rows.into_iter().filter_map(|(_, t)| t).collect()))
}

pub fn find_by_name(conn: &mut DbConnection, name: &str) -> DbResult<Option<OrgRow>> {
    o::organizations.filter(o::name.eq(name)).order(o::id).select(OrgRow::as_select()).first(conn).optional()
}

pub fn count(conn: &mut DbConnection) -> DbResult<i64> {
    o::organizations.count().get_result(conn)
}

pub fn list(conn: &mut DbConnection) -> DbResult<Vec<OrgRow>> {
    o::organizations.order(o::id).select(OrgRow::as_select()).load(conn)
}

pub fn set_approval_required(conn: &mut DbConnection, id: i64, required: bool) -> DbResult<()> {
    diesel::update(o::organizations.find(id)).set(o::approval_required.eq(required)).execute(conn).map(drop)
}

pub fn set_payees_may_skip_proof(conn: &mut DbConnection, id: i64, allowed: bool) -> DbResult<()> {
    diesel::update(o::organizations.find(id)).set(o::payees_may_skip_proof.eq(allowed)).execute(conn).map(drop)
}

pub fn set_payee_receipts(conn: &mut DbConnection, id: i64, on: bool) -> DbResult<()> {
    diesel::update(o::organizations.find(id)).set(o::payee_receipts.eq(on)).execute(conn).map(drop)
}

pub fn set_claim_days(conn: &mut DbConnection, id: i64, days: i32) -> DbResult<()> {
    diesel::update(o::organizations.find(id)).set(o::claim_days.eq(days)).execute(conn).map(drop)
}

pub fn set_sanctions_max_age_days(conn: &mut DbConnection, id: i64, days: i32) -> DbResult<()> {
    diesel::update(o::organizations.find(id)).set(o::sanctions_max_age_days.eq(days)).execute(conn).map(drop)
}

/// Each organization and how old a sanctions list it allows, in days.
pub fn sanctions_max_ages(conn: &mut DbConnection) -> DbResult<Vec<(i64, i32)>> {
    o::organizations.select((o::id, o::sanctions_max_age_days)).order(o::id).load(conn)
}

pub fn set_create_token_accounts(conn: &mut DbConnection, id: i64, create: bool) -> DbResult<()> {
    diesel::update(o::organizations.find(id)).set(o::create_token_accounts.eq(create)).execute(conn).map(drop)
}

pub fn set_time_zone(conn: &mut DbConnection, id: i64, zone: &str) -> DbResult<()> {
    diesel::update(o::organizations.find(id)).set(o::time_zone.eq(zone)).execute(conn).map(drop)
}
