//! The index of the addresses each organization knows, by lookalike key (domain/lookalike.rs).

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};

use super::schema::address_keys::dsl as k;
use super::schema::pending_backfills::dsl as b;
use super::{DbConnection, DbResult};

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = super::schema::address_keys)]
#[diesel(treat_none_as_default_value = false)]
struct NewKey<'a> {
    org_id: i64,
    lookup: &'a str,
    address: &'a str,
}

/// Indexes `addresses` of the organization under their keys; an address already indexed is left
/// as it is.
pub fn remember(conn: &mut DbConnection, org_id: i64, addresses: &[&str]) -> DbResult<()> {
    let mut keyed: Vec<(String, &str)> = addresses
        .iter()
        .flat_map(|a| crate::domain::lookalike::keys(a).into_iter().map(move |key| (key, *a)))
        .collect();
    // In key order: two transactions indexing the same new addresses at once then take the
    // unique index's locks in the same order and wait for each other instead of deadlocking.
    keyed.sort_unstable();
    keyed.dedup();
    let rows: Vec<NewKey> =
        keyed.iter().map(|(key, address)| NewKey { org_id, lookup: key.as_str(), address }).collect();
    // 3 parameters a row: within SQLite's 32,766 and PostgreSQL's 65,535.
    for chunk in rows.chunks(2000) {
        super::per_backend!(conn, |c| diesel::insert_into(k::address_keys)
            .values(chunk.to_vec())
            .on_conflict_do_nothing()
            .execute(c))?;
    }
    Ok(())
}

/// Keys looked up per statement: a 10,000-row registry's 40,000 keys in a few round trips, below
/// SQLite's 32,766 and PostgreSQL's 65,535 bound parameters.
const KEYS_PER_STATEMENT: usize = 5000;

/// The organization's indexed addresses under any of `keys`, as (key, address).
pub fn under(conn: &mut DbConnection, org_id: i64, keys: &[&str]) -> DbResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    for chunk in keys.chunks(KEYS_PER_STATEMENT) {
        match conn {
            // One index probe per key, whatever the plan: an IN list of thousands of parameters
            // is a filter PostgreSQL may check row by row, and once its plan is generic (a
            // prepared statement run again) each check walks the whole list (measured: a
            // 50,000-row draft's view took 97 s).
            DbConnection::Postgres(c) => {
                out.extend(KeysUnder { org_id, keys: chunk }.load::<(String, String)>(c)?);
            }
            DbConnection::Sqlite(c) => out.extend(
                k::address_keys
                    .filter(k::org_id.eq(org_id).and(k::lookup.eq_any(chunk)))
                    .select((k::lookup, k::address))
                    .load::<(String, String)>(c)?,
            ),
        }
    }
    Ok(out)
}

/// The lookup by `unnest` as a statement of its own: diesel keeps it prepared on the connection
/// (a raw `sql_query` it never does: measured 300 µs a call against 180 µs prepared). Its plan
/// is one index probe per key whether generic or not.
struct KeysUnder<'a> {
    org_id: i64,
    keys: &'a [&'a str],
}

impl diesel::query_builder::QueryId for KeysUnder<'_> {
    type QueryId = ();
    // Cached by its text, which never changes.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for KeysUnder<'_> {
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        out.push_sql("SELECT k.lookup, k.address FROM unnest(");
        out.push_bind_param::<Array<Text>, [&str]>(self.keys)?;
        out.push_sql("::text[]) AS q(lookup) JOIN address_keys k ON k.org_id = ");
        out.push_bind_param::<BigInt, i64>(&self.org_id)?;
        out.push_sql(" AND k.lookup = q.lookup");
        Ok(())
    }
}

impl diesel::query_builder::Query for KeysUnder<'_> {
    type SqlType = (Text, Text);
}

impl RunQueryDsl<diesel::PgConnection> for KeysUnder<'_> {}

/// Indexes every address already in the book or in a payout, once, after the migration that made
/// the index: the keys are computed here, not in SQL. Safe to run twice (two processes starting
/// at once): an indexed address is skipped.
pub fn backfill(conn: &mut DbConnection) -> DbResult<()> {
    use super::schema::payee_addresses::dsl as a;
    use super::schema::payout_items::dsl as i;
    let pending = b::pending_backfills.filter(b::name.eq("address_keys")).count().get_result::<i64>(conn)?;
    if pending == 0 {
        return Ok(());
    }
    let mut known: Vec<(i64, String)> = a::payee_addresses.select((a::org_id, a::address)).distinct().load(conn)?;
    known.extend(i::payout_items.select((i::org_id, i::address)).distinct().load::<(i64, String)>(conn)?);
    known.sort_unstable();
    known.dedup();
    for chunk in known.chunk_by(|x, y| x.0 == y.0) {
        let addresses: Vec<&str> = chunk.iter().map(|(_, a)| a.as_str()).collect();
        remember(conn, chunk[0].0, &addresses)?;
    }
    diesel::delete(b::pending_backfills.filter(b::name.eq("address_keys"))).execute(conn)?;
    Ok(())
}
