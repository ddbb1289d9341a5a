use diesel::prelude::*;

use super::models::{AuditRow, NewAuditRow};
use super::schema::audit_log::dsl as a;
use super::{DbConnection, DbResult};

pub fn insert(conn: &mut DbConnection, row: &NewAuditRow) -> DbResult<()> {
    diesel::insert_into(a::audit_log).values(row).execute(conn).map(drop)
}

/// Newest first; `before_id` pages backwards (keyset).
pub fn list_in_org(
    conn: &mut DbConnection,
    org_id: i64,
    before_id: Option<i64>,
    limit: i64,
) -> DbResult<Vec<AuditRow>> {
    let mut query = a::audit_log
        .filter(a::org_id.eq(org_id))
        .order(a::id.desc())
        .limit(limit)
        .select(AuditRow::as_select())
        .into_boxed();
    if let Some(before) = before_id {
        query = query.filter(a::id.lt(before));
    }
    query.load(conn)
}

/// Entries with no organization (failed logins with an unknown email, CLI bootstrap).
pub fn list_without_org(conn: &mut DbConnection, limit: i64) -> DbResult<Vec<AuditRow>> {
    a::audit_log.filter(a::org_id.is_null()).order(a::id.desc()).limit(limit).select(AuditRow::as_select()).load(conn)
}
