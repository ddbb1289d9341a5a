//! Telling people one notice: a row in each recipient's inbox, an email now, later in a digest or
//! not at all (their preference and the hourly bound), and a chat message when the organization
//! sends that topic to its channels. All inside the caller's transaction.

use askama::Template;
use chrono::NaiveDateTime;

use crate::db::models::UserRow;
use crate::db::notices::{NewNotification, PrefsRow};
use crate::db::outbox::NewMessage;
use crate::db::{self, DbConnection};
use crate::domain::notice::{Channel, EMAILS_PER_HOUR, EmailState, Group, Mode, OutboxStatus};
use crate::error::AppError;

/// What the notifier knows of the server: where people open it, and whether mail goes out.
#[derive(Debug, Clone)]
pub struct Notifier {
    pub public_url: url::Url,
    /// SMTP is configured: without it every notice stays in the inbox.
    pub mail: bool,
    /// A payout in progress this long without a change is stuck.
    pub stuck_after: chrono::Duration,
}

impl Notifier {
    /// The absolute address of a page of the dashboard.
    pub fn url(&self, path: &str) -> String {
        self.public_url.join(path).map_or_else(|_| path.to_owned(), |u| u.to_string())
    }
}

/// One thing to tell.
#[derive(Debug, Clone)]
pub struct Notice {
    pub kind: &'static str,
    pub group: Group,
    /// The chat topic it goes to, when the organization sends that topic to its channels.
    pub chat_topic: Option<&'static str>,
    /// Says what and how much: "Approve: 48,200 USDT_TRC20, 212 rows, December salaries".
    pub subject: String,
    /// The facts, one per line, addresses whole.
    pub lines: Vec<String>,
    /// The same facts for chat, addresses shortened.
    pub chat_lines: Vec<String>,
    /// The page it is about (a path).
    pub link: String,
    /// The person whose action it reports (replies go to them), or empty.
    pub reply_to: String,
}

#[derive(Template)]
#[template(path = "mail/notice.txt")]
struct NoticeText<'a> {
    subject: &'a str,
    lines: &'a [String],
    link: &'a str,
    org_name: &'a str,
    prefs: &'a str,
}

#[derive(Template)]
#[template(path = "mail/notice.html")]
struct NoticeHtml<'a> {
    subject: &'a str,
    lines: &'a [String],
    link: &'a str,
    org_name: &'a str,
    prefs: &'a str,
}

/// Puts `notice` in each recipient's inbox and queues what goes out with it.
pub fn tell(
    conn: &mut DbConnection,
    n: &Notifier,
    org_id: i64,
    notice: &Notice,
    recipients: &[UserRow],
    at: NaiveDateTime,
) -> Result<(), AppError> {
    let mut people: Vec<&UserRow> = recipients.iter().filter(|u| !u.disabled && u.org_id == org_id).collect();
    people.sort_by_key(|u| u.id);
    people.dedup_by_key(|u| u.id);
    let ids: Vec<i64> = people.iter().map(|u| u.id).collect();
    let prefs = db::notices::prefs_of(conn, &ids)?;
    let org_name = db::orgs::find(conn, org_id)?.name;
    // The hourly email count is read and then added to: two processes telling the same person
    // at once decide in turn.
    if n.mail {
        let keys: Vec<String> = people.iter().map(|u| format!("mail:{}", u.email)).collect();
        db::locks::serialize_on(conn, &keys)?;
    }
    for user in people {
        let mode = prefs
            .iter()
            .find(|p| p.user_id == user.id)
            .map_or_else(|| PrefsRow::defaults(user.id, at).mode(notice.group), |p| p.mode(notice.group));
        let email = match (n.mail, mode) {
            (false, _) | (true, Mode::Inbox) => EmailState::None,
            (true, Mode::Digest) => EmailState::Digest,
            (true, Mode::Immediate) => {
                if db::outbox::emails_since(conn, &user.email, at - chrono::Duration::hours(1))? >= EMAILS_PER_HOUR {
                    EmailState::Overflow
                } else {
                    EmailState::Queued
                }
            }
        };
        db::notices::insert(
            conn,
            &NewNotification {
                org_id,
                user_id: user.id,
                kind: notice.kind.to_owned(),
                grp: notice.group,
                subject: notice.subject.clone(),
                body: notice.lines.join("\n"),
                link: notice.link.clone(),
                email,
                created_at: at,
            },
        )?;
        if email == EmailState::Queued {
            let (link, prefs) = (n.url(&notice.link), n.url("/account/notifications"));
            let text = NoticeText {
                subject: &notice.subject,
                lines: &notice.lines,
                link: &link,
                org_name: &org_name,
                prefs: &prefs,
            }
            .render()?;
            let html = NoticeHtml {
                subject: &notice.subject,
                lines: &notice.lines,
                link: &link,
                org_name: &org_name,
                prefs: &prefs,
            }
            .render()?;
            queue_email(
                conn,
                org_id,
                &user.email,
                &notice.reply_to,
                notice.kind,
                &notice.subject,
                text,
                html,
                false,
                at,
            )?;
        }
    }
    if let Some(topic) = notice.chat_topic {
        queue_chat(conn, n, org_id, topic, notice, at)?;
    }
    Ok(())
}

/// Queues one email.
#[allow(clippy::too_many_arguments)]
pub fn queue_email(
    conn: &mut DbConnection,
    org_id: i64,
    to: &str,
    reply_to: &str,
    kind: &str,
    subject: &str,
    text: String,
    html: String,
    sensitive: bool,
    at: NaiveDateTime,
) -> Result<i64, AppError> {
    Ok(db::outbox::insert(
        conn,
        &NewMessage {
            org_id,
            channel: Channel::Email,
            recipient: to.to_owned(),
            reply_to: reply_to.to_owned(),
            kind: kind.to_owned(),
            subject: subject.to_owned(),
            body_text: text,
            body_html: html,
            sensitive,
            status: OutboxStatus::Queued,
            attempts: 0,
            next_attempt_at: at,
            last_error: String::new(),
            created_at: at,
        },
    )?)
}

/// One message per channel the organization sends `topic` to.
fn queue_chat(
    conn: &mut DbConnection,
    n: &Notifier,
    org_id: i64,
    topic: &str,
    notice: &Notice,
    at: NaiveDateTime,
) -> Result<(), AppError> {
    let Some(channels) = db::notices::org_notify(conn, org_id)? else {
        return Ok(());
    };
    if !channels.sends(topic) {
        return Ok(());
    }
    let text = format!("{}\n{}\n{}", notice.subject, notice.chat_lines.join("\n"), n.url(&notice.link));
    let mut targets = Vec::new();
    if channels.slack_url.is_some() {
        targets.push(Channel::Slack);
    }
    if channels.telegram_token.is_some() && channels.telegram_chat_id.is_some() {
        targets.push(Channel::Telegram);
    }
    for channel in targets {
        db::outbox::insert(
            conn,
            &NewMessage {
                org_id,
                channel,
                recipient: channel.as_str().to_owned(),
                reply_to: String::new(),
                kind: notice.kind.to_owned(),
                subject: notice.subject.clone(),
                body_text: text.clone(),
                body_html: String::new(),
                sensitive: false,
                status: OutboxStatus::Queued,
                attempts: 0,
                next_attempt_at: at,
                last_error: String::new(),
                created_at: at,
            },
        )?;
    }
    Ok(())
}
