//! Mass payout drafts and their rows.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{mass_draft_rows::dsl as r, mass_drafts::dsl as d};
use super::{DbConnection, DbResult};
use crate::domain::payout::DraftStatus;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::mass_drafts)]
pub struct DraftRow {
    pub id: i64,
    pub org_id: i64,
    pub created_by: i64,
    pub asset: String,
    pub purpose: String,
    #[diesel(deserialize_as = String)]
    pub status: DraftStatus,
    pub payout_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The mass payout this draft repeats, which the editor compares it with.
    pub repeat_of: Option<i64>,
    /// The schedule that made this draft, and the pay day its review proposes.
    pub schedule_id: Option<i64>,
    pub send_on: Option<NaiveDateTime>,
    /// The reporting currency the rows' amounts are typed in, when they are in fiat.
    pub fiat_currency: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::mass_draft_rows)]
pub struct DraftLineRow {
    pub id: i64,
    pub draft_id: i64,
    pub position: i64,
    pub source_line: Option<i64>,
    pub address: String,
    pub amount: String,
    pub comment: String,
    pub reference: String,
    pub upload_error: Option<String>,
    /// The row's checked verdict (domain::registry::Row::verdict), None until checked.
    pub verdict: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = super::schema::mass_draft_rows)]
pub struct NewDraftLine {
    pub draft_id: i64,
    pub position: i64,
    pub source_line: Option<i64>,
    pub address: String,
    pub amount: String,
    pub comment: String,
    pub reference: String,
    pub upload_error: Option<String>,
    /// The row's checked verdict (domain::registry::Row::verdict), None until checked.
    pub verdict: Option<String>,
}

pub fn insert(
    conn: &mut DbConnection,
    org_id: i64,
    created_by: i64,
    asset: &str,
    purpose: &str,
    at: NaiveDateTime,
) -> DbResult<DraftRow> {
    diesel::insert_into(d::mass_drafts)
        .values((
            d::org_id.eq(org_id),
            d::created_by.eq(created_by),
            d::asset.eq(asset),
            d::purpose.eq(purpose),
            d::status.eq(DraftStatus::Open.as_str()),
            d::created_at.eq(at),
            d::updated_at.eq(at),
        ))
        .returning(super::schema::mass_drafts::all_columns)
        .get_result(conn)
}

pub fn set_repeat_of(conn: &mut DbConnection, id: i64, payout_id: i64) -> DbResult<()> {
    diesel::update(d::mass_drafts.find(id)).set(d::repeat_of.eq(payout_id)).execute(conn).map(drop)
}

pub fn find_in_org(conn: &mut DbConnection, org_id: i64, id: i64) -> DbResult<Option<DraftRow>> {
    d::mass_drafts.filter(d::id.eq(id).and(d::org_id.eq(org_id))).select(DraftRow::as_select()).first(conn).optional()
}

pub fn open_in_org(conn: &mut DbConnection, org_id: i64) -> DbResult<Vec<DraftRow>> {
    d::mass_drafts
        .filter(d::org_id.eq(org_id).and(d::status.eq(DraftStatus::Open.as_str())))
        .order(d::id.desc())
        .select(DraftRow::as_select())
        .load(conn)
}

pub fn update_header(conn: &mut DbConnection, id: i64, asset: &str, purpose: &str, at: NaiveDateTime) -> DbResult<()> {
    diesel::update(d::mass_drafts.find(id))
        .set((d::asset.eq(asset), d::purpose.eq(purpose), d::updated_at.eq(at)))
        .execute(conn)
        .map(drop)
}

/// The currency the draft's amounts are typed in: None for the asset itself.
pub fn set_fiat_currency(conn: &mut DbConnection, id: i64, currency: Option<&str>) -> DbResult<()> {
    diesel::update(d::mass_drafts.find(id)).set(d::fiat_currency.eq(currency)).execute(conn).map(drop)
}

pub fn touch(conn: &mut DbConnection, id: i64, at: NaiveDateTime) -> DbResult<()> {
    diesel::update(d::mass_drafts.find(id)).set(d::updated_at.eq(at)).execute(conn).map(drop)
}

/// open → confirmed or discarded, once.
pub fn close(
    conn: &mut DbConnection,
    id: i64,
    status: DraftStatus,
    payout_id: Option<i64>,
    at: NaiveDateTime,
) -> DbResult<bool> {
    let n = diesel::update(d::mass_drafts.filter(d::id.eq(id).and(d::status.eq(DraftStatus::Open.as_str()))))
        .set((d::status.eq(status.as_str()), d::payout_id.eq(payout_id), d::updated_at.eq(at)))
        .execute(conn)?;
    Ok(n == 1)
}

pub fn lines(conn: &mut DbConnection, draft_id: i64) -> DbResult<Vec<DraftLineRow>> {
    r::mass_draft_rows.filter(r::draft_id.eq(draft_id)).order(r::position).select(DraftLineRow::as_select()).load(conn)
}

pub fn count_lines(conn: &mut DbConnection, draft_id: i64) -> DbResult<i64> {
    r::mass_draft_rows.filter(r::draft_id.eq(draft_id)).count().get_result(conn)
}

pub fn max_position(conn: &mut DbConnection, draft_id: i64) -> DbResult<i64> {
    r::mass_draft_rows
        .filter(r::draft_id.eq(draft_id))
        .select(diesel::dsl::max(r::position))
        .first::<Option<i64>>(conn)
        .map(|p| p.unwrap_or(0))
}

pub fn insert_lines(conn: &mut DbConnection, rows: &[NewDraftLine]) -> DbResult<()> {
    for chunk in rows.chunks(500) {
        super::per_backend!(conn, |c| diesel::insert_into(r::mass_draft_rows).values(chunk).execute(c))?;
    }
    Ok(())
}

pub fn insert_line(conn: &mut DbConnection, row: &NewDraftLine) -> DbResult<DraftLineRow> {
    diesel::insert_into(r::mass_draft_rows)
        .values(row)
        .returning(super::schema::mass_draft_rows::all_columns)
        .get_result(conn)
}

/// Replaces a row's cells and verdict (an upload's line problem is gone once a person edits it).
pub fn update_line(conn: &mut DbConnection, draft_id: i64, id: i64, line: &NewDraftLine) -> DbResult<bool> {
    let n = diesel::update(r::mass_draft_rows.filter(r::id.eq(id).and(r::draft_id.eq(draft_id))))
        .set((
            r::address.eq(&line.address),
            r::amount.eq(&line.amount),
            r::comment.eq(&line.comment),
            r::reference.eq(&line.reference),
            r::upload_error.eq(None::<String>),
            r::verdict.eq(&line.verdict),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// New verdicts for rows checked again (the draft's asset changed).
pub fn set_verdicts(conn: &mut DbConnection, verdicts: &[(i64, String)]) -> DbResult<()> {
    for (id, verdict) in verdicts {
        diesel::update(r::mass_draft_rows.find(id)).set(r::verdict.eq(verdict)).execute(conn)?;
    }
    Ok(())
}

pub fn delete_line(conn: &mut DbConnection, draft_id: i64, id: i64) -> DbResult<bool> {
    let n = diesel::delete(r::mass_draft_rows.filter(r::id.eq(id).and(r::draft_id.eq(draft_id)))).execute(conn)?;
    Ok(n == 1)
}
