//! Signed webhooks. Each change writes its deliveries (the outbox) in its own transaction; a
//! worker sends them, signed with HMAC-SHA256, and retries with exponential backoff for a day.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDateTime;

use crate::clock::Clock;
use crate::crypto;
use crate::db::webhooks::{DeliveryRow, EndpointRow};
use crate::db::{self, DbConnection};
use crate::domain::FieldErrors;
use crate::domain::account::Role;
use crate::domain::outbound::{DeliveryStatus, OutboundPolicy};
use crate::error::AppError;
use crate::service::access::Actor;
use crate::service::access::audit::{self, Entry};

pub use crate::domain::event::{
    DRAFT_READY, EVENT_TYPES, ITEM_STATUS_CHANGED, PAYEE_ADDRESS_CHANGED, PAYOUT_CREATED, PAYOUT_STATUS_CHANGED,
    WALLET_GAS_LOW,
};

/// Deliveries are retried until this long after the event.
pub const RETRY_FOR_HOURS: i64 = 25;
/// During a rotation the previous secret keeps signing this long.
pub const ROTATION_OVERLAP_HOURS: i64 = 24;
/// `Payouts-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, with one `v1`
/// per secret in force (two during a rotation).
pub fn signature_header(secrets: &[&str], t: i64, body: &str) -> String {
    let message = format!("{t}.{body}");
    let mut header = format!("t={t}");
    for s in secrets {
        header.push_str(&format!(",v1={}", crypto::hmac_sha256_hex(s.as_bytes(), message.as_bytes())));
    }
    header
}

fn secrets_in_force(e: &EndpointRow, at: NaiveDateTime) -> Vec<&str> {
    let mut list = vec![e.secret.as_str()];
    if let (Some(prev), Some(until)) = (&e.previous_secret, e.previous_expires_at)
        && until > at
    {
        list.push(prev.as_str());
    }
    list
}

/// Backoff after the n-th failed attempt: 10 s, 20 s, 40 s … capped at one hour.
pub fn backoff(attempts: i32) -> chrono::Duration {
    let secs = 10i64.saturating_mul(1 << attempts.clamp(0, 12)).min(3600);
    chrono::Duration::seconds(secs)
}

/// How many endpoints are sent to at once; each endpoint has at most one request in flight.
pub const MAX_ENDPOINTS_IN_FLIGHT: usize = 16;
/// The longest one delivery may take, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Deliveries one endpoint's turn sends at most.
const PER_TURN: i64 = 20;
/// What is kept of a receiver's answer: its status and this much of its body.
const EXCERPT_CHARS: usize = 200;

/// Sends what is due, one endpoint after another; returns how many were delivered. The server
/// runs endpoints side by side instead ([`spawn`]); this serves tests and tools, by the system's
/// clock.
pub fn deliver_due(conn: &mut DbConnection, agent: &ureq::Agent, limit: i64) -> Result<usize, AppError> {
    let clock = Clock::real();
    super::fan_out::fan_out(conn, clock.now())?;
    let mut delivered = 0;
    for endpoint_id in db::webhooks::endpoints_with_due(conn, clock.now(), limit)? {
        delivered += deliver_endpoint(conn, agent, &clock, endpoint_id, limit)?;
    }
    Ok(delivered)
}

/// One endpoint's turn: its due deliveries in order, stopping at the first that fails (the rest
/// wait for their retry rather than each waiting out a timeout). Nothing is sent to an endpoint
/// that is disabled.
pub fn deliver_endpoint(
    conn: &mut DbConnection,
    agent: &ureq::Agent,
    clock: &Clock,
    endpoint_id: i64,
    limit: i64,
) -> Result<usize, AppError> {
    let endpoint = db::webhooks::endpoint(conn, endpoint_id)?;
    if !endpoint.enabled {
        return Ok(0);
    }
    let mut delivered = 0;
    for row in db::webhooks::due_for_endpoint(conn, endpoint_id, clock.now(), limit.min(PER_TURN))? {
        let at = clock.now();
        if !db::webhooks::claim(conn, &row, at + chrono::Duration::seconds(60))? {
            continue;
        }
        let (code, response) = send(agent, &endpoint, &row, at);
        let ok = code.is_some_and(|c| (200..300).contains(&c));
        let attempts = row.attempts + 1;
        let done_at = clock.now();
        let (status, next) = if ok {
            delivered += 1;
            (DeliveryStatus::Delivered, done_at)
        } else if done_at - row.created_at > chrono::Duration::hours(RETRY_FOR_HOURS) {
            (DeliveryStatus::Failed, done_at)
        } else {
            (DeliveryStatus::Pending, done_at + backoff(attempts))
        };
        db::webhooks::record(conn, row.id, status, code, &response, next, ok.then_some(done_at))?;
        if !ok {
            break;
        }
    }
    Ok(delivered)
}

