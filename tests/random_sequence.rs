//! A seeded random walk over create / approve / reject / cancel / process / crash / deposit,
//! checking after every step that the ledger adds up and that nothing was paid twice — on
//! every backend.

mod common;

use std::collections::HashSet;

use common::{TestApp, backends, demo_org, tron_address};
use diesel::prelude::*;
use payouts::clock::now;
use payouts::db::schema::{payout_items, payouts as payouts_table, sim_transfers};
use payouts::domain::asset::find;
use payouts::domain::{Amount, Asset};
use payouts::rails::simulated::{SimConfig, SimulatedRail};
use payouts::rails::{Rail, Transfer};
use payouts::service::payouts::approvals;
use payouts::service::payouts::ledger;
use payouts::service::payouts::processor::{self, ProcessorConfig};
use payouts::service::payouts::{self as payout_service, SinglePayoutForm};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

use common::actor;

fn amount(asset: &'static Asset, s: &str) -> Amount {
    Amount::parse_non_negative(asset, s).unwrap()
}

fn check_invariants(app: &TestApp, asset: &'static Asset, deposited: Amount, step: usize) {
    let mut conn = app.conn();
    let b = ledger::balance_of(&mut conn, demo_org(app), asset).unwrap();
    let ctx = format!("[{:?}] step {step}", app.backend);
    assert!(!b.available.is_negative() && !b.reserved.is_negative() && !b.paid.is_negative(), "{ctx}: {b:?}");
    assert_eq!(b.funded().unwrap(), deposited, "{ctx}: available + reserved + paid = deposits");
    let items: Vec<(String, String, String, String)> = payout_items::table
        .inner_join(payouts_table::table)
        .filter(payouts_table::asset.eq(asset.code))
        .select((payout_items::status, payout_items::amount, payout_items::fee, payout_items::idempotency_key))
        .load(&mut **conn)
        .unwrap();
    let mut reserved = Amount::zero(asset);
    let mut paid = Amount::zero(asset);
    for (status, a, f, _) in &items {
        let held = amount(asset, a).checked_add(amount(asset, f)).unwrap();
        match status.as_str() {
            "completed" => paid = paid.checked_add(held).unwrap(),
            "failed" | "cancelled" => {}
            _ => reserved = reserved.checked_add(held).unwrap(),
        }
    }
    assert_eq!(b.reserved, reserved, "{ctx}: reserved = open items");
    assert_eq!(b.paid, paid, "{ctx}: paid = completed items");
    // The status counters kept with every change agree with a count of the table.
    let counted: Vec<(String, i64)> = payouts_table::table
        .group_by(payouts_table::status)
        .select((payouts_table::status, diesel::dsl::count_star()))
        .load(&mut **conn)
        .unwrap();
    let mut kept = payouts::db::payouts::status_counts(&mut conn, demo_org(app)).unwrap();
    kept.retain(|(_, n)| *n != 0);
    let (mut counted, mut kept) = (counted, kept);
    counted.sort();
    kept.sort();
    assert_eq!(kept, counted, "{ctx}: status counters");
    let sent: HashSet<String> =
        sim_transfers::table.select(sim_transfers::key).load(&mut **conn).unwrap().into_iter().collect();
    for (status, _, _, key) in &items {
        match status.as_str() {
            "completed" => assert!(sent.contains(key), "{ctx}: a completed item was sent"),
            "cancelled" | "waiting" | "queued" => {
                assert!(!sent.contains(key), "{ctx}: {status} item {key} was never sent")
            }
            _ => {}
        }
    }
}

