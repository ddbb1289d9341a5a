//! Group commit measured against one transaction per creation: the API's whole create (its
//! idempotency claim, pricing reads, payout, item, ledger, event, audit, outbox, stored answer)
//! run by one writer, N at a time in one transaction, each creation in its own savepoint so that
//! one refused creation would undo only itself. Prints creations/s per group size on SQLite (a
//! file in a temporary directory, as the server uses it) and on PostgreSQL when
//! PAYOUTS_BENCH_PG_URL (default the local server) is reachable.
//!
//!     cargo bench --bench group_commit

mod support;

use std::time::Instant;

use payouts::db::{self, DatabaseUrl, DbConnection};
use payouts::domain::registry::Limits;
use payouts::service::access::api_keys;
use payouts::service::payouts::bootstrap;
use payouts::web::api::payouts_json as api;
use payouts::{AppState, Config};

const CREATIONS: usize = 3_000;
const GROUPS: [usize; 4] = [1, 5, 20, 50];

fn request(n: usize) -> api::PayoutRequest {
    serde_json::from_value(serde_json::json!({
        "asset": "USDT_TRC20", "kind": "single", "description": format!("bench {n}"),
        "items": [{"address": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "amount": "1"}]
    }))
    .unwrap()
}

fn measure(label: &str, url: &DatabaseUrl) {
    let state = AppState::open(url, 2, Config::default(), None).expect("open");
    let mut pooled = state.pool.get().unwrap();
    let conn: &mut DbConnection = &mut pooled;
    bootstrap::initialize(conn, true, "", "").unwrap();
    let key = api_keys::create_from_cli(conn, "accountant@demo.local", "read,create", "bench").unwrap();
    let caller = api_keys::authenticate(conn, &key, &payouts::clock::Clock::real()).unwrap().unwrap();
    let limits = Limits::default();
    let mut n = 0;
    for group in GROUPS {
        let start = Instant::now();
        let mut done = 0;
        while done < CREATIONS {
            let batch = group.min(CREATIONS - done);
            let mut one = |conn: &mut DbConnection| {
                n += 1;
                let answer = api::create(conn, &caller, &format!("gc-{n}"), &request(n), &limits).unwrap();
                assert_eq!(answer.status, 201);
            };
            if group == 1 {
                one(conn);
            } else {
                db::write_tx(conn, |conn| -> Result<(), db::DbError> {
                    for _ in 0..batch {
                        one(conn);
                    }
                    Ok(())
                })
                .unwrap();
            }
            done += batch;
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{label:<10} {group:>3} per transaction  {:>7.0} creations/s  {:>6.3} ms each",
            CREATIONS as f64 / secs,
            secs * 1000.0 / CREATIONS as f64
        );
    }
}

fn main() {
    support::on_both_databases("gc", measure);
}