/// A short excerpt of what a receiver said, without control characters (it is shown to admins,
/// escaped, and nothing more of it is kept).
fn excerpt(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(EXCERPT_CHARS).collect()
}

fn send(agent: &ureq::Agent, endpoint: &EndpointRow, row: &DeliveryRow, at: NaiveDateTime) -> (Option<i32>, String) {
    let t = at.and_utc().timestamp();
    let signature = signature_header(&secrets_in_force(endpoint, at), t, &row.payload);
    let result = agent
        .post(&endpoint.url)
        .header("Content-Type", "application/json")
        .header("Payouts-Signature", &signature)
        .header("Payouts-Event", &row.event_type)
        .send(row.payload.as_str());
    match result {
        Ok(mut response) => {
            let code = response.status().as_u16() as i32;
            let text = response.body_mut().with_config().limit(2048).read_to_string().unwrap_or_default();
            (Some(code), excerpt(&text))
        }
        Err(e) => (None, excerpt(&e.to_string())),
    }
}

pub use crate::service::outbound::net::agent;

/// Runs the delivery worker until the process ends: every round, each endpoint with due
/// deliveries that is not already being sent to gets its own turn on its own thread (at most
/// [`MAX_ENDPOINTS_IN_FLIGHT`] at once), so a slow or dead receiver delays only itself.
pub fn spawn(
    pool: crate::db::Pool,
    interval: Duration,
    policy: OutboundPolicy,
    clock: Clock,
    shutdown: &crate::shutdown::Shutdown,
) {
    let busy: Busy = Arc::default();
    let stop = shutdown.clone();
    shutdown.spawn("webhooks", move || {
        let agent = agent(REQUEST_TIMEOUT, policy);
        while !stop.is_stopping() {
            if let Err(e) = round(&pool, &agent, &clock, &busy) {
                tracing::error!(error = %e, "webhook round failed");
            }
            stop.pause(interval);
        }
    });
}

/// Endpoints being sent to right now.
type Busy = Arc<Mutex<HashSet<i64>>>;

