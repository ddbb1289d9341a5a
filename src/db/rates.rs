//! Reporting currencies, observed exchange rates and pinned rates.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{org_reporting::dsl as o, rate_pins::dsl as p, rates::dsl as r};
use super::{DbConnection, DbResult};
use crate::domain::fiat::RateStatus;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = super::schema::org_reporting)]
pub struct ReportingRow {
    pub org_id: i64,
    pub currency: String,
    pub stale_minutes: i32,
    pub updated_at: NaiveDateTime,
    /// How far a rate may move between a fiat-priced review and its Confirm, in percent.
    pub tolerance_percent: String,
}

pub fn reporting(conn: &mut DbConnection, org_id: i64) -> DbResult<Option<ReportingRow>> {
    o::org_reporting.find(org_id).select(ReportingRow::as_select()).first(conn).optional()
}

pub fn all_reporting(conn: &mut DbConnection) -> DbResult<Vec<ReportingRow>> {
    o::org_reporting.select(ReportingRow::as_select()).load(conn)
}

pub fn save_reporting(conn: &mut DbConnection, row: &ReportingRow) -> DbResult<()> {
    if diesel::update(o::org_reporting.find(row.org_id)).set(row).execute(conn)? == 0 {
        diesel::insert_into(o::org_reporting).values(row).execute(conn)?;
    }
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::rates)]
pub struct RateRow {
    pub id: i64,
    pub org_id: Option<i64>,
    pub asset: String,
    pub currency: String,
    pub rate: String,
    pub source: String,
    #[diesel(deserialize_as = String)]
    pub status: RateStatus,
    pub observed_at: NaiveDateTime,
    pub recorded_by: Option<i64>,
    pub created_at: NaiveDateTime,
    /// An organization's own rate applies until then; a provider's has none (it ages).
    pub valid_until: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = super::schema::rates)]
pub struct NewRate<'a> {
    pub org_id: Option<i64>,
    pub asset: &'a str,
    pub currency: &'a str,
    pub rate: &'a str,
    pub source: &'a str,
    #[diesel(serialize_as = String)]
    pub status: RateStatus,
    pub observed_at: NaiveDateTime,
    pub recorded_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub valid_until: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConnection, row: &NewRate) -> DbResult<()> {
    diesel::insert_into(r::rates).values(row.clone()).execute(conn).map(drop)
}

/// The newest provider observation of a pair that passed the outlier guard.
pub fn latest_provider_accepted(conn: &mut DbConnection, asset: &str, currency: &str) -> DbResult<Option<RateRow>> {
    r::rates
        .filter(r::asset.eq(asset).and(r::currency.eq(currency)).and(r::org_id.is_null()))
        .filter(r::status.eq(RateStatus::Accepted.as_str()))
        .order((r::observed_at.desc(), r::id.desc()))
        .select(RateRow::as_select())
        .first(conn)
        .optional()
}

/// The newest provider observation of a pair, accepted or held.
pub fn latest_from_provider(conn: &mut DbConnection, asset: &str, currency: &str) -> DbResult<Option<RateRow>> {
    r::rates
        .filter(r::asset.eq(asset).and(r::currency.eq(currency)).and(r::org_id.is_null()))
        .order((r::observed_at.desc(), r::id.desc()))
        .select(RateRow::as_select())
        .first(conn)
        .optional()
}

/// Forgets provider observations older than `before` (pages and payouts keep what they used).
pub fn purge_provider(conn: &mut DbConnection, before: NaiveDateTime) -> DbResult<usize> {
    diesel::delete(r::rates.filter(r::org_id.is_null().and(r::observed_at.lt(before)))).execute(conn)
}

/// One of the rates [`candidates`] finds: which ([`PINNED`], [`OWN`], [`PROVIDER`]) and its
/// figures (a pin's source is empty, its time the pinning's).
#[derive(Debug, Clone, Queryable)]
pub struct Candidate {
    pub kind: i32,
    pub rate: String,
    pub source: String,
    pub observed_at: NaiveDateTime,
    pub valid_until: Option<NaiveDateTime>,
}

pub const PINNED: i32 = 0;
pub const OWN: i32 = 1;
pub const PROVIDER: i32 = 2;

/// The rates a pair's current rate is chosen from, in one statement (each is a round trip inside
/// every quote and creation): its pin, the organization's newest accepted rate and the
/// provider's newest accepted one ([`latest_provider_accepted`]). Built with diesel's query
/// builder, so that the connection keeps it prepared.
pub fn candidates(conn: &mut DbConnection, org_id: i64, asset: &str, currency: &str) -> DbResult<Vec<Candidate>> {
    use diesel::sql_types::{Integer, Nullable, Text, Timestamp};
    let accepted = RateStatus::Accepted.as_str();
    let pin = p::rate_pins.filter(p::org_id.eq(org_id).and(p::asset.eq(asset)).and(p::currency.eq(currency))).select((
        PINNED.into_sql::<Integer>(),
        p::rate,
        "".into_sql::<Text>(),
        p::pinned_at,
        None::<NaiveDateTime>.into_sql::<Nullable<Timestamp>>(),
    ));
    let own = r::rates
        .filter(r::org_id.eq(org_id).and(r::asset.eq(asset)).and(r::currency.eq(currency)))
        .filter(r::status.eq(accepted))
        .order((r::observed_at.desc(), r::id.desc()))
        .limit(1)
        .select((OWN.into_sql::<Integer>(), r::rate, r::source, r::observed_at, r::valid_until));
    let provider = r::rates
        .filter(r::asset.eq(asset).and(r::currency.eq(currency)).and(r::org_id.is_null()))
        .filter(r::status.eq(accepted))
        .order((r::observed_at.desc(), r::id.desc()))
        .limit(1)
        .select((PROVIDER.into_sql::<Integer>(), r::rate, r::source, r::observed_at, r::valid_until));
    // Each backend on its own: diesel's multi-backend connection has no nested UNION.
    let query = pin.union_all(own).union_all(provider);
    match conn {
        DbConnection::Postgres(c) => query.load(c),
        DbConnection::Sqlite(c) => query.load(c),
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = super::schema::rate_pins)]
pub struct PinRow {
    pub org_id: i64,
    pub asset: String,
    pub currency: String,
    pub rate: String,
    pub pinned_by: i64,
    pub pinned_at: NaiveDateTime,
}

pub fn set_pin(conn: &mut DbConnection, row: &PinRow) -> DbResult<()> {
    let q =
        p::rate_pins.filter(p::org_id.eq(row.org_id).and(p::asset.eq(&row.asset)).and(p::currency.eq(&row.currency)));
    if diesel::update(q).set(row).execute(conn)? == 0 {
        diesel::insert_into(p::rate_pins).values(row).execute(conn)?;
    }
    Ok(())
}

pub fn remove_pin(conn: &mut DbConnection, org_id: i64, asset: &str, currency: &str) -> DbResult<bool> {
    let n =
        diesel::delete(p::rate_pins.filter(p::org_id.eq(org_id).and(p::asset.eq(asset)).and(p::currency.eq(currency))))
            .execute(conn)?;
    Ok(n == 1)
}
