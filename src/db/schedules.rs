//! Recurring pay days and the drafts they make.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::mass_drafts::dsl as d;
use super::schema::payout_schedules::dsl as s;
use super::{DbConnection, DbResult};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::payout_schedules)]
pub struct ScheduleRow {
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    pub template_payout_id: i64,
    pub day_of_month: i32,
    /// `HH:MM`, wall-clock time in the organization's time zone.
    pub time_of_day: String,
    pub days_before: i32,
    /// The next pay day (UTC) and when its draft is made.
    pub next_pay_at: NaiveDateTime,
    pub next_draft_at: NaiveDateTime,
    pub active: bool,
    pub last_draft_id: Option<i64>,
    pub last_error: String,
    pub created_by: i64,
    #[diesel(deserialize_as = super::stamp::Stamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = super::stamp::Stamp)]
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = super::schema::payout_schedules)]
pub struct NewScheduleRow<'a> {
    pub org_id: i64,
    pub name: &'a str,
    pub template_payout_id: i64,
    pub day_of_month: i32,
    pub time_of_day: &'a str,
    pub days_before: i32,
    pub next_pay_at: NaiveDateTime,
    pub next_draft_at: NaiveDateTime,
    pub active: bool,
    pub last_error: &'a str,
    pub created_by: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConnection, row: &NewScheduleRow) -> DbResult<i64> {
    diesel::insert_into(s::payout_schedules).values(row).returning(s::id).get_result(conn)
}

pub fn find_in_org(conn: &mut DbConnection, org_id: i64, id: i64) -> DbResult<Option<ScheduleRow>> {
    s::payout_schedules
        .filter(s::id.eq(id).and(s::org_id.eq(org_id)))
        .select(ScheduleRow::as_select())
        .first(conn)
        .optional()
}

pub fn list_in_org(conn: &mut DbConnection, org_id: i64) -> DbResult<Vec<ScheduleRow>> {
    s::payout_schedules
        .filter(s::org_id.eq(org_id))
        .order(s::id.desc())
        .limit(200)
        .select(ScheduleRow::as_select())
        .load(conn)
}

/// Active schedules whose next draft is due at `now`, soonest first.
pub fn due(conn: &mut DbConnection, now: NaiveDateTime, limit: i64) -> DbResult<Vec<ScheduleRow>> {
    s::payout_schedules
        .filter(s::active.eq(true).and(s::next_draft_at.le(now)))
        .order((s::next_draft_at, s::id))
        .limit(limit)
        .select(ScheduleRow::as_select())
        .load(conn)
}

/// Moves an active schedule on to its next pay day, once: false when another process (or a
/// pause) got there first. The caller makes the draft for the pay day it moved past.
pub fn advance(
    conn: &mut DbConnection,
    id: i64,
    from_draft_at: NaiveDateTime,
    next_pay_at: NaiveDateTime,
    next_draft_at: NaiveDateTime,
    at: NaiveDateTime,
) -> DbResult<bool> {
    let n = diesel::update(
        s::payout_schedules.filter(s::id.eq(id).and(s::active.eq(true)).and(s::next_draft_at.eq(from_draft_at))),
    )
    .set((s::next_pay_at.eq(next_pay_at), s::next_draft_at.eq(next_draft_at), s::updated_at.eq(at)))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn record_run(
    conn: &mut DbConnection,
    id: i64,
    draft_id: Option<i64>,
    error: &str,
    at: NaiveDateTime,
) -> DbResult<()> {
    let q = diesel::update(s::payout_schedules.find(id));
    match draft_id {
        Some(draft) => q.set((s::last_draft_id.eq(draft), s::last_error.eq(error), s::updated_at.eq(at))).execute(conn),
        None => q.set((s::last_error.eq(error), s::updated_at.eq(at))).execute(conn),
    }
    .map(drop)
}

/// Pauses or resumes; a resumed schedule starts again from `next_pay_at`.
pub fn set_active(
    conn: &mut DbConnection,
    id: i64,
    active: bool,
    next_pay_at: NaiveDateTime,
    next_draft_at: NaiveDateTime,
    at: NaiveDateTime,
) -> DbResult<bool> {
    let n = diesel::update(s::payout_schedules.filter(s::id.eq(id).and(s::active.eq(!active))))
        .set((
            s::active.eq(active),
            s::next_pay_at.eq(next_pay_at),
            s::next_draft_at.eq(next_draft_at),
            s::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

pub fn reschedule(
    conn: &mut DbConnection,
    id: i64,
    next_pay_at: NaiveDateTime,
    next_draft_at: NaiveDateTime,
    at: NaiveDateTime,
) -> DbResult<()> {
    diesel::update(s::payout_schedules.find(id))
        .set((s::next_pay_at.eq(next_pay_at), s::next_draft_at.eq(next_draft_at), s::updated_at.eq(at)))
        .execute(conn)
        .map(drop)
}

/// The next run repeats this payout (the run confirmed from the schedule's latest draft).
pub fn set_template(conn: &mut DbConnection, id: i64, payout_id: i64, at: NaiveDateTime) -> DbResult<()> {
    diesel::update(s::payout_schedules.find(id))
        .set((s::template_payout_id.eq(payout_id), s::updated_at.eq(at)))
        .execute(conn)
        .map(drop)
}

pub fn mark_draft(
    conn: &mut DbConnection,
    draft_id: i64,
    schedule_id: i64,
    send_on: Option<NaiveDateTime>,
) -> DbResult<()> {
    diesel::update(d::mass_drafts.find(draft_id))
        .set((d::schedule_id.eq(schedule_id), d::send_on.eq(send_on)))
        .execute(conn)
        .map(drop)
}

/// Open drafts the scheduler made, oldest first: the dashboard's "ready for review" notices.
pub fn open_drafts(conn: &mut DbConnection, org_id: i64) -> DbResult<Vec<(i64, String, Option<NaiveDateTime>)>> {
    d::mass_drafts
        .filter(
            d::org_id
                .eq(org_id)
                .and(d::status.eq(crate::domain::payout::DraftStatus::Open.as_str()))
                .and(d::schedule_id.is_not_null()),
        )
        .order(d::id)
        .limit(20)
        .select((d::id, d::purpose, d::send_on))
        .load(conn)
}
