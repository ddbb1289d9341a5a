//! Recurring pay days: "every month on the 25th at 09:00, from this run". A schedule makes the
//! draft of each pay day `days_before` days ahead, repeating its template run with each payee's
//! current approved address; the accountant reviews and confirms it (the review proposes the pay
//! day), and the dashboard and the `payout.draft_ready` webhook say it is ready. Nothing is paid
//! without a person confirming it. Times are typed and shown in the organization's time zone.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime};

use crate::db::schedules::{NewScheduleRow, ScheduleRow};
use crate::db::{self, DbConnection};
use crate::domain::FieldErrors;
use crate::domain::account::Role;
use crate::domain::event::DRAFT_READY;
use crate::domain::payout::PayoutKind;
use crate::domain::zone::Zone;
use crate::error::AppError;
use crate::service::access::Actor;
use crate::service::access::audit::{self, Entry};

/// A draft can be made up to four weeks ahead, so each month's comes after the previous pay day.
pub const MAX_DAYS_BEFORE: i32 = 27;
pub const MAX_NAME_CHARS: usize = 100;

pub use crate::service::access::org_settings::time_zone as org_zone;

/// Sets the time zone (admins, audited); active schedules keep their day and time of day in it.
pub fn set_zone(conn: &mut DbConnection, actor: &Actor, name: &str) -> Result<Zone, AppError> {
    actor.require(Role::can_administer)?;
    let zone = Zone::parse(name).map_err(|m| FieldErrors::single("time_zone", m))?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        let before = org_zone(conn, actor.org_id)?;
        if before == zone {
            return Ok(zone);
        }
        db::orgs::set_time_zone(conn, actor.org_id, zone.name())?;
        for s in db::schedules::list_in_org(conn, actor.org_id)?.into_iter().filter(|s| s.active) {
            // The same pay day (day and time of day) in the new zone: zones differ by at most 26
            // hours, and pay days are at least 28 days apart, so two days back finds it and never
            // the one already drafted. Moved into the past, it is drafted at once, as one missed.
            let rule = Rule::stored(&s)?;
            let next = rule.next_pay_day(zone, s.next_pay_at - chrono::Duration::days(2));
            db::schedules::reschedule(conn, s.id, next, rule.draft_at(next), at)?;
        }
        let detail = format!("{} → {}", before.name(), zone.name());
        audit::record(
            conn,
            Entry::by(actor, "organization.time_zone", "organization", actor.org_id).detail(detail),
            at,
        )?;
        Ok(zone)
    })
}

/// A schedule's rule: the day of the month (the month's last day when it has fewer), the
/// wall-clock time, and how many days ahead the draft is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub day: u32,
    pub time: NaiveTime,
    pub days_before: i32,
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let (y, m) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    NaiveDate::from_ymd_opt(y, m, 1).and_then(|d| d.pred_opt()).map_or(28, |d| d.day())
}

impl Rule {
    fn stored(row: &ScheduleRow) -> Result<Rule, AppError> {
        let time = NaiveTime::parse_from_str(&row.time_of_day, "%H:%M")
            .map_err(|_| AppError::Internal(format!("schedule {} has a bad time of day", row.id)))?;
        Ok(Rule { day: row.day_of_month.clamp(1, 31) as u32, time, days_before: row.days_before })
    }

    /// The first pay day strictly after `after` (UTC). A wall-clock time the clocks skip that
    /// day is paid an hour later.
    pub fn next_pay_day(self, zone: Zone, after: NaiveDateTime) -> NaiveDateTime {
        let local = zone.local(after);
        let (mut year, mut month) = (local.year(), local.month());
        loop {
            let day = self.day.min(days_in_month(year, month));
            if let Some(date) = NaiveDate::from_ymd_opt(year, month, day) {
                let wall = date.and_time(self.time);
                let utc = zone.to_utc(wall).or_else(|_| zone.to_utc(wall + chrono::Duration::hours(1)));
                if let Ok(utc) = utc
                    && utc > after
                {
                    return utc;
                }
            }
            (year, month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
        }
    }

    pub fn draft_at(self, pay_day: NaiveDateTime) -> NaiveDateTime {
        pay_day - chrono::Duration::days(self.days_before.into())
    }

    pub fn describe(self) -> String {
        let day = match self.day {
            31 => "the last day".to_owned(),
            d => format!("the {}", ordinal(d)),
        };
        let ahead = match self.days_before {
            0 => "the draft is made that day".to_owned(),
            1 => "the draft is made 1 day before".to_owned(),
            n => format!("the draft is made {n} days before"),
        };
        format!("Every month on {day} at {}; {ahead}", self.time.format("%H:%M"))
    }
}

fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// What a person types for a schedule; strings as typed.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct ScheduleForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub day_of_month: String,
    #[serde(default)]
    pub time_of_day: String,
    #[serde(default)]
    pub days_before: String,
}

