//! `payouts verify-ledger`: whole books pass; each kind of damage is named with its ids and
//! makes the command exit non-zero — on both databases.

mod common;

use std::process::Command;

use common::{TestApp, actor, backends, demo_org, instant_rail, process_all, tron_address, url_string};
use diesel::prelude::*;
use payouts::db::schema::{balances, ledger_entries, payout_items, payouts as payouts_table};
use payouts::service::payouts::verify::{self, Report};
use payouts::service::payouts::{self as payout_service, SinglePayoutForm};

fn pay(app: &TestApp, amount: &str, address: &str, key: &str) -> i64 {
    let accountant = actor(app, "accountant@demo.local");
    let mut conn = app.conn();
    let form = SinglePayoutForm {
        asset: "USDT_TRC20".into(),
        amount: amount.into(),
        description: format!("verify {key}"),
        address: address.into(),
        ..Default::default()
    };
    let draft = payout_service::check_single(&mut conn, &accountant, &form).unwrap();
    payout_service::create(&mut conn, &accountant, &draft, key).unwrap().payout.id
}

/// Paid, failed, cancelled and still-pending payouts: every movement the ledger knows.
fn busy_books(app: &TestApp) -> (i64, i64) {
    let org = demo_org(app);
    payouts::db::orgs::set_approval_required(&mut app.conn(), org, true).unwrap();
    let cancelled = pay(app, "4", &tron_address(3), "cancelled");
    payout_service::cancel(&mut app.conn(), &actor(app, "accountant@demo.local"), cancelled, "changed my mind")
        .unwrap();
    payouts::db::orgs::set_approval_required(&mut app.conn(), org, false).unwrap();
    let paid = pay(app, "10.5", &tron_address(1), "paid");
    let _failed = pay(app, "3", &tron_address(2), "failed");
    process_all(app, &instant_rail(app, &[&tron_address(2)]));
    payouts::db::orgs::set_approval_required(&mut app.conn(), org, true).unwrap();
    let pending = pay(app, "7", &tron_address(4), "pending");
    (paid, pending)
}

fn verified(app: &TestApp) -> Report {
    verify::verify(&mut app.conn()).unwrap()
}

fn has(report: &Report, needle: &str) -> bool {
    report.problems.iter().any(|p| p.to_string().contains(needle))
}

fn listed(report: &Report) -> String {
    report.problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n")
}

#[actix_web::test]
async fn whole_books_pass_and_each_damage_is_named() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let (paid, pending) = busy_books(&app);
        let report = verified(&app);
        assert!(report.is_whole(), "[{backend:?}] {}", listed(&report));
        assert!(report.payouts >= 4 && report.entries >= 6, "[{backend:?}] {}", report.summary());
        app.books_broken_on_purpose.store(true, std::sync::atomic::Ordering::SeqCst);
        let org = demo_org(&app);
        let mut conn = app.conn();

        // A balance edited in place, against its history.
        diesel::update(balances::table.filter(balances::org_id.eq(org).and(balances::asset.eq("USDT_TRC20"))))
            .set(balances::available.eq("1"))
            .execute(&mut **conn)
            .unwrap();
        let report = verified(&app);
        assert!(
            has(&report, "balance available is 1 USDT_TRC20 but its ledger entries give"),
            "[{backend:?}] {}",
            listed(&report)
        );
        assert!(
            has(&report, "is not the"),
            "[{backend:?}] available + reserved + paid = credited: {}",
            listed(&report)
        );

        // A paid row marked paid again in another payout by the same transfer, and a pending
        // row marked paid without its settlement.
        let hash: String = payout_items::table
            .filter(payout_items::payout_id.eq(paid))
            .select(payout_items::tx_hash.assume_not_null())
            .first(&mut **conn)
            .unwrap();
        diesel::update(
            payout_items::table.filter(payout_items::payout_id.eq(paid).or(payout_items::payout_id.eq(pending))),
        )
        .set((
            payout_items::status.eq("completed"),
            payout_items::tx_hash.eq(&hash),
            payout_items::log_index.eq(Some(3)),
        ))
        .execute(&mut **conn)
        .unwrap();
        let report = verified(&app);
        assert!(
            has(
                &report,
                &format!(
                    "payout #{paid} line 1 and payout #{pending} line 1 were both paid by transaction {hash} (log 3)"
                )
            ),
            "[{backend:?}] {}",
            listed(&report)
        );
        assert!(
            has(&report, &format!("payout #{pending} settled 0 USDT_TRC20 but its paid rows come to")),
            "[{backend:?}] {}",
            listed(&report)
        );

        // A ledger entry lost; a payout's header no longer its rows' sum; garbage in a column.
        let reserve: i64 = ledger_entries::table
            .filter(ledger_entries::payout_id.eq(paid).and(ledger_entries::kind.eq("reserve")))
            .select(ledger_entries::id)
            .first(&mut **conn)
            .unwrap();
        diesel::delete(ledger_entries::table.find(reserve)).execute(&mut **conn).unwrap();
        diesel::update(payouts_table::table.find(pending))
            .set(payouts_table::amount_total.eq("70"))
            .execute(&mut **conn)
            .unwrap();
        diesel::update(payout_items::table.filter(payout_items::payout_id.eq(paid)))
            .set(payout_items::fee.eq("lots"))
            .execute(&mut **conn)
            .unwrap();
        let report = verified(&app);
        assert!(
            has(&report, &format!("payout #{paid} reserved 0 USDT_TRC20 for a debit of")),
            "[{backend:?}] {}",
            listed(&report)
        );
        assert!(has(&report, &format!("payout #{pending} says 70 USDT_TRC20 + ")), "[{backend:?}] {}", listed(&report));
        assert!(
            has(&report, &format!("payout #{paid} line 1 (row #")) && has(&report, "\"lots\" is not an amount"),
            "[{backend:?}] {}",
            listed(&report)
        );
        assert!(
            has(&report, &format!("organization {org} USDT_TRC20: ")),
            "[{backend:?}] problems name the organization and asset"
        );
    }
}

/// The command itself: exit 0 on whole books, 1 with one line per problem on a damaged copy, 2
/// when there is nothing to read — and it never creates or migrates a database.
#[actix_web::test]
async fn the_command_exits_non_zero_on_a_corrupted_database() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        busy_books(&app);
        let url = url_string(backend, &app.url);
        let run = || {
            Command::new(env!("CARGO_BIN_EXE_payouts")).arg("verify-ledger").env("DATABASE_URL", &url).output().unwrap()
        };
        let out = run();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert_eq!(out.status.code(), Some(0), "[{backend:?}] {stdout}");
        assert!(stdout.contains("the books are whole"), "[{backend:?}] {stdout}");

        app.books_broken_on_purpose.store(true, std::sync::atomic::Ordering::SeqCst);
        diesel::update(balances::table.filter(balances::asset.eq("USDT_TRC20")))
            .set(balances::paid.eq("0"))
            .execute(&mut **app.conn())
            .unwrap();
        let out = run();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert_eq!(out.status.code(), Some(1), "[{backend:?}] {stdout}");
        assert!(
            stdout.lines().any(|l| l.starts_with("problem: ") && l.contains("balance paid is 0 USDT_TRC20")),
            "[{backend:?}] {stdout}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing.sqlite3");
    let out = Command::new(env!("CARGO_BIN_EXE_payouts"))
        .arg("verify-ledger")
        .env("DATABASE_URL", format!("sqlite://{}", missing.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no database at"));
    assert!(!missing.exists(), "verifying never creates a database");
}
