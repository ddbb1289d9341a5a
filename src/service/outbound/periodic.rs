//! What the notifier says on its own, from time to time: reminders of payouts still waiting,
//! stuck payouts, failing webhook endpoints, and the digests. Each is said once (a mark taken by
//! one process), in one transaction with what it queues.

use askama::Template;
use chrono::{NaiveDateTime, Timelike};

use super::notices::{approval_needed, with_role};
use super::tell::{Notice, Notifier, queue_email, tell};
use crate::db::notices::{NotificationRow, PrefsRow};
use crate::db::{self, DbConnection};
use crate::domain::account::Role;
use crate::domain::notice::{EmailState, Group};
use crate::domain::zone::Zone;
use crate::error::AppError;

/// Runs every periodic check; one organization's or person's failure is logged, not fatal.
pub fn run(conn: &mut DbConnection, n: &Notifier, at: NaiveDateTime) -> Result<(), AppError> {
    for (name, result) in [
        ("reminders", reminders(conn, n, at)),
        ("stuck payouts", stuck(conn, n, at)),
        ("failing webhooks", failing_webhooks(conn, n, at)),
        ("digests", digests(conn, n, at)),
        ("claim reminders", claim_reminders(conn, n, at)),
    ] {
        if let Err(e) = result {
            tracing::error!(check = name, error = %e, "a periodic notice check failed");
        }
    }
    db::notices::purge_marks(conn, at - chrono::Duration::days(60))?;
    Ok(())
}

/// Claims still unanswered a week and a day before they lapse: their payees are reminded, each
/// stage once (counted on the row by the process that sends it). A claim opened less than a day
/// before a stage is not reminded of it: the first email has just gone.
fn claim_reminders(conn: &mut DbConnection, n: &Notifier, at: NaiveDateTime) -> Result<(), AppError> {
    use super::payee_mail::{REMINDER_DAYS, Stage, claim_mail};
    if !n.mail {
        return Ok(());
    }
    for (stage, days) in REMINDER_DAYS {
        for item in db::claims::to_remind(conn, at + chrono::Duration::days(days), stage, 200)? {
            let fresh = item.updated_at > at - chrono::Duration::days(1);
            let sent = db::write_tx(conn, |conn| {
                if db::claims::mark_reminded(conn, item.id, stage)? && !fresh {
                    claim_mail(conn, n, &item, Stage::Reminder(stage), at)?;
                }
                Ok::<_, AppError>(())
            });
            if let Err(e) = sent {
                tracing::error!(item = item.id, error = %e, "a claim reminder could not be sent");
            }
        }
    }
    Ok(())
}

/// Pending payouts older than their organization's reminder: their deciders are told again, once.
fn reminders(conn: &mut DbConnection, n: &Notifier, at: NaiveDateTime) -> Result<(), AppError> {
    for org in db::notices::with_reminders(conn)? {
        let due = at - chrono::Duration::hours(org.reminder_hours.into());
        for payout in db::approvals::pending(conn, org.org_id, 500)?.into_iter().filter(|p| p.created_at <= due) {
            db::write_tx(conn, |conn| {
                if db::notices::mark_once(conn, &format!("reminder:{}", payout.id), at)? {
                    for (org, notice, people) in approval_needed(conn, payout.id, true, at)? {
                        tell(conn, n, org, &notice, &people, at)?;
                    }
                }
                Ok::<_, AppError>(())
            })?;
        }
    }
    Ok(())
}

fn stuck(conn: &mut DbConnection, n: &Notifier, at: NaiveDateTime) -> Result<(), AppError> {
    for org in db::orgs::list(conn)? {
        for payout in db::payouts::in_progress_since_before(conn, org.id, at - n.stuck_after)? {
            db::write_tx(conn, |conn| {
                if !db::notices::mark_once(conn, &format!("stuck:{}", payout.id), at)? {
                    return Ok(());
                }
                let minutes = (at - payout.updated_at).num_minutes();
                let notice = Notice {
                    kind: "stuck",
                    group: Group::Operations,
                    chat_topic: Some("operations"),
                    subject: format!("Stuck: payout #{} unchanged for {minutes} minutes", payout.id),
                    lines: vec![
                        format!(
                            "Payout #{} ({} rows of {}) has been in progress without a change for {minutes} minutes.",
                            payout.id, payout.item_count, payout.asset
                        ),
                        "Check the processor, the network and the hot wallet; its page shows each row.".into(),
                    ],
                    chat_lines: vec![format!("Payout #{} unchanged for {minutes} min", payout.id)],
                    link: format!("/payouts/{}", payout.id),
                    reply_to: String::new(),
                };
                let admins = with_role(conn, org.id, Role::can_administer)?;
                tell(conn, n, org.id, &notice, &admins, at)
            })?;
        }
    }
    Ok(())
}

