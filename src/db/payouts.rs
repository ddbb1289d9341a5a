//! Payouts, their items and their timeline.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::schema::{payout_events::dsl as e, payout_items::dsl as i, payouts::dsl as p};
use super::{Backend, DbConnection, DbResult};
use crate::domain::payout::{ItemStatus, PayoutKind, PayoutStatus};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::payouts)]
pub struct PayoutRow {
    pub id: i64,
    pub org_id: i64,
    #[diesel(deserialize_as = String)]
    pub kind: PayoutKind,
    pub asset: String,
    #[diesel(deserialize_as = String)]
    pub status: PayoutStatus,
    pub description: String,
    pub amount_total: String,
    pub fee: String,
    pub total_debit: String,
    pub item_count: i32,
    pub approvals_required: i32,
    pub idempotency_key: Option<String>,
    pub created_by: i64,
    #[diesel(deserialize_as = super::stamp::Stamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = super::stamp::Stamp)]
    pub updated_at: NaiveDateTime,
    /// Its pay day: rows are sent at this time, not before.
    pub scheduled_for: Option<NaiveDateTime>,
}

#[derive(Clone, Insertable)]
#[diesel(table_name = super::schema::payouts)]
pub struct NewPayoutRow<'a> {
    pub org_id: i64,
    #[diesel(serialize_as = String)]
    pub kind: PayoutKind,
    pub asset: &'a str,
    #[diesel(serialize_as = String)]
    pub status: PayoutStatus,
    pub description: &'a str,
    pub amount_total: &'a str,
    pub fee: &'a str,
    pub total_debit: &'a str,
    pub item_count: i32,
    pub approvals_required: i32,
    pub idempotency_key: Option<&'a str>,
    pub created_by: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub scheduled_for: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::payout_items)]
pub struct ItemRow {
    pub id: i64,
    pub payout_id: i64,
    pub org_id: i64,
    pub line: i32,
    pub address: String,
    pub amount: String,
    pub fee: String,
    pub comment: String,
    pub reference: String,
    #[diesel(deserialize_as = String)]
    pub status: ItemStatus,
    pub idempotency_key: String,
    pub tx_hash: Option<String>,
    pub confirmations: i32,
    pub error: Option<String>,
    pub attempts: i32,
    pub lease_owner: Option<String>,
    pub lease_until: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
    /// The payee whose approved address this row pays, linked when the payout was created.
    pub payee_id: Option<i64>,
    /// Where in its block the row's payment was logged, when it shared a batch transaction.
    pub log_index: Option<i32>,
    /// Which output of its transaction paid the row, on a UTXO chain.
    pub vout: Option<i32>,
    /// Which instruction of its transaction paid the row, on Solana.
    pub instruction_index: Option<i32>,
    /// Why the row is held for compliance (its address listed when it was about to be sent).
    pub compliance_hold: Option<String>,
    /// Screened when the payout was confirmed: JSON {at, lists: [{name, version}]}.
    pub screened_at_confirmation: Option<String>,
    /// Screened right before the row was handed to its rail, in the same form.
    pub screened_at_sending: Option<String>,
    /// A claim: the payee gives the address (empty until then).
    pub claim: bool,
    /// When an unclaimed claim is cancelled and its funds released (set once it awaits the
    /// payee's address).
    pub claim_until: Option<NaiveDateTime>,
    /// Reminders sent to the payee about this claim.
    pub claim_reminders: i32,
}

#[derive(Clone, Insertable)]
#[diesel(table_name = super::schema::payout_items)]
// NULL rather than DEFAULT for a None: SQLite can then take many rows in one statement.
#[diesel(treat_none_as_default_value = false)]
pub struct NewItemRow {
    pub payout_id: i64,
    pub org_id: i64,
    pub line: i32,
    pub address: String,
    pub amount: String,
    pub fee: String,
    pub comment: String,
    pub reference: String,
    #[diesel(serialize_as = String)]
    pub status: ItemStatus,
    pub idempotency_key: String,
    pub updated_at: NaiveDateTime,
    pub payee_id: Option<i64>,
    pub screened_at_confirmation: Option<String>,
    pub claim: bool,
    pub claim_until: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::payout_events)]
