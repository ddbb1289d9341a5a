//! Running it unattended: a backup taken while a mass payout is paid restores into an empty
//! database with its books whole, and SIGTERM mid-payout gives back the processor's leases so a
//! restarted server finishes at once — nothing lost, nothing paid twice. On both databases.

mod common;

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{TestDb, backends, tron_address, url_string};
use diesel::prelude::*;
use payouts::db::schema::{payout_items, sim_transfers};
use payouts::domain::account::Role;
use payouts::domain::asset::find;
use payouts::domain::payout::PayoutKind;
use payouts::domain::registry::{Row, RowInput};
use payouts::service::access::Actor;
use payouts::service::payouts as payout_service;
use payouts::service::payouts::{bootstrap, verify};
use payouts::{AppState, Config};

const ROWS: u32 = 1000;

use common::count_items as count;

/// The demo organization with one confirmed mass payout of `ROWS` rows.
fn mass_payout(state: &AppState, key: &str) -> i64 {
    let mut conn = state.pool.get().unwrap();
    bootstrap::initialize(&mut conn, true, "", "").unwrap();
    let user = payouts::db::users::find_by_email(&mut conn, "accountant@demo.local").unwrap().unwrap();
    let actor = Actor::of_user(user, Role::Accountant);
    let asset = find("USDT_TRC20").unwrap();
    let rows: Vec<Row> = (0..ROWS)
        .map(|n| {
            let address = tron_address(n);
            Row::check(asset, u64::from(n) + 1, &RowInput { address: &address, amount: "10", ..Default::default() })
        })
        .collect();
    let draft = payout_service::price(&mut conn, &actor, PayoutKind::Mass, asset, "operations", rows).unwrap();
    payout_service::create(&mut conn, &actor, &draft, key).unwrap().payout.id
}

fn server(url: &str, dir: &std::path::Path, lease_seconds: &str, log: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_payouts"))
        .args(["serve", "--bind", "127.0.0.1:0", "--sim-confirm-seconds", "1", "--processor-interval-ms", "20"])
        .args(["--processor-lease-seconds", lease_seconds])
        .env("DATABASE_URL", url)
        .env("PAYOUTS_DATA_DIR", dir)
        .env("RUST_LOG", "info")
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server starts")
}

