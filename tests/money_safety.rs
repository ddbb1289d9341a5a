//! Money safety under concurrent admins and races (issue 13): prices read inside the
//! transaction that writes the payout, a processor that isolates a payout it cannot settle,
//! approvals and idempotency keys that hold under parallel requests, and confirms bound to what
//! was reviewed — on every backend.

mod common;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use common::{TRON_ADDRESS, TestApp, actor, backends, demo_org, instant_rail, process_all, tron_address};
use diesel::prelude::*;
use payouts::db::schema::{balances, payout_items, payouts as payouts_table};
use payouts::domain::asset::find;
use payouts::domain::fee::FeeRuleInput;
use payouts::domain::payout::PayoutKind;
use payouts::domain::registry::{Limits, Row, RowInput};
use payouts::domain::{Amount, Asset};
use payouts::service::access::Actor;
use payouts::service::access::org_settings;
use payouts::service::payouts::approvals;
use payouts::service::payouts::ledger;
use payouts::service::payouts::{self as payout_service, SinglePayoutForm};
use payouts::web::api::payouts_json::{ItemRequest, PayoutRequest};

fn amount(asset: &'static Asset, s: &str) -> Amount {
    Amount::parse_non_negative(asset, s).unwrap()
}

fn set_fee(app: &TestApp, asset: &str, operation: &str, percent: &str) {
    let admin = actor(app, "admin@demo.local");
    let input = FeeRuleInput { percent: percent.into(), fixed: "0".into(), min: "0".into(), max: String::new() };
    org_settings::update_fee_rule(&mut app.conn(), &admin, asset, operation, &input).unwrap();
}

fn single_form(amount: &str) -> SinglePayoutForm {
    SinglePayoutForm {
        asset: "USDT_TRC20".into(),
        amount: amount.into(),
        description: "contractor".into(),
        address: TRON_ADDRESS.into(),
        ..Default::default()
    }
}

/// Every payout's totals are the sums of its rows, and the organization's balance buckets agree
/// with the rows: reserved = open rows, paid = completed rows, all of it = deposits.
fn assert_books_balance(app: &TestApp, org_id: i64, asset: &'static Asset, deposited: Amount, ctx: &str) {
    let mut conn = app.conn();
    let payouts: Vec<(i64, String, String, String)> = payouts_table::table
        .filter(payouts_table::org_id.eq(org_id).and(payouts_table::asset.eq(asset.code)))
        .select((payouts_table::id, payouts_table::amount_total, payouts_table::fee, payouts_table::total_debit))
        .load(&mut **conn)
        .unwrap();
    let (mut reserved, mut paid) = (Amount::zero(asset), Amount::zero(asset));
    for (id, total, fee, debit) in payouts {
        let items: Vec<(String, String, String)> = payout_items::table
            .filter(payout_items::payout_id.eq(id))
            .select((payout_items::status, payout_items::amount, payout_items::fee))
            .load(&mut **conn)
            .unwrap();
        let sum = |f: &dyn Fn(&(String, String, String)) -> &String| {
            items.iter().fold(Amount::zero(asset), |acc, i| acc.checked_add(amount(asset, f(i))).unwrap())
        };
        let (amounts, fees) = (sum(&|i| &i.1), sum(&|i| &i.2));
        assert_eq!(amount(asset, &total), amounts, "{ctx}: payout {id} total = sum of its rows");
        assert_eq!(amount(asset, &fee), fees, "{ctx}: payout {id} fee = sum of its rows' fees");
        assert_eq!(amount(asset, &debit), amounts.checked_add(fees).unwrap(), "{ctx}: payout {id} debit");
        for (status, a, f) in &items {
            let held = amount(asset, a).checked_add(amount(asset, f)).unwrap();
            match status.as_str() {
                "completed" => paid = paid.checked_add(held).unwrap(),
                "failed" | "cancelled" => {}
                _ => reserved = reserved.checked_add(held).unwrap(),
            }
        }
    }
    let b = ledger::balance_of(&mut conn, org_id, asset).unwrap();
    assert_eq!(b.reserved, reserved, "{ctx}: reserved = open rows");
    assert_eq!(b.paid, paid, "{ctx}: paid = completed rows");
    assert_eq!(b.funded().unwrap(), deposited, "{ctx}: available + reserved + paid = deposits");
}

