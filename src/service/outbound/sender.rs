//! The notifier's worker, one per process: each round it reads the event stream into inboxes and
//! the outbox, issues reset links, runs the periodic checks once a minute, then sends what is
//! due. Each destination (the SMTP server; each organization's Slack or Telegram channel) gets its
//! own thread, so one slow server delays only its own messages, never a request or another channel.
//! Messages are leased in the database: several processes never send one twice in normal
//! operation; after a crash mid-send the lease runs out and it is sent again (at least once).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use super::mail::{self, Outcome, SmtpSettings};
use super::tell::Notifier;
use super::{chat, links, notices, periodic};
use crate::clock::Clock;
use crate::crypto;
use crate::db::outbox::OutboxRow;
use crate::db::{self, DbConnection};
use crate::domain::notice::{Channel, OutboxStatus};
use crate::domain::outbound::OutboundPolicy;
use crate::error::AppError;

/// Temporary failures are retried until this long after the message was queued.
pub const RETRY_FOR_HOURS: i64 = 24;
/// How long a sender holds a message it is sending before another may take it over.
pub const LEASE_SECONDS: i64 = 120;
/// Destinations sent to at once.
pub const MAX_IN_FLIGHT: usize = 8;
/// Messages one destination's turn sends at most.
const PER_TURN: i64 = 50;
/// Purpose under which a Telegram bot token is sealed with the server key.
pub const TELEGRAM_PURPOSE: &str = "telegram";

/// Everything the worker needs to know.
#[derive(Clone)]
pub struct Delivery {
    pub notifier: Notifier,
    pub smtp: Option<SmtpSettings>,
    pub sender: mail::Sender,
    /// The Telegram Bot API's base address (https://api.telegram.org; a local server in tests).
    pub telegram_api: url::Url,
    pub policy: OutboundPolicy,
    /// The server key Telegram tokens are sealed with.
    pub secret: Arc<Vec<u8>>,
    pub clock: Clock,
}

impl Delivery {
    fn message_host(&self) -> String {
        self.notifier.public_url.host_str().unwrap_or("localhost").to_owned()
    }
}

/// Backoff after the n-th failed attempt: 30 s, 1 min, 2 min … capped at one hour.
pub fn backoff(attempts: i32) -> chrono::Duration {
    chrono::Duration::seconds(30i64.saturating_mul(1 << attempts.clamp(0, 10)).min(3600))
}

/// Reads what is new into inboxes and the outbox (tests and tools call this; the worker runs it
/// every round). Returns the events taken.
pub fn take_new(conn: &mut DbConnection, d: &Delivery) -> Result<usize, AppError> {
    let mut taken = 0;
    loop {
        let n = notices::notify(conn, &d.notifier, d.clock.now())?;
        taken += n;
        if n < notices::EVENTS_PER_TURN as usize {
            break;
        }
    }
    links::handle_reset_requests(conn, &d.notifier, d.clock.now())?;
    Ok(taken)
}

/// Runs the periodic checks now (reminders, stuck payouts, failing endpoints, digests).
pub fn run_periodic(conn: &mut DbConnection, d: &Delivery) -> Result<(), AppError> {
    periodic::run(conn, &d.notifier, d.clock.now())
}

/// Sends everything due, one destination after another; returns how many were sent (tests and
/// tools; the worker sends destinations side by side).
pub fn send_due(conn: &mut DbConnection, d: &Delivery, agent: &ureq::Agent) -> Result<usize, AppError> {
    let mut sent = 0;
    for (channel, org) in db::outbox::due_destinations(conn, d.clock.now(), 500)? {
        sent += send_destination(conn, d, agent, channel, org)?;
    }
    Ok(sent)
}

/// One destination's turn: its due messages in order, stopping at the first temporary failure
/// (the rest wait for their own retry rather than each waiting out a timeout).
pub fn send_destination(
    conn: &mut DbConnection,
    d: &Delivery,
    agent: &ureq::Agent,
    channel: Channel,
    org: i64,
) -> Result<usize, AppError> {
    let org_filter = (channel != Channel::Email).then_some(org);
    let mut sent = 0;
    for row in db::outbox::due(conn, channel, org_filter, d.clock.now(), PER_TURN)? {
        let at = d.clock.now();
        if !db::outbox::claim(conn, &row, at, at + chrono::Duration::seconds(LEASE_SECONDS))? {
            continue;
        }
        let outcome = send_one(conn, d, agent, &row)?;
        let done = d.clock.now();
        let temporary = matches!(outcome, Outcome::Temporary(_));
        match outcome {
            Outcome::Sent => {
                sent += 1;
                db::outbox::record(conn, &row, OutboxStatus::Sent, "", done, Some(done))?;
            }
            Outcome::Permanent(e) => {
                tracing::warn!(message = row.id, channel = channel.as_str(), error = %e, "a message was refused for good");
                db::outbox::record(conn, &row, OutboxStatus::Failed, &e, done, None)?;
            }
            Outcome::Temporary(e) => {
                let give_up = done - row.created_at > chrono::Duration::hours(RETRY_FOR_HOURS);
                let status = if give_up { OutboxStatus::Failed } else { OutboxStatus::Queued };
                db::outbox::record(conn, &row, status, &e, done + backoff(row.attempts + 1), None)?;
            }
        }
        if temporary {
            break;
        }
    }
    Ok(sent)
}

