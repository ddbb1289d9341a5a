//! Money safety: parallel confirms never overdraw, a processor restart pays nobody twice,
//! exports are safe to open in a spreadsheet, lists page by keyset — on every backend.

mod common;

use common::{TRON_ADDRESS, TestApp, backends, demo_org, instant_rail, process_all};
use payouts::clock::now;
use payouts::domain::account::Role;
use payouts::domain::asset::find;
use payouts::rails::{Rail, Transfer};
use payouts::service::access::Actor;
use payouts::service::payouts::ledger;
use payouts::service::payouts::processor::{self, ProcessorConfig};
use payouts::service::payouts::{self as payout_service, ListQuery, SinglePayoutForm};

fn accountant(app: &TestApp) -> Actor {
    let user = payouts::db::users::find_by_email(&mut app.conn(), "accountant@demo.local").unwrap().unwrap();
    Actor::of_user(user, Role::Accountant)
}

fn create(
    app: &TestApp,
    actor: &Actor,
    amount: &str,
    description: &str,
    token: &str,
) -> Result<i64, payouts::AppError> {
    let mut conn = app.conn();
    let form = SinglePayoutForm {
        asset: "USDT_TRC20".into(),
        amount: amount.into(),
        description: description.into(),
        address: TRON_ADDRESS.into(),
        ..Default::default()
    };
    let draft = payout_service::check_single(&mut conn, actor, &form)?;
    Ok(payout_service::create(&mut conn, actor, &draft, token)?.payout.id)
}

#[actix_web::test]
async fn parallel_confirms_never_overdraw_the_balance() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let actor = accountant(&app);
        // 50,000 available; each payout takes 9,000 + 45 fee, so exactly five fit.
        let threads: Vec<_> = (0..16)
            .map(|n| {
                let pool = app.state.pool.clone();
                let actor = actor.clone();
                std::thread::spawn(move || {
                    let mut conn = pool.get().unwrap();
                    let form = SinglePayoutForm {
                        asset: "USDT_TRC20".into(),
                        amount: "9000".into(),
                        description: format!("parallel {n}"),
                        address: TRON_ADDRESS.into(),
                        ..Default::default()
                    };
                    let draft = payout_service::check_single(&mut conn, &actor, &form).unwrap();
                    payout_service::create(&mut conn, &actor, &draft, &format!("{n:064}"))
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let created = results.iter().filter(|r| r.is_ok()).count();
        for r in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(r.to_string().contains("Insufficient available balance"), "[{backend:?}] {r}");
        }
        assert_eq!(created, 5, "[{backend:?}]");
        let b = ledger::balance_of(&mut app.conn(), demo_org(&app), find("USDT_TRC20").unwrap()).unwrap();
        assert_eq!((b.available.to_string(), b.reserved.to_string()), ("4775".into(), "45225".into()), "[{backend:?}]");
        assert_eq!(payouts::db::payouts::count(&mut app.conn(), demo_org(&app), &Default::default()).unwrap(), 5);
    }
}

#[actix_web::test]
async fn a_processor_that_dies_after_sending_is_recovered_without_paying_twice() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let actor = accountant(&app);
        let id = create(&app, &actor, "100", "crash test", &"c".repeat(64)).unwrap();
        let rail = instant_rail(&app, &[]);
        let mut conn = app.conn();

        // Processor A claims the item and sends it, then dies before recording anything.
        let at = now();
        let item = payouts::db::processor::claimable(&mut conn, at, 10).unwrap().remove(0);
        assert!(
            payouts::db::processor::try_claim(&mut conn, &item, "A", at, at + chrono::Duration::milliseconds(200))
                .unwrap()
        );
        rail.submit(&[Transfer {
            key: item.idempotency_key.clone(),
            org_id: item.org_id,
            asset: find("USDT_TRC20").unwrap(),
            address: item.address.clone(),
            amount: payouts::domain::Amount::parse(find("USDT_TRC20").unwrap(), &item.amount).unwrap(),
        }])
        .unwrap();

        // While A's lease holds, B leaves the item alone.
        let report = processor::tick(&mut conn, &rail, "B", &ProcessorConfig::default()).unwrap();
        assert_eq!(report.claimed, 0, "[{backend:?}] a live lease is respected");

        // The lease runs out; B takes over, finds the transfer on the network, records it.
        std::thread::sleep(std::time::Duration::from_millis(250));
        process_all(&app, &rail);
        assert_eq!(
            payouts::db::payouts::find(&mut conn, id).unwrap().status.as_str().to_owned(),
            "completed",
            "[{backend:?}]"
        );
        let sent: Vec<_> = rail.sent().unwrap().into_iter().filter(|t| t.key == item.idempotency_key).collect();
        assert_eq!(sent.len(), 1, "[{backend:?}] sent once");
        let b = ledger::balance_of(&mut conn, demo_org(&app), find("USDT_TRC20").unwrap()).unwrap();
        assert_eq!(
            (b.available.to_string(), b.reserved.to_string(), b.paid.to_string()),
            ("49899".into(), "0".into(), "101".into())
        );
        let events = payouts::db::payouts::events(&mut conn, id).unwrap();
        // The send is recorded once: the item leaves `submitting` in one event (paid at once here).
        let sends: Vec<_> = events.iter().filter(|e| e.from_status.as_deref() == Some("submitting")).collect();
        assert_eq!(sends.len(), 1, "[{backend:?}] recorded once");
        assert_eq!(sends[0].to_status, "completed", "[{backend:?}] the network had confirmed it");
    }
}