impl ScheduleForm {
    pub fn check(&self) -> Result<(String, Rule), FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = self.name.trim();
        if name.is_empty() {
            errors.add("name", "Name the schedule, such as \"Monthly salaries\".");
        } else if let Err(m) = crate::domain::registry::check_text(name, MAX_NAME_CHARS) {
            errors.add("name", m);
        }
        let day = match self.day_of_month.trim().parse::<u32>() {
            Ok(d @ 1..=31) => d,
            _ => {
                errors.add("day_of_month", "Enter a day from 1 to 31 (31 pays on each month's last day).");
                1
            }
        };
        let time = NaiveTime::parse_from_str(self.time_of_day.trim(), "%H:%M").unwrap_or_else(|_| {
            errors.add("time_of_day", "Enter a time of day like 09:00.");
            NaiveTime::MIN
        });
        let days_before = match self.days_before.trim() {
            "" => 0,
            s => match s.parse::<i32>() {
                Ok(n @ 0..=MAX_DAYS_BEFORE) => n,
                _ => {
                    errors.add("days_before", format!("Enter a number of days from 0 to {MAX_DAYS_BEFORE}."));
                    0
                }
            },
        };
        errors.into_result(())?;
        Ok((name.to_owned(), Rule { day, time, days_before }))
    }
}

/// A new schedule repeating `payout_id`, a finished mass payout of the organization.
pub fn create(
    conn: &mut DbConnection,
    actor: &Actor,
    payout_id: i64,
    form: &ScheduleForm,
) -> Result<ScheduleRow, AppError> {
    actor.require(Role::can_create_payouts)?;
    let (name, rule) = form.check()?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        let payout = db::payouts::find_in_org(conn, actor.org_id, payout_id)?.ok_or_else(|| {
            FieldErrors::single("template_payout_id", "There is no such payout in this organization.")
        })?;
        if payout.kind != PayoutKind::Mass || !matches!(payout.status.as_str(), "completed" | "partially_completed") {
            return Err(AppError::Conflict(
                "A schedule repeats a completed or partially completed mass payout.".into(),
            ));
        }
        let zone = org_zone(conn, actor.org_id)?;
        let next = rule.next_pay_day(zone, at);
        let time = rule.time.format("%H:%M").to_string();
        let id = db::schedules::insert(
            conn,
            &NewScheduleRow {
                org_id: actor.org_id,
                name: &name,
                template_payout_id: payout.id,
                day_of_month: rule.day as i32,
                time_of_day: &time,
                days_before: rule.days_before,
                next_pay_at: next,
                next_draft_at: rule.draft_at(next),
                active: true,
                last_error: "",
                created_by: actor.user_id,
                created_at: at,
                updated_at: at,
            },
        )?;
        let detail = format!("{name}: {} ({}), repeating payout #{}", rule.describe(), zone.name(), payout.id);
        audit::record(conn, Entry::by(actor, "schedule.created", "schedule", id).detail(detail), at)?;
        db::schedules::find_in_org(conn, actor.org_id, id)?.ok_or(AppError::NotFound)
    })
}

/// Pauses or resumes a schedule; a resumed one starts from its next pay day after now.
pub fn set_active(conn: &mut DbConnection, actor: &Actor, id: i64, active: bool) -> Result<ScheduleRow, AppError> {
    actor.require(Role::can_create_payouts)?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        let s = db::schedules::find_in_org(conn, actor.org_id, id)?.ok_or(AppError::NotFound)?;
        let rule = Rule::stored(&s)?;
        let next = if active { rule.next_pay_day(org_zone(conn, actor.org_id)?, at) } else { s.next_pay_at };
        let draft_at = if active { rule.draft_at(next) } else { s.next_draft_at };
        if db::schedules::set_active(conn, id, active, next, draft_at, at)? {
            let action = if active { "schedule.resumed" } else { "schedule.paused" };
            audit::record(conn, Entry::by(actor, action, "schedule", id).detail(s.name.clone()), at)?;
        }
        db::schedules::find_in_org(conn, actor.org_id, id)?.ok_or(AppError::NotFound)
    })
}

