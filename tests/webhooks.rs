//! Signed webhooks, checked by an independent receiver in the test: signatures, retries after a
//! failing receiver, secret rotation, and no delivery lost across a restart — on every backend.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{TRON_ADDRESS, TestApp, backends, instant_rail, process_all};
use diesel::RunQueryDsl;
use hmac::{Hmac, Mac};
use payouts::domain::outbound::OutboundPolicy;
use payouts::service::outbound::webhooks;
use payouts::service::payouts::{self as payout_service, SinglePayoutForm};
use serde_json::Value;
use sha2::Sha256;

#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<(String, String)>>>,
    fail_next: Arc<Mutex<usize>>,
    /// How long it takes to answer.
    delay: Arc<Mutex<Duration>>,
    /// An answer of its own (status line, headers, body) instead of 200 or 500.
    answer: Arc<Mutex<Option<String>>>,
}

impl Receiver {
    /// Listens on a free port; answers 500 while `fail_next` > 0, else 200.
    fn start() -> (Receiver, String) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let r = Receiver::default();
        let me = r.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let (mut signature, mut length) = (String::new(), 0usize);
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    let (name, value) = line.split_once(':').unwrap_or((line, ""));
                    match name.to_ascii_lowercase().as_str() {
                        "payouts-signature" => signature = value.trim().to_owned(),
                        "content-length" => length = value.trim().parse().unwrap(),
                        _ => {}
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let fail = {
                    let mut n = me.fail_next.lock().unwrap();
                    let fail = *n > 0;
                    *n = n.saturating_sub(1);
                    fail
                };
                if !fail {
                    me.received.lock().unwrap().push((signature, String::from_utf8(body).unwrap()));
                }
                std::thread::sleep(*me.delay.lock().unwrap());
                if let Some(answer) = me.answer.lock().unwrap().clone() {
                    let _ = stream.write_all(answer.as_bytes());
                    continue;
                }
                let status = if fail { "500 Internal Server Error" } else { "200 OK" };
                let _ = write!(stream, "HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            }
        });
        (r, url)
    }
}

/// What a receiver does: recompute the HMAC of "<t>.<body>" with its secret, reject old times.
fn verify(secret: &str, header: &str, body: &str) -> bool {
    let mut t = 0i64;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse().unwrap_or(0),
            Some(("v1", v)) => signatures.push(v.to_owned()),
            _ => {}
        }
    }
    if (chrono::Utc::now().timestamp() - t).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let expected = hex::encode(mac.finalize().into_bytes());
    signatures.contains(&expected)
}

use common::actor;

fn create(app: &TestApp, key: &str) -> i64 {
    let a = actor(app, "accountant@demo.local");
    let mut conn = app.conn();
    let form = SinglePayoutForm {
        asset: "USDT_TRC20".into(),
        amount: "20".into(),
        description: key.into(),
        address: TRON_ADDRESS.into(),
        ..Default::default()
    };
    let draft = payout_service::check_single(&mut conn, &a, &form).unwrap();
    payout_service::create(&mut conn, &a, &draft, key).unwrap().payout.id
}

fn deliver(app: &TestApp) -> usize {
    webhooks::deliver_due(&mut app.conn(), &webhooks::agent(Duration::from_secs(5), OutboundPolicy::permissive()), 100)
        .unwrap()
}

fn make_due(app: &TestApp) {
    diesel::sql_query("UPDATE webhook_deliveries SET next_attempt_at = created_at WHERE status = 'pending'")
        .execute(&mut **app.conn())
        .unwrap();
}