#[actix_web::test]
async fn two_processors_never_send_the_same_item() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let actor = accountant(&app);
        for n in 0..20 {
            create(&app, &actor, "10", &format!("p{n}"), &format!("{n:064}")).unwrap();
        }
        let rail = std::sync::Arc::new(instant_rail(&app, &[]));
        let workers: Vec<_> = ["one", "two", "three"]
            .into_iter()
            .map(|owner| {
                let pool = app.state.pool.clone();
                let rail = rail.clone();
                std::thread::spawn(move || {
                    let mut conn = pool.get().unwrap();
                    for _ in 0..5 {
                        processor::tick(&mut conn, rail.as_ref(), owner, &ProcessorConfig::default()).unwrap();
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        process_all(&app, rail.as_ref());
        let mut conn = app.conn();
        let events: usize = payouts::db::payouts::list(&mut conn, demo_org(&app), &Default::default(), None, 100)
            .unwrap()
            .iter()
            .map(|p| {
                assert_eq!(p.status.as_str(), "completed", "[{backend:?}]");
                payouts::db::payouts::events(&mut conn, p.id)
                    .unwrap()
                    .iter()
                    .filter(|e| e.from_status.as_deref() == Some("submitting"))
                    .count()
            })
            .sum();
        assert_eq!(events, 20, "[{backend:?}] each item recorded as sent once");
        assert_eq!(rail.sent().unwrap().len(), 20);
        let b = ledger::balance_of(&mut conn, demo_org(&app), find("USDT_TRC20").unwrap()).unwrap();
        assert_eq!(
            (b.reserved.to_string(), b.paid.to_string()),
            ("0".into(), "220".into()),
            "[{backend:?}] 20 × (10 + 1)"
        );
    }
}

#[actix_web::test]
async fn export_neutralizes_formulas_and_follows_the_filters() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let actor = accountant(&app);
        create(&app, &actor, "10", "=HYPERLINK(\"http://evil\",\"x\")", &"a".repeat(64)).unwrap();
        create(&app, &actor, "20", "@SUM(A1:A9)", &"b".repeat(64)).unwrap();
        let mut client = app.client().await;
        client.login("viewer@demo.local", "demo").await;
        let res = client.get("/payouts/export.csv").await;
        assert!(res.header("content-disposition").unwrap().contains("payouts.csv"));
        let mut reader = csv::Reader::from_reader(res.body.as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 2, "[{backend:?}]");
        assert_eq!(&rows[0][5], "'@SUM(A1:A9)");
        assert_eq!(&rows[1][5], "'=HYPERLINK(\"http://evil\",\"x\")");
        assert_eq!(&rows[1][6], "10");
        let filtered = client.get("/payouts/export.csv?q=hyperlink").await;
        assert_eq!(filtered.body.lines().count(), 2, "[{backend:?}] header + the one match");
    }
}

#[actix_web::test]
async fn list_filters_counts_and_keyset_pages() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let actor = accountant(&app);
        for n in 0..53 {
            create(&app, &actor, "1", &format!("Salary {n}"), &format!("{n:064}")).unwrap();
        }
        let cancelled = create(&app, &actor, "2", "Refund", &"f".repeat(64)).unwrap();
        payout_service::cancel(&mut app.conn(), &actor, cancelled, "duplicate").unwrap();

        let mut conn = app.conn();
        let first = payout_service::list(&mut conn, &actor, &ListQuery::default()).unwrap();
        assert_eq!(first.payouts.len(), 50);
        assert_eq!(first.payouts[0].id, cancelled, "[{backend:?}] newest first");
        let counts: Vec<(Option<&str>, i64)> = first.counts.iter().map(|(s, n)| (s.map(|s| s.as_str()), *n)).collect();
        assert!(
            counts.contains(&(None, 54))
                && counts.contains(&(Some("in_progress"), 53))
                && counts.contains(&(Some("cancelled"), 1)),
            "{counts:?}"
        );
        let second =
            payout_service::list(&mut conn, &actor, &ListQuery { before: first.next_before, ..Default::default() })
                .unwrap();
        assert_eq!(second.payouts.len(), 4, "[{backend:?}]");
        assert!(second.next_before.is_none());
        let mut ids: Vec<i64> = first.payouts.iter().chain(&second.payouts).map(|p| p.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), 54, "no payout twice, none skipped");

        let search = |q: &str| {
            payout_service::list(&mut app.conn(), &actor, &ListQuery { q: q.into(), ..Default::default() })
                .unwrap()
                .counts[0]
                .1
        };
        assert_eq!(search("salary 1"), 11, "[{backend:?}] description, any case: 1, 10-19");
        assert_eq!(search(TRON_ADDRESS), 54, "exact address");
        assert_eq!(search("100%"), 0, "LIKE wildcards are literal");
        let status = ListQuery { status: "cancelled".into(), ..Default::default() };
        assert_eq!(payout_service::list(&mut conn, &actor, &status).unwrap().payouts[0].description, "Refund");
        let today = now().date().format("%Y-%m-%d").to_string();
        let dated = ListQuery { from: today.clone(), to: today, ..Default::default() };
        assert_eq!(payout_service::list(&mut conn, &actor, &dated).unwrap().counts[0].1, 54);
        let bad = ListQuery { from: "24.11.2026".into(), ..Default::default() };
        assert!(payout_service::list(&mut conn, &actor, &bad).is_err());
    }
}