#[actix_web::test]
async fn random_operations_keep_the_ledger_whole_and_pay_once() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let steps: usize = if backend == payouts::db::Backend::Sqlite { 2000 } else { 800 };
        let asset = find("USDT_TRC20").unwrap();
        let (accountant, managers, admin) = (
            actor(&app, "accountant@demo.local"),
            [actor(&app, "manager@demo.local"), actor(&app, "manager2@demo.local")],
            actor(&app, "admin@demo.local"),
        );
        let failing = tron_address(13);
        let rail = SimulatedRail::new(
            app.state.pool.clone(),
            SimConfig { confirm_after: std::time::Duration::ZERO, fail_addresses: vec![failing], ..Default::default() },
        );
        let mut deposited = amount(asset, "50000");
        let mut rng = Rng(0x5EED_1234_ABCD_0001);
        let mut ids: Vec<i64> = Vec::new();
        for step in 0..steps {
            let mut conn = app.conn();
            let pick = |rng: &mut Rng, ids: &[i64]| ids.get(rng.below(ids.len().max(1) as u64) as usize).copied();
            match rng.below(100) {
                0..=29 => {
                    let form = SinglePayoutForm {
                        asset: asset.code.into(),
                        amount: format!("{}.{}", 1 + rng.below(3000), rng.below(100)),
                        description: format!("step {step}"),
                        address: tron_address(rng.below(20) as u32),
                        ..Default::default()
                    };
                    let draft = payout_service::check_single(&mut conn, &accountant, &form).unwrap();
                    // Some creates are retried with the same key, as a double click would.
                    let key = format!("key-{}", if rng.below(5) == 0 { step.saturating_sub(1) } else { step });
                    if let Ok(created) = payout_service::create(&mut conn, &accountant, &draft, &key) {
                        ids.push(created.payout.id);
                    }
                }
                30..=39 => {
                    let on = rng.below(2) == 0;
                    payouts::db::orgs::set_approval_required(&mut conn, accountant.org_id, on).unwrap();
                }
                40..=54 => {
                    if let Some(id) = pick(&mut rng, &ids) {
                        let m = &managers[rng.below(2) as usize];
                        let _ = approvals::approve(&mut conn, m, id, "");
                    }
                }
                55..=59 => {
                    if let Some(id) = pick(&mut rng, &ids) {
                        let _ = approvals::reject(&mut conn, &managers[rng.below(2) as usize], id, "random");
                    }
                }
                60..=66 => {
                    if let Some(id) = pick(&mut rng, &ids) {
                        let _ = payout_service::cancel(&mut conn, &accountant, id, "random");
                    }
                }
                67..=89 => {
                    processor::tick(&mut conn, &rail, "steady", &ProcessorConfig::default()).unwrap();
                }
                90..=95 => {
                    // A processor claims items, sends some, and dies before recording: its lease
                    // has already run out, so the next round takes over.
                    let at = now();
                    for item in payouts::db::processor::claimable(&mut conn, at, 3).unwrap() {
                        if payouts::db::processor::try_claim(&mut conn, &item, "doomed", at, at).unwrap()
                            && rng.below(2) == 0
                        {
                            let transfer = Transfer {
                                key: item.idempotency_key.clone(),
                                org_id: item.org_id,
                                asset,
                                address: item.address.clone(),
                                amount: amount(asset, &item.amount),
                            };
                            rail.submit(&[transfer]).unwrap();
                        }
                    }
                }
                _ => {
                    let form =
                        ledger::DepositForm { asset: asset.code.into(), amount: "1000".into(), note: "top-up".into() };
                    ledger::deposit(&mut conn, &admin, &form).unwrap();
                    deposited = deposited.checked_add(amount(asset, "1000")).unwrap();
                }
            }
            drop(conn);
            check_invariants(&app, asset, deposited, step);
        }
        // Finally everything approved and processed settles.
        payouts::db::orgs::set_approval_required(&mut app.conn(), accountant.org_id, false).unwrap();
        for id in &ids {
            let _ = approvals::approve(&mut app.conn(), &managers[0], *id, "");
            let _ = approvals::approve(&mut app.conn(), &managers[1], *id, "");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
        common::process_all(&app, &rail);
        check_invariants(&app, asset, deposited, steps);
        let open: i64 = payouts_table::table
            .filter(payouts_table::status.eq("in_progress"))
            .count()
            .get_result(&mut **app.conn())
            .unwrap();
        assert_eq!(open, 0, "[{backend:?}] every approved payout ended");
        // And `payouts verify-ledger`'s own check finds the books whole after the whole walk.
        let report = payouts::service::payouts::verify::verify(&mut app.conn()).unwrap();
        assert!(report.is_whole(), "[{backend:?}] {:?}", report.problems);
        assert!(report.items > 0 && report.entries > 0, "[{backend:?}] {}", report.summary());
    }
}
