//! Exchange rates: the reporting currency, rates typed, imported and pinned by admins, and a
//! price API (CoinGecko's and Kraken's documented answers, served by a local HTTP server here,
//! errors, timeouts and absurd values included) behind the outlier guard; a stale rate converts
//! nothing — on every backend.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;
use common::{TestApp, actor, backends};
use payouts::domain::Amount;
use payouts::domain::asset;
use payouts::service::outbound::rates_feed::{self, Feed, Provider};
use payouts::service::valuation::rates::{self, RateForm, RateNow, ReportingForm};

fn eur(app: &TestApp) {
    let admin = actor(app, "admin@demo.local");
    let form = ReportingForm { currency: "EUR".into(), stale_minutes: "15".into(), ..Default::default() };
    rates::set_reporting(&mut app.conn(), &admin, &form).unwrap();
}

fn now_of(app: &TestApp, code: &str, at: chrono::NaiveDateTime) -> RateNow {
    let org = common::demo_org(app);
    let reporting = rates::reporting(&mut app.conn(), org).unwrap();
    rates::rate_now(&mut app.conn(), org, asset::find(code).unwrap(), &reporting, at).unwrap()
}

fn current(app: &TestApp, code: &str) -> Option<String> {
    now_of(app, code, payouts::clock::now()).current().map(|q| q.rate.to_string())
}

