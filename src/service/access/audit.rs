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
    pub object_type: String,
    pub object_id: Option<String>,
    pub detail: String,
    pub ip: String,
}

impl AuditView {
    /// `payout 12`, or the type alone.
    pub fn object(&self) -> String {
        match &self.object_id {
            Some(id) => format!("{} {id}", self.object_type),
            None => self.object_type.clone(),
        }
    }
}

pub const PAGE_SIZE: i64 = 100;

/// The audit page's filters as typed: a user id, an action, an object (`payout` or
/// `payout 12`) and a UTC day (`YYYY-MM-DD`); empty fields match everything.
#[derive(Debug, Default, Clone, serde::Deserialize, serde::Serialize)]
pub struct AuditQuery {
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub object: String,
    #[serde(default)]
    pub day: String,
}

impl AuditQuery {
    pub fn is_empty(&self) -> bool {
        self.actor.is_empty() && self.action.is_empty() && self.object.is_empty() && self.day.is_empty()
    }

    fn parse(&self) -> Result<db::audit::AuditFilter, crate::domain::FieldErrors> {
        let mut errors = crate::domain::FieldErrors::new();
        let mut filter = db::audit::AuditFilter::default();
        // A NUL or other control character matches nothing, and PostgreSQL refuses it in text.
        for (field, value) in [("action", &self.action), ("object", &self.object)] {
            if value.chars().any(char::is_control) {
                errors.add(field, "Remove the control characters.");
                return Err(errors);
            }
        }
        let actor = self.actor.trim();
        if !actor.is_empty() {
            match actor.parse::<i64>() {
                Ok(id) => filter.actor_user_id = Some(id),
                Err(_) => errors.add("actor", "Choose a person from the list."),
            }
        }
        let action = self.action.trim();
        if !action.is_empty() {
            filter.action = Some(action.chars().take(100).collect());
        }
        let mut object = self.object.split_whitespace();
        if let Some(kind) = object.next() {
            filter.object_type = Some(kind.trim_end_matches(['#', ':']).chars().take(100).collect());
            filter.object_id = object.next().map(|id| id.trim_start_matches('#').chars().take(200).collect());
            if object.next().is_some() {
                errors.add("object", "Type an object as its kind and id, e.g. \"payout 12\", or the kind alone.");
            }
        }
        let mut day_errors = crate::domain::FieldErrors::new();
        let (from, until) = crate::domain::validation::day_range(&self.day, &self.day, &mut day_errors);
        if day_errors.get("from").is_some() {
            errors.add("day", "Use a date like 2026-11-24.");
        }
        filter.from = from;
        filter.until = until;
        errors.into_result(filter)
    }
}

/// The actions the organization's trail holds, for the filter's choices.
pub fn actions(conn: &mut DbConnection, actor: &Actor) -> Result<Vec<String>, AppError> {
    actor.require(Role::can_administer)?;
    Ok(db::audit::actions_in_org(conn, actor.org_id)?)
}

/// The organization's trail, newest first, one page before `before_id`, as `query` filters it.
pub fn list(
    conn: &mut DbConnection,
    actor: &Actor,
    query: &AuditQuery,
    before_id: Option<i64>,
) -> Result<Vec<AuditView>, AppError> {
    actor.require(Role::can_administer)?;
    let filter = query.parse()?;
    let rows = db::audit::list_in_org(conn, actor.org_id, &filter, before_id, PAGE_SIZE)?;
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
            object_type: r.object_type,
            object_id: r.object_id,
            detail: r.detail,
            ip: r.ip.unwrap_or_default(),
        })
        .collect())
}
