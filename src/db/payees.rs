//! Payees and their addresses under change control.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::payee_addresses::dsl as a;
use super::schema::payees::dsl as p;
use super::{DbConnection, DbResult};
use crate::domain::payee::AddressStatus;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::payees)]
pub struct PayeeRow {
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    pub email: String,
    pub external_id: String,
    pub notes: String,
    pub archived: bool,
    pub created_by: i64,
    #[diesel(deserialize_as = super::stamp::Stamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = super::stamp::Stamp)]
    pub updated_at: NaiveDateTime,
    /// Lowercase, between commas: `,employees,berlin,`; empty for none.
    pub tags: String,
}

#[derive(Insertable)]
#[diesel(table_name = super::schema::payees)]
pub struct NewPayeeRow<'a> {
    pub org_id: i64,
    pub name: &'a str,
    pub email: &'a str,
    pub external_id: &'a str,
    pub notes: &'a str,
    pub archived: bool,
    pub created_by: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub tags: &'a str,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::payee_addresses)]
pub struct PayeeAddressRow {
    pub id: i64,
    pub org_id: i64,
    pub payee_id: i64,
    pub network: String,
    pub address: String,
    #[diesel(deserialize_as = String)]
    pub status: AddressStatus,
    /// The staff member who entered it; none when the payee submitted it themselves.
    pub entered_by: Option<i64>,
    #[diesel(deserialize_as = super::stamp::Stamp)]
    pub entered_at: NaiveDateTime,
    pub decided_by: Option<i64>,
    pub decided_at: Option<NaiveDateTime>,
    pub payable_from: Option<NaiveDateTime>,
    pub reason: String,
    /// The first of the two managers a lookalike address needs, who acknowledged it.
    pub lookalike_ack_by: Option<i64>,
    pub lookalike_ack_at: Option<NaiveDateTime>,
    pub submitted_by_payee: bool,
    /// The payee's proof of control (JSON {method, message, signature, at}); none: not proven.
    pub proof: Option<String>,
}

#[derive(Clone, Insertable)]
#[diesel(table_name = super::schema::payee_addresses)]
pub struct NewPayeeAddressRow<'a> {
    pub org_id: i64,
    pub payee_id: i64,
    pub network: &'a str,
    pub address: &'a str,
    #[diesel(serialize_as = String)]
    pub status: AddressStatus,
    pub entered_by: Option<i64>,
    pub entered_at: NaiveDateTime,
    pub reason: &'a str,
    pub submitted_by_payee: bool,
    pub proof: Option<&'a str>,
}

pub fn insert(conn: &mut DbConnection, row: &NewPayeeRow) -> DbResult<PayeeRow> {
    diesel::insert_into(p::payees).values(row).returning(super::schema::payees::all_columns).get_result(conn)
}

/// A payee's editable fields.
#[derive(AsChangeset)]
#[diesel(table_name = super::schema::payees)]
pub struct PayeeChange<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub external_id: &'a str,
    pub notes: &'a str,
    pub tags: &'a str,
    pub updated_at: NaiveDateTime,
}

pub fn update(conn: &mut DbConnection, id: i64, change: &PayeeChange) -> DbResult<()> {
    diesel::update(p::payees.find(id)).set(change).execute(conn).map(drop)
}

pub fn set_archived(conn: &mut DbConnection, id: i64, archived: bool, at: NaiveDateTime) -> DbResult<()> {
    diesel::update(p::payees.find(id)).set((p::archived.eq(archived), p::updated_at.eq(at))).execute(conn).map(drop)
}

pub fn find_in_org(conn: &mut DbConnection, org_id: i64, id: i64) -> DbResult<Option<PayeeRow>> {
    p::payees.filter(p::id.eq(id).and(p::org_id.eq(org_id))).select(PayeeRow::as_select()).first(conn).optional()
}