pub struct EventRow {
    pub id: i64,
    pub payout_id: i64,
    pub item_id: Option<i64>,
    pub actor_user_id: Option<i64>,
    pub from_status: Option<String>,
    pub to_status: String,
    pub reason: String,
    pub created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = super::schema::payout_events)]
pub struct NewEventRow<'a> {
    pub payout_id: i64,
    pub item_id: Option<i64>,
    pub actor_user_id: Option<i64>,
    pub from_status: Option<&'a str>,
    pub to_status: &'a str,
    pub reason: &'a str,
    pub created_at: NaiveDateTime,
}

/// A new payout. Its status is counted by [`count_created`], which the caller runs last: the
/// counter rows are taken after the balance row, in the order every other change takes them.
pub fn insert(conn: &mut DbConnection, row: &NewPayoutRow) -> DbResult<PayoutRow> {
    diesel::insert_into(p::payouts).values(row.clone()).returning(super::schema::payouts::all_columns).get_result(conn)
}

/// Counts a payout just inserted in `payout_status_counts`, in its transaction.
pub fn count_created(conn: &mut DbConnection, payout: &PayoutRow) -> DbResult<()> {
    add_to_count(conn, payout.org_id, payout.status.as_str(), 1)
}

/// Keeps `payout_status_counts` in step with a status change, in the caller's transaction.
fn add_to_count(conn: &mut DbConnection, org_id: i64, status: &str, delta: i64) -> DbResult<()> {
    use super::schema::payout_status_counts::dsl as c;
    let row = (c::org_id.eq(org_id), c::status.eq(status), c::count.eq(delta));
    super::per_backend!(conn, |x| diesel::insert_into(c::payout_status_counts)
        .values(row)
        .on_conflict((c::org_id, c::status))
        .do_update()
        .set(c::count.eq(c::count + delta))
        .execute(x))
    .map(drop)
}

/// The organization's payouts per status, without counting the table.
pub fn status_counts(conn: &mut DbConnection, org_id: i64) -> DbResult<Vec<(String, i64)>> {
    use super::schema::payout_status_counts::dsl as c;
    c::payout_status_counts.filter(c::org_id.eq(org_id)).select((c::status, c::count)).load(conn)
}

/// Many rows per statement, in chunks that stay under both backends' bind-parameter limits;
/// with `returning`, the rows as stored (their ids) from the same statements, else none.
pub fn insert_items(conn: &mut DbConnection, rows: &[NewItemRow], returning: bool) -> DbResult<Vec<ItemRow>> {
    let mut stored = Vec::with_capacity(if returning { rows.len() } else { 0 });
    for chunk in rows.chunks(500) {
        let insert = || diesel::insert_into(i::payout_items).values(chunk.to_vec());
        if returning {
            stored.extend(super::per_backend!(conn, |c| insert().returning(ItemRow::as_returning()).get_results(c))?);
        } else {
            super::per_backend!(conn, |c| insert().execute(c))?;
        }
    }
    Ok(stored)
}

pub fn insert_event(conn: &mut DbConnection, row: &NewEventRow) -> DbResult<()> {
    diesel::insert_into(e::payout_events).values(row).execute(conn).map(drop)
}

pub fn insert_events(conn: &mut DbConnection, rows: &[NewEventRow]) -> DbResult<()> {
    for chunk in rows.chunks(500) {
        super::per_backend!(conn, |c| diesel::insert_into(e::payout_events).values(chunk).execute(c))?;
    }
    Ok(())
}

pub fn find_in_org(conn: &mut DbConnection, org_id: i64, id: i64) -> DbResult<Option<PayoutRow>> {
    p::payouts.filter(p::id.eq(id).and(p::org_id.eq(org_id))).select(PayoutRow::as_select()).first(conn).optional()
}

