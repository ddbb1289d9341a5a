//! The JSON shapes the API and webhooks both send. Uses no room: only `db` and `domain`.

pub mod payees;
pub mod payouts;
pub mod schema;

use chrono::{DateTime, NaiveDateTime, Utc};

pub use payouts::{ApprovalJson, ItemJson, PayoutJson, item_event_json, item_json, payout_json};

/// A stored UTC time as RFC 3339, to the second.
pub fn rfc3339(t: NaiveDateTime) -> String {
    DateTime::<Utc>::from_naive_utc_and_offset(t, Utc).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