/// [`find_in_org`] holding the payee's row lock until the transaction ends: decisions on one
/// payee's addresses run one after another (SQLite's write transactions hold the database).
pub fn lock_in_org(conn: &mut DbConnection, org_id: i64, id: i64) -> DbResult<Option<PayeeRow>> {
    let mine = p::id.eq(id).and(p::org_id.eq(org_id));
    match conn {
        DbConnection::Postgres(c) => {
            p::payees.filter(mine).select(PayeeRow::as_select()).for_update().first(c).optional()
        }
        DbConnection::Sqlite(c) => p::payees.filter(mine).select(PayeeRow::as_select()).first(c).optional(),
    }
}

/// Payees (of any organization, not archived) whose email is `email`, exactly as stored
/// (emails are kept normalized): the sign-in form's lookup, at most a few.
pub fn with_email(conn: &mut DbConnection, email: &str) -> DbResult<Vec<PayeeRow>> {
    p::payees
        .filter(p::email.eq(email).and(p::archived.eq(false)))
        .order(p::id)
        .limit(20)
        .select(PayeeRow::as_select())
        .load(conn)
}

pub fn find_by_external_id(conn: &mut DbConnection, org_id: i64, external_id: &str) -> DbResult<Option<PayeeRow>> {
    p::payees
        .filter(p::org_id.eq(org_id).and(p::external_id.eq(external_id)))
        .select(PayeeRow::as_select())
        .first(conn)
        .optional()
}

/// The payees among `external_ids` (empty ones left out).
pub fn by_external_ids(conn: &mut DbConnection, org_id: i64, external_ids: &[&str]) -> DbResult<Vec<PayeeRow>> {
    let mut out = Vec::new();
    for chunk in external_ids.chunks(super::processor::IDS_PER_STATEMENT) {
        out.extend(
            p::payees
                .filter(p::org_id.eq(org_id).and(p::external_id.ne("")).and(p::external_id.eq_any(chunk)))
                .select(PayeeRow::as_select())
                .load::<PayeeRow>(conn)?,
        );
    }
    Ok(out)
}

/// Payees by name; `term` matches the start of a name, an exact external id or a whole tag.
pub fn list(conn: &mut DbConnection, org_id: i64, term: &str, archived: bool, limit: i64) -> DbResult<Vec<PayeeRow>> {
    let mut q = p::payees.filter(p::org_id.eq(org_id).and(p::archived.eq(archived))).into_boxed();
    if !term.is_empty() {
        let escaped = term.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        let tag = format!("%,{escaped},%");
        q = q.filter(
            p::name
                .like(format!("{escaped}%"))
                .escape('\\')
                .or(p::external_id.eq(term.to_owned()))
                .or(p::tags.like(tag.to_lowercase()).escape('\\')),
        );
    }
    q.order((p::name, p::id)).limit(limit).select(PayeeRow::as_select()).load(conn)
}

pub fn all_in_org(conn: &mut DbConnection, org_id: i64) -> DbResult<Vec<PayeeRow>> {
    p::payees.filter(p::org_id.eq(org_id)).order((p::name, p::id)).select(PayeeRow::as_select()).load(conn)
}

pub fn insert_address(conn: &mut DbConnection, row: &NewPayeeAddressRow) -> DbResult<i64> {
    diesel::insert_into(a::payee_addresses).values(row.clone()).returning(a::id).get_result(conn)
}

/// A payee's addresses, newest first.
pub fn addresses_of(conn: &mut DbConnection, payee_id: i64) -> DbResult<Vec<PayeeAddressRow>> {
    a::payee_addresses
        .filter(a::payee_id.eq(payee_id))
        .order(a::id.desc())
        .select(PayeeAddressRow::as_select())
        .load(conn)
}

/// Every address of the payees among `ids`, newest first.
pub fn addresses_of_many(conn: &mut DbConnection, ids: &[i64]) -> DbResult<Vec<PayeeAddressRow>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(super::processor::IDS_PER_STATEMENT) {
        out.extend(
            a::payee_addresses
                .filter(a::payee_id.eq_any(chunk))
                .order(a::id.desc())
                .select(PayeeAddressRow::as_select())
                .load::<PayeeAddressRow>(conn)?,
        );
    }
    Ok(out)
}