#[actix_web::test]
async fn receivers_get_signed_events_for_every_change_with_retries() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let (receiver, url) = Receiver::start();
        let admin = actor(&app, "admin@demo.local");
        let events: Vec<String> = webhooks::EVENT_TYPES.iter().map(|s| s.to_string()).collect();
        let (_, secret) =
            webhooks::add_endpoint(&mut app.conn(), &admin, &url, &events, &OutboundPolicy::permissive()).unwrap();

        *receiver.fail_next.lock().unwrap() = 2;
        let id = create(&app, "hooked");
        process_all(&app, &instant_rail(&app, &[]));
        // The first two attempts meet a failing receiver; they are retried later. A failure ends
        // the endpoint's turn, so the two come one round after the other.
        deliver(&app);
        deliver(&app);
        let pending: Vec<(String, i32)> = payouts::db::webhooks::recent(&mut app.conn(), admin.org_id, 100)
            .unwrap()
            .into_iter()
            .filter(|d| d.status.as_str() == "pending")
            .map(|d| (d.last_status_code.map(|c| c.to_string()).unwrap_or_default(), d.attempts))
            .collect();
        let failed: Vec<_> = pending.iter().filter(|(code, _)| code == "500").collect();
        assert_eq!(failed.len(), 2, "[{backend:?}] {pending:?}");
        assert!(failed.iter().all(|(_, attempts)| *attempts == 1));
        make_due(&app);
        deliver(&app);

        let received = receiver.received.lock().unwrap().clone();
        let mut types: Vec<String> = Vec::new();
        for (signature, body) in &received {
            assert!(verify(&secret, signature, body), "[{backend:?}] signature checks out: {signature}");
            assert!(!verify("whsec_wrong", signature, body));
            let event: Value = serde_json::from_str(body).unwrap();
            assert!(event["id"].as_str().unwrap().starts_with("evt_") && event["created_at"].is_string());
            types.push(event["type"].as_str().unwrap().to_owned());
        }
        types.sort();
        assert_eq!(
            types,
            ["payout.created", "payout.item_status_changed", "payout.status_changed"],
            "[{backend:?}] created, paid (a network that confirms at once: sent and paid in one change), completed"
        );
        let completed = received
            .iter()
            .map(|(_, b)| serde_json::from_str::<Value>(b).unwrap())
            .find(|e| e["type"] == "payout.status_changed")
            .unwrap();
        assert_eq!(
            (completed["data"]["id"].as_i64(), completed["data"]["status"].as_str()),
            (Some(id), Some("completed"))
        );
        assert_eq!(completed["data"]["total_debit"], "21", "amounts are strings");
    }
}

#[actix_web::test]
async fn rotation_signs_with_both_secrets_and_no_delivery_is_lost_across_a_restart() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let (receiver, url) = Receiver::start();
        let admin = actor(&app, "admin@demo.local");
        let (endpoint, old) = webhooks::add_endpoint(
            &mut app.conn(),
            &admin,
            &url,
            &[webhooks::PAYOUT_CREATED.to_string()],
            &OutboundPolicy::permissive(),
        )
        .unwrap();
        let new = webhooks::rotate_secret(&mut app.conn(), &admin, endpoint.id).unwrap();
        create(&app, "before-restart");
        // The server stops before sending: the delivery waits in the database.
        let restarted = payouts::AppState::open(&app.url, 2, payouts::Config::default(), None).unwrap();
        let sent = webhooks::deliver_due(
            &mut restarted.pool.get().unwrap(),
            &webhooks::agent(Duration::from_secs(5), OutboundPolicy::permissive()),
            10,
        )
        .unwrap();
        assert_eq!(sent, 1, "[{backend:?}]");
        let (signature, body) = receiver.received.lock().unwrap()[0].clone();
        assert!(
            verify(&old, &signature, &body) && verify(&new, &signature, &body),
            "[{backend:?}] both secrets sign during a rotation"
        );

        let mut client = app.client().await;
        client.login("admin@demo.local", "demo").await;
        let page = client.get("/settings/webhooks").await;
        assert!(
            page.body.contains("payout.created") && page.body.contains("Delivered") && page.body.contains("HTTP 200"),
            "[{backend:?}]"
        );
        let delivery = payouts::db::webhooks::recent(&mut app.conn(), admin.org_id, 1).unwrap().remove(0);
        client.post_form(&format!("/settings/webhooks/deliveries/{}/resend", delivery.id), &[]).await;
        assert_eq!(deliver(&app), 1, "[{backend:?}] resent by hand");
        assert_eq!(receiver.received.lock().unwrap().len(), 2);
    }
}

#[test]
fn backoff_doubles_and_caps() {
    assert_eq!(webhooks::backoff(1).num_seconds(), 20);
    assert_eq!(webhooks::backoff(2).num_seconds(), 40);
    assert_eq!(webhooks::backoff(20).num_seconds(), 3600);
}

