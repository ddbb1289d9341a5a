//! The outbox of emails and chat messages: written in the transaction that decides them, sent by
//! the sender threads under a lease.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::outbox::dsl as ob;
use super::{DbConnection, DbResult};
use crate::domain::notice::{Channel, OutboxStatus};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::outbox)]
pub struct OutboxRow {
    pub id: i64,
    pub org_id: i64,
    #[diesel(deserialize_as = String)]
    pub channel: Channel,
    pub recipient: String,
    /// The person the message is about (replies go to them), or empty.
    pub reply_to: String,
    pub kind: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub sensitive: bool,
    #[diesel(deserialize_as = String)]
    pub status: OutboxStatus,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub lease_until: Option<NaiveDateTime>,
    pub last_error: String,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = super::schema::outbox)]
pub struct NewMessage {
    pub org_id: i64,
    #[diesel(serialize_as = String)]
    pub channel: Channel,
    pub recipient: String,
    /// The person the message is about (replies go to them), or empty.
    pub reply_to: String,
    pub kind: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub sensitive: bool,
    #[diesel(serialize_as = String)]
    pub status: OutboxStatus,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_error: String,
    pub created_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConnection, row: &NewMessage) -> DbResult<i64> {
    diesel::insert_into(ob::outbox).values(row.clone()).returning(ob::id).get_result(conn)
}

/// Emails queued for `recipient` since `since` (the hourly bound).
pub fn emails_since(conn: &mut DbConnection, recipient: &str, since: NaiveDateTime) -> DbResult<i64> {
    ob::outbox
        .filter(ob::channel.eq(Channel::Email.as_str()).and(ob::recipient.eq(recipient)).and(ob::created_at.ge(since)))
        .count()
        .get_result(conn)
}

/// Where messages are due and not leased: (channel, organization), so each destination gets its
/// own turn (email is one destination, organization 0).
pub fn due_destinations(conn: &mut DbConnection, at: NaiveDateTime, limit: i64) -> DbResult<Vec<(Channel, i64)>> {
    let rows: Vec<(String, i64)> = ob::outbox
        .filter(ob::status.eq(OutboxStatus::Queued.as_str()).and(ob::next_attempt_at.le(at)))
        .filter(ob::lease_until.is_null().or(ob::lease_until.lt(at)))
        .select((ob::channel, ob::org_id))
        .distinct()
        .limit(limit)
        .load(conn)?;
    let mut out: Vec<(Channel, i64)> = rows
        .into_iter()
        .filter_map(|(c, org)| Channel::parse(&c).map(|c| if c == Channel::Email { (c, 0) } else { (c, org) }))
        .collect();
    out.sort_unstable_by_key(|(c, org)| (c.as_str(), *org));
    out.dedup();
    Ok(out)
}

/// Due messages of one destination, oldest first.
pub fn due(
    conn: &mut DbConnection,
    channel: Channel,
    org_id: Option<i64>,
    at: NaiveDateTime,
    limit: i64,
) -> DbResult<Vec<OutboxRow>> {
    let mut q = ob::outbox
        .filter(ob::channel.eq(channel.as_str()))
        .filter(ob::status.eq(OutboxStatus::Queued.as_str()).and(ob::next_attempt_at.le(at)))
        .filter(ob::lease_until.is_null().or(ob::lease_until.lt(at)))
        .into_boxed();
    if let Some(org) = org_id {
        q = q.filter(ob::org_id.eq(org));
    }
    q.order(ob::id).limit(limit).select(OutboxRow::as_select()).load(conn)
}

/// Leases one message until `until`: true for exactly one sender, however many processes try.
pub fn claim(conn: &mut DbConnection, row: &OutboxRow, at: NaiveDateTime, until: NaiveDateTime) -> DbResult<bool> {
    let n = diesel::update(
        ob::outbox
            .filter(ob::id.eq(row.id).and(ob::status.eq(OutboxStatus::Queued.as_str())))
            .filter(ob::lease_until.is_null().or(ob::lease_until.lt(at))),
    )
    .set(ob::lease_until.eq(Some(until)))
    .execute(conn)?;
    Ok(n == 1)
}

/// Records an attempt's outcome and ends the lease. A sensitive body is blanked once the
/// message is sent or given up.
pub fn record(
    conn: &mut DbConnection,
    row: &OutboxRow,
    status: OutboxStatus,
    error: &str,
    next: NaiveDateTime,
    sent_at: Option<NaiveDateTime>,
) -> DbResult<()> {
    let q = ob::outbox.filter(ob::id.eq(row.id));
    let done = status != OutboxStatus::Queued;
    if done && row.sensitive {
        diesel::update(q)
            .set((ob::body_text.eq("(one-time link removed after sending)"), ob::body_html.eq("")))
            .execute(conn)?;
    }
    diesel::update(q)
        .set((
            ob::status.eq(status.as_str()),
            ob::attempts.eq(row.attempts + 1),
            ob::last_error.eq(error),
            ob::next_attempt_at.eq(next),
            ob::lease_until.eq(None::<NaiveDateTime>),
            ob::sent_at.eq(sent_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The organization's messages that were given up, newest first (shown to admins).
pub fn failed(conn: &mut DbConnection, org_id: i64, limit: i64) -> DbResult<Vec<OutboxRow>> {
    ob::outbox
        .filter(ob::org_id.eq(org_id).and(ob::status.eq(OutboxStatus::Failed.as_str())))
        .order(ob::id.desc())
        .limit(limit)
        .select(OutboxRow::as_select())
        .load(conn)
}

/// Messages still waiting (queued), across the instance: the backlog.
pub fn backlog(conn: &mut DbConnection) -> DbResult<i64> {
    ob::outbox.filter(ob::status.eq(OutboxStatus::Queued.as_str())).count().get_result(conn)
}

/// Every message to `recipient`, oldest first (tests and tools).
pub fn to_recipient(conn: &mut DbConnection, recipient: &str) -> DbResult<Vec<OutboxRow>> {
    ob::outbox.filter(ob::recipient.eq(recipient)).order(ob::id).select(OutboxRow::as_select()).load(conn)
}

/// Forgets sent messages older than `before`.
pub fn purge_sent(conn: &mut DbConnection, before: NaiveDateTime) -> DbResult<usize> {
    diesel::delete(ob::outbox.filter(ob::status.eq(OutboxStatus::Sent.as_str()).and(ob::created_at.lt(before))))
        .execute(conn)
}
