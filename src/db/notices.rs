//! Notifications (the inbox), each person's preferences, the organization's chat channels and
//! the marks that make a periodic notice said once.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{
    notice_marks::dsl as mk, notification_prefs::dsl as p, notifications::dsl as n, org_notify::dsl as o,
};
use super::{DbConnection, DbResult};
use crate::domain::notice::{EmailState, Group, Mode};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::notifications)]
pub struct NotificationRow {
    pub id: i64,
    pub org_id: i64,
    pub user_id: i64,
    pub kind: String,
    #[diesel(deserialize_as = String)]
    pub grp: Group,
    pub subject: String,
    pub body: String,
    pub link: String,
    #[diesel(deserialize_as = String)]
    pub email: EmailState,
    pub created_at: NaiveDateTime,
    pub read_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = super::schema::notifications)]
pub struct NewNotification {
    pub org_id: i64,
    pub user_id: i64,
    pub kind: String,
    #[diesel(serialize_as = String)]
    pub grp: Group,
    pub subject: String,
    pub body: String,
    pub link: String,
    #[diesel(serialize_as = String)]
    pub email: EmailState,
    pub created_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConnection, row: &NewNotification) -> DbResult<i64> {
    diesel::insert_into(n::notifications).values(row.clone()).returning(n::id).get_result(conn)
}

/// A person's inbox, newest first, `before` an id for paging.
pub fn inbox(conn: &mut DbConnection, user_id: i64, before: Option<i64>, limit: i64) -> DbResult<Vec<NotificationRow>> {
    let mut q = n::notifications.filter(n::user_id.eq(user_id)).into_boxed();
    if let Some(b) = before {
        q = q.filter(n::id.lt(b));
    }
    q.order(n::id.desc()).limit(limit).select(NotificationRow::as_select()).load(conn)
}

pub fn unread_count(conn: &mut DbConnection, user_id: i64) -> DbResult<i64> {
    n::notifications.filter(n::user_id.eq(user_id).and(n::read_at.is_null())).count().get_result(conn)
}

/// Marks one of the person's notices read; returns it (None: not theirs).
pub fn mark_read(
    conn: &mut DbConnection,
    user_id: i64,
    id: i64,
    at: NaiveDateTime,
) -> DbResult<Option<NotificationRow>> {
    diesel::update(n::notifications.filter(n::id.eq(id).and(n::user_id.eq(user_id)).and(n::read_at.is_null())))
        .set(n::read_at.eq(Some(at)))
        .execute(conn)?;
    n::notifications
        .filter(n::id.eq(id).and(n::user_id.eq(user_id)))
        .select(NotificationRow::as_select())
        .first(conn)
        .optional()
}

/// Marks read every unread notice of `kinds` about `link` in the organization (a decision they
/// asked for was made): returns how many.
pub fn settle(conn: &mut DbConnection, org_id: i64, kinds: &[&str], link: &str, at: NaiveDateTime) -> DbResult<usize> {
    let open = n::org_id.eq(org_id).and(n::link.eq(link)).and(n::read_at.is_null()).and(n::kind.eq_any(kinds));
    diesel::update(n::notifications.filter(open)).set(n::read_at.eq(Some(at))).execute(conn)
}

pub fn mark_all_read(conn: &mut DbConnection, user_id: i64, at: NaiveDateTime) -> DbResult<usize> {
    diesel::update(n::notifications.filter(n::user_id.eq(user_id).and(n::read_at.is_null())))
        .set(n::read_at.eq(Some(at)))
        .execute(conn)
}

/// Notices waiting in `state` (digest or overflow), oldest first, by person.
pub fn waiting(conn: &mut DbConnection, state: EmailState, limit: i64) -> DbResult<Vec<NotificationRow>> {
    n::notifications
        .filter(n::email.eq(state.as_str()))
        .order((n::user_id, n::id))
        .limit(limit)
        .select(NotificationRow::as_select())
        .load(conn)
}

/// Moves notices from one email state to another, only those still in `from` (a compare-and-swap
/// per row: two processes never put one notice in two digests).
pub fn set_email_state(conn: &mut DbConnection, ids: &[i64], from: EmailState, to: EmailState) -> DbResult<usize> {
    diesel::update(n::notifications.filter(n::id.eq_any(ids).and(n::email.eq(from.as_str()))))
        .set(n::email.eq(to.as_str()))
        .execute(conn)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = super::schema::notification_prefs)]
