//! Sanctions lists and their addresses. An import stages its addresses under a version of its
//! own in short transactions (payout writers are never held behind a million-row insert), then
//! puts the version in force in one compared on the version it was handed; screening reads only
//! versions in force.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{sanction_lists::dsl as l, sanctioned_addresses::dsl as s};
use super::{DbConnection, DbResult};

/// Rows per INSERT statement, and statements per transaction, when staging a list: one
/// statement a transaction, so that a payout's write waits at most one statement on SQLite (ten
/// a transaction made it wait 3 s in the debug build, BENCHMARKS.md).
const ROWS_PER_INSERT: usize = 2_000;
const INSERTS_PER_TX: usize = 1;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::sanction_lists)]
pub struct ListRow {
    pub name: String,
    /// The version in force; 0 before the first import finished.
    pub version: i32,
    pub next_version: i32,
    pub source: String,
    pub published_at: Option<NaiveDateTime>,
    pub imported_at: NaiveDateTime,
    pub entries: i64,
    pub imported_by: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = super::schema::sanctioned_addresses)]
// Plain values (no DEFAULT): what PostgreSQL's binary COPY needs.
#[diesel(treat_none_as_default_value = false)]
pub struct NewListed<'a> {
    pub list_name: &'a str,
    pub version: i32,
    pub address: &'a str,
    pub entity: &'a str,
}

/// What an import records of the list it puts in force.
pub struct ListMeta<'a> {
    pub source: &'a str,
    pub published_at: Option<NaiveDateTime>,
    pub imported_at: NaiveDateTime,
    pub entries: i64,
    pub imported_by: &'a str,
}

/// Hands an import of `name` its own version (creating the list, with nothing in force).
pub fn begin_import(conn: &mut DbConnection, name: &str, at: NaiveDateTime) -> DbResult<i32> {
    super::write_tx(conn, |conn| {
        let new = (
            l::name.eq(name),
            l::version.eq(0),
            l::next_version.eq(0),
            l::source.eq(""),
            l::imported_at.eq(at),
            l::entries.eq(0i64),
            l::imported_by.eq(""),
        );
        super::per_backend!(conn, |c| diesel::insert_into(l::sanction_lists)
            .values(new)
            .on_conflict_do_nothing()
            .execute(c))?;
        diesel::update(l::sanction_lists.find(name)).set(l::next_version.eq(l::next_version + 1)).execute(conn)?;
        l::sanction_lists.find(name).select(l::next_version).first(conn)
    })
}

/// Writes staged addresses: on PostgreSQL in one COPY (its writers never wait on another's
/// inserts), on SQLite a few thousand per transaction (one writer: payouts wait at most one).
pub fn stage(conn: &mut DbConnection, rows: &[NewListed]) -> DbResult<()> {
    if let DbConnection::Postgres(pg) = conn {
        diesel::copy_from(s::sanctioned_addresses).from_insertable(rows).execute(pg)?;
        return Ok(());
    }
    for batch in rows.chunks(ROWS_PER_INSERT * INSERTS_PER_TX) {
        super::write_tx(conn, |conn| {
            for chunk in batch.chunks(ROWS_PER_INSERT) {
                super::per_backend!(conn, |c| diesel::insert_into(s::sanctioned_addresses).values(chunk).execute(c))?;
            }
            Ok::<_, super::DbError>(())
        })?;
    }
    Ok(())
}

/// Puts `version` of `name` in force, unless a later import was handed a version meanwhile
/// (false: that one stands). `audit` runs in the same transaction when it swaps.
pub fn put_in_force<E: From<super::DbError>>(
    conn: &mut DbConnection,
    name: &str,
    version: i32,
    meta: &ListMeta,
    audit: impl FnOnce(&mut DbConnection) -> Result<(), E>,
) -> Result<bool, E> {
    super::write_tx(conn, |conn| {
        let swapped = diesel::update(l::sanction_lists.filter(l::name.eq(name).and(l::next_version.eq(version))))
            .set((
                l::version.eq(version),
                l::source.eq(meta.source),
                l::published_at.eq(meta.published_at),
                l::imported_at.eq(meta.imported_at),
                l::entries.eq(meta.entries),
                l::imported_by.eq(meta.imported_by),
            ))
            .execute(conn)?;
        if swapped == 1 {
            audit(conn)?;
        }
        Ok(swapped == 1)
    })
}

/// Removes the addresses of `name`'s versions below `version` (replaced), or of `version`
/// alone (`only`: an import that did not stand, or failed half-way).
pub fn discard(conn: &mut DbConnection, name: &str, version: i32, only: bool) -> DbResult<usize> {
    let of_list = s::sanctioned_addresses.filter(s::list_name.eq(name));
    if only {
        diesel::delete(of_list.filter(s::version.eq(version))).execute(conn)
    } else {
        diesel::delete(of_list.filter(s::version.lt(version))).execute(conn)
    }
}

pub fn lists(conn: &mut DbConnection) -> DbResult<Vec<ListRow>> {
    l::sanction_lists.order(l::name.asc()).select(ListRow::as_select()).load(conn)
}

/// A listed address found: the list and who it is listed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub address: String,
    pub list: String,
    pub entity: String,
}

/// Each list in force and its version, by name.
pub fn in_force(conn: &mut DbConnection) -> DbResult<Vec<(String, i32)>> {
    l::sanction_lists.filter(l::version.gt(0)).order(l::name.asc()).select((l::name, l::version)).load(conn)
}

/// Which of `addresses` (in their compared form) the lists `in_force` hold: an index probe each.
pub fn hits(conn: &mut DbConnection, in_force: &[(String, i32)], addresses: &[&str]) -> DbResult<Vec<Hit>> {
    if addresses.is_empty() || in_force.is_empty() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for chunk in addresses.chunks(1_000) {
        let rows: Vec<(String, i32, String, String)> = s::sanctioned_addresses
            .filter(s::address.eq_any(chunk))
            .select((s::list_name, s::version, s::address, s::entity))
            .load(conn)?;
        found.extend(
            rows.into_iter()
                .filter(|(list, version, _, _)| in_force.iter().any(|(n, v)| n == list && v == version))
                .map(|(list, _, address, entity)| Hit { address, list, entity }),
        );
    }
    Ok(found)
}
