//! Security notices: a change to a person's own account is put on the event stream, in the
//! transaction of the change, for the notifier to tell that person (always by email).

use chrono::NaiveDateTime;
use serde_json::json;

use crate::db::events::NewEvent;
use crate::db::{self, DbConnection};
use crate::domain::event::SECURITY_NOTICE;
use crate::error::AppError;

/// Tells `user_id` that `what` happened to their account ("A security key was added"), from
/// `ip` when known.
pub(crate) fn tell(
    conn: &mut DbConnection,
    org_id: i64,
    user_id: i64,
    what: &str,
    ip: Option<&str>,
    at: NaiveDateTime,
) -> Result<(), AppError> {
    let data = json!({ "user_id": user_id, "what": what, "ip": ip });
    Ok(db::events::append(conn, &[NewEvent::json(org_id, SECURITY_NOTICE, &data, at)])?)
}
