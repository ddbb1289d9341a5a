//! The real server process is killed (SIGKILL) in the middle of a 1,000-row batch and started
//! again: every row ends paid once or failed, the simulated network's own record shows no
//! address paid twice, and the ledger balances — on every backend.

mod common;

use std::time::{Duration, Instant};

use common::{TestDb, backends, start_server, tron_address, url_string};
use diesel::prelude::*;
use payouts::db::schema::sim_transfers;
use payouts::domain::account::Role;
use payouts::domain::asset::find;
use payouts::domain::payout::PayoutKind;
use payouts::domain::registry::{Row, RowInput};
use payouts::service::access::Actor;
use payouts::service::payouts as payout_service;
use payouts::service::payouts::bootstrap;
use payouts::service::payouts::ledger;
use payouts::{AppState, Config};

use common::count_items as count;

#[test]
fn a_killed_server_pays_every_row_once_after_restart() {
    for backend in backends() {
        let dir = tempfile::tempdir().unwrap();
        let (_db, url) = TestDb::create(backend);
        let state = AppState::open(&url, 2, Config::default(), None).unwrap();
        let asset = find("USDT_TRC20").unwrap();
        let payout_id = {
            let mut conn = state.pool.get().unwrap();
            bootstrap::initialize(&mut conn, true, "", "").unwrap();
            let user = payouts::db::users::find_by_email(&mut conn, "accountant@demo.local").unwrap().unwrap();
            let actor = Actor::of_user(user, Role::Accountant);
            let rows: Vec<Row> = (0..1000u32)
                .map(|n| {
                    let address = tron_address(n);
                    let input = RowInput { address: &address, amount: "10", ..Default::default() };
                    Row::check(asset, u64::from(n) + 1, &input)
                })
                .collect();
            let draft = payout_service::price(&mut conn, &actor, PayoutKind::Mass, asset, "crash test", rows).unwrap();
            payout_service::create(&mut conn, &actor, &draft, "crash-batch").unwrap().payout.id
        };
        let url = url_string(backend, &url);

        let mut server = start_server(&url, dir.path());
        let started = Instant::now();
        while count(&state, &["submitting", "submitted", "completed"]) == 0 {
            assert!(started.elapsed() < Duration::from_secs(30), "[{backend:?}] the processor never started");
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(30));
        server.kill().unwrap(); // SIGKILL: no shutdown, no cleanup
        server.wait().unwrap();
        let at_kill = (
            count(&state, &["queued"]),
            count(&state, &["submitting"]),
            count(&state, &["submitted"]),
            count(&state, &["completed"]),
        );
        eprintln!("[{backend:?}] killed with items queued, submitting, submitted, completed: {at_kill:?}");

        let mut server = start_server(&url, dir.path());
        let started = Instant::now();
        loop {
            let status = payouts::db::payouts::find(&mut state.pool.get().unwrap(), payout_id)
                .unwrap()
                .status
                .as_str()
                .to_owned();
            if status != "in_progress" {
                assert_eq!(status, "completed", "[{backend:?}]");
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "[{backend:?}] not finished after restart; at kill {at_kill:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server.kill().unwrap();
        server.wait().unwrap();

        let mut conn = state.pool.get().unwrap();
        assert_eq!(count(&state, &["completed"]), 1000, "[{backend:?}]");
        let sent: Vec<(String, String)> =
            sim_transfers::table.select((sim_transfers::key, sim_transfers::address)).load(&mut **conn).unwrap();
        let addresses: std::collections::HashSet<&str> = sent.iter().map(|(_, a)| a.as_str()).collect();
        assert_eq!(
            (sent.len(), addresses.len()),
            (1000, 1000),
            "[{backend:?}] every address paid exactly once; at kill {at_kill:?}"
        );
        let org = payouts::db::orgs::find_by_name(&mut conn, "Demo Company").unwrap().unwrap();
        let b = ledger::balance_of(&mut conn, org.id, asset).unwrap();
        assert_eq!(b.funded().unwrap().to_string(), "50000", "[{backend:?}] available + reserved + paid = deposits");
        assert!(b.reserved.is_zero(), "[{backend:?}]");
        assert_eq!(b.paid.to_string(), "10300", "[{backend:?}] 1000 × (10 + 0.3 fee)");
        let report = payouts::service::payouts::verify::verify(&mut conn).unwrap();
        assert!(report.is_whole(), "[{backend:?}] verify-ledger after the crash: {:?}", report.problems);
    }
}

#[test]
fn two_server_processes_on_one_database_send_every_item_once() {
    for backend in backends() {
        let dir = tempfile::tempdir().unwrap();
        let (_db, url) = TestDb::create(backend);
        let state = AppState::open(&url, 2, Config::default(), None).unwrap();
        let asset = find("USDT_TRC20").unwrap();
        {
            let mut conn = state.pool.get().unwrap();
            bootstrap::initialize(&mut conn, true, "", "").unwrap();
            let user = payouts::db::users::find_by_email(&mut conn, "accountant@demo.local").unwrap().unwrap();
            let actor = Actor::of_user(user, Role::Accountant);
            for p in 0..30u32 {
                let rows: Vec<Row> = (0..10u32)
                    .map(|n| {
                        let address = tron_address(p * 100 + n);
                        Row::check(
                            asset,
                            u64::from(n) + 1,
                            &RowInput { address: &address, amount: "5", ..Default::default() },
                        )
                    })
                    .collect();
                let draft =
                    payout_service::price(&mut conn, &actor, PayoutKind::Mass, asset, "two servers", rows).unwrap();
                payout_service::create(&mut conn, &actor, &draft, &format!("two-{p}")).unwrap();
            }
        }
        let url = url_string(backend, &url);
        let mut servers = [start_server(&url, dir.path()), start_server(&url, dir.path())];
        let started = Instant::now();
        while count(&state, &["completed"]) < 300 {
            assert!(started.elapsed() < Duration::from_secs(60), "[{backend:?}] not all paid");
            std::thread::sleep(Duration::from_millis(50));
        }
        for s in servers.iter_mut() {
            s.kill().unwrap();
            s.wait().unwrap();
        }
        let mut conn = state.pool.get().unwrap();
        let sent: i64 = sim_transfers::table.count().get_result(&mut **conn).unwrap();
        assert_eq!(sent, 300, "[{backend:?}] each item sent once");
        let submitted: i64 = payouts::db::schema::payout_events::table
            .filter(payouts::db::schema::payout_events::to_status.eq("submitted"))
            .count()
            .get_result(&mut **conn)
            .unwrap();
        assert_eq!(submitted, 300, "[{backend:?}] each item recorded as sent once");
        let org = payouts::db::orgs::find_by_name(&mut conn, "Demo Company").unwrap().unwrap();
        let b = ledger::balance_of(&mut conn, org.id, asset).unwrap();
        assert_eq!(
            (b.reserved.to_string(), b.paid.to_string()),
            ("0".into(), "1590".into()),
            "[{backend:?}] 300 × (5 + 0.3)"
        );
    }
}
