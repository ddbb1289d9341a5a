//! The audit trail: who did what to which object, when, from where.

use chrono::NaiveDateTime;

use crate::db::models::NewAuditRow;
use crate::db::{self, DbConnection, DbResult};
use crate::domain::account::Role;
use crate::error::AppError;
use crate::service::access::Actor;

pub struct Entry<'a> {
    pub org_id: Option<i64>,
    pub actor_user_id: Option<i64>,
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: Option<String>,
    pub detail: String,
    pub ip: Option<&'a str>,
}

impl<'a> Entry<'a> {
    pub fn by(actor: &'a Actor, action: &'a str, object_type: &'a str, object_id: impl ToString) -> Self {
        Self {
            org_id: Some(actor.org_id),
            actor_user_id: Some(actor.user_id),
            action,
            object_type,
            object_id: Some(object_id.to_string()),
            detail: String::new(),
            ip: actor.ip.as_deref(),
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
}

pub fn record(conn: &mut DbConnection, entry: Entry, at: NaiveDateTime) -> DbResult<()> {
    db::audit::insert(
        conn,
        &NewAuditRow {
            org_id: entry.org_id,
            actor_user_id: entry.actor_user_id,
            action: entry.action,
            object_type: entry.object_type,
            object_id: entry.object_id.as_deref(),
            detail: &entry.detail,
            ip: entry.ip,
            created_at: at,
        },
    )
}

pub struct AuditView {
    pub id: i64,
    pub at: NaiveDateTime,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub detail: String,
    pub ip: String,
}

pub const PAGE_SIZE: i64 = 100;

/// The organization's trail, newest first, one page before `before_id`.
pub fn list(conn: &mut DbConnection, actor: &Actor, before_id: Option<i64>) -> Result<Vec<AuditView>, AppError> {
    actor.require(Role::can_administer)?;
    let rows = db::audit::list_in_org(conn, actor.org_id, before_id, PAGE_SIZE)?;
    let users = db::users::list_in_org(conn, actor.org_id)?;
    Ok(rows
        .into_iter()
        .map(|r| AuditView {
            id: r.id,
            at: r.created_at,
            actor: r
                .actor_user_id
                .and_then(|id| users.iter().find(|u| u.id == id))
                .map(|u| u.email.clone())
                .unwrap_or_else(|| "—".into()),
            action: r.action,
            object: match r.object_id {
                Some(id) => format!("{} {}", r.object_type, id),
                None => r.object_type,
            },
            detail: r.detail,
            ip: r.ip.unwrap_or_default(),
        })
        .collect())
}
