//! Webhook endpoints and the outbox of deliveries.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{webhook_deliveries::dsl as d, webhook_endpoints::dsl as e};
use super::{DbConnection, DbResult};
use crate::domain::outbound::DeliveryStatus;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::webhook_endpoints)]
pub struct EndpointRow {
    pub id: i64,
    pub org_id: i64,
    pub url: String,
    pub events: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_expires_at: Option<NaiveDateTime>,
    pub enabled: bool,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::webhook_deliveries)]
pub struct DeliveryRow {
    pub id: i64,
    pub org_id: i64,
    pub endpoint_id: i64,
    pub event_id: String,
    pub event_type: String,
    pub payload: String,
    #[diesel(deserialize_as = String)]
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_status_code: Option<i32>,
    pub last_response: Option<String>,
    pub created_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
}

#[derive(Clone, Insertable)]
#[diesel(table_name = super::schema::webhook_deliveries)]
pub struct NewDelivery {
    pub org_id: i64,
    pub endpoint_id: i64,
    pub event_id: String,
    pub event_type: String,
    pub payload: String,
    #[diesel(serialize_as = String)]
    pub status: DeliveryStatus,
    pub next_attempt_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

pub fn insert_endpoint(
    conn: &mut DbConnection,
    org_id: i64,
    url: &str,
    events: &str,
    secret: &str,
    at: NaiveDateTime,
) -> DbResult<EndpointRow> {
    diesel::insert_into(e::webhook_endpoints)
        .values((
            e::org_id.eq(org_id),
            e::url.eq(url),
            e::events.eq(events),
            e::secret.eq(secret),
            e::enabled.eq(true),
            e::created_at.eq(at),
        ))
        .returning(super::schema::webhook_endpoints::all_columns)
        .get_result(conn)
}

pub fn endpoints(conn: &mut DbConnection, org_id: i64) -> DbResult<Vec<EndpointRow>> {
    e::webhook_endpoints.filter(e::org_id.eq(org_id)).order(e::id).select(EndpointRow::as_select()).load(conn)
}

pub fn endpoint(conn: &mut DbConnection, id: i64) -> DbResult<EndpointRow> {
    e::webhook_endpoints.find(id).select(EndpointRow::as_select()).first(conn)
}

pub fn rotate(
    conn: &mut DbConnection,
    org_id: i64,
    id: i64,
    secret: &str,
    previous: &str,
    until: NaiveDateTime,
) -> DbResult<bool> {
    let n = diesel::update(e::webhook_endpoints.filter(e::id.eq(id).and(e::org_id.eq(org_id))))
        .set((e::secret.eq(secret), e::previous_secret.eq(Some(previous)), e::previous_expires_at.eq(Some(until))))
        .execute(conn)?;
    Ok(n == 1)
}

pub fn set_enabled(conn: &mut DbConnection, org_id: i64, id: i64, enabled: bool) -> DbResult<bool> {
    let n = diesel::update(e::webhook_endpoints.filter(e::id.eq(id).and(e::org_id.eq(org_id))))
        .set(e::enabled.eq(enabled))
        .execute(conn)?;
    Ok(n == 1)
}

pub fn insert_deliveries(conn: &mut DbConnection, rows: &[NewDelivery]) -> DbResult<()> {
    for chunk in rows.chunks(500) {
        super::per_backend!(conn, |c| diesel::insert_into(d::webhook_deliveries).values(chunk.to_vec()).execute(c))?;
    }
    Ok(())
}

/// Enabled endpoints that have deliveries due, each once: every endpoint gets its turn however
/// many deliveries another one has piled up.
pub fn endpoints_with_due(conn: &mut DbConnection, now: NaiveDateTime, limit: i64) -> DbResult<Vec<i64>> {
    let enabled = e::webhook_endpoints.filter(e::enabled.eq(true)).select(e::id);
    d::webhook_deliveries
        .filter(
            d::status
                .eq(DeliveryStatus::Pending.as_str())
                .and(d::next_attempt_at.le(now))
                .and(d::endpoint_id.eq_any(enabled)),
        )
        .select(d::endpoint_id)
        .distinct()
        .order(d::endpoint_id)
        .limit(limit)
        .load(conn)
}

pub fn due_for_endpoint(
    conn: &mut DbConnection,
    endpoint_id: i64,
    now: NaiveDateTime,
    limit: i64,
) -> DbResult<Vec<DeliveryRow>> {
    d::webhook_deliveries
        .filter(
            d::endpoint_id
                .eq(endpoint_id)
                .and(d::status.eq(DeliveryStatus::Pending.as_str()))
                .and(d::next_attempt_at.le(now)),
        )
        .order(d::id)
        .limit(limit)
        .select(DeliveryRow::as_select())
        .load(conn)
}

/// Takes a due delivery for one sending, pushing its next attempt out by `lease` so that no
/// other process sends it meanwhile; false when another process took it.
pub fn claim(conn: &mut DbConnection, row: &DeliveryRow, until: NaiveDateTime) -> DbResult<bool> {
    let n = diesel::update(
        d::webhook_deliveries.filter(
            d::id
                .eq(row.id)
                .and(d::status.eq(DeliveryStatus::Pending.as_str()))
                .and(d::next_attempt_at.eq(row.next_attempt_at)),
        ),
    )
    .set((d::next_attempt_at.eq(until), d::attempts.eq(d::attempts + 1)))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn record(
    conn: &mut DbConnection,
    id: i64,
    status: DeliveryStatus,
    code: Option<i32>,
    response: &str,
    next_attempt_at: NaiveDateTime,
    delivered_at: Option<NaiveDateTime>,
) -> DbResult<()> {
    diesel::update(d::webhook_deliveries.find(id))
        .set((
            d::status.eq(status.as_str()),
            d::last_status_code.eq(code),
            d::last_response.eq(Some(response)),
            d::next_attempt_at.eq(next_attempt_at),
            d::delivered_at.eq(delivered_at),
        ))
        .execute(conn)
        .map(drop)
}

pub fn recent(conn: &mut DbConnection, org_id: i64, limit: i64) -> DbResult<Vec<DeliveryRow>> {
    d::webhook_deliveries
        .filter(d::org_id.eq(org_id))
        .order(d::id.desc())
        .limit(limit)
        .select(DeliveryRow::as_select())
        .load(conn)
}

/// Sends a delivery again (from Settings): pending, due now.
pub fn resend(conn: &mut DbConnection, org_id: i64, id: i64, now: NaiveDateTime) -> DbResult<bool> {
    let n = diesel::update(d::webhook_deliveries.filter(d::id.eq(id).and(d::org_id.eq(org_id))))
        .set((d::status.eq(DeliveryStatus::Pending.as_str()), d::next_attempt_at.eq(now)))
        .execute(conn)?;
    Ok(n == 1)
}

/// Enabled endpoints with a delivery still failing that was queued before `before`:
/// (organization, endpoint, URL).
pub fn failing_since(conn: &mut DbConnection, before: NaiveDateTime, limit: i64) -> DbResult<Vec<(i64, i64, String)>> {
    let failing = d::webhook_deliveries
        .filter(d::status.eq(DeliveryStatus::Pending.as_str()).and(d::attempts.gt(0)).and(d::created_at.lt(before)))
        .select(d::endpoint_id);
    e::webhook_endpoints
        .filter(e::enabled.eq(true).and(e::id.eq_any(failing)))
        .order(e::id)
        .limit(limit)
        .select((e::org_id, e::id, e::url))
        .load(conn)
}