fn send_one(conn: &mut DbConnection, d: &Delivery, agent: &ureq::Agent, row: &OutboxRow) -> Result<Outcome, AppError> {
    Ok(match row.channel {
        Channel::Email => match &d.smtp {
            Some(smtp) => mail::send(smtp, &d.sender, row, &d.message_host()),
            None => Outcome::Temporary("no SMTP server is configured (PAYOUTS_SMTP_URL)".into()),
        },
        Channel::Slack | Channel::Telegram => {
            let Some(settings) = db::notices::org_notify(conn, row.org_id)? else {
                return Ok(Outcome::Permanent("the organization has no chat channel any more".into()));
            };
            match row.channel {
                Channel::Slack => match settings.slack_url {
                    Some(url) => chat::send_slack(agent, &url, &row.body_text),
                    None => Outcome::Permanent("the Slack channel was removed".into()),
                },
                _ => {
                    let token = settings.telegram_token.as_deref().and_then(|sealed| {
                        crypto::open(&d.secret, TELEGRAM_PURPOSE, row.org_id.to_string().as_bytes(), sealed)
                    });
                    match (token.and_then(|t| String::from_utf8(t).ok()), settings.telegram_chat_id) {
                        (Some(token), Some(chat)) => {
                            chat::send_telegram(agent, &d.telegram_api, &token, &chat, &row.body_text)
                        }
                        _ => Outcome::Permanent("the Telegram channel was removed or its token no longer opens".into()),
                    }
                }
            }
        }
    })
}

/// A running worker; [`Running::stop`] ends its rounds (messages being sent finish on their own
/// threads).
#[derive(Clone)]
pub struct Running(Arc<AtomicBool>);

impl Running {
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Runs the worker until the process ends or it is stopped.
pub fn spawn(pool: db::Pool, d: Delivery, interval: Duration) -> Running {
    let busy: Busy = Arc::default();
    let running = Running(Arc::default());
    let stopped = running.0.clone();
    std::thread::Builder::new()
        .name("notifier".into())
        .spawn(move || {
            let agent = super::net::agent(super::webhooks::REQUEST_TIMEOUT, d.policy);
            let mut last_periodic: Option<Instant> = None;
            while !stopped.load(Ordering::SeqCst) {
                let periodic_due = last_periodic.is_none_or(|t| t.elapsed() >= Duration::from_secs(60));
                if periodic_due {
                    last_periodic = Some(Instant::now());
                }
                if let Err(e) = round(&pool, &d, &agent, &busy, periodic_due) {
                    tracing::error!(error = %e, "notifier round failed");
                }
                std::thread::sleep(interval);
            }
        })
        .expect("the notifier thread starts");
    running
}

/// Destinations being sent to right now.
type Busy = Arc<Mutex<HashSet<(Channel, i64)>>>;

fn round(pool: &db::Pool, d: &Delivery, agent: &ureq::Agent, busy: &Busy, periodic: bool) -> Result<(), AppError> {
    let mut conn = pool.get().map_err(|e| AppError::Pool(e.to_string()))?;
    take_new(&mut conn, d)?;
    if periodic {
        run_periodic(&mut conn, d)?;
        purge(&mut conn, d.clock.now())?;
    }
    for dest in db::outbox::due_destinations(&mut conn, d.clock.now(), 200)? {
        {
            let mut taken = busy.lock().unwrap_or_else(|p| p.into_inner());
            if taken.len() >= MAX_IN_FLIGHT || !taken.insert(dest) {
                continue;
            }
        }
        let (pool, agent, mine, d) = (pool.clone(), agent.clone(), busy.clone(), d.clone());
        let started = std::thread::Builder::new().name(format!("notify-{}", dest.0.as_str())).spawn(move || {
            let result = pool
                .get()
                .map_err(|e| AppError::Pool(e.to_string()))
                .and_then(|mut conn| send_destination(&mut conn, &d, &agent, dest.0, dest.1));
            if let Err(e) = result {
                tracing::error!(channel = dest.0.as_str(), org = dest.1, error = %e, "sending notifications failed");
            }
            mine.lock().unwrap_or_else(|p| p.into_inner()).remove(&dest);
        });
        if started.is_err() {
            busy.lock().unwrap_or_else(|p| p.into_inner()).remove(&dest);
        }
    }
    Ok(())
}

fn purge(conn: &mut DbConnection, at: NaiveDateTime) -> Result<(), AppError> {
    db::outbox::purge_sent(conn, at - chrono::Duration::days(30))?;
    Ok(())
}
