use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::{AuditRow, NewAuditRow};
use super::schema::audit_log::dsl as a;
use super::{DbConnection, DbResult};

pub fn insert(conn: &mut DbConnection, row: &NewAuditRow) -> DbResult<()> {
    diesel::insert_into(a::audit_log).values(row).execute(conn).map(drop)
}

/// Which entries of an organization's trail to list; every field left empty matches all.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub actor_user_id: Option<i64>,
    pub action: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    /// [from, until) in UTC.
    pub from: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
}

/// Newest first; `before_id` pages backwards (keyset).
pub fn list_in_org(
    conn: &mut DbConnection,
    org_id: i64,
    filter: &AuditFilter,
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
    if let Some(user) = filter.actor_user_id {
        query = query.filter(a::actor_user_id.eq(user));
    }
    if let Some(action) = &filter.action {
        query = query.filter(a::action.eq(action.clone()));
    }
    if let Some(kind) = &filter.object_type {
        query = query.filter(a::object_type.eq(kind.clone()));
    }
    if let Some(id) = &filter.object_id {
        query = query.filter(a::object_id.eq(id.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(a::created_at.ge(from));
    }
    if let Some(until) = filter.until {
        query = query.filter(a::created_at.lt(until));
    }
    query.load(conn)
}

/// The actions this organization's trail holds, for the filter's choices.
pub fn actions_in_org(conn: &mut DbConnection, org_id: i64) -> DbResult<Vec<String>> {
    a::audit_log.filter(a::org_id.eq(org_id)).select(a::action).distinct().order(a::action).load(conn)
}

/// Entries with no organization (failed logins with an unknown email, CLI bootstrap).
pub fn list_without_org(conn: &mut DbConnection, limit: i64) -> DbResult<Vec<AuditRow>> {
    a::audit_log.filter(a::org_id.is_null()).order(a::id.desc()).limit(limit).select(AuditRow::as_select()).load(conn)
}