#[actix_web::test]
async fn a_typed_rate_values_amounts_until_the_end_of_its_day_ahead_of_the_price_api() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        eur(&app);
        assert!(matches!(now_of(&app, "USDT_TRC20", payouts::clock::now()), RateNow::None), "[{backend:?}] no guess");
        let admin = actor(&app, "admin@demo.local");
        let form = RateForm {
            asset: "USDT_TRC20".into(),
            rate: "0.92".into(),
            source: "ECB reference rate".into(),
            ..Default::default()
        };
        let at = payouts::clock::now();
        rates::record(&mut app.conn(), &admin, &form).unwrap();
        let org = common::demo_org(&app);
        let reporting = rates::reporting(&mut app.conn(), org).unwrap();
        let usdt = asset::find("USDT_TRC20").unwrap();
        let amount = Amount::parse(usdt, "1234.567891").unwrap();
        let (_, value) = rates::value_now(&mut app.conn(), org, amount, &reporting, at).unwrap();
        assert_eq!(value.unwrap().money(), "1,135.80 EUR", "[{backend:?}]");
        // The demo organization's day ends at midnight in its zone: the bank's rate of the day
        // holds until then, whatever the 15-minute limit for a price API says.
        let zone = payouts::service::access::org_settings::time_zone(&mut app.conn(), org).unwrap();
        let midnight = payouts::domain::fiat::valid_until("", zone, at).unwrap();
        let before =
            rates::value_now(&mut app.conn(), org, amount, &reporting, midnight - chrono::Duration::seconds(1));
        assert!(before.unwrap().1.is_some(), "[{backend:?}] still today: converted");
        if midnight - at > chrono::Duration::minutes(16) {
            let later = rates::value_now(&mut app.conn(), org, amount, &reporting, at + chrono::Duration::minutes(16));
            assert!(later.unwrap().1.is_some(), "[{backend:?}] a typed rate does not go stale in 15 minutes");
        }
        let (now, value) = rates::value_now(&mut app.conn(), org, amount, &reporting, midnight).unwrap();
        assert!(matches!(now, RateNow::Stale(_)), "[{backend:?}] stale once its day is over");
        assert!(value.is_none(), "[{backend:?}] nothing converted with a stale rate");

        // A price API's newer reading does not displace the organization's own rate while it is
        // valid; once it lapses, the provider's rate applies while fresh (15 minutes).
        let eur = payouts::domain::fiat::currency("EUR").unwrap();
        let api = payouts::domain::fiat::Rate::parse("0.95").unwrap();
        let read_at = at + chrono::Duration::seconds(5);
        rates::record_provider(&mut app.conn(), usdt, eur, api, "coingecko", 10, read_at).unwrap();
        let rate_at = |t| now_of(&app, "USDT_TRC20", t).current().map(|q| q.rate.to_string());
        if midnight - at > chrono::Duration::minutes(1) {
            let own = rate_at(read_at + chrono::Duration::seconds(1));
            assert_eq!(own.as_deref(), Some("0.92"), "[{backend:?}] own first");
        }
        rates::record_provider(&mut app.conn(), usdt, eur, api, "coingecko", 10, midnight).unwrap();
        assert_eq!(rate_at(midnight).as_deref(), Some("0.95"), "[{backend:?}] then the provider's");
        let late = midnight + chrono::Duration::minutes(16);
        assert!(matches!(now_of(&app, "USDT_TRC20", late), RateNow::Stale(_)), "[{backend:?}] the provider's ages");

        // A validity of its own: a day and time in the organization's zone, checked by field.
        let until = zone.local(at + chrono::Duration::days(2)).format("%Y-%m-%d 18:00").to_string();
        let form = RateForm { rate: "0.93".into(), valid_until: until.clone(), ..form };
        rates::record(&mut app.conn(), &admin, &form).unwrap();
        let expected = zone.to_utc(chrono::NaiveDateTime::parse_from_str(&until, "%Y-%m-%d %H:%M").unwrap()).unwrap();
        match now_of(&app, "USDT_TRC20", expected - chrono::Duration::seconds(1)) {
            RateNow::Current(q) => {
                assert_eq!((q.rate.to_string().as_str(), q.valid_until), ("0.93", Some(expected)), "[{backend:?}]")
            }
            other => panic!("[{backend:?}] valid until {until}: {other:?}"),
        }
        assert!(
            !matches!(now_of(&app, "USDT_TRC20", expected), RateNow::Current(ref q) if q.rate.to_string() == "0.93")
        );

        let mut client = app.client().await;
        client.login("admin@demo.local", "demo").await;
        let dash = client.get("/").await;
        assert!(dash.body.contains("Available in EUR"), "[{backend:?}]");
        assert!(dash.body.contains("46,500.00 EUR"), "[{backend:?}] 50,000 USDT_TRC20 at 0.93");
        assert!(dash.body.contains("no current rate"), "[{backend:?}] BTC has none: no guess");
        let page = client.get("/settings/rates").await;
        assert_eq!(page.status, StatusCode::OK, "[{backend:?}]");
        assert!(page.body.contains("0.93") && page.body.contains("ECB reference rate"), "[{backend:?}]");
        assert!(page.body.contains("No current rate"), "[{backend:?}] the other assets say so");
        for (field, rate, source) in [("rate", "-1", "bank"), ("rate", "1e3", "bank"), ("source", "1", "a\u{0}b")] {
            let res = client
                .post_form("/settings/rates", &[("asset", "USDT_TRC20"), ("rate", rate), ("source", source)])
                .await;
            assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] {rate} {source:?}");
            assert!(
                res.body.contains(&format!("id=\"rate-{}-error\"", if field == "rate" { "value" } else { "source" }))
            );
        }
        for (until, says) in [("2020-01-01", "has passed"), ("2099-01-01", "at most 31 days"), ("soon", "not a date")] {
            let res = client
                .post_form(
                    "/settings/rates",
                    &[("asset", "USDT_TRC20"), ("rate", "0.5"), ("source", "bank"), ("valid_until", until)],
                )
                .await;
            assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] {until}");
            assert!(res.body.contains("id=\"rate-valid-until-error\"") && res.body.contains(says), "[{backend:?}]");
            assert!(res.body.contains(&format!("value=\"{until}\"")), "[{backend:?}] what was typed is kept");
        }
        let res = client.post_form("/settings/rates/reporting", &[("currency", "XYZ"), ("stale_minutes", "15")]).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert_eq!(current(&app, "USDT_TRC20").as_deref(), Some("0.93"), "[{backend:?}] nothing changed");
        assert!(page.body.contains("Valid until"), "[{backend:?}]");
        let mut accountant = app.client().await;
        accountant.login("accountant@demo.local", "demo").await;
        assert_eq!(accountant.get("/settings/rates").await.status, StatusCode::FORBIDDEN, "[{backend:?}]");
    }
}