#[actix_web::test]
async fn a_fee_change_between_quote_and_create_prices_the_payout_by_its_rows() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let accountant = actor(&app, "accountant@demo.local");
        let asset = find("USDT_TRC20").unwrap();
        let deposited = ledger::balance_of(&mut app.conn(), demo_org(&app), asset).unwrap().funded().unwrap();
        // A mass payout and a single one are quoted at the default fees…
        let rows: Vec<Row> = (0..3u32)
            .map(|n| {
                let address = tron_address(n);
                Row::check(
                    asset,
                    u64::from(n) + 1,
                    &RowInput { address: &address, amount: "100", ..Default::default() },
                )
            })
            .collect();
        let mass = payout_service::price(&mut app.conn(), &accountant, PayoutKind::Mass, asset, "May", rows).unwrap();
        let single = payout_service::check_single(&mut app.conn(), &accountant, &single_form("1000")).unwrap();
        // …an admin raises them before the transactions that write the payouts begin.
        set_fee(&app, "USDT_TRC20", "mass_row", "2");
        set_fee(&app, "USDT_TRC20", "single", "3");
        let m = payout_service::create(&mut app.conn(), &accountant, &mass, "fee-race-mass").unwrap().payout;
        let s = payout_service::create(&mut app.conn(), &accountant, &single, "fee-race-single").unwrap().payout;
        assert_eq!((m.fee.as_str(), m.total_debit.as_str()), ("6", "306"), "[{backend:?}] 3 × 2 % of 100");
        assert_eq!((s.fee.as_str(), s.total_debit.as_str()), ("30", "1030"), "[{backend:?}] 3 % of 1000");
        assert_books_balance(&app, demo_org(&app), asset, deposited, &format!("[{backend:?}]"));
        // And they settle: the reservation is exactly what the rows debit.
        process_all(&app, &instant_rail(&app, &[]));
        assert_eq!(
            payouts::db::payouts::find(&mut app.conn(), m.id).unwrap().status.as_str().to_owned(),
            "completed",
            "[{backend:?}]"
        );
        assert_books_balance(&app, demo_org(&app), asset, deposited, &format!("[{backend:?}] settled"));
    }
}

