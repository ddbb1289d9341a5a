//! What people see of notifications: their inbox and its unread count, their preferences, and
//! (admins) the organization's chat channels, reminder and the messages that could not be sent.

use crate::crypto;
use crate::db::notices::{NotificationRow, OrgNotifyRow, PrefsRow};
use crate::db::outbox::OutboxRow;
use crate::db::{self, DbConnection};
use crate::domain::FieldErrors;
use crate::domain::account::Role;
use crate::domain::notice::{CHAT_TOPICS, Group, Mode};
use crate::domain::outbound::OutboundPolicy;
use crate::error::AppError;
use crate::service::access::Actor;
use crate::service::access::audit::{self, Entry};

/// A page of the inbox.
pub const PAGE: i64 = 50;

pub fn list(conn: &mut DbConnection, actor: &Actor, before: Option<i64>) -> Result<Vec<NotificationRow>, AppError> {
    Ok(db::notices::inbox(conn, actor.user_id, before, PAGE)?)
}

pub fn unread(conn: &mut DbConnection, user_id: i64) -> Result<i64, AppError> {
    Ok(db::notices::unread_count(conn, user_id)?)
}

/// Marks a notice read and returns the page it is about.
pub fn open(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<String, AppError> {
    let row = db::notices::mark_read(conn, actor.user_id, id, actor.now())?.ok_or(AppError::NotFound)?;
    // Only the dashboard's own pages: a stored link is always a path of ours.
    Ok(if row.link.starts_with('/') && !row.link.starts_with("//") { row.link } else { "/inbox".into() })
}

pub fn mark_all_read(conn: &mut DbConnection, actor: &Actor) -> Result<usize, AppError> {
    Ok(db::notices::mark_all_read(conn, actor.user_id, actor.now())?)
}

pub fn prefs(conn: &mut DbConnection, actor: &Actor) -> Result<PrefsRow, AppError> {
    Ok(db::notices::prefs(conn, actor.user_id)?.unwrap_or_else(|| PrefsRow::defaults(actor.user_id, actor.now())))
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct PrefsForm {
    #[serde(default)]
    pub approvals: String,
    #[serde(default)]
    pub outcomes: String,
    #[serde(default)]
    pub operations: String,
    #[serde(default)]
    pub follow_payouts: Option<String>,
    #[serde(default)]
    pub digest_hour: String,
}

pub fn save_prefs(conn: &mut DbConnection, actor: &Actor, form: &PrefsForm) -> Result<PrefsRow, AppError> {
    let mut errors = FieldErrors::new();
    let mut mode = |field: &'static str, value: &str| match Mode::parse(value) {
        Some(m) => m.as_str().to_owned(),
        None => {
            errors.add(field, "Choose email at once, daily digest or inbox only.");
            String::new()
        }
    };
    let approvals = mode("approvals", &form.approvals);
    let outcomes = mode("outcomes", &form.outcomes);
    let operations = mode("operations", &form.operations);
    let digest_hour = match form.digest_hour.trim().parse::<i32>() {
        Ok(h) if (0..24).contains(&h) => h,
        _ => {
            errors.add("digest_hour", "Choose an hour from 0 to 23.");
            0
        }
    };
    errors.into_result(())?;
    let row = PrefsRow {
        user_id: actor.user_id,
        approvals,
        outcomes,
        operations,
        follow_payouts: form.follow_payouts.is_some(),
        digest_hour,
        updated_at: actor.now(),
    };
    db::write_tx(conn, |conn| db::notices::save_prefs(conn, &row))?;
    Ok(row)
}

/// The organization's notification settings as admins see them (the Telegram token never shown).
pub struct Channels {
    pub settings: OrgNotifyRow,
    pub telegram_set: bool,
    /// Messages given up, newest first.
    pub failed: Vec<OutboxRow>,
}

pub fn channels(conn: &mut DbConnection, actor: &Actor) -> Result<Channels, AppError> {
    actor.require(Role::can_administer)?;
    let settings = db::notices::org_notify(conn, actor.org_id)?
        .unwrap_or_else(|| OrgNotifyRow::defaults(actor.org_id, actor.now()));
    Ok(Channels {
        telegram_set: settings.telegram_token.is_some(),
        settings,
        failed: db::outbox::failed(conn, actor.org_id, 50)?,
    })
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ChannelsForm {
    #[serde(default)]
    pub slack_url: String,
    /// Empty keeps the token already set; `remove_telegram` clears it.
    #[serde(default)]
    pub telegram_token: String,
    #[serde(default)]
    pub telegram_chat_id: String,
    #[serde(default)]
    pub remove_telegram: Option<String>,
    #[serde(default)]
    pub topics: Vec<String>,
    #[serde(default)]
    pub reminder_hours: String,
}

/// Longest URL, token or chat id accepted.
const MAX_FIELD: usize = 500;

/// Saves the chat channels and the reminder, after a step-up like any other outbound change
/// (a channel receives payout data), audited.
pub fn save_channels(
    conn: &mut DbConnection,
    actor: &Actor,
    form: &ChannelsForm,
    policy: &OutboundPolicy,
    secret: &[u8],
) -> Result<(), AppError> {
    actor.require(Role::can_administer)?;
    let mut errors = FieldErrors::new();
    let slack = form.slack_url.trim();
    let (token, chat) = (form.telegram_token.trim(), form.telegram_chat_id.trim());
    for (field, value) in [("slack_url", slack), ("telegram_token", token), ("telegram_chat_id", chat)] {
        if value.len() > MAX_FIELD || value.chars().any(char::is_control) {
            errors.add(field, format!("Use at most {MAX_FIELD} characters, without control characters."));
        }
    }
    if !slack.is_empty()
        && errors.get("slack_url").is_none()
        && let Err(e) = super::net::check_receiver(slack, policy)
    {
        errors.add("slack_url", e);
    }
    if !token.is_empty()
        && !token.split_once(':').is_some_and(|(id, rest)| {
            id.chars().all(|c| c.is_ascii_digit())
                && !rest.is_empty()
                && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
    {
        errors.add("telegram_token", "A bot token looks like 123456:ABC-def…, as BotFather gave it.");
    }
    if !chat.is_empty() && !chat.trim_start_matches('-').chars().all(|c| c.is_ascii_digit()) && !chat.starts_with('@') {
        errors.add("telegram_chat_id", "A chat id is a number (-100… for groups) or @channelname.");
    }
    let hours = match form.reminder_hours.trim().parse::<i32>() {
        Ok(h) if (0..=720).contains(&h) => h,
        _ => {
            errors.add("reminder_hours", "Hours from 0 (no reminder) to 720.");
            0
        }
    };
    let topics: Vec<&str> =
        CHAT_TOPICS.iter().map(|(k, _)| *k).filter(|k| form.topics.iter().any(|t| t == k)).collect();
    errors.into_result(())?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        crate::service::access::second_factor::require_fresh(conn, actor, "Changing the chat channels")?;
        let mut row =
            db::notices::org_notify(conn, actor.org_id)?.unwrap_or_else(|| OrgNotifyRow::defaults(actor.org_id, at));
        row.slack_url = (!slack.is_empty()).then(|| slack.to_owned());
        if form.remove_telegram.is_some() {
            row.telegram_token = None;
        } else if !token.is_empty() {
            let bound = actor.org_id.to_string();
            row.telegram_token =
                Some(crypto::seal(secret, super::sender::TELEGRAM_PURPOSE, bound.as_bytes(), token.as_bytes()));
        }
        row.telegram_chat_id = (!chat.is_empty()).then(|| chat.to_owned());
        row.chat_topics = topics.join(",");
        row.reminder_hours = hours;
        row.updated_at = at;
        db::notices::save_org_notify(conn, &row)?;
        let detail = format!(
            "Slack {}, Telegram {}, topics: {}, reminder after {hours} h",
            if row.slack_url.is_some() { "on" } else { "off" },
            if row.telegram_token.is_some() { "on" } else { "off" },
            if topics.is_empty() { "none".to_owned() } else { topics.join(", ") }
        );
        audit::record(
            conn,
            Entry::by(actor, "notifications.channels_changed", "organization", actor.org_id).detail(detail),
            at,
        )?;
        Ok(())
    })
}

/// Labels for the preference page.
pub fn groups() -> Vec<(Group, &'static str)> {
    Group::CHOOSABLE.iter().map(|g| (*g, g.label())).collect()
}