/// [`find_in_org`] holding the payout row's lock until the transaction ends, so decisions on
/// one payout (approvals, rejection, cancel) run one after another and each sees the others'
/// rows. SQLite's write transactions already hold the whole database.
pub fn lock_in_org(conn: &mut DbConnection, org_id: i64, id: i64) -> DbResult<Option<PayoutRow>> {
    let mine = p::id.eq(id).and(p::org_id.eq(org_id));
    match conn {
        DbConnection::Postgres(c) => {
            p::payouts.filter(mine).select(PayoutRow::as_select()).for_update().first(c).optional()
        }
        DbConnection::Sqlite(c) => p::payouts.filter(mine).select(PayoutRow::as_select()).first(c).optional(),
    }
}

pub fn find(conn: &mut DbConnection, id: i64) -> DbResult<PayoutRow> {
    p::payouts.find(id).select(PayoutRow::as_select()).first(conn)
}

pub fn find_by_idempotency_key(conn: &mut DbConnection, org_id: i64, key: &str) -> DbResult<Option<PayoutRow>> {
    p::payouts
        .filter(p::org_id.eq(org_id).and(p::idempotency_key.eq(key)))
        .select(PayoutRow::as_select())
        .first(conn)
        .optional()
}

/// The compare-and-swap of a payout's status: true when this call made the change.
pub fn cas_status(
    conn: &mut DbConnection,
    id: i64,
    from: PayoutStatus,
    to: PayoutStatus,
    at: NaiveDateTime,
) -> DbResult<bool> {
    let (from, to) = (from.as_str(), to.as_str());
    let changed: Option<i64> = diesel::update(p::payouts.filter(p::id.eq(id).and(p::status.eq(from))))
        .set((p::status.eq(to), p::updated_at.eq(at)))
        .returning(p::org_id)
        .get_result(conn)
        .optional()?;
    let Some(org_id) = changed else {
        return Ok(false);
    };
    add_to_count(conn, org_id, from, -1)?;
    add_to_count(conn, org_id, to, 1)?;
    Ok(true)
}

pub fn items(conn: &mut DbConnection, payout_id: i64) -> DbResult<Vec<ItemRow>> {
    i::payout_items.filter(i::payout_id.eq(payout_id)).order(i::line).select(ItemRow::as_select()).load(conn)
}

/// The payout's rows with these ids, by line.
pub fn items_with_ids(conn: &mut DbConnection, payout_id: i64, ids: &[i64]) -> DbResult<Vec<ItemRow>> {
    let mut rows = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        rows.extend(
            i::payout_items
                .filter(i::payout_id.eq(payout_id).and(i::id.eq_any(chunk)))
                .select(ItemRow::as_select())
                .load(conn)?,
        );
    }
    rows.sort_by_key(|r| r.line);
    Ok(rows)
}

pub fn events(conn: &mut DbConnection, payout_id: i64) -> DbResult<Vec<EventRow>> {
    e::payout_events.filter(e::payout_id.eq(payout_id)).order(e::id).select(EventRow::as_select()).load(conn)
}

/// Moves every item of a payout in status `from` to `to`; returns how many moved.
pub fn set_items_status(
    conn: &mut DbConnection,
    payout_id: i64,
    from: ItemStatus,
    to: ItemStatus,
    at: NaiveDateTime,
) -> DbResult<usize> {
    let (from, to) = (from.as_str(), to.as_str());
    diesel::update(i::payout_items.filter(i::payout_id.eq(payout_id).and(i::status.eq(from))))
        .set((i::status.eq(to), i::updated_at.eq(at)))
        .execute(conn)
}

/// (status, count) of a payout's items.
pub fn item_status_counts(conn: &mut DbConnection, payout_id: i64) -> DbResult<Vec<(String, i64)>> {
    i::payout_items
        .filter(i::payout_id.eq(payout_id))
        .group_by(i::status)
        .select((i::status, diesel::dsl::count_star()))
        .load(conn)
}