/// Every address of the organization's payees that is pending or approved (for export and
/// matching), oldest first.
pub fn live_addresses_in_org(conn: &mut DbConnection, org_id: i64) -> DbResult<Vec<PayeeAddressRow>> {
    a::payee_addresses
        .filter(a::org_id.eq(org_id).and(a::status.eq_any(["pending", "approved"])))
        .order(a::id)
        .select(PayeeAddressRow::as_select())
        .load(conn)
}

pub fn find_address_in_org(conn: &mut DbConnection, org_id: i64, id: i64) -> DbResult<Option<PayeeAddressRow>> {
    a::payee_addresses
        .filter(a::id.eq(id).and(a::org_id.eq(org_id)))
        .select(PayeeAddressRow::as_select())
        .first(conn)
        .optional()
}

/// pending → approved or rejected, once: false when someone decided first.
pub fn decide(
    conn: &mut DbConnection,
    id: i64,
    to: AddressStatus,
    by: i64,
    at: NaiveDateTime,
    payable_from: Option<NaiveDateTime>,
    reason: &str,
) -> DbResult<bool> {
    let n = diesel::update(a::payee_addresses.filter(a::id.eq(id).and(a::status.eq("pending"))))
        .set((
            a::status.eq(to.as_str()),
            a::decided_by.eq(by),
            a::decided_at.eq(at),
            a::payable_from.eq(payable_from),
            a::reason.eq(reason),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// The payee's other addresses on `network` in `from` status become `replaced`.
pub fn replace_others(
    conn: &mut DbConnection,
    payee_id: i64,
    network: &str,
    from: AddressStatus,
    keep: i64,
    reason: &str,
) -> DbResult<usize> {
    diesel::update(a::payee_addresses.filter(
        a::payee_id.eq(payee_id).and(a::network.eq(network)).and(a::status.eq(from.as_str())).and(a::id.ne(keep)),
    ))
    .set((a::status.eq("replaced"), a::reason.eq(reason)))
    .execute(conn)
}

/// The first manager's approval of a lookalike address, kept while it waits for a second: true
/// for exactly one caller.
pub fn acknowledge_lookalike(conn: &mut DbConnection, id: i64, by: i64, at: NaiveDateTime) -> DbResult<bool> {
    let n = diesel::update(
        a::payee_addresses.filter(a::id.eq(id).and(a::status.eq("pending")).and(a::lookalike_ack_by.is_null())),
    )
    .set((a::lookalike_ack_by.eq(Some(by)), a::lookalike_ack_at.eq(Some(at))))
    .execute(conn)?;
    Ok(n == 1)
}

/// Pending addresses of the organization, oldest first, with their payee's name.
pub fn pending_in_org(conn: &mut DbConnection, org_id: i64, limit: i64) -> DbResult<Vec<(PayeeAddressRow, String)>> {
    a::payee_addresses
        .inner_join(p::payees)
        .filter(a::org_id.eq(org_id).and(a::status.eq("pending")))
        .order(a::id)
        .limit(limit)
        .select((PayeeAddressRow::as_select(), p::name))
        .load(conn)
}

/// Keeps a payee's proof with an address they already had (entered by the organization, or
/// earlier without proof); a proof once kept is never replaced.
pub fn attach_proof(conn: &mut DbConnection, id: i64, proof: &str) -> DbResult<bool> {
    let n = diesel::update(a::payee_addresses.filter(a::id.eq(id).and(a::proof.is_null())))
        .set(a::proof.eq(Some(proof)))
        .execute(conn)?;
    Ok(n == 1)
}

/// Whether any address of one payee still waits for a manager.
pub fn has_pending(conn: &mut DbConnection, payee_id: i64) -> DbResult<bool> {
    diesel::select(diesel::dsl::exists(
        a::payee_addresses.filter(a::payee_id.eq(payee_id).and(a::status.eq("pending"))),
    ))
    .get_result(conn)
}

pub fn pending_count(conn: &mut DbConnection, org_id: i64) -> DbResult<i64> {
    a::payee_addresses.filter(a::org_id.eq(org_id).and(a::status.eq("pending"))).count().get_result(conn)
}

/// Pending or approved addresses on `network` among `addresses`, with their payee's name.
pub fn matching(
    conn: &mut DbConnection,
    org_id: i64,
    network: &str,
    addresses: &[&str],
) -> DbResult<Vec<(PayeeAddressRow, String)>> {
    let mut found = Vec::new();
    for chunk in addresses.chunks(super::processor::IDS_PER_STATEMENT) {
        found.extend(
            a::payee_addresses
                .inner_join(p::payees)
                .filter(
                    a::org_id
                        .eq(org_id)
                        .and(a::network.eq(network))
                        .and(a::status.eq_any(["pending", "approved"]))
                        .and(a::address.eq_any(chunk)),
                )
                .select((PayeeAddressRow::as_select(), p::name))
                .load::<(PayeeAddressRow, String)>(conn)?,
        );
    }
    Ok(found)
}

/// The payees among `ids` in the organization, with their pending or approved addresses on
/// `network`.
pub fn with_addresses(
    conn: &mut DbConnection,
    org_id: i64,
    ids: &[i64],
    network: &str,
) -> DbResult<(Vec<PayeeRow>, Vec<PayeeAddressRow>)> {
    let (mut payees, mut addresses) = (Vec::new(), Vec::new());
    for chunk in ids.chunks(super::processor::IDS_PER_STATEMENT) {
        payees.extend(
            p::payees
                .filter(p::org_id.eq(org_id).and(p::id.eq_any(chunk)))
                .select(PayeeRow::as_select())
                .load::<PayeeRow>(conn)?,
        );
        addresses.extend(
            a::payee_addresses
                .filter(
                    a::org_id
                        .eq(org_id)
                        .and(a::payee_id.eq_any(chunk))
                        .and(a::network.eq(network))
                        .and(a::status.eq_any(["pending", "approved"])),
                )
                .select(PayeeAddressRow::as_select())
                .load::<PayeeAddressRow>(conn)?,
        );
    }
    Ok((payees, addresses))
}

pub fn set_cooling_off(conn: &mut DbConnection, org_id: i64, minutes: i32) -> DbResult<()> {
    use super::schema::organizations::dsl as o;
    diesel::update(o::organizations.find(org_id)).set(o::payee_cooling_off_minutes.eq(minutes)).execute(conn).map(drop)
}

/// Completed payout rows linked to a payee, paid (completed) in `[from, before)`, newest first,
/// with their payout's asset.
pub fn paid_rows(
    conn: &mut DbConnection,
    org_id: i64,
    payee_id: i64,
    from: Option<NaiveDateTime>,
    before: Option<NaiveDateTime>,
    limit: i64,
) -> DbResult<Vec<(super::payouts::ItemRow, String, String)>> {
    use super::schema::payout_items::dsl as i;
    use super::schema::payouts::dsl as po;
    let mut q = i::payout_items
        .inner_join(po::payouts)
        .filter(i::payee_id.eq(payee_id).and(i::org_id.eq(org_id)).and(i::status.eq("completed")))
        .into_boxed();
    if let Some(from) = from {
        q = q.filter(i::updated_at.ge(from));
    }
    if let Some(before) = before {
        q = q.filter(i::updated_at.lt(before));
    }
    q.order((i::updated_at.desc(), i::id.desc()))
        .limit(limit)
        .select((super::payouts::ItemRow::as_select(), po::asset, po::description))
        .load(conn)
}

/// The organization's book entries for `addresses` that a manager approved at some time (approved
/// now, or replaced after approval: approval is what sets `payable_from`), on any network, as
/// (address, payee name). An address entered and then superseded or rejected before approval
/// was never known.
pub fn in_book(conn: &mut DbConnection, org_id: i64, addresses: &[&str]) -> DbResult<Vec<(String, String)>> {
    let mut found = Vec::new();
    for chunk in addresses.chunks(super::processor::IDS_PER_STATEMENT) {
        found.extend(
            a::payee_addresses
                .inner_join(p::payees)
                .filter(a::org_id.eq(org_id).and(a::address.eq_any(chunk)))
                .filter(a::status.eq_any(["approved", "replaced"]).and(a::payable_from.is_not_null()))
                .select((a::address, p::name))
                .load::<(String, String)>(conn)?,
        );
    }
    Ok(found)
}
