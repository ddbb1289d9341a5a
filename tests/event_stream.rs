//! The event stream: every change writes its event in its own transaction (none without the
//! change, none lost with it), and the outbound room takes each event exactly once, however many
//! server processes read the stream at the same instant — on every backend.

mod common;

use common::{TRON_ADDRESS, TestApp, actor, at_once, backends, demo_org};
use payouts::db;
use payouts::service::payouts::{self as payout_service, SinglePayoutForm};

fn single(app: &TestApp, amount: &str, key: &str) -> Result<i64, payouts::AppError> {
    let a = actor(app, "accountant@demo.local");
    let mut conn = app.conn();
    let form = SinglePayoutForm {
        asset: "USDT_TRC20".into(),
        amount: amount.into(),
        description: key.into(),
        address: TRON_ADDRESS.into(),
        ..Default::default()
    };
    let draft = payout_service::check_single(&mut conn, &a, &form)?;
    Ok(payout_service::create(&mut conn, &a, &draft, key)?.payout.id)
}

fn topics(app: &TestApp) -> Vec<String> {
    db::events::of_org(&mut app.conn(), demo_org(app)).unwrap().into_iter().map(|e| e.topic).collect()
}

#[actix_web::test]
async fn a_change_and_its_event_are_written_together_or_not_at_all() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let before = topics(&app).len();
        let id = single(&app, "20", "told").unwrap();
        let events = db::events::of_org(&mut app.conn(), demo_org(&app)).unwrap();
        let created = events.last().expect("an event");
        assert_eq!(events.len(), before + 1, "[{backend:?}] one event for one payout");
        assert_eq!(created.topic, "payout.created", "[{backend:?}]");
        let data: serde_json::Value = serde_json::from_str(&created.data).unwrap();
        assert_eq!(data["id"], id, "[{backend:?}]");
        assert_eq!(data["amount_total"], "20", "[{backend:?}] the payout as the API shows it");
        assert_eq!(data["items"][0]["address"], TRON_ADDRESS, "[{backend:?}] with its rows");
        assert!(created.dispatched_at.is_none(), "[{backend:?}] not taken yet");

        // A create refused inside its transaction (more than the balance) writes no event.
        let refused = single(&app, "999999999", "refused");
        assert!(refused.is_err(), "[{backend:?}]");
        assert_eq!(topics(&app).len(), before + 1, "[{backend:?}] no event without its change");
    }
}

#[actix_web::test]
async fn each_event_is_taken_once_when_four_processes_read_the_stream_at_the_same_instant() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let org = demo_org(&app);
        let at = payouts::clock::now();
        for url in ["https://one.example/hook", "https://two.example/hook"] {
            db::webhooks::insert_endpoint(&mut app.conn(), org, url, "payout.created", "whsec_test", at).unwrap();
        }
        for n in 0..30 {
            single(&app, "1", &format!("k-{n}")).unwrap();
        }
        let waiting = db::events::undispatched(&mut app.conn(), 1000).unwrap().len();
        assert!(waiting >= 30, "[{backend:?}] {waiting}");

        let taken: Vec<usize> = at_once(&app, 4, |conn| {
            let mut total = 0;
            loop {
                let n = payouts::service::outbound::fan_out::fan_out(conn, payouts::clock::now()).unwrap();
                if n == 0 && db::events::undispatched(conn, 1).unwrap().is_empty() {
                    break total;
                }
                total += n;
            }
        });
        assert_eq!(taken.iter().sum::<usize>(), waiting, "[{backend:?}] every event taken once: {taken:?}");
        let deliveries = db::webhooks::recent(&mut app.conn(), org, 1000).unwrap();
        let created: Vec<_> = deliveries.iter().filter(|d| d.event_type == "payout.created").collect();
        assert_eq!(created.len(), 60, "[{backend:?}] one delivery per event and endpoint, none twice");
        let mut ids: Vec<(&str, i64)> = created.iter().map(|d| (d.event_id.as_str(), d.endpoint_id)).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 60, "[{backend:?}] no event delivered twice to an endpoint");
        assert_eq!(app.fan_out(), 0, "[{backend:?}] nothing left to take");
    }
}
