//! What a request reads of the organization's history is a summary kept as rows are paid, never
//! the rows themselves, on every backend: one row per paid address (first and last paid, by which
//! payout and line, how often), per payee (the address it was paid at last), per paid day and per
//! asset's fees. They agree with the rows after processors recording the same address at once,
//! the pages read them, and `verify-ledger` names any that disagrees.

mod common;

use common::{TRON_ADDRESS, TestApp, actor, backends, demo_org, instant_rail, process_all};
use diesel::prelude::*;
use payouts::db::schema::{paid_addresses, paid_days, paid_fees, payee_last_paid};
use payouts::service::payouts::processor::{self, ProcessorConfig, TickReport};
use payouts::service::payouts::{self as payout_service, SinglePayoutForm, approvals, dashboard, ledger};

/// A single payout of `amount` USDT_TRC20 to `address`, created and (approval on) approved.
fn pay(app: &TestApp, address: &str, amount: &str) -> i64 {
    let accountant = actor(app, "accountant@demo.local");
    let form = SinglePayoutForm {
        asset: "USDT_TRC20".into(),
        amount: amount.into(),
        description: "history".into(),
        address: address.into(),
        ..Default::default()
    };
    let mut conn = app.conn();
    let draft = payout_service::check_single(&mut conn, &accountant, &form).unwrap();
    let id = payout_service::create(&mut conn, &accountant, &draft, &payouts::crypto::random_hex(8)).unwrap().payout.id;
    let row = payouts::db::payouts::find(&mut conn, id).unwrap();
    if row.status.as_str() == "pending" {
        approvals::approve(&mut conn, &actor(app, "manager@demo.local"), id, "").unwrap();
    }
    id
}

fn times_paid(app: &TestApp, address: &str) -> Option<(i64, i64)> {
    paid_addresses::table
        .filter(paid_addresses::address.eq(address))
        .select((paid_addresses::times_paid, paid_addresses::last_payout_id))
        .first(&mut **app.conn())
        .optional()
        .unwrap()
}

#[actix_web::test]
async fn an_address_paid_again_and_again_is_one_summary_row_the_pages_read() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let rail = instant_rail(&app, &[]);
        let mut last = 0;
        for amount in ["10", "20", "30"] {
            last = pay(&app, TRON_ADDRESS, amount);
            process_all(&app, &rail);
        }
        assert_eq!(times_paid(&app, TRON_ADDRESS), Some((3, last)), "[{backend:?}]");
        let accountant = actor(&app, "accountant@demo.local");
        let mut conn = app.conn();
        let asset = payouts::domain::asset::find("USDT_TRC20").unwrap();
        let flags = payouts::service::payees::address_flags(
            &mut conn,
            &accountant,
            asset,
            &[(1, TRON_ADDRESS), (2, common::tron_address(4242).as_str())],
        )
        .unwrap();
        assert_eq!(flags.first, 1, "[{backend:?}] only the address never paid is a first payment");
        assert_eq!(flags.rows[0].line, 2, "[{backend:?}]");

        // The dashboard's 30 days and the balances' fees are the paid rows' sums.
        let overview = dashboard::overview(&mut conn, &accountant, chrono::Duration::minutes(60)).unwrap();
        let chart = overview.charts.iter().find(|c| c.asset.code == "USDT_TRC20").expect("a chart");
        assert_eq!(chart.total.to_string(), "60", "[{backend:?}]");
        let sheet = ledger::balance_sheet(&mut conn, demo_org(&app)).unwrap();
        let line = sheet.iter().find(|l| l.asset().code == "USDT_TRC20").unwrap();
        assert_eq!(line.fees_paid, chart.fees, "[{backend:?}] fees of all time, here all within 30 days");
        assert!(!line.fees_paid.is_zero(), "[{backend:?}] the demo charges a fee");
        let days: i64 = paid_days::table.count().get_result(&mut **conn).unwrap();
        assert_eq!(days, 1, "[{backend:?}] one row for today, however many payouts");
    }
}

#[actix_web::test]
async fn processors_recording_the_same_address_at_once_count_every_payment() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let ids: Vec<i64> = (0..12).map(|n| pay(&app, TRON_ADDRESS, &format!("{}", n + 1))).collect();
        let rail = instant_rail(&app, &[]);
        // Two processors, one row a round each, released at the same instant. Each holds one
        // connection and its rail another: the test pool has four.
        let barrier = std::sync::Barrier::new(2);
        std::thread::scope(|scope| {
            for owner in ["p1", "p2"] {
                let (app, rail, barrier) = (&app, &rail, &barrier);
                scope.spawn(move || {
                    let config = ProcessorConfig { batch: 1, ..Default::default() };
                    barrier.wait();
                    for _ in 0..200 {
                        let report = processor::tick(&mut app.conn(), rail, owner, &config).unwrap();
                        if report == TickReport::default() {
                            break;
                        }
                    }
                });
            }
        });
        process_all(&app, &rail);
        let last = times_paid(&app, TRON_ADDRESS).expect("a summary row");
        assert_eq!(last.0, 12, "[{backend:?}] every payment counted once");
        assert!(ids.contains(&last.1), "[{backend:?}]");
        // The books, the summaries among them, are verified when the test ends.
    }
}

#[actix_web::test]
async fn a_summary_that_disagrees_with_the_rows_is_named_by_verify_ledger() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let payee = {
            let accountant = actor(&app, "accountant@demo.local");
            let form = payouts::service::payees::PayeeForm { name: "Pat".into(), ..Default::default() };
            payouts::service::payees::create(&mut app.conn(), &accountant, &form).unwrap().id
        };
        let rail = instant_rail(&app, &[]);
        pay(&app, TRON_ADDRESS, "10");
        process_all(&app, &rail);
        let report = payouts::service::payouts::verify::verify(&mut app.conn()).unwrap();
        assert!(report.is_whole(), "[{backend:?}] {:?}", report.problems);

        app.books_broken_on_purpose.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut conn = app.conn();
        diesel::update(paid_addresses::table).set(paid_addresses::times_paid.eq(7)).execute(&mut **conn).unwrap();
        diesel::update(paid_days::table).set(paid_days::amount.eq("999")).execute(&mut **conn).unwrap();
        diesel::update(paid_fees::table).set(paid_fees::fees.eq("0")).execute(&mut **conn).unwrap();
        let item: i64 = payouts::db::schema::payout_items::table
            .select(payouts::db::schema::payout_items::id)
            .order(payouts::db::schema::payout_items::id.desc())
            .first(&mut **conn)
            .unwrap();
        diesel::insert_into(payee_last_paid::table)
            .values((
                payee_last_paid::payee_id.eq(payee),
                payee_last_paid::org_id.eq(demo_org(&app)),
                payee_last_paid::item_id.eq(item),
                payee_last_paid::address.eq(TRON_ADDRESS),
            ))
            .execute(&mut **conn)
            .unwrap();
        let report = payouts::service::payouts::verify::verify(&mut conn).unwrap();
        let said: Vec<String> = report.problems.iter().map(|p| p.to_string()).collect();
        for expected in [
            format!("address {TRON_ADDRESS} is kept as paid 7 times but 1 row paid it"),
            "the paid days add up to 999 USDT_TRC20".to_owned(),
            "fees paid kept as 0 USDT_TRC20".to_owned(),
            format!("payee #{payee} is kept as last paid at {TRON_ADDRESS} by row #{item}, which did not pay it"),
        ] {
            assert!(said.iter().any(|s| s.contains(&expected)), "[{backend:?}] {expected:?} in {said:#?}");
        }
    }
}