/// A rail whose node cannot account for one payout's transaction once it is sent.
struct OneLostTransaction {
    inner: payouts::rails::simulated::SimulatedRail,
    broken_amount: payouts::domain::Amount,
    broken: std::sync::Mutex<Vec<String>>,
}

impl Rail for OneLostTransaction {
    fn label(&self) -> &'static str {
        "flaky network"
    }
    fn supports_batch(&self) -> bool {
        false
    }
    fn submit(&self, transfers: &[Transfer]) -> Result<Vec<payouts::rails::RailTx>, payouts::rails::RailError> {
        for t in transfers.iter().filter(|t| t.amount == self.broken_amount) {
            self.broken.lock().unwrap().push(t.key.clone());
        }
        // Accepted, not yet confirmed: what becomes of it is only known by asking the node later.
        let mut txs = self.inner.submit(transfers)?;
        for (t, tx) in transfers.iter().zip(txs.iter_mut()) {
            if t.amount == self.broken_amount {
                tx.state = payouts::rails::TxState::Pending { confirmations: 0 };
            }
        }
        Ok(txs)
    }
    fn lookup(&self, key: &str) -> Result<Option<payouts::rails::RailTx>, payouts::rails::RailError> {
        if self.broken.lock().unwrap().iter().any(|k| k == key) {
            return Err(payouts::rails::RailError::Unavailable("the node does not answer about it".into()));
        }
        self.inner.lookup(key)
    }
}

#[actix_web::test]
async fn a_transaction_the_network_cannot_account_for_does_not_hold_up_the_others() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let actor = accountant(&app);
        let stuck = create(&app, &actor, "13", "stuck", "stuck").unwrap();
        let fine = create(&app, &actor, "14", "fine", "fine").unwrap();
        let rail = OneLostTransaction {
            inner: instant_rail(&app, &[]),
            broken_amount: payouts::domain::Amount::parse(find("USDT_TRC20").unwrap(), "13").unwrap(),
            broken: Default::default(),
        };
        for _ in 0..3 {
            processor::tick(&mut app.conn(), &rail, "p", &ProcessorConfig::default()).unwrap();
        }
        let status = |id| payouts::db::payouts::find(&mut app.conn(), id).unwrap().status.as_str().to_owned();
        assert_eq!(status(fine), "completed", "[{backend:?}] settled although another lookup failed");
        assert_eq!(status(stuck), "in_progress", "[{backend:?}] unknown, so neither paid nor failed");
        rail.broken.lock().unwrap().clear();
        processor::tick(&mut app.conn(), &rail, "p", &ProcessorConfig::default()).unwrap();
        assert_eq!(status(stuck), "completed", "[{backend:?}] settled once the network answers");
    }
}