#[actix_web::test]
async fn internal_receivers_are_refused_when_saved_and_never_contacted() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let admin = actor(&app, "admin@demo.local");
        let events = vec![webhooks::PAYOUT_CREATED.to_string()];
        let strict = OutboundPolicy::default();
        for url in [
            "https://127.0.0.1/hook",
            "https://localhost/hook",
            "https://2130706433/hook",
            "https://0x7f000001/hook",
            "https://127.1/hook",
            "https://0.0.0.0/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hook",
            "https://[::ffff:127.0.0.1]/hook",
            "https://user@127.0.0.1/hook",
            "https://10.0.0.8/hook",
            "http://93.184.216.34/hook",
        ] {
            let res = webhooks::add_endpoint(&mut app.conn(), &admin, url, &events, &strict);
            assert!(
                matches!(&res, Err(payouts::AppError::Validation(e)) if e.get("url").is_some()),
                "[{backend:?}] {url} accepted: {:?}",
                res.map(|(e, _)| e.url)
            );
        }
        assert!(payouts::db::webhooks::endpoints(&mut app.conn(), admin.org_id).unwrap().is_empty());

        // A receiver saved while it was public that now resolves inside the network (DNS
        // rebinding), or stored before these checks: the connection itself is refused.
        let (receiver, url) = Receiver::start();
        payouts::db::webhooks::insert_endpoint(
            &mut app.conn(),
            admin.org_id,
            &url,
            "payout.created",
            "whsec_x",
            payouts::clock::now(),
        )
        .unwrap();
        create(&app, "rebound");
        let http_only = OutboundPolicy { allow_http: true, allow_private: false };
        let sent =
            webhooks::deliver_due(&mut app.conn(), &webhooks::agent(Duration::from_secs(2), http_only), 10).unwrap();
        assert_eq!(sent, 0, "[{backend:?}]");
        assert!(receiver.received.lock().unwrap().is_empty(), "[{backend:?}] nothing reached the receiver");
        let delivery = payouts::db::webhooks::recent(&mut app.conn(), admin.org_id, 1).unwrap().remove(0);
        assert_eq!(delivery.status.as_str(), "pending");
        assert!(delivery.last_response.unwrap_or_default().contains("private addresses"), "[{backend:?}]");
    }
}

#[actix_web::test]
async fn redirects_are_not_followed_and_only_a_short_excerpt_is_kept() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let admin = actor(&app, "admin@demo.local");
        let (target, target_url) = Receiver::start();
        let (redirecting, url) = Receiver::start();
        *redirecting.answer.lock().unwrap() = Some(format!(
            "HTTP/1.1 302 Found\r\nLocation: {target_url}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ));
        let events = vec![webhooks::PAYOUT_CREATED.to_string()];
        webhooks::add_endpoint(&mut app.conn(), &admin, &url, &events, &OutboundPolicy::permissive()).unwrap();
        create(&app, "redirected");
        assert_eq!(deliver(&app), 0, "[{backend:?}] a redirect is not a delivery");
        assert!(target.received.lock().unwrap().is_empty(), "[{backend:?}] the redirect was not followed");
        let d = payouts::db::webhooks::recent(&mut app.conn(), admin.org_id, 1).unwrap().remove(0);
        assert_eq!(d.last_status_code, Some(302), "[{backend:?}]");

        let long = format!("<script>{}</script>", "x".repeat(5000));
        *redirecting.answer.lock().unwrap() =
            Some(format!("HTTP/1.1 500 Oops\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{long}", long.len()));
        make_due(&app);
        deliver(&app);
        let d = payouts::db::webhooks::recent(&mut app.conn(), admin.org_id, 1).unwrap().remove(0);
        assert!(d.last_response.unwrap().chars().count() <= 200, "[{backend:?}]");
        let mut client = app.client().await;
        client.login("admin@demo.local", "demo").await;
        let page = client.get("/settings/webhooks").await;
        assert!(!page.body.contains("<script>xxx"), "[{backend:?}] shown escaped");
    }
}

#[actix_web::test]
async fn a_slow_receiver_delays_no_other_and_a_disabled_one_gets_nothing() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let admin = actor(&app, "admin@demo.local");
        let events = vec![webhooks::PAYOUT_CREATED.to_string()];
        let permissive = OutboundPolicy::permissive();
        let (slow, slow_url) = Receiver::start();
        *slow.delay.lock().unwrap() = Duration::from_secs(4);
        let (fast, fast_url) = Receiver::start();
        let (off, off_url) = Receiver::start();
        // The slow one comes first in every queue order.
        webhooks::add_endpoint(&mut app.conn(), &admin, &slow_url, &events, &permissive).unwrap();
        webhooks::add_endpoint(&mut app.conn(), &admin, &fast_url, &events, &permissive).unwrap();
        let (disabled, _) = webhooks::add_endpoint(&mut app.conn(), &admin, &off_url, &events, &permissive).unwrap();
        payouts::db::webhooks::set_enabled(&mut app.conn(), admin.org_id, disabled.id, false).unwrap();
        webhooks::spawn(
            app.state.pool.clone(),
            Duration::from_millis(50),
            permissive,
            app.state.clock.clone(),
            &payouts::shutdown::Shutdown::default(),
        );
        let started = std::time::Instant::now();
        for n in 0..3 {
            create(&app, &format!("busy-{n}"));
        }
        while fast.received.lock().unwrap().len() < 3 {
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "[{backend:?}] the fast receiver waited on the slow one"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(slow.received.lock().unwrap().len() < 3, "[{backend:?}] the slow one is still busy");
        std::thread::sleep(Duration::from_millis(300));
        assert!(off.received.lock().unwrap().is_empty(), "[{backend:?}] a disabled endpoint gets nothing");
    }
}
