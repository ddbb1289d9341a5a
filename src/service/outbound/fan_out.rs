//! The event stream's reader: takes each new event once, across every server process, and turns
//! it into a delivery for each endpoint subscribed to its topic.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use chrono::{NaiveDateTime, Utc};
use serde_json::json;

use crate::crypto;
use crate::db::webhooks::{EndpointRow, NewDelivery};
use crate::db::{self, DbConnection};
use crate::domain::outbound::DeliveryStatus;
use crate::error::AppError;

/// Events taken in one transaction at most.
pub const EVENTS_PER_TURN: i64 = 500;
/// Taken events are forgotten after this long: what they told lives on in the deliveries.
pub const KEEP_TAKEN_DAYS: i64 = 7;

/// `{id, type, created_at, data}`, as every delivery is sent.
fn envelope(event_type: &str, data: serde_json::Value, at: NaiveDateTime) -> (String, String) {
    let id = format!("evt_{}", crypto::random_hex(12));
    let created =
        chrono::DateTime::<Utc>::from_naive_utc_and_offset(at, Utc).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let body = json!({ "id": id, "type": event_type, "created_at": created, "data": data }).to_string();
    (id, body)
}

/// Endpoints are matched when the event is taken, a second or so after it happened.
fn listens(e: &EndpointRow, topic: &str) -> bool {
    e.enabled && e.events.split(',').any(|t| t == topic)
}

/// Takes the oldest events not yet taken and queues their deliveries, in one transaction: an
/// event is taken by exactly one process, and taken only with its deliveries. Returns how many
/// events this call took.
pub fn fan_out(conn: &mut DbConnection, at: NaiveDateTime) -> Result<usize, AppError> {
    let events = db::events::undispatched(conn, EVENTS_PER_TURN)?;
    if events.is_empty() {
        return Ok(0);
    }
    let taken = db::write_tx(conn, |conn| {
        let mut endpoints: HashMap<i64, Vec<EndpointRow>> = HashMap::new();
        let mut deliveries = Vec::new();
        let mut taken = 0;
        for event in &events {
            // Another process took it meanwhile.
            if !db::events::take(conn, event.id, at)? {
                continue;
            }
            taken += 1;
            let of_org = match endpoints.entry(event.org_id) {
                Entry::Occupied(o) => o.into_mut(),
                Entry::Vacant(v) => v.insert(db::webhooks::endpoints(conn, event.org_id)?),
            };
            let listening: Vec<&EndpointRow> = of_org.iter().filter(|e| listens(e, &event.topic)).collect();
            if listening.is_empty() {
                continue;
            }
            let data = match serde_json::from_str(&event.data) {
                Ok(data) => data,
                Err(e) => {
                    // Written by this program, so never expected; one bad event must not hold up the rest.
                    tracing::error!(event = event.id, error = %e, "an event's data is not JSON; not delivered");
                    continue;
                }
            };
            let (id, body) = envelope(&event.topic, data, event.created_at);
            deliveries.extend(listening.iter().map(|e| NewDelivery {
                org_id: e.org_id,
                endpoint_id: e.id,
                event_id: id.clone(),
                event_type: event.topic.clone(),
                payload: body.clone(),
                status: DeliveryStatus::Pending,
                next_attempt_at: at,
                // The retry window runs from when the delivery was queued.
                created_at: at,
            }));
        }
        db::webhooks::insert_deliveries(conn, &deliveries)?;
        Ok::<_, AppError>(taken)
    })?;
    db::events::purge_taken(conn, at - chrono::Duration::days(KEEP_TAKEN_DAYS))?;
    Ok(taken)
}