#[actix_web::test]
async fn a_payout_that_cannot_settle_is_set_aside_and_others_still_complete() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let accountant = actor(&app, "accountant@demo.local");
        payouts::db::orgs::set_approval_required(&mut app.conn(), demo_org(&app), false).unwrap();
        let draft = payout_service::check_single(&mut app.conn(), &accountant, &single_form("100")).unwrap();
        let broken = payout_service::create(&mut app.conn(), &accountant, &draft, "broken").unwrap().payout.id;
        // Another organization pays too.
        let other_admin = actor(&app, "other-admin@example.com");
        let deposit = ledger::DepositForm { asset: "USDT_TRC20".into(), amount: "500".into(), note: "seed".into() };
        ledger::deposit(&mut app.conn(), &other_admin, &deposit).unwrap();
        let other_accountant = Actor { role: payouts::domain::account::Role::Accountant, ..other_admin.clone() };
        let draft = payout_service::check_single(&mut app.conn(), &other_accountant, &single_form("50")).unwrap();
        let other = payout_service::create(&mut app.conn(), &other_accountant, &draft, "other").unwrap().payout.id;
        assert!(broken < other, "the broken payout comes first in the queue");
        // The demo organization's reservation is damaged on purpose: the first payout cannot settle.
        app.books_broken_on_purpose.store(true, std::sync::atomic::Ordering::SeqCst);
        diesel::update(
            balances::table.filter(balances::org_id.eq(demo_org(&app)).and(balances::asset.eq("USDT_TRC20"))),
        )
        .set(balances::reserved.eq("0"))
        .execute(&mut **app.conn())
        .unwrap();
        process_all(&app, &instant_rail(&app, &[]));
        let status = |id| payouts::db::payouts::find(&mut app.conn(), id).unwrap().status.as_str().to_owned();
        assert_eq!(status(other), "completed", "[{backend:?}] the other organization's payout is not held up");
        let item = payouts::db::payouts::items(&mut app.conn(), broken).unwrap().remove(0);
        assert_eq!(item.status.as_str(), "needs_review", "[{backend:?}] set aside for a person");
        assert!(item.error.as_deref().unwrap_or("").contains("Insufficient reserved balance"), "{:?}", item.error);
        // A later payout of the damaged organization is not blocked by the first either.
        let deposit = ledger::DepositForm { asset: "USDT_TRC20".into(), amount: "1000".into(), note: "fix".into() };
        ledger::deposit(&mut app.conn(), &actor(&app, "admin@demo.local"), &deposit).unwrap();
        let draft = payout_service::check_single(&mut app.conn(), &accountant, &single_form("10")).unwrap();
        let later = payout_service::create(&mut app.conn(), &accountant, &draft, "later").unwrap().payout.id;
        process_all(&app, &instant_rail(&app, &[]));
        assert_eq!(status(later), "completed", "[{backend:?}]");
    }
}