/// Filters of the payouts list. Amounts are never compared in SQL.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: Option<String>,
    pub kind: Option<String>,
    pub asset: Option<String>,
    pub created_from: Option<NaiveDateTime>,
    pub created_before: Option<NaiveDateTime>,
    /// Exact address or reference of an item, or part of the description.
    pub search: Option<String>,
}

/// Newest first, `limit` rows with an id below `before_id` (keyset pagination: the same cost on
/// page 1 and page 10,000).
pub fn list(
    conn: &mut DbConnection,
    org_id: i64,
    filter: &ListFilter,
    before_id: Option<i64>,
    limit: i64,
) -> DbResult<Vec<PayoutRow>> {
    let mut q = filtered(conn.backend(), org_id, filter);
    if let Some(before) = before_id {
        q = q.filter(p::id.lt(before));
    }
    if filter.created_from.is_some() || filter.created_before.is_some() {
        // Both planners walk the (org, id) index from the newest payout to find the first page
        // of a day's payouts, expecting them spread over the history: half a million rows for
        // a day a year ago (SQLite has no statistics; PostgreSQL's are right but assume no
        // order). The ids of those days, read from the (org, created) index, bound the walk.
        let dated = ListFilter {
            created_from: filter.created_from,
            created_before: filter.created_before,
            ..Default::default()
        };
        let (low, high): (Option<i64>, Option<i64>) = p::payouts
            .filter(condition(conn.backend(), org_id, &dated))
            // `id + 0`: min(id) alone would be read from the id index in order, the walk itself.
            .select((diesel::dsl::min(p::id + 0), diesel::dsl::max(p::id + 0)))
            .first(conn)?;
        match (low, high) {
            (Some(low), Some(high)) => q = q.filter(p::id.between(low, high)),
            _ => return Ok(Vec::new()),
        }
    }
    q.order(p::id.desc()).limit(limit).select(PayoutRow::as_select()).load(conn)
}

/// How many payouts match the filter, its status included.
pub fn count(conn: &mut DbConnection, org_id: i64, filter: &ListFilter) -> DbResult<i64> {
    filtered(conn.backend(), org_id, filter).count().get_result(conn)
}

/// How many payouts match the filter (its status ignored), per status: one pass for every tab.
pub fn count_by_status(conn: &mut DbConnection, org_id: i64, filter: &ListFilter) -> DbResult<Vec<(String, i64)>> {
    let any_status = ListFilter { status: None, ..filter.clone() };
    // Grouped by an expression, not the column: SQLite would otherwise read the whole
    // (org, status) index in order to group without sorting, where a day's filter names 1,440
    // payouts of a million; this way it starts from the (org, created) index (BENCHMARKS.md).
    let status = diesel::dsl::sql::<diesel::sql_types::Text>("payouts.status || ''");
    p::payouts
        .filter(condition(conn.backend(), org_id, &any_status))
        .group_by(status.clone())
        .select((status, diesel::dsl::count_star()))
        .load(conn)
}

type Condition<'a> =
    Box<dyn BoxableExpression<super::schema::payouts::table, super::MultiBackend, SqlType = Bool> + 'a>;

fn filtered<'a>(
    backend: Backend,
    org_id: i64,
    filter: &'a ListFilter,
) -> super::schema::payouts::BoxedQuery<'a, super::MultiBackend> {
    p::payouts.filter(condition(backend, org_id, filter)).into_boxed()
}