pub struct PrefsRow {
    pub user_id: i64,
    pub approvals: String,
    pub outcomes: String,
    pub operations: String,
    pub follow_payouts: bool,
    pub digest_hour: i32,
    pub updated_at: NaiveDateTime,
}

impl PrefsRow {
    /// What a person who never chose gets: everything by email at once, digests at 08:00.
    pub fn defaults(user_id: i64, at: NaiveDateTime) -> PrefsRow {
        PrefsRow {
            user_id,
            approvals: Mode::Immediate.as_str().into(),
            outcomes: Mode::Immediate.as_str().into(),
            operations: Mode::Immediate.as_str().into(),
            follow_payouts: false,
            digest_hour: 8,
            updated_at: at,
        }
    }

    pub fn mode(&self, group: Group) -> Mode {
        let stored = match group {
            Group::Approvals => &self.approvals,
            Group::Outcomes => &self.outcomes,
            Group::Operations => &self.operations,
            Group::Security => return Mode::Immediate,
        };
        Mode::parse(stored).unwrap_or(Mode::Immediate)
    }
}

pub fn prefs(conn: &mut DbConnection, user_id: i64) -> DbResult<Option<PrefsRow>> {
    p::notification_prefs.find(user_id).select(PrefsRow::as_select()).first(conn).optional()
}

/// Everyone's preferences in one read (for `user_ids`).
pub fn prefs_of(conn: &mut DbConnection, user_ids: &[i64]) -> DbResult<Vec<PrefsRow>> {
    p::notification_prefs.filter(p::user_id.eq_any(user_ids)).select(PrefsRow::as_select()).load(conn)
}

pub fn save_prefs(conn: &mut DbConnection, row: &PrefsRow) -> DbResult<()> {
    let n = diesel::update(p::notification_prefs.find(row.user_id)).set(row).execute(conn)?;
    if n == 0 {
        diesel::insert_into(p::notification_prefs).values(row).execute(conn)?;
    }
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = super::schema::org_notify)]
#[diesel(treat_none_as_null = true)]
pub struct OrgNotifyRow {
    pub org_id: i64,
    pub slack_url: Option<String>,
    /// Sealed with the server key (`crypto::seal`, purpose "telegram").
    pub telegram_token: Option<String>,
    pub telegram_chat_id: Option<String>,
    /// Comma-separated `CHAT_TOPICS` keys.
    pub chat_topics: String,
    /// Hours after which a pending payout is brought up again (0: never).
    pub reminder_hours: i32,
    pub updated_at: NaiveDateTime,
}

impl OrgNotifyRow {
    pub fn defaults(org_id: i64, at: NaiveDateTime) -> OrgNotifyRow {
        OrgNotifyRow {
            org_id,
            slack_url: None,
            telegram_token: None,
            telegram_chat_id: None,
            chat_topics: String::new(),
            reminder_hours: 24,
            updated_at: at,
        }
    }

    pub fn sends(&self, topic: &str) -> bool {
        self.chat_topics.split(',').any(|t| t == topic)
    }
}

pub fn org_notify(conn: &mut DbConnection, org_id: i64) -> DbResult<Option<OrgNotifyRow>> {
    o::org_notify.find(org_id).select(OrgNotifyRow::as_select()).first(conn).optional()
}

/// Organizations that set a reminder.
pub fn with_reminders(conn: &mut DbConnection) -> DbResult<Vec<OrgNotifyRow>> {
    o::org_notify.filter(o::reminder_hours.gt(0)).select(OrgNotifyRow::as_select()).load(conn)
}

pub fn save_org_notify(conn: &mut DbConnection, row: &OrgNotifyRow) -> DbResult<()> {
    let n = diesel::update(o::org_notify.find(row.org_id)).set(row).execute(conn)?;
    if n == 0 {
        diesel::insert_into(o::org_notify).values(row).execute(conn)?;
    }
    Ok(())
}

/// Sets a mark; true for exactly one caller, however many processes try at once.
pub fn mark_once(conn: &mut DbConnection, mark: &str, at: NaiveDateTime) -> DbResult<bool> {
    let n = super::per_backend!(conn, |c| diesel::insert_into(mk::notice_marks)
        .values((mk::mark.eq(mark), mk::created_at.eq(at)))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(n == 1)
}

/// Forgets marks older than `before` (each names a day or a thing that is long over).
pub fn purge_marks(conn: &mut DbConnection, before: NaiveDateTime) -> DbResult<usize> {
    diesel::delete(mk::notice_marks.filter(mk::created_at.lt(before))).execute(conn)
}
