//! `/metrics`: scraped after a flow and parsed as Prometheus text — behind its bearer token, with
//! requests by route pattern, open rows, the oldest approval's age and the pool — on both
//! databases.

mod common;

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::test;
use common::{TestApp, backends, payout_id_of};
use diesel::prelude::*;
use payouts::Config;
use payouts::config::ServeArgs;
use payouts::db::schema::payouts as payouts_table;

const TOKEN: &str = "metrics-token-for-the-tests-0123456789";

/// Every sample line of the text: `name{labels}` → value.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (key, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("a sample line: {l}"));
            (key.to_owned(), value.parse::<f64>().unwrap_or_else(|e| panic!("{e}: {l}")))
        })
        .collect()
}

fn scrape_request(token: Option<&str>) -> test::TestRequest {
    let r = test::TestRequest::get().uri("/metrics");
    match token {
        Some(t) => r.insert_header(("Authorization", format!("Bearer {t}"))),
        None => r,
    }
}

#[actix_web::test]
async fn metrics_are_scraped_after_a_flow_and_parse_as_prometheus_text() {
    for backend in backends() {
        let config = Config::from_args(&ServeArgs { metrics_token: Some(TOKEN.into()), ..Default::default() }).unwrap();
        let app = TestApp::start_with(backend, config).await;
        payouts::db::orgs::set_approval_required(&mut app.conn(), common::demo_org(&app), true).unwrap();
        let mut accountant = app.client().await;
        accountant.login("accountant@demo.local", "demo").await;
        let created = accountant.single_payout("USDT_TRC20", "12", &common::tron_address(1), "metrics").await;
        let id = payout_id_of(&created);
        assert_eq!(accountant.get(&format!("/payouts/{id}")).await.status, StatusCode::OK);
        // The payout waits for a manager, as if for an hour.
        diesel::update(payouts_table::table.find(id))
            .set(payouts_table::created_at.eq(payouts::clock::now() - chrono::Duration::hours(1)))
            .execute(&mut **app.conn())
            .unwrap();

        let mut scraper = app.client().await;
        assert_eq!(scraper.send(scrape_request(None)).await.status, StatusCode::UNAUTHORIZED, "[{backend:?}]");
        assert_eq!(scraper.send(scrape_request(Some("wrong"))).await.status, StatusCode::UNAUTHORIZED);
        let res = scraper.send(scrape_request(Some(TOKEN))).await;
        assert_eq!(res.status, StatusCode::OK, "[{backend:?}] {}", res.body);
        assert!(res.header("content-type").unwrap_or("").starts_with("application/openmetrics-text"));
        assert!(res.body.trim_end().ends_with("# EOF"), "[{backend:?}] a complete exposition");
        let s = samples(&res.body);
        let get = |key: &str| *s.get(key).unwrap_or_else(|| panic!("[{backend:?}] no {key} in\n{}", res.body));
        assert!(get(r#"payouts_http_requests_total{method="GET",route="/payouts/{id}",status="200"}"#) >= 1.0);
        assert!(
            !s.keys().any(|k| k.contains(&format!("/payouts/{id}\""))),
            "[{backend:?}] routes are patterns, never a payout's own path"
        );
        assert!(get(r#"payouts_http_request_duration_seconds_count{route="/payouts/{id}"}"#) >= 1.0);
        let waiting: i64 = payouts::db::schema::payout_items::table
            .filter(payouts::db::schema::payout_items::status.eq("waiting"))
            .count()
            .get_result(&mut **app.conn())
            .unwrap();
        assert_eq!(get(r#"payouts_rows_open{status="waiting"}"#), waiting as f64, "[{backend:?}]");
        let oldest = get("payouts_oldest_pending_approval_seconds");
        assert!((3600.0..3700.0).contains(&oldest), "[{backend:?}] an hour old: {oldest}");
        assert_eq!(get(r#"payouts_db_pool_connections{state="max"}"#), 4.0, "[{backend:?}]");
        assert!(s.contains_key(r#"payouts_webhook_deliveries{status="failed"}"#), "[{backend:?}]");
        assert!(s.contains_key(r#"payouts_notifications{status="queued"}"#), "[{backend:?}]");
        assert!(s.contains_key("payouts_stuck_rows"), "[{backend:?}]");
    }
}

#[actix_web::test]
async fn without_a_token_configured_there_are_no_metrics() {
    let app = TestApp::start(payouts::db::Backend::Sqlite).await;
    let mut c = app.client().await;
    assert_eq!(c.send(scrape_request(Some(TOKEN))).await.status, StatusCode::NOT_FOUND);
    assert!(Config::from_args(&ServeArgs { metrics_token: Some("short".into()), ..Default::default() }).is_err());
}
