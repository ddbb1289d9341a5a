//! What the database benches share: a run on an SQLite file, then on a fresh PostgreSQL database
//! when PAYOUTS_BENCH_PG_URL (default the local server) is reachable.

use diesel::Connection;
use payouts::db::DatabaseUrl;

/// Calls `measure` with ("sqlite", a file in a temporary directory) and, when PostgreSQL answers,
/// with ("postgres", a database made for the run and dropped after it).
pub fn on_both_databases(prefix: &str, measure: impl Fn(&str, &DatabaseUrl)) {
    let dir = tempfile::tempdir().unwrap();
    measure("sqlite", &DatabaseUrl::sqlite_path(&dir.path().join("bench.sqlite3")));
    let pg = std::env::var("PAYOUTS_BENCH_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let Ok(mut admin) = diesel::PgConnection::establish(&pg) else {
        println!("postgres   not reachable at {pg}: skipped");
        return;
    };
    let name = format!("payouts_{prefix}_{}", std::process::id());
    diesel::RunQueryDsl::execute(diesel::sql_query(format!("CREATE DATABASE {name}")), &mut admin).unwrap();
    let url = format!("{}/{name}", pg.rsplit_once('/').unwrap().0);
    measure("postgres", &DatabaseUrl::parse(&url).unwrap());
    diesel::RunQueryDsl::execute(diesel::sql_query(format!("DROP DATABASE {name} WITH (FORCE)")), &mut admin).unwrap();
}