#[actix_web::test]
async fn two_managers_approving_at_once_start_the_payout() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let admin = actor(&app, "admin@demo.local");
        let fields = vec![("required".to_string(), "yes".to_string()), ("needed".to_string(), "2".to_string())];
        approvals::set_policy(&mut app.conn(), &admin, &fields).unwrap();
        let accountant = actor(&app, "accountant@demo.local");
        let managers = [actor(&app, "manager@demo.local"), actor(&app, "manager2@demo.local")];
        for round in 0..10 {
            let draft = payout_service::check_single(&mut app.conn(), &accountant, &single_form("10")).unwrap();
            let id = payout_service::create(&mut app.conn(), &accountant, &draft, &format!("two-{round}"))
                .unwrap()
                .payout
                .id;
            let barrier = Arc::new(Barrier::new(2));
            let results: Vec<_> = std::thread::scope(|s| {
                let handles: Vec<_> = managers
                    .iter()
                    .map(|m| {
                        let (barrier, pool) = (barrier.clone(), app.state.pool.clone());
                        s.spawn(move || {
                            let mut conn = pool.get().unwrap();
                            barrier.wait();
                            approvals::approve(&mut conn, m, id, "").map_err(|e| e.to_string())
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            assert!(
                results.iter().all(Result::is_ok),
                "[{backend:?}] round {round}: both approvals count: {results:?}"
            );
            assert_eq!(
                payouts::db::payouts::find(&mut app.conn(), id).unwrap().status.as_str().to_owned(),
                "in_progress",
                "[{backend:?}] round {round}: the second approval moves it"
            );
        }
    }
}

/// A create's answer: (status, body) or the error's words.
type Outcome = Result<(u16, String), String>;

fn request(amount: &str) -> PayoutRequest {
    PayoutRequest {
        asset: "USDT_TRC20".into(),
        kind: "single".into(),
        description: "order".into(),
        purpose: String::new(),
        items: vec![ItemRequest {
            address: TRON_ADDRESS.into(),
            amount: amount.into(),
            comment: String::new(),
            reference: String::new(),
            payee_id: None,
            claim: false,
        }],
        scheduled_for: None,
        acknowledge_lookalikes: Vec::new(),
    }
}

#[actix_web::test]
async fn one_idempotency_key_with_thirty_bodies_at_once_has_one_answer() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let key = payouts::service::access::api_keys::create_from_cli(
            &mut app.conn(),
            "accountant@demo.local",
            "read,create",
            "race",
        )
        .unwrap();
        let caller =
            payouts::service::access::api_keys::authenticate(&mut app.conn(), &key, &app.state.clock).unwrap().unwrap();
        let limits = Limits::default();
        let barrier = Arc::new(Barrier::new(30));
        let answers: Vec<(String, Outcome)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..30)
                .map(|n| {
                    let (barrier, pool, caller) = (barrier.clone(), app.state.pool.clone(), &caller);
                    s.spawn(move || {
                        let amount = format!("{}", 10 + n);
                        barrier.wait();
                        let mut conn = pool.get().unwrap();
                        let answer = payouts::web::api::payouts_json::create(
                            &mut conn,
                            caller,
                            "k-1",
                            &request(&amount),
                            &limits,
                        )
                        .map(|a| (a.status, a.body))
                        .map_err(|e| e.to_string());
                        (amount, answer)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let stored: Vec<(i64, String)> = payouts_table::table
            .select((payouts_table::id, payouts_table::amount_total))
            .filter(payouts_table::org_id.eq(demo_org(&app)))
            .filter(payouts_table::description.eq("order"))
            .load(&mut **app.conn())
            .unwrap();
        assert_eq!(stored.len(), 1, "[{backend:?}] one payout for one key");
        let winner = &stored[0].1;
        for (amount, answer) in &answers {
            match answer {
                Ok((status, body)) => {
                    assert_eq!(*status, 201, "[{backend:?}]");
                    assert_eq!(amount, winner, "[{backend:?}] a 201 only for the body that was stored");
                    let json: serde_json::Value = serde_json::from_str(body).unwrap();
                    assert_eq!(json["amount_total"], winner.as_str(), "[{backend:?}]");
                }
                Err(e) => {
                    assert_ne!(amount, winner, "[{backend:?}] the winning body gets its answer");
                    assert!(e.contains("already used with a different request body"), "[{backend:?}] {e}");
                }
            }
        }
        assert_eq!(answers.iter().filter(|(_, a)| a.is_ok()).count(), 1, "[{backend:?}] bodies differ: one 201");
        // Retrying the body that won gets its answer again.
        let again = payouts::web::api::payouts_json::create(&mut app.conn(), &caller, "k-1", &request(winner), &limits)
            .unwrap();
        assert_eq!(again.status, 201, "[{backend:?}]");
    }
}

#[actix_web::test]
async fn mass_confirm_after_another_person_edited_the_draft_creates_nothing() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut a = app.client().await;
        a.login("accountant@demo.local", "demo").await;
        let id = a.start_draft("USDT_TRC20", "Bound review").await;
        a.upload(
            &format!("/payouts/drafts/{id}/upload"),
            "r.csv",
            format!("address,amount\n{TRON_ADDRESS},10\n").as_bytes(),
        )
        .await;
        let review = a.get(&format!("/payouts/drafts/{id}/review")).await;
        assert!(review.body.contains("Confirm and pay 10.3 USDT_TRC20"), "[{backend:?}] {}", review.body);
        let digest = common::hidden_field(&review.body, "digest").unwrap();
        // Accountant B, same organization, changes the row to 4,000 meanwhile.
        let line = payouts::db::drafts::lines(&mut app.conn(), id).unwrap().remove(0);
        let b = actor(&app, "accountant@demo.local");
        let row = payouts::service::payouts::drafts::RowForm {
            address: TRON_ADDRESS.into(),
            amount: "4000".into(),
            comment: String::new(),
            reference: String::new(),
        };
        payouts::service::payouts::drafts::update_row(&mut app.conn(), &b, id, line.id, &row).unwrap();
        let res = a.post_form(&format!("/payouts/drafts/{id}/confirm"), &[("digest", &digest)]).await;
        assert_eq!(res.status, StatusCode::CONFLICT, "[{backend:?}]");
        assert!(res.body.contains("This payout changed since you reviewed it"), "[{backend:?}] {}", res.body);
        assert!(res.body.contains("Confirm and pay 4,010 USDT_TRC20"), "[{backend:?}] the new figures to review");
        assert_eq!(payouts::db::payouts::count(&mut app.conn(), demo_org(&app), &Default::default()).unwrap(), 0);
        // Reviewing the new figures and confirming them works.
        let res = a.confirm_draft(id, &[]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
    }
}

#[actix_web::test]
async fn single_confirm_after_a_fee_change_shows_the_new_fee_first() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        client.get("/payouts/new/single").await;
        let fields =
            [("asset", "USDT_TRC20"), ("amount", "1000"), ("address", TRON_ADDRESS), ("description", "contractor")];
        let review = client.post_form("/payouts/new/single", &fields).await;
        let token = common::hidden_field(&review.body, "token").unwrap();
        let digest = common::hidden_field(&review.body, "digest").unwrap();
        set_fee(&app, "USDT_TRC20", "single", "3");
        let mut confirm = vec![("token", token.as_str()), ("digest", digest.as_str())];
        confirm.extend_from_slice(&fields);
        let res = client.post_form("/payouts/new/single/confirm", &confirm).await;
        assert_eq!(res.status, StatusCode::CONFLICT, "[{backend:?}] {}", res.body);
        assert!(res.body.contains("This payout changed since you reviewed it"), "[{backend:?}]");
        assert!(res.body.contains("Confirm and pay 1,030 USDT_TRC20"), "[{backend:?}] the new fee is shown");
        assert_eq!(payouts::db::payouts::count(&mut app.conn(), demo_org(&app), &Default::default()).unwrap(), 0);
        let digest = common::hidden_field(&res.body, "digest").unwrap();
        let mut confirm = vec![("token", token.as_str()), ("digest", digest.as_str())];
        confirm.extend_from_slice(&fields);
        let res = client.post_form("/payouts/new/single/confirm", &confirm).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
    }
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Admins change fees, approval policies, enabled assets and balances while accountants create
/// payouts and managers approve and cancel, all at once, and two real server processes pay
/// them: every payout is priced by its rows, every payout ends, and the books balance.
#[test]
fn random_concurrent_admins_creators_and_two_processors_keep_the_books_whole() {
    for backend in backends() {
        let rt = actix_web::rt::System::new();
        let app = rt.block_on(TestApp::start(backend));
        let asset = find("USDT_TRC20").unwrap();
        let org = demo_org(&app);
        let dir = tempfile::tempdir().unwrap();
        let url = common::url_string(backend, &app.url);
        let _servers = [
            common::Process(common::start_server(&url, dir.path())),
            common::Process(common::start_server(&url, dir.path())),
        ];
        let deposited =
            std::sync::Mutex::new(ledger::balance_of(&mut app.conn(), org, asset).unwrap().funded().unwrap());
        let (accountant, admin) = (actor(&app, "accountant@demo.local"), actor(&app, "admin@demo.local"));
        let managers = [actor(&app, "manager@demo.local"), actor(&app, "manager2@demo.local")];
        let created = std::sync::Mutex::new(Vec::<i64>::new());
        let deadline =
            Instant::now() + Duration::from_secs(if backend == payouts::db::Backend::Sqlite { 6 } else { 8 });
        std::thread::scope(|s| {
            for worker in 0..4u64 {
                let (app, accountant, admin, managers, created, deposited) =
                    (&app, &accountant, &admin, &managers, &created, &deposited);
                s.spawn(move || {
                    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((worker + 1) * 0x1234_5678));
                    let mut step = 0;
                    while Instant::now() < deadline {
                        step += 1;
                        let mut conn = app.conn();
                        match rng.below(100) {
                            0..=34 => {
                                let rows: Vec<Row> = (0..1 + rng.below(4))
                                    .map(|n| {
                                        let address = tron_address(rng.below(50) as u32);
                                        let amount = format!("{}.{}", 1 + rng.below(200), rng.below(100));
                                        let input =
                                            RowInput { address: &address, amount: &amount, ..Default::default() };
                                        Row::check(asset, n + 1, &input)
                                    })
                                    .collect();
                                let kind = if rows.len() == 1 { PayoutKind::Single } else { PayoutKind::Mass };
                                let Ok(draft) = payout_service::price(&mut conn, accountant, kind, asset, "race", rows)
                                else {
                                    continue;
                                };
                                let key = format!("w{worker}-{step}");
                                if let Ok(c) = payout_service::create(&mut conn, accountant, &draft, &key) {
                                    created.lock().unwrap().push(c.payout.id);
                                }
                            }
                            35..=49 => {
                                let op = if rng.below(2) == 0 { "single" } else { "mass_row" };
                                let percent = format!("{}.{}", rng.below(5), rng.below(10));
                                let input =
                                    FeeRuleInput { percent, fixed: "0".into(), min: "0.5".into(), max: String::new() };
                                let _ = org_settings::update_fee_rule(&mut conn, admin, "USDT_TRC20", op, &input);
                            }
                            50..=56 => {
                                let required = rng.below(2) == 0;
                                let mut fields = vec![("needed".to_string(), (1 + rng.below(2)).to_string())];
                                if required {
                                    fields.push(("required".into(), "yes".into()));
                                }
                                let _ = approvals::set_policy(&mut conn, admin, &fields);
                            }
                            57..=60 => {
                                let mut codes: Vec<String> = vec!["BTC".into()];
                                if rng.below(3) != 0 {
                                    codes.push("USDT_TRC20".into());
                                }
                                let _ = org_settings::set_enabled_assets(&mut conn, admin, &codes);
                            }
                            61..=66 => {
                                let form = ledger::DepositForm {
                                    asset: "USDT_TRC20".into(),
                                    amount: "300".into(),
                                    note: "top-up".into(),
                                };
                                if ledger::deposit(&mut conn, admin, &form).is_ok() {
                                    let mut d = deposited.lock().unwrap();
                                    *d = d.checked_add(amount(asset, "300")).unwrap();
                                }
                            }
                            67..=89 => {
                                let id = {
                                    let ids = created.lock().unwrap();
                                    ids.get(rng.below(ids.len().max(1) as u64) as usize).copied()
                                };
                                if let Some(id) = id {
                                    let _ = approvals::approve(&mut conn, &managers[rng.below(2) as usize], id, "");
                                }
                            }
                            _ => {
                                let id = {
                                    let ids = created.lock().unwrap();
                                    ids.get(rng.below(ids.len().max(1) as u64) as usize).copied()
                                };
                                if let Some(id) = id {
                                    let _ = payout_service::cancel(&mut conn, accountant, id, "changed my mind");
                                }
                            }
                        }
                    }
                });
            }
        });
        let ctx = format!("[{backend:?}]");
        let created = created.into_inner().unwrap();
        assert!(created.len() > 20, "{ctx} the run created payouts: {}", created.len());
        // Everything still pending is approved; the two servers pay it all.
        for id in &created {
            for m in &managers {
                let _ = approvals::approve(&mut app.conn(), m, *id, "");
            }
        }
        let started = Instant::now();
        loop {
            let open: i64 = payouts_table::table
                .filter(payouts_table::status.eq_any(["in_progress", "pending"]))
                .count()
                .get_result(&mut **app.conn())
                .unwrap();
            if open == 0 {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(90), "{ctx} {open} payouts never ended");
            std::thread::sleep(Duration::from_millis(100));
        }
        let deposited = deposited.into_inner().unwrap();
        assert_books_balance(&app, org, asset, deposited, &ctx);
        let review: i64 = payout_items::table
            .filter(payout_items::status.eq("needs_review"))
            .count()
            .get_result(&mut **app.conn())
            .unwrap();
        assert_eq!(review, 0, "{ctx} nothing needed a person");
    }
}