fn round(pool: &crate::db::Pool, agent: &ureq::Agent, clock: &Clock, busy: &Busy) -> Result<(), AppError> {
    let mut conn = pool.get().map_err(|e| AppError::Pool(e.to_string()))?;
    // Until the stream is drained, then every round: deliveries are due the moment they exist.
    while super::fan_out::fan_out(&mut conn, clock.now())? >= super::fan_out::EVENTS_PER_TURN as usize {}
    for id in db::webhooks::endpoints_with_due(&mut conn, clock.now(), 200)? {
        {
            let mut taken = busy.lock().unwrap_or_else(|p| p.into_inner());
            if taken.len() >= MAX_ENDPOINTS_IN_FLIGHT || !taken.insert(id) {
                continue;
            }
        }
        let (pool, agent, mine, clock) = (pool.clone(), agent.clone(), busy.clone(), clock.clone());
        let started = std::thread::Builder::new().name(format!("webhook-{id}")).spawn(move || {
            let result = pool
                .get()
                .map_err(|e| AppError::Pool(e.to_string()))
                .and_then(|mut conn| deliver_endpoint(&mut conn, &agent, &clock, id, PER_TURN));
            if let Err(e) = result {
                tracing::error!(endpoint = id, error = %e, "webhook delivery failed");
            }
            mine.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        });
        if started.is_err() {
            busy.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct EndpointForm {
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub events: Vec<String>,
}

/// Adds an endpoint; returns it with its secret, shown once.
pub fn add_endpoint(
    conn: &mut DbConnection,
    actor: &Actor,
    url: &str,
    events: &[String],
    policy: &OutboundPolicy,
) -> Result<(EndpointRow, String), AppError> {
    actor.require(Role::can_administer)?;
    let url = url.trim();
    let mut errors = FieldErrors::new();
    if let Err(e) = crate::service::outbound::net::check_receiver(url, policy) {
        errors.add("url", e);
    }
    let events: Vec<&str> = EVENT_TYPES.iter().copied().filter(|t| events.iter().any(|e| e == t)).collect();
    if events.is_empty() {
        errors.add("events", "Choose at least one event.");
    }
    errors.into_result(())?;
    let secret = format!("whsec_{}", crypto::random_hex(24));
    let at = actor.now();
    db::write_tx(conn, |conn| {
        crate::service::access::second_factor::require_fresh(conn, actor, "Adding a webhook")?;
        let row = db::webhooks::insert_endpoint(conn, actor.org_id, url, &events.join(","), &secret, at)?;
        audit::record(
            conn,
            Entry::by(actor, "webhook.added", "webhook_endpoint", row.id)
                .detail(format!("{url} for {}", events.join(", "))),
            at,
        )?;
        Ok((row, secret.clone()))
    })
}

/// A new secret; the old one keeps signing for a day so receivers can switch without a gap.
/// Turns an endpoint's deliveries on or off, after a step-up like any other webhook change (a
/// disabled endpoint hides events from the organization's systems), audited.
pub fn set_enabled(conn: &mut DbConnection, actor: &Actor, id: i64, enable: bool) -> Result<(), AppError> {
    actor.require(Role::can_administer)?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        crate::service::access::second_factor::require_fresh(conn, actor, "Turning a webhook on or off")?;
        if !db::webhooks::set_enabled(conn, actor.org_id, id, enable)? {
            return Err(AppError::NotFound);
        }
        let action = if enable { "webhook.enabled" } else { "webhook.disabled" };
        audit::record(conn, Entry::by(actor, action, "webhook_endpoint", id), at)?;
        Ok(())
    })
}

pub fn rotate_secret(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<String, AppError> {
    actor.require(Role::can_administer)?;
    let secret = format!("whsec_{}", crypto::random_hex(24));
    let at = actor.now();
    db::write_tx(conn, |conn| {
        crate::service::access::second_factor::require_fresh(conn, actor, "Rotating a webhook's secret")?;
        let endpoint =
            db::webhooks::endpoints(conn, actor.org_id)?.into_iter().find(|e| e.id == id).ok_or(AppError::NotFound)?;
        db::webhooks::rotate(
            conn,
            actor.org_id,
            id,
            &secret,
            &endpoint.secret,
            at + chrono::Duration::hours(ROTATION_OVERLAP_HOURS),
        )?;
        audit::record(conn, Entry::by(actor, "webhook.secret_rotated", "webhook_endpoint", id), at)?;
        Ok(secret.clone())
    })
}

pub fn resend(conn: &mut DbConnection, actor: &Actor, delivery_id: i64) -> Result<(), AppError> {
    actor.require(Role::can_administer)?;
    if !db::webhooks::resend(conn, actor.org_id, delivery_id, actor.now())? {
        return Err(AppError::NotFound);
    }
    audit::record(conn, Entry::by(actor, "webhook.resent", "webhook_delivery", delivery_id), actor.now())?;
    Ok(())
}

pub struct Overview {
    pub endpoints: Vec<EndpointRow>,
    pub deliveries: Vec<DeliveryRow>,
}

pub fn overview(conn: &mut DbConnection, actor: &Actor) -> Result<Overview, AppError> {
    actor.require(Role::can_administer)?;
    Ok(Overview {
        endpoints: db::webhooks::endpoints(conn, actor.org_id)?,
        deliveries: db::webhooks::recent(conn, actor.org_id, 100)?,
    })
}