fn failing_webhooks(conn: &mut DbConnection, n: &Notifier, at: NaiveDateTime) -> Result<(), AppError> {
    for (org, endpoint, url) in db::webhooks::failing_since(conn, at - chrono::Duration::hours(1), 200)? {
        db::write_tx(conn, |conn| {
            if !db::notices::mark_once(conn, &format!("webhook_failing:{endpoint}:{}", at.date()), at)? {
                return Ok(());
            }
            let notice = Notice {
                kind: "webhook_failing",
                group: Group::Operations,
                chat_topic: Some("operations"),
                subject: format!("Webhook endpoint failing for an hour: {url}"),
                lines: vec![
                    format!("Deliveries to {url} have failed for more than an hour; they are retried for a day."),
                    "Settings → Webhooks shows what the receiver answered.".into(),
                ],
                chat_lines: vec![format!("Webhook endpoint {url} failing for an hour")],
                link: "/settings/webhooks".into(),
                reply_to: String::new(),
            };
            let admins = with_role(conn, org, Role::can_administer)?;
            tell(conn, n, org, &notice, &admins, at)
        })?;
    }
    Ok(())
}

#[derive(Template)]
#[template(path = "mail/digest.txt")]
struct DigestText<'a> {
    subject: &'a str,
    items: &'a [(String, String)],
    inbox: &'a str,
    org_name: &'a str,
    prefs: &'a str,
}

#[derive(Template)]
#[template(path = "mail/digest.html")]
struct DigestHtml<'a> {
    subject: &'a str,
    items: &'a [(String, String)],
    inbox: &'a str,
    org_name: &'a str,
    prefs: &'a str,
}

/// The daily digests (at each person's hour in the organization's zone) and the hourly ones of
/// notices held back by the hourly bound.
fn digests(conn: &mut DbConnection, n: &Notifier, at: NaiveDateTime) -> Result<(), AppError> {
    for state in [EmailState::Overflow, EmailState::Digest] {
        let waiting = db::notices::waiting(conn, state, 5000)?;
        let mut by_user: Vec<(i64, Vec<NotificationRow>)> = Vec::new();
        for row in waiting {
            match by_user.last_mut() {
                Some((u, rows)) if *u == row.user_id => rows.push(row),
                _ => by_user.push((row.user_id, vec![row])),
            }
        }
        for (user_id, rows) in by_user {
            if let Err(e) = digest_one(conn, n, state, user_id, &rows, at) {
                tracing::error!(user = user_id, error = %e, "a digest could not be made");
            }
        }
    }
    Ok(())
}

fn digest_one(
    conn: &mut DbConnection,
    n: &Notifier,
    state: EmailState,
    user_id: i64,
    rows: &[NotificationRow],
    at: NaiveDateTime,
) -> Result<(), AppError> {
    let user = db::users::find(conn, user_id)?;
    if user.disabled {
        // A disabled account is mailed nothing; its notices stay in its inbox.
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        db::notices::set_email_state(conn, &ids, state, EmailState::None)?;
        return Ok(());
    }
    let org = db::orgs::find(conn, user.org_id)?;
    let mark = match state {
        // Held back by the hourly bound: sent once the oldest has waited an hour.
        EmailState::Overflow => {
            if rows.iter().map(|r| r.created_at).min().is_some_and(|t| t > at - chrono::Duration::hours(1)) {
                return Ok(());
            }
            format!("overflow:{user_id}:{}", at.format("%Y-%m-%dT%H"))
        }
        _ => {
            let prefs = db::notices::prefs(conn, user_id)?.unwrap_or_else(|| PrefsRow::defaults(user_id, at));
            let local = Zone::stored(&org.time_zone).local(at);
            if (local.hour() as i32) < prefs.digest_hour {
                return Ok(());
            }
            format!("digest:{user_id}:{}", local.date())
        }
    };
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    db::write_tx(conn, |conn| {
        if !db::notices::mark_once(conn, &mark, at)? {
            return Ok(());
        }
        if db::notices::set_email_state(conn, &ids, state, EmailState::Digested)? == 0 {
            return Ok(());
        }
        let items: Vec<(String, String)> = rows.iter().map(|r| (r.subject.clone(), n.url(&r.link))).collect();
        let subject = match state {
            EmailState::Overflow => format!("{} more notices from the last hour", rows.len()),
            _ => format!("Your daily digest: {} notices", rows.len()),
        };
        let (inbox, prefs) = (n.url("/inbox"), n.url("/account/notifications"));
        let text = DigestText { subject: &subject, items: &items, inbox: &inbox, org_name: &org.name, prefs: &prefs }
            .render()?;
        let html = DigestHtml { subject: &subject, items: &items, inbox: &inbox, org_name: &org.name, prefs: &prefs }
            .render()?;
        queue_email(conn, org.id, &user.email, "", "digest", &subject, text, html, false, at)?;
        Ok::<_, AppError>(())
    })
}
