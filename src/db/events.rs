//! The event stream: appended in the transaction of the change it reports, read once by the
//! outbound room's fan-out.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::events::dsl as ev;
use super::{DbConnection, DbResult};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::events)]
pub struct EventRow {
    pub id: i64,
    pub org_id: i64,
    pub topic: String,
    pub data: String,
    pub created_at: NaiveDateTime,
    pub dispatched_at: Option<NaiveDateTime>,
    pub notified_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = super::schema::events)]
pub struct NewEvent {
    pub org_id: i64,
    pub topic: String,
    pub data: String,
    pub created_at: NaiveDateTime,
}

pub fn append(conn: &mut DbConnection, rows: &[NewEvent]) -> DbResult<()> {
    for chunk in rows.chunks(500) {
        super::per_backend!(conn, |c| diesel::insert_into(ev::events).values(chunk).execute(c))?;
    }
    Ok(())
}

/// The oldest events no reader has taken yet.
pub fn undispatched(conn: &mut DbConnection, limit: i64) -> DbResult<Vec<EventRow>> {
    ev::events.filter(ev::dispatched_at.is_null()).order(ev::id).limit(limit).select(EventRow::as_select()).load(conn)
}

/// Takes one event for its readers: true for exactly one caller, however many processes try.
pub fn take(conn: &mut DbConnection, id: i64, at: NaiveDateTime) -> DbResult<bool> {
    let n = diesel::update(ev::events.filter(ev::id.eq(id).and(ev::dispatched_at.is_null())))
        .set(ev::dispatched_at.eq(Some(at)))
        .execute(conn)?;
    Ok(n == 1)
}

/// The oldest events the notifier has not taken yet.
pub fn unnotified(conn: &mut DbConnection, limit: i64) -> DbResult<Vec<EventRow>> {
    ev::events.filter(ev::notified_at.is_null()).order(ev::id).limit(limit).select(EventRow::as_select()).load(conn)
}

/// Takes one event for the notifier: true for exactly one caller, however many processes try.
pub fn take_for_notices(conn: &mut DbConnection, id: i64, at: NaiveDateTime) -> DbResult<bool> {
    let n = diesel::update(ev::events.filter(ev::id.eq(id).and(ev::notified_at.is_null())))
        .set(ev::notified_at.eq(Some(at)))
        .execute(conn)?;
    Ok(n == 1)
}

/// Takes, in one statement, events the notifier has nothing to say about (a row's progress).
pub fn take_many_for_notices(conn: &mut DbConnection, ids: &[i64], at: NaiveDateTime) -> DbResult<usize> {
    let mut n = 0;
    for chunk in ids.chunks(500) {
        n += diesel::update(ev::events.filter(ev::id.eq_any(chunk).and(ev::notified_at.is_null())))
            .set(ev::notified_at.eq(Some(at)))
            .execute(conn)?;
    }
    Ok(n)
}

/// Forgets events both readers took before `before`: what they told lives on in the
/// deliveries, the inboxes and the payouts' own history.
pub fn purge_taken(conn: &mut DbConnection, before: NaiveDateTime) -> DbResult<usize> {
    diesel::delete(ev::events.filter(ev::dispatched_at.lt(before).and(ev::notified_at.lt(before)))).execute(conn)
}

/// Every event of an organization, oldest first (tests and tools).
pub fn of_org(conn: &mut DbConnection, org_id: i64) -> DbResult<Vec<EventRow>> {
    ev::events.filter(ev::org_id.eq(org_id)).order(ev::id).select(EventRow::as_select()).load(conn)
}

impl NewEvent {
    /// An event telling `data` as JSON.
    pub fn json(org_id: i64, topic: &str, data: &impl serde::Serialize, at: NaiveDateTime) -> NewEvent {
        // Serializing plain structs and `json!` values cannot fail.
        let data = serde_json::to_string(data).unwrap_or_else(|_| "null".into());
        NewEvent { org_id, topic: topic.to_owned(), data, created_at: at }
    }
}
