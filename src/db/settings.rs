//! Instance-wide settings shared by every server process on the database.

use diesel::prelude::*;

use super::schema::instance_settings::dsl as s;
use super::{DbConnection, DbResult};

pub fn get(conn: &mut DbConnection, name: &str) -> DbResult<Option<String>> {
    s::instance_settings.filter(s::name.eq(name)).select(s::value).first(conn).optional()
}

/// Inserts unless present; returns the value that is stored afterwards, so that two processes
/// starting at once agree on one value.
pub fn get_or_insert(conn: &mut DbConnection, name: &str, value: &str) -> DbResult<String> {
    if let Some(existing) = get(conn, name)? {
        return Ok(existing);
    }
    match diesel::insert_into(s::instance_settings).values((s::name.eq(name), s::value.eq(value))).execute(conn) {
        Ok(_) => Ok(value.to_owned()),
        // Another process stored its value first: use that one.
        Err(e) if super::is_unique_violation(&e) => get(conn, name)?.ok_or(e),
        Err(e) => Err(e),
    }
}

/// Sets `name` to `value` only while it still holds `expected` (None: absent). True when this
/// call made the change: of several processes, one wins.
pub fn compare_and_set(conn: &mut DbConnection, name: &str, expected: Option<&str>, value: &str) -> DbResult<bool> {
    match expected {
        None => {
            match diesel::insert_into(s::instance_settings).values((s::name.eq(name), s::value.eq(value))).execute(conn)
            {
                Ok(n) => Ok(n == 1),
                Err(e) if super::is_unique_violation(&e) => Ok(false),
                Err(e) => Err(e),
            }
        }
        Some(old) => diesel::update(s::instance_settings.filter(s::name.eq(name).and(s::value.eq(old))))
            .set(s::value.eq(value))
            .execute(conn)
            .map(|n| n == 1),
    }
}

pub fn delete(conn: &mut DbConnection, name: &str) -> DbResult<()> {
    diesel::delete(s::instance_settings.filter(s::name.eq(name))).execute(conn).map(drop)
}