fn condition<'a>(backend: Backend, org_id: i64, filter: &'a ListFilter) -> Condition<'a> {
    let mut c: Condition<'a> = Box::new(p::org_id.eq(org_id));
    if let Some(status) = &filter.status {
        c = Box::new(c.and(p::status.eq(status)));
    }
    if let Some(kind) = &filter.kind {
        c = Box::new(c.and(p::kind.eq(kind)));
    }
    if let Some(asset) = &filter.asset {
        c = Box::new(c.and(p::asset.eq(asset)));
    }
    if let Some(from) = filter.created_from {
        c = Box::new(c.and(p::created_at.ge(from)));
    }
    if let Some(before) = filter.created_before {
        c = Box::new(c.and(p::created_at.lt(before)));
    }
    if filter.created_from.is_some() || filter.created_before.is_some() {
        // A day of a million payouts is best read by date, the whole history by id: only
        // PostgreSQL's plan for the given dates knows which (its generic plan for a prepared
        // statement walked the id index, 300 ms per export of a day; BENCHMARKS.md).
        c = Box::new(c.and(super::planned_each_time()));
    }
    if let Some(term) = &filter.search {
        c = Box::new(c.and(search(backend, org_id, term)));
    }
    c
}

/// Payouts with an item of exactly this address or reference, or whose description contains the
/// term (any case). One set of ids from indexes, so that a search reads only what it finds: the
/// items' (org, address) and (org, reference) indexes, and a trigram index of descriptions
/// (FTS5 on SQLite, pg_trgm on PostgreSQL; migration 000011). On SQLite a term under three
/// characters has no trigram and is looked for by reading the descriptions.
fn search(backend: Backend, org_id: i64, term: &str) -> Condition<'static> {
    use diesel::dsl::sql;
    use diesel::sql_types::{BigInt, Text};
    // Two selects, not `address = ? OR reference = ?`: SQLite uses an index for each only so.
    let by_item = sql::<Bool>("payouts.id IN (SELECT payout_id FROM payout_items WHERE org_id = ")
        .bind::<BigInt, _>(org_id)
        .sql(" AND address = ")
        .bind::<Text, _>(term.to_owned())
        .sql(" UNION ALL SELECT payout_id FROM payout_items WHERE org_id = ")
        .bind::<BigInt, _>(org_id)
        .sql(" AND reference = ")
        .bind::<Text, _>(term.to_owned());
    let like = || {
        let escaped = term.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        format!("%{escaped}%")
    };
    match backend {
        Backend::Sqlite if term.chars().count() >= 3 => Box::new(
            by_item
                .sql(" UNION ALL SELECT rowid FROM payouts_search WHERE payouts_search MATCH ")
                // One FTS5 string: a substring match under the trigram tokenizer, quotes doubled.
                .bind::<Text, _>(format!("\"{}\"", term.replace('"', "\"\"")))
                .sql(")"),
        ),
        // lower() on both sides: LIKE is case-insensitive on SQLite but not on PostgreSQL.
        _ => Box::new(
            by_item
                .sql(" UNION ALL SELECT id FROM payouts WHERE org_id = ")
                .bind::<BigInt, _>(org_id)
                .sql(" AND lower(description) LIKE ")
                .bind::<Text, _>(like())
                .sql(" ESCAPE '\\')"),
        ),
    }
}

/// Payouts in progress since before `before`: stuck, or very large.
pub fn in_progress_since_before(
    conn: &mut DbConnection,
    org_id: i64,
    before: NaiveDateTime,
) -> DbResult<Vec<PayoutRow>> {
    // A payout whose rows left are claims waits for its payees, for days by design: not stuck.
    let moving = i::payout_items.filter(i::payout_id.eq(p::id).and(i::status.eq_any([
        "queued",
        "submitting",
        "submitted",
        "needs_review",
    ])));
    p::payouts
        .filter(p::org_id.eq(org_id).and(p::status.eq("in_progress")).and(p::updated_at.lt(before)))
        .filter(diesel::dsl::exists(moving))
        .order(p::id)
        .limit(100)
        .select(PayoutRow::as_select())
        .load(conn)
}

pub fn find_item(conn: &mut DbConnection, payout_id: i64, item_id: i64) -> DbResult<Option<ItemRow>> {
    i::payout_items
        .filter(i::id.eq(item_id).and(i::payout_id.eq(payout_id)))
        .select(ItemRow::as_select())
        .first(conn)
        .optional()
}