#[actix_web::test]
async fn a_pin_holds_until_unpinned_and_an_import_is_all_or_nothing() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        eur(&app);
        let admin = actor(&app, "admin@demo.local");
        let pin = RateForm { asset: "USDT_TRC20".into(), rate: "1".into(), ..Default::default() };
        rates::pin(&mut app.conn(), &admin, &pin).unwrap();
        let far = payouts::clock::now() + chrono::Duration::days(30);
        match now_of(&app, "USDT_TRC20", far) {
            RateNow::Current(q) => assert!(q.pinned && q.rate.to_string() == "1", "[{backend:?}]"),
            other => panic!("[{backend:?}] a pin does not age: {other:?}"),
        }
        rates::unpin(&mut app.conn(), &admin, "USDT_TRC20").unwrap();
        assert!(current(&app, "USDT_TRC20").is_none(), "[{backend:?}] unpinned: no rate");

        let bad = b"asset,rate,source\nUSDT_TRC20,0.91,bank\nBTC,abc,bank\n";
        let err = rates::import(&mut app.conn(), &admin, bad).unwrap_err();
        assert!(err.to_string().contains("Line 3, column rate"), "[{backend:?}] {err}");
        assert!(current(&app, "USDT_TRC20").is_none(), "[{backend:?}] nothing recorded");
        let stale = b"asset,rate,source,valid_until\nUSDT_TRC20,0.91,bank,\nBTC,61000.5,bank,2020-01-01\n";
        let err = rates::import(&mut app.conn(), &admin, stale).unwrap_err();
        assert!(err.to_string().contains("Line 3, column valid_until"), "[{backend:?}] {err}");
        assert!(current(&app, "USDT_TRC20").is_none(), "[{backend:?}] nothing recorded");
        let good = b"asset,rate,source\nUSDT_TRC20,0.91,bank\nBTC,61000.5,bank\n";
        assert_eq!(rates::import(&mut app.conn(), &admin, good).unwrap(), 2);
        assert_eq!(current(&app, "BTC").as_deref(), Some("61000.5"), "[{backend:?}]");
        let filter = payouts::db::audit::AuditFilter::default();
        let audit =
            payouts::db::audit::list_in_org(&mut app.conn(), common::demo_org(&app), &filter, None, 200).unwrap();
        for action in ["rates.pinned", "rates.unpinned", "rates.recorded", "rates.reporting_changed"] {
            assert!(audit.iter().any(|e| e.action == action), "[{backend:?}] {action} audited");
        }
    }
}

/// A price API stand-in: answers each request with the next canned (status, body, delay) and
/// records the request line and headers.
#[derive(Clone, Default)]
struct PriceApi {
    answers: Arc<Mutex<Vec<(u16, String, u64)>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl PriceApi {
    fn start() -> (PriceApi, String) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let api = PriceApi::default();
        let me = api.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                    head.push_str(&line);
                }
                me.requests.lock().unwrap().push(head);
                let (status, body, delay) = {
                    let mut a = me.answers.lock().unwrap();
                    if a.is_empty() { (500, "{}".to_owned(), 0) } else { a.remove(0) }
                };
                std::thread::sleep(Duration::from_millis(delay));
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        (api, base)
    }

    fn answer(&self, status: u16, body: &str) {
        self.answers.lock().unwrap().push((status, body.to_owned(), 0));
    }
}

fn feed(provider: Provider, base: &str) -> Feed {
    Feed {
        provider,
        base: url::Url::parse(base).unwrap(),
        api_key: Some("demo-key".into()),
        interval: Duration::from_secs(60),
        outlier_percent: 10,
        timeout: Duration::from_millis(800),
    }
}

fn poll(app: &TestApp, feed: &Feed, at: chrono::NaiveDateTime) -> Result<(usize, usize), String> {
    rates_feed::poll(&mut app.conn(), &rates_feed::agent(feed), feed, at)
}