fn wait_for_work(state: &AppState, what: &str) {
    let started = Instant::now();
    while count(state, &["submitting", "submitted", "completed"]) == 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "{what}: the processor never started");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn wait_until_done(state: &AppState, payout_id: i64, within: Duration, what: &str) {
    let started = Instant::now();
    loop {
        let status = payouts::db::payouts::find(&mut state.pool.get().unwrap(), payout_id).unwrap().status;
        if status.as_str() != "in_progress" {
            assert_eq!(status.as_str(), "completed", "{what}");
            return;
        }
        assert!(started.elapsed() < within, "{what}: not finished after {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn cli(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_payouts"));
    c.args(args).env_remove("DATABASE_URL").env("RUST_LOG", "warn");
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn assert_paid_once(state: &AppState, what: &str) {
    assert_eq!(count(state, &["completed"]), i64::from(ROWS), "{what}");
    let sent: Vec<String> =
        sim_transfers::table.select(sim_transfers::address).load(&mut **state.pool.get().unwrap()).unwrap();
    let unique: std::collections::HashSet<&String> = sent.iter().collect();
    assert_eq!((sent.len(), unique.len()), (ROWS as usize, ROWS as usize), "{what}: every address paid exactly once");
    let report = verify::verify(&mut state.pool.get().unwrap()).unwrap();
    assert!(report.is_whole(), "{what}: {:?}", report.problems);
}

#[test]
fn sigterm_mid_payout_gives_back_the_leases_and_a_restart_finishes_at_once() {
    for backend in backends() {
        let what = format!("[{backend:?}]");
        let dir = tempfile::tempdir().unwrap();
        let (_db, url) = TestDb::create(backend);
        let state = AppState::open(&url, 2, Config::default(), None).unwrap();
        let payout_id = mass_payout(&state, "sigterm");
        let url = url_string(backend, &url);
        let log = dir.path().join("first.log");
        // Leases of ten minutes: a restart that had to wait for them would fail this test.
        let mut first = server(&url, dir.path(), "600", &log);
        wait_for_work(&state, &what);
        std::thread::sleep(Duration::from_millis(30));
        let stopped_at = Instant::now();
        let signal = Command::new("kill").args(["-TERM", &first.id().to_string()]).status().unwrap();
        assert!(signal.success());
        let status = loop {
            if let Some(status) = first.try_wait().unwrap() {
                break status;
            }
            assert!(stopped_at.elapsed() < Duration::from_secs(30), "{what} still running 30 s after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        let logged = std::fs::read_to_string(&log).unwrap();
        assert!(status.success(), "{what} a graceful stop exits 0: {status:?}\n{logged}");
        assert!(logged.contains("payout processor stopped"), "{what} the processor says it stopped:\n{logged}");
        let held: i64 = payout_items::table
            .filter(payout_items::status.eq("submitting").and(payout_items::lease_until.gt(payouts::clock::now())))
            .count()
            .get_result(&mut **state.pool.get().unwrap())
            .unwrap();
        assert_eq!(held, 0, "{what} no lease outlives the stopped process");
        let at_stop = (count(&state, &["queued"]), count(&state, &["submitting"]), count(&state, &["completed"]));
        eprintln!("{what} stopped with rows queued, submitting, completed: {at_stop:?}");

        let mut second = server(&url, dir.path(), "600", &dir.path().join("second.log"));
        wait_until_done(
            &state,
            payout_id,
            Duration::from_secs(90),
            &format!("{what} after restart, at stop {at_stop:?}"),
        );
        second.kill().unwrap();
        second.wait().unwrap();
        assert_paid_once(&state, &what);
    }
}

#[test]
fn a_backup_taken_during_a_mass_payout_restores_whole_into_an_empty_database() {
    for backend in backends() {
        let what = format!("[{backend:?}]");
        let dir = tempfile::tempdir().unwrap();
        let (_db, url) = TestDb::create(backend);
        let state = AppState::open(&url, 2, Config::default(), None).unwrap();
        let payout_id = mass_payout(&state, "backup");
        let url = url_string(backend, &url);
        let mut running = server(&url, dir.path(), "1", &dir.path().join("server.log"));
        wait_for_work(&state, &what);

        let file = dir.path().join("payouts.backup");
        let file_arg = file.to_str().unwrap();
        let out = cli(&["backup", "--to", file_arg], &[("DATABASE_URL", &url)]);
        assert_eq!(out.status.code(), Some(0), "{what} {}", text(&out));
        assert!(text(&out).contains("backed up"), "{what} {}", text(&out));
        let again = cli(&["backup", "--to", file_arg], &[("DATABASE_URL", &url)]);
        assert_ne!(again.status.code(), Some(0), "{what} a backup never overwrites a file");
        assert!(text(&again).contains("already exists"), "{what} {}", text(&again));

        wait_until_done(&state, payout_id, Duration::from_secs(90), &what);
        running.kill().unwrap();
        running.wait().unwrap();
        assert_paid_once(&state, &what);

        // Into an empty place: a new data directory, or a new PostgreSQL database.
        let (_restored_db, restored_url) = TestDb::create(backend);
        let target = url_string(backend, &restored_url);
        let out = cli(&["restore", "--from", file_arg], &[("DATABASE_URL", &target)]);
        let printed = text(&out);
        assert_eq!(out.status.code(), Some(0), "{what} {printed}");
        assert!(printed.contains("the books are whole"), "{what} restore verifies the ledger: {printed}");
        let restored = AppState::open(&restored_url, 1, Config::default(), None).unwrap();
        let rows = payout_items::table
            .filter(payout_items::payout_id.eq(payout_id))
            .count()
            .get_result::<i64>(&mut **restored.pool.get().unwrap())
            .unwrap();
        assert_eq!(rows, i64::from(ROWS), "{what} the payout was copied whole");
        eprintln!("{what} the copy holds {} rows paid of {ROWS}", count(&restored, &["completed"]));
        let report = verify::verify(&mut restored.pool.get().unwrap()).unwrap();
        assert!(report.is_whole() && report.items == ROWS as usize, "{what} {}", report.summary());

        let twice = cli(&["restore", "--from", file_arg], &[("DATABASE_URL", &target)]);
        assert_eq!(twice.status.code(), Some(2), "{what} {}", text(&twice));
        assert!(text(&twice).contains("already holds"), "{what} {}", text(&twice));

        let garbage = dir.path().join("garbage.backup");
        std::fs::write(&garbage, b"not a backup at all").unwrap();
        let (_empty_db, empty_url) = TestDb::create(backend);
        let out = cli(
            &["restore", "--from", garbage.to_str().unwrap()],
            &[("DATABASE_URL", &url_string(backend, &empty_url))],
        );
        assert_eq!(out.status.code(), Some(2), "{what} {}", text(&out));
        assert!(text(&out).contains("is not"), "{what} {}", text(&out));
    }
}

/// A processor that stops while it holds rows (its round failed between claiming and recording)
/// gives them back: they are claimable at once, and the next processor pays each exactly once
/// even though one of them had already reached the network.
#[actix_web::test]
async fn a_stopping_processor_gives_back_the_rows_it_holds() {
    for backend in backends() {
        let app = common::TestApp::start(backend).await;
        let accountant = common::actor(&app, "accountant@demo.local");
        payouts::db::orgs::set_approval_required(&mut app.conn(), accountant.org_id, false).unwrap();
        let asset = find("USDT_TRC20").unwrap();
        let rows: Vec<Row> = (0..3u32)
            .map(|n| {
                let address = tron_address(n);
                Row::check(asset, u64::from(n) + 1, &RowInput { address: &address, amount: "5", ..Default::default() })
            })
            .collect();
        let mut conn = app.conn();
        let draft = payout_service::price(&mut conn, &accountant, PayoutKind::Mass, asset, "held", rows).unwrap();
        payout_service::create(&mut conn, &accountant, &draft, "held").unwrap();
        let (now, until) = (payouts::clock::now(), payouts::clock::now() + chrono::Duration::minutes(10));
        let rail = common::instant_rail(&app, &[]);
        for (n, item) in payouts::db::processor::claimable(&mut conn, now, 10).unwrap().iter().enumerate() {
            assert!(payouts::db::processor::try_claim(&mut conn, item, "stopping", now, until).unwrap());
            if n == 0 {
                let transfer = payouts::rails::Transfer {
                    key: item.idempotency_key.clone(),
                    org_id: item.org_id,
                    asset,
                    address: item.address.clone(),
                    amount: payouts::domain::Amount::parse(asset, &item.amount).unwrap(),
                };
                payouts::rails::Rail::submit(&rail, &[transfer]).unwrap();
            }
        }
        assert!(payouts::db::processor::claimable(&mut conn, now, 10).unwrap().is_empty(), "[{backend:?}] held");
        let released = payouts::db::processor::release_leases(&mut conn, "stopping", payouts::clock::now()).unwrap();
        assert_eq!(released, 3, "[{backend:?}]");
        assert_eq!(payouts::db::processor::claimable(&mut conn, payouts::clock::now(), 10).unwrap().len(), 3);
        drop(conn);
        common::process_all(&app, &rail);
        assert_eq!(count(&app.state, &["completed"]), 3, "[{backend:?}]");
        let sent: i64 = sim_transfers::table.count().get_result(&mut **app.conn()).unwrap();
        assert_eq!(sent, 3, "[{backend:?}] the row already sent was looked up, not sent again");
    }
}
