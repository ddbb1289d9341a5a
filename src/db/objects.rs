//! What a PostgreSQL database holds in its `public` schema, so that a restore that fails after
//! `pg_restore` committed can take away exactly what it added and leave the database as it was.

use diesel::prelude::*;
use diesel::sql_types::Text;

use super::{DbConnection, DbResult};

/// One object of the `public` schema: its kind (`TABLE`, `SEQUENCE`, `VIEW`, `MATERIALIZED VIEW`,
/// `FUNCTION`, `TYPE`, `EXTENSION`) and its name as `DROP` takes it. An extension's own functions
/// and types are the extension's, not listed apart.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, QueryableByName)]
pub struct Object {
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub name: String,
}

/// The objects of the `public` schema (none on SQLite, whose restore never writes in place).
pub fn public_objects(conn: &mut DbConnection) -> DbResult<Vec<Object>> {
    let DbConnection::Postgres(c) = conn else { return Ok(Vec::new()) };
    let mut out: Vec<Object> = diesel::sql_query(
        "SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' \
                ELSE 'TABLE' END AS kind, format('%I.%I', n.nspname, c.relname) AS name \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') \
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e') \
         UNION ALL \
         SELECT 'FUNCTION', p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE n.nspname = 'public' AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') \
         UNION ALL \
         SELECT 'TYPE', format('%I.%I', n.nspname, t.typname) FROM pg_type t \
         JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd') \
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e') \
         UNION ALL \
         SELECT 'EXTENSION', format('%I', e.extname) FROM pg_extension e \
         JOIN pg_namespace n ON n.oid = e.extnamespace WHERE n.nspname = 'public'",
    )
    .load(c)?;
    out.sort();
    Ok(out)
}

/// Drops every object of the `public` schema that is not in `before`, in one transaction.
pub fn drop_added(conn: &mut DbConnection, before: &[Object]) -> DbResult<usize> {
    let added: Vec<Object> = public_objects(conn)?.into_iter().filter(|o| !before.contains(o)).collect();
    let DbConnection::Postgres(c) = conn else { return Ok(0) };
    c.transaction(|c| {
        // Tables first: dropping one takes its own sequences and types with it (IF EXISTS skips
        // them); an extension last, once nothing of ours uses it.
        let order = |o: &Object| {
            ["TABLE", "MATERIALIZED VIEW", "VIEW", "SEQUENCE", "FUNCTION", "TYPE", "EXTENSION"]
                .iter()
                .position(|k| *k == o.kind)
                .unwrap_or(9)
        };
        let mut added = added.clone();
        added.sort_by_key(order);
        for o in &added {
            diesel::sql_query(format!("DROP {} IF EXISTS {} CASCADE", o.kind, o.name)).execute(c)?;
        }
        Ok(added.len())
    })
}