#[actix_web::test]
async fn coingecko_readings_pass_the_outlier_guard_and_errors_keep_the_last_good_rate() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        eur(&app);
        let (api, base) = PriceApi::start();
        let f = feed(Provider::CoinGecko, &base);
        let t0 = payouts::clock::now();
        api.answer(200, r#"{"tether":{"eur":0.9213},"bitcoin":{"eur":61000.5},"ethereum":{"eur":-3}}"#);
        let (accepted, held) = poll(&app, &f, t0).unwrap();
        assert_eq!(held, 0, "[{backend:?}]");
        assert!(accepted >= 2, "[{backend:?}] {accepted}");
        assert_eq!(current(&app, "USDT_TRC20").as_deref(), Some("0.9213"), "[{backend:?}]");
        assert_eq!(current(&app, "BTC").as_deref(), Some("61000.5"), "[{backend:?}]");
        assert!(current(&app, "ETH").is_none(), "[{backend:?}] a negative price is refused, the rest recorded");
        let request = api.requests.lock().unwrap()[0].clone();
        assert!(request.contains("/api/v3/simple/price?ids="), "[{backend:?}] {request}");
        assert!(request.contains("vs_currencies=eur"), "[{backend:?}] {request}");
        assert!(request.to_lowercase().contains("x-cg-demo-api-key: demo-key"), "[{backend:?}] {request}");

        // A jump of more than 10 % is held; a second reading that agrees with it is accepted.
        api.answer(200, r#"{"tether":{"eur":1.5}}"#);
        assert!(poll(&app, &f, t0 + chrono::Duration::minutes(1)).unwrap().1 >= 1, "[{backend:?}] held");
        assert_eq!(current(&app, "USDT_TRC20").as_deref(), Some("0.9213"), "[{backend:?}] not on one reading");
        api.answer(200, r#"{"tether":{"eur":1.49}}"#);
        poll(&app, &f, t0 + chrono::Duration::minutes(2)).unwrap();
        assert_eq!(current(&app, "USDT_TRC20").as_deref(), Some("1.49"), "[{backend:?}] confirmed");

        // Errors, a timeout and nonsense record nothing; the last good rate stays until stale.
        api.answer(503, "busy");
        api.answer(200, "not json");
        api.answers.lock().unwrap().push((200, r#"{"tether":{"eur":1.48}}"#.into(), 2_000));
        for n in 3..6 {
            let err = poll(&app, &f, t0 + chrono::Duration::minutes(n)).unwrap_err();
            assert!(!err.is_empty(), "[{backend:?}]");
        }
        assert_eq!(current(&app, "USDT_TRC20").as_deref(), Some("1.49"), "[{backend:?}]");
        let late = t0 + chrono::Duration::minutes(2 + 16);
        assert!(matches!(now_of(&app, "USDT_TRC20", late), RateNow::Stale(_)), "[{backend:?}] then stale");
    }
}

#[actix_web::test]
async fn kraken_tickers_are_read_from_their_documented_shape() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        eur(&app);
        let (api, base) = PriceApi::start();
        let f = feed(Provider::Kraken, &base);
        api.answer(
            200,
            r#"{"error":[],"result":{"USDTEUR":{"a":["0.92140","1","1"],"c":["0.92130","100.0"]},"XXBTZEUR":{"c":["61000.1","0.01"]}}}"#,
        );
        poll(&app, &f, payouts::clock::now()).unwrap();
        assert_eq!(current(&app, "USDT_TRC20").as_deref(), Some("0.9213"), "[{backend:?}]");
        assert_eq!(current(&app, "BTC").as_deref(), Some("61000.1"), "[{backend:?}] legacy pair names");
        let request = api.requests.lock().unwrap()[0].clone();
        assert!(request.contains("/0/public/Ticker?pair="), "[{backend:?}] {request}");
        assert!(request.contains("XBTEUR"), "[{backend:?}] {request}");
        api.answer(200, r#"{"error":["EQuery:Unknown asset pair"]}"#);
        let err = poll(&app, &f, payouts::clock::now()).unwrap_err();
        assert!(err.contains("EQuery:Unknown asset pair"), "[{backend:?}] {err}");
        assert_eq!(current(&app, "USDT_TRC20").as_deref(), Some("0.9213"), "[{backend:?}]");
    }
}