/// A schedule as the pages and the API show it.
pub struct ScheduleView {
    pub row: ScheduleRow,
    pub rule: Rule,
    pub zone: Zone,
}

impl ScheduleView {
    pub fn next_pay_day(&self) -> String {
        self.zone.describe(self.row.next_pay_at)
    }
    pub fn next_draft(&self) -> String {
        self.zone.describe(self.row.next_draft_at)
    }
}

pub fn list(conn: &mut DbConnection, actor: &Actor) -> Result<(Zone, Vec<ScheduleView>), AppError> {
    let zone = org_zone(conn, actor.org_id)?;
    let rows = db::schedules::list_in_org(conn, actor.org_id)?;
    let views = rows
        .into_iter()
        .map(|row| Ok(ScheduleView { rule: Rule::stored(&row)?, zone, row }))
        .collect::<Result<_, AppError>>()?;
    Ok((zone, views))
}

pub fn get(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<ScheduleView, AppError> {
    let row = db::schedules::find_in_org(conn, actor.org_id, id)?.ok_or(AppError::NotFound)?;
    Ok(ScheduleView { rule: Rule::stored(&row)?, zone: org_zone(conn, actor.org_id)?, row })
}

/// A draft a schedule made, waiting for a person: the dashboard's notice.
pub struct ReadyDraft {
    pub draft_id: i64,
    pub purpose: String,
    /// The pay day it proposes, as people here read it; empty when that day has passed.
    pub pay_day: String,
}

pub fn ready_drafts(conn: &mut DbConnection, org_id: i64) -> Result<Vec<ReadyDraft>, AppError> {
    let zone = org_zone(conn, org_id)?;
    Ok(db::schedules::open_drafts(conn, org_id)?
        .into_iter()
        .map(|(draft_id, purpose, send_on)| ReadyDraft {
            draft_id,
            purpose,
            pay_day: send_on.map(|t| zone.describe(t)).unwrap_or_default(),
        })
        .collect())
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct RunReport {
    pub made: usize,
    pub failed: usize,
}

/// The scheduler's round: each schedule whose draft is due at `now` gets it, once, however many
/// processes run this. A schedule that cannot make its draft (its template gone wrong) records
/// why, moves on to its next pay day, and never holds up another.
pub fn run_due(conn: &mut DbConnection, now: NaiveDateTime) -> Result<RunReport, AppError> {
    let mut report = RunReport::default();
    for s in db::schedules::due(conn, now, 50)? {
        match run_one(conn, &s, now) {
            Ok(true) => report.made += 1,
            Ok(false) => {}
            Err(e) => {
                report.failed += 1;
                tracing::error!(schedule = s.id, error = %e, "the schedule could not make its draft");
                let message = format!("The draft for the pay day could not be made: {e}");
                let recorded = Rule::stored(&s).and_then(|rule| {
                    let next = rule.next_pay_day(org_zone(conn, s.org_id)?, s.next_pay_at.max(now));
                    db::write_tx(conn, |conn| {
                        if db::schedules::advance(conn, s.id, s.next_draft_at, next, rule.draft_at(next), now)? {
                            db::schedules::record_run(conn, s.id, None, &message, now)?;
                        }
                        Ok(())
                    })
                });
                if let Err(e) = recorded {
                    tracing::error!(schedule = s.id, error = %e, "could not record the schedule's failure");
                }
            }
        }
    }
    Ok(report)
}

fn run_one(conn: &mut DbConnection, s: &ScheduleRow, now: NaiveDateTime) -> Result<bool, AppError> {
    let rule = Rule::stored(s)?;
    let zone = org_zone(conn, s.org_id)?;
    let pay_day = s.next_pay_at;
    // After a long stop the schedule makes one draft for the missed day and moves past today.
    let next = rule.next_pay_day(zone, pay_day.max(now));
    db::write_tx(conn, |conn| {
        if !db::schedules::advance(conn, s.id, s.next_draft_at, next, rule.draft_at(next), now)? {
            return Ok(false);
        }
        let template = db::payouts::find_in_org(conn, s.org_id, s.template_payout_id)?.ok_or(AppError::NotFound)?;
        let purpose = format!("{} — pay day {}", s.name, zone.local(pay_day).format("%Y-%m-%d"));
        let draft = crate::service::payouts::repeat::repeat_in_tx(conn, s.created_by, &template, &purpose, now)?;
        let send_on = (pay_day > now).then_some(pay_day);
        db::schedules::mark_draft(conn, draft.id, s.id, send_on)?;
        db::schedules::record_run(conn, s.id, Some(draft.id), "", now)?;
        let rows = db::drafts::lines(conn, draft.id)?.len();
        let detail = format!("{}: draft #{} with {rows} rows for {}", s.name, draft.id, zone.describe(pay_day));
        let entry = Entry {
            org_id: Some(s.org_id),
            actor_user_id: None,
            action: "schedule.draft_made",
            object_type: "schedule",
            object_id: Some(s.id.to_string()),
            detail,
            ip: None,
        };
        audit::record(conn, entry, now)?;
        let told = serde_json::json!({
            "draft_id": draft.id,
            "schedule": { "id": s.id, "name": s.name },
            "pay_day": crate::service::views::rfc3339(pay_day),
            "rows": rows,
            "repeats_payout_id": s.template_payout_id,
            "review_path": format!("/payouts/drafts/{}", draft.id),
        });
        db::events::append(conn, &[db::events::NewEvent::json(s.org_id, DRAFT_READY, &told, now)])?;
        Ok(true)
    })
}

/// Runs the scheduler on its own thread until the process ends.
pub fn spawn(pool: db::Pool, clock: crate::clock::Clock, interval: std::time::Duration) {
    super::rounds::spawn("scheduler", pool, clock, interval, run_due);
}

#[cfg(test)]
mod tests {
    use super::Rule;
    use super::ScheduleForm;
    use crate::domain::zone::Zone;
    use chrono::{NaiveDate, NaiveTime};

    fn at(y: i32, m: u32, d: u32, h: u32, mi: u32) -> chrono::NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d).unwrap().and_hms_opt(h, mi, 0).unwrap()
    }

    #[test]
    fn pay_days_follow_the_calendar_and_the_zone() {
        let rule = Rule { day: 25, time: NaiveTime::from_hms_opt(9, 0, 0).unwrap(), days_before: 3 };
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        assert_eq!(rule.next_pay_day(berlin, at(2026, 12, 2, 12, 0)), at(2026, 12, 25, 8, 0));
        assert_eq!(rule.next_pay_day(berlin, at(2026, 12, 25, 8, 0)), at(2027, 1, 25, 8, 0), "strictly after");
        assert_eq!(rule.next_pay_day(berlin, at(2027, 6, 1, 0, 0)), at(2027, 6, 25, 7, 0), "summer time");
        assert_eq!(rule.draft_at(at(2026, 12, 25, 8, 0)), at(2026, 12, 22, 8, 0));
        let last = Rule { day: 31, ..rule };
        assert_eq!(last.next_pay_day(Zone::UTC, at(2027, 2, 1, 0, 0)), at(2027, 2, 28, 9, 0), "short month");
        assert_eq!(last.next_pay_day(Zone::UTC, at(2028, 2, 1, 0, 0)), at(2028, 2, 29, 9, 0), "leap year");
        assert_eq!(last.next_pay_day(Zone::UTC, at(2026, 12, 31, 10, 0)), at(2027, 1, 31, 9, 0), "year end");
        // 02:30 does not exist in Berlin on 2027-03-28: paid an hour later.
        let early = Rule { day: 28, time: NaiveTime::from_hms_opt(2, 30, 0).unwrap(), days_before: 0 };
        assert_eq!(early.next_pay_day(berlin, at(2027, 3, 1, 0, 0)), at(2027, 3, 28, 1, 30));
        assert_eq!(rule.describe(), "Every month on the 25th at 09:00; the draft is made 3 days before");
    }

    #[test]
    fn the_form_names_each_wrong_field() {
        let form = ScheduleForm {
            name: " ".into(),
            day_of_month: "32".into(),
            time_of_day: "9am".into(),
            days_before: "40".into(),
        };
        let errors = form.check().unwrap_err();
        for field in ["name", "day_of_month", "time_of_day", "days_before"] {
            assert!(errors.get(field).is_some(), "{field}");
        }
        let ok = ScheduleForm {
            name: "Salaries".into(),
            day_of_month: "25".into(),
            time_of_day: "09:00".into(),
            days_before: "".into(),
        };
        assert_eq!(ok.check().unwrap().1.days_before, 0);
    }
}
