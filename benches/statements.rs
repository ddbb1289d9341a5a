//! Statements (round trips to the database) per API request, counted by diesel's own
//! instrumentation on the connection that serves it: the key check, a single payout's quote and
//! its creation, and a 100-row mass payout's creation, on SQLite and on PostgreSQL (when
//! PAYOUTS_BENCH_PG_URL, default the local server, answers). On PostgreSQL each is a round trip,
//! and a creation's run under the balance-row lock. STATEMENTS_SQL=1 prints each statement;
//! STATEMENTS_TIME=1 prints each statement's mean time in 500 quotes and 500 creations.
//!
//!     cargo bench --bench statements

mod support;

use std::sync::{Arc, Mutex};

use diesel::Connection;
use diesel::connection::{Instrumentation, InstrumentationEvent};
use payouts::db::{DatabaseUrl, DbConnection};
use payouts::domain::registry::Limits;
use payouts::service::access::api_keys;
use payouts::service::payouts::bootstrap;
use payouts::web::api::payouts_json as api;
use payouts::{AppState, Config};

#[derive(Clone, Default)]
struct Counter(Arc<Mutex<Vec<String>>>);

impl Instrumentation for Counter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { query, .. } => {
                self.0.lock().unwrap().push(query.to_string());
                START.with(|s| s.set(Some(std::time::Instant::now())));
            }
            InstrumentationEvent::FinishQuery { query, .. } if std::env::var("STATEMENTS_TIME").is_ok() => {
                if let Some(t) = START.with(|s| s.take()) {
                    let q = query.to_string();
                    SPENT.with(|m| {
                        *m.borrow_mut()
                            .entry(q.chars().take(90).collect::<String>())
                            .or_insert(std::time::Duration::ZERO) += t.elapsed()
                    });
                }
            }
            _ => {}
        }
    }
}

thread_local! {
    static START: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
    static SPENT: std::cell::RefCell<std::collections::BTreeMap<String, std::time::Duration>> = Default::default();
}

impl Counter {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn request(kind: &str, rows: usize, n: usize) -> api::PayoutRequest {
    let items: Vec<serde_json::Value> = (0..rows)
        .map(|i| serde_json::json!({"address": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "amount": format!("1.{i:03}")}))
        .collect();
    serde_json::from_value(serde_json::json!({
        "asset": "USDT_TRC20", "kind": kind, "description": format!("bench {n}"), "purpose": "bench", "items": items
    }))
    .unwrap()
}

fn measure(label: &str, url: &DatabaseUrl) {
    let state = AppState::open(url, 2, Config::default(), None).expect("open");
    let mut pooled = state.pool.get().unwrap();
    let conn: &mut DbConnection = &mut pooled;
    bootstrap::initialize(conn, true, "", "").unwrap();
    payouts::db::orgs::set_approval_required(conn, 1, false).unwrap();
    let key = api_keys::create_from_cli(conn, "accountant@demo.local", "read,create", "bench").unwrap();
    let counter = Counter::default();
    conn.set_instrumentation(counter.clone());
    let clock = payouts::clock::Clock::real();
    let limits = Limits::default();
    let show = std::env::var("STATEMENTS_SQL").is_ok_and(|v| v == "1");
    let report = |what: &str, statements: Vec<String>| {
        println!("{label:<10} {what:<36} {:>3} statements", statements.len());
        if show {
            for s in &statements {
                println!("    {}", s.chars().take(220).collect::<String>());
            }
        }
    };
    // Warm: the first of each kind prepares statements and creates rows made once.
    let caller = api_keys::authenticate(conn, &key, &clock).unwrap().unwrap();
    api::create(conn, &caller, "warm-single", &request("single", 1, 0), &limits).unwrap();
    api::create(conn, &caller, "warm-mass", &request("mass", 100, 0), &limits).unwrap();
    counter.take();

    let caller = api_keys::authenticate(conn, &key, &clock).unwrap().unwrap();
    report("API key check", counter.take());
    api::quote(conn, &caller, &request("single", 1, 1), &limits).unwrap();
    report("quote, single payout", counter.take());
    let answer = api::create(conn, &caller, "single-1", &request("single", 1, 1), &limits).unwrap();
    assert_eq!(answer.status, 201);
    report("create, single payout", counter.take());
    let answer = api::create(conn, &caller, "mass-1", &request("mass", 100, 1), &limits).unwrap();
    assert_eq!(answer.status, 201);
    report("create, mass payout of 100 rows", counter.take());
    api::create(conn, &caller, "single-1", &request("single", 1, 1), &limits).unwrap();
    report("create again (same Idempotency-Key)", counter.take());

    // What the round trips cost one connection, one request after another (no HTTP, no other
    // load): the mean time of a quote and of a single payout's creation.
    const TIMES: usize = 500;
    let started = std::time::Instant::now();
    for n in 0..TIMES {
        api::quote(conn, &caller, &request("single", 1, n + 2), &limits).unwrap();
    }
    let quote = started.elapsed() / TIMES as u32;
    // STATEMENTS_TIME=1: each statement's mean time a request, the slowest first.
    let spent = |what: &str| {
        if std::env::var("STATEMENTS_TIME").is_ok() {
            SPENT.with(|m| {
                let mut v: Vec<_> = m.borrow().iter().map(|(k, d)| (*d, k.clone())).collect();
                v.sort();
                let total: std::time::Duration = v.iter().map(|(d, _)| *d).sum();
                println!("{label:<10} {what}: {:.1?} of statements a request", total / TIMES as u32);
                for (d, k) in v.iter().rev().take(14) {
                    println!("   {:>8.1?}  {k}", *d / TIMES as u32);
                }
                m.borrow_mut().clear();
            });
        }
    };
    spent("quote");
    let started = std::time::Instant::now();
    for n in 0..TIMES {
        api::create(conn, &caller, &format!("timed-{n}"), &request("single", 1, n + 2), &limits).unwrap();
    }
    let create = started.elapsed() / TIMES as u32;
    spent("create");
    counter.take();
    println!("{label:<10} one connection, mean of {TIMES}: quote {quote:.2?}, create {create:.2?}");
}

fn main() {
    support::on_both_databases("statements", measure);
}
