//! The connection pool lends a connection the server answered on within the last second without
//! asking it again; these tests show what that costs and what it does not when PostgreSQL cuts
//! a connection (a restart, an administrator's `pg_terminate_backend`).

mod common;

use std::time::Duration;

use common::{PG_ENV, TestDb, backends};
use diesel::prelude::*;
use payouts::db::{self, Backend};

fn backend_pid(conn: &mut db::DbConnection) -> i32 {
    diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>("pg_backend_pid()")).get_result(conn).unwrap()
}

fn terminate(pid: i32) {
    let mut admin = PgConnection::establish(&std::env::var(PG_ENV).unwrap()).unwrap();
    let ended: bool =
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!("pg_terminate_backend({pid})")))
            .get_result(&mut admin)
            .unwrap();
    assert!(ended, "the backend {pid} was ended");
    // The backend goes away asynchronously.
    std::thread::sleep(Duration::from_millis(200));
}

fn one() -> diesel::dsl::select<diesel::dsl::AsExprOf<i32, diesel::sql_types::Integer>> {
    diesel::select(1.into_sql::<diesel::sql_types::Integer>())
}

/// A PostgreSQL pool of one connection whose backend was just ended by the server, and its pid.
fn pool_with_a_cut_connection() -> Option<(TestDb, db::Pool, i32)> {
    if !backends().contains(&Backend::Postgres) {
        return None;
    }
    let (test_db, url) = TestDb::create(Backend::Postgres);
    let pool = db::connect(&url, 1).unwrap();
    let pid = backend_pid(&mut pool.get().unwrap());
    terminate(pid);
    Some((test_db, pool, pid))
}

/// Past the trust window the checkout asks the server, and a cut connection is replaced.
fn after_the_window_a_new_connection_works(pool: &db::Pool, old_pid: i32) {
    std::thread::sleep(Duration::from_millis(1100));
    let mut conn = pool.get().expect("a working connection");
    assert_eq!(one().get_result::<i32>(&mut **conn).unwrap(), 1);
    assert_ne!(backend_pid(&mut conn), old_pid, "a new backend");
}

#[test]
fn a_connection_cut_while_idle_is_replaced_unseen() {
    let Some((_db, pool, pid)) = pool_with_a_cut_connection() else { return };
    after_the_window_a_new_connection_works(&pool, pid);
}

#[test]
fn a_connection_cut_just_after_a_check_fails_for_at_most_a_second() {
    let Some((_db, pool, pid)) = pool_with_a_cut_connection() else { return };
    {
        let mut conn = pool.get().expect("lent without a ping");
        assert!(one().get_result::<i32>(&mut **conn).is_err(), "the cut connection fails its statement");
    }
    // Kept busy or not, the connection is checked again once the window has passed.
    after_the_window_a_new_connection_works(&pool, pid);
}

#[test]
fn connections_are_lent_again_on_both_databases() {
    for backend in backends() {
        let (_db, url) = TestDb::create(backend);
        let pool = db::connect(&url, 2).unwrap();
        for _ in 0..5 {
            let mut conn = pool.get().unwrap();
            assert_eq!(one().get_result::<i32>(&mut **conn).unwrap(), 1, "{backend:?}");
        }
        assert!(pool.state().connections <= 2, "{backend:?}");
    }
}

fn note(conn: &mut db::DbConnection, action: &str) -> db::DbResult<()> {
    let entry = payouts::service::access::audit::Entry {
        org_id: None,
        actor_user_id: None,
        action,
        object_type: "test",
        object_id: None,
        detail: String::new(),
        ip: None,
    };
    payouts::service::access::audit::record(conn, entry, payouts::clock::now())
}

fn notes(conn: &mut db::DbConnection) -> Vec<String> {
    use payouts::db::schema::audit_log::dsl as a;
    a::audit_log.filter(a::object_type.eq("test")).order(a::id).select(a::action).load(conn).unwrap()
}

/// Several creations committed together (benches/group_commit.rs) each run in a savepoint: one
/// that fails undoes only its own writes, and nothing is visible before the outer commit.
#[test]
fn a_write_transaction_inside_another_is_a_savepoint() {
    for backend in backends() {
        let (_db, url) = TestDb::create(backend);
        let state = payouts::AppState::open(&url, 2, payouts::Config::default(), None).unwrap();
        let mut conn = state.pool.get().unwrap();
        let outer = db::write_tx(&mut conn, |conn| -> db::DbResult<()> {
            db::write_tx(conn, |conn| note(conn, "first"))?;
            let failed = db::write_tx(conn, |conn| -> db::DbResult<()> {
                note(conn, "undone")?;
                Err(diesel::result::Error::RollbackTransaction)
            });
            assert!(failed.is_err());
            db::write_tx(conn, |conn| note(conn, "second"))?;
            assert!(notes(&mut state.pool.get().unwrap()).is_empty(), "{backend:?}: nothing seen before the commit");
            Ok(())
        });
        outer.unwrap();
        assert_eq!(notes(&mut conn), vec!["first", "second"], "{backend:?}");
    }
}
